//! Redis Cluster: a slot map, one connection per node, MOVED/ASK/TRYAGAIN handling, and batch
//! reads pipelined per node. Commands are routed by the slot of the key the executor names.
//!
//! The library's own, rather than redis-rs's sync `ClusterConnection`, which (in redis-rs 1.8)
//! resends a command after an I/O error or a read timeout (a link script could run twice, and a
//! call could take several command timeouts), and whose pipelines neither follow MOVED/ASK nor
//! batch an MGET per node. Here only replies that prove the command did not run (MOVED, ASK,
//! TRYAGAIN, CLUSTERDOWN) are followed, within the command's deadline; any transport error is
//! returned at once and the pooled connection (every node connection in it) is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use redis::Value;

use super::deadline::Deadline;
use super::node::{combine_failures, connect_error, Endpoint, NodeAddr};
use super::plain::Plain;
use super::resp::{self, answer, Args, Reply};
use crate::error::{Error, Result};

/// Number of hash slots of a Redis Cluster.
pub(crate) const SLOT_COUNT: usize = 16384;

/// Redirects (MOVED, ASK) and waits (TRYAGAIN, CLUSTERDOWN) followed for one command at most;
/// the deadline bounds them too.
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

/// The slot of a key given in pieces.
pub(crate) fn pieces_slot(pieces: &[&[u8]]) -> u16 {
    key_slot(&pieces.concat())
}

/// The slot map: the primary serving each slot.
#[derive(Clone)]
pub(crate) struct SlotMap {
    /// Index into `primaries` for each slot; `NO_OWNER` where no node serves it.
    owner: Vec<u16>,
    primaries: Vec<NodeAddr>,
}

const NO_OWNER: u16 = u16::MAX;

impl SlotMap {
    pub(crate) fn owner_of(&self, slot: u16) -> Option<&NodeAddr> {
        match self.owner[slot as usize] {
            NO_OWNER => None,
            index => self.primaries.get(index as usize),
        }
    }

    /// The primaries serving at least one slot, sorted.
    pub(crate) fn serving_primaries(&self) -> Vec<NodeAddr> {
        let mut serving: Vec<NodeAddr> = self
            .owner
            .iter()
            .filter(|&&index| index != NO_OWNER)
            .map(|&index| index as usize)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|index| self.primaries.get(index).cloned())
            .collect();
        serving.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
        serving
    }

    /// Whether both maps send every slot to the same primary.
    pub(crate) fn same_owners(&self, other: &SlotMap) -> bool {
        (0..SLOT_COUNT as u16).all(|slot| self.owner_of(slot) == other.owner_of(slot))
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
    fn parse(reply: Value, asked: &NodeAddr) -> Result<SlotMap> {
        let bad = |what: &str| Error::unexpected(format!("unexpected CLUSTER SLOTS reply: {what}"));
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
            return Err(Error::from_server_reply(
                "CLUSTERDOWN",
                "the cluster serves no slot yet",
            ));
        }
        Ok(map)
    }
}

/// A command over many keys (`MGET`), for `Connection::call_keys`: sent as one command on
/// one server, as one per slot on a cluster, so it says how to name each key, encode the
/// command of a group of keys, and read its reply.
pub(crate) trait KeysCommand {
    /// How many keys.
    fn count(&self) -> usize;

    /// Hands key `i`'s pieces to `put`.
    fn key(&self, i: usize, put: &mut dyn FnMut(&[&[u8]]));

    /// Encodes the command of the keys whose indexes it is given.
    fn build(&self, keys: &[usize], a: &mut dyn Args);

    /// Reads the reply to the command of `keys`.
    fn read(&self, keys: &[usize], reply: Reply<'_>) -> Result<()>;
}

/// Keys of a batch per slot: (slot, indexes of the keys in the input).
type SlotGroups = Vec<(u16, Vec<usize>)>;

/// What a cluster error reply asks for.
pub(crate) enum Redirect {
    Moved(u16, NodeAddr),
    Ask(NodeAddr),
    /// TRYAGAIN (keys of a slot being migrated) or CLUSTERDOWN (failover under way).
    Wait {
        cluster_down: bool,
    },
}

pub(crate) fn redirect_of(line: &[u8]) -> Option<Redirect> {
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split(' ');
    match words.next()? {
        "MOVED" => {
            let slot = words.next()?.parse::<u16>().ok()?;
            if usize::from(slot) >= SLOT_COUNT {
                return None;
            }
            Some(Redirect::Moved(slot, NodeAddr::parse(words.next()?)?))
        }
        "ASK" => {
            words.next()?;
            Some(Redirect::Ask(NodeAddr::parse(words.next()?)?))
        }
        "TRYAGAIN" => Some(Redirect::Wait {
            cluster_down: false,
        }),
        "CLUSTERDOWN" => Some(Redirect::Wait { cluster_down: true }),
        _ => None,
    }
}

/// One pooled connection to a cluster: a slot map and a connection per node used so far.
pub(crate) struct ClusterLink {
    endpoint: Arc<Endpoint>,
    seeds: Arc<Vec<NodeAddr>>,
    slots: SlotMap,
    conns: HashMap<NodeAddr, Plain>,
    connect_timeout: Duration,
}

/// `CLUSTER SLOTS` on one node.
pub(crate) fn read_slots(
    conn: &mut Plain,
    asked: &NodeAddr,
    deadline: Deadline,
) -> Result<SlotMap> {
    conn.send(deadline, |a| {
        a.bytes(b"CLUSTER");
        a.bytes(b"SLOTS");
    })?;
    let value = answer(conn.reply(deadline, true)?, |mut reply| reply.value())?;
    SlotMap::parse(value, asked)
}

impl ClusterLink {
    /// Connects to the first seed that answers and reads the slot map from it, each seed within
    /// the connect timeout.
    pub(crate) fn connect(
        endpoint: Arc<Endpoint>,
        seeds: Arc<Vec<NodeAddr>>,
        connect_timeout: Duration,
    ) -> Result<ClusterLink> {
        let mut failures = Vec::new();
        for seed in seeds.iter() {
            let deadline = Deadline::connect(connect_timeout);
            let attempt = Plain::connect(&endpoint.at(seed), deadline).and_then(|mut conn| {
                let slots = read_slots(&mut conn, seed, deadline)?;
                Ok((slots, conn))
            });
            match attempt {
                Ok((slots, conn)) => {
                    log::debug!(
                        "cluster: {} primaries known through seed {seed}",
                        slots.primaries.len()
                    );
                    let mut conns = HashMap::new();
                    conns.insert(seed.clone(), conn);
                    return Ok(ClusterLink {
                        endpoint,
                        seeds,
                        slots,
                        conns,
                        connect_timeout,
                    });
                }
                Err(err) => failures.push((seed.to_string(), connect_error(seed, err))),
            }
        }
        Err(combine_failures("no cluster seed answered", failures))
    }

    /// The slot map this connection routes by.
    pub(crate) fn slots(&self) -> &SlotMap {
        &self.slots
    }

    /// Whether every node connection ended its last exchange cleanly.
    pub(crate) fn in_step(&self) -> bool {
        self.conns.values().all(Plain::in_step)
    }

    /// Gives back the memory of large buffers (after a clean call).
    pub(crate) fn tidy(&mut self) {
        self.conns.values_mut().for_each(Plain::tidy);
    }

    /// Reads the slot map again, from a node already connected or else from the seeds.
    fn refresh(&mut self, deadline: Deadline) -> Result<()> {
        let mut candidates: Vec<NodeAddr> = self.conns.keys().cloned().collect();
        candidates.extend(self.seeds.iter().cloned());
        let mut last_err = None;
        for addr in candidates {
            let attempt = self
                .conn(&addr, deadline)
                .and_then(|conn| read_slots(conn, &addr, deadline));
            match attempt {
                Ok(slots) => {
                    log::debug!("cluster: slot map refreshed from {addr}");
                    self.slots = slots;
                    let primaries = &self.slots.primaries;
                    let seeds = &self.seeds;
                    self.conns
                        .retain(|addr, _| primaries.contains(addr) || seeds.contains(addr));
                    return Ok(());
                }
                Err(err) => {
                    // A connection that failed mid-exchange cannot be trusted any more.
                    if !self.conns.get(&addr).is_some_and(Plain::in_step) {
                        self.conns.remove(&addr);
                    }
                    last_err = Some(err);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::unexpected("no cluster node to ask for slots")))
    }

    /// The connection to a node, opened on first use within the command's deadline.
    fn conn(&mut self, addr: &NodeAddr, deadline: Deadline) -> Result<&mut Plain> {
        if !self.conns.contains_key(addr) {
            let conn = Plain::connect(
                &self.endpoint.at(addr),
                deadline.connect_within(self.connect_timeout),
            )
            .map_err(|err| connect_error(addr, err))?;
            log::debug!("cluster: connected to {addr}");
            self.conns.insert(addr.clone(), conn);
        }
        Ok(self.conns.get_mut(addr).expect("connection inserted above"))
    }

    /// The primary serving `slot` (any primary for `None`).
    fn node_for(&mut self, slot: Option<u16>, deadline: Deadline) -> Result<NodeAddr> {
        match slot {
            None => self
                .conns
                .keys()
                .find(|addr| self.slots.primaries.contains(addr))
                .or_else(|| self.slots.primaries.first())
                .cloned()
                .ok_or_else(|| Error::unexpected("no cluster node known")),
            Some(slot) => {
                if self.slots.owner_of(slot).is_none() {
                    self.refresh(deadline)?;
                }
                self.slots.owner_of(slot).cloned().ok_or_else(|| {
                    Error::from_server_reply(
                        "CLUSTERDOWN",
                        &format!("no cluster node serves slot {slot}"),
                    )
                })
            }
        }
    }

    /// Sends one command to the node serving `slot` and hands its reply to `read`, following
    /// MOVED and ASK and waiting out TRYAGAIN and CLUSTERDOWN within `deadline`. Never resends
    /// after a transport error.
    pub(crate) fn call<T>(
        &mut self,
        slot: Option<u16>,
        deadline: Deadline,
        build: impl Fn(&mut dyn Args),
        mut read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut redirect: Option<(NodeAddr, bool)> = None;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (addr, asking) = match redirect.take() {
                Some(redirect) => redirect,
                None => (self.node_for(slot, deadline)?, false),
            };
            let conn = self.conn(&addr, deadline)?;
            if asking {
                conn.queue(|a| a.bytes(b"ASKING"));
            }
            conn.queue(|a| build(a));
            conn.flush(deadline)?;
            if asking {
                let refused = conn
                    .reply(deadline, false)?
                    .error_line()
                    .map(resp::server_error);
                if let Some(err) = refused {
                    conn.reply(deadline, true)?;
                    return Err(err);
                }
            }
            let reply = conn.reply(deadline, true)?;
            let Some(line) = reply.error_line() else {
                return read(reply);
            };
            let err = resp::server_error(line);
            let next = redirect_of(line);
            let (Some(next), true) = (next, attempt < MAX_ATTEMPTS) else {
                return Err(err);
            };
            match next {
                Redirect::Moved(moved, node) => {
                    log::debug!("cluster: slot {moved} moved to {node}");
                    // A MOVED usually means more changed (resharding, failover): read the whole
                    // map once per call, then follow this redirect whatever the map says.
                    if !refreshed {
                        refreshed = true;
                        if let Err(err) = self.refresh(deadline) {
                            log::debug!("cluster: slot refresh failed: {err}");
                        }
                    }
                    self.slots.set_owner(moved, node.clone());
                    redirect = Some((node, false));
                }
                Redirect::Ask(node) => redirect = Some((node, true)),
                Redirect::Wait { cluster_down } => {
                    let wait = Duration::from_millis(10 << attempt.min(5));
                    match deadline.remaining("cluster wait") {
                        Ok(left) if left > wait => thread::sleep(wait),
                        _ => return Err(err),
                    }
                    if cluster_down && !refreshed {
                        refreshed = true;
                        let _ = self.refresh(deadline);
                    }
                }
            }
        }
    }

    /// Sends `count` independent commands, each to the node serving its slot (`slot_of`; any
    /// node for `None`): every node's commands are written at once before any reply is read, so
    /// a batch costs one round trip per node, not per command. A reply that is a redirect
    /// (MOVED, ASK, TRYAGAIN, CLUSTERDOWN: the command did not run) sends its command again,
    /// alone, through [`call`](Self::call), which follows it as a single call does. `read(i,
    /// outcome)` gets command `i`'s reply, or the error that kept it from one (a node that
    /// cannot be reached fails only its own commands). Returns whether every node connection
    /// ended in step; a node connection that failed is dropped (the next use reconnects).
    pub(crate) fn call_many(
        &mut self,
        count: usize,
        deadline: Deadline,
        slot_of: impl Fn(usize) -> Option<u16>,
        build: impl Fn(usize, &mut dyn Args),
        mut read: impl FnMut(usize, Result<Reply<'_>>),
    ) -> bool {
        // The commands of each node, in input order (a cluster has few primaries).
        let mut by_node: Vec<(NodeAddr, Vec<usize>)> = Vec::new();
        for i in 0..count {
            match self.node_for(slot_of(i), deadline) {
                Ok(addr) => match by_node.iter_mut().find(|(node, _)| *node == addr) {
                    Some((_, commands)) => commands.push(i),
                    None => by_node.push((addr, vec![i])),
                },
                Err(err) => read(i, Err(err)),
            }
        }
        let mut in_step = true;
        // Write every node's commands first...
        let mut sent = Vec::with_capacity(by_node.len());
        for (addr, commands) in by_node {
            let written = self.conn(&addr, deadline).and_then(|conn| {
                for &i in &commands {
                    conn.queue(|a| build(i, a));
                }
                conn.flush(deadline)
            });
            match written {
                Ok(()) => sent.push((addr, commands)),
                Err(err) => {
                    in_step = false;
                    self.conns.remove(&addr);
                    for &i in &commands {
                        read(i, Err(err.clone()));
                    }
                }
            }
        }
        // ...then read every node's replies, in order.
        let mut redirected = Vec::new();
        for (addr, commands) in sent {
            let Some(conn) = self.conns.get_mut(&addr) else {
                continue;
            };
            let mut failed = None;
            for (k, &i) in commands.iter().enumerate() {
                match conn.reply(deadline, k + 1 == commands.len()) {
                    Ok(reply) if reply.error_line().and_then(redirect_of).is_some() => {
                        redirected.push(i)
                    }
                    Ok(reply) => read(i, Ok(reply)),
                    Err(err) => {
                        failed = Some((k, err));
                        break;
                    }
                }
            }
            if let Some((k, err)) = failed {
                in_step = false;
                self.conns.remove(&addr);
                for &i in &commands[k..] {
                    read(i, Err(err.clone()));
                }
            }
        }
        if !redirected.is_empty() {
            log::debug!(
                "cluster: {} commands of a batch redirected; sending them one by one",
                redirected.len()
            );
        }
        for i in redirected {
            let mut answered = false;
            let outcome = self.call(
                slot_of(i),
                deadline,
                |a| build(i, a),
                |reply| {
                    answered = true;
                    read(i, Ok(reply));
                    Ok(())
                },
            );
            if let Err(err) = outcome {
                in_step &= err.server_reply;
                if !answered {
                    read(i, Err(err));
                }
            }
        }
        in_step
    }

    /// Sends a command over many keys (a multi-key read) in one round trip per node: one
    /// command per slot (never CROSSSLOT), every node's commands written before any reply is
    /// read. The keys of slots whose reply was a redirect (resharding, failover) are then sent
    /// one by one through [`call`](Self::call), which follows it (a command over several keys
    /// of a slot being migrated would get TRYAGAIN until the migration ends).
    pub(crate) fn call_keys(
        &mut self,
        deadline: Deadline,
        command: &dyn KeysCommand,
    ) -> Result<()> {
        let mut by_slot: HashMap<u16, Vec<usize>> = HashMap::new();
        for index in 0..command.count() {
            let mut slot = 0;
            command.key(index, &mut |pieces| slot = pieces_slot(pieces));
            by_slot.entry(slot).or_default().push(index);
        }
        let mut by_node: HashMap<NodeAddr, SlotGroups> = HashMap::new();
        for (slot, indexes) in by_slot {
            let node = self.node_for(Some(slot), deadline)?;
            by_node.entry(node).or_default().push((slot, indexes));
        }

        // Write every node's pipeline first...
        let mut sent: Vec<(NodeAddr, SlotGroups)> = Vec::with_capacity(by_node.len());
        for (node, groups) in by_node {
            let conn = self.conn(&node, deadline)?;
            for (_, indexes) in &groups {
                conn.queue(|a| command.build(indexes, a));
            }
            conn.flush(deadline)?;
            sent.push((node, groups));
        }

        // ...then read every reply, so that no connection is left mid-stream.
        let mut to_redo: Vec<(u16, Vec<usize>)> = Vec::new();
        let mut first_error: Option<Error> = None;
        for (node, groups) in sent {
            let conn = self.conn(&node, deadline)?;
            let replies = groups.len();
            for (n, (slot, indexes)) in groups.into_iter().enumerate() {
                let reply = conn.reply(deadline, n + 1 == replies)?;
                if let Some(line) = reply.error_line() {
                    if redirect_of(line).is_some() {
                        to_redo.push((slot, indexes));
                    } else {
                        first_error.get_or_insert_with(|| resp::server_error(line));
                    }
                    continue;
                }
                if let Err(err) = command.read(&indexes, reply) {
                    first_error.get_or_insert(err);
                }
            }
        }
        if let Some(err) = first_error {
            return Err(err);
        }
        if !to_redo.is_empty() {
            log::debug!(
                "cluster: {} slot groups redirected during a multi-key read; sending them key by key",
                to_redo.len()
            );
            for (slot, indexes) in to_redo {
                for index in indexes {
                    let one = [index];
                    self.call(
                        Some(slot),
                        deadline,
                        |a| command.build(&one, a),
                        |reply| command.read(&one, reply),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Sends one command to every primary of the slot map, each within its own command
    /// timeout; one outcome per node. A node whose exchange failed is disconnected.
    pub(crate) fn on_all_primaries<T>(
        &mut self,
        command_timeout: Duration,
        build: impl Fn(&mut dyn Args),
        mut read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Vec<(String, Result<T>)> {
        let primaries = self.slots.primaries.clone();
        let mut outcomes = Vec::with_capacity(primaries.len());
        for addr in primaries {
            let deadline = Deadline::command(command_timeout);
            let outcome = self.conn(&addr, deadline).and_then(|conn| {
                conn.send(deadline, |a| build(a))?;
                answer(conn.reply(deadline, true)?, &mut read)
            });
            if !self.conns.get(&addr).is_some_and(Plain::in_step) {
                self.conns.remove(&addr);
            }
            outcomes.push((addr.to_string(), outcome));
        }
        outcomes
    }
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
        assert_eq!(
            pieces_slot(&[b"sf:{", b"ns", b":lk:", b"u1", b"}", b"chat"]),
            key_slot(b"ns:lk:u1")
        );
    }

    #[test]
    fn redirects_are_read_from_error_lines() {
        assert!(matches!(
            redirect_of(b"MOVED 3999 127.0.0.1:6381"),
            Some(Redirect::Moved(3999, addr)) if addr.port == 6381
        ));
        assert!(matches!(
            redirect_of(b"ASK 3999 [::1]:6381"),
            Some(Redirect::Ask(addr)) if addr.host == "::1"
        ));
        assert!(matches!(
            redirect_of(b"CLUSTERDOWN The cluster is down"),
            Some(Redirect::Wait { cluster_down: true })
        ));
        assert!(redirect_of(b"ERR MOVED").is_none());
        assert!(redirect_of(b"MOVED x y").is_none());
        assert!(redirect_of(b"MOVED 16384 127.0.0.1:6381").is_none());
    }
}
