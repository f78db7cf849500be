//! The executor: every operation of data-model.md over a pool of connections.

use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;

use crate::cache::{ClientCache, Listeners};
use crate::cached;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{
    self, check_namespace, check_pod, check_service, check_state, check_uid, KeyPieces,
};
use crate::packed::Packed;
use crate::pool_threads::{self, Threads};
use crate::reply;
use crate::scripts::{self, Script};
use crate::stats::{bump, Counted, Counters, Stats};
use crate::transport::{
    Args, Frame, Generation, LastConnectError, Manager, Pipeline, QuietErrorHandler, Reply, Route,
    Via,
};
use crate::types::{least_loaded, Candidate, Grace, Persistence, Pod, TrySet};

/// Whether sending an operation twice could change its outcome. Only reads are retried after a
/// connection error, because the first attempt may have reached the server: even an idempotent
/// write (`HSET` of a pod state) sent again could land after another client's newer write and
/// undo it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// A read: sending it again changes nothing.
    Safe,
    /// A write: never sent again once it may have reached the server.
    Unsafe,
}

/// Counts one call in flight until dropped.
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Keeps the routing state of stateful services in Redis. Thread-safe: share one per process
/// (behind an `Arc` or a `static`) and call it from any number of threads.
pub struct Executor {
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
    pub(crate) counters: Arc<Counters>,
    config: Config,
    /// The client-side cache, when configured (see `cached.rs` for where it hooks in).
    pub(crate) cache: Option<Arc<ClientCache>>,
    /// Its invalidation listeners; stopped first when the executor closes.
    listeners: Option<Listeners>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Executor {
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

/// The arguments of a link script: the uid's two keys plus the service, as key pieces (no
/// allocation on the hot path).
pub(crate) struct LinkKeys<'a> {
    pub(crate) uid_hash: KeyPieces<'a, 5>,
    pub(crate) link: KeyPieces<'a, 6>,
    pub(crate) service: &'a str,
}

impl<'a> LinkKeys<'a> {
    /// Validates the identifiers; nothing is sent yet.
    pub(crate) fn new(ns: &'a str, uid: &'a str, service: &'a str) -> Result<Self> {
        check_namespace(ns)?;
        check_uid(uid)?;
        check_service(service)?;
        Ok(LinkKeys {
            uid_hash: keys::uid_links_key_pieces(ns, uid),
            link: keys::link_key_pieces(ns, uid, service),
            service,
        })
    }
}

impl Executor {
    /// Connects, checks that the server answers, and loads the Lua scripts.
    pub fn open(config: &Config) -> Result<Executor> {
        let manager = Manager::new(config)?;
        let last_connect_error = Arc::clone(&manager.last_connect_error);
        let generation = Arc::clone(&manager.generation);
        let counters = Arc::new(Counters::default());
        let pipeline = config
            .pipelining
            .then(|| manager.pipeline(Arc::clone(&counters)));
        let no_pool = || Err(Error::new(ErrorKind::Internal, "no pool while opening"));
        let mut first = Via::own(manager.open()?, &no_pool);
        bump(&counters.connects);
        ping(&mut first)?;
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
        Ok(Executor {
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

    /// The executor's statistics: counters since it was opened and the pool's connections now.
    /// Sends nothing and blocks no call.
    pub fn stats(&self) -> Stats {
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

    /// The configuration this executor was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn checkout(&self) -> Result<r2d2::PooledConnection<Counted<Manager>>> {
        self.checkout_within(self.config.pool_wait_timeout)
    }

    /// Waits at most `wait` for a pooled connection.
    pub(crate) fn checkout_within(
        &self,
        wait: Duration,
    ) -> Result<r2d2::PooledConnection<Counted<Manager>>> {
        let started = Instant::now();
        self.pool.get_timeout(wait).map_err(|_| {
            // While the pool is below its size, a timeout means connecting failed, not that
            // every connection was busy: report the connect error itself.
            let below_max = self.pool.state().connections < self.config.pool_max_size;
            match self.last_connect_error.since(started) {
                Some(err) => err,
                None if below_max => Error::new(
                    ErrorKind::Connection,
                    format!(
                        "no connection to {} could be opened within {} ms",
                        self.config.display,
                        self.config.pool_wait_timeout.as_millis()
                    ),
                ),
                None => Error::new(
                    ErrorKind::PoolTimeout,
                    format!(
                        "all {} pooled connections stayed busy for {} ms",
                        self.config.pool_max_size,
                        self.config.pool_wait_timeout.as_millis()
                    ),
                ),
            }
        })
    }

    /// Runs `call` on a pooled connection. Retries once, on a fresh connection, only when the
    /// first attempt certainly did not run (the server refused it up front) or when the operation
    /// is a read and the connection failed (not timed out: that would double the bound).
    /// After a connection failure every pooled connection opened before it is dropped on
    /// checkout (transport/pool.rs), so the retry runs on a connection opened after the failure,
    /// never on a sibling that the same restart or `CLIENT KILL` closed.
    pub(crate) fn run<T>(
        &self,
        op: &'static str,
        repeat: Repeat,
        mut call: impl FnMut(&mut Via) -> Result<T>,
    ) -> Result<T> {
        log::debug!("{op}");
        // The retry must not stretch a call past pool wait + connect + command timeout.
        let deadline = Instant::now()
            + self.config.pool_wait_timeout
            + self.config.connect_timeout
            + self.config.command_timeout;
        let checkout = || self.checkout();
        let timeout = self.config.command_timeout;
        let (pipeline, _in_flight) = self.route();
        let mut via = Via::new(pipeline, &checkout, timeout).map_err(|err| err.context(op))?;
        let outcome = call(&mut via);
        match self.watch(via.generation(), outcome) {
            Err(err)
                if err.rejected_before_running
                    || (repeat == Repeat::Safe && err.kind() == ErrorKind::Connection) =>
            {
                via.discard();
                drop(via);
                // Time for a new connection, leaving a whole command timeout for the command.
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(self.config.command_timeout);
                if left.is_zero() {
                    return Err(err.context(op));
                }
                log::warn!("{op}: {err}; retrying once on a new connection");
                bump(&self.counters.retries);
                let wait = left.min(self.config.pool_wait_timeout);
                let checkout = || self.checkout_within(wait);
                let mut via =
                    Via::new(pipeline, &checkout, timeout).map_err(|err| err.context(op))?;
                let outcome = call(&mut via);
                self.watch(via.generation(), outcome)
            }
            outcome => outcome,
        }
        .map_err(|err| err.context(op))
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

    /// When an outcome shows that the server side changed (the server died or dropped us, or a
    /// failover demoted it: READONLY, MASTERDOWN), connections opened before the one that
    /// carried it (of `generation`) may point at the wrong node too: retire them all, so
    /// checkout opens new ones (no I/O here).
    pub(crate) fn watch<T>(&self, generation: u64, outcome: Result<T>) -> Result<T> {
        if let Err(err) = &outcome {
            if err.topology_changed || err.kind() == ErrorKind::Connection {
                // Cache hook: the server side changed (restart, failover, killed connections):
                // invalidations may have been lost with it.
                self.flush_cache(err);
            }
            if err.topology_changed {
                log::warn!(
                    "{}: topology changed ({err}); replacing the connections",
                    self.config.display
                );
                self.generation.retire(generation);
            } else if err.kind() == ErrorKind::Connection {
                log::warn!(
                    "{}: connection dropped ({err}); replacing the connections",
                    self.config.display
                );
                self.generation.retire(generation);
            }
        }
        outcome
    }

    /// Reads `count` string keys (`key(i)`) in one round trip per node and decodes each value
    /// (`None` when absent) in input order; `decode` names the key only when it rejects a value.
    pub(crate) fn read_many<'k, const N: usize, T>(
        &self,
        op: &'static str,
        count: usize,
        key: impl Fn(usize) -> KeyPieces<'k, N>,
        decode: impl Fn(Option<&[u8]>, &dyn Fn() -> String) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut values = Vec::with_capacity(count);
        self.run(op, Repeat::Safe, |conn| {
            values.clear();
            conn.get_each(
                count,
                |i, put| put(key(i).pieces()),
                |i, value| {
                    values.push(decode(value, &|| key(i).to_string())?);
                    Ok(())
                },
            )
        })?;
        Ok(values)
    }

    /// Checks that the server answers.
    pub fn ping(&self) -> Result<()> {
        self.counters.call(|| self.run("ping", Repeat::Safe, ping))
    }

    // ---- service and workload states ----

    /// Publishes the state of one pod of a service (`HSET`).
    pub fn set_service_state(&self, ns: &str, service: &str, pod: Pod, state: &str) -> Result<()> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            check_pod(pod)?;
            check_state("pod state", state)?;
            let key = keys::service_state_key_pieces(ns, service);
            let outcome = self.run("set service state", Repeat::Unsafe, |conn| {
                conn.call(
                    Route::Key(key.pieces()),
                    |a| hset_command(a, key.pieces(), pod, state),
                    expect_int,
                )
                .map(drop)
            });
            self.written(&[key.pieces()]);
            outcome
        })
    }

    /// The states of all pods of a service, by pod ordinal; empty when it has none. Fields that
    /// are not pod ordinals are skipped, as the data model says.
    pub fn get_service_state(&self, ns: &str, service: &str) -> Result<BTreeMap<Pod, String>> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            let key = keys::service_state_key_pieces(ns, service);
            if let Some(cache) = self.cache() {
                let states = self.cached_pod_states(cache, "get service state", &key)?;
                return Ok(cached::states_map(&states));
            }
            let mut states = BTreeMap::new();
            self.run("get service state", Repeat::Safe, |conn| {
                states.clear();
                hgetall_each(conn, key.pieces(), |field, value| {
                    if let Some((pod, state)) = pod_state_entry(&key, field, value)? {
                        states.insert(pod, reply::owned_text(state));
                    }
                    Ok(())
                })
            })?;
            Ok(states)
        })
    }

    /// As [`get_service_state`](Self::get_service_state), into `out`: one entry per pod, sorted
    /// by pod ordinal, keyed by the pod, with its state. No allocation per entry. A state holding
    /// a NUL byte is refused with `UnexpectedReply` (see [`Packed`]). On error `out` is empty.
    pub fn get_service_state_packed(
        &self,
        ns: &str,
        service: &str,
        out: &mut Packed,
    ) -> Result<()> {
        out.clear();
        let outcome = self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            let key = keys::service_state_key_pieces(ns, service);
            if let Some(cache) = self.cache() {
                let states = self.cached_pod_states(cache, "get service state", &key)?;
                out.reserve(states.len(), states.iter().map(|(_, s)| s.len()).sum());
                for (pod, state) in states.iter() {
                    out.push(*pod, Some(state), || format!("state of pod {pod}"))?;
                }
                return Ok(());
            }
            self.run("get service state", Repeat::Safe, |conn| {
                out.clear();
                hgetall(conn, key.pieces(), |pairs| {
                    let mut states = Vec::with_capacity(pairs.len());
                    let mut text_bytes = 0;
                    for pair in pairs {
                        let (field, value) = pair?;
                        if let Some((pod, state)) = pod_state_entry(&key, field, value)? {
                            text_bytes += state.len();
                            states.push((pod, state));
                        }
                    }
                    // Fields are unique and pod ordinals have one spelling: no ties.
                    states.sort_unstable_by_key(|&(pod, _)| pod);
                    out.reserve(states.len(), text_bytes);
                    for (pod, state) in states {
                        out.push(pod, Some(state), || format!("state of pod {pod}"))?;
                    }
                    Ok(())
                })
            })
        });
        if outcome.is_err() {
            out.clear();
        }
        outcome
    }

    /// Publishes the state of a whole service (`SET` without expiry).
    pub fn set_workload_state(&self, ns: &str, service: &str, state: &str) -> Result<()> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            check_state("workload state", state)?;
            let key = keys::workload_key_pieces(ns, service);
            let outcome = self.run("set workload state", Repeat::Unsafe, |conn| {
                conn.call(
                    Route::Key(key.pieces()),
                    |a| set_command(a, key.pieces(), state),
                    expect_ok,
                )
            });
            self.written(&[key.pieces()]);
            outcome
        })
    }

    /// The state of a whole service, if one was published.
    pub fn get_workload_state(&self, ns: &str, service: &str) -> Result<Option<String>> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            let key = keys::workload_key_pieces(ns, service);
            if let Some(cache) = self.cache() {
                let text = self.cached_text(cache, "get workload state", &key)?;
                return Ok(text.map(|text| reply::owned_text(&text)));
            }
            self.run("get workload state", Repeat::Safe, |conn| {
                get(conn, key.pieces(), |value| {
                    reply::stored_text(value, &|| key.to_string())
                })
            })
        })
    }

    /// The workload states of many services, in input order (`None` where absent), in one round
    /// trip per Redis node.
    pub fn get_workload_states<S: AsRef<str>>(
        &self,
        ns: &str,
        services: &[S],
    ) -> Result<Vec<Option<String>>> {
        self.counters.call(|| {
            check_namespace(ns)?;
            for service in services {
                check_service(service.as_ref())?;
            }
            if services.is_empty() {
                return Ok(Vec::new());
            }
            if let Some(cache) = self.cache() {
                let states: Vec<Option<Arc<str>>> =
                    self.cached_strings(cache, "get workload states", services.len(), |i| {
                        keys::workload_key_pieces(ns, services[i].as_ref())
                    })?;
                return Ok(states
                    .into_iter()
                    .map(|state| state.map(|state| reply::owned_text(&state)))
                    .collect());
            }
            self.read_many(
                "get workload states",
                services.len(),
                |i| keys::workload_key_pieces(ns, services[i].as_ref()),
                reply::stored_text,
            )
        })
    }

    /// As [`get_workload_states`](Self::get_workload_states), into `out`: one entry per service,
    /// in input order, keyed by its index in `services`, with its state or `None` when absent.
    /// No allocation per entry. A state holding a NUL byte is refused with `UnexpectedReply`
    /// (see [`Packed`]). On error `out` is empty.
    pub fn get_workload_states_packed<S: AsRef<str>>(
        &self,
        ns: &str,
        services: &[S],
        out: &mut Packed,
    ) -> Result<()> {
        out.clear();
        let outcome = self.counters.call(|| {
            check_namespace(ns)?;
            for service in services {
                check_service(service.as_ref())?;
            }
            if i32::try_from(services.len()).is_err() {
                return Err(Error::invalid(format!(
                    "{} services: at most 2147483647 per call",
                    services.len()
                )));
            }
            if services.is_empty() {
                return Ok(());
            }
            let key = |i: usize| keys::workload_key_pieces(ns, services[i].as_ref());
            if let Some(cache) = self.cache() {
                let states: Vec<Option<Arc<str>>> =
                    self.cached_strings(cache, "get workload states", services.len(), key)?;
                for (i, state) in states.iter().enumerate() {
                    // i < services.len(), checked above to fit.
                    out.push(i as i32, state.as_deref(), || {
                        format!("workload state of {}", services[i].as_ref())
                    })?;
                }
                return Ok(());
            }
            self.run("get workload states", Repeat::Safe, |conn| {
                out.clear();
                conn.get_each(
                    services.len(),
                    |i, put| put(key(i).pieces()),
                    |i, value| {
                        let state = reply::stored_str(value, &|| key(i).to_string())?;
                        // i < services.len(), checked above to fit.
                        out.push(i as i32, state, || {
                            format!("workload state of {}", services[i].as_ref())
                        })
                    },
                )
            })
        });
        if outcome.is_err() {
            out.clear();
        }
        outcome
    }

    // ---- links ----

    fn eval(
        &self,
        conn: &mut Via,
        script: &Script,
        keys: &LinkKeys,
        args: &[i32],
    ) -> Result<Value> {
        self.eval_script(conn, script, keys.uid_hash.pieces(), |a, head, body| {
            script_command(a, head, body, keys, args)
        })
    }

    /// Runs a script by its SHA1 (`EVALSHA`, `build(args, b"EVALSHA", sha1)`), on the node of
    /// `route`, sending it whole (`EVAL`, `build(args, b"EVAL", source)`) when the server lost
    /// its script cache.
    pub(crate) fn eval_script(
        &self,
        conn: &mut Via,
        script: &Script,
        route: &[&[u8]],
        build: impl Fn(&mut dyn Args, &[u8], &str),
    ) -> Result<Value> {
        let route = Route::Key(route);
        let value = |mut reply: Reply<'_>| reply.value();
        match conn.call(route, |a| build(a, b"EVALSHA", script.sha1()), value) {
            Err(err) if err.missing_script => {
                // The server lost its script cache (SCRIPT FLUSH, restart, failover): EVAL runs
                // the script and caches it again, in the same single round trip.
                log::warn!("script {} missing on the server; reloading it", script.name);
                bump(&self.counters.script_reloads);
                conn.call(route, |a| build(a, b"EVAL", script.source), value)
            }
            outcome => outcome,
        }
    }

    fn set_link(
        &self,
        op: &'static str,
        script: &Script,
        keys: &LinkKeys,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<Value> {
        check_pod(pod)?;
        let seconds = persistence.checked_seconds()?;
        let outcome = self.run(op, Repeat::Unsafe, |conn| {
            self.eval(conn, script, keys, &[pod, seconds])
        });
        self.link_written(keys);
        outcome
    }

    /// Links the uid to `pod` for `service`, whatever was there, and returns the previous pod.
    pub fn set_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<Option<Pod>> {
        self.counters.call(|| {
            let script = &scripts::SET_LINKED_POD;
            let previous = self.set_link(
                "set linked pod",
                script,
                &LinkKeys::new(ns, uid, service)?,
                pod,
                persistence,
            )?;
            reply::script_pod(&previous, script.name)
        })
    }

    /// Links the uid to `pod` unless a persistent link to a different pod exists; then nothing
    /// changes and that pod is returned with `linked == false`.
    pub fn try_set_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<TrySet> {
        self.counters.call(|| {
            let script = &scripts::TRY_SET_LINKED_POD;
            let outcome = self.set_link(
                "try set linked pod",
                script,
                &LinkKeys::new(ns, uid, service)?,
                pod,
                persistence,
            )?;
            try_set_outcome(outcome)
        })
    }

    /// Links the uid to `pod` only when it has no link (persistent or temporary) for `service`,
    /// and returns the pod linked now. Of many concurrent callers exactly one writes and all get
    /// the same pod.
    pub fn set_linked_pod_if_absent(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<Pod> {
        self.counters.call(|| {
            let script = &scripts::SET_LINKED_POD_IF_ABSENT;
            let current = self.set_link(
                "set linked pod if absent",
                script,
                &LinkKeys::new(ns, uid, service)?,
                pod,
                persistence,
            )?;
            reply::script_pod(&current, script.name)?.ok_or_else(|| {
                Error::unexpected("set linked pod if absent: script returned no pod")
            })
        })
    }

    /// The pod the uid is linked to for `service`, persistent or temporary.
    pub fn get_linked_pod(&self, ns: &str, uid: &str, service: &str) -> Result<Option<Pod>> {
        self.counters.call(|| {
            let keys = LinkKeys::new(ns, uid, service)?;
            if let Some(cache) = self.cache() {
                return Ok(self.cached_link(cache, "get linked pod", &keys)?.0);
            }
            self.run("get linked pod", Repeat::Safe, |conn| {
                get(conn, keys.link.pieces(), |value| {
                    reply::stored_pod_bytes(value, &|| keys.link.to_string())
                })
            })
        })
    }

    /// The pod the uid is linked to for `service`, only when the link is persistent.
    pub fn get_linked_pod_if_persist(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
    ) -> Result<Option<Pod>> {
        self.counters.call(|| {
            let keys = LinkKeys::new(ns, uid, service)?;
            if let Some(cache) = self.cache() {
                let (pod, temporary) =
                    self.cached_link(cache, "get linked pod if persist", &keys)?;
                return Ok(pod.filter(|_| !temporary));
            }
            let script = &scripts::GET_LINKED_POD_IF_PERSIST;
            let value = self.run("get linked pod if persist", Repeat::Safe, |conn| {
                self.eval(conn, script, &keys, &[])
            })?;
            reply::script_pod(&value, script.name)
        })
    }

    /// The linked pod of each uid for `service`, in input order, in one round trip per node.
    pub fn batch_get_linked_pods<S: AsRef<str>>(
        &self,
        ns: &str,
        service: &str,
        uids: &[S],
    ) -> Result<Vec<Option<Pod>>> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_service(service)?;
            for uid in uids {
                check_uid(uid.as_ref())?;
            }
            if uids.is_empty() {
                return Ok(Vec::new());
            }
            if let Some(cache) = self.cache() {
                return self.cached_strings(cache, "batch get linked pods", uids.len(), |i| {
                    keys::link_key_pieces(ns, uids[i].as_ref(), service)
                });
            }
            self.read_many(
                "batch get linked pods",
                uids.len(),
                |i| keys::link_key_pieces(ns, uids[i].as_ref(), service),
                reply::stored_pod_bytes,
            )
        })
    }

    /// Like [`batch_get_linked_pods`](Self::batch_get_linked_pods), grouped by pod: the uids
    /// linked to each pod, in input order; unlinked uids are left out.
    pub fn batch_get_linked_pods_by_pod<S: AsRef<str>>(
        &self,
        ns: &str,
        service: &str,
        uids: &[S],
    ) -> Result<BTreeMap<Pod, Vec<String>>> {
        self.counters.call(|| {
            let pods = self.batch_get_linked_pods(ns, service, uids)?;
            let mut grouped: BTreeMap<Pod, Vec<String>> = BTreeMap::new();
            for (uid, pod) in uids.iter().zip(pods) {
                if let Some(pod) = pod {
                    grouped
                        .entry(pod)
                        .or_default()
                        .push(uid.as_ref().to_string());
                }
            }
            Ok(grouped)
        })
    }

    fn remove(
        &self,
        op: &'static str,
        ns: &str,
        uid: &str,
        service: &str,
        grace: Grace,
        only_pod: Option<Pod>,
    ) -> Result<bool> {
        let keys = LinkKeys::new(ns, uid, service)?;
        let keep = grace.checked_seconds()?;
        if let Some(pod) = only_pod {
            check_pod(pod)?;
        }
        let script = &scripts::REMOVE_LINKED_POD;
        let args: &[i32] = match only_pod {
            Some(pod) => &[keep, pod],
            None => &[keep],
        };
        let removed = self.run(op, Repeat::Unsafe, |conn| {
            self.eval(conn, script, &keys, args)
        });
        self.link_written(&keys);
        reply::script_flag(&removed?, script.name)
    }

    /// Removes the uid's link to `service` (deleting it, or keeping it as a temporary link for
    /// the grace period) and says whether a link existed.
    pub fn remove_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        grace: Grace,
    ) -> Result<bool> {
        self.counters
            .call(|| self.remove("remove linked pod", ns, uid, service, grace, None))
    }

    /// As [`remove_linked_pod`](Self::remove_linked_pod), but only when the link points to `pod`;
    /// otherwise nothing changes and the result is `false`.
    pub fn remove_linked_pod_with_id(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        grace: Grace,
        pod: Pod,
    ) -> Result<bool> {
        self.counters.call(|| {
            self.remove(
                "remove linked pod with id",
                ns,
                uid,
                service,
                grace,
                Some(pod),
            )
        })
    }

    /// The persistent links of the uid: service -> pod.
    pub fn get_link_services(&self, ns: &str, uid: &str) -> Result<BTreeMap<String, Pod>> {
        self.counters.call(|| {
            check_namespace(ns)?;
            check_uid(uid)?;
            let key = keys::uid_links_key_pieces(ns, uid);
            if let Some(cache) = self.cache() {
                let links = self.cached_service_links(cache, "get link services", &key)?;
                return Ok(cached::links_map(&links));
            }
            let mut links = BTreeMap::new();
            self.run("get link services", Repeat::Safe, |conn| {
                links.clear();
                hgetall_each(conn, key.pieces(), |service, pod| {
                    let (service, pod) = link_service_entry(&key, service, pod)?;
                    links.insert(reply::owned_text(service), pod);
                    Ok(())
                })
            })?;
            Ok(links)
        })
    }

    /// As [`get_link_services`](Self::get_link_services), into `out`: one entry per persistent
    /// link, sorted by service name (bytewise), keyed by the pod, with the service name. No
    /// allocation per entry. A service name holding a NUL byte is refused with `UnexpectedReply`
    /// (see [`Packed`]). On error `out` is empty.
    pub fn get_link_services_packed(&self, ns: &str, uid: &str, out: &mut Packed) -> Result<()> {
        out.clear();
        let outcome = self.counters.call(|| {
            check_namespace(ns)?;
            check_uid(uid)?;
            let key = keys::uid_links_key_pieces(ns, uid);
            if let Some(cache) = self.cache() {
                let links = self.cached_service_links(cache, "get link services", &key)?;
                out.reserve(links.len(), links.iter().map(|(s, _)| s.len()).sum());
                for (service, pod) in links.iter() {
                    out.push(*pod, Some(service), || "a service name".to_string())?;
                }
                return Ok(());
            }
            self.run("get link services", Repeat::Safe, |conn| {
                out.clear();
                hgetall(conn, key.pieces(), |pairs| {
                    let mut links = Vec::with_capacity(pairs.len());
                    let mut text_bytes = 0;
                    for pair in pairs {
                        let (service, pod) = pair?;
                        let (service, pod) = link_service_entry(&key, service, pod)?;
                        text_bytes += service.len();
                        links.push((service, pod));
                    }
                    // Hash fields are unique: no ties.
                    links.sort_unstable_by_key(|&(service, _)| service);
                    out.reserve(links.len(), text_bytes);
                    for (service, pod) in links {
                        out.push(pod, Some(service), || "a service name".to_string())?;
                    }
                    Ok(())
                })
            })
        });
        if outcome.is_err() {
            out.clear();
        }
        outcome
    }

    /// Returns the uid's existing link for `service`; without one, links it to the least-loaded
    /// candidate (ties: lowest pod) and returns that. No link and no candidates: `None`, nothing
    /// written. Atomic: the choice is made here from the caller's figures, and the write is the
    /// set-if-absent script, which touches only the uid's keys (safe on Redis Cluster).
    pub fn compute_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        persistence: Persistence,
        candidates: &[Candidate],
    ) -> Result<Option<Pod>> {
        self.counters.call(|| {
            LinkKeys::new(ns, uid, service)?;
            persistence.checked_seconds()?;
            for candidate in candidates {
                check_pod(candidate.pod)?;
            }
            match least_loaded(candidates) {
                None => self.get_linked_pod(ns, uid, service),
                Some(pod) => self
                    .set_linked_pod_if_absent(ns, uid, service, pod, persistence)
                    .map(Some),
            }
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
            |a| {
                a.bytes(b"SCRIPT");
                a.bytes(b"LOAD");
                a.bytes(script.source.as_bytes());
            },
            |mut reply| match reply.next()? {
                Frame::Bulk(Some(sha)) if sha == script.sha1().as_bytes() => Ok(()),
                other => Err(Error::unexpected(format!(
                    "SCRIPT LOAD of {} returned {other:?}, expected {}",
                    script.name,
                    script.sha1()
                ))),
            },
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

/// `EVALSHA sha 2 uid_hash link service args...` (or `EVAL source ...`).
pub(crate) fn script_command(
    a: &mut dyn Args,
    head: &[u8],
    body: &str,
    keys: &LinkKeys,
    args: &[i32],
) {
    a.bytes(head);
    a.bytes(body.as_bytes());
    a.int(2);
    a.pieces(keys.uid_hash.pieces());
    a.pieces(keys.link.pieces());
    a.bytes(keys.service.as_bytes());
    for arg in args {
        a.int((*arg).into());
    }
}

fn ping(conn: &mut Via) -> Result<()> {
    conn.call(
        Route::Any,
        |a| a.bytes(b"PING"),
        |mut reply| match reply.next()? {
            Frame::Status(b"PONG") => Ok(()),
            other => Err(Error::unexpected(format!("PING answered {other:?}"))),
        },
    )
}

/// Reader of a reply that must be `+OK` (SET).
pub(crate) fn expect_ok(mut reply: Reply<'_>) -> Result<()> {
    match reply.next()? {
        Frame::Status(b"OK") => Ok(()),
        other => Err(Error::unexpected(format!("expected OK, got {other:?}"))),
    }
}

/// Reader of a reply that must be an integer (HSET).
pub(crate) fn expect_int(mut reply: Reply<'_>) -> Result<i64> {
    match reply.next()? {
        Frame::Int(n) => Ok(n),
        other => Err(Error::unexpected(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

/// The outcome of the try-set script: (linked, current pod).
pub(crate) fn try_set_outcome(outcome: Value) -> Result<TrySet> {
    let script = &scripts::TRY_SET_LINKED_POD;
    let [linked, current] = <[Value; 2]>::try_from(reply::array(outcome, 2, script.name)?)
        .map_err(|_| Error::unexpected("try set linked pod: reply of the wrong length"))?;
    let pod = reply::script_pod(&current, script.name)?
        .ok_or_else(|| Error::unexpected("try set linked pod: script returned no pod"))?;
    Ok(TrySet {
        linked: reply::script_flag(&linked, script.name)?,
        pod,
    })
}

/// `HSET key pod state`: one pod's state in its service's hash.
pub(crate) fn hset_command(a: &mut dyn Args, key: &[&[u8]], pod: Pod, state: &str) {
    a.bytes(b"HSET");
    a.pieces(key);
    a.int(pod.into());
    a.bytes(state.as_bytes());
}

/// `SET key value`: a workload state.
pub(crate) fn set_command(a: &mut dyn Args, key: &[&[u8]], value: &str) {
    a.bytes(b"SET");
    a.pieces(key);
    a.bytes(value.as_bytes());
}

/// `GET key`.
pub(crate) fn get_command(a: &mut dyn Args, key: &[&[u8]]) {
    a.bytes(b"GET");
    a.pieces(key);
}

/// `HGETALL key`.
pub(crate) fn hgetall_command(a: &mut dyn Args, key: &[&[u8]]) {
    a.bytes(b"HGETALL");
    a.pieces(key);
}

/// `GET key`, the value (or `None` when absent) decoded in place by `decode`.
fn get<T>(conn: &mut Via, key: &[&[u8]], decode: impl Fn(Option<&[u8]>) -> Result<T>) -> Result<T> {
    conn.call(
        Route::Key(key),
        |a| get_command(a, key),
        |reply| read_get(reply, &decode),
    )
}

/// Reader of a `GET` reply: the value (or `None` when absent) decoded in place by `decode`.
pub(crate) fn read_get<T>(
    mut reply: Reply<'_>,
    decode: impl Fn(Option<&[u8]>) -> Result<T>,
) -> Result<T> {
    match reply.next()? {
        Frame::Bulk(value) => decode(value),
        other => Err(Error::unexpected(format!(
            "expected a string, got {other:?}"
        ))),
    }
}

/// `HGETALL key`, each (field, value) pair handed to `each` in place.
fn hgetall_each(
    conn: &mut Via,
    key: &[&[u8]],
    mut each: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    hgetall(conn, key, |pairs| {
        for pair in pairs {
            let (field, value) = pair?;
            each(field, value)?;
        }
        Ok(())
    })
}

/// `HGETALL key`, its (field, value) pairs handed to `read` as one iterator over the reply (so
/// `read` may keep them, borrowed, until it returns).
fn hgetall<T>(
    conn: &mut Via,
    key: &[&[u8]],
    mut read: impl FnMut(HashPairs<'_>) -> Result<T>,
) -> Result<T> {
    conn.call(
        Route::Key(key),
        |a| hgetall_command(a, key),
        |reply| read(HashPairs::of(reply)?),
    )
}

/// Reader of an `HGETALL` reply: each (field, value) pair handed to `each` in place.
pub(crate) fn read_hgetall(
    reply: Reply<'_>,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    for pair in HashPairs::of(reply)? {
        let (field, value) = pair?;
        each(field, value)?;
    }
    Ok(())
}

/// The (field, value) pairs of an HGETALL reply.
struct HashPairs<'r> {
    reply: Reply<'r>,
    left: usize,
}

impl<'r> HashPairs<'r> {
    /// The pairs of an `HGETALL` reply, once its header says it is a map.
    fn of(mut reply: Reply<'r>) -> Result<Self> {
        let left = match reply.next()? {
            Frame::Array(Some(n)) if n % 2 == 0 => n / 2,
            other => return Err(Error::unexpected(format!("HGETALL answered {other:?}"))),
        };
        Ok(HashPairs { reply, left })
    }

    /// The number of pairs not read yet.
    fn len(&self) -> usize {
        self.left
    }
}

impl<'r> Iterator for HashPairs<'r> {
    type Item = Result<(&'r [u8], &'r [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let pair = match (self.reply.next(), self.reply.next()) {
            (Ok(Frame::Bulk(Some(field))), Ok(Frame::Bulk(Some(value)))) => Ok((field, value)),
            (Err(err), _) | (_, Err(err)) => Err(err),
            other => Err(Error::unexpected(format!(
                "HGETALL entry: expected two strings, got {other:?}"
            ))),
        };
        if pair.is_err() {
            self.left = 0;
        }
        Some(pair)
    }
}

/// A (field, value) pair of a service's state hash as (pod, state); `None` for a field that is
/// not a pod ordinal (skipped, as the data model says). `key` names the hash in messages.
pub(crate) fn pod_state_entry<'r>(
    key: &dyn std::fmt::Display,
    field: &[u8],
    value: &'r [u8],
) -> Result<Option<(Pod, &'r str)>> {
    let Some(pod) = keys::parse_pod(field) else {
        return Ok(None);
    };
    let state = std::str::from_utf8(value)
        .map_err(|_| Error::unexpected(format!("hash {key}: state of pod {pod} is not UTF-8")))?;
    Ok(Some((pod, state)))
}

/// A (field, value) pair of a uid's hash of persistent links as (service, pod). `key` names the
/// hash in messages.
pub(crate) fn link_service_entry<'r>(
    key: &dyn std::fmt::Display,
    service: &'r [u8],
    pod: &[u8],
) -> Result<(&'r str, Pod)> {
    let service = std::str::from_utf8(service)
        .map_err(|_| Error::unexpected(format!("hash {key}: a service name is not UTF-8")))?;
    let pod = keys::parse_pod(pod).ok_or_else(|| {
        Error::unexpected(format!(
            "hash {key}: service {service} maps to {:?}, which is not a pod ordinal",
            String::from_utf8_lossy(&pod[..pod.len().min(64)])
        ))
    })?;
    Ok((service, pod))
}
