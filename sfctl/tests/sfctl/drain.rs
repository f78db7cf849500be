//! drain: every link to the pod released, nothing else touched; links moved meanwhile left
//! alone; interrupted by SIGINT and resumed; 100,000 links across a cluster in flat memory.

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use stateful_executor::{keys, Persistence};

use crate::common::*;

/// `count` uids named `prefix-N`, linked to `pod`: every other one persistent, the rest
/// temporary for an hour.
fn uids_on(prefix: &str, count: usize, pod: i32) -> Vec<(String, i32, Option<u32>)> {
    (0..count)
        .map(|i| (format!("{prefix}-{i}"), pod, (i % 2 == 1).then_some(3600)))
        .collect()
}

fn names(links: &[(String, i32, Option<u32>)]) -> Vec<String> {
    links.iter().map(|(uid, _, _)| uid.clone()).collect()
}

#[test]
fn drain_releases_only_the_pods_links_on_a_standalone_server() {
    drain_releases_only_the_pods_links(&Setup::standalone());
}

#[test]
fn drain_releases_only_the_pods_links_on_a_cluster() {
    drain_releases_only_the_pods_links(&Setup::cluster());
}

fn drain_releases_only_the_pods_links(setup: &Setup) {
    let doomed = uids_on("a", 400, 1);
    let staying = uids_on("b", 150, 2);
    setup.write_links("prod", "chat", &doomed);
    setup.write_links("prod", "chat", &staying);
    // Same pod number, another service or namespace: not drained.
    setup.write_links("prod", "game", &uids_on("a", 50, 1));
    setup.write_links("staging", "chat", &uids_on("a", 50, 1));
    let before = setup.snapshot();

    let dry = setup
        .sfctl(&["drain", "prod", "chat", "1", "--dry-run", "--json"])
        .expect(0)
        .object();
    assert_eq!(dry["matched"], 400, "{dry}");
    assert_eq!(dry["scanned"], 550, "{dry}");
    assert_eq!(dry["released"], 0, "{dry}");
    assert_eq!(setup.snapshot().len(), before.len());
    assert_eq!(
        setup.snapshot().keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );

    let run = setup
        .sfctl(&["drain", "prod", "chat", "1", "--rate", "0"])
        .expect(0);
    let table: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(table.contains(&vec!["released", "400"]), "{run:?}");
    assert!(table.contains(&vec!["moved", "meanwhile", "0"]), "{run:?}");

    let after = setup.snapshot();
    for (key, stored) in &before {
        let is_a = key.starts_with("sf:{prod:lk:a-");
        if is_a && key.ends_with("}chat") {
            assert!(!after.contains_key(key), "{key} survived the drain");
        } else if is_a && stored.kind == "hash" {
            // The uid hash loses its chat field; the game field of a-0..a-49 stays.
            let mut expected = stored.hash.clone();
            expected.remove(&b"chat"[..]);
            match after.get(key) {
                None => assert!(expected.is_empty(), "{key} removed with {expected:?}"),
                Some(now) => assert_eq!(now.hash, expected, "{key}"),
            }
        } else {
            let now = after
                .get(key)
                .unwrap_or_else(|| panic!("{key} was removed"));
            assert_eq!(
                (&now.kind, &now.string, &now.hash),
                (&stored.kind, &stored.string, &stored.hash),
                "{key}"
            );
        }
    }
    assert_links_whole(setup, "prod", "chat", &names(&doomed));
    assert_links_whole(setup, "prod", "chat", &names(&staying));

    let again = setup
        .sfctl(&["drain", "prod", "chat", "1", "--json"])
        .expect(0)
        .object();
    assert_eq!(
        (again["matched"].as_u64(), again["released"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn drain_with_grace_keeps_temporary_links_and_does_not_extend_them() {
    let setup = Setup::standalone();
    let links = uids_on("g", 200, 3);
    setup.write_links("prod", "chat", &links);
    let first = setup
        .sfctl(&["drain", "prod", "chat", "3", "--grace", "120", "--json"])
        .expect(0)
        .object();
    assert_eq!(first["released"], 200, "{first}");
    let mut conn = setup.conn();
    for (uid, _, _) in &links {
        let link = keys::link_key("prod", uid, "chat");
        let ttl = pttl(conn.as_mut(), &link);
        assert!(ttl > 0 && ttl <= 120_000, "{uid}: {ttl}");
    }
    assert_links_whole(&setup, "prod", "chat", &names(&links));
    std::thread::sleep(Duration::from_millis(1100));
    // A second run finds them expiring within the grace period and leaves them be.
    let second = setup
        .sfctl(&["drain", "prod", "chat", "3", "--grace", "120", "--json"])
        .expect(0)
        .object();
    assert_eq!(second["already_expiring"], 200, "{second}");
    assert_eq!(second["released"], 0, "{second}");
    for (uid, _, _) in &links {
        let ttl = pttl(conn.as_mut(), &keys::link_key("prod", uid, "chat"));
        assert!(ttl <= 119_000, "{uid}: TTL extended to {ttl}");
    }
    // Without grace they go at once.
    let third = setup
        .sfctl(&["drain", "prod", "chat", "3", "--json"])
        .expect(0)
        .object();
    assert_eq!(third["released"], 200, "{third}");
    assert!(setup.keys().is_empty());
}

#[test]
fn drain_leaves_links_moved_meanwhile_alone() {
    let setup = Setup::standalone();
    let links = uids_on("m", 300, 4);
    setup.write_links("prod", "chat", &links);
    let ex = setup.executor();
    // 50 links a second: the drain reads every link first, then releases them slowly; once the
    // first is gone every other link moves to pod 7, so the drain must leave them all alone.
    let child = command(&[
        setup.flags()[0].as_str(),
        setup.flags()[1].as_str(),
        "drain",
        "prod",
        "chat",
        "4",
        "--rate",
        "50",
        "--json",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let uids = names(&links);
    loop {
        let pods = ex.batch_get_linked_pods("prod", "chat", &uids).unwrap();
        if pods.iter().any(Option::is_none) {
            break;
        }
        assert!(Instant::now() < deadline, "the drain released nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut moved = Vec::new();
    for uid in &uids {
        if ex.get_linked_pod("prod", uid, "chat").unwrap() == Some(4) {
            ex.set_linked_pod("prod", uid, "chat", 7, Persistence::Persistent)
                .unwrap();
            moved.push(uid.clone());
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        moved.len() > 200,
        "moved {} links during the drain",
        moved.len()
    );
    for uid in &moved {
        assert_eq!(
            ex.get_linked_pod("prod", uid, "chat").unwrap(),
            Some(7),
            "{uid}"
        );
    }
    let (matched, released, skipped) = (
        summary["matched"].as_u64().unwrap(),
        summary["released"].as_u64().unwrap(),
        summary["moved"].as_u64().unwrap(),
    );
    assert_eq!(matched, 300, "{summary}");
    assert_eq!(released + skipped, 300, "{summary}");
    assert_eq!(released as usize, 300 - moved.len(), "{summary}");
    assert_links_whole(&setup, "prod", "chat", &uids);
}

#[test]
fn drain_interrupted_by_sigint_then_resumed() {
    let setup = Setup::cluster();
    let links = uids_on("i", 20_000, 1);
    setup.write_links("prod", "chat", &links);
    setup.write_links("prod", "chat", &uids_on("k", 1_000, 2));
    let mut args = setup.flags();
    args.extend(["drain", "prod", "chat", "1", "--rate", "4000", "--json"].map(String::from));
    let child = command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once links go, the drain handles Ctrl-C (it does before its first release).
    let ex = setup.executor();
    let uids = names(&links);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ex
        .batch_get_linked_pods("prod", "chat", &uids)
        .unwrap()
        .iter()
        .all(Option::is_some)
    {
        assert!(Instant::now() < deadline, "the drain released nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a plain kill(2) of the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    let first: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["interrupted"], true, "{first}");
    let released = first["released"].as_u64().unwrap();
    assert!(released > 0 && released < 20_000, "{first}");
    // Nothing half-done: every link whole, and exactly the released ones gone.
    assert_links_whole(&setup, "prod", "chat", &uids);
    let left = ex
        .batch_get_linked_pods("prod", "chat", &uids)
        .unwrap()
        .into_iter()
        .filter(Option::is_some)
        .count() as u64;
    assert_eq!(left, 20_000 - released, "{first}");

    let second = setup
        .sfctl(&["drain", "prod", "chat", "1", "--rate", "0", "--json"])
        .expect(0)
        .object();
    assert_eq!(second["interrupted"], false, "{second}");
    assert_eq!(second["released"].as_u64().unwrap(), left, "{second}");
    assert!(ex
        .batch_get_linked_pods("prod", "chat", &uids)
        .unwrap()
        .iter()
        .all(Option::is_none));
    assert_links_whole(&setup, "prod", "chat", &uids);
    let kept = names(&uids_on("k", 1_000, 2));
    assert!(ex
        .batch_get_linked_pods("prod", "chat", &kept)
        .unwrap()
        .iter()
        .all(|p| *p == Some(2)));
}

/// Peak RSS (KiB) and wall time of one sfctl run, from wait4.
// The child is reaped by wait4 (std's wait gives no rusage).
#[allow(clippy::zombie_processes)]
fn measured_run(args: &[String]) -> (Json, u64, Duration) {
    let started = Instant::now();
    let child = command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdout = child.stdout.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "sfctl failed: {text}"
    );
    let elapsed = started.elapsed();
    (
        serde_json::from_str(text.trim()).unwrap(),
        usage.ru_maxrss as u64,
        elapsed,
    )
}

/// A drain across a 3-primary cluster: `small` links in one service, `big` in another. The
/// peak RSS of the big drain must stay within 4 MiB of the small one's.
fn drain_in_flat_memory(small: usize, big: usize) {
    let setup = Setup::cluster();
    setup.write_links("prod", "small", &uids_on("s", small, 1));
    setup.write_links("prod", "big", &uids_on("b", big, 1));
    let run = |service: &str| {
        let mut args = setup.flags();
        args.extend(["drain", "prod", service, "1", "--rate", "0", "--json"].map(String::from));
        measured_run(&args)
    };
    let (small_summary, small_rss, small_time) = run("small");
    let (big_summary, big_rss, big_time) = run("big");
    assert_eq!(small_summary["released"].as_u64(), Some(small as u64));
    assert_eq!(big_summary["released"].as_u64(), Some(big as u64));
    eprintln!(
        "drain on a 3-primary cluster: {small} links in {:.1} s, peak RSS {small_rss} KiB; \
         {big} links in {:.1} s ({:.0} links/s), peak RSS {big_rss} KiB",
        small_time.as_secs_f64(),
        big_time.as_secs_f64(),
        big as f64 / big_time.as_secs_f64()
    );
    assert!(
        big_rss <= small_rss + 4096,
        "peak RSS grew with the number of links: {small_rss} KiB for {small}, {big_rss} KiB for {big}"
    );
    let ex = setup.executor();
    for uids in names(&uids_on("b", big, 1)).chunks(5000) {
        let pods = ex.batch_get_linked_pods("prod", "big", uids).unwrap();
        assert!(pods.iter().all(Option::is_none));
    }
}

/// 10,000 against 100,000 links (about 45 s on the 2-core test machine, debug build).
#[test]
fn drain_of_100k_links_across_a_cluster_in_flat_memory() {
    drain_in_flat_memory(10_000, 100_000);
}

#[test]
fn drain_losing_its_server_exits_3_with_the_counts_so_far() {
    let mut server = crate::harness::RedisServer::start();
    let url = server.url();
    let links = uids_on("l", 2_000, 1);
    let mut conn = server.raw();
    let mut pipe = redis::pipe();
    for (uid, pod, _) in &links {
        pipe.cmd("SET")
            .arg(keys::link_key("prod", uid, "chat"))
            .arg(pod)
            .ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();
    let child = command(&[
        "--url", &url, "drain", "prod", "chat", "1", "--rate", "200", "--json",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // At --rate 200 the drain sends groups of 20, one after the other: once the server has run
    // two groups, the reply to the first has reached sfctl. (A group run by the server but whose
    // reply is lost with it is in doubt, and rightly not counted as released.)
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::harness::dbsize(&mut conn) > 2_000 - 2 * 20 {
        assert!(Instant::now() < deadline, "the drain released nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let summary: Json = serde_json::from_slice(&out.stdout).unwrap();
    let released = summary["released"].as_u64().unwrap();
    assert!(released > 0 && released < 2_000, "{summary}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("drain stopped"),
        "{out:?}"
    );
}
