//! One connection to one node, driven by the decoder of `resp.rs`: requests encoded straight
//! into a reused buffer, replies validated whole and then walked in place. Every write and read
//! waits only as long as the exchange's deadline leaves.
//!
//! redis-rs builds a `Cmd` (two allocations), packs it into a third buffer, and parses replies
//! with a combinator parser that zeroes its 8 KiB read buffer on every read: about 13,000
//! instructions per GET before the two syscalls. Here a call costs its syscalls and little else.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::deadline::Deadline;
use super::node::{Endpoint, Login, Stream};
use super::resp::{self, Args, Decoder, Limits, Reply};
use crate::error::{Error, ErrorKind, Result};

/// The read buffer's size, and what it shrinks back to after a large reply.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers larger than this after a call are given back (a large reply must not pin its memory
/// for the connection's lifetime).
const KEEP_BUFFER: usize = 64 * 1024;
/// Most bytes taken from the socket by one read: the decoder checks each read's bytes before
/// the deadline is looked at again, so this bounds how late a fast, endless reply is noticed.
const MAX_READ: usize = 256 * 1024;
/// A socket timeout already within this much of the time left is not set again: the hot path
/// then pays no extra syscall, and a wait ends at most this late.
const TIMEOUT_SLACK: Duration = Duration::from_millis(1);

/// A connection with reused buffers. Not thread-safe by itself: the pool hands it to one thread
/// at a time.
pub(crate) struct Plain {
    stream: Stream,
    /// Encoded requests not yet written are `out[out_start..]`.
    out: Vec<u8>,
    out_start: usize,
    /// Received bytes not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    decoder: Decoder,
    /// The timeouts currently set on the socket.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Whether the last exchange ended with a whole reply and nothing else buffered.
    in_step: bool,
}

impl Plain {
    /// Connects and logs in within `deadline`.
    pub(crate) fn connect(endpoint: &Endpoint, deadline: Deadline) -> Result<Plain> {
        let stream = endpoint.open_stream(deadline)?;
        let mut plain = Plain {
            stream,
            out: Vec::with_capacity(256),
            out_start: 0,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            decoder: Decoder::new(Limits::DEFAULT),
            read_timeout: None,
            write_timeout: None,
            in_step: true,
        };
        plain
            .handshake(&endpoint.login, deadline)
            .map_err(|err| match err.kind() {
                // Closed after the connect, during the handshake: a server at its `maxclients`
                // limit writes "-ERR max number of clients reached" and closes at once, and our
                // request may meet the reset, losing that line. Say so.
                ErrorKind::Connection
                    if !err.message().starts_with("the server")
                        && !err.message().contains("timed out") =>
                {
                    Error::new(
                        ErrorKind::Connection,
                        format!(
                            "{} (the server closed the connection during the handshake: it may \
                             have reached its maxclients limit, or be shutting down)",
                            err.message()
                        ),
                    )
                }
                _ => err,
            })?;
        Ok(plain)
    }

    /// AUTH and SELECT as the URL says, then PING, in one round trip. The PING matters: a server
    /// at its `maxclients` limit answers the first request with an error and closes, and that
    /// must show up here, not as the first operation's answer.
    fn handshake(&mut self, login: &Login, deadline: Deadline) -> Result<()> {
        let mut expected: Vec<&str> = Vec::with_capacity(3);
        if let Some(password) = &login.password {
            self.queue(|a| {
                a.bytes(b"AUTH");
                if let Some(user) = &login.username {
                    a.bytes(user.as_bytes());
                }
                a.bytes(password.as_bytes());
            });
            expected.push("AUTH");
        }
        if login.db != 0 {
            self.queue(|a| {
                a.bytes(b"SELECT");
                a.int(login.db);
            });
            expected.push("SELECT");
        }
        self.queue(|a| a.bytes(b"PING"));
        expected.push("PING");
        self.flush(deadline)?;
        let mut refused = None;
        for (i, what) in expected.iter().enumerate() {
            let last = i + 1 == expected.len();
            let mut reply = self.reply(deadline, last)?;
            if let Some(line) = reply.error_line() {
                refused.get_or_insert_with(|| refusal(resp::server_error(line)));
                continue;
            }
            let ok: &[u8] = if *what == "PING" { b"PONG" } else { b"OK" };
            match reply.next()? {
                resp::Frame::Status(status) if status == ok => {}
                other => {
                    refused.get_or_insert_with(|| {
                        Error::new(
                            ErrorKind::Connection,
                            format!("the server answered {what} with {other:?}"),
                        )
                    });
                }
            }
        }
        match refused {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Encodes one command after those already queued, without writing.
    pub(crate) fn queue(&mut self, build: impl FnOnce(&mut dyn Args)) {
        self.in_step = false;
        let start = resp::encode(&mut self.out, build);
        if self.out_start == 0 && start > 0 {
            self.out_start = start;
        }
    }

    /// Writes every queued command within `deadline`.
    pub(crate) fn flush(&mut self, deadline: Deadline) -> Result<()> {
        self.in_step = false;
        let mut pos = self.out_start;
        while pos < self.out.len() {
            self.timeout(deadline, Direction::Write, false)?;
            match self.stream.write(&self.out[pos..]) {
                Ok(0) => return Err(closed("write")),
                Ok(n) => pos += n,
                Err(e) => self.io_failure(e, deadline, Direction::Write)?,
            }
        }
        loop {
            match self.stream.flush() {
                Ok(()) => break,
                Err(e) => self.io_failure(e, deadline, Direction::Write)?,
            }
            self.timeout(deadline, Direction::Write, false)?;
        }
        self.out.clear();
        self.out_start = 0;
        Ok(())
    }

    /// Encodes and writes one command.
    pub(crate) fn send(
        &mut self,
        deadline: Deadline,
        build: impl FnOnce(&mut dyn Args),
    ) -> Result<()> {
        self.queue(build);
        self.flush(deadline)
    }

    /// Reads one whole reply within `deadline` and returns its frames. `last`: no other reply
    /// is expected, so any byte received after it breaks the protocol.
    pub(crate) fn reply(&mut self, deadline: Deadline, last: bool) -> Result<Reply<'_>> {
        self.in_step = false;
        self.decoder.reset();
        let len = loop {
            match self.decoder.feed(&self.buf[self.start..self.end])? {
                Some(len) => break len,
                None => self.read_more(deadline)?,
            }
        };
        let reply = self.start..self.start + len;
        self.start = reply.end;
        if last {
            if self.start != self.end {
                return Err(Error::unexpected(format!(
                    "protocol error: {} bytes received after the reply",
                    self.end - self.start
                )));
            }
            self.in_step = true;
        }
        Ok(Reply::new(&self.buf[reply]))
    }

    /// Writes `bytes` (requests encoded elsewhere: a pipeline's batch) within `deadline`.
    /// An error leaves the stream in an unknown state: the connection must be dropped.
    /// Returns how many bytes were written, with the outcome.
    pub(crate) fn write_encoded(
        &mut self,
        bytes: &[u8],
        deadline: Deadline,
    ) -> (usize, Result<()>) {
        self.in_step = false;
        let mut pos = 0;
        let outcome = (|| {
            while pos < bytes.len() {
                self.timeout(deadline, Direction::Write, false)?;
                match self.stream.write(&bytes[pos..]) {
                    Ok(0) => return Err(closed("write")),
                    Ok(n) => pos += n,
                    Err(e) => self.io_failure(e, deadline, Direction::Write)?,
                }
            }
            loop {
                match self.stream.flush() {
                    Ok(()) => return Ok(()),
                    Err(e) => self.io_failure(e, deadline, Direction::Write)?,
                }
                self.timeout(deadline, Direction::Write, false)?;
            }
        })();
        (pos, outcome)
    }

    /// The next reply's bytes, reading as needed within `deadline` (a pipeline reads replies
    /// one after another; a timeout keeps what arrived so far for the next attempt).
    pub(crate) fn next_reply(&mut self, deadline: Deadline) -> Result<&[u8]> {
        self.reply(deadline, false).map(|reply| reply.bytes())
    }

    /// The next reply's bytes if they were all received already; never waits.
    pub(crate) fn buffered_reply(&mut self) -> Result<Option<&[u8]>> {
        if self.start == self.end {
            return Ok(None);
        }
        self.in_step = false;
        self.decoder.reset();
        match self.decoder.feed(&self.buf[self.start..self.end])? {
            Some(len) => {
                let reply = self.start..self.start + len;
                self.start = reply.end;
                Ok(Some(&self.buf[reply]))
            }
            None => Ok(None),
        }
    }

    /// A handle that can end this connection's socket from another thread (see
    /// [`Stream::shutdown`]).
    pub(crate) fn socket_handle(&self) -> Result<Stream> {
        self.stream
            .try_clone_socket()
            .map_err(|e| io_error(e, "clone the socket"))
    }

    /// Received bytes not yet consumed (with no reply expected: a protocol error).
    pub(crate) fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the last exchange ended cleanly: a whole reply read as the last one expected,
    /// nothing else received, nothing left to write. Only then may the connection be reused.
    pub(crate) fn in_step(&self) -> bool {
        self.in_step && self.start == self.end && self.out.is_empty()
    }

    /// After a clean exchange: rewinds the buffers and gives back the memory of a large one.
    pub(crate) fn tidy(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEEP_BUFFER {
                self.buf = vec![0; READ_CHUNK];
            }
        }
        if self.out.capacity() > KEEP_BUFFER && self.out.is_empty() {
            self.out = Vec::with_capacity(256);
        }
    }

    /// Reads once more into the buffer, growing it (by doubling, so at most twice what arrived)
    /// only when it is full.
    fn read_more(&mut self, deadline: Deadline) -> Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                // The decoder refuses a reply before it exceeds this.
                let len = (self.buf.len() * 2).min(resp::MAX_REPLY_LEN + READ_CHUNK);
                if len == self.buf.len() {
                    return Err(Error::unexpected("protocol error: the reply is too long"));
                }
                self.buf.resize(len, 0);
            }
        }
        loop {
            self.timeout(deadline, Direction::Read, false)?;
            let room = self.end..self.buf.len().min(self.end + MAX_READ);
            match self.stream.read(&mut self.buf[room]) {
                Ok(0) => return Err(closed("read")),
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) => self.io_failure(e, deadline, Direction::Read)?,
            }
        }
    }

    /// Keeps the socket's timeout for the next wait within the time left (and not much below
    /// it: `force` after a wait timed out early).
    fn timeout(&mut self, deadline: Deadline, direction: Direction, force: bool) -> Result<()> {
        let doing = direction.doing();
        let left = deadline.remaining(doing)?;
        let current = match direction {
            Direction::Read => &mut self.read_timeout,
            Direction::Write => &mut self.write_timeout,
        };
        let fits = matches!(current, Some(set) if *set <= left + TIMEOUT_SLACK);
        if force || !fits {
            let outcome = match direction {
                Direction::Read => self.stream.set_read_timeout(left),
                Direction::Write => self.stream.set_write_timeout(left),
            };
            outcome.map_err(|e| io_error(e, doing))?;
            *current = Some(left);
        }
        Ok(())
    }

    /// After a failed read or write: a wait that timed out before the deadline (its timeout was
    /// set for an earlier, shorter wait) or an interrupted call is tried again; anything else
    /// is the error.
    fn io_failure(
        &mut self,
        err: io::Error,
        deadline: Deadline,
        direction: Direction,
    ) -> Result<()> {
        match err.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                self.timeout(deadline, direction, true)
            }
            _ => Err(io_error(err, direction.doing())),
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl Direction {
    fn doing(self) -> &'static str {
        match self {
            Direction::Read => "read",
            Direction::Write => "write",
        }
    }
}

/// A handshake error reply: wrong credentials stay `Auth`; anything else ("ERR max number of
/// clients reached", a server still loading, ...) is a failure to connect, in the server's words.
fn refusal(err: Error) -> Error {
    match err.kind() {
        ErrorKind::Auth => err,
        _ => Error::new(
            ErrorKind::Connection,
            format!("the server refused the connection: {}", err.message()),
        ),
    }
}

fn closed(doing: &str) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!("{doing}: the server closed the connection"),
    )
}

fn io_error(err: io::Error, doing: &str) -> Error {
    Error::new(ErrorKind::Connection, format!("{doing}: {err}"))
}
