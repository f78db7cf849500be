//! The raw Redis layout (data-model.md, "Redis keys"): after each write, the whole database is
//! read back with plain commands and compared with the documented table, byte for byte.

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::*;
use stateful_executor::*;

/// What one key must look like.
enum Expect<'a> {
    /// A string without expiry.
    Str(&'a str),
    /// A string expiring in about this many seconds.
    StrTtl(&'a str, i64),
    /// A hash without expiry, with exactly these fields.
    Hash(&'a [(&'a str, &'a str)]),
}

/// Asserts that the database holds exactly `expected`, each key with the documented type,
/// content and expiry.
fn assert_db(raw: &mut redis::Connection, expected: &[(&str, Expect)], what: &str) {
    let keys: BTreeSet<Vec<u8>> = all_keys(raw);
    let wanted: BTreeSet<Vec<u8>> = expected
        .iter()
        .map(|(k, _)| k.as_bytes().to_vec())
        .collect();
    let show = |set: &BTreeSet<Vec<u8>>| {
        set.iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&keys), show(&wanted), "{what}: keys");
    for (key, expect) in expected {
        match expect {
            Expect::Str(value) | Expect::StrTtl(value, _) => {
                assert_eq!(key_type(raw, key), "string", "{what}: TYPE {key}");
                assert_eq!(
                    get_raw(raw, key),
                    Some(value.as_bytes().to_vec()),
                    "{what}: GET {key}"
                );
            }
            Expect::Hash(fields) => {
                assert_eq!(key_type(raw, key), "hash", "{what}: TYPE {key}");
                let want: BTreeMap<String, String> = fields
                    .iter()
                    .map(|(f, v)| (f.to_string(), v.to_string()))
                    .collect();
                assert_eq!(hgetall(raw, key), want, "{what}: HGETALL {key}");
            }
        }
        match expect {
            Expect::StrTtl(_, seconds) => {
                let left = pttl(raw, key);
                assert!(
                    left > (seconds - 10) * 1000 && left <= seconds * 1000,
                    "{what}: {key} should expire in about {seconds} s, PTTL {left} ms"
                );
            }
            _ => assert_eq!(ttl(raw, key), -1, "{what}: {key} must not expire"),
        }
    }
}

#[test]
fn service_and_workload_state_keys() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    ex.set_service_state("prod-eu", "chat", 3, "Running")
        .unwrap();
    assert_db(
        &mut raw,
        &[("sf:{prod-eu:state:chat}", Expect::Hash(&[("3", "Running")]))],
        "first pod state",
    );

    ex.set_service_state("prod-eu", "chat", 0, "Pending")
        .unwrap();
    ex.set_service_state("prod-eu", "chat", 2147483647, "3-100")
        .unwrap();
    ex.set_service_state("prod-eu", "chat", 3, "Stopping")
        .unwrap();
    ex.set_workload_state("prod-eu", "chat", "Available")
        .unwrap();
    ex.set_workload_state("A.b_c-9", "Svc.1_x-Y", "READY")
        .unwrap();
    assert_db(
        &mut raw,
        &[
            (
                "sf:{prod-eu:state:chat}",
                Expect::Hash(&[("0", "Pending"), ("2147483647", "3-100"), ("3", "Stopping")]),
            ),
            ("sf:{prod-eu:workload:chat}", Expect::Str("Available")),
            ("sf:{A.b_c-9:workload:Svc.1_x-Y}", Expect::Str("READY")),
        ],
        "states",
    );
}

#[test]
fn workload_state_overwrites_a_volatile_key_and_clears_its_expiry() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    // Someone left the key with a TTL: the documented layout says "no expiry".
    raw_cmd(
        &mut raw,
        &["SET", "sf:{ns:workload:svc}", "old", "EX", "100"],
    );
    ex.set_workload_state("ns", "svc", "Available").unwrap();
    assert_db(
        &mut raw,
        &[("sf:{ns:workload:svc}", Expect::Str("Available"))],
        "workload state",
    );
}

#[test]
fn persistent_link_keys() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    ex.set_linked_pod("ns", "user-42", "chat", 7, Persistence::Persistent)
        .unwrap();
    assert_db(
        &mut raw,
        &[
            ("sf:{ns:lk:user-42}", Expect::Hash(&[("chat", "7")])),
            ("sf:{ns:lk:user-42}chat", Expect::Str("7")),
        ],
        "persistent link",
    );

    ex.set_linked_pod("ns", "user-42", "game", 0, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("ns", "user-42", "chat", 10, Persistence::Persistent)
        .unwrap();
    assert_db(
        &mut raw,
        &[
            (
                "sf:{ns:lk:user-42}",
                Expect::Hash(&[("chat", "10"), ("game", "0")]),
            ),
            ("sf:{ns:lk:user-42}chat", Expect::Str("10")),
            ("sf:{ns:lk:user-42}game", Expect::Str("0")),
        ],
        "two persistent links",
    );
}

#[test]
fn temporary_link_keys_and_switching_persistence() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    ex.set_linked_pod("ns", "u", "chat", 5, Persistence::temporary(100))
        .unwrap();
    assert_db(
        &mut raw,
        &[("sf:{ns:lk:u}chat", Expect::StrTtl("5", 100))],
        "temporary link",
    );

    ex.set_linked_pod("ns", "u", "chat", 6, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("ns", "u", "game", 1, Persistence::Persistent)
        .unwrap();
    assert_db(
        &mut raw,
        &[
            (
                "sf:{ns:lk:u}",
                Expect::Hash(&[("chat", "6"), ("game", "1")]),
            ),
            ("sf:{ns:lk:u}chat", Expect::Str("6")),
            ("sf:{ns:lk:u}game", Expect::Str("1")),
        ],
        "temporary made persistent",
    );

    // Persistent -> temporary removes the hash field (and the hash once it is empty).
    ex.set_linked_pod("ns", "u", "chat", 6, Persistence::temporary(250))
        .unwrap();
    assert_db(
        &mut raw,
        &[
            ("sf:{ns:lk:u}", Expect::Hash(&[("game", "1")])),
            ("sf:{ns:lk:u}chat", Expect::StrTtl("6", 250)),
            ("sf:{ns:lk:u}game", Expect::Str("1")),
        ],
        "persistent made temporary",
    );
    ex.set_linked_pod("ns", "u", "game", 1, Persistence::temporary(30))
        .unwrap();
    assert_db(
        &mut raw,
        &[
            ("sf:{ns:lk:u}chat", Expect::StrTtl("6", 250)),
            ("sf:{ns:lk:u}game", Expect::StrTtl("1", 30)),
        ],
        "both temporary",
    );
}

#[test]
fn try_set_if_absent_and_compute_write_the_same_layout() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();

    ex.try_set_linked_pod("ns", "a", "chat", 12, Persistence::Persistent)
        .unwrap();
    ex.try_set_linked_pod("ns", "b", "chat", 13, Persistence::temporary(90))
        .unwrap();
    ex.set_linked_pod_if_absent("ns", "c", "chat", 14, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod_if_absent("ns", "d", "chat", 15, Persistence::temporary(80))
        .unwrap();
    ex.compute_linked_pod(
        "ns",
        "e",
        "chat",
        Persistence::Persistent,
        &[Candidate::new(21, 5), Candidate::new(20, 6)],
    )
    .unwrap();
    ex.compute_linked_pod(
        "ns",
        "f",
        "chat",
        Persistence::temporary(70),
        &[Candidate::new(31, 0)],
    )
    .unwrap();
    assert_db(
        &mut raw,
        &[
            ("sf:{ns:lk:a}", Expect::Hash(&[("chat", "12")])),
            ("sf:{ns:lk:a}chat", Expect::Str("12")),
            ("sf:{ns:lk:b}chat", Expect::StrTtl("13", 90)),
            ("sf:{ns:lk:c}", Expect::Hash(&[("chat", "14")])),
            ("sf:{ns:lk:c}chat", Expect::Str("14")),
            ("sf:{ns:lk:d}chat", Expect::StrTtl("15", 80)),
            ("sf:{ns:lk:e}", Expect::Hash(&[("chat", "21")])),
            ("sf:{ns:lk:e}chat", Expect::Str("21")),
            ("sf:{ns:lk:f}chat", Expect::StrTtl("31", 70)),
        ],
        "link writers",
    );
}

#[test]
fn removal_layout() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod("ns", "u", "chat", 4, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod("ns", "u", "game", 8, Persistence::Persistent)
        .unwrap();

    ex.remove_linked_pod("ns", "u", "chat", Grace::Seconds(60))
        .unwrap();
    assert_db(
        &mut raw,
        &[
            ("sf:{ns:lk:u}", Expect::Hash(&[("game", "8")])),
            ("sf:{ns:lk:u}chat", Expect::StrTtl("4", 60)),
            ("sf:{ns:lk:u}game", Expect::Str("8")),
        ],
        "remove with grace",
    );

    ex.remove_linked_pod_with_id("ns", "u", "game", Grace::Immediate, 8)
        .unwrap();
    assert_db(
        &mut raw,
        &[("sf:{ns:lk:u}chat", Expect::StrTtl("4", 60))],
        "remove with id",
    );

    ex.remove_linked_pod("ns", "u", "chat", Grace::Immediate)
        .unwrap();
    assert_db(&mut raw, &[], "all removed");
}

#[test]
fn pods_are_plain_decimal_and_uids_are_spliced_verbatim() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let uid = "user:42/é ü@x.y=1";
    for (svc, pod) in [("s0", 0), ("s1", 10), ("s2", 100), ("s3", i32::MAX)] {
        ex.set_linked_pod("ns", uid, svc, pod, Persistence::Persistent)
            .unwrap();
    }
    let hash = format!("sf:{{ns:lk:{uid}}}");
    let link = |svc: &str| format!("{hash}{svc}");
    let (l0, l1, l2, l3) = (link("s0"), link("s1"), link("s2"), link("s3"));
    assert_db(
        &mut raw,
        &[
            (
                &hash,
                Expect::Hash(&[
                    ("s0", "0"),
                    ("s1", "10"),
                    ("s2", "100"),
                    ("s3", "2147483647"),
                ]),
            ),
            (&l0, Expect::Str("0")),
            (&l1, Expect::Str("10")),
            (&l2, Expect::Str("100")),
            (&l3, Expect::Str("2147483647")),
        ],
        "decimal pods",
    );
    // The key bytes are exactly the UTF-8 of the uid.
    assert!(all_keys(&mut raw).contains("sf:{ns:lk:user:42/é ü@x.y=1}s1".as_bytes()));
}
