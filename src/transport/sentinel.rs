//! Redis Sentinel: asking the sentinels for the current primary each time a connection opens.
//!
//! Follows the sentinel client protocol: ask the sentinels in order with
//! `SENTINEL GET-MASTER-ADDR-BY-NAME`, connect, confirm with `ROLE`; each step within the
//! connect timeout.

use std::time::Duration;

use redis::Value;

use super::deadline::Deadline;
use super::node::{combine_failures, connect_error, Endpoint, NodeAddr};
use super::plain::Plain;
use super::resp::answer;
use crate::error::{Error, ErrorKind, Result};

/// The sentinels and how to reach the primary they name.
pub(crate) struct SentinelConnector {
    /// The sentinels (their URLs' addresses, credentials and TLS).
    pub(crate) sentinels: Vec<Endpoint>,
    pub(crate) master_name: String,
    /// How to reach the primary (credentials, database, TLS); its address is the one named.
    pub(crate) master: Endpoint,
    pub(crate) connect_timeout: Duration,
    /// The primary the last connection went to, to log a failover once when it changes.
    pub(crate) last_primary: std::sync::Mutex<Option<NodeAddr>>,
}

impl SentinelConnector {
    /// Records the primary a new connection went to; logs a failover when it moved.
    pub(crate) fn note_primary(&self, primary: &NodeAddr) {
        let mut last = self.last_primary.lock().unwrap_or_else(|e| e.into_inner());
        match last.replace(primary.clone()) {
            Some(old) if old != *primary => log::info!(
                "failover: primary of {:?} moved from {old} to {primary}",
                self.master_name
            ),
            _ => {}
        }
    }

    /// A connection to the current primary, as the first sentinel that knows it says, checked
    /// with `ROLE`.
    pub(crate) fn connect(&self) -> Result<(NodeAddr, Plain)> {
        self.connect_by(None)
    }

    /// As [`connect`](Self::connect), all steps together within `deadline` too (a connection
    /// opened inside a call).
    pub(crate) fn connect_within(&self, deadline: Deadline) -> Result<(NodeAddr, Plain)> {
        self.connect_by(Some(deadline))
    }

    /// The deadline of one step: the connect timeout, within `overall` when set.
    fn step(&self, overall: Option<Deadline>) -> Deadline {
        match overall {
            Some(overall) => overall.connect_within(self.connect_timeout),
            None => Deadline::connect(self.connect_timeout),
        }
    }

    fn connect_by(&self, overall: Option<Deadline>) -> Result<(NodeAddr, Plain)> {
        let mut failures = Vec::new();
        for sentinel in &self.sentinels {
            let label = sentinel.address.to_string();
            match self.ask(sentinel, &label, self.step(overall)) {
                Ok(Some(primary)) => match self.connect_primary(&primary, self.step(overall)) {
                    Ok(conn) => return Ok((primary, conn)),
                    // A wrong password for the primary is the same through every sentinel.
                    Err(err) if err.kind() == ErrorKind::Auth => return Err(err),
                    Err(err) => failures.push((primary.to_string(), err)),
                },
                Ok(None) => failures.push((
                    label,
                    Error::new(
                        ErrorKind::Connection,
                        format!("sentinel does not know master {:?}", self.master_name),
                    ),
                )),
                Err(err) => failures.push((label, err)),
            }
        }
        Err(combine_failures(
            &format!(
                "no sentinel named a reachable primary for {:?}",
                self.master_name
            ),
            failures,
        ))
    }

    /// Asks one sentinel where the primary is; `None` when it does not know the name.
    fn ask(
        &self,
        sentinel: &Endpoint,
        label: &str,
        deadline: Deadline,
    ) -> Result<Option<NodeAddr>> {
        let mut conn =
            Plain::connect(sentinel, deadline).map_err(|err| connect_error(&label, err))?;
        self.ask_on(&mut conn, label, deadline)
    }

    /// Asks the sentinel at the other end of `conn` where the primary is; `None` when it does
    /// not know the name.
    pub(crate) fn ask_on(
        &self,
        conn: &mut Plain,
        label: &str,
        deadline: Deadline,
    ) -> Result<Option<NodeAddr>> {
        conn.send(deadline, |a| {
            a.bytes(b"SENTINEL");
            a.bytes(b"GET-MASTER-ADDR-BY-NAME");
            a.bytes(self.master_name.as_bytes());
        })?;
        let reply = conn
            .reply(deadline, true)
            .and_then(|reply| answer(reply, |mut reply| reply.value()))
            .map_err(|err| err.context(&format!("sentinel {label}")))?;
        let unexpected = |shown: &dyn std::fmt::Debug| {
            Error::unexpected(format!(
                "sentinel {label} answered {shown:?} for the primary's address"
            ))
        };
        match reply {
            Value::Nil => Ok(None),
            Value::Array(fields) => match fields.as_slice() {
                [host, port] => {
                    let text = |v: &Value| match v {
                        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        Value::SimpleString(s) => Some(s.clone()),
                        _ => None,
                    };
                    let host = text(host);
                    let port = text(port).and_then(|p| p.parse::<u16>().ok());
                    match (host, port) {
                        (Some(host), Some(port)) => Ok(Some(NodeAddr { host, port })),
                        _ => Err(unexpected(&fields)),
                    }
                }
                _ => Err(unexpected(&fields)),
            },
            other => Err(unexpected(&other)),
        }
    }

    /// Connects to the node a sentinel named and checks that it is a primary (a sentinel may
    /// lag behind a failover). A user not allowed to run `ROLE` skips the check: a write on a
    /// replica is then refused with READONLY, and the executor retries on a new connection.
    fn connect_primary(&self, primary: &NodeAddr, deadline: Deadline) -> Result<Plain> {
        let mut conn = Plain::connect(&self.master.at(primary), deadline)
            .map_err(|err| connect_error(primary, err))?;
        conn.send(deadline, |a| a.bytes(b"ROLE"))?;
        let role = conn
            .reply(deadline, true)
            .and_then(|reply| answer(reply, |mut reply| reply.value()));
        match role {
            Ok(Value::Array(fields)) => match fields.first() {
                Some(Value::BulkString(role)) if role.as_slice() == b"master" => Ok(conn),
                Some(Value::SimpleString(role)) if role == "master" => Ok(conn),
                _ => Err(Error::new(
                    ErrorKind::Connection,
                    format!(
                        "{primary}, named primary of {:?}, is not a primary (failover under way?)",
                        self.master_name
                    ),
                )),
            },
            Ok(other) => Err(Error::unexpected(format!(
                "ROLE on {primary} answered {other:?}"
            ))),
            Err(err) if err.kind() == ErrorKind::Auth && conn.in_step() => {
                log::debug!("ROLE not permitted on {primary}; trusting the sentinel");
                Ok(conn)
            }
            Err(err) => Err(err.context(&format!("ROLE on {primary}"))),
        }
    }
}
