//! Counters an operator graphs: calls, failures, retries, connects. Plain relaxed atomics,
//! bumped in one line where each event happens and read without blocking any caller.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of an executor's counters ([`crate::Executor::stats`]). The counters are
/// monotonic since the executor was opened; `connections` and `idle_connections` are the pool's
/// state now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open connections now: pooled, and shared ones of auto-pipelining.
    pub connections: u32,
    /// Of which idle.
    pub idle_connections: u32,
    /// Operations started (every call of an operation, including ones rejected for a bad
    /// argument; compute linked pod and the grouped batch read count once).
    pub calls: u64,
    /// Operations that returned an error.
    pub failed_calls: u64,
    /// Operations retried once on a new connection.
    pub retries: u64,
    /// Operations that failed because no pooled connection became free in time.
    pub pool_timeouts: u64,
    /// Connections opened (the pool's, and the first one `open` checks the server with).
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Scripts sent again because the server answered NOSCRIPT.
    pub script_reloads: u64,
    /// Operations routed through the shared connections of auto-pipelining (enough calls were
    /// in flight at once); the others held a pooled connection.
    pub pipelined_calls: u64,
    /// Client cache: reads (keys, for the batch reads) answered from the cache. All five
    /// cache figures stay 0 with the cache off.
    pub cache_hits: u64,
    /// Client cache: reads (keys) the cache could not answer, read from Redis: not cached,
    /// expired, or the cache bypassed (see docs/cache.md).
    pub cache_misses: u64,
    /// Client cache: keys named by the invalidations Redis sent (every key under `sf:` that
    /// any client changed, cached here or not: what tracking costs the server).
    pub cache_invalidations: u64,
    /// Client cache: times the whole cache was emptied (an invalidation connection lost, a
    /// topology change, a data connection dropped, FLUSHALL).
    pub cache_flushes: u64,
    /// Client cache: entries evicted to stay within max entries.
    pub cache_evictions: u64,
}

/// The live counters of one executor, shared with its pool's connection manager.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    pub(crate) failed_calls: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) pool_timeouts: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) script_reloads: AtomicU64,
    pub(crate) pipelined_calls: AtomicU64,
}

/// Adds one to a counter. Relaxed: each counter is independent and only ever read as a figure.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The counters now, with the pool's figures.
    pub(crate) fn snapshot(&self, connections: u32, idle_connections: u32) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            connections,
            idle_connections,
            calls: read(&self.calls),
            failed_calls: read(&self.failed_calls),
            retries: read(&self.retries),
            pool_timeouts: read(&self.pool_timeouts),
            connects: read(&self.connects),
            connect_failures: read(&self.connect_failures),
            script_reloads: read(&self.script_reloads),
            pipelined_calls: read(&self.pipelined_calls),
            ..Stats::default()
        }
    }
}

/// A pool's connection manager that counts the connections it opens and fails to open.
pub(crate) struct Counted<M> {
    pub(crate) inner: M,
    pub(crate) counters: std::sync::Arc<Counters>,
}

impl<M: r2d2::ManageConnection> r2d2::ManageConnection for Counted<M> {
    type Connection = M::Connection;
    type Error = M::Error;

    fn connect(&self) -> Result<M::Connection, M::Error> {
        let outcome = self.inner.connect();
        bump(match outcome {
            Ok(_) => &self.counters.connects,
            Err(_) => &self.counters.connect_failures,
        });
        outcome
    }

    fn is_valid(&self, conn: &mut M::Connection) -> Result<(), M::Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut M::Connection) -> bool {
        self.inner.has_broken(conn)
    }
}

thread_local! {
    /// Set while this thread runs a counted operation, so that an operation built on others
    /// (compute linked pod, the grouped batch read) counts once.
    static IN_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Counters {
    /// Runs one operation and counts it: started, and failed (with pool timeouts apart).
    pub(crate) fn call<T>(&self, op: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
        if IN_CALL.with(|flag| flag.replace(true)) {
            return op();
        }
        /// Clears the flag however `op` ends (a panic too).
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_CALL.with(|flag| flag.set(false));
            }
        }
        let _reset = Reset;
        bump(&self.calls);
        let outcome = op();
        if let Err(err) = &outcome {
            bump(&self.failed_calls);
            if err.kind() == crate::ErrorKind::PoolTimeout {
                bump(&self.pool_timeouts);
            }
        }
        outcome
    }
}
