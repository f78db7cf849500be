//! Bad arguments: a usage message, exit code 2, and nothing sent to Redis (no connection even).

use crate::common::*;
use crate::harness::{temp_dir, RedisServer};

#[test]
fn bad_arguments_exit_2_without_touching_redis() {
    let server = RedisServer::start();
    let url = server.url();
    let dir = temp_dir("usage");
    let bad_file = dir.join("bad.jsonl");
    std::fs::write(&bad_file, "{\"kind\":\"link\"}\n").unwrap();
    let bad_file = bad_file.to_str().unwrap().to_string();
    let setup = Setup::Standalone(server);
    let mut watch = setup.watch();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate"],
        vec!["states"],
        vec!["states", "prod"],
        vec!["states", "pr:od", "chat"],
        vec!["states", "prod", "ch{at"],
        vec!["states", "prod", "chat", "extra"],
        vec!["workload", "prod"],
        vec!["link", "prod", "u}1"],
        vec!["link", "prod", ""],
        vec!["links-of-pod", "prod", "chat", "x"],
        vec!["links-of-pod", "prod", "chat", "-1"],
        vec!["links-of-pod", "prod", "chat", "2147483648"],
        vec!["set-state", "prod", "chat", "1", ""],
        vec!["set-workload", "prod", "chat"],
        vec!["set-link", "prod", "u1", "chat", "-1"],
        vec!["set-link", "prod", "u1", "chat", "1", "--ttl", "0"],
        vec!["set-link", "prod", "u1", "chat", "1", "--ttl", "2147483648"],
        vec!["unlink", "prod", "u1", "chat", "--grace", "-1"],
        vec!["unlink", "prod", "u1", "chat", "--if-pod", "-3"],
        vec!["drain", "prod", "chat", "1", "--rate", "fast"],
        vec!["drain", "prod", "chat"],
        vec!["check"],
        vec!["check", "prod", "--untimed-ttl", "5"],
        vec!["check", "pr:od"],
        vec!["export", "pr{od"],
        vec!["import"],
        vec!["import", "/nonexistent/file.jsonl"],
        vec!["import", &bad_file],
        vec!["import", &bad_file, "--ns", "a:b"],
        vec!["--timeout", "0", "states", "prod", "chat"],
        vec!["--connect-timeout", "x", "states", "prod", "chat"],
        vec!["--master", "m", "states", "prod", "chat"],
        vec!["--tls-cert", "/tmp/x.crt", "states", "prod", "chat"],
        vec!["--tls-ca", "/nonexistent/ca.crt", "states", "prod", "chat"],
        vec!["--states", "prod", "chat"],
    ];
    for case in &cases {
        let mut args = vec!["--url", url.as_str()];
        args.extend(case);
        let run = sfctl(&args);
        assert_eq!(run.code, 2, "{case:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{case:?}: {run:?}");
        assert!(
            run.stderr.contains("Usage") || run.stderr.contains("--help"),
            "{case:?} gives no usage hint: {run:?}"
        );
    }
    // Connection flags that cannot work, whatever the server.
    for flags in [
        vec!["--url", "http://127.0.0.1:1"],
        vec!["--url", "redis://[::1"],
        vec!["--cluster", "unix:///tmp/sock"],
        vec!["--sentinel", url.as_str()],
        vec!["--sentinel", url.as_str(), "--master", "has space"],
        vec![
            "--cluster",
            url.as_str(),
            "--sentinel",
            url.as_str(),
            "--master",
            "m",
        ],
    ] {
        let mut args = flags.clone();
        args.extend(["states", "prod", "chat"]);
        let run = sfctl(&args);
        assert_eq!(run.code, 2, "{flags:?}: {run:?}");
    }
    watch.assert_untouched("bad arguments");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_is_the_reference() {
    let top = sfctl(&["--help"]).expect(0);
    for command in [
        "states",
        "workload",
        "link",
        "links-of-pod",
        "set-state",
        "set-workload",
        "set-link",
        "unlink",
        "drain",
        "check",
        "export",
        "import",
    ] {
        assert!(
            top.stdout.contains(command),
            "{command} missing from --help"
        );
        let help = sfctl(&[command, "--help"]).expect(0);
        assert!(help.stdout.contains("Usage: sfctl"), "{command}: {help:?}");
        assert!(help.stdout.contains("--url"), "{command}: {help:?}");
    }
    assert!(top.stdout.contains("Exit codes"), "{top:?}");
    let check = sfctl(&["check", "--help"]).expect(0);
    for problem in [
        "link-not-ordinal",
        "field-without-link",
        "link-to-absent-pod",
    ] {
        assert!(check.stdout.contains(problem), "{problem}: {check:?}");
    }
    sfctl(&["--version"]).expect(0);
}
