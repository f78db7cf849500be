//! Status codes, the error record, and the library's identity.

use std::ffi::{c_char, c_int};

use crate::error::{Error, ErrorKind};

/// The outcome of every fallible function. The numeric values are fixed and never change; they
/// equal the Rust API's `ErrorKind` values.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sf_status {
    /// Success.
    SF_OK = 0,
    /// NULL where not allowed, a bad identifier, or an out-of-range number. Nothing was sent to
    /// Redis.
    SF_INVALID_ARGUMENT = 1,
    /// Cannot connect, the connection was lost, or another I/O error.
    SF_CONNECTION = 2,
    /// The command did not complete within the command timeout.
    SF_TIMEOUT = 3,
    /// No pooled connection became free within the pool wait timeout.
    SF_POOL_TIMEOUT = 4,
    /// Authentication or authorization refused by the server.
    SF_AUTH = 5,
    /// The server answered with an error (script error, READONLY, CROSSSLOT, OOM, ...).
    SF_REDIS = 6,
    /// Data in Redis is not in the documented format (e.g. a link whose pod is not a number, or
    /// one of the library's keys holding another type: WRONGTYPE).
    SF_UNEXPECTED_REPLY = 7,
    /// An invalid URL or configuration.
    SF_CONFIG = 8,
    /// A bug: a caught panic or a broken invariant.
    SF_INTERNAL = 9,
}

impl From<ErrorKind> for sf_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => sf_status::SF_INVALID_ARGUMENT,
            ErrorKind::Connection => sf_status::SF_CONNECTION,
            ErrorKind::Timeout => sf_status::SF_TIMEOUT,
            ErrorKind::PoolTimeout => sf_status::SF_POOL_TIMEOUT,
            ErrorKind::Auth => sf_status::SF_AUTH,
            ErrorKind::Redis => sf_status::SF_REDIS,
            ErrorKind::UnexpectedReply => sf_status::SF_UNEXPECTED_REPLY,
            ErrorKind::Config => sf_status::SF_CONFIG,
            ErrorKind::Internal => sf_status::SF_INTERNAL,
        }
    }
}

/// "No pod": the value of a pod result when there is no link (with `SF_OK`), and of every pod
/// output parameter after a failed call. Never a valid pod ordinal as an argument.
///
/// (The header's `#define SF_NO_POD (-1)` is written in `cbindgen.toml`.)
pub const SF_NO_POD: i32 = -1;

/// Size of `sf_error.message`, including its terminating NUL.
pub const SF_ERROR_MESSAGE_SIZE: usize = 256;

/// The detail of a failed call, filled by the call itself (nothing is kept in thread-local or
/// global state). Allocate it anywhere (usually on the stack) and pass its address as the last
/// argument; pass NULL when the status code is enough.
#[repr(C)]
pub struct sf_error {
    /// The same code the function returned; `SF_OK` after a successful call.
    pub code: sf_status,
    /// A NUL-terminated, human-readable UTF-8 message, truncated to fit (never in the middle of
    /// a character); empty after a successful call. Never contains a password.
    pub message: [c_char; SF_ERROR_MESSAGE_SIZE],
}

#[cfg(test)]
impl sf_error {
    pub(crate) fn blank() -> sf_error {
        sf_error {
            code: sf_status::SF_OK,
            message: [0; SF_ERROR_MESSAGE_SIZE],
        }
    }
}

/// Writes the outcome of a call into `err` (when not NULL) and returns its status.
///
/// # Safety
/// `err` is NULL or valid for writing an `sf_error` (its old contents are never read).
pub(crate) unsafe fn report(err: *mut sf_error, failure: Option<&Error>) -> sf_status {
    let (code, message) = match failure {
        None => (sf_status::SF_OK, ""),
        Some(error) => (sf_status::from(error.kind()), error.message()),
    };
    if !err.is_null() {
        let bytes = truncated(message, SF_ERROR_MESSAGE_SIZE - 1);
        // SAFETY: writable per the caller; raw writes only, through in-bounds field pointers.
        unsafe {
            std::ptr::addr_of_mut!((*err).code).write(code);
            let dst = std::ptr::addr_of_mut!((*err).message).cast::<u8>();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
            dst.add(bytes.len()).write(0);
        }
    }
    code
}

/// The longest prefix of `message` of at most `limit` bytes that ends on a character boundary
/// and holds no NUL byte (a C reader would stop there anyway).
fn truncated(message: &str, limit: usize) -> &[u8] {
    let message = message.split('\0').next().unwrap_or("");
    let mut end = message.len().min(limit);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message.as_bytes()[..end]
}

/// A status code as passed in from C, which may hold any value.
///
/// cbindgen:no-export
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct StatusValue(pub c_int);

/// The name of a status code as a static NUL-terminated string: `"SF_OK"`,
/// `"SF_INVALID_ARGUMENT"`, ..., `"SF_INTERNAL"`; `"SF_UNKNOWN"` for a value that is not an
/// `sf_status` code.
///
/// Never NULL; the string is static storage: do not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn sf_status_name(status: StatusValue) -> *const c_char {
    let name = match status.0 {
        0 => c"SF_OK",
        1 => c"SF_INVALID_ARGUMENT",
        2 => c"SF_CONNECTION",
        3 => c"SF_TIMEOUT",
        4 => c"SF_POOL_TIMEOUT",
        5 => c"SF_AUTH",
        6 => c"SF_REDIS",
        7 => c"SF_UNEXPECTED_REPLY",
        8 => c"SF_CONFIG",
        9 => c"SF_INTERNAL",
        _ => c"SF_UNKNOWN",
    };
    name.as_ptr()
}

/// The library's version, e.g. `"0.1.0"` (the Rust crate's version), as a static
/// NUL-terminated string.
///
/// Never NULL; the string is static storage: do not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn sf_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    const KINDS: [ErrorKind; 9] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::PoolTimeout,
        ErrorKind::Auth,
        ErrorKind::Redis,
        ErrorKind::UnexpectedReply,
        ErrorKind::Config,
        ErrorKind::Internal,
    ];

    fn name(code: c_int) -> &'static str {
        unsafe { CStr::from_ptr(sf_status_name(StatusValue(code))) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn status_values_and_names_match_the_error_kinds() {
        assert_eq!(name(0), "SF_OK");
        for kind in KINDS {
            let status = sf_status::from(kind);
            assert_eq!(status as i32, kind as i32);
            assert_eq!(name(status as c_int), kind.status_name());
        }
        for unknown in [-1, 10, c_int::MAX, c_int::MIN] {
            assert_eq!(name(unknown), "SF_UNKNOWN");
        }
    }

    #[test]
    fn messages_are_truncated_on_char_boundaries_and_terminated() {
        let mut err = sf_error::blank();
        let long = "é".repeat(300); // 600 bytes of two-byte characters
        let code = unsafe { report(&mut err, Some(&Error::invalid(long))) };
        assert_eq!(code, sf_status::SF_INVALID_ARGUMENT);
        let message = unsafe { CStr::from_ptr(err.message.as_ptr()) };
        assert_eq!(message.to_bytes().len(), 254);
        assert!(message.to_str().is_ok());
        let code = unsafe { report(&mut err, None) };
        assert_eq!(code, sf_status::SF_OK);
        assert_eq!(err.code, sf_status::SF_OK);
        assert_eq!(err.message[0], 0);
        assert_eq!(truncated("abc\0def", 255), b"abc");
        assert_eq!(truncated("abcdef", 3), b"abc");
    }

    #[test]
    fn version_is_the_crate_version() {
        let version = unsafe { CStr::from_ptr(sf_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
