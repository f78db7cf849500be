//! Semantics of the link operations (data-model.md, "Operations"): persistent and temporary
//! links, try-set refusals, set-if-absent, removal with and without a grace period, compute
//! linked pod, the persistent-link listing and the batch reads.

use std::collections::BTreeMap;

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "prod-eu";
const SVC: &str = "chat";

fn link_key(uid: &str, svc: &str) -> String {
    format!("sf:{{{NS}:lk:{uid}}}{svc}")
}

fn services(pairs: &[(&str, Pod)]) -> BTreeMap<String, Pod> {
    pairs.iter().map(|(s, p)| (s.to_string(), *p)).collect()
}

// ---- One operation on one link, as tables ----
//
// Each row: the link (uid, SVC) before, one operation, what it returns, and the link after.
// Every row runs twice on a fresh uid: alone, and beside a persistent link of the same uid to
// another service, which must survive untouched. A new case of a link operation is a new row.

/// The link of (uid, SVC) as seen from outside.
#[derive(Clone, Copy, Debug)]
enum Link {
    None,
    Persistent(Pod),
    /// Linked to the pod, expiring in about this many seconds.
    Temporary(Pod, i64),
}

/// The operation of a row.
#[derive(Clone, Debug)]
enum Op {
    Set(Pod, Persistence),
    TrySet(Pod, Persistence),
    IfAbsent(Pod, Persistence),
    Remove(Grace),
    RemoveWithId(Grace, Pod),
    /// The pod and the new TTL in seconds.
    Touch(Pod, u32),
    /// Candidates as (pod, load).
    Compute(Persistence, Vec<(Pod, i64)>),
}

/// What the operation of a row returns.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Returns {
    Previous(Option<Pod>),
    Tried(bool, Pod),
    Current(Pod),
    Removed(bool),
    Touched(bool),
    Computed(Option<Pod>),
}

/// The link after the operation.
#[derive(Clone, Copy, Debug)]
enum After {
    /// Nothing in Redis changed (every key's content and expiry).
    Unchanged,
    Is(Link),
}

struct Row {
    what: &'static str,
    before: Link,
    op: Op,
    returns: Returns,
    after: After,
}

fn row(what: &'static str, before: Link, op: Op, returns: Returns, after: After) -> Row {
    Row {
        what,
        before,
        op,
        returns,
        after,
    }
}

fn run(ex: &Executor, uid: &str, op: &Op) -> Result<Returns> {
    Ok(match op.clone() {
        Op::Set(pod, p) => Returns::Previous(ex.set_linked_pod(NS, uid, SVC, pod, p)?),
        Op::TrySet(pod, p) => {
            let t = ex.try_set_linked_pod(NS, uid, SVC, pod, p)?;
            Returns::Tried(t.linked, t.pod)
        }
        Op::IfAbsent(pod, p) => {
            Returns::Current(ex.set_linked_pod_if_absent(NS, uid, SVC, pod, p)?)
        }
        Op::Remove(grace) => Returns::Removed(ex.remove_linked_pod(NS, uid, SVC, grace)?),
        Op::RemoveWithId(grace, pod) => {
            Returns::Removed(ex.remove_linked_pod_with_id(NS, uid, SVC, grace, pod)?)
        }
        Op::Touch(pod, seconds) => {
            Returns::Touched(ex.touch_linked_pod(NS, uid, SVC, pod, seconds)?)
        }
        Op::Compute(p, candidates) => {
            let candidates: Vec<Candidate> = candidates
                .iter()
                .map(|&(pod, load)| Candidate::new(pod, load))
                .collect();
            Returns::Computed(ex.compute_linked_pod(NS, uid, SVC, p, &candidates)?)
        }
    })
}

/// Asserts what every read operation and the raw keys say about the link of (uid, SVC).
/// `beside`: the uid also has its persistent link to service "kept" (pod 6).
fn assert_link(
    ex: &Executor,
    raw: &mut redis::Connection,
    uid: &str,
    link: Link,
    beside: bool,
    what: &str,
) {
    let services = ex.get_link_services(NS, uid).unwrap();
    let listed = services.get(SVC).copied();
    let mut expected_services = BTreeMap::new();
    if beside {
        expected_services.insert("kept".to_string(), 6);
    }
    if let Link::Persistent(pod) = link {
        expected_services.insert(SVC.to_string(), pod);
    }
    assert_eq!(
        services, expected_services,
        "{what}: the uid's persistent links"
    );
    let (get, if_persist) = (
        ex.get_linked_pod(NS, uid, SVC).unwrap(),
        ex.get_linked_pod_if_persist(NS, uid, SVC).unwrap(),
    );
    let batch = ex.batch_get_linked_pods(NS, SVC, &[uid]).unwrap();
    match link {
        Link::None => {
            assert_eq!((get, if_persist, listed), (None, None, None), "{what}");
            assert_eq!(key_type(raw, &link_key(uid, SVC)), "none", "{what}");
        }
        Link::Persistent(pod) => {
            assert_eq!(
                (get, if_persist, listed),
                (Some(pod), Some(pod), Some(pod)),
                "{what}"
            );
            assert_eq!(ttl(raw, &link_key(uid, SVC)), -1, "{what}: no expiry");
        }
        Link::Temporary(pod, seconds) => {
            assert_eq!((get, if_persist, listed), (Some(pod), None, None), "{what}");
            let left = pttl(raw, &link_key(uid, SVC));
            assert!(
                left > (seconds - 10) * 1000 && left <= seconds * 1000,
                "{what}: should expire in about {seconds} s, PTTL is {left} ms"
            );
        }
    }
    assert_eq!(batch, vec![get], "{what}: batch read");
}

/// Runs every row on one server (see the comment above `Link`).
fn run_rows(rows: &[Row]) {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for (n, row) in rows.iter().enumerate() {
        for beside in [false, true] {
            let uid = format!("row-{n}-{beside}");
            let what = format!(
                "{}: {:?} then {:?}{}",
                row.what,
                row.before,
                row.op,
                if beside { ", beside another link" } else { "" }
            );
            if beside {
                ex.set_linked_pod(NS, &uid, "kept", 6, Persistence::Persistent)
                    .unwrap();
            }
            match row.before {
                Link::None => {}
                Link::Persistent(pod) => {
                    ex.set_linked_pod(NS, &uid, SVC, pod, Persistence::Persistent)
                        .unwrap();
                }
                Link::Temporary(pod, seconds) => {
                    ex.set_linked_pod(NS, &uid, SVC, pod, Persistence::temporary(seconds as u32))
                        .unwrap();
                }
            }
            let before = snapshot(&mut raw);
            let returned = run(&ex, &uid, &row.op).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(returned, row.returns, "{what}: returned");
            match row.after {
                After::Unchanged => {
                    assert_same_data(&before, &snapshot(&mut raw), &what);
                    assert_link(&ex, &mut raw, &uid, row.before, beside, &what);
                }
                After::Is(link) => assert_link(&ex, &mut raw, &uid, link, beside, &what),
            }
            if beside {
                assert_eq!(
                    ex.get_linked_pod(NS, &uid, "kept").unwrap(),
                    Some(6),
                    "{what}"
                );
            }
        }
    }
}

use After::{Is, Unchanged};
use Link::{None as NoLink, Persistent as P, Temporary as T};

fn temp(seconds: u32) -> Persistence {
    Persistence::temporary(seconds)
}

const PERSISTENT: Persistence = Persistence::Persistent;

#[rustfmt::skip]
#[test]
fn set_linked_pod_returns_the_previous_pod_and_switches_persistence() {
    use Returns::Previous;
    run_rows(&[
        //  what                       before     operation                      returns            after
        row("new link",                NoLink,    Op::Set(3, PERSISTENT),        Previous(None),    Is(P(3))),
        row("new temporary link",      NoLink,    Op::Set(3, temp(90)),          Previous(None),    Is(T(3, 90))),
        row("persistent to temporary", P(3),      Op::Set(4, temp(120)),         Previous(Some(3)), Is(T(4, 120))),
        row("temporary to persistent", T(4, 120), Op::Set(5, PERSISTENT),        Previous(Some(4)), Is(P(5))),
        row("same pod, now temporary", P(5),      Op::Set(5, temp(60)),          Previous(Some(5)), Is(T(5, 60))),
        row("temporary, new TTL",      T(5, 600), Op::Set(7, temp(60)),          Previous(Some(5)), Is(T(7, 60))),
        row("pod 0",                   NoLink,    Op::Set(0, PERSISTENT),        Previous(None),    Is(P(0))),
        row("pod 0 and i32::MAX",      P(0),      Op::Set(i32::MAX, PERSISTENT), Previous(Some(0)), Is(P(i32::MAX))),
    ]);
}

#[rustfmt::skip]
#[test]
fn try_set_links_only_when_no_other_persistent_link_exists() {
    use Returns::Tried;
    run_rows(&[
        //  what                                       before     operation                  returns          after
        row("no link",                                 NoLink,    Op::TrySet(7, PERSISTENT), Tried(true, 7),  Is(P(7))),
        row("no link, temporary",                      NoLink,    Op::TrySet(8, temp(90)),   Tried(true, 8),  Is(T(8, 90))),
        row("another pod, persistent: refused",        P(3),      Op::TrySet(4, PERSISTENT), Tried(false, 3), Unchanged),
        row("another pod, temporary request: refused", P(3),      Op::TrySet(4, temp(30)),   Tried(false, 3), Unchanged),
        row("same pod",                                P(3),      Op::TrySet(3, PERSISTENT), Tried(true, 3),  Is(P(3))),
        row("same pod, now temporary",                 P(3),      Op::TrySet(3, temp(45)),   Tried(true, 3),  Is(T(3, 45))),
        row("over a temporary link",                   T(3, 100), Op::TrySet(5, PERSISTENT), Tried(true, 5),  Is(P(5))),
        row("temporary over temporary",                T(3, 100), Op::TrySet(6, temp(500)),  Tried(true, 6),  Is(T(6, 500))),
    ]);
}

#[rustfmt::skip]
#[test]
fn set_if_absent_writes_only_when_there_is_no_link() {
    use Returns::Current;
    run_rows(&[
        //  what                           before     operation                    returns     after
        row("no link",                     NoLink,    Op::IfAbsent(2, PERSISTENT), Current(2), Is(P(2))),
        row("no link, temporary",          NoLink,    Op::IfAbsent(8, temp(200)),  Current(8), Is(T(8, 200))),
        row("a persistent link",           P(2),      Op::IfAbsent(9, temp(10)),   Current(2), Unchanged),
        row("a persistent link, same pod", P(2),      Op::IfAbsent(2, PERSISTENT), Current(2), Unchanged),
        // A persistent request does not make a temporary link persistent.
        row("a temporary link",            T(8, 200), Op::IfAbsent(1, PERSISTENT), Current(8), Unchanged),
        row("a temporary link, same pod",  T(8, 200), Op::IfAbsent(8, PERSISTENT), Current(8), Unchanged),
    ]);
}

#[rustfmt::skip]
#[test]
fn remove_deletes_or_keeps_a_temporary_link_for_the_grace_period() {
    use Returns::Removed;
    let keep = |seconds| Grace::from_keep_seconds(seconds).unwrap();
    run_rows(&[
        //  what                    before        operation                        returns         after
        row("keep -1",              P(4),         Op::Remove(keep(-1)),            Removed(true),  Is(NoLink)),
        row("keep 0",               P(4),         Op::Remove(keep(0)),             Removed(true),  Is(NoLink)),
        row("temporary, keep -1",   T(4, 100),    Op::Remove(keep(-1)),            Removed(true),  Is(NoLink)),
        row("temporary, keep 0",    T(4, 100),    Op::Remove(keep(0)),             Removed(true),  Is(NoLink)),
        row("no link",              NoLink,       Op::Remove(Grace::Immediate),    Removed(false), Unchanged),
        row("no link, with grace",  NoLink,       Op::Remove(Grace::Seconds(30)),  Removed(false), Unchanged),
        row("kept 50 s",            P(4),         Op::Remove(keep(50)),            Removed(true),  Is(T(4, 50))),
        // A kept link still exists: removing it again reports it, and the grace restarts.
        row("kept again",           T(4, 50),     Op::Remove(Grace::Seconds(500)), Removed(true),  Is(T(4, 500))),
        // A longer TTL is replaced by the grace period.
        row("shorter than the TTL", T(2, 10_000), Op::Remove(Grace::Seconds(20)),  Removed(true),  Is(T(2, 20))),
    ]);
}

#[rustfmt::skip]
#[test]
fn remove_with_id_removes_only_a_matching_link() {
    use Returns::Removed;
    let now = Grace::Immediate;
    let later = Grace::Seconds(30);
    run_rows(&[
        //  what                            before     operation                                returns         after
        row("another id",                   P(4),      Op::RemoveWithId(now, 5),                Removed(false), Unchanged),
        row("another id 0",                 P(4),      Op::RemoveWithId(now, 0),                Removed(false), Unchanged),
        row("another id, grace",            P(4),      Op::RemoveWithId(later, 5),              Removed(false), Unchanged),
        row("temporary, another id",        T(4, 300), Op::RemoveWithId(now, 5),                Removed(false), Unchanged),
        row("temporary, another id, grace", T(4, 300), Op::RemoveWithId(later, 0),              Removed(false), Unchanged),
        row("no link",                      NoLink,    Op::RemoveWithId(now, 0),                Removed(false), Unchanged),
        row("no link, grace",               NoLink,    Op::RemoveWithId(later, 0),              Removed(false), Unchanged),
        row("matching",                     P(4),      Op::RemoveWithId(now, 4),                Removed(true),  Is(NoLink)),
        row("matching, grace",              P(4),      Op::RemoveWithId(Grace::Seconds(40), 4), Removed(true),  Is(T(4, 40))),
        row("matching temporary",           T(4, 300), Op::RemoveWithId(now, 4),                Removed(true),  Is(NoLink)),
    ]);
}

#[rustfmt::skip]
#[test]
fn touch_extends_only_a_temporary_link_to_the_pod() {
    use Returns::Touched;
    const MAX: u32 = i32::MAX as u32;
    run_rows(&[
        //  what                             before      operation          returns         after
        row("temporary, same pod: extended", T(4, 60),   Op::Touch(4, 900), Touched(true),  Is(T(4, 900))),
        // The TTL is set, not added to: a touch may shorten it too.
        row("temporary, same pod: shorter",  T(4, 5000), Op::Touch(4, 30),  Touched(true),  Is(T(4, 30))),
        row("temporary, pod 0",              T(0, 60),   Op::Touch(0, 1),   Touched(true),  Is(T(0, 1))),
        row("temporary, largest TTL",        T(4, 60),   Op::Touch(4, MAX), Touched(true),  Is(T(4, MAX as i64))),
        // Another gateway linked the uid elsewhere meanwhile: its link stays as it is.
        row("temporary, another pod",        T(4, 60),   Op::Touch(5, 900), Touched(false), Unchanged),
        row("temporary, another pod 0",      T(4, 60),   Op::Touch(0, 900), Touched(false), Unchanged),
        // A persistent link to the pod is what the caller wants: true, and it gets no TTL.
        row("persistent, same pod",          P(4),       Op::Touch(4, 900), Touched(true),  Unchanged),
        row("persistent, another pod",       P(4),       Op::Touch(7, 900), Touched(false), Unchanged),
        // No link: a touch never creates one.
        row("no link",                       NoLink,     Op::Touch(4, 900), Touched(false), Unchanged),
    ]);
}

#[rustfmt::skip]
#[test]
fn compute_links_the_least_loaded_candidate_unless_a_link_exists() {
    use Returns::Computed;
    let (min, max) = (i64::MIN, i64::MAX);
    run_rows(&[
        //  what                                         before     operation                                                        returns            after
        // Ties: lowest pod ordinal, whatever the input order.
        row("ties",                                      NoLink,    Op::Compute(PERSISTENT, vec![(5, 1), (2, 1), (7, 1), (3, 9)]),   Computed(Some(2)), Is(P(2))),
        // Lower load beats a lower ordinal.
        row("load first",                                NoLink,    Op::Compute(PERSISTENT, vec![(0, 10), (1, 3), (9, 4)]),          Computed(Some(1)), Is(P(1))),
        row("one candidate",                             NoLink,    Op::Compute(PERSISTENT, vec![(6, 0)]),                           Computed(Some(6)), Is(P(6))),
        row("int64 extremes",                            NoLink,    Op::Compute(PERSISTENT, vec![(1, max), (2, min), (0, 0)]),       Computed(Some(2)), Is(P(2))),
        row("int64 minimum ties",                        NoLink,    Op::Compute(PERSISTENT, vec![(4, min), (3, min), (0, min + 1)]), Computed(Some(3)), Is(P(3))),
        row("int64 maximum ties",                        NoLink,    Op::Compute(PERSISTENT, vec![(8, max), (7, max)]),               Computed(Some(7)), Is(P(7))),
        row("negative load",                             NoLink,    Op::Compute(PERSISTENT, vec![(2, -1), (1, 0), (0, max)]),        Computed(Some(2)), Is(P(2))),
        row("temporary",                                 NoLink,    Op::Compute(temp(70), vec![(3, 1), (4, 2)]),                     Computed(Some(3)), Is(T(3, 70))),
        row("persistent",                                NoLink,    Op::Compute(PERSISTENT, vec![(3, 1), (4, 0)]),                   Computed(Some(4)), Is(P(4))),
        row("no candidates",                             NoLink,    Op::Compute(PERSISTENT, vec![]),                                 Computed(None),    Unchanged),
        row("no candidates, temporary",                  NoLink,    Op::Compute(temp(60), vec![]),                                   Computed(None),    Unchanged),
        // An existing link is returned unchanged, with or without candidates.
        row("persistent link",                           P(9),      Op::Compute(PERSISTENT, vec![(0, 0), (1, -5)]),                  Computed(Some(9)), Unchanged),
        row("persistent link, temporary request",        P(9),      Op::Compute(temp(5), vec![(0, 0), (1, -5)]),                     Computed(Some(9)), Unchanged),
        row("persistent link, no candidates",            P(9),      Op::Compute(PERSISTENT, vec![]),                                 Computed(Some(9)), Unchanged),
        row("persistent link, no candidates, temporary", P(9),      Op::Compute(temp(5), vec![]),                                    Computed(Some(9)), Unchanged),
        row("temporary link",                            T(8, 300), Op::Compute(PERSISTENT, vec![(0, 0), (1, -5)]),                  Computed(Some(8)), Unchanged),
        row("temporary link, temporary request",         T(8, 300), Op::Compute(temp(5), vec![(0, 0), (1, -5)]),                     Computed(Some(8)), Unchanged),
        row("temporary link, no candidates",             T(8, 300), Op::Compute(PERSISTENT, vec![]),                                 Computed(Some(8)), Unchanged),
        row("temporary link, no candidates, temporary",  T(8, 300), Op::Compute(temp(5), vec![]),                                    Computed(Some(8)), Unchanged),
    ]);
}

// ---- Several links, listings, batches ----

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
