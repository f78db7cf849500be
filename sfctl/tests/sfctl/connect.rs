//! Connecting: failures exit 3, a password is never printed, and TLS, a unix socket, ACL users
//! and Sentinel work for the library's calls and sfctl's own (SCAN, TTL reads).

use std::time::{Duration, Instant};

use stateful_executor::Persistence;

use crate::common::*;
use crate::harness::{free_port, RedisServer, SentinelSetup, TestCerts, MASTER_NAME};

const SECRET: &str = "s3cret-Pa55";

/// A link, then `links-of-pod` (sfctl's SCAN) and `link` (the library plus a TTL read) through
/// these connection flags.
fn reads_work(flags: &[String]) {
    let run = |args: &[&str]| {
        let mut all = flags.to_vec();
        all.extend(args.iter().map(|a| a.to_string()));
        sfctl(&all)
    };
    run(&["set-link", "prod", "u1", "reads", "4", "--ttl", "300"]).expect(0);
    let found = run(&["links-of-pod", "prod", "reads", "4", "--json"])
        .expect(0)
        .object();
    assert_eq!(found["uid"], "u1");
    let link = run(&["link", "prod", "u1", "--json"]).expect(0).object();
    assert_eq!(link["pod"], 4);
    assert!(link["ttl_seconds"].as_u64().unwrap() > 290);
    run(&["check", "prod"]).expect(0);
}

#[test]
fn connection_failures_exit_3_and_never_show_the_password() {
    let closed = format!("redis://:{SECRET}@127.0.0.1:{}", free_port());
    let run = sfctl(&["--url", &closed, "states", "prod", "chat"]).expect(3);
    assert!(
        !run.stderr.contains(SECRET) && !run.stdout.contains(SECRET),
        "{run:?}"
    );

    let server = RedisServer::start_with(&["--requirepass", SECRET]);
    let wrong = format!("redis://:wrong-{SECRET}@127.0.0.1:{}", server.port);
    for args in [
        vec!["states", "prod", "chat"],
        vec!["links-of-pod", "prod", "chat", "1"],
        vec!["drain", "prod", "chat", "1"],
    ] {
        let mut all = vec!["--url", wrong.as_str()];
        all.extend(args);
        let run = sfctl(&all).expect(3);
        assert!(!run.stderr.contains(SECRET), "{run:?}");
    }
    let no_password = format!("redis://127.0.0.1:{}", server.port);
    sfctl(&["--url", &no_password, "links-of-pod", "prod", "chat", "1"]).expect(3);

    // From the environment: used, and hidden from --help.
    let right = format!("redis://:{SECRET}@127.0.0.1:{}", server.port);
    let out = command(&["set-state", "prod", "chat", "1", "Running"])
        .env("REDIS_URL", &right)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = command(&["--help"])
        .env("REDIS_URL", &right)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains(SECRET));
    reads_work(&["--url".into(), right]);

    // A server that stopped answering: the command timeout, then exit 3.
    // SAFETY: signals to the child process the harness started.
    let pid = server.pid().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let started = Instant::now();
    let run = sfctl(&[
        "--url",
        &format!("redis://:{SECRET}@127.0.0.1:{}", server.port),
        "--timeout",
        "0.5",
        "--connect-timeout",
        "0.5",
        "states",
        "prod",
        "chat",
    ]);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// What sfctl sends on a single server: the library's commands (and those its scripts call),
/// sfctl's reads behind it, and the scripts of check --fix. docs/sfctl.md lists the same.
pub const SFCTL_ACL: &[&str] = &[
    "+ping",
    "+script|load",
    "+evalsha",
    "+eval",
    "+get",
    "+mget",
    "+set",
    "+hset",
    "+hget",
    "+hgetall",
    "+hdel",
    "+hexists",
    "+del",
    "+expire",
    "+pttl",
    "+type",
    "+exists",
    "+persist",
    "+scan",
];

#[test]
fn acl_user_with_only_the_documented_commands_and_a_unix_socket() {
    let server = RedisServer::start();
    let pass = format!(">{SECRET}");
    let mut args = vec![
        "ACL",
        "SETUSER",
        "ops",
        "reset",
        "on",
        pass.as_str(),
        "~sf:*",
        "-@all",
    ];
    args.extend(SFCTL_ACL);
    let mut conn = server.raw();
    raw(&mut conn, &args);
    let flags = [
        "--url".to_string(),
        format!("redis://ops:{SECRET}@127.0.0.1:{}", server.port),
    ];
    reads_work(&flags);
    let run = |args: &[&str]| {
        let mut all = flags.to_vec();
        all.extend(args.iter().map(|a| a.to_string()));
        sfctl(&all)
    };
    run(&["set-state", "prod", "web", "0", "Running"]).expect(0);
    run(&["set-workload", "prod", "web", "Available"]).expect(0);
    raw(&mut conn, &["HSET", "sf:{prod:lk:x}", "web", "1"]);
    raw(&mut conn, &["EXPIRE", "sf:{prod:workload:web}", "100"]);
    run(&["check", "prod", "--fix"]).expect(0);
    run(&["export", "prod"]).expect(0);
    run(&["unlink", "prod", "u1", "reads"]).expect(0);
    run(&["drain", "prod", "reads", "4"]).expect(0);
    let unix = RedisServer::builder().unix().start();
    reads_work(&["--url".into(), unix.url()]);
}

#[test]
fn tls_with_a_ca_file() {
    let certs = TestCerts::generate();
    let server = RedisServer::builder().tls(&certs, false).start();
    let ca = certs.dir.join("ca.crt").display().to_string();
    reads_work(&["--url".into(), server.url(), "--tls-ca".into(), ca]);
    // Without the CA the server's certificate is not trusted.
    let other = certs.dir.join("other-ca.crt").display().to_string();
    sfctl(&[
        "--url",
        &server.url(),
        "--tls-ca",
        &other,
        "states",
        "prod",
        "chat",
    ])
    .expect(3);
}

#[test]
fn sentinel() {
    let setup = SentinelSetup::start();
    let urls = setup.sentinel_urls();
    reads_work(&[
        "--sentinel".into(),
        urls.join(","),
        "--master".into(),
        MASTER_NAME.into(),
    ]);
    // The data went to the primary the sentinels name.
    let ex = setup.primary.executor();
    assert_eq!(ex.get_linked_pod("prod", "u1", "reads").unwrap(), Some(4));
    ex.set_linked_pod("prod", "u2", "reads", 4, Persistence::Persistent)
        .unwrap();
    let run = sfctl(&[
        "--sentinel",
        &urls[0],
        "--sentinel",
        &urls[1],
        "--master",
        MASTER_NAME,
        "drain",
        "prod",
        "reads",
        "4",
        "--json",
    ])
    .expect(0)
    .object();
    assert_eq!(run["released"], 2);
    sfctl(&[
        "--sentinel",
        &urls[0],
        "--master",
        "nosuchmaster",
        "states",
        "prod",
        "chat",
    ])
    .expect(3);
}
