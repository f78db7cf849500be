//! The configuration builder.

use std::ffi::c_char;
use std::time::Duration;

use super::status::{sf_error, sf_status};
use super::{call, quiet, text, Out};
use crate::config::Config;
use crate::error::{Error, Result};

/// Where Redis is and how the pool behaves: an opaque builder. Create it with `sf_config_new`,
/// adjust it with the `sf_config_set_*` functions, open executors with it, free it with
/// `sf_config_free`. A config may be used by several threads at once for `sf_executor_open`, but
/// must not be changed while another thread uses it.
pub struct sf_config {
    pub(crate) inner: Config,
}

/// Creates a configuration for one Redis server, with the default pool and timeouts (pool of
/// at most 16 connections, 0 kept idle, connect / command / pool-wait timeouts of 1000 ms).
///
/// `url`: `"redis://[user:password@]host:port[/db]"`, `"rediss://..."` for TLS (a build without
/// TLS support rejects it with `SF_CONFIG`), or `"unix:///path/to/socket"`. Nothing is connected
/// yet.
///
/// On success `*out` receives a new config that the caller owns and frees with
/// `sf_config_free`. On failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when `url`
/// or `out` is NULL or `url` is not UTF-8, and with `SF_CONFIG` when the URL is malformed (the
/// message never shows the password). Thread-safe.
///
/// # Safety
/// `url` is NULL or a NUL-terminated string; `out` is NULL or writable; `err` is NULL or points
/// to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_config_new(
    url: *const c_char,
    out: *mut *mut sf_config,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let url = unsafe { text(url, "url") }?;
        let config = Config::new(url)?;
        out.set(Box::into_raw(Box::new(sf_config { inner: config })));
        Ok(())
    })
}

/// Runs a setter on a non-NULL config.
///
/// # Safety
/// `cfg` is NULL or a live config not used by another thread during the call.
unsafe fn set(
    cfg: *mut sf_config,
    err: *mut sf_error,
    setter: impl FnOnce(&mut Config) -> Result<()>,
) -> sf_status {
    call(err, || {
        // SAFETY: per the caller's contract.
        let cfg = unsafe { cfg.as_mut() }.ok_or_else(|| Error::invalid("cfg is NULL"))?;
        setter(&mut cfg.inner)
    })
}

/// Sets the largest number of pooled connections (default 16). Fails with
/// `SF_INVALID_ARGUMENT` when `max_size` is 0 or below the pool's min idle, or when `cfg` is
/// NULL; the config is then unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_pool_max_size(
    cfg: *mut sf_config,
    max_size: u32,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe { set(cfg, err, |c| c.set_pool_max_size(max_size).map(drop)) }
}

/// Sets how many idle connections the pool keeps open in advance (default 0). Fails with
/// `SF_INVALID_ARGUMENT` when `min_idle` exceeds the pool's max size, or when `cfg` is NULL; the
/// config is then unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_pool_min_idle(
    cfg: *mut sf_config,
    min_idle: u32,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe { set(cfg, err, |c| c.set_pool_min_idle(min_idle).map(drop)) }
}

/// Sets the longest wait, in milliseconds, for a connection to be established (default 1000).
/// Fails with `SF_INVALID_ARGUMENT` when `ms` is 0 or `cfg` is NULL; the config is then
/// unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_connect_timeout_ms(
    cfg: *mut sf_config,
    ms: u32,
    err: *mut sf_error,
) -> sf_status {
    let timeout = Duration::from_millis(ms.into());
    // SAFETY: per this function's contract.
    unsafe { set(cfg, err, |c| c.set_connect_timeout(timeout).map(drop)) }
}

/// Sets the longest wait, in milliseconds, for one command's reply (default 1000). A call that
/// exceeds it fails with `SF_TIMEOUT`. Fails with `SF_INVALID_ARGUMENT` when `ms` is 0 or `cfg`
/// is NULL; the config is then unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_command_timeout_ms(
    cfg: *mut sf_config,
    ms: u32,
    err: *mut sf_error,
) -> sf_status {
    let timeout = Duration::from_millis(ms.into());
    // SAFETY: per this function's contract.
    unsafe { set(cfg, err, |c| c.set_command_timeout(timeout).map(drop)) }
}

/// Sets the longest wait, in milliseconds, for a pooled connection to become free (default
/// 1000). A call that exceeds it fails with `SF_POOL_TIMEOUT`. Fails with `SF_INVALID_ARGUMENT`
/// when `ms` is 0 or `cfg` is NULL; the config is then unchanged. Not thread-safe for the same
/// `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_pool_wait_timeout_ms(
    cfg: *mut sf_config,
    ms: u32,
    err: *mut sf_error,
) -> sf_status {
    let timeout = Duration::from_millis(ms.into());
    // SAFETY: per this function's contract.
    unsafe { set(cfg, err, |c| c.set_pool_wait_timeout(timeout).map(drop)) }
}

/// Frees a config. NULL is accepted and does nothing. Executors opened with it stay valid.
/// Must not be called while another thread uses `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sf_config_free(cfg: *mut sf_config) {
    if !cfg.is_null() {
        // SAFETY: created by Box::into_raw in sf_config_new, freed once per the contract.
        quiet((), || drop(unsafe { Box::from_raw(cfg) }));
    }
}
