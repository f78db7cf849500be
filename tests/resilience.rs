//! Failures around the server: lost script cache, a paused server (command timeouts, pool
//! timeouts, no late replies taken as answers), unreachable and restarted servers, and
//! authentication.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use stateful_executor::*;

const NS: &str = "ns";
const SVC: &str = "chat";

fn connected_clients(raw: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("clients").query(raw).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn assert_within(started: Instant, bound: Duration, what: &str) {
    let took = started.elapsed();
    assert!(took <= bound, "{what} took {took:?}, more than {bound:?}");
}

#[test]
fn every_script_op_survives_a_script_flush() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let mut flush = || {
        raw_cmd(&mut raw, &["SCRIPT", "FLUSH"]);
    };

    flush();
    assert_eq!(
        ex.set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    flush();
    assert_eq!(
        ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
            .unwrap(),
        Some(3)
    );
    flush();
    assert_eq!(
        ex.try_set_linked_pod(NS, "u", SVC, 5, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 4
        }
    );
    flush();
    assert_eq!(
        ex.try_set_linked_pod(NS, "v", SVC, 6, Persistence::temporary(100))
            .unwrap(),
        TrySet {
            linked: true,
            pod: 6
        }
    );
    flush();
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "u", SVC, 7, Persistence::Persistent)
            .unwrap(),
        4
    );
    flush();
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "w", SVC, 8, Persistence::Persistent)
            .unwrap(),
        8
    );
    flush();
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), Some(4));
    flush();
    assert_eq!(ex.get_linked_pod_if_persist(NS, "v", SVC).unwrap(), None);
    flush();
    assert_eq!(
        ex.compute_linked_pod(
            NS,
            "x",
            SVC,
            Persistence::Persistent,
            &[Candidate::new(2, 1), Candidate::new(1, 1)]
        )
        .unwrap(),
        Some(1)
    );
    flush();
    assert!(!ex
        .remove_linked_pod_with_id(NS, "u", SVC, Grace::Immediate, 9)
        .unwrap());
    flush();
    assert!(ex
        .remove_linked_pod_with_id(NS, "u", SVC, Grace::Seconds(30), 4)
        .unwrap());
    flush();
    assert!(ex
        .remove_linked_pod(NS, "w", SVC, Grace::Immediate)
        .unwrap());
    flush();
    assert!(!ex
        .remove_linked_pod(NS, "w", SVC, Grace::Immediate)
        .unwrap());

    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["u", "v", "w", "x"])
            .unwrap(),
        vec![Some(4), Some(6), None, Some(1)]
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), None);
}

#[test]
fn a_paused_server_times_out_and_late_replies_are_never_taken_as_answers() {
    const LINKED: usize = 500;
    const CALLERS: usize = 4;
    let server = RedisServer::start();
    let command_timeout = Duration::from_millis(300);
    let ex = Arc::new(executor_with(&server, |c| {
        c.set_command_timeout(command_timeout).unwrap();
        c.set_connect_timeout(Duration::from_millis(1000)).unwrap();
        c.set_pool_wait_timeout(Duration::from_millis(1000))
            .unwrap();
        // Keep enough connections open that no caller must connect while the server is paused.
        c.set_pool_min_idle(CALLERS as u32 + 1).unwrap();
    }));
    let bound = Duration::from_millis(1000 + 1000 + 300 + 2500);
    let mut raw = server.raw();
    for i in 0..LINKED {
        let persistence = if i % 2 == 0 {
            Persistence::Persistent
        } else {
            Persistence::temporary(3600)
        };
        ex.set_linked_pod(NS, &format!("u{i}"), SVC, (i * 3 + 1) as Pod, persistence)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while connected_clients(&mut raw) < CALLERS as u64 + 2 {
        assert!(Instant::now() < deadline, "the pool did not fill");
        thread::sleep(Duration::from_millis(50));
    }

    raw_cmd(&mut raw, &["CLIENT", "PAUSE", "3000", "ALL"]);
    let paused_at = Instant::now();
    let barrier = Arc::new(Barrier::new(CALLERS));
    let callers: Vec<_> = (0..CALLERS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let started = Instant::now();
                let outcome = if t == 0 {
                    ex.get_linked_pod_if_persist(NS, "u0", SVC)
                } else {
                    ex.get_linked_pod(NS, &format!("u{t}"), SVC)
                };
                (outcome, started.elapsed())
            })
        })
        .collect();
    for (t, caller) in callers.into_iter().enumerate() {
        let (outcome, took) = caller.join().unwrap();
        let err = outcome.expect_err("a call on a paused server must fail");
        assert_eq!(err.kind(), ErrorKind::Timeout, "caller {t}: {err}");
        assert!(
            took >= command_timeout - Duration::from_millis(50) && took <= bound,
            "caller {t}: timed out after {took:?}, expected {command_timeout:?}..={bound:?}"
        );
    }
    assert!(
        paused_at.elapsed() < Duration::from_millis(3000),
        "the calls should have failed before the pause ended (machine too slow?)"
    );

    // Wait for the pause to end: the paused server now sends the late replies.
    raw_cmd(&mut raw, &["PING"]);
    thread::sleep(Duration::from_millis(200));

    // Many calls, each with its own answer, from several threads on the same executor.
    let checkers: Vec<_> = (0..CALLERS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                for i in (t..LINKED).step_by(CALLERS) {
                    let u = format!("u{i}");
                    let pod = (i * 3 + 1) as Pod;
                    assert_eq!(ex.get_linked_pod(NS, &u, SVC).unwrap(), Some(pod), "{u}");
                    if i % 5 == 0 {
                        let persistent = (i % 2 == 0).then_some(pod);
                        assert_eq!(
                            ex.get_linked_pod_if_persist(NS, &u, SVC).unwrap(),
                            persistent,
                            "{u}"
                        );
                    }
                }
            })
        })
        .collect();
    for checker in checkers {
        checker
            .join()
            .expect("a call after the pause got a wrong answer");
    }
}

#[test]
fn a_busy_pool_reports_pool_timeout() {
    let server = RedisServer::start();
    let ex = Arc::new(executor_with(&server, |c| {
        c.set_pool_max_size(1).unwrap();
        c.set_pool_wait_timeout(Duration::from_millis(300)).unwrap();
        c.set_command_timeout(Duration::from_secs(20)).unwrap();
        // The pool is what single commands wait for with pipelining off.
        c.set_pipelining(false);
    }));
    ex.set_linked_pod(NS, "u", SVC, 5, Persistence::Persistent)
        .unwrap();
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["CLIENT", "PAUSE", "5000", "ALL"]);

    // This call holds the only connection until the pause ends, then gets its answer.
    let holder = {
        let ex = Arc::clone(&ex);
        thread::spawn(move || ex.get_linked_pod(NS, "u", SVC))
    };
    // Give the holder ample time to take the connection, well before the pause ends.
    thread::sleep(Duration::from_millis(1000));
    let started = Instant::now();
    let err = ex.get_linked_pod(NS, "u", SVC).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    assert_within(started, Duration::from_millis(300 + 2500), "pool timeout");
    assert_eq!(holder.join().unwrap().unwrap(), Some(5));
    // The connection is back in the pool.
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), Some(5));
}

#[test]
fn open_on_a_closed_port_fails_quickly_with_a_connection_error() {
    let port = free_port();
    let config = Config::new(&format!("redis://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_within(
        started,
        config.connect_timeout() + Duration::from_secs(2),
        "open on a closed port",
    );
}

#[test]
fn a_killed_and_restarted_server_fails_calls_then_serves_the_same_executor() {
    let mut server = RedisServer::start();
    let ex = executor_with(&server, |c| {
        c.set_pool_wait_timeout(Duration::from_millis(500)).unwrap();
        c.set_connect_timeout(Duration::from_millis(500)).unwrap();
        c.set_command_timeout(Duration::from_millis(500)).unwrap();
    });
    // One attempt may be retried once: twice (pool wait + command), plus a margin.
    let bound = Duration::from_millis(2 * (500 + 500) + 3000);
    ex.set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
        .unwrap();
    ex.set_service_state(NS, SVC, 0, "Running").unwrap();

    server.kill();
    type Call = fn(&Executor) -> Result<()>;
    let calls: [(&str, Call); 7] = [
        ("get_linked_pod", |ex| {
            ex.get_linked_pod(NS, "u", SVC).map(drop)
        }),
        ("set_linked_pod", |ex| {
            ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
                .map(drop)
        }),
        ("get_linked_pod_if_persist", |ex| {
            ex.get_linked_pod_if_persist(NS, "u", SVC).map(drop)
        }),
        ("remove_linked_pod", |ex| {
            ex.remove_linked_pod(NS, "u", SVC, Grace::Immediate)
                .map(drop)
        }),
        ("get_service_state", |ex| {
            ex.get_service_state(NS, SVC).map(drop)
        }),
        ("batch_get_linked_pods", |ex| {
            ex.batch_get_linked_pods(NS, SVC, &["u"]).map(drop)
        }),
        ("ping", |ex| ex.ping()),
    ];
    for _round in 0..2 {
        for (name, call) in calls {
            let started = Instant::now();
            let err = call(&ex).expect_err(name);
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::PoolTimeout
                ),
                "{name} while down: {err}"
            );
            assert_within(started, bound, name);
        }
    }

    server.restart();
    // The restarted server has no data and no cached scripts; the same executor works again.
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), None);
    assert_eq!(
        ex.set_linked_pod(NS, "u", SVC, 6, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), Some(6));
    assert_eq!(
        ex.try_set_linked_pod(NS, "u", SVC, 7, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 6
        }
    );
    ex.ping().unwrap();
    let mut raw = server.raw();
    assert_eq!(get_str(&mut raw, "sf:{ns:lk:u}chat").as_deref(), Some("6"));
}

#[test]
fn idempotent_calls_succeed_at_once_after_a_restart_despite_a_pool_of_dead_connections() {
    const IDLE: u32 = 6;
    let mut server = RedisServer::start();
    let ex = executor_with(&server, |c| {
        c.set_pool_min_idle(IDLE).unwrap();
    });
    {
        let mut raw = server.raw();
        let deadline = Instant::now() + Duration::from_secs(20);
        while connected_clients(&mut raw) < u64::from(IDLE) + 1 {
            assert!(Instant::now() < deadline, "the pool did not fill");
            thread::sleep(Duration::from_millis(50));
        }
    }
    // Every pooled connection dies with the server; the new server is up before the next call.
    server.kill();
    server.restart();
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u}chat", "8"]);
    raw_cmd(&mut raw, &["HSET", "sf:{ns:state:chat}", "1", "Running"]);

    // Reads are idempotent: a read that meets a dead connection is retried on a new one, so
    // none of them fails while the server is up, however many dead connections the pool holds.
    for i in 0..2 * IDLE {
        assert_eq!(
            ex.get_linked_pod(NS, "u", SVC).unwrap(),
            Some(8),
            "read {i} after the restart"
        );
        assert_eq!(ex.get_service_state(NS, SVC).unwrap().len(), 1, "read {i}");
        ex.ping().unwrap();
    }
    assert_eq!(
        ex.set_linked_pod(NS, "u", SVC, 9, Persistence::Persistent)
            .unwrap(),
        Some(8)
    );
}

#[test]
fn wrong_or_missing_password_fails_open_with_auth() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let port = server.port;
    for url in [
        format!("redis://127.0.0.1:{port}"),
        format!("redis://:wrong-pw@127.0.0.1:{port}"),
        format!("redis://default:wrong-pw@127.0.0.1:{port}"),
        format!("redis://nobody:s3cret-pw@127.0.0.1:{port}"),
    ] {
        let err = Executor::open(&Config::new(&url).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{url}: {err}");
        assert!(
            !err.message().contains("wrong-pw") && !err.message().contains("s3cret-pw"),
            "{url}: the message shows a password: {err}"
        );
    }
    // The right password works.
    let ex = executor_with(&server, |_| {});
    ex.set_workload_state(NS, SVC, "Available").unwrap();
    assert_eq!(
        ex.get_workload_state(NS, SVC).unwrap().as_deref(),
        Some("Available")
    );
}
