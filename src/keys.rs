//! Identifier rules and Redis key layout (data-model.md), in one place.
//!
//! Names are spliced into keys, so every name is checked here before any key is built and before
//! anything is sent to Redis. Any UTF-8 name is accepted as long as the key it makes stays
//! unambiguous (data-model.md, revised in 0.2):
//! - a namespace holds no `:`, so the kind token (`state`, `workload`, `lk`) is always the second
//!   `:`-separated field inside the braces;
//! - namespaces, services and uids hold no `{` or `}`, so the hash tag always ends right after
//!   the uid (or service) and both keys of a uid share a slot;
//! - none holds an ASCII control character (they make keys unreadable in every tool).
//!
//! So `chat:v2`, `game/room`, `聊天` and `chat svc` are services, and `prod/eu` a namespace.

use crate::error::{Error, Result};

/// Longest accepted namespace or service name, in bytes (a DNS name's limit).
pub const MAX_NAME_LEN: usize = 253;
/// Longest accepted uid, in bytes.
pub const MAX_UID_LEN: usize = 512;
/// Longest accepted pod or workload state, in bytes.
pub const MAX_STATE_LEN: usize = 4096;
/// Largest pod ordinal (the C API's `int32_t`).
pub const MAX_POD: i32 = i32::MAX;

/// Shows a rejected value in an error message without flooding the log.
fn shown(value: &str) -> String {
    const LIMIT: usize = 64;
    if value.len() <= LIMIT {
        return format!("{value:?}");
    }
    let mut end = LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &value[..end], value.len())
}

/// The bytes no name may hold: `{`, `}` and ASCII control characters (and `:` in the second).
const REFUSED: [bool; 256] = refused_bytes(false);
const REFUSED_WITH_COLON: [bool; 256] = refused_bytes(true);

const fn refused_bytes(colon: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] =
            byte == b'{' || byte == b'}' || byte.is_ascii_control() || (colon && byte == b':');
        b += 1;
    }
    table
}

/// Checks the rules every name shares: not empty, at most `max` bytes, no `{`, `}`, ASCII
/// control character, nor any other byte `refused` marks. UTF-8 validity is guaranteed by `&str`;
/// the C layer rejects invalid UTF-8.
fn check_name(what: &str, value: &str, max: usize, refused: &[bool; 256]) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.len() > max {
        return Err(Error::invalid(format!(
            "{what} is {} bytes, longer than {max}",
            value.len()
        )));
    }
    // One table lookup per byte: batches check hundreds of names per call.
    if let Some(bad) = value.bytes().find(|&b| refused[usize::from(b)]) {
        let allowed = if !refused[usize::from(b':')] {
            "'{', '}' and control characters are not allowed"
        } else {
            "':', '{', '}' and control characters are not allowed"
        };
        return Err(Error::invalid(format!(
            "{what} {} contains byte 0x{bad:02x}; {allowed}",
            shown(value)
        )));
    }
    Ok(())
}

/// Checks a namespace name: 1-253 bytes of UTF-8 without `:`, `{`, `}` or control characters.
pub fn check_namespace(ns: &str) -> Result<()> {
    check_name("namespace", ns, MAX_NAME_LEN, &REFUSED_WITH_COLON)
}

/// Checks a service name: 1-253 bytes of UTF-8 without `{`, `}` or control characters.
pub fn check_service(service: &str) -> Result<()> {
    check_name("service", service, MAX_NAME_LEN, &REFUSED)
}

/// Checks a uid: 1-512 bytes of UTF-8 without `{`, `}` or control characters.
pub fn check_uid(uid: &str) -> Result<()> {
    check_name("uid", uid, MAX_UID_LEN, &REFUSED)
}

/// Checks a pod state or workload state (`what` names which, for the message): 1-4096 bytes of
/// UTF-8 without a NUL byte. NUL is refused at write, in every language, because a C string
/// cannot carry it back: a state holding one would fail every C, Go and Java read of it.
pub fn check_state(what: &str, state: &str) -> Result<()> {
    if state.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if state.len() > MAX_STATE_LEN {
        return Err(Error::invalid(format!(
            "{what} is {} bytes, longer than {MAX_STATE_LEN}",
            state.len()
        )));
    }
    if state.as_bytes().contains(&0) {
        return Err(Error::invalid(format!(
            "{what} {} contains a NUL byte, which no C string can carry back",
            shown(state)
        )));
    }
    Ok(())
}

/// Checks a pod ordinal given as an argument.
pub fn check_pod(pod: i32) -> Result<()> {
    if pod < 0 {
        return Err(Error::invalid(format!(
            "pod ordinal {pod} is negative; pods are 0..={MAX_POD}"
        )));
    }
    Ok(())
}

/// Parses a pod ordinal as stored in Redis: plain decimal, as the data model writes it: ASCII
/// digits without a sign or a leading zero (`"3"`, never `"03"`), at most `i32::MAX`. Stricter
/// than `str::parse`, which would also take `+3` and `03`; the Lua scripts apply the same rule.
pub fn parse_pod(bytes: &[u8]) -> Option<i32> {
    if bytes.is_empty() || bytes.len() > 10 || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    let mut value: i64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    i32::try_from(value).ok()
}

/// A key as the pieces it is made of, so the hot path can write it into a request without
/// building a `String`. `Display` gives the key itself (for messages).
#[derive(Clone, Copy)]
pub struct KeyPieces<'a, const N: usize>(pub(crate) [&'a [u8]; N]);

impl<const N: usize> KeyPieces<'_, N> {
    /// The pieces, in order.
    pub fn pieces(&self) -> &[&[u8]] {
        &self.0
    }
}

impl<const N: usize> std::fmt::Display for KeyPieces<'_, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Identifiers are checked UTF-8 before keys are built.
        self.0
            .iter()
            .try_for_each(|piece| f.write_str(&String::from_utf8_lossy(piece)))
    }
}

impl<'a> KeyPieces<'a, 5> {
    /// The same key in six pieces (the sixth empty), so that every key has one type.
    pub(crate) fn widened(self) -> KeyPieces<'a, 6> {
        let [a, b, c, d, e] = self.0;
        KeyPieces([a, b, c, d, e, b""])
    }
}

/// `sf:{NS:state:SVC}`: hash of pod ordinal -> pod state.
pub fn service_state_key_pieces<'a>(ns: &'a str, service: &'a str) -> KeyPieces<'a, 5> {
    KeyPieces([b"sf:{", ns.as_bytes(), b":state:", service.as_bytes(), b"}"])
}

/// `sf:{NS:workload:SVC}`: string holding the workload state.
pub fn workload_key_pieces<'a>(ns: &'a str, service: &'a str) -> KeyPieces<'a, 5> {
    KeyPieces([
        b"sf:{",
        ns.as_bytes(),
        b":workload:",
        service.as_bytes(),
        b"}",
    ])
}

/// `sf:{NS:lk:UID}`: hash of service -> pod, persistent links only.
pub fn uid_links_key_pieces<'a>(ns: &'a str, uid: &'a str) -> KeyPieces<'a, 5> {
    KeyPieces([b"sf:{", ns.as_bytes(), b":lk:", uid.as_bytes(), b"}"])
}

/// `sf:{NS:lk:UID}SVC`: string holding the pod; a TTL makes the link temporary.
pub fn link_key_pieces<'a>(ns: &'a str, uid: &'a str, service: &'a str) -> KeyPieces<'a, 6> {
    KeyPieces([
        b"sf:{",
        ns.as_bytes(),
        b":lk:",
        uid.as_bytes(),
        b"}",
        service.as_bytes(),
    ])
}

/// `sf:{NS:state:SVC}` as a string.
pub fn service_state_key(ns: &str, service: &str) -> String {
    service_state_key_pieces(ns, service).to_string()
}

/// `sf:{NS:workload:SVC}` as a string.
pub fn workload_key(ns: &str, service: &str) -> String {
    workload_key_pieces(ns, service).to_string()
}

/// `sf:{NS:lk:UID}` as a string.
pub fn uid_links_key(ns: &str, uid: &str) -> String {
    uid_links_key_pieces(ns, uid).to_string()
}

/// `sf:{NS:lk:UID}SVC` as a string.
pub fn link_key(ns: &str, uid: &str, service: &str) -> String {
    link_key_pieces(ns, uid, service).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_documented_layout() {
        assert_eq!(service_state_key("prod", "chat"), "sf:{prod:state:chat}");
        assert_eq!(workload_key("prod", "chat"), "sf:{prod:workload:chat}");
        assert_eq!(uid_links_key("prod", "u:1"), "sf:{prod:lk:u:1}");
        assert_eq!(link_key("prod", "u:1", "chat"), "sf:{prod:lk:u:1}chat");
    }

    #[test]
    fn pod_parsing_is_strict() {
        assert_eq!(parse_pod(b"0"), Some(0));
        assert_eq!(parse_pod(b"2147483647"), Some(i32::MAX));
        for bad in [
            &b""[..],
            b"-1",
            b"+3",
            b"3.0",
            b" 3",
            b"2147483648",
            b"99999999999",
            b"x",
        ] {
            assert_eq!(parse_pod(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_follow_the_rules() {
        for ns in [
            "prod-eu.1_a",
            "prod/eu",
            "聊天",
            "prod eu",
            &"a".repeat(253),
        ] {
            assert!(check_namespace(ns).is_ok(), "{ns:?}");
        }
        for bad in ["", "a:b", "a{b", "b}", "a\tb", "\x7f", &"a".repeat(254)] {
            assert!(check_namespace(bad).is_err(), "{bad:?}");
        }
        for service in [
            "chat:v2",
            "game/room",
            "聊天",
            "chat svc",
            "é",
            &"é".repeat(126),
        ] {
            assert!(check_service(service).is_ok(), "{service:?}");
        }
        for bad in ["", "a{b", "}", "a\nb", "\0", &"é".repeat(127)] {
            assert!(check_service(bad).is_err(), "{bad:?}");
        }
        assert!(check_uid("user:42/é").is_ok());
        assert!(check_uid(&"u".repeat(512)).is_ok());
        for bad in ["", "a{", "}", "a\nb", "\x7f", &"u".repeat(513)] {
            assert!(check_uid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn states_hold_no_nul() {
        assert!(check_state("pod state", "Running").is_ok());
        assert!(check_state("pod state", "a\tb\n").is_ok());
        for bad in ["", "Run\0ning", "\0", &"s".repeat(4097)] {
            assert!(check_state("pod state", bad).is_err(), "{bad:?}");
        }
        let msg = check_state("workload state", "a\0")
            .unwrap_err()
            .message()
            .to_string();
        assert!(msg.contains("NUL"), "{msg}");
    }

    #[test]
    fn long_values_are_shortened_on_a_char_boundary() {
        let long = "é".repeat(100) + ":";
        let msg = check_namespace(&long).unwrap_err().message().to_string();
        assert!(msg.contains("(201 bytes)"), "{msg}");
        assert!(msg.contains("0x3a"), "{msg}");
    }
}
