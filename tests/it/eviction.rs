//! The eviction policy the README asks for: under memory pressure, `noeviction` and
//! `volatile-*` keep every persistent link whole (its string key and its uid-hash entry),
//! because only temporary links carry a TTL; `allkeys-*` evicts keys one by one and so splits
//! pairs, which is why the docs rule it out.

use crate::harness::*;
use stateful_executor::{ErrorKind, Executor, Persistence};

const UIDS: usize = 40_000;

/// Links `UIDS` uids (every fourth temporary) on a server limited to 2 MB with `policy`, then
/// counts persistent links whose two keys do not agree. Returns (written, failed, half pairs).
fn fill(policy: &str) -> (usize, usize, usize) {
    let server = RedisServer::start_with(&["--maxmemory", "2mb", "--maxmemory-policy", policy]);
    let executor: Executor = server.executor();
    let mut raw = server.raw();
    let (mut written, mut failed) = (0, 0);
    for i in 0..UIDS {
        let uid = format!("user-{i:06}-padding-to-use-memory");
        let persistence = if i % 4 == 0 {
            Persistence::Temporary { seconds: 600 }
        } else {
            Persistence::Persistent
        };
        match executor.set_linked_pod("ev", &uid, "chat", (i % 50) as i32, persistence) {
            Ok(_) => written += 1,
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Redis, "{err}");
                assert!(err.message().contains("OOM"), "{err}");
                failed += 1;
            }
        }
    }
    let mut half = 0;
    for i in (0..UIDS).filter(|i| i % 4 != 0) {
        let uid = format!("user-{i:06}-padding-to-use-memory");
        let link: Option<String> = redis::cmd("GET")
            .arg(format!("sf:{{ev:lk:{uid}}}chat"))
            .query(&mut raw)
            .unwrap();
        let field: Option<String> = redis::cmd("HGET")
            .arg(format!("sf:{{ev:lk:{uid}}}"))
            .arg("chat")
            .query(&mut raw)
            .unwrap();
        if link.is_some() != field.is_some() {
            half += 1;
        }
    }
    println!(
        "{policy}: {written} links written, {failed} refused (OOM), {half} of {} persistent pairs half-evicted",
        UIDS * 3 / 4
    );
    (written, failed, half)
}

#[test]
fn noeviction_and_volatile_policies_keep_links_whole() {
    for policy in ["noeviction", "volatile-lru", "volatile-ttl"] {
        let (written, failed, half) = fill(policy);
        assert!(
            failed > 0,
            "{policy}: 2 MB never filled up ({written} written)"
        );
        assert_eq!(half, 0, "{policy}: persistent links were split");
    }
}

/// The reason for the documented rule: `allkeys-lru` takes every write (it evicts instead of
/// refusing) and, evicting keys one at a time, leaves persistent links half-evicted.
#[test]
fn allkeys_policies_split_pairs() {
    let (written, failed, half) = fill("allkeys-lru");
    assert_eq!((written, failed), (UIDS, 0), "allkeys-lru refused writes");
    assert!(
        half > 0,
        "allkeys-lru split no pair of {UIDS} links in 2 MB"
    );
}
