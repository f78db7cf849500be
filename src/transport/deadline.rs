//! The instant by which an exchange must be over: every write, read, connect and host-name
//! lookup of one call waits only as long as its deadline leaves. A leaf: it knows no socket.

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// The instant by which an exchange must be over, and how missing it is reported: a command
/// that runs out of time is a `Timeout`; connecting (and the handshake) that runs out of time is
/// a failure to connect (`Connection`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    connecting: bool,
}

impl Deadline {
    /// For one command (every write and read of it, and any connect it needs).
    #[inline]
    pub(crate) fn command(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            connecting: false,
        }
    }

    /// For opening a connection: connect, TLS and the Redis handshake.
    #[inline]
    pub(crate) fn connect(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            connecting: true,
        }
    }

    /// A connect inside a command: within the connect timeout and the command's deadline.
    #[inline]
    pub(crate) fn connect_within(self, timeout: Duration) -> Deadline {
        Deadline {
            at: self.at.min(Instant::now() + timeout),
            connecting: true,
        }
    }

    /// The time left, or the error for having none.
    #[inline]
    pub(crate) fn remaining(&self, doing: &str) -> Result<Duration> {
        let left = self.at.saturating_duration_since(Instant::now());
        // Below a microsecond a socket timeout cannot be set: count it as none.
        if left < Duration::from_micros(1) {
            return Err(self.expired(doing));
        }
        Ok(left)
    }

    pub(crate) fn expired(&self, doing: &str) -> Error {
        if self.connecting {
            Error::new(ErrorKind::Connection, format!("{doing}: timed out"))
        } else {
            Error::new(
                ErrorKind::Timeout,
                format!("{doing}: no complete reply within the command timeout"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_say_what_ran_out() {
        let past = Deadline::command(Duration::from_nanos(1));
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(
            past.remaining("read").unwrap_err().kind(),
            ErrorKind::Timeout
        );
        let connect = past.connect_within(Duration::from_secs(5));
        assert_eq!(
            connect.remaining("connect").unwrap_err().kind(),
            ErrorKind::Connection
        );
    }
}
