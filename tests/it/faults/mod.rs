//! Faults done to real redis-server processes, one file per kind of fault:
//!
//! - restart.rs: the server killed (SIGKILL) and restarted, or not there at all;
//! - scripts.rs: its script cache flushed;
//! - pause.rs: a paused or sleeping server: command timeouts, pool timeouts, late replies;
//! - clients.rs: connections killed by the server, its client limit reached;
//! - cache.rs: the client cache's staleness checker, under kills, restarts, FLUSHALL, expiry,
//!   Sentinel and Cluster failovers and a slot migration;
//! - memory.rs: the server out of memory (what eviction policies do to links: see eviction.rs,
//!   one level up).
//!
//! In each file the checks of single calls come first, then the runs under load ([`LoadRun`]):
//! N threads call the executor while the fault happens, every call is timed and judged, and the
//! test prints what happened (errors by kind, slowest call, recovery time; run with
//! `--nocapture` to see the figures). Tests that assert timings start with `alone()`. A server
//! that sends what no Redis would is not a fault of this kind: see hostile_server.

mod cache;
mod clients;
mod memory;
mod pause;
mod restart;
mod scripts;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use stateful_executor::*;

const NS: &str = "faults";
const SVC: &str = "chat";

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
    Arc::new(server.executor_with(|config| {
        config.set_pool_max_size(pool).unwrap();
        config.set_connect_timeout(connect).unwrap();
        config.set_command_timeout(command).unwrap();
        config.set_pool_wait_timeout(wait).unwrap();
    }))
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
    Arc::new(server.executor_with(|config| {
        config.set_pool_max_size(pool).unwrap();
        config.set_connect_timeout(connect).unwrap();
        config.set_command_timeout(command).unwrap();
        config.set_pool_wait_timeout(wait).unwrap();
        config.set_pipelining(false);
    }))
}

/// The link key of `uid` (for the test's own commands).
fn link_key(uid: &str) -> String {
    format!("sf:{{{NS}:lk:{uid}}}{SVC}")
}

/// Fails with a message when `started` is more than `bound` ago.
fn assert_within(started: Instant, bound: Duration, what: &str) {
    let took = started.elapsed();
    assert!(took <= bound, "{what} took {took:?}, more than {bound:?}");
}

/// Waits until the server counts at least `n` connected clients.
fn wait_for_clients_at_least(raw: &mut redis::Connection, n: u64) {
    wait_until("the pool to fill", Duration::from_secs(20), || {
        info_u64(raw, "clients", "connected_clients") >= n
    });
}

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
fn prelinked_call(ex: &Executor, rec: &mut Recorder, rng: &mut Rng, prefix: &str, n: i32) {
    let i = rng.below(n as u64) as i32;
    let uid = format!("{prefix}{i}");
    let persistent = i % 5 != 0;
    match rng.below(6) {
        0 | 1 => {
            rec.call(
                false,
                || ex.get_linked_pod(NS, &uid, SVC),
                expect_pod(Some(i)),
            );
        }
        2 => {
            rec.call(
                false,
                || ex.get_linked_pod_if_persist(NS, &uid, SVC),
                expect_pod(persistent.then_some(i)),
            );
        }
        3 => {
            let js: Vec<i32> = (0..3).map(|_| rng.below(n as u64) as i32).collect();
            let uids: Vec<String> = js.iter().map(|j| format!("{prefix}{j}")).collect();
            let expected: Vec<Option<Pod>> = js.iter().map(|&j| Some(j)).collect();
            rec.call(
                false,
                || ex.batch_get_linked_pods(NS, SVC, &uids),
                expect(expected),
            );
        }
        4 => {
            let expected: BTreeMap<String, Pod> = if persistent {
                BTreeMap::from([(SVC.to_string(), i)])
            } else {
                BTreeMap::new()
            };
            rec.call(false, || ex.get_link_services(NS, &uid), expect(expected));
        }
        _ => {
            let persistence = if persistent {
                Persistence::Persistent
            } else {
                Persistence::temporary(3600)
            };
            rec.call(
                true,
                || ex.set_linked_pod(NS, &uid, SVC, i, persistence),
                expect_pod(Some(i)),
            );
        }
    }
}
