//! export and import: a namespace's states, workload states and links as JSON lines.
//!
//! One record per line, `kind` first: `state` (ns, service, pod, state), `workload` (ns,
//! service, state), `link` (ns, uid, service, pod, persistent, ttl_seconds). Export streams a
//! SCAN of every node; import checks the whole file, then writes through the library's
//! operations (a persistent link gets its uid hash field from `set_linked_pod`, so uid hashes are
//! not records of their own).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use stateful_executor::{keys, BatchOp, BatchOutcome, Persistence, Pod};

use crate::cli::{Context, ExportArgs, ImportArgs};
use crate::fail::{code_of, Fail, Result, CONNECTION, FAILED, OK};
use crate::layout::{self, Key};
use crate::out::{byte_bar, spinner, ttl_seconds};
use crate::scan::{read_strings, scan_node};

/// One line of an export file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Record {
    /// The state of one pod.
    State {
        ns: String,
        service: String,
        pod: Pod,
        state: String,
    },
    /// The workload state of a service.
    Workload {
        ns: String,
        service: String,
        state: String,
    },
    /// A link; `ttl_seconds` is the time it had left at export (null when persistent).
    Link {
        ns: String,
        uid: String,
        service: String,
        pod: Pod,
        persistent: bool,
        ttl_seconds: Option<u64>,
    },
}

#[derive(Default, Serialize)]
struct Counts {
    states: u64,
    workloads: u64,
    links: u64,
}

pub fn export(ctx: &mut Context, args: &ExportArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    let ns = args.ns.as_str();
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let node_count = nodes.nodes.len();
    let pattern = layout::namespace_pattern(ns);
    let never = AtomicBool::new(false);
    let bar = spinner();
    let mut counts = Counts::default();
    let mut skipped = 0u64;
    let out = &mut ctx.out;
    for (index, node) in nodes.nodes.iter_mut().enumerate() {
        scan_node(node, &pattern, None, &never, |node, batch| {
            let mut pipe = redis::pipe();
            for key in &batch {
                pipe.cmd("TYPE").arg(key);
            }
            let kinds: Vec<String> = pipe
                .query(&mut node.conn)
                .map_err(|e| Fail::from(e).context(&node.name))?;
            let mut links = Vec::new();
            for (key, kind) in batch.iter().zip(kinds) {
                let class = layout::classify(ns, key);
                if kind == "none" || matches!(class, Key::UidLinks { .. }) {
                    continue; // gone since the SCAN; uid hashes follow from the links
                }
                if class.expected_type() != Some(kind.as_str()) {
                    skipped += 1;
                    continue;
                }
                match class {
                    Key::State { service } => {
                        for (pod, state) in executor.get_service_state(ns, &service)? {
                            counts.states += 1;
                            out.json(&Record::State {
                                ns: ns.to_string(),
                                service: service.clone(),
                                pod,
                                state,
                            })?;
                        }
                    }
                    Key::Workload { service } => {
                        if let Some(state) = executor.get_workload_state(ns, &service)? {
                            counts.workloads += 1;
                            out.json(&Record::Workload {
                                ns: ns.to_string(),
                                service,
                                state,
                            })?;
                        }
                    }
                    Key::Link { uid, service } => links.push((key.as_slice(), uid, service)),
                    Key::UidLinks { .. } | Key::Other => {}
                }
            }
            let keys: Vec<&[u8]> = links.iter().map(|(key, _, _)| *key).collect();
            for ((_, uid, service), read) in links.into_iter().zip(read_strings(node, &keys)?) {
                let Some(value) = read.value else { continue };
                let Some(pod) = keys::parse_pod(&value) else {
                    skipped += 1;
                    continue;
                };
                counts.links += 1;
                out.json(&Record::Link {
                    ns: ns.to_string(),
                    uid,
                    service,
                    pod,
                    persistent: read.pttl_ms == -1,
                    ttl_seconds: ttl_seconds(read.pttl_ms),
                })?;
            }
            bar.set_message(format!(
                "node {}/{node_count}  {} states  {} workloads  {} links",
                index + 1,
                counts.states,
                counts.workloads,
                counts.links
            ));
            Ok(())
        })?;
    }
    out.flush()?;
    bar.finish_and_clear();
    eprintln!(
        "sfctl: exported {} pod states, {} workload states, {} links of namespace {ns:?}",
        counts.states, counts.workloads, counts.links
    );
    if skipped > 0 {
        eprintln!(
            "sfctl: skipped {skipped} keys that are not in the documented format (sfctl check {ns} lists them)"
        );
    }
    Ok(OK)
}

/// A record checked by the library's rules, in the namespace it is written to.
fn checked(mut record: Record, ns_override: Option<&str>) -> std::result::Result<Record, String> {
    let err = |e: stateful_executor::Error| e.message().to_string();
    match &mut record {
        Record::State {
            ns,
            service,
            pod,
            state,
        } => {
            if let Some(new) = ns_override {
                *ns = new.to_string();
            }
            keys::check_namespace(ns).map_err(err)?;
            keys::check_service(service).map_err(err)?;
            keys::check_pod(*pod).map_err(err)?;
            keys::check_state("pod state", state).map_err(err)?;
        }
        Record::Workload { ns, service, state } => {
            if let Some(new) = ns_override {
                *ns = new.to_string();
            }
            keys::check_namespace(ns).map_err(err)?;
            keys::check_service(service).map_err(err)?;
            keys::check_state("workload state", state).map_err(err)?;
        }
        Record::Link {
            ns,
            uid,
            service,
            pod,
            persistent,
            ttl_seconds,
        } => {
            if let Some(new) = ns_override {
                *ns = new.to_string();
            }
            keys::check_namespace(ns).map_err(err)?;
            keys::check_uid(uid).map_err(err)?;
            keys::check_service(service).map_err(err)?;
            keys::check_pod(*pod).map_err(err)?;
            match (*persistent, *ttl_seconds) {
                (true, None) => {}
                (false, Some(ttl)) if (1..=i32::MAX as u64).contains(&ttl) => {}
                (true, Some(_)) => return Err("a persistent link has no ttl_seconds".into()),
                (false, _) => {
                    return Err("a temporary link needs ttl_seconds in 1..=2147483647".into())
                }
            }
        }
    }
    Ok(record)
}

/// Each record of the file (numbered from 1), checked; blank lines skipped.
fn records<'a>(
    file: &'a std::path::Path,
    ns: Option<&'a str>,
) -> Result<impl Iterator<Item = Result<(usize, u64, Record)>> + 'a> {
    let reader = BufReader::new(
        File::open(file)
            .map_err(|e| Fail::usage(format!("cannot read {}: {e}", file.display())))?,
    );
    let shown = file.display().to_string();
    Ok(reader
        .split(b'\n')
        .enumerate()
        .filter_map(move |(index, line)| {
            let number = index + 1;
            let line = match line {
                Ok(line) => line,
                Err(e) => return Some(Err(Fail::failed(format!("{shown}: {e}")))),
            };
            let bytes = line.len() as u64 + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            let record = serde_json::from_slice::<Record>(&line)
                .map_err(|e| e.to_string())
                .and_then(|r| checked(r, ns))
                .map_err(|e| Fail::usage(format!("{shown}:{number}: {e}")));
            Some(record.map(|r| (number, bytes, r)))
        }))
}

/// Records written together (one round trip on one server).
const IMPORT_GROUP: usize = 500;

pub fn import(ctx: &mut Context, args: &ImportArgs) -> Result<u8> {
    let ns = args.ns.as_deref();
    if let Some(ns) = ns {
        keys::check_namespace(ns)?;
    }
    // The whole file first: a bad line anywhere writes nothing.
    let mut total = 0u64;
    let mut size = 0u64;
    for record in records(&args.file, ns)? {
        let (_, bytes, _) = record?;
        total += 1;
        size += bytes;
    }
    let executor = ctx.target.executor()?;
    let bar = byte_bar(size);
    let mut counts = Counts::default();
    let (mut replaced, mut failed) = (0u64, 0u64);
    let mut group: Vec<(usize, Record)> = Vec::with_capacity(IMPORT_GROUP);
    let mut flush = |group: &mut Vec<(usize, Record)>| -> Result<()> {
        let ops: Vec<BatchOp> = group
            .iter()
            .map(|(_, record)| match record {
                Record::State {
                    ns,
                    service,
                    pod,
                    state,
                } => BatchOp::SetServiceState {
                    ns,
                    service,
                    pod: *pod,
                    state,
                },
                Record::Workload { ns, service, state } => {
                    BatchOp::SetWorkloadState { ns, service, state }
                }
                Record::Link {
                    ns,
                    uid,
                    service,
                    pod,
                    ttl_seconds,
                    ..
                } => BatchOp::SetLinkedPod {
                    ns,
                    uid,
                    service,
                    pod: *pod,
                    // Checked: 1..=i32::MAX.
                    persistence: ttl_seconds.map_or(Persistence::Persistent, |s| {
                        Persistence::temporary(s as u32)
                    }),
                },
            })
            .collect();
        for ((line, record), outcome) in group.iter().zip(executor.execute_batch(&ops)) {
            match (record, outcome) {
                (Record::State { .. }, Ok(_)) => counts.states += 1,
                (Record::Workload { .. }, Ok(_)) => counts.workloads += 1,
                (Record::Link { pod, .. }, Ok(previous)) => {
                    counts.links += 1;
                    if matches!(previous, BatchOutcome::Pod(Some(p)) if p != *pod) {
                        replaced += 1;
                    }
                }
                (_, Err(err)) if code_of(err.kind()) == CONNECTION => {
                    return Err(Fail::from(err).context(&format!("line {line}")))
                }
                (_, Err(err)) => {
                    failed += 1;
                    if failed <= 5 {
                        eprintln!("sfctl: {}:{line}: {err}", args.file.display());
                    }
                }
            }
        }
        group.clear();
        Ok(())
    };
    for record in records(&args.file, ns)? {
        let (line, bytes, record) = record?;
        bar.inc(bytes);
        group.push((line, record));
        if group.len() == IMPORT_GROUP {
            flush(&mut group)?;
        }
    }
    flush(&mut group)?;
    bar.finish_and_clear();
    let summary = format!(
        "imported {} pod states, {} workload states, {} links ({replaced} replaced a link to \
         another pod) from {total} records",
        counts.states, counts.workloads, counts.links
    );
    if ctx.out.json {
        #[derive(Serialize)]
        struct Summary<'a> {
            #[serde(flatten)]
            counts: &'a Counts,
            replaced: u64,
            failed: u64,
        }
        ctx.out.json(&Summary {
            counts: &counts,
            replaced,
            failed,
        })?;
    } else {
        ctx.out.line(&summary)?;
    }
    if failed > 0 {
        eprintln!("sfctl: {failed} records were refused");
        return Ok(FAILED);
    }
    Ok(OK)
}
