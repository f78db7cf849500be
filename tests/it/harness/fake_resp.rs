//! The RESP side of the scripted fake servers (hostile_server.rs, pipelining.rs): reading the
//! commands the library sends and answering them as a well-behaved Redis would.

/// One command (its arguments) parsed from the front of `buf`, and the bytes it used; `None`
/// until a whole command is there.
pub fn parse_command(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let (head, mut at) = line(buf, 0)?;
    let count: usize = std::str::from_utf8(&head[1..]).ok()?.parse().ok()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, next) = line(buf, at)?;
        let len: usize = std::str::from_utf8(&len[1..]).ok()?.parse().ok()?;
        if buf.len() < next + len + 2 {
            return None;
        }
        args.push(buf[next..next + len].to_vec());
        at = next + len + 2;
    }
    Some((args, at))
}

/// `value` as a RESP bulk string.
pub fn bulk(value: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", value.len()).into_bytes();
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    out
}

/// What a well-behaved server answers to the commands the library sends (handshake, script
/// loading, GET and MGET), with `value` giving the string held at a key.
pub fn well_behaved_reply(args: &[Vec<u8>], value: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    match name.as_str() {
        "PING" => b"+PONG\r\n".to_vec(),
        "AUTH" | "SELECT" | "SET" => b"+OK\r\n".to_vec(),
        "SCRIPT" => {
            let source = String::from_utf8_lossy(&args[2]).into_owned();
            bulk(redis::Script::new(&source).get_hash().as_bytes())
        }
        "GET" => bulk(&value(&args[1])),
        "MGET" => {
            let mut out = format!("*{}\r\n", args.len() - 1).into_bytes();
            for key in &args[1..] {
                out.extend_from_slice(&bulk(&value(key)));
            }
            out
        }
        _ => b"-ERR unknown command\r\n".to_vec(),
    }
}
