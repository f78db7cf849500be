//! Turning Redis replies into the library's values, reporting anything off-format as
//! `UnexpectedReply` (never silently as "absent").

use redis::Value;

use crate::error::{Error, Result};
use crate::keys::parse_pod;
use crate::types::Pod;

fn shape(value: &Value) -> String {
    let text = format!("{value:?}");
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A pod ordinal stored at a key (a GET or MGET entry): nil is absence. `key` names the key,
/// only when the value is rejected.
pub(crate) fn stored_pod_bytes(
    value: Option<&[u8]>,
    key: &dyn Fn() -> String,
) -> Result<Option<Pod>> {
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

/// A UTF-8 string stored at a key (an MGET entry): nil is absence.
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

/// A pod returned by one of our scripts, where -1 means none.
pub(crate) fn script_pod(value: &Value, script: &str) -> Result<Option<Pod>> {
    match value {
        Value::Int(-1) => Ok(None),
        Value::Int(n) => Pod::try_from(*n)
            .ok()
            .filter(|pod| *pod >= 0)
            .map(Some)
            .ok_or_else(|| Error::unexpected(format!("script {script} returned pod {n}"))),
        other => Err(Error::unexpected(format!(
            "script {script}: expected an integer, got {}",
            shape(other)
        ))),
    }
}

/// An integer 0/1 flag returned by a script.
pub(crate) fn script_flag(value: &Value, script: &str) -> Result<bool> {
    match value {
        Value::Int(0) => Ok(false),
        Value::Int(1) => Ok(true),
        other => Err(Error::unexpected(format!(
            "script {script}: expected 0 or 1, got {}",
            shape(other)
        ))),
    }
}

/// The entries of an MGET (or any array) reply, checking the count.
pub(crate) fn array(value: Value, expected: usize, what: &str) -> Result<Vec<Value>> {
    match value {
        Value::Array(items) if items.len() == expected => Ok(items),
        other => Err(Error::unexpected(format!(
            "{what}: expected {expected} entries, got {}",
            shape(&other)
        ))),
    }
}

/// An owned copy of `text` with one spare byte of capacity, so that the C layer can add its NUL
/// terminator without reallocating (a realloc per state in every batch otherwise).
pub(crate) fn owned_text(text: &str) -> String {
    let mut owned = String::with_capacity(text.len() + 1);
    owned.push_str(text);
    owned
}
