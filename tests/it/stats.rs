//! Executor statistics against known call counts: every operation counts once as a call, every
//! error as a failed call, and retries, pool timeouts, connects and script reloads count exactly
//! the events that happened.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "prod";
const SVC: &str = "chat";

#[test]
fn calls_and_failures_are_counted_once_per_operation() {
    let server = RedisServer::start();
    let ex = server.executor_with(|c| {
        c.set_pool_max_size(2).unwrap();
    });
    let fresh = ex.stats();
    assert_eq!(
        (
            fresh.calls,
            fresh.failed_calls,
            fresh.retries,
            fresh.pool_timeouts
        ),
        (0, 0, 0, 0)
    );
    assert_eq!((fresh.connect_failures, fresh.script_reloads), (0, 0));
    assert_eq!(
        fresh.connects, 1,
        "the connection open checks the server with"
    );

    for i in 0..5 {
        ex.set_linked_pod(NS, &format!("u{i}"), SVC, i, Persistence::Persistent)
            .unwrap();
        assert_eq!(
            ex.get_linked_pod(NS, &format!("u{i}"), SVC).unwrap(),
            Some(i)
        );
    }
    ex.set_service_state(NS, SVC, 0, "Running").unwrap();
    ex.get_service_state(NS, SVC).unwrap();
    ex.ping().unwrap();
    // Built on other operations, each still one call.
    let candidates = [Candidate::new(7, 1)];
    assert_eq!(
        ex.compute_linked_pod(NS, "new", SVC, Persistence::Persistent, &candidates)
            .unwrap(),
        Some(7)
    );
    ex.batch_get_linked_pods_by_pod(NS, SVC, &["u1", "u2"])
        .unwrap();
    // Rejected before anything is sent: still calls, and failed ones.
    ex.get_linked_pod("a:b", "u", SVC).unwrap_err();
    ex.set_service_state(NS, SVC, -1, "x").unwrap_err();
    ex.get_workload_state(NS, "").unwrap_err();
    // Corrupt data: a failure after the round trip.
    raw_cmd(&mut server.raw(), &["SET", "sf:{prod:lk:bad}chat", "x"]);
    ex.get_linked_pod(NS, "bad", SVC).unwrap_err();
    ex.ping().unwrap();

    let stats = ex.stats();
    assert_eq!(stats.calls, 10 + 3 + 2 + 3 + 1 + 1);
    assert_eq!(stats.failed_calls, 4);
    assert_eq!(
        (stats.retries, stats.pool_timeouts, stats.script_reloads),
        (0, 0, 0)
    );
    assert_eq!(stats.connect_failures, 0);
    assert!(
        stats.connections >= 1 && stats.connections <= 2,
        "{stats:?}"
    );
    assert_eq!(
        stats.idle_connections, stats.connections,
        "no call in flight"
    );
    assert!(stats.connects > fresh.connects);
}

#[test]
fn script_reloads_and_retries_count_the_events() {
    let server = RedisServer::start();
    let ex = server.executor_with(|c| {
        c.set_pool_max_size(1).unwrap();
    });
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 1, Persistence::Persistent)
        .unwrap();
    let before = ex.stats();

    raw_cmd(&mut raw, &["SCRIPT", "FLUSH"]);
    ex.set_linked_pod(NS, "u", SVC, 2, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
        .unwrap();
    let reloaded = ex.stats();
    assert_eq!(reloaded.script_reloads, before.script_reloads + 1);
    assert_eq!(reloaded.calls, before.calls + 2);
    assert_eq!(reloaded.failed_calls, 0);

    // The pooled connection is killed: the next read fails on it and is retried once.
    raw_cmd(
        &mut raw,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), Some(3));
    let retried = ex.stats();
    assert_eq!(retried.retries, reloaded.retries + 1);
    assert_eq!(retried.calls, reloaded.calls + 1);
    assert_eq!(retried.failed_calls, 0);
    assert_eq!(
        retried.connects,
        reloaded.connects + 1,
        "the retry's new connection"
    );
}

#[test]
fn connect_failures_count_while_the_server_is_down() {
    let mut server = RedisServer::start();
    let ex = server.executor_with(|c| {
        c.set_pool_wait_timeout(Duration::from_millis(300)).unwrap();
        c.set_connect_timeout(Duration::from_millis(300)).unwrap();
    });
    ex.ping().unwrap();
    let before = ex.stats();
    server.kill();
    ex.ping().unwrap_err();
    let down = ex.stats();
    assert!(down.connect_failures > before.connect_failures, "{down:?}");
    assert_eq!(down.failed_calls, before.failed_calls + 1);
    assert_eq!(down.calls, before.calls + 1);
    assert_eq!(down.connections, 0, "the dead connection was dropped");
}

#[test]
fn pool_timeouts_are_counted_and_stats_do_not_wait_for_busy_connections() {
    let server = RedisServer::start();
    let ex = Arc::new(server.executor_with(|c| {
        c.set_pool_max_size(1).unwrap();
        c.set_pool_wait_timeout(Duration::from_millis(200)).unwrap();
        c.set_command_timeout(Duration::from_secs(20)).unwrap();
        // Single commands wait for the pool only with pipelining off.
        c.set_pipelining(false);
    }));
    ex.set_linked_pod(NS, "u", SVC, 5, Persistence::Persistent)
        .unwrap();
    let before = ex.stats();
    raw_cmd(&mut server.raw(), &["CLIENT", "PAUSE", "3000", "ALL"]);
    let holder = {
        let ex = Arc::clone(&ex);
        thread::spawn(move || ex.get_linked_pod(NS, "u", SVC))
    };
    thread::sleep(Duration::from_millis(800));
    let polled = Instant::now();
    let busy = ex.stats();
    assert!(
        polled.elapsed() < Duration::from_millis(100),
        "stats waited"
    );
    assert_eq!(
        (busy.connections, busy.idle_connections),
        (1, 0),
        "{busy:?}"
    );
    assert_eq!(
        ex.get_linked_pod(NS, "u", SVC).unwrap_err().kind(),
        ErrorKind::PoolTimeout
    );
    assert_eq!(holder.join().unwrap().unwrap(), Some(5));
    let after = ex.stats();
    assert_eq!(after.pool_timeouts, before.pool_timeouts + 1);
    assert_eq!(after.failed_calls, before.failed_calls + 1);
    assert_eq!(after.calls, before.calls + 2);
    assert_eq!((after.connections, after.idle_connections), (1, 1));
}
