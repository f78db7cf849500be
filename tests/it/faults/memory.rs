//! The server out of memory (maxmemory with noeviction).

use std::collections::BTreeMap;

use super::*;

/// A server out of memory (`maxmemory 2mb`, `noeviction`, filled with raw data): writes fail
/// with `Redis` and the server's OOM message, reads and removals work, no link is left half
/// written, and writes work again once memory is freed.
#[test]
fn out_of_memory_fails_writes_cleanly() {
    let server =
        RedisServer::start_with(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let ex = executor(&server, 4, ms(1000), ms(1000), ms(1000));
    prelink(&ex, "oom-", 50);
    ex.set_service_state(NS, SVC, 0, "Running").unwrap();
    ex.set_workload_state(NS, SVC, "Available").unwrap();

    let mut raw = server.raw();
    let filler = "x".repeat(16 * 1024);
    let mut filled = 0;
    let oom = loop {
        assert!(filled < 1000, "2 MB never filled up");
        match redis::cmd("SET")
            .arg(format!("fill:{filled}"))
            .arg(&filler)
            .query::<()>(&mut raw)
        {
            Ok(()) => filled += 1,
            Err(err) => break err.to_string(),
        }
    };
    assert!(oom.contains("OOM"), "filling failed with {oom}");
    let before_keys = dbsize(&mut raw);

    let p = Persistence::Persistent;
    let mut write_errors = Vec::new();
    let mut check_oom = |what: &str, result: Result<()>| {
        let err = result.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Redis, "{what}: {err}");
        assert!(err.message().contains("OOM"), "{what}: {err}");
        write_errors.push(format!("{what}: {err}"));
    };
    check_oom(
        "set linked pod (new uid)",
        ex.set_linked_pod(NS, "oom-new", SVC, 1, p).map(drop),
    );
    check_oom(
        "set linked pod (existing uid)",
        ex.set_linked_pod(NS, "oom-1", SVC, 9, p).map(drop),
    );
    check_oom(
        "try set linked pod",
        ex.try_set_linked_pod(NS, "oom-new", SVC, 1, p).map(drop),
    );
    check_oom(
        "set linked pod if absent",
        ex.set_linked_pod_if_absent(NS, "oom-new", SVC, 1, p)
            .map(drop),
    );
    check_oom(
        "compute linked pod",
        ex.compute_linked_pod(NS, "oom-new", SVC, p, &[Candidate::new(1, 0)])
            .map(drop),
    );
    check_oom(
        "set service state",
        ex.set_service_state(NS, SVC, 1, "Running"),
    );
    check_oom(
        "set workload state",
        ex.set_workload_state(NS, SVC, "Draining"),
    );

    // Reads, and writes that need no memory, still work.
    assert_eq!(ex.get_linked_pod(NS, "oom-1", SVC).unwrap(), Some(1));
    assert_eq!(ex.get_linked_pod(NS, "oom-new", SVC).unwrap(), None);
    assert_eq!(
        ex.get_linked_pod_if_persist(NS, "oom-2", SVC).unwrap(),
        Some(2)
    );
    assert_eq!(
        ex.batch_get_linked_pods(NS, SVC, &["oom-3", "oom-new", "oom-5"])
            .unwrap(),
        vec![Some(3), None, Some(5)]
    );
    assert_eq!(
        ex.get_link_services(NS, "oom-4").unwrap(),
        BTreeMap::from([(SVC.to_string(), 4)])
    );
    assert_eq!(
        ex.get_service_state(NS, SVC).unwrap(),
        BTreeMap::from([(0, "Running".to_string())])
    );
    assert_eq!(
        ex.get_workload_state(NS, SVC).unwrap().as_deref(),
        Some("Available")
    );
    assert_eq!(
        ex.set_linked_pod_if_absent(NS, "oom-6", SVC, 1, p).unwrap(),
        6,
        "if absent with a link present only reads"
    );
    assert!(ex
        .remove_linked_pod(NS, "oom-7", SVC, Grace::Immediate)
        .unwrap());
    assert!(ex
        .remove_linked_pod_with_id(NS, "oom-8", SVC, Grace::Immediate, 8)
        .unwrap());
    assert_eq!(
        dbsize(&mut raw),
        before_keys - 4,
        "two removals (link key and uid hash each), nothing else"
    );
    let links = assert_links_whole(&mut raw, NS);

    // Free the memory: writes work again.
    for i in 0..filled {
        let _: () = redis::cmd("DEL")
            .arg(format!("fill:{i}"))
            .query(&mut raw)
            .unwrap();
    }
    assert_eq!(ex.set_linked_pod(NS, "oom-new", SVC, 1, p).unwrap(), None);
    assert_eq!(ex.set_linked_pod(NS, "oom-1", SVC, 9, p).unwrap(), Some(1));
    assert_links_whole(&mut raw, NS);
    println!(
        "out of memory: filled {filled} x 16 KiB; {} writes refused, e.g. {:?}; reads and \
         removals worked; {links} link keys whole",
        write_errors.len(),
        write_errors.first()
    );
}
