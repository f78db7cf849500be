//! Many threads sharing one executor: the writing scripts are atomic (exactly one writer per
//! link, everyone sees the same pod), answers never get crossed between threads, and every
//! history of link operations on one uid is linearizable.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
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
    let ex = Arc::new(server.executor_with(|c| {
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

// ---- Linearizability ----

/// One completed operation of a history: its call and return times (ns on the test clock).
#[derive(Clone, Copy, Debug)]
struct Event {
    op: LinkOp,
    ret: LinkRet,
    call: u64,
    returned: u64,
}

/// Whether `history` (the operations on one uid) is linearizable with respect to `model_step`
/// from state `init`: Wing & Gong's search with Lowe's memoization (a (linearized set, state)
/// pair seen before is not explored again). Operations that overlap in time may take effect in
/// either order; one that returned before another was called must take effect first.
/// Returns the number of search steps, or `None` when no linearization exists.
fn linearizable(history: &[Event], init: Option<Pod>, max_steps: u64) -> Option<u64> {
    let n = history.len();
    // Entries 1..=2n: calls and returns in time order (calls first at equal times, which is
    // the permissive reading). Entry 0 is the list head.
    let mut order: Vec<(u64, bool, usize)> = history
        .iter()
        .enumerate()
        .flat_map(|(id, e)| [(e.call, false, id), (e.returned, true, id)])
        .collect();
    order.sort();
    let mut entry_of_return = vec![0; n];
    let mut entries = vec![(false, usize::MAX)]; // (is_return, id)
    for &(_, is_return, id) in &order {
        if is_return {
            entry_of_return[id] = entries.len();
        }
        entries.push((is_return, id));
    }
    let len = entries.len();
    let mut next: Vec<usize> = (1..=len).collect(); // `len` is the end
    let mut prev: Vec<usize> = (0..len).map(|i| i.wrapping_sub(1)).collect();
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = nx;
        if nx < len {
            prev[nx] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = e;
        if nx < len {
            prev[nx] = e;
        }
    };
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Option<Pod>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<Pod>)> = Vec::new();
    let mut state = init;
    let mut entry = next[0];
    let mut steps = 0u64;
    while next[0] < len {
        steps += 1;
        assert!(
            steps <= max_steps,
            "linearizability search exceeded {max_steps} steps"
        );
        let (is_return, id) = entries[entry];
        if !is_return {
            let (after, ret) = model_step(state, history[id].op);
            if ret == history[id].ret {
                let mut with = linearized.clone();
                with[id / 64] |= 1 << (id % 64);
                if seen.insert((with.clone(), after)) {
                    stack.push((entry, state));
                    state = after;
                    linearized = with;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, entry_of_return[id]);
                    entry = next[0];
                    continue;
                }
            }
            entry = next[entry];
        } else {
            // An operation returned before any order could place it: undo the last choice.
            let (call_entry, before) = stack.pop()?;
            let id = entries[call_entry].1;
            state = before;
            linearized[id / 64] &= !(1 << (id % 64));
            relink(&mut next, &mut prev, entry_of_return[id]);
            relink(&mut next, &mut prev, call_entry);
            entry = next[call_entry];
        }
    }
    Some(steps)
}

#[test]
fn linearizability_checker_rejects_impossible_histories() {
    let ev = |op, ret, call, returned| Event {
        op,
        ret,
        call,
        returned,
    };
    // Sequential and consistent.
    let ok = [
        ev(LinkOp::IfAbsent(1), LinkRet::Current(1), 0, 1),
        ev(LinkOp::TrySet(2), LinkRet::Tried(false, 1), 2, 3),
        ev(LinkOp::RemoveWithId(1), LinkRet::Removed(true), 4, 5),
        ev(LinkOp::Get, LinkRet::Got(None), 6, 7),
    ];
    assert!(linearizable(&ok, None, 1000).is_some());
    // Two if-absent winners with different pods in one absent period.
    let two_winners = [
        ev(LinkOp::IfAbsent(1), LinkRet::Current(1), 0, 10),
        ev(LinkOp::IfAbsent(2), LinkRet::Current(2), 1, 9),
    ];
    assert!(linearizable(&two_winners, None, 1000).is_none());
    // Overlapping: the set may take effect before the get.
    let overlap = [
        ev(LinkOp::Set(3), LinkRet::Previous(None), 0, 10),
        ev(LinkOp::Get, LinkRet::Got(Some(3)), 1, 2),
    ];
    assert!(linearizable(&overlap, None, 1000).is_some());
    // Not overlapping: a read that returned before the set began cannot see it.
    let stale = [
        ev(LinkOp::Get, LinkRet::Got(Some(3)), 0, 1),
        ev(LinkOp::Set(3), LinkRet::Previous(None), 2, 3),
    ];
    assert!(linearizable(&stale, None, 1000).is_none());
    // A remove-with-id that claims success while another pod was linked.
    let wrong_remove = [
        ev(LinkOp::Set(1), LinkRet::Previous(None), 0, 1),
        ev(LinkOp::RemoveWithId(2), LinkRet::Removed(true), 2, 3),
    ];
    assert!(linearizable(&wrong_remove, None, 1000).is_none());
}

/// 16 threads mix set, try-set, set-if-absent, remove-with-id and get on a few hot uids (three
/// pods, persistent links), recording every call with its start and end; each uid's history must
/// have a linearization (checked by search), ending in the state read after all threads stopped.
#[test]
fn links_are_linearizable() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 4;
    const UIDS_PER_ROUND: usize = 4;
    const OPS_PER_THREAD: usize = 16;

    let server = RedisServer::start();
    let ex = Arc::new(server.executor_with(|c| {
        c.set_pool_max_size(16).unwrap();
        c.set_connect_timeout(Duration::from_secs(2)).unwrap();
        c.set_command_timeout(Duration::from_secs(2)).unwrap();
        c.set_pool_wait_timeout(Duration::from_secs(5)).unwrap();
    }));
    let clock = Instant::now();
    let mut histories: Vec<Vec<Event>> = Vec::new();
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let ex = Arc::clone(&ex);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let mut rng = Rng::new((round * THREADS + t) as u64 + 1000);
                    let mut events = Vec::new();
                    barrier.wait();
                    for _ in 0..OPS_PER_THREAD {
                        let u = rng.below(UIDS_PER_ROUND as u64) as usize;
                        let op = match rng.below(10) {
                            0 | 1 => LinkOp::Set(rng.below(3) as Pod),
                            2..=4 => LinkOp::TrySet(rng.below(3) as Pod),
                            5 | 6 => LinkOp::IfAbsent(rng.below(3) as Pod),
                            7 | 8 => LinkOp::RemoveWithId(rng.below(3) as Pod),
                            _ => LinkOp::Get,
                        };
                        let uid = format!("lin-{round}-{u}");
                        let call = clock.elapsed().as_nanos() as u64;
                        let ret = run_link_op(&ex, NS, &uid, op).expect("no faults here");
                        let returned = clock.elapsed().as_nanos() as u64;
                        events.push((
                            u,
                            Event {
                                op,
                                ret,
                                call,
                                returned,
                            },
                        ));
                    }
                    events
                })
            })
            .collect();
        let mut per_uid: Vec<Vec<Event>> = vec![Vec::new(); UIDS_PER_ROUND];
        for worker in workers {
            for (u, event) in worker.join().expect("worker panicked") {
                per_uid[u].push(event);
            }
        }
        // The final state, read after every thread stopped, closes each history.
        for (u, events) in per_uid.iter_mut().enumerate() {
            let call = clock.elapsed().as_nanos() as u64;
            let ret = run_link_op(&ex, NS, &format!("lin-{round}-{u}"), LinkOp::Get).unwrap();
            let returned = clock.elapsed().as_nanos() as u64;
            events.push(Event {
                op: LinkOp::Get,
                ret,
                call,
                returned,
            });
        }
        histories.extend(per_uid);
    }
    let mut raw = server.raw();
    let links = assert_links_whole(&mut raw, NS);

    let checking = Instant::now();
    let mut total_steps = 0;
    let mut sizes = Vec::new();
    let mut max_overlap = 0;
    for (i, history) in histories.iter().enumerate() {
        sizes.push(history.len());
        for e in history {
            let overlapping = history
                .iter()
                .filter(|o| o.call < e.returned && e.call < o.returned)
                .count();
            max_overlap = max_overlap.max(overlapping);
        }
        match linearizable(history, None, 50_000_000) {
            Some(steps) => total_steps += steps,
            None => panic!("history {i} is not linearizable: {history:#?}"),
        }
    }
    let check_time = checking.elapsed();
    let mut effects: BTreeMap<&str, usize> = BTreeMap::new();
    for e in histories.iter().flatten() {
        let what = match e.ret {
            LinkRet::Previous(_) => "set",
            LinkRet::Tried(true, _) => "try-set linked",
            LinkRet::Tried(false, _) => "try-set refused",
            LinkRet::Current(pod) if LinkOp::IfAbsent(pod) == e.op => "if-absent won or kept",
            LinkRet::Current(_) => "if-absent got another pod",
            LinkRet::Removed(true) => "remove-with-id removed",
            LinkRet::Removed(false) => "remove-with-id refused",
            LinkRet::Got(Some(_)) => "get found",
            LinkRet::Got(None) => "get found none",
        };
        *effects.entry(what).or_insert(0) += 1;
    }
    println!(
        "linearizability: {} histories of {:?} operations ({} in all, up to {max_overlap} \
         overlapping one operation) linearizable; search took {total_steps} steps in \
         {check_time:?}; outcomes {effects:?}; {links} link keys whole",
        histories.len(),
        sizes,
        sizes.iter().sum::<usize>(),
    );
    assert!(effects.get("try-set refused").copied().unwrap_or(0) > 0);
    assert!(effects.get("remove-with-id removed").copied().unwrap_or(0) > 0);
    assert!(
        effects
            .get("if-absent got another pod")
            .copied()
            .unwrap_or(0)
            > 0
    );
}
