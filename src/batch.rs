//! Many independent single-key operations in one round trip ([`Executor::execute_batch`]).
//!
//! A caller with many concurrent requests (the Go binding's goroutines, an event loop) hands
//! them over together: one pooled connection, one write of every command, then every reply
//! read in order, so the caller and the server each pay one system call per direction for the
//! whole batch instead of one per operation. Each operation keeps its own outcome, exactly the
//! one its single call gives (same checks, same errors, same decoding), and the single calls'
//! rules: a lost script is sent again (EVAL after NOSCRIPT); after a failure only what
//! certainly did not run (the server refused it up front) and reads are retried, once, on a new
//! connection, within the same bounds (pool wait + connect + command timeout); writes whose
//! reply was lost fail with the connection error. On a Redis Cluster the operations run one
//! after another, each as its single call.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::config::Topology;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::{
    expect_int, expect_ok, get_command, hgetall_command, hset_command, link_service_entry,
    pod_state_entry, read_get, read_hgetall, script_command, set_command, try_set_outcome,
    LinkKeys,
};
use crate::keys::{self, check_namespace, check_pod, check_service, check_state, check_uid};
use crate::reply;
use crate::scripts::{self, Script};
use crate::stats::bump;
use crate::transport::resp::{self, Args, Reply};
use crate::types::{Grace, Persistence, Pod, TrySet};
use crate::Executor;

/// One operation of a batch: the arguments of the single call of the same name.
#[derive(Debug, Clone, Copy)]
pub enum BatchOp<'a> {
    /// [`Executor::set_service_state`].
    SetServiceState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Pod state.
        state: &'a str,
    },
    /// [`Executor::get_service_state`].
    GetServiceState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::set_workload_state`].
    SetWorkloadState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
        /// Workload state.
        state: &'a str,
    },
    /// [`Executor::get_workload_state`].
    GetWorkloadState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::set_linked_pod`].
    SetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::try_set_linked_pod`].
    TrySetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::set_linked_pod_if_absent`].
    SetLinkedPodIfAbsent {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::get_linked_pod`].
    GetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::get_linked_pod_if_persist`].
    GetLinkedPodIfPersist {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::remove_linked_pod`].
    RemoveLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Delete now, or keep as a temporary link.
        grace: Grace,
    },
    /// [`Executor::remove_linked_pod_with_id`].
    RemoveLinkedPodWithId {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Delete now, or keep as a temporary link.
        grace: Grace,
        /// Only a link to this pod is removed.
        pod: Pod,
    },
    /// [`Executor::get_link_services`].
    GetLinkServices {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
    },
}

/// The result of one operation of a batch: what its single call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// A write without a result (set service state, set workload state).
    Done,
    /// Get service state: pod -> state.
    States(BTreeMap<Pod, String>),
    /// Get workload state.
    State(Option<String>),
    /// A pod: the previous one (set linked pod), the current one (set if absent), the linked
    /// one (the two gets).
    Pod(Option<Pod>),
    /// Try set linked pod.
    TrySet(TrySet),
    /// Whether a link was removed (the two removes).
    Removed(bool),
    /// Get link services: service -> pod.
    Links(BTreeMap<String, Pod>),
}

impl BatchOp<'_> {
    /// The operation's name, as in the messages of its single call.
    pub fn name(&self) -> &'static str {
        match self {
            BatchOp::SetServiceState { .. } => "set service state",
            BatchOp::GetServiceState { .. } => "get service state",
            BatchOp::SetWorkloadState { .. } => "set workload state",
            BatchOp::GetWorkloadState { .. } => "get workload state",
            BatchOp::SetLinkedPod { .. } => "set linked pod",
            BatchOp::TrySetLinkedPod { .. } => "try set linked pod",
            BatchOp::SetLinkedPodIfAbsent { .. } => "set linked pod if absent",
            BatchOp::GetLinkedPod { .. } => "get linked pod",
            BatchOp::GetLinkedPodIfPersist { .. } => "get linked pod if persist",
            BatchOp::RemoveLinkedPod { .. } => "remove linked pod",
            BatchOp::RemoveLinkedPodWithId { .. } => "remove linked pod with id",
            BatchOp::GetLinkServices { .. } => "get link services",
        }
    }

    /// Whether sending it twice could change its outcome (see the executor's retry rule).
    fn is_read(&self) -> bool {
        matches!(
            self,
            BatchOp::GetServiceState { .. }
                | BatchOp::GetWorkloadState { .. }
                | BatchOp::GetLinkedPod { .. }
                | BatchOp::GetLinkedPodIfPersist { .. }
                | BatchOp::GetLinkServices { .. }
        )
    }

    /// Checks the arguments as the single call does; nothing is sent for a rejected one.
    fn plan(&self) -> Result<Plan<'_>> {
        Ok(match *self {
            BatchOp::SetServiceState {
                ns,
                service,
                pod,
                state,
            } => {
                check_namespace(ns)?;
                check_service(service)?;
                check_pod(pod)?;
                check_state("pod state", state)?;
                Plan::Command
            }
            BatchOp::GetServiceState { ns, service }
            | BatchOp::GetWorkloadState { ns, service } => {
                check_namespace(ns)?;
                check_service(service)?;
                Plan::Command
            }
            BatchOp::SetWorkloadState { ns, service, state } => {
                check_namespace(ns)?;
                check_service(service)?;
                check_state("workload state", state)?;
                Plan::Command
            }
            BatchOp::SetLinkedPod {
                ns,
                uid,
                service,
                pod,
                persistence,
            }
            | BatchOp::TrySetLinkedPod {
                ns,
                uid,
                service,
                pod,
                persistence,
            }
            | BatchOp::SetLinkedPodIfAbsent {
                ns,
                uid,
                service,
                pod,
                persistence,
            } => {
                let keys = LinkKeys::new(ns, uid, service)?;
                check_pod(pod)?;
                let seconds = persistence.checked_seconds()?;
                let script = match self {
                    BatchOp::SetLinkedPod { .. } => &scripts::SET_LINKED_POD,
                    BatchOp::TrySetLinkedPod { .. } => &scripts::TRY_SET_LINKED_POD,
                    _ => &scripts::SET_LINKED_POD_IF_ABSENT,
                };
                Plan::Script {
                    script,
                    keys,
                    args: [pod, seconds],
                    argc: 2,
                }
            }
            BatchOp::GetLinkedPod { ns, uid, service } => {
                LinkKeys::new(ns, uid, service)?;
                Plan::Command
            }
            BatchOp::GetLinkedPodIfPersist { ns, uid, service } => Plan::Script {
                script: &scripts::GET_LINKED_POD_IF_PERSIST,
                keys: LinkKeys::new(ns, uid, service)?,
                args: [0, 0],
                argc: 0,
            },
            BatchOp::RemoveLinkedPod {
                ns,
                uid,
                service,
                grace,
            } => Plan::Script {
                script: &scripts::REMOVE_LINKED_POD,
                keys: LinkKeys::new(ns, uid, service)?,
                args: [grace.checked_seconds()?, 0],
                argc: 1,
            },
            BatchOp::RemoveLinkedPodWithId {
                ns,
                uid,
                service,
                grace,
                pod,
            } => {
                let keys = LinkKeys::new(ns, uid, service)?;
                let keep = grace.checked_seconds()?;
                check_pod(pod)?;
                Plan::Script {
                    script: &scripts::REMOVE_LINKED_POD,
                    keys,
                    args: [keep, pod],
                    argc: 2,
                }
            }
            BatchOp::GetLinkServices { ns, uid } => {
                check_namespace(ns)?;
                check_uid(uid)?;
                Plan::Command
            }
        })
    }

    /// Runs it as its single call (on a cluster).
    fn run_alone(&self, ex: &Executor) -> Result<BatchOutcome> {
        Ok(match *self {
            BatchOp::SetServiceState {
                ns,
                service,
                pod,
                state,
            } => {
                ex.set_service_state(ns, service, pod, state)?;
                BatchOutcome::Done
            }
            BatchOp::GetServiceState { ns, service } => {
                BatchOutcome::States(ex.get_service_state(ns, service)?)
            }
            BatchOp::SetWorkloadState { ns, service, state } => {
                ex.set_workload_state(ns, service, state)?;
                BatchOutcome::Done
            }
            BatchOp::GetWorkloadState { ns, service } => {
                BatchOutcome::State(ex.get_workload_state(ns, service)?)
            }
            BatchOp::SetLinkedPod {
                ns,
                uid,
                service,
                pod,
                persistence,
            } => BatchOutcome::Pod(ex.set_linked_pod(ns, uid, service, pod, persistence)?),
            BatchOp::TrySetLinkedPod {
                ns,
                uid,
                service,
                pod,
                persistence,
            } => BatchOutcome::TrySet(ex.try_set_linked_pod(ns, uid, service, pod, persistence)?),
            BatchOp::SetLinkedPodIfAbsent {
                ns,
                uid,
                service,
                pod,
                persistence,
            } => BatchOutcome::Pod(Some(ex.set_linked_pod_if_absent(
                ns,
                uid,
                service,
                pod,
                persistence,
            )?)),
            BatchOp::GetLinkedPod { ns, uid, service } => {
                BatchOutcome::Pod(ex.get_linked_pod(ns, uid, service)?)
            }
            BatchOp::GetLinkedPodIfPersist { ns, uid, service } => {
                BatchOutcome::Pod(ex.get_linked_pod_if_persist(ns, uid, service)?)
            }
            BatchOp::RemoveLinkedPod {
                ns,
                uid,
                service,
                grace,
            } => BatchOutcome::Removed(ex.remove_linked_pod(ns, uid, service, grace)?),
            BatchOp::RemoveLinkedPodWithId {
                ns,
                uid,
                service,
                grace,
                pod,
            } => BatchOutcome::Removed(ex.remove_linked_pod_with_id(ns, uid, service, grace, pod)?),
            BatchOp::GetLinkServices { ns, uid } => {
                BatchOutcome::Links(ex.get_link_services(ns, uid)?)
            }
        })
    }

    /// Encodes its command: the script's EVALSHA, or EVAL when `reload` (after NOSCRIPT).
    fn build(&self, plan: &Plan<'_>, reload: bool, a: &mut dyn Args) {
        if let Plan::Script {
            script,
            keys,
            args,
            argc,
        } = plan
        {
            let (head, body) = if reload {
                (&b"EVAL"[..], script.source)
            } else {
                (&b"EVALSHA"[..], script.sha1())
            };
            script_command(a, head, body, keys, &args[..*argc]);
            return;
        }
        match *self {
            BatchOp::SetServiceState {
                ns,
                service,
                pod,
                state,
            } => hset_command(
                a,
                keys::service_state_key_pieces(ns, service).pieces(),
                pod,
                state,
            ),
            BatchOp::GetServiceState { ns, service } => {
                hgetall_command(a, keys::service_state_key_pieces(ns, service).pieces())
            }
            BatchOp::SetWorkloadState { ns, service, state } => {
                set_command(a, keys::workload_key_pieces(ns, service).pieces(), state)
            }
            BatchOp::GetWorkloadState { ns, service } => {
                get_command(a, keys::workload_key_pieces(ns, service).pieces())
            }
            BatchOp::GetLinkedPod { ns, uid, service } => {
                get_command(a, keys::link_key_pieces(ns, uid, service).pieces())
            }
            BatchOp::GetLinkServices { ns, uid } => {
                hgetall_command(a, keys::uid_links_key_pieces(ns, uid).pieces())
            }
            // The link scripts are planned as Plan::Script above.
            _ => unreachable!("a script operation planned as a plain command"),
        }
    }

    /// Decodes its reply (an error reply was turned into the server's error before).
    fn read(&self, mut r: Reply<'_>) -> Result<BatchOutcome> {
        Ok(match *self {
            BatchOp::SetServiceState { .. } => {
                expect_int(r)?;
                BatchOutcome::Done
            }
            BatchOp::GetServiceState { ns, service } => {
                let key = keys::service_state_key_pieces(ns, service);
                let mut states = BTreeMap::new();
                read_hgetall(r, |field, value| {
                    if let Some((pod, state)) = pod_state_entry(&key, field, value)? {
                        states.insert(pod, reply::owned_text(state));
                    }
                    Ok(())
                })?;
                BatchOutcome::States(states)
            }
            BatchOp::SetWorkloadState { .. } => {
                expect_ok(r)?;
                BatchOutcome::Done
            }
            BatchOp::GetWorkloadState { ns, service } => {
                let key = keys::workload_key_pieces(ns, service);
                BatchOutcome::State(read_get(r, |value| {
                    reply::stored_text(value, &|| key.to_string())
                })?)
            }
            BatchOp::GetLinkedPod { ns, uid, service } => {
                let key = keys::link_key_pieces(ns, uid, service);
                BatchOutcome::Pod(read_get(r, |value| {
                    reply::stored_pod_bytes(value, &|| key.to_string())
                })?)
            }
            BatchOp::GetLinkServices { ns, uid } => {
                let key = keys::uid_links_key_pieces(ns, uid);
                let mut links = BTreeMap::new();
                read_hgetall(r, |service, pod| {
                    let (service, pod) = link_service_entry(&key, service, pod)?;
                    links.insert(reply::owned_text(service), pod);
                    Ok(())
                })?;
                BatchOutcome::Links(links)
            }
            BatchOp::SetLinkedPod { .. } | BatchOp::GetLinkedPodIfPersist { .. } => {
                BatchOutcome::Pod(reply::script_pod(&r.value()?, self.script_name())?)
            }
            BatchOp::SetLinkedPodIfAbsent { .. } => {
                let name = self.script_name();
                BatchOutcome::Pod(Some(reply::script_pod(&r.value()?, name)?.ok_or_else(
                    || Error::unexpected("set linked pod if absent: script returned no pod"),
                )?))
            }
            BatchOp::TrySetLinkedPod { .. } => BatchOutcome::TrySet(try_set_outcome(r.value()?)?),
            BatchOp::RemoveLinkedPod { .. } | BatchOp::RemoveLinkedPodWithId { .. } => {
                BatchOutcome::Removed(reply::script_flag(&r.value()?, self.script_name())?)
            }
        })
    }

    fn script_name(&self) -> &'static str {
        match self {
            BatchOp::SetLinkedPod { .. } => scripts::SET_LINKED_POD.name,
            BatchOp::TrySetLinkedPod { .. } => scripts::TRY_SET_LINKED_POD.name,
            BatchOp::SetLinkedPodIfAbsent { .. } => scripts::SET_LINKED_POD_IF_ABSENT.name,
            BatchOp::GetLinkedPodIfPersist { .. } => scripts::GET_LINKED_POD_IF_PERSIST.name,
            _ => scripts::REMOVE_LINKED_POD.name,
        }
    }
}

/// What an accepted operation sends.
// Plans live in one Vec per batch: boxing the large variant would allocate per operation.
#[allow(clippy::large_enum_variant)]
enum Plan<'a> {
    /// A plain command (HSET, SET, GET, HGETALL), encoded from the operation itself.
    Command,
    /// One of the link scripts.
    Script {
        script: &'static Script,
        keys: LinkKeys<'a>,
        args: [i32; 2],
        argc: usize,
    },
}

impl Executor {
    /// Runs independent single-key operations together and returns each one's result, in input
    /// order: exactly what each single call would return. The operations are concurrent, not a
    /// sequence: one the server refused (a lost script, a retry) runs again after the others, so
    /// none may depend on the effect of another of the same batch. On one server (standalone, unix,
    /// TLS, Sentinel) they share one pooled connection and one round trip (one more when the
    /// server lost a script, and a retry as below); on a cluster each runs as its single call,
    /// one after another.
    ///
    /// Bounds and retries are those of one call, applied to the batch: every operation ends
    /// within pool wait + connect + command timeout. After a failure, the operations the
    /// server refused before running them (READONLY, LOADING, ...) and the reads whose reply
    /// was lost are sent once more, on a new connection; a write whose reply was lost fails
    /// with the connection error (it may have run). An operation with an invalid argument
    /// fails alone, and nothing is sent for it. Each operation counts as one call in
    /// [`stats`](Executor::stats).
    pub fn execute_batch(&self, ops: &[BatchOp<'_>]) -> Vec<Result<BatchOutcome>> {
        if matches!(self.config().topology, Topology::Cluster { .. }) {
            return ops.iter().map(|op| op.run_alone(self)).collect();
        }
        let mut results: Vec<Option<Result<BatchOutcome>>> = Vec::with_capacity(ops.len());
        let mut plans = Vec::with_capacity(ops.len());
        let mut pending = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match op.plan() {
                Ok(plan) => match self.batch_hit(op) {
                    // Cache hook: a read the cache answers is not sent.
                    Some(hit) => {
                        plans.push(None);
                        results.push(Some(Ok(hit)));
                    }
                    None => {
                        plans.push(Some(plan));
                        results.push(None);
                        pending.push(i);
                    }
                },
                Err(err) => {
                    plans.push(None);
                    results.push(Some(Err(err)));
                }
            }
        }
        if !pending.is_empty() {
            // The same record as each single call's.
            for &i in &pending {
                log::debug!("{}", ops[i].name());
            }
            let written = self.cache().map(|_| pending.clone());
            self.run_batch(ops, &plans, &mut results, pending);
            // Cache hook: the writes drop their entries before the batch returns.
            for i in written.into_iter().flatten() {
                self.batch_written(&ops[i]);
            }
        }
        let counters = &self.counters;
        results
            .into_iter()
            .map(|result| {
                let result = result.unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::Internal,
                        "batch: an operation got no result",
                    ))
                });
                bump(&counters.calls);
                if let Err(err) = &result {
                    bump(&counters.failed_calls);
                    if err.kind() == ErrorKind::PoolTimeout {
                        bump(&counters.pool_timeouts);
                    }
                }
                result
            })
            .collect()
    }

    /// Sends the accepted operations (`pending`) and stores their results (with their single
    /// calls' context) in `results`.
    fn run_batch(
        &self,
        ops: &[BatchOp<'_>],
        plans: &[Option<Plan<'_>>],
        results: &mut [Option<Result<BatchOutcome>>],
        mut pending: Vec<usize>,
    ) {
        let config = self.config();
        let deadline = Instant::now()
            + config.pool_wait_timeout
            + config.connect_timeout
            + config.command_timeout;
        for attempt in 0..2 {
            let conn = if attempt == 0 {
                self.checkout()
            } else {
                // Time for a new connection, leaving a whole command timeout for the commands.
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(config.command_timeout);
                if left.is_zero() {
                    break;
                }
                self.checkout_within(left.min(config.pool_wait_timeout))
            };
            let mut conn = match conn {
                Ok(conn) => conn,
                Err(err) => {
                    for &i in &pending {
                        results[i] = Some(Err(err.clone()));
                    }
                    break;
                }
            };
            let generation = conn.generation();
            let (mut outcomes, in_step) = round(&mut conn, ops, plans, &pending, false);
            // NOSCRIPT: the server lost its script cache; EVAL runs the scripts and caches
            // them again, in one more round trip for all of them.
            let lost: Vec<usize> = (0..pending.len())
                .filter(|&k| matches!(&outcomes[k], Err(err) if err.missing_script))
                .collect();
            if !lost.is_empty() && in_step {
                for &k in &lost {
                    let op = &ops[pending[k]];
                    log::warn!(
                        "script {} missing on the server; reloading it",
                        op.script_name()
                    );
                    bump(&self.counters.script_reloads);
                }
                let again: Vec<usize> = lost.iter().map(|&k| pending[k]).collect();
                for (k, outcome) in lost
                    .iter()
                    .zip(round(&mut conn, ops, plans, &again, true).0)
                {
                    outcomes[*k] = outcome;
                }
            }
            let mut retry = Vec::new();
            let mut retired = false;
            for (&i, outcome) in pending.iter().zip(outcomes) {
                let outcome = match outcome {
                    Err(err)
                        if !retired
                            && (err.topology_changed || err.kind() == ErrorKind::Connection) =>
                    {
                        // Retires the connections opened before this one (once per round).
                        retired = true;
                        self.watch(generation, Err(err))
                    }
                    outcome => outcome,
                };
                match outcome {
                    Err(err)
                        if attempt == 0
                            && (err.rejected_before_running
                                || err.missing_script
                                || (ops[i].is_read() && err.kind() == ErrorKind::Connection)) =>
                    {
                        retry.push(i);
                        results[i] = Some(Err(err));
                    }
                    outcome => results[i] = Some(outcome),
                }
            }
            if retry.is_empty() {
                break;
            }
            conn.discard();
            drop(conn);
            for &i in &retry {
                if let Some(Err(err)) = &results[i] {
                    log::warn!(
                        "{}: {err}; retrying once on a new connection",
                        ops[i].name()
                    );
                }
                bump(&self.counters.retries);
            }
            pending = retry;
        }
        // The context the single calls give their errors (not to argument errors: those are
        // reported before any call starts).
        for (i, result) in results.iter_mut().enumerate() {
            if plans[i].is_some() {
                if let Some(Err(err)) = result {
                    *err = std::mem::replace(err, Error::invalid("")).context(ops[i].name());
                }
            }
        }
    }
}

/// Sends `which` operations in one write on `conn` and reads their replies: one outcome each,
/// in order; those whose reply could not be read get the error that stopped the reading.
/// Also says whether every reply was read (the connection is still usable).
fn round(
    conn: &mut crate::transport::Connection,
    ops: &[BatchOp<'_>],
    plans: &[Option<Plan<'_>>],
    which: &[usize],
    reload: bool,
) -> (Vec<Result<BatchOutcome>>, bool) {
    let mut outcomes = Vec::with_capacity(which.len());
    let plan = |i: usize| {
        plans[i]
            .as_ref()
            .expect("only accepted operations are sent")
    };
    let (read, stopped) = conn.call_many(
        which.len(),
        |k, a| ops[which[k]].build(plan(which[k]), reload, a),
        |k, reply| outcomes.push(resp::answer(reply, |r| ops[which[k]].read(r))),
    );
    let in_step = stopped.is_ok();
    if let Err(err) = stopped {
        outcomes.truncate(read);
        outcomes.resize_with(which.len(), || Err(err.clone()));
    }
    (outcomes, in_step)
}
