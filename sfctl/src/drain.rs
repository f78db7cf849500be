//! drain: release every link to one pod of a service, on every node, at a limited rate.
//!
//! Links are found by SCAN, one batch at a time (memory does not grow with the number of
//! links), and each is released by the library's `remove_linked_pod_with_id`: one script per
//! link, atomic, applied only while the link still points at the pod. So Ctrl-C between two
//! links leaves no link half-released, and running the drain again finishes the job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use stateful_executor::{keys, BatchOp, BatchOutcome, Grace};

use crate::cli::{Context, DrainArgs};
use crate::fail::{code_of, Fail, Result, CONNECTION, FAILED, INTERRUPTED, OK};
use crate::layout;
use crate::out::spinner;
use crate::scan::{read_strings, scan_node};

/// At most this many removals go to Redis together (one round trip on one server).
const MAX_GROUP: usize = 500;
/// Error messages shown at most (the rest are counted).
const SHOWN_ERRORS: usize = 5;

#[derive(Serialize, Default)]
struct Tally {
    /// Link keys of the service looked at.
    scanned: u64,
    /// Links to the pod found (to release; in a dry run, that would be released).
    matched: u64,
    /// Released by this run.
    released: u64,
    /// Pointed elsewhere (or were gone) by the time of their release: left alone.
    moved: u64,
    /// With a grace period: already temporary and expiring within it, left as they are.
    already_expiring: u64,
    /// Refused (corrupt data, ...): see the messages.
    failed: u64,
}

impl Tally {
    fn progress(&self, node: usize, nodes: usize) -> String {
        format!(
            "node {}/{nodes}  scanned {}  matched {}  released {}  moved {}",
            node + 1,
            self.scanned,
            self.matched,
            self.released,
            self.moved
        )
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    ns: &'a str,
    service: &'a str,
    pod: i32,
    dry_run: bool,
    interrupted: bool,
    #[serde(flatten)]
    tally: &'a Tally,
    seconds: f64,
}

/// Spreads releases over time: `rate` per second at most (none when 0).
struct Pace {
    rate: u32,
    started: Instant,
    granted: u64,
}

impl Pace {
    fn new(rate: u32) -> Pace {
        Pace {
            rate,
            started: Instant::now(),
            granted: 0,
        }
    }

    /// Waits until `n` more releases fit the rate (or until `stop`).
    fn wait(&mut self, n: usize, stop: &AtomicBool) {
        if self.rate == 0 {
            return;
        }
        let due =
            self.started + Duration::from_secs_f64(self.granted as f64 / f64::from(self.rate));
        self.granted += n as u64;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= due {
                return;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(100)));
        }
    }
}

/// Raised by the first Ctrl-C (or SIGTERM); a second one ends the process at once.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag only from the second signal on.
        flag::register_conditional_shutdown(signal, i32::from(INTERRUPTED), Arc::clone(&stop))
            .and_then(|_| flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| Fail::failed(format!("cannot handle Ctrl-C: {e}")))?;
    }
    Ok(stop)
}

pub fn drain(ctx: &mut Context, args: &DrainArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    keys::check_service(&args.service)?;
    let grace = match args.grace {
        0 => Grace::Immediate,
        seconds => Grace::Seconds(seconds),
    };
    let grace_ms = i64::from(args.grace) * 1000;
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let stop = interrupt_flag()?;
    let pattern = layout::service_links_pattern(&args.ns, &args.service);
    // Small groups at low rates, so the pace is even within a second.
    let group_size = match args.rate {
        0 => MAX_GROUP,
        rate => (rate as usize / 10).clamp(1, MAX_GROUP),
    };
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut pace = Pace::new(args.rate);
    let mut errors: Vec<String> = Vec::new();
    let bar = spinner();
    let node_count = nodes.nodes.len();
    let mut interrupted = false;
    let mut run = || -> Result<()> {
        for (index, node) in nodes.nodes.iter_mut().enumerate() {
            let done = scan_node(node, &pattern, Some("string"), &stop, |node, batch| {
                let links = layout::service_links(&args.ns, &args.service, &batch);
                tally.scanned += links.len() as u64;
                let keys: Vec<&[u8]> = links.iter().map(|(_, key)| *key).collect();
                let mut uids = Vec::new();
                for ((uid, _), read) in links.iter().zip(read_strings(node, &keys)?) {
                    if read.value.as_deref().and_then(keys::parse_pod) != Some(args.pod) {
                        continue;
                    }
                    if grace_ms > 0 && read.pttl_ms > 0 && read.pttl_ms <= grace_ms {
                        tally.already_expiring += 1;
                        continue;
                    }
                    tally.matched += 1;
                    uids.push(uid.as_str());
                }
                if args.dry_run {
                    return Ok(());
                }
                for group in uids.chunks(group_size) {
                    pace.wait(group.len(), &stop);
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let ops: Vec<BatchOp> = group
                        .iter()
                        .map(|uid| BatchOp::RemoveLinkedPodWithId {
                            ns: &args.ns,
                            uid,
                            service: &args.service,
                            grace,
                            pod: args.pod,
                        })
                        .collect();
                    // Every outcome is counted before a lost connection stops the drain.
                    let mut lost = None;
                    for (uid, outcome) in group.iter().zip(executor.execute_batch(&ops)) {
                        match outcome {
                            Ok(BatchOutcome::Removed(true)) => tally.released += 1,
                            Ok(BatchOutcome::Removed(false)) => tally.moved += 1,
                            Ok(other) => {
                                return Err(Fail::failed(format!(
                                    "unexpected outcome of a removal: {other:?}"
                                )))
                            }
                            Err(err) if code_of(err.kind()) == CONNECTION => {
                                lost.get_or_insert(err);
                            }
                            Err(err) => {
                                tally.failed += 1;
                                if errors.len() < SHOWN_ERRORS {
                                    errors.push(format!("uid {uid:?}: {err}"));
                                }
                            }
                        }
                    }
                    if let Some(err) = lost {
                        return Err(err.into());
                    }
                    bar.set_message(tally.progress(index, node_count));
                }
                bar.set_message(tally.progress(index, node_count));
                Ok(())
            })?;
            if !done {
                interrupted = true;
                return Ok(());
            }
        }
        Ok(())
    };
    let outcome = run();
    bar.finish_and_clear();
    for error in &errors {
        eprintln!("sfctl: {error}");
    }
    let summary = Summary {
        ns: &args.ns,
        service: &args.service,
        pod: args.pod,
        dry_run: args.dry_run,
        interrupted,
        tally: &tally,
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    };
    if ctx.out.json {
        ctx.out.json(&summary)?;
    } else {
        let verb = if args.dry_run {
            "to release"
        } else {
            "matched"
        };
        let rows = [
            ("scanned", tally.scanned),
            (verb, tally.matched),
            ("released", tally.released),
            ("moved meanwhile", tally.moved),
            ("already expiring", tally.already_expiring),
            ("failed", tally.failed),
        ]
        .into_iter()
        .map(|(what, n)| vec![what.to_string(), n.to_string()])
        .collect();
        ctx.out.table(&["LINKS", "COUNT"], rows)?;
    }
    ctx.out.flush()?;
    outcome.map_err(|e| e.context("drain stopped"))?;
    if interrupted {
        eprintln!("sfctl: interrupted; run the same command again to finish the drain");
        return Ok(INTERRUPTED);
    }
    if tally.failed > 0 {
        return Ok(FAILED);
    }
    Ok(OK)
}
