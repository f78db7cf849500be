//! The server killed (SIGKILL) and restarted on the same port, or not there at all.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

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
    let ex = server.executor_with(|c| {
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
    assert_eq!(get_str(&mut raw, &link_key("u")).as_deref(), Some("6"));
}

#[test]
fn idempotent_calls_succeed_at_once_after_a_restart_despite_a_pool_of_dead_connections() {
    const IDLE: u32 = 6;
    let mut server = RedisServer::start();
    let ex = server.executor_with(|c| {
        c.set_pool_min_idle(IDLE).unwrap();
    });
    wait_for_clients_at_least(&mut server.raw(), u64::from(IDLE) + 1);
    // Every pooled connection dies with the server; the new server is up before the next call.
    server.kill();
    server.restart();
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SET", &link_key("u"), "8"]);
    raw_cmd(
        &mut raw,
        &["HSET", &format!("sf:{{{NS}:state:{SVC}}}"), "1", "Running"],
    );

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

/// Redis is killed (SIGKILL) under load from 8 threads and restarted on the same port 2 s later.
#[test]
fn sigkill_and_restart_under_load() {
    let _alone = alone();
    const THREADS: usize = 8;
    const VERIFY_ROUNDS: usize = 60;
    let (connect, command, wait) = (ms(300), ms(300), ms(300));
    let bound = connect + command + wait;
    let margin = ms(1000);

    let mut server = RedisServer::start();
    let ex = executor(&server, 16, connect, command, wait);
    let run = LoadRun::until_settled(THREADS, VERIFY_ROUNDS, |t| {
        let ex = Arc::clone(&ex);
        let mut i: Pod = 0;
        move |rec: &mut Recorder| {
            i += 1;
            let uid = format!("kill-{t}-{}", i % 16);
            let set = rec.call(
                true,
                || ex.set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent),
                |_| None,
            );
            if set.is_some() {
                rec.call(
                    false,
                    || ex.get_linked_pod(NS, &uid, SVC),
                    expect_pod(Some(i)),
                );
            }
        }
    });

    thread::sleep(ms(600));
    let t_kill = run.now();
    server.kill();
    thread::sleep(Duration::from_secs(2));
    let t_restart = run.now();
    server.restart();
    let t_ready = run.now();
    thread::sleep(ms(700));
    let t_verify = run.settle();
    let calls = run.finish();
    drop(ex);
    drop(server);

    let before = calls.ended_before(t_kill);
    let outage = calls.only(|c| c.end >= t_kill && c.start < t_verify);
    let after = calls.started_after(t_verify);
    let errors = calls.errors();
    let outage_errors = outage.errors();
    let slowest_call = calls.slowest();
    let first_success = calls
        .iter()
        .filter(|c| c.is_ok() && c.end > t_restart)
        .map(|c| c.end)
        .min()
        .expect("no call succeeded after the restart");
    let recovery_after_ready = first_success.saturating_sub(t_ready);
    let recovery_after_spawn = first_success.saturating_sub(t_restart);
    let wrong_late = calls.only(|c| c.is_wrong() && c.start >= t_ready);
    let wrong_lost = calls.wrong().len() - wrong_late.len();
    let summary = format!(
        "sigkill: {} calls ({} before the kill, {} around the outage, {} after recovery); \
         errors by kind {errors:?}; outage errors {outage_errors:?}; slowest call {slowest_call:?} \
         (bound {bound:?} + margin {margin:?}); server down {:?}, restart took {:?}; first success \
         {recovery_after_ready:?} after the server answered ({recovery_after_spawn:?} after \
         relaunch); {wrong_lost} reads found a link lost with the killed server (no persistence); \
         sample errors {:?}",
        calls.len(),
        before.len(),
        outage.len(),
        after.len(),
        t_restart - t_kill,
        t_ready - t_restart,
        calls.sample_errors(),
    );
    println!("{summary}");

    assert!(
        before.len() > 100,
        "too little load before the kill: {summary}"
    );
    assert!(
        before.all_ok(),
        "failures before the kill: {:?}; {summary}",
        before.sample_errors()
    );
    assert!(
        calls.errors_only_of(&["SF_CONNECTION", "SF_TIMEOUT", "SF_POOL_TIMEOUT"]),
        "unexpected error kinds: {summary}"
    );
    assert!(
        !outage.failed().is_empty(),
        "the outage went unnoticed: {summary}"
    );
    assert!(
        slowest_call <= bound + margin,
        "a call took {slowest_call:?}: {summary}"
    );
    assert!(
        recovery_after_ready <= ms(1000) + ms(500),
        "slow recovery: {summary}"
    );
    assert!(
        wrong_late.is_empty(),
        "wrong answers after the restart: {:?}; {summary}",
        wrong_late.sample_errors()
    );
    assert!(
        after.len() >= THREADS * VERIFY_ROUNDS * 2,
        "too few calls after recovery: {summary}"
    );
    assert!(
        after.all_ok(),
        "failures after recovery: {:?}; {summary}",
        after.sample_errors()
    );
}
