//! The configuration builder.

use std::ffi::c_char;
use std::time::Duration;

use super::status::{sf_error, sf_status};
use super::{call, quiet, text, texts, Out};
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
/// `url`: `"redis://[user:password@]host:port[/db]"`, `"rediss://..."` for TLS (verified against the
/// system's trust store, or the CA of `sf_config_set_tls_ca_file`), or `"unix:///path/to/socket"`. Nothing is connected
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
        give(out, Config::new(url)?);
        Ok(())
    })
}

/// Stores a new config in `*out`, the shared tail of the `sf_config_new*` constructors.
fn give(out: Out<*mut sf_config>, config: Config) {
    out.set(Box::into_raw(Box::new(sf_config { inner: config })));
}

/// Creates a configuration for a Redis Cluster, with the default pool and timeouts.
///
/// `seed_urls`: an array of `count` (at least 1) URLs of any reachable subset of the cluster's
/// nodes, `"redis://[user:password@]host:port"` or `"rediss://..."` for TLS, all with the same
/// scheme and credentials. The other nodes are discovered from the cluster when connecting and
/// whenever slots move. Nothing is connected yet.
///
/// On success `*out` receives a new config that the caller owns and frees with
/// `sf_config_free`; on failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when
/// `out`, `seed_urls` (with `count > 0`) or one of its strings is NULL or not UTF-8, and with
/// `SF_CONFIG` when `count` is 0 or a URL is malformed, a unix socket, selects a database other
/// than 0, or differs from the others in scheme or credentials (messages never show passwords).
/// The strings are only read during the call. Thread-safe.
///
/// # Safety
/// `seed_urls` is NULL or points to `count` pointers, each NULL or a NUL-terminated string;
/// `out` is NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_config_new_cluster(
    seed_urls: *const *const c_char,
    count: usize,
    out: *mut *mut sf_config,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let seeds = unsafe { texts(seed_urls, count, "seed_urls") }?;
        give(out, Config::cluster(&seeds)?);
        Ok(())
    })
}

/// Creates a configuration for a primary monitored by Redis Sentinel, with the default pool
/// and timeouts. Each new connection asks the sentinels, in order, for the current primary, so
/// after a failover the executor reaches the new primary without being reopened.
///
/// `sentinel_urls`: an array of `count` (at least 1) sentinel URLs,
/// `"redis://[user:password@]host:port[/db]"` or `"rediss://..."`. Their credentials log in to
/// the sentinels and, unless `sf_config_set_sentinel_master_auth` says otherwise, to the
/// primary; the `/db` of the first URL selects the primary's database; `rediss://` means TLS to
/// both. `master_name`: the name the sentinels monitor the primary under.
///
/// On success `*out` receives a new config that the caller owns and frees with
/// `sf_config_free`; on failure `*out` is set to NULL. Fails with `SF_INVALID_ARGUMENT` when
/// `out`, `master_name`, `sentinel_urls` (with `count > 0`) or one of its strings is NULL or not
/// UTF-8, and with `SF_CONFIG` when `count` is 0, a URL is malformed, or `master_name` is empty
/// or holds spaces or control characters. The strings are only read during the call.
/// Thread-safe.
///
/// # Safety
/// `sentinel_urls` is NULL or points to `count` pointers, each NULL or a NUL-terminated string;
/// `master_name` is NULL or a NUL-terminated string; `out` is NULL or writable; `err` is NULL
/// or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_config_new_sentinel(
    sentinel_urls: *const *const c_char,
    count: usize,
    master_name: *const c_char,
    out: *mut *mut sf_config,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let sentinels = unsafe { texts(sentinel_urls, count, "sentinel_urls") }?;
        let master_name = unsafe { text(master_name, "master_name") }?;
        give(out, Config::sentinel(&sentinels, master_name)?);
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
/// `SF_INVALID_ARGUMENT` when `max_size` is 0, above 10000 (Redis's default `maxclients`) or
/// below the pool's min idle, or when `cfg` is NULL; the config is then unchanged. Not
/// thread-safe for the same `cfg`.
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

/// Sets the longest time, in milliseconds, that opening one connection may take: the TCP or
/// unix connect, TLS and the Redis handshake together (default 1000).
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

/// Sets the longest time, in milliseconds, that one command may take: writing it and reading
/// its whole reply, under one deadline (default 1000). A call that exceeds it fails with
/// `SF_TIMEOUT`. Fails with `SF_INVALID_ARGUMENT` when `ms` is 0 or `cfg`
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

/// Turns auto-pipelining on or off (default on, or as the environment variable `SF_PIPELINING`
/// says when set to `on`, `off` or `always`). On: while enough calls of the executor are in
/// flight at once (see `sf_config_set_pipelining_min_in_flight`), commands that threads issue
/// at the same moment to the same Redis node share one connection, one write and one read, and
/// each thread gets its own reply; fewer calls at once each hold a pooled connection, as with
/// it off. Off: each call holds a pooled connection for one command per round trip. Fails with `SF_INVALID_ARGUMENT` when
/// `cfg` is NULL. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_pipelining(
    cfg: *mut sf_config,
    enabled: bool,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            c.set_pipelining(enabled);
            Ok(())
        })
    }
}

/// With auto-pipelining on: the least number of calls of the executor in flight at once (the
/// call itself included) for a call to go through the shared connection (default 12; 1: every
/// call, even a lone caller's). Below it a call holds a pooled connection, as with pipelining
/// off (keep the pool's max size at least this minus one, as the defaults are). Fails with `SF_INVALID_ARGUMENT` when
/// `calls` is 0 or `cfg` is NULL; the config is then unchanged. Not thread-safe for the same
/// `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_pipelining_min_in_flight(
    cfg: *mut sf_config,
    calls: u32,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            c.set_pipelining_min_in_flight(calls).map(drop)
        })
    }
}

/// Turns on the client-side cache of reads (default off): up to `max_entries` answers of
/// `sf_get_linked_pod`, `sf_get_linked_pod_if_persist`, `sf_batch_get_linked_pods`,
/// `sf_get_service_state`, `sf_get_workload_state(s)` and `sf_get_link_services` (and their
/// packed forms) are kept in the executor, each for at most `max_age_ms` and never past its
/// key's own TTL, and answered without a round trip while Redis's invalidations (`CLIENT
/// TRACKING`: Redis >= 6 or Valkey) say they are current. A cached answer was the key's value
/// at some moment at most `min(max_age_ms, 1000)` milliseconds before the call began; when that
/// cannot be guaranteed (an invalidation connection lost or silent, a failover under way)
/// calls read from Redis. The executor's own writes drop their entries before they return.
/// `max_entries` 0 turns the cache off (`max_age_ms` is then ignored). `sf_executor_open` then
/// fails with `SF_CONFIG` when the server has no `CLIENT TRACKING` and with `SF_AUTH` when the
/// ACL user may not use it. Fails with `SF_INVALID_ARGUMENT` when `cfg` is NULL, or when
/// `max_age_ms` is 0 while `max_entries` is not; the config is then unchanged. Not thread-safe
/// for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a config from `sf_config_new` not yet freed; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_client_cache(
    cfg: *mut sf_config,
    max_entries: u32,
    max_age_ms: u32,
    err: *mut sf_error,
) -> sf_status {
    let max_age = Duration::from_millis(max_age_ms.into());
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            c.set_client_cache(max_entries, max_age).map(drop)
        })
    }
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

/// Sentinel only: the credentials for the primary when they differ from the sentinels'.
/// `username` NULL means the `default` user; `password` NULL logs in without a password. Fails
/// with `SF_CONFIG` when `cfg` is not a sentinel configuration, with `SF_INVALID_ARGUMENT` when
/// `cfg` is NULL or a given string is not UTF-8; the config is then unchanged. The strings are
/// copied. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a live config; `username` and `password` are NULL or NUL-terminated
/// strings; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_sentinel_master_auth(
    cfg: *mut sf_config,
    username: *const c_char,
    password: *const c_char,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            let optional = |ptr: *const c_char, name| match ptr.is_null() {
                true => Ok(None),
                false => text(ptr, name).map(Some),
            };
            let username = optional(username, "username")?;
            let password = optional(password, "password")?;
            c.set_sentinel_master_auth(username, password).map(drop)
        })
    }
}

/// TLS: trusts only the CA certificates of the PEM file at `path` (instead of the system's
/// trust store) when verifying the servers of `rediss://` URLs, in every topology. The file is
/// read now. Fails with `SF_CONFIG` when it is missing, unreadable or holds no certificate, with
/// `SF_INVALID_ARGUMENT` when `cfg` or `path` is NULL or `path` is not UTF-8; the config is then
/// unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a live config; `path` is NULL or a NUL-terminated string; `err` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_tls_ca_file(
    cfg: *mut sf_config,
    path: *const c_char,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            c.set_tls_ca_file(text(path, "path")?).map(drop)
        })
    }
}

/// TLS: presents the client certificate chain at `cert_path` and its private key at `key_path`
/// (PEM files) to servers that verify clients, in every topology. The files are read now.
/// Fails with `SF_CONFIG` when a file is unreadable or holds no certificate or key, with
/// `SF_INVALID_ARGUMENT` when an argument is NULL or a path is not UTF-8; the config is then
/// unchanged. Not thread-safe for the same `cfg`.
///
/// # Safety
/// `cfg` is NULL or a live config; the paths are NULL or NUL-terminated strings; `err` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_config_set_tls_client_cert(
    cfg: *mut sf_config,
    cert_path: *const c_char,
    key_path: *const c_char,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        set(cfg, err, |c| {
            let cert_path = text(cert_path, "cert_path")?;
            let key_path = text(key_path, "key_path")?;
            c.set_tls_client_cert(cert_path, key_path).map(drop)
        })
    }
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
