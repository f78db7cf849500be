//! RESP2 without a socket: requests encoded into a buffer, and a decoder that takes the bytes
//! received so far and says whether they hold one whole, well-formed reply.
//!
//! The decoder never trusts a length the server announces: it reserves nothing from one (the
//! caller's buffer grows only as bytes arrive), it nests no deeper than [`Limits::depth`]
//! without recursing, and it refuses bulk strings, arrays, lines and whole replies beyond the
//! limits, so that no reply can exhaust the stack or the memory of the process it runs in.
//! Once a reply is whole, [`Reply`] walks its frames in place.

use redis::Value;

use crate::error::{Error, Result};

/// Largest bulk string accepted: Redis's own `proto-max-bulk-len` default (512 MiB).
pub(crate) const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Deepest nesting of arrays accepted. The library's replies nest three deep at most.
pub(crate) const MAX_DEPTH: usize = 128;
/// Largest element count of one array.
pub(crate) const MAX_ARRAY_LEN: usize = 1 << 32;
/// Longest line (status, error, integer or length header), CRLF excluded.
pub(crate) const MAX_LINE_LEN: usize = 64 * 1024;
/// Longest whole reply: one bulk string of the largest size plus 1 MiB of framing.
pub(crate) const MAX_REPLY_LEN: usize = MAX_BULK_LEN + 1024 * 1024;

/// What the decoder accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) depth: usize,
    pub(crate) bulk: usize,
    pub(crate) array: usize,
    pub(crate) line: usize,
    pub(crate) reply: usize,
}

impl Limits {
    /// The limits every connection uses.
    pub(crate) const DEFAULT: Limits = Limits {
        depth: MAX_DEPTH,
        bulk: MAX_BULK_LEN,
        array: MAX_ARRAY_LEN,
        line: MAX_LINE_LEN,
        reply: MAX_REPLY_LEN,
    };
}

/// Why bytes are not a RESP2 reply. Any of these ends the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

impl From<ProtocolError> for Error {
    fn from(err: ProtocolError) -> Error {
        Error::unexpected(format!("protocol error: {}", err.0))
    }
}

/// Validates one reply incrementally: feed it the reply's bytes received so far (always from
/// the reply's first byte), again after each read, until it returns the reply's length.
/// Work already done is not repeated, so a reply arriving byte by byte costs linear time.
#[derive(Debug)]
pub(crate) struct Decoder {
    limits: Limits,
    /// Elements still expected by each open array, innermost last (at most `limits.depth`).
    open: Vec<usize>,
    /// Where the next element's header starts, relative to the reply's first byte.
    pos: usize,
    /// How far the search for the CR ending the header at `pos` has got.
    scanned: usize,
}

impl Decoder {
    pub(crate) fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            open: Vec::new(),
            pos: 0,
            scanned: 0,
        }
    }

    /// Forgets the reply in progress (before the next one).
    pub(crate) fn reset(&mut self) {
        self.open.clear();
        self.pos = 0;
        self.scanned = 0;
    }

    /// `Ok(Some(n))` when `buf[..n]` is one whole reply, `Ok(None)` when more bytes are needed
    /// (nothing is reserved meanwhile), `Err` when the bytes break the protocol or a limit.
    /// `buf` may hold more bytes after the reply (a pipeline's next replies).
    pub(crate) fn feed(&mut self, buf: &[u8]) -> std::result::Result<Option<usize>, ProtocolError> {
        loop {
            if self.pos >= buf.len() {
                return Ok(None);
            }
            let start = self.pos;
            if let Some(next) = self.bulk_in_array(buf, start) {
                self.pos = next;
                self.scanned = next;
                continue;
            }
            let from = self.scanned.max(start + 1);
            let cr = match buf[from..].iter().position(|&b| b == b'\r') {
                Some(i) => from + i,
                None => {
                    self.scanned = buf.len();
                    if buf.len() - start - 1 > self.limits.line {
                        return Err(too_long_line(self.limits.line));
                    }
                    return Ok(None);
                }
            };
            if cr - start - 1 > self.limits.line {
                return Err(too_long_line(self.limits.line));
            }
            let Some(&lf) = buf.get(cr + 1) else {
                self.scanned = cr;
                return Ok(None);
            };
            if lf != b'\n' {
                return Err(ProtocolError(format!(
                    "a line ends with CR then byte 0x{lf:02x}, not LF"
                )));
            }
            let body = &buf[start + 1..cr];
            let mut next = cr + 2;
            match buf[start] {
                b'+' | b'-' => {}
                b':' => {
                    parse_int(body)?;
                }
                b'$' => match parse_int(body)? {
                    -1 => {}
                    n if n >= 0 => {
                        let n = n as u64;
                        if n > self.limits.bulk as u64 {
                            return Err(ProtocolError(format!(
                                "bulk string of {n} bytes, above the limit of {}",
                                self.limits.bulk
                            )));
                        }
                        let end = next as u64 + n + 2;
                        if end > self.limits.reply as u64 {
                            return Err(too_long_reply(self.limits.reply));
                        }
                        let end = end as usize;
                        if buf.len() < end {
                            // Wait for the data; the header is parsed again then (a few bytes).
                            self.scanned = start;
                            return Ok(None);
                        }
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(ProtocolError(format!(
                                "bulk string of {n} bytes not followed by CRLF"
                            )));
                        }
                        next = end;
                    }
                    n => return Err(ProtocolError(format!("bulk string of length {n}"))),
                },
                b'*' => match parse_int(body)? {
                    -1 => {}
                    n if n >= 0 => {
                        if n as u64 > self.limits.array as u64 {
                            return Err(ProtocolError(format!(
                                "array of {n} elements, above the limit of {}",
                                self.limits.array
                            )));
                        }
                        // An empty array counts as a level too: a reader descends into it.
                        if self.open.len() >= self.limits.depth {
                            return Err(ProtocolError(format!(
                                "arrays nested deeper than {}",
                                self.limits.depth
                            )));
                        }
                        if n > 0 {
                            self.open.push(n as usize);
                            self.pos = next;
                            self.scanned = next;
                            continue;
                        }
                    }
                    n => return Err(ProtocolError(format!("array of length {n}"))),
                },
                other => {
                    return Err(ProtocolError(format!(
                        "an element starts with byte 0x{other:02x}, not a RESP2 type"
                    )))
                }
            }
            if next > self.limits.reply {
                return Err(too_long_reply(self.limits.reply));
            }
            self.pos = next;
            self.scanned = next;
            // One element done: close every array it completes.
            loop {
                match self.open.last_mut() {
                    None => return Ok(Some(next)),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }
}

impl Decoder {
    /// The fast path of batch replies: a whole, valid bulk string at `start` that is not the
    /// last element of its array (so it closes none). Returns where the next element starts, or
    /// `None` to take the general path (which also reports every error).
    #[inline]
    fn bulk_in_array(&mut self, buf: &[u8], start: usize) -> Option<usize> {
        let left = self.open.last_mut()?;
        if *left < 2 || buf.get(start) != Some(&b'$') {
            return None;
        }
        // 1 to 18 digits: no overflow; longer lengths go the general way.
        let digits = buf.get(start + 1..)?;
        let count = digits
            .iter()
            .take(19)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count == 0 || count > 18 || count > self.limits.line {
            return None;
        }
        let len = digits[..count]
            .iter()
            .fold(0usize, |n, &b| n * 10 + usize::from(b - b'0'));
        let data = start + 1 + count + 2;
        let end = data.checked_add(len)?.checked_add(2)?;
        if len > self.limits.bulk
            || end > self.limits.reply
            || buf.get(data - 2..data)? != b"\r\n"
            || buf.get(end - 2..end)? != b"\r\n"
        {
            return None;
        }
        *left -= 1;
        Some(end)
    }
}

fn too_long_line(limit: usize) -> ProtocolError {
    ProtocolError(format!("a line longer than {limit} bytes"))
}

fn too_long_reply(limit: usize) -> ProtocolError {
    ProtocolError(format!("a reply longer than {limit} bytes"))
}

/// One element of a reply, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Frame<'a> {
    Status(&'a [u8]),
    /// An error element ("CODE detail").
    Error(&'a [u8]),
    Int(i64),
    /// A bulk string; `None` is the nil bulk.
    Bulk(Option<&'a [u8]>),
    /// An array header with its length; `None` is the nil array. Its elements follow.
    Array(Option<usize>),
}

/// The frames of one whole reply that [`Decoder`] accepted, walked in place.
#[derive(Debug)]
pub(crate) struct Reply<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reply<'a> {
    /// A reply over bytes the decoder accepted.
    pub(crate) fn new(bytes: &'a [u8]) -> Reply<'a> {
        Reply { bytes, pos: 0 }
    }

    /// The reply's bytes, from its first frame's header to its last CRLF.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes of the frames not read yet (after a header read, the elements that follow,
    /// whole: the decoder validated them).
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
    }

    /// The error line when the whole reply is an error reply.
    pub(crate) fn error_line(&self) -> Option<&'a [u8]> {
        match self.bytes {
            [b'-', rest @ ..] => {
                let end = rest.iter().position(|&b| b == b'\r')?;
                Some(&rest[..end])
            }
            _ => None,
        }
    }

    /// The next frame. The bytes were validated, so numbers are read without the checks the
    /// decoder made already, and the errors here are only a guard (never a panic either way).
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Frame<'a>> {
        let rest = match self.bytes.get(self.pos..) {
            Some(rest) if rest.len() >= 3 => rest,
            _ => return Err(ended()),
        };
        let Some(cr) = rest.iter().skip(1).position(|&b| b == b'\r') else {
            return Err(ended());
        };
        let body = &rest[1..cr + 1];
        let mut next = self.pos + cr + 3;
        let frame = match rest[0] {
            b'+' => Frame::Status(body),
            b'-' => Frame::Error(body),
            b':' => Frame::Int(checked_int(body)),
            b'*' => match checked_int(body) {
                n if n < 0 => Frame::Array(None),
                n => Frame::Array(Some(n as usize)),
            },
            _ => match checked_int(body) {
                n if n < 0 => Frame::Bulk(None),
                n => {
                    let data = next..next.saturating_add(n as usize);
                    next = data.end.saturating_add(2);
                    Frame::Bulk(Some(self.bytes.get(data).ok_or_else(ended)?))
                }
            },
        };
        self.pos = next;
        Ok(frame)
    }

    /// The next element as a redis-rs value (arrays whole). Recursion is bounded by the
    /// decoder's depth limit, and each array's capacity by the bytes of the reply.
    pub(crate) fn value(&mut self) -> Result<Value> {
        Ok(match self.next()? {
            Frame::Status(b"OK") => Value::Okay,
            Frame::Status(text) => Value::SimpleString(String::from_utf8_lossy(text).into_owned()),
            Frame::Error(line) => {
                return Err(Error::unexpected(format!(
                    "an error inside a reply: {}",
                    String::from_utf8_lossy(line)
                )))
            }
            Frame::Int(n) => Value::Int(n),
            Frame::Bulk(None) | Frame::Array(None) => Value::Nil,
            Frame::Bulk(Some(bytes)) => Value::BulkString(bytes.to_vec()),
            Frame::Array(Some(n)) => {
                let mut items = Vec::with_capacity(n.min(self.bytes.len() / 3));
                for _ in 0..n {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
        })
    }
}

fn ended() -> Error {
    Error::unexpected("reply ended early")
}

/// An integer the decoder already checked: digits with an optional '-', in range.
#[inline]
fn checked_int(digits: &[u8]) -> i64 {
    let (negative, body) = match digits {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, digits),
    };
    let value = body.iter().fold(0i64, |value, &b| {
        value
            .wrapping_mul(10)
            .wrapping_add(i64::from(b.wrapping_sub(b'0')))
    });
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// Hands a whole reply to `read`, or returns the server's error when the reply is one.
pub(crate) fn answer<T>(reply: Reply<'_>, read: impl FnOnce(Reply<'_>) -> Result<T>) -> Result<T> {
    match reply.error_line() {
        Some(line) => Err(server_error(line)),
        None => read(reply),
    }
}

/// The error for an error reply line ("CODE detail").
pub(crate) fn server_error(line: &[u8]) -> Error {
    let text = String::from_utf8_lossy(line);
    let (code, detail) = text.split_once(' ').unwrap_or((&text, ""));
    Error::from_server_reply(code, detail)
}

/// A RESP integer: an optional '-' and decimal digits, in i64 (hand-rolled: this runs for
/// every element, and `str::parse` would first validate UTF-8).
pub(crate) fn parse_int(digits: &[u8]) -> std::result::Result<i64, ProtocolError> {
    let (negative, body) = match digits {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, digits),
    };
    // Up to 18 digits cannot overflow: the common case (every length) skips the checked steps.
    if (1..=18).contains(&body.len()) {
        let mut value: i64 = 0;
        for &b in body {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return Err(not_an_integer(digits));
            }
            value = value * 10 + i64::from(digit);
        }
        return Ok(if negative { -value } else { value });
    }
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
        return Err(not_an_integer(digits));
    }
    Ok(if negative { -value } else { value })
}

fn not_an_integer(digits: &[u8]) -> ProtocolError {
    let shown = &digits[..digits.len().min(32)];
    ProtocolError(format!(
        "{:?} is not an integer",
        String::from_utf8_lossy(shown)
    ))
}

// ---- requests ----

/// Writes RESP arguments; each operation encodes its command once, through this.
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

/// Room left before a command for its array header `*N\r\n`, which can only be written once
/// the arguments are counted (20 digits at most, plus 3 bytes).
const HEADER_ROOM: usize = 23;

/// Encodes one command's arguments as RESP, counting them.
struct Request<'a> {
    out: &'a mut Vec<u8>,
    count: usize,
}

impl Args for Request<'_> {
    fn pieces(&mut self, pieces: &[&[u8]]) {
        self.count += 1;
        let mut digits = [0u8; 20];
        let len = pieces.iter().map(|p| p.len()).sum::<usize>() as i64;
        self.out.push(b'$');
        self.out.extend_from_slice(format_int(len, &mut digits));
        self.out.extend_from_slice(b"\r\n");
        for piece in pieces {
            self.out.extend_from_slice(piece);
        }
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Appends the command `build` writes to `out` in one pass: the arguments after a gap, then
/// the array header right-aligned into the gap. Returns where the bytes to send start: into
/// an empty `out` the gap's unused front stays (and is skipped), after earlier commands
/// (a pipeline) the command is moved up against them.
pub(crate) fn encode(out: &mut Vec<u8>, build: impl FnOnce(&mut dyn Args)) -> usize {
    let base = out.len();
    out.resize(base + HEADER_ROOM, 0);
    let mut request = Request { out, count: 0 };
    build(&mut request);
    let count = request.count;
    let mut digits = [0u8; 20];
    let digits = format_int(count as i64, &mut digits);
    let args = base + HEADER_ROOM;
    let start = args - digits.len() - 3;
    out[start] = b'*';
    out[start + 1..args - 2].copy_from_slice(digits);
    out[args - 2..args].copy_from_slice(b"\r\n");
    if base == 0 {
        return start;
    }
    let len = out.len();
    out.copy_within(start..len, base);
    out.truncate(len - (start - base));
    0
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` one at a time, as a server trickling its reply would.
    fn trickle(limits: Limits, bytes: &[u8]) -> std::result::Result<Option<usize>, ProtocolError> {
        let mut decoder = Decoder::new(limits);
        for end in 1..bytes.len() {
            if let Some(n) = decoder.feed(&bytes[..end])? {
                return Ok(Some(n));
            }
        }
        decoder.feed(bytes)
    }

    fn whole(bytes: &[u8]) -> std::result::Result<Option<usize>, ProtocolError> {
        Decoder::new(Limits::DEFAULT).feed(bytes)
    }

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
        assert_eq!(parse_int(b"-9223372036854775807").unwrap(), -i64::MAX);
        assert_eq!(
            parse_int(b"999999999999999999").unwrap(),
            999_999_999_999_999_999
        );
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"1x",
            b"9223372036854775808",
            b" 1",
            b"1-",
            b"--1",
        ] {
            assert!(parse_int(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requests_are_resp_arrays_and_pipeline() {
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
        encode(&mut out, |a| {
            for _ in 0..12 {
                a.bytes(b"x");
            }
        });
        let x12 = "*12\r\n".to_string() + &"$1\r\nx\r\n".repeat(12);
        let expected = [
            &b"*3\r\n$3\r\nGET\r\n$7\r\nsf:{ns}\r\n$2\r\n-1\r\n"[..],
            x12.as_bytes(),
        ]
        .concat();
        assert_eq!(&out[start..], &expected[..]);
    }

    #[test]
    fn whole_replies_are_found_whatever_the_chunks() {
        let replies: [&[u8]; 8] = [
            b"+OK\r\n",
            b"-ERR bad\r\n",
            b":-42\r\n",
            b"$-1\r\n",
            b"$0\r\n\r\n",
            b"$3\r\na\rb\r\n",
            b"*-1\r\n",
            b"*3\r\n*0\r\n*2\r\n$1\r\nx\r\n:1\r\n$-1\r\n",
        ];
        for reply in replies {
            let mut with_next = reply.to_vec();
            with_next.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(whole(reply), Ok(Some(reply.len())), "{reply:?}");
            assert_eq!(whole(&with_next), Ok(Some(reply.len())), "{reply:?}");
            assert_eq!(trickle(Limits::DEFAULT, reply), Ok(Some(reply.len())));
            assert_eq!(whole(&reply[..reply.len() - 1]), Ok(None), "{reply:?}");
        }
    }

    #[test]
    fn announced_lengths_are_checked_before_any_data() {
        for bad in [
            &b"$1000000000000000\r\n"[..],
            b"$9223372036854775806\r\n",
            b"$1500000000\r\n",
            b"$99999999999999999999\r\n",
            b"$-2\r\n",
            b"*-2\r\n",
            b"*9223372036854775807\r\n",
        ] {
            assert!(whole(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // Under the limit: accepted, and waiting for data without reserving any.
        assert_eq!(whole(b"$500000000\r\n"), Ok(None));
        assert_eq!(whole(b"*100000000\r\n"), Ok(None));
    }

    #[test]
    fn nesting_is_limited_without_recursion() {
        let deep = b"*1\r\n".repeat(30_000);
        assert!(whole(&deep).unwrap_err().0.contains("nested"));
        let wide = b"*100000000\r\n".repeat(2_000);
        assert!(whole(&wide).is_err());
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        assert_eq!(whole(&ok), Ok(Some(ok.len())));
        // An empty array is a level too.
        let mut empty = b"*1\r\n".repeat(MAX_DEPTH - 1);
        empty.extend_from_slice(b"*0\r\n");
        assert_eq!(whole(&empty), Ok(Some(empty.len())));
        let mut deeper = b"*1\r\n".repeat(MAX_DEPTH);
        deeper.extend_from_slice(b"*0\r\n");
        assert!(whole(&deeper).is_err());
    }

    #[test]
    fn framing_is_checked() {
        assert!(whole(b"$1\r\n3:9\r\n").is_err(), "CRLF after a bulk string");
        // Inside an array too (the batch fast path), and whatever the chunks.
        assert!(whole(b"*2\r\n$1\r\nab\r\n:1\r\n").is_err());
        assert!(trickle(Limits::DEFAULT, b"*2\r\n$1\r\nab\r\n:1\r\n").is_err());
        assert!(whole(b"*3\r\n$1\r\na\r\n$-2\r\n:1\r\n").is_err());
        let batch = b"*3\r\n$1\r\na\r\n$003\r\nabc\r\n$-1\r\n";
        assert_eq!(whole(batch), Ok(Some(batch.len())));
        assert_eq!(trickle(Limits::DEFAULT, batch), Ok(Some(batch.len())));
        assert!(whole(b"+OK\rX").is_err(), "CR without LF");
        assert!(whole(b"!3\r\nabc\r\n").is_err(), "RESP3 type");
        assert!(whole(b":1x\r\n").is_err());
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE_LEN + 2]].concat();
        assert!(whole(&long).is_err(), "a line without end");
    }

    #[test]
    fn a_never_ending_line_is_scanned_once() {
        let limits = Limits {
            line: 1 << 20,
            ..Limits::DEFAULT
        };
        let mut decoder = Decoder::new(limits);
        let mut buf = b"+".to_vec();
        // 1 MiB fed 64 bytes at a time: quadratic rescanning would take minutes.
        while buf.len() < 1 << 20 {
            buf.extend_from_slice(&[b'a'; 64]);
            assert_eq!(decoder.feed(&buf), Ok(None));
        }
        buf.extend_from_slice(&[b'a'; 64]);
        assert!(decoder.feed(&buf).is_err());
    }

    #[test]
    fn frames_walk_a_whole_reply() {
        let bytes = b"*4\r\n+OK\r\n-ERR x\r\n$2\r\nab\r\n*2\r\n:7\r\n$-1\r\n";
        assert_eq!(whole(bytes), Ok(Some(bytes.len())));
        let mut reply = Reply::new(bytes);
        assert_eq!(reply.next().unwrap(), Frame::Array(Some(4)));
        assert_eq!(reply.next().unwrap(), Frame::Status(b"OK"));
        assert_eq!(reply.next().unwrap(), Frame::Error(b"ERR x"));
        assert_eq!(reply.next().unwrap(), Frame::Bulk(Some(b"ab")));
        assert_eq!(reply.next().unwrap(), Frame::Array(Some(2)));
        assert_eq!(reply.next().unwrap(), Frame::Int(7));
        assert_eq!(reply.next().unwrap(), Frame::Bulk(None));
        assert!(reply.next().is_err());
        assert_eq!(
            Reply::new(b"-NOSCRIPT x\r\n").error_line(),
            Some(&b"NOSCRIPT x"[..])
        );
    }

    #[test]
    fn server_errors_keep_their_kind() {
        use crate::error::ErrorKind;
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
