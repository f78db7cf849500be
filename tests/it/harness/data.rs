//! Reading and writing Redis behind the library's back: raw commands, the whole database as a
//! snapshot, command statistics.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

/// Runs a raw command and returns its reply as a redis-rs value.
pub fn raw_cmd(conn: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn).expect("raw command")
}

/// DBSIZE of the server.
pub fn dbsize(conn: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(conn).unwrap()
}

/// GET of a key as raw bytes (`None` when absent).
pub fn get_raw(conn: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// GET of a key as a string (`None` when absent).
pub fn get_str(conn: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// HGETALL of a key, sorted by field.
pub fn hgetall(conn: &mut redis::Connection, key: &str) -> BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(conn).unwrap()
}

/// TYPE of a key (`"none"` when absent).
pub fn key_type(conn: &mut redis::Connection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query(conn).unwrap()
}

/// TTL of a key in seconds (-1: no expiry, -2: no key).
pub fn ttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(conn).unwrap()
}

/// PTTL of a key in milliseconds (-1: no expiry, -2: no key).
pub fn pttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(conn).unwrap()
}

/// Every key of the database, as bytes, sorted.
pub fn all_keys(conn: &mut redis::Connection) -> BTreeSet<Vec<u8>> {
    redis::cmd("KEYS").arg("*").query(conn).unwrap()
}

/// One key as seen from outside: its DUMP (type and content) and its PTTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub dump: Vec<u8>,
    pub pttl: i64,
}

/// DUMP and PTTL of every key of the database.
pub fn snapshot(conn: &mut redis::Connection) -> BTreeMap<Vec<u8>, KeyState> {
    all_keys(conn)
        .into_iter()
        .map(|key| {
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(conn).unwrap();
            let pttl: i64 = redis::cmd("PTTL").arg(&key).query(conn).unwrap();
            (key, KeyState { dump, pttl })
        })
        .collect()
}

/// Asserts that two snapshots hold the same keys with the same content, and that each key kept
/// its expiry: none stays none, and a TTL only ran down by the time that passed (at most `slack`).
pub fn assert_same_data(
    before: &BTreeMap<Vec<u8>, KeyState>,
    after: &BTreeMap<Vec<u8>, KeyState>,
    what: &str,
) {
    let slack_ms = 10_000;
    let names = |m: &BTreeMap<Vec<u8>, KeyState>| {
        m.keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(before),
        names(after),
        "{what}: the set of keys changed"
    );
    for (key, b) in before {
        let a = &after[key];
        let name = String::from_utf8_lossy(key);
        assert_eq!(b.dump, a.dump, "{what}: content of {name} changed");
        if b.pttl < 0 {
            assert_eq!(b.pttl, a.pttl, "{what}: expiry of {name} changed");
        } else {
            assert!(
                a.pttl > 0 && a.pttl <= b.pttl && b.pttl - a.pttl <= slack_ms,
                "{what}: TTL of {name} changed from {} ms to {} ms",
                b.pttl,
                a.pttl
            );
        }
    }
}

/// A numeric field of an INFO section (`info_u64(conn, "clients", "connected_clients")`);
/// 0 when the field is absent.
pub fn info_u64(conn: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    info_field(&info, field).map_or(0, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("INFO {section} {field}: {v}"))
    })
}

/// How many times `command` (lower case, e.g. `"set"`) ran since the last CONFIG RESETSTAT,
/// counting calls made from Lua scripts.
pub fn command_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// Calls of every command since start, except the bookkeeping that is not a data access: INFO
/// (the test's own reads) and CLIENT SETINFO (sent by a pool connection that finishes opening
/// in the background).
pub fn data_commands_processed(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| !l.starts_with("info:") && !l.starts_with("client|setinfo:"))
        .filter_map(|l| l.split_once(":calls="))
        .map(|(_, rest)| rest.split(',').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Runs a raw command, returning the error instead of panicking.
pub fn try_raw(conn: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn)
}

/// A reply as text (bulk or simple string), for INFO and friends.
pub fn text(value: redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::SimpleString(s) => s,
        redis::Value::VerbatimString { text, .. } => text,
        other => format!("{other:?}"),
    }
}

/// The `field:value` of an INFO-style reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}
