//! Connections and the r2d2 pool manager.
//!
//! Connections are not tested on checkout with a command (a PING per call would halve
//! throughput). Instead a connection that saw anything but a clean server reply (I/O error,
//! timeout, garbage) is marked broken and r2d2 drops it when it is returned, so a late reply can
//! never be read as the answer to another call.
//!
//! When a call shows that the server side changed (a connection error: the server died or
//! dropped us; READONLY or MASTERDOWN: a failover demoted it), every connection opened before is
//! suspect: the executor bumps the manager's generation, and checkout (an integer comparison,
//! no I/O) drops idle connections of older generations, so the next call, and the executor's
//! retry, gets a newly opened one (for Sentinel: asking the sentinels for the current primary;
//! for a cluster: reading the current slot map).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, Value};

use crate::cluster::{ClusterLink, NodeAddr};
use crate::config::{is_tls, Config, Topology};
use crate::error::{Error, ErrorKind, Result};
use crate::sentinel::SentinelConnector;
use crate::wire::{Address, Args, Frame, Wire};

/// A live connection of whichever topology the config names.
pub(crate) enum Link {
    /// One server: a standalone server, or the primary a sentinel named.
    Single(redis::Connection),
    /// A connection per cluster node, with the slot map.
    Cluster(Box<ClusterLink>),
    /// One plain (TCP or unix socket, RESP2) server through the lean codec of `wire.rs`.
    Wire(Box<Wire>),
}

/// How to open a connection to one server: the settings of a URL (credentials, database, TLS
/// mode) with the configured certificates and timeouts. For cluster nodes and sentinel-named
/// primaries, the same settings are used at an address learned at run time.
#[derive(Clone)]
pub(crate) struct NodeOpener {
    /// The URL's settings; its address is replaced for other nodes.
    template: redis::ConnectionInfo,
    certificates: Option<redis::TlsCertificates>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl NodeOpener {
    fn new(template: redis::ConnectionInfo, config: &Config) -> NodeOpener {
        let certificates =
            (is_tls(&template) && config.tls.is_set()).then(|| config.tls.certificates());
        // Requests are written whole, so Nagle's algorithm could only delay them.
        let template =
            template.set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        NodeOpener {
            template,
            certificates,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
        }
    }

    /// Opens a connection to the template's own address.
    pub(crate) fn open_configured(&self) -> redis::RedisResult<redis::Connection> {
        self.open_info(self.template.clone())
    }

    /// Opens a connection to `host:port` with the template's settings.
    pub(crate) fn open(&self, host: &str, port: u16) -> redis::RedisResult<redis::Connection> {
        let addr = if is_tls(&self.template) {
            redis::ConnectionAddr::TcpTls {
                host: host.to_string(),
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(host.to_string(), port)
        };
        self.open_info(self.template.clone().set_addr(addr))
    }

    /// Opens the template's own server through the lean codec, when it can speak to it: a plain
    /// TCP or unix socket with RESP2. `None` for TLS or RESP3, which redis-rs handles.
    fn open_wire(&self) -> Option<Result<Wire>> {
        let settings = self.template.redis_settings();
        if settings.protocol() != redis::ProtocolVersion::RESP2 {
            return None;
        }
        let address = match self.template.addr() {
            redis::ConnectionAddr::Tcp(host, port) => Address::Tcp(host.clone(), *port),
            #[cfg(unix)]
            redis::ConnectionAddr::Unix(path) => Address::Unix(path.clone()),
            _ => return None,
        };
        Some(Wire::connect(
            &address,
            settings,
            self.connect_timeout,
            self.command_timeout,
        ))
    }

    fn open_info(&self, info: redis::ConnectionInfo) -> redis::RedisResult<redis::Connection> {
        let client = match &self.certificates {
            Some(certificates) => redis::Client::build_with_tls(info, certificates.clone())?,
            None => redis::Client::open(info)?,
        };
        let conn = client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.command_timeout))?;
        conn.set_write_timeout(Some(self.command_timeout))?;
        Ok(conn)
    }

    /// A failure to connect to `addr`, classified: a connect that times out is a failure to
    /// connect (`Connection`), not a slow command.
    pub(crate) fn connect_error(&self, addr: &NodeAddr, err: redis::RedisError) -> Error {
        connect_error(&addr.to_string(), err)
    }
}

fn connect_error(target: &str, err: redis::RedisError) -> Error {
    // Closed after the TCP connect, during the handshake: a server at its `maxclients` limit
    // writes "-ERR max number of clients reached" and closes at once, and the handshake's own
    // request usually meets the reset, losing that line. Say so.
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
        format!("cannot connect to {target}: {}{hint}", err.message()),
    )
}

/// The host and port of a TCP URL.
fn node_addr(info: &redis::ConnectionInfo) -> Option<NodeAddr> {
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port)
        | redis::ConnectionAddr::TcpTls { host, port, .. } => Some(NodeAddr {
            host: host.clone(),
            port: *port,
        }),
        _ => None,
    }
}

/// Makes sure rustls has a process-wide crypto provider: ours (ring) unless the application
/// installed one first, which is then kept.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A pooled connection with its health flag.
pub struct Connection {
    link: Link,
    broken: bool,
    /// The manager's generation when this connection was opened.
    generation: u64,
}

impl Connection {
    /// Sends one command and reads its reply.
    pub(crate) fn query(&mut self, cmd: &redis::Cmd) -> Result<Value> {
        let outcome = match &mut self.link {
            Link::Wire(wire) => {
                let outcome = wire.query(cmd);
                return self.settle(outcome);
            }
            Link::Single(conn) => conn.req_command(cmd),
            Link::Cluster(cluster) => cluster.query(cmd),
        }
        .and_then(|value| match value {
            // redis-rs hands a top-level error reply back as a value; make it an error.
            Value::ServerError(err) => Err(err.into()),
            value => Ok(value),
        });
        self.settle(outcome.map_err(Error::from))
    }

    /// Sends the command that `build` encodes and reads its reply. On the lean codec the
    /// command goes straight into the connection's buffer; otherwise it becomes a redis-rs
    /// command. `build` may run twice (to count the arguments first).
    pub(crate) fn call(&mut self, build: impl Fn(&mut dyn Args)) -> Result<Value> {
        if let Link::Wire(wire) = &mut self.link {
            let outcome = wire.send(&build).and_then(|()| wire.value());
            return self.settle(outcome);
        }
        let mut cmd = redis::Cmd::new();
        build(&mut cmd);
        self.query(&cmd)
    }

    /// Reads `count` string keys in one round trip per node and hands each value (or `None`
    /// when absent) to `each` in input order. `key` writes key `i`; `key_name` spells it for
    /// the cluster's routing. On the lean codec values are decoded straight from the read
    /// buffer, without a value tree.
    pub(crate) fn get_each(
        &mut self,
        count: usize,
        key: impl Fn(usize, &mut dyn Args),
        key_name: impl Fn(usize) -> String,
        mut each: impl FnMut(usize, Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        if let Link::Wire(wire) = &mut self.link {
            let outcome = wire.mget_each(count, key, &mut each);
            return self.settle(outcome);
        }
        let keys: Vec<String> = (0..count).map(key_name).collect();
        for (i, value) in self.get_many(&keys)?.into_iter().enumerate() {
            match value {
                Value::Nil => each(i, None)?,
                Value::BulkString(bytes) => each(i, Some(&bytes))?,
                other => {
                    return Err(Error::unexpected(format!(
                        "MGET entry {i}: expected a string, got {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Sends a command whose reply is one string or nil (GET) and decodes it with `decode`, in
    /// place on the lean codec (no allocation for the reply).
    pub(crate) fn call_bulk<T>(
        &mut self,
        build: impl Fn(&mut dyn Args),
        decode: impl FnOnce(Option<&[u8]>) -> Result<T>,
    ) -> Result<T> {
        if let Link::Wire(wire) = &mut self.link {
            let outcome = wire.send(&build).and_then(|()| match wire.frame()? {
                Frame::Bulk(value) => decode(value),
                other => Err(Error::unexpected(format!(
                    "expected a string, got {other:?}"
                ))),
            });
            return self.settle(outcome);
        }
        match self.call(build)? {
            Value::Nil => decode(None),
            Value::BulkString(bytes) => decode(Some(&bytes)),
            other => Err(Error::unexpected(format!(
                "expected a string, got {other:?}"
            ))),
        }
    }

    /// Reads a whole hash and hands each (field, value) pair to `each`, decoded in place on the
    /// lean codec.
    pub(crate) fn hgetall_each(
        &mut self,
        key: impl Fn(&mut dyn Args),
        mut each: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        if let Link::Wire(wire) = &mut self.link {
            let outcome = wire.hgetall_each(key, &mut each);
            return self.settle(outcome);
        }
        let reply = self.call(|a| {
            a.bytes(b"HGETALL");
            key(a);
        })?;
        for (field, value) in crate::reply::hash_entries(reply, "HGETALL")? {
            each(&field, &value)?;
        }
        Ok(())
    }

    /// Reads many string keys in one round trip per node, replies in input order: one MGET on
    /// a single server; on a cluster one MGET per slot, pipelined per node (never CROSSSLOT).
    pub(crate) fn get_many(&mut self, keys: &[String]) -> Result<Vec<Value>> {
        match &mut self.link {
            Link::Single(_) | Link::Wire(_) => {
                let mut mget = redis::cmd("MGET");
                for key in keys {
                    mget.arg(key);
                }
                let reply = self.query(&mget)?;
                crate::reply::array(reply, keys.len(), "MGET")
            }
            Link::Cluster(cluster) => {
                let outcome = cluster.get_many(keys);
                self.settle(outcome.map_err(Error::from))
            }
        }
    }

    /// Sends `cmd` to every primary (the one server, or each cluster primary) and returns each
    /// node's outcome, for loading scripts.
    pub(crate) fn query_all_primaries(&mut self, cmd: &redis::Cmd) -> Vec<(String, Result<Value>)> {
        match &mut self.link {
            Link::Single(_) | Link::Wire(_) => vec![(String::from("server"), self.query(cmd))],
            Link::Cluster(cluster) => cluster
                .on_all_primaries(cmd)
                .into_iter()
                .map(|(addr, outcome)| {
                    let outcome = outcome
                        .and_then(|value| value.extract_error())
                        .map_err(Error::from);
                    (addr.to_string(), outcome)
                })
                .collect(),
        }
    }

    /// Whether this is a cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// Keeps the connection only when a failure was a complete error reply from the server with
    /// nothing left unread: after anything else a reply may still be in flight.
    fn settle<T>(&mut self, outcome: Result<T>) -> Result<T> {
        if let Err(err) = &outcome {
            let unread = matches!(&self.link, Link::Wire(wire) if wire.has_unread());
            if !err.server_reply || unread {
                self.broken = true;
            }
        }
        outcome
    }

    /// Forces the pool to drop this connection when it is returned.
    pub(crate) fn discard(&mut self) {
        self.broken = true;
    }

    /// The generation of the manager this connection was opened in.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
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
    command_timeout: Duration,
    target: String,
    pub(crate) last_connect_error: Arc<LastConnectError>,
    /// Bumped when connections opened before may point at the wrong server.
    pub(crate) generation: Arc<Generation>,
}

/// A counter of server-side changes (see the module docs).
#[derive(Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Retires every connection of `seen`'s generation or older (once, however many callers
    /// saw the same change).
    pub(crate) fn retire(&self, seen: u64) {
        self.0.fetch_max(seen + 1, Ordering::AcqRel);
    }
}

enum Connector {
    Standalone(NodeOpener),
    Cluster {
        opener: Arc<NodeOpener>,
        seeds: Arc<Vec<NodeAddr>>,
    },
    Sentinel(SentinelConnector),
}

impl Manager {
    pub(crate) fn new(config: &Config) -> Result<Manager> {
        let any_tls = match &config.topology {
            Topology::Standalone(info) => is_tls(info),
            Topology::Cluster { seeds } => seeds.iter().any(is_tls),
            Topology::Sentinel { sentinels, .. } => sentinels.iter().any(is_tls),
        };
        if config.tls.is_set() && !any_tls {
            return Err(Error::config(format!(
                "TLS certificates are set but {} does not use TLS; use rediss:// URLs",
                config.display
            )));
        }
        if any_tls {
            ensure_crypto_provider();
        }
        let connector = match &config.topology {
            Topology::Standalone(info) => {
                Connector::Standalone(NodeOpener::new(info.clone(), config))
            }
            Topology::Cluster { seeds } => Connector::Cluster {
                opener: Arc::new(NodeOpener::new(seeds[0].clone(), config)),
                seeds: Arc::new(seeds.iter().filter_map(node_addr).collect()),
            },
            Topology::Sentinel {
                sentinels,
                master_name,
                master,
                master_tls,
            } => {
                let master_addr = if *master_tls {
                    redis::ConnectionAddr::TcpTls {
                        host: String::new(),
                        port: 0,
                        insecure: false,
                        tls_params: None,
                    }
                } else {
                    redis::ConnectionAddr::Tcp(String::new(), 0)
                };
                let master_template = sentinels[0]
                    .clone()
                    .set_addr(master_addr)
                    .set_redis_settings(master.clone());
                Connector::Sentinel(SentinelConnector {
                    sentinels: sentinels
                        .iter()
                        .map(|info| {
                            let addr = node_addr(info).unwrap_or_else(|| NodeAddr {
                                host: format!("{:?}", info.addr()),
                                port: 0,
                            });
                            (addr, NodeOpener::new(info.clone(), config))
                        })
                        .collect(),
                    master_name: master_name.clone(),
                    master: NodeOpener::new(master_template, config),
                    last_primary: Default::default(),
                })
            }
        };
        Ok(Manager {
            connector,
            command_timeout: config.command_timeout,
            target: config.display.clone(),
            last_connect_error: Arc::default(),
            generation: Arc::default(),
        })
    }

    /// Opens one connection with the connect timeout and sets the command timeout on it.
    pub(crate) fn open(&self) -> Result<Connection> {
        let generation = self.generation.current();
        let link = match &self.connector {
            Connector::Standalone(opener) => match opener.open_wire() {
                Some(wire) => Link::Wire(Box::new(wire.map_err(|e| {
                    let kind = match e.kind() {
                        ErrorKind::Timeout => ErrorKind::Connection,
                        kind => kind,
                    };
                    Error::new(
                        kind,
                        format!("cannot connect to {}: {}", self.target, e.message()),
                    )
                })?)),
                None => Link::Single(
                    opener
                        .open_configured()
                        .map_err(|e| connect_error(&self.target, e))?,
                ),
            },
            Connector::Cluster { opener, seeds } => Link::Cluster(Box::new(ClusterLink::connect(
                Arc::clone(opener),
                Arc::clone(seeds),
                self.command_timeout,
            )?)),
            Connector::Sentinel(sentinel) => {
                let (primary, conn) = sentinel.connect()?;
                sentinel.note_primary(&primary);
                log::debug!("sentinel master {} is {primary}", sentinel.master_name);
                Link::Single(conn)
            }
        };
        log::debug!("connected to {}", self.target);
        Ok(Connection {
            link,
            broken: false,
            generation,
        })
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

    fn is_valid(&self, conn: &mut Connection) -> Result<()> {
        // Called on checkout: no I/O, only whether a change was seen since it was opened.
        if conn.generation < self.generation.current() {
            return Err(Error::new(
                ErrorKind::Connection,
                "connection opened before a server-side change; replaced",
            ));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.broken || conn.generation < self.generation.current()
    }
}

/// r2d2 reports connect failures here; `Manager::connect` already logged and recorded them.
#[derive(Debug)]
pub(crate) struct QuietErrorHandler;

impl r2d2::HandleError<Error> for QuietErrorHandler {
    fn handle_error(&self, _error: Error) {}
}
