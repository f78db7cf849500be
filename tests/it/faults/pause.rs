//! A paused or sleeping server (CLIENT PAUSE, DEBUG SLEEP): calls time out within their bound,
//! waiting callers get pool timeouts, and a late reply is never taken as another call's answer.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

#[test]
fn a_paused_server_times_out_and_late_replies_are_never_taken_as_answers() {
    const LINKED: usize = 500;
    const CALLERS: usize = 4;
    let server = RedisServer::start();
    let command_timeout = Duration::from_millis(300);
    let ex = Arc::new(server.executor_with(|c| {
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
    wait_for_clients_at_least(&mut raw, CALLERS as u64 + 2);

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
    let ex = Arc::new(server.executor_with(|c| {
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

/// CLIENT PAUSE for 1 s under load from 8 threads: calls time out within the bound, and
/// afterwards 1,000 calls on uids linked to distinct pods all get their own answer (a late
/// reply to a timed-out call is never read as another call's answer).
#[test]
fn client_pause_under_load() {
    let _alone = alone();
    const THREADS: usize = 8;
    const UIDS: i32 = 1000;
    const VERIFY_CALLS: usize = 1000;
    let (connect, command, wait) = (ms(300), ms(300), ms(300));
    let bound = connect + command + wait;
    let margin = ms(1000);
    let pause = ms(1000);

    let server = RedisServer::start();
    let ex = executor(&server, 16, connect, command, wait);
    prelink(&ex, "pause-", UIDS);
    let run = LoadRun::until_settled(THREADS, VERIFY_CALLS / THREADS, |t| {
        let ex = Arc::clone(&ex);
        let mut rng = Rng::new(100 + t as u64);
        move |rec: &mut Recorder| prelinked_call(&ex, rec, &mut rng, "pause-", UIDS)
    });

    thread::sleep(ms(400));
    let mut raw = server.raw();
    let t_pause = run.now();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(pause.as_millis() as u64)
        .arg("ALL")
        .query(&mut raw)
        .unwrap();
    let t_resume = t_pause + pause;
    thread::sleep(pause + ms(500));
    let t_verify = run.settle();
    let calls = run.finish();

    let errors = calls.errors();
    let timeouts = calls.failed_with(ErrorKind::Timeout);
    let slowest_timeout = timeouts.slowest();
    let slowest_call = calls.slowest();
    let outside =
        calls.only(|c| c.failed().is_some() && (c.end < t_pause || c.start > t_resume + margin));
    let wrong = calls.wrong();
    let after = calls.started_after(t_verify);
    let after_ok = after.ok_count();
    let links = assert_links_whole(&mut raw, NS);
    let summary = format!(
        "client pause {pause:?}: {} calls; errors by kind {errors:?}; slowest timeout \
         {slowest_timeout:?}, slowest call {slowest_call:?} (bound {bound:?} + margin {margin:?}); \
         {} wrong answers; {after_ok}/{} calls correct after the pause; {links} link keys whole; \
         sample errors {:?}",
        calls.len(),
        wrong.len(),
        after.len(),
        calls.sample_errors(),
    );
    println!("{summary}");
    assert!(!timeouts.is_empty(), "no call timed out: {summary}");
    assert!(
        calls.errors_only_of(&["SF_CONNECTION", "SF_TIMEOUT", "SF_POOL_TIMEOUT"]),
        "unexpected error kinds: {summary}"
    );
    assert!(
        slowest_timeout <= command + wait + margin,
        "a timeout came late: {summary}"
    );
    assert!(
        slowest_call <= bound + margin,
        "a call took too long: {summary}"
    );
    assert!(outside.is_empty(), "errors outside the pause: {summary}");
    assert!(wrong.is_empty(), "wrong answers: {summary}");
    assert!(
        after.len() >= VERIFY_CALLS,
        "too few calls after: {summary}"
    );
    assert_eq!(after_ok, after.len(), "failures after the pause: {summary}");
}

/// A pool of 2 for 16 threads while the server sleeps (`DEBUG SLEEP 0.8`): the waiting threads
/// get PoolTimeout after the pool wait timeout, no other error, and all is well afterwards.
/// (With pipelining, single commands wait on the shared connection instead, within the
/// command timeout: the pool is for pipelining off.)
#[test]
fn pool_exhaustion_reports_pool_timeout() {
    let _alone = alone();
    const THREADS: usize = 16;
    let wait = ms(200);
    let margin = ms(600);
    let sleep = ms(800);

    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let ex = pooled_executor(&server, 2, ms(300), ms(5000), wait);
    ex.set_linked_pod(NS, "pool-u", SVC, 7, Persistence::Persistent)
        .unwrap();
    let run = LoadRun::for_time(THREADS, ms(300) + sleep + ms(700), |_| {
        let ex = Arc::clone(&ex);
        move |rec: &mut Recorder| {
            rec.call(
                false,
                || ex.get_linked_pod(NS, "pool-u", SVC),
                expect_pod(Some(7)),
            );
        }
    });
    thread::sleep(ms(300));
    let mut raw = server.raw();
    let t_sleep = run.now();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(sleep.as_secs_f64())
        .query(&mut raw)
        .unwrap();
    let t_woke = run.now();
    let calls = run.finish();

    let errors = calls.errors();
    let pool_timeouts = calls.failed_with(ErrorKind::PoolTimeout);
    let quickest = pool_timeouts.quickest();
    let slowest_pool_timeout = pool_timeouts.slowest();
    let late = calls.only(|c| !c.is_ok() && (c.end < t_sleep || c.start > t_woke + ms(100)));
    let summary = format!(
        "pool exhaustion: {} calls; errors by kind {errors:?}; pool timeouts took \
         {quickest:?}..{slowest_pool_timeout:?} (pool wait {wait:?} + margin {margin:?}); server \
         slept {:?}; threads overslept by up to {:?}; sample errors {:?}",
        calls.len(),
        t_woke - t_sleep,
        calls.stall,
        calls.sample_errors(),
    );
    println!("{summary}");
    assert!(!pool_timeouts.is_empty(), "no pool timeout: {summary}");
    assert_eq!(
        errors.keys().copied().collect::<Vec<_>>(),
        vec!["SF_POOL_TIMEOUT"],
        "{summary}"
    );
    assert!(quickest >= wait, "a pool timeout came early: {summary}");
    assert!(
        slowest_pool_timeout <= wait + margin,
        "a pool timeout came late: {summary}"
    );
    // Outside the sleep the two connections serve everyone at once, unless the machine kept a
    // thread that holds one off the CPU for about a pool wait (other work on it).
    if calls.stall < wait / 2 {
        assert!(late.is_empty(), "errors outside the sleep: {summary}");
    } else {
        println!(
            "a thread overslept by {:?}: errors outside the sleep not judged ({} of them)",
            calls.stall,
            late.len()
        );
    }
}
