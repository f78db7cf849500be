//! Everything between "an encoded command" and "decoded frames": the one seam the executor
//! talks to, whatever the topology.
//!
//! A call sends the command an operation encodes, to the node serving the key the operation
//! names, and hands the whole reply's frames to the operation's reader. One deadline (the
//! command timeout) covers the call: any connect it needs, every write and every read.
//!
//! - `resp.rs`: encoding, and the sans-IO decoder with its limits;
//! - `node.rs`: addresses, opening sockets (TCP, unix, TLS) within a deadline, connect errors;
//! - `plain.rs`: one connection driven by the decoder;
//! - `cluster.rs`, `sentinel.rs`: the topologies, on `plain.rs`;
//! - `pool.rs`: pooled connections and the r2d2 manager;
//! - `pipeline.rs`: shared connections for concurrent callers (auto-pipelining);
//! - `listen.rs`: the primaries the client-side cache listens to, and connections to them.
//!
//! An operation runs on a [`Via`]: with pipelining on, single commands go through the shared
//! connections and a pooled connection is checked out only for what they do not carry (a
//! cluster's multi-node batch, a redirect to follow); with it off, a pooled connection is held
//! for the whole operation.

mod batch;
mod cluster;
mod listen;
mod node;
mod pipeline;
mod plain;
mod pool;
mod resolve;
pub(crate) mod resp;
mod sentinel;

pub(crate) use listen::{ListenNode, ListenTargets, Primaries};
pub(crate) use node::{Deadline, Stream};
pub(crate) use pipeline::Pipeline;
pub(crate) use plain::Plain;
pub(crate) use pool::{Connection, Generation, LastConnectError, Manager, QuietErrorHandler};
pub(crate) use resp::{Args, Frame, Reply};

use std::time::Duration;

use crate::error::Result;
use crate::stats::Counted;
use pipeline::Routed;
use pool::Link;

/// The largest single-node batch read that goes through the shared connection of
/// auto-pipelining; a larger one uses a pooled connection, as with pipelining off. Its reply
/// is large enough that combining saves the server little (measured: 1,000 keys, the same
/// server CPU per call), while the thread reading for all would copy and check it for its
/// caller, one such reply after another (1,000 keys at 16 threads: 0.93 of the throughput
/// with pipelining off; 100 keys: 1.07).
const PIPELINED_KEYS_MAX: usize = 256;

/// Where a command goes: the node serving a key (given in pieces), or any node.
#[derive(Clone, Copy)]
pub(crate) enum Route<'k> {
    Key(&'k [&'k [u8]]),
    Any,
}

impl Route<'_> {
    fn slot(self) -> Option<u16> {
        match self {
            Route::Key(pieces) => Some(cluster::pieces_slot(pieces)),
            Route::Any => None,
        }
    }
}

impl Connection {
    /// Runs one exchange: marks the connection broken, runs it, and clears the mark only when
    /// every node involved ended with a whole reply and nothing else buffered. A panic or an
    /// early return inside leaves the mark, so r2d2 drops the connection.
    fn exchange<T>(&mut self, run: impl FnOnce(&mut Link, Deadline) -> Result<T>) -> Result<T> {
        self.broken = true;
        let deadline = Deadline::command(self.command_timeout);
        let outcome = run(&mut self.link, deadline);
        let in_step = match &mut self.link {
            Link::Node(node) => node.in_step(),
            Link::Cluster(cluster) => cluster.in_step(),
        };
        if in_step {
            match &mut self.link {
                Link::Node(node) => node.tidy(),
                Link::Cluster(cluster) => cluster.tidy(),
            }
            self.broken = false;
        }
        outcome
    }

    /// Sends the command `build` encodes to the node serving `route` and hands the reply to
    /// `read` (an error reply is returned as the server's error instead).
    pub(crate) fn call<T>(
        &mut self,
        route: Route,
        build: impl Fn(&mut dyn Args),
        mut read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        self.exchange(|link, deadline| match link {
            Link::Node(node) => {
                node.send(deadline, build)?;
                resp::answer(node.reply(deadline, true)?, read)
            }
            Link::Cluster(cluster) => cluster.call(route.slot(), deadline, build, &mut read),
        })
    }

    /// Reads `count` string keys in one round trip per node and hands each value (`None` when
    /// absent) to `each`, in input order: one MGET on one server; on a cluster one MGET per
    /// slot, pipelined per node (never CROSSSLOT). `key(i, put)` puts key `i`'s pieces.
    pub(crate) fn get_each(
        &mut self,
        count: usize,
        key: impl Fn(usize, &mut dyn FnMut(&[&[u8]])),
        mut each: impl FnMut(usize, Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        self.exchange(|link, deadline| match link {
            Link::Node(node) => {
                node.send(deadline, |a| mget(a, count, &key))?;
                resp::answer(node.reply(deadline, true)?, |reply| {
                    read_mget(reply, count, &mut each)
                })
            }
            Link::Cluster(cluster) => cluster.get_each(
                count,
                deadline,
                |i, a| key(i, &mut |pieces| a.pieces(pieces)),
                |i| {
                    let mut slot = 0;
                    key(i, &mut |pieces| slot = cluster::pieces_slot(pieces));
                    slot
                },
                each,
            ),
        })
    }

    /// Sends one command to every primary (the one server, or each cluster primary) and returns
    /// each node's outcome, for loading scripts.
    pub(crate) fn on_all_primaries<T>(
        &mut self,
        build: impl Fn(&mut dyn Args),
        mut read: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Vec<(String, Result<T>)> {
        let timeout = self.command_timeout;
        if let Link::Cluster(cluster) = &mut self.link {
            self.broken = true;
            let outcomes = cluster.on_all_primaries(timeout, build, &mut read);
            self.broken = !cluster.in_step();
            return outcomes;
        }
        vec![(String::from("server"), self.call(Route::Any, build, read))]
    }

    /// Whether this is a cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }
}

/// `MGET` of `count` keys, `key(i, put)` putting key `i`'s pieces.
fn mget(a: &mut dyn Args, count: usize, key: &impl Fn(usize, &mut dyn FnMut(&[&[u8]]))) {
    a.bytes(b"MGET");
    for i in 0..count {
        key(i, &mut |pieces| a.pieces(pieces));
    }
}

/// Hands each value of an `MGET` reply of `count` keys to `each`.
fn read_mget(
    mut reply: Reply<'_>,
    count: usize,
    each: &mut impl FnMut(usize, Option<&[u8]>) -> Result<()>,
) -> Result<()> {
    match reply.next()? {
        Frame::Array(Some(n)) if n == count => {}
        other => {
            return Err(crate::Error::unexpected(format!(
                "MGET of {count} keys answered {other:?}"
            )))
        }
    }
    for i in 0..count {
        match reply.next()? {
            Frame::Bulk(value) => each(i, value)?,
            other => {
                return Err(crate::Error::unexpected(format!(
                    "MGET entry {i}: expected a string, got {other:?}"
                )))
            }
        }
    }
    Ok(())
}

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
        let pipeline = self.pipeline;
        let conn = self.lease()?;
        let outcome = conn.call(route, build, read);
        if let (Some(Pipeline::Cluster(cluster)), Link::Cluster(link)) = (pipeline, &conn.link) {
            // It may have followed a redirect: route by its slot map from now on.
            cluster.learn(link.slots().clone());
        }
        outcome
    }

    /// Reads `count` string keys in one round trip per node and hands each value (`None` when
    /// absent) to `each`, in input order (see [`Connection::get_each`]).
    pub(crate) fn get_each(
        &mut self,
        count: usize,
        key: impl Fn(usize, &mut dyn FnMut(&[&[u8]])),
        mut each: impl FnMut(usize, Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        if let (Some(Pipeline::Node(shared)), true) = (self.pipeline, count <= PIPELINED_KEYS_MAX) {
            let deadline = Deadline::command(self.command_timeout);
            let (bytes, generation) = shared.call(deadline, |a| mget(a, count, &key));
            self.generation = generation;
            return resp::answer(Reply::new(&bytes?), |reply| {
                read_mget(reply, count, &mut each)
            });
        }
        self.lease()?.get_each(count, key, each)
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::config::Config;
    use crate::error::ErrorKind;

    /// A server that answers each PING with PONG, until the client leaves.
    fn pong_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut chunk) {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&chunk[..n]);
                        let ping = b"*1\r\n$4\r\nPING\r\n";
                        while seen.starts_with(ping) {
                            seen.drain(..ping.len());
                            if stream.write_all(b"+PONG\r\n").is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        port
    }

    fn ping(conn: &mut Connection, read: impl FnMut(Reply<'_>) -> Result<()>) -> Result<()> {
        conn.call(Route::Any, |a| a.bytes(b"PING"), read)
    }

    #[test]
    fn only_a_clean_finish_clears_the_broken_mark() {
        let port = pong_server();
        let config = Config::new(&format!("redis://127.0.0.1:{port}")).unwrap();
        let mut conn = Manager::new(&config).unwrap().open().unwrap();
        assert!(!conn.broken);

        // A panic while the reply is handled: the mark stays, r2d2 drops the connection.
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            ping(&mut conn, |_| panic!("a bug in a reader"))
        }));
        assert!(panicked.is_err());
        assert!(conn.broken, "a panic left the connection reusable");

        // A reader that rejects a whole reply: the stream is in step, the connection reusable.
        let rejected = ping(&mut conn, |_| {
            Err(crate::Error::unexpected("not what I want"))
        });
        assert_eq!(rejected.unwrap_err().kind(), ErrorKind::UnexpectedReply);
        assert!(!conn.broken);
        ping(&mut conn, |mut reply| {
            assert_eq!(reply.next()?, Frame::Status(b"PONG"));
            Ok(())
        })
        .unwrap();
        assert!(!conn.broken);

        // No reply at all (the server ignores anything but PING): the deadline ends the call
        // and the mark stays.
        let silent = conn.call(Route::Any, |a| a.bytes(b"ECHO"), |_| Ok(()));
        assert_eq!(silent.unwrap_err().kind(), ErrorKind::Timeout);
        assert!(conn.broken, "a timed-out call left the connection reusable");
    }
}
