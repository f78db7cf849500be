//! The keys of the data model (docs/data-model.md) as SCAN finds them: which key is which, and
//! the SCAN patterns that find them. The keys themselves are built by the library's `keys`.

use stateful_executor::keys;

/// What a key of a namespace is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `sf:{NS:state:SVC}`: hash of pod -> pod state.
    State { service: String },
    /// `sf:{NS:workload:SVC}`: string.
    Workload { service: String },
    /// `sf:{NS:lk:UID}`: hash of service -> pod, persistent links only.
    UidLinks { uid: String },
    /// `sf:{NS:lk:UID}SVC`: string pod; a TTL makes the link temporary.
    Link { uid: String, service: String },
    /// Under the namespace's prefix but none of the above (or with names the rules forbid).
    Other,
}

impl Key {
    /// The Redis type the data model gives this key.
    pub fn expected_type(&self) -> Option<&'static str> {
        match self {
            Key::State { .. } | Key::UidLinks { .. } => Some("hash"),
            Key::Workload { .. } | Key::Link { .. } => Some("string"),
            Key::Other => None,
        }
    }
}

/// Which key of namespace `ns` this is. Names are checked by the library's rules, and the key
/// must be exactly the one the library builds from them.
pub fn classify(ns: &str, key: &[u8]) -> Key {
    let Ok(text) = std::str::from_utf8(key) else {
        return Key::Other;
    };
    let Some(rest) = text
        .strip_prefix("sf:{")
        .and_then(|r| r.strip_prefix(ns))
        .and_then(|r| r.strip_prefix(':'))
    else {
        return Key::Other;
    };
    // Names hold no '}', so the first one ends the hash tag.
    let Some(close) = rest.find('}') else {
        return Key::Other;
    };
    let (inside, suffix) = (&rest[..close], &rest[close + 1..]);
    let Some((kind, name)) = inside.split_once(':') else {
        return Key::Other;
    };
    let found = match (kind, suffix.is_empty()) {
        ("state", true) if keys::check_service(name).is_ok() => Key::State {
            service: name.to_string(),
        },
        ("workload", true) if keys::check_service(name).is_ok() => Key::Workload {
            service: name.to_string(),
        },
        ("lk", true) if keys::check_uid(name).is_ok() => Key::UidLinks {
            uid: name.to_string(),
        },
        ("lk", false) if keys::check_uid(name).is_ok() && keys::check_service(suffix).is_ok() => {
            Key::Link {
                uid: name.to_string(),
                service: suffix.to_string(),
            }
        }
        _ => Key::Other,
    };
    // Guards against any reading of the layout other than the library's.
    let rebuilt = match &found {
        Key::State { service } => keys::service_state_key(ns, service),
        Key::Workload { service } => keys::workload_key(ns, service),
        Key::UidLinks { uid } => keys::uid_links_key(ns, uid),
        Key::Link { uid, service } => keys::link_key(ns, uid, service),
        Key::Other => return Key::Other,
    };
    if rebuilt.as_bytes() == key {
        found
    } else {
        Key::Other
    }
}

/// The link keys of `service` in a batch of keys of namespace `ns`, with their uids.
pub fn service_links<'k>(ns: &str, service: &str, batch: &'k [Vec<u8>]) -> Vec<(String, &'k [u8])> {
    batch
        .iter()
        .filter_map(|key| match classify(ns, key) {
            Key::Link {
                uid,
                service: found,
            } if found == service => Some((uid, key.as_slice())),
            _ => None,
        })
        .collect()
}

/// `name` as a literal inside a SCAN MATCH pattern (glob characters escaped).
fn literal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Every key of namespace `ns`.
pub fn namespace_pattern(ns: &str) -> String {
    format!("sf:{{{}:*", literal(ns))
}

/// Every link key of `service` in `ns` (one per linked uid).
pub fn service_links_pattern(ns: &str, service: &str) -> String {
    format!("sf:{{{}:lk:*}}{}", literal(ns), literal(service))
}

/// Every link key of `uid` in `ns` (one per service), and its uid hash.
pub fn uid_links_pattern(ns: &str, uid: &str) -> String {
    format!("sf:{{{}:lk:{}}}*", literal(ns), literal(uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_key_is_recognised() {
        let ns = "prod/eu";
        let cases = [
            (
                keys::service_state_key(ns, "chat:v2"),
                Key::State {
                    service: "chat:v2".into(),
                },
            ),
            (
                keys::workload_key(ns, "聊天"),
                Key::Workload {
                    service: "聊天".into(),
                },
            ),
            (
                keys::uid_links_key(ns, "u:1"),
                Key::UidLinks { uid: "u:1".into() },
            ),
            (
                keys::link_key(ns, "u:1", "game/room"),
                Key::Link {
                    uid: "u:1".into(),
                    service: "game/room".into(),
                },
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(classify(ns, key.as_bytes()), expected, "{key}");
        }
    }

    #[test]
    fn foreign_and_malformed_keys_are_other() {
        for key in [
            &b"sf:{prod/eu:foo:x}"[..],
            b"sf:{prod/eu:state:chat}extra",
            b"sf:{prod/eu:lk:u1}a}b",
            b"sf:{prod/eu:lk:}chat",
            b"sf:{prod/eu:lk:u1",
            b"sf:{prod/eu2:lk:u1}chat",
            b"sf:{prod/eu:lk:u\x01}chat",
            b"sf:{prod/eu:lk:u1}\xff",
            b"other",
        ] {
            assert_eq!(
                classify("prod/eu", key),
                Key::Other,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn patterns_escape_glob_characters() {
        assert_eq!(namespace_pattern("a*b"), "sf:{a\\*b:*");
        assert_eq!(
            service_links_pattern("p", "c?[x]"),
            "sf:{p:lk:*}c\\?\\[x\\]"
        );
        assert_eq!(uid_links_pattern("p", "u\\1"), "sf:{p:lk:u\\\\1}*");
    }
}
