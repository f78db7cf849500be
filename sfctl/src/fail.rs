//! Exit codes and the one error type of sfctl: every failure carries the exit code it ends with.

use std::fmt;

use stateful_executor::ErrorKind;

/// Success; for `check`, nothing left to repair.
pub const OK: u8 = 0;
/// Not found (no state, no link, nothing removed), or `check` found problems it did not repair.
pub const NOT_FOUND: u8 = 1;
/// Bad arguments or input file; nothing was sent to Redis.
pub const USAGE: u8 = 2;
/// Cannot connect, lost the connection, timed out, or authentication refused.
pub const CONNECTION: u8 = 3;
/// Redis refused a command, or data too corrupt to go on (the message says which).
pub const FAILED: u8 = 4;
/// A drain stopped by Ctrl-C (or SIGTERM) between two links; running it again finishes it.
pub const INTERRUPTED: u8 = 130;

/// A failure and the exit code it ends the process with.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Fail>;

impl Fail {
    pub fn new(code: u8, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Fail {
        Fail::new(USAGE, message)
    }

    pub fn failed(message: impl Into<String>) -> Fail {
        Fail::new(FAILED, message)
    }

    /// The same failure with what was being done in front of its message.
    pub fn context(self, what: &str) -> Fail {
        Fail::new(self.code, format!("{what}: {}", self.message))
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code of a library error: its kind says whether the arguments, the connection or
/// the data was at fault.
pub fn code_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::Config => USAGE,
        ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::PoolTimeout | ErrorKind::Auth => {
            CONNECTION
        }
        ErrorKind::Redis | ErrorKind::UnexpectedReply | ErrorKind::Internal => FAILED,
    }
}

impl From<stateful_executor::Error> for Fail {
    fn from(err: stateful_executor::Error) -> Fail {
        // The library's messages show URLs with their passwords masked.
        Fail::new(code_of(err.kind()), err.to_string())
    }
}

/// Whether a redis-rs error means the connection, not the command, failed.
pub fn is_connection_error(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(err.kind(), redis::ErrorKind::AuthenticationFailed)
        || matches!(err.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
}

impl From<redis::RedisError> for Fail {
    fn from(err: redis::RedisError) -> Fail {
        let code = if is_connection_error(&err) {
            CONNECTION
        } else {
            FAILED
        };
        Fail::new(code, err.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(err: std::io::Error) -> Fail {
        Fail::failed(err.to_string())
    }
}
