//! The link operations (data-model.md, "Operations"): one constructor each, which checks the
//! arguments as the data model says and describes the command.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{Access, IntoPacked, Key, KeyCommand, KeysRead, LinkScript, ScriptReader, Verb};
use crate::codec;
use crate::error::Result;
use crate::keys::{self, check_namespace, check_pod, check_service, check_uid, KeyPieces};
use crate::packed::Packed;
use crate::scripts::{self, Script};
use crate::types::{Grace, Persistence, Pod, TrySet};

pub(crate) const SET_LINKED_POD: &str = "set linked pod";
pub(crate) const TRY_SET_LINKED_POD: &str = "try set linked pod";
pub(crate) const SET_LINKED_POD_IF_ABSENT: &str = "set linked pod if absent";
pub(crate) const GET_LINKED_POD: &str = "get linked pod";
pub(crate) const GET_LINKED_POD_IF_PERSIST: &str = "get linked pod if persist";
pub(crate) const BATCH_GET_LINKED_PODS: &str = "batch get linked pods";
pub(crate) const REMOVE_LINKED_POD: &str = "remove linked pod";
pub(crate) const REMOVE_LINKED_POD_WITH_ID: &str = "remove linked pod with id";
pub(crate) const GET_LINK_SERVICES: &str = "get link services";

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

    /// The script `script` on these keys with `argv` after the service.
    fn script<T>(
        self,
        name: &'static str,
        access: Access,
        script: &'static Script,
        argv: &[i32],
        read: ScriptReader<T>,
    ) -> LinkScript<'a, T> {
        let mut args = [0; 2];
        args[..argv.len()].copy_from_slice(argv);
        LinkScript {
            name,
            access,
            script,
            keys: self,
            argv: args,
            argc: argv.len(),
            read,
        }
    }
}

/// A link setter: the script `script` with the pod and persist_seconds, checked.
#[allow(clippy::too_many_arguments)]
fn setter<'a, T>(
    name: &'static str,
    script: &'static Script,
    read: ScriptReader<T>,
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistence: Persistence,
) -> Result<LinkScript<'a, T>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    check_pod(pod)?;
    let argv = [pod, persistence.checked_seconds()?];
    Ok(keys.script(name, Access::Write, script, &argv, read))
}

/// Links the uid to `pod` whatever was there; the previous pod.
pub(crate) fn set_linked_pod<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistence: Persistence,
) -> Result<LinkScript<'a, Option<Pod>>> {
    let (script, read) = (&scripts::SET_LINKED_POD, codec::script_pod);
    setter(
        SET_LINKED_POD,
        script,
        read,
        ns,
        uid,
        service,
        pod,
        persistence,
    )
}

/// Links the uid to `pod` unless a persistent link to another pod exists.
pub(crate) fn try_set_linked_pod<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistence: Persistence,
) -> Result<LinkScript<'a, TrySet>> {
    let (script, read) = (&scripts::TRY_SET_LINKED_POD, codec::script_try_set);
    setter(
        TRY_SET_LINKED_POD,
        script,
        read,
        ns,
        uid,
        service,
        pod,
        persistence,
    )
}

/// Links the uid to `pod` only when it has no link; the pod linked now.
pub(crate) fn set_linked_pod_if_absent<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    pod: Pod,
    persistence: Persistence,
) -> Result<LinkScript<'a, Pod>> {
    let (script, read) = (&scripts::SET_LINKED_POD_IF_ABSENT, codec::script_some_pod);
    let name = SET_LINKED_POD_IF_ABSENT;
    setter(name, script, read, ns, uid, service, pod, persistence)
}

/// The linked pod, persistent or temporary (`GET` of the link).
pub(crate) fn get_linked_pod<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
) -> Result<KeyCommand<'a, Option<Pod>>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    Ok(KeyCommand {
        name: GET_LINKED_POD,
        key: keys.link,
        verb: Verb::Get,
        read: |reply, key| codec::read_get(reply, |v| codec::stored_pod(v, &|| key.to_string())),
    })
}

/// The linked pod only when the link is persistent (value and TTL read in one script).
pub(crate) fn get_linked_pod_if_persist<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
) -> Result<LinkScript<'a, Option<Pod>>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    let script = &scripts::GET_LINKED_POD_IF_PERSIST;
    let name = GET_LINKED_POD_IF_PERSIST;
    Ok(keys.script(name, Access::Read, script, &[], codec::script_pod))
}

/// The linked pod of each uid, in input order (`MGET` per slot).
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
    Ok(KeysRead {
        name: BATCH_GET_LINKED_PODS,
        count: uids.len(),
        key: move |i| keys::link_key_pieces(ns, uids[i].as_ref(), service),
        read: codec::stored_pod,
        values: Vec::with_capacity(uids.len()),
    })
}

/// Removes the link (deleting it, or keeping it as a temporary link for the grace period);
/// `only_pod`: only when it points to that pod. Whether a link was removed.
fn remove<'a>(
    name: &'static str,
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    grace: Grace,
    only_pod: Option<Pod>,
) -> Result<LinkScript<'a, bool>> {
    let keys = LinkKeys::new(ns, uid, service)?;
    let keep = grace.checked_seconds()?;
    let script = &scripts::REMOVE_LINKED_POD;
    let read = codec::script_flag;
    Ok(match only_pod {
        None => keys.script(name, Access::Write, script, &[keep], read),
        Some(pod) => {
            check_pod(pod)?;
            keys.script(name, Access::Write, script, &[keep, pod], read)
        }
    })
}

/// Removes the link; whether one existed.
pub(crate) fn remove_linked_pod<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    grace: Grace,
) -> Result<LinkScript<'a, bool>> {
    remove(REMOVE_LINKED_POD, ns, uid, service, grace, None)
}

/// Removes the link only when it points to `pod`; whether it was removed.
pub(crate) fn remove_linked_pod_with_id<'a>(
    ns: &'a str,
    uid: &'a str,
    service: &'a str,
    grace: Grace,
    pod: Pod,
) -> Result<LinkScript<'a, bool>> {
    remove(
        REMOVE_LINKED_POD_WITH_ID,
        ns,
        uid,
        service,
        grace,
        Some(pod),
    )
}

/// The uid's hash of persistent links, checked.
fn uid_hash<'a>(ns: &'a str, uid: &'a str) -> Result<Key<'a>> {
    check_namespace(ns)?;
    check_uid(uid)?;
    Ok(keys::uid_links_key_pieces(ns, uid).widened())
}

/// The persistent links of the uid: service -> pod (`HGETALL` of its hash).
pub(crate) fn get_link_services<'a>(
    ns: &'a str,
    uid: &'a str,
) -> Result<KeyCommand<'a, BTreeMap<String, Pod>>> {
    Ok(KeyCommand {
        name: GET_LINK_SERVICES,
        key: uid_hash(ns, uid)?,
        verb: Verb::HGetAll,
        read: |reply, key| {
            let mut links = BTreeMap::new();
            for pair in codec::HashPairs::of(reply)? {
                let (service, pod) = pair?;
                let (service, pod) = codec::link_service_entry(key, service, pod)?;
                links.insert(codec::owned_text(service), pod);
            }
            Ok(links)
        },
    })
}

/// As [`get_link_services`], into `out`: sorted by service name, keyed by the pod.
pub(crate) fn get_link_services_packed<'a, 'p>(
    ns: &'a str,
    uid: &'a str,
    out: &'p mut Packed,
) -> Result<IntoPacked<'a, 'p>> {
    Ok(IntoPacked {
        name: GET_LINK_SERVICES,
        key: uid_hash(ns, uid)?,
        out: RefCell::new(out),
        fill: |reply, key, out| {
            let entry = |service, pod| {
                let (service, pod) = codec::link_service_entry(key, service, pod)?;
                Ok(Some((service, pod, service)))
            };
            codec::fill_sorted(reply, out, entry, |_| "a service name".to_string())
        },
    })
}
