//! export -> import: the same keys, types, values and TTLs (within a second), on a standalone
//! server, a cluster, across the two, and into another namespace; a bad file writes nothing.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;
use stateful_executor::Persistence;

use crate::common::*;
use crate::harness::temp_dir;

const NS: &str = "prod/eu";

/// States, workload states, persistent and temporary links under names the rules allow.
fn write_data(setup: &Setup) {
    let ex = setup.executor();
    for (service, pods) in [("chat:v2", 3), ("聊天", 2), ("game room", 1)] {
        for pod in 0..pods {
            ex.set_service_state(NS, service, pod, &format!("Running-{pod}"))
                .unwrap();
        }
        ex.set_workload_state(NS, service, "Available").unwrap();
    }
    for i in 0..300 {
        let uid = match i % 3 {
            0 => format!("user:{i}/é"),
            1 => format!("u*{i}"),
            _ => format!("{i}"),
        };
        let persistence = match i % 4 {
            0 | 1 => Persistence::Persistent,
            _ => Persistence::temporary(100 + i),
        };
        ex.set_linked_pod(NS, &uid, "chat:v2", (i % 3) as i32, persistence)
            .unwrap();
        if i % 5 == 0 {
            ex.set_linked_pod(NS, &uid, "聊天", 1, Persistence::Persistent)
                .unwrap();
        }
    }
    // Another namespace: not exported.
    ex.set_linked_pod("other", "x", "chat", 1, Persistence::Persistent)
        .unwrap();
}

/// The keys of namespace `ns`, renamed as if in namespace `as_ns`.
fn namespace(setup: &Setup, ns: &str, as_ns: &str) -> BTreeMap<String, Stored> {
    let prefix = format!("sf:{{{ns}:");
    setup
        .snapshot()
        .into_iter()
        .filter_map(|(key, stored)| {
            key.strip_prefix(&prefix)
                .map(|rest| (format!("sf:{{{as_ns}:{rest}"), stored))
        })
        .collect()
}

/// Same keys, types and content; TTLs: none stays none, else the copy's TTL is the original's
/// up to one second more (export rounds up to whole seconds), give or take `between_ms`: the time
/// from the export to the last TTL read (the copy's TTLs were set, and each snapshot read its
/// TTLs, at different moments within it).
fn assert_same(
    original: &BTreeMap<String, Stored>,
    copy: &BTreeMap<String, Stored>,
    between_ms: i64,
) {
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>(),
        "the keys differ"
    );
    assert!(original.len() > 300, "{} keys", original.len());
    for (key, a) in original {
        let b = &copy[key];
        assert_eq!(
            (&a.kind, &a.string, &a.hash),
            (&b.kind, &b.string, &b.hash),
            "{key}"
        );
        if a.pttl == -1 {
            assert_eq!(b.pttl, -1, "{key}");
        } else {
            let diff = b.pttl - a.pttl;
            assert!(
                diff >= -between_ms && diff <= 1000 + between_ms,
                "{key}: TTL {} ms, copy {} ms",
                a.pttl,
                b.pttl
            );
        }
    }
}

fn export_to_file(setup: &Setup, ns: &str) -> std::path::PathBuf {
    let run = setup.sfctl(&["export", ns]).expect(0);
    assert!(run.stderr.contains("exported"), "{run:?}");
    let path = temp_dir("export").join("export.jsonl");
    std::fs::write(&path, &run.stdout).unwrap();
    path
}

#[test]
fn export_then_import_into_a_fresh_server_is_equal_key_by_key() {
    let source = Setup::standalone();
    write_data(&source);
    let started = Instant::now();
    let file = export_to_file(&source, NS);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text
        .lines()
        .any(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()
            == json!({"kind": "link", "ns": NS, "uid": "u*1", "service": "chat:v2", "pod": 1,
                  "persistent": true, "ttl_seconds": null})));
    assert!(text.lines().any(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()
        == json!({"kind": "state", "ns": NS, "service": "聊天", "pod": 1, "state": "Running-1"})));
    assert!(!text.contains("\"other\""));

    let target = Setup::standalone();
    let run = target.sfctl(&["import", file.to_str().unwrap()]).expect(0);
    assert!(
        run.stdout
            .contains("imported 6 pod states, 3 workload states"),
        "{run:?}"
    );
    let original = namespace(&source, NS, NS);
    let copy = namespace(&target, NS, NS);
    // Until the last TTL was read: each snapshot reads its TTLs at its own time.
    let between = started.elapsed().as_millis() as i64;
    assert_same(&original, &copy, between + 200);
    assert_eq!(
        target.keys().len(),
        copy.len(),
        "nothing outside the namespace"
    );
}

#[test]
fn export_from_a_cluster_imports_into_another_namespace_and_a_standalone_server() {
    let cluster = Setup::cluster();
    write_data(&cluster);
    let started = Instant::now();
    let file = export_to_file(&cluster, NS);
    let path = file.to_str().unwrap();
    let run = cluster
        .sfctl(&["import", path, "--ns", "copy", "--json"])
        .expect(0)
        .object();
    assert_eq!(run["states"], 6);
    assert_eq!(run["workloads"], 3);
    assert_eq!(run["failed"], 0);
    let standalone = Setup::standalone();
    standalone.sfctl(&["import", path]).expect(0);
    let original = namespace(&cluster, NS, NS);
    let cluster_copy = namespace(&cluster, "copy", NS);
    let standalone_copy = namespace(&standalone, NS, NS);
    // Until the last TTL was read: each snapshot reads its TTLs at its own time.
    let between = started.elapsed().as_millis() as i64;
    assert_same(&original, &cluster_copy, between + 200);
    assert_same(&original, &standalone_copy, between + 200);
    // Import again: the same links, nothing replaced.
    let again = standalone
        .sfctl(&["--json", "import", path])
        .expect(0)
        .object();
    assert_eq!(again["replaced"], 0);
}

#[test]
fn a_bad_line_anywhere_writes_nothing() {
    let server = Setup::standalone();
    let dir = temp_dir("import");
    let good = r#"{"kind":"link","ns":"prod","uid":"u1","service":"chat","pod":1,"persistent":true,"ttl_seconds":null}"#;
    let cases = [
        r#"{"kind":"link","ns":"pr:od","uid":"u1","service":"chat","pod":1,"persistent":true,"ttl_seconds":null}"#,
        r#"{"kind":"link","ns":"prod","uid":"u1","service":"chat","pod":-1,"persistent":true,"ttl_seconds":null}"#,
        r#"{"kind":"link","ns":"prod","uid":"u1","service":"chat","pod":1,"persistent":false,"ttl_seconds":0}"#,
        r#"{"kind":"link","ns":"prod","uid":"u1","service":"chat","pod":1,"persistent":true,"ttl_seconds":5}"#,
        r#"{"kind":"state","ns":"prod","service":"chat","pod":1,"state":""}"#,
        r#"{"kind":"nonsense","ns":"prod"}"#,
        r#"{"kind":"workload","ns":"prod","service":"chat","state":"A","extra":1}"#,
        "not json",
    ];
    let mut watch = server.watch();
    for (i, bad) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.jsonl"));
        std::fs::write(&path, format!("{good}\n\n{bad}\n{good}\n")).unwrap();
        let run = server.sfctl(&["import", path.to_str().unwrap()]).expect(2);
        assert!(run.stderr.contains(":3: "), "names the line: {run:?}");
    }
    watch.assert_untouched("a bad import file");
    assert!(server.keys().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
