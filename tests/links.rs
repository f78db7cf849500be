//! Semantics of the link operations (data-model.md, "Operations"): persistent and temporary
//! links, try-set refusals, set-if-absent, removal with and without a grace period, compute
//! linked pod, the persistent-link listing and the batch reads.

mod common;

use std::collections::BTreeMap;

use common::*;
use stateful_executor::*;

const NS: &str = "prod-eu";
const SVC: &str = "chat";

fn link_key(uid: &str, svc: &str) -> String {
    format!("sf:{{{NS}:lk:{uid}}}{svc}")
}

fn uid_hash(uid: &str) -> String {
    format!("sf:{{{NS}:lk:{uid}}}")
}

/// Asserts that the link key of (uid, SVC) is temporary with about `seconds` left.
fn assert_temporary(raw: &mut redis::Connection, uid: &str, seconds: i64) {
    let left = pttl(raw, &link_key(uid, SVC));
    assert!(
        left > (seconds - 10) * 1000 && left <= seconds * 1000,
        "link of {uid} should expire in about {seconds} s, PTTL is {left} ms"
    );
}

fn services(pairs: &[(&str, Pod)]) -> BTreeMap<String, Pod> {
    pairs.iter().map(|(s, p)| (s.to_string(), *p)).collect()
}

#[test]
fn set_linked_pod_returns_the_previous_pod_and_switches_persistence() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    assert_eq!(
        ex.set_linked_pod(NS, "u1", SVC, 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod(NS, "u1", SVC).unwrap(), Some(3));
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u1", SVC).unwrap(),
        Some(3)
    );
    assert_eq!(
        ex.get_link_services(NS, "u1").unwrap(),
        services(&[(SVC, 3)])
    );

    // Persistent -> temporary: previous pod returned, TTL set, uid hash field removed.
    assert_eq!(
        ex.set_linked_pod(NS, "u1", SVC, 4, Persistence::temporary(120))
            .unwrap(),
        Some(3)
    );
    assert_eq!(ex.get_linked_pod(NS, "u1", SVC).unwrap(), Some(4));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u1", SVC).unwrap(), None);
    assert!(ex.get_link_services(NS, "u1").unwrap().is_empty());
    assert_temporary(&mut raw, "u1", 120);

    // Temporary -> persistent: TTL gone, field back.
    assert_eq!(
        ex.set_linked_pod(NS, "u1", SVC, 5, Persistence::Persistent)
            .unwrap(),
        Some(4)
    );
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u1", SVC).unwrap(),
        Some(5)
    );
    assert_eq!(ttl(&mut raw, &link_key("u1", SVC)), -1);
    assert_eq!(
        ex.get_link_services(NS, "u1").unwrap(),
        services(&[(SVC, 5)])
    );

    // Same pod again is still a write that reports the previous (equal) pod.
    assert_eq!(
        ex.set_linked_pod(NS, "u1", SVC, 5, Persistence::temporary(60))
            .unwrap(),
        Some(5)
    );
    assert_temporary(&mut raw, "u1", 60);
}

#[test]
fn get_linked_pod_sees_both_kinds_but_if_persist_only_persistent() {
    let server = RedisServer::start();
    let ex = server.executor();

    assert_eq!(ex.get_linked_pod(NS, "none", SVC).unwrap(), None);
    assert_eq!(ex.get_linked_pod_if_persist(NS, "none", SVC).unwrap(), None);

    ex.set_linked_pod(NS, "p", SVC, 0, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "t", SVC, 9, Persistence::temporary(300))
        .unwrap();
    assert_eq!(ex.get_linked_pod(NS, "p", SVC).unwrap(), Some(0));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "p", SVC).unwrap(), Some(0));
    assert_eq!(ex.get_linked_pod(NS, "t", SVC).unwrap(), Some(9));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "t", SVC).unwrap(), None);
}

#[test]
fn links_of_different_namespaces_uids_and_services_are_independent() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_linked_pod("a", "u", "s", 1, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("b", "u", "s", 2, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("a", "u", "s2", 3, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("a", "u2", "s", 4, Persistence::temporary(100))
        .unwrap();
    // A uid that looks like pieces of other keys stays apart too.
    ex.set_linked_pod("a", "u:lk:u", "s", 6, Persistence::Persistent)
        .unwrap();

    assert_eq!(ex.get_linked_pod("a", "u", "s").unwrap(), Some(1));
    assert_eq!(ex.get_linked_pod("b", "u", "s").unwrap(), Some(2));
    assert_eq!(ex.get_linked_pod("a", "u", "s2").unwrap(), Some(3));
    assert_eq!(ex.get_linked_pod("a", "u2", "s").unwrap(), Some(4));
    assert_eq!(ex.get_linked_pod("a", "u:lk:u", "s").unwrap(), Some(6));
    assert_eq!(ex.get_linked_pod("b", "u", "s2").unwrap(), None);
    assert_eq!(
        ex.get_link_services("a", "u").unwrap(),
        services(&[("s", 1), ("s2", 3)])
    );
    assert_eq!(
        ex.get_link_services("b", "u").unwrap(),
        services(&[("s", 2)])
    );
    assert!(ex.get_link_services("a", "u2").unwrap().is_empty());

    // Removing one link leaves the others alone.
    assert!(ex
        .remove_linked_pod("a", "u", "s", Grace::Immediate)
        .unwrap());
    assert_eq!(ex.get_linked_pod("a", "u", "s").unwrap(), None);
    assert_eq!(ex.get_linked_pod("a", "u", "s2").unwrap(), Some(3));
    assert_eq!(ex.get_linked_pod("b", "u", "s").unwrap(), Some(2));
    assert_eq!(
        ex.get_link_services("a", "u").unwrap(),
        services(&[("s2", 3)])
    );
}

#[test]
fn try_set_links_when_there_is_no_link() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    let outcome = ex
        .try_set_linked_pod(NS, "u", SVC, 7, Persistence::Persistent)
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 7
        }
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), Some(7));

    let outcome = ex
        .try_set_linked_pod(NS, "t", SVC, 8, Persistence::temporary(90))
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 8
        }
    );
    assert_eq!(ex.get_linked_pod(NS, "t", SVC).unwrap(), Some(8));
    assert_temporary(&mut raw, "t", 90);
    assert!(ex.get_link_services(NS, "t").unwrap().is_empty());
}

#[test]
fn try_set_refuses_a_persistent_link_to_a_different_pod_and_changes_nothing() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u", "other", 11, Persistence::Persistent)
        .unwrap();
    let before = snapshot(&mut raw);

    for persistence in [Persistence::Persistent, Persistence::temporary(30)] {
        let outcome = ex.try_set_linked_pod(NS, "u", SVC, 4, persistence).unwrap();
        assert_eq!(
            outcome,
            TrySet {
                linked: false,
                pod: 3
            },
            "{persistence:?}"
        );
        assert_same_data(&before, &snapshot(&mut raw), "refused try set");
    }
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), Some(3));
}

#[test]
fn try_set_accepts_the_same_pod_and_applies_the_new_persistence() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
        .unwrap();

    // Same pod, persistent: accepted, stays persistent.
    let outcome = ex
        .try_set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 3
        }
    );
    assert_eq!(ttl(&mut raw, &link_key("u", SVC)), -1);

    // Same pod, temporary: accepted and written as a temporary link (hash field removed).
    let outcome = ex
        .try_set_linked_pod(NS, "u", SVC, 3, Persistence::temporary(45))
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 3
        }
    );
    assert_temporary(&mut raw, "u", 45);
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), None);
}

#[test]
fn try_set_overrides_a_temporary_link_to_another_pod() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 3, Persistence::temporary(100))
        .unwrap();

    let outcome = ex
        .try_set_linked_pod(NS, "u", SVC, 5, Persistence::Persistent)
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 5
        }
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), Some(5));
    assert_eq!(ttl(&mut raw, &link_key("u", SVC)), -1);
    assert_eq!(
        ex.get_link_services(NS, "u").unwrap(),
        services(&[(SVC, 5)])
    );

    // Temporary over temporary: overridden, new TTL.
    ex.set_linked_pod(NS, "v", SVC, 3, Persistence::temporary(100))
        .unwrap();
    let outcome = ex
        .try_set_linked_pod(NS, "v", SVC, 6, Persistence::temporary(500))
        .unwrap();
    assert_eq!(
        outcome,
        TrySet {
            linked: true,
            pod: 6
        }
    );
    assert_eq!(ex.get_linked_pod(NS, "v", SVC).unwrap(), Some(6));
    assert_temporary(&mut raw, "v", 500);
}

#[test]
fn set_if_absent_writes_only_when_there_is_no_link() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    // No link: writes (persistent).
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "p", SVC, 2, Persistence::Persistent)
            .unwrap(),
        2
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "p", SVC).unwrap(), Some(2));
    assert_eq!(
        ex.get_link_services(NS, "p").unwrap(),
        services(&[(SVC, 2)])
    );

    // No link: writes (temporary).
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "t", SVC, 8, Persistence::temporary(200))
            .unwrap(),
        8
    );
    assert_temporary(&mut raw, "t", 200);
    assert!(ex.get_link_services(NS, "t").unwrap().is_empty());

    // Existing persistent link: returned, nothing written.
    let before = snapshot(&mut raw);
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "p", SVC, 9, Persistence::temporary(10))
            .unwrap(),
        2
    );
    assert_same_data(
        &before,
        &snapshot(&mut raw),
        "if absent on a persistent link",
    );
}

#[test]
fn set_if_absent_on_a_temporary_link_returns_it_without_writing() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "t", SVC, 8, Persistence::temporary(200))
        .unwrap();
    let before = snapshot(&mut raw);

    // A persistent request does not make the temporary link persistent, nor add the hash field.
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "t", SVC, 1, Persistence::Persistent)
            .unwrap(),
        8
    );
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "t", SVC, 8, Persistence::Persistent)
            .unwrap(),
        8
    );
    assert_same_data(
        &before,
        &snapshot(&mut raw),
        "if absent on a temporary link",
    );
    assert_eq!(key_type(&mut raw, &uid_hash("t")), "none");
    assert_eq!(ex.get_linked_pod_if_persist(NS, "t", SVC).unwrap(), None);
}

#[test]
fn remove_deletes_at_once_with_keep_seconds_minus_one_and_zero() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    for (keep, persistence) in [
        (-1, Persistence::Persistent),
        (0, Persistence::Persistent),
        (-1, Persistence::temporary(100)),
        (0, Persistence::temporary(100)),
    ] {
        let what = format!("keep {keep}, {persistence:?}");
        ex.set_linked_pod(NS, "u", SVC, 4, persistence).unwrap();
        ex.set_linked_pod(NS, "u", "kept", 6, Persistence::Persistent)
            .unwrap();
        let grace = Grace::from_keep_seconds(keep).unwrap();
        assert!(ex.remove_linked_pod(NS, "u", SVC, grace).unwrap(), "{what}");
        assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), None, "{what}");
        assert_eq!(key_type(&mut raw, &link_key("u", SVC)), "none", "{what}");
        // The uid's other link survives.
        assert_eq!(
            ex.get_link_services(NS, "u").unwrap(),
            services(&[("kept", 6)]),
            "{what}"
        );
        // Nothing left to remove.
        assert!(
            !ex.remove_linked_pod(NS, "u", SVC, grace).unwrap(),
            "{what}"
        );
    }
}

#[test]
fn remove_without_a_link_returns_false_and_writes_nothing() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for grace in [Grace::Immediate, Grace::Seconds(30)] {
        assert!(!ex.remove_linked_pod(NS, "ghost", SVC, grace).unwrap());
        assert!(!ex
            .remove_linked_pod_with_id(NS, "ghost", SVC, grace, 0)
            .unwrap());
    }
    assert_eq!(dbsize(&mut raw), 0);
}

#[test]
fn remove_with_a_grace_period_keeps_a_temporary_link() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    // Persistent link, kept for 50 s.
    ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
        .unwrap();
    assert!(ex
        .remove_linked_pod(NS, "u", SVC, Grace::from_keep_seconds(50).unwrap())
        .unwrap());
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), Some(4));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), None);
    assert_temporary(&mut raw, "u", 50);
    assert_eq!(key_type(&mut raw, &uid_hash("u")), "none");
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());

    // The kept link still exists: removing it again reports it, and the grace restarts.
    assert!(ex
        .remove_linked_pod(NS, "u", SVC, Grace::Seconds(500))
        .unwrap());
    assert_temporary(&mut raw, "u", 500);
    // A user coming back is sent to the same pod.
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "u", SVC, 9, Persistence::Persistent)
            .unwrap(),
        4
    );

    // Temporary link with a longer TTL: the grace period replaces it.
    ex.set_linked_pod(NS, "t", SVC, 2, Persistence::temporary(10_000))
        .unwrap();
    assert!(ex
        .remove_linked_pod(NS, "t", SVC, Grace::Seconds(20))
        .unwrap());
    assert_temporary(&mut raw, "t", 20);
}

#[test]
fn a_grace_period_really_expires() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
        .unwrap();
    assert!(ex
        .remove_linked_pod(NS, "u", SVC, Grace::Seconds(1))
        .unwrap());
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), Some(4));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while ex.get_linked_pod(NS, "u", SVC).unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 s grace period did not expire"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!ex
        .remove_linked_pod(NS, "u", SVC, Grace::Immediate)
        .unwrap());
}

#[test]
fn remove_with_id_removes_only_a_matching_link() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "t", SVC, 4, Persistence::temporary(300))
        .unwrap();
    let before = snapshot(&mut raw);

    for grace in [Grace::Immediate, Grace::Seconds(30)] {
        for uid in ["u", "t"] {
            assert!(!ex
                .remove_linked_pod_with_id(NS, uid, SVC, grace, 5)
                .unwrap());
            assert!(!ex
                .remove_linked_pod_with_id(NS, uid, SVC, grace, 0)
                .unwrap());
        }
    }
    assert_same_data(&before, &snapshot(&mut raw), "remove with another id");

    // Matching, immediate: gone.
    assert!(ex
        .remove_linked_pod_with_id(NS, "u", SVC, Grace::Immediate, 4)
        .unwrap());
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), None);
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());
    assert!(!ex
        .remove_linked_pod_with_id(NS, "u", SVC, Grace::Immediate, 4)
        .unwrap());

    // Matching, with grace: kept as a temporary link.
    ex.set_linked_pod(NS, "u", SVC, 4, Persistence::Persistent)
        .unwrap();
    assert!(ex
        .remove_linked_pod_with_id(NS, "u", SVC, Grace::Seconds(40), 4)
        .unwrap());
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), Some(4));
    assert_temporary(&mut raw, "u", 40);
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());

    // Matching temporary link.
    assert!(ex
        .remove_linked_pod_with_id(NS, "t", SVC, Grace::Immediate, 4)
        .unwrap());
    assert_eq!(ex.get_linked_pod(NS, "t", SVC).unwrap(), None);
}

#[test]
fn get_link_services_lists_only_persistent_links() {
    let server = RedisServer::start();
    let ex = server.executor();
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());
    ex.set_linked_pod(NS, "u", "chat", 1, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u", "game", 2147483647, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u", "voice", 3, Persistence::temporary(100))
        .unwrap();
    ex.set_linked_pod_if_absent(NS, "u", "mail", 0, Persistence::Persistent)
        .unwrap();
    assert_eq!(
        ex.get_link_services(NS, "u").unwrap(),
        services(&[("chat", 1), ("game", 2147483647), ("mail", 0)])
    );
    // Another uid and another namespace are not listed.
    assert!(ex.get_link_services(NS, "u2").unwrap().is_empty());
    assert!(ex.get_link_services("other", "u").unwrap().is_empty());
}

#[test]
fn compute_picks_the_least_loaded_candidate_with_ties_to_the_lowest_pod() {
    let server = RedisServer::start();
    let ex = server.executor();
    let c = Candidate::new;

    // Ties: lowest pod ordinal, whatever the input order.
    let pod = ex
        .compute_linked_pod(
            NS,
            "tie",
            SVC,
            Persistence::Persistent,
            &[c(5, 1), c(2, 1), c(7, 1), c(3, 9)],
        )
        .unwrap();
    assert_eq!(pod, Some(2));
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "tie", SVC).unwrap(),
        Some(2)
    );

    // Lower load beats a lower ordinal.
    let pod = ex
        .compute_linked_pod(
            NS,
            "load",
            SVC,
            Persistence::Persistent,
            &[c(0, 10), c(1, 3), c(9, 4)],
        )
        .unwrap();
    assert_eq!(pod, Some(1));
    assert_eq!(ex.get_linked_pod(NS, "load", SVC).unwrap(), Some(1));

    // One candidate.
    let pod = ex
        .compute_linked_pod(NS, "one", SVC, Persistence::Persistent, &[c(6, 0)])
        .unwrap();
    assert_eq!(pod, Some(6));
}

#[test]
fn compute_handles_int64_extreme_loads() {
    let server = RedisServer::start();
    let ex = server.executor();
    let c = Candidate::new;
    let cases: [(&str, Vec<Candidate>, Pod); 4] = [
        ("a", vec![c(1, i64::MAX), c(2, i64::MIN), c(0, 0)], 2),
        (
            "b",
            vec![c(4, i64::MIN), c(3, i64::MIN), c(0, i64::MIN + 1)],
            3,
        ),
        ("c", vec![c(8, i64::MAX), c(7, i64::MAX)], 7),
        ("d", vec![c(2, -1), c(1, 0), c(0, i64::MAX)], 2),
    ];
    for (uid, candidates, expected) in cases {
        let pod = ex
            .compute_linked_pod(NS, uid, SVC, Persistence::Persistent, &candidates)
            .unwrap();
        assert_eq!(pod, Some(expected), "{uid}: {candidates:?}");
        assert_eq!(ex.get_linked_pod(NS, uid, SVC).unwrap(), Some(expected));
    }
}

#[test]
fn compute_returns_an_existing_link_unchanged() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let c = Candidate::new;
    ex.set_linked_pod(NS, "p", SVC, 9, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "t", SVC, 8, Persistence::temporary(300))
        .unwrap();
    let before = snapshot(&mut raw);

    for (uid, linked) in [("p", 9), ("t", 8)] {
        for persistence in [Persistence::Persistent, Persistence::temporary(5)] {
            let pod = ex
                .compute_linked_pod(NS, uid, SVC, persistence, &[c(0, 0), c(1, -5)])
                .unwrap();
            assert_eq!(pod, Some(linked), "{uid} {persistence:?}");
            // Without candidates the link is still returned.
            let pod = ex
                .compute_linked_pod(NS, uid, SVC, persistence, &[])
                .unwrap();
            assert_eq!(pod, Some(linked), "{uid} {persistence:?}, no candidates");
        }
    }
    assert_same_data(&before, &snapshot(&mut raw), "compute on existing links");
}

#[test]
fn compute_without_candidates_and_without_a_link_writes_nothing() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for persistence in [Persistence::Persistent, Persistence::temporary(60)] {
        assert_eq!(
            ex.compute_linked_pod(NS, "u", SVC, persistence, &[])
                .unwrap(),
            None
        );
    }
    assert_eq!(dbsize(&mut raw), 0);
}

#[test]
fn compute_writes_the_link_with_the_requested_persistence() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let c = Candidate::new;
    let pod = ex
        .compute_linked_pod(
            NS,
            "t",
            SVC,
            Persistence::temporary(70),
            &[c(3, 1), c(4, 2)],
        )
        .unwrap();
    assert_eq!(pod, Some(3));
    assert_temporary(&mut raw, "t", 70);
    assert!(ex.get_link_services(NS, "t").unwrap().is_empty());

    let pod = ex
        .compute_linked_pod(NS, "p", SVC, Persistence::Persistent, &[c(3, 1), c(4, 0)])
        .unwrap();
    assert_eq!(pod, Some(4));
    assert_eq!(ttl(&mut raw, &link_key("p", SVC)), -1);
    assert_eq!(
        ex.get_link_services(NS, "p").unwrap(),
        services(&[(SVC, 4)])
    );
}

#[test]
fn batch_get_linked_pods_answers_in_input_order() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_linked_pod(NS, "a", SVC, 1, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "b", SVC, 2, Persistence::temporary(100))
        .unwrap();
    ex.set_linked_pod(NS, "c", SVC, 1, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "d", "other", 4, Persistence::Persistent)
        .unwrap();

    let empty: [&str; 0] = [];
    assert_eq!(ex.batch_get_linked_pods(NS, SVC, &empty).unwrap(), vec![]);
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["c", "x", "b", "a", "d"])
            .unwrap(),
        vec![Some(1), None, Some(2), Some(1), None]
    );
    // Duplicates answer each position; owned strings work too.
    let uids: Vec<String> = ["b", "a", "b", "zz", "a"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &uids).unwrap(),
        vec![Some(2), Some(1), Some(2), None, Some(1)]
    );
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["nobody"]).unwrap(),
        vec![None]
    );
    assert_eq!(
        ex.batch_get_linked_pods("elsewhere", SVC, &["a", "b"])
            .unwrap(),
        vec![None, None]
    );
}

#[test]
fn batch_get_linked_pods_matches_single_reads_for_many_uids() {
    let server = RedisServer::start();
    let ex = server.executor();
    let uids: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    for (i, uid) in uids.iter().enumerate() {
        if i % 3 != 0 {
            let persistence = if i % 2 == 0 {
                Persistence::Persistent
            } else {
                Persistence::temporary(600)
            };
            ex.set_linked_pod(NS, uid, SVC, (i * 7) as Pod, persistence)
                .unwrap();
        }
    }
    let batch = ex.batch_get_linked_pods(NS, SVC, &uids).unwrap();
    assert_eq!(batch.len(), uids.len());
    for (i, (uid, pod)) in uids.iter().zip(&batch).enumerate() {
        let expected = (i % 3 != 0).then_some((i * 7) as Pod);
        assert_eq!(*pod, expected, "{uid}");
        assert_eq!(ex.get_linked_pod(NS, uid, SVC).unwrap(), expected, "{uid}");
    }
}

#[test]
fn batch_get_linked_pods_by_pod_groups_uids_in_input_order() {
    let server = RedisServer::start();
    let ex = server.executor();
    for (uid, pod) in [("a", 1), ("b", 2), ("c", 1), ("d", 0)] {
        ex.set_linked_pod(NS, uid, SVC, pod, Persistence::Persistent)
            .unwrap();
    }
    ex.set_linked_pod(NS, "e", SVC, 2, Persistence::temporary(100))
        .unwrap();

    let grouped = ex
        .batch_get_linked_pods_by_pod(NS, SVC, &["e", "c", "x", "a", "b", "d"])
        .unwrap();
    let mut expected: BTreeMap<Pod, Vec<String>> = BTreeMap::new();
    expected.insert(0, vec!["d".into()]);
    expected.insert(1, vec!["c".into(), "a".into()]);
    expected.insert(2, vec!["e".into(), "b".into()]);
    assert_eq!(grouped, expected);

    let empty: [&str; 0] = [];
    assert!(ex
        .batch_get_linked_pods_by_pod(NS, SVC, &empty)
        .unwrap()
        .is_empty());
    assert!(ex
        .batch_get_linked_pods_by_pod(NS, SVC, &["x", "y"])
        .unwrap()
        .is_empty());
}

#[test]
fn batch_reads_are_one_round_trip() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let uids: Vec<String> = (0..120).map(|i| format!("u{i}")).collect();
    for uid in uids.iter().step_by(2) {
        ex.set_linked_pod(NS, uid, SVC, 1, Persistence::Persistent)
            .unwrap();
    }
    raw_cmd(&mut raw, &["CONFIG", "RESETSTAT"]);
    ex.batch_get_linked_pods(NS, SVC, &uids).unwrap();
    ex.batch_get_linked_pods_by_pod(NS, SVC, &uids).unwrap();
    ex.get_workload_states(NS, &uids).unwrap();
    assert_eq!(command_calls(&mut raw, "mget"), 3);
    assert_eq!(command_calls(&mut raw, "get"), 0);
    assert_eq!(command_calls(&mut raw, "evalsha"), 0);
}

#[test]
fn each_link_operation_that_reads_and_writes_is_one_script_call() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "u", SVC, 1, Persistence::Persistent)
        .unwrap();
    type Call<'a> = Box<dyn Fn() -> Result<()> + 'a>;
    let calls: Vec<(&str, Call)> = vec![
        (
            "set_linked_pod",
            Box::new(|| {
                ex.set_linked_pod(NS, "u", SVC, 2, Persistence::Persistent)
                    .map(drop)
            }),
        ),
        (
            "try_set_linked_pod",
            Box::new(|| {
                ex.try_set_linked_pod(NS, "u", SVC, 3, Persistence::Persistent)
                    .map(drop)
            }),
        ),
        (
            "set_linked_pod_if_absent",
            Box::new(|| {
                ex.set_linked_pod_if_absent(NS, "v", SVC, 3, Persistence::temporary(50))
                    .map(drop)
            }),
        ),
        (
            "get_linked_pod_if_persist",
            Box::new(|| ex.get_linked_pod_if_persist(NS, "u", SVC).map(drop)),
        ),
        (
            "compute_linked_pod",
            Box::new(|| {
                ex.compute_linked_pod(
                    NS,
                    "w",
                    SVC,
                    Persistence::Persistent,
                    &[Candidate::new(4, 0), Candidate::new(5, 1)],
                )
                .map(drop)
            }),
        ),
        (
            "remove_linked_pod_with_id",
            Box::new(|| {
                ex.remove_linked_pod_with_id(NS, "w", SVC, Grace::Seconds(9), 4)
                    .map(drop)
            }),
        ),
        (
            "remove_linked_pod",
            Box::new(|| {
                ex.remove_linked_pod(NS, "u", SVC, Grace::Immediate)
                    .map(drop)
            }),
        ),
    ];
    for (name, call) in calls {
        raw_cmd(&mut raw, &["CONFIG", "RESETSTAT"]);
        call().unwrap();
        assert_eq!(command_calls(&mut raw, "evalsha"), 1, "{name}");
        assert_eq!(command_calls(&mut raw, "eval"), 0, "{name}");
        assert_eq!(command_calls(&mut raw, "multi"), 0, "{name}");
    }
    // The state of things the calls above left behind.
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), None);
    assert_eq!(ex.get_linked_pod(NS, "v", SVC).unwrap(), Some(3));
    assert_eq!(ex.get_linked_pod(NS, "w", SVC).unwrap(), Some(4));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "w", SVC).unwrap(), None);
}
