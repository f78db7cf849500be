//! The commands the operations send and the readers of their replies, shared by every
//! operation in `ops/`: each command is encoded by one function here and each reply shape read
//! by one reader. Anything off-format is `UnexpectedReply`, never silently "absent".
//!
//! Readers walk the reply's frames in place (no `Value` tree, no copy of what is not kept).

use std::fmt::Display;

use crate::error::{Error, Result};
use crate::keys::parse_pod;
use crate::packed::Packed;
use crate::scripts::Script;
use crate::transport::{Args, Frame, Reply};
use crate::types::{Pod, TrySet};

// ---- commands ----

/// `HSET key field value`, the field a pod ordinal.
pub(crate) fn hset(a: &mut dyn Args, key: &[&[u8]], pod: Pod, value: &str) {
    a.bytes(b"HSET");
    a.pieces(key);
    a.int(pod.into());
    a.bytes(value.as_bytes());
}

/// `SET key value`, without expiry.
pub(crate) fn set(a: &mut dyn Args, key: &[&[u8]], value: &str) {
    a.bytes(b"SET");
    a.pieces(key);
    a.bytes(value.as_bytes());
}

/// `GET key`.
pub(crate) fn get(a: &mut dyn Args, key: &[&[u8]]) {
    a.bytes(b"GET");
    a.pieces(key);
}

/// `HGETALL key`.
pub(crate) fn hgetall(a: &mut dyn Args, key: &[&[u8]]) {
    a.bytes(b"HGETALL");
    a.pieces(key);
}

/// `MGET` of the keys `keys` puts, in order.
pub(crate) fn mget(a: &mut dyn Args, keys: impl FnOnce(&mut dyn Args)) {
    a.bytes(b"MGET");
    keys(a);
}

/// `PING`.
pub(crate) fn ping(a: &mut dyn Args) {
    a.bytes(b"PING");
}

/// `SCRIPT LOAD source`.
pub(crate) fn script_load(a: &mut dyn Args, script: &Script) {
    a.bytes(b"SCRIPT");
    a.bytes(b"LOAD");
    a.bytes(script.source.as_bytes());
}

/// `EVALSHA sha 2 key1 key2 argv...`, or `EVAL source 2 ...` when `reload` (the server lost
/// its script cache: EVAL runs the script and caches it again).
pub(crate) fn script(
    a: &mut dyn Args,
    script: &Script,
    reload: bool,
    keys: &[&[&[u8]]],
    argv: impl FnOnce(&mut dyn Args),
) {
    if reload {
        a.bytes(b"EVAL");
        a.bytes(script.source.as_bytes());
    } else {
        a.bytes(b"EVALSHA");
        a.bytes(script.sha1().as_bytes());
    }
    a.int(keys.len() as i64);
    for key in keys {
        a.pieces(key);
    }
    argv(a);
}

// ---- replies ----

/// A reply that must be `+OK` (SET).
pub(crate) fn read_ok(mut reply: Reply<'_>) -> Result<()> {
    match reply.next()? {
        Frame::Status(b"OK") => Ok(()),
        other => Err(Error::unexpected(format!("expected OK, got {other:?}"))),
    }
}

/// A reply that must be an integer (HSET).
pub(crate) fn read_int(mut reply: Reply<'_>) -> Result<i64> {
    match reply.next()? {
        Frame::Int(n) => Ok(n),
        other => Err(Error::unexpected(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

/// A `PING` reply.
pub(crate) fn read_pong(mut reply: Reply<'_>) -> Result<()> {
    match reply.next()? {
        Frame::Status(b"PONG") => Ok(()),
        other => Err(Error::unexpected(format!("PING answered {other:?}"))),
    }
}

/// A `SCRIPT LOAD` reply: the script's SHA1, as computed here.
pub(crate) fn read_script_loaded(mut reply: Reply<'_>, script: &Script) -> Result<()> {
    match reply.next()? {
        Frame::Bulk(Some(sha)) if sha == script.sha1().as_bytes() => Ok(()),
        other => Err(Error::unexpected(format!(
            "SCRIPT LOAD of {} returned {other:?}, expected {}",
            script.name,
            script.sha1()
        ))),
    }
}

/// A `GET` reply: the value (`None` when absent) handed to `decode` in place.
pub(crate) fn read_get<T>(
    mut reply: Reply<'_>,
    decode: impl FnOnce(Option<&[u8]>) -> Result<T>,
) -> Result<T> {
    match reply.next()? {
        Frame::Bulk(value) => decode(value),
        other => Err(Error::unexpected(format!(
            "expected a string, got {other:?}"
        ))),
    }
}

/// An `MGET` reply of `count` keys: value `k` (`None` when absent) handed to `each(k, value)`.
pub(crate) fn read_mget(
    mut reply: Reply<'_>,
    count: usize,
    mut each: impl FnMut(usize, Option<&[u8]>) -> Result<()>,
) -> Result<()> {
    match reply.next()? {
        Frame::Array(Some(n)) if n == count => {}
        other => {
            return Err(Error::unexpected(format!(
                "MGET of {count} keys answered {other:?}"
            )))
        }
    }
    for k in 0..count {
        match reply.next()? {
            Frame::Bulk(value) => each(k, value)?,
            other => {
                return Err(Error::unexpected(format!(
                    "MGET entry {k}: expected a string, got {other:?}"
                )))
            }
        }
    }
    Ok(())
}

/// The (field, value) pairs of an `HGETALL` reply, read in place.
pub(crate) struct HashPairs<'r> {
    reply: Reply<'r>,
    left: usize,
}

impl<'r> HashPairs<'r> {
    /// The pairs of an `HGETALL` reply, once its header says it is a map.
    pub(crate) fn of(mut reply: Reply<'r>) -> Result<Self> {
        let left = match reply.next()? {
            Frame::Array(Some(n)) if n % 2 == 0 => n / 2,
            other => return Err(Error::unexpected(format!("HGETALL answered {other:?}"))),
        };
        Ok(HashPairs { reply, left })
    }

    /// The number of pairs not read yet.
    pub(crate) fn len(&self) -> usize {
        self.left
    }
}

impl<'r> Iterator for HashPairs<'r> {
    type Item = Result<(&'r [u8], &'r [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let pair = match (self.reply.next(), self.reply.next()) {
            (Ok(Frame::Bulk(Some(field))), Ok(Frame::Bulk(Some(value)))) => Ok((field, value)),
            (Err(err), _) | (_, Err(err)) => Err(err),
            other => Err(Error::unexpected(format!(
                "HGETALL entry: expected two strings, got {other:?}"
            ))),
        };
        if pair.is_err() {
            self.left = 0;
        }
        Some(pair)
    }
}

/// A pod ordinal stored at a key (a GET or MGET entry): nil is absence. `key` names the key,
/// only when the value is rejected.
pub(crate) fn stored_pod(value: Option<&[u8]>, key: &dyn Fn() -> String) -> Result<Option<Pod>> {
    match value {
        None => Ok(None),
        Some(bytes) => parse_pod(bytes).map(Some).ok_or_else(|| {
            Error::unexpected(format!(
                "key {} holds {:?}, which is not a pod ordinal",
                key(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
            ))
        }),
    }
}

/// A UTF-8 string stored at a key (a GET or MGET entry): nil is absence.
pub(crate) fn stored_text(
    value: Option<&[u8]>,
    key: &dyn Fn() -> String,
) -> Result<Option<String>> {
    Ok(stored_str(value, key)?.map(owned_text))
}

/// As [`stored_text`], borrowed from the reply.
pub(crate) fn stored_str<'r>(
    value: Option<&'r [u8]>,
    key: &dyn Fn() -> String,
) -> Result<Option<&'r str>> {
    value
        .map(|bytes| {
            std::str::from_utf8(bytes).map_err(|_| {
                Error::unexpected(format!("key {} holds a value that is not UTF-8", key()))
            })
        })
        .transpose()
}

/// A (field, value) pair of a service's state hash as (pod, state); `None` for a field that is
/// not a pod ordinal (skipped, as the data model says). `key` names the hash in messages.
pub(crate) fn pod_state_entry<'r>(
    key: &dyn Display,
    field: &[u8],
    value: &'r [u8],
) -> Result<Option<(Pod, &'r str)>> {
    let Some(pod) = parse_pod(field) else {
        return Ok(None);
    };
    let state = std::str::from_utf8(value)
        .map_err(|_| Error::unexpected(format!("hash {key}: state of pod {pod} is not UTF-8")))?;
    Ok(Some((pod, state)))
}

/// A (field, value) pair of a uid's hash of persistent links as (service, pod). `key` names the
/// hash in messages.
pub(crate) fn link_service_entry<'r>(
    key: &dyn Display,
    service: &'r [u8],
    pod: &[u8],
) -> Result<(&'r str, Pod)> {
    let service = std::str::from_utf8(service)
        .map_err(|_| Error::unexpected(format!("hash {key}: a service name is not UTF-8")))?;
    let pod = parse_pod(pod).ok_or_else(|| {
        Error::unexpected(format!(
            "hash {key}: service {service} maps to {:?}, which is not a pod ordinal",
            String::from_utf8_lossy(&pod[..pod.len().min(64)])
        ))
    })?;
    Ok((service, pod))
}

/// Puts the pairs of an `HGETALL` reply into `out`, sorted by their sort key: `entry(field,
/// value)` gives a pair's (sort key, packed key, text), or `None` to skip it; `what(key)` names
/// a text in messages.
pub(crate) fn fill_sorted<'r, S: Ord>(
    reply: Reply<'r>,
    out: &mut Packed,
    entry: impl Fn(&'r [u8], &'r [u8]) -> Result<Option<(S, i32, &'r str)>>,
    what: impl Fn(i32) -> String,
) -> Result<()> {
    let pairs = HashPairs::of(reply)?;
    let mut entries = Vec::with_capacity(pairs.len());
    let mut text_bytes = 0;
    for pair in pairs {
        let (field, value) = pair?;
        if let Some(entry) = entry(field, value)? {
            text_bytes += entry.2.len();
            entries.push(entry);
        }
    }
    // Hash fields are unique, and pod ordinals have one spelling: no ties.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out.reserve(entries.len(), text_bytes);
    for (_, key, text) in entries {
        out.push(key, Some(text), || what(key))?;
    }
    Ok(())
}

/// A pod returned by one of our scripts, where -1 means none.
pub(crate) fn script_pod(mut reply: Reply<'_>, script: &Script) -> Result<Option<Pod>> {
    let frame = reply.next()?;
    pod_frame(frame, script)
}

fn pod_frame(frame: Frame<'_>, script: &Script) -> Result<Option<Pod>> {
    match frame {
        Frame::Int(-1) => Ok(None),
        Frame::Int(n) => Pod::try_from(n)
            .ok()
            .filter(|pod| *pod >= 0)
            .map(Some)
            .ok_or_else(|| Error::unexpected(format!("script {} returned pod {n}", script.name))),
        other => Err(Error::unexpected(format!(
            "script {}: expected an integer, got {other:?}",
            script.name
        ))),
    }
}

/// A pod returned by one of our scripts that always returns one.
pub(crate) fn script_some_pod(reply: Reply<'_>, script: &Script) -> Result<Pod> {
    script_pod(reply, script)?
        .ok_or_else(|| Error::unexpected(format!("script {}: returned no pod", script.name)))
}

/// An integer 0/1 flag returned by a script.
pub(crate) fn script_flag(mut reply: Reply<'_>, script: &Script) -> Result<bool> {
    flag_frame(reply.next()?, script)
}

fn flag_frame(frame: Frame<'_>, script: &Script) -> Result<bool> {
    match frame {
        Frame::Int(0) => Ok(false),
        Frame::Int(1) => Ok(true),
        other => Err(Error::unexpected(format!(
            "script {}: expected 0 or 1, got {other:?}",
            script.name
        ))),
    }
}

/// The `{flag, pod}` pair the try-set script returns.
pub(crate) fn script_try_set(mut reply: Reply<'_>, script: &Script) -> Result<TrySet> {
    match reply.next()? {
        Frame::Array(Some(2)) => {}
        other => {
            return Err(Error::unexpected(format!(
                "script {}: expected 2 entries, got {other:?}",
                script.name
            )))
        }
    }
    let linked = flag_frame(reply.next()?, script)?;
    let pod = pod_frame(reply.next()?, script)?
        .ok_or_else(|| Error::unexpected(format!("script {}: returned no pod", script.name)))?;
    Ok(TrySet { linked, pod })
}

/// An owned copy of `text` with one spare byte of capacity, so that the C layer can add its NUL
/// terminator without reallocating (a realloc per state in every batch otherwise).
pub(crate) fn owned_text(text: &str) -> String {
    let mut owned = String::with_capacity(text.len() + 1);
    owned.push_str(text);
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::scripts;

    fn reply(bytes: &[u8]) -> Reply<'_> {
        Reply::new(bytes)
    }

    #[test]
    fn script_replies_are_checked() {
        let s = &scripts::SET_LINKED_POD;
        assert_eq!(script_pod(reply(b":-1\r\n"), s).unwrap(), None);
        assert_eq!(script_pod(reply(b":7\r\n"), s).unwrap(), Some(7));
        for bad in [&b":-2\r\n"[..], b":2147483648\r\n", b"$1\r\n7\r\n"] {
            let err = script_pod(reply(bad), s).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{bad:?}");
        }
        assert!(script_flag(reply(b":1\r\n"), s).unwrap());
        assert!(script_flag(reply(b":2\r\n"), s).is_err());
        assert_eq!(
            script_try_set(reply(b"*2\r\n:0\r\n:3\r\n"), s).unwrap(),
            TrySet {
                linked: false,
                pod: 3
            }
        );
        assert!(script_try_set(reply(b"*2\r\n:1\r\n:-1\r\n"), s).is_err());
        assert!(script_try_set(reply(b"*1\r\n:1\r\n"), s).is_err());
        assert!(script_some_pod(reply(b":-1\r\n"), s).is_err());
    }

    #[test]
    fn hash_pairs_stop_at_the_first_bad_entry() {
        let bytes = b"*4\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n$1\r\nc\r\n";
        let mut pairs = HashPairs::of(reply(bytes)).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs.next().unwrap().unwrap(), (&b"a"[..], &b"b"[..]));
        assert!(pairs.next().unwrap().is_err());
        assert!(pairs.next().is_none());
        assert!(HashPairs::of(reply(b"*3\r\n")).is_err());
    }

    #[test]
    fn stored_values_name_their_key_only_when_rejected() {
        let named = || "k".to_string();
        assert_eq!(stored_pod(None, &named).unwrap(), None);
        assert_eq!(stored_pod(Some(b"12"), &named).unwrap(), Some(12));
        let err = stored_pod(Some(b"012"), &named).unwrap_err();
        assert!(err.message().contains("key k holds"), "{err}");
        assert!(stored_text(Some(&[0xff]), &named).is_err());
        assert_eq!(owned_text("ab").capacity(), 3);
    }
}
