//! The engine: runs the operations of `ops/`, one alone (a single call) or many together (a
//! batch), and is the one place that enforces the README's Guarantees:
//!
//! - one bound per call: pool wait + connect + command timeout, retry included;
//! - one retry, on a new connection, only for what certainly did not run (the server refused it
//!   up front: READONLY, LOADING, ...) or is a read whose reply was lost; a write whose reply
//!   was lost fails with the connection error (it may have run);
//! - a lost script (NOSCRIPT) is sent again with EVAL, in one more round trip for all of them;
//! - a server-side change (a connection lost, READONLY, MASTERDOWN) retires every connection
//!   opened before it;
//! - each operation counts as one call in the statistics and logs one DEBUG record; retries,
//!   reloads and dropped connections log a WARN.
//!
//! A single call takes the shared connection of auto-pipelining when enough calls are in
//! flight, else a pooled connection; a batch holds one pooled connection and writes every
//! command at once.
//!
//! The client-side cache (`cache/`) hooks in here, and only here: a read that names a
//! [`CachedRead`] is answered from the cache when it can be, and otherwise read with its key's
//! TTL (`lua/read_with_ttl.lua`) and stored; a write drops the entries of every key it names
//! ([`Command::keys`]) once it has run, failed or not; a retired connection flushes the cache.

use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::{Cached, ClientCache, Listeners, Lookup, Ticket};
use crate::codec;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{Access, BatchOutcome, CachedRead, Command, Op, Ping, Planned, ReadKeys};
use crate::pool_threads::{self, Threads};
use crate::scripts::{self, Script};
use crate::stats::{bump, Counted, Counters, Stats};
use crate::transport::{
    answer, Args, Frame, Generation, KeysCommand, LastConnectError, Manager, Pipeline,
    QuietErrorHandler, Reply, Route, Via,
};

/// Counts one call in flight until dropped.
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The pool, the shared connections and the counters of one executor.
pub(crate) struct Engine {
    /// Dropped first, in `drop`, before waiting for its threads.
    pool: ManuallyDrop<r2d2::Pool<Counted<Manager>>>,
    threads: Arc<Threads>,
    last_connect_error: Arc<LastConnectError>,
    generation: Arc<Generation>,
    /// The shared connections when auto-pipelining is on.
    pipeline: Option<Pipeline>,
    /// Calls in flight now, counted only with pipelining on: a call takes the shared
    /// connection only while at least `config.pipelining_min_in_flight` are. Fewer than that
    /// many calls on pooled connections are in flight at once (the last of them to start
    /// counted them all), so with a pool of at least the threshold minus one they never wait
    /// for the pool.
    in_flight: AtomicU32,
    counters: Arc<Counters>,
    pub(crate) config: Config,
    /// The client-side cache, when configured.
    cache: Option<Arc<ClientCache>>,
    /// Its invalidation listeners; stopped first when the engine closes.
    listeners: Option<Listeners>,
}

impl Drop for Engine {
    /// Closes every connection and returns once the pool's threads have exited.
    fn drop(&mut self) {
        if let Some(mut listeners) = self.listeners.take() {
            listeners.stop();
        }
        // SAFETY: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.pool) };
        self.threads.wait_exited();
        log::info!("executor closed on {}", self.config.display);
    }
}

/// Which connections a run may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// A single call: the shared connections when enough calls are in flight, else pooled.
    Single,
    /// A batch: one pooled connection for all its commands.
    Pooled,
}

/// An operation in a run: what the rules need to know of it, and its outcome once known.
struct Task<T> {
    name: &'static str,
    access: Access,
    script: Option<&'static Script>,
    /// `None` until known; an operation refused for its arguments has its error from the start.
    outcome: Option<Result<T>>,
    /// Whether it was sent (its errors then name it).
    sent: bool,
}

impl<T> Task<T> {
    fn of<O: Command + ?Sized>(op: &O) -> Task<T> {
        Task {
            name: op.name(),
            access: op.access(),
            script: op.script(),
            outcome: None,
            sent: false,
        }
    }

    /// An operation refused for its arguments: never sent, its error without context.
    fn refused(err: Error) -> Task<T> {
        Task {
            name: "",
            access: Access::Read,
            script: None,
            outcome: Some(Err(err)),
            sent: false,
        }
    }

    /// The outcome; a run always sets one.
    fn take(&mut self) -> Result<T> {
        self.outcome.take().unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                format!("{}: the operation got no result", self.name),
            ))
        })
    }
}

impl Engine {
    /// Connects, checks that the server answers, and loads the Lua scripts.
    pub(crate) fn open(config: &Config) -> Result<Engine> {
        let manager = Manager::new(config)?;
        let last_connect_error = Arc::clone(&manager.last_connect_error);
        let generation = Arc::clone(&manager.generation);
        let counters = Arc::new(Counters::default());
        let pipeline = config
            .pipelining
            .then(|| Pipeline::new(&manager, Arc::clone(&counters)));
        let no_pool = || Err(Error::new(ErrorKind::Internal, "no pool while opening"));
        let mut first = Via::own(manager.open()?, &no_pool);
        bump(&counters.connects);
        first.call(Route::Any, |a| Ping.encode(a, false), |r| Ping.decode(r))?;
        load_scripts(&mut first, &scripts::ALL)?;
        if config.client_cache.is_some() {
            load_scripts(&mut first, &[&scripts::READ_WITH_TTL])?;
        }
        if let Some(pipeline) = &pipeline {
            first.teach(pipeline);
        }
        drop(first);
        let (cache, listeners) = match config.client_cache {
            Some((max_entries, max_age)) => {
                let cache = Arc::new(ClientCache::new(max_entries, max_age));
                let listeners = Listeners::start(
                    Arc::clone(&cache),
                    manager.listen_targets(),
                    config.connect_timeout,
                    config.command_timeout,
                )?;
                // Connect, CLIENT ID, then CLIENT TRACKING and SUBSCRIBE: C + 2T per node, in
                // parallel, plus a look at the topology.
                cache.wait_ready(config.connect_timeout + config.command_timeout * 3)?;
                (Some(cache), Some(listeners))
            }
            None => (None, None),
        };
        let (thread_pool, threads) = pool_threads::start();
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_max_size)
            .min_idle(Some(config.pool_min_idle))
            .connection_timeout(config.pool_wait_timeout)
            // Checkout compares generations only (no I/O): see transport/pool.rs.
            .test_on_check_out(true)
            .error_handler(Box::new(QuietErrorHandler))
            .thread_pool(thread_pool)
            .build_unchecked(Counted {
                inner: manager,
                counters: Arc::clone(&counters),
            });
        log::info!("executor opened on {}", config.display);
        Ok(Engine {
            pool: ManuallyDrop::new(pool),
            threads,
            last_connect_error,
            generation,
            pipeline,
            in_flight: AtomicU32::new(0),
            counters,
            config: config.clone(),
            cache,
            listeners,
        })
    }

    /// The counters since open and the connections now. Sends nothing and blocks no call.
    pub(crate) fn stats(&self) -> Stats {
        let pool = self.pool.state();
        let (shared, shared_idle) = self.pipeline.as_ref().map_or((0, 0), Pipeline::connections);
        let mut stats = self.counters.snapshot(
            pool.connections + shared,
            pool.idle_connections + shared_idle,
        );
        if let Some(cache) = &self.cache {
            let cache = cache.stats();
            stats.cache_hits = cache.hits;
            stats.cache_misses = cache.misses;
            stats.cache_invalidations = cache.invalidations;
            stats.cache_flushes = cache.flushes;
            stats.cache_evictions = cache.evictions;
        }
        stats
    }

    /// Runs the operation `describe` gives, its arguments checked first, as one counted call.
    pub(crate) fn call<O: Op>(&self, describe: impl FnOnce() -> Result<O>) -> Result<O::Output> {
        self.counters.call(|| self.run(describe()?))
    }

    /// Runs the multi-key read `describe` gives, its arguments checked first, as one counted
    /// call.
    pub(crate) fn call_keys<R: ReadKeys>(
        &self,
        describe: impl FnOnce() -> Result<R>,
    ) -> Result<R::Output> {
        self.counters.call(|| self.read_keys(describe()?))
    }

    /// Runs `body`, which runs operations of its own, as one counted call (an operation built
    /// on others, such as compute linked pod).
    pub(crate) fn call_composed<T>(&self, body: impl FnOnce() -> Result<T>) -> Result<T> {
        self.counters.call(body)
    }

    /// Runs one operation: a batch of one, on the shared connection or a pooled one; through
    /// the client cache when it is on and the operation is a read it serves.
    fn run<O: Op>(&self, op: O) -> Result<O::Output> {
        if let Some(cache) = self.cache.as_deref() {
            if let Some(read) = op.cached_read() {
                return self.run_cached(cache, &op, read);
            }
        }
        let outcome = self.send(&op);
        self.written(&op);
        outcome
    }

    /// Sends one operation and reads its reply (see [`run`](Self::run)).
    fn send<O: Op>(&self, op: &O) -> Result<O::Output> {
        let mut tasks = [Task::of(op)];
        self.drive(&mut tasks, Path::Single, |via, _, reload, tasks| {
            let outcome = via.call(op.route(), |a| op.encode(a, reload), |r| op.decode(r));
            tasks[0].outcome = Some(outcome);
            true
        });
        tasks[0].take()
    }

    /// Cache hook: a read the cache serves, answered from its entry, or read with its key's TTL
    /// and stored unless an invalidation or a flush overtook it.
    fn run_cached<O: Op>(
        &self,
        cache: &ClientCache,
        op: &O,
        read: CachedRead<'_>,
    ) -> Result<O::Output> {
        let ticket = match cache.lookup(read.key) {
            Lookup::Hit(entry) => return answer_cached(op, read, &entry),
            Lookup::Miss(ticket) => ticket,
        };
        let (ttl, reply) = self.send(&ReadWithTtl {
            name: op.name(),
            read,
        })?;
        let entry = Cached {
            reply: reply.into(),
            has_ttl: ttl.is_some(),
        };
        let outcome = answer_cached(op, read, &entry)?;
        if let Some(ticket) = ticket {
            cache.fill(ticket, read.key, entry, ttl);
        }
        Ok(outcome)
    }

    /// Cache hook: what a write may have changed (it ran, or its outcome is unknown) loses its
    /// entries before the write returns, so the executor reads its own writes.
    fn written(&self, op: &dyn Command) {
        if let (Some(cache), Access::Write) = (&self.cache, op.access()) {
            op.keys(&mut |key| cache.written(key));
        }
    }

    /// Runs independent operations together and returns each one's outcome, in order; each
    /// counts as one call. `plans` holds each operation, or why its arguments were refused
    /// (nothing is sent for it).
    pub(crate) fn run_batch(&self, plans: Vec<Result<Planned<'_>>>) -> Vec<Result<BatchOutcome>> {
        // A refused operation has its outcome from the start, and is never sent.
        let mut tasks: Vec<Task<BatchOutcome>> = plans
            .iter()
            .map(|plan| match plan {
                Ok(op) => match self.batch_hit(op) {
                    // Cache hook: a read the cache answers is not sent.
                    Some(hit) => Task {
                        outcome: Some(hit),
                        ..Task::of(op)
                    },
                    None => Task::of(op),
                },
                Err(err) => Task::refused(err.clone()),
            })
            .collect();
        if tasks.iter().any(|task| task.outcome.is_none()) {
            let op = |i: usize| match &plans[i] {
                Ok(op) => op,
                Err(_) => unreachable!("only accepted operations are sent"),
            };
            // One pooled connection: every command written at once, the replies read back in
            // order (one round trip per node on a cluster).
            self.drive(&mut tasks, Path::Pooled, |via, which, reload, tasks| {
                let mut read = |k: usize, reply: Result<Reply<'_>>| {
                    let i = which[k];
                    let outcome = reply.and_then(|reply| answer(reply, |r| op(i).decode(r)));
                    tasks[i].outcome = Some(outcome);
                };
                let slot_of = |k: usize| op(which[k]).route().slot();
                let build = |k: usize, a: &mut dyn Args| op(which[k]).encode(a, reload);
                match via.pooled(|conn| conn.call_many(which.len(), slot_of, build, &mut read)) {
                    Ok(in_step) => in_step,
                    Err(err) => {
                        (0..which.len()).for_each(|k| read(k, Err(err.clone())));
                        false
                    }
                }
            });
            for (plan, task) in plans.iter().zip(&tasks) {
                if let (Ok(op), true) = (plan, task.sent) {
                    self.written(op);
                }
            }
        }
        tasks
            .iter_mut()
            .map(|task| {
                let outcome = task.take();
                self.counters.call(|| outcome)
            })
            .collect()
    }

    /// Cache hook of a batch: the outcome of a read the cache answers now (a miss is sent with
    /// the batch, whose reply carries no TTL: nothing is stored).
    fn batch_hit(&self, op: &Planned<'_>) -> Option<Result<BatchOutcome>> {
        let cache = self.cache.as_deref()?;
        let read = op.cached_read()?;
        match cache.lookup(read.key) {
            Lookup::Hit(entry) => Some(answer_cached(op, read, &entry)),
            Lookup::Miss(_) => None,
        }
    }

    /// Runs a multi-key read: one command per node (see [`ReadKeys`]); nothing is sent for
    /// no key. Cache hook: with the client cache on, the keys it holds are taken from it and
    /// only the others read; what they find absent is stored (an MGET reads no TTL, so a value
    /// found is not).
    fn read_keys<R: ReadKeys>(&self, mut op: R) -> Result<R::Output> {
        let Some(cache) = self.cache.as_deref() else {
            return self.read_keys_sent(op);
        };
        let count = op.count();
        let mut values: Vec<Option<Option<Vec<u8>>>> = Vec::with_capacity(count);
        let mut missing: Vec<(usize, Option<Ticket>)> = Vec::new();
        for i in 0..count {
            op.key(i, &mut |key| match cache.lookup(key) {
                Lookup::Hit(entry) => {
                    let value =
                        codec::read_get(Reply::new(&entry.reply), |v| Ok(v.map(<[u8]>::to_vec)));
                    match value {
                        Ok(value) => values.push(Some(value)),
                        Err(_) => {
                            values.push(None);
                            missing.push((i, None));
                        }
                    }
                }
                Lookup::Miss(ticket) => {
                    values.push(None);
                    missing.push((i, ticket));
                }
            });
        }
        if !missing.is_empty() {
            let found = self.read_keys_sent(Subset {
                of: &op,
                keys: &missing,
                values: Vec::with_capacity(missing.len()),
            })?;
            for (&(i, ticket), value) in missing.iter().zip(found) {
                if let (Some(ticket), None) = (ticket, &value) {
                    op.key(i, &mut |key| {
                        let absent = Cached {
                            reply: Arc::from(&b"$-1\r\n"[..]),
                            has_ttl: false,
                        };
                        cache.fill(ticket, key, absent, None);
                    });
                }
                values[i] = Some(value);
            }
        }
        op.start();
        for (i, value) in values.into_iter().enumerate() {
            let value = value.expect("every key found or read");
            op.value(i, value.as_deref())?;
        }
        Ok(op.finish())
    }

    /// A multi-key read sent whole (see [`read_keys`](Self::read_keys)).
    fn read_keys_sent<R: ReadKeys>(&self, op: R) -> Result<R::Output> {
        let count = op.count();
        if count == 0 {
            return Ok(op.finish());
        }
        let mut tasks = [Task {
            name: op.name(),
            access: Access::Read,
            script: None,
            outcome: None,
            sent: false,
        }];
        let command = KeysRead {
            op: RefCell::new(op),
            held: RefCell::new(Vec::new()),
        };
        self.drive(&mut tasks, Path::Single, |via, _, _, tasks| {
            command.op.borrow_mut().start();
            command.held.borrow_mut().clear();
            let outcome = via.call_keys(&command).and_then(|()| command.replay_held());
            tasks[0].outcome = Some(outcome);
            true
        });
        tasks[0].take().map(|()| command.op.into_inner().finish())
    }

    /// The one retry loop. Runs `round(via, which, reload, tasks)` for the pending tasks
    /// (`which`, indexes into `tasks`), which sets each one's outcome and says whether the
    /// connection is still in step (every reply read); then reloads lost scripts, retires
    /// the connections a server-side change made suspect, and retries what may be retried,
    /// once, within the call's bound. Every error gets the operation's name as context.
    fn drive<T>(
        &self,
        tasks: &mut [Task<T>],
        path: Path,
        mut round: impl FnMut(&mut Via, &[usize], bool, &mut [Task<T>]) -> bool,
    ) {
        let config = &self.config;
        // The retry must not stretch a call past pool wait + connect + command timeout.
        let deadline = Instant::now()
            + config.pool_wait_timeout
            + config.connect_timeout
            + config.command_timeout;
        let (pipeline, _in_flight) = match path {
            Path::Single => self.route(),
            Path::Pooled => (None, None),
        };
        // What runs: every task without an outcome yet (a single call allocates no list).
        const ONE: &[usize] = &[0];
        let mut pending: Cow<'_, [usize]> = match tasks {
            [task] if task.outcome.is_none() => Cow::Borrowed(ONE),
            _ => Cow::Owned(
                (0..tasks.len())
                    .filter(|&i| tasks[i].outcome.is_none())
                    .collect(),
            ),
        };
        for &i in pending.iter() {
            tasks[i].sent = true;
            log::debug!("{}", tasks[i].name);
        }
        let mut wait = config.pool_wait_timeout;
        for attempt in 0..2 {
            let checkout = || self.checkout_within(wait);
            let mut via = match Via::new(pipeline, &checkout, config.command_timeout) {
                Ok(via) => via,
                Err(err) => {
                    for &i in pending.iter() {
                        tasks[i].outcome = Some(Err(err.clone()));
                    }
                    break;
                }
            };
            let in_step = round(&mut via, &pending, false, tasks);
            if pending
                .iter()
                .all(|&i| matches!(tasks[i].outcome, Some(Ok(_))))
            {
                break;
            }
            // NOSCRIPT: the server lost its script cache (SCRIPT FLUSH, restart, failover):
            // EVAL runs the scripts and caches them again, in one more round trip for all.
            let lost: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|&i| matches!(&tasks[i].outcome, Some(Err(err)) if err.missing_script))
                .collect();
            if !lost.is_empty() && in_step {
                for &i in &lost {
                    let script = tasks[i].script.map_or("?", |s| s.name);
                    log::warn!("script {script} missing on the server; reloading it");
                    bump(&self.counters.script_reloads);
                }
                round(&mut via, &lost, true, tasks);
            }
            let mut retry = Vec::new();
            let mut retired = false;
            for &i in pending.iter() {
                let Some(Err(err)) = &tasks[i].outcome else {
                    continue;
                };
                if !retired && (err.topology_changed || err.kind() == ErrorKind::Connection) {
                    // Once per round, however many operations saw the change.
                    retired = true;
                    self.retire(via.generation(), err);
                }
                let lost_reply =
                    tasks[i].access == Access::Read && err.kind() == ErrorKind::Connection;
                if attempt == 0 && (err.rejected_before_running || err.missing_script || lost_reply)
                {
                    retry.push(i);
                }
            }
            if retry.is_empty() {
                break;
            }
            // Time for a new connection, leaving a whole command timeout for the commands.
            let left = deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(config.command_timeout);
            if left.is_zero() {
                break;
            }
            via.discard();
            drop(via);
            for &i in &retry {
                if let Some(Err(err)) = &tasks[i].outcome {
                    log::warn!(
                        "{}: {err}; retrying once on a new connection",
                        tasks[i].name
                    );
                }
                bump(&self.counters.retries);
            }
            wait = left.min(config.pool_wait_timeout);
            pending = Cow::Owned(retry);
        }
        for task in tasks.iter_mut().filter(|task| task.sent) {
            if let Some(Err(err)) = &mut task.outcome {
                *err = std::mem::replace(err, Error::invalid("")).context(task.name);
            }
        }
    }

    /// The shared connections for a call when enough calls are in flight to fill batches, else
    /// `None` (a pooled connection); with the guard that counts the call until it returns.
    fn route(&self) -> (Option<&Pipeline>, Option<InFlight<'_>>) {
        let Some(pipeline) = &self.pipeline else {
            return (None, None);
        };
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = InFlight(&self.in_flight);
        if now >= self.config.pipelining_min_in_flight {
            bump(&self.counters.pipelined_calls);
            (Some(pipeline), Some(guard))
        } else {
            (None, Some(guard))
        }
    }

    /// After an error that shows the server side changed (the server died or dropped us, or a
    /// failover demoted it: READONLY, MASTERDOWN), connections opened before the one that
    /// carried it (of `generation`) may point at the wrong node too: retire them all, so
    /// checkout opens new ones (no I/O here).
    fn retire(&self, generation: u64, err: &Error) {
        if let Some(cache) = &self.cache {
            // Cache hook: invalidations may have been lost with the server side's change.
            cache.flush(&format!("a data connection saw a change: {err}"));
        }
        let display = &self.config.display;
        if err.topology_changed {
            log::warn!("{display}: topology changed ({err}); replacing the connections");
        } else {
            log::warn!("{display}: connection dropped ({err}); replacing the connections");
        }
        self.generation.retire(generation);
    }

    /// Waits at most `wait` for a pooled connection.
    fn checkout_within(&self, wait: Duration) -> Result<r2d2::PooledConnection<Counted<Manager>>> {
        let started = Instant::now();
        self.pool.get_timeout(wait).map_err(|_| {
            // While the pool is below its size, a timeout means connecting failed, not that
            // every connection was busy: report the connect error itself.
            let config = &self.config;
            let below_max = self.pool.state().connections < config.pool_max_size;
            match self.last_connect_error.since(started) {
                Some(err) => err,
                None if below_max => Error::new(
                    ErrorKind::Connection,
                    format!(
                        "no connection to {} could be opened within {} ms",
                        config.display,
                        config.pool_wait_timeout.as_millis()
                    ),
                ),
                None => Error::new(
                    ErrorKind::PoolTimeout,
                    format!(
                        "all {} pooled connections stayed busy for {} ms",
                        config.pool_max_size,
                        config.pool_wait_timeout.as_millis()
                    ),
                ),
            }
        })
    }
}

/// A multi-key read as the transport sends it: one `MGET` of every key, or one per slot.
struct KeysRead<R> {
    op: RefCell<R>,
    /// Values of several groups (a cluster's slots) arrive out of order: held here, then handed
    /// to the operation in input order.
    held: RefCell<Vec<Option<Vec<u8>>>>,
}

impl<R: ReadKeys> KeysRead<R> {
    /// Hands the held values over, in input order.
    fn replay_held(&self) -> Result<()> {
        let mut op = self.op.borrow_mut();
        let held = self.held.borrow();
        held.iter()
            .enumerate()
            .try_for_each(|(i, value)| op.value(i, value.as_deref()))
    }
}

impl<R: ReadKeys> KeysCommand for KeysRead<R> {
    fn count(&self) -> usize {
        self.op.borrow().count()
    }

    fn key(&self, i: usize, put: &mut dyn FnMut(&[&[u8]])) {
        self.op.borrow().key(i, put)
    }

    fn build(&self, keys: &[usize], a: &mut dyn Args) {
        let op = self.op.borrow();
        codec::mget(a, |a| {
            for &i in keys {
                op.key(i, &mut |pieces| a.pieces(pieces));
            }
        })
    }

    fn read(&self, keys: &[usize], reply: Reply<'_>) -> Result<()> {
        let count = self.count();
        if keys.len() == count {
            // One group of every key, in input order: straight to the operation.
            let mut op = self.op.borrow_mut();
            return codec::read_mget(reply, count, |k, v| op.value(k, v));
        }
        let mut held = self.held.borrow_mut();
        held.resize(count, None);
        codec::read_mget(reply, keys.len(), |k, v| {
            held[keys[k]] = v.map(<[u8]>::to_vec);
            Ok(())
        })
    }
}

/// Loads every script on every primary (the one server, or each cluster primary known now), so
/// that EVALSHA finds them. On a cluster a primary that cannot be reached now is skipped with a
/// warning: EVALSHA falls back to EVAL (one round trip, which caches the script again) wherever
/// a script is missing, which also covers primaries added or promoted later.
fn load_scripts(conn: &mut Via, scripts: &[&Script]) -> Result<()> {
    let cluster = conn.is_cluster()?;
    for script in scripts {
        let outcomes = conn.on_all_primaries(
            |a| codec::script_load(a, script),
            |reply| codec::read_script_loaded(reply, script),
        )?;
        for (node, outcome) in outcomes {
            match outcome {
                Ok(()) => {}
                Err(err)
                    if cluster
                        && matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout) =>
                {
                    log::warn!(
                        "cannot load script {} on {node} now ({err}); EVAL will load it there",
                        script.name
                    );
                }
                Err(err) => return Err(err.context(&format!("loading scripts on {node}"))),
            }
        }
    }
    Ok(())
}

/// The answer of a cached read from its entry: the operation reads the plain read's reply the
/// cache kept; only-persistent reads of a key with a TTL find it absent.
fn answer_cached<O: Op + ?Sized>(
    op: &O,
    read: CachedRead<'_>,
    entry: &Cached,
) -> Result<O::Output> {
    if read.persistent_only && entry.has_ttl {
        return op.decode_cached(Reply::new(b"$-1\r\n"));
    }
    op.decode_cached(Reply::new(&entry.reply))
}

/// A cache miss: the read and its key's remaining TTL, in one read-only script
/// (`lua/read_with_ttl.lua`); its answer is the TTL (`None`: none) and the read's reply, whole.
struct ReadWithTtl<'a> {
    /// The name of the operation it reads for (logs, errors, statistics).
    name: &'static str,
    read: CachedRead<'a>,
}

impl Command for ReadWithTtl<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn route(&self) -> Route<'_> {
        Route::Key(self.read.key)
    }

    fn keys(&self, visit: &mut dyn FnMut(&[&[u8]])) {
        visit(self.read.key)
    }

    fn script(&self) -> Option<&'static Script> {
        Some(&scripts::READ_WITH_TTL)
    }

    fn encode(&self, a: &mut dyn Args, reload: bool) {
        let verb: &[u8] = if self.read.get { b"GET" } else { b"HGETALL" };
        codec::script(a, &scripts::READ_WITH_TTL, reload, &[self.read.key], |a| {
            a.bytes(verb)
        });
    }
}

impl Op for ReadWithTtl<'_> {
    type Output = (Option<Duration>, Vec<u8>);

    fn decode(&self, mut reply: Reply<'_>) -> Result<Self::Output> {
        let bad = |what: &dyn std::fmt::Debug| {
            Error::unexpected(format!("read with ttl answered {what:?}"))
        };
        match reply.next()? {
            Frame::Array(Some(2)) => {}
            other => return Err(bad(&other)),
        }
        let ttl = match reply.next()? {
            // Redis counts in whole milliseconds of its clock, so the key may end up to a
            // millisecond before PTTL says: one less, to be on the safe side.
            Frame::Int(ms) if ms >= 0 => Some(Duration::from_millis((ms as u64).saturating_sub(1))),
            Frame::Int(-1 | -2) => None,
            other => return Err(bad(&other)),
        };
        Ok((ttl, reply.rest().to_vec()))
    }
}

/// The keys of a multi-key read the cache did not answer, read on their own.
struct Subset<'o, R> {
    of: &'o R,
    keys: &'o [(usize, Option<Ticket>)],
    values: Vec<Option<Vec<u8>>>,
}

impl<R: ReadKeys> ReadKeys for Subset<'_, R> {
    type Output = Vec<Option<Vec<u8>>>;

    fn name(&self) -> &'static str {
        self.of.name()
    }

    fn count(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, k: usize, put: &mut dyn FnMut(&[&[u8]])) {
        self.of.key(self.keys[k].0, put)
    }

    fn start(&mut self) {
        self.values.clear();
    }

    fn value(&mut self, _: usize, value: Option<&[u8]>) -> Result<()> {
        self.values.push(value.map(<[u8]>::to_vec));
        Ok(())
    }

    fn finish(self) -> Self::Output {
        self.values
    }
}
