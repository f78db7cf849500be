//! The cache's entries: bounded, each with its own expiry, and never filled by a read that an
//! invalidation or a flush overtook. No I/O and no clock of its own (the caller passes `now`),
//! so every rule here is unit-tested.
//!
//! - **Bound and eviction: CLOCK (second chance).** At most `max_entries` entries, spread over
//!   shards by key hash. A hit only sets its entry's "visited" bit (a relaxed store, under the
//!   shard's read lock); when a full shard needs room, its hand sweeps the entries, clearing
//!   visited bits and taking the first entry not visited since the last sweep (or one already
//!   expired). That approximates LRU without what exact LRU costs: moving the entry to the
//!   front of a list on every hit, a write under an exclusive lock that would serialize the
//!   16-thread hit path this cache is for.
//! - **Expiry.** An entry expires at `started + min(max_age, ttl)`, where `started` is when the
//!   read that filled it was sent (before the server answered, so the server's own expiry,
//!   counted from when it answered, is never overtaken) and `ttl` the key's remaining time to
//!   live read with the value (none for a key without one). An expired entry is a miss.
//! - **Reads overtaken by an invalidation.** A read takes a [`Ticket`] before it is sent: the
//!   store's epoch (bumped by every flush) and the invalidation sequence of the key's bucket
//!   (bumped by every invalidation of a key hashing there, before the entry is dropped). The
//!   value is stored only when neither moved, checked under the shard's write lock, so an
//!   invalidation that arrives while the read is in flight, or races with storing it, always
//!   wins. Keys share a bucket's sequence (4096 buckets), so an invalidation of another key can
//!   cost a read its entry, never the reverse.
//! - **Accepting.** Tickets are only handed out while the listeners are all subscribed
//!   ([`Store::set_accepting`]): a read sent while no invalidation could reach the cache is
//!   never stored. Turning accepting off always comes with a flush.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// A cached answer: the reply of the plain read of its key (`GET` or `HGETALL`), exactly as
/// the server sent it, so that each operation reads it with its own reply reader; and whether
/// the key had a TTL (a temporary link) when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cached {
    pub(crate) reply: Arc<[u8]>,
    pub(crate) has_ttl: bool,
}

/// Invalidation sequences, one per bucket of key hashes.
const BUCKETS: usize = 4096;
/// Most shards; fewer for a small cache, so that every shard holds a few entries.
const MAX_SHARDS: usize = 32;
const ENTRIES_PER_SHARD_AT_LEAST: usize = 64;

/// What a read took before it was sent; [`Store::fill`] stores its answer only if nothing
/// invalidated the key, or flushed the store, meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    hash: u64,
    epoch: u64,
    sequence: u64,
    started: Instant,
}

struct Entry {
    key: Box<[u8]>,
    value: Cached,
    expires: Instant,
    visited: AtomicBool,
}

/// The hash of a key is its index: two keys with one 64-bit hash share a place, the later one
/// replacing the earlier (a miss, never a wrong answer: the stored key is compared too).
#[derive(Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 hashes are indexed")
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

struct Shard {
    index: HashMap<u64, usize, BuildHasherDefault<AsIs>>,
    /// Entries; `None` marks a place freed by an invalidation (listed in `free`).
    entries: Vec<Option<(u64, Entry)>>,
    free: Vec<usize>,
    /// The clock hand: where the next sweep for room starts.
    hand: usize,
    capacity: usize,
}

impl Shard {
    fn new(capacity: usize) -> Shard {
        Shard {
            index: HashMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            hand: 0,
            capacity,
        }
    }

    fn remove(&mut self, hash: u64) -> bool {
        match self.index.remove(&hash) {
            Some(place) => {
                self.entries[place] = None;
                self.free.push(place);
                true
            }
            None => false,
        }
    }

    /// Stores `entry`; returns whether another entry was evicted for room.
    fn insert(&mut self, hash: u64, entry: Entry, now: Instant) -> bool {
        if let Some(&place) = self.index.get(&hash) {
            self.entries[place] = Some((hash, entry));
            return false;
        }
        let (place, evicted) = match self.free.pop() {
            Some(place) => (place, false),
            None if self.entries.len() < self.capacity => {
                self.entries.push(None);
                (self.entries.len() - 1, false)
            }
            None => (self.sweep(now), true),
        };
        self.entries[place] = Some((hash, entry));
        self.index.insert(hash, place);
        evicted
    }

    /// Frees a place by CLOCK: the first entry that expired or was not visited since the hand
    /// last passed it. Ends within two turns (the first clears every visited bit). Only called
    /// when the shard is full (no free place).
    fn sweep(&mut self, now: Instant) -> usize {
        loop {
            let place = self.hand;
            self.hand = (self.hand + 1) % self.entries.len();
            let Some((hash, entry)) = &self.entries[place] else {
                return place;
            };
            if entry.expires > now && entry.visited.swap(false, Ordering::Relaxed) {
                continue;
            }
            let hash = *hash;
            self.index.remove(&hash);
            self.entries[place] = None;
            return place;
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.free.clear();
        self.hand = 0;
    }
}

/// The entries (see the module docs).
pub(crate) struct Store {
    shards: Box<[RwLock<Shard>]>,
    hasher: RandomState,
    sequences: Box<[AtomicU64]>,
    epoch: AtomicU64,
    accepting: AtomicBool,
    max_age: Duration,
    evictions: AtomicU64,
}

/// Whether `stored` is the concatenation of `pieces`.
fn same_key(stored: &[u8], pieces: &[&[u8]]) -> bool {
    let mut rest = stored;
    for piece in pieces {
        match rest.strip_prefix(*piece) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

impl Store {
    /// A store of at most `max_entries` entries, none older than `max_age`; not accepting
    /// tickets until [`set_accepting`](Self::set_accepting).
    pub(crate) fn new(max_entries: usize, max_age: Duration) -> Store {
        let shard_count = (max_entries / ENTRIES_PER_SHARD_AT_LEAST)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        let shards = (0..shard_count)
            .map(|i| {
                // The remainder goes to the first shards: the capacities add up to max_entries.
                let capacity =
                    max_entries / shard_count + usize::from(i < max_entries % shard_count);
                RwLock::new(Shard::new(capacity))
            })
            .collect();
        Store {
            shards,
            hasher: RandomState::new(),
            sequences: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            accepting: AtomicBool::new(false),
            max_age,
            evictions: AtomicU64::new(0),
        }
    }

    /// The hash of the key the pieces make (SipHash with this store's random key, so that no
    /// one can choose names that collide; written piece by piece, equal to the whole key's).
    fn hash(&self, key: &[&[u8]]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for piece in key {
            hasher.write(piece);
        }
        hasher.finish()
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The high bits pick the shard, the low ones the bucket.
        &self.shards[(hash >> 40) as usize & (self.shards.len() - 1)]
    }

    fn read(&self, hash: u64) -> RwLockReadGuard<'_, Shard> {
        self.shard(hash).read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, hash: u64) -> RwLockWriteGuard<'_, Shard> {
        self.shard(hash).write().unwrap_or_else(|e| e.into_inner())
    }

    fn sequence(&self, hash: u64) -> &AtomicU64 {
        &self.sequences[hash as usize % BUCKETS]
    }

    /// The entry of the key the pieces make, unless absent or expired at `now`.
    pub(crate) fn get(&self, key: &[&[u8]], now: Instant) -> Option<Cached> {
        let hash = self.hash(key);
        let shard = self.read(hash);
        let &place = shard.index.get(&hash)?;
        let (_, entry) = shard.entries[place].as_ref()?;
        if entry.expires <= now || !same_key(&entry.key, key) {
            return None;
        }
        // Stored only when not set yet: a hot entry's line is then only read by every hit.
        if !entry.visited.load(Ordering::Relaxed) {
            entry.visited.store(true, Ordering::Relaxed);
        }
        Some(entry.value.clone())
    }

    /// What a read of the key takes before it is sent; `None` while not accepting (its answer
    /// will not be stored).
    pub(crate) fn ticket(&self, key: &[&[u8]], now: Instant) -> Option<Ticket> {
        let hash = self.hash(key);
        // The epoch first: accepting turns off only together with a flush, which moves it.
        let epoch = self.epoch.load(Ordering::Acquire);
        if !self.accepting.load(Ordering::Acquire) {
            return None;
        }
        Some(Ticket {
            hash,
            epoch,
            sequence: self.sequence(hash).load(Ordering::Acquire),
            started: now,
        })
    }

    /// Stores the answer of the read that took `ticket` (`ttl`: the key's remaining time to
    /// live when it was read, `None` for none), unless the key was invalidated or the store
    /// flushed since the ticket was taken. Returns whether it was stored.
    pub(crate) fn fill(
        &self,
        ticket: Ticket,
        key: &[&[u8]],
        value: Cached,
        ttl: Option<Duration>,
        now: Instant,
    ) -> bool {
        let life = ttl.map_or(self.max_age, |ttl| ttl.min(self.max_age));
        let expires = ticket.started + life;
        if expires <= now {
            return false;
        }
        let entry = Entry {
            key: key.concat().into_boxed_slice(),
            value,
            expires,
            visited: AtomicBool::new(false),
        };
        let mut shard = self.write(ticket.hash);
        if shard.capacity == 0 {
            return false;
        }
        // Under the lock an invalidation's drop waits for: a sequence or epoch moved before
        // this check is seen here, one moved after drops the entry stored now.
        if self.epoch.load(Ordering::Acquire) != ticket.epoch
            || self.sequence(ticket.hash).load(Ordering::Acquire) != ticket.sequence
        {
            return false;
        }
        if shard.insert(ticket.hash, entry, now) {
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Drops the entry of `key` (an invalidation), after moving its bucket's sequence so that
    /// no read in flight stores it again. Returns whether an entry was dropped.
    pub(crate) fn invalidate(&self, key: &[&[u8]]) -> bool {
        let hash = self.hash(key);
        self.sequence(hash).fetch_add(1, Ordering::AcqRel);
        let mut shard = self.write(hash);
        let stored = shard
            .index
            .get(&hash)
            .and_then(|&place| shard.entries[place].as_ref());
        // A colliding key's entry is dropped too: cheaper than comparing, and only a miss.
        stored.is_some() && shard.remove(hash)
    }

    /// Drops every entry, after moving the epoch so that no read in flight stores its answer.
    pub(crate) fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            shard.write().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Whether reads may take tickets (every listener subscribed). Turn it off only together
    /// with a [`flush`](Self::flush), after it.
    pub(crate) fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting, Ordering::Release);
    }

    /// Entries now (expired ones not yet evicted included).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).index.len())
            .sum()
    }

    /// Entries evicted for room since the store was made.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The most entries the store holds.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.read().unwrap().capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Pod;

    const AGE: Duration = Duration::from_secs(10);

    fn link(pod: Pod) -> Cached {
        let pod = pod.to_string();
        Cached {
            reply: format!("${}\r\n{pod}\r\n", pod.len()).into_bytes().into(),
            has_ttl: false,
        }
    }

    fn pod_of(entry: Option<Cached>) -> Option<Pod> {
        let entry = entry?;
        let text = std::str::from_utf8(&entry.reply).unwrap();
        text.split("\r\n").nth(1)?.parse().ok()
    }

    fn key(name: &str) -> [&[u8]; 1] {
        [name.as_bytes()]
    }

    fn accepting(max_entries: usize) -> Store {
        let store = Store::new(max_entries, AGE);
        store.set_accepting(true);
        store
    }

    /// Reads `name` through a ticket taken now and filled at once.
    fn fill(store: &Store, name: &str, value: Cached, now: Instant) -> bool {
        let ticket = store.ticket(&key(name), now).expect("accepting");
        store.fill(ticket, &key(name), value, None, now)
    }

    #[test]
    fn a_key_hashes_the_same_whole_or_in_pieces() {
        let store = Store::new(10, AGE);
        let pieces: [&[u8]; 6] = [b"sf:{", b"ns", b":lk:", b"user-1", b"}", b"chat"];
        assert_eq!(store.hash(&pieces), store.hash(&[b"sf:{ns:lk:user-1}chat"]));
        assert_ne!(
            store.hash(&pieces),
            store.hash(&[b"sf:{ns:lk:user-1}chat2"])
        );
        assert!(same_key(b"sf:{ns:lk:user-1}chat", &pieces));
        assert!(!same_key(b"sf:{ns:lk:user-1}cha", &pieces));
        assert!(!same_key(b"sf:{ns:lk:user-1}chatx", &pieces));
    }

    #[test]
    fn a_filled_entry_is_a_hit_until_it_expires() {
        let store = accepting(100);
        let t0 = Instant::now();
        assert_eq!(store.get(&key("a"), t0), None);
        assert!(fill(&store, "a", link(3), t0));
        assert_eq!(store.get(&key("a"), t0 + AGE / 2), Some(link(3)));
        assert_eq!(store.get(&key("b"), t0), None);
        // max_age, counted from when the read was sent.
        assert_eq!(
            store.get(&key("a"), t0 + AGE - Duration::from_nanos(1)),
            Some(link(3))
        );
        assert_eq!(store.get(&key("a"), t0 + AGE), None);
    }

    #[test]
    fn the_keys_own_ttl_ends_its_entry_sooner_and_counts_from_the_send() {
        let store = accepting(100);
        let sent = Instant::now();
        let ticket = store.ticket(&key("tmp"), sent).unwrap();
        // The answer arrives 30 ms later and says 100 ms remain: the server counted from when
        // it answered, so the entry ends 100 ms after the send, never later.
        let answered = sent + Duration::from_millis(30);
        let ttl = Some(Duration::from_millis(100));
        assert!(store.fill(ticket, &key("tmp"), link(1), ttl, answered));
        assert_eq!(
            store.get(&key("tmp"), sent + Duration::from_millis(99)),
            Some(link(1))
        );
        assert_eq!(
            store.get(&key("tmp"), sent + Duration::from_millis(100)),
            None
        );
        // A TTL longer than max_age does not extend it.
        let ticket = store.ticket(&key("long"), sent).unwrap();
        assert!(store.fill(ticket, &key("long"), link(2), Some(AGE * 5), sent));
        assert_eq!(store.get(&key("long"), sent + AGE), None);
        // An answer that has expired already by the time it arrives is not stored.
        let ticket = store.ticket(&key("gone"), sent).unwrap();
        let late = sent + Duration::from_millis(200);
        assert!(!store.fill(ticket, &key("gone"), link(3), ttl, late));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn an_invalidation_during_the_read_keeps_its_answer_out() {
        let store = accepting(100);
        let now = Instant::now();
        let ticket = store.ticket(&key("k"), now).unwrap();
        assert!(!store.invalidate(&key("k")), "nothing stored yet");
        assert!(!store.fill(ticket, &key("k"), link(1), None, now));
        assert_eq!(store.get(&key("k"), now), None);
        // A read that starts after the invalidation stores its answer.
        assert!(fill(&store, "k", link(2), now));
        assert_eq!(store.get(&key("k"), now), Some(link(2)));
        // An invalidation after the fill drops the entry.
        assert!(store.invalidate(&key("k")));
        assert_eq!(store.get(&key("k"), now), None);
        // Another key's invalidation does not touch this one's entry.
        assert!(fill(&store, "k", link(3), now));
        store.invalidate(&key("other"));
        assert_eq!(store.get(&key("k"), now), Some(link(3)));
    }

    #[test]
    fn a_flush_empties_the_store_and_keeps_reads_in_flight_out() {
        let store = accepting(100);
        let now = Instant::now();
        for i in 0..10 {
            assert!(fill(&store, &format!("k{i}"), link(i), now));
        }
        let in_flight = store.ticket(&key("late"), now).unwrap();
        store.flush();
        assert_eq!(store.len(), 0);
        assert_eq!(store.get(&key("k1"), now), None);
        assert!(!store.fill(in_flight, &key("late"), link(1), None, now));
        assert!(fill(&store, "after", link(1), now));
    }

    #[test]
    fn no_ticket_while_not_accepting() {
        let store = Store::new(100, AGE);
        let now = Instant::now();
        assert!(store.ticket(&key("k"), now).is_none());
        store.set_accepting(true);
        let ticket = store.ticket(&key("k"), now).unwrap();
        // Listener lost: accepting off, then the flush. The read in flight stores nothing.
        store.set_accepting(false);
        store.flush();
        assert!(!store.fill(ticket, &key("k"), link(1), None, now));
        assert!(store.ticket(&key("k"), now).is_none());
    }

    #[test]
    fn never_more_than_max_entries() {
        for max in [1usize, 7, 64, 100, 1000, 5000] {
            let store = accepting(max);
            assert_eq!(store.capacity(), max);
            let now = Instant::now();
            for i in 0..max * 3 {
                fill(&store, &format!("key-{i}"), link(i as Pod), now);
                assert!(store.len() <= max, "{} entries, max {max}", store.len());
            }
            // Every shard filled up: the store holds its maximum, the rest was evicted.
            assert!(store.len() > max * 9 / 10, "{} of {max}", store.len());
            assert_eq!(store.evictions() as usize + store.len(), max * 3);
        }
        let store = accepting(0);
        assert!(!fill(&store, "k", link(1), Instant::now()));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn eviction_spares_entries_hit_since_the_last_sweep() {
        // One shard of 64: fill it, hit half, then add 32 more: the 32 not hit go.
        let store = accepting(64);
        let now = Instant::now();
        for i in 0..64 {
            assert!(fill(&store, &format!("k{i}"), link(i), now));
        }
        for i in (0..64).step_by(2) {
            assert!(store.get(&key(&format!("k{i}")), now).is_some());
        }
        for i in 64..96 {
            assert!(fill(&store, &format!("k{i}"), link(i), now));
        }
        for i in 0..64 {
            let hit = store.get(&key(&format!("k{i}")), now).is_some();
            assert_eq!(hit, i % 2 == 0, "k{i}");
        }
        assert_eq!(store.evictions(), 32);
    }

    #[test]
    fn expired_entries_make_room_first() {
        let store = accepting(64);
        let t0 = Instant::now();
        for i in 0..64 {
            let ticket = store.ticket(&key(&format!("k{i}")), t0).unwrap();
            let ttl = (i % 2 == 1).then_some(Duration::from_millis(5));
            assert!(store.fill(ticket, &key(&format!("k{i}")), link(i), ttl, t0));
            // Every entry hit: only expiry can make room.
            store.get(&key(&format!("k{i}")), t0).unwrap();
        }
        let later = t0 + Duration::from_millis(10);
        for i in 64..96 {
            assert!(fill(&store, &format!("k{i}"), link(i), later));
        }
        for i in (0..64).step_by(2) {
            assert!(store.get(&key(&format!("k{i}")), later).is_some(), "k{i}");
        }
    }

    #[test]
    fn invalidated_places_are_reused() {
        let store = accepting(64);
        let now = Instant::now();
        for round in 0..10 {
            for i in 0..64 {
                assert!(fill(&store, &format!("r{round}-{i}"), link(i), now));
            }
            for i in 0..64 {
                assert!(store.invalidate(&key(&format!("r{round}-{i}"))));
            }
            assert_eq!(store.len(), 0);
        }
        assert_eq!(store.evictions(), 0);
    }

    #[test]
    fn concurrent_invalidations_always_win_over_fills() {
        // Readers fill a key with the version they read; a writer moves the version and then
        // invalidates. Whatever the interleaving, once the writer is done the store never
        // holds an older version than the last one written.
        use std::sync::atomic::AtomicI32;
        let store = Arc::new(accepting(1000));
        let version = Arc::new(AtomicI32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (store, version, stop) =
                    (Arc::clone(&store), Arc::clone(&version), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        let ticket = store.ticket(&key("hot"), now).unwrap();
                        let read = version.load(Ordering::SeqCst);
                        std::thread::yield_now();
                        store.fill(ticket, &key("hot"), link(read), None, now);
                    }
                })
            })
            .collect();
        for v in 1..=2000 {
            version.store(v, Ordering::SeqCst);
            store.invalidate(&key("hot"));
            if let Some(seen) = pod_of(store.get(&key("hot"), Instant::now())) {
                assert!(seen >= v, "version {seen} cached after {v} was written");
            }
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.join().unwrap();
        }
    }
}
