//! Authentication and ACL users: the least a user needs for every operation, on a server and on
//! a cluster, and a wrong or missing password reported as `Auth`, never shown.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::*;
use stateful_executor::*;

/// Everything the library sends, including what its Lua scripts call. Nothing else is needed on
/// a single server (or a sentinel-named primary, where ROLE is used when permitted).
const NEEDED: &[&str] = &[
    "+ping",
    "+script|load",
    "+evalsha",
    "+get",
    "+mget",
    "+set",
    "+hset",
    "+hgetall",
    // When the server lost its scripts (restart, failover, SCRIPT FLUSH): EVALSHA falls back.
    "+eval",
    // Called by the scripts:
    "+hdel",
    "+del",
    "+expire",
    "+pttl",
    "+type",
];

/// On a cluster, also: reading the slot map and following ASK.
const NEEDED_ON_CLUSTER: &[&str] = &["+cluster|slots", "+asking"];

fn set_user(conn: &mut redis::Connection, password: &str, commands: &[&str]) {
    let pass = format!(">{password}");
    let mut args = vec![
        "ACL",
        "SETUSER",
        "app",
        "reset",
        "on",
        &pass,
        "~sf:*",
        "resetchannels",
        "-@all",
    ];
    args.extend(commands);
    raw_cmd(conn, &args);
}

/// Every operation once; the first failure is returned.
fn every_operation(ex: &Executor, uid: &str) -> Result<()> {
    ex.ping()?;
    ex.set_service_state("ns", "chat", 0, "Running")?;
    assert_eq!(ex.get_service_state("ns", "chat")?.len(), 1);
    ex.set_workload_state("ns", "chat", "Available")?;
    assert_eq!(
        ex.get_workload_state("ns", "chat")?.as_deref(),
        Some("Available")
    );
    assert_eq!(
        ex.get_workload_states("ns", &["chat", "other"])?,
        vec![Some("Available".to_string()), None]
    );
    ex.set_linked_pod("ns", uid, "chat", 1, Persistence::Persistent)?;
    ex.try_set_linked_pod("ns", uid, "chat", 2, Persistence::temporary(60))?;
    ex.set_linked_pod_if_absent("ns", uid, "voice", 3, Persistence::Persistent)?;
    ex.get_linked_pod("ns", uid, "chat")?;
    ex.get_linked_pod_if_persist("ns", uid, "chat")?;
    ex.batch_get_linked_pods("ns", "chat", &[uid, "nobody"])?;
    assert_eq!(
        ex.get_link_services("ns", uid)?,
        BTreeMap::from([("chat".to_string(), 1), ("voice".to_string(), 3)])
    );
    ex.compute_linked_pod(
        "ns",
        &format!("{uid}-c"),
        "chat",
        Persistence::Persistent,
        &[Candidate::new(4, 1)],
    )?;
    ex.remove_linked_pod_with_id("ns", uid, "voice", Grace::Seconds(10), 3)?;
    ex.remove_linked_pod("ns", uid, "chat", Grace::Seconds(0))?;
    Ok(())
}

fn open(url: &str) -> Result<Executor> {
    let mut config = Config::new(url)?;
    config.set_connect_timeout(Duration::from_secs(3))?;
    Executor::open(&config)
}

#[test]
fn least_privileged_user_and_wrong_password() {
    let server = RedisServer::start();
    let mut admin = server.raw();
    set_user(&mut admin, "pw", NEEDED);
    let url = format!("redis://app:pw@127.0.0.1:{}", server.port);
    let ex = open(&url).expect("open as app");
    every_operation(&ex, "u1").expect("every operation as app");
    // No key outside sf:* is reachable, and nothing else is allowed.
    assert!(try_raw(&mut server.raw_as("app", "pw"), &["KEYS", "*"]).is_err());

    // The set is minimal: without any one permission some operation is refused, as Auth.
    for (n, missing) in NEEDED.iter().enumerate() {
        let fewer: Vec<&str> = NEEDED.iter().copied().filter(|c| c != missing).collect();
        set_user(&mut admin, "pw", &fewer);
        let outcome = open(&url).and_then(|ex| {
            // EVAL is needed only once the server lost its scripts (restart, failover, flush).
            raw_cmd(&mut admin, &["SCRIPT", "FLUSH"]);
            every_operation(&ex, &format!("m{n}"))
        });
        let err = outcome.expect_err(&format!("every operation worked without {missing}"));
        assert_eq!(err.kind(), ErrorKind::Auth, "without {missing}: {err}");
    }
    set_user(&mut admin, "pw", NEEDED);

    // A wrong password: Auth, at open, and never shown.
    let err = open(&format!("redis://app:wrong-pw@127.0.0.1:{}", server.port)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.message().contains("wrong-pw"), "{err}");
    let err = open(&format!("redis://nosuchuser:pw@127.0.0.1:{}", server.port)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");

    // The password changes under a running executor: its connections are dropped, and the
    // new ones are refused, reported as Auth (not as a connection problem).
    set_user(&mut admin, "new-pw", NEEDED);
    raw_cmd(&mut admin, &["CLIENT", "KILL", "USER", "app"]);
    let err = ex.get_linked_pod("ns", "u1", "chat").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.message().contains("pw@"), "{err}");
}

#[test]
fn least_privileged_user_on_a_cluster() {
    let cluster = Cluster::start(3, 0);
    let mut needed = NEEDED.to_vec();
    needed.extend(NEEDED_ON_CLUSTER);
    for i in 0..cluster.nodes.len() {
        set_user(&mut cluster.raw(i), "pw", &needed);
    }
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("redis://app:pw@127.0.0.1:{}", n.port))
        .collect();
    let ex = Executor::open(&Config::cluster(&urls).unwrap()).expect("open cluster as app");
    for i in 0..20 {
        every_operation(&ex, &format!("u{i}")).expect("every operation on the cluster as app");
    }
    let uids: Vec<String> = (0..500).map(|i| format!("b{i}")).collect();
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &uids).unwrap(),
        vec![None; 500]
    );
    // Without reading the slot map, nothing works.
    let fewer: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|c| *c != "+cluster|slots")
        .collect();
    for i in 0..cluster.nodes.len() {
        set_user(&mut cluster.raw(i), "pw", &fewer);
    }
    let err = Executor::open(&Config::cluster(&urls).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    // A wrong password on a cluster: Auth too.
    let wrong: Vec<String> = urls.iter().map(|u| u.replace(":pw@", ":bad@")).collect();
    let err = Executor::open(&Config::cluster(&wrong).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.message().contains(":bad@"), "{err}");
}

#[test]
fn wrong_or_missing_password_fails_open_with_auth() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let port = server.port;
    for url in [
        format!("redis://127.0.0.1:{port}"),
        format!("redis://:wrong-pw@127.0.0.1:{port}"),
        format!("redis://default:wrong-pw@127.0.0.1:{port}"),
        format!("redis://nobody:s3cret-pw@127.0.0.1:{port}"),
    ] {
        let err = Executor::open(&Config::new(&url).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{url}: {err}");
        assert!(
            !err.message().contains("wrong-pw") && !err.message().contains("s3cret-pw"),
            "{url}: the message shows a password: {err}"
        );
    }
    // The right password works.
    let ex = server.executor();
    ex.set_workload_state("ns", "chat", "Available").unwrap();
    assert_eq!(
        ex.get_workload_state("ns", "chat").unwrap().as_deref(),
        Some("Available")
    );
}

/// A command a script runs that the user may not run (`HDEL`, inside the removal script) is an
/// ACL refusal like any other: `Auth` on Redis and on Valkey alike, whose wordings differ
/// (Redis 7.0 "The user executing the script can't run this command", Valkey "ACL failure in
/// script: User app has no permissions to run the 'hdel' command"), with the reason kept whole
/// and the script's location (its SHA, the line) cut.
#[test]
fn a_command_refused_inside_a_script_is_auth_with_its_reason() {
    let server = RedisServer::start();
    let mut admin = server.raw();
    let without_hdel: Vec<&str> = NEEDED.iter().copied().filter(|c| *c != "+hdel").collect();
    set_user(&mut admin, "pw", &without_hdel);
    let ex = open(&format!("redis://app:pw@127.0.0.1:{}", server.port)).expect("open as app");
    // A temporary link, written as the administrator (linking also runs HDEL).
    raw_cmd(&mut admin, &["SET", "sf:{ns:lk:u}chat", "1", "EX", "60"]);
    let err = ex
        .remove_linked_pod("ns", "u", "chat", Grace::Seconds(0))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let message = err.message();
    assert!(
        message.contains("can't run this command") || message.contains("'hdel' command"),
        "the refused command is not said: {err}"
    );
    assert!(!message.contains("@user_script"), "{err}");
    // Refused before any write: the link is still there.
    assert_eq!(ex.get_linked_pod("ns", "u", "chat").unwrap(), Some(1));
}
