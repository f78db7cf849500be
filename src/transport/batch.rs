//! Many commands to one server in one write, their replies read back in order: the transport
//! half of the executor's batches (`src/batch.rs`).

use super::resp::{Args, Reply};
use super::{Connection, Link};
use crate::error::{Error, Result};

impl Connection {
    /// Encodes the `count` commands `build(i, args)` gives, writes them all at once to the one
    /// server, and hands reply `i` to `read(i, reply)` in order, all within one command
    /// timeout. Returns how many replies were read and, when fewer than `count`, why the rest
    /// could not be (the connection is then marked broken). A cluster connection reads none
    /// (its caller sends one command at a time).
    pub(crate) fn call_many(
        &mut self,
        count: usize,
        build: impl Fn(usize, &mut dyn Args),
        mut read: impl FnMut(usize, Reply<'_>),
    ) -> (usize, Result<()>) {
        if count == 0 {
            return (0, Ok(()));
        }
        if let Link::Cluster(_) = self.link {
            return (
                0,
                Err(Error::new(
                    crate::ErrorKind::Internal,
                    "a batch on one connection needs one server, not a cluster",
                )),
            );
        }
        let mut done = 0;
        let outcome = self.exchange(|link, deadline| {
            let Link::Node(node) = link else {
                unreachable!("checked above")
            };
            for i in 0..count {
                node.queue(|a| build(i, a));
            }
            node.flush(deadline)?;
            for i in 0..count {
                read(i, node.reply(deadline, i + 1 == count)?);
                done = i + 1;
            }
            Ok(())
        });
        (done, outcome)
    }
}
