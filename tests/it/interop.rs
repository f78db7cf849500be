//! Interoperation with the existing Java/Go fleet: data written with plain commands in the
//! documented layout reads correctly through every read operation, and data that is not in the
//! layout is reported as corrupt (never as "no link") without being changed.

use std::collections::BTreeMap;

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "prod";
const SVC: &str = "chat";

/// Writes a persistent link the way the Java fleet does: SET of the link key plus HSET of the
/// uid hash field.
fn java_persistent(raw: &mut redis::Connection, uid: &str, svc: &str, pod: &str) {
    raw_cmd(raw, &["SET", &format!("sf:{{{NS}:lk:{uid}}}{svc}"), pod]);
    raw_cmd(raw, &["HSET", &format!("sf:{{{NS}:lk:{uid}}}"), svc, pod]);
}

/// Writes a temporary link the way the Java fleet does: SET with EX, no hash field.
fn java_temporary(raw: &mut redis::Connection, uid: &str, svc: &str, pod: &str, secs: u32) {
    raw_cmd(
        raw,
        &[
            "SET",
            &format!("sf:{{{NS}:lk:{uid}}}{svc}"),
            pod,
            "EX",
            &secs.to_string(),
        ],
    );
}

#[test]
fn persistent_links_written_by_plain_commands_read_through_every_read_op() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    java_persistent(&mut raw, "u1", SVC, "5");
    java_persistent(&mut raw, "u1", "game", "0");
    java_persistent(&mut raw, "u2", SVC, "2147483647");
    java_persistent(&mut raw, "u3", SVC, "5");

    assert_eq!(ex.get_linked_pod(NS, "u1", SVC).unwrap(), Some(5));
    assert_eq!(ex.get_linked_pod(NS, "u1", "game").unwrap(), Some(0));
    assert_eq!(ex.get_linked_pod(NS, "u2", SVC).unwrap(), Some(i32::MAX));
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u1", SVC).unwrap(),
        Some(5)
    );
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u2", SVC).unwrap(),
        Some(i32::MAX)
    );
    let mut expected = BTreeMap::new();
    expected.insert("chat".to_string(), 5);
    expected.insert("game".to_string(), 0);
    assert_eq!(ex.get_link_services(NS, "u1").unwrap(), expected);
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["u3", "u2", "nobody", "u1"])
            .unwrap(),
        vec![Some(5), Some(i32::MAX), None, Some(5)]
    );
    let mut grouped: BTreeMap<Pod, Vec<String>> = BTreeMap::new();
    grouped.insert(5, vec!["u1".into(), "u3".into()]);
    grouped.insert(i32::MAX, vec!["u2".into()]);
    assert_eq!(
        ex.batch_get_linked_pods_by_pod(NS, SVC, &["u1", "u2", "u3", "x"])
            .unwrap(),
        grouped
    );
    assert_eq!(
        ex.compute_linked_pod(NS, "u1", SVC, Persistence::Persistent, &[])
            .unwrap(),
        Some(5)
    );

    // The scripts see these links as persistent too.
    let before = snapshot(&mut raw);
    assert_eq!(
        ex.try_set_linked_pod(NS, "u1", SVC, 6, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 5
        }
    );
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "u1", SVC, 6, Persistence::Persistent)
            .unwrap(),
        5
    );
    assert_eq!(
        ex.compute_linked_pod(
            NS,
            "u1",
            SVC,
            Persistence::Persistent,
            &[Candidate::new(1, 0)]
        )
        .unwrap(),
        Some(5)
    );
    assert!(!ex
        .remove_linked_pod_with_id(NS, "u1", SVC, Grace::Immediate, 6)
        .unwrap());
    assert_same_data(&before, &snapshot(&mut raw), "reads of java links");

    // And they can be removed (both keys cleaned up).
    assert!(ex
        .remove_linked_pod(NS, "u1", SVC, Grace::Immediate)
        .unwrap());
    assert_eq!(
        hgetall(&mut raw, &format!("sf:{{{NS}:lk:u1}}")),
        [("game".to_string(), "0".to_string())]
            .into_iter()
            .collect()
    );
}

#[test]
fn temporary_links_written_by_plain_commands_read_as_temporary() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    java_temporary(&mut raw, "t", SVC, "7", 300);

    assert_eq!(ex.get_linked_pod(NS, "t", SVC).unwrap(), Some(7));
    assert_eq!(ex.get_linked_pod_if_persist(NS, "t", SVC).unwrap(), None);
    assert!(ex.get_link_services(NS, "t").unwrap().is_empty());
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["t"]).unwrap(),
        vec![Some(7)]
    );
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "t", SVC, 1, Persistence::Persistent)
            .unwrap(),
        7
    );
    assert_eq!(
        ex.compute_linked_pod(NS, "t", SVC, Persistence::Persistent, &[])
            .unwrap(),
        Some(7)
    );
    // A temporary link does not refuse try-set.
    assert_eq!(
        ex.try_set_linked_pod(NS, "t", SVC, 1, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: true,
            pod: 1
        }
    );
    assert_eq!(ex.get_linked_pod_if_persist(NS, "t", SVC).unwrap(), Some(1));
}

#[test]
fn links_removed_the_java_way_read_as_absent() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    java_persistent(&mut raw, "u", SVC, "3");
    // The older Java removal: delete the link and the field, then EXPIRE the deleted key.
    let link = format!("sf:{{{NS}:lk:u}}{SVC}");
    raw_cmd(&mut raw, &["HDEL", &format!("sf:{{{NS}:lk:u}}"), SVC]);
    raw_cmd(&mut raw, &["DEL", &link]);
    raw_cmd(&mut raw, &["EXPIRE", &link, "30"]);
    assert_eq!(ex.get_linked_pod(NS, "u", SVC).unwrap(), None);
    assert_eq!(ex.get_linked_pod_if_persist(NS, "u", SVC).unwrap(), None);
    assert!(ex.get_link_services(NS, "u").unwrap().is_empty());
    assert!(!ex
        .remove_linked_pod(NS, "u", SVC, Grace::Seconds(5))
        .unwrap());
    assert_eq!(dbsize(&mut raw), 0);
}

#[test]
fn states_written_by_plain_commands_read_correctly() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    raw_cmd(
        &mut raw,
        &[
            "HSET",
            "sf:{prod:state:chat}",
            "0",
            "Running",
            "1",
            "Pending",
            "12",
            "3-100",
        ],
    );
    raw_cmd(&mut raw, &["SET", "sf:{prod:workload:chat}", "Available"]);
    raw_cmd(&mut raw, &["SET", "sf:{prod:workload:game}", "READY"]);

    let states = ex.get_service_state(NS, "chat").unwrap();
    let expected: BTreeMap<Pod, String> = [(0, "Running"), (1, "Pending"), (12, "3-100")]
        .into_iter()
        .map(|(p, s)| (p, s.to_string()))
        .collect();
    assert_eq!(states, expected);
    assert_eq!(
        ex.get_workload_state(NS, "chat").unwrap().as_deref(),
        Some("Available")
    );
    assert_eq!(
        ex.get_workload_states(NS, &["game", "voice", "chat"])
            .unwrap(),
        vec![Some("READY".into()), None, Some("Available".into())]
    );
}

/// The error kind of a call that must fail.
fn kind<T: std::fmt::Debug>(outcome: Result<T>) -> ErrorKind {
    outcome.unwrap_err().kind()
}

/// One operation under test, its result reduced to success or error.
type Call<'a> = Box<dyn Fn() -> Result<()> + 'a>;

/// Link values that are not pod ordinals.
const CORRUPT: [&str; 9] = [
    "abc",
    "3.0",
    "-1",
    "99999999999",
    "2147483648",
    "",
    " 3",
    "+3",
    "0x1",
];

#[test]
fn corrupt_link_values_fail_every_read_with_unexpected_reply() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for (i, value) in CORRUPT.iter().enumerate() {
        let uid = format!("bad-{i}");
        raw_cmd(
            &mut raw,
            &["SET", &format!("sf:{{{NS}:lk:{uid}}}{SVC}"), value],
        );
        let what = format!("link value {value:?}");
        assert_eq!(
            kind(ex.get_linked_pod(NS, &uid, SVC)),
            ErrorKind::UnexpectedReply,
            "get_linked_pod, {what}"
        );
        assert_eq!(
            kind(ex.get_linked_pod_if_persist(NS, &uid, SVC)),
            ErrorKind::UnexpectedReply,
            "get_linked_pod_if_persist, {what}"
        );
        assert_eq!(
            kind(ex.batch_get_linked_pods(NS, SVC, &["fine", uid.as_str()])),
            ErrorKind::UnexpectedReply,
            "batch_get_linked_pods, {what}"
        );
        assert_eq!(
            kind(ex.batch_get_linked_pods_by_pod(NS, SVC, &[uid.as_str()])),
            ErrorKind::UnexpectedReply,
            "batch_get_linked_pods_by_pod, {what}"
        );
        assert_eq!(
            kind(ex.compute_linked_pod(NS, &uid, SVC, Persistence::Persistent, &[])),
            ErrorKind::UnexpectedReply,
            "compute_linked_pod without candidates, {what}"
        );
    }
}

#[test]
fn corrupt_link_values_make_every_writing_script_fail_without_changes() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for (i, value) in CORRUPT.iter().enumerate() {
        let uid = format!("bad-{i}");
        let link = format!("sf:{{{NS}:lk:{uid}}}{SVC}");
        let hash = format!("sf:{{{NS}:lk:{uid}}}");
        // Half of them persistent-looking with a hash field, half with a TTL.
        if i % 2 == 0 {
            raw_cmd(&mut raw, &["SET", &link, value]);
            raw_cmd(&mut raw, &["HSET", &hash, SVC, "4", "other", "9"]);
        } else {
            raw_cmd(&mut raw, &["SET", &link, value, "EX", "500"]);
        }
        let before = snapshot(&mut raw);
        let what = format!("link value {value:?}");
        let calls: Vec<(&str, Call)> = vec![
            (
                "set_linked_pod persistent",
                Box::new(|| {
                    ex.set_linked_pod(NS, &uid, SVC, 1, Persistence::Persistent)
                        .map(drop)
                }),
            ),
            (
                "set_linked_pod temporary",
                Box::new(|| {
                    ex.set_linked_pod(NS, &uid, SVC, 1, Persistence::temporary(9))
                        .map(drop)
                }),
            ),
            (
                "try_set_linked_pod",
                Box::new(|| {
                    ex.try_set_linked_pod(NS, &uid, SVC, 1, Persistence::Persistent)
                        .map(drop)
                }),
            ),
            (
                "set_linked_pod_if_absent",
                Box::new(|| {
                    ex.set_linked_pod_if_absent(NS, &uid, SVC, 1, Persistence::Persistent)
                        .map(drop)
                }),
            ),
            (
                "remove_linked_pod",
                Box::new(|| {
                    ex.remove_linked_pod(NS, &uid, SVC, Grace::Immediate)
                        .map(drop)
                }),
            ),
            (
                "remove_linked_pod with grace",
                Box::new(|| {
                    ex.remove_linked_pod(NS, &uid, SVC, Grace::Seconds(20))
                        .map(drop)
                }),
            ),
            (
                "remove_linked_pod_with_id",
                Box::new(|| {
                    ex.remove_linked_pod_with_id(NS, &uid, SVC, Grace::Immediate, 3)
                        .map(drop)
                }),
            ),
            (
                "touch_linked_pod",
                Box::new(|| ex.touch_linked_pod(NS, &uid, SVC, 3, 60).map(drop)),
            ),
            (
                "compute_linked_pod",
                Box::new(|| {
                    ex.compute_linked_pod(
                        NS,
                        &uid,
                        SVC,
                        Persistence::Persistent,
                        &[Candidate::new(2, 0)],
                    )
                    .map(drop)
                }),
            ),
        ];
        for (op, call) in calls {
            let err = call().expect_err(op);
            assert_eq!(
                err.kind(),
                ErrorKind::UnexpectedReply,
                "{op}, {what}: {err}"
            );
            assert_same_data(&before, &snapshot(&mut raw), &format!("{op}, {what}"));
        }
    }
}

#[test]
fn corrupt_values_in_the_uid_hash_fail_get_link_services() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    for (i, value) in ["abc", "-1", "3.0", "99999999999", ""].iter().enumerate() {
        let uid = format!("bad-{i}");
        let hash = format!("sf:{{{NS}:lk:{uid}}}");
        raw_cmd(&mut raw, &["HSET", &hash, "good", "1", "broken", value]);
        let err = ex.get_link_services(NS, &uid).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{value:?}: {err}");
    }
    // A clean hash next to them still reads.
    raw_cmd(
        &mut raw,
        &["HSET", &format!("sf:{{{NS}:lk:ok}}"), "good", "1"],
    );
    assert_eq!(ex.get_link_services(NS, "ok").unwrap().len(), 1);
}

#[test]
fn states_that_are_not_utf8_are_reported_not_mangled() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    redis::cmd("SET")
        .arg("sf:{prod:workload:bin}")
        .arg(&b"\xff\xfe"[..])
        .query::<()>(&mut raw)
        .unwrap();
    redis::cmd("HSET")
        .arg("sf:{prod:state:bin}")
        .arg("1")
        .arg(&b"\xc3"[..])
        .query::<()>(&mut raw)
        .unwrap();
    assert_eq!(
        ex.get_workload_state(NS, "bin").unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );
    assert_eq!(
        ex.get_workload_states(NS, &["bin"]).unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );
    assert_eq!(
        ex.get_service_state(NS, "bin").unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );
}

#[test]
fn keys_of_the_wrong_type_are_corrupt_data_and_no_write_is_half_done() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    // The uid hash holds a string: every link write must fail before writing the link key.
    raw_cmd(
        &mut raw,
        &["SET", &format!("sf:{{{NS}:lk:u1}}"), "not-a-hash"],
    );
    // The link key holds a hash: reads and writes must fail.
    raw_cmd(
        &mut raw,
        &["HSET", &format!("sf:{{{NS}:lk:u2}}{SVC}"), "f", "v"],
    );
    let before = snapshot(&mut raw);

    for persistence in [Persistence::Persistent, Persistence::temporary(60)] {
        let writes: [(&str, Result<()>); 4] = [
            (
                "set",
                ex.set_linked_pod(NS, "u1", SVC, 1, persistence).map(drop),
            ),
            (
                "try set",
                ex.try_set_linked_pod(NS, "u1", SVC, 1, persistence)
                    .map(drop),
            ),
            (
                "if absent",
                ex.set_linked_pod_if_absent(NS, "u1", SVC, 1, persistence)
                    .map(drop),
            ),
            (
                "remove",
                ex.remove_linked_pod(NS, "u1", SVC, Grace::Seconds(5))
                    .map(drop),
            ),
        ];
        for (op, outcome) in writes {
            let err = outcome.expect_err(op);
            assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{op}: {err}");
        }
    }
    let err = ex.get_linked_pod(NS, "u2", SVC).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    let err = ex
        .set_linked_pod(NS, "u2", SVC, 1, Persistence::Persistent)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    let err = ex.get_link_services(NS, "u1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    assert_same_data(
        &before,
        &snapshot(&mut raw),
        "after refused writes on foreign data",
    );
}

#[test]
fn a_corrupt_entry_mid_batch_leaves_no_unread_reply_for_the_next_call() {
    let server = RedisServer::start();
    // One connection, so the next calls reuse it unless it was dropped.
    let ex = server.executor_with(|c| {
        c.set_pool_max_size(1).unwrap();
    });
    let mut raw = server.raw();
    let uids: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
    for (i, uid) in uids.iter().enumerate() {
        java_persistent(&mut raw, uid, SVC, &i.to_string());
    }
    raw_cmd(
        &mut raw,
        &["SET", &format!("sf:{{{NS}:lk:u7}}{SVC}"), "seven"],
    );
    let err = ex.batch_get_linked_pods(NS, SVC, &uids).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    assert!(err.message().contains("u7"), "{err}");
    // Had the rest of the MGET reply stayed in the connection, these would read it.
    for (i, uid) in uids.iter().enumerate().filter(|(i, _)| *i != 7) {
        assert_eq!(ex.get_linked_pod(NS, uid, SVC).unwrap(), Some(i as i32));
    }
    raw_cmd(&mut raw, &["SET", &format!("sf:{{{NS}:lk:u7}}{SVC}"), "7"]);
    let pods = ex.batch_get_linked_pods(NS, SVC, &uids).unwrap();
    assert_eq!(pods, (0..200).map(Some).collect::<Vec<_>>());
}

#[test]
fn leading_zeros_are_not_pod_ordinals() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    java_persistent(&mut raw, "u1", SVC, "03");
    let before = snapshot(&mut raw);
    for outcome in [
        ex.get_linked_pod(NS, "u1", SVC).map(drop),
        ex.set_linked_pod(NS, "u1", SVC, 3, Persistence::Persistent)
            .map(drop),
        ex.get_link_services(NS, "u1").map(drop),
    ] {
        assert_eq!(outcome.unwrap_err().kind(), ErrorKind::UnexpectedReply);
    }
    assert_same_data(&before, &snapshot(&mut raw), "after reading \"03\"");
    // In the pod-state hash a field "03" is not pod 3: it is skipped, and cannot shadow "3".
    let key = format!("sf:{{{NS}:state:{SVC}}}");
    raw_cmd(
        &mut raw,
        &["HSET", &key, "3", "Running", "03", "Stale", "00", "x"],
    );
    let states = ex.get_service_state(NS, SVC).unwrap();
    assert_eq!(states, BTreeMap::from([(3, "Running".to_string())]));
}

/// Names the Java and Go services use that the 0.1 rules refused (data-model.md, revised in
/// 0.2): their data, written with plain commands in the documented layout, is read and changed
/// through the library, in the keys those services use.
#[test]
fn names_the_other_services_use_reach_their_data() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let cases = [
        ("prod", "user:1", "chat:v2"),
        ("prod", "room/7", "game/room"),
        ("prod/eu", "用户", "聊天"),
        ("prod/eu", "a b", "chat svc"),
        ("default", "x:lk:y", "lk:z"),
    ];
    for (i, (ns, uid, svc)) in cases.iter().enumerate() {
        let pod = (i + 3).to_string();
        raw_cmd(
            &mut raw,
            &["SET", &format!("sf:{{{ns}:lk:{uid}}}{svc}"), &pod],
        );
        raw_cmd(
            &mut raw,
            &["HSET", &format!("sf:{{{ns}:lk:{uid}}}"), svc, &pod],
        );
        raw_cmd(
            &mut raw,
            &["HSET", &format!("sf:{{{ns}:state:{svc}}}"), "0", "Running"],
        );
        raw_cmd(
            &mut raw,
            &["SET", &format!("sf:{{{ns}:workload:{svc}}}"), "READY"],
        );
    }
    for (i, &(ns, uid, svc)) in cases.iter().enumerate() {
        let pod = i as Pod + 3;
        assert_eq!(ex.get_linked_pod(ns, uid, svc).unwrap(), Some(pod), "{svc}");
        assert_eq!(
            ex.get_linked_pod_if_persist(ns, uid, svc).unwrap(),
            Some(pod)
        );
        assert_eq!(ex.get_link_services(ns, uid).unwrap().get(svc), Some(&pod));
        assert_eq!(
            ex.batch_get_linked_pods(ns, svc, &[uid]).unwrap(),
            vec![Some(pod)]
        );
        assert_eq!(
            ex.get_service_state(ns, svc)
                .unwrap()
                .get(&0)
                .map(String::as_str),
            Some("Running")
        );
        assert_eq!(
            ex.get_workload_state(ns, svc).unwrap().as_deref(),
            Some("READY")
        );
        // Written through the library, read back with plain commands in the same keys.
        assert_eq!(
            ex.set_linked_pod(ns, uid, svc, 40, Persistence::Persistent)
                .unwrap(),
            Some(pod)
        );
        let link = get_str(&mut raw, &format!("sf:{{{ns}:lk:{uid}}}{svc}"));
        assert_eq!(link.as_deref(), Some("40"));
        let field = text(raw_cmd(
            &mut raw,
            &["HGET", &format!("sf:{{{ns}:lk:{uid}}}"), svc],
        ));
        assert_eq!(field, "40");
        assert!(ex
            .remove_linked_pod(ns, uid, svc, Grace::Immediate)
            .unwrap());
        assert_eq!(ex.get_linked_pod(ns, uid, svc).unwrap(), None);
    }
    // The namespace still refuses ':' (it separates the kind inside the braces).
    assert_eq!(
        kind(ex.get_linked_pod("prod:eu", "u", "chat")),
        ErrorKind::InvalidArgument
    );
}
