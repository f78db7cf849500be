//! Many threads sharing one executor: the writing scripts are atomic (exactly one writer per
//! link, everyone sees the same pod) and answers never get crossed between threads.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use stateful_executor::*;

const NS: &str = "race";
const SVC: &str = "chat";
const THREADS: usize = 16;
const UIDS: usize = 50;

fn uid(i: usize) -> String {
    format!("uid-{i}")
}

/// The pod that thread `t` proposes: distinct per thread.
fn proposal(t: usize) -> Pod {
    100 + t as Pod
}

/// Runs `work(thread, uid index)` from THREADS threads over all UIDS uids (each thread in its
/// own order, all released at once) and returns the results as `[thread][uid]`.
fn race<T: Send + 'static>(
    ex: &Arc<Executor>,
    work: impl Fn(&Executor, usize, usize) -> T + Send + Sync + 'static,
) -> Vec<Vec<T>> {
    let barrier = Arc::new(Barrier::new(THREADS));
    let work = Arc::new(work);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(ex);
            let barrier = Arc::clone(&barrier);
            let work = Arc::clone(&work);
            thread::spawn(move || {
                barrier.wait();
                let mut out: Vec<Option<T>> = (0..UIDS).map(|_| None).collect();
                // Each thread walks the uids from its own starting point, half of them backwards.
                for step in 0..UIDS {
                    let i = if t % 2 == 0 {
                        (t * 3 + step) % UIDS
                    } else {
                        (t * 3 + UIDS - step) % UIDS
                    };
                    out[i] = Some(work(&ex, t, i));
                }
                out.into_iter().map(Option::unwrap).collect::<Vec<T>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("thread panicked"))
        .collect()
}

/// Every thread got the same pod for each uid, and that pod is one of the proposals.
fn agreed_winners(results: &[Vec<Pod>]) -> Vec<Pod> {
    (0..UIDS)
        .map(|i| {
            let winner = results[0][i];
            for (t, row) in results.iter().enumerate() {
                assert_eq!(row[i], winner, "thread {t} saw another pod for {}", uid(i));
            }
            assert!(
                (0..THREADS).any(|t| proposal(t) == winner),
                "{}: {winner} was never proposed",
                uid(i)
            );
            winner
        })
        .collect()
}

#[test]
fn set_if_absent_race_has_exactly_one_winner_per_uid() {
    let server = RedisServer::start();
    let ex = Arc::new(server.executor());
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["CONFIG", "RESETSTAT"]);

    let results = race(&ex, |ex, t, i| {
        ex.set_linked_pod_if_absent(NS, &uid(i), SVC, proposal(t), Persistence::Persistent)
            .unwrap()
    });
    let winners = agreed_winners(&results);

    // Exactly one write per uid (SET and HSET also count when a script calls them).
    assert_eq!(command_calls(&mut raw, "set"), UIDS as u64);
    assert_eq!(command_calls(&mut raw, "hset"), UIDS as u64);
    for (i, winner) in winners.iter().enumerate() {
        let link = format!("sf:{{{NS}:lk:{}}}{SVC}", uid(i));
        assert_eq!(get_str(&mut raw, &link), Some(winner.to_string()));
        assert_eq!(ttl(&mut raw, &link), -1);
        let hash = hgetall(&mut raw, &format!("sf:{{{NS}:lk:{}}}", uid(i)));
        assert_eq!(hash.get(SVC), Some(&winner.to_string()));
        assert_eq!(ex.get_linked_pod(NS, &uid(i), SVC).unwrap(), Some(*winner));
    }
}

#[test]
fn temporary_set_if_absent_race_has_exactly_one_winner_per_uid() {
    let server = RedisServer::start();
    let ex = Arc::new(server.executor());
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["CONFIG", "RESETSTAT"]);

    let results = race(&ex, |ex, t, i| {
        ex.set_linked_pod_if_absent(NS, &uid(i), SVC, proposal(t), Persistence::temporary(600))
            .unwrap()
    });
    let winners = agreed_winners(&results);
    assert_eq!(command_calls(&mut raw, "set"), UIDS as u64);
    for (i, winner) in winners.iter().enumerate() {
        let link = format!("sf:{{{NS}:lk:{}}}{SVC}", uid(i));
        assert_eq!(get_str(&mut raw, &link), Some(winner.to_string()));
        assert!(ttl(&mut raw, &link) > 500);
    }
    assert_eq!(dbsize(&mut raw), UIDS as i64);
}

#[test]
fn try_set_race_links_once_and_refuses_everyone_else() {
    let server = RedisServer::start();
    let ex = Arc::new(server.executor());
    let mut raw = server.raw();

    let results = race(&ex, |ex, t, i| {
        ex.try_set_linked_pod(NS, &uid(i), SVC, proposal(t), Persistence::Persistent)
            .unwrap()
    });
    for i in 0..UIDS {
        let linked: Vec<usize> = (0..THREADS).filter(|&t| results[t][i].linked).collect();
        assert_eq!(linked.len(), 1, "{}: linked by threads {linked:?}", uid(i));
        let winner = proposal(linked[0]);
        for (t, row) in results.iter().enumerate() {
            assert_eq!(row[i].pod, winner, "thread {t}, {}", uid(i));
        }
        let link = format!("sf:{{{NS}:lk:{}}}{SVC}", uid(i));
        assert_eq!(get_str(&mut raw, &link), Some(winner.to_string()));
    }
}

#[test]
fn compute_race_agrees_on_one_pod_per_uid() {
    let server = RedisServer::start();
    let ex = Arc::new(server.executor());
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["CONFIG", "RESETSTAT"]);

    // Each thread measured different loads: its own proposal looks least loaded to it.
    let results = race(&ex, |ex, t, i| {
        let candidates: Vec<Candidate> = (0..THREADS)
            .map(|p| Candidate::new(proposal(p), if p == t { 0 } else { 10 }))
            .collect();
        ex.compute_linked_pod(NS, &uid(i), SVC, Persistence::Persistent, &candidates)
            .unwrap()
            .expect("a pod")
    });
    let winners = agreed_winners(&results);
    assert_eq!(command_calls(&mut raw, "set"), UIDS as u64);
    for (i, winner) in winners.iter().enumerate() {
        assert_eq!(
            ex.get_linked_pod_if_persist(NS, &uid(i), SVC).unwrap(),
            Some(*winner)
        );
    }
}

#[test]
fn answers_never_cross_between_threads_on_a_small_pool() {
    let server = RedisServer::start();
    // Fewer connections than threads: callers queue for the pool (generous wait).
    let ex = Arc::new(executor_with(&server, |c| {
        c.set_pool_max_size(3).unwrap();
        c.set_pool_wait_timeout(Duration::from_secs(30)).unwrap();
        c.set_command_timeout(Duration::from_secs(10)).unwrap();
    }));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                for round in 0..40 {
                    let u = format!("t{t}-u{round}");
                    let pod = (t * 1000 + round) as Pod;
                    assert_eq!(
                        ex.set_linked_pod(NS, &u, SVC, pod, Persistence::Persistent)
                            .unwrap(),
                        None
                    );
                    assert_eq!(ex.get_linked_pod(NS, &u, SVC).unwrap(), Some(pod));
                    assert_eq!(
                        ex.set_linked_pod(NS, &u, SVC, pod + 1, Persistence::temporary(60))
                            .unwrap(),
                        Some(pod)
                    );
                    assert_eq!(ex.get_linked_pod_if_persist(NS, &u, SVC).unwrap(), None);
                    let state = format!("state-{t}-{round}");
                    ex.set_workload_state(NS, &u, &state).unwrap();
                    assert_eq!(ex.get_workload_state(NS, &u).unwrap(), Some(state));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread panicked");
    }
}
