//! Fault injection against real redis-server processes: the server killed and restarted, its
//! script cache flushed, its clients paused or killed, the pool exhausted, too many clients, no
//! memory left; and a linearizability check of the link operations under contention.
//!
//! Every test measures what happened (errors by kind, slowest call, recovery time) and prints it;
//! run with `--nocapture` to see the figures. The tests of this file run one at a time (they
//! measure timings on a small machine), every loop is bounded in count and time, and every
//! redis-server they start is stopped when its handle drops.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use stateful_executor::*;

const NS: &str = "faults";
const SVC: &str = "chat";

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests of this file measure timings: they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An executor on `server` with the given pool size and connect / command / pool-wait timeouts.
fn executor(
    server: &RedisServer,
    pool: u32,
    connect: Duration,
    command: Duration,
    wait: Duration,
) -> Arc<Executor> {
    let mut config = Config::new(&server.admin_url()).unwrap();
    config.set_pool_max_size(pool).unwrap();
    config.set_connect_timeout(connect).unwrap();
    config.set_command_timeout(command).unwrap();
    config.set_pool_wait_timeout(wait).unwrap();
    Arc::new(Executor::open(&config).expect("open executor"))
}

/// As [`executor`], each call holding a pooled connection (pipelining off): what the pool
/// cases test.
fn pooled_executor(
    server: &RedisServer,
    pool: u32,
    connect: Duration,
    command: Duration,
    wait: Duration,
) -> Arc<Executor> {
    let mut config = Config::new(&server.admin_url()).unwrap();
    config.set_pool_max_size(pool).unwrap();
    config.set_connect_timeout(connect).unwrap();
    config.set_command_timeout(command).unwrap();
    config.set_pool_wait_timeout(wait).unwrap();
    config.set_pipelining(false);
    Arc::new(Executor::open(&config).expect("open executor"))
}

/// A small deterministic PRNG (xorshift64*): each thread gets its own seed, so runs differ per
/// thread but need no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How one call ended.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Succeeded with the expected answer.
    Ok,
    /// Succeeded with an answer the test knows to be wrong.
    Wrong(String),
    /// Failed.
    Failed(ErrorKind, String),
}

/// One finished call, timed against the test's clock.
#[derive(Clone, Debug)]
struct Call {
    start: Duration,
    end: Duration,
    write: bool,
    outcome: Outcome,
}

impl Call {
    fn took(&self) -> Duration {
        self.end - self.start
    }

    fn failed(&self) -> Option<ErrorKind> {
        match self.outcome {
            Outcome::Failed(kind, _) => Some(kind),
            _ => None,
        }
    }
}

/// Runs `f`, timing it against `clock`, and judges its result with `check` (which returns the
/// reason an answer is wrong, if it is).
fn timed<T>(
    clock: Instant,
    write: bool,
    f: impl FnOnce() -> Result<T>,
    check: impl FnOnce(&T) -> Option<String>,
) -> (Call, Option<T>) {
    let start = clock.elapsed();
    let result = f();
    let end = clock.elapsed();
    let (outcome, value) = match result {
        Ok(value) => match check(&value) {
            None => (Outcome::Ok, Some(value)),
            Some(why) => (Outcome::Wrong(why), Some(value)),
        },
        Err(err) => (Outcome::Failed(err.kind(), err.to_string()), None),
    };
    (
        Call {
            start,
            end,
            write,
            outcome,
        },
        value,
    )
}

/// Error counts by kind (C status name), for messages.
fn error_kinds<'a>(calls: impl IntoIterator<Item = &'a Call>) -> BTreeMap<&'static str, usize> {
    let mut kinds = BTreeMap::new();
    for call in calls {
        if let Some(kind) = call.failed() {
            *kinds.entry(kind.status_name()).or_insert(0) += 1;
        }
    }
    kinds
}

fn slowest<'a>(calls: impl IntoIterator<Item = &'a Call>) -> Duration {
    calls.into_iter().map(Call::took).max().unwrap_or_default()
}

/// A few distinct error messages, for assertion messages.
fn sample_errors<'a>(calls: impl IntoIterator<Item = &'a Call>) -> Vec<String> {
    let mut seen = Vec::new();
    for call in calls {
        if let Outcome::Failed(_, message) | Outcome::Wrong(message) = &call.outcome {
            if !seen.contains(message) && seen.len() < 5 {
                seen.push(message.clone());
            }
        }
    }
    seen
}

fn expect_pod(expected: Option<Pod>) -> impl FnOnce(&Option<Pod>) -> Option<String> {
    move |got| (*got != expected).then(|| format!("expected {expected:?}, got {got:?}"))
}

/// Sums one field of `INFO commandstats` (e.g. the calls of `eval`).
fn command_calls(raw: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(raw).unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Every link of the namespace is whole: a persistent link key has its uid hash field with the
/// same pod, a temporary one has none, and every hash field has its persistent link key.
fn assert_links_whole(raw: &mut redis::Connection) -> usize {
    let pattern = format!("sf:{{{NS}:lk:*");
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(raw).unwrap();
    let mut checked = 0;
    for key in &keys {
        let close = key.find('}').expect("hash tag");
        let (hash_key, service) = key.split_at(close + 1);
        if service.is_empty() {
            // A uid hash: each field must have its persistent link key.
            let fields: HashMap<String, String> =
                redis::cmd("HGETALL").arg(key).query(raw).unwrap();
            for (service, pod) in fields {
                let link = format!("{key}{service}");
                let value: Option<String> = redis::cmd("GET").arg(&link).query(raw).unwrap();
                let ttl: i64 = redis::cmd("PTTL").arg(&link).query(raw).unwrap();
                assert_eq!(
                    value.as_deref(),
                    Some(pod.as_str()),
                    "{key} lists {service} -> {pod} but {link} holds {value:?}"
                );
                assert_eq!(ttl, -1, "{key} lists {service} but {link} has a TTL");
                checked += 1;
            }
        } else {
            let value: String = redis::cmd("GET").arg(key).query(raw).unwrap();
            let ttl: i64 = redis::cmd("PTTL").arg(key).query(raw).unwrap();
            let field: Option<String> = redis::cmd("HGET")
                .arg(hash_key)
                .arg(service)
                .query(raw)
                .unwrap();
            if ttl == -1 {
                assert_eq!(
                    field.as_deref(),
                    Some(value.as_str()),
                    "persistent link {key} = {value} without its field in {hash_key}"
                );
            } else {
                assert_eq!(field, None, "temporary link {key} is listed in {hash_key}");
            }
            checked += 1;
        }
    }
    checked
}

// ---------------------------------------------------------------------------------------------
// SIGKILL and restart
// ---------------------------------------------------------------------------------------------

/// Redis is killed (SIGKILL) under load from 8 threads and restarted on the same port 2 s later.
#[test]
fn sigkill_and_restart_under_load() {
    let _serial = serial();
    const THREADS: usize = 8;
    const VERIFY_ROUNDS: usize = 60;
    let (connect, command, wait) = (ms(300), ms(300), ms(300));
    let bound = connect + command + wait;
    let margin = ms(1000);

    let mut server = RedisServer::start();
    let ex = executor(&server, 16, connect, command, wait);
    let clock = Instant::now();
    let verify = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            let verify = Arc::clone(&verify);
            thread::spawn(move || {
                let mut calls = Vec::new();
                let mut verified = 0;
                let deadline = clock + Duration::from_secs(30);
                let mut i: Pod = 0;
                while verified < VERIFY_ROUNDS && Instant::now() < deadline && i < 1_000_000 {
                    i += 1;
                    let verifying = verify.load(Ordering::SeqCst);
                    let uid = format!("kill-{t}-{}", i % 16);
                    let (call, set) = timed(
                        clock,
                        true,
                        || ex.set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent),
                        |_| None,
                    );
                    calls.push(call);
                    if set.is_some() {
                        let (call, _) = timed(
                            clock,
                            false,
                            || ex.get_linked_pod(NS, &uid, SVC),
                            expect_pod(Some(i)),
                        );
                        calls.push(call);
                    } else {
                        thread::sleep(ms(5)); // do not spin while the server is down
                    }
                    if verifying {
                        verified += 1;
                    }
                }
                calls
            })
        })
        .collect();

    thread::sleep(ms(600));
    let t_kill = clock.elapsed();
    server.kill();
    thread::sleep(Duration::from_secs(2));
    let t_restart = clock.elapsed();
    server.restart();
    let t_ready = clock.elapsed();
    thread::sleep(ms(700));
    let t_verify = clock.elapsed();
    verify.store(true, Ordering::SeqCst);
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();
    drop(ex);
    drop(server);

    let before: Vec<&Call> = calls.iter().filter(|c| c.end < t_kill).collect();
    let outage: Vec<&Call> = calls
        .iter()
        .filter(|c| c.end >= t_kill && c.start < t_verify)
        .collect();
    let after: Vec<&Call> = calls.iter().filter(|c| c.start >= t_verify).collect();
    let errors = error_kinds(&calls);
    let outage_errors = error_kinds(outage.iter().copied());
    let slowest_call = slowest(&calls);
    let first_success = calls
        .iter()
        .filter(|c| c.outcome == Outcome::Ok && c.end > t_restart)
        .map(|c| c.end)
        .min()
        .expect("no call succeeded after the restart");
    let recovery_after_ready = first_success.saturating_sub(t_ready);
    let recovery_after_spawn = first_success.saturating_sub(t_restart);
    let wrong_late: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Wrong(_)) && c.start >= t_ready)
        .collect();
    let wrong_lost = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Wrong(_)))
        .count()
        - wrong_late.len();
    let summary = format!(
        "sigkill: {} calls ({} before the kill, {} around the outage, {} after recovery); \
         errors by kind {errors:?}; outage errors {outage_errors:?}; slowest call {slowest_call:?} \
         (bound {bound:?} + margin {margin:?}); server down {:?}, restart took {:?}; first success \
         {recovery_after_ready:?} after the server answered ({recovery_after_spawn:?} after \
         relaunch); {wrong_lost} reads found a link lost with the killed server (no persistence); \
         sample errors {:?}",
        calls.len(),
        before.len(),
        outage.len(),
        after.len(),
        t_restart - t_kill,
        t_ready - t_restart,
        sample_errors(&calls),
    );
    println!("{summary}");

    assert!(
        before.len() > 100,
        "too little load before the kill: {summary}"
    );
    assert!(
        before.iter().all(|c| c.outcome == Outcome::Ok),
        "failures before the kill: {:?}; {summary}",
        sample_errors(before.iter().copied())
    );
    for kind in errors.keys() {
        assert!(
            ["SF_CONNECTION", "SF_TIMEOUT", "SF_POOL_TIMEOUT"].contains(kind),
            "unexpected error kind {kind}: {summary}"
        );
    }
    assert!(
        outage_errors.values().sum::<usize>() > 0,
        "the outage went unnoticed: {summary}"
    );
    assert!(
        slowest_call <= bound + margin,
        "a call took {slowest_call:?}: {summary}"
    );
    assert!(
        recovery_after_ready <= ms(1000) + ms(500),
        "slow recovery: {summary}"
    );
    assert!(
        wrong_late.is_empty(),
        "wrong answers after the restart: {:?}; {summary}",
        sample_errors(wrong_late.iter().copied())
    );
    assert!(
        after.len() >= THREADS * VERIFY_ROUNDS * 2,
        "too few calls after recovery: {summary}"
    );
    assert!(
        after.iter().all(|c| c.outcome == Outcome::Ok),
        "failures after recovery: {:?}; {summary}",
        sample_errors(after.iter().copied())
    );
}

// ---------------------------------------------------------------------------------------------
// SCRIPT FLUSH
// ---------------------------------------------------------------------------------------------

/// What a link operation should return, from a model of the uid's one link (persistent only).
fn model_step(state: Option<Pod>, op: LinkOp) -> (Option<Pod>, LinkRet) {
    match op {
        LinkOp::Set(pod) => (Some(pod), LinkRet::Previous(state)),
        LinkOp::TrySet(pod) => match state {
            Some(current) if current != pod => (state, LinkRet::Tried(false, current)),
            _ => (Some(pod), LinkRet::Tried(true, pod)),
        },
        LinkOp::IfAbsent(pod) => match state {
            Some(current) => (state, LinkRet::Current(current)),
            None => (Some(pod), LinkRet::Current(pod)),
        },
        LinkOp::RemoveWithId(pod) => match state {
            Some(current) if current == pod => (None, LinkRet::Removed(true)),
            _ => (state, LinkRet::Removed(false)),
        },
        LinkOp::Get => (state, LinkRet::Got(state)),
        LinkOp::GetIfPersist => (state, LinkRet::Got(state)),
    }
}

/// The link operations the model knows, all on persistent links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LinkOp {
    Set(Pod),
    TrySet(Pod),
    IfAbsent(Pod),
    RemoveWithId(Pod),
    Get,
    GetIfPersist,
}

/// What each link operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LinkRet {
    Previous(Option<Pod>),
    Tried(bool, Pod),
    Current(Pod),
    Removed(bool),
    Got(Option<Pod>),
}

fn run_link_op(ex: &Executor, uid: &str, op: LinkOp) -> Result<LinkRet> {
    let persistent = Persistence::Persistent;
    Ok(match op {
        LinkOp::Set(pod) => LinkRet::Previous(ex.set_linked_pod(NS, uid, SVC, pod, persistent)?),
        LinkOp::TrySet(pod) => {
            let t = ex.try_set_linked_pod(NS, uid, SVC, pod, persistent)?;
            LinkRet::Tried(t.linked, t.pod)
        }
        LinkOp::IfAbsent(pod) => {
            LinkRet::Current(ex.set_linked_pod_if_absent(NS, uid, SVC, pod, persistent)?)
        }
        LinkOp::RemoveWithId(pod) => {
            LinkRet::Removed(ex.remove_linked_pod_with_id(NS, uid, SVC, Grace::Immediate, pod)?)
        }
        LinkOp::Get => LinkRet::Got(ex.get_linked_pod(NS, uid, SVC)?),
        LinkOp::GetIfPersist => LinkRet::Got(ex.get_linked_pod_if_persist(NS, uid, SVC)?),
    })
}

fn random_link_op(rng: &mut Rng, pods: u64) -> LinkOp {
    let pod = rng.below(pods) as Pod;
    match rng.below(10) {
        0 | 1 => LinkOp::Set(pod),
        2..=4 => LinkOp::TrySet(pod),
        5..=6 => LinkOp::IfAbsent(pod),
        7 | 8 => LinkOp::RemoveWithId(pod),
        _ => LinkOp::GetIfPersist,
    }
}

/// SCRIPT FLUSH in a loop while 8 threads run script-based operations: every call succeeds with
/// the right answer (a NOSCRIPT reply is answered with EVAL in the same call).
#[test]
fn script_flush_under_load() {
    let _serial = serial();
    const THREADS: usize = 8;
    const RUN_FOR: Duration = Duration::from_millis(2500);
    let server = RedisServer::start();
    let ex = executor(&server, 8, ms(1000), ms(1000), ms(1000));
    let stop = Arc::new(AtomicBool::new(false));

    let flusher = {
        let mut raw = server.raw();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut flushes = 0u32;
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::SeqCst) && flushes < 20_000 && Instant::now() < deadline {
                let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut raw).unwrap();
                flushes += 1;
                thread::sleep(ms(2));
            }
            flushes
        })
    };
    let clock = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                let mut model: HashMap<String, Option<Pod>> = HashMap::new();
                let mut calls = Vec::new();
                while clock.elapsed() < RUN_FOR && calls.len() < 50_000 {
                    let uid = format!("flush-{t}-{}", rng.below(4));
                    let op = random_link_op(&mut rng, 3);
                    let state = model.get(&uid).copied().flatten();
                    let (next, expected) = model_step(state, op);
                    let (call, _) = timed(
                        clock,
                        !matches!(op, LinkOp::GetIfPersist),
                        || run_link_op(&ex, &uid, op),
                        |got| {
                            (*got != expected)
                                .then(|| format!("{op:?}: expected {expected:?}, got {got:?}"))
                        },
                    );
                    if call.outcome == Outcome::Ok {
                        model.insert(uid, next);
                    }
                    calls.push(call);
                }
                calls
            })
        })
        .collect();
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();
    stop.store(true, Ordering::SeqCst);
    let flushes = flusher.join().expect("flusher panicked");
    let mut raw = server.raw();
    let evals = command_calls(&mut raw, "eval");
    let evalshas = command_calls(&mut raw, "evalsha");
    let links = assert_links_whole(&mut raw);

    let bad: Vec<&Call> = calls.iter().filter(|c| c.outcome != Outcome::Ok).collect();
    let summary = format!(
        "script flush: {} calls, {} failed or wrong, {flushes} SCRIPT FLUSH, {evalshas} EVALSHA, \
         {evals} EVAL fallbacks after NOSCRIPT, slowest call {:?}, {links} link keys whole",
        calls.len(),
        bad.len(),
        slowest(&calls),
    );
    println!("{summary}");
    assert!(
        bad.is_empty(),
        "{summary}; {:?}",
        sample_errors(bad.iter().copied())
    );
    assert!(calls.len() > 500, "too little load: {summary}");
    assert!(flushes > 50, "too few flushes: {summary}");
    assert!(evals > 0, "no call ever met a flushed cache: {summary}");
}

// ---------------------------------------------------------------------------------------------
// CLIENT PAUSE
// ---------------------------------------------------------------------------------------------

/// Pre-links `n` uids `{prefix}{i}` to pod `i`; every fifth one temporary (an hour), the rest
/// persistent.
fn prelink(ex: &Executor, prefix: &str, n: i32) {
    for i in 0..n {
        let persistence = if i % 5 == 0 {
            Persistence::temporary(3600)
        } else {
            Persistence::Persistent
        };
        ex.set_linked_pod(NS, &format!("{prefix}{i}"), SVC, i, persistence)
            .unwrap();
    }
}

/// One random call on pre-linked uids whose answer is known: reads of every kind, and a write
/// that sets a link to the pod it already has (so that whether or not it ran, nothing changes).
fn prelinked_call(ex: &Executor, clock: Instant, rng: &mut Rng, prefix: &str, n: i32) -> Call {
    let i = rng.below(n as u64) as i32;
    let uid = format!("{prefix}{i}");
    let persistent = i % 5 != 0;
    match rng.below(6) {
        0 | 1 => {
            timed(
                clock,
                false,
                || ex.get_linked_pod(NS, &uid, SVC),
                expect_pod(Some(i)),
            )
            .0
        }
        2 => {
            timed(
                clock,
                false,
                || ex.get_linked_pod_if_persist(NS, &uid, SVC),
                expect_pod(persistent.then_some(i)),
            )
            .0
        }
        3 => {
            let js: Vec<i32> = (0..3).map(|_| rng.below(n as u64) as i32).collect();
            let uids: Vec<String> = js.iter().map(|j| format!("{prefix}{j}")).collect();
            let expected: Vec<Option<Pod>> = js.iter().map(|&j| Some(j)).collect();
            timed(
                clock,
                false,
                || ex.batch_get_linked_pods(NS, SVC, &uids),
                |got| (*got != expected).then(|| format!("expected {expected:?}, got {got:?}")),
            )
            .0
        }
        4 => {
            let expected: BTreeMap<String, Pod> = if persistent {
                BTreeMap::from([(SVC.to_string(), i)])
            } else {
                BTreeMap::new()
            };
            timed(
                clock,
                false,
                || ex.get_link_services(NS, &uid),
                |got| (*got != expected).then(|| format!("expected {expected:?}, got {got:?}")),
            )
            .0
        }
        _ => {
            let persistence = if persistent {
                Persistence::Persistent
            } else {
                Persistence::temporary(3600)
            };
            timed(
                clock,
                true,
                || ex.set_linked_pod(NS, &uid, SVC, i, persistence),
                expect_pod(Some(i)),
            )
            .0
        }
    }
}

/// CLIENT PAUSE for 1 s under load from 8 threads: calls time out within the bound, and
/// afterwards 1,000 calls on uids linked to distinct pods all get their own answer (a late
/// reply to a timed-out call is never read as another call's answer).
#[test]
fn client_pause_under_load() {
    let _serial = serial();
    const THREADS: usize = 8;
    const UIDS: i32 = 1000;
    const VERIFY_CALLS: usize = 1000;
    let (connect, command, wait) = (ms(300), ms(300), ms(300));
    let bound = connect + command + wait;
    let margin = ms(1000);
    let pause = ms(1000);

    let server = RedisServer::start();
    let ex = executor(&server, 16, connect, command, wait);
    prelink(&ex, "pause-", UIDS);
    let clock = Instant::now();
    let verify = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            let verify = Arc::clone(&verify);
            thread::spawn(move || {
                let mut rng = Rng::new(100 + t as u64);
                let mut calls = Vec::new();
                let mut verified = 0;
                let deadline = clock + Duration::from_secs(30);
                while verified < VERIFY_CALLS / THREADS
                    && Instant::now() < deadline
                    && calls.len() < 200_000
                {
                    let verifying = verify.load(Ordering::SeqCst);
                    let call = prelinked_call(&ex, clock, &mut rng, "pause-", UIDS);
                    if call.failed().is_some() {
                        thread::sleep(ms(2));
                    }
                    calls.push(call);
                    if verifying {
                        verified += 1;
                    }
                }
                calls
            })
        })
        .collect();

    thread::sleep(ms(400));
    let mut raw = server.raw();
    let t_pause = clock.elapsed();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(pause.as_millis() as u64)
        .arg("ALL")
        .query(&mut raw)
        .unwrap();
    let t_resume = t_pause + pause;
    thread::sleep(pause + ms(500));
    let t_verify = clock.elapsed();
    verify.store(true, Ordering::SeqCst);
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();

    let errors = error_kinds(&calls);
    let timeouts: Vec<&Call> = calls
        .iter()
        .filter(|c| c.failed() == Some(ErrorKind::Timeout))
        .collect();
    let slowest_timeout = slowest(timeouts.iter().copied());
    let slowest_call = slowest(&calls);
    let outside: Vec<&Call> = calls
        .iter()
        .filter(|c| c.failed().is_some() && (c.end < t_pause || c.start > t_resume + margin))
        .collect();
    let wrong: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Wrong(_)))
        .collect();
    let after: Vec<&Call> = calls.iter().filter(|c| c.start >= t_verify).collect();
    let after_ok = after.iter().filter(|c| c.outcome == Outcome::Ok).count();
    let links = assert_links_whole(&mut raw);
    let summary = format!(
        "client pause {pause:?}: {} calls; errors by kind {errors:?}; slowest timeout \
         {slowest_timeout:?}, slowest call {slowest_call:?} (bound {bound:?} + margin {margin:?}); \
         {} wrong answers; {after_ok}/{} calls correct after the pause; {links} link keys whole; \
         sample errors {:?}",
        calls.len(),
        wrong.len(),
        after.len(),
        sample_errors(&calls),
    );
    println!("{summary}");
    assert!(!timeouts.is_empty(), "no call timed out: {summary}");
    for kind in errors.keys() {
        assert!(
            ["SF_CONNECTION", "SF_TIMEOUT", "SF_POOL_TIMEOUT"].contains(kind),
            "unexpected error kind {kind}: {summary}"
        );
    }
    assert!(
        slowest_timeout <= command + wait + margin,
        "a timeout came late: {summary}"
    );
    assert!(
        slowest_call <= bound + margin,
        "a call took too long: {summary}"
    );
    assert!(outside.is_empty(), "errors outside the pause: {summary}");
    assert!(wrong.is_empty(), "wrong answers: {summary}");
    assert!(
        after.len() >= VERIFY_CALLS,
        "too few calls after: {summary}"
    );
    assert_eq!(after_ok, after.len(), "failures after the pause: {summary}");
}

// ---------------------------------------------------------------------------------------------
// CLIENT KILL
// ---------------------------------------------------------------------------------------------

/// `CLIENT KILL TYPE normal SKIPME yes` every 30 ms while 4 threads mostly read (every kind of
/// read, and now and then a write of the pod a uid already has) and 4 threads write.
/// Reads are retried once on a connection error, on a connection opened after the failure, so a
/// read fails only when a second kill hits its retry too; a write is never resent (it may have
/// run), so writes may fail, but only with a connection error. Every answer is right.
#[test]
fn client_kill_under_load() {
    let _serial = serial();
    const THREADS: usize = 8;
    const UIDS: i32 = 200;
    const KILL_FOR: Duration = Duration::from_millis(2500);
    const VERIFY_ROUNDS: usize = 50;

    let server = RedisServer::start();
    let ex = executor(&server, 16, ms(1000), ms(1000), ms(1000));
    prelink(&ex, "kill-", UIDS);
    let clock = Instant::now();
    let verify = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            let verify = Arc::clone(&verify);
            thread::spawn(move || {
                let mut rng = Rng::new(200 + t as u64);
                let mut calls = Vec::new();
                // For each own uid of a writer: the pods a read may find (a failed write may
                // or may not have run).
                let mut possible: HashMap<String, Vec<Option<Pod>>> = HashMap::new();
                let mut verified = 0;
                let mut n: Pod = 0;
                let deadline = clock + Duration::from_secs(30);
                while verified < VERIFY_ROUNDS && Instant::now() < deadline && calls.len() < 200_000
                {
                    let verifying = verify.load(Ordering::SeqCst);
                    if t % 2 == 0 {
                        calls.push(prelinked_call(&ex, clock, &mut rng, "kill-", UIDS));
                    } else {
                        n += 1;
                        let uid = format!("kill-w{t}-{}", rng.below(4));
                        let allowed = possible.entry(uid.clone()).or_insert(vec![None]).clone();
                        let (call, _) = timed(
                            clock,
                            true,
                            || ex.set_linked_pod(NS, &uid, SVC, n, Persistence::Persistent),
                            |prev| {
                                (!allowed.contains(prev)).then(|| {
                                    format!("previous {prev:?}, expected one of {allowed:?}")
                                })
                            },
                        );
                        let entry = possible.get_mut(&uid).unwrap();
                        if call.failed().is_some() {
                            entry.push(Some(n));
                        } else {
                            *entry = vec![Some(n)];
                        }
                        calls.push(call);
                    }
                    if verifying {
                        verified += 1;
                    }
                }
                calls
            })
        })
        .collect();

    let mut raw = server.raw();
    let (mut kills, mut killed) = (Vec::new(), 0i64);
    thread::sleep(ms(300));
    let t_first_kill = clock.elapsed();
    while clock.elapsed() < t_first_kill + KILL_FOR && kills.len() < 1000 {
        let sent = clock.elapsed();
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes")
            .query(&mut raw)
            .unwrap();
        kills.push((sent, clock.elapsed()));
        killed += n;
        thread::sleep(ms(30));
    }
    thread::sleep(ms(300));
    let t_verify = clock.elapsed();
    verify.store(true, Ordering::SeqCst);
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();

    let reads: Vec<&Call> = calls.iter().filter(|c| !c.write).collect();
    let writes: Vec<&Call> = calls.iter().filter(|c| c.write).collect();
    let read_errors = error_kinds(reads.iter().copied());
    // A read is retried once: it may fail only when a second kill hit the retry, i.e. a kill
    // ran while the call did.
    let read_failures: Vec<&&Call> = reads.iter().filter(|c| c.failed().is_some()).collect();
    let unexplained: Vec<&&Call> = read_failures
        .iter()
        .copied()
        .filter(|c| {
            !kills
                .iter()
                .any(|&(sent, done)| sent <= c.end && c.start <= done)
        })
        .collect();
    let write_errors = error_kinds(writes.iter().copied());
    let wrong: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Wrong(_)))
        .collect();
    let after: Vec<&Call> = calls.iter().filter(|c| c.start >= t_verify).collect();
    let after_ok = after.iter().filter(|c| c.outcome == Outcome::Ok).count();
    let links = assert_links_whole(&mut raw);
    let summary = format!(
        "client kill: {} CLIENT KILL killed {killed} connections; {} reads, errors \
         {read_errors:?} ({} of them with a kill during the call, so the retry was killed too); \
         {} writes, errors {write_errors:?}; {} wrong answers; slowest call {:?}; \
         {after_ok}/{} calls correct after the kills; {links} link keys whole; sample errors: \
         reads {:?}, writes {:?}",
        kills.len(),
        reads.len(),
        read_failures.len() - unexplained.len(),
        writes.len(),
        wrong.len(),
        slowest(&calls),
        after.len(),
        sample_errors(reads.iter().copied()),
        sample_errors(writes.iter().copied()),
    );
    println!("{summary}");
    assert!(killed > 0, "the kills hit nothing: {summary}");
    assert!(
        read_errors.keys().all(|k| *k == "SF_CONNECTION"),
        "reads failed with something else than a connection error: {summary}"
    );
    assert!(
        unexplained.is_empty(),
        "reads failed although no kill ran during them (the retry should have saved them): \
         {summary}"
    );
    assert!(
        read_failures.len() * 1000 <= reads.len(),
        "more than 1 read in 1000 failed: {summary}"
    );
    assert!(
        write_errors.keys().all(|k| *k == "SF_CONNECTION"),
        "writes failed with something else than a connection error: {summary}"
    );
    assert!(wrong.is_empty(), "wrong answers: {summary}");
    assert!(
        after.len() >= THREADS * VERIFY_ROUNDS,
        "too few calls after: {summary}"
    );
    assert_eq!(after_ok, after.len(), "failures after the kills: {summary}");
}

// ---------------------------------------------------------------------------------------------
// Pool exhaustion
// ---------------------------------------------------------------------------------------------

/// A pool of 2 for 16 threads while the server sleeps (`DEBUG SLEEP 0.8`): the waiting threads
/// get PoolTimeout after the pool wait timeout, no other error, and all is well afterwards.
/// (With pipelining, single commands wait on the shared connection instead, within the
/// command timeout: the pool is for pipelining off.)
#[test]
fn pool_exhaustion_reports_pool_timeout() {
    let _serial = serial();
    const THREADS: usize = 16;
    let wait = ms(200);
    let margin = ms(600);
    let sleep = ms(800);

    let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let ex = pooled_executor(&server, 2, ms(300), ms(5000), wait);
    ex.set_linked_pod(NS, "pool-u", SVC, 7, Persistence::Persistent)
        .unwrap();
    let clock = Instant::now();
    let run_for = ms(300) + sleep + ms(700);
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                let mut calls = Vec::new();
                while clock.elapsed() < run_for && calls.len() < 100_000 {
                    let (call, _) = timed(
                        clock,
                        false,
                        || ex.get_linked_pod(NS, "pool-u", SVC),
                        expect_pod(Some(7)),
                    );
                    calls.push(call);
                }
                calls
            })
        })
        .collect();
    thread::sleep(ms(300));
    let mut raw = server.raw();
    let t_sleep = clock.elapsed();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(sleep.as_secs_f64())
        .query(&mut raw)
        .unwrap();
    let t_woke = clock.elapsed();
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();

    let errors = error_kinds(&calls);
    let pool_timeouts: Vec<&Call> = calls
        .iter()
        .filter(|c| c.failed() == Some(ErrorKind::PoolTimeout))
        .collect();
    let quickest = pool_timeouts
        .iter()
        .map(|c| c.took())
        .min()
        .unwrap_or_default();
    let slowest_pool_timeout = slowest(pool_timeouts.iter().copied());
    let late: Vec<&Call> = calls
        .iter()
        .filter(|c| c.outcome != Outcome::Ok && (c.end < t_sleep || c.start > t_woke + ms(100)))
        .collect();
    let summary = format!(
        "pool exhaustion: {} calls; errors by kind {errors:?}; pool timeouts took \
         {quickest:?}..{slowest_pool_timeout:?} (pool wait {wait:?} + margin {margin:?}); server \
         slept {:?}; sample errors {:?}",
        calls.len(),
        t_woke - t_sleep,
        sample_errors(&calls),
    );
    println!("{summary}");
    assert!(!pool_timeouts.is_empty(), "no pool timeout: {summary}");
    assert_eq!(
        errors.keys().copied().collect::<Vec<_>>(),
        vec!["SF_POOL_TIMEOUT"],
        "{summary}"
    );
    assert!(quickest >= wait, "a pool timeout came early: {summary}");
    assert!(
        slowest_pool_timeout <= wait + margin,
        "a pool timeout came late: {summary}"
    );
    assert!(late.is_empty(), "errors outside the sleep: {summary}");
}

// ---------------------------------------------------------------------------------------------
// maxclients and maxmemory
// ---------------------------------------------------------------------------------------------

/// Waits until the server counts `n` connected clients (it notices closed ones asynchronously).
fn wait_for_clients(raw: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(raw).unwrap();
        if list.lines().count() == n {
            return;
        }
        assert!(Instant::now() < deadline, "clients: {list}");
        thread::sleep(ms(10));
    }
}

/// A server accepting 4 clients. First a pool of 8 for 8 threads: the pool makes do with the
/// connections it gets (connect failures stay in the background while a connection frees up in
/// time). Then a server already full: every call fails with a clean error carrying the server's
/// message, and works again once clients leave. Nothing is corrupted.
#[test]
fn maxclients_gives_clean_errors() {
    let _serial = serial();
    const THREADS: usize = 8;
    let server = RedisServer::start_with(&["--maxclients", "4"]);
    let mut raw = server.raw(); // one of the 4
    let ex = executor(&server, 8, ms(300), ms(300), ms(300));
    let clock = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ex = Arc::clone(&ex);
            thread::spawn(move || {
                let mut calls = Vec::new();
                let mut i: Pod = 0;
                while clock.elapsed() < ms(1000) && calls.len() < 100_000 {
                    i += 1;
                    let uid = format!("maxc-{t}");
                    let (call, set) = timed(
                        clock,
                        true,
                        || ex.set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent),
                        |_| None,
                    );
                    calls.push(call);
                    if set.is_some() {
                        let (call, _) = timed(
                            clock,
                            false,
                            || ex.get_linked_pod(NS, &uid, SVC),
                            expect_pod(Some(i)),
                        );
                        calls.push(call);
                    }
                }
                calls
            })
        })
        .collect();
    let calls: Vec<Call> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker panicked"))
        .collect();
    let rejected: String = redis::cmd("INFO").arg("stats").query(&mut raw).unwrap();
    let rejected = rejected
        .lines()
        .find_map(|l| l.strip_prefix("rejected_connections:"))
        .unwrap_or("?")
        .to_string();
    drop(ex);
    wait_for_clients(&mut raw, 1);

    // A full server: the pool cannot open a single connection.
    let ex = executor(&server, 8, ms(300), ms(300), ms(300));
    wait_for_clients(&mut raw, 1);
    let hogs: Vec<redis::Connection> = (0..3).map(|_| server.raw()).collect();
    let full: Vec<Call> = (0..10)
        .map(|i| {
            let uid = format!("maxc-full-{i}");
            let write = i % 2 == 0;
            timed(
                clock,
                write,
                || match write {
                    true => ex
                        .set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent)
                        .map(drop),
                    false => ex.get_linked_pod(NS, &uid, SVC).map(drop),
                },
                |_| Some("succeeded on a full server".into()),
            )
            .0
        })
        .collect();
    drop(hogs);
    let recovered = clock.elapsed();
    let mut back = None;
    while clock.elapsed() < recovered + Duration::from_secs(5) {
        if ex.get_linked_pod(NS, "maxc-0", SVC).is_ok() {
            back = Some(clock.elapsed() - recovered);
            break;
        }
    }
    let links = assert_links_whole(&mut raw);

    let errors = error_kinds(&calls);
    let ok = calls.iter().filter(|c| c.outcome == Outcome::Ok).count();
    let wrong = calls
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Wrong(_)))
        .count();
    let summary = format!(
        "maxclients 4, pool 8, 8 threads: {} calls, {ok} correct, {wrong} wrong, errors by kind \
         {errors:?}, {rejected} connections refused by the server; full server: errors by kind \
         {:?}, slowest {:?}, e.g. {:?}; working again {back:?} after clients left; {links} link \
         keys whole",
        calls.len(),
        error_kinds(&full),
        slowest(&full),
        sample_errors(&full),
    );
    println!("{summary}");
    assert!(
        ok > 100,
        "the connections within the limit did not work: {summary}"
    );
    assert_eq!(wrong, 0, "{summary}");
    // Redis writes "-ERR max number of clients reached" and closes at once; the handshake
    // (CLIENT SETINFO) usually meets the reset, so the message names the likely cause itself.
    for call in calls.iter().chain(&full) {
        if let Outcome::Failed(kind, message) = &call.outcome {
            assert_eq!(*kind, ErrorKind::Connection, "{message}: {summary}");
            assert!(
                message.contains("max number of clients") || message.contains("maxclients"),
                "the message does not point at the client limit: {message}: {summary}"
            );
        }
    }
    for call in &full {
        assert!(call.failed().is_some(), "{summary}");
        assert!(call.took() <= ms(300) + ms(700), "{summary}");
    }
    assert!(back.is_some_and(|t| t < ms(1500)), "{summary}");
}

/// A server out of memory (`maxmemory 2mb`, `noeviction`, filled with raw data): writes fail
/// with `Redis` and the server's OOM message, reads and removals work, no link is left half
/// written, and writes work again once memory is freed.
#[test]
fn out_of_memory_fails_writes_cleanly() {
    let _serial = serial();
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
    let links = assert_links_whole(&mut raw);

    // Free the memory: writes work again.
    for i in 0..filled {
        let _: () = redis::cmd("DEL")
            .arg(format!("fill:{i}"))
            .query(&mut raw)
            .unwrap();
    }
    assert_eq!(ex.set_linked_pod(NS, "oom-new", SVC, 1, p).unwrap(), None);
    assert_eq!(ex.set_linked_pod(NS, "oom-1", SVC, 9, p).unwrap(), Some(1));
    assert_links_whole(&mut raw);
    println!(
        "out of memory: filled {filled} x 16 KiB; {} writes refused, e.g. {:?}; reads and \
         removals worked; {links} link keys whole",
        write_errors.len(),
        write_errors.first()
    );
}

// ---------------------------------------------------------------------------------------------
// Linearizability
// ---------------------------------------------------------------------------------------------

/// One completed operation of a history: its call and return times (ns on the test clock).
#[derive(Clone, Copy, Debug)]
struct Event {
    op: LinkOp,
    ret: LinkRet,
    call: u64,
    returned: u64,
}

/// Whether `history` (the operations on one uid) is linearizable with respect to `model_step`
/// from state `init`: Wing & Gong's search with Lowe's memoization (a (linearized set, state)
/// pair seen before is not explored again). Operations that overlap in time may take effect in
/// either order; one that returned before another was called must take effect first.
/// Returns the number of search steps, or `None` when no linearization exists.
fn linearizable(history: &[Event], init: Option<Pod>, max_steps: u64) -> Option<u64> {
    let n = history.len();
    // Entries 1..=2n: calls and returns in time order (calls first at equal times, which is
    // the permissive reading). Entry 0 is the list head.
    let mut order: Vec<(u64, bool, usize)> = history
        .iter()
        .enumerate()
        .flat_map(|(id, e)| [(e.call, false, id), (e.returned, true, id)])
        .collect();
    order.sort();
    let mut entry_of_return = vec![0; n];
    let mut entries = vec![(false, usize::MAX)]; // (is_return, id)
    for &(_, is_return, id) in &order {
        if is_return {
            entry_of_return[id] = entries.len();
        }
        entries.push((is_return, id));
    }
    let len = entries.len();
    let mut next: Vec<usize> = (1..=len).collect(); // `len` is the end
    let mut prev: Vec<usize> = (0..len).map(|i| i.wrapping_sub(1)).collect();
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = nx;
        if nx < len {
            prev[nx] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = e;
        if nx < len {
            prev[nx] = e;
        }
    };
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Option<Pod>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<Pod>)> = Vec::new();
    let mut state = init;
    let mut entry = next[0];
    let mut steps = 0u64;
    while next[0] < len {
        steps += 1;
        assert!(
            steps <= max_steps,
            "linearizability search exceeded {max_steps} steps"
        );
        let (is_return, id) = entries[entry];
        if !is_return {
            let (after, ret) = model_step(state, history[id].op);
            if ret == history[id].ret {
                let mut with = linearized.clone();
                with[id / 64] |= 1 << (id % 64);
                if seen.insert((with.clone(), after)) {
                    stack.push((entry, state));
                    state = after;
                    linearized = with;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, entry_of_return[id]);
                    entry = next[0];
                    continue;
                }
            }
            entry = next[entry];
        } else {
            // An operation returned before any order could place it: undo the last choice.
            let (call_entry, before) = stack.pop()?;
            let id = entries[call_entry].1;
            state = before;
            linearized[id / 64] &= !(1 << (id % 64));
            relink(&mut next, &mut prev, entry_of_return[id]);
            relink(&mut next, &mut prev, call_entry);
            entry = next[call_entry];
        }
    }
    Some(steps)
}

#[test]
fn linearizability_checker_rejects_impossible_histories() {
    let ev = |op, ret, call, returned| Event {
        op,
        ret,
        call,
        returned,
    };
    // Sequential and consistent.
    let ok = [
        ev(LinkOp::IfAbsent(1), LinkRet::Current(1), 0, 1),
        ev(LinkOp::TrySet(2), LinkRet::Tried(false, 1), 2, 3),
        ev(LinkOp::RemoveWithId(1), LinkRet::Removed(true), 4, 5),
        ev(LinkOp::Get, LinkRet::Got(None), 6, 7),
    ];
    assert!(linearizable(&ok, None, 1000).is_some());
    // Two if-absent winners with different pods in one absent period.
    let two_winners = [
        ev(LinkOp::IfAbsent(1), LinkRet::Current(1), 0, 10),
        ev(LinkOp::IfAbsent(2), LinkRet::Current(2), 1, 9),
    ];
    assert!(linearizable(&two_winners, None, 1000).is_none());
    // Overlapping: the set may take effect before the get.
    let overlap = [
        ev(LinkOp::Set(3), LinkRet::Previous(None), 0, 10),
        ev(LinkOp::Get, LinkRet::Got(Some(3)), 1, 2),
    ];
    assert!(linearizable(&overlap, None, 1000).is_some());
    // Not overlapping: a read that returned before the set began cannot see it.
    let stale = [
        ev(LinkOp::Get, LinkRet::Got(Some(3)), 0, 1),
        ev(LinkOp::Set(3), LinkRet::Previous(None), 2, 3),
    ];
    assert!(linearizable(&stale, None, 1000).is_none());
    // A remove-with-id that claims success while another pod was linked.
    let wrong_remove = [
        ev(LinkOp::Set(1), LinkRet::Previous(None), 0, 1),
        ev(LinkOp::RemoveWithId(2), LinkRet::Removed(true), 2, 3),
    ];
    assert!(linearizable(&wrong_remove, None, 1000).is_none());
}

/// 16 threads mix set, try-set, set-if-absent, remove-with-id and get on a few hot uids (three
/// pods, persistent links), recording every call with its start and end; each uid's history must
/// have a linearization (checked by search), ending in the state read after all threads stopped.
#[test]
fn links_are_linearizable() {
    let _serial = serial();
    const THREADS: usize = 16;
    const ROUNDS: usize = 4;
    const UIDS_PER_ROUND: usize = 4;
    const OPS_PER_THREAD: usize = 16;

    let server = RedisServer::start();
    let ex = executor(&server, 16, ms(2000), ms(2000), ms(5000));
    let clock = Instant::now();
    let mut histories: Vec<Vec<Event>> = Vec::new();
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let ex = Arc::clone(&ex);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let mut rng = Rng::new((round * THREADS + t) as u64 + 1000);
                    let mut events = Vec::new();
                    barrier.wait();
                    for _ in 0..OPS_PER_THREAD {
                        let u = rng.below(UIDS_PER_ROUND as u64) as usize;
                        let op = match rng.below(10) {
                            0 | 1 => LinkOp::Set(rng.below(3) as Pod),
                            2..=4 => LinkOp::TrySet(rng.below(3) as Pod),
                            5 | 6 => LinkOp::IfAbsent(rng.below(3) as Pod),
                            7 | 8 => LinkOp::RemoveWithId(rng.below(3) as Pod),
                            _ => LinkOp::Get,
                        };
                        let uid = format!("lin-{round}-{u}");
                        let call = clock.elapsed().as_nanos() as u64;
                        let ret = run_link_op(&ex, &uid, op).expect("no faults here");
                        let returned = clock.elapsed().as_nanos() as u64;
                        events.push((
                            u,
                            Event {
                                op,
                                ret,
                                call,
                                returned,
                            },
                        ));
                    }
                    events
                })
            })
            .collect();
        let mut per_uid: Vec<Vec<Event>> = vec![Vec::new(); UIDS_PER_ROUND];
        for worker in workers {
            for (u, event) in worker.join().expect("worker panicked") {
                per_uid[u].push(event);
            }
        }
        // The final state, read after every thread stopped, closes each history.
        for (u, events) in per_uid.iter_mut().enumerate() {
            let call = clock.elapsed().as_nanos() as u64;
            let ret = run_link_op(&ex, &format!("lin-{round}-{u}"), LinkOp::Get).unwrap();
            let returned = clock.elapsed().as_nanos() as u64;
            events.push(Event {
                op: LinkOp::Get,
                ret,
                call,
                returned,
            });
        }
        histories.extend(per_uid);
    }
    let mut raw = server.raw();
    let links = assert_links_whole(&mut raw);

    let checking = Instant::now();
    let mut total_steps = 0;
    let mut sizes = Vec::new();
    let mut max_overlap = 0;
    for (i, history) in histories.iter().enumerate() {
        sizes.push(history.len());
        for e in history {
            let overlapping = history
                .iter()
                .filter(|o| o.call < e.returned && e.call < o.returned)
                .count();
            max_overlap = max_overlap.max(overlapping);
        }
        match linearizable(history, None, 50_000_000) {
            Some(steps) => total_steps += steps,
            None => panic!("history {i} is not linearizable: {history:#?}"),
        }
    }
    let check_time = checking.elapsed();
    let mut effects: BTreeMap<&str, usize> = BTreeMap::new();
    for e in histories.iter().flatten() {
        let what = match e.ret {
            LinkRet::Previous(_) => "set",
            LinkRet::Tried(true, _) => "try-set linked",
            LinkRet::Tried(false, _) => "try-set refused",
            LinkRet::Current(pod) if LinkOp::IfAbsent(pod) == e.op => "if-absent won or kept",
            LinkRet::Current(_) => "if-absent got another pod",
            LinkRet::Removed(true) => "remove-with-id removed",
            LinkRet::Removed(false) => "remove-with-id refused",
            LinkRet::Got(Some(_)) => "get found",
            LinkRet::Got(None) => "get found none",
        };
        *effects.entry(what).or_insert(0) += 1;
    }
    println!(
        "linearizability: {} histories of {:?} operations ({} in all, up to {max_overlap} \
         overlapping one operation) linearizable; search took {total_steps} steps in \
         {check_time:?}; outcomes {effects:?}; {links} link keys whole",
        histories.len(),
        sizes,
        sizes.iter().sum::<usize>(),
    );
    assert!(effects.get("try-set refused").copied().unwrap_or(0) > 0);
    assert!(effects.get("remove-with-id removed").copied().unwrap_or(0) > 0);
    assert!(
        effects
            .get("if-absent got another pod")
            .copied()
            .unwrap_or(0)
            > 0
    );
}
