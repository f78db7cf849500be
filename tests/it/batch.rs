//! Batches of independent single-key operations (`Executor::execute_batch`, `sf_execute_batch`):
//! each operation's outcome is its single call's; one round trip on one server; the single
//! calls' retry rules; every topology.

use std::collections::BTreeMap;

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "batch";

/// One operation of every kind, on data that `seed` wrote, with the outcome each must give.
fn every_kind() -> Vec<(BatchOp<'static>, BatchOutcome)> {
    let states: BTreeMap<Pod, String> = [(0, "Running".to_string()), (7, "Pending".to_string())]
        .into_iter()
        .collect();
    let links: BTreeMap<String, Pod> = [("chat".to_string(), 3)].into_iter().collect();
    vec![
        (
            BatchOp::SetServiceState {
                ns: NS,
                service: "game",
                pod: 1,
                state: "Up",
            },
            BatchOutcome::Done,
        ),
        (
            BatchOp::GetServiceState {
                ns: NS,
                service: "chat",
            },
            BatchOutcome::States(states),
        ),
        (
            BatchOp::SetWorkloadState {
                ns: NS,
                service: "game",
                state: "Draining",
            },
            BatchOutcome::Done,
        ),
        (
            BatchOp::GetWorkloadState {
                ns: NS,
                service: "chat",
            },
            BatchOutcome::State(Some("Available".to_string())),
        ),
        (
            BatchOp::GetWorkloadState {
                ns: NS,
                service: "none",
            },
            BatchOutcome::State(None),
        ),
        (
            BatchOp::SetLinkedPod {
                ns: NS,
                uid: "u2",
                service: "chat",
                pod: 5,
                persistence: Persistence::Persistent,
            },
            BatchOutcome::Pod(None),
        ),
        (
            BatchOp::TrySetLinkedPod {
                ns: NS,
                uid: "u1",
                service: "chat",
                pod: 9,
                persistence: Persistence::Persistent,
            },
            BatchOutcome::TrySet(TrySet {
                linked: false,
                pod: 3,
            }),
        ),
        (
            BatchOp::SetLinkedPodIfAbsent {
                ns: NS,
                uid: "u3",
                service: "chat",
                pod: 6,
                persistence: Persistence::temporary(60),
            },
            BatchOutcome::Pod(Some(6)),
        ),
        (
            BatchOp::GetLinkedPod {
                ns: NS,
                uid: "u1",
                service: "chat",
            },
            BatchOutcome::Pod(Some(3)),
        ),
        (
            BatchOp::GetLinkedPod {
                ns: NS,
                uid: "nobody",
                service: "chat",
            },
            BatchOutcome::Pod(None),
        ),
        (
            BatchOp::GetLinkedPodIfPersist {
                ns: NS,
                uid: "u4",
                service: "chat",
            },
            BatchOutcome::Pod(None),
        ),
        (
            BatchOp::RemoveLinkedPod {
                ns: NS,
                uid: "u5",
                service: "chat",
                grace: Grace::Immediate,
            },
            BatchOutcome::Removed(true),
        ),
        (
            BatchOp::RemoveLinkedPodWithId {
                ns: NS,
                uid: "u6",
                service: "chat",
                grace: Grace::Immediate,
                pod: 1,
            },
            BatchOutcome::Removed(false),
        ),
        (
            BatchOp::TouchLinkedPod {
                ns: NS,
                uid: "u4",
                service: "chat",
                pod: 4,
                persist_seconds: 600,
            },
            BatchOutcome::Touched(true),
        ),
        (
            BatchOp::TouchLinkedPod {
                ns: NS,
                uid: "u1",
                service: "chat",
                pod: 9,
                persist_seconds: 600,
            },
            BatchOutcome::Touched(false),
        ),
        (
            BatchOp::GetLinkServices { ns: NS, uid: "u1" },
            BatchOutcome::Links(links),
        ),
    ]
}

/// The data `every_kind` reads: pod states, a workload state, links of u1 (persistent), u4
/// (temporary), u5 and u6 (persistent, to pod 2).
fn seed(ex: &Executor) {
    ex.set_service_state(NS, "chat", 0, "Running").unwrap();
    ex.set_service_state(NS, "chat", 7, "Pending").unwrap();
    ex.set_workload_state(NS, "chat", "Available").unwrap();
    ex.set_linked_pod(NS, "u1", "chat", 3, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u4", "chat", 4, Persistence::temporary(60))
        .unwrap();
    ex.set_linked_pod(NS, "u5", "chat", 2, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(NS, "u6", "chat", 2, Persistence::Persistent)
        .unwrap();
}

/// Runs every kind in one batch and checks each outcome and what the writes left in Redis.
fn every_kind_on(ex: &Executor) {
    seed(ex);
    let cases = every_kind();
    let ops: Vec<BatchOp> = cases.iter().map(|(op, _)| *op).collect();
    let results = ex.execute_batch(&ops);
    assert_eq!(results.len(), cases.len());
    for ((op, expected), result) in cases.iter().zip(results) {
        assert_eq!(result.as_ref(), Ok(expected), "{}", op.name());
    }
    // The writes are there, as their single calls would have left them.
    assert_eq!(ex.get_service_state(NS, "game").unwrap()[&1], "Up");
    assert_eq!(
        ex.get_workload_state(NS, "game").unwrap().as_deref(),
        Some("Draining")
    );
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u2", "chat").unwrap(),
        Some(5)
    );
    assert_eq!(ex.get_linked_pod(NS, "u3", "chat").unwrap(), Some(6));
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "u3", "chat").unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod(NS, "u5", "chat").unwrap(), None);
    assert_eq!(ex.get_linked_pod(NS, "u6", "chat").unwrap(), Some(2));
}

/// Opens the pooled connection a batch runs on (with auto-pipelining on, single calls use other,
/// shared connections).
fn warm_up(ex: &Executor) {
    let warm = ex.execute_batch(&[BatchOp::GetWorkloadState {
        ns: NS,
        service: "warm",
    }]);
    assert_eq!(warm, vec![Ok(BatchOutcome::State(None))]);
}

#[test]
fn every_kind_gives_what_its_single_call_gives() {
    let server = RedisServer::start();
    let ex = server.executor();
    every_kind_on(&ex);
    // An empty batch sends nothing and returns nothing.
    assert!(ex.execute_batch(&[]).is_empty());
}

#[test]
fn a_batch_is_one_round_trip_on_one_connection() {
    let server = RedisServer::start();
    let ex = server.executor();
    warm_up(&ex);
    let before = ex.stats();
    let uids: Vec<String> = (0..50).map(|i| format!("rt-{i}")).collect();
    let ops: Vec<BatchOp> = uids
        .iter()
        .map(|uid| BatchOp::GetLinkedPod {
            ns: NS,
            uid,
            service: "chat",
        })
        .collect();
    let mut raw = server.raw();
    let gets = command_calls(&mut raw, "get");
    let reads = info_u64(&mut raw, "stats", "total_reads_processed");
    for result in ex.execute_batch(&ops) {
        assert_eq!(result, Ok(BatchOutcome::Pod(None)));
    }
    // The server read the 50 commands in a few reads (its INFO here counts one), not 50.
    let reads = info_u64(&mut raw, "stats", "total_reads_processed") - reads;
    assert!(reads <= 4, "{reads} reads for one batch");
    assert_eq!(command_calls(&mut raw, "get") - gets, 50);
    let after = ex.stats();
    // One call per operation in the statistics, no new connection for them.
    assert_eq!(after.calls - before.calls, 50);
    assert_eq!(after.connects, before.connects);
    assert_eq!(after.failed_calls, before.failed_calls);
}

#[test]
fn an_invalid_operation_fails_alone_and_sends_nothing() {
    let server = RedisServer::start();
    let ex = server.executor();
    warm_up(&ex);
    let mut raw = server.raw();
    let before = data_commands_processed(&mut raw);
    let ops = [
        BatchOp::SetWorkloadState {
            ns: NS,
            service: "ok",
            state: "Up",
        },
        BatchOp::SetWorkloadState {
            ns: "bad:ns",
            service: "x",
            state: "Up",
        },
        BatchOp::SetLinkedPod {
            ns: NS,
            uid: "u",
            service: "chat",
            pod: -3,
            persistence: Persistence::Persistent,
        },
        BatchOp::GetLinkedPod {
            ns: NS,
            uid: "",
            service: "chat",
        },
        BatchOp::GetWorkloadState {
            ns: NS,
            service: "ok",
        },
    ];
    let results = ex.execute_batch(&ops);
    assert_eq!(results[0], Ok(BatchOutcome::Done));
    for (i, result) in results.iter().enumerate().take(4).skip(1) {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "op {i}: {err}");
    }
    assert_eq!(results[4], Ok(BatchOutcome::State(Some("Up".to_string()))));
    // Only the two valid operations reached the server.
    assert_eq!(data_commands_processed(&mut raw) - before, 2);
    assert_eq!(ex.stats().failed_calls, 3);
}

#[test]
fn server_errors_stay_with_their_operation() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    // A workload key of the wrong type and a corrupt link: data not in the documented format.
    raw_cmd(
        &mut raw,
        &["HSET", &keys::workload_key(NS, "hash"), "a", "b"],
    );
    raw_cmd(
        &mut raw,
        &["SET", &keys::link_key(NS, "bad", "chat"), "not-a-pod"],
    );
    ex.set_linked_pod(NS, "good", "chat", 1, Persistence::Persistent)
        .unwrap();
    let ops = [
        BatchOp::GetWorkloadState {
            ns: NS,
            service: "hash",
        },
        BatchOp::GetLinkedPod {
            ns: NS,
            uid: "bad",
            service: "chat",
        },
        BatchOp::GetLinkedPod {
            ns: NS,
            uid: "good",
            service: "chat",
        },
        BatchOp::SetLinkedPod {
            ns: NS,
            uid: "bad",
            service: "chat",
            pod: 2,
            persistence: Persistence::Persistent,
        },
    ];
    let results = ex.execute_batch(&ops);
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    assert!(err.message().starts_with("get workload state: "), "{err}");
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
    assert!(err.message().contains("not-a-pod"), "{err}");
    assert_eq!(results[2], Ok(BatchOutcome::Pod(Some(1))));
    // The single call gives the same error for the corrupt link.
    let single = ex
        .set_linked_pod(NS, "bad", "chat", 2, Persistence::Persistent)
        .unwrap_err();
    let batched = results[3].as_ref().unwrap_err();
    assert_eq!(batched.kind(), single.kind());
    assert_eq!(batched.message(), single.message());
}

#[test]
fn lost_scripts_are_sent_again() {
    let server = RedisServer::start();
    let ex = server.executor();
    ex.set_linked_pod(NS, "s0", "chat", 1, Persistence::Persistent)
        .unwrap();
    raw_cmd(&mut server.raw(), &["SCRIPT", "FLUSH"]);
    let ops = [
        BatchOp::SetLinkedPod {
            ns: NS,
            uid: "s1",
            service: "chat",
            pod: 2,
            persistence: Persistence::Persistent,
        },
        BatchOp::GetLinkedPod {
            ns: NS,
            uid: "s0",
            service: "chat",
        },
        BatchOp::GetLinkedPodIfPersist {
            ns: NS,
            uid: "s0",
            service: "chat",
        },
        BatchOp::RemoveLinkedPod {
            ns: NS,
            uid: "s0",
            service: "chat",
            grace: Grace::Immediate,
        },
    ];
    let results = ex.execute_batch(&ops);
    assert_eq!(
        results,
        vec![
            Ok(BatchOutcome::Pod(None)),
            Ok(BatchOutcome::Pod(Some(1))),
            Ok(BatchOutcome::Pod(Some(1))),
            Ok(BatchOutcome::Removed(true)),
        ]
    );
    // Each script operation was reloaded once (EVAL), none ran twice.
    let stats = ex.stats();
    assert_eq!(stats.script_reloads, 3);
    assert_eq!(stats.retries, 0);
    assert_eq!(ex.get_linked_pod(NS, "s1", "chat").unwrap(), Some(2));
}

#[test]
fn after_a_lost_connection_reads_are_retried_and_writes_fail() {
    let mut server = RedisServer::start();
    let ex = server.executor_with(|c| {
        c.set_pool_max_size(1).unwrap();
    });
    warm_up(&ex);
    // The pooled connection dies with the server; the batch finds out when it reads.
    server.kill();
    server.restart();
    let ops = [
        BatchOp::GetLinkedPod {
            ns: NS,
            uid: "r1",
            service: "chat",
        },
        BatchOp::SetWorkloadState {
            ns: NS,
            service: "w",
            state: "Up",
        },
        BatchOp::GetWorkloadState {
            ns: NS,
            service: "w",
        },
        BatchOp::SetLinkedPod {
            ns: NS,
            uid: "r2",
            service: "chat",
            pod: 1,
            persistence: Persistence::Persistent,
        },
        BatchOp::GetServiceState {
            ns: NS,
            service: "chat",
        },
    ];
    let results = ex.execute_batch(&ops);
    assert_eq!(results[0], Ok(BatchOutcome::Pod(None)));
    assert_eq!(results[4], Ok(BatchOutcome::States(BTreeMap::new())));
    for i in [1, 3] {
        let err = results[i].as_ref().unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Connection,
            "{}: {err}",
            ops[i].name()
        );
        assert!(err.message().starts_with(ops[i].name()), "{err}");
    }
    // The read of the state just written: absent (the write never ran) or "Up"; never an error.
    assert!(
        matches!(results[2], Ok(BatchOutcome::State(_))),
        "{:?}",
        results[2]
    );
    let stats = ex.stats();
    assert_eq!(stats.retries, 3, "the three reads");
    // Afterwards the executor works on its new connection.
    assert_eq!(ex.execute_batch(&ops[1..2]), vec![Ok(BatchOutcome::Done)]);
}

#[test]
fn writes_refused_by_a_replica_are_retried_once_then_fail() {
    let primary = RedisServer::start();
    let port = primary.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    wait_until(
        "the replica to sync",
        std::time::Duration::from_secs(10),
        || {
            let info = text(raw_cmd(&mut replica.raw(), &["INFO", "replication"]));
            info.contains("master_link_status:up")
        },
    );
    let ex = replica.executor();
    let ops = [
        BatchOp::SetWorkloadState {
            ns: NS,
            service: "w",
            state: "Up",
        },
        BatchOp::GetWorkloadState {
            ns: NS,
            service: "w",
        },
        BatchOp::SetLinkedPod {
            ns: NS,
            uid: "r",
            service: "chat",
            pod: 1,
            persistence: Persistence::Persistent,
        },
    ];
    let before = ex.stats();
    let results = ex.execute_batch(&ops);
    for i in [0, 2] {
        let err = results[i].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redis, "{err}");
        assert!(err.message().contains("READONLY"), "{err}");
    }
    assert_eq!(results[1], Ok(BatchOutcome::State(None)));
    assert_eq!(ex.stats().retries - before.retries, 2);
}

#[test]
fn over_a_unix_socket_and_tls() {
    let server = RedisServer::builder().unix().start();
    every_kind_on(&server.executor());

    let certs = TestCerts::generate();
    let server = RedisServer::builder().tls(&certs, false).start();
    let mut config = Config::new(&format!("rediss://127.0.0.1:{}", server.port)).unwrap();
    config.set_tls_ca_file(&certs.path("ca.crt")).unwrap();
    every_kind_on(&Executor::open(&config).unwrap());
}

#[test]
fn through_sentinel() {
    let setup = SentinelSetup::start();
    let urls = setup.sentinel_urls();
    let config = Config::sentinel(&urls, MASTER_NAME).unwrap();
    every_kind_on(&Executor::open(&config).unwrap());
}

#[test]
fn on_a_cluster_each_operation_runs_as_its_single_call() {
    let cluster = Cluster::start(3, 0);
    let config = Config::cluster(&cluster.urls()).unwrap();
    let ex = Executor::open(&config).unwrap();
    every_kind_on(&ex);
    // Keys on every primary in one batch.
    let uids: Vec<String> = (0..30).map(|i| format!("c-{i}")).collect();
    let sets: Vec<BatchOp> = uids
        .iter()
        .enumerate()
        .map(|(i, uid)| BatchOp::SetLinkedPod {
            ns: NS,
            uid,
            service: "chat",
            pod: i as Pod,
            persistence: Persistence::Persistent,
        })
        .collect();
    assert!(ex
        .execute_batch(&sets)
        .iter()
        .all(|r| *r == Ok(BatchOutcome::Pod(None))));
    let gets: Vec<BatchOp> = uids
        .iter()
        .map(|uid| BatchOp::GetLinkedPod {
            ns: NS,
            uid,
            service: "chat",
        })
        .collect();
    for (i, result) in ex.execute_batch(&gets).into_iter().enumerate() {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(i as Pod))));
    }
}

#[test]
fn a_touch_in_a_batch_is_its_single_call() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    ex.set_linked_pod(NS, "t1", "chat", 4, Persistence::temporary(30))
        .unwrap();
    ex.set_linked_pod(NS, "t2", "chat", 5, Persistence::temporary(30))
        .unwrap();
    warm_up(&ex);
    let before = command_calls(&mut raw, "evalsha");
    let touch = |uid, pod, persist_seconds| BatchOp::TouchLinkedPod {
        ns: NS,
        uid,
        service: "chat",
        pod,
        persist_seconds,
    };
    let results = ex.execute_batch(&[touch("t1", 4, 900), touch("t2", 5, 0), touch("t2", 6, 900)]);
    assert_eq!(results[0], Ok(BatchOutcome::Touched(true)));
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(results[2], Ok(BatchOutcome::Touched(false)));
    // The invalid entry sent nothing; the TTLs are what the single calls would leave.
    assert_eq!(command_calls(&mut raw, "evalsha") - before, 2);
    let extended = ttl(&mut raw, &keys::link_key(NS, "t1", "chat"));
    assert!((800..=900).contains(&extended), "TTL {extended}");
    let kept = ttl(&mut raw, &keys::link_key(NS, "t2", "chat"));
    assert!((1..=30).contains(&kept), "TTL {kept}");
}
