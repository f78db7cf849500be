//! Closing an executor (dropping it) returns only after the pool's background threads exited,
//! also when one of them is still opening a connection at that moment. One test in this binary,
//! so that no other executor's threads are counted.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

fn pool_threads() -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with("r2d2-worker"))
        .count()
}

#[test]
fn close_returns_after_the_pool_threads_exited() {
    let server = RedisServer::start_with(&["--requirepass", "pw"]);
    assert_eq!(pool_threads(), 0);
    for _ in 0..5 {
        let ex = executor_with(&server, |c| {
            c.set_pool_min_idle(2).unwrap();
        });
        ex.ping().unwrap();
        assert_eq!(pool_threads(), 3);
        drop(ex);
        assert_eq!(
            pool_threads(),
            0,
            "threads left after close: {:?}",
            thread_names()
        );
    }

    // A pool thread is opening a connection to a server that does not answer (stopped with
    // SIGSTOP: the kernel accepts the connection, nobody answers AUTH) when the executor closes.
    let ex = executor_with(&server, |c| {
        c.set_connect_timeout(Duration::from_millis(1500)).unwrap();
        c.set_pool_wait_timeout(Duration::from_millis(100)).unwrap();
    });
    let pid = server.pid().unwrap() as libc::pid_t;
    // SAFETY: signals to our own child process.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let outcome = ex.ping();
    let closing = Instant::now();
    drop(ex);
    let waited = closing.elapsed();
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(outcome.is_err());
    assert_eq!(
        pool_threads(),
        0,
        "threads left after close: {:?}",
        thread_names()
    );
    // It waited for the connect in flight (bounded by the connect timeout), not forever.
    assert!(waited < Duration::from_secs(10), "close took {waited:?}");
}
