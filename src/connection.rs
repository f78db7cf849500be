//! Connections and the r2d2 pool manager.
//!
//! Connections are not tested with a PING on checkout (a PING per call would halve throughput).
//! Instead a connection that saw anything but a clean server reply (I/O error, timeout, garbage)
//! is marked broken and r2d2 drops it when it is returned, so a late reply can never be read as
//! the answer to another call.
//!
//! A connection the server closed while it sat idle in the pool (restart, `CLIENT KILL`, idle
//! `timeout`, failover) is only found out by using it. When one connection fails that way, its
//! siblings most likely went with it, so every connection opened before the failure becomes
//! suspect and is dropped at its next checkout or return: a local check, no round trip. The
//! retry of a read then really runs on a connection opened after the failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, Value};

use crate::config::{Config, Topology};
use crate::error::{leaves_connection_usable, Error, ErrorKind, Result};

/// A live connection of whichever topology the config names.
pub(crate) enum Link {
    Standalone(redis::Connection),
}

/// A pooled connection with its health flag.
pub struct Connection {
    link: Link,
    broken: bool,
    /// The value of `failures` when this connection was opened.
    born: u64,
    /// Connection failures seen on any connection of the same manager.
    failures: Arc<AtomicU64>,
}

impl Connection {
    /// Sends one command and reads its reply.
    pub(crate) fn query(&mut self, cmd: &redis::Cmd) -> Result<Value> {
        let outcome = match &mut self.link {
            Link::Standalone(conn) => conn.req_command(cmd),
        }
        .and_then(|value| match value {
            // redis-rs hands a top-level error reply back as a value; make it an error.
            Value::ServerError(err) => Err(err.into()),
            value => Ok(value),
        });
        self.settle(outcome)
    }

    /// Reads many string keys in one round trip (per node), replies in input order.
    pub(crate) fn get_many(&mut self, keys: &[String]) -> Result<Vec<Value>> {
        let mut mget = redis::cmd("MGET");
        for key in keys {
            mget.arg(key);
        }
        let reply = self.query(&mget)?;
        crate::reply::array(reply, keys.len(), "MGET")
    }

    fn settle<T>(&mut self, outcome: redis::RedisResult<T>) -> Result<T> {
        outcome.map_err(|err| {
            let usable = leaves_connection_usable(&err);
            let err = Error::from(err);
            if !usable {
                self.broken = true;
                if err.kind() == ErrorKind::Connection {
                    // The server closed this connection: the idle ones opened before now are
                    // suspect too (see the module comment).
                    self.failures.fetch_add(1, Ordering::SeqCst);
                }
            }
            err
        })
    }

    /// Broken, or opened before a connection failure was seen on another connection.
    fn suspect(&self) -> bool {
        self.broken || self.born < self.failures.load(Ordering::SeqCst)
    }

    /// Forces the pool to drop this connection when it is returned.
    pub(crate) fn discard(&mut self) {
        self.broken = true;
    }
}

/// The most recent failure to open a connection, so that a pool timeout caused by an unreachable
/// server is reported as the connection (or auth) error it really is.
#[derive(Default)]
pub(crate) struct LastConnectError(Mutex<Option<(Instant, Error)>>);

impl LastConnectError {
    fn record(&self, err: Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((Instant::now(), err));
        }
    }

    /// The last connect error if it happened at or after `since`.
    pub(crate) fn since(&self, since: Instant) -> Option<Error> {
        let slot = self.0.lock().ok()?;
        match &*slot {
            Some((at, err)) if *at >= since => Some(err.clone()),
            _ => None,
        }
    }
}

/// Opens connections for r2d2 and for the executor's first check.
pub struct Manager {
    connector: Connector,
    connect_timeout: Duration,
    command_timeout: Duration,
    target: String,
    pub(crate) last_connect_error: Arc<LastConnectError>,
    /// Connection failures seen on pooled connections (see the module comment).
    failures: Arc<AtomicU64>,
}

enum Connector {
    Standalone(redis::Client),
}

impl Manager {
    pub(crate) fn new(config: &Config) -> Result<Manager> {
        let connector = match &config.topology {
            Topology::Standalone(info) => Connector::Standalone(
                redis::Client::open(info.clone()).map_err(|e| Error::from(e).context("config"))?,
            ),
        };
        Ok(Manager {
            connector,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            target: config.display.clone(),
            last_connect_error: Arc::default(),
            failures: Arc::default(),
        })
    }

    /// Opens one connection with the connect timeout and sets the command timeout on it.
    pub(crate) fn open(&self) -> Result<Connection> {
        // Read before connecting: a connection that a server-side kill closes while it is being
        // opened must count as opened before the failure its siblings report.
        let born = self.failures.load(Ordering::SeqCst);
        let link = match &self.connector {
            Connector::Standalone(client) => {
                let conn = client
                    .get_connection_with_timeout(self.connect_timeout)
                    .map_err(|e| self.connect_error(e))?;
                conn.set_read_timeout(Some(self.command_timeout))
                    .and_then(|()| conn.set_write_timeout(Some(self.command_timeout)))
                    .map_err(|e| self.connect_error(e))?;
                Link::Standalone(conn)
            }
        };
        log::debug!("connected to {}", self.target);
        Ok(Connection {
            link,
            broken: false,
            born,
            failures: Arc::clone(&self.failures),
        })
    }

    fn connect_error(&self, err: redis::RedisError) -> Error {
        // Closed after the TCP connect, during the handshake: a server at its `maxclients`
        // limit writes "-ERR max number of clients reached" and closes at once, and the
        // handshake's own request usually meets the reset, losing that line. Say so.
        let closed_in_handshake =
            err.is_connection_dropped() && !err.is_connection_refusal() && !err.is_timeout();
        let err = Error::from(err);
        // A connect that times out is a failure to connect, not a slow command.
        let kind = match err.kind() {
            ErrorKind::Timeout => ErrorKind::Connection,
            kind => kind,
        };
        let hint = if closed_in_handshake {
            " (the server closed the connection during the handshake: it may have reached its \
             maxclients limit, or be shutting down)"
        } else {
            ""
        };
        Error::new(
            kind,
            format!("cannot connect to {}: {}{hint}", self.target, err.message()),
        )
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection> {
        self.open().inspect_err(|err| {
            log::warn!("{err}");
            self.last_connect_error.record(err.clone());
        })
    }

    /// Called on every checkout: a local check, no round trip.
    fn is_valid(&self, conn: &mut Connection) -> Result<()> {
        if conn.suspect() {
            return Err(Error::new(
                ErrorKind::Connection,
                "connection opened before a connection failure; replacing it",
            ));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.suspect()
    }
}

/// r2d2 reports connect failures and suspect connections dropped on checkout here;
/// `Manager::connect` already logged and recorded the former, the latter are routine.
#[derive(Debug)]
pub(crate) struct QuietErrorHandler;

impl r2d2::HandleError<Error> for QuietErrorHandler {
    fn handle_error(&self, _error: Error) {}
}
