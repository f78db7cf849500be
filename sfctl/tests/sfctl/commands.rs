//! Every read and write command, on a standalone server and on a cluster: what each prints
//! (tables and --json) and what it leaves in Redis.

use std::collections::BTreeSet;

use serde_json::json;
use stateful_executor::{keys, Persistence};

use crate::common::*;

#[test]
fn every_command_on_a_standalone_server() {
    every_command(&Setup::standalone());
}

#[test]
fn every_command_on_a_cluster() {
    every_command(&Setup::cluster());
}

fn every_command(setup: &Setup) {
    states_and_workloads(setup);
    set_link_and_link(setup);
    links_of_pod(setup);
    unlink(setup);
}

fn states_and_workloads(setup: &Setup) {
    let ex = setup.executor();
    let first = setup
        .sfctl(&["set-state", "prod", "chat", "0", "Running"])
        .expect(0);
    assert!(
        first.stdout.contains("before") && first.stdout.contains("(none)"),
        "{first:?}"
    );
    let second = setup
        .sfctl(&["--json", "set-state", "prod", "chat", "0", "Ready"])
        .expect(0)
        .object();
    assert_eq!(
        second,
        json!({"ns": "prod", "service": "chat", "pod": 0, "state": "Ready", "before": {"state": "Running"}})
    );
    setup
        .sfctl(&["set-state", "prod", "chat", "2", "Pending"])
        .expect(0);
    assert_eq!(
        ex.get_service_state("prod", "chat").unwrap(),
        [(0, "Ready".to_string()), (2, "Pending".to_string())].into()
    );

    let table = setup.sfctl(&["states", "prod", "chat"]).expect(0);
    let lines: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["POD", "STATE"],
            vec!["0", "Ready"],
            vec!["2", "Pending"]
        ]
    );
    let rows = setup
        .sfctl(&["states", "prod", "chat", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        rows,
        vec![
            json!({"ns": "prod", "service": "chat", "pod": 0, "state": "Ready"}),
            json!({"ns": "prod", "service": "chat", "pod": 2, "state": "Pending"}),
        ]
    );
    let none = setup.sfctl(&["states", "prod", "game"]).expect(1);
    assert!(
        none.stdout.is_empty() && none.stderr.contains("no pod states"),
        "{none:?}"
    );

    let set = setup
        .sfctl(&["set-workload", "prod", "chat", "Available", "--json"])
        .expect(0)
        .object();
    assert_eq!(set["before"], json!(null));
    assert_eq!(
        ex.get_workload_state("prod", "chat").unwrap().as_deref(),
        Some("Available")
    );
    let again = setup
        .sfctl(&["set-workload", "prod", "chat", "Degraded", "--json"])
        .expect(0)
        .object();
    assert_eq!(again["before"], json!({"state": "Available"}));
    // One service without a workload state: shown as none, exit code 1.
    let both = setup
        .sfctl(&["--json", "workload", "prod", "chat", "game"])
        .expect(1)
        .json();
    assert_eq!(
        both,
        vec![
            json!({"ns": "prod", "service": "chat", "state": "Degraded"}),
            json!({"ns": "prod", "service": "game", "state": null}),
        ]
    );
    let one = setup.sfctl(&["workload", "prod", "chat"]).expect(0);
    assert!(one.stdout.contains("Degraded"), "{one:?}");
}

fn set_link_and_link(setup: &Setup) {
    let mut conn = setup.conn();
    let first = setup
        .sfctl(&["set-link", "prod", "u:1", "chat", "1", "--json"])
        .expect(0)
        .object();
    assert_eq!(
        first,
        json!({"ns": "prod", "uid": "u:1", "service": "chat", "pod": 1, "persistent": true,
               "ttl_seconds": null, "before": null})
    );
    let link = keys::link_key("prod", "u:1", "chat");
    let hash = keys::uid_links_key("prod", "u:1");
    assert_eq!(hget(conn.as_mut(), &hash, "chat").as_deref(), Some("1"));

    let second = setup
        .sfctl(&[
            "set-link", "prod", "u:1", "chat", "2", "--ttl", "100", "--json",
        ])
        .expect(0)
        .object();
    assert_eq!(
        second["before"],
        json!({"pod": 1, "persistent": true, "ttl_seconds": null})
    );
    assert_eq!(second["ttl_seconds"], json!(100));
    assert_eq!(get(conn.as_mut(), &link).as_deref(), Some("2"));
    let ttl = pttl(conn.as_mut(), &link);
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
    assert_eq!(
        hget(conn.as_mut(), &hash, "chat"),
        None,
        "a temporary link is not listed"
    );
    let table = setup
        .sfctl(&["set-link", "prod", "u:1", "game", "3"])
        .expect(0);
    assert!(table.stdout.contains("(none)"), "{table:?}");

    let links = setup
        .sfctl(&["link", "prod", "u:1", "--json"])
        .expect(0)
        .json();
    assert_eq!(links.len(), 2, "{links:?}");
    assert_eq!(links[0]["service"], "chat");
    assert_eq!(links[0]["pod"], 2);
    assert_eq!(links[0]["persistent"], false);
    let left = links[0]["ttl_seconds"].as_u64().unwrap();
    assert!((90..=100).contains(&left), "{left}");
    assert_eq!(
        links[1],
        json!({"ns": "prod", "uid": "u:1", "service": "game", "pod": 3, "persistent": true, "ttl_seconds": null})
    );
    let one = setup.sfctl(&["link", "prod", "u:1", "game"]).expect(0);
    let rows: Vec<Vec<&str>> = one
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["SERVICE", "POD", "PERSISTENT", "TTL"],
            vec!["game", "3", "yes", "-"]
        ]
    );
    setup.sfctl(&["link", "prod", "nobody"]).expect(1);
    setup.sfctl(&["link", "prod", "u:1", "other"]).expect(1);
}

fn links_of_pod(setup: &Setup) {
    let ex = setup.executor();
    let mut on_pod_5 = BTreeSet::new();
    for i in 0..120 {
        let uid = format!("user*{i}");
        let (pod, persistence) = match i % 4 {
            0 => (5, Persistence::Persistent),
            1 => (5, Persistence::temporary(500)),
            _ => (6, Persistence::Persistent),
        };
        ex.set_linked_pod("prod", &uid, "chat", pod, persistence)
            .unwrap();
        if pod == 5 {
            on_pod_5.insert(uid);
        }
    }
    // Look-alikes that must not be listed: another namespace matching a glob of "prod*", and
    // another service.
    ex.set_linked_pod("prodX", "user*0", "chat", 5, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("prod", "user*0", "chat2", 5, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("prod*", "user*1", "chat", 5, Persistence::Persistent)
        .unwrap();

    let rows = setup
        .sfctl(&["links-of-pod", "prod", "chat", "5", "--json"])
        .expect(0)
        .json();
    let uids: BTreeSet<String> = rows
        .iter()
        .map(|r| r["uid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uids, on_pod_5);
    assert_eq!(rows.len(), on_pod_5.len(), "each uid once");
    for row in &rows {
        let i: usize = row["uid"].as_str().unwrap()[5..].parse().unwrap();
        assert_eq!(row["persistent"], json!(i % 4 == 0), "{row}");
        assert_eq!(row["ttl_seconds"].is_null(), i % 4 == 0, "{row}");
        assert_eq!(row["pod"], 5);
    }
    let star = setup
        .sfctl(&["links-of-pod", "prod*", "chat", "5", "--json"])
        .expect(0)
        .json();
    assert_eq!(star.len(), 1);
    assert_eq!(star[0]["uid"], "user*1");
    let table = setup
        .sfctl(&["links-of-pod", "prod", "chat", "6"])
        .expect(0);
    assert_eq!(table.stdout.lines().count(), 1 + 60, "{table:?}");
    assert!(table.stdout.starts_with("UID"), "{table:?}");
    setup
        .sfctl(&["links-of-pod", "prod", "chat", "7"])
        .expect(1);
}

fn unlink(setup: &Setup) {
    let mut conn = setup.conn();
    let ex = setup.executor();
    ex.set_linked_pod("prod", "u:2", "game", 3, Persistence::Persistent)
        .unwrap();
    let refused = setup
        .sfctl(&["unlink", "prod", "u:2", "game", "--if-pod", "4"])
        .expect(1);
    assert!(refused.stderr.contains("linked to pod 3"), "{refused:?}");
    assert_eq!(ex.get_linked_pod("prod", "u:2", "game").unwrap(), Some(3));

    let removed = setup
        .sfctl(&[
            "unlink", "prod", "u:2", "game", "--grace", "60", "--if-pod", "3", "--json",
        ])
        .expect(0)
        .object();
    assert_eq!(
        removed,
        json!({"ns": "prod", "uid": "u:2", "service": "game", "removed": true, "grace_seconds": 60,
               "before": {"pod": 3, "persistent": true, "ttl_seconds": null}})
    );
    let link = keys::link_key("prod", "u:2", "game");
    let ttl = pttl(conn.as_mut(), &link);
    assert!(
        ttl > 50_000 && ttl <= 60_000,
        "kept for the grace period: {ttl}"
    );
    assert_eq!(
        hget(conn.as_mut(), &keys::uid_links_key("prod", "u:2"), "game"),
        None
    );

    let gone = setup.sfctl(&["unlink", "prod", "u:2", "game"]).expect(0);
    assert!(gone.stdout.contains("removed"), "{gone:?}");
    assert_eq!(get(conn.as_mut(), &link), None);
    setup.sfctl(&["unlink", "prod", "u:2", "game"]).expect(1);
}
