//! Redis Sentinel: one primary, one replica, three sentinels, all real processes on loopback;
//! `SENTINEL FAILOVER`, then the same executor carries on against the new primary.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

fn config(setup: &SentinelSetup) -> Config {
    let mut config = Config::sentinel(&setup.sentinel_urls(), MASTER_NAME).unwrap();
    config
        .set_command_timeout(Duration::from_secs(3))
        .unwrap()
        .set_connect_timeout(Duration::from_secs(3))
        .unwrap()
        .set_pool_wait_timeout(Duration::from_secs(5))
        .unwrap();
    config
}

/// Retries `op` for a while: during a failover calls may fail until the sentinels agree.
fn eventually<T>(what: &str, mut op: impl FnMut() -> Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match op() {
            Ok(value) => return value,
            Err(err) if Instant::now() < deadline => {
                println!("{what}, during the failover: {err}");
                thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!("{what}: no recovery: {err}"),
        }
    }
}

#[test]
fn failover_on_the_same_executor() {
    let setup = SentinelSetup::start();
    let ex = Arc::new(Executor::open(&config(&setup)).expect("open via sentinels"));

    // Every operation, on the primary the sentinels name.
    ex.set_service_state("ns", "chat", 0, "Running").unwrap();
    ex.set_workload_state("ns", "chat", "Available").unwrap();
    for i in 0..200 {
        let uid = format!("u{i}");
        assert_eq!(
            ex.set_linked_pod_if_absent("ns", &uid, "chat", i % 5, Persistence::Persistent)
                .unwrap(),
            i % 5
        );
    }
    assert_eq!(
        ex.try_set_linked_pod("ns", "u1", "chat", 4, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 1
        }
    );
    let mut primary = setup.primary.raw();
    assert_eq!(
        text(raw_cmd(&mut primary, &["GET", "sf:{ns:lk:u3}chat"])),
        "3"
    );
    // Let the replica catch up: the failover must not lose these (asynchronous replication
    // could, without the WAIT; see the README).
    raw_cmd(&mut primary, &["SET", "marker", "1"]);
    assert_eq!(
        raw_cmd(&mut primary, &["WAIT", "1", "10000"]),
        redis::Value::Int(1)
    );

    // Warm a few pooled connections to the old primary, so the failover has something to break.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                for i in 0..50 {
                    ex.get_linked_pod("ns", &format!("u{}", (t * 50 + i) % 200), "chat")
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    let mut sentinel = setup.sentinels[0].raw();
    raw_cmd(&mut sentinel, &["SENTINEL", "FAILOVER", MASTER_NAME]);
    wait_until(
        "the sentinels to name the replica",
        Duration::from_secs(60),
        || setup.reported_primary_port() == Some(setup.replica.port),
    );
    wait_until(
        "the old primary to become a replica",
        Duration::from_secs(60),
        || {
            let repl = try_raw(&mut setup.primary.raw(), &["ROLE"]);
            matches!(repl, Ok(redis::Value::Array(fields)) if text(fields[0].clone()) == "slave")
        },
    );

    // Same executor: reads and writes reach the new primary.
    for i in 0..200 {
        let uid = format!("u{i}");
        let pod = eventually("read", || ex.get_linked_pod("ns", &uid, "chat"));
        assert_eq!(pod, Some(i % 5), "link of {uid} after the failover");
    }
    for i in 0..100 {
        let uid = format!("after-{i}");
        let previous = eventually("write", || {
            ex.set_linked_pod("ns", &uid, "chat", 7, Persistence::Persistent)
        });
        assert!(previous.is_none() || previous == Some(7));
    }
    let mut new_primary = setup.replica.raw();
    assert_eq!(
        text(raw_cmd(
            &mut new_primary,
            &["GET", "sf:{ns:lk:after-99}chat"]
        )),
        "7"
    );
    assert_eq!(
        ex.get_workload_state("ns", "chat").unwrap().as_deref(),
        Some("Available")
    );
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &["u0", "u1", "after-5", "none"])
            .unwrap(),
        vec![Some(0), Some(1), Some(7), None]
    );
    // A write that reached a demoted primary would have failed with READONLY; none did, and
    // the old primary now replicates the new writes.
    wait_until(
        "the old primary to replicate",
        Duration::from_secs(30),
        || {
            let mut old = setup.primary.raw();
            try_raw(&mut old, &["GET", "sf:{ns:lk:after-99}chat"])
                .map(text)
                .ok()
                == Some("7".into())
        },
    );
}

#[test]
fn sentinel_config_and_errors() {
    let none: [&str; 0] = [];
    assert_eq!(
        Config::sentinel(&none, "m").unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        Config::sentinel(&["redis://127.0.0.1:1"], "")
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    assert_eq!(
        Config::sentinel(&["redis://127.0.0.1:1"], "my master")
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    // Master credentials only make sense for a sentinel configuration.
    let mut plain = Config::new("redis://127.0.0.1:1").unwrap();
    assert_eq!(
        plain
            .set_sentinel_master_auth(None, Some("x"))
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );

    let setup = SentinelSetup::start();
    // A name the sentinels do not monitor: a connection error that says so.
    let mut config = Config::sentinel(&setup.sentinel_urls(), "nosuchmaster").unwrap();
    config.set_connect_timeout(Duration::from_secs(2)).unwrap();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.message().contains("nosuchmaster"), "{err}");
    // A dead sentinel first in the list is skipped.
    let mut urls = vec![format!("redis://127.0.0.1:{}", free_port())];
    urls.extend(setup.sentinel_urls());
    let ex = Executor::open(&Config::sentinel(&urls, MASTER_NAME).unwrap()).unwrap();
    ex.set_workload_state("ns", "svc", "up").unwrap();
    // Other credentials for the primary than for the sentinels: an ACL user on the primary
    // (changing the default user's password would make the sentinels fail it over).
    let mut primary = setup.primary.raw();
    raw_cmd(
        &mut primary,
        &["ACL", "SETUSER", "app", "on", ">s3cret", "~*", "+@all"],
    );
    let mut config = Config::sentinel(&setup.sentinel_urls(), MASTER_NAME).unwrap();
    config
        .set_sentinel_master_auth(Some("app"), Some("wrong"))
        .unwrap();
    let err = Executor::open(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.message().contains("wrong"), "{err}");
    // With the right one it works; the sentinels themselves need no password.
    config
        .set_sentinel_master_auth(Some("app"), Some("s3cret"))
        .unwrap();
    let ex = Executor::open(&config).unwrap();
    assert_eq!(
        ex.get_workload_state("ns", "svc").unwrap().as_deref(),
        Some("up")
    );
}
