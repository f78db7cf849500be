//! check: every kind of corruption the data model forbids or a partial failure leaves is found;
//! --fix repairs the safe kinds and leaves the others, touching nothing healthy.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use stateful_executor::{keys, Persistence};

use crate::common::*;

#[test]
fn check_finds_and_fixes_every_kind_on_a_standalone_server() {
    check_finds_and_fixes(&Setup::standalone());
}

#[test]
fn check_finds_and_fixes_every_kind_on_a_cluster() {
    check_finds_and_fixes(&Setup::cluster());
}

const NS: &str = "prod";

/// Healthy data written by the library: must never be reported or changed.
fn write_healthy(setup: &Setup) {
    let ex = setup.executor();
    ex.set_service_state(NS, "chat", 0, "Running").unwrap();
    ex.set_service_state(NS, "chat", 1, "Running").unwrap();
    ex.set_workload_state(NS, "chat", "Available").unwrap();
    for i in 0..200 {
        let persistence = if i % 2 == 0 {
            Persistence::Persistent
        } else {
            Persistence::temporary(3600)
        };
        ex.set_linked_pod(NS, &format!("ok-{i}"), "chat", i % 2, persistence)
            .unwrap();
    }
    // A service without pod states: its links are not checked against states.
    ex.set_linked_pod(NS, "ok-0", "nostates", 4, Persistence::Persistent)
        .unwrap();
}

/// Writes one case of every kind; returns (problem, key, fixed by --fix) for each.
fn inject(setup: &Setup) -> Vec<(&'static str, String, bool)> {
    let mut conn = setup.conn();
    let c = conn.as_mut();
    let link = |uid: &str| keys::link_key(NS, uid, "chat");
    let hash = |uid: &str| keys::uid_links_key(NS, uid);
    raw(c, &["SET", &link("a"), "x1"]);
    raw(c, &["SET", &link("b"), "1"]);
    raw(c, &["SET", &link("c"), "1"]);
    raw(c, &["HSET", &hash("c"), "chat", "0"]);
    raw(c, &["SET", &link("c2"), "0"]);
    raw(c, &["HSET", &hash("c2"), "chat", "03"]);
    raw(c, &["SET", &link("d"), "1", "EX", "1000"]);
    raw(c, &["HSET", &hash("d"), "chat", "1"]);
    raw(c, &["HSET", &hash("e"), "chat", "1"]);
    let state = keys::service_state_key(NS, "chat");
    raw(c, &["HSET", &state, "03", "Running"]);
    setup
        .executor()
        .set_linked_pod(NS, "f", "chat", 9, Persistence::Persistent)
        .unwrap();
    let wrong = keys::workload_key(NS, "game");
    raw(c, &["HSET", &wrong, "state", "Ready"]);
    raw(c, &["LPUSH", &link("g"), "1"]);
    let expiring = keys::workload_key(NS, "web");
    raw(c, &["SET", &expiring, "Ready", "EX", "1000"]);
    let unknown = format!("sf:{{{NS}:junk:x}}");
    raw(c, &["SET", &unknown, "1"]);
    // Corruption in another namespace: not this check's business.
    raw(c, &["SET", &keys::link_key("other", "a", "chat"), "x1"]);
    vec![
        ("link-not-ordinal", link("a"), false),
        ("untimed-link-not-in-hash", link("b"), true),
        ("field-names-other-pod", link("c"), true),
        ("field-names-other-pod", link("c2"), true),
        ("temporary-link-in-hash", link("d"), true),
        ("field-without-link", hash("e"), true),
        ("state-field-not-ordinal", state, false),
        ("link-to-absent-pod", link("f"), false),
        ("wrong-type", wrong, false),
        ("wrong-type", link("g"), false),
        ("expiring-key", expiring, true),
        ("unknown-key", unknown, false),
    ]
}

fn findings(run: &Run) -> (BTreeSet<(String, String, bool)>, Json) {
    let mut lines = run.json();
    let summary = lines.pop().expect("a summary line");
    let found = lines
        .iter()
        .map(|f| {
            (
                f["problem"].as_str().unwrap().to_string(),
                f["key"].as_str().unwrap().to_string(),
                f["fixed"].as_bool().unwrap(),
            )
        })
        .collect();
    (found, summary)
}

fn check_finds_and_fixes(setup: &Setup) {
    write_healthy(setup);
    let clean = setup.sfctl(&["check", NS]).expect(0);
    assert!(clean.stdout.contains("no problems found"), "{clean:?}");
    assert!(clean.stdout.contains("\"nostates\""), "{clean:?}");

    let cases = inject(setup);
    let healthy_before = setup.snapshot();
    let expected: BTreeSet<_> = cases
        .iter()
        .map(|(p, k, _)| (p.to_string(), k.clone(), false))
        .collect();
    let (found, summary) = findings(&setup.sfctl(&["check", NS, "--json"]).expect(1));
    assert_eq!(found, expected);
    assert_eq!(summary["found"]["wrong-type"], 2, "{summary}");
    assert_eq!(summary["links_of_services_without_states"]["nostates"], 1);
    // Reporting changed nothing.
    assert_eq!(setup.snapshot().len(), healthy_before.len());

    let table = setup.sfctl(&["check", NS]).expect(1);
    for (problem, _, _) in &cases {
        assert!(table.stdout.contains(problem), "{problem}: {table:?}");
    }

    let (fixed, _) = findings(&setup.sfctl(&["check", NS, "--fix", "--json"]).expect(1));
    let expected_fixed: BTreeSet<_> = cases
        .iter()
        .map(|(p, k, fix)| (p.to_string(), k.clone(), *fix))
        .collect();
    assert_eq!(fixed, expected_fixed);

    // What the repairs left: the uid hashes agree with the link keys; TTLs as the model says.
    let mut conn = setup.conn();
    let c = conn.as_mut();
    let hash = |uid: &str| keys::uid_links_key(NS, uid);
    assert_eq!(hget(c, &hash("b"), "chat").as_deref(), Some("1"));
    assert_eq!(hget(c, &hash("c"), "chat").as_deref(), Some("1"));
    assert_eq!(hget(c, &hash("c2"), "chat").as_deref(), Some("0"));
    assert_eq!(hget(c, &hash("d"), "chat"), None);
    assert!(
        pttl(c, &keys::link_key(NS, "d", "chat")) > 0,
        "d stays temporary"
    );
    assert_eq!(hget(c, &hash("e"), "chat"), None);
    assert_eq!(pttl(c, &keys::workload_key(NS, "web")), -1);
    assert_eq!(
        get(c, &keys::link_key(NS, "a", "chat")).as_deref(),
        Some("x1"),
        "left"
    );
    assert_eq!(
        get(c, &keys::link_key("other", "a", "chat")).as_deref(),
        Some("x1")
    );
    // Healthy keys untouched.
    let after = setup.snapshot();
    for i in 0..200 {
        for key in [
            keys::link_key(NS, &format!("ok-{i}"), "chat"),
            hash(&format!("ok-{i}")),
        ] {
            if let Some(before) = healthy_before.get(&key) {
                let now = &after[&key];
                assert_eq!(
                    (&now.kind, &now.string, &now.hash),
                    (&before.kind, &before.string, &before.hash)
                );
            }
        }
    }

    // Only what --fix leaves is found again.
    let (left, _) = findings(&setup.sfctl(&["check", NS, "--json"]).expect(1));
    let expected_left: BTreeSet<_> = cases
        .iter()
        .filter(|(_, _, fix)| !fix)
        .map(|(p, k, _)| (p.to_string(), k.clone(), false))
        .collect();
    assert_eq!(left, expected_left);

    // Cleared by hand, the namespace checks clean.
    for (problem, key, fix) in &cases {
        if !fix && !["state-field-not-ordinal", "link-to-absent-pod"].contains(problem) {
            raw(c, &["DEL", key]);
        }
    }
    raw(c, &["HDEL", &keys::service_state_key(NS, "chat"), "03"]);
    setup.sfctl(&["unlink", NS, "f", "chat"]).expect(0);
    setup.sfctl(&["check", NS]).expect(0);
}

#[test]
fn check_fix_can_make_untimed_links_temporary() {
    let setup = Setup::standalone();
    let mut conn = setup.conn();
    let link = keys::link_key(NS, "b", "chat");
    raw(conn.as_mut(), &["SET", &link, "1"]);
    let run = setup
        .sfctl(&["check", NS, "--fix", "--untimed-ttl", "30", "--json"])
        .expect(0);
    let (found, _) = findings(&run);
    assert_eq!(
        found,
        [("untimed-link-not-in-hash".to_string(), link.clone(), true)].into()
    );
    let ttl = pttl(conn.as_mut(), &link);
    assert!(ttl > 0 && ttl <= 30_000, "{ttl}");
    assert_eq!(
        hget(conn.as_mut(), &keys::uid_links_key(NS, "b"), "chat"),
        None
    );
}
