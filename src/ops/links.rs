//! The link operations (data-model.md, "Operations"): a `static` per operation says what every
//! call of it shares (name, read or write, script, reply reader), and a constructor checks a
//! call's arguments as the data model says and names its keys.

use std::collections::BTreeMap;

use super::{
    checked_key, Key, KeyCommand, KeyReader, KeysRead, LinkScript, OnKey, PackedFill, ScriptSpec,
    Spec, ValueReader, Verb,
};
use crate::codec::{self, script_flag, script_pod, script_some_pod, script_try_set};
use crate::error::{Error, Result};
use crate::keys::{self, check_namespace, check_pod, check_service, check_uid, KeyPieces};
use crate::scripts as lua;
use crate::transport::Reply;
use crate::types::{Grace, Persistence, Pod, TrySet};

/// Links the uid to a pod whatever was there; the previous pod.
pub(crate) static SET_LINKED_POD: ScriptSpec<Option<Pod>> =
    ScriptSpec::writes("set linked pod", &lua::SET_LINKED_POD, script_pod);

/// Links the uid to a pod unless a persistent link to another pod exists.
pub(crate) static TRY_SET_LINKED_POD: ScriptSpec<TrySet> = ScriptSpec::writes(
    "try set linked pod",
    &lua::TRY_SET_LINKED_POD,
    script_try_set,
);

/// Links the uid to a pod only when it has no link; the pod linked now.
pub(crate) static SET_LINKED_POD_IF_ABSENT: ScriptSpec<Pod> = ScriptSpec::writes(
    "set linked pod if absent",
    &lua::SET_LINKED_POD_IF_ABSENT,
    script_some_pod,
);

/// The linked pod, persistent or temporary (`GET` of the link).
pub(crate) static GET_LINKED_POD: Spec<KeyReader<Option<Pod>>> =
    Spec::reads("get linked pod", read_link);

/// The pod of a link's `GET` reply.
fn read_link(reply: Reply<'_>, key: &Key<'_>) -> Result<Option<Pod>> {
    codec::read_get(reply, |v| codec::stored_pod(v, &|| key.to_string()))
}

/// The linked pod only when the link is persistent (value and TTL read in one script).
/// With the client cache on, answered from the link's `GET` reply (and TTL) the cache keeps.
pub(crate) static GET_LINKED_POD_IF_PERSIST: ScriptSpec<Option<Pod>> = ScriptSpec::reads(
    "get linked pod if persist",
    &lua::GET_LINKED_POD_IF_PERSIST,
    script_pod,
)
.cached_as(read_link);

/// The linked pod of each uid, in input order (`MGET` per slot).
pub(crate) static BATCH_GET_LINKED_PODS: Spec<ValueReader<Option<Pod>>> =
    Spec::reads("batch get linked pods", codec::stored_pod);

/// Removes the link; whether one existed.
pub(crate) static REMOVE_LINKED_POD: ScriptSpec<bool> =
    ScriptSpec::writes("remove linked pod", &lua::REMOVE_LINKED_POD, script_flag);

/// Removes the link only when it points to a given pod (the same script); whether it was removed.
pub(crate) static REMOVE_LINKED_POD_WITH_ID: ScriptSpec<bool> = ScriptSpec::writes(
    "remove linked pod with id",
    &lua::REMOVE_LINKED_POD,
    script_flag,
);

/// Extends a temporary link's TTL only while it points at a given pod; whether it does.
pub(crate) static TOUCH_LINKED_POD: ScriptSpec<bool> =
    ScriptSpec::writes("touch linked pod", &lua::TOUCH_LINKED_POD, script_flag);

/// The persistent links of the uid: service -> pod (`HGETALL` of its hash).
pub(crate) static GET_LINK_SERVICES: Spec<KeyReader<BTreeMap<String, Pod>>> =
    Spec::reads("get link services", |reply, key| {
        let mut links = BTreeMap::new();
        for pair in codec::HashPairs::of(reply)? {
            let (field, value) = pair?;
            let (service, pod) = codec::link_service_entry(key, field, value)?;
            links.insert(codec::owned_text(service), pod);
        }
        Ok(links)
    });

/// As [`GET_LINK_SERVICES`], into a caller's buffer: sorted by service name, keyed by the pod.
pub(crate) static GET_LINK_SERVICES_PACKED: Spec<PackedFill> =
    Spec::reads(GET_LINK_SERVICES.name, |reply, key, out| {
        let entry = |service, pod| {
            let (service, pod) = codec::link_service_entry(key, service, pod)?;
            Ok(Some((service, pod, service)))
        };
        codec::fill_sorted(reply, out, entry, |_| "a service name".to_string())
    });

/// The keys of a link script: the uid's two keys plus the service, as key pieces (no
/// allocation on the hot path).
#[derive(Clone, Copy)]
pub(crate) struct LinkKeys<'a> {
    pub(crate) uid_hash: KeyPieces<'a, 5>,
    pub(crate) link: KeyPieces<'a, 6>,
    pub(crate) service: &'a str,
}

impl<'a> LinkKeys<'a> {
    /// Checks the identifiers; nothing is sent yet.
    pub(crate) fn new(ns: &'a str, uid: &'a str, service: &'a str) -> Result<Self> {
        check_namespace(ns)?;
        check_uid(uid)?;
        check_service(service)?;
        Ok(LinkKeys {
            uid_hash: keys::uid_links_key_pieces(ns, uid),
            link: keys::link_key_pieces(ns, uid, service),
            service,
        })
    }

    /// The script of `spec` on these keys, with `argv` after the service.
    fn script<T>(self, spec: &'static ScriptSpec<T>, argv: &[i32]) -> LinkScript<'a, T> {
        let mut args = [0; 2];
        args[..argv.len()].copy_from_slice(argv);
        LinkScript {
            spec,
            keys: self,
            argv: args,
            argc: argv.len(),
        }
    }
}

/// A link script given a pod and a persist_seconds, its arguments checked: the three setters
/// (set, try set, set if absent) and the touch (whose TTL is always temporary).
pub(crate) fn pod_script<'a, T>(
    spec: &'static ScriptSpec<T>,
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistence: Persistence,
) -> Result<LinkScript<'a, T>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    check_pod(pod)?;
    Ok(keys.script(spec, &[pod, persistence.checked_seconds()?]))
}

/// Get linked pod, its arguments checked.
pub(crate) fn get_linked_pod<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
) -> Result<OnKey<'a, Option<Pod>>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    Ok(KeyCommand::new(&GET_LINKED_POD, keys.link, Verb::Get))
}

/// Get linked pod if persist, its arguments checked.
pub(crate) fn get_linked_pod_if_persist<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
) -> Result<LinkScript<'a, Option<Pod>>> {
    Ok(LinkKeys::new(ns, uid, service)?.script(&GET_LINKED_POD_IF_PERSIST, &[]))
}

/// Batch get linked pods, its arguments checked.
pub(crate) fn batch_get_linked_pods<'a, S: AsRef<str>>(
    ns: &'a str,
    service: &'a str,
    uids: &'a [S],
) -> Result<KeysRead<'a, Option<Pod>, impl Fn(usize) -> Key<'a>>> {
    check_namespace(ns)?;
    check_service(service)?;
    for uid in uids {
        check_uid(uid.as_ref())?;
    }
    Ok(KeysRead::new(
        &BATCH_GET_LINKED_PODS,
        uids.len(),
        move |i| keys::link_key_pieces(ns, uids[i].as_ref(), service),
    ))
}

/// Remove linked pod (`only_pod: None`) or remove linked pod with id, its arguments checked.
pub(crate) fn remove<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    grace: Grace,
    only_pod: Option<Pod>,
) -> Result<LinkScript<'a, bool>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    let keep = grace.checked_seconds()?;
    Ok(match only_pod {
        None => keys.script(&REMOVE_LINKED_POD, &[keep]),
        Some(pod) => {
            check_pod(pod)?;
            keys.script(&REMOVE_LINKED_POD_WITH_ID, &[keep, pod])
        }
    })
}

/// Checks the TTL a touch gives a temporary link: `1..=2147483647` seconds.
pub(crate) fn checked_touch_seconds(persist_seconds: i64) -> Result<u32> {
    i32::try_from(persist_seconds)
        .ok()
        .filter(|&seconds| seconds >= 1)
        .map(|seconds| seconds as u32)
        .ok_or_else(|| {
            Error::invalid(format!(
                "persist_seconds {persist_seconds} is invalid: a touch sets the TTL of a \
                 temporary link, 1..=2147483647 seconds"
            ))
        })
}

/// The uid's hash of persistent links, checked.
fn uid_hash<'a>(ns: &'a str, uid: &'a str) -> Result<Key<'a>> {
    checked_key(ns, uid, check_uid, keys::uid_links_key_pieces)
}

/// Get link services, its arguments checked.
pub(crate) fn get_link_services<'a>(
    ns: &'a str,
    uid: &'a str,
) -> Result<OnKey<'a, BTreeMap<String, Pod>>> {
    KeyCommand::on(&GET_LINK_SERVICES, uid_hash(ns, uid), Verb::HGetAll)
}
