//! A gateway in front of a stateful chat service, against the Redis at $REDIS_URL.
//!
//! Pods publish their states, users are linked to the least-loaded running pod, reconnects
//! stick, a pod drains and its users are released with a grace period, and a batch lookup shows
//! where everyone is. Run with `make demo` (Rust flavour: `make demo-rust`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use stateful_executor::{Candidate, Config, Executor, Grace, Persistence, Pod, Result};

const NS: &str = "demo";
const SERVICE: &str = "chat";

fn main() -> ExitCode {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Candidates for a new user: running pods, loaded by how many of `users` each serves.
fn running_candidates(executor: &Executor, users: &[String]) -> Result<Vec<Candidate>> {
    let states = executor.get_service_state(NS, SERVICE)?;
    let placed = executor.batch_get_linked_pods_by_pod(NS, SERVICE, users)?;
    Ok(states
        .iter()
        .filter(|(_, state)| state.as_str() == "Running")
        .map(|(&pod, _)| Candidate::new(pod, placed.get(&pod).map_or(0, |u| u.len() as i64)))
        .collect())
}

fn run(url: &str) -> Result<()> {
    let executor = Executor::open(&Config::new(url)?)?;
    executor.ping()?;
    println!(
        "== gateway connected (pool of up to {} connections)",
        executor.config().pool_max_size()
    );
    let users: Vec<String> = (1..=6).map(|i| format!("user-{i}")).collect();
    // Start from a clean slate when run twice against the same Redis.
    for uid in users.iter().map(String::as_str).chain(["user-7"]) {
        executor.remove_linked_pod(NS, uid, SERVICE, Grace::Immediate)?;
    }

    println!("\n== pods of {NS}/{SERVICE} publish their states");
    for pod in 0..3 {
        executor.set_service_state(NS, SERVICE, pod, "Running")?;
    }
    executor.set_workload_state(NS, SERVICE, "Available")?;
    for (pod, state) in executor.get_service_state(NS, SERVICE)? {
        println!("   pod {pod}: {state}");
    }
    println!(
        "   workload: {}",
        executor
            .get_workload_state(NS, SERVICE)?
            .unwrap_or_default()
    );

    println!("\n== users connect and go to the least-loaded running pod");
    for uid in &users {
        let candidates = running_candidates(&executor, &users)?;
        let pod =
            executor.compute_linked_pod(NS, uid, SERVICE, Persistence::Persistent, &candidates)?;
        println!("   {uid} -> pod {}", show(pod));
    }

    println!("\n== user-1 reconnects: the link sticks");
    let candidates = running_candidates(&executor, &users)?;
    let again =
        executor.compute_linked_pod(NS, "user-1", SERVICE, Persistence::Persistent, &candidates)?;
    println!("   user-1 -> pod {} (unchanged)", show(again));
    println!(
        "   user-1's persistent links: {:?}",
        executor.get_link_services(NS, "user-1")?
    );

    println!("\n== pod 2 drains: its users are released with a 30 s grace period");
    executor.set_service_state(NS, SERVICE, 2, "Draining")?;
    let placed = executor.batch_get_linked_pods_by_pod(NS, SERVICE, &users)?;
    for uid in placed.get(&2).into_iter().flatten() {
        let removed =
            executor.remove_linked_pod_with_id(NS, uid, SERVICE, Grace::Seconds(30), 2)?;
        println!(
            "   {uid}: released={removed}; still on pod {} for the grace period, persistent now: {}",
            show(executor.get_linked_pod(NS, uid, SERVICE)?),
            show(executor.get_linked_pod_if_persist(NS, uid, SERVICE)?)
        );
    }

    println!("\n== a new user cannot land on the draining pod");
    let candidates = running_candidates(&executor, &users)?;
    let pod = executor.compute_linked_pod(
        NS,
        "user-7",
        SERVICE,
        Persistence::temporary(600),
        &candidates,
    )?;
    println!("   user-7 -> pod {} (temporary link, 600 s)", show(pod));

    println!("\n== another gateway tries to move user-1, but its persistent link wins");
    let tried = executor.try_set_linked_pod(NS, "user-1", SERVICE, 1, Persistence::Persistent)?;
    println!("   linked={} current pod {}", tried.linked, tried.pod);

    println!("\n== batch lookup of every user");
    let mut all = users.clone();
    all.push("user-7".into());
    let pods = executor.batch_get_linked_pods(NS, SERVICE, &all)?;
    let by_pod: BTreeMap<String, Vec<&str>> =
        all.iter()
            .zip(&pods)
            .fold(BTreeMap::new(), |mut acc, (uid, pod)| {
                acc.entry(format!("pod {}", show(*pod)))
                    .or_default()
                    .push(uid);
                acc
            });
    for (pod, uids) in by_pod {
        println!("   {pod}: {}", uids.join(", "));
    }
    let stats = executor.stats();
    println!(
        "\n== statistics: {} calls, {} failed, {} retried, {} connections ({} idle)",
        stats.calls, stats.failed_calls, stats.retries, stats.connections, stats.idle_connections
    );
    println!("\ndone");
    Ok(())
}

fn show(pod: Option<Pod>) -> String {
    pod.map_or_else(|| "none".into(), |p| p.to_string())
}
