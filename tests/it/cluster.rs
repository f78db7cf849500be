//! Redis Cluster: real 3-primary, 3-replica clusters on loopback, built with
//! `redis-cli --cluster create`; every operation, batch reads pipelined per node, a slot
//! migrated mid-test, and a primary killed and replaced by its replica.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

fn executor(cluster: &Cluster) -> Executor {
    // Two seeds are enough: the rest of the cluster is read from it.
    let urls = cluster.urls();
    let mut config = Config::cluster(&urls[..2]).unwrap();
    config
        .set_command_timeout(Duration::from_secs(3))
        .unwrap()
        .set_connect_timeout(Duration::from_secs(3))
        .unwrap()
        .set_pool_wait_timeout(Duration::from_secs(5))
        .unwrap();
    executor_with(config)
}

fn executor_with(config: Config) -> Executor {
    Executor::open(&config).expect("open cluster executor")
}

fn uids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i}")).collect()
}

/// What the batch test writes for uid i: persistent for i % 3 == 0, temporary for 1, none for 2.
fn expected_pod(i: usize) -> Option<Pod> {
    match i % 3 {
        0 | 1 => Some((i % 50) as Pod),
        _ => None,
    }
}

/// Writes links for `uids` from 4 threads, as `expected_pod` says.
fn write_links(ex: &Arc<Executor>, uids: &Arc<Vec<String>>) {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (ex, uids) = (Arc::clone(ex), Arc::clone(uids));
            thread::spawn(move || {
                for i in (t..uids.len()).step_by(4) {
                    let Some(pod) = expected_pod(i) else { continue };
                    let persistence = if i % 3 == 0 {
                        Persistence::Persistent
                    } else {
                        Persistence::temporary(3600)
                    };
                    ex.set_linked_pod("ns", &uids[i], "chat", pod, persistence)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn every_operation_and_batches_pipelined_per_node() {
    let cluster = Cluster::start(3, 1);
    let ex = Arc::new(executor(&cluster));
    assert_eq!(cluster.primaries().len(), 3);

    // ---- every operation ----
    ex.ping().unwrap();
    ex.set_service_state("ns", "chat", 0, "Running").unwrap();
    ex.set_service_state("ns", "chat", 1, "Draining").unwrap();
    let states = ex.get_service_state("ns", "chat").unwrap();
    assert_eq!(
        states,
        BTreeMap::from([(0, "Running".to_string()), (1, "Draining".to_string())])
    );
    let services: Vec<String> = (0..200).map(|i| format!("svc-{i}")).collect();
    for (i, service) in services.iter().enumerate() {
        if i % 2 == 0 {
            ex.set_workload_state("ns", service, &format!("state-{i}"))
                .unwrap();
        }
    }
    let workload = ex.get_workload_states("ns", &services).unwrap();
    for (i, state) in workload.iter().enumerate() {
        let expected = (i % 2 == 0).then(|| format!("state-{i}"));
        assert_eq!(state, &expected, "workload state of svc-{i}");
    }
    assert_eq!(
        ex.get_workload_state("ns", "svc-0").unwrap().as_deref(),
        Some("state-0")
    );
    assert_eq!(
        ex.set_linked_pod("ns", "u1", "chat", 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(
        ex.try_set_linked_pod("ns", "u1", "chat", 4, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 3
        }
    );
    assert_eq!(
        ex.set_linked_pod_if_absent("ns", "u1", "chat", 9, Persistence::Persistent)
            .unwrap(),
        3
    );
    assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(3));
    assert_eq!(
        ex.get_linked_pod_if_persist("ns", "u1", "chat").unwrap(),
        Some(3)
    );
    assert_eq!(
        ex.get_link_services("ns", "u1").unwrap(),
        BTreeMap::from([("chat".to_string(), 3)])
    );
    assert_eq!(
        ex.compute_linked_pod(
            "ns",
            "u2",
            "chat",
            Persistence::temporary(60),
            &[Candidate::new(0, 10), Candidate::new(1, 5)]
        )
        .unwrap(),
        Some(1)
    );
    assert!(!ex
        .remove_linked_pod_with_id("ns", "u1", "chat", Grace::Seconds(0), 7)
        .unwrap());
    assert!(ex
        .remove_linked_pod("ns", "u1", "chat", Grace::Seconds(30))
        .unwrap());
    assert_eq!(
        ex.get_linked_pod_if_persist("ns", "u1", "chat").unwrap(),
        None
    );
    // The keys live where the cluster says their slot is.
    let mut owner = cluster.raw(cluster.primary_of_key("sf:{ns:lk:u1}chat"));
    assert_eq!(
        text(raw_cmd(&mut owner, &["GET", "sf:{ns:lk:u1}chat"])),
        "3"
    );
    let ttl = match raw_cmd(&mut owner, &["TTL", "sf:{ns:lk:u1}chat"]) {
        redis::Value::Int(ttl) => ttl,
        other => panic!("TTL answered {other:?}"),
    };
    assert!((1..=30).contains(&ttl), "grace TTL {ttl}");

    // ---- scripts flushed everywhere: EVALSHA routed by key, EVAL fallback on the same node ----
    for i in cluster.primaries() {
        raw_cmd(&mut cluster.raw(i), &["SCRIPT", "FLUSH"]);
    }
    let owner_index = cluster.primary_of_key("sf:{ns:lk:u7}");
    let before: Vec<(u64, u64)> = cluster
        .primaries()
        .into_iter()
        .map(|i| {
            let mut c = cluster.raw(i);
            (
                command_calls(&mut c, "evalsha"),
                command_calls(&mut c, "eval"),
            )
        })
        .collect();
    assert_eq!(
        ex.set_linked_pod("ns", "u7", "chat", 2, Persistence::Persistent)
            .unwrap(),
        None
    );
    for (n, i) in cluster.primaries().into_iter().enumerate() {
        let mut c = cluster.raw(i);
        let delta = (
            command_calls(&mut c, "evalsha") - before[n].0,
            command_calls(&mut c, "eval") - before[n].1,
        );
        let expected = if i == owner_index { (1, 1) } else { (0, 0) };
        assert_eq!(delta, expected, "EVALSHA/EVAL calls on node {i}");
    }
    assert_eq!(ex.get_linked_pod("ns", "u7", "chat").unwrap(), Some(2));

    // ---- 10,000 uids over all slots: right answers, one round trip per node ----
    let all = Arc::new(uids(10_000));
    write_links(&ex, &all);
    let pods = ex.batch_get_linked_pods("ns", "chat", &all).unwrap(); // warms every node link
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(*pod, expected_pod(i), "uid {i}");
    }
    let primaries = cluster.primaries();
    let mut conns: Vec<redis::Connection> = primaries.iter().map(|&i| cluster.raw(i)).collect();
    let reads_before: Vec<u64> = conns
        .iter_mut()
        .map(|c| info_u64(c, "stats", "total_reads_processed"))
        .collect();
    let mget_before: Vec<u64> = conns.iter_mut().map(|c| command_calls(c, "mget")).collect();
    let pods = ex.batch_get_linked_pods("ns", "chat", &all).unwrap();
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(*pod, expected_pod(i), "uid {i}");
    }
    let mut total_mgets = 0;
    for (n, conn) in conns.iter_mut().enumerate() {
        // Our INFO calls are reads too (2 per node here); a replica's REPLCONF ACK comes once
        // a second. One round trip per uid would be ~3,300 reads per node.
        let reads = info_u64(conn, "stats", "total_reads_processed") - reads_before[n] - 2;
        let mgets = command_calls(conn, "mget") - mget_before[n];
        println!(
            "node {}: {mgets} MGETs (one per slot) read in {reads} socket reads",
            primaries[n]
        );
        assert!(mgets > 1000, "node {} got only {mgets} MGETs", primaries[n]);
        assert!(
            reads <= 40,
            "node {}: {reads} reads for one batch: not one round trip per node",
            primaries[n]
        );
        total_mgets += mgets;
    }
    // One MGET per distinct slot: never a multi-slot MGET (which would be CROSSSLOT).
    assert!(total_mgets <= 10_000);
    for conn in conns.iter_mut() {
        let errors = text(raw_cmd(conn, &["INFO", "errorstats"]));
        assert!(!errors.contains("CROSSSLOT"), "{errors}");
    }
    let grouped = ex.batch_get_linked_pods_by_pod("ns", "chat", &all).unwrap();
    assert_eq!(
        grouped.values().map(Vec::len).sum::<usize>(),
        (0..10_000).filter(|&i| expected_pod(i).is_some()).count()
    );
}

/// Moves `count` slots from one primary to another with `redis-cli --cluster reshard`.
fn reshard(cluster: &Cluster, from: usize, to: usize, count: u32) {
    let out = Command::new("redis-cli")
        .args(["--cluster", "reshard", &cluster.nodes[from].addr()])
        .args(["--cluster-from", &cluster.node_id(from)])
        .args(["--cluster-to", &cluster.node_id(to)])
        .args(["--cluster-slots", &count.to_string()])
        .args(["--cluster-yes", "--cluster-pipeline", "5"])
        .output()
        .expect("run redis-cli --cluster reshard");
    assert!(
        out.status.success(),
        "reshard failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn slot_migration_mid_test() {
    let cluster = Cluster::start(3, 0);
    let ex = Arc::new(executor(&cluster));

    // ---- one slot by hand: ASK while migrating, MOVED after ----
    let (moved_uid, staying_uid, slot) = cluster.two_uids_in_one_slot("ns");
    let (moved_uid, staying_uid) = (&moved_uid, &staying_uid);
    for uid in [moved_uid, staying_uid] {
        ex.set_linked_pod("ns", uid, "chat", 5, Persistence::Persistent)
            .unwrap();
    }
    let mut migration = cluster.begin_migration(slot);
    // Move only the first uid's two keys: the slot is now split between the nodes.
    migration.migrate(&link_keys("ns", moved_uid, "chat"));
    // Reads and scripts follow ASK for the moved uid and stay put for the other.
    assert_eq!(ex.get_linked_pod("ns", moved_uid, "chat").unwrap(), Some(5));
    assert_eq!(
        ex.get_linked_pod("ns", staying_uid, "chat").unwrap(),
        Some(5)
    );
    assert_eq!(
        ex.set_linked_pod("ns", moved_uid, "chat", 6, Persistence::Persistent)
            .unwrap(),
        Some(5)
    );
    assert_eq!(
        ex.batch_get_linked_pods(
            "ns",
            "chat",
            &[moved_uid, staying_uid, &"nobody".to_string()]
        )
        .unwrap(),
        vec![Some(6), Some(5), None]
    );
    assert_eq!(
        ex.get_link_services("ns", moved_uid).unwrap(),
        BTreeMap::from([("chat".to_string(), 6)])
    );
    // Finish: move the rest and give the slot to the target everywhere.
    migration.migrate(&link_keys("ns", staying_uid, "chat"));
    migration.finish();
    // MOVED now: followed, and the slot map refreshed.
    assert_eq!(
        ex.get_linked_pod("ns", staying_uid, "chat").unwrap(),
        Some(5)
    );
    assert_eq!(
        ex.set_linked_pod_if_absent("ns", staying_uid, "chat", 1, Persistence::Persistent)
            .unwrap(),
        5
    );

    // ---- redis-cli --cluster reshard while operations run ----
    let all = Arc::new(uids(3_000));
    write_links(&ex, &all);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let (ex, all, stop) = (Arc::clone(&ex), Arc::clone(&all), Arc::clone(&stop));
            thread::spawn(move || {
                let mut rounds = 0u64;
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let uid = &all[i % all.len()];
                    assert_eq!(
                        ex.get_linked_pod("ns", uid, "chat").unwrap(),
                        expected_pod(i % all.len()),
                        "uid {uid} during resharding"
                    );
                    let fresh = format!("fresh-{t}-{rounds}");
                    assert_eq!(
                        ex.set_linked_pod_if_absent(
                            "ns",
                            &fresh,
                            "chat",
                            (rounds % 7) as Pod,
                            Persistence::Persistent
                        )
                        .unwrap(),
                        (rounds % 7) as Pod
                    );
                    if rounds % 50 == 0 {
                        let pods = ex.batch_get_linked_pods("ns", "chat", &all).unwrap();
                        for (j, pod) in pods.iter().enumerate() {
                            assert_eq!(*pod, expected_pod(j), "batch uid {j} during resharding");
                        }
                    }
                    rounds += 1;
                    i += 7;
                }
                rounds
            })
        })
        .collect();
    let started = Instant::now();
    let primaries = cluster.primaries();
    reshard(&cluster, primaries[0], primaries[1], 1500);
    reshard(&cluster, primaries[1], primaries[2], 1000);
    let resharding = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let rounds: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!("{rounds} operation rounds during {resharding:?} of resharding");
    assert!(rounds > 0);
    cluster.wait_healthy();
    let pods = ex.batch_get_linked_pods("ns", "chat", &all).unwrap();
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(*pod, expected_pod(i), "uid {i} after resharding");
    }
}

#[test]
fn primary_killed_replica_promoted() {
    let mut cluster = Cluster::start(3, 1);
    let ex = Arc::new(executor(&cluster));
    let all = Arc::new(uids(2_000));
    write_links(&ex, &all);

    // Replication is asynchronous: make sure the replicas have everything before the kill. A
    // write of our own on each primary, then WAIT for it, covers all earlier writes there.
    for i in cluster.primaries() {
        let mut conn = cluster.raw(i);
        // A key of a slot this node serves: try keys until one is accepted.
        let mut acked = false;
        for k in 0..10_000 {
            let key = format!("marker-{k}");
            if cluster.primary_of_key(&key) != i {
                continue;
            }
            raw_cmd(&mut conn, &["SET", &key, "1"]);
            let replicas = raw_cmd(&mut conn, &["WAIT", "1", "10000"]);
            assert_eq!(replicas, redis::Value::Int(1), "replication of node {i}");
            acked = true;
            break;
        }
        assert!(acked, "no key of node {i}");
    }

    let victim = cluster.primary_of_key("sf:{ns:lk:user-0}");
    let heir = cluster.replica_of(victim);
    println!(
        "killing primary {} (port {}); replica {} (port {}) takes over",
        victim, cluster.nodes[victim].port, heir, cluster.nodes[heir].port
    );
    cluster.nodes[victim].kill();
    wait_until("the replica's promotion", Duration::from_secs(60), || {
        let repl = try_raw(&mut cluster.raw(heir), &["INFO", "replication"]).map(text);
        repl.is_ok_and(|r| info_field(&r, "role").as_deref() == Some("master"))
    });
    cluster.wait_healthy();

    // The same executor, not reopened: connections to the dead node fail and are dropped, and
    // fresh ones read the new slot map. Give it a few tries while the cluster settles.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ex.get_linked_pod("ns", "user-0", "chat") {
            Ok(pod) => {
                assert_eq!(pod, expected_pod(0));
                break;
            }
            Err(err) if Instant::now() < deadline => {
                println!("while the cluster settles: {err}");
                thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!("no recovery after failover: {err}"),
        }
    }
    // Every persistent link written before the kill reads back, one by one and in batch.
    let pods = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match ex.batch_get_linked_pods("ns", "chat", &all) {
                Ok(pods) => break pods,
                Err(err) if Instant::now() < deadline => {
                    println!("batch while the cluster settles: {err}");
                    thread::sleep(Duration::from_millis(200));
                }
                Err(err) => panic!("batch after failover: {err}"),
            }
        }
    };
    for (i, pod) in pods.iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(*pod, expected_pod(i), "persistent link of uid {i}");
            let mut got = None;
            for _ in 0..3 {
                match ex.get_linked_pod_if_persist("ns", &all[i], "chat") {
                    Ok(pod) => {
                        got = Some(pod);
                        break;
                    }
                    Err(err) => println!("uid {i}: {err}"),
                }
            }
            assert_eq!(got, Some(expected_pod(i)), "uid {i}");
        }
    }
    // Writes resume, on the promoted replica too.
    for i in 0..300 {
        let uid = format!("after-{i}");
        assert_eq!(
            ex.set_linked_pod("ns", &uid, "chat", 4, Persistence::Persistent)
                .unwrap(),
            None
        );
        assert_eq!(ex.get_linked_pod("ns", &uid, "chat").unwrap(), Some(4));
    }
    assert!(cluster.primaries().contains(&heir));
}

#[test]
fn cluster_config_is_checked() {
    let none: [&str; 0] = [];
    assert_eq!(
        Config::cluster(&none).unwrap_err().kind(),
        ErrorKind::Config
    );
    for bad in [
        vec!["redis://127.0.0.1:7000", "rediss://127.0.0.1:7001"],
        vec!["redis://a:x@127.0.0.1:7000", "redis://a:y@127.0.0.1:7001"],
        vec!["unix:///tmp/redis.sock"],
        vec!["redis://127.0.0.1:7000/2"],
        vec!["http://127.0.0.1:7000"],
    ] {
        let err = Config::cluster(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}: {err}");
        assert!(!err.message().contains(":x@") && !err.message().contains(":y@"));
    }
    // Nothing listening: a connection error, naming the seeds.
    let port = free_port();
    let mut config = Config::cluster(&[format!("redis://127.0.0.1:{port}")]).unwrap();
    config
        .set_connect_timeout(Duration::from_millis(300))
        .unwrap();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.message().contains(&port.to_string()), "{err}");
}

/// Not a test of correctness: prints the time of a 10,000-uid batch read on a local 3-primary
/// cluster and on a single server:
/// `cargo test --locked --release --test it cluster::measure -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_batch_read_cluster_vs_single() {
    let all = Arc::new(uids(10_000));
    let measure = |ex: &Arc<Executor>, what: &str| {
        write_links(ex, &all);
        ex.batch_get_linked_pods("ns", "chat", &all).unwrap();
        let mut times = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let pods = ex.batch_get_linked_pods("ns", "chat", &all).unwrap();
            times.push(started.elapsed());
            assert_eq!(pods[0], expected_pod(0));
        }
        times.sort();
        println!(
            "{what}: 10,000-uid batch read: median {:?}, best {:?}, worst {:?} (20 runs)",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    };
    let cluster = Cluster::start(3, 1);
    measure(&Arc::new(executor(&cluster)), "cluster 3 primaries");
    drop(cluster);
    let server = RedisServer::start();
    measure(&Arc::new(server.executor()), "single server");
}

#[test]
fn slow_node_times_out_and_is_not_resent() {
    let cluster = Cluster::start(3, 0);
    let mut config = Config::cluster(&cluster.urls()[..1]).unwrap();
    config
        .set_command_timeout(Duration::from_millis(300))
        .unwrap();
    let ex = executor_with(config);
    ex.set_linked_pod("ns", "slow", "chat", 1, Persistence::Persistent)
        .unwrap();
    let node = cluster.primary_of_key("sf:{ns:lk:slow}");
    let mut conn = cluster.raw(node);
    let before = command_calls(&mut conn, "evalsha");
    raw_cmd(&mut conn, &["CLIENT", "PAUSE", "1500", "ALL"]);
    let started = Instant::now();
    let err = ex
        .set_linked_pod("ns", "slow", "chat", 2, Persistence::Persistent)
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(took < Duration::from_millis(1200), "took {took:?}");
    // A timed-out call may or may not have run (here the server drops it with the closed
    // connection), but it is never sent twice.
    let mut after = None;
    wait_until("the pause to end", Duration::from_secs(10), || {
        after = ex.get_linked_pod("ns", "slow", "chat").ok();
        after.is_some()
    });
    let ran = command_calls(&mut conn, "evalsha") - before;
    assert!(ran <= 1, "the script ran {ran} times");
    assert_eq!(after, Some(Some(if ran == 1 { 2 } else { 1 })));
    // Other nodes were never affected, and the slow one serves again.
    assert_eq!(
        ex.set_linked_pod("ns", "slow", "chat", 3, Persistence::Persistent)
            .unwrap(),
        after.unwrap()
    );
}

// ---- batches (execute_batch) split by node ----

/// The gets of `uids` as one batch.
fn gets<'a>(uids: &'a [String]) -> Vec<BatchOp<'a>> {
    uids.iter()
        .map(|uid| BatchOp::GetLinkedPod {
            ns: "ns",
            uid,
            service: "chat",
        })
        .collect()
}

/// The sets of `uids` to pod `pod` as one batch.
fn sets(uids: &[String], pod: Pod) -> Vec<BatchOp<'_>> {
    uids.iter()
        .map(|uid| BatchOp::SetLinkedPod {
            ns: "ns",
            uid,
            service: "chat",
            pod,
            persistence: Persistence::Persistent,
        })
        .collect()
}

#[test]
fn a_batch_is_split_by_node_and_each_nodes_part_written_at_once() {
    let cluster = Cluster::start(3, 0);
    let ex = executor(&cluster);
    let uids = uids(90);
    // The first batch opens the pooled connection's link to every node.
    for result in ex.execute_batch(&sets(&uids, 4)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(None)));
    }
    let primaries = cluster.primaries();
    let mut raws: Vec<_> = primaries.iter().map(|&i| cluster.raw(i)).collect();
    let reads: Vec<u64> = raws
        .iter_mut()
        .map(|raw| info_u64(raw, "stats", "total_reads_processed"))
        .collect();
    let got: Vec<u64> = raws
        .iter_mut()
        .map(|raw| command_calls(raw, "get"))
        .collect();
    let before = ex.stats();
    for result in ex.execute_batch(&gets(&uids)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(4))));
    }
    let after = ex.stats();
    assert_eq!(after.calls - before.calls, 90);
    assert_eq!(
        after.connects, before.connects,
        "no new connection for the batch"
    );
    assert_eq!(after.retries, before.retries);
    for (n, raw) in raws.iter_mut().enumerate() {
        let gets = command_calls(raw, "get") - got[n];
        // The INFO of this test is one more read of its own.
        let reads = info_u64(raw, "stats", "total_reads_processed") - reads[n];
        assert!(gets >= 10, "node {}: {gets} of 90 keys", primaries[n]);
        assert!(
            reads <= 4,
            "node {}: {reads} reads for its {gets} commands of one batch",
            primaries[n]
        );
    }
    // Every kind of operation, on keys of every node, in one batch.
    let mixed: Vec<BatchOp> = gets(&uids[..30])
        .into_iter()
        .chain(sets(&uids[30..60], 5))
        .collect();
    let results = ex.execute_batch(&mixed);
    assert!(results[..30]
        .iter()
        .all(|r| *r == Ok(BatchOutcome::Pod(Some(4)))));
    assert!(results[30..]
        .iter()
        .all(|r| *r == Ok(BatchOutcome::Pod(Some(4)))));
    assert_eq!(ex.get_linked_pod("ns", &uids[45], "chat").unwrap(), Some(5));
}

#[test]
fn a_batch_follows_ask_and_moved_per_entry() {
    let cluster = Cluster::start(3, 0);
    let ex = executor(&cluster);
    let (moved, staying, slot) = cluster.two_uids_in_one_slot("ns");
    let candidates = uids(40);
    let others: Vec<String> = candidates
        .iter()
        .filter(|uid| **uid != moved && **uid != staying)
        .cloned()
        .collect();
    let all: Vec<String> = [moved.clone(), staying.clone()]
        .into_iter()
        .chain(others)
        .collect();
    for result in ex.execute_batch(&sets(&all, 5)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(None)));
    }
    let mut migration = cluster.begin_migration(slot);
    migration.migrate(&link_keys("ns", &moved, "chat"));
    // Mid-migration: the moved uid's entries get ASK, the staying one's are served where they
    // were, the others are untouched; every entry gives its single call's outcome.
    let before = ex.stats();
    for result in ex.execute_batch(&gets(&all)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(5))));
    }
    for result in ex.execute_batch(&sets(&all, 6)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(5))));
    }
    assert_eq!(
        ex.stats().retries,
        before.retries,
        "redirects are no retries"
    );
    // Finished: the slot is the target's everywhere, so MOVED now.
    migration.migrate(&link_keys("ns", &staying, "chat"));
    migration.finish();
    for result in ex.execute_batch(&gets(&all)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(6))));
    }
    // The moved uid's set went to the target (after ASK), not to a copy left behind.
    let moved_link = format!("sf:{{ns:lk:{moved}}}chat");
    assert_eq!(
        text(raw_cmd(&mut migration.dst, &["GET", &moved_link])),
        "6"
    );
    for result in ex.execute_batch(&sets(&all, 7)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(6))));
    }
    assert_eq!(ex.get_linked_pod("ns", &staying, "chat").unwrap(), Some(7));
}

#[test]
fn a_dead_primary_fails_only_its_own_entries_and_its_heir_serves_them() {
    let mut cluster = Cluster::start(3, 1);
    let ex = executor(&cluster);
    let all = uids(60);
    for result in ex.execute_batch(&sets(&all, 3)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(None)));
    }
    // The replicas have every write before the kill (see primary_killed_replica_promoted).
    for i in cluster.primaries() {
        let mut conn = cluster.raw(i);
        assert_ne!(
            raw_cmd(&mut conn, &["WAIT", "1", "10000"]),
            redis::Value::Int(0),
            "replication of node {i}"
        );
    }
    let victim = cluster.primary_of_key(&format!("sf:{{ns:lk:{}}}", all[0]));
    let on_victim: Vec<bool> = all
        .iter()
        .map(|uid| cluster.primary_of_key(&format!("sf:{{ns:lk:{uid}}}")) == victim)
        .collect();
    let heir = cluster.replica_of(victim);
    cluster.nodes[victim].kill();
    // At once (long before the cluster notices): the other nodes' entries succeed, the dead
    // node's fail with the connection error, reads and writes alike.
    let results = ex.execute_batch(&gets(&all));
    for (i, result) in results.iter().enumerate() {
        if on_victim[i] {
            let err = result.as_ref().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connection, "uid {i}: {err}");
            assert!(err.message().starts_with("get linked pod: "), "{err}");
        } else {
            assert_eq!(*result, Ok(BatchOutcome::Pod(Some(3))), "uid {i}");
        }
    }
    assert!(on_victim.iter().any(|&v| v) && on_victim.iter().any(|&v| !v));
    // Once the replica took over, the same executor serves every entry again.
    wait_until("the replica's promotion", Duration::from_secs(60), || {
        let repl = try_raw(&mut cluster.raw(heir), &["INFO", "replication"]).map(text);
        repl.is_ok_and(|r| info_field(&r, "role").as_deref() == Some("master"))
    });
    cluster.wait_healthy();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let results = ex.execute_batch(&gets(&all));
        if results.iter().all(|r| *r == Ok(BatchOutcome::Pod(Some(3)))) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after failover: {results:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
    for result in ex.execute_batch(&sets(&all, 8)) {
        assert_eq!(result, Ok(BatchOutcome::Pod(Some(3))));
    }
    assert_eq!(ex.get_linked_pod("ns", &all[0], "chat").unwrap(), Some(8));
}

/// The two keys of a uid's link to `service`: its uid hash and its link string (data-model.md).
fn link_keys(ns: &str, uid: &str, service: &str) -> [String; 2] {
    let hash = format!("sf:{{{ns}:lk:{uid}}}");
    let link = format!("{hash}{service}");
    [hash, link]
}
