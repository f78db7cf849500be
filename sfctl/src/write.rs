//! The write commands: set-state, set-workload, set-link, unlink. Each writes through the
//! library and prints what was there before.

use serde::Serialize;
use stateful_executor::{keys, Grace, Persistence, Pod};

use crate::cli::{Context, SetLinkArgs, SetStateArgs, SetWorkloadArgs, UnlinkArgs};
use crate::conn::Nodes;
use crate::fail::{Result, NOT_FOUND, OK};
use crate::out::{ttl_cell, ttl_seconds, yes_no};

#[derive(Serialize)]
struct Before<'a> {
    state: &'a str,
}

#[derive(Serialize)]
struct StateChange<'a> {
    ns: &'a str,
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<Pod>,
    state: &'a str,
    before: Option<Before<'a>>,
}

fn print_state_change(ctx: &mut Context, change: &StateChange) -> Result<()> {
    if ctx.out.json {
        return ctx.out.json(change);
    }
    let before = change.before.as_ref().map_or("(none)", |b| b.state);
    ctx.out.table(
        &["", "STATE"],
        vec![
            vec!["before".into(), before.into()],
            vec!["now".into(), change.state.into()],
        ],
    )
}

pub fn set_state(ctx: &mut Context, args: &SetStateArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_service(&args.service)?;
    keys::check_state("pod state", &args.state)?;
    let executor = ctx.target.executor()?;
    let before = executor
        .get_service_state(&args.ns, &args.service)?
        .remove(&args.pod);
    executor.set_service_state(&args.ns, &args.service, args.pod, &args.state)?;
    print_state_change(
        ctx,
        &StateChange {
            ns: &args.ns,
            service: &args.service,
            pod: Some(args.pod),
            state: &args.state,
            before: before.as_deref().map(|state| Before { state }),
        },
    )?;
    Ok(OK)
}

pub fn set_workload(ctx: &mut Context, args: &SetWorkloadArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_service(&args.service)?;
    keys::check_state("workload state", &args.state)?;
    let executor = ctx.target.executor()?;
    let before = executor.get_workload_state(&args.ns, &args.service)?;
    executor.set_workload_state(&args.ns, &args.service, &args.state)?;
    print_state_change(
        ctx,
        &StateChange {
            ns: &args.ns,
            service: &args.service,
            pod: None,
            state: &args.state,
            before: before.as_deref().map(|state| Before { state }),
        },
    )?;
    Ok(OK)
}

/// A link as it was or is: its pod and, when known, whether it is persistent and its TTL.
#[derive(Serialize, Clone, Copy)]
struct LinkState {
    pod: Pod,
    persistent: Option<bool>,
    ttl_seconds: Option<u64>,
}

impl LinkState {
    fn cells(&self, label: &str) -> Vec<String> {
        vec![
            label.to_string(),
            self.pod.to_string(),
            self.persistent.map_or_else(|| "?".into(), yes_no),
            ttl_cell(self.ttl_seconds),
        ]
    }
}

/// The link's pod and PTTL as stored now, read behind the library (for the report only: the
/// pod a write replaced comes from the write itself).
fn peek_link(nodes: &mut Nodes, ns: &str, uid: &str, service: &str) -> Result<(Option<Pod>, i64)> {
    let key = keys::link_key(ns, uid, service);
    let (value, pttl): (Option<Vec<u8>>, i64) = nodes.pipe_key(
        key.as_bytes(),
        redis::pipe().cmd("GET").arg(&key).cmd("PTTL").arg(&key),
    )?;
    Ok((value.and_then(|v| keys::parse_pod(&v)), pttl))
}

/// The link that was there: `pod` as the write reported it, with the persistence read just
/// before when that read saw the same pod.
fn before_state(pod: Option<Pod>, peeked: (Option<Pod>, i64)) -> Option<LinkState> {
    let pod = pod?;
    let known = peeked.0 == Some(pod);
    Some(LinkState {
        pod,
        persistent: known.then_some(peeked.1 == -1),
        ttl_seconds: if known { ttl_seconds(peeked.1) } else { None },
    })
}

#[derive(Serialize)]
struct LinkChange<'a> {
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistent: bool,
    ttl_seconds: Option<u64>,
    before: Option<LinkState>,
}

pub fn set_link(ctx: &mut Context, args: &SetLinkArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_uid(&args.uid)?;
    keys::check_service(&args.service)?;
    let persistence = match args.ttl {
        Some(seconds) => Persistence::temporary(seconds),
        None => Persistence::Persistent,
    };
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let peeked = peek_link(&mut nodes, &args.ns, &args.uid, &args.service)?;
    let previous =
        executor.set_linked_pod(&args.ns, &args.uid, &args.service, args.pod, persistence)?;
    let change = LinkChange {
        ns: &args.ns,
        uid: &args.uid,
        service: &args.service,
        pod: args.pod,
        persistent: args.ttl.is_none(),
        ttl_seconds: args.ttl.map(u64::from),
        before: before_state(previous, peeked),
    };
    if ctx.out.json {
        ctx.out.json(&change)?;
    } else {
        let now = LinkState {
            pod: change.pod,
            persistent: Some(change.persistent),
            ttl_seconds: change.ttl_seconds,
        };
        let before = match &change.before {
            Some(before) => before.cells("before"),
            None => vec!["before".into(), "(none)".into(), "".into(), "".into()],
        };
        ctx.out.table(
            &["", "POD", "PERSISTENT", "TTL"],
            vec![before, now.cells("now")],
        )?;
    }
    Ok(OK)
}

#[derive(Serialize)]
struct Unlinked<'a> {
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    removed: bool,
    /// Seconds the removed link is kept as a temporary one; null: deleted.
    grace_seconds: Option<u32>,
    before: Option<LinkState>,
}

pub fn unlink(ctx: &mut Context, args: &UnlinkArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_uid(&args.uid)?;
    keys::check_service(&args.service)?;
    let grace = match args.grace {
        0 => Grace::Immediate,
        seconds => Grace::Seconds(seconds),
    };
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let peeked = peek_link(&mut nodes, &args.ns, &args.uid, &args.service)?;
    let removed = match args.if_pod {
        Some(pod) => {
            executor.remove_linked_pod_with_id(&args.ns, &args.uid, &args.service, grace, pod)?
        }
        None => executor.remove_linked_pod(&args.ns, &args.uid, &args.service, grace)?,
    };
    // What was there is what the read before the removal saw (the removal returns no pod).
    let before = peeked.0.map(|pod| LinkState {
        pod,
        persistent: Some(peeked.1 == -1),
        ttl_seconds: ttl_seconds(peeked.1),
    });
    let report = Unlinked {
        ns: &args.ns,
        uid: &args.uid,
        service: &args.service,
        removed,
        grace_seconds: (removed && args.grace > 0).then_some(args.grace),
        before,
    };
    if ctx.out.json {
        ctx.out.json(&report)?;
    } else if removed {
        let mut rows = Vec::new();
        if let Some(before) = &report.before {
            rows.push(before.cells("removed"));
        }
        ctx.out.table(&["", "POD", "PERSISTENT", "TTL"], rows)?;
        if args.grace > 0 {
            ctx.out
                .line(&format!("kept as a temporary link for {} s", args.grace))?;
        }
    }
    if !removed {
        match (args.if_pod, peeked.0) {
            (Some(wanted), Some(pod)) if wanted != pod => eprintln!(
                "sfctl: not removed: uid {:?} is linked to pod {pod} of {:?}, not {wanted}",
                args.uid, args.service
            ),
            _ => eprintln!(
                "sfctl: not removed: uid {:?} has no link to service {:?} in namespace {:?}",
                args.uid, args.service, args.ns
            ),
        }
        return Ok(NOT_FOUND);
    }
    Ok(OK)
}
