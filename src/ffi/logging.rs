//! Logging to the host: the library's records, through a callback.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::call;
use super::status::{sf_error, sf_status};
use crate::error::Error;
use crate::logging;

/// Level of a record that reports a failure the caller sees as an error.
pub const SF_LOG_ERROR: i32 = 1;
/// Level of a record about something that went wrong and was handled: a retried call, a script
/// reloaded after NOSCRIPT, a node or connection dropped, a topology change.
pub const SF_LOG_WARN: i32 = 2;
/// Level of a record about the executor's life: opened, closed, a failover followed.
pub const SF_LOG_INFO: i32 = 3;
/// Level of a record per operation and per connection opened.
pub const SF_LOG_DEBUG: i32 = 4;
/// Level of the most detailed records.
pub const SF_LOG_TRACE: i32 = 5;

/// Receives one log record: `level` is one of `SF_LOG_ERROR` ... `SF_LOG_TRACE`, `target` the
/// Rust module path that logged it (e.g. `"stateful_executor::engine"`), `message` the
/// formatted text. Both strings are NUL-terminated UTF-8, valid only during the call. Called
/// from any thread, including the pool's background threads, possibly from several at once.
/// It must not call `sf_set_logger` (that call would fail with `SF_INVALID_ARGUMENT`); records
/// the library logs while it runs are dropped.
pub type sf_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: i32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The host's callback and its pointer; the pointer is only handed back to the callback.
struct HostCallback {
    callback: unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the caller of sf_set_logger promises the callback may be called from any thread
// with this user_data.
unsafe impl Send for HostCallback {}
unsafe impl Sync for HostCallback {}

impl HostCallback {
    fn deliver(&self, level: log::Level, target: &str, message: &str) {
        // A NUL inside would cut the C string short: shown as U+FFFD instead.
        let c = |text: &str| {
            CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_else(|_| CString::default())
        };
        let (target, message) = (c(target), c(message));
        // SAFETY: per sf_set_logger's contract, the callback is valid with this user_data until
        // a later sf_set_logger returns (which waits for this call).
        unsafe {
            (self.callback)(
                self.user_data,
                level as i32,
                target.as_ptr(),
                message.as_ptr(),
            )
        };
    }
}

/// Sends the library's log records to `fn`: those at `max_level` and more severe
/// (`SF_LOG_WARN` gives errors and warnings). Process-wide: it replaces the callback set by an
/// earlier call, atomically; `fn == NULL` turns logging off.
///
/// `fn` is called from any thread (pool threads included), possibly concurrently, with
/// `user_data` as given. When this function returns, no call of a previous callback is still
/// running, so its user_data may be freed then. No record or error message ever holds a
/// password (URLs appear with the password masked).
///
/// What is logged: `SF_LOG_WARN` for a retried call, a script reloaded after NOSCRIPT, a
/// connection or node dropped, a topology change; `SF_LOG_INFO` for an executor opened or
/// closed and a failover; `SF_LOG_DEBUG` for each operation and each connection opened.
///
/// The first call installs the library's logger into the process's Rust `log` facade. Fails
/// with `SF_CONFIG` when another Rust logger is already installed there (that one keeps the
/// records), with `SF_INVALID_ARGUMENT` when `max_level` is not `SF_LOG_ERROR` ...
/// `SF_LOG_TRACE` (with a non-NULL `fn`) or when called from inside a log callback.
/// Thread-safe.
///
/// # Safety
/// `fn` is NULL or a function that may be called as described with `user_data` until a later
/// `sf_set_logger` returns; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_set_logger(
    r#fn: sf_log_fn,
    user_data: *mut c_void,
    max_level: i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        let Some(callback) = r#fn else {
            return logging::set_sink(None, log::LevelFilter::Off);
        };
        let level = match max_level {
            SF_LOG_ERROR => log::LevelFilter::Error,
            SF_LOG_WARN => log::LevelFilter::Warn,
            SF_LOG_INFO => log::LevelFilter::Info,
            SF_LOG_DEBUG => log::LevelFilter::Debug,
            SF_LOG_TRACE => log::LevelFilter::Trace,
            other => {
                return Err(Error::invalid(format!(
                    "max_level {other} is not SF_LOG_ERROR (1) ... SF_LOG_TRACE (5)"
                )))
            }
        };
        let host = HostCallback {
            callback,
            user_data,
        };
        logging::set_sink(
            Some(Arc::new(move |level, target, message| {
                host.deliver(level, target, message)
            })),
            level,
        )
    })
}
