//! SCAN over every primary, one batch of keys at a time (memory stays flat whatever the number
//! of keys), and the pipelined reads of a batch.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::conn::Node;
use crate::fail::{Fail, Result};

/// Keys asked for per SCAN call.
pub const SCAN_COUNT: usize = 1000;

/// Calls `batch` with each non-empty batch of keys of `node` matching `pattern` (and of Redis
/// type `type_filter` when given). Returns false when `stop` was raised before the scan ended.
/// SCAN sees every key present from start to end at least once (rarely twice).
pub fn scan_node(
    node: &mut Node,
    pattern: &str,
    type_filter: Option<&str>,
    stop: &AtomicBool,
    mut batch: impl FnMut(&mut Node, Vec<Vec<u8>>) -> Result<()>,
) -> Result<bool> {
    let mut cursor: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        if let Some(kind) = type_filter {
            cmd.arg("TYPE").arg(kind);
        }
        let (next, keys): (u64, Vec<Vec<u8>>) = cmd
            .query(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&format!("SCAN on {}", node.name)))?;
        if !keys.is_empty() {
            batch(node, keys)?;
        }
        if next == 0 {
            return Ok(true);
        }
        cursor = next;
    }
}

/// A string key's value (`None` when absent) and PTTL (-1: no expiry, -2: gone).
pub struct StringRead {
    pub value: Option<Vec<u8>>,
    pub pttl_ms: i64,
}

/// GET and PTTL of each key, in one round trip.
pub fn read_strings(node: &mut Node, keys: &[&[u8]]) -> Result<Vec<StringRead>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("GET").arg(*key).cmd("PTTL").arg(*key);
    }
    let replies: Vec<(Option<Vec<u8>>, i64)> = pipe
        .query::<Vec<redis::Value>>(&mut node.conn)
        .map_err(|e| Fail::from(e).context(&node.name))?
        .chunks(2)
        .map(|pair| {
            let value = redis::from_redis_value_ref(&pair[0]);
            let pttl = redis::from_redis_value_ref(&pair[1]);
            match (value, pttl) {
                (Ok(value), Ok(pttl)) => Ok((value, pttl)),
                _ => Err(Fail::failed(format!(
                    "{}: unexpected reply to GET/PTTL: {pair:?}",
                    node.name
                ))),
            }
        })
        .collect::<Result<_>>()?;
    Ok(replies
        .into_iter()
        .map(|(value, pttl_ms)| StringRead { value, pttl_ms })
        .collect())
}
