//! Everything between "an encoded command" and "decoded frames": the one seam the executor
//! talks to, whatever the topology.
//!
//! A call sends the command an operation encodes, to the node serving the key the operation
//! names, and hands the whole reply's frames to the operation's reader. One deadline (the
//! command timeout) covers the call: any connect it needs, every write and every read.
//!
//! - `resp.rs`: encoding, and the sans-IO decoder with its limits;
//! - `deadline.rs`: the instant an exchange must be over by (a leaf);
//! - `resolve.rs`: host-name lookup within a deadline;
//! - `node.rs`: addresses, opening sockets (TCP, unix, TLS) within a deadline, connect errors;
//! - `plain.rs`: one connection driven by the decoder;
//! - `cluster.rs`, `sentinel.rs`: the topologies, on `plain.rs`;
//! - `connection.rs`: a pooled connection of either topology and the exchanges it runs;
//! - `pool.rs`: the r2d2 manager that opens connections, and their generations;
//! - `pipeline.rs`: shared connections for concurrent callers (auto-pipelining);
//! - `listen.rs`: the primaries the client-side cache listens to, and connections to them.
//!
//! An operation runs on a [`Via`]: with pipelining on, single commands go through the shared
//! connections and a pooled connection is checked out only for what they do not carry (a
//! cluster's multi-node batch, a redirect to follow); with it off, a pooled connection is held
//! for the whole operation.

mod cluster;
mod connection;
mod deadline;
mod listen;
mod node;
mod pipeline;
mod plain;
mod pool;
mod resolve;
pub(crate) mod resp;
mod sentinel;

pub(crate) use cluster::KeysCommand;
pub(crate) use connection::{Connection, Route};
pub(crate) use deadline::Deadline;
pub(crate) use listen::{ListenNode, ListenTargets, Primaries};
pub(crate) use node::Stream;
pub(crate) use pipeline::Pipeline;
pub(crate) use plain::Plain;
pub(crate) use pool::{Generation, LastConnectError, Manager, QuietErrorHandler};
pub(crate) use resp::{answer, Args, Frame, Reply};

use std::time::Duration;

use crate::error::Result;
use crate::stats::Counted;
use connection::Link;
use pipeline::Routed;

/// The largest single-node batch read that goes through the shared connection of
/// auto-pipelining; a larger one uses a pooled connection, as with pipelining off. Its reply
/// is large enough that combining saves the server little (measured: 1,000 keys, the same
/// server CPU per call), while the thread reading for all would copy and check it for its
/// caller, one such reply after another (1,000 keys at 16 threads: 0.93 of the throughput
/// with pipelining off; 100 keys: 1.07).
const PIPELINED_KEYS_MAX: usize = 256;

/// A pooled connection an operation holds: checked out of the pool, or the executor's first
/// connection (opened directly, to report its error as it is).
pub(crate) enum Lease {
    Pooled(r2d2::PooledConnection<Counted<Manager>>),
    Own(Box<Connection>),
}

impl Lease {
    fn conn(&mut self) -> &mut Connection {
        match self {
            Lease::Pooled(conn) => conn,
            Lease::Own(conn) => conn,
        }
    }
}

/// What one operation runs on (see the module docs).
pub(crate) struct Via<'a> {
    pipeline: Option<&'a Pipeline>,
    lease: Option<Lease>,
    checkout: &'a dyn Fn() -> Result<r2d2::PooledConnection<Counted<Manager>>>,
    command_timeout: Duration,
    /// The generation of the connection that carried the last command.
    generation: u64,
}

impl<'a> Via<'a> {
    /// `pipeline`: the shared connections, or `None` to hold a pooled connection throughout
    /// (checked out now).
    pub(crate) fn new(
        pipeline: Option<&'a Pipeline>,
        checkout: &'a dyn Fn() -> Result<r2d2::PooledConnection<Counted<Manager>>>,
        command_timeout: Duration,
    ) -> Result<Via<'a>> {
        let mut via = Via {
            pipeline,
            lease: None,
            checkout,
            command_timeout,
            generation: 0,
        };
        if pipeline.is_none() {
            via.lease()?;
        }
        Ok(via)
    }

    /// On a connection opened directly, without a pool.
    pub(crate) fn own(
        conn: Connection,
        checkout: &'a dyn Fn() -> Result<r2d2::PooledConnection<Counted<Manager>>>,
    ) -> Via<'a> {
        Via {
            pipeline: None,
            command_timeout: conn.command_timeout,
            generation: conn.generation(),
            lease: Some(Lease::Own(Box::new(conn))),
            checkout,
        }
    }

    fn lease(&mut self) -> Result<&mut Connection> {
        if self.lease.is_none() {
            self.lease = Some(Lease::Pooled((self.checkout)()?));
        }
        let conn = self.lease.as_mut().expect("leased above").conn();
        self.generation = conn.generation();
        Ok(conn)
    }

    /// The generation of the connection that carried the last command.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Drops the pooled connection held, if any, instead of returning it to the pool.
    pub(crate) fn discard(&mut self) {
        if let Some(lease) = &mut self.lease {
            lease.conn().discard();
        }
    }

    /// Sends the command `build` encodes to the node serving `route` and hands the reply to
    /// `read` (an error reply is returned as the server's error instead).
    pub(crate) fn call<T>(
        &mut self,
        route: Route,
        build: impl Fn(&mut dyn Args),
        read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        if let Some(pipeline) = self.pipeline {
            let deadline = Deadline::command(self.command_timeout);
            let sent = match (pipeline, route.slot()) {
                (Pipeline::Node(shared), _) => Routed::Done(shared.call(deadline, &build)),
                (Pipeline::Cluster(cluster), Some(slot)) => cluster.call(slot, deadline, &build),
                (Pipeline::Cluster(_), None) => Routed::Elsewhere,
            };
            if let Routed::Done((bytes, generation)) = sent {
                self.generation = generation;
                return resp::answer(Reply::new(&bytes?), read);
            }
        }
        self.pooled(|conn| conn.call(route, build, read))?
    }

    /// Runs `run` on the pooled connection held (checked out now if none is), and gives the
    /// pipeline its slot map afterwards (it may have followed a redirect).
    pub(crate) fn pooled<T>(&mut self, run: impl FnOnce(&mut Connection) -> T) -> Result<T> {
        let pipeline = self.pipeline;
        let conn = self.lease()?;
        let outcome = run(conn);
        if let (Some(Pipeline::Cluster(cluster)), Link::Cluster(link)) = (pipeline, &conn.link) {
            cluster.learn(link.slots().clone());
        }
        Ok(outcome)
    }

    /// Sends a command over many keys in one round trip per node (see
    /// [`Connection::call_keys`]).
    pub(crate) fn call_keys(&mut self, command: &dyn KeysCommand) -> Result<()> {
        let count = command.count();
        if let (Some(Pipeline::Node(shared)), true) = (self.pipeline, count <= PIPELINED_KEYS_MAX) {
            let deadline = Deadline::command(self.command_timeout);
            let all: Vec<usize> = (0..count).collect();
            let (bytes, generation) = shared.call(deadline, |a| command.build(&all, a));
            self.generation = generation;
            return resp::answer(Reply::new(&bytes?), |reply| command.read(&all, reply));
        }
        self.pooled(|conn| conn.call_keys(command))?
    }

    /// Sends one command to every primary (see [`Connection::on_all_primaries`]).
    pub(crate) fn on_all_primaries<T>(
        &mut self,
        build: impl Fn(&mut dyn Args),
        read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Result<Vec<(String, Result<T>)>> {
        Ok(self.lease()?.on_all_primaries(build, read))
    }

    /// Whether this runs on a cluster.
    pub(crate) fn is_cluster(&mut self) -> Result<bool> {
        Ok(self.lease()?.is_cluster())
    }

    /// Gives the pipeline the slot map of the connection held (at open).
    pub(crate) fn teach(&mut self, pipeline: &Pipeline) {
        if let (Pipeline::Cluster(cluster), Some(lease)) = (pipeline, &mut self.lease) {
            if let Link::Cluster(link) = &lease.conn().link {
                cluster.learn(link.slots().clone());
            }
        }
    }
}
