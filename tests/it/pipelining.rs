//! Auto-pipelining: calls of many threads in flight together on one shared connection, each
//! getting its own reply; one caller timing out while others wait; a connection that ends (or
//! breaks the protocol) with several calls in flight; and the same operations against a real
//! redis-server with pipelining on and off; and the adaptive routing (a call takes the shared
//! connection only while enough calls are in flight). The tests of the shared connection's
//! own behaviour send every call through it (`set_pipelining_min_in_flight(1)`).
//!
//! A scripted fake Redis on loopback (here, in Rust) answers GET and SET by key, and misbehaves
//! for keys that ask it to: `slow-<ms>` delays that reply (and so every later one on the
//! connection), `drop` closes the connection without answering what it has read, `garbage`
//! answers with broken framing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{parse_command, well_behaved_reply, RedisServer};
use stateful_executor::{Config, ErrorKind, Executor, Persistence};

const T: Duration = Duration::from_millis(1000);
/// Scheduling room on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(400);

struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// The most commands parsed out of one read: above 1, commands shared a write.
    most_per_read: Arc<AtomicUsize>,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = FakeServer {
            port,
            stop: Arc::default(),
            accepted: Arc::default(),
            most_per_read: Arc::default(),
        };
        let (stop, accepted, most) = (
            Arc::clone(&server.stop),
            Arc::clone(&server.accepted),
            Arc::clone(&server.most_per_read),
        );
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let (stop, most) = (Arc::clone(&stop), Arc::clone(&most));
                        thread::spawn(move || serve(stream, &stop, &most));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        server
    }

    fn executor(&self, pipelining: bool) -> Executor {
        let mut config = Config::new(&format!("redis://127.0.0.1:{}", self.port)).unwrap();
        config
            .set_command_timeout(T)
            .unwrap()
            .set_pipelining(pipelining)
            .set_pipelining_min_in_flight(1)
            .unwrap();
        Executor::open(&config).expect("open on the fake server")
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut stream: TcpStream, stop: &AtomicBool, most: &AtomicUsize) {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let mut commands = Vec::new();
        while let Some((args, used)) = parse_command(&buf) {
            buf.drain(..used);
            commands.push(args);
        }
        most.fetch_max(commands.len(), Ordering::SeqCst);
        if commands.iter().any(|args| mentions(args, "drop")) {
            // Close with every command of this read unanswered.
            return;
        }
        let mut out = Vec::new();
        for args in &commands {
            if let Some(ms) = args.iter().find_map(|a| slow_ms(a)) {
                // Everything before it goes out now; its reply (and all later ones) late.
                if stream.write_all(&out).is_err() {
                    return;
                }
                out.clear();
                thread::sleep(Duration::from_millis(ms));
            }
            out.extend_from_slice(&answer(args));
        }
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

fn mentions(args: &[Vec<u8>], word: &str) -> bool {
    args.iter()
        .any(|a| String::from_utf8_lossy(a).contains(word))
}

fn slow_ms(arg: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(arg);
    let rest = text.split("slow-").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A workload key `sf:{ns:workload:svc}` holds "state-of-svc".
fn own_value(key: &[u8]) -> Vec<u8> {
    let key = String::from_utf8_lossy(key);
    match key.split(":workload:").nth(1) {
        Some(rest) => format!("state-of-{}", rest.trim_end_matches('}')).into_bytes(),
        None => b"?".to_vec(),
    }
}

fn answer(args: &[Vec<u8>]) -> Vec<u8> {
    if mentions(args, "garbage") {
        // A bulk string not followed by CRLF.
        return b"$1\r\n3:9\r\n".to_vec();
    }
    well_behaved_reply(args, own_value)
}

fn state(value: &str) -> Option<String> {
    Some(format!("state-of-{value}"))
}

/// Runs `calls` on threads, each started `stagger` after the previous; their outcomes and
/// durations, in order.
fn staggered<R: Send + 'static>(
    calls: Vec<Box<dyn FnOnce() -> R + Send>>,
    stagger: Duration,
) -> Vec<(R, Duration)> {
    let handles: Vec<_> = calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| {
            thread::spawn(move || {
                thread::sleep(stagger * i as u32);
                let started = Instant::now();
                let out = call();
                (out, started.elapsed())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_calls_share_one_connection_and_each_gets_its_own_reply() {
    let server = FakeServer::start();
    let ex = Arc::new(server.executor(true));
    let opened = server.accepted.load(Ordering::SeqCst);
    // The first call holds the connection's reply 300 ms, so the others are queued meanwhile
    // and written together after it.
    let mut calls: Vec<Box<dyn FnOnce() -> _ + Send>> = Vec::new();
    for i in 0..12 {
        let ex = Arc::clone(&ex);
        let service = if i == 0 {
            "slow-300".to_string()
        } else {
            format!("svc-{i}")
        };
        calls.push(Box::new(move || {
            (
                ex.get_workload_state("ns", &service).unwrap(),
                state(&service),
            )
        }));
    }
    let outcomes = staggered(calls, Duration::from_millis(10));
    for ((got, expected), _) in &outcomes {
        assert_eq!(got, expected);
    }
    assert_eq!(
        server.accepted.load(Ordering::SeqCst) - opened,
        1,
        "one shared connection"
    );
    let most = server.most_per_read.load(Ordering::SeqCst);
    assert!(most >= 4, "at most {most} commands arrived in one read");

    // Many threads at once, many rounds: every reply reaches the thread that asked.
    let barrier = Arc::new(Barrier::new(16));
    let workers: Vec<_> = (0..16)
        .map(|t| {
            let (ex, barrier) = (Arc::clone(&ex), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for round in 0..300 {
                    let service = format!("t{t}-r{round}");
                    assert_eq!(
                        ex.get_workload_state("ns", &service).unwrap(),
                        state(&service)
                    );
                    let many = [format!("a{t}"), format!("b{round}")];
                    assert_eq!(
                        ex.get_workload_states("ns", &many).unwrap(),
                        vec![state(&many[0]), state(&many[1])]
                    );
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst) - opened, 1);
}

#[test]
fn a_waiter_that_times_out_leaves_the_others_their_replies() {
    let server = FakeServer::start();
    let ex = Arc::new(server.executor(true));
    // A's reply comes at 1.2 s, after A's deadline (1 s); B, started at 0.5 s, waits behind it
    // on the same connection and gets its own reply at 1.2 s, within its deadline (1.5 s).
    let (a, b) = (Arc::clone(&ex), Arc::clone(&ex));
    let calls: Vec<Box<dyn FnOnce() -> _ + Send>> = vec![
        Box::new(move || a.get_workload_state("ns", "slow-1200")),
        Box::new(move || b.get_workload_state("ns", "svc-b")),
    ];
    let outcomes = staggered(calls, Duration::from_millis(500));
    let (a_outcome, a_took) = &outcomes[0];
    assert_eq!(a_outcome.as_ref().unwrap_err().kind(), ErrorKind::Timeout);
    assert!(*a_took >= T && *a_took < T + SLACK, "A took {a_took:?}");
    let (b_outcome, b_took) = &outcomes[1];
    assert_eq!(b_outcome.as_ref().unwrap(), &state("svc-b"));
    assert!(*b_took < T + SLACK, "B took {b_took:?}");
    // A's late reply was read and discarded: the next call gets its own.
    assert_eq!(
        ex.get_workload_state("ns", "svc-c").unwrap(),
        state("svc-c")
    );
}

#[test]
fn a_lone_caller_timing_out_closes_the_connection() {
    let server = FakeServer::start();
    let ex = server.executor(true);
    let opened = server.accepted.load(Ordering::SeqCst);
    assert_eq!(
        ex.get_workload_state("ns", "svc-a").unwrap(),
        state("svc-a")
    );
    let started = Instant::now();
    let late = ex.get_workload_state("ns", "slow-1500");
    assert_eq!(late.unwrap_err().kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < T + SLACK);
    // Nobody waits on the connection any more: it was closed, so the late reply can't be
    // taken for the next call's, nor hold it up.
    let started = Instant::now();
    assert_eq!(
        ex.get_workload_state("ns", "svc-b").unwrap(),
        state("svc-b")
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(server.accepted.load(Ordering::SeqCst) - opened, 2);
}

#[test]
fn a_connection_dropped_with_several_calls_in_flight_fails_each_cleanly() {
    let server = FakeServer::start();
    let ex = Arc::new(server.executor(true));
    // The first call's reply is held 300 ms: the others queue, then are written in one batch,
    // which holds a command that makes the server close without answering any of them.
    let mut calls: Vec<Box<dyn FnOnce() -> _ + Send>> = Vec::new();
    let first = Arc::clone(&ex);
    calls.push(Box::new(move || {
        first.get_workload_state("ns", "slow-300").map(|_| ())
    }));
    for i in 0..6 {
        let ex = Arc::clone(&ex);
        let service = if i == 0 {
            "drop".to_string()
        } else {
            format!("svc-{i}")
        };
        calls.push(Box::new(move || {
            ex.set_workload_state("ns", &service, "state")
        }));
    }
    let started = Instant::now();
    let outcomes = staggered(calls, Duration::from_millis(20));
    assert!(outcomes[0].0.is_ok());
    for (i, (outcome, _)) in outcomes.iter().enumerate().skip(1) {
        // Writes are never resent: each one in flight fails with Connection (outcome unknown).
        let err = outcome.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "call {i}: {err}");
    }
    assert!(started.elapsed() < T + SLACK);
    assert!(server.most_per_read.load(Ordering::SeqCst) >= 2);
    // Reads in flight on a dropped connection are retried once, on a new one.
    assert_eq!(
        ex.get_workload_state("ns", "svc-x").unwrap(),
        state("svc-x")
    );
}

#[test]
fn a_reply_breaking_the_protocol_fails_every_call_in_flight_and_no_other() {
    let server = FakeServer::start();
    let ex = Arc::new(server.executor(true));
    let mut calls: Vec<Box<dyn FnOnce() -> _ + Send>> = Vec::new();
    let first = Arc::clone(&ex);
    calls.push(Box::new(move || {
        first
            .get_workload_state("ns", "slow-300")
            .map(|v| (v, state("slow-300")))
    }));
    for i in 0..6 {
        let ex = Arc::clone(&ex);
        let service = if i == 0 {
            "garbage".to_string()
        } else {
            format!("svc-{i}")
        };
        calls.push(Box::new(move || {
            ex.get_workload_state("ns", &service)
                .map(|v| (v, state(&service)))
        }));
    }
    let outcomes = staggered(calls, Duration::from_millis(20));
    let mut failed = 0;
    for (outcome, _) in &outcomes {
        match outcome {
            // Whoever got an answer got its own (reads on the broken connection are retried).
            Ok((got, expected)) => assert_eq!(got, expected),
            Err(err) => {
                failed += 1;
                assert!(
                    matches!(
                        err.kind(),
                        ErrorKind::Connection | ErrorKind::UnexpectedReply
                    ),
                    "{err}"
                );
            }
        }
    }
    // The broken reply's own caller fails (its retry gets garbage again).
    assert!(failed >= 1);
    assert!(outcomes[1].0.is_err());
    assert_eq!(
        ex.get_workload_state("ns", "svc-y").unwrap(),
        state("svc-y")
    );
}

/// Every operation, on a real server, gives the same answers with pipelining on and off.
#[test]
fn operations_agree_with_pipelining_on_and_off() {
    let server = RedisServer::start();
    for pipelining in [true, false] {
        let ns = if pipelining { "on" } else { "off" };
        let mut config = Config::new(&server.admin_url()).unwrap();
        config
            .set_pipelining(pipelining)
            .set_pipelining_min_in_flight(1)
            .unwrap();
        assert_eq!(config.pipelining(), pipelining);
        let ex = Arc::new(Executor::open(&config).unwrap());
        ex.ping().unwrap();
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let ex = Arc::clone(&ex);
                thread::spawn(move || {
                    for i in 0..100 {
                        let uid = format!("u{t}-{i}");
                        let pod = i % 7;
                        assert_eq!(
                            ex.set_linked_pod_if_absent(
                                ns,
                                &uid,
                                "chat",
                                pod,
                                Persistence::Persistent
                            )
                            .unwrap(),
                            pod
                        );
                        assert_eq!(
                            ex.set_linked_pod_if_absent(
                                ns,
                                &uid,
                                "chat",
                                pod + 1,
                                Persistence::Persistent
                            )
                            .unwrap(),
                            pod
                        );
                        assert_eq!(ex.get_linked_pod(ns, &uid, "chat").unwrap(), Some(pod));
                        assert_eq!(
                            ex.get_linked_pod_if_persist(ns, &uid, "chat").unwrap(),
                            Some(pod)
                        );
                        ex.set_service_state(ns, &uid, pod, "ready").unwrap();
                        assert_eq!(
                            ex.get_service_state(ns, &uid).unwrap().get(&pod).unwrap(),
                            "ready"
                        );
                    }
                    let uids: Vec<String> = (0..100).map(|i| format!("u{t}-{i}")).collect();
                    let pods = ex.batch_get_linked_pods(ns, "chat", &uids).unwrap();
                    for (i, pod) in pods.iter().enumerate() {
                        assert_eq!(*pod, Some((i % 7) as i32));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
    }
}

/// Over a unix socket: concurrent calls share the one connection and get their own answers.
#[test]
fn a_unix_socket_carries_concurrent_calls() {
    let dir = crate::harness::temp_dir("unix");
    let socket = dir.join("redis.sock");
    let socket_arg = socket.display().to_string();
    let server = RedisServer::start_with(&["--unixsocket", &socket_arg, "--unixsocketperm", "700"]);
    let mut config = Config::new(&format!("unix://{socket_arg}")).unwrap();
    config
        .set_pipelining(true)
        .set_pipelining_min_in_flight(1)
        .unwrap();
    let ex = Arc::new(Executor::open(&config).unwrap());
    link_and_read_back(&ex, 8, 200);
    // Every write landed, each on its own key.
    let mut raw = server.raw();
    assert_eq!(crate::harness::dbsize(&mut raw), 8 * 200 * 2);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The statistics count the shared connection: opened (`connects`), open and idle.
#[test]
fn statistics_count_the_shared_connection() {
    let server = RedisServer::start();
    let mut config = Config::new(&server.admin_url()).unwrap();
    config
        .set_pipelining(true)
        .set_pipelining_min_in_flight(1)
        .unwrap();
    let ex = Executor::open(&config).unwrap();
    let opened = ex.stats();
    assert_eq!(opened.connects, 1, "the first connection only: {opened:?}");
    assert_eq!(ex.get_workload_state("ns", "svc").unwrap(), None);
    let used = ex.stats();
    assert_eq!(used.connects, 2, "{used:?}");
    assert_eq!(
        (used.connections, used.idle_connections),
        (1, 1),
        "{used:?}"
    );
    assert_eq!(used.calls, 1);
    // A dropped shared connection is opened again on the next call (a read: retried once).
    raw_kill(&server);
    assert_eq!(ex.get_workload_state("ns", "svc").unwrap(), None);
    let after = ex.stats();
    assert_eq!(after.connects, 3, "{after:?}");
    assert_eq!(after.retries, 1, "{after:?}");
    assert_eq!(after.failed_calls, 0);
}

/// A batch read of up to 256 keys goes through the shared connection; a larger one through a
/// pooled connection (its reply is too large for combining to pay), with the same answers.
#[test]
fn large_batches_use_a_pooled_connection() {
    let server = RedisServer::start();
    let mut config = Config::new(&server.admin_url()).unwrap();
    config
        .set_pipelining(true)
        .set_pipelining_min_in_flight(1)
        .unwrap();
    let ex = Executor::open(&config).unwrap();
    for i in 0..10 {
        ex.set_linked_pod("ns", &format!("u{i}"), "chat", i, Persistence::Persistent)
            .unwrap();
    }
    let shared = ex.stats().connects;
    let expected =
        |n: usize| -> Vec<Option<i32>> { (0..n).map(|i| (i < 10).then_some(i as i32)).collect() };
    let uids = |n: usize| -> Vec<String> { (0..n).map(|i| format!("u{i}")).collect() };
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &uids(256)).unwrap(),
        expected(256)
    );
    assert_eq!(
        ex.stats().connects,
        shared,
        "256 keys: the shared connection"
    );
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &uids(257)).unwrap(),
        expected(257)
    );
    assert_eq!(
        ex.stats().connects,
        shared + 1,
        "257 keys: a pooled connection"
    );
}

/// Adaptive routing (the default threshold): a lone caller holds a pooled connection, as with
/// pipelining off, and never opens the shared one.
#[test]
fn a_lone_caller_uses_a_pooled_connection() {
    let server = RedisServer::start();
    let mut config = Config::new(&server.admin_url()).unwrap();
    // (Set explicitly: `SF_PIPELINING=always` makes 1 the default of the process.)
    config
        .set_pipelining(true)
        .set_pipelining_min_in_flight(stateful_executor::DEFAULT_PIPELINING_MIN_IN_FLIGHT)
        .unwrap();
    let refused = config.set_pipelining_min_in_flight(0).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        config.pipelining_min_in_flight(),
        stateful_executor::DEFAULT_PIPELINING_MIN_IN_FLIGHT,
        "a refused value changes nothing"
    );
    let ex = Executor::open(&config).unwrap();
    for i in 0..50 {
        ex.set_linked_pod("ns", &format!("u{i}"), "chat", i, Persistence::Persistent)
            .unwrap();
        assert_eq!(
            ex.get_linked_pod("ns", &format!("u{i}"), "chat").unwrap(),
            Some(i)
        );
    }
    let stats = ex.stats();
    assert_eq!(stats.calls, 100, "{stats:?}");
    assert_eq!(stats.pipelined_calls, 0, "{stats:?}");
    // The first connection, then one pooled connection reused for every call.
    assert_eq!(stats.connects, 2, "{stats:?}");
    assert_eq!(
        (stats.connections, stats.idle_connections),
        (1, 1),
        "{stats:?}"
    );
}

/// Adaptive routing: with 16 callers in flight at once (held up by a paused server at first)
/// the shared connection carries calls, every caller gets its own answer, and the calls on
/// pooled connections (fewer than the threshold at once) never wait for the pool.
#[test]
fn many_callers_in_flight_share_the_connection() {
    let server = RedisServer::start();
    let mut config = Config::new(&server.admin_url()).unwrap();
    config
        .set_pipelining(true)
        .set_pipelining_min_in_flight(4)
        .unwrap()
        .set_pool_max_size(4)
        .unwrap();
    let ex = Arc::new(Executor::open(&config).unwrap());
    let mut raw = server.raw();
    crate::harness::raw_cmd(&mut raw, &["CLIENT", "PAUSE", "300", "ALL"]);
    link_and_read_back(&ex, 16, 20);
    let stats = ex.stats();
    assert_eq!(stats.calls, 16 * 20 * 2, "{stats:?}");
    assert_eq!(stats.failed_calls, 0, "{stats:?}");
    assert_eq!(stats.pool_timeouts, 0, "{stats:?}");
    assert!(stats.pipelined_calls >= 12, "{stats:?}");
    assert!(stats.pipelined_calls < stats.calls, "{stats:?}");
    assert_eq!(crate::harness::dbsize(&mut raw), 16 * 20 * 2);
}

fn raw_kill(server: &RedisServer) {
    let mut raw = server.raw();
    crate::harness::raw_cmd(
        &mut raw,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
}

/// `threads` threads each link `rounds` uids of their own (`u{thread}-{round}`) and read each
/// link back at once: every caller must get its own answer.
fn link_and_read_back(ex: &Arc<Executor>, threads: i32, rounds: i32) {
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let ex = Arc::clone(ex);
            thread::spawn(move || {
                for round in 0..rounds {
                    let uid = format!("u{t}-{round}");
                    let pod = t * 1000 + round;
                    ex.set_linked_pod("ns", &uid, "chat", pod, Persistence::Persistent)
                        .unwrap();
                    assert_eq!(ex.get_linked_pod("ns", &uid, "chat").unwrap(), Some(pod));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}
