//! A lean RESP2 connection for the hot path on plain TCP and Unix sockets.
//!
//! redis-rs builds a `Cmd` (two allocations), packs it into a third buffer, and parses replies
//! with a combinator parser that zeroes its 8 KiB read buffer on every read: about 13,000
//! instructions per GET before the two syscalls. Here a request is encoded straight into a
//! reused buffer and replies are decoded in place, so a call costs its syscalls and little else.
//! TLS, Cluster and Sentinel connections keep using redis-rs.

use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use redis::Value;

use crate::error::{Error, ErrorKind, Result};

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))
            }
            #[cfg(unix)]
            Stream::Unix(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a plain (non-TLS) server listens.
#[derive(Clone, Debug)]
pub(crate) enum Address {
    Tcp(String, u16),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

/// One reply element, borrowed from the read buffer until the next read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    Status(&'a [u8]),
    Int(i64),
    /// A bulk string; `None` is the nil bulk.
    Bulk(Option<&'a [u8]>),
    /// An array header with its length; `None` is the nil array. Elements follow.
    Array(Option<usize>),
}

/// Writes RESP arguments; implemented by the request buffer and by redis-rs commands, so each
/// operation encodes its command once for every kind of connection.
pub(crate) trait Args {
    /// One argument made of several pieces (keys are built this way, without a `String`).
    fn pieces(&mut self, pieces: &[&[u8]]);

    /// One argument.
    fn bytes(&mut self, arg: &[u8]) {
        self.pieces(&[arg]);
    }

    /// One integer argument in decimal.
    fn int(&mut self, n: i64) {
        let mut digits = [0u8; 20];
        self.bytes(format_int(n, &mut digits));
    }
}

/// Formats `n` in decimal into `buf`, returning the written tail.
pub(crate) fn format_int(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Room left at the front of the request buffer for the array header `*N\r\n`, which can only
/// be written once the arguments are counted (20 digits at most, plus 3 bytes).
const HEADER_ROOM: usize = 23;

/// Encodes one command's arguments as RESP into a reused buffer, counting them.
struct Request<'a> {
    out: &'a mut Vec<u8>,
    count: usize,
}

impl Request<'_> {
    fn header(&mut self, marker: u8, n: usize) {
        let mut digits = [0u8; 20];
        self.out.push(marker);
        self.out
            .extend_from_slice(format_int(n as i64, &mut digits));
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Encodes the command `build` writes into `out` in one pass: the arguments after a gap, then
/// the array header right-aligned into the gap. Returns where the request starts in `out`.
fn encode(out: &mut Vec<u8>, build: impl FnOnce(&mut dyn Args)) -> usize {
    out.clear();
    out.resize(HEADER_ROOM, 0);
    let mut request = Request { out, count: 0 };
    build(&mut request);
    let count = request.count;
    let mut digits = [0u8; 20];
    let digits = format_int(count as i64, &mut digits);
    let start = HEADER_ROOM - digits.len() - 3;
    out[start] = b'*';
    out[start + 1..HEADER_ROOM - 2].copy_from_slice(digits);
    out[HEADER_ROOM - 2..HEADER_ROOM].copy_from_slice(b"\r\n");
    start
}

impl Args for Request<'_> {
    fn pieces(&mut self, pieces: &[&[u8]]) {
        self.count += 1;
        self.header(b'$', pieces.iter().map(|p| p.len()).sum());
        for piece in pieces {
            self.out.extend_from_slice(piece);
        }
        self.out.extend_from_slice(b"\r\n");
    }
}

impl Args for redis::Cmd {
    fn pieces(&mut self, pieces: &[&[u8]]) {
        match pieces {
            [one] => {
                self.arg(*one);
            }
            _ => {
                self.arg(pieces.concat());
            }
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// A plain RESP2 connection with reused buffers. Not thread-safe by itself: the pool hands it
/// to one thread at a time.
pub(crate) struct Wire {
    stream: Stream,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl Wire {
    /// Connects within `connect_timeout`, sets TCP_NODELAY and the command timeout, and
    /// authenticates / selects the database as the URL says.
    pub(crate) fn connect(
        address: &Address,
        redis: &redis::RedisConnectionInfo,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<Wire> {
        let io_error = |e: io::Error| io_error(e, "connect");
        let stream = match address {
            Address::Tcp(host, port) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut connected = None;
                for addr in std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))
                    .map_err(io_error)?
                {
                    match TcpStream::connect_timeout(&addr, connect_timeout) {
                        Ok(s) => {
                            connected = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let stream = connected.ok_or(last).map_err(io_error)?;
                stream.set_nodelay(true).map_err(io_error)?;
                Stream::Tcp(stream)
            }
            #[cfg(unix)]
            Address::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(io_error)?),
        };
        stream.set_timeouts(command_timeout).map_err(io_error)?;
        let mut wire = Wire {
            stream,
            out: Vec::with_capacity(256),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        };
        wire.handshake(redis).map_err(|err| match err.kind() {
            // The server refused the session itself ("ERR max number of clients reached", a
            // server still loading, ...): a failure to connect, with the server's words.
            ErrorKind::Redis | ErrorKind::UnexpectedReply => Error::new(
                ErrorKind::Connection,
                format!("the server refused the connection: {}", err.message()),
            ),
            _ => err,
        })?;
        Ok(wire)
    }

    /// Authenticates and selects the database as the URL says, then PINGs: a server at its
    /// `maxclients` limit answers the first request with an error and closes, and that must
    /// show up here, not as the first operation's answer.
    fn handshake(&mut self, redis: &redis::RedisConnectionInfo) -> Result<()> {
        if let Some(password) = redis.password() {
            let user = redis.username();
            self.send(|a| {
                a.bytes(b"AUTH");
                if let Some(user) = user {
                    a.bytes(user.as_bytes());
                }
                a.bytes(password.as_bytes());
            })?;
            self.expect_ok("AUTH")?;
        }
        if redis.db() != 0 {
            self.send(|a| {
                a.bytes(b"SELECT");
                a.int(redis.db());
            })?;
            self.expect_ok("SELECT")?;
        }
        self.send(|a| a.bytes(b"PING"))?;
        match self.frame()? {
            Frame::Status(b"PONG") => Ok(()),
            other => Err(Error::unexpected(format!("PING answered {other:?}"))),
        }
    }

    fn expect_ok(&mut self, what: &str) -> Result<()> {
        match self.frame()? {
            Frame::Status(b"OK") => Ok(()),
            other => Err(Error::unexpected(format!("{what} answered {other:?}"))),
        }
    }

    /// Encodes one command with `build` and writes it.
    pub(crate) fn send(&mut self, build: impl FnOnce(&mut dyn Args)) -> Result<()> {
        let start = encode(&mut self.out, build);
        self.stream
            .write_all(&self.out[start..])
            .map_err(|e| io_error(e, "write"))
    }

    /// Reads the next reply element. A server error reply becomes an error (the connection stays
    /// usable: the whole error line was consumed).
    pub(crate) fn frame(&mut self) -> Result<Frame<'_>> {
        let line_end = self.line_end()?;
        let line_start = self.start;
        self.start = line_end + 2;
        let marker = self.buf[line_start];
        let body = line_start + 1..line_end;
        match marker {
            b'+' => Ok(Frame::Status(&self.buf[body])),
            b'-' => Err(server_error(&self.buf[body])),
            b':' => Ok(Frame::Int(parse_int(&self.buf[body])?)),
            b'*' => match parse_int(&self.buf[body])? {
                -1 => Ok(Frame::Array(None)),
                n if n >= 0 => Ok(Frame::Array(Some(n as usize))),
                n => Err(Error::unexpected(format!("array of length {n}"))),
            },
            b'$' => match parse_int(&self.buf[body])? {
                -1 => Ok(Frame::Bulk(None)),
                n if n >= 0 => {
                    let n = n as usize;
                    self.fill(n + 2)?;
                    let data = self.start..self.start + n;
                    self.start += n + 2;
                    Ok(Frame::Bulk(Some(&self.buf[data])))
                }
                n => Err(Error::unexpected(format!("bulk string of length {n}"))),
            },
            other => Err(Error::unexpected(format!(
                "reply starts with byte 0x{other:02x}, not a RESP2 type"
            ))),
        }
    }

    /// Index of the `\r` ending the line at `start`, reading more as needed.
    fn line_end(&mut self) -> Result<usize> {
        let mut scanned = self.start;
        loop {
            if let Some(i) = self.buf[scanned..self.end].iter().position(|&b| b == b'\r') {
                let cr = scanned + i;
                if cr + 1 < self.end {
                    return Ok(cr);
                }
                scanned = cr;
            } else {
                scanned = self.end;
            }
            let offset = self.start;
            self.read_more()?;
            scanned -= offset - self.start;
        }
    }

    /// Makes sure `n` unconsumed bytes are buffered.
    fn fill(&mut self, n: usize) -> Result<()> {
        if self.buf.len() - self.start < n {
            // No room after `start`: move the unconsumed bytes to the front, then grow.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
        }
        while self.end - self.start < n {
            self.read_more()?;
        }
        Ok(())
    }

    /// Moves unconsumed bytes to the front (if any room is needed) and reads once.
    fn read_more(&mut self) -> Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) => Err(Error::new(
                ErrorKind::Connection,
                "the server closed the connection",
            )),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(io_error(e, "read")),
        }
    }

    /// Sends a redis-rs command and reads its reply as a redis-rs value (for the operations
    /// that are not worth a hand-written encoding).
    pub(crate) fn query(&mut self, cmd: &redis::Cmd) -> Result<Value> {
        self.out.clear();
        cmd.write_packed_command(&mut self.out);
        self.stream
            .write_all(&self.out)
            .map_err(|e| io_error(e, "write"))?;
        self.value()
    }

    /// One MGET of `count` keys written by `key`, each value handed to `each` as it is
    /// decoded. After an error the rest of the reply may be unread: the caller drops the
    /// connection then (`has_unread`, or an error that is not a server reply).
    pub(crate) fn mget_each(
        &mut self,
        count: usize,
        key: impl Fn(usize, &mut dyn Args),
        mut each: impl FnMut(usize, Option<&[u8]>) -> Result<()>,
    ) -> Result<()> {
        self.send(|a| {
            a.bytes(b"MGET");
            for i in 0..count {
                key(i, a);
            }
        })?;
        match self.frame()? {
            Frame::Array(Some(n)) if n == count => {}
            other => {
                return Err(Error::unexpected(format!(
                    "MGET of {count} keys answered {other:?}"
                )))
            }
        }
        for i in 0..count {
            match self.frame()? {
                Frame::Bulk(value) => each(i, value)?,
                other => {
                    return Err(Error::unexpected(format!(
                        "MGET entry {i}: expected a string, got {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// One HGETALL of the key `key` writes, each (field, value) pair handed to `each` as it is
    /// decoded. As with `mget_each`, an error may leave the reply partly unread.
    pub(crate) fn hgetall_each(
        &mut self,
        key: impl Fn(&mut dyn Args),
        mut each: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.send(|a| {
            a.bytes(b"HGETALL");
            key(a);
        })?;
        let pairs = match self.frame()? {
            Frame::Array(Some(n)) if n % 2 == 0 => n / 2,
            other => return Err(Error::unexpected(format!("HGETALL answered {other:?}"))),
        };
        // The field is copied out: reading the value may move the read buffer.
        let mut field = Vec::new();
        for _ in 0..pairs {
            match self.frame()? {
                Frame::Bulk(Some(bytes)) => {
                    field.clear();
                    field.extend_from_slice(bytes);
                }
                other => return Err(Error::unexpected(format!("HGETALL field: {other:?}"))),
            }
            match self.frame()? {
                Frame::Bulk(Some(value)) => each(&field, value)?,
                other => return Err(Error::unexpected(format!("HGETALL value: {other:?}"))),
            }
        }
        Ok(())
    }

    /// Reads the next whole reply as a redis-rs value.
    pub(crate) fn value(&mut self) -> Result<Value> {
        Ok(match self.frame()? {
            Frame::Status(b"OK") => Value::Okay,
            Frame::Status(text) => Value::SimpleString(String::from_utf8_lossy(text).into_owned()),
            Frame::Int(n) => Value::Int(n),
            Frame::Bulk(None) | Frame::Array(None) => Value::Nil,
            Frame::Bulk(Some(bytes)) => Value::BulkString(bytes.to_vec()),
            Frame::Array(Some(n)) => {
                let mut items = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
        })
    }

    /// Whether bytes of an unread reply are buffered (then the connection must not be reused).
    pub(crate) fn has_unread(&self) -> bool {
        self.start != self.end
    }
}

/// A RESP integer: an optional '-' and decimal digits (hand-rolled: this runs for every reply
/// element, and `str::parse` would first validate UTF-8).
fn parse_int(digits: &[u8]) -> Result<i64> {
    let (negative, body) = match digits {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, digits),
    };
    let mut value: i64 = 0;
    let valid = !body.is_empty()
        && body.iter().all(|&b| {
            let digit = b.wrapping_sub(b'0');
            let next = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(digit)));
            match (digit < 10, next) {
                (true, Some(next)) => {
                    value = next;
                    true
                }
                _ => false,
            }
        });
    if !valid {
        return Err(Error::unexpected(format!(
            "{:?} is not an integer",
            String::from_utf8_lossy(digits)
        )));
    }
    Ok(if negative { -value } else { value })
}

fn io_error(err: io::Error, doing: &str) -> Error {
    let kind = match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if doing != "connect" => {
            ErrorKind::Timeout
        }
        _ => ErrorKind::Connection,
    };
    Error::new(kind, format!("{doing}: {err}"))
}

/// Maps an error reply line ("CODE detail") to our error.
fn server_error(line: &[u8]) -> Error {
    let text = String::from_utf8_lossy(line);
    let (code, detail) = text.split_once(' ').unwrap_or((&text, ""));
    Error::from_server_reply(code, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_like_redis_expects() {
        let mut buf = [0u8; 20];
        assert_eq!(format_int(0, &mut buf), b"0");
        assert_eq!(format_int(-1, &mut buf), b"-1");
        assert_eq!(format_int(i64::MAX, &mut buf), b"9223372036854775807");
        assert_eq!(format_int(i64::MIN, &mut buf), b"-9223372036854775808");
    }

    #[test]
    fn resp_integers_parse_strictly() {
        assert_eq!(parse_int(b"0").unwrap(), 0);
        assert_eq!(parse_int(b"-1").unwrap(), -1);
        assert_eq!(parse_int(b"9223372036854775807").unwrap(), i64::MAX);
        for bad in [&b""[..], b"-", b"+1", b"1x", b"9223372036854775808", b" 1"] {
            assert!(parse_int(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_are_resp_arrays() {
        let mut out = Vec::new();
        let start = encode(&mut out, |a| {
            a.bytes(b"GET");
            a.pieces(&[b"sf:{", b"ns", b"}"]);
            a.int(-1);
        });
        assert_eq!(
            &out[start..],
            b"*3\r\n$3\r\nGET\r\n$7\r\nsf:{ns}\r\n$2\r\n-1\r\n"
        );
        let start = encode(&mut out, |a| {
            for _ in 0..12 {
                a.bytes(b"x");
            }
        });
        assert!(out[start..].starts_with(b"*12\r\n$1\r\nx\r\n"));
    }

    #[test]
    fn server_errors_keep_their_kind() {
        assert_eq!(
            server_error(b"NOAUTH Authentication required.").kind(),
            ErrorKind::Auth
        );
        assert!(server_error(b"NOSCRIPT No matching script.").missing_script);
        assert!(server_error(b"READONLY You can't write").rejected_before_running);
        let corrupt = server_error(b"SFCORRUPT key k holds \"x\" script: abc, on @user_script:1.");
        assert!(corrupt.server_reply);
        assert_eq!(corrupt.kind(), ErrorKind::UnexpectedReply);
        assert_eq!(corrupt.message(), "key k holds \"x\"");
        assert_eq!(
            server_error(b"OOM command not allowed").kind(),
            ErrorKind::Redis
        );
    }
}
