//! Packed multi-entry reads (`Executor::*_packed` into a `Packed`): the same results as the
//! map-returning reads on the same data, in the same order, with the same failures, and an
//! empty buffer after any failure.

use std::collections::BTreeMap;

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "pk";

fn pod_entries(packed: &Packed) -> Vec<(Pod, String)> {
    packed
        .entries()
        .map(|(pod, text)| (pod, text.expect("a present text").to_string()))
        .collect()
}

fn text_entries(packed: &Packed) -> Vec<(i32, Option<String>)> {
    packed
        .entries()
        .map(|(key, text)| (key, text.map(str::to_string)))
        .collect()
}

#[test]
fn service_states_match_the_map_read_in_pod_order() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut packed = Packed::new();
    ex.get_service_state_packed(NS, "chat", &mut packed)
        .unwrap();
    assert!(packed.is_empty() && packed.as_bytes().is_empty());

    let states = [
        (10, "🚀Up"),
        (0, "运行中"),
        (2147483647, "Running"),
        (3, "with \"quotes\" and\nnewline"),
        (1, &"x".repeat(4096)),
    ];
    for (pod, state) in states {
        ex.set_service_state(NS, "chat", pod, state).unwrap();
    }
    let mut raw = server.raw();
    // Written by another client: an empty state, and fields that are not pod ordinals (skipped).
    raw_cmd(&mut raw, &["HSET", "sf:{pk:state:chat}", "7", ""]);
    raw_cmd(&mut raw, &["HSET", "sf:{pk:state:chat}", "not-a-pod", "x"]);
    raw_cmd(&mut raw, &["HSET", "sf:{pk:state:chat}", "01", "x"]);

    ex.get_service_state_packed(NS, "chat", &mut packed)
        .unwrap();
    let expected: Vec<(Pod, String)> = ex
        .get_service_state(NS, "chat")
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(expected.len(), 6);
    assert_eq!(pod_entries(&packed), expected);
    assert_eq!(packed.len(), 6);
    assert_eq!(expected[0], (0, "运行中".to_string()));
    assert_eq!(expected[3], (7, String::new()));

    // The layout: key, length, bytes, NUL, in the machine's byte order.
    let bytes = packed.as_bytes();
    assert_eq!(i32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 0);
    assert_eq!(
        i32::from_ne_bytes(bytes[4..8].try_into().unwrap()),
        "运行中".len() as i32
    );
    assert_eq!(&bytes[8..8 + "运行中".len()], "运行中".as_bytes());
    assert_eq!(bytes[8 + "运行中".len()], 0);
    let size: usize = expected.iter().map(|(_, s)| 8 + s.len() + 1).sum();
    assert_eq!(bytes.len(), size);

    // The same buffer, reused for a smaller result, holds only the new entries.
    ex.set_service_state(NS, "game", 5, "Pending").unwrap();
    ex.get_service_state_packed(NS, "game", &mut packed)
        .unwrap();
    assert_eq!(pod_entries(&packed), vec![(5, "Pending".to_string())]);
}

#[test]
fn workload_states_match_the_batch_read_in_input_order() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_workload_state(NS, "chat", "🚀Available").unwrap();
    ex.set_workload_state(NS, "视频", "可用").unwrap();
    raw_cmd(&mut server.raw(), &["SET", "sf:{pk:workload:blank}", ""]);
    let services = ["视频", "absent", "chat", "blank", "chat", "absent-too"];

    let mut packed = Packed::new();
    ex.get_workload_states_packed(NS, &services, &mut packed)
        .unwrap();
    let expected: Vec<(i32, Option<String>)> = ex
        .get_workload_states(NS, &services)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, state)| (i as i32, state))
        .collect();
    assert_eq!(text_entries(&packed), expected);
    assert_eq!(
        expected,
        vec![
            (0, Some("可用".to_string())),
            (1, None),
            (2, Some("🚀Available".to_string())),
            (3, Some(String::new())),
            (4, Some("🚀Available".to_string())),
            (5, None),
        ]
    );
    // Absent entries carry a length of -1 and no bytes.
    let absent_at = 8 + "可用".len() + 1;
    assert_eq!(
        i32::from_ne_bytes(
            packed.as_bytes()[absent_at..absent_at + 4]
                .try_into()
                .unwrap()
        ),
        1
    );
    assert_eq!(
        i32::from_ne_bytes(
            packed.as_bytes()[absent_at + 4..absent_at + 8]
                .try_into()
                .unwrap()
        ),
        -1
    );

    // No services: no entry and nothing sent (a stopped server would not answer).
    let mut server = server;
    server.kill();
    let none: [&str; 0] = [];
    ex.get_workload_states_packed(NS, &none, &mut packed)
        .unwrap();
    assert!(packed.is_empty() && packed.as_bytes().is_empty());
}

#[test]
fn link_services_match_the_map_read_in_name_order() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut packed = Packed::new();
    ex.get_link_services_packed(NS, "user-🚀", &mut packed)
        .unwrap();
    assert!(packed.is_empty());
    for (service, pod) in [("video", 2), ("聊天", 1), ("audio", 0), ("Zed", 9)] {
        ex.set_linked_pod(NS, "user-🚀", service, pod, Persistence::Persistent)
            .unwrap();
    }
    ex.set_linked_pod(NS, "user-🚀", "temp", 8, Persistence::temporary(60))
        .unwrap();
    ex.get_link_services_packed(NS, "user-🚀", &mut packed)
        .unwrap();
    let expected: Vec<(String, Pod)> = ex
        .get_link_services(NS, "user-🚀")
        .unwrap()
        .into_iter()
        .collect();
    let read: Vec<(String, Pod)> = packed
        .entries()
        .map(|(pod, service)| (service.unwrap().to_string(), pod))
        .collect();
    assert_eq!(read, expected);
    let names: Vec<&str> = expected.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["Zed", "audio", "video", "聊天"]); // bytewise, temporary links left out
}

#[test]
fn corrupt_data_fails_as_unexpected_reply_and_leaves_the_buffer_empty() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let mut packed = Packed::new();
    let refill = |packed: &mut Packed| {
        ex.set_service_state(NS, "fine", 1, "Running").unwrap();
        ex.get_service_state_packed(NS, "fine", packed).unwrap();
        assert_eq!(packed.len(), 1);
    };
    let unexpected = |outcome: Result<()>, packed: &Packed, what: &str| {
        let err = outcome.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{what}: {err}");
        assert!(packed.is_empty() && packed.as_bytes().is_empty(), "{what}");
        err
    };

    redis::cmd("HSET")
        .arg("sf:{pk:state:bad}")
        .arg("1")
        .arg(&b"\xff\xfe"[..])
        .query::<i64>(&mut raw)
        .unwrap();
    refill(&mut packed);
    let outcome = ex.get_service_state_packed(NS, "bad", &mut packed);
    let err = unexpected(outcome, &packed, "state not UTF-8");
    assert!(err.message().contains("UTF-8"), "{err}");
    assert_eq!(
        ex.get_service_state(NS, "bad").unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );

    // A NUL byte: the Rust map read returns it, a packed (C string) text cannot hold it.
    raw_cmd(&mut raw, &["HSET", "sf:{pk:state:nul}", "1", "a\0b"]);
    refill(&mut packed);
    let outcome = ex.get_service_state_packed(NS, "nul", &mut packed);
    let err = unexpected(outcome, &packed, "state with NUL");
    assert!(err.message().contains("NUL"), "{err}");
    assert_eq!(ex.get_service_state(NS, "nul").unwrap()[&1], "a\0b");

    redis::cmd("SET")
        .arg("sf:{pk:workload:bad}")
        .arg(&b"ok\xff"[..])
        .query::<()>(&mut raw)
        .unwrap();
    refill(&mut packed);
    let outcome = ex.get_workload_states_packed(NS, &["fine", "bad"], &mut packed);
    unexpected(outcome, &packed, "workload state not UTF-8");
    raw_cmd(&mut raw, &["SET", "sf:{pk:workload:nul}", "\0"]);
    refill(&mut packed);
    let outcome = ex.get_workload_states_packed(NS, &["nul"], &mut packed);
    unexpected(outcome, &packed, "workload state with NUL");

    raw_cmd(&mut raw, &["HSET", "sf:{pk:lk:bad}", "chat", "x1"]);
    refill(&mut packed);
    let outcome = ex.get_link_services_packed(NS, "bad", &mut packed);
    let err = unexpected(outcome, &packed, "link to a non-pod");
    assert!(err.message().contains("x1"), "{err}");

    // A key of another type: the server's WRONGTYPE error.
    raw_cmd(&mut raw, &["SET", "sf:{pk:state:wrongtype}", "x"]);
    refill(&mut packed);
    let outcome = ex.get_service_state_packed(NS, "wrongtype", &mut packed);
    let err = unexpected(outcome, &packed, "WRONGTYPE");
    assert!(err.message().contains("WRONGTYPE"), "{err}");
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    let mut server = RedisServer::start();
    let ex = server.executor();
    let mut packed = Packed::new();
    ex.set_service_state(NS, "fine", 1, "Running").unwrap();
    ex.get_service_state_packed(NS, "fine", &mut packed)
        .unwrap();
    // With the server gone, anything sent would fail as a connection error instead.
    server.kill();
    let cases: Vec<(&str, Result<()>)> = vec![
        (
            "ns with ':'",
            ex.get_service_state_packed("a:b", "chat", &mut packed),
        ),
        (
            "empty service",
            ex.get_service_state_packed(NS, "", &mut packed),
        ),
        (
            "service with '{'",
            ex.get_workload_states_packed(NS, &["ok", "b{ad"], &mut packed),
        ),
        (
            "empty ns",
            ex.get_workload_states_packed("", &["ok"], &mut packed),
        ),
        (
            "uid with '}'",
            ex.get_link_services_packed(NS, "u}", &mut packed),
        ),
    ];
    for (what, outcome) in cases {
        assert_eq!(
            outcome.unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{what}"
        );
    }
    assert!(packed.is_empty());
}

#[test]
fn workload_states_on_a_cluster_keep_input_order_across_nodes() {
    let cluster = Cluster::start(3, 0);
    let urls = cluster.urls();
    let ex = Executor::open(&Config::cluster(&urls[..1]).unwrap()).unwrap();
    let services: Vec<String> = (0..60).map(|i| format!("svc-{i}-✓")).collect();
    for (i, service) in services.iter().enumerate() {
        if i % 4 != 0 {
            ex.set_workload_state(NS, service, &format!("state-{i}-🚀"))
                .unwrap();
        }
    }
    let mut packed = Packed::new();
    ex.get_workload_states_packed(NS, &services, &mut packed)
        .unwrap();
    let expected: BTreeMap<i32, Option<String>> = ex
        .get_workload_states(NS, &services)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, state)| (i as i32, state))
        .collect();
    let keys: Vec<i32> = packed.entries().map(|(key, _)| key).collect();
    assert_eq!(keys, (0..60).collect::<Vec<i32>>());
    assert_eq!(
        text_entries(&packed)
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        expected
    );
    assert_eq!(expected[&1], Some("state-1-🚀".to_string()));
    assert_eq!(expected[&4], None);
}
