//! Auto-pipelining: one shared connection per node for every thread calling at the same moment.
//!
//! A caller encodes its command into the connection's queue. When no other caller is driving the
//! connection, it becomes the driver: it writes every queued command in one write, then reads
//! replies in order and hands each to the caller waiting for it, writing whatever was queued
//! meanwhile between two reads. A lone caller thus writes and reads itself, as without
//! pipelining (no hand-off to another thread); under load, commands of many threads share each
//! write and each read, on both sides of the socket. When the driver has its own reply, it
//! hands any replies already received to their callers, and wakes one caller still waiting to
//! drive on. Callers are woken only after the lock is released (a woken caller would otherwise
//! wait for it at once), the next driver first, and those given a reply only once the next
//! batch is written, so that the server works on it while the driver wakes them.
//!
//! Each caller has its own deadline (the command timeout). A caller that runs out of time stops
//! waiting and gets `Timeout`: a command not written yet is taken out of the queue (it never
//! reaches the server); a command already written keeps its place, and its reply is read and
//! discarded when it comes, by whoever drives then. When the last caller waiting on the
//! connection gives up, the connection is closed, so a reply that never came cannot hold up,
//! nor be read by, a later call. Replies are matched to commands by position only, so a
//! read error, a reply that breaks the protocol or a connection closed by the server ends the
//! connection: every call in flight on it fails with `Connection` (for a write: outcome
//! unknown), never with another call's reply. Commands still queued were never sent; the next
//! driver opens a new connection for them.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use super::cluster::{redirect_of, SlotMap};
use super::deadline::Deadline;
use super::node::{connect_error, Endpoint, NodeAddr};
use super::plain::Plain;
use super::pool::{Connector, Generation, Manager};
use super::resp::{self, Args};
use super::sentinel::SentinelConnector;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::{bump, Counters};

/// How a shared connection is (re)opened.
pub(crate) enum Opener {
    Node(Arc<Endpoint>),
    Sentinel(Arc<SentinelConnector>),
}

impl Opener {
    fn open(&self, deadline: Deadline) -> Result<Plain> {
        match self {
            Opener::Node(endpoint) => Plain::connect(endpoint, deadline)
                .map_err(|err| connect_error(&endpoint.address, err)),
            Opener::Sentinel(sentinel) => {
                let (primary, plain) = sentinel.connect_within(deadline)?;
                sentinel.note_primary(&primary);
                Ok(plain)
            }
        }
    }
}

/// The reply's bytes, or why there is none.
type Outcome = Result<Vec<u8>>;

/// Queue buffers larger than this are not kept after their batch was written.
const KEEP_BUFFER: usize = 64 * 1024;

thread_local! {
    /// Where a caller encodes its command before queueing it.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes the callers' ids (unique, increasing numbers that no one else chooses) with one
/// multiplication instead of SipHash: a few hash lookups per call.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        // Fibonacci hashing: spreads consecutive ids over the high bits too.
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Waiters = HashMap<u64, Waiter, BuildHasherDefault<IdHasher>>;

/// A caller waiting on the connection.
struct Waiter {
    wake: Arc<Condvar>,
    outcome: Option<Outcome>,
}

/// A queued command: its caller and its bytes in `State::queue`.
struct Queued {
    id: u64,
    bytes: std::ops::Range<usize>,
}

struct State {
    /// The connection; `None` while the driver holds it, or when it is closed.
    conn: Option<Box<Plain>>,
    /// The generation the connection was opened in.
    conn_generation: u64,
    /// Whether a caller is driving the connection.
    driving: bool,
    /// Commands encoded and not yet written, in order.
    queue: Vec<u8>,
    queued: Vec<Queued>,
    /// The end of a batch whose write ran out of its driver's time: its commands are in
    /// flight (the stream holds their beginning), so the next driver writes it first.
    unwritten: Vec<u8>,
    /// Commands written, in order; their replies come in this order.
    in_flight: VecDeque<u64>,
    /// Callers still waiting (a caller who gave up is not here: its reply is discarded).
    waiters: Waiters,
    next_id: u64,
    /// A spare buffer, swapped with `queue` by the driver (no allocation per batch).
    spare: Vec<u8>,
    /// Callers given their outcome, woken once the lock is released (so that they don't wake
    /// only to wait for it).
    to_wake: Vec<Arc<Condvar>>,
    /// The caller driving (or who drove last), who needs no waking: ids are never reused.
    driver: Option<u64>,
}

/// The state, locked; wakes the callers given an outcome when unlocked.
struct Locked<'s>(Option<MutexGuard<'s, State>>);

impl<'s> Locked<'s> {
    /// Releases the lock for a wait (after waking whom it must).
    fn into_guard(mut self) -> MutexGuard<'s, State> {
        let mut guard = self.0.take().expect("locked");
        for wake in guard.to_wake.drain(..) {
            wake.notify_one();
        }
        guard
    }
}

impl Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.0.as_ref().expect("locked")
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("locked")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(mut guard) = self.0.take() {
            let wake = std::mem::take(&mut guard.to_wake);
            drop(guard);
            for wake in wake {
                wake.notify_one();
            }
        }
    }
}

impl State {
    /// A caller that should drive now: the first one waiting for a written command, else the
    /// first one queued.
    fn next_driver(&self) -> Option<&Waiter> {
        let live = |id: &u64| self.waiters.get(id).filter(|w| w.outcome.is_none());
        self.in_flight
            .iter()
            .find_map(live)
            .or_else(|| self.queued.iter().find_map(|q| live(&q.id)))
    }

    fn deliver(&mut self, id: u64, outcome: Outcome) {
        if let Some(waiter) = self.waiters.get_mut(&id) {
            waiter.outcome = Some(outcome);
            if self.driver != Some(id) {
                self.to_wake.push(Arc::clone(&waiter.wake));
            }
        }
    }

    /// Ends the connection: every call in flight on it gets `err` (the caller `own`, if among
    /// them, gets `own_err`); queued commands stay queued for a new connection.
    fn close(&mut self, own: u64, own_err: &Error, err: &Error) {
        self.conn = None;
        self.unwritten = Vec::new();
        while let Some(id) = self.in_flight.pop_front() {
            let err = if id == own { own_err } else { err };
            self.deliver(id, Err(err.clone()));
        }
    }
}

/// One node's shared connection.
pub(crate) struct Shared {
    state: Mutex<State>,
    opener: Opener,
    connect_timeout: Duration,
    generation: Arc<Generation>,
    counters: Arc<Counters>,
}

impl Shared {
    fn new(
        opener: Opener,
        connect_timeout: Duration,
        generation: Arc<Generation>,
        counters: Arc<Counters>,
    ) -> Self {
        Shared {
            state: Mutex::new(State {
                conn: None,
                conn_generation: 0,
                driving: false,
                queue: Vec::with_capacity(1024),
                queued: Vec::new(),
                in_flight: VecDeque::new(),
                waiters: Waiters::default(),
                next_id: 0,
                spare: Vec::with_capacity(1024),
                to_wake: Vec::new(),
                driver: None,
                unwritten: Vec::new(),
            }),
            opener,
            connect_timeout,
            generation,
            counters,
        }
    }

    /// Whether the connection is open, and whether it is idle (nobody driving or waiting).
    fn open_and_idle(&self) -> (bool, bool) {
        let st = self.lock();
        let open = st.conn.is_some() || st.driving;
        (open, open && !st.driving && st.in_flight.is_empty())
    }

    fn lock(&self) -> Locked<'_> {
        // A panic never happens with the lock held (no user code runs under it); a poisoned
        // lock still holds consistent state.
        Locked(Some(self.state.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// Sends the command `build` encodes and returns its reply's bytes, with the generation of
    /// the connection that carried it.
    pub(crate) fn call(
        &self,
        deadline: Deadline,
        build: impl FnOnce(&mut dyn Args),
    ) -> (Result<Vec<u8>>, u64) {
        // Encoded before taking the lock: the lock is held shorter, and a panic while
        // encoding can't leave half a command in the queue.
        let command = ENCODED.with_borrow_mut(|buf| {
            buf.clear();
            let start = resp::encode(buf, build);
            start..buf.len()
        });
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        let base = st.queue.len();
        ENCODED.with_borrow_mut(|buf| {
            st.queue.extend_from_slice(&buf[command]);
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::new();
            }
        });
        let end = st.queue.len();
        st.queued.push(Queued {
            id,
            bytes: base..end,
        });
        let wake = Arc::new(Condvar::new());
        st.waiters.insert(
            id,
            Waiter {
                wake: Arc::clone(&wake),
                outcome: None,
            },
        );
        loop {
            if let Some(outcome) = st.waiters.get_mut(&id).and_then(|w| w.outcome.take()) {
                st.waiters.remove(&id);
                return (outcome, st.conn_generation);
            }
            if !st.driving {
                if let Err(err) = deadline.remaining("waiting for the connection") {
                    // Too late to drive: someone else will.
                    return (self.give_up(st, id, err), 0);
                }
                st.driving = true;
                st.driver = Some(id);
                return self.drive(st, id, deadline);
            }
            let left = match deadline.remaining("waiting for the reply") {
                Ok(left) => left,
                Err(err) => return (self.give_up(st, id, err), 0),
            };
            st = Locked(Some(
                wake.wait_timeout(st.into_guard(), left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0,
            ));
        }
    }

    /// A caller out of time while another drives: its reply (if it came meanwhile), or `err`.
    fn give_up<'s>(&'s self, mut st: Locked<'s>, id: u64, err: Error) -> Result<Vec<u8>> {
        let waiter = st.waiters.remove(&id);
        if let Some(outcome) = waiter.and_then(|w| w.outcome) {
            return outcome;
        }
        if let Some(at) = st.queued.iter().position(|q| q.id == id) {
            // Never written: take it out of the queue.
            let removed = st.queued.remove(at).bytes;
            let len = removed.len();
            st.queue.drain(removed.clone());
            for later in &mut st.queued[at..] {
                later.bytes = later.bytes.start - len..later.bytes.end - len;
            }
            if st.queued.is_empty() {
                st.queue.clear();
            }
        }
        self.pass_on(&mut st);
        Err(err)
    }

    /// With nobody driving: wakes a caller to drive, or, when nobody waits any more and
    /// commands are still in flight (their callers gave up), closes the connection.
    fn pass_on(&self, st: &mut State) {
        if st.driving {
            return;
        }
        match st.next_driver() {
            Some(next) => {
                // Woken first, once the lock is released (so that it doesn't wake only to
                // wait for the lock): it keeps the connection going.
                let next = Arc::clone(&next.wake);
                st.to_wake.insert(0, next);
            }
            None if !st.in_flight.is_empty() => {
                st.conn = None;
                st.in_flight.clear();
                st.unwritten = Vec::new();
            }
            None => {}
        }
    }

    /// Drives the connection until the caller `id` has its reply (see the module docs).
    fn drive<'s>(
        &'s self,
        mut st: Locked<'s>,
        id: u64,
        deadline: Deadline,
    ) -> (Result<Vec<u8>>, u64) {
        let mut conn = match st.conn.take() {
            Some(conn) => conn,
            None => {
                drop(st);
                let opened = self.open(deadline);
                st = self.lock();
                match opened {
                    Ok((conn, generation)) => {
                        st.conn_generation = generation;
                        conn
                    }
                    Err(err) => return self.connect_failed(st, id, err),
                }
            }
        };
        loop {
            // Under the lock: take what was queued.
            let own_done = st.waiters.get(&id).is_none_or(|w| w.outcome.is_some());
            let stale = st.conn_generation < self.generation.current();
            if stale && st.in_flight.is_empty() && !st.queued.is_empty() {
                // A server-side change was seen since it opened: a new connection for what
                // is queued (nothing is in flight on this one).
                drop(conn);
                drop(st);
                let opened = self.open(deadline);
                st = self.lock();
                match opened {
                    Ok((fresh, generation)) => {
                        conn = fresh;
                        st.conn_generation = generation;
                        continue;
                    }
                    Err(err) => return self.connect_failed(st, id, err),
                }
            }
            // What an earlier driver could not finish writing goes first (even on a stale
            // connection: its commands are in flight there).
            let mut batch = std::mem::take(&mut st.unwritten);
            if !stale && !st.queued.is_empty() {
                if batch.is_empty() {
                    let spare = std::mem::take(&mut st.spare);
                    batch = std::mem::replace(&mut st.queue, spare);
                } else {
                    let queue = std::mem::take(&mut st.queue);
                    batch.extend_from_slice(&queue);
                }
                let State {
                    queued, in_flight, ..
                } = &mut *st;
                in_flight.extend(queued.drain(..).map(|q| q.id));
            }
            if own_done && batch.is_empty() {
                // Replies already received go to their callers without another read.
                loop {
                    match conn.buffered_reply() {
                        Ok(Some(bytes)) => match st.in_flight.pop_front() {
                            Some(to) => {
                                let reply = bytes.to_vec();
                                st.deliver(to, Ok(reply));
                                if self.overrun(&mut st, &conn, to) {
                                    st.driving = false;
                                    self.pass_on(&mut st);
                                    return self.finish(st, id);
                                }
                            }
                            None => break,
                        },
                        Ok(None) => break,
                        Err(err) => {
                            let lost = lost(&err);
                            st.close(id, &lost, &lost);
                            st.driving = false;
                            self.pass_on(&mut st);
                            return self.finish(st, id);
                        }
                    }
                }
                if st.in_flight.is_empty() && conn.buffered_len() > 0 {
                    let err = Error::unexpected(format!(
                        "protocol error: {} bytes received with no command in flight",
                        conn.buffered_len()
                    ));
                    st.close(id, &err, &err);
                } else {
                    if st.in_flight.is_empty() {
                        conn.tidy();
                    }
                    st.conn = Some(conn);
                }
                st.driving = false;
                self.pass_on(&mut st);
                return self.finish(st, id);
            }
            let expected = st.in_flight.len();
            // Callers given their reply are woken after this batch is written, so that the
            // server works on it meanwhile.
            let woken_later = if batch.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut st.to_wake)
            };
            drop(st);

            if !batch.is_empty() {
                let (written, outcome) = conn.write_encoded(&batch, deadline);
                for wake in woken_later {
                    wake.notify_one();
                }
                st = self.lock();
                match outcome {
                    Ok(()) => {}
                    Err(err) if err.kind() == ErrorKind::Timeout && written < batch.len() => {
                        // Out of time (a slow reader, or a driver whose time was nearly up):
                        // the stream is in step up to `written`; the next driver writes the
                        // rest before anything else.
                        st.unwritten = batch[written..].to_vec();
                        st.conn = Some(conn);
                        st.driving = false;
                        return (self.give_up(st, id, err), 0);
                    }
                    Err(err) => {
                        // An I/O error, or a TLS flush cut short: the stream can't be trusted.
                        let others = lost(&err);
                        st.close(id, &err, &others);
                        st.driving = false;
                        self.pass_on(&mut st);
                        return self.finish_with(st, id, err);
                    }
                }
                batch.clear();
                // A large batch's buffer is given back rather than kept for ever.
                if batch.capacity() <= KEEP_BUFFER && st.spare.capacity() < batch.capacity() {
                    st.spare = batch;
                }
                continue;
            }

            // Read the next reply, and the others already received (no more than are in
            // flight: the rest of the bytes wait for the commands they answer).
            // (The first reply apart: a lone caller's read allocates no list.)
            let mut first = None;
            let mut more: Vec<Vec<u8>> = Vec::new();
            let mut failed = None;
            match conn.next_reply(deadline) {
                Ok(bytes) => {
                    first = Some(bytes.to_vec());
                    while 1 + more.len() < expected {
                        match conn.buffered_reply() {
                            Ok(Some(bytes)) => more.push(bytes.to_vec()),
                            Ok(None) => break,
                            Err(err) => {
                                failed = Some(err);
                                break;
                            }
                        }
                    }
                }
                Err(err) => failed = Some(err),
            }
            st = self.lock();
            let mut last = None;
            for reply in first.into_iter().chain(more) {
                let Some(to) = st.in_flight.pop_front() else {
                    let err = Error::unexpected("protocol error: a reply to no command");
                    st.close(id, &err, &err);
                    st.driving = false;
                    self.pass_on(&mut st);
                    return self.finish_with(st, id, err);
                };
                st.deliver(to, Ok(reply));
                last = Some(to);
            }
            if let (None, Some(to)) = (&failed, last) {
                if self.overrun(&mut st, &conn, to) {
                    st.driving = false;
                    self.pass_on(&mut st);
                    return self.finish(st, id);
                }
            }
            match failed {
                None => {}
                Some(err) if err.kind() == ErrorKind::Timeout => {
                    // Out of time: the stream is still in step (a partial reply stays
                    // buffered). Another caller drives on, or the connection closes.
                    st.conn = Some(conn);
                    st.driving = false;
                    return (self.give_up(st, id, err), 0);
                }
                Some(err) => {
                    let head_is_own = st.in_flight.front() == Some(&id);
                    let others = lost(&err);
                    let own_err = if head_is_own { err } else { others.clone() };
                    st.close(id, &own_err, &others);
                    st.driving = false;
                    self.pass_on(&mut st);
                    return self.finish(st, id);
                }
            }
        }
    }

    /// After the reply to the last command in flight (`to`'s, just delivered): any byte
    /// received beyond it breaks the protocol (a reply to no command, so the stream can't be
    /// trusted), and `to`'s reply with it. Then `to` gets the error and the connection closes.
    fn overrun(&self, st: &mut State, conn: &Plain, to: u64) -> bool {
        if !st.in_flight.is_empty() || conn.buffered_len() == 0 {
            return false;
        }
        let err = Error::unexpected(format!(
            "protocol error: {} bytes received after the reply",
            conn.buffered_len()
        ));
        if let Some(waiter) = st.waiters.get_mut(&to) {
            waiter.outcome = Some(Err(err.clone()));
        }
        st.close(to, &err, &err);
        true
    }

    /// Opening the connection failed: nothing was sent, every queued caller gets the error.
    fn connect_failed(&self, mut st: Locked<'_>, id: u64, err: Error) -> (Result<Vec<u8>>, u64) {
        let queued: Vec<u64> = st.queued.drain(..).map(|q| q.id).collect();
        st.queue.clear();
        for other in queued {
            st.deliver(other, Err(err.clone()));
        }
        st.waiters.remove(&id);
        st.driving = false;
        (Err(err), 0)
    }

    /// The driver's own outcome, once delivered.
    fn finish(&self, mut st: Locked<'_>, id: u64) -> (Result<Vec<u8>>, u64) {
        let generation = st.conn_generation;
        let outcome = st
            .waiters
            .remove(&id)
            .and_then(|w| w.outcome)
            .unwrap_or_else(|| Err(Error::new(ErrorKind::Internal, "pipeline: no outcome")));
        (outcome, generation)
    }

    fn finish_with(&self, mut st: Locked<'_>, id: u64, err: Error) -> (Result<Vec<u8>>, u64) {
        let generation = st.conn_generation;
        let outcome = st.waiters.remove(&id).and_then(|w| w.outcome);
        (outcome.unwrap_or(Err(err)), generation)
    }

    fn open(&self, deadline: Deadline) -> Result<(Box<Plain>, u64)> {
        let generation = self.generation.current();
        let opened = self
            .opener
            .open(deadline.connect_within(self.connect_timeout));
        bump(match &opened {
            Ok(_) => &self.counters.connects,
            Err(_) => &self.counters.connect_failures,
        });
        match &opened {
            Ok(_) => log::debug!("shared connection opened"),
            Err(err) => log::warn!("cannot open a shared connection: {err}"),
        }
        Ok((Box::new(opened?), generation))
    }
}

/// What the other calls in flight get when the connection ends under them.
fn lost(cause: &Error) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!(
            "the connection ended with the command in flight (a write's outcome is unknown): {}",
            cause.message()
        ),
    )
}

/// The shared connections of an executor: one for a standalone server or a sentinel's primary,
/// one per node of a cluster.
pub(crate) enum Pipeline {
    Node(Shared),
    Cluster(ClusterShared),
}

impl Pipeline {
    /// The shared connections of the servers `manager` opens connections to, opened on first
    /// use.
    pub(crate) fn new(manager: &Manager, counters: Arc<Counters>) -> Pipeline {
        let shared = |opener| {
            Pipeline::Node(Shared::new(
                opener,
                manager.connect_timeout,
                Arc::clone(&manager.generation),
                Arc::clone(&counters),
            ))
        };
        match &manager.connector {
            Connector::Standalone(endpoint) => shared(Opener::Node(Arc::new(endpoint.clone()))),
            Connector::Sentinel(sentinel) => shared(Opener::Sentinel(Arc::clone(sentinel))),
            Connector::Cluster { endpoint, .. } => Pipeline::Cluster(ClusterShared::new(
                Arc::clone(endpoint),
                manager.connect_timeout,
                Arc::clone(&manager.generation),
                Arc::clone(&counters),
            )),
        }
    }

    /// Shared connections open now, and of which idle (for the statistics).
    pub(crate) fn connections(&self) -> (u32, u32) {
        let count = |shared: &Shared, (open, idle): (u32, u32)| {
            let (is_open, is_idle) = shared.open_and_idle();
            (open + u32::from(is_open), idle + u32::from(is_idle))
        };
        match self {
            Pipeline::Node(shared) => count(shared, (0, 0)),
            Pipeline::Cluster(cluster) => {
                let nodes = cluster.nodes.read().unwrap_or_else(|e| e.into_inner());
                nodes
                    .values()
                    .fold((0, 0), |sum, shared| count(shared, sum))
            }
        }
    }
}

/// A cluster's shared connections, per primary, with the slot map they route by (a copy of a
/// pooled connection's, refreshed after each redirect).
pub(crate) struct ClusterShared {
    endpoint: Arc<Endpoint>,
    connect_timeout: Duration,
    generation: Arc<Generation>,
    counters: Arc<Counters>,
    slots: RwLock<Option<SlotMap>>,
    nodes: RwLock<HashMap<NodeAddr, Arc<Shared>>>,
}

/// What a pipelined cluster call came to.
pub(crate) enum Routed<T> {
    Done((Result<T>, u64)),
    /// Not sent (no node known for the slot), or refused with a redirect (MOVED, ASK,
    /// TRYAGAIN, CLUSTERDOWN: the command did not run): send it through a pooled connection,
    /// which follows redirects.
    Elsewhere,
}

impl ClusterShared {
    fn new(
        endpoint: Arc<Endpoint>,
        connect_timeout: Duration,
        generation: Arc<Generation>,
        counters: Arc<Counters>,
    ) -> Self {
        ClusterShared {
            endpoint,
            connect_timeout,
            generation,
            counters,
            slots: RwLock::new(None),
            nodes: RwLock::new(HashMap::new()),
        }
    }

    /// Takes a pooled connection's slot map (at open, and after it followed a redirect).
    pub(crate) fn learn(&self, slots: SlotMap) {
        if let Ok(mut map) = self.slots.write() {
            *map = Some(slots);
        }
    }

    fn node(&self, addr: &NodeAddr) -> Arc<Shared> {
        if let Some(shared) = self.nodes.read().ok().and_then(|n| n.get(addr).cloned()) {
            return shared;
        }
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(nodes.entry(addr.clone()).or_insert_with(|| {
            Arc::new(Shared::new(
                Opener::Node(Arc::new(self.endpoint.at(addr))),
                self.connect_timeout,
                Arc::clone(&self.generation),
                Arc::clone(&self.counters),
            ))
        }))
    }

    /// Sends a command for `slot` on its primary's shared connection.
    pub(crate) fn call(
        &self,
        slot: u16,
        deadline: Deadline,
        build: impl FnOnce(&mut dyn Args),
    ) -> Routed<Vec<u8>> {
        let owner = self
            .slots
            .read()
            .ok()
            .and_then(|map| map.as_ref().and_then(|m| m.owner_of(slot).cloned()));
        let Some(addr) = owner else {
            return Routed::Elsewhere;
        };
        let (outcome, generation) = self.node(&addr).call(deadline, build);
        if matches!(&outcome, Err(err) if err.kind() == ErrorKind::Connection) {
            // The node may be gone (a failover): route through a pooled connection, which
            // reads the slot map again, until it teaches us the new one.
            if let Ok(mut map) = self.slots.write() {
                *map = None;
            }
        }
        if let Ok(bytes) = &outcome {
            if let Some(line) = resp::Reply::new(bytes).error_line() {
                if redirect_of(line).is_some() {
                    log::debug!("cluster: slot {slot} redirected from {addr}");
                    return Routed::Elsewhere;
                }
            }
        }
        Routed::Done((outcome, generation))
    }
}
