//! Opening, closing and checking an executor; its statistics.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::config::sf_config;
use super::status::{sf_error, sf_status};
use super::{call, quiet, Out};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::stats::Stats;

/// `magic` of an open executor ("SFEXOPEN").
const OPEN: u64 = 0x5346_4558_4f50_454e;
/// `magic` of a closed one ("SFEXCLSD").
const CLOSED: u64 = 0x5346_4558_434c_5344;

/// Keeps the routing state of stateful services in Redis: an opaque handle over a pool of
/// connections. Thread-safe: one executor may be used by any number of threads at once; share
/// one per process.
pub struct sf_executor {
    /// `OPEN` while usable. Checked first by every call, so that a closed or foreign pointer
    /// gives `SF_INVALID_ARGUMENT` instead of undefined behaviour, where it can be told apart.
    magic: AtomicU64,
    /// `Some` while open. Written only by open and close, which the contract forbids to race
    /// with other calls on the same handle.
    inner: UnsafeCell<Option<Executor>>,
}

// SAFETY: `inner` is only written by sf_executor_open/close, never concurrently with readers
// (the contract); Executor itself is Sync.
unsafe impl Sync for sf_executor {}

/// Closed handles, kept for the next open instead of being freed: a call on a closed handle
/// then reads `CLOSED` from live memory (reliably refused, also under valgrind) until a later
/// open reuses it. Bounded by the most executors ever open at once.
static CLOSED_HANDLES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The executor behind a handle; an invalid argument for NULL, a closed or a foreign handle.
///
/// # Safety
/// `ex` is NULL or points to readable memory of at least an `sf_executor`'s size (an executor
/// from `sf_executor_open`, open or closed, always does), not closed concurrently.
pub(crate) unsafe fn executor<'a>(ex: *const sf_executor) -> Result<&'a Executor> {
    if ex.is_null() {
        return Err(Error::invalid("ex is NULL"));
    }
    if !ex.is_aligned() {
        return Err(Error::invalid("ex is not an open executor"));
    }
    // SAFETY: non-NULL, aligned and readable per the caller.
    let handle = unsafe { &*ex };
    if handle.magic.load(Ordering::Acquire) != OPEN {
        return Err(Error::invalid("ex is not an open executor"));
    }
    // SAFETY: OPEN means `inner` was written before (Release in open) and is not being closed.
    unsafe { (*handle.inner.get()).as_ref() }
        .ok_or_else(|| Error::invalid("ex is not an open executor"))
}

/// A handle holding `inner`: a recycled closed one, or a new allocation.
fn new_handle(inner: Executor) -> *mut sf_executor {
    let recycled = CLOSED_HANDLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
    match recycled {
        Some(address) => {
            let handle = address as *mut sf_executor;
            // SAFETY: a handle from an earlier open, closed, owned by the list until now.
            unsafe {
                *(*handle).inner.get() = Some(inner);
                (*handle).magic.store(OPEN, Ordering::Release);
            }
            handle
        }
        None => Box::into_raw(Box::new(sf_executor {
            magic: AtomicU64::new(OPEN),
            inner: UnsafeCell::new(Some(inner)),
        })),
    }
}

/// Opens an executor: connects to the configured server, checks that it answers, and loads the
/// Lua scripts. Blocks for at most about the connect timeout plus the command timeout.
///
/// `cfg` stays owned by the caller (it may be freed right after this call). On success `*out`
/// receives a new executor that the caller owns and closes with `sf_executor_close`. On failure
/// `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` (`cfg` or `out` NULL),
/// `SF_CONNECTION` (server unreachable), `SF_AUTH` (credentials refused), `SF_TIMEOUT`,
/// `SF_REDIS` or `SF_CONFIG`. Thread-safe.
///
/// # Safety
/// `cfg` is NULL or a live config not changed during the call; `out` is NULL or writable; `err`
/// is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_executor_open(
    cfg: *const sf_config,
    out: *mut *mut sf_executor,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| Error::invalid("cfg is NULL"))?;
        let inner = Executor::open(&cfg.inner)?;
        out.set(new_handle(inner));
        Ok(())
    })
}

/// Closes an executor: closes its connections and returns once the pool's background threads
/// have exited (so unloading the library right after is safe). NULL is accepted and does
/// nothing, and so is an executor already closed (as long as no later `sf_executor_open` reused
/// its memory). Every other call on `ex` must have returned before, and none may start after:
/// this is the one function that is not thread-safe with respect to its executor. A call on a
/// closed executor fails with `SF_INVALID_ARGUMENT` ("not an open executor") where the library
/// can tell, but that is a safety net, not a contract.
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open`; no other call on it may run
/// concurrently or start afterwards.
#[no_mangle]
pub unsafe extern "C" fn sf_executor_close(ex: *mut sf_executor) {
    if ex.is_null() || !ex.is_aligned() {
        return;
    }
    quiet((), || {
        // SAFETY: per the contract, a handle from sf_executor_open (open or closed).
        let handle = unsafe { &*ex };
        if handle
            .magic
            .compare_exchange(OPEN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        // SAFETY: was OPEN and nothing else runs on it (the contract): exclusive access.
        let inner = unsafe { (*handle.inner.get()).take() };
        drop(inner);
        CLOSED_HANDLES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ex as usize);
    });
}

/// Checks that the server answers (PING). Fails with `SF_INVALID_ARGUMENT` (`ex` NULL or not
/// open), `SF_CONNECTION`, `SF_TIMEOUT`, `SF_POOL_TIMEOUT`, `SF_AUTH` or `SF_REDIS`.
/// Thread-safe.
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open`; `err` is NULL or points to a writable
/// `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_ping(ex: *const sf_executor, err: *mut sf_error) -> sf_status {
    // SAFETY: per this function's contract.
    call(err, || unsafe { executor(ex) }?.ping())
}

/// An executor's statistics: what an operator graphs. The counters count since the executor was
/// opened and never decrease; `connections` and `idle_connections` are the pool now.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sf_stats {
    /// Open connections now: pooled, and shared ones of auto-pipelining.
    pub connections: u32,
    /// Of which idle.
    pub idle_connections: u32,
    /// Operations started: every call of an operation function that reached this executor,
    /// including ones refused for a bad name or number (a call refused by the C layer itself,
    /// for a NULL pointer or invalid UTF-8, is not counted).
    pub calls: u64,
    /// Operations that returned a status other than `SF_OK`.
    pub failed_calls: u64,
    /// Operations retried once on a new connection (a read after a connection failure, or a
    /// command the server refused before running it).
    pub retries: u64,
    /// Operations that returned `SF_POOL_TIMEOUT`.
    pub pool_timeouts: u64,
    /// Connections opened.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Scripts sent again because the server answered NOSCRIPT (its script cache was flushed).
    pub script_reloads: u64,
}

impl From<Stats> for sf_stats {
    fn from(stats: Stats) -> Self {
        sf_stats {
            connections: stats.connections,
            idle_connections: stats.idle_connections,
            calls: stats.calls,
            failed_calls: stats.failed_calls,
            retries: stats.retries,
            pool_timeouts: stats.pool_timeouts,
            connects: stats.connects,
            connect_failures: stats.connect_failures,
            script_reloads: stats.script_reloads,
        }
    }
}

/// Reads an executor's statistics into `*out`, without blocking calls in flight or sending
/// anything to Redis: cheap enough to poll every second. On failure `*out` is zeroed. Fails
/// with `SF_INVALID_ARGUMENT` when `ex` or `out` is NULL or `ex` is not open. Thread-safe.
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open`; `out` is NULL or writable; `err` is
/// NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_executor_stats(
    ex: *const sf_executor,
    out: *mut sf_stats,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, sf_stats::default()) }.required("out")?;
        let ex = unsafe { executor(ex) }?;
        out.set(ex.stats().into());
        Ok(())
    })
}

/// An executor's statistics, extended (0.3): a struct that grows at its end, so that a program
/// built against an older header keeps working with a newer library, and the reverse. The
/// caller sets `size` to `sizeof(sf_stats_ext)` as it was compiled; the library fills the
/// fields that fit in that many bytes and sets `size` to the number of bytes it filled (fields
/// beyond it, from a newer header than the library's, are left as they were). `base` holds the
/// figures of `sf_stats`. The cache figures stay 0 when the client cache is off.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sf_stats_ext {
    /// In: `sizeof(sf_stats_ext)` as the caller was compiled. Out: the bytes filled.
    pub size: u32,
    /// Zero; keeps `base` 8-byte aligned.
    pub reserved: u32,
    /// The 0.2 statistics.
    pub base: sf_stats,
    /// Operations routed through the shared connections of auto-pipelining.
    pub pipelined_calls: u64,
    /// Client cache: reads (keys, for the batch reads) answered from the cache.
    pub cache_hits: u64,
    /// Client cache: reads (keys) read from Redis: not cached, expired, or the cache bypassed.
    pub cache_misses: u64,
    /// Client cache: keys named by the invalidations Redis sent (every key under `sf:` any
    /// client changed, cached here or not).
    pub cache_invalidations: u64,
    /// Client cache: times the whole cache was emptied (an invalidation connection lost, a
    /// topology change, a data connection dropped, FLUSHALL).
    pub cache_flushes: u64,
    /// Client cache: entries evicted to stay within `max_entries`.
    pub cache_evictions: u64,
}

/// The smallest `size` accepted: up to and including `pipelined_calls`.
const STATS_EXT_MIN_SIZE: u32 = 80;

/// Reads an executor's extended statistics into `*out` (see `sf_stats_ext`): set `out->size` to
/// `sizeof(sf_stats_ext)` first. Sends nothing to Redis and blocks no call. Fails with
/// `SF_INVALID_ARGUMENT` when `ex` or `out` is NULL, `ex` is not open, or `out->size` is below
/// 80 (the 0.3 fields up to `pipelined_calls`); `*out` is then left as it was. Thread-safe.
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open`; `out` is NULL or points to at least
/// `out->size` writable bytes; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_executor_stats_ext(
    ex: *const sf_executor,
    out: *mut sf_stats_ext,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        if out.is_null() {
            return Err(Error::invalid("out is NULL"));
        }
        // SAFETY: non-NULL; at least its first field is readable per the contract.
        let size = unsafe { std::ptr::addr_of!((*out).size).read_unaligned() };
        if size < STATS_EXT_MIN_SIZE {
            return Err(Error::invalid(format!(
                "out->size is {size}; set it to sizeof(sf_stats_ext) ({})",
                std::mem::size_of::<sf_stats_ext>()
            )));
        }
        // SAFETY: per this function's contract.
        let ex = unsafe { executor(ex) }?;
        let stats = ex.stats();
        let filled = (size as usize).min(std::mem::size_of::<sf_stats_ext>());
        let ext = sf_stats_ext {
            size: filled as u32,
            reserved: 0,
            base: stats.into(),
            pipelined_calls: stats.pipelined_calls,
            cache_hits: stats.cache_hits,
            cache_misses: stats.cache_misses,
            cache_invalidations: stats.cache_invalidations,
            cache_flushes: stats.cache_flushes,
            cache_evictions: stats.cache_evictions,
        };
        // SAFETY: `out` holds at least `size` >= `filled` writable bytes per the contract, and
        // `ext` is `filled` bytes or more; byte copies need no alignment.
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::addr_of!(ext).cast::<u8>(),
                out.cast::<u8>(),
                filled,
            );
        }
        Ok(())
    })
}

#[cfg(test)]
mod stats_ext_tests {
    use super::*;

    #[test]
    fn the_extended_layout_is_fixed() {
        assert_eq!(std::mem::size_of::<sf_stats_ext>(), 120);
        assert_eq!(std::mem::offset_of!(sf_stats_ext, base), 8);
        assert_eq!(
            std::mem::offset_of!(sf_stats_ext, pipelined_calls) + 8,
            STATS_EXT_MIN_SIZE as usize
        );
    }
}
