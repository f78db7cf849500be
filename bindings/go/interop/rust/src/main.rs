//! Interoperation check, Rust side: writes the interop data set into namespace NS, or reads it
//! back and prints it in the canonical form that the Go and C programs print too.
//!
//!     sfexec-interop URL write NS
//!     sfexec-interop URL read NS

use std::process::ExitCode;

use stateful_executor::{Config, Executor, Persistence, Result};

const UID_A: &str = "用户-🎉";

fn write_set(ex: &Executor, ns: &str) -> Result<()> {
    ex.set_service_state(ns, "聊天", 0, "Running")?;
    ex.set_service_state(ns, "聊天", 1, "排空中 🚧")?;
    ex.set_workload_state(ns, "聊天", "Available ✅")?;
    ex.set_workload_state(ns, "game/room", "READY")?;
    ex.set_linked_pod(ns, UID_A, "聊天", 1, Persistence::Persistent)?;
    ex.set_linked_pod(ns, "user-2", "聊天", 0, Persistence::temporary(3600))?;
    ex.set_linked_pod(ns, UID_A, "game/room", 7, Persistence::Persistent)?;
    Ok(())
}

fn pod(p: Option<i32>) -> i32 {
    p.unwrap_or(-1)
}

fn read_set(ex: &Executor, ns: &str) -> Result<()> {
    for (p, state) in ex.get_service_state(ns, "聊天")? {
        println!("state 聊天 {p} {state}");
    }
    let services = ["聊天", "game/room", "nobody"];
    for (svc, state) in services.iter().zip(ex.get_workload_states(ns, &services)?) {
        println!("workload {svc} {}", state.as_deref().unwrap_or("-"));
    }
    for (uid, svc) in [
        (UID_A, "聊天"),
        ("user-2", "聊天"),
        (UID_A, "game/room"),
        ("nobody", "聊天"),
    ] {
        let linked = ex.get_linked_pod(ns, uid, svc)?;
        let persistent = ex.get_linked_pod_if_persist(ns, uid, svc)?;
        let kind = match (linked, persistent) {
            (None, _) => "none",
            (Some(a), Some(b)) if a == b => "persistent",
            _ => "temporary",
        };
        println!("link {uid} {svc} {} {kind}", pod(linked));
    }
    for uid in [UID_A, "user-2"] {
        let links: Vec<String> = ex
            .get_link_services(ns, uid)?
            .into_iter()
            .map(|(svc, p)| format!(" {svc}={p}"))
            .collect();
        println!("services {uid}{}", links.concat());
    }
    let pods = ex.batch_get_linked_pods(ns, "聊天", &[UID_A, "user-2", "nobody"])?;
    println!(
        "batch 聊天 {} {} {}",
        pod(pods[0]),
        pod(pods[1]),
        pod(pods[2])
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 || (args[2] != "write" && args[2] != "read") {
        eprintln!("usage: sfexec-interop URL write|read NS");
        return ExitCode::from(2);
    }
    let result = Config::new(&args[1])
        .and_then(|config| Executor::open(&config))
        .and_then(|ex| {
            if args[2] == "write" {
                write_set(&ex, &args[3])
            } else {
                read_set(&ex, &args[3])
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("interop: {err}");
            ExitCode::FAILURE
        }
    }
}
