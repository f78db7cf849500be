//! A pooled connection (one server, or a cluster's connection per node) and every exchange it
//! runs: one command, many commands written at once, a multi-key read, a command to every
//! primary. Each exchange marks the connection broken before it writes and clears the mark
//! only when it ended cleanly (see `pool.rs`).

use std::time::Duration;

use super::cluster::{self, ClusterLink, KeysCommand};
use super::deadline::Deadline;
use super::plain::Plain;
use super::resp::{self, Args, Reply};
use crate::error::Result;

/// Where a command goes: the node serving a key (given in pieces), or any node.
#[derive(Clone, Copy)]
pub(crate) enum Route<'k> {
    Key(&'k [&'k [u8]]),
    Any,
}

impl Route<'_> {
    pub(crate) fn slot(self) -> Option<u16> {
        match self {
            Route::Key(pieces) => Some(cluster::pieces_slot(pieces)),
            Route::Any => None,
        }
    }
}

/// A live connection of whichever topology the config names.
pub(crate) enum Link {
    /// One server: a standalone server, or the primary a sentinel named.
    Node(Box<Plain>),
    /// A connection per cluster node, with the slot map.
    Cluster(Box<ClusterLink>),
}

/// A pooled connection with its health flag.
pub struct Connection {
    pub(super) link: Link,
    /// Set before a call writes, cleared when it ended cleanly (see the module docs).
    pub(super) broken: bool,
    /// The manager's generation when this connection was opened.
    generation: u64,
    pub(super) command_timeout: Duration,
}

impl Connection {
    pub(super) fn new(link: Link, generation: u64, command_timeout: Duration) -> Connection {
        Connection {
            link,
            broken: false,
            generation,
            command_timeout,
        }
    }

    /// Forces the pool to drop this connection when it is returned.
    pub(crate) fn discard(&mut self) {
        self.broken = true;
    }

    /// The generation of the manager this connection was opened in.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

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

    /// Sends a command over many keys (a multi-key read) in one round trip per node: one
    /// command of every key on one server; on a cluster one per slot, pipelined per node (never
    /// CROSSSLOT). An error reply is returned as the server's error.
    pub(crate) fn call_keys(&mut self, command: &dyn KeysCommand) -> Result<()> {
        self.exchange(|link, deadline| match link {
            Link::Node(node) => {
                let all: Vec<usize> = (0..command.count()).collect();
                node.send(deadline, |a| command.build(&all, a))?;
                resp::answer(node.reply(deadline, true)?, |reply| {
                    command.read(&all, reply)
                })
            }
            Link::Cluster(cluster) => cluster.call_keys(deadline, command),
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

    /// Encodes the `count` independent commands `build(i, args)` gives and writes them at
    /// once, then hands each one's reply, or the error that kept it from one, to `read(i,
    /// outcome)`, all within one command timeout. On one server the replies come back in order
    /// and a failure fails the commands not read yet; on a cluster each node's commands are
    /// written at once (by the slot `slot_of(i)` gives) and a redirect is followed per command
    /// (see [`ClusterLink::call_many`]). Returns whether every reply was read cleanly (the
    /// connection is still in step).
    pub(crate) fn call_many(
        &mut self,
        count: usize,
        slot_of: impl Fn(usize) -> Option<u16>,
        build: impl Fn(usize, &mut dyn Args),
        mut read: impl FnMut(usize, Result<Reply<'_>>),
    ) -> bool {
        if count == 0 {
            return true;
        }
        let mut in_step = true;
        let outcome = self.exchange(|link, deadline| match link {
            Link::Node(node) => {
                for i in 0..count {
                    node.queue(|a| build(i, a));
                }
                let mut done = 0;
                let outcome = node.flush(deadline).and_then(|()| {
                    for i in 0..count {
                        read(i, Ok(node.reply(deadline, i + 1 == count)?));
                        done = i + 1;
                    }
                    Ok(())
                });
                if let Err(err) = &outcome {
                    for i in done..count {
                        read(i, Err(err.clone()));
                    }
                }
                outcome
            }
            Link::Cluster(cluster) => {
                in_step = cluster.call_many(count, deadline, slot_of, build, read);
                Ok(())
            }
        });
        outcome.is_ok() && in_step
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::config::Config;
    use crate::error::{Error, ErrorKind};
    use crate::transport::pool::Manager;
    use crate::transport::resp::Frame;

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
        let rejected = ping(&mut conn, |_| Err(Error::unexpected("not what I want")));
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
