//! Redis Cluster: a slot map, one connection per node, MOVED/ASK/TRYAGAIN handling, and batch
//! reads pipelined per node.
//!
//! Built on redis-rs's plain connections rather than its sync `ClusterConnection`, because the
//! latter (redis-rs 1.8) does not keep this library's guarantees:
//! - it resends a command after an I/O error or a read timeout (`RetryMethod::RetryImmediately`
//!   and `Reconnect`), so a link script that did run could run twice, and a call could take
//!   several command timeouts;
//! - its pipeline path does not follow MOVED/ASK (error replies come back as values), and it
//!   splits an MGET into one sequential round trip per slot.
//!
//! Here only replies that prove the command did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) are
//! followed, within the command timeout; any transport error or timeout is returned at once and
//! the pooled connection (with every node connection in it) is dropped.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisError, RedisResult, ServerErrorKind, Value};

use crate::connection::NodeOpener;
use crate::error::{Error, ErrorKind};

/// Number of hash slots of a Redis Cluster.
pub(crate) const SLOT_COUNT: usize = 16384;

/// Redirects (MOVED, ASK) and waits (TRYAGAIN, CLUSTERDOWN) followed for one command at most;
/// the command timeout bounds them too.
const MAX_ATTEMPTS: u32 = 6;

/// The hash slot of a key: CRC16 (XMODEM) of its hash tag (the part between the first `{` and
/// the next `}`, when not empty) or of the whole key, modulo 16384.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % SLOT_COUNT as u16
}

/// A node's address as the cluster announces it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct NodeAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl NodeAddr {
    /// Parses the `host:port` of a MOVED or ASK reply.
    fn parse(text: &str) -> Option<NodeAddr> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(NodeAddr {
            host: host.to_string(),
            port: port.parse().ok()?,
        })
    }
}

/// Which node a command goes to.
enum Target {
    Slot(u16),
    Any,
}

/// Where a command must go: by its key, for the commands this library sends.
fn target_of(cmd: &redis::Cmd) -> Target {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .take(4)
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => bytes,
            _ => &b""[..],
        })
        .collect();
    let Some(name) = args.first() else {
        return Target::Any;
    };
    let name = name.to_ascii_uppercase();
    let key = match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" => {
            let numkeys = args
                .get(2)
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            if numkeys == 0 {
                None
            } else {
                args.get(3)
            }
        }
        b"PING" | b"SCRIPT" | b"INFO" | b"CLUSTER" | b"ECHO" | b"TIME" | b"ROLE" => None,
        _ => args.get(1),
    };
    match key {
        Some(key) => Target::Slot(key_slot(key)),
        None => Target::Any,
    }
}

/// The slot map: the primary serving each slot.
#[derive(Clone)]
struct SlotMap {
    /// Index into `primaries` for each slot; `u16::MAX` where no node serves it.
    owner: Vec<u16>,
    primaries: Vec<NodeAddr>,
}

const NO_OWNER: u16 = u16::MAX;

impl SlotMap {
    fn owner_of(&self, slot: u16) -> Option<&NodeAddr> {
        match self.owner[slot as usize] {
            NO_OWNER => None,
            index => self.primaries.get(index as usize),
        }
    }

    /// Points one slot at `addr` (after a MOVED), adding the node if new.
    fn set_owner(&mut self, slot: u16, addr: NodeAddr) {
        let index = match self.primaries.iter().position(|a| *a == addr) {
            Some(index) => index,
            None => {
                self.primaries.push(addr);
                self.primaries.len() - 1
            }
        };
        self.owner[slot as usize] = index as u16;
    }

    /// Parses a `CLUSTER SLOTS` reply; `asked` stands in for nodes announced without a host.
    fn parse(reply: Value, asked: &NodeAddr) -> RedisResult<SlotMap> {
        let bad = |what: &str| {
            RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected CLUSTER SLOTS reply",
                what.to_string(),
            ))
        };
        let Value::Array(ranges) = reply else {
            return Err(bad("not an array"));
        };
        let mut map = SlotMap {
            owner: vec![NO_OWNER; SLOT_COUNT],
            primaries: Vec::new(),
        };
        for range in ranges {
            let Value::Array(fields) = range else {
                return Err(bad("a range is not an array"));
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(primary))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return Err(bad("a range lacks start, end or primary"));
            };
            let host = match primary.first() {
                Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
                Some(Value::SimpleString(text)) => text.clone(),
                _ => return Err(bad("a primary has no host")),
            };
            let Some(Value::Int(port)) = primary.get(1) else {
                return Err(bad("a primary has no port"));
            };
            let host = match host.as_str() {
                // Unknown endpoint: the node that answered is the one to use.
                "" => asked.host.clone(),
                "?" => continue,
                _ => host,
            };
            let addr = NodeAddr {
                host,
                port: u16::try_from(*port).map_err(|_| bad("port out of range"))?,
            };
            let (start, end) = (*start, *end);
            if !(0..SLOT_COUNT as i64).contains(&start)
                || !(start..SLOT_COUNT as i64).contains(&end)
            {
                return Err(bad("slot range out of bounds"));
            }
            for slot in start..=end {
                map.set_owner(slot as u16, addr.clone());
            }
        }
        if map.primaries.is_empty() {
            return Err(RedisError::from((
                redis::ErrorKind::Server(ServerErrorKind::ClusterDown),
                "the cluster serves no slot yet",
            )));
        }
        Ok(map)
    }
}

/// Keys of a batch per slot: (slot, indexes of the keys in the input).
type SlotGroups = Vec<(u16, Vec<usize>)>;

/// One pooled connection to a cluster: a slot map and a connection per node used so far.
pub(crate) struct ClusterLink {
    opener: Arc<NodeOpener>,
    seeds: Arc<Vec<NodeAddr>>,
    slots: SlotMap,
    conns: HashMap<NodeAddr, redis::Connection>,
    command_timeout: Duration,
}

fn is_redirect_or_wait(err: &RedisError) -> bool {
    matches!(
        err.kind(),
        redis::ErrorKind::Server(
            ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
        )
    )
}

impl ClusterLink {
    /// Connects to the first seed that answers and reads the slot map from it.
    pub(crate) fn connect(
        opener: Arc<NodeOpener>,
        seeds: Arc<Vec<NodeAddr>>,
        command_timeout: Duration,
    ) -> Result<ClusterLink, Error> {
        let mut failures: Vec<(NodeAddr, Error)> = Vec::new();
        for seed in seeds.iter() {
            let attempt = opener.open(&seed.host, seed.port).and_then(|mut conn| {
                let reply = conn.req_command(redis::cmd("CLUSTER").arg("SLOTS"))?;
                let reply = reply.extract_error()?;
                Ok((SlotMap::parse(reply, seed)?, conn))
            });
            match attempt {
                Ok((slots, conn)) => {
                    let mut conns = HashMap::new();
                    conns.insert(seed.clone(), conn);
                    log::debug!(
                        "cluster: {} primaries known through seed {seed}",
                        slots.primaries.len()
                    );
                    return Ok(ClusterLink {
                        opener,
                        seeds,
                        slots,
                        conns,
                        command_timeout,
                    });
                }
                Err(err) => failures.push((seed.clone(), opener.connect_error(seed, err))),
            }
        }
        Err(combine_failures("no cluster seed answered", failures))
    }

    /// Reads the slot map again, from a node already connected or else from the seeds.
    fn refresh(&mut self) -> RedisResult<()> {
        let mut candidates: Vec<NodeAddr> = self.conns.keys().cloned().collect();
        candidates.extend(self.seeds.iter().cloned());
        let mut last_err = None;
        for addr in candidates {
            let attempt = self.conn(&addr).and_then(|conn| {
                conn.req_command(redis::cmd("CLUSTER").arg("SLOTS"))?
                    .extract_error()
            });
            match attempt.and_then(|reply| SlotMap::parse(reply, &addr)) {
                Ok(slots) => {
                    log::debug!("cluster: slot map refreshed from {addr}");
                    self.slots = slots;
                    let primaries = &self.slots.primaries;
                    let seeds = &self.seeds;
                    self.conns
                        .retain(|addr, _| primaries.contains(addr) || seeds.contains(addr));
                    return Ok(());
                }
                Err(err) if err.is_io_error() || err.is_timeout() => {
                    // That connection cannot be trusted any more.
                    self.conns.remove(&addr);
                    last_err = Some(err);
                }
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            RedisError::from((redis::ErrorKind::Io, "no cluster node to ask for slots"))
        }))
    }

    /// The connection to a node, opened on first use.
    fn conn(&mut self, addr: &NodeAddr) -> RedisResult<&mut redis::Connection> {
        if !self.conns.contains_key(addr) {
            let conn = self.opener.open(&addr.host, addr.port)?;
            log::debug!("cluster: connected to {addr}");
            self.conns.insert(addr.clone(), conn);
        }
        Ok(self.conns.get_mut(addr).expect("just inserted"))
    }

    fn node_for(&mut self, target: &Target) -> RedisResult<NodeAddr> {
        match target {
            Target::Any => self
                .conns
                .keys()
                .find(|addr| self.slots.primaries.contains(addr))
                .or_else(|| self.slots.primaries.first())
                .cloned()
                .ok_or_else(|| RedisError::from((redis::ErrorKind::Io, "no cluster node known"))),
            Target::Slot(slot) => {
                if self.slots.owner_of(*slot).is_none() {
                    self.refresh()?;
                }
                self.slots.owner_of(*slot).cloned().ok_or_else(|| {
                    RedisError::from((
                        redis::ErrorKind::Server(ServerErrorKind::ClusterDown),
                        "no cluster node serves the key's slot",
                        format!("slot {slot}"),
                    ))
                })
            }
        }
    }

    /// Sends one command to the node serving its key and returns the reply (an error reply as
    /// `Value::ServerError`), following MOVED and ASK redirects and waiting out TRYAGAIN and
    /// CLUSTERDOWN, within the command timeout. Never resends after a transport error.
    pub(crate) fn query(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        let target = target_of(cmd);
        let deadline = Instant::now() + self.command_timeout;
        let mut redirect: Option<(NodeAddr, bool)> = None;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (addr, asking) = match redirect.take() {
                Some(redirect) => redirect,
                None => (self.node_for(&target)?, false),
            };
            let conn = self.conn(&addr)?;
            let reply = if asking {
                ask(conn, cmd)?
            } else {
                conn.req_command(cmd)?
            };
            let Value::ServerError(server_err) = &reply else {
                return Ok(reply);
            };
            let err = RedisError::from(server_err.clone());
            if !is_redirect_or_wait(&err) || attempt >= MAX_ATTEMPTS {
                return Ok(reply);
            }
            match err.kind() {
                redis::ErrorKind::Server(ServerErrorKind::Moved) => {
                    let Some((node, slot)) = err.redirect_node() else {
                        return Ok(reply);
                    };
                    let Some(node) = NodeAddr::parse(node) else {
                        return Ok(reply);
                    };
                    log::debug!("cluster: slot {slot} moved to {node}");
                    // A MOVED usually means more changed (resharding, failover): read the whole
                    // map once per call, then follow this redirect whatever the map says.
                    if !refreshed {
                        refreshed = true;
                        if let Err(err) = self.refresh() {
                            log::debug!("cluster: slot refresh failed: {err}");
                        }
                    }
                    self.slots.set_owner(slot, node.clone());
                    redirect = Some((node, false));
                }
                redis::ErrorKind::Server(ServerErrorKind::Ask) => {
                    let Some(node) = err.redirect_node().and_then(|(n, _)| NodeAddr::parse(n))
                    else {
                        return Ok(reply);
                    };
                    redirect = Some((node, true));
                }
                _ => {
                    // TRYAGAIN (keys of a slot being migrated) or CLUSTERDOWN (failover under
                    // way): wait a little, within the command timeout.
                    let wait = Duration::from_millis(10 << attempt.min(5));
                    if Instant::now() + wait > deadline {
                        return Ok(reply);
                    }
                    thread::sleep(wait);
                    if matches!(
                        err.kind(),
                        redis::ErrorKind::Server(ServerErrorKind::ClusterDown)
                    ) && !refreshed
                    {
                        refreshed = true;
                        let _ = self.refresh();
                    }
                }
            }
        }
    }

    /// Reads many string keys: one `MGET` per slot, pipelined per node, every node's pipeline
    /// written before any reply is read, so the batch costs one round trip per node. The keys
    /// of slots whose reply was a redirect (resharding, failover) are then read one by one
    /// through [`query`](Self::query), which follows it. Replies come back in input order.
    pub(crate) fn get_many(&mut self, keys: &[String]) -> RedisResult<Vec<Value>> {
        let mut by_slot: HashMap<u16, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            by_slot
                .entry(key_slot(key.as_bytes()))
                .or_default()
                .push(index);
        }
        let mut by_node: HashMap<NodeAddr, SlotGroups> = HashMap::new();
        for (slot, indexes) in by_slot {
            let node = self.node_for(&Target::Slot(slot))?;
            by_node.entry(node).or_default().push((slot, indexes));
        }

        // Write every node's pipeline first...
        let mut sent: Vec<(NodeAddr, SlotGroups)> = Vec::with_capacity(by_node.len());
        for (node, groups) in by_node {
            let mut packed = Vec::new();
            for (_, indexes) in &groups {
                let mut mget = redis::cmd("MGET");
                for &index in indexes {
                    mget.arg(&keys[index]);
                }
                mget.write_packed_command(&mut packed);
            }
            self.conn(&node)?.send_packed_command(&packed)?;
            sent.push((node, groups));
        }

        // ...then read all replies, every one of them, so no connection is left mid-stream.
        let mut results = vec![Value::Nil; keys.len()];
        let mut to_redo: Vec<Vec<usize>> = Vec::new();
        let mut first_error: Option<RedisError> = None;
        for (node, groups) in &sent {
            let conn = self.conn(node)?;
            for (_, indexes) in groups {
                match conn.recv_response()? {
                    Value::Array(values) if values.len() == indexes.len() => {
                        for (&index, value) in indexes.iter().zip(values) {
                            results[index] = value;
                        }
                    }
                    Value::ServerError(server_err) => {
                        let err = RedisError::from(server_err);
                        if is_redirect_or_wait(&err) {
                            to_redo.push(indexes.clone());
                        } else if first_error.is_none() {
                            first_error = Some(err);
                        }
                    }
                    other => {
                        if first_error.is_none() {
                            first_error = Some(RedisError::from((
                                redis::ErrorKind::Parse,
                                "unexpected MGET reply",
                                format!("{other:?}"),
                            )));
                        }
                    }
                }
            }
        }
        if let Some(err) = first_error {
            return Err(err);
        }
        if !to_redo.is_empty() {
            // Slots that moved, or are being migrated: read their keys one by one, each
            // following its own redirect (an MGET of a slot split between two nodes would get
            // TRYAGAIN until the migration ends).
            log::debug!(
                "cluster: {} slot groups redirected during a batch read; reading them key by key",
                to_redo.len()
            );
            for index in to_redo.into_iter().flatten() {
                let mut get = redis::cmd("GET");
                get.arg(&keys[index]);
                results[index] = self.query(&get)?.extract_error()?;
            }
        }
        Ok(results)
    }

    /// Sends `cmd` to every primary of the slot map; one outcome per node.
    pub(crate) fn on_all_primaries(
        &mut self,
        cmd: &redis::Cmd,
    ) -> Vec<(NodeAddr, RedisResult<Value>)> {
        let primaries = self.slots.primaries.clone();
        primaries
            .into_iter()
            .map(|addr| {
                let outcome = self.conn(&addr).and_then(|conn| conn.req_command(cmd));
                if matches!(&outcome, Err(err) if err.is_io_error() || err.is_timeout()) {
                    self.conns.remove(&addr);
                }
                (addr, outcome)
            })
            .collect()
    }
}

/// `ASKING` then the command, pipelined in one round trip; returns the command's reply.
fn ask(conn: &mut redis::Connection, cmd: &redis::Cmd) -> RedisResult<Value> {
    let mut packed = Vec::new();
    redis::cmd("ASKING").write_packed_command(&mut packed);
    cmd.write_packed_command(&mut packed);
    conn.send_packed_command(&packed)?;
    let asking = conn.recv_response()?;
    let reply = conn.recv_response()?;
    match asking {
        Value::ServerError(_) => Ok(asking),
        _ => Ok(reply),
    }
}

/// One error out of the failures of several nodes: an authentication problem wins (it is a
/// configuration problem every node shares), otherwise a connection error listing them all.
pub(crate) fn combine_failures(what: &str, failures: Vec<(NodeAddr, Error)>) -> Error {
    let kind = if failures.iter().any(|(_, e)| e.kind() == ErrorKind::Auth) {
        ErrorKind::Auth
    } else if failures.iter().all(|(_, e)| e.kind() == ErrorKind::Config) && !failures.is_empty() {
        ErrorKind::Config
    } else {
        ErrorKind::Connection
    };
    let detail = failures
        .iter()
        .map(|(addr, err)| format!("{addr}: {}", err.message()))
        .collect::<Vec<_>>()
        .join("; ");
    Error::new(kind, format!("{what} ({detail})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"sf:{ns:lk:u1}chat"), key_slot(b"ns:lk:u1"));
    }

    #[test]
    fn targets() {
        let eval = {
            let mut c = redis::cmd("EVALSHA");
            c.arg("abc").arg(2).arg("sf:{a}x").arg("sf:{a}y");
            c
        };
        assert!(matches!(target_of(&eval), Target::Slot(s) if s == key_slot(b"a")));
        assert!(matches!(target_of(&redis::cmd("PING")), Target::Any));
        let mut get = redis::cmd("GET");
        get.arg("k");
        assert!(matches!(target_of(&get), Target::Slot(s) if s == key_slot(b"k")));
    }

    #[test]
    fn redirect_addresses() {
        assert_eq!(
            NodeAddr::parse("127.0.0.1:7001"),
            Some(NodeAddr {
                host: "127.0.0.1".into(),
                port: 7001
            })
        );
        assert_eq!(
            NodeAddr::parse("[::1]:7001").map(|a| a.host),
            Some("::1".into())
        );
        assert_eq!(NodeAddr::parse("nonsense"), None);
    }
}
