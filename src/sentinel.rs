//! Redis Sentinel: asking the sentinels for the current primary each time a connection opens.
//!
//! Follows the sentinel client protocol (ask the sentinels in order with
//! `SENTINEL GET-MASTER-ADDR-BY-NAME`, connect, confirm with `ROLE`) on redis-rs's plain
//! connections, with the configured connect and command timeouts on every step. (redis-rs 1.8's
//! sync `Sentinel` connects to sentinels and checks roles without any timeout.)

use redis::{ConnectionLike, Value};

use crate::cluster::{combine_failures, NodeAddr};
use crate::connection::NodeOpener;
use crate::error::{Error, ErrorKind};

/// The sentinels and how to reach the primary they name.
pub(crate) struct SentinelConnector {
    /// One opener per sentinel (its URL's address, credentials and TLS).
    pub(crate) sentinels: Vec<(NodeAddr, NodeOpener)>,
    pub(crate) master_name: String,
    /// Opens connections to the primary (credentials, database, TLS of the data nodes).
    pub(crate) master: NodeOpener,
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
    pub(crate) fn connect(&self) -> Result<(NodeAddr, redis::Connection), Error> {
        let mut failures = Vec::new();
        for (sentinel, opener) in &self.sentinels {
            match self.ask(opener, sentinel) {
                Ok(Some(primary)) => match self.connect_primary(&primary) {
                    Ok(conn) => return Ok((primary, conn)),
                    // A wrong password for the primary is the same through every sentinel.
                    Err(err) if err.kind() == ErrorKind::Auth => return Err(err),
                    Err(err) => failures.push((primary, err)),
                },
                Ok(None) => failures.push((
                    sentinel.clone(),
                    Error::new(
                        ErrorKind::Connection,
                        format!("sentinel does not know master {:?}", self.master_name),
                    ),
                )),
                Err(err) => failures.push((sentinel.clone(), err)),
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
    fn ask(&self, opener: &NodeOpener, sentinel: &NodeAddr) -> Result<Option<NodeAddr>, Error> {
        let mut conn = opener
            .open_configured()
            .map_err(|err| opener.connect_error(sentinel, err))?;
        let reply = conn
            .req_command(
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(&self.master_name),
            )
            .and_then(|reply| reply.extract_error())
            .map_err(|err| Error::from(err).context(&format!("sentinel {sentinel}")))?;
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
                        _ => Err(Error::unexpected(format!(
                            "sentinel {sentinel} answered {fields:?} for the primary's address"
                        ))),
                    }
                }
                _ => Err(Error::unexpected(format!(
                    "sentinel {sentinel} answered {fields:?} for the primary's address"
                ))),
            },
            other => Err(Error::unexpected(format!(
                "sentinel {sentinel} answered {other:?} for the primary's address"
            ))),
        }
    }

    /// Connects to the node a sentinel named and checks that it is a primary (a sentinel may
    /// lag behind a failover). A user not allowed to run `ROLE` skips the check: a write on a
    /// replica is then refused with READONLY, and the executor retries on a new connection.
    fn connect_primary(&self, primary: &NodeAddr) -> Result<redis::Connection, Error> {
        let mut conn = self
            .master
            .open(&primary.host, primary.port)
            .map_err(|err| self.master.connect_error(primary, err))?;
        match conn
            .req_command(&redis::cmd("ROLE"))
            .and_then(|reply| reply.extract_error())
        {
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
            Err(err) if matches!(Error::from(err.clone()).kind(), ErrorKind::Auth) => {
                log::debug!("ROLE not permitted on {primary}; trusting the sentinel");
                Ok(conn)
            }
            Err(err) => Err(Error::from(err).context(&format!("ROLE on {primary}"))),
        }
    }
}
