//! What the client-side cache's invalidation listeners need from the transport: which primaries
//! to listen to now, and a connection to each, opened as every other connection is (TCP, unix
//! socket or TLS; AUTH and SELECT as the URL says), within the connect timeout.
//!
//! The primaries are found as the pool finds them: the one server of a URL; the primary the
//! sentinels name (asked again on each look, over a connection to a sentinel kept open between
//! looks); the primaries of the cluster's slot map (`CLUSTER SLOTS`, over a connection kept
//! open likewise).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::cluster::{read_slots, SlotMap};
use super::deadline::Deadline;
use super::node::{connect_error, Endpoint, NodeAddr};
use super::plain::Plain;
use super::sentinel::SentinelConnector;
use crate::error::{Error, ErrorKind, Result};

/// One primary to listen to.
#[derive(Clone)]
pub(crate) struct ListenNode {
    /// Its address, as logs and messages show it; also what tells two nodes apart.
    pub(crate) label: String,
    endpoint: Endpoint,
}

impl fmt::Debug for ListenNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl ListenNode {
    /// A new connection to this node, logged in, within `timeout`.
    pub(crate) fn connect(&self, timeout: Duration) -> Result<Plain> {
        Plain::connect(&self.endpoint, Deadline::connect(timeout))
            .map_err(|err| connect_error(&self.label, err))
    }
}

/// The primaries at one look, and for a cluster the slot map they serve.
pub(crate) struct Primaries {
    pub(crate) nodes: Vec<ListenNode>,
    slots: Option<SlotMap>,
}

impl Primaries {
    /// Whether `other` names the same primaries and (on a cluster) sends every slot to the
    /// same one: anything else is a topology change (failover, resharding).
    pub(crate) fn same_as(&self, other: &Primaries) -> bool {
        let labels = |p: &Primaries| p.nodes.iter().map(|n| n.label.clone()).collect::<Vec<_>>();
        labels(self) == labels(other)
            && match (&self.slots, &other.slots) {
                (Some(a), Some(b)) => a.same_owners(b),
                (None, None) => true,
                _ => false,
            }
    }
}

enum Source {
    Single(Endpoint),
    Sentinel {
        connector: Arc<SentinelConnector>,
        /// The sentinel asked last, still connected.
        control: Option<(String, Plain)>,
    },
    Cluster {
        endpoint: Arc<Endpoint>,
        seeds: Arc<Vec<NodeAddr>>,
        /// The node asked last, still connected.
        control: Option<(NodeAddr, Plain)>,
        /// The primaries of the last map, asked first next time.
        known: Vec<NodeAddr>,
    },
}

/// Where the listeners' primaries come from (see the module docs).
pub(crate) struct ListenTargets {
    source: Source,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl ListenTargets {
    pub(super) fn single(
        endpoint: Endpoint,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Self {
        Self::new(Source::Single(endpoint), connect_timeout, command_timeout)
    }

    pub(super) fn sentinel(
        connector: Arc<SentinelConnector>,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Self {
        let source = Source::Sentinel {
            connector,
            control: None,
        };
        Self::new(source, connect_timeout, command_timeout)
    }

    pub(super) fn cluster(
        endpoint: Arc<Endpoint>,
        seeds: Arc<Vec<NodeAddr>>,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Self {
        let source = Source::Cluster {
            endpoint,
            seeds,
            control: None,
            known: Vec::new(),
        };
        Self::new(source, connect_timeout, command_timeout)
    }

    fn new(source: Source, connect_timeout: Duration, command_timeout: Duration) -> Self {
        ListenTargets {
            source,
            connect_timeout,
            command_timeout,
        }
    }

    /// Whether the primaries can change without the configuration changing (a sentinel
    /// failover, a cluster's): only then is it worth looking again.
    pub(crate) fn can_change(&self) -> bool {
        !matches!(self.source, Source::Single(_))
    }

    /// The primaries now. A sentinel or cluster node is asked over the connection kept from
    /// the last look when it still works, else over a new one to the next candidate; each
    /// question within the command timeout, each connect within the connect timeout.
    pub(crate) fn primaries(&mut self) -> Result<Primaries> {
        let (connect_timeout, command_timeout) = (self.connect_timeout, self.command_timeout);
        match &mut self.source {
            Source::Single(endpoint) => Ok(Primaries {
                nodes: vec![ListenNode {
                    label: endpoint.address.to_string(),
                    endpoint: endpoint.clone(),
                }],
                slots: None,
            }),
            Source::Sentinel { connector, control } => {
                let primary = ask_sentinels(connector, control, connect_timeout, command_timeout)?;
                Ok(Primaries {
                    nodes: vec![ListenNode {
                        label: primary.to_string(),
                        endpoint: connector.master.at(&primary),
                    }],
                    slots: None,
                })
            }
            Source::Cluster {
                endpoint,
                seeds,
                control,
                known,
            } => {
                let slots = ask_cluster(
                    endpoint,
                    seeds,
                    known,
                    control,
                    connect_timeout,
                    command_timeout,
                )?;
                let serving = slots.serving_primaries();
                *known = serving.clone();
                Ok(Primaries {
                    nodes: serving
                        .iter()
                        .map(|addr| ListenNode {
                            label: addr.to_string(),
                            endpoint: endpoint.at(addr),
                        })
                        .collect(),
                    slots: Some(slots),
                })
            }
        }
    }
}

/// The primary the sentinels name: the sentinel of the last look first, then each in order.
fn ask_sentinels(
    connector: &SentinelConnector,
    control: &mut Option<(String, Plain)>,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<NodeAddr> {
    let mut failures = Vec::new();
    if let Some((label, mut conn)) = control.take() {
        match connector.ask_on(&mut conn, &label, Deadline::command(command_timeout)) {
            Ok(Some(primary)) if conn.in_step() => {
                *control = Some((label, conn));
                return Ok(primary);
            }
            Ok(Some(primary)) => return Ok(primary),
            Ok(None) => failures.push((label, unknown_master(connector))),
            Err(err) => failures.push((label, err)),
        }
    }
    for sentinel in &connector.sentinels {
        let label = sentinel.address.to_string();
        let attempt = Plain::connect(sentinel, Deadline::connect(connect_timeout))
            .map_err(|err| connect_error(&label, err))
            .and_then(|mut conn| {
                let primary =
                    connector.ask_on(&mut conn, &label, Deadline::command(command_timeout))?;
                Ok((primary, conn))
            });
        match attempt {
            Ok((Some(primary), conn)) => {
                if conn.in_step() {
                    *control = Some((label, conn));
                }
                return Ok(primary);
            }
            Ok((None, _)) => failures.push((label, unknown_master(connector))),
            Err(err) => failures.push((label, err)),
        }
    }
    Err(super::node::combine_failures(
        &format!(
            "no sentinel named the primary of {:?}",
            connector.master_name
        ),
        failures,
    ))
}

fn unknown_master(connector: &SentinelConnector) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!("sentinel does not know master {:?}", connector.master_name),
    )
}

/// The cluster's slot map: from the node of the last look first, then the primaries known,
/// then the seeds.
fn ask_cluster(
    endpoint: &Endpoint,
    seeds: &[NodeAddr],
    known: &[NodeAddr],
    control: &mut Option<(NodeAddr, Plain)>,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<SlotMap> {
    let mut failures = Vec::new();
    if let Some((addr, mut conn)) = control.take() {
        match read_slots(&mut conn, &addr, Deadline::command(command_timeout)) {
            Ok(slots) => {
                if conn.in_step() {
                    *control = Some((addr, conn));
                }
                return Ok(slots);
            }
            Err(err) => failures.push((addr.to_string(), err)),
        }
    }
    let mut candidates: Vec<&NodeAddr> = known.iter().collect();
    candidates.extend(seeds.iter().filter(|seed| !known.contains(seed)));
    for addr in candidates {
        let attempt = Plain::connect(&endpoint.at(addr), Deadline::connect(connect_timeout))
            .map_err(|err| connect_error(addr, err))
            .and_then(|mut conn| {
                let slots = read_slots(&mut conn, addr, Deadline::command(command_timeout))?;
                Ok((slots, conn))
            });
        match attempt {
            Ok((slots, conn)) => {
                if conn.in_step() {
                    *control = Some((addr.clone(), conn));
                }
                return Ok(slots);
            }
            Err(err) => failures.push((addr.to_string(), err)),
        }
    }
    Err(super::node::combine_failures(
        "no cluster node answered CLUSTER SLOTS",
        failures,
    ))
}
