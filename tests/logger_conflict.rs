//! A Rust host that installed its own `log` logger: `sf_set_logger` refuses with SF_CONFIG and
//! the host's logger keeps receiving the library's records. Its own binary: the `log` facade's
//! logger can be set once per process.

mod common;

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use common::*;

const SF_CONFIG: i32 = 8;
const SF_LOG_DEBUG: i32 = 4;

#[repr(C)]
struct SfError {
    code: i32,
    message: [c_char; 256],
}

type LogFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char);

extern "C" {
    fn sf_set_logger(
        f: Option<LogFn>,
        user_data: *mut c_void,
        max_level: i32,
        err: *mut SfError,
    ) -> i32;
}

struct HostLogger(Mutex<Vec<String>>);

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

static HOST: HostLogger = HostLogger(Mutex::new(Vec::new()));

unsafe extern "C" fn never(_: *mut c_void, _: i32, _: *const c_char, _: *const c_char) {
    panic!("the host's logger is installed; this callback must never run");
}

#[test]
fn another_installed_logger_gives_sf_config_and_keeps_the_records() {
    log::set_logger(&HOST).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let mut err = SfError {
        code: -1,
        message: [0; 256],
    };
    let status =
        unsafe { sf_set_logger(Some(never), std::ptr::null_mut(), SF_LOG_DEBUG, &mut err) };
    assert_eq!(status, SF_CONFIG);
    assert_eq!(err.code, SF_CONFIG);
    let message = unsafe { CStr::from_ptr(err.message.as_ptr()) }.to_string_lossy();
    assert!(message.contains("another logger"), "{message}");
    // Nothing changed: the host's max level and logger stay.
    assert_eq!(log::max_level(), log::LevelFilter::Info);

    let server = RedisServer::start();
    let ex = server.executor();
    ex.ping().unwrap();
    drop(ex);
    let records = HOST.0.lock().unwrap().clone();
    assert!(
        records.iter().any(|r| r.contains("executor opened")),
        "{records:?}"
    );
    assert!(
        records.iter().any(|r| r.contains("executor closed")),
        "{records:?}"
    );
}
