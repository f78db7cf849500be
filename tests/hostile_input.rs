//! Hostile input, by property tests: key building never lets two different accepted names share a
//! key, validation agrees with the rules of data-model.md, and a rejected call leaves Redis
//! untouched (nothing is even sent).

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use common::*;
use stateful_executor::keys::{
    check_namespace, check_service, check_uid, link_key, service_state_key, uid_links_key,
    workload_key,
};
use stateful_executor::*;

// ---- the rules of data-model.md, written again independently of src/keys.rs ----

/// A service (0.2 rules): 1-253 bytes of UTF-8 without `{`, `}` or an ASCII control character.
fn spec_service_ok(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && !name
            .bytes()
            .any(|b| b == b'{' || b == b'}' || b < 0x20 || b == 0x7f)
}

/// A namespace: as a service, and no `:`.
fn spec_namespace_ok(name: &str) -> bool {
    spec_service_ok(name) && !name.contains(':')
}

fn spec_uid_ok(uid: &str) -> bool {
    (1..=512).contains(&uid.len())
        && !uid
            .bytes()
            .any(|b| b == b'{' || b == b'}' || b < 0x20 || b == 0x7f)
}

// ---- strategies that hit the edges ----

/// Namespace or service names: mostly valid under the 0.2 rules (':' '/' spaces and any
/// non-ASCII inside), often reserved-looking words and separators, prefixes of each other,
/// sometimes a forbidden byte or a length at the limit.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-c:]{1,3}",
        2 => "[^\\x00-\\x1f\\x7f{}]{1,8}",
        2 => prop::sample::select(vec![
            "lk", "state", "workload", "sf", "a", "ab", "a.b", "-", "_", ":", ":lk:", "lk:", ":lk",
            "a:lk:b", "chat:v2", "game/room", "\u{804a}\u{5929}", "chat svc", "prod/eu", " ",
        ])
        .prop_map(String::from),
        1 => "[a-c]{0,2}[:{} /\u{e9}\\x00\\n\\x7f][a-c:]{0,2}",
        1 => prop::sample::select(vec![252usize, 253, 254]).prop_map(|n| "n".repeat(n)),
        1 => prop::sample::select(vec![84usize, 85]).prop_map(|n| "\u{804a}".repeat(n)),
    ]
}

/// Uids: ':' and "lk" and "}" and other separators inside, prefixes of each other, unicode,
/// control characters, lengths at the limit.
fn uid() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-c:]{1,4}",
        2 => "[a-c]{0,2}(:lk:|:state:|}|\\{|lk|:)[a-c]{0,2}",
        2 => "[^\\x00-\\x1f\\x7f{}]{1,6}",
        1 => "[a-c]{0,2}[\\x00-\\x1f\\x7f][a-c]{0,2}",
        1 => prop::sample::select(vec![511usize, 512, 513]).prop_map(|n| "u".repeat(n)),
        1 => Just(String::new()),
    ]
}

type Triple = (String, String, String);

fn triple() -> impl Strategy<Value = Triple> {
    (name(), uid(), name())
}

/// A second triple close to `a`: the key's body (`ns:lk:uid}svc`) parsed at other separators or
/// cut at other places, a character moved between uid and service, or a fresh triple.
fn neighbour(a: Triple) -> impl Strategy<Value = Triple> {
    let (ns, uid, svc) = a.clone();
    let body = format!("{ns}:lk:{uid}}}{svc}");
    let chars: Vec<char> = body.chars().collect();
    let len = chars.len();
    // Every other way to read the body as `ns:lk:uid}svc`: any ":lk:" as the first separator,
    // any later "}" as the second (this is how a name with a separator inside would collide).
    let lks: Vec<usize> = body.match_indices(":lk:").map(|(i, _)| i).collect();
    let braces: Vec<usize> = body.match_indices('}').map(|(i, _)| i).collect();
    let body2 = body.clone();
    let fallback = a.clone();
    let reparse = (0..lks.len(), 0..braces.len()).prop_map(move |(l, r)| {
        let (lk, brace) = (lks[l], braces[r]);
        if lk + 4 > brace {
            return fallback.clone();
        }
        (
            body2[..lk].to_string(),
            body2[lk + 4..brace].to_string(),
            body2[brace + 1..].to_string(),
        )
    });
    prop_oneof![
        reparse,
        // Re-split the key's body at two other places.
        (0..=len, 0..=len).prop_map(move |(i, j)| {
            let (i, j) = (i.min(j), i.max(j));
            let take = |r: std::ops::Range<usize>| chars[r].iter().collect::<String>();
            (take(0..i), take(i..j), take(j..len))
        }),
        // Move the last character of the uid to the service, or the first of the service to
        // the uid.
        Just({
            let mut u = uid.clone();
            let moved = u.pop().map(String::from).unwrap_or_default();
            (ns.clone(), u, format!("{moved}{svc}"))
        }),
        Just({
            let mut s = svc.clone();
            let moved = if s.is_empty() {
                String::new()
            } else {
                s.remove(0).to_string()
            };
            (ns.clone(), format!("{uid}{moved}"), s)
        }),
        // Namespace and service swapped, uid with the namespace glued on.
        Just((svc.clone(), uid.clone(), ns.clone())),
        Just((ns.clone(), format!("{ns}:{uid}"), svc.clone())),
        triple(),
    ]
}

fn accepted((ns, uid, svc): &Triple) -> bool {
    check_namespace(ns).is_ok() && check_uid(uid).is_ok() && check_service(svc).is_ok()
}

/// The Redis Cluster hash tag of a key: between the first `{` and the first `}` after it.
fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')? + open + 1;
    (close > open + 1).then(|| &key[open + 1..close])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Validation accepts exactly what data-model.md allows.
    #[test]
    fn validation_follows_the_spec(ns in name(), u in uid(), svc in name()) {
        prop_assert_eq!(check_namespace(&ns).is_ok(), spec_namespace_ok(&ns), "namespace {:?}", ns);
        prop_assert_eq!(check_service(&svc).is_ok(), spec_service_ok(&svc), "service {:?}", svc);
        // The same name as the other kind: only ':' tells them apart.
        prop_assert_eq!(check_service(&ns).is_ok(), spec_service_ok(&ns), "service {:?}", ns);
        prop_assert_eq!(check_namespace(&svc).is_ok(), spec_namespace_ok(&svc), "namespace {:?}", svc);
        prop_assert_eq!(check_uid(&u).is_ok(), spec_uid_ok(&u), "uid {:?}", u);
        for rejected in [check_namespace(&ns), check_uid(&u), check_service(&svc)] {
            if let Err(err) = rejected {
                prop_assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            }
        }
    }
}

/// Checks that two accepted triples never share a key, and that no key of one kind equals a key of
/// another kind; both link keys of a uid carry the uid's hash tag.
fn check_keys(a: &Triple, b: &Triple) -> std::result::Result<(), TestCaseError> {
    let (ans, auid, asvc) = a;
    let (bns, buid, bsvc) = b;
    if a != b {
        prop_assert_ne!(link_key(ans, auid, asvc), link_key(bns, buid, bsvc));
    }
    if (ans, auid) != (bns, buid) {
        prop_assert_ne!(uid_links_key(ans, auid), uid_links_key(bns, buid));
    }
    if (ans, asvc) != (bns, bsvc) {
        prop_assert_ne!(service_state_key(ans, asvc), service_state_key(bns, bsvc));
        prop_assert_ne!(workload_key(ans, asvc), workload_key(bns, bsvc));
    }
    let a_links = [uid_links_key(ans, auid), link_key(ans, auid, asvc)];
    let b_links = [uid_links_key(bns, buid), link_key(bns, buid, bsvc)];
    let a_states = [service_state_key(ans, asvc), workload_key(ans, asvc)];
    let b_states = [service_state_key(bns, bsvc), workload_key(bns, bsvc)];
    // A uid hash is never a link key; state and workload keys are never link keys or each other.
    prop_assert_ne!(&a_links[0], &b_links[1]);
    prop_assert_ne!(&b_links[0], &a_links[1]);
    prop_assert_ne!(&a_states[0], &b_states[1]);
    prop_assert_ne!(&a_states[1], &b_states[0]);
    for state_key in a_states.iter().chain(&b_states) {
        prop_assert!(
            !a_links.contains(state_key) && !b_links.contains(state_key),
            "{} is also a link key",
            state_key
        );
    }
    for (ns, uid, links) in [(ans, auid, &a_links), (bns, buid, &b_links)] {
        let tag = format!("{ns}:lk:{uid}");
        prop_assert_eq!(hash_tag(&links[0]), Some(tag.as_str()));
        prop_assert_eq!(hash_tag(&links[1]), Some(tag.as_str()));
    }
    Ok(())
}

/// Key injectivity over pairs of triples, most of them near misses of each other.
#[test]
fn keys_are_injective() {
    let accepted_pairs = Cell::new(0u32);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 5000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &triple().prop_flat_map(|a| (Just(a.clone()), neighbour(a))),
            |(a, b)| {
                if !(accepted(&a) && accepted(&b)) {
                    return Ok(());
                }
                accepted_pairs.set(accepted_pairs.get() + 1);
                check_keys(&a, &b)
            },
        )
        .unwrap();
    println!(
        "keys: {} pairs of accepted triples checked",
        accepted_pairs.get()
    );
    assert!(accepted_pairs.get() >= 500, "too few accepted pairs");
}

// ---- against a live server ----

/// Everything observable about the server's data and traffic: key count, a digest of all data,
/// and the number of commands it has processed.
fn snapshot(raw: &mut redis::Connection) -> (i64, String, u64) {
    let keys = dbsize(raw);
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(raw).unwrap();
    let info: String = redis::cmd("INFO").arg("stats").query(raw).unwrap();
    let processed = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_commands_processed");
    (keys, digest, processed)
}

/// Arguments for any operation, each valid unless the case picks it to be invalid.
#[derive(Clone, Debug)]
struct Args {
    ns: String,
    uid: String,
    svc: String,
    state: String,
    pod: Pod,
    persistence: Persistence,
    grace: Grace,
    /// A second uid or service for the batch operations.
    other: String,
}

/// Which argument a case makes invalid.
#[derive(Clone, Copy, Debug)]
enum Bad {
    Ns,
    Uid,
    Svc,
    State,
    Pod,
    Persistence,
    Grace,
    Other,
    Candidate,
}

fn valid_args() -> impl Strategy<Value = Args> {
    (
        "[^\\x00-\\x1f\\x7f{}:]{1,8}",
        "[^\\x00-\\x1f\\x7f{}]{1,12}",
        "[^\\x00-\\x1f\\x7f{}]{1,8}",
        "[^\\x00]{1,12}",
        0..=Pod::MAX,
        prop_oneof![
            Just(Persistence::Persistent),
            (1u32..=i32::MAX as u32).prop_map(Persistence::temporary)
        ],
        prop_oneof![
            Just(Grace::Immediate),
            (0u32..=i32::MAX as u32).prop_map(Grace::Seconds)
        ],
        "[a-z]{1,6}",
    )
        .prop_map(
            |(ns, uid, svc, state, pod, persistence, grace, other)| Args {
                ns,
                uid,
                svc,
                state,
                pod,
                persistence,
                grace,
                other,
            },
        )
}

/// A name refused both as a namespace and as a service.
fn bad_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z:/ ]{0,3}[{}\\x00-\\x1f\\x7f][a-z:/ ]{0,3}",
        Just("n".repeat(254)),
        Just("\u{804a}".repeat(85)),
    ]
}

fn bad_uid() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z:]{0,3}[{}\\x00-\\x1f\\x7f][a-z:]{0,3}",
        Just("u".repeat(513)),
    ]
}

fn bad_state() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("s".repeat(4097))]
}

/// Applies `bad` to the arguments `op` uses; returns false when `op` has no such argument.
fn corrupt(args: &mut Args, op: usize, bad: Bad, name: String, uid: String, state: String) -> bool {
    let uses = |fields: &[&str], f: &str| fields.contains(&f);
    let fields: &[&str] = match op {
        0 => &["ns", "svc", "pod", "state"],
        1 | 3 => &["ns", "svc"],
        2 => &["ns", "svc", "state"],
        4 => &["ns", "svc", "other_svc"],
        5..=7 => &["ns", "uid", "svc", "pod", "persistence"],
        8 | 9 => &["ns", "uid", "svc"],
        10 | 11 => &["ns", "svc", "uid", "other_uid"],
        12 => &["ns", "uid", "svc", "grace"],
        13 => &["ns", "uid", "svc", "grace", "pod"],
        14 => &["ns", "uid"],
        15 => &["ns", "uid", "svc", "persistence", "candidate"],
        _ => unreachable!(),
    };
    match bad {
        Bad::Ns if uses(fields, "ns") => args.ns = name,
        Bad::Svc if uses(fields, "svc") => args.svc = name,
        Bad::Uid if uses(fields, "uid") => args.uid = uid,
        Bad::State if uses(fields, "state") => args.state = state,
        Bad::Pod if uses(fields, "pod") || uses(fields, "candidate") => args.pod = -1 - args.pod,
        Bad::Candidate if uses(fields, "candidate") => args.pod = -1 - args.pod,
        Bad::Persistence if uses(fields, "persistence") => {
            args.persistence = Persistence::temporary(match args.pod % 3 {
                0 => 0,
                1 => u32::MAX,
                _ => i32::MAX as u32 + 1,
            })
        }
        Bad::Grace if uses(fields, "grace") => {
            args.grace = Grace::Seconds(i32::MAX as u32 + 1 + (args.pod as u32 % 1000))
        }
        Bad::Other if uses(fields, "other_svc") => args.other = name,
        Bad::Other if uses(fields, "other_uid") => args.other = uid,
        _ => return false,
    }
    true
}

/// Runs operation `op` with `args`, as the public API offers it.
fn call(ex: &Executor, op: usize, a: &Args) -> Result<()> {
    let (ns, uid, svc) = (a.ns.as_str(), a.uid.as_str(), a.svc.as_str());
    match op {
        0 => ex.set_service_state(ns, svc, a.pod, &a.state),
        1 => ex.get_service_state(ns, svc).map(drop),
        2 => ex.set_workload_state(ns, svc, &a.state),
        3 => ex.get_workload_state(ns, svc).map(drop),
        4 => ex
            .get_workload_states(ns, &[svc, a.other.as_str()])
            .map(drop),
        5 => ex
            .set_linked_pod(ns, uid, svc, a.pod, a.persistence)
            .map(drop),
        6 => ex
            .try_set_linked_pod(ns, uid, svc, a.pod, a.persistence)
            .map(drop),
        7 => ex
            .set_linked_pod_if_absent(ns, uid, svc, a.pod, a.persistence)
            .map(drop),
        8 => ex.get_linked_pod(ns, uid, svc).map(drop),
        9 => ex.get_linked_pod_if_persist(ns, uid, svc).map(drop),
        10 => ex
            .batch_get_linked_pods(ns, svc, &[uid, a.other.as_str()])
            .map(drop),
        11 => ex
            .batch_get_linked_pods_by_pod(ns, svc, &[a.other.as_str(), uid])
            .map(drop),
        12 => ex.remove_linked_pod(ns, uid, svc, a.grace).map(drop),
        13 => ex
            .remove_linked_pod_with_id(ns, uid, svc, a.grace, a.pod)
            .map(drop),
        14 => ex.get_link_services(ns, uid).map(drop),
        15 => ex
            .compute_linked_pod(
                ns,
                uid,
                svc,
                a.persistence,
                &[Candidate::new(3, 10), Candidate::new(a.pod, 5)],
            )
            .map(drop),
        _ => unreachable!(),
    }
}

const OPS: usize = 16;

/// Every rejected call, of every operation, fails with InvalidArgument and leaves Redis exactly
/// as it was: same keys, same digest of all data, and not one command processed.
#[test]
fn rejected_input_leaves_redis_unchanged() {
    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let ex = server.executor();
    // Existing data of every kind, so that a stray write would show in the digest.
    for i in 0..20 {
        let persistence = if i % 3 == 0 {
            Persistence::temporary(3600)
        } else {
            Persistence::Persistent
        };
        ex.set_linked_pod("ns", &format!("u{i}"), "svc", i, persistence)
            .unwrap();
        ex.set_service_state("ns", "svc", i, "Running").unwrap();
    }
    ex.set_workload_state("ns", "svc", "Available").unwrap();
    let raw = RefCell::new(server.raw());
    // The snapshot's own commands, counted once with nothing in between.
    let (_, _, first) = snapshot(&mut raw.borrow_mut());
    let (_, _, second) = snapshot(&mut raw.borrow_mut());
    let own_commands = second - first;
    // The count does see a call that reaches Redis.
    let (_, _, before) = snapshot(&mut raw.borrow_mut());
    ex.get_linked_pod("ns", "u1", "svc").unwrap();
    let (_, _, after) = snapshot(&mut raw.borrow_mut());
    assert_eq!(after - before, own_commands + 1);

    let strategy = (
        0..OPS,
        valid_args(),
        prop::sample::select(vec![
            Bad::Ns,
            Bad::Uid,
            Bad::Svc,
            Bad::State,
            Bad::Pod,
            Bad::Persistence,
            Bad::Grace,
            Bad::Other,
            Bad::Candidate,
        ]),
        bad_name(),
        bad_uid(),
        bad_state(),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        max_local_rejects: 100_000,
        ..ProptestConfig::default()
    });
    let seen_ops = RefCell::new(BTreeSet::new());
    let seen = RefCell::new(BTreeMap::new());
    runner
        .run(&strategy, |(op, mut args, bad, name, uid, state)| {
            if !corrupt(&mut args, op, bad, name, uid, state) {
                return Err(TestCaseError::reject("operation has no such argument"));
            }
            let mut raw = raw.borrow_mut();
            let before = snapshot(&mut raw);
            let outcome = call(&ex, op, &args);
            let after = snapshot(&mut raw);
            let err = match outcome {
                Ok(()) => {
                    return Err(TestCaseError::fail(format!(
                        "op {op} accepted {bad:?} in {args:?}"
                    )))
                }
                Err(err) => err,
            };
            prop_assert_eq!(err.kind(), ErrorKind::InvalidArgument, "op {}: {}", op, err);
            prop_assert_eq!(&before.0, &after.0, "op {} changed the key count", op);
            prop_assert_eq!(&before.1, &after.1, "op {} changed the data", op);
            prop_assert_eq!(
                after.2 - before.2,
                own_commands,
                "op {} sent commands for {:?}",
                op,
                args
            );
            seen_ops.borrow_mut().insert(op);
            *seen.borrow_mut().entry(format!("{bad:?}")).or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    println!(
        "hostile input: 200 rejected calls over {} operations, bad arguments {:?}; Redis \
         unchanged and not one command sent",
        seen_ops.borrow().len(),
        seen.borrow(),
    );
    assert_eq!(
        seen_ops.borrow().len(),
        OPS,
        "some operations never ran: {seen_ops:?}"
    );
}

/// Accepted names with every separator the rules allow land exactly on the documented keys.
#[test]
fn accepted_edge_names_land_on_their_keys() {
    let server = RedisServer::start();
    let ex = server.executor();
    let raw = RefCell::new(server.raw());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 100,
        failure_persistence: None,
        max_local_rejects: 100_000,
        ..ProptestConfig::default()
    });
    runner
        .run(&(triple(), 0..1000i32), |((ns, uid, svc), pod)| {
            prop_assume!(accepted(&(ns.clone(), uid.clone(), svc.clone())));
            let mut raw = raw.borrow_mut();
            ex.set_linked_pod(&ns, &uid, &svc, pod, Persistence::Persistent)
                .unwrap();
            let stored: Option<String> = redis::cmd("GET")
                .arg(link_key(&ns, &uid, &svc))
                .query(&mut raw)
                .unwrap();
            prop_assert_eq!(stored, Some(pod.to_string()));
            let listed: Option<String> = redis::cmd("HGET")
                .arg(uid_links_key(&ns, &uid))
                .arg(&svc)
                .query(&mut raw)
                .unwrap();
            prop_assert_eq!(listed, Some(pod.to_string()));
            prop_assert_eq!(ex.get_linked_pod(&ns, &uid, &svc).unwrap(), Some(pod));
            prop_assert!(ex
                .remove_linked_pod(&ns, &uid, &svc, Grace::Immediate)
                .unwrap());
            prop_assert_eq!(dbsize(&mut raw), 0);
            Ok(())
        })
        .unwrap();
}

/// Foreign data where a link's keys should be (a string where the uid hash belongs, a hash where
/// the link key belongs): every link write fails, as corrupt data or with the server's WRONGTYPE,
/// and writes nothing, so no link is left half-written.
#[test]
fn foreign_data_in_link_keys_is_never_half_overwritten() {
    let server = RedisServer::start();
    let ex = server.executor();
    let mut raw = server.raw();
    let digest = |raw: &mut redis::Connection| -> Vec<(String, String, String)> {
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(raw).unwrap();
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let kind: String = redis::cmd("TYPE").arg(&k).query(raw).unwrap();
                let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(raw).unwrap();
                (k, kind, format!("{dump:?}"))
            })
            .collect()
    };
    // The uid hash is a string; the link key of another uid is a hash.
    raw_cmd(&mut raw, &["SET", &uid_links_key("ns", "u1"), "not a hash"]);
    raw_cmd(&mut raw, &["HSET", &link_key("ns", "u2", "svc"), "f", "v"]);
    let before = digest(&mut raw);
    let p = Persistence::Persistent;
    let t = Persistence::temporary(60);
    for uid in ["u1", "u2"] {
        let outcomes: Vec<(&str, Result<()>)> = vec![
            ("set", ex.set_linked_pod("ns", uid, "svc", 1, p).map(drop)),
            (
                "set temporary",
                ex.set_linked_pod("ns", uid, "svc", 1, t).map(drop),
            ),
            (
                "try set",
                ex.try_set_linked_pod("ns", uid, "svc", 1, p).map(drop),
            ),
            (
                "if absent",
                ex.set_linked_pod_if_absent("ns", uid, "svc", 1, p)
                    .map(drop),
            ),
            (
                "remove",
                ex.remove_linked_pod("ns", uid, "svc", Grace::Seconds(5))
                    .map(drop),
            ),
        ];
        for (what, outcome) in outcomes {
            let err = outcome.expect_err(what);
            // A key of the wrong type is corrupt data, found before anything is written: the
            // uid hash by the scripts' type check, the link key by the GET (WRONGTYPE).
            assert_eq!(
                err.kind(),
                ErrorKind::UnexpectedReply,
                "{uid} {what}: {err}"
            );
            assert_eq!(digest(&mut raw), before, "{uid} {what} wrote: {err}");
        }
    }
}
