//! The pod-state and workload-state operations (data-model.md, "Operations"): a `static` per
//! operation says what every call of it shares (name, read or write, reply reader), and a
//! constructor checks a call's arguments as the data model says and names its key.

use std::collections::BTreeMap;

use super::{
    checked_key, Key, KeyCommand, KeyReader, KeysRead, OnKey, PackedFill, ReadKeys, Spec,
    ValueReader, Verb,
};
use crate::codec;
use crate::error::{Error, Result};
use crate::keys::{self, check_namespace, check_pod, check_service, check_state};
use crate::packed::Packed;
use crate::types::Pod;

/// Publishes one pod's state (`HSET`).
pub(crate) static SET_SERVICE_STATE: Spec<KeyReader<()>> =
    Spec::writes("set service state", |reply, _| {
        codec::read_int(reply).map(drop)
    });

/// The states of every pod of a service (`HGETALL`); fields that are not pod ordinals are
/// skipped.
pub(crate) static GET_SERVICE_STATE: Spec<KeyReader<BTreeMap<Pod, String>>> =
    Spec::reads("get service state", |reply, key| {
        let mut states = BTreeMap::new();
        for pair in codec::HashPairs::of(reply)? {
            let (field, value) = pair?;
            if let Some((pod, state)) = codec::pod_state_entry(key, field, value)? {
                states.insert(pod, codec::owned_text(state));
            }
        }
        Ok(states)
    });

/// As [`GET_SERVICE_STATE`], into a caller's buffer: sorted by pod, keyed by the pod.
pub(crate) static GET_SERVICE_STATE_PACKED: Spec<PackedFill> =
    Spec::reads(GET_SERVICE_STATE.name, |reply, key, out| {
        let entry = |field, value| {
            let entry = codec::pod_state_entry(key, field, value)?;
            Ok(entry.map(|(pod, state)| (pod, pod, state)))
        };
        codec::fill_sorted(reply, out, entry, |pod| format!("state of pod {pod}"))
    });

/// Publishes a whole service's state (`SET` without expiry).
pub(crate) static SET_WORKLOAD_STATE: Spec<KeyReader<()>> =
    Spec::writes("set workload state", |reply, _| codec::read_ok(reply));

/// A whole service's state, if published (`GET`).
pub(crate) static GET_WORKLOAD_STATE: Spec<KeyReader<Option<String>>> =
    Spec::reads("get workload state", |reply, key| {
        codec::read_get(reply, |v| codec::stored_text(v, &|| key.to_string()))
    });

/// The workload states of many services, in input order (`MGET` per slot).
pub(crate) static GET_WORKLOAD_STATES: Spec<ValueReader<Option<String>>> =
    Spec::reads("get workload states", codec::stored_text);

/// The hash of a service's pod states, checked.
fn state_hash<'a>(ns: &'a str, service: &'a str) -> Result<Key<'a>> {
    checked_key(ns, service, check_service, keys::service_state_key_pieces)
}

/// The workload-state key of a service, checked.
fn workload_key<'a>(ns: &'a str, service: &'a str) -> Result<Key<'a>> {
    checked_key(ns, service, check_service, keys::workload_key_pieces)
}

/// Set service state, its arguments checked.
pub(crate) fn set_service_state<'a>(
    ns: &'a str,
    service: &'a str,
    pod: Pod,
    state: &'a str,
) -> Result<OnKey<'a, ()>> {
    let key = state_hash(ns, service)?;
    check_pod(pod)?;
    check_state("pod state", state)?;
    Ok(KeyCommand::new(
        &SET_SERVICE_STATE,
        key,
        Verb::HSet(pod, state),
    ))
}

/// Get service state, its arguments checked.
pub(crate) fn get_service_state<'a>(
    ns: &'a str,
    service: &'a str,
) -> Result<OnKey<'a, BTreeMap<Pod, String>>> {
    KeyCommand::on(&GET_SERVICE_STATE, state_hash(ns, service), Verb::HGetAll)
}

/// Set workload state, its arguments checked.
pub(crate) fn set_workload_state<'a>(
    ns: &'a str,
    service: &'a str,
    state: &'a str,
) -> Result<OnKey<'a, ()>> {
    let key = workload_key(ns, service)?;
    check_state("workload state", state)?;
    Ok(KeyCommand::new(&SET_WORKLOAD_STATE, key, Verb::Set(state)))
}

/// Get workload state, its arguments checked.
pub(crate) fn get_workload_state<'a>(
    ns: &'a str,
    service: &'a str,
) -> Result<OnKey<'a, Option<String>>> {
    KeyCommand::on(&GET_WORKLOAD_STATE, workload_key(ns, service), Verb::Get)
}

/// The checked services of a multi-service read.
fn services<S: AsRef<str>>(ns: &str, services: &[S]) -> Result<()> {
    check_namespace(ns)?;
    for service in services {
        check_service(service.as_ref())?;
    }
    Ok(())
}

/// Get workload states, its arguments checked.
pub(crate) fn get_workload_states<'a, S: AsRef<str>>(
    ns: &'a str,
    list: &'a [S],
) -> Result<KeysRead<'a, Option<String>, impl Fn(usize) -> Key<'a>>> {
    services(ns, list)?;
    Ok(KeysRead::new(&GET_WORKLOAD_STATES, list.len(), move |i| {
        keys::workload_key_pieces(ns, list[i].as_ref()).widened()
    }))
}

/// As [`get_workload_states`], into a caller's buffer: one entry per service, keyed by its
/// index, with its state or none.
pub(crate) struct WorkloadStatesPacked<'a, 'p, S> {
    ns: &'a str,
    services: &'a [S],
    out: &'p mut Packed,
}

/// As [`get_workload_states`], into `out`.
pub(crate) fn get_workload_states_packed<'a, 'p, S: AsRef<str>>(
    ns: &'a str,
    list: &'a [S],
    out: &'p mut Packed,
) -> Result<WorkloadStatesPacked<'a, 'p, S>> {
    services(ns, list)?;
    if i32::try_from(list.len()).is_err() {
        return Err(Error::invalid(format!(
            "{} services: at most 2147483647 per call",
            list.len()
        )));
    }
    Ok(WorkloadStatesPacked {
        ns,
        services: list,
        out,
    })
}

impl<S: AsRef<str>> ReadKeys for WorkloadStatesPacked<'_, '_, S> {
    type Output = ();

    fn name(&self) -> &'static str {
        GET_WORKLOAD_STATES.name
    }

    fn count(&self) -> usize {
        self.services.len()
    }

    fn key(&self, i: usize, put: &mut dyn FnMut(&[&[u8]])) {
        put(keys::workload_key_pieces(self.ns, self.services[i].as_ref()).pieces())
    }

    fn start(&mut self) {
        self.out.clear();
    }

    fn value(&mut self, i: usize, value: Option<&[u8]>) -> Result<()> {
        let service = self.services[i].as_ref();
        let key = || keys::workload_key(self.ns, service);
        let state = codec::stored_str(value, &key)?;
        // i < services.len(), checked to fit when built.
        self.out
            .push(i as i32, state, || format!("workload state of {service}"))
    }

    fn finish(self) {}
}
