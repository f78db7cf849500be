//! `sf_set_logger` called as a C host would (the logging and logger_conflict tests).

use std::ffi::{c_char, c_void, CStr};

pub const SF_LOG_ERROR: i32 = 1;
pub const SF_LOG_WARN: i32 = 2;
pub const SF_LOG_INFO: i32 = 3;
pub const SF_LOG_DEBUG: i32 = 4;

#[repr(C)]
struct SfError {
    code: i32,
    message: [c_char; 256],
}

/// The C callback type, `sf_log_fn` without its `Option`.
pub type LogFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char);

extern "C" {
    fn sf_set_logger(
        f: Option<LogFn>,
        user_data: *mut c_void,
        max_level: i32,
        err: *mut SfError,
    ) -> i32;
}

/// Calls `sf_set_logger`: its status and the message it left in `sf_error` (whose code must be
/// the status).
pub fn set_logger(f: Option<LogFn>, user_data: *mut c_void, max_level: i32) -> (i32, String) {
    let mut err = SfError {
        code: -1,
        message: [0; 256],
    };
    let status = unsafe { sf_set_logger(f, user_data, max_level, &mut err) };
    let message = unsafe { CStr::from_ptr(err.message.as_ptr()) };
    assert_eq!(err.code, status);
    (status, message.to_string_lossy().into_owned())
}
