//! Opening, closing and checking an executor.

use super::config::sf_config;
use super::status::{sf_error, sf_status};
use super::{call, quiet, Out};
use crate::error::{Error, Result};
use crate::executor::Executor;

/// Keeps the routing state of stateful services in Redis: an opaque handle over a pool of
/// connections. Thread-safe: one executor may be used by any number of threads at once; share
/// one per process.
pub struct sf_executor {
    pub(crate) inner: Executor,
}

/// The executor behind a handle, or an invalid argument when it is NULL.
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open` not yet closed.
pub(crate) unsafe fn executor<'a>(ex: *const sf_executor) -> Result<&'a Executor> {
    // SAFETY: per the caller's contract.
    unsafe { ex.as_ref() }
        .map(|ex| &ex.inner)
        .ok_or_else(|| Error::invalid("ex is NULL"))
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
        out.set(Box::into_raw(Box::new(sf_executor { inner })));
        Ok(())
    })
}

/// Closes an executor and its connections. NULL is accepted and does nothing. Every other call
/// on `ex` must have returned before, and none may start after (this is the one function that
/// is not thread-safe with respect to its executor).
///
/// # Safety
/// `ex` is NULL or an executor from `sf_executor_open` not yet closed; it must not be used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn sf_executor_close(ex: *mut sf_executor) {
    if !ex.is_null() {
        // SAFETY: created by Box::into_raw in sf_executor_open, closed once per the contract.
        quiet((), || drop(unsafe { Box::from_raw(ex) }));
    }
}

/// Checks that the server answers (PING). Fails with `SF_INVALID_ARGUMENT` (`ex` NULL),
/// `SF_CONNECTION`, `SF_TIMEOUT`, `SF_POOL_TIMEOUT`, `SF_AUTH` or `SF_REDIS`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_ping(ex: *mut sf_executor, err: *mut sf_error) -> sf_status {
    // SAFETY: per this function's contract.
    call(err, || unsafe { executor(ex) }?.ping())
}
