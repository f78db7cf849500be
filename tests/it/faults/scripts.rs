//! The server's script cache flushed (SCRIPT FLUSH, as after a restart or a failover): a
//! NOSCRIPT reply is answered with EVAL within the same call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

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

/// SCRIPT FLUSH in a loop while 8 threads run script-based operations: every call succeeds with
/// the right answer.
#[test]
fn script_flush_under_load() {
    let _alone = alone();
    const THREADS: usize = 8;
    const RUN_FOR: Duration = Duration::from_millis(2500);
    let server = RedisServer::start();
    let ex = executor(&server, 8, ms(1000), ms(1000), ms(1000));
    let stop = Arc::new(AtomicBool::new(false));

    let flusher = {
        let mut raw = server.raw();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut flushes = 0u32;
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::SeqCst) && flushes < 20_000 && Instant::now() < deadline {
                let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut raw).unwrap();
                flushes += 1;
                thread::sleep(ms(2));
            }
            flushes
        })
    };
    let run = LoadRun::for_time(THREADS, RUN_FOR, |t| {
        let ex = Arc::clone(&ex);
        let mut rng = Rng::new(t as u64 + 1);
        let mut model: HashMap<String, Option<Pod>> = HashMap::new();
        move |rec: &mut Recorder| {
            let uid = format!("flush-{t}-{}", rng.below(4));
            let op = random_link_op(&mut rng, 3);
            let state = model.get(&uid).copied().flatten();
            let (next, expected) = model_step(state, op);
            let answered = rec.call(
                !matches!(op, LinkOp::GetIfPersist),
                || run_link_op(&ex, NS, &uid, op),
                |got| {
                    (*got != expected)
                        .then(|| format!("{op:?}: expected {expected:?}, got {got:?}"))
                },
            );
            if answered.is_some() {
                model.insert(uid, next);
            }
        }
    });
    let calls = run.finish();
    stop.store(true, Ordering::SeqCst);
    let flushes = flusher.join().expect("flusher panicked");
    let mut raw = server.raw();
    let evals = command_calls(&mut raw, "eval");
    let evalshas = command_calls(&mut raw, "evalsha");
    let links = assert_links_whole(&mut raw, NS);

    let bad = calls.only(|c| !c.is_ok());
    let summary = format!(
        "script flush: {} calls, {} failed or wrong, {flushes} SCRIPT FLUSH, {evalshas} EVALSHA, \
         {evals} EVAL fallbacks after NOSCRIPT, slowest call {:?}, {links} link keys whole",
        calls.len(),
        bad.len(),
        calls.slowest(),
    );
    println!("{summary}");
    assert!(bad.is_empty(), "{summary}; {:?}", bad.sample_errors());
    assert!(calls.len() > 500, "too little load: {summary}");
    assert!(flushes > 50, "too few flushes: {summary}");
    assert!(evals > 0, "no call ever met a flushed cache: {summary}");
}
