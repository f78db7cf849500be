//! Identifier rules (data-model.md, "Identifier rules"): every rejected value fails every
//! operation that takes it with `InvalidArgument`, and nothing reaches Redis (no command is
//! processed, the data is unchanged). Boundary values are accepted and stored as given.

use crate::harness::*;
use stateful_executor::*;

/// One value of each argument; the defaults are valid, a test replaces one of them.
#[derive(Clone, Debug)]
struct Args {
    ns: String,
    svc: String,
    uid: String,
    state: String,
    pod: Pod,
    persistence: Persistence,
    grace: Grace,
    candidates: Vec<Candidate>,
    touch_seconds: u32,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            ns: "prod".into(),
            svc: "chat".into(),
            uid: "user-1".into(),
            state: "Running".into(),
            pod: 2,
            persistence: Persistence::Persistent,
            grace: Grace::Immediate,
            candidates: vec![Candidate::new(1, 10), Candidate::new(2, 5)],
            touch_seconds: 60,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arg {
    Ns,
    Svc,
    Uid,
    State,
    Pod,
    Persist,
    Grace,
    Candidate,
    TouchSeconds,
}

struct Op {
    name: &'static str,
    takes: &'static [Arg],
    call: fn(&Executor, &Args) -> Result<()>,
}

/// Every operation of the executor, with the arguments it takes. The batch operations get the
/// value under test between two valid ones.
const OPS: &[Op] = &[
    Op {
        name: "set_service_state",
        takes: &[Arg::Ns, Arg::Svc, Arg::Pod, Arg::State],
        call: |ex, a| ex.set_service_state(&a.ns, &a.svc, a.pod, &a.state),
    },
    Op {
        name: "get_service_state",
        takes: &[Arg::Ns, Arg::Svc],
        call: |ex, a| ex.get_service_state(&a.ns, &a.svc).map(drop),
    },
    Op {
        name: "set_workload_state",
        takes: &[Arg::Ns, Arg::Svc, Arg::State],
        call: |ex, a| ex.set_workload_state(&a.ns, &a.svc, &a.state),
    },
    Op {
        name: "get_workload_state",
        takes: &[Arg::Ns, Arg::Svc],
        call: |ex, a| ex.get_workload_state(&a.ns, &a.svc).map(drop),
    },
    Op {
        name: "get_workload_states",
        takes: &[Arg::Ns, Arg::Svc],
        call: |ex, a| {
            ex.get_workload_states(&a.ns, &["game", a.svc.as_str(), "voice"])
                .map(drop)
        },
    },
    Op {
        name: "set_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Pod, Arg::Persist],
        call: |ex, a| {
            ex.set_linked_pod(&a.ns, &a.uid, &a.svc, a.pod, a.persistence)
                .map(drop)
        },
    },
    Op {
        name: "try_set_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Pod, Arg::Persist],
        call: |ex, a| {
            ex.try_set_linked_pod(&a.ns, &a.uid, &a.svc, a.pod, a.persistence)
                .map(drop)
        },
    },
    Op {
        name: "set_linked_pod_if_absent",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Pod, Arg::Persist],
        call: |ex, a| {
            ex.set_linked_pod_if_absent(&a.ns, &a.uid, &a.svc, a.pod, a.persistence)
                .map(drop)
        },
    },
    Op {
        name: "get_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc],
        call: |ex, a| ex.get_linked_pod(&a.ns, &a.uid, &a.svc).map(drop),
    },
    Op {
        name: "get_linked_pod_if_persist",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc],
        call: |ex, a| {
            ex.get_linked_pod_if_persist(&a.ns, &a.uid, &a.svc)
                .map(drop)
        },
    },
    Op {
        name: "batch_get_linked_pods",
        takes: &[Arg::Ns, Arg::Svc, Arg::Uid],
        call: |ex, a| {
            ex.batch_get_linked_pods(&a.ns, &a.svc, &["user-0", a.uid.as_str(), "user-9"])
                .map(drop)
        },
    },
    Op {
        name: "batch_get_linked_pods_by_pod",
        takes: &[Arg::Ns, Arg::Svc, Arg::Uid],
        call: |ex, a| {
            ex.batch_get_linked_pods_by_pod(&a.ns, &a.svc, &["user-0", a.uid.as_str()])
                .map(drop)
        },
    },
    Op {
        name: "remove_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Grace],
        call: |ex, a| {
            ex.remove_linked_pod(&a.ns, &a.uid, &a.svc, a.grace)
                .map(drop)
        },
    },
    Op {
        name: "remove_linked_pod_with_id",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Grace, Arg::Pod],
        call: |ex, a| {
            ex.remove_linked_pod_with_id(&a.ns, &a.uid, &a.svc, a.grace, a.pod)
                .map(drop)
        },
    },
    Op {
        name: "touch_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Pod, Arg::TouchSeconds],
        call: |ex, a| {
            ex.touch_linked_pod(&a.ns, &a.uid, &a.svc, a.pod, a.touch_seconds)
                .map(drop)
        },
    },
    Op {
        name: "get_link_services",
        takes: &[Arg::Ns, Arg::Uid],
        call: |ex, a| ex.get_link_services(&a.ns, &a.uid).map(drop),
    },
    Op {
        name: "compute_linked_pod",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Persist, Arg::Candidate],
        call: |ex, a| {
            ex.compute_linked_pod(&a.ns, &a.uid, &a.svc, a.persistence, &a.candidates)
                .map(drop)
        },
    },
    Op {
        name: "compute_linked_pod without candidates",
        takes: &[Arg::Ns, Arg::Uid, Arg::Svc, Arg::Persist],
        call: |ex, a| {
            ex.compute_linked_pod(&a.ns, &a.uid, &a.svc, a.persistence, &[])
                .map(drop)
        },
    },
];

/// A server holding data of the default arguments (links of both kinds, states), to show that
/// a rejected call changes none of it.
fn populated_server() -> (RedisServer, Executor, redis::Connection) {
    let server = RedisServer::start();
    let ex = server.executor();
    let raw = server.raw();
    let a = Args::default();
    ex.set_linked_pod(&a.ns, &a.uid, &a.svc, 1, Persistence::Persistent)
        .unwrap();
    ex.set_linked_pod(&a.ns, &a.uid, "game", 4, Persistence::temporary(1000))
        .unwrap();
    ex.set_linked_pod(&a.ns, "user-0", &a.svc, 2, Persistence::Persistent)
        .unwrap();
    ex.set_service_state(&a.ns, &a.svc, 1, "Running").unwrap();
    ex.set_workload_state(&a.ns, &a.svc, "Available").unwrap();
    (server, ex, raw)
}

/// Runs every operation that takes `arg` with the arguments changed by `change`, and checks
/// that each fails with InvalidArgument while Redis processes no command and keeps its data.
fn assert_rejected(arg: Arg, label: &str, change: impl Fn(&mut Args)) {
    let (_server, ex, mut raw) = populated_server();
    let mut args = Args::default();
    change(&mut args);
    let before = snapshot(&mut raw);
    let size = dbsize(&mut raw);
    let processed = data_commands_processed(&mut raw);
    let mut checked = 0;
    for op in OPS.iter().filter(|op| op.takes.contains(&arg)) {
        match (op.call)(&ex, &args) {
            Err(err) => assert_eq!(
                err.kind(),
                ErrorKind::InvalidArgument,
                "{}: {label}: {err}",
                op.name
            ),
            Ok(()) => panic!("{}: {label} was accepted", op.name),
        }
        checked += 1;
    }
    assert!(checked > 0, "{arg:?}: no operation takes it");
    assert_eq!(
        data_commands_processed(&mut raw),
        processed,
        "{arg:?} {label}: a command reached Redis"
    );
    assert_eq!(dbsize(&mut raw), size, "{arg:?} {label}: DBSIZE changed");
    assert_same_data(&before, &snapshot(&mut raw), &format!("{arg:?} {label}"));
}

/// The control: with the default (valid) arguments every operation succeeds, so a rejection in
/// the other tests comes from the one argument they change.
#[test]
fn every_operation_accepts_the_default_arguments() {
    let (_server, ex, _raw) = populated_server();
    let args = Args::default();
    for op in OPS {
        (op.call)(&ex, &args).unwrap_or_else(|e| panic!("{}: {e}", op.name));
    }
}

/// Service names with one forbidden byte each, plus empty and too long (the 0.2 rules: any
/// UTF-8 but `{`, `}` and ASCII control characters).
fn bad_services() -> Vec<(String, String)> {
    let mut bad: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("254 bytes".into(), "a".repeat(254)),
        ("1000 bytes".into(), "b".repeat(1000)),
    ];
    for (label, value) in [
        ("open brace", "a{b"),
        ("close brace", "a}b"),
        ("only a brace", "}"),
        ("newline", "a\nb"),
        ("NUL", "a\0b"),
        ("DEL", "a\x7f"),
        ("tab", "\tab"),
        ("escape", "a\x1b[0m"),
        ("unit separator", "a\x1fb"),
    ] {
        bad.push((label.into(), value.into()));
    }
    // A name of the maximum length that becomes too long by one multi-byte character.
    bad.push(("253 + é".into(), format!("{}é", "a".repeat(252))));
    bad
}

/// Namespaces: as services, and no ':' (it separates the kind token inside the braces).
fn bad_namespaces() -> Vec<(String, String)> {
    let mut bad = bad_services();
    for (label, value) in [
        ("colon", "a:b"),
        ("only a colon", ":"),
        ("trailing colon", "lk:"),
    ] {
        bad.push((label.into(), value.into()));
    }
    bad
}

#[test]
fn bad_namespaces_are_rejected_by_every_operation() {
    for (label, value) in bad_namespaces() {
        assert_rejected(Arg::Ns, &label, |a| a.ns = value.clone());
    }
}

#[test]
fn bad_service_names_are_rejected_by_every_operation() {
    for (label, value) in bad_services() {
        assert_rejected(Arg::Svc, &label, |a| a.svc = value.clone());
    }
}

/// The names the 0.1 rules refused but the Java and Go services use: every operation takes them.
#[test]
fn names_of_the_other_services_are_accepted_by_every_operation() {
    let (_server, ex, _raw) = populated_server();
    for (ns, svc) in [
        ("prod/eu", "chat:v2"),
        ("prod eu", "game/room"),
        ("聊天", "聊天"),
        ("default", "chat svc"),
        ("a.b-c_d", "a*b@c+d,e\"f\\g#h=i"),
    ] {
        let args = Args {
            ns: ns.into(),
            svc: svc.into(),
            ..Args::default()
        };
        for op in OPS {
            (op.call)(&ex, &args).unwrap_or_else(|e| panic!("{} ({ns:?}, {svc:?}): {e}", op.name));
        }
    }
}

#[test]
fn bad_uids_are_rejected_by_every_operation() {
    let mut bad: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("513 bytes".into(), "u".repeat(513)),
        ("512 + 2-byte char".into(), format!("{}é", "u".repeat(511))),
        ("open brace".into(), "a{b".into()),
        ("close brace".into(), "a}b".into()),
        ("both braces".into(), "{x}".into()),
        ("newline".into(), "a\nb".into()),
        ("carriage return".into(), "a\r".into()),
        ("tab".into(), "\tb".into()),
        ("NUL".into(), "a\0".into()),
        ("escape".into(), "a\x1b[0m".into()),
        ("DEL".into(), "a\x7fb".into()),
        ("unit separator".into(), "a\x1fb".into()),
    ];
    bad.push(("only a brace".into(), "}".into()));
    for (label, value) in bad {
        assert_rejected(Arg::Uid, &label, |a| a.uid = value.clone());
    }
}

#[test]
fn bad_states_are_rejected_by_both_state_setters() {
    for (label, value) in [
        ("empty", String::new()),
        ("4097 bytes", "s".repeat(4097)),
        ("4095 + 2-byte char", format!("{}é", "s".repeat(4095))),
        ("64 KiB", "s".repeat(65536)),
        // A C string cannot carry it back: every C, Go and Java read of it would fail.
        ("a NUL byte", "Run\0ning".into()),
        ("only a NUL byte", "\0".into()),
    ] {
        assert_rejected(Arg::State, label, |a| a.state = value.clone());
    }
}

#[test]
fn negative_pods_are_rejected() {
    for pod in [-1, -2, i32::MIN] {
        assert_rejected(Arg::Pod, &pod.to_string(), |a| a.pod = pod);
    }
}

#[test]
fn negative_candidate_pods_are_rejected_even_when_not_the_least_loaded() {
    let c = Candidate::new;
    for (label, candidates) in [
        ("only candidate", vec![c(-1, 0)]),
        ("least loaded", vec![c(3, 5), c(-1, 0)]),
        ("most loaded", vec![c(3, 5), c(-3, 100)]),
        ("i32::MIN", vec![c(i32::MIN, i64::MAX), c(0, 0)]),
    ] {
        assert_rejected(Arg::Candidate, label, |a| a.candidates = candidates.clone());
    }
}

#[test]
fn invalid_persist_seconds_are_rejected() {
    // The spec's integer form is checked where it is converted.
    for bad in [0, -2, -100, i32::MIN] {
        let err = Persistence::from_seconds(bad).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidArgument,
            "persist_seconds {bad}"
        );
    }
    assert_eq!(
        Persistence::from_seconds(-1).unwrap(),
        Persistence::Persistent
    );
    assert_eq!(
        Persistence::from_seconds(1).unwrap(),
        Persistence::temporary(1)
    );
    // Temporary values out of range are refused by every operation that takes them.
    for seconds in [0, 2_147_483_648, u32::MAX] {
        assert_rejected(Arg::Persist, &format!("temporary({seconds})"), |a| {
            a.persistence = Persistence::temporary(seconds)
        });
    }
}

#[test]
fn invalid_touch_seconds_are_rejected() {
    // A touch sets a temporary link's TTL: 1..=2147483647 seconds, never "persistent".
    for seconds in [0, 2_147_483_648, u32::MAX] {
        assert_rejected(Arg::TouchSeconds, &format!("{seconds} s"), |a| {
            a.touch_seconds = seconds
        });
    }
}

#[test]
fn invalid_keep_seconds_are_rejected() {
    for bad in [-2, -3, i32::MIN] {
        let err = Grace::from_keep_seconds(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "keep_seconds {bad}");
    }
    for seconds in [2_147_483_648, u32::MAX] {
        assert_rejected(Arg::Grace, &format!("Seconds({seconds})"), |a| {
            a.grace = Grace::Seconds(seconds)
        });
    }
}

#[test]
fn longest_names_uids_and_states_are_accepted_and_stored_verbatim() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let allowed = "ABCXYZabcxyz0189-_.";
    let ns: String = allowed.chars().cycle().take(253).collect();
    let svc: String = allowed.chars().rev().cycle().take(253).collect();
    // 512 bytes: every allowed class, 2- and 4-byte characters, ':' and '/'.
    let mut uid = String::from("user:42/é€😀 ~!@#$%^&*()[]<>?|\\'\",;=+`");
    while uid.len() < 512 {
        uid.push('x');
    }
    assert_eq!(uid.len(), 512);
    let state = format!("{}é", "s".repeat(4094));
    assert_eq!(state.len(), 4096);

    ex.set_linked_pod(&ns, &uid, &svc, 7, Persistence::Persistent)
        .unwrap();
    assert_eq!(ex.get_linked_pod(&ns, &uid, &svc).unwrap(), Some(7));
    assert_eq!(
        ex.get_linked_pod_if_persist(&ns, &uid, &svc).unwrap(),
        Some(7)
    );
    assert_eq!(
        ex.batch_get_linked_pods(&ns, &svc, &[uid.as_str()])
            .unwrap(),
        vec![Some(7)]
    );
    assert_eq!(ex.get_link_services(&ns, &uid).unwrap()[&svc], 7);
    let link = format!("sf:{{{ns}:lk:{uid}}}{svc}");
    assert_eq!(get_str(&mut raw, &link).as_deref(), Some("7"));
    assert_eq!(
        hgetall(&mut raw, &format!("sf:{{{ns}:lk:{uid}}}"))[&svc],
        "7"
    );

    ex.set_service_state(&ns, &svc, 0, &state).unwrap();
    assert_eq!(ex.get_service_state(&ns, &svc).unwrap()[&0], state);
    ex.set_workload_state(&ns, &svc, &state).unwrap();
    assert_eq!(
        ex.get_workload_state(&ns, &svc).unwrap(),
        Some(state.clone())
    );
    assert_eq!(
        get_str(&mut raw, &format!("sf:{{{ns}:workload:{svc}}}")),
        Some(state)
    );
    // One-character names and uids are fine as well.
    ex.set_linked_pod("a", "b", "c", 0, Persistence::Persistent)
        .unwrap();
    assert_eq!(get_str(&mut raw, "sf:{a:lk:b}c").as_deref(), Some("0"));
}

#[test]
fn largest_pod_persist_and_keep_seconds_are_accepted() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let max = i32::MAX;
    let longest = Persistence::from_seconds(max).unwrap();
    assert_eq!(longest, Persistence::temporary(max as u32));

    ex.set_service_state("ns", "s", max, "Running").unwrap();
    assert_eq!(ex.get_service_state("ns", "s").unwrap()[&max], "Running");

    assert_eq!(
        ex.set_linked_pod("ns", "u", "s", max, longest).unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod("ns", "u", "s").unwrap(), Some(max));
    let left = ttl(&mut raw, "sf:{ns:lk:u}s");
    assert!(
        left > i64::from(max) - 100 && left <= i64::from(max),
        "TTL {left}"
    );

    assert_eq!(
        ex.try_set_linked_pod("ns", "u2", "s", max, longest)
            .unwrap(),
        TrySet {
            linked: true,
            pod: max
        }
    );
    assert_eq!(
        ex.set_linked_pod_if_absent("ns", "u3", "s", max, Persistence::Persistent)
            .unwrap(),
        max
    );
    assert_eq!(
        ex.compute_linked_pod("ns", "u4", "s", longest, &[Candidate::new(max, i64::MIN)])
            .unwrap(),
        Some(max)
    );

    let keep = Grace::from_keep_seconds(max).unwrap();
    assert!(ex
        .remove_linked_pod_with_id("ns", "u3", "s", keep, max)
        .unwrap());
    let left = ttl(&mut raw, "sf:{ns:lk:u3}s");
    assert!(
        left > i64::from(max) - 100 && left <= i64::from(max),
        "TTL {left}"
    );
    assert!(ex
        .remove_linked_pod("ns", "u3", "s", Grace::Seconds(max as u32))
        .unwrap());
    assert_eq!(ex.get_linked_pod("ns", "u3", "s").unwrap(), Some(max));

    // The smallest temporary link: one second.
    ex.set_linked_pod("ns", "short", "s", 0, Persistence::from_seconds(1).unwrap())
        .unwrap();
    let left = pttl(&mut raw, "sf:{ns:lk:short}s");
    assert!((1..=1000).contains(&left) || left == -2, "PTTL {left}");
}
