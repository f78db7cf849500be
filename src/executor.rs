//! The public Rust API: every operation of data-model.md, each a thin method that describes its
//! operation (`ops/`) and has the engine (`engine.rs`) run it.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::engine::Engine;
use crate::error::Result;
use crate::ops::{links, states, BatchOp, BatchOutcome, LinkKeys, Ping};
use crate::packed::Packed;
use crate::stats::Stats;
use crate::types::{least_loaded, Candidate, Grace, Persistence, Pod, TrySet};

/// Keeps the routing state of stateful services in Redis. Thread-safe: share one per process
/// (behind an `Arc` or a `static`) and call it from any number of threads.
pub struct Executor {
    engine: Engine,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.engine.config)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Connects, checks that the server answers, and loads the Lua scripts.
    pub fn open(config: &Config) -> Result<Executor> {
        Ok(Executor {
            engine: Engine::open(config)?,
        })
    }

    /// The executor's statistics: counters since it was opened and the pool's connections now.
    /// Sends nothing and blocks no call.
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// The configuration this executor was opened with.
    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// Checks that the server answers.
    pub fn ping(&self) -> Result<()> {
        self.engine.call(|| Ok(Ping))
    }

    /// Runs independent single-key operations together and returns each one's result, in input
    /// order: exactly what each single call would return. The operations are concurrent, not a
    /// sequence: one the server refused (a lost script, a retry) runs again after the others, so
    /// none may depend on the effect of another of the same batch. On one server (standalone, unix,
    /// TLS, Sentinel) they share one pooled connection and one round trip (one more when the
    /// server lost a script, and a retry as below); on a cluster the batch is split by node,
    /// each node's part written at once (one round trip per node), an operation answered with a
    /// redirect (MOVED, ASK, ...) sent again alone, following it as its single call does, and an
    /// unreachable node failing only its own operations.
    ///
    /// Bounds and retries are those of one call, applied to the batch: every operation ends
    /// within pool wait + connect + command timeout. After a failure, the operations the
    /// server refused before running them (READONLY, LOADING, ...) and the reads whose reply
    /// was lost are sent once more, on a new connection; a write whose reply was lost fails
    /// with the connection error (it may have run). An operation with an invalid argument
    /// fails alone, and nothing is sent for it. Each operation counts as one call in
    /// [`stats`](Executor::stats).
    pub fn execute_batch(&self, ops: &[BatchOp<'_>]) -> Vec<Result<BatchOutcome>> {
        self.engine
            .run_batch(ops.iter().map(BatchOp::plan).collect())
    }

    // ---- service and workload states ----

    /// Publishes the state of one pod of a service (`HSET`).
    pub fn set_service_state(&self, ns: &str, service: &str, pod: Pod, state: &str) -> Result<()> {
        self.engine
            .call(|| states::set_service_state(ns, service, pod, state))
    }

    /// The states of all pods of a service, by pod ordinal; empty when it has none. Fields that
    /// are not pod ordinals are skipped, as the data model says.
    pub fn get_service_state(&self, ns: &str, service: &str) -> Result<BTreeMap<Pod, String>> {
        self.engine.call(|| states::get_service_state(ns, service))
    }

    /// As [`get_service_state`](Self::get_service_state), into `out`: one entry per pod, sorted
    /// by pod ordinal, keyed by the pod, with its state. No allocation per entry. A state holding
    /// a NUL byte is refused with `UnexpectedReply` (see [`Packed`]). On error `out` is empty.
    pub fn get_service_state_packed(
        &self,
        ns: &str,
        service: &str,
        out: &mut Packed,
    ) -> Result<()> {
        into_packed(out, |out| {
            self.engine.call(|| {
                Ok(states::get_service_state(ns, service)?
                    .packed(&states::GET_SERVICE_STATE_PACKED, out))
            })
        })
    }

    /// Publishes the state of a whole service (`SET` without expiry).
    pub fn set_workload_state(&self, ns: &str, service: &str, state: &str) -> Result<()> {
        self.engine
            .call(|| states::set_workload_state(ns, service, state))
    }

    /// The state of a whole service, if one was published.
    pub fn get_workload_state(&self, ns: &str, service: &str) -> Result<Option<String>> {
        self.engine.call(|| states::get_workload_state(ns, service))
    }

    /// The workload states of many services, in input order (`None` where absent), in one round
    /// trip per Redis node.
    pub fn get_workload_states<S: AsRef<str>>(
        &self,
        ns: &str,
        services: &[S],
    ) -> Result<Vec<Option<String>>> {
        self.engine
            .call_keys(|| states::get_workload_states(ns, services))
    }

    /// As [`get_workload_states`](Self::get_workload_states), into `out`: one entry per service,
    /// in input order, keyed by its index in `services`, with its state or `None` when absent.
    /// No allocation per entry. A state holding a NUL byte is refused with `UnexpectedReply`
    /// (see [`Packed`]). On error `out` is empty.
    pub fn get_workload_states_packed<S: AsRef<str>>(
        &self,
        ns: &str,
        services: &[S],
        out: &mut Packed,
    ) -> Result<()> {
        into_packed(out, |out| {
            self.engine
                .call_keys(|| states::get_workload_states_packed(ns, services, out))
        })
    }

    // ---- links ----

    /// Links the uid to `pod` for `service`, whatever was there, and returns the previous pod.
    pub fn set_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<Option<Pod>> {
        self.engine
            .call(|| links::pod_script(&links::SET_LINKED_POD, ns, uid, service, pod, persistence))
    }

    /// Links the uid to `pod` unless a persistent link to a different pod exists; then nothing
    /// changes and that pod is returned with `linked == false`.
    pub fn try_set_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<TrySet> {
        self.engine.call(|| {
            links::pod_script(
                &links::TRY_SET_LINKED_POD,
                ns,
                uid,
                service,
                pod,
                persistence,
            )
        })
    }

    /// Links the uid to `pod` only when it has no link (persistent or temporary) for `service`,
    /// and returns the pod linked now. Of many concurrent callers exactly one writes and all get
    /// the same pod.
    pub fn set_linked_pod_if_absent(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persistence: Persistence,
    ) -> Result<Pod> {
        self.engine.call(|| {
            links::pod_script(
                &links::SET_LINKED_POD_IF_ABSENT,
                ns,
                uid,
                service,
                pod,
                persistence,
            )
        })
    }

    /// The pod the uid is linked to for `service`, persistent or temporary.
    pub fn get_linked_pod(&self, ns: &str, uid: &str, service: &str) -> Result<Option<Pod>> {
        self.engine.call(|| links::get_linked_pod(ns, uid, service))
    }

    /// The pod the uid is linked to for `service`, only when the link is persistent.
    pub fn get_linked_pod_if_persist(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
    ) -> Result<Option<Pod>> {
        self.engine
            .call(|| links::get_linked_pod_if_persist(ns, uid, service))
    }

    /// The linked pod of each uid for `service`, in input order, in one round trip per node.
    pub fn batch_get_linked_pods<S: AsRef<str>>(
        &self,
        ns: &str,
        service: &str,
        uids: &[S],
    ) -> Result<Vec<Option<Pod>>> {
        self.engine
            .call_keys(|| links::batch_get_linked_pods(ns, service, uids))
    }

    /// Like [`batch_get_linked_pods`](Self::batch_get_linked_pods), grouped by pod: the uids
    /// linked to each pod, in input order; unlinked uids are left out.
    pub fn batch_get_linked_pods_by_pod<S: AsRef<str>>(
        &self,
        ns: &str,
        service: &str,
        uids: &[S],
    ) -> Result<BTreeMap<Pod, Vec<String>>> {
        self.engine.call_composed(|| {
            let pods = self.batch_get_linked_pods(ns, service, uids)?;
            let mut grouped: BTreeMap<Pod, Vec<String>> = BTreeMap::new();
            for (uid, pod) in uids.iter().zip(pods) {
                if let Some(pod) = pod {
                    grouped
                        .entry(pod)
                        .or_default()
                        .push(uid.as_ref().to_string());
                }
            }
            Ok(grouped)
        })
    }

    /// Removes the uid's link to `service` (deleting it, or keeping it as a temporary link for
    /// the grace period) and says whether a link existed.
    pub fn remove_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        grace: Grace,
    ) -> Result<bool> {
        self.engine
            .call(|| links::remove(ns, uid, service, grace, None))
    }

    /// As [`remove_linked_pod`](Self::remove_linked_pod), but only when the link points to `pod`;
    /// otherwise nothing changes and the result is `false`.
    pub fn remove_linked_pod_with_id(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        grace: Grace,
        pod: Pod,
    ) -> Result<bool> {
        self.engine
            .call(|| links::remove(ns, uid, service, grace, Some(pod)))
    }

    /// Extends the uid's temporary link to `service` only while it points at `pod`: a
    /// temporary link to `pod` expires `persist_seconds` from now (1..=2147483647), a
    /// persistent link to `pod` is left as it is, and both give `true`; a link to another pod,
    /// or none, is left as it is and gives `false`. Atomic (one script): a gateway keeps an
    /// active session's link alive without overwriting a pod another gateway set meanwhile,
    /// which calling [`set_linked_pod`](Self::set_linked_pod) again could.
    pub fn touch_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        pod: Pod,
        persist_seconds: u32,
    ) -> Result<bool> {
        self.engine.call(|| {
            links::pod_script(
                &links::TOUCH_LINKED_POD,
                ns,
                uid,
                service,
                pod,
                Persistence::temporary(persist_seconds),
            )
        })
    }

    /// The persistent links of the uid: service -> pod.
    pub fn get_link_services(&self, ns: &str, uid: &str) -> Result<BTreeMap<String, Pod>> {
        self.engine.call(|| links::get_link_services(ns, uid))
    }

    /// As [`get_link_services`](Self::get_link_services), into `out`: one entry per persistent
    /// link, sorted by service name (bytewise), keyed by the pod, with the service name. No
    /// allocation per entry. A service name holding a NUL byte is refused with `UnexpectedReply`
    /// (see [`Packed`]). On error `out` is empty.
    pub fn get_link_services_packed(&self, ns: &str, uid: &str, out: &mut Packed) -> Result<()> {
        into_packed(out, |out| {
            self.engine.call(|| {
                Ok(
                    links::get_link_services(ns, uid)?
                        .packed(&links::GET_LINK_SERVICES_PACKED, out),
                )
            })
        })
    }

    /// Returns the uid's existing link for `service`; without one, links it to the least-loaded
    /// candidate (ties: lowest pod) and returns that. No link and no candidates: `None`, nothing
    /// written. Atomic: the choice is made here from the caller's figures, and the write is the
    /// set-if-absent script, which touches only the uid's keys (safe on Redis Cluster).
    pub fn compute_linked_pod(
        &self,
        ns: &str,
        uid: &str,
        service: &str,
        persistence: Persistence,
        candidates: &[Candidate],
    ) -> Result<Option<Pod>> {
        self.engine.call_composed(|| {
            LinkKeys::new(ns, uid, service)?;
            persistence.checked_seconds()?;
            for candidate in candidates {
                crate::keys::check_pod(candidate.pod)?;
            }
            match least_loaded(candidates) {
                None => self.get_linked_pod(ns, uid, service),
                Some(pod) => self
                    .set_linked_pod_if_absent(ns, uid, service, pod, persistence)
                    .map(Some),
            }
        })
    }
}

/// Runs a read into `out`, which is empty before it and stays empty when it fails.
fn into_packed(out: &mut Packed, read: impl FnOnce(&mut Packed) -> Result<()>) -> Result<()> {
    out.clear();
    let outcome = read(out);
    if outcome.is_err() {
        out.clear();
    }
    outcome
}
