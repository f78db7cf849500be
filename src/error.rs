//! The one error type of the library. Its kinds map one to one onto the C API's `sf_status` codes.

use std::fmt;

/// The one table of error kinds: each kind's `sf_status` code and C name, written once. The
/// macro generates [`ErrorKind`], its names, the lookup from a code, and the `SF_*` constants
/// of the C layer; the header generator (tests/header.rs) writes the header's `#define`s from
/// [`ErrorKind::ALL`], so no other copy of these numbers exists.
macro_rules! error_kinds {
    ($( $(#[doc = $doc:literal])* $kind:ident = $code:literal, $name:ident; )*) => {
        /// What went wrong, at the granularity a caller can act on.
        ///
        /// The numeric values are the C API's `sf_status` codes and never change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorKind {
            $( $(#[doc = $doc])* $kind = $code, )*
        }

        impl ErrorKind {
            /// Every kind, in the order of their codes.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// The C name of the status code, e.g. `"SF_TIMEOUT"`.
            pub fn status_name(self) -> &'static str {
                match self {
                    $( ErrorKind::$kind => stringify!($name), )*
                }
            }

            /// The C name as a NUL-terminated string.
            pub(crate) fn status_name_c(self) -> &'static std::ffi::CStr {
                match self {
                    $( ErrorKind::$kind => {
                        const NAME: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
                            concat!(stringify!($name), "\0").as_bytes(),
                        ) {
                            Ok(name) => name,
                            Err(_) => panic!("a status name holds no NUL"),
                        };
                        NAME
                    } )*
                }
            }

            /// The C status code (`sf_status`), e.g. 3 for [`ErrorKind::Timeout`].
            pub fn code(self) -> i32 {
                self as i32
            }

            /// The kind of a C status code; `None` for `SF_OK` (0) and for unknown values.
            pub fn from_code(code: i32) -> Option<ErrorKind> {
                match code {
                    $( $code => Some(ErrorKind::$kind), )*
                    _ => None,
                }
            }

            /// What the kind means, one sentence per line (the header's comment of its code).
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorKind::$kind => concat!($($doc, "\n"),*), )*
                }
            }
        }

        /// The `sf_status` codes as constants of the C layer (the header's `#define SF_*`).
        #[allow(dead_code)]
        pub(crate) mod status_codes {
            $( pub(crate) const $name: i32 = $code; )*
        }
    };
}

error_kinds! {
    /// A bad identifier, an out-of-range number, a missing argument, or a closed executor.
    /// Nothing was sent to Redis.
    InvalidArgument = 1, SF_INVALID_ARGUMENT;
    /// Cannot connect, the connection was lost, or another I/O error.
    Connection = 2, SF_CONNECTION;
    /// The command did not complete within the command timeout.
    Timeout = 3, SF_TIMEOUT;
    /// No pooled connection became free within the pool wait timeout.
    PoolTimeout = 4, SF_POOL_TIMEOUT;
    /// Authentication or authorization refused by the server.
    Auth = 5, SF_AUTH;
    /// The server answered with an error (script error, READONLY, CROSSSLOT, OOM, ...).
    Redis = 6, SF_REDIS;
    /// Data in Redis is not in the documented format (e.g. a link whose pod is not a number, or
    /// one of the library's keys holding another type: WRONGTYPE), or the server replied with an
    /// unexpected shape.
    UnexpectedReply = 7, SF_UNEXPECTED_REPLY;
    /// An invalid URL or configuration, or a logger that cannot be installed.
    Config = 8, SF_CONFIG;
    /// A bug: a caught panic or a broken invariant.
    Internal = 9, SF_INTERNAL;
}

/// An error with its kind and a message meant for a human reading a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The server refused the command before running any of it (READONLY, LOADING, ...), so
    /// sending it again elsewhere cannot apply it twice.
    pub(crate) rejected_before_running: bool,
    /// The server did not know the script (NOSCRIPT): its script cache was flushed.
    pub(crate) missing_script: bool,
    /// The server is no longer (or not yet) the primary (READONLY, MASTERDOWN): a failover
    /// happened, so every pooled connection may point at the wrong node.
    pub(crate) topology_changed: bool,
    /// A complete error reply from the server: the connection is still in step and reusable.
    pub(crate) server_reply: bool,
}

/// The result type of every fallible operation of the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Creates an error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            rejected_before_running: false,
            missing_script: false,
            topology_changed: false,
            server_reply: false,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn unexpected(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::UnexpectedReply, message)
    }

    /// The kind, which decides the C status code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (never contains a password).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with what the library was doing, keeping the kind.
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.status_name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Error code our Lua scripts use when they find a link value that is not a pod ordinal.
pub(crate) const CORRUPT_DATA_CODE: &str = "SFCORRUPT";

impl Error {
    /// The error for an error reply `CODE detail` of the server, with the same kinds and flags
    /// wherever it was read.
    pub(crate) fn from_server_reply(code: &str, detail: &str) -> Error {
        let detail = without_script_location(detail);
        let kind = match code {
            // WRONGTYPE: one of our keys holds another type: data not in the documented format.
            CORRUPT_DATA_CODE | "WRONGTYPE" => ErrorKind::UnexpectedReply,
            "NOAUTH" | "WRONGPASS" | "NOPERM" => ErrorKind::Auth,
            "ERR" if is_acl_denial_in_script(detail) => ErrorKind::Auth,
            _ => ErrorKind::Redis,
        };
        let message = match code {
            CORRUPT_DATA_CODE => detail.to_string(),
            _ => format!("{code} {detail}"),
        };
        let mut error = Error::new(kind, message);
        error.server_reply = true;
        error.rejected_before_running = matches!(
            code,
            "READONLY" | "LOADING" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN"
        );
        error.topology_changed = matches!(code, "READONLY" | "MASTERDOWN");
        error.missing_script = code == "NOSCRIPT";
        error
    }
}

/// A script's error ends with where it ran: " script: <sha1>, on @user_script:N." (Redis 7,
/// Valkey 8) or " script: on @user_script:N." (Valkey 9): noise for a reader. Only that suffix
/// is cut, so a reason that itself says "script:" (Valkey's "ACL failure in script: User u has
/// no permissions to run the 'hdel' command") keeps the part that matters.
fn without_script_location(detail: &str) -> &str {
    const MARK: &str = " script: ";
    let Some(at) = detail.rfind(MARK) else {
        return detail;
    };
    let location = &detail[at + MARK.len()..];
    let location = match location.split_once(", ") {
        Some((sha, rest)) if !sha.is_empty() && sha.bytes().all(|b| b.is_ascii_hexdigit()) => rest,
        _ => location,
    };
    if location.starts_with("on @user_script:") {
        &detail[..at]
    } else {
        detail
    }
}

/// An ACL refusal of a command a script ran, which servers report as a plain `ERR` (outside a
/// script the same refusal is `NOPERM`): Redis 7.0 "The user executing the script can't run
/// this command or subcommand" / "... can't access at least one of the keys ...", Valkey 8 and
/// 9 "ACL failure in script: User u has no permissions to run the 'hdel' command" / "...: No
/// permissions to access a key".
fn is_acl_denial_in_script(detail: &str) -> bool {
    detail.starts_with("The user executing the script can't")
        || detail.starts_with("ACL failure in script")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wording of an ACL refusal known from the servers the tests run, as they send it.
    #[test]
    fn acl_denials_are_auth_on_every_server_with_the_reason_kept() {
        for (code, detail, message) in [
            (
                "NOPERM",
                "this user has no permissions to access one of the keys used as arguments",
                "NOPERM this user has no permissions to access one of the keys used as arguments",
            ),
            // Redis 7.0, inside a script.
            (
                "ERR",
                "The user executing the script can't run this command or subcommand script: \
                 90e3a9d39dea330c08b4ae1ce660d847a50af793, on @user_script:1.",
                "ERR The user executing the script can't run this command or subcommand",
            ),
            (
                "ERR",
                "The user executing the script can't access at least one of the keys mentioned \
                 in the command arguments script: 96743f74c8ae503e858c6c892c76905655eeb209, on \
                 @user_script:1.",
                "ERR The user executing the script can't access at least one of the keys \
                 mentioned in the command arguments",
            ),
            // Valkey 8.1, inside a script.
            (
                "ERR",
                "ACL failure in script: User lim has no permissions to run the 'hdel' command \
                 script: 90e3a9d39dea330c08b4ae1ce660d847a50af793, on @user_script:1.",
                "ERR ACL failure in script: User lim has no permissions to run the 'hdel' command",
            ),
            // Valkey 9.1: the location without the script's SHA.
            (
                "ERR",
                "ACL failure in script: No permissions to access a key script: on @user_script:1.",
                "ERR ACL failure in script: No permissions to access a key",
            ),
        ] {
            let error = Error::from_server_reply(code, detail);
            assert_eq!(error.kind(), ErrorKind::Auth, "{detail}");
            assert_eq!(error.message(), message);
        }
    }

    #[test]
    fn only_the_script_location_is_cut() {
        let other = Error::from_server_reply(
            "ERR",
            "Wrong number of args calling command from script script: on @user_script:1.",
        );
        assert_eq!(other.kind(), ErrorKind::Redis);
        assert_eq!(
            other.message(),
            "ERR Wrong number of args calling command from script"
        );
        // No location: the text stays whole, even when it says "script: ".
        let plain = Error::from_server_reply("ERR", "bad script: here");
        assert_eq!(plain.message(), "ERR bad script: here");
        assert_eq!(plain.kind(), ErrorKind::Redis);
    }
}
