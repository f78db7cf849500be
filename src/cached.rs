//! The client cache's hooks on the executor: the reads it serves and the writes that drop its
//! entries (everything else of the cache is in `cache/`, which knows nothing of operations).
//!
//! Each read the cache serves calls one function here when the cache is on; each write calls
//! [`Executor::written`] with the keys it changes once it has run (failed or not: a write whose
//! reply was lost may have run). A miss reads the key with its remaining TTL in one script
//! (`lua/read_with_ttl.lua`), so an entry never outlives its key; the batch reads (MGET, which
//! cannot carry TTLs) store only what they find absent, and use every entry the single reads
//! stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use crate::cache::{Cached, ClientCache, Lookup, PodStates, ServiceLinks};
use crate::error::{Error, Result};
use crate::executor::{link_service_entry, pod_state_entry, LinkKeys, Repeat};
use crate::keys::{self, KeyPieces};
use crate::reply;
use crate::scripts;
use crate::types::Pod;
use crate::Executor;
use crate::{BatchOp, BatchOutcome};

/// A cached read's command, run by the read-with-TTL script.
#[derive(Clone, Copy)]
enum Read {
    Get,
    HashAll,
}

impl Read {
    fn command(self) -> &'static [u8] {
        match self {
            Read::Get => b"GET",
            Read::HashAll => b"HGETALL",
        }
    }
}

impl Executor {
    /// The cache, when on.
    pub(crate) fn cache(&self) -> Option<&ClientCache> {
        self.cache.as_deref()
    }

    /// Hook of `watch`: a data connection saw the server side change.
    pub(crate) fn flush_cache(&self, err: &Error) {
        if let Some(cache) = self.cache() {
            cache.flush(&format!("a data connection saw a change: {err}"));
        }
    }

    /// Hook of every write: drops the entries of the keys it changed (or may have).
    pub(crate) fn written(&self, keys: &[&[&[u8]]]) {
        if let Some(cache) = self.cache() {
            for key in keys {
                cache.written(key);
            }
        }
    }

    /// Hook of every link write: the link key and the uid's hash of persistent links.
    pub(crate) fn link_written(&self, keys: &LinkKeys) {
        self.written(&[keys.link.pieces(), keys.uid_hash.pieces()]);
    }

    /// Hook of `execute_batch`: what a batch's write changed (its reads change nothing).
    pub(crate) fn batch_written(&self, op: &BatchOp<'_>) {
        match *op {
            BatchOp::SetServiceState { ns, service, .. } => {
                self.written(&[keys::service_state_key_pieces(ns, service).pieces()]);
            }
            BatchOp::SetWorkloadState { ns, service, .. } => {
                self.written(&[keys::workload_key_pieces(ns, service).pieces()]);
            }
            BatchOp::SetLinkedPod {
                ns, uid, service, ..
            }
            | BatchOp::TrySetLinkedPod {
                ns, uid, service, ..
            }
            | BatchOp::SetLinkedPodIfAbsent {
                ns, uid, service, ..
            }
            | BatchOp::RemoveLinkedPod {
                ns, uid, service, ..
            }
            | BatchOp::RemoveLinkedPodWithId {
                ns, uid, service, ..
            } => self.written(&[
                keys::link_key_pieces(ns, uid, service).pieces(),
                keys::uid_links_key_pieces(ns, uid).pieces(),
            ]),
            BatchOp::GetServiceState { .. }
            | BatchOp::GetWorkloadState { .. }
            | BatchOp::GetLinkedPod { .. }
            | BatchOp::GetLinkedPodIfPersist { .. }
            | BatchOp::GetLinkServices { .. } => {}
        }
    }

    /// Hook of `execute_batch`: the outcome of a read the cache answers (validated already);
    /// `None` sends it with the batch (which, reading no TTL, stores nothing).
    pub(crate) fn batch_hit(&self, op: &BatchOp<'_>) -> Option<BatchOutcome> {
        let cache = self.cache()?;
        let hit = |key: &[&[u8]]| match cache.lookup(key) {
            Lookup::Hit(entry) => Some(entry),
            Lookup::Miss(_) => None,
        };
        match *op {
            BatchOp::GetLinkedPod { ns, uid, service } => {
                match hit(keys::link_key_pieces(ns, uid, service).pieces())? {
                    Cached::Link { pod, .. } => Some(BatchOutcome::Pod(pod)),
                    _ => None,
                }
            }
            BatchOp::GetLinkedPodIfPersist { ns, uid, service } => {
                match hit(keys::link_key_pieces(ns, uid, service).pieces())? {
                    Cached::Link { pod, temporary } => {
                        Some(BatchOutcome::Pod(pod.filter(|_| !temporary)))
                    }
                    _ => None,
                }
            }
            BatchOp::GetServiceState { ns, service } => {
                match hit(keys::service_state_key_pieces(ns, service).pieces())? {
                    Cached::PodStates(states) => Some(BatchOutcome::States(states_map(&states))),
                    _ => None,
                }
            }
            BatchOp::GetWorkloadState { ns, service } => {
                match hit(keys::workload_key_pieces(ns, service).pieces())? {
                    Cached::Text(text) => Some(BatchOutcome::State(
                        text.map(|text| reply::owned_text(&text)),
                    )),
                    _ => None,
                }
            }
            BatchOp::GetLinkServices { ns, uid } => {
                match hit(keys::uid_links_key_pieces(ns, uid).pieces())? {
                    Cached::ServiceLinks(links) => Some(BatchOutcome::Links(links_map(&links))),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `read` of `key` and the key's remaining TTL, atomically (a miss of the cache).
    fn read_with_ttl(
        &self,
        op: &'static str,
        key: &[&[u8]],
        read: Read,
    ) -> Result<(Value, Option<Duration>)> {
        let script = &scripts::READ_WITH_TTL;
        let reply = self.run(op, Repeat::Safe, |conn| {
            self.eval_script(conn, script, key, |a, head, body| {
                a.bytes(head);
                a.bytes(body.as_bytes());
                a.int(1);
                a.pieces(key);
                a.bytes(read.command());
            })
        })?;
        let [ttl, value] = <[Value; 2]>::try_from(reply::array(reply, 2, script.name)?)
            .map_err(|_| Error::unexpected("read with ttl: a reply of the wrong length"))?;
        let ttl = match ttl {
            // Redis counts in whole milliseconds of its clock, so the key may end up to a
            // millisecond before PTTL says: one less, to be on the safe side.
            Value::Int(ms) if ms >= 0 => Some(Duration::from_millis((ms as u64).saturating_sub(1))),
            Value::Int(-1 | -2) => None,
            other => {
                return Err(Error::unexpected(format!(
                    "read with ttl: PTTL answered {other:?}"
                )))
            }
        };
        Ok((value, ttl))
    }

    /// One key through the cache: the entry's value (`from_entry`) on a hit; on a miss `read`
    /// with the key's TTL, decoded (`decode`), stored as `entry` makes it unless overtaken.
    #[allow(clippy::too_many_arguments)]
    fn through<T>(
        &self,
        cache: &ClientCache,
        op: &'static str,
        key: &[&[u8]],
        read: Read,
        from_entry: impl FnOnce(Cached) -> Option<T>,
        decode: impl FnOnce(&Value, Option<Duration>) -> Result<T>,
        entry: impl FnOnce(&T) -> Cached,
    ) -> Result<T> {
        let ticket = match cache.lookup(key) {
            Lookup::Hit(hit) => match from_entry(hit) {
                Some(value) => return Ok(value),
                None => None,
            },
            Lookup::Miss(ticket) => ticket,
        };
        let (value, ttl) = self.read_with_ttl(op, key, read)?;
        let value = decode(&value, ttl)?;
        if let Some(ticket) = ticket {
            cache.fill(ticket, key, entry(&value), ttl);
        }
        Ok(value)
    }

    /// A link through the cache: (pod, whether the link is temporary).
    pub(crate) fn cached_link(
        &self,
        cache: &ClientCache,
        op: &'static str,
        keys: &LinkKeys,
    ) -> Result<(Option<Pod>, bool)> {
        self.through(
            cache,
            op,
            keys.link.pieces(),
            Read::Get,
            |entry| match entry {
                Cached::Link { pod, temporary } => Some((pod, temporary)),
                _ => None,
            },
            |value, ttl| {
                let pod = reply::stored_pod_bytes(bulk(value, op)?, &|| keys.link.to_string())?;
                Ok((pod, pod.is_some() && ttl.is_some()))
            },
            |&(pod, temporary)| Cached::Link { pod, temporary },
        )
    }

    /// A workload state through the cache.
    pub(crate) fn cached_text(
        &self,
        cache: &ClientCache,
        op: &'static str,
        key: &KeyPieces<'_, 5>,
    ) -> Result<Option<Arc<str>>> {
        self.through(
            cache,
            op,
            key.pieces(),
            Read::Get,
            |entry| match entry {
                Cached::Text(text) => Some(text),
                _ => None,
            },
            |value, _| Ok(reply::stored_str(bulk(value, op)?, &|| key.to_string())?.map(Arc::from)),
            |text| Cached::Text(text.clone()),
        )
    }

    /// A service's pod states through the cache: (pod, state), sorted by pod.
    pub(crate) fn cached_pod_states(
        &self,
        cache: &ClientCache,
        op: &'static str,
        key: &KeyPieces<'_, 5>,
    ) -> Result<PodStates> {
        self.through(
            cache,
            op,
            key.pieces(),
            Read::HashAll,
            |entry| match entry {
                Cached::PodStates(states) => Some(states),
                _ => None,
            },
            |value, _| {
                let mut states = Vec::new();
                for (field, value) in pairs(value, op)? {
                    if let Some((pod, state)) = pod_state_entry(key, field, value)? {
                        states.push((pod, Box::from(state)));
                    }
                }
                // Fields are unique and pod ordinals have one spelling: no ties.
                states.sort_unstable_by_key(|&(pod, _)| pod);
                Ok(states.into())
            },
            |states| Cached::PodStates(Arc::clone(states)),
        )
    }

    /// A uid's persistent links through the cache: (service, pod), sorted by service name.
    pub(crate) fn cached_service_links(
        &self,
        cache: &ClientCache,
        op: &'static str,
        key: &KeyPieces<'_, 5>,
    ) -> Result<ServiceLinks> {
        self.through(
            cache,
            op,
            key.pieces(),
            Read::HashAll,
            |entry| match entry {
                Cached::ServiceLinks(links) => Some(links),
                _ => None,
            },
            |value, _| {
                let mut links = Vec::new();
                for (service, pod) in pairs(value, op)? {
                    let (service, pod) = link_service_entry(key, service, pod)?;
                    links.push((Box::<str>::from(service), pod));
                }
                // Hash fields are unique: no ties; bytewise, as the uncached reads sort.
                links.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                Ok(links.into())
            },
            |links| Cached::ServiceLinks(Arc::clone(links)),
        )
    }

    /// Many string keys through the cache, in input order: entries where the cache has them,
    /// the others in one MGET round trip per node (as without the cache). What the MGET found
    /// absent is stored; what it found present is not (it read no TTL).
    pub(crate) fn cached_strings<'k, const N: usize, T: StringEntry>(
        &self,
        cache: &ClientCache,
        op: &'static str,
        count: usize,
        key: impl Fn(usize) -> KeyPieces<'k, N>,
    ) -> Result<Vec<T>> {
        let mut found: Vec<Option<T>> = Vec::with_capacity(count);
        let mut missing = Vec::new();
        for i in 0..count {
            match cache.lookup(key(i).pieces()) {
                Lookup::Hit(entry) => match T::from_entry(entry) {
                    Some(value) => found.push(Some(value)),
                    None => {
                        found.push(None);
                        missing.push((i, None));
                    }
                },
                Lookup::Miss(ticket) => {
                    found.push(None);
                    missing.push((i, ticket));
                }
            }
        }
        if !missing.is_empty() {
            let mut read = Vec::with_capacity(missing.len());
            self.run(op, Repeat::Safe, |conn| {
                read.clear();
                conn.get_each(
                    missing.len(),
                    |m, put| put(key(missing[m].0).pieces()),
                    |m, value| {
                        let i = missing[m].0;
                        read.push((T::decode(value, &|| key(i).to_string())?, value.is_none()));
                        Ok(())
                    },
                )
            })?;
            for ((i, ticket), (value, is_absent)) in missing.into_iter().zip(read) {
                if let (Some(ticket), true) = (ticket, is_absent) {
                    cache.fill(ticket, key(i).pieces(), T::absent(), None);
                }
                found[i] = Some(value);
            }
        }
        Ok(found
            .into_iter()
            .map(|value| value.expect("every key found or read"))
            .collect())
    }
}

/// A value the batch reads take from a string key: decoded from an MGET entry, or taken from a
/// cache entry.
pub(crate) trait StringEntry: Sized {
    /// The value in a cache entry of the key (`None`: an entry of another kind).
    fn from_entry(entry: Cached) -> Option<Self>;
    /// The cache entry of an absent key.
    fn absent() -> Cached;
    /// The value of an MGET entry (`None`: absent); `key` names the key in errors.
    fn decode(value: Option<&[u8]>, key: &dyn Fn() -> String) -> Result<Self>;
}

/// A link's pod.
impl StringEntry for Option<Pod> {
    fn from_entry(entry: Cached) -> Option<Self> {
        match entry {
            Cached::Link { pod, .. } => Some(pod),
            _ => None,
        }
    }
    fn absent() -> Cached {
        Cached::Link {
            pod: None,
            temporary: false,
        }
    }
    fn decode(value: Option<&[u8]>, key: &dyn Fn() -> String) -> Result<Self> {
        reply::stored_pod_bytes(value, key)
    }
}

/// A workload state.
impl StringEntry for Option<Arc<str>> {
    fn from_entry(entry: Cached) -> Option<Self> {
        match entry {
            Cached::Text(text) => Some(text),
            _ => None,
        }
    }
    fn absent() -> Cached {
        Cached::Text(None)
    }
    fn decode(value: Option<&[u8]>, key: &dyn Fn() -> String) -> Result<Self> {
        Ok(reply::stored_str(value, key)?.map(Arc::from))
    }
}

/// The string (or nil) of a GET inside the read-with-TTL reply.
fn bulk<'v>(value: &'v Value, op: &str) -> Result<Option<&'v [u8]>> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(bytes)),
        other => Err(Error::unexpected(format!(
            "{op}: expected a string, got {other:?}"
        ))),
    }
}

/// The (field, value) pairs of an HGETALL inside the read-with-TTL reply.
fn pairs<'v>(value: &'v Value, op: &str) -> Result<Vec<(&'v [u8], &'v [u8])>> {
    let bad = || Error::unexpected(format!("{op}: HGETALL answered {value:?}"));
    let Value::Array(items) = value else {
        return Err(bad());
    };
    if items.len() % 2 != 0 {
        return Err(bad());
    }
    items
        .chunks(2)
        .map(|pair| match pair {
            [Value::BulkString(field), Value::BulkString(value)] => Ok((&field[..], &value[..])),
            _ => Err(bad()),
        })
        .collect()
}

/// The pod states of a cached entry as the map the uncached read returns.
pub(crate) fn states_map(states: &[(Pod, Box<str>)]) -> BTreeMap<Pod, String> {
    states
        .iter()
        .map(|(pod, state)| (*pod, reply::owned_text(state)))
        .collect()
}

/// The service links of a cached entry as the map the uncached read returns.
pub(crate) fn links_map(links: &[(Box<str>, Pod)]) -> BTreeMap<String, Pod> {
    links
        .iter()
        .map(|(service, pod)| (reply::owned_text(service), *pod))
        .collect()
}
