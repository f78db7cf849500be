//! Many independent single-key operations in one call and one round trip (the core's
//! `Executor::execute_batch`).

use std::ffi::{c_char, CString};

use super::executor::{executor, sf_executor};
use super::results::{sf_pod_states, sf_service_links};
use super::status::{self, sf_error, sf_status, SF_NO_POD, SF_OK};
use super::{c_string, call, text};
use crate::error::{Error, Result};
use crate::ops::links::checked_touch_seconds;
use crate::ops::{BatchOp, BatchOutcome};
use crate::types::{Grace, Persistence};

/// What one entry of `sf_execute_batch` does: one of the `SF_BATCH_*` values.
pub type sf_batch_kind = i32;

/// `sf_set_service_state(ns, service, pod, state)`.
pub const SF_BATCH_SET_SERVICE_STATE: sf_batch_kind = 1;
/// `sf_get_service_state(ns, service)`: the result in `out_states`.
pub const SF_BATCH_GET_SERVICE_STATE: sf_batch_kind = 2;
/// `sf_set_workload_state(ns, service, state)`.
pub const SF_BATCH_SET_WORKLOAD_STATE: sf_batch_kind = 3;
/// `sf_get_workload_state(ns, service)`: the result in `out_text`.
pub const SF_BATCH_GET_WORKLOAD_STATE: sf_batch_kind = 4;
/// `sf_set_linked_pod(ns, uid, service, pod, seconds)`: the previous pod in `out_pod`.
pub const SF_BATCH_SET_LINKED_POD: sf_batch_kind = 5;
/// `sf_try_set_linked_pod(ns, uid, service, pod, seconds)`: linked in `out_flag`, the current
/// pod in `out_pod`.
pub const SF_BATCH_TRY_SET_LINKED_POD: sf_batch_kind = 6;
/// `sf_set_linked_pod_if_absent(ns, uid, service, pod, seconds)`: the current pod in `out_pod`.
pub const SF_BATCH_SET_LINKED_POD_IF_ABSENT: sf_batch_kind = 7;
/// `sf_get_linked_pod(ns, uid, service)`: the pod in `out_pod`.
pub const SF_BATCH_GET_LINKED_POD: sf_batch_kind = 8;
/// `sf_get_linked_pod_if_persist(ns, uid, service)`: the pod in `out_pod`.
pub const SF_BATCH_GET_LINKED_POD_IF_PERSIST: sf_batch_kind = 9;
/// `sf_remove_linked_pod(ns, uid, service, seconds)`: removed in `out_flag`.
pub const SF_BATCH_REMOVE_LINKED_POD: sf_batch_kind = 10;
/// `sf_remove_linked_pod_with_id(ns, uid, service, seconds, pod)`: removed in `out_flag`.
pub const SF_BATCH_REMOVE_LINKED_POD_WITH_ID: sf_batch_kind = 11;
/// `sf_get_link_services(ns, uid)`: the result in `out_links`.
pub const SF_BATCH_GET_LINK_SERVICES: sf_batch_kind = 12;
/// `sf_touch_linked_pod(ns, uid, service, pod, seconds)`: touched in `out_flag` (0.3).
pub const SF_BATCH_TOUCH_LINKED_POD: sf_batch_kind = 13;

/// One operation of `sf_execute_batch`: its arguments (set by the caller) and its outcome
/// (written by the call). The arguments are those of the single function the kind names;
/// fields the kind does not use are ignored (they may hold anything, NULL included).
#[repr(C)]
pub struct sf_batch_op {
    /// Which operation: one of the `SF_BATCH_*` values.
    pub kind: sf_batch_kind,
    /// The namespace (every kind).
    pub ns: *const c_char,
    /// The uid (the link kinds).
    pub uid: *const c_char,
    /// The service (every kind but `SF_BATCH_GET_LINK_SERVICES`).
    pub service: *const c_char,
    /// The state (`SF_BATCH_SET_SERVICE_STATE`, `SF_BATCH_SET_WORKLOAD_STATE`).
    pub state: *const c_char,
    /// The pod (the set kinds, `SF_BATCH_REMOVE_LINKED_POD_WITH_ID`, `SF_BATCH_TOUCH_LINKED_POD`).
    pub pod: i32,
    /// `persist_seconds` of the three link setters and of the touch, `keep_seconds` of the two
    /// removes.
    pub seconds: i32,
    /// Out: this operation's status (`SF_OK`, or why it failed).
    pub status: sf_status,
    /// Out: the pod result; `SF_NO_POD` when none or on failure.
    pub out_pod: i32,
    /// Out: the flag result (linked, removed, touched); false on failure.
    pub out_flag: bool,
    /// Out: the workload state, a new string the caller owns (`sf_string_free`); NULL when
    /// absent, on failure and for the other kinds.
    pub out_text: *mut c_char,
    /// Out: the pod states, owned by the caller (`sf_pod_states_free`); NULL on failure and for
    /// the other kinds.
    pub out_states: *mut sf_pod_states,
    /// Out: the service links, owned by the caller (`sf_service_links_free`); NULL on failure
    /// and for the other kinds.
    pub out_links: *mut sf_service_links,
    /// Out: this operation's error detail, as an `err` argument receives it.
    pub error: sf_error,
}

/// Runs `count` independent operations together and gives each its own outcome, exactly as its
/// single function would (same argument rules, same results, same errors); outcome `i` is
/// written to `ops[i]`. The entries are concurrent, not a sequence: they usually run in input
/// order, but an entry the server refused (a lost script, a retry) runs again after the others,
/// so do not put an entry in the batch that must see the effect of another one.
///
/// On one server (standalone, unix socket, TLS, Sentinel) the operations share one pooled
/// connection: every command is written at once and the replies are read back in order, so a
/// batch costs about one round trip (one more when the server lost a script; see below). On a
/// Redis Cluster the batch is split by node: each node's commands are written at once on the
/// pooled connection's link to it (one round trip per node, the nodes' replies read in turn),
/// and an entry answered with a redirect (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) is sent again
/// alone, following it as its single call does; an unreachable node fails only its own
/// entries (reads among them retried as below). Bounds and retries are a
/// single call's, applied to the batch: the whole batch ends within pool wait + connect +
/// command timeout; after a failure the operations the server refused before running them and
/// the reads whose reply was lost are sent once more, on a new connection, while a write whose
/// reply was lost fails with `SF_CONNECTION` (it may have run). An entry with an unknown
/// `kind`, a NULL or invalid argument fails alone with `SF_INVALID_ARGUMENT`, and nothing is
/// sent for it. Each operation counts as one call in `sf_executor_stats`.
///
/// `ops`: a caller-provided array of `count` entries (NULL only with `count == 0`). Every
/// entry's outputs are written, failures included; the result objects and strings it receives
/// are the caller's to free, and the call never reads the old values of the outputs (fill them
/// with anything). Returns `SF_OK` when the operations ran (each entry's `status` then tells its
/// own outcome), and fails only when the batch itself is unusable (`ex` NULL or closed, `ops`
/// NULL with `count > 0`): then every entry, when there is an array, gets that status and
/// error. The strings the entries point to must stay valid during the call. Thread-safe; the
/// entries of one call must not be shared with another call running at the same time.
///
/// # Safety
/// `ex` is NULL or a live executor; `ops` is NULL or points to `count` writable entries whose
/// string fields are NULL or NUL-terminated; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_execute_batch(
    ex: *const sf_executor,
    ops: *mut sf_batch_op,
    count: usize,
    err: *mut sf_error,
) -> sf_status {
    let mut entries: &mut [sf_batch_op] = &mut [];
    let status = call(err, || {
        if count > 0 && ops.is_null() {
            return Err(Error::invalid(format!("ops is NULL but count is {count}")));
        }
        if count > 0 {
            if count
                .checked_mul(std::mem::size_of::<sf_batch_op>())
                .is_none_or(|b| b > isize::MAX as usize)
            {
                return Err(Error::invalid(format!("ops: count {count} is too large")));
            }
            // SAFETY: non-NULL, `count` writable entries per this function's contract.
            entries = unsafe { std::slice::from_raw_parts_mut(ops, count) };
        }
        for entry in entries.iter_mut() {
            clear(entry);
        }
        let ex = unsafe { executor(ex) }?;
        // SAFETY: the entries' strings per this function's contract.
        let parsed: Vec<Result<BatchOp<'_>>> =
            entries.iter().map(|e| unsafe { parse(e) }).collect();
        let accepted: Vec<BatchOp<'_>> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().copied())
            .collect();
        let mut outcomes = ex.execute_batch(&accepted).into_iter();
        for (entry, parsed) in entries.iter_mut().zip(parsed) {
            let outcome = match parsed {
                Ok(op) => outcomes
                    .next()
                    .unwrap_or_else(|| {
                        Err(Error::new(
                            crate::ErrorKind::Internal,
                            "batch: missing result",
                        ))
                    })
                    .and_then(|outcome| store(entry, &op, outcome)),
                Err(err) => Err(err),
            };
            if let Err(err) = &outcome {
                clear(entry);
                // SAFETY: the entry's error record is writable.
                entry.status = unsafe { status::report(&mut entry.error, Some(err)) };
            }
        }
        Ok(())
    });
    if status != SF_OK {
        for entry in entries.iter_mut() {
            clear(entry);
            entry.status = status;
            // SAFETY: the entry's error record is writable; it repeats the call's message.
            let message = if err.is_null() {
                String::from("the batch could not run")
            } else {
                // SAFETY: `call` wrote a NUL-terminated message into `err`.
                unsafe { std::ffi::CStr::from_ptr((*err).message.as_ptr()) }
                    .to_string_lossy()
                    .into_owned()
            };
            let kind = crate::ErrorKind::from_code(status).unwrap_or(crate::ErrorKind::Internal);
            unsafe { status::report(&mut entry.error, Some(&Error::new(kind, message))) };
        }
    }
    status
}

/// Sets an entry's outputs to their failure values (no old value is read or freed).
fn clear(entry: &mut sf_batch_op) {
    entry.status = SF_OK;
    entry.out_pod = SF_NO_POD;
    entry.out_flag = false;
    entry.out_text = std::ptr::null_mut();
    entry.out_states = std::ptr::null_mut();
    entry.out_links = std::ptr::null_mut();
    // SAFETY: the entry's error record is writable.
    unsafe { status::report(&mut entry.error, None) };
}

/// The core operation an entry describes.
///
/// # Safety
/// The entry's string fields are NULL or NUL-terminated and outlive `'a`.
unsafe fn parse<'a>(e: &sf_batch_op) -> Result<BatchOp<'a>> {
    // SAFETY: per the caller's contract.
    let ns = || unsafe { text(e.ns, "ns") };
    let uid = || unsafe { text(e.uid, "uid") };
    let service = || unsafe { text(e.service, "service") };
    let state = || unsafe { text(e.state, "state") };
    Ok(match e.kind {
        SF_BATCH_SET_SERVICE_STATE => BatchOp::SetServiceState {
            ns: ns()?,
            service: service()?,
            pod: e.pod,
            state: state()?,
        },
        SF_BATCH_GET_SERVICE_STATE => BatchOp::GetServiceState {
            ns: ns()?,
            service: service()?,
        },
        SF_BATCH_SET_WORKLOAD_STATE => BatchOp::SetWorkloadState {
            ns: ns()?,
            service: service()?,
            state: state()?,
        },
        SF_BATCH_GET_WORKLOAD_STATE => BatchOp::GetWorkloadState {
            ns: ns()?,
            service: service()?,
        },
        SF_BATCH_SET_LINKED_POD | SF_BATCH_TRY_SET_LINKED_POD | SF_BATCH_SET_LINKED_POD_IF_ABSENT => {
            let (ns, uid, service) = (ns()?, uid()?, service()?);
            let persistence = Persistence::from_seconds(e.seconds)?;
            let pod = e.pod;
            match e.kind {
                SF_BATCH_SET_LINKED_POD => BatchOp::SetLinkedPod { ns, uid, service, pod, persistence },
                SF_BATCH_TRY_SET_LINKED_POD => BatchOp::TrySetLinkedPod { ns, uid, service, pod, persistence },
                _ => BatchOp::SetLinkedPodIfAbsent { ns, uid, service, pod, persistence },
            }
        }
        SF_BATCH_GET_LINKED_POD => BatchOp::GetLinkedPod {
            ns: ns()?,
            uid: uid()?,
            service: service()?,
        },
        SF_BATCH_GET_LINKED_POD_IF_PERSIST => BatchOp::GetLinkedPodIfPersist {
            ns: ns()?,
            uid: uid()?,
            service: service()?,
        },
        SF_BATCH_REMOVE_LINKED_POD => BatchOp::RemoveLinkedPod {
            ns: ns()?,
            uid: uid()?,
            service: service()?,
            grace: Grace::from_keep_seconds(e.seconds)?,
        },
        SF_BATCH_REMOVE_LINKED_POD_WITH_ID => BatchOp::RemoveLinkedPodWithId {
            ns: ns()?,
            uid: uid()?,
            service: service()?,
            grace: Grace::from_keep_seconds(e.seconds)?,
            pod: e.pod,
        },
        SF_BATCH_GET_LINK_SERVICES => BatchOp::GetLinkServices { ns: ns()?, uid: uid()? },
        SF_BATCH_TOUCH_LINKED_POD => BatchOp::TouchLinkedPod {
            ns: ns()?,
            uid: uid()?,
            service: service()?,
            pod: e.pod,
            persist_seconds: checked_touch_seconds(e.seconds.into())?,
        },
        other => {
            return Err(Error::invalid(format!(
                "kind {other} is not one of SF_BATCH_SET_SERVICE_STATE (1) ... SF_BATCH_TOUCH_LINKED_POD (13)"
            )))
        }
    })
}

/// Writes an operation's result into its entry's outputs.
fn store(entry: &mut sf_batch_op, op: &BatchOp<'_>, outcome: BatchOutcome) -> Result<()> {
    match outcome {
        BatchOutcome::Done => {}
        BatchOutcome::Pod(pod) => entry.out_pod = pod.unwrap_or(SF_NO_POD),
        BatchOutcome::TrySet(set) => {
            entry.out_flag = set.linked;
            entry.out_pod = set.pod;
        }
        BatchOutcome::Removed(flag) | BatchOutcome::Touched(flag) => entry.out_flag = flag,
        BatchOutcome::State(state) => {
            let service = match op {
                BatchOp::GetWorkloadState { service, .. } => *service,
                _ => "",
            };
            entry.out_text = state
                .map(|state| c_string(state, || format!("workload state of {service}")))
                .transpose()?
                .map_or(std::ptr::null_mut(), CString::into_raw);
        }
        BatchOutcome::States(states) => {
            let entries = states
                .into_iter()
                .map(|(pod, state)| Ok((pod, c_string(state, || format!("state of pod {pod}"))?)))
                .collect::<Result<Vec<_>>>()?;
            entry.out_states = Box::into_raw(Box::new(sf_pod_states { entries }));
        }
        BatchOutcome::Links(links) => {
            let entries = links
                .into_iter()
                .map(|(service, pod)| {
                    Ok((c_string(service, || "a service name".to_string())?, pod))
                })
                .collect::<Result<Vec<_>>>()?;
            entry.out_links = Box::into_raw(Box::new(sf_service_links { entries }));
        }
    }
    Ok(())
}
