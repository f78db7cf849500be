//! The client-side cache (`Config::set_client_cache`): what it answers from memory, what drops
//! an entry (another client's write, the executor's own, the key's TTL, FLUSHALL, a lost
//! invalidation connection), its bound, its statistics, and `open` refusing servers and users
//! that cannot track. The staleness checker under faults is in `faults/cache.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

const AGE: Duration = Duration::from_secs(60);

fn cached(server: &RedisServer) -> Executor {
    server.executor_with(|c| {
        c.set_client_cache(10_000, AGE).unwrap();
    })
}

/// Waits until `read` returns `want` (invalidations arrive asynchronously), at most 2 s.
fn eventually<T: PartialEq + std::fmt::Debug>(what: &str, want: T, mut read: impl FnMut() -> T) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got = read();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_second_read_is_a_hit_and_another_clients_write_invalidates_it() {
    let server = RedisServer::start();
    let mut raw = server.raw();
    // Written before the executor opens: an invalidation still on its way when the first read
    // is sent keeps that read's answer out of the cache (as it must), which would make the
    // count of hits below depend on timing.
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u1}chat", "3"]);
    let ex = cached(&server);
    let before = command_calls(&mut raw, "get");
    assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(3));
    for _ in 0..100 {
        assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(3));
    }
    // One read reached Redis (the script reading the value and its TTL), not 101.
    assert_eq!(command_calls(&mut raw, "get") - before, 1);
    let stats = ex.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (100, 1));

    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u1}chat", "4"]);
    eventually("after another client's SET", Some(4), || {
        ex.get_linked_pod("ns", "u1", "chat").unwrap()
    });
    raw_cmd(&mut raw, &["DEL", "sf:{ns:lk:u1}chat"]);
    eventually("after another client's DEL", None, || {
        ex.get_linked_pod("ns", "u1", "chat").unwrap()
    });
    assert!(ex.stats().cache_invalidations >= 2);
}

#[test]
fn every_cached_read_answers_as_without_the_cache() {
    let server = RedisServer::start();
    let plain = server.executor();
    let mut raw = server.raw();
    raw_cmd(
        &mut raw,
        &[
            "HSET",
            "sf:{ns:state:chat}",
            "0",
            "Running",
            "1",
            "Pending",
            "x",
            "skipped",
        ],
    );
    raw_cmd(&mut raw, &["SET", "sf:{ns:workload:chat}", "Available"]);
    plain
        .set_linked_pod("ns", "u1", "chat", 2, Persistence::Persistent)
        .unwrap();
    plain
        .set_linked_pod(
            "ns",
            "u1",
            "game",
            7,
            Persistence::Temporary { seconds: 60 },
        )
        .unwrap();
    plain
        .set_linked_pod("ns", "u1", "聊天", 1, Persistence::Persistent)
        .unwrap();
    let ex = cached(&server);
    let services = ["chat", "game", "none"];
    let uids = ["u1", "u2", "u1"];
    for round in 0..3 {
        // Round 0 fills the cache, rounds 1 and 2 are answered from it.
        assert_eq!(
            ex.get_service_state("ns", "chat").unwrap(),
            plain.get_service_state("ns", "chat").unwrap(),
            "round {round}"
        );
        assert_eq!(
            ex.get_workload_state("ns", "chat").unwrap(),
            plain.get_workload_state("ns", "chat").unwrap()
        );
        assert_eq!(
            ex.get_workload_states("ns", &services).unwrap(),
            plain.get_workload_states("ns", &services).unwrap()
        );
        for service in services {
            assert_eq!(
                ex.get_linked_pod("ns", "u1", service).unwrap(),
                plain.get_linked_pod("ns", "u1", service).unwrap()
            );
            assert_eq!(
                ex.get_linked_pod_if_persist("ns", "u1", service).unwrap(),
                plain
                    .get_linked_pod_if_persist("ns", "u1", service)
                    .unwrap(),
                "{service}"
            );
            assert_eq!(
                ex.batch_get_linked_pods("ns", service, &uids).unwrap(),
                plain.batch_get_linked_pods("ns", service, &uids).unwrap()
            );
        }
        assert_eq!(
            ex.get_link_services("ns", "u1").unwrap(),
            plain.get_link_services("ns", "u1").unwrap()
        );
        let (mut a, mut b) = (Packed::new(), Packed::new());
        ex.get_service_state_packed("ns", "chat", &mut a).unwrap();
        plain
            .get_service_state_packed("ns", "chat", &mut b)
            .unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        ex.get_link_services_packed("ns", "u1", &mut a).unwrap();
        plain.get_link_services_packed("ns", "u1", &mut b).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        ex.get_workload_states_packed("ns", &services, &mut a)
            .unwrap();
        plain
            .get_workload_states_packed("ns", &services, &mut b)
            .unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
    }
    assert_eq!(
        ex.get_linked_pod_if_persist("ns", "u1", "game").unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod("ns", "u1", "game").unwrap(), Some(7));
    let stats = ex.stats();
    assert!(stats.cache_hits > stats.cache_misses, "{stats:?}");

    // Corrupt data is reported as without the cache, and never cached.
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:bad}chat", "03"]);
    for _ in 0..2 {
        let err = ex.get_linked_pod("ns", "bad", "chat").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    }
    raw_cmd(&mut raw, &["HSET", "sf:{ns:lk:bad}", "chat", "x"]);
    assert_eq!(
        ex.get_link_services("ns", "bad").unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );
    raw_cmd(&mut raw, &["HSET", "sf:{ns:workload:odd}", "a", "b"]);
    assert_eq!(
        ex.get_workload_state("ns", "odd").unwrap_err().kind(),
        ErrorKind::UnexpectedReply
    );
}

#[test]
fn the_executor_reads_its_own_writes_at_once() {
    let server = RedisServer::start();
    let ex = cached(&server);
    for i in 0..50 {
        let pod = i % 7;
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), None);
        ex.set_linked_pod("ns", "u", "chat", pod, Persistence::Persistent)
            .unwrap();
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(pod));
        assert_eq!(
            ex.get_link_services("ns", "u").unwrap().get("chat"),
            Some(&pod)
        );
        ex.set_linked_pod(
            "ns",
            "u",
            "chat",
            pod,
            Persistence::Temporary { seconds: 60 },
        )
        .unwrap();
        assert_eq!(
            ex.get_linked_pod_if_persist("ns", "u", "chat").unwrap(),
            None
        );
        assert!(ex.get_link_services("ns", "u").unwrap().is_empty());
        assert!(
            ex.try_set_linked_pod("ns", "u", "chat", pod + 1, Persistence::Persistent)
                .unwrap()
                .linked
        );
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(pod + 1));
        assert!(ex
            .remove_linked_pod("ns", "u", "chat", Grace::Immediate)
            .unwrap());
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), None);
        assert_eq!(
            ex.set_linked_pod_if_absent("ns", "u", "chat", pod, Persistence::Persistent)
                .unwrap(),
            pod
        );
        assert_eq!(
            ex.batch_get_linked_pods("ns", "chat", &["u"]).unwrap(),
            vec![Some(pod)]
        );
        assert!(ex
            .remove_linked_pod_with_id("ns", "u", "chat", Grace::Immediate, pod)
            .unwrap());
        assert_eq!(
            ex.batch_get_linked_pods("ns", "chat", &["u"]).unwrap(),
            vec![None]
        );
        let state = format!("s{i}");
        ex.set_service_state("ns", "chat", 0, &state).unwrap();
        assert_eq!(ex.get_service_state("ns", "chat").unwrap()[&0], state);
        ex.set_workload_state("ns", "chat", &state).unwrap();
        assert_eq!(
            ex.get_workload_state("ns", "chat").unwrap().as_deref(),
            Some(&state[..])
        );
        assert_eq!(
            ex.get_workload_states("ns", &["chat"]).unwrap(),
            vec![Some(state.clone())]
        );
        // Batched writes too.
        let outcomes = ex.execute_batch(&[
            BatchOp::SetLinkedPod {
                ns: "ns",
                uid: "u",
                service: "chat",
                pod: 9,
                persistence: Persistence::Persistent,
            },
            BatchOp::SetWorkloadState {
                ns: "ns",
                service: "chat",
                state: "batched",
            },
            BatchOp::SetServiceState {
                ns: "ns",
                service: "chat",
                pod: 0,
                state: "batched",
            },
        ]);
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(9));
        assert_eq!(
            ex.get_workload_state("ns", "chat").unwrap().as_deref(),
            Some("batched")
        );
        assert_eq!(ex.get_service_state("ns", "chat").unwrap()[&0], "batched");
        ex.remove_linked_pod("ns", "u", "chat", Grace::Immediate)
            .unwrap();
    }
    assert!(ex.stats().cache_hits > 0);
}

#[test]
fn an_entry_never_outlives_its_keys_ttl() {
    // No active expiry: the server forgets a key only when it is next touched, so no
    // invalidation comes when the TTL ends. The entry must end by itself.
    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:t}chat", "5", "PX", "1000"]);
    // The key ends at most 1000 ms after this (the server ran the SET before it answered).
    let written = Instant::now();
    let ex = cached(&server);
    assert_eq!(ex.get_linked_pod("ns", "t", "chat").unwrap(), Some(5));
    let hits = ex.stats().cache_hits;
    assert_eq!(ex.get_linked_pod("ns", "t", "chat").unwrap(), Some(5));
    assert_eq!(ex.stats().cache_hits, hits + 1, "answered from the cache");
    assert_eq!(
        ex.get_linked_pod_if_persist("ns", "t", "chat").unwrap(),
        None
    );
    std::thread::sleep(Duration::from_millis(1001).saturating_sub(written.elapsed()));
    assert_eq!(ex.get_linked_pod("ns", "t", "chat").unwrap(), None);
}

#[test]
fn max_age_ends_entries_and_max_entries_bounds_them() {
    let server = RedisServer::start();
    let mut raw = server.raw();
    for i in 0..500 {
        raw_cmd(
            &mut raw,
            &[
                "SET",
                &format!("sf:{{ns:lk:u{i}}}chat"),
                &(i % 9).to_string(),
            ],
        );
    }
    let ex = server.executor_with(|c| {
        c.set_client_cache(100, Duration::from_millis(300)).unwrap();
    });
    for i in 0..500 {
        assert_eq!(
            ex.get_linked_pod("ns", &format!("u{i}"), "chat").unwrap(),
            Some(i % 9)
        );
    }
    let stats = ex.stats();
    assert_eq!(stats.cache_evictions, 400, "{stats:?}");
    // The last 100 read are cached...
    let hits = stats.cache_hits;
    for i in 400..500 {
        ex.get_linked_pod("ns", &format!("u{i}"), "chat").unwrap();
    }
    assert!(ex.stats().cache_hits - hits >= 90, "{:?}", ex.stats());
    // ...until max age.
    std::thread::sleep(Duration::from_millis(350));
    let hits = ex.stats().cache_hits;
    for i in 400..500 {
        ex.get_linked_pod("ns", &format!("u{i}"), "chat").unwrap();
    }
    assert_eq!(ex.stats().cache_hits, hits);
}

#[test]
fn flushall_empties_the_cache() {
    let server = RedisServer::start();
    let ex = cached(&server);
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SET", "sf:{ns:workload:chat}", "Up"]);
    assert_eq!(
        ex.get_workload_state("ns", "chat").unwrap().as_deref(),
        Some("Up")
    );
    raw_cmd(&mut raw, &["FLUSHALL"]);
    eventually("after FLUSHALL", None, || {
        ex.get_workload_state("ns", "chat").unwrap()
    });
    assert!(ex.stats().cache_flushes >= 1);
}

#[test]
fn a_killed_invalidation_connection_flushes_and_comes_back() {
    let server = RedisServer::start();
    let ex = cached(&server);
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u}chat", "1"]);
    assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(1));
    let flushes = ex.stats().cache_flushes;
    raw_cmd(&mut raw, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    // A write nobody announces: the subscriber is gone.
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u}chat", "2"]);
    eventually("after the listener was killed", Some(2), || {
        ex.get_linked_pod("ns", "u", "chat").unwrap()
    });
    // The read above may already bypass the cache because the stream went quiet (its freshness
    // bound) before the listener saw the connection end and flushed: the flush follows.
    eventually("a flush counted", true, || {
        ex.stats().cache_flushes > flushes
    });
    // The listener subscribes again, and hits resume.
    eventually("listening again", 1, || {
        let clients = text(raw_cmd(&mut raw, &["CLIENT", "LIST", "TYPE", "pubsub"]));
        clients.lines().count()
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let hits = ex.stats().cache_hits;
        assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(2));
        if ex.stats().cache_hits > hits {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no hit after the listener came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u}chat", "3"]);
    eventually("invalidated by the new listener", Some(3), || {
        ex.get_linked_pod("ns", "u", "chat").unwrap()
    });
}

#[test]
fn closing_ends_the_invalidation_connection() {
    let server = RedisServer::start();
    let mut raw = server.raw();
    let pubsub = |raw: &mut redis::Connection| {
        text(raw_cmd(raw, &["CLIENT", "LIST", "TYPE", "pubsub"]))
            .lines()
            .count()
    };
    let ex = cached(&server);
    assert_eq!(pubsub(&mut raw), 1);
    let started = Instant::now();
    drop(ex);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    eventually("the listener gone", 0, || pubsub(&mut raw));
}

#[test]
fn open_fails_clearly_without_tracking() {
    // A server whose CLIENT command is renamed away, as some managed services do.
    let server = RedisServer::start_with(&["--rename-command", "CLIENT", ""]);
    let mut config = Config::new(&server.url()).unwrap();
    config.set_client_cache(100, AGE).unwrap();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("CLIENT TRACKING"), "{err}");
    // Without the cache the same server is fine.
    config.set_client_cache(0, AGE).unwrap();
    Executor::open(&config).unwrap();
}

#[test]
fn open_fails_clearly_when_the_user_may_not_track() {
    let server = RedisServer::start();
    let mut admin = server.raw();
    let base = [
        "ACL",
        "SETUSER",
        "app",
        "reset",
        "on",
        ">pw",
        "~sf:*",
        "resetchannels",
        "-@all",
        "+ping",
        "+script|load",
        "+evalsha",
        "+eval",
        "+get",
        "+mget",
        "+pttl",
    ];
    raw_cmd(&mut admin, &base);
    let url = server.url().replacen("://", "://app:pw@", 1);
    let mut config = Config::new(&url).unwrap();
    config.set_client_cache(100, AGE).unwrap();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("+client|tracking"), "{err}");
    assert!(!err.message().contains("pw@"), "{err}");
    // The ACL line docs/cache.md gives is enough.
    let mut full = base.to_vec();
    full.extend([
        "+client|id",
        "+client|tracking",
        "+subscribe",
        "&__redis__:invalidate",
    ]);
    raw_cmd(&mut admin, &full);
    let ex = Executor::open(&config).unwrap();
    raw_cmd(&mut admin, &["SET", "sf:{ns:lk:u}chat", "4"]);
    assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(4));
    raw_cmd(&mut admin, &["SET", "sf:{ns:lk:u}chat", "5"]);
    eventually("invalidated", Some(5), || {
        ex.get_linked_pod("ns", "u", "chat").unwrap()
    });
}

#[test]
fn the_setting_is_checked() {
    let mut config = Config::new("redis://127.0.0.1:1").unwrap();
    assert_eq!(config.client_cache(), None);
    assert_eq!(
        config
            .set_client_cache(10, Duration::ZERO)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    config.set_client_cache(10, Duration::from_secs(1)).unwrap();
    assert_eq!(config.client_cache(), Some((10, Duration::from_secs(1))));
    config.set_client_cache(0, Duration::ZERO).unwrap();
    assert_eq!(config.client_cache(), None);
}

#[test]
fn on_a_cluster_every_primary_is_listened_to() {
    let cluster = Cluster::start(3, 0);
    let mut config = Config::cluster(&cluster.urls()).unwrap();
    config.set_client_cache(10_000, AGE).unwrap();
    let ex = Executor::open(&config).unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..60 {
        let uid = format!("u{i}");
        let key = format!("sf:{{ns:lk:{uid}}}chat");
        raw_cmd(
            &mut cluster.raw(cluster.primary_of_key(&key)),
            &["SET", &key, "1"],
        );
        expected.insert(uid, 1);
    }
    for uid in expected.keys() {
        assert_eq!(ex.get_linked_pod("ns", uid, "chat").unwrap(), Some(1));
    }
    // Writes on every node reach the cache.
    for (i, uid) in expected.keys().enumerate() {
        let key = format!("sf:{{ns:lk:{uid}}}chat");
        let pod = (i % 5 + 2).to_string();
        raw_cmd(
            &mut cluster.raw(cluster.primary_of_key(&key)),
            &["SET", &key, &pod],
        );
    }
    for (i, uid) in expected.keys().enumerate() {
        eventually(uid, Some((i % 5 + 2) as i32), || {
            ex.get_linked_pod("ns", uid, "chat").unwrap()
        });
    }
    for node in cluster.primaries() {
        let clients = text(raw_cmd(
            &mut cluster.raw(node),
            &["CLIENT", "LIST", "TYPE", "pubsub"],
        ));
        assert_eq!(clients.lines().count(), 1, "node {node}: {clients}");
    }
}

#[test]
fn a_batch_takes_its_reads_from_the_cache() {
    let server = RedisServer::start();
    let plain = server.executor();
    plain
        .set_linked_pod("ns", "u", "chat", 4, Persistence::Persistent)
        .unwrap();
    plain
        .set_linked_pod("ns", "t", "chat", 5, Persistence::Temporary { seconds: 60 })
        .unwrap();
    plain.set_service_state("ns", "chat", 1, "Running").unwrap();
    plain.set_workload_state("ns", "chat", "Up").unwrap();
    let ex = cached(&server);
    let ops = [
        BatchOp::GetLinkedPod {
            ns: "ns",
            uid: "u",
            service: "chat",
        },
        BatchOp::GetLinkedPodIfPersist {
            ns: "ns",
            uid: "t",
            service: "chat",
        },
        BatchOp::GetLinkedPod {
            ns: "ns",
            uid: "t",
            service: "chat",
        },
        BatchOp::GetServiceState {
            ns: "ns",
            service: "chat",
        },
        BatchOp::GetWorkloadState {
            ns: "ns",
            service: "chat",
        },
        BatchOp::GetLinkServices { ns: "ns", uid: "u" },
        BatchOp::GetLinkedPod {
            ns: "ns",
            uid: "nobody",
            service: "chat",
        },
    ];
    let expected = plain.execute_batch(&ops);
    // Cold: every read sent with the batch, nothing stored (a batch reads no TTL).
    assert_eq!(ex.execute_batch(&ops), expected);
    assert_eq!(ex.stats().cache_hits, 0);
    // The single calls fill the cache; the batch then answers from it.
    ex.get_linked_pod("ns", "u", "chat").unwrap();
    ex.get_linked_pod("ns", "t", "chat").unwrap();
    ex.get_service_state("ns", "chat").unwrap();
    ex.get_workload_state("ns", "chat").unwrap();
    ex.get_link_services("ns", "u").unwrap();
    let hits = ex.stats().cache_hits;
    assert_eq!(ex.execute_batch(&ops), expected);
    assert_eq!(ex.stats().cache_hits - hits, 6, "{:?}", ex.stats());
}
