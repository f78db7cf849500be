//! The client-side cache of reads (opt-in: [`Config::set_client_cache`]), kept coherent by
//! Redis's own invalidations (`CLIENT TRACKING`, Redis >= 6, Valkey). docs/cache.md says why it
//! is built this way; in short:
//!
//! - `store.rs`: the entries (bounded, CLOCK eviction, each ending at `max_age` or the key's own
//!   TTL, never filled by a read that an invalidation or a flush overtook);
//! - `listener.rs`: one connection per primary, subscribed to `__redis__:invalidate` with
//!   `CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX sf:` (RESP2: the library's decoder reads
//!   no RESP3), heartbeats on it, and a watch on the topology (sentinels, cluster slot map);
//! - here: what ties them together, and the rule every hit obeys.
//!
//! **The rule.** Each listener's heartbeat is a `PING` on the subscribed connection, one at a
//! time. Redis writes a connection's replies and messages in order, and sends the invalidations
//! of BCAST tracking at the end of each event-loop turn, so when the reply to ping *k* arrives,
//! the invalidations of every write the server ran before it ran ping *k - 1* have arrived
//! before it (ping *k* was sent after reply *k - 1* came, so it ran in a later turn). The send
//! time of ping *k - 1* (at first: of the `SUBSCRIBE`) is then that node's *confirmed* time:
//! every write it ran before then is reflected in the cache. The topology watch confirms the
//! same way that the primaries listened to are still all of them. A hit is served only while
//! the oldest of these confirmations is less than [`FRESHNESS`] old; otherwise the read goes to
//! Redis. So a cached answer was the key's value at some moment no earlier than
//! `min(max_age, FRESHNESS)` before the read began, whatever went wrong meanwhile (a lost or
//! silent connection, a failover, a flush): a fault can only make reads bypass the cache.
//!
//! [`Config::set_client_cache`]: crate::Config::set_client_cache

mod listener;
mod store;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) use listener::Listeners;
pub(crate) use store::{Cached, Ticket};

use crate::error::{Error, ErrorKind, Result};
use store::Store;

/// The longest a hit may trust the invalidation stream without a fresh confirmation: a hit
/// returns a value that was current at some moment at most this long (or `max_age`, when
/// shorter) before the read began.
pub const CLIENT_CACHE_FRESHNESS: Duration = Duration::from_secs(1);
pub(crate) use CLIENT_CACHE_FRESHNESS as FRESHNESS;

/// How often each listener pings, and the topology is looked at: a confirmation is then at
/// most about two heartbeats old (plus a round trip), well within [`FRESHNESS`].
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(250);

/// The key prefix tracked in BCAST mode: every key of the data model starts with it.
pub(crate) const TRACKED_PREFIX: &str = "sf:";

/// Counters of the cache, read into [`crate::Stats`].
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
}

/// The cache's figures for [`crate::Stats`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CacheStats {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) invalidations: u64,
    pub(crate) flushes: u64,
    pub(crate) evictions: u64,
}

/// When the primaries listened to were last confirmed to be all of them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TopologySeen {
    /// Not yet.
    Unknown,
    /// One server named by the URL: it cannot change under us.
    Fixed,
    /// A look sent at this instant found them unchanged.
    At(Instant),
}

/// One primary's listener, as the cache sees it.
#[derive(Debug)]
struct NodeWatch {
    /// Tells the listener now in charge from one already replaced.
    generation: u64,
    /// Subscribed and tracking.
    live: bool,
    /// Every write the node ran before this instant has reached the cache.
    confirmed: Option<Instant>,
}

#[derive(Debug)]
struct Watch {
    nodes: BTreeMap<String, NodeWatch>,
    topology: TopologySeen,
    /// Confirmations older than the last flush do not count.
    flushed_at: Instant,
    /// The first refusal a listener met (an ACL or a server without tracking), for `open`.
    refused: Option<Error>,
    next_generation: u64,
}

/// The client-side cache of one executor (see the module docs).
pub(crate) struct ClientCache {
    store: Store,
    /// `Instant` of `fresh_until`'s zero.
    base: Instant,
    /// Hits are served while now is before this many nanoseconds after `base`; 0: bypass.
    fresh_until: AtomicU64,
    watch: Mutex<Watch>,
    changed: Condvar,
    counters: Counters,
}

/// What a cacheable read gets from the cache.
pub(crate) enum Lookup {
    /// The answer, from the cache.
    Hit(Cached),
    /// Not cached (or the cache is bypassed): read it from Redis, and store the answer with
    /// the ticket when there is one.
    Miss(Option<Ticket>),
}

impl ClientCache {
    /// An empty cache of at most `max_entries` entries, none older than `max_age`; bypassed
    /// until the listeners report in.
    pub(crate) fn new(max_entries: u32, max_age: Duration) -> ClientCache {
        let base = Instant::now();
        ClientCache {
            store: Store::new(max_entries as usize, max_age),
            base,
            fresh_until: AtomicU64::new(0),
            watch: Mutex::new(Watch {
                nodes: BTreeMap::new(),
                topology: TopologySeen::Unknown,
                flushed_at: base,
                refused: None,
                next_generation: 1,
            }),
            changed: Condvar::new(),
            counters: Counters::default(),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        // Saturating: an instant before `base` counts as `base`.
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether hits may be served at `now` (see the module docs).
    fn fresh(&self, now: Instant) -> bool {
        self.nanos(now) < self.fresh_until.load(Ordering::Acquire)
    }

    /// The cached answer for the key the pieces make, or what a read of it from Redis takes.
    pub(crate) fn lookup(&self, key: &[&[u8]]) -> Lookup {
        let now = Instant::now();
        if self.fresh(now) {
            if let Some(value) = self.store.get(key, now) {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Lookup::Hit(value);
            }
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        Lookup::Miss(self.store.ticket(key, now))
    }

    /// Stores the answer of a read that took `ticket` (`ttl`: the key's remaining time to live
    /// read with it, `None` for none), unless an invalidation or a flush overtook it.
    pub(crate) fn fill(&self, ticket: Ticket, key: &[&[u8]], value: Cached, ttl: Option<Duration>) {
        self.store.fill(ticket, key, value, ttl, Instant::now());
    }

    /// The executor wrote the key (or may have: the outcome of a failed write is unknown):
    /// drops its entry before the write returns, so the executor reads its own writes.
    pub(crate) fn written(&self, key: &[&[u8]]) {
        self.store.invalidate(key);
    }

    /// An invalidation from Redis.
    fn invalidated(&self, key: &[u8]) {
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        self.store.invalidate(&[key]);
    }

    /// Empties the cache and bypasses it until every listener confirms again after now: the
    /// data connections saw the server side change (a connection dropped, a failover).
    pub(crate) fn flush(&self, reason: &str) {
        let mut watch = self.lock();
        self.flush_locked(&mut watch, reason, Instant::now());
        self.recompute(&watch);
    }

    /// Empties the cache; confirmations of before `at` no longer count.
    fn flush_locked(&self, watch: &mut Watch, reason: &str, at: Instant) {
        watch.flushed_at = watch.flushed_at.max(at);
        // No hit from now on (recompute follows, under the same lock), then no entry.
        self.fresh_until.store(0, Ordering::Release);
        self.store.flush();
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        log::debug!("client cache flushed: {reason}");
    }

    fn lock(&self) -> MutexGuard<'_, Watch> {
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether reads may be stored and hits served, from the watch: tickets while every
    /// primary's listener is subscribed and the topology known; hits while, besides, every
    /// confirmation is younger than [`FRESHNESS`] and none predates the last flush.
    fn recompute(&self, watch: &Watch) {
        let all_live = !watch.nodes.is_empty()
            && watch.nodes.values().all(|node| node.live)
            && watch.topology != TopologySeen::Unknown;
        self.store.set_accepting(all_live);
        let topology = match watch.topology {
            TopologySeen::At(at) => Some(at),
            _ => None,
        };
        let oldest = watch
            .nodes
            .values()
            .map(|node| node.confirmed)
            .chain(topology.map(Some))
            .try_fold(None::<Instant>, |oldest, confirmed| {
                let confirmed = confirmed?;
                Some(Some(oldest.map_or(confirmed, |o| o.min(confirmed))))
            })
            .flatten();
        let until = match oldest {
            Some(at) if all_live && at >= watch.flushed_at => self.nanos(at + FRESHNESS),
            _ => 0,
        };
        self.fresh_until.store(until, Ordering::Release);
        self.changed.notify_all();
    }

    /// The primaries to listen to now (a look at the topology sent at `sent` found them): a
    /// change from the last look flushes the cache (failover, resharding). Returns each node's
    /// generation, for its listener's reports.
    fn set_nodes(&self, labels: &[String], changed: bool, sent: Instant, fixed: bool) -> Vec<u64> {
        let mut watch = self.lock();
        if changed {
            let first_look = watch.nodes.is_empty();
            watch.nodes.retain(|label, _| labels.contains(label));
            for label in labels {
                if !watch.nodes.contains_key(label) {
                    let generation = watch.next_generation;
                    watch.next_generation += 1;
                    watch.nodes.insert(
                        label.clone(),
                        NodeWatch {
                            generation,
                            live: false,
                            confirmed: None,
                        },
                    );
                }
            }
            if !first_look {
                // Before the new listeners subscribe: nothing read from now until then stays.
                self.store.set_accepting(false);
                // The look that saw the change confirms the new topology: it counts.
                self.flush_locked(&mut watch, "the topology changed", sent);
            }
        }
        watch.topology = if fixed {
            TopologySeen::Fixed
        } else {
            TopologySeen::At(sent)
        };
        self.recompute(&watch);
        labels
            .iter()
            .map(|label| watch.nodes.get(label).map_or(0, |node| node.generation))
            .collect()
    }

    /// A listener subscribed; its `SUBSCRIBE` was sent at `sent`.
    fn node_live(&self, label: &str, generation: u64, sent: Instant) {
        let mut watch = self.lock();
        if let Some(node) = watch
            .nodes
            .get_mut(label)
            .filter(|n| n.generation == generation)
        {
            node.live = true;
            node.confirmed = Some(sent);
            self.recompute(&watch);
        }
    }

    /// A heartbeat confirmed a listener's node up to `at`.
    fn node_confirmed(&self, label: &str, generation: u64, at: Instant) {
        let mut watch = self.lock();
        if let Some(node) = watch
            .nodes
            .get_mut(label)
            .filter(|n| n.generation == generation)
        {
            node.confirmed = Some(node.confirmed.map_or(at, |c| c.max(at)));
            self.recompute(&watch);
        }
    }

    /// A listener lost its connection, or could not subscribe (`err`): invalidations may have
    /// been lost, so the cache is flushed and bypassed until it is back.
    fn node_lost(&self, label: &str, generation: u64, err: &Error) {
        let mut watch = self.lock();
        let Some(node) = watch
            .nodes
            .get_mut(label)
            .filter(|n| n.generation == generation)
        else {
            return;
        };
        let was_live = node.live;
        node.live = false;
        node.confirmed = None;
        if matches!(err.kind(), ErrorKind::Auth | ErrorKind::Config) && watch.refused.is_none() {
            watch.refused = Some(err.clone());
        }
        self.store.set_accepting(false);
        if was_live {
            let reason = format!("invalidations from {label} lost: {err}");
            self.flush_locked(&mut watch, &reason, Instant::now());
        }
        self.recompute(&watch);
    }

    /// The server flushed its data (FLUSHALL, FLUSHDB): every entry goes.
    fn server_flushed(&self, label: &str) {
        let mut watch = self.lock();
        self.flush_locked(
            &mut watch,
            &format!("{label} flushed its data"),
            Instant::now(),
        );
        self.recompute(&watch);
    }

    /// Waits until every listener subscribed (`Ok`), a listener was refused for a reason that
    /// will not go away by itself (an ACL, a server without tracking: `Err`), or `timeout`
    /// passed (`Ok`: the cache stays bypassed until the listeners connect, as after any outage).
    pub(crate) fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut watch = self.lock();
        loop {
            if let Some(err) = &watch.refused {
                return Err(err.clone());
            }
            let ready = !watch.nodes.is_empty()
                && watch.nodes.values().all(|n| n.live)
                && watch.topology != TopologySeen::Unknown;
            let left = deadline.saturating_duration_since(Instant::now());
            if ready || left.is_zero() {
                if !ready {
                    log::warn!(
                        "client cache: not every invalidation listener is connected yet; \
                         reads bypass the cache until they are"
                    );
                }
                return Ok(());
            }
            watch = self
                .changed
                .wait_timeout(watch, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The cache's counters now.
    pub(crate) fn stats(&self) -> CacheStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStats {
            hits: read(&self.counters.hits),
            misses: read(&self.counters.misses),
            invalidations: read(&self.counters.invalidations),
            flushes: read(&self.counters.flushes),
            evictions: self.store.evictions(),
        }
    }
}

/// A refusal met while subscribing, said so: an ACL refusal stays `Auth` and names what the
/// user needs; a server that does not know the command (no tracking: Redis < 6, a proxy, a
/// managed service that turned it off) is a `Config` error.
pub(crate) fn refusal(command: &str, err: Error) -> Error {
    match err.kind() {
        ErrorKind::Auth => Error::new(
            ErrorKind::Auth,
            format!(
                "client cache: the server refused {command} ({}); the ACL user needs \
                 +client|id +client|tracking +subscribe +ping &__redis__:invalidate",
                err.message()
            ),
        ),
        ErrorKind::Redis | ErrorKind::UnexpectedReply => Error::new(
            ErrorKind::Config,
            format!(
                "client cache: the server refused {command} ({}); the cache needs CLIENT \
                 TRACKING (Redis >= 6 or Valkey, not turned off by the provider): turn the \
                 cache off for this server",
                err.message()
            ),
        ),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> [&[u8]; 1] {
        [name.as_bytes()]
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn link(pod: i32) -> Cached {
        Cached {
            reply: format!(":{pod}\r\n").into_bytes().into(),
            has_ttl: false,
        }
    }

    /// Reads `name` as a miss and stores `value`.
    fn read_through(cache: &ClientCache, name: &str, value: Cached) {
        match cache.lookup(&key(name)) {
            Lookup::Miss(Some(ticket)) => cache.fill(ticket, &key(name), value, None),
            Lookup::Miss(None) => panic!("no ticket"),
            Lookup::Hit(_) => panic!("unexpected hit"),
        }
    }

    fn hit(cache: &ClientCache, name: &str) -> Option<Cached> {
        match cache.lookup(&key(name)) {
            Lookup::Hit(value) => Some(value),
            Lookup::Miss(_) => None,
        }
    }

    /// A cache whose one node is live and just confirmed.
    fn live(fixed: bool) -> (ClientCache, u64) {
        let cache = ClientCache::new(100, Duration::from_secs(60));
        let now = Instant::now();
        let generation = cache.set_nodes(&labels(&["a"]), true, now, fixed)[0];
        cache.node_live("a", generation, now);
        (cache, generation)
    }

    #[test]
    fn bypassed_until_every_listener_subscribed() {
        let cache = ClientCache::new(100, Duration::from_secs(60));
        assert!(matches!(cache.lookup(&key("k")), Lookup::Miss(None)));
        let now = Instant::now();
        let gens = cache.set_nodes(&labels(&["a", "b"]), true, now, false);
        assert!(matches!(cache.lookup(&key("k")), Lookup::Miss(None)));
        cache.node_live("a", gens[0], now);
        assert!(matches!(cache.lookup(&key("k")), Lookup::Miss(None)));
        cache.node_live("b", gens[1], now);
        read_through(&cache, "k", link(1));
        assert_eq!(hit(&cache, "k"), Some(link(1)));
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 4));
    }

    #[test]
    fn hits_stop_when_confirmations_grow_old() {
        let cache = ClientCache::new(100, Duration::from_secs(60));
        let old = Instant::now() - FRESHNESS - Duration::from_millis(1);
        let generation = cache.set_nodes(&labels(&["a"]), true, Instant::now(), false)[0];
        // Subscribed long ago, never confirmed since: entries are stored, never served.
        cache.node_live("a", generation, old);
        read_through(&cache, "k", link(1));
        assert_eq!(hit(&cache, "k"), None);
        cache.node_confirmed("a", generation, Instant::now());
        assert_eq!(hit(&cache, "k"), Some(link(1)));
        // The topology look is a confirmation too: an old one stops hits.
        cache.set_nodes(&labels(&["a"]), false, old, false);
        assert_eq!(hit(&cache, "k"), None);
        cache.set_nodes(&labels(&["a"]), false, Instant::now(), false);
        assert_eq!(hit(&cache, "k"), Some(link(1)));
    }

    #[test]
    fn a_fixed_topology_needs_no_looks() {
        let (cache, _) = live(true);
        read_through(&cache, "k", link(1));
        assert_eq!(hit(&cache, "k"), Some(link(1)));
    }

    #[test]
    fn a_lost_listener_flushes_and_bypasses_until_it_is_back() {
        let (cache, generation) = live(false);
        read_through(&cache, "k", link(1));
        let in_flight = match cache.lookup(&key("j")) {
            Lookup::Miss(Some(ticket)) => ticket,
            _ => panic!("expected a ticket"),
        };
        let lost = Error::new(
            ErrorKind::Connection,
            "read: the server closed the connection",
        );
        cache.node_lost("a", generation, &lost);
        assert_eq!(hit(&cache, "k"), None);
        assert!(matches!(cache.lookup(&key("k")), Lookup::Miss(None)));
        cache.fill(in_flight, &key("j"), link(2), None);
        assert_eq!(cache.stats().flushes, 1);
        // Back: the entries are gone, the read in flight was not stored.
        cache.node_live("a", generation, Instant::now());
        assert_eq!(hit(&cache, "k"), None);
        assert_eq!(hit(&cache, "j"), None);
        // A report of a listener already replaced changes nothing.
        cache.node_lost("a", generation + 100, &lost);
        // Hits need a look at the topology after the flush too.
        assert_eq!(hit(&cache, "k"), None);
        cache.set_nodes(&labels(&["a"]), false, Instant::now(), false);
        read_through(&cache, "k", link(3));
        assert_eq!(hit(&cache, "k"), Some(link(3)));
    }

    #[test]
    fn a_flush_needs_confirmations_sent_after_it() {
        let (cache, generation) = live(false);
        let before = Instant::now();
        read_through(&cache, "k", link(1));
        cache.flush("a data connection dropped");
        assert_eq!(hit(&cache, "k"), None);
        read_through(&cache, "k", link(2));
        // A confirmation of a ping sent before the flush does not count...
        cache.node_confirmed("a", generation, before);
        cache.set_nodes(&labels(&["a"]), false, Instant::now(), false);
        assert_eq!(hit(&cache, "k"), None);
        // ...one sent after it does.
        cache.node_confirmed("a", generation, Instant::now());
        assert_eq!(hit(&cache, "k"), Some(link(2)));
    }

    #[test]
    fn a_topology_change_flushes() {
        let (cache, _) = live(false);
        read_through(&cache, "k", link(1));
        let gens = cache.set_nodes(&labels(&["b"]), true, Instant::now(), false);
        assert_eq!(hit(&cache, "k"), None);
        assert!(matches!(cache.lookup(&key("k")), Lookup::Miss(None)));
        cache.node_live("b", gens[0], Instant::now());
        read_through(&cache, "k", link(2));
        assert_eq!(hit(&cache, "k"), Some(link(2)));
    }

    #[test]
    fn invalidations_and_own_writes_drop_entries() {
        let (cache, _) = live(true);
        read_through(&cache, "k", link(1));
        read_through(&cache, "j", link(2));
        cache.invalidated(b"k");
        cache.written(&[b"j"]);
        assert_eq!(hit(&cache, "k"), None);
        assert_eq!(hit(&cache, "j"), None);
        assert_eq!(cache.stats().invalidations, 1);
        read_through(&cache, "k", link(1));
        cache.server_flushed("a");
        assert_eq!(hit(&cache, "k"), None);
    }

    #[test]
    fn refusals_are_reported_to_open() {
        let cache = ClientCache::new(100, Duration::from_secs(60));
        let generation = cache.set_nodes(&labels(&["a"]), true, Instant::now(), true)[0];
        let refused = refusal(
            "CLIENT TRACKING",
            Error::from_server_reply("NOPERM", "this user has no permissions"),
        );
        assert_eq!(refused.kind(), ErrorKind::Auth);
        assert!(refused.message().contains("+client|tracking"), "{refused}");
        cache.node_lost("a", generation, &refused);
        assert_eq!(
            cache.wait_ready(Duration::from_secs(5)).unwrap_err(),
            refused
        );
        let unknown = refusal(
            "CLIENT TRACKING",
            Error::from_server_reply("ERR", "unknown subcommand 'TRACKING'"),
        );
        assert_eq!(unknown.kind(), ErrorKind::Config);
        assert!(unknown.message().contains("Redis >= 6"), "{unknown}");
        // Not ready in time is no error: the cache stays bypassed.
        let cache = ClientCache::new(100, Duration::from_secs(60));
        cache.wait_ready(Duration::from_millis(10)).unwrap();
    }
}
