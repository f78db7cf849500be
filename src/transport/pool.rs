//! Pooled connections and the r2d2 manager that opens them.
//!
//! Connections are not tested on checkout with a command (a PING per call would halve
//! throughput). Instead a connection is marked broken before each call writes anything, and the
//! mark is cleared only when the call ended cleanly: a whole, well-formed reply read and nothing
//! else buffered. r2d2 drops a broken connection when it is returned, so an error, a timeout, a
//! panic or an early return can never leave a half-read reply for the next call.
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

use super::cluster::ClusterLink;
use super::connection::{Connection, Link};
use super::deadline::Deadline;
use super::listen::ListenTargets;
use super::node::{connect_error, Endpoint, NodeAddr};
use super::plain::Plain;
use super::sentinel::SentinelConnector;
use crate::config::{is_tls, Config, Topology};
use crate::error::{Error, ErrorKind, Result};

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

/// A counter of server-side changes (see the module docs).
#[derive(Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Retires every connection of `seen`'s generation or older (once, however many callers
    /// saw the same change).
    pub(crate) fn retire(&self, seen: u64) {
        self.0.fetch_max(seen + 1, Ordering::AcqRel);
    }
}

/// How the manager opens connections, for the shared connections of auto-pipelining too.
pub(super) enum Connector {
    Standalone(Endpoint),
    Cluster {
        endpoint: Arc<Endpoint>,
        seeds: Arc<Vec<NodeAddr>>,
    },
    Sentinel(Arc<SentinelConnector>),
}

/// Opens connections for r2d2 and for the executor's first check.
pub struct Manager {
    pub(super) connector: Connector,
    pub(super) connect_timeout: Duration,
    command_timeout: Duration,
    target: String,
    pub(crate) last_connect_error: Arc<LastConnectError>,
    /// Bumped when connections opened before may point at the wrong server.
    pub(crate) generation: Arc<Generation>,
}

fn tcp_addr(endpoint: &Endpoint) -> Option<NodeAddr> {
    match &endpoint.address {
        super::node::Address::Tcp(addr) => Some(addr.clone()),
        #[cfg(unix)]
        super::node::Address::Unix(_) => None,
    }
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
        let endpoint = |info: &redis::ConnectionInfo| Endpoint::from_info(info, &config.tls);
        let connector = match &config.topology {
            Topology::Standalone(info) => Connector::Standalone(endpoint(info)?),
            Topology::Cluster { seeds } => {
                let endpoints = seeds.iter().map(endpoint).collect::<Result<Vec<_>>>()?;
                Connector::Cluster {
                    seeds: Arc::new(endpoints.iter().filter_map(tcp_addr).collect()),
                    endpoint: Arc::new(endpoints[0].clone()),
                }
            }
            Topology::Sentinel {
                sentinels,
                master_name,
                master,
                ..
            } => {
                let sentinels = sentinels.iter().map(endpoint).collect::<Result<Vec<_>>>()?;
                // The primary: the sentinels' TLS mode, its own login; the address is named later.
                let master = sentinels[0].with_login(super::node::Login::from_settings(master));
                Connector::Sentinel(Arc::new(SentinelConnector {
                    sentinels,
                    master_name: master_name.clone(),
                    master,
                    connect_timeout: config.connect_timeout,
                    last_primary: Default::default(),
                }))
            }
        };
        Ok(Manager {
            connector,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            target: config.display.clone(),
            last_connect_error: Arc::default(),
            generation: Arc::default(),
        })
    }

    /// Where the client-side cache's invalidation listeners find the primaries to listen to.
    pub(crate) fn listen_targets(&self) -> ListenTargets {
        let (connect, command) = (self.connect_timeout, self.command_timeout);
        match &self.connector {
            Connector::Standalone(endpoint) => {
                ListenTargets::single(endpoint.clone(), connect, command)
            }
            Connector::Sentinel(sentinel) => {
                ListenTargets::sentinel(Arc::clone(sentinel), connect, command)
            }
            Connector::Cluster { endpoint, seeds } => {
                ListenTargets::cluster(Arc::clone(endpoint), Arc::clone(seeds), connect, command)
            }
        }
    }

    /// Opens one connection (the only place that does), each step within the connect timeout.
    pub(crate) fn open(&self) -> Result<Connection> {
        let generation = self.generation.current();
        let link = match &self.connector {
            Connector::Standalone(endpoint) => {
                let deadline = Deadline::connect(self.connect_timeout);
                let plain = Plain::connect(endpoint, deadline)
                    .map_err(|err| connect_error(&self.target, err))?;
                Link::Node(Box::new(plain))
            }
            Connector::Cluster { endpoint, seeds } => {
                Link::Cluster(Box::new(ClusterLink::connect(
                    Arc::clone(endpoint),
                    Arc::clone(seeds),
                    self.connect_timeout,
                )?))
            }
            Connector::Sentinel(sentinel) => {
                let (primary, plain) = sentinel.connect()?;
                sentinel.note_primary(&primary);
                log::debug!("sentinel master {} is {primary}", sentinel.master_name);
                Link::Node(Box::new(plain))
            }
        };
        log::debug!("connected to {}", self.target);
        Ok(Connection::new(link, generation, self.command_timeout))
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
        if conn.generation() < self.generation.current() {
            return Err(Error::new(
                ErrorKind::Connection,
                "connection opened before a server-side change; replaced",
            ));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.broken || conn.generation() < self.generation.current()
    }
}

/// r2d2 reports connect failures here; `Manager::connect` already logged and recorded them.
#[derive(Debug)]
pub(crate) struct QuietErrorHandler;

impl r2d2::HandleError<Error> for QuietErrorHandler {
    fn handle_error(&self, _error: Error) {}
}
