//! Logging through the C API's `sf_set_logger`: what reaches the callback (levels, targets,
//! pool threads), that no record holds a password, and that replacing the callback while
//! records flow never lets an old callback run after the replacing call returned.
//!
//! The logger is process-wide: each test runs in a process of its own (`own_process`).

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

const SF_OK: i32 = 0;
const SF_INVALID_ARGUMENT: i32 = 1;

#[derive(Debug, Clone)]
struct Record {
    level: i32,
    target: String,
    message: String,
    thread: String,
}

#[derive(Default)]
struct Collector {
    records: Mutex<Vec<Record>>,
}

unsafe extern "C" fn collect(
    user_data: *mut c_void,
    level: i32,
    target: *const c_char,
    message: *const c_char,
) {
    let collector = unsafe { &*(user_data as *const Collector) };
    let record = Record {
        level,
        target: unsafe { CStr::from_ptr(target) }
            .to_str()
            .unwrap()
            .to_string(),
        message: unsafe { CStr::from_ptr(message) }
            .to_str()
            .unwrap()
            .to_string(),
        thread: thread::current().name().unwrap_or("").to_string(),
    };
    collector.records.lock().unwrap().push(record);
}

impl Collector {
    fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

#[test]
fn records_reach_the_callback_by_level_without_credentials() {
    if !own_process("logging::records_reach_the_callback_by_level_without_credentials") {
        return;
    }
    const PASSWORD: &str = "s3cret-Passw0rd";
    let server = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let collector: &'static Collector = Box::leak(Box::default());
    let data = collector as *const Collector as *mut c_void;
    assert_eq!(set_logger(Some(collect), data, SF_LOG_DEBUG).0, SF_OK);

    let ex = server.executor_with(|c| {
        c.set_pool_min_idle(2).unwrap();
        c.set_pool_max_size(2).unwrap();
    });
    ex.set_linked_pod("prod", "u", "chat", 1, Persistence::Persistent)
        .unwrap();
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SCRIPT", "FLUSH"]);
    ex.set_linked_pod("prod", "u", "chat", 2, Persistence::Persistent)
        .unwrap();
    raw_cmd(
        &mut raw,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    assert_eq!(ex.get_linked_pod("prod", "u", "chat").unwrap(), Some(2));
    // The pool threads open the min_idle connections in the background.
    wait_until("pool threads log", Duration::from_secs(5), || {
        collector
            .records
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.thread.starts_with("r2d2-worker"))
    });
    drop(ex);
    let bad_url = format!("redis://:wrong-{PASSWORD}@127.0.0.1:{}", server.port);
    let err = Executor::open(&Config::new(&bad_url).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!err.message().contains(PASSWORD), "{}", err.message());

    let records = collector.take();
    let with = |level: i32, text: &str| {
        records
            .iter()
            .filter(|r| r.level == level && r.message.contains(text))
            .count()
    };
    assert!(with(SF_LOG_INFO, "executor opened") >= 1, "{records:#?}");
    assert_eq!(with(SF_LOG_INFO, "executor closed"), 1, "{records:#?}");
    assert_eq!(
        with(SF_LOG_WARN, "missing on the server; reloading"),
        1,
        "{records:#?}"
    );
    assert_eq!(with(SF_LOG_WARN, "retrying once"), 1, "{records:#?}");
    assert!(with(SF_LOG_WARN, "connection dropped") >= 1, "{records:#?}");
    assert!(with(SF_LOG_DEBUG, "set linked pod") >= 2, "{records:#?}");
    assert!(with(SF_LOG_DEBUG, "get linked pod") >= 1, "{records:#?}");
    // INFO is the executor's life only, never a record per operation.
    for record in records.iter().filter(|r| r.level == SF_LOG_INFO) {
        assert!(
            record.message.starts_with("executor opened")
                || record.message.starts_with("executor closed"),
            "{record:?}"
        );
    }
    for record in &records {
        assert!(
            !record.message.contains(PASSWORD) && !record.target.contains(PASSWORD),
            "{record:?}"
        );
        assert!(record.target.starts_with("stateful_executor"), "{record:?}");
        assert!(
            (SF_LOG_ERROR..=SF_LOG_DEBUG).contains(&record.level),
            "{record:?}"
        );
    }
    assert!(records.iter().any(|r| r.thread.starts_with("r2d2-worker")));

    // At WARN, no debug or info record arrives.
    assert_eq!(set_logger(Some(collect), data, SF_LOG_WARN).0, SF_OK);
    let ex = server.executor_with(|_| {});
    ex.ping().unwrap();
    drop(ex);
    assert!(collector.take().iter().all(|r| r.level <= SF_LOG_WARN));

    // NULL turns logging off.
    assert_eq!(set_logger(None, std::ptr::null_mut(), 0).0, SF_OK);
    let ex = server.executor_with(|_| {});
    ex.ping().unwrap();
    drop(ex);
    assert!(collector.take().is_empty());
}

#[test]
fn bad_levels_and_calls_from_inside_the_callback_are_refused() {
    if !own_process("logging::bad_levels_and_calls_from_inside_the_callback_are_refused") {
        return;
    }
    let collector: &'static Collector = Box::leak(Box::default());
    let data = collector as *const Collector as *mut c_void;
    for level in [0, 6, -1, i32::MAX] {
        let (status, message) = set_logger(Some(collect), data, level);
        assert_eq!(status, SF_INVALID_ARGUMENT, "{level}");
        assert!(message.contains("max_level"), "{message}");
    }

    static REENTERED: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn reenter(_: *mut c_void, _: i32, _: *const c_char, _: *const c_char) {
        let (status, message) = set_logger(None, std::ptr::null_mut(), 0);
        assert_eq!(status, SF_INVALID_ARGUMENT);
        assert!(message.contains("inside the log callback"), "{message}");
        REENTERED.fetch_add(1, Ordering::SeqCst);
    }
    assert_eq!(
        set_logger(Some(reenter), std::ptr::null_mut(), SF_LOG_DEBUG).0,
        SF_OK
    );
    let server = RedisServer::start();
    let ex = server.executor();
    ex.ping().unwrap();
    drop(ex);
    assert!(REENTERED.load(Ordering::SeqCst) > 0);
    assert_eq!(set_logger(None, std::ptr::null_mut(), 0).0, SF_OK);
}

/// The state behind one callback generation: calls in flight, and whether the replacing
/// `sf_set_logger` already returned (after which it must never run again).
#[derive(Default)]
struct Generation {
    in_flight: AtomicUsize,
    calls: AtomicUsize,
    retired: AtomicBool,
    late_calls: AtomicUsize,
}

unsafe extern "C" fn count(user_data: *mut c_void, _: i32, _: *const c_char, _: *const c_char) {
    let generation = unsafe { &*(user_data as *const Generation) };
    generation.in_flight.fetch_add(1, Ordering::SeqCst);
    if generation.retired.load(Ordering::SeqCst) {
        generation.late_calls.fetch_add(1, Ordering::SeqCst);
    }
    generation.calls.fetch_add(1, Ordering::SeqCst);
    // Long enough that swaps often meet a callback in the middle.
    thread::sleep(Duration::from_micros(50));
    generation.in_flight.fetch_sub(1, Ordering::SeqCst);
}

#[test]
fn replacing_the_callback_while_records_flow_waits_for_running_callbacks() {
    if !own_process(
        "logging::replacing_the_callback_while_records_flow_waits_for_running_callbacks",
    ) {
        return;
    }
    let server = RedisServer::start();
    let ex = Arc::new(server.executor_with(|c| {
        c.set_pool_max_size(4).unwrap();
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (ex, stop) = (Arc::clone(&ex), Arc::clone(&stop));
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let uid = format!("u{t}-{}", n % 16);
                    ex.get_linked_pod("prod", &uid, "chat").unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();

    let generations: Vec<Arc<Generation>> = (0..200).map(|_| Arc::default()).collect();
    let started = Instant::now();
    for (i, generation) in generations.iter().enumerate() {
        let data = Arc::as_ptr(generation) as *mut c_void;
        assert_eq!(set_logger(Some(count), data, SF_LOG_DEBUG).0, SF_OK);
        if i > 0 {
            let previous = &generations[i - 1];
            // The swap returned: no call of the previous callback may still run.
            assert_eq!(
                previous.in_flight.load(Ordering::SeqCst),
                0,
                "generation {i}"
            );
            previous.retired.store(true, Ordering::SeqCst);
        }
        thread::sleep(Duration::from_micros(500));
    }
    assert_eq!(set_logger(None, std::ptr::null_mut(), 0).0, SF_OK);
    generations
        .last()
        .unwrap()
        .retired
        .store(true, Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    let calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();

    let delivered: usize = generations
        .iter()
        .map(|g| g.calls.load(Ordering::SeqCst))
        .sum();
    let late: usize = generations
        .iter()
        .map(|g| g.late_calls.load(Ordering::SeqCst))
        .sum();
    let used = generations
        .iter()
        .filter(|g| g.calls.load(Ordering::SeqCst) > 0)
        .count();
    println!(
        "{calls} calls, {delivered} records to {used} of 200 callbacks in {:?}",
        started.elapsed()
    );
    assert_eq!(
        late, 0,
        "a replaced callback ran after sf_set_logger returned"
    );
    assert!(used > 100, "records must flow during most swaps ({used})");
}
