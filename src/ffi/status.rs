//! Status codes, the error record, and the library's identity.

use std::ffi::c_char;

use super::quiet;
use crate::error::{Error, ErrorKind};

/// The outcome of every fallible function: `SF_OK` (0) or one of the `SF_*` error codes. A
/// 32-bit integer (never a C enum, whose size the compiler would choose); the numeric values
/// are fixed and never change. They equal the Rust API's `ErrorKind` values.
pub type sf_status = i32;

/// Success. (The error codes come from the one table in `error.rs`.)
pub const SF_OK: sf_status = 0;
pub(crate) use crate::error::status_codes::*;

/// The status code of an error kind.
pub(crate) fn status_of(kind: ErrorKind) -> sf_status {
    kind.code()
}

/// "No pod": the value of a pod result when there is no link (with `SF_OK`), and of every pod
/// output parameter after a failed call. Never a valid pod ordinal as an argument.
///
/// (The header's `#define SF_NO_POD (-1)` is written by tests/header.rs.)
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
            code: SF_OK,
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
        None => (SF_OK, ""),
        Some(error) => (status_of(error.kind()), error.message()),
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

/// The name of a status code as a static NUL-terminated string: `"SF_OK"`,
/// `"SF_INVALID_ARGUMENT"`, ..., `"SF_INTERNAL"`; `"SF_UNKNOWN"` for a value that is not an
/// `sf_status` code.
///
/// Never NULL; the string is static storage: do not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn sf_status_name(status: sf_status) -> *const c_char {
    quiet(c"SF_UNKNOWN".as_ptr(), || {
        let name = match ErrorKind::from_code(status) {
            Some(kind) => kind.status_name_c(),
            None if status == SF_OK => c"SF_OK",
            None => c"SF_UNKNOWN",
        };
        name.as_ptr()
    })
}

/// The library's version, e.g. `"0.3.0"` (the Rust crate's version), as a static
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

    fn name(code: sf_status) -> &'static str {
        unsafe { CStr::from_ptr(sf_status_name(code)) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn status_values_and_names_match_the_error_kinds() {
        assert_eq!(name(0), "SF_OK");
        assert_eq!(ErrorKind::ALL.len(), 9);
        for (i, &kind) in ErrorKind::ALL.iter().enumerate() {
            let status = status_of(kind);
            assert_eq!(status, i as i32 + 1, "codes are 1..=9 in table order");
            assert_eq!(ErrorKind::from_code(status), Some(kind));
            assert_eq!(name(status), kind.status_name());
        }
        assert_eq!(ErrorKind::from_code(SF_OK), None);
        assert_eq!(
            [
                SF_INVALID_ARGUMENT,
                SF_CONNECTION,
                SF_TIMEOUT,
                SF_POOL_TIMEOUT,
                SF_AUTH
            ],
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            [SF_REDIS, SF_UNEXPECTED_REPLY, SF_CONFIG, SF_INTERNAL],
            [6, 7, 8, 9]
        );
        for unknown in [-1, 10, i32::MAX, i32::MIN] {
            assert_eq!(name(unknown), "SF_UNKNOWN");
        }
    }

    #[test]
    fn messages_are_truncated_on_char_boundaries_and_terminated() {
        let mut err = sf_error::blank();
        let long = "é".repeat(300); // 600 bytes of two-byte characters
        let code = unsafe { report(&mut err, Some(&Error::invalid(long))) };
        assert_eq!(code, SF_INVALID_ARGUMENT);
        let message = unsafe { CStr::from_ptr(err.message.as_ptr()) };
        assert_eq!(message.to_bytes().len(), 254);
        assert!(message.to_str().is_ok());
        let code = unsafe { report(&mut err, None) };
        assert_eq!(code, SF_OK);
        assert_eq!(err.code, SF_OK);
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
