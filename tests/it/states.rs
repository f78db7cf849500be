//! Pod states and workload states (data-model.md, "Operations").

use std::collections::BTreeMap;

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "default";

fn states(pairs: &[(Pod, &str)]) -> BTreeMap<Pod, String> {
    pairs.iter().map(|(p, s)| (*p, s.to_string())).collect()
}

#[test]
fn service_state_is_empty_until_published_and_keeps_one_entry_per_pod() {
    let server = RedisServer::start();
    let ex = server.executor();
    assert!(ex.get_service_state(NS, "chat").unwrap().is_empty());

    ex.set_service_state(NS, "chat", 0, "Running").unwrap();
    ex.set_service_state(NS, "chat", 2, "Pending").unwrap();
    ex.set_service_state(NS, "chat", 10, "3-100").unwrap();
    ex.set_service_state(NS, "chat", i32::MAX, "Running")
        .unwrap();
    assert_eq!(
        ex.get_service_state(NS, "chat").unwrap(),
        states(&[
            (0, "Running"),
            (2, "Pending"),
            (10, "3-100"),
            (i32::MAX, "Running")
        ])
    );

    // Overwriting a pod's state replaces only that entry.
    ex.set_service_state(NS, "chat", 2, "Terminating").unwrap();
    assert_eq!(ex.get_service_state(NS, "chat").unwrap()[&2], "Terminating");
    assert_eq!(ex.get_service_state(NS, "chat").unwrap().len(), 4);
}

#[test]
fn service_states_of_different_services_and_namespaces_are_independent() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_service_state("a", "chat", 1, "A-chat").unwrap();
    ex.set_service_state("a", "game", 1, "A-game").unwrap();
    ex.set_service_state("b", "chat", 1, "B-chat").unwrap();
    assert_eq!(
        ex.get_service_state("a", "chat").unwrap(),
        states(&[(1, "A-chat")])
    );
    assert_eq!(
        ex.get_service_state("a", "game").unwrap(),
        states(&[(1, "A-game")])
    );
    assert_eq!(
        ex.get_service_state("b", "chat").unwrap(),
        states(&[(1, "B-chat")])
    );
    assert!(ex.get_service_state("b", "game").unwrap().is_empty());
    // Workload states live elsewhere: a pod state is not a workload state.
    assert_eq!(ex.get_workload_state("a", "chat").unwrap(), None);
}

#[test]
fn service_state_keeps_arbitrary_utf8_states_byte_for_byte() {
    let server = RedisServer::start();
    let ex = server.executor();
    let odd = [
        "with spaces and : { } characters",
        "ünïcödé ✓",
        "line\nbreak\ttab",
        "{\"json\":true}",
        "0",
    ];
    for (pod, state) in odd.iter().enumerate() {
        ex.set_service_state(NS, "svc", pod as Pod, state).unwrap();
    }
    let read = ex.get_service_state(NS, "svc").unwrap();
    for (pod, state) in odd.iter().enumerate() {
        assert_eq!(read[&(pod as Pod)], *state);
    }
}

#[test]
fn service_state_skips_fields_that_are_not_pod_ordinals() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let key = "sf:{default:state:chat}";
    for (field, value) in [
        ("0", "Running"),
        ("7", "Pending"),
        ("2147483647", "Max"),
        ("abc", "x"),
        ("-1", "x"),
        ("3.0", "x"),
        ("+4", "x"),
        (" 5", "x"),
        ("2147483648", "x"),
        ("99999999999", "x"),
        ("updatedAt", "2024-01-01"),
    ] {
        raw_cmd(&mut raw, &["HSET", key, field, value]);
    }
    assert_eq!(
        ex.get_service_state(NS, "chat").unwrap(),
        states(&[(0, "Running"), (7, "Pending"), (2147483647, "Max")])
    );

    // Only non-numeric fields: an empty map, not an error.
    raw_cmd(&mut raw, &["HSET", "sf:{default:state:odd}", "meta", "1"]);
    assert!(ex.get_service_state(NS, "odd").unwrap().is_empty());
}

#[test]
fn workload_state_set_get_and_overwrite() {
    let server = RedisServer::start();
    let ex = server.executor();
    assert_eq!(ex.get_workload_state(NS, "chat").unwrap(), None);
    ex.set_workload_state(NS, "chat", "Available").unwrap();
    assert_eq!(
        ex.get_workload_state(NS, "chat").unwrap().as_deref(),
        Some("Available")
    );
    ex.set_workload_state(NS, "chat", "READY ✓").unwrap();
    assert_eq!(
        ex.get_workload_state(NS, "chat").unwrap().as_deref(),
        Some("READY ✓")
    );
    assert_eq!(ex.get_workload_state(NS, "game").unwrap(), None);
    assert_eq!(ex.get_workload_state("other", "chat").unwrap(), None);
    // Not a pod state either.
    assert!(ex.get_service_state(NS, "chat").unwrap().is_empty());
}

#[test]
fn workload_states_answer_in_input_order_with_none_for_absent() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_workload_state(NS, "a", "Available").unwrap();
    ex.set_workload_state(NS, "c", "READY").unwrap();
    ex.set_workload_state("other", "b", "elsewhere").unwrap();

    assert_eq!(
        ex.get_workload_states(NS, &["c", "b", "a"]).unwrap(),
        vec![
            Some("READY".to_string()),
            None,
            Some("Available".to_string())
        ]
    );
    let empty: [&str; 0] = [];
    assert!(ex.get_workload_states(NS, &empty).unwrap().is_empty());
    // Duplicates and owned strings.
    let services: Vec<String> = ["a", "a", "zz", "c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        ex.get_workload_states(NS, &services).unwrap(),
        vec![
            Some("Available".to_string()),
            Some("Available".to_string()),
            None,
            Some("READY".to_string())
        ]
    );
    assert_eq!(ex.get_workload_states(NS, &["b"]).unwrap(), vec![None]);
}

#[test]
fn workload_states_of_many_services_match_single_reads() {
    let server = RedisServer::start();
    let ex = server.executor();
    let services: Vec<String> = (0..200).map(|i| format!("svc-{i}")).collect();
    for (i, svc) in services.iter().enumerate() {
        if i % 4 != 1 {
            ex.set_workload_state(NS, svc, &format!("state-{i}"))
                .unwrap();
        }
    }
    let all = ex.get_workload_states(NS, &services).unwrap();
    assert_eq!(all.len(), services.len());
    for (i, (svc, state)) in services.iter().zip(&all).enumerate() {
        let expected = (i % 4 != 1).then(|| format!("state-{i}"));
        assert_eq!(*state, expected, "{svc}");
        assert_eq!(ex.get_workload_state(NS, svc).unwrap(), expected, "{svc}");
    }
}
