//! The read commands: states, workload, link, links-of-pod.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use stateful_executor::{keys, ErrorKind, Pod};

use crate::cli::{Context, LinkArgs, LinksOfPodArgs, ServiceArgs, WorkloadArgs};
use crate::fail::{Result, NOT_FOUND, OK};
use crate::layout::{self, Key};
use crate::out::{ttl_cell, ttl_seconds, yes_no, StreamTable};
use crate::scan::{read_strings, scan_node};

#[derive(Serialize)]
struct StateRow<'a> {
    ns: &'a str,
    service: &'a str,
    pod: Pod,
    state: &'a str,
}

pub fn states(ctx: &mut Context, args: &ServiceArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_service(&args.service)?;
    let states = ctx
        .target
        .executor()?
        .get_service_state(&args.ns, &args.service)?;
    if states.is_empty() {
        eprintln!(
            "sfctl: no pod states for service {:?} in namespace {:?}",
            args.service, args.ns
        );
        return Ok(NOT_FOUND);
    }
    let out = &mut ctx.out;
    if out.json {
        for (&pod, state) in &states {
            out.json(&StateRow {
                ns: &args.ns,
                service: &args.service,
                pod,
                state,
            })?;
        }
    } else {
        let rows = states
            .iter()
            .map(|(pod, state)| vec![pod.to_string(), state.clone()])
            .collect();
        out.table(&["POD", "STATE"], rows)?;
    }
    Ok(OK)
}

#[derive(Serialize)]
struct WorkloadRow<'a> {
    ns: &'a str,
    service: &'a str,
    state: Option<&'a str>,
}

pub fn workload(ctx: &mut Context, args: &WorkloadArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    for service in &args.services {
        keys::check_service(service)?;
    }
    let states = ctx
        .target
        .executor()?
        .get_workload_states(&args.ns, &args.services)?;
    let out = &mut ctx.out;
    if out.json {
        for (service, state) in args.services.iter().zip(&states) {
            out.json(&WorkloadRow {
                ns: &args.ns,
                service,
                state: state.as_deref(),
            })?;
        }
    } else {
        let rows = args
            .services
            .iter()
            .zip(&states)
            .map(|(service, state)| {
                vec![
                    service.clone(),
                    state.clone().unwrap_or_else(|| "(none)".into()),
                ]
            })
            .collect();
        out.table(&["SERVICE", "STATE"], rows)?;
    }
    let missing = states.iter().filter(|s| s.is_none()).count();
    if missing > 0 {
        eprintln!(
            "sfctl: {missing} of {} services have no workload state",
            states.len()
        );
        return Ok(NOT_FOUND);
    }
    Ok(OK)
}

/// One link as the `link` and `links-of-pod` commands show it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub ns: String,
    pub uid: String,
    pub service: String,
    pub pod: Pod,
    pub persistent: bool,
    /// Seconds left for a temporary link, rounded up; null for a persistent one.
    pub ttl_seconds: Option<u64>,
}

impl LinkRow {
    fn cells(&self) -> Vec<String> {
        vec![
            self.service.clone(),
            self.pod.to_string(),
            yes_no(self.persistent),
            ttl_cell(self.ttl_seconds),
        ]
    }
}

pub fn link(ctx: &mut Context, args: &LinkArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_uid(&args.uid)?;
    if let Some(service) = &args.service {
        keys::check_service(service)?;
    }
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let listed = executor.get_link_services(&args.ns, &args.uid)?;
    let services: BTreeSet<String> = match &args.service {
        Some(service) => [service.clone()].into(),
        None => {
            // Temporary links are in no hash: find them by their keys, on the node holding the uid.
            let mut services: BTreeSet<String> = listed.keys().cloned().collect();
            let node = nodes.for_key(keys::uid_links_key(&args.ns, &args.uid).as_bytes());
            let pattern = layout::uid_links_pattern(&args.ns, &args.uid);
            scan_node(
                node,
                &pattern,
                Some("string"),
                &AtomicBool::new(false),
                |_, found| {
                    for key in found {
                        if let Key::Link { uid, service } = layout::classify(&args.ns, &key) {
                            if uid == args.uid {
                                services.insert(service);
                            }
                        }
                    }
                    Ok(())
                },
            )?;
            services
        }
    };
    let mut rows = Vec::new();
    let mut corrupt = 0;
    for service in &services {
        let pod = match executor.get_linked_pod(&args.ns, &args.uid, service) {
            Ok(pod) => pod,
            Err(err) if err.kind() == ErrorKind::UnexpectedReply => {
                eprintln!("sfctl: {err}");
                corrupt += 1;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let key = keys::link_key(&args.ns, &args.uid, service);
        let pttl: i64 = nodes.query_key(key.as_bytes(), redis::cmd("PTTL").arg(&key))?;
        if let Some(listed_pod) = listed.get(service) {
            if pod != Some(*listed_pod) || pttl != -1 {
                eprintln!(
                    "sfctl: note: the uid's hash lists {service} -> pod {listed_pod}, which the link \
                     key does not match (see sfctl check)"
                );
            }
        }
        // Gone between the two reads (expired), or absent: not a link.
        let (Some(pod), false) = (pod, pttl == -2) else {
            continue;
        };
        rows.push(LinkRow {
            ns: args.ns.clone(),
            uid: args.uid.clone(),
            service: service.clone(),
            pod,
            persistent: pttl == -1,
            ttl_seconds: ttl_seconds(pttl),
        });
    }
    let out = &mut ctx.out;
    if out.json {
        for row in &rows {
            out.json(row)?;
        }
    } else if !rows.is_empty() {
        out.table(
            &["SERVICE", "POD", "PERSISTENT", "TTL"],
            rows.iter().map(LinkRow::cells).collect(),
        )?;
    }
    if corrupt > 0 {
        return Ok(crate::fail::FAILED);
    }
    if rows.is_empty() {
        let what = match &args.service {
            Some(service) => format!("no link of uid {:?} to service {service:?}", args.uid),
            None => format!("no link of uid {:?}", args.uid),
        };
        eprintln!("sfctl: {what} in namespace {:?}", args.ns);
        return Ok(NOT_FOUND);
    }
    Ok(OK)
}

pub fn links_of_pod(ctx: &mut Context, args: &LinksOfPodArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_service(&args.service)?;
    let mut nodes = ctx.target.nodes()?;
    let pattern = layout::service_links_pattern(&args.ns, &args.service);
    let never = AtomicBool::new(false);
    let (mut scanned, mut found, mut corrupt) = (0u64, 0u64, 0u64);
    let mut table = StreamTable::new(&["UID", "PERSISTENT", "TTL"]);
    let out = &mut ctx.out;
    for node in &mut nodes.nodes {
        scan_node(node, &pattern, Some("string"), &never, |node, batch| {
            let links = layout::service_links(&args.ns, &args.service, &batch);
            scanned += links.len() as u64;
            let keys: Vec<&[u8]> = links.iter().map(|(_, key)| *key).collect();
            let reads = read_strings(node, &keys)?;
            let mut rows = Vec::new();
            for ((uid, key), read) in links.iter().zip(reads) {
                let Some(value) = read.value else { continue };
                match keys::parse_pod(&value) {
                    Some(pod) if pod == args.pod => rows.push(LinkRow {
                        ns: args.ns.clone(),
                        uid: uid.clone(),
                        service: args.service.clone(),
                        pod,
                        persistent: read.pttl_ms == -1,
                        ttl_seconds: ttl_seconds(read.pttl_ms),
                    }),
                    Some(_) => {}
                    None => {
                        corrupt += 1;
                        eprintln!(
                            "sfctl: key {} holds {:?}, which is not a pod ordinal",
                            String::from_utf8_lossy(key),
                            String::from_utf8_lossy(&value)
                        );
                    }
                }
            }
            found += rows.len() as u64;
            if out.json {
                for row in &rows {
                    out.json(row)?;
                }
            } else {
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| vec![r.uid.clone(), yes_no(r.persistent), ttl_cell(r.ttl_seconds)])
                    .collect();
                table.rows(out, &cells)?;
            }
            out.flush()
        })?;
    }
    out.flush()?;
    eprintln!(
        "sfctl: {found} uids linked to pod {} of {:?} ({scanned} links of the service scanned on {} node(s){})",
        args.pod,
        args.service,
        nodes.nodes.len(),
        if corrupt > 0 { format!(", {corrupt} corrupt") } else { String::new() }
    );
    Ok(if found == 0 { NOT_FOUND } else { OK })
}
