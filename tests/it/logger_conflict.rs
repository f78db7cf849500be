//! A Rust host that installed its own `log` logger: `sf_set_logger` refuses with SF_CONFIG and
//! the host's logger keeps receiving the library's records. In a process of its own
//! (`own_process`): the `log` facade's logger can be set once per process.

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use crate::harness::*;

const SF_CONFIG: i32 = 8;

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
    if !own_process(
        "logger_conflict::another_installed_logger_gives_sf_config_and_keeps_the_records",
    ) {
        return;
    }
    log::set_logger(&HOST).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let (status, message) = set_logger(Some(never), std::ptr::null_mut(), SF_LOG_DEBUG);
    assert_eq!(status, SF_CONFIG);
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
