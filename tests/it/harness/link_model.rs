//! A model of one uid's persistent link, for tests that check what concurrent or faulty runs
//! returned: what each link operation should return, and whether the links in Redis are whole.

use std::collections::HashMap;

use stateful_executor::*;

use super::Rng;

/// The service every model operation uses.
const SVC: &str = "chat";

/// What a link operation should return, from a model of the uid's one link (persistent only).
pub fn model_step(state: Option<Pod>, op: LinkOp) -> (Option<Pod>, LinkRet) {
    match op {
        LinkOp::Set(pod) => (Some(pod), LinkRet::Previous(state)),
        LinkOp::TrySet(pod) => match state {
            Some(current) if current != pod => (state, LinkRet::Tried(false, current)),
            _ => (Some(pod), LinkRet::Tried(true, pod)),
        },
        LinkOp::IfAbsent(pod) => match state {
            Some(current) => (state, LinkRet::Current(current)),
            None => (Some(pod), LinkRet::Current(pod)),
        },
        LinkOp::RemoveWithId(pod) => match state {
            Some(current) if current == pod => (None, LinkRet::Removed(true)),
            _ => (state, LinkRet::Removed(false)),
        },
        LinkOp::Get => (state, LinkRet::Got(state)),
        LinkOp::GetIfPersist => (state, LinkRet::Got(state)),
    }
}

/// The link operations the model knows, all on persistent links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkOp {
    Set(Pod),
    TrySet(Pod),
    IfAbsent(Pod),
    RemoveWithId(Pod),
    Get,
    GetIfPersist,
}

/// What each link operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkRet {
    Previous(Option<Pod>),
    Tried(bool, Pod),
    Current(Pod),
    Removed(bool),
    Got(Option<Pod>),
}

pub fn run_link_op(ex: &Executor, ns: &str, uid: &str, op: LinkOp) -> Result<LinkRet> {
    let persistent = Persistence::Persistent;
    Ok(match op {
        LinkOp::Set(pod) => LinkRet::Previous(ex.set_linked_pod(ns, uid, SVC, pod, persistent)?),
        LinkOp::TrySet(pod) => {
            let t = ex.try_set_linked_pod(ns, uid, SVC, pod, persistent)?;
            LinkRet::Tried(t.linked, t.pod)
        }
        LinkOp::IfAbsent(pod) => {
            LinkRet::Current(ex.set_linked_pod_if_absent(ns, uid, SVC, pod, persistent)?)
        }
        LinkOp::RemoveWithId(pod) => {
            LinkRet::Removed(ex.remove_linked_pod_with_id(ns, uid, SVC, Grace::Immediate, pod)?)
        }
        LinkOp::Get => LinkRet::Got(ex.get_linked_pod(ns, uid, SVC)?),
        LinkOp::GetIfPersist => LinkRet::Got(ex.get_linked_pod_if_persist(ns, uid, SVC)?),
    })
}

pub fn random_link_op(rng: &mut Rng, pods: u64) -> LinkOp {
    let pod = rng.below(pods) as Pod;
    match rng.below(10) {
        0 | 1 => LinkOp::Set(pod),
        2..=4 => LinkOp::TrySet(pod),
        5..=6 => LinkOp::IfAbsent(pod),
        7 | 8 => LinkOp::RemoveWithId(pod),
        _ => LinkOp::GetIfPersist,
    }
}

/// Every link of namespace `ns` is whole: a persistent link key has its uid hash field with the
/// same pod, a temporary one has none, and every hash field has its persistent link key.
pub fn assert_links_whole(raw: &mut redis::Connection, ns: &str) -> usize {
    let pattern = format!("sf:{{{ns}:lk:*");
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(raw).unwrap();
    let mut checked = 0;
    for key in &keys {
        let close = key.find('}').expect("hash tag");
        let (hash_key, service) = key.split_at(close + 1);
        if service.is_empty() {
            // A uid hash: each field must have its persistent link key.
            let fields: HashMap<String, String> =
                redis::cmd("HGETALL").arg(key).query(raw).unwrap();
            for (service, pod) in fields {
                let link = format!("{key}{service}");
                let value: Option<String> = redis::cmd("GET").arg(&link).query(raw).unwrap();
                let ttl: i64 = redis::cmd("PTTL").arg(&link).query(raw).unwrap();
                assert_eq!(
                    value.as_deref(),
                    Some(pod.as_str()),
                    "{key} lists {service} -> {pod} but {link} holds {value:?}"
                );
                assert_eq!(ttl, -1, "{key} lists {service} but {link} has a TTL");
                checked += 1;
            }
        } else {
            let value: String = redis::cmd("GET").arg(key).query(raw).unwrap();
            let ttl: i64 = redis::cmd("PTTL").arg(key).query(raw).unwrap();
            let field: Option<String> = redis::cmd("HGET")
                .arg(hash_key)
                .arg(service)
                .query(raw)
                .unwrap();
            if ttl == -1 {
                assert_eq!(
                    field.as_deref(),
                    Some(value.as_str()),
                    "persistent link {key} = {value} without its field in {hash_key}"
                );
            } else {
                assert_eq!(field, None, "temporary link {key} is listed in {hash_key}");
            }
            checked += 1;
        }
    }
    checked
}
