//! Throughput driver for `make bench`: runs one operation through the Rust API from N threads
//! for a fixed time against $REDIS_URL and prints one JSON line with the rate.
//!
//! usage: bench_ops <op> <threads> <seconds>
//! ops: get set set_if_absent try_set remove compute8 service_state32 batch1000 batch10000
//!      workload100 exec_batch16 setup; for the client cache: get90 (9 reads in 10 of a hot
//!      set of HOT_UIDS uids, the others of all 100,000) and get100 (only the hot set)
//! environment: SF_BENCH_PIPELINING=on|off (auto-pipelining; default: the library's),
//!      SF_BENCH_MIN_IN_FLIGHT (calls in flight for the shared connection, with pipelining on),
//!      SF_BENCH_TIMEOUT_MS (command timeout), SF_BENCH_CACHE=ENTRIES:MAX_AGE_MS (the client
//!      cache on; the hot set is read once before timing). The first error of each thread goes
//!      to stderr.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stateful_executor::{BatchOp, Candidate, Config, Executor, Grace, Persistence, Pod};

/// Namespace, service and key spread shared with bench/run.py and bench/driver.c.
const NS: &str = "bench";
const SERVICE: &str = "chat";
const KEYSPACE: usize = 100_000;
const PODS: i32 = 32;
const WORKLOAD_SERVICES: usize = 100;
/// The hot set of get90 and get100: the first uids of the key space.
const HOT_UIDS: usize = 1000;

struct Plan {
    uids: Vec<String>,
    services: Vec<String>,
    candidates: Vec<Candidate>,
}

/// A tiny xorshift generator: cheap, per thread, and good enough to spread keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

fn setup(executor: &Executor, plan: &Plan) -> stateful_executor::Result<()> {
    for pod in 0..PODS {
        executor.set_service_state(NS, SERVICE, pod, "Running")?;
    }
    for service in &plan.services {
        executor.set_workload_state(NS, service, "Available")?;
    }
    for (i, uid) in plan.uids.iter().enumerate() {
        if i % 2 == 0 {
            executor.set_linked_pod(NS, uid, SERVICE, i as Pod % PODS, Persistence::Persistent)?;
        }
    }
    Ok(())
}

fn one_call(
    executor: &Executor,
    plan: &Plan,
    op: &str,
    rng: &mut Rng,
) -> stateful_executor::Result<usize> {
    let uid = &plan.uids[rng.next() % KEYSPACE];
    let pod = (rng.next() % PODS as usize) as Pod;
    let mut batch = |n: usize| {
        let start = rng_start(rng.next(), n);
        executor
            .batch_get_linked_pods(NS, SERVICE, &plan.uids[start..start + n])
            .map(|v| v.len())
    };
    match op {
        "get" => executor.get_linked_pod(NS, uid, SERVICE).map(|_| 1),
        "get90" => {
            let uid = match rng.next() % 10 {
                0 => uid,
                _ => &plan.uids[rng.next() % HOT_UIDS],
            };
            executor.get_linked_pod(NS, uid, SERVICE).map(|_| 1)
        }
        "get100" => executor
            .get_linked_pod(NS, &plan.uids[rng.next() % HOT_UIDS], SERVICE)
            .map(|_| 1),
        "set" => executor
            .set_linked_pod(NS, uid, SERVICE, pod, Persistence::Persistent)
            .map(|_| 1),
        "set_if_absent" => executor
            .set_linked_pod_if_absent(NS, uid, SERVICE, pod, Persistence::Persistent)
            .map(|_| 1),
        "try_set" => executor
            .try_set_linked_pod(NS, uid, SERVICE, pod, Persistence::Persistent)
            .map(|_| 1),
        "remove" => executor
            .remove_linked_pod(NS, uid, SERVICE, Grace::Immediate)
            .map(|_| 1),
        "compute8" => executor
            .compute_linked_pod(NS, uid, SERVICE, Persistence::Persistent, &plan.candidates)
            .map(|_| 1),
        "service_state32" => executor.get_service_state(NS, SERVICE).map(|_| 1),
        "batch1000" => batch(1000),
        "batch10000" => batch(10_000),
        "workload100" => executor
            .get_workload_states(NS, &plan.services)
            .map(|v| v.len()),
        // execute_batch of 16 independent operations: 8 link reads, 4 link writes, 4
        // persistent-link reads.
        "exec_batch16" => {
            let start = rng_start(rng.next(), 16);
            let uids = &plan.uids[start..start + 16];
            let ops: Vec<BatchOp> = uids
                .iter()
                .enumerate()
                .map(|(i, uid)| match i % 4 {
                    0 | 2 => BatchOp::GetLinkedPod {
                        ns: NS,
                        uid,
                        service: SERVICE,
                    },
                    1 => BatchOp::SetLinkedPod {
                        ns: NS,
                        uid,
                        service: SERVICE,
                        pod,
                        persistence: Persistence::Persistent,
                    },
                    _ => BatchOp::GetLinkedPodIfPersist {
                        ns: NS,
                        uid,
                        service: SERVICE,
                    },
                })
                .collect();
            let results = executor.execute_batch(&ops);
            match results.into_iter().find(Result::is_err) {
                Some(Err(err)) => Err(err),
                _ => Ok(16),
            }
        }
        other => Err(stateful_executor::Error::new(
            stateful_executor::ErrorKind::InvalidArgument,
            format!("unknown op {other}"),
        )),
    }
}

fn rng_start(random: usize, n: usize) -> usize {
    random % (KEYSPACE - n + 1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (op, threads, seconds) = match args.as_slice() {
        [op, threads, seconds] => (
            op.clone(),
            threads.parse::<usize>().unwrap_or(1),
            seconds.parse::<f64>().unwrap_or(2.0),
        ),
        [op] if op == "setup" => (op.clone(), 1, 0.0),
        _ => {
            eprintln!("usage: bench_ops <op> <threads> <seconds>");
            return ExitCode::FAILURE;
        }
    };
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut config = Config::new(&url).expect("REDIS_URL");
    config.set_pool_max_size(threads.max(1) as u32).unwrap();
    if let Some(ms) = std::env::var("SF_BENCH_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config
            .set_command_timeout(Duration::from_millis(ms))
            .unwrap();
    }
    // SF_BENCH_PIPELINING=off|on (default: the library's default).
    match std::env::var("SF_BENCH_PIPELINING").as_deref() {
        Ok("off") => {
            config.set_pipelining(false);
        }
        Ok("on") => {
            config.set_pipelining(true);
        }
        _ => {}
    }
    // SF_BENCH_MIN_IN_FLIGHT: calls in flight for the shared connection (with pipelining on).
    if let Some(calls) = std::env::var("SF_BENCH_MIN_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.set_pipelining_min_in_flight(calls).unwrap();
    }
    // SF_BENCH_CACHE=ENTRIES:MAX_AGE_MS: the client-side cache on.
    let cache = std::env::var("SF_BENCH_CACHE").ok().and_then(|v| {
        let (entries, ms) = v.split_once(':')?;
        Some((entries.parse::<u32>().ok()?, ms.parse::<u64>().ok()?))
    });
    if let Some((entries, ms)) = cache {
        config
            .set_client_cache(entries, Duration::from_millis(ms))
            .unwrap();
    }
    let executor = Arc::new(Executor::open(&config).expect("open"));
    let plan = Arc::new(Plan {
        // Zero-padded to 12 digits, as redis-benchmark writes `__rand_int__`: both read and
        // write the same keys.
        uids: (0..KEYSPACE).map(|i| format!("u{i:012}")).collect(),
        services: (0..WORKLOAD_SERVICES).map(|i| format!("svc-{i}")).collect(),
        candidates: (0..8)
            .map(|p| Candidate::new(p, 100 - i64::from(p)))
            .collect(),
    });
    if op == "setup" {
        setup(&executor, &plan).expect("setup");
        return ExitCode::SUCCESS;
    }
    // Warm the pool so connection set-up is not measured.
    one_call(&executor, &plan, &op, &mut Rng(1)).expect("first call");
    if cache.is_some() {
        // And the cache with the hot set: a cache is measured warm.
        for uid in &plan.uids[..HOT_UIDS] {
            executor
                .get_linked_pod(NS, uid, SERVICE)
                .expect("warm-up read");
        }
    }
    let before = executor.stats();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let items = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (executor, plan, op) = (Arc::clone(&executor), Arc::clone(&plan), op.clone());
            let (stop, calls, items, errors) =
                (stop.clone(), calls.clone(), items.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let (mut n, mut k, mut e) = (0u64, 0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    match one_call(&executor, &plan, &op, &mut rng) {
                        Ok(count) => k += count as u64,
                        Err(err) => {
                            if e == 0 {
                                eprintln!("first error of a thread: {err}");
                            }
                            e += 1;
                        }
                    }
                    n += 1;
                }
                calls.fetch_add(n, Ordering::Relaxed);
                items.fetch_add(k, Ordering::Relaxed);
                errors.fetch_add(e, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = calls.load(Ordering::Relaxed);
    let after = executor.stats();
    println!(
        "{{\"driver\":\"rust\",\"op\":\"{op}\",\"threads\":{threads},\"calls\":{calls},\"errors\":{},\"ops_per_sec\":{:.1},\"items_per_sec\":{:.1},\"cache_hits\":{},\"cache_misses\":{}}}",
        errors.load(Ordering::Relaxed),
        calls as f64 / elapsed,
        items.load(Ordering::Relaxed) as f64 / elapsed,
        after.cache_hits - before.cache_hits,
        after.cache_misses - before.cache_misses
    );
    ExitCode::SUCCESS
}
