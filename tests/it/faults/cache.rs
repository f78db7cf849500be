//! The client cache under faults: a staleness checker.
//!
//! Writers (other executors, and raw clients behind the library's back) change links,
//! temporary links, workload states and pod states, each key by one writer with increasing
//! versions, recording when each write was sent and acknowledged. Readers read every key
//! through one executor with the cache on, recording when each read began and ended and what it
//! returned. Meanwhile the server is hurt: every connection killed (the invalidation one
//! included), FLUSHALL, SIGKILL and a restart with different data, temporary links expiring, a
//! Sentinel failover, a Cluster failover and a slot migration. Faults that change data record
//! it as writes (every key absent, then new versions).
//!
//! The check, for every read: the value it returned was the key's value at some moment no
//! earlier than the cache's bound (`min(max_age, CLIENT_CACHE_FRESHNESS)`) before the read
//! began. A value `v` written between `start_v` and `end_v` is current from some moment in that
//! interval until the next change takes effect, which is at the latest when that change was
//! acknowledged: so a read beginning at `r` is a violation when the next change was acknowledged
//! before `r - bound`, or when `v` was only written after the read ended. Ambiguity (a write in
//! flight) is never counted against the cache. The run prints the invalidation lag: for each
//! write, how long after its acknowledgement reads still returned what it replaced.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "stale";
const MAX_AGE: Duration = Duration::from_secs(60);
/// TTL of the temporary links raw clients write (milliseconds).
const TEMP_TTL: Duration = Duration::from_millis(150);
const READERS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Link,
    TempLink,
    Workload,
    State,
}

#[derive(Clone, Debug)]
struct Key {
    kind: Kind,
    /// The uid (links) or the service (states).
    name: String,
}

impl Key {
    fn redis_key(&self) -> String {
        match self.kind {
            Kind::Link | Kind::TempLink => format!("sf:{{{NS}:lk:{}}}chat", self.name),
            Kind::Workload => format!("sf:{{{NS}:workload:{}}}", self.name),
            Kind::State => format!("sf:{{{NS}:state:{}}}", self.name),
        }
    }
}

/// The keys of a run: `links` links, one temporary link, one workload state, one pod state.
fn keys(links: usize) -> Vec<Key> {
    let mut keys: Vec<Key> = (0..links)
        .map(|i| Key {
            kind: Kind::Link,
            name: format!("u{i}"),
        })
        .collect();
    keys.push(Key {
        kind: Kind::TempLink,
        name: "tmp".into(),
    });
    keys.push(Key {
        kind: Kind::Workload,
        name: "svc".into(),
    });
    keys.push(Key {
        kind: Kind::State,
        name: "svc".into(),
    });
    keys
}

/// A change of a key: `value` (`None`: absent) took effect at some moment in [start, end].
#[derive(Clone, Debug)]
struct Event {
    value: Option<i64>,
    start: Duration,
    end: Duration,
}

/// A read: it began at `start`, ended at `end`, and returned `value`.
#[derive(Clone, Debug)]
struct Read {
    key: usize,
    value: Option<i64>,
    start: Duration,
    end: Duration,
    op: &'static str,
}

/// Writes `version` to a key; returns the TTL it gave it, if any.
type Write = Arc<dyn Fn(&Key, i64) -> std::result::Result<Option<Duration>, String> + Send + Sync>;

struct Run {
    clock: Instant,
    keys: Vec<Key>,
    events: Mutex<Vec<Vec<Event>>>,
    /// Writers hold it shared for each write; a fault that changes data holds it alone.
    writes: RwLock<()>,
    stop: AtomicBool,
    versions: Vec<AtomicI64>,
    read_errors: AtomicU64,
}

impl Run {
    fn new(keys: Vec<Key>) -> Arc<Run> {
        let count = keys.len();
        Arc::new(Run {
            clock: Instant::now(),
            // Every key starts absent (a fresh namespace).
            events: Mutex::new(vec![
                vec![Event {
                    value: None,
                    start: Duration::ZERO,
                    end: Duration::ZERO,
                }];
                count
            ]),
            keys,
            writes: RwLock::new(()),
            stop: AtomicBool::new(false),
            versions: (0..count).map(|_| AtomicI64::new(0)).collect(),
            read_errors: AtomicU64::new(0),
        })
    }

    fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    fn record(&self, key: usize, value: Option<i64>, start: Duration, end: Duration) {
        self.events.lock().unwrap()[key].push(Event { value, start, end });
    }

    /// Every key absent from some moment in [start, end] (FLUSHALL, a restart without data).
    fn all_absent(&self, start: Duration, end: Duration) {
        for key in 0..self.keys.len() {
            self.record(key, None, start, end);
        }
    }

    /// Writes a new version of every key (a fault's "different data"), recorded.
    fn rewrite_all(&self, write: &Write) {
        for (i, key) in self.keys.iter().enumerate() {
            let version = self.versions[i].fetch_add(1, Ordering::SeqCst) + 1;
            let start = self.now();
            let ttl = write(key, version).expect("rewrite after the fault");
            let end = self.now();
            self.record(i, Some(version), start, end);
            if let Some(ttl) = ttl {
                self.record(i, None, start + ttl, end + ttl + Duration::from_millis(2));
            }
        }
    }
}

/// One key's writer: a new version, again and again, through `write`; retried until
/// acknowledged (a fault may be under way).
fn writer(run: Arc<Run>, key: usize, write: Write) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut rng = Rng::new(key as u64 + 7);
        while !run.stop.load(Ordering::SeqCst) {
            let guard = run.writes.read().unwrap();
            let version = run.versions[key].fetch_add(1, Ordering::SeqCst) + 1;
            let start = run.now();
            let mut outcome = write(&run.keys[key], version);
            while outcome.is_err() && !run.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
                outcome = write(&run.keys[key], version);
            }
            match outcome {
                Ok(ttl) => {
                    let end = run.now();
                    run.record(key, Some(version), start, end);
                    if let Some(ttl) = ttl {
                        // The key ends at some moment within its TTL after the write.
                        run.record(key, None, start + ttl, end + ttl + Duration::from_millis(2));
                    }
                    drop(guard);
                    // A temporary link is written again only once it surely expired.
                    let pause = match ttl {
                        Some(ttl) => ttl + Duration::from_millis(50),
                        None => Duration::from_millis(1 + rng.below(6)),
                    };
                    thread::sleep(pause);
                }
                Err(_) => {
                    // Stopped with the outcome unknown: it may have applied at any time from
                    // now on, so nothing before it is ever proved replaced.
                    run.record(key, Some(version), start, Duration::MAX);
                    return;
                }
            }
        }
    })
}

/// One reader: every key in turn through the cached executor, with each read op that serves it.
fn reader(run: Arc<Run>, ex: Arc<Executor>, seed: u64) -> thread::JoinHandle<Vec<Read>> {
    thread::spawn(move || {
        let mut reads = Vec::new();
        let mut rng = Rng::new(seed);
        let links: Vec<usize> = (0..run.keys.len())
            .filter(|&i| run.keys[i].kind == Kind::Link)
            .collect();
        let uids: Vec<&str> = links.iter().map(|&i| run.keys[i].name.as_str()).collect();
        let version = |text: Option<String>| text.map(|t| t[1..].parse::<i64>().unwrap());
        while !run.stop.load(Ordering::SeqCst) {
            let key = rng.below(run.keys.len() as u64) as usize;
            let spec = &run.keys[key];
            let start = run.now();
            let outcome: Result<Vec<(usize, Option<i64>, &'static str)>> = match spec.kind {
                Kind::Link | Kind::TempLink => match rng.below(3) {
                    0 if spec.kind == Kind::Link => {
                        ex.batch_get_linked_pods(NS, "chat", &uids).map(|pods| {
                            links
                                .iter()
                                .zip(pods)
                                .map(|(&i, pod)| (i, pod.map(i64::from), "batch_get_linked_pods"))
                                .collect()
                        })
                    }
                    1 if spec.kind == Kind::Link => ex
                        .get_linked_pod_if_persist(NS, &spec.name, "chat")
                        .map(|pod| vec![(key, pod.map(i64::from), "get_linked_pod_if_persist")]),
                    _ => ex
                        .get_linked_pod(NS, &spec.name, "chat")
                        .map(|pod| vec![(key, pod.map(i64::from), "get_linked_pod")]),
                },
                Kind::Workload => match rng.below(2) {
                    0 => ex
                        .get_workload_state(NS, &spec.name)
                        .map(|s| vec![(key, version(s), "get_workload_state")]),
                    _ => ex
                        .get_workload_states(NS, &[spec.name.as_str()])
                        .map(|s| vec![(key, version(s[0].clone()), "get_workload_states")]),
                },
                Kind::State => ex.get_service_state(NS, &spec.name).map(|states| {
                    vec![(key, version(states.get(&0).cloned()), "get_service_state")]
                }),
            };
            let end = run.now();
            match outcome {
                Ok(values) => {
                    for (key, value, op) in values {
                        reads.push(Read {
                            key,
                            value,
                            start,
                            end,
                            op,
                        });
                    }
                }
                Err(_) => {
                    run.read_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Busy enough to read each key hundreds of times a second, without starving the
            // threads that deliver the invalidations on a 2-core machine.
            thread::sleep(Duration::from_micros(200));
        }
        reads
    })
}

/// What the checker found.
struct Report {
    reads: usize,
    violations: Vec<String>,
    /// Per write: how long after its acknowledgement reads still returned what it replaced.
    lags: Vec<Duration>,
}

fn check(run: &Run, reads: &[Read], bound: Duration) -> Report {
    let mut events = run.events.lock().unwrap().clone();
    for key_events in &mut events {
        key_events.sort_by_key(|e| e.start);
    }
    let mut violations = Vec::new();
    // Per (key, index of the replacing event): the longest a read still saw the old value.
    let mut stale: BTreeMap<(usize, usize), Duration> = BTreeMap::new();
    for read in reads {
        let evs = &events[read.key];
        let earliest = read.start.saturating_sub(bound);
        let candidates: Vec<usize> = (0..evs.len())
            .filter(|&i| evs[i].value == read.value && evs[i].start <= read.end)
            .collect();
        let current_late_enough = candidates.iter().any(|&i| {
            let replaced_by = evs.get(i + 1).map_or(Duration::MAX, |next| next.end);
            replaced_by >= earliest
        });
        if !current_late_enough {
            violations.push(format!(
                "{} of {:?} began at {:?}, returned {:?}: {}",
                read.op,
                run.keys[read.key],
                read.start,
                read.value,
                match candidates.last() {
                    None => "a value never written before the read ended".to_string(),
                    Some(&i) => format!(
                        "replaced by {:?}, acknowledged at {:?}",
                        evs[i + 1].value,
                        evs[i + 1].end
                    ),
                }
            ));
            continue;
        }
        // The latest event the value could be: how stale was the read?
        if let Some(&i) = candidates.last() {
            if let Some(next) = evs.get(i + 1) {
                if next.end < read.start && next.value.is_some() {
                    let seen = stale.entry((read.key, i + 1)).or_default();
                    *seen = (*seen).max(read.start - next.end);
                }
            }
        }
    }
    let mut lags = Vec::new();
    for (key, evs) in events.iter().enumerate() {
        for (i, event) in evs.iter().enumerate() {
            if event.value.is_some() && event.end != Duration::MAX {
                lags.push(stale.get(&(key, i)).copied().unwrap_or_default());
            }
        }
    }
    lags.sort();
    Report {
        reads: reads.len(),
        violations,
        lags,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs writers (key -> how it is written) and readers on `cached` while `faults` runs; then
/// checks every read and prints the figures.
fn staleness_run(
    name: &str,
    cached: Arc<Executor>,
    keys: Vec<Key>,
    write_of: impl Fn(usize, &Key) -> Write,
    faults: impl FnOnce(&Arc<Run>),
) -> Report {
    let run = Run::new(keys);
    let writers: Vec<_> = (0..run.keys.len())
        .map(|i| writer(Arc::clone(&run), i, write_of(i, &run.keys[i])))
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|r| reader(Arc::clone(&run), Arc::clone(&cached), r as u64 + 100))
        .collect();
    faults(&run);
    run.stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let reads: Vec<Read> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let bound = MAX_AGE.min(CLIENT_CACHE_FRESHNESS);
    let report = check(&run, &reads, bound);
    let stats = cached.stats();
    let writes: usize = run.events.lock().unwrap().iter().map(Vec::len).sum();
    println!(
        "{name}: {} reads ({} failed during faults), {writes} changes, {} violations; \
         invalidation lag per write p50 {:?} p99 {:?} max {:?}; cache hits {} misses {} \
         invalidations {} flushes {}",
        report.reads,
        run.read_errors.load(Ordering::Relaxed),
        report.violations.len(),
        percentile(&report.lags, 0.5),
        percentile(&report.lags, 0.99),
        report.lags.last().copied().unwrap_or_default(),
        stats.cache_hits,
        stats.cache_misses,
        stats.cache_invalidations,
        stats.cache_flushes,
    );
    for violation in report.violations.iter().take(20) {
        println!("  VIOLATION {violation}");
    }
    assert!(
        report.violations.is_empty(),
        "{name}: {} reads returned values older than {bound:?}",
        report.violations.len()
    );
    assert!(report.reads > 1000, "{name}: only {} reads", report.reads);
    assert!(
        stats.cache_hits > 1000,
        "{name}: the cache served {} hits",
        stats.cache_hits
    );
    report
}

/// Waits `pause`, then checks that the cache serves hits again (it recovered from the fault).
fn settle_and_hit_again(ex: &Executor, pause: Duration, what: &str) {
    thread::sleep(pause);
    let hits = ex.stats().cache_hits;
    wait_until(
        &format!("hits again after {what}"),
        Duration::from_secs(10),
        || ex.stats().cache_hits > hits + 100,
    );
}

/// A raw client's write of `key` on the server `url` leads to (the current primary).
fn raw_write(url: &str, key: &Key, version: i64) -> std::result::Result<Option<Duration>, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let redis_key = key.redis_key();
    let value = version.to_string();
    let state = format!("v{version}");
    let mut ttl = None;
    let args: Vec<&str> = match key.kind {
        Kind::Link => vec!["SET", &redis_key, &value],
        Kind::TempLink => {
            ttl = Some(TEMP_TTL);
            vec!["SET", &redis_key, &value, "PX", "150"]
        }
        Kind::Workload => vec!["SET", &redis_key, &state],
        Kind::State => vec!["HSET", &redis_key, "0", &state],
    };
    try_raw(&mut conn, &args).map_err(|e| e.to_string())?;
    Ok(ttl)
}

/// An executor's write of `key` (temporary links for one second).
fn executor_write(
    ex: &Executor,
    key: &Key,
    version: i64,
) -> std::result::Result<Option<Duration>, String> {
    let state = format!("v{version}");
    let pod = Pod::try_from(version).unwrap();
    match key.kind {
        Kind::Link => ex
            .set_linked_pod(NS, &key.name, "chat", pod, Persistence::Persistent)
            .map(|_| None),
        Kind::TempLink => ex
            .set_linked_pod(
                NS,
                &key.name,
                "chat",
                pod,
                Persistence::Temporary { seconds: 1 },
            )
            .map(|_| Some(Duration::from_secs(1))),
        Kind::Workload => ex.set_workload_state(NS, &key.name, &state).map(|_| None),
        Kind::State => ex.set_service_state(NS, &key.name, 0, &state).map(|_| None),
    }
    .map_err(|e| e.to_string())
}

fn cached_config(config: &mut Config) {
    config.set_client_cache(10_000, MAX_AGE).unwrap();
    // Short enough that a killed server is noticed within the faults below.
    config
        .set_command_timeout(Duration::from_millis(500))
        .unwrap();
    config
        .set_connect_timeout(Duration::from_millis(500))
        .unwrap();
}

/// One server: every connection killed, FLUSHALL, SIGKILL and a restart with other data, and
/// temporary links expiring throughout.
#[test]
fn no_stale_read_on_one_server_under_faults() {
    let mut server = RedisServer::start();
    let url = server.url();
    let cached = Arc::new(server.executor_with(cached_config));
    let other = Arc::new(server.executor());
    let run_server = &mut server;
    let keys = keys(6);
    staleness_run(
        "one server",
        Arc::clone(&cached),
        keys,
        |i, _| {
            // Half the links through another executor, the rest behind the library's back.
            if i % 2 == 0 {
                let other = Arc::clone(&other);
                Arc::new(move |key: &Key, v| executor_write(&other, key, v))
            } else {
                let url = url.clone();
                Arc::new(move |key: &Key, v| raw_write(&url, key, v))
            }
        },
        |run| {
            settle_and_hit_again(&cached, Duration::from_millis(1500), "the start");
            // Every connection killed, the invalidation connection included.
            let mut admin = run_server.raw();
            raw_cmd(
                &mut admin,
                &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
            );
            raw_cmd(&mut admin, &["CLIENT", "KILL", "TYPE", "pubsub"]);
            settle_and_hit_again(&cached, Duration::from_millis(300), "CLIENT KILL");
            // FLUSHALL.
            {
                let _writes = run.writes.write().unwrap();
                let start = run.now();
                raw_cmd(&mut run_server.raw(), &["FLUSHALL"]);
                run.all_absent(start, run.now());
            }
            settle_and_hit_again(&cached, Duration::from_millis(300), "FLUSHALL");
            // SIGKILL, a restart with nothing, then other data.
            {
                let _writes = run.writes.write().unwrap();
                let start = run.now();
                run_server.kill();
                run.all_absent(start, run.now());
                thread::sleep(Duration::from_millis(300));
                run_server.restart();
                let url = run_server.url();
                let write: Write = Arc::new(move |key: &Key, v| raw_write(&url, key, v));
                run.rewrite_all(&write);
            }
            settle_and_hit_again(&cached, Duration::from_millis(300), "the restart");
            thread::sleep(Duration::from_millis(300));
        },
    );
}

/// A primary watched by Sentinel: a failover (SENTINEL FAILOVER) under load.
#[test]
fn no_stale_read_through_a_sentinel_failover() {
    let setup = SentinelSetup::start();
    let config = |cache: bool| {
        let mut config = Config::sentinel(&setup.sentinel_urls(), sentinel_master()).unwrap();
        if cache {
            cached_config(&mut config);
        }
        config
    };
    let cached = Arc::new(Executor::open(&config(true)).unwrap());
    let other = Arc::new(Executor::open(&config(false)).unwrap());
    let setup_ref = &setup;
    staleness_run(
        "sentinel",
        Arc::clone(&cached),
        keys(4),
        |i, _| {
            if i % 2 == 0 {
                let other = Arc::clone(&other);
                Arc::new(move |key: &Key, v| executor_write(&other, key, v))
            } else {
                // Behind the library's back, on the primary the sentinels name now.
                let sentinels = setup_ref.sentinel_urls();
                Arc::new(move |key: &Key, v| raw_write(&current_primary(&sentinels)?, key, v))
            }
        },
        |run| {
            settle_and_hit_again(&cached, Duration::from_millis(1500), "the start");
            {
                let _writes = run.writes.write().unwrap();
                // Nothing acknowledged may be lost with the old primary.
                let mut primary = setup_ref.primary.raw();
                raw_cmd(&mut primary, &["SET", "marker", "1"]);
                raw_cmd(&mut primary, &["WAIT", "1", "10000"]);
                raw_cmd(
                    &mut setup_ref.sentinels[0].raw(),
                    &["SENTINEL", "FAILOVER", sentinel_master()],
                );
                wait_until("the replica named", Duration::from_secs(60), || {
                    setup_ref.reported_primary_port() == Some(setup_ref.replica.port)
                });
                // Until the sentinels turn the old primary into a replica it still answers as
                // a primary, with what it had: a reader's pooled connection to it would read
                // that, cache or no cache (the library follows a failover on the first error
                // it meets: READONLY, a killed connection). Writes resume once it is one.
                wait_until("the old primary a replica", Duration::from_secs(60), || {
                    let role = try_raw(&mut setup_ref.primary.raw(), &["ROLE"]);
                    matches!(role, Ok(redis::Value::Array(f)) if text(f[0].clone()) == "slave")
                });
            }
            settle_and_hit_again(&cached, Duration::from_millis(500), "the failover");
            thread::sleep(Duration::from_millis(300));
        },
    );
}

fn sentinel_master() -> &'static str {
    "mymaster"
}

/// The primary the first sentinel that answers names.
fn current_primary(sentinels: &[String]) -> std::result::Result<String, String> {
    for url in sentinels {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            continue;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if let Ok(redis::Value::Array(fields)) = try_raw(
            &mut conn,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel_master()],
        ) {
            if fields.len() == 2 {
                return Ok(format!(
                    "redis://{}:{}",
                    text(fields[0].clone()),
                    text(fields[1].clone())
                ));
            }
        }
    }
    Err("no sentinel named the primary".into())
}

/// A Redis Cluster: a coordinated failover (CLUSTER FAILOVER) and a slot migration under load.
#[test]
fn no_stale_read_through_a_cluster_failover_and_a_slot_migration() {
    let cluster = Cluster::start(3, 1);
    let config = |cache: bool| {
        let mut config = Config::cluster(&cluster.urls()).unwrap();
        if cache {
            cached_config(&mut config);
        }
        config
    };
    let cached = Arc::new(Executor::open(&config(true)).unwrap());
    let other = Arc::new(Executor::open(&config(false)).unwrap());
    let cluster_ref = &cluster;
    let keys = keys(6);
    let moved_key = keys[1].redis_key();
    let failed_over_key = keys[0].redis_key();
    staleness_run(
        "cluster",
        Arc::clone(&cached),
        keys,
        |_, key| {
            if key.kind == Kind::TempLink {
                // Behind the library's back, on whichever node serves the key now.
                let ports: Vec<u16> = cluster_ref.nodes.iter().map(|n| n.port).collect();
                Arc::new(move |key: &Key, v| {
                    for port in &ports {
                        let url = format!("redis://127.0.0.1:{port}");
                        if let Ok(ttl) = raw_write(&url, key, v) {
                            return Ok(ttl);
                        }
                    }
                    Err("no node took the write".into())
                })
            } else {
                let other = Arc::clone(&other);
                Arc::new(move |key: &Key, v| executor_write(&other, key, v))
            }
        },
        |run| {
            settle_and_hit_again(&cached, Duration::from_millis(1500), "the start");
            // A coordinated failover: the replica takes over once it has every write.
            {
                let _writes = run.writes.write().unwrap();
                let primary = cluster_ref.primary_of_key(&failed_over_key);
                let replica = cluster_ref.replica_of(primary);
                raw_cmd(&mut cluster_ref.raw(replica), &["CLUSTER", "FAILOVER"]);
                wait_until("the replica's promotion", Duration::from_secs(30), || {
                    cluster_ref.primary_of_key(&failed_over_key) == replica
                });
                cluster_ref.wait_healthy();
            }
            settle_and_hit_again(&cached, Duration::from_millis(500), "the failover");
            // The slot of another key moves to another primary, keys and all.
            {
                let _writes = run.writes.write().unwrap();
                cluster_ref.migrate_slot_of(&moved_key);
            }
            settle_and_hit_again(&cached, Duration::from_millis(500), "the migration");
            thread::sleep(Duration::from_millis(300));
        },
    );
}
