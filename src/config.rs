//! Configuration: where Redis is and how the pool behaves.
//!
//! One `Config` type describes every topology; the topology only changes how connections are
//! made (see `connection.rs`), never what the executor does with them.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the Redis data lives.
#[derive(Clone)]
pub(crate) enum Topology {
    /// One server (or a proxy in front of several), by URL.
    Standalone(redis::ConnectionInfo),
}

/// How to reach Redis and how to pool connections. Build with [`Config::new`], adjust with the
/// setters, then open an [`Executor`](crate::Executor). Cheap to clone.
#[derive(Clone)]
pub struct Config {
    pub(crate) topology: Topology,
    /// The URLs as given, with passwords masked: for messages and logs only.
    pub(crate) display: String,
    pub(crate) pool_max_size: u32,
    pub(crate) pool_min_idle: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) pool_wait_timeout: Duration,
}

/// Default largest number of pooled connections.
pub const DEFAULT_POOL_MAX_SIZE: u32 = 16;
/// Default number of idle connections the pool keeps ready.
pub const DEFAULT_POOL_MIN_IDLE: u32 = 0;
/// Default connect, command and pool wait timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Masks the password of a Redis URL (`redis://user:secret@host` -> `redis://user:***@host`).
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let user_end = rest[..at].find(':').unwrap_or(at);
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &rest[..user_end],
        &rest[at..]
    )
}

/// Parses one server URL: `redis://`, `rediss://` (TLS) or `unix://`.
pub(crate) fn parse_url(url: &str) -> Result<redis::ConnectionInfo> {
    use redis::IntoConnectionInfo;
    let shown = redact_url(url);
    let known_scheme = ["redis://", "rediss://", "unix://", "redis+unix://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !known_scheme {
        return Err(Error::config(format!(
            "unsupported URL {shown:?}: expected redis://, rediss:// or unix://"
        )));
    }
    url.into_connection_info()
        .map_err(|e| Error::config(format!("invalid Redis URL {shown:?}: {e}")))
}

impl Config {
    /// A configuration for one Redis server:
    /// `redis://[user:password@]host:port[/db]`, `rediss://...` for TLS, or `unix:///path`.
    pub fn new(url: &str) -> Result<Config> {
        let info = parse_url(url)?;
        Ok(Config::with_topology(
            Topology::Standalone(info),
            redact_url(url),
        ))
    }

    pub(crate) fn with_topology(topology: Topology, display: String) -> Config {
        Config {
            topology,
            display,
            pool_max_size: DEFAULT_POOL_MAX_SIZE,
            pool_min_idle: DEFAULT_POOL_MIN_IDLE,
            connect_timeout: DEFAULT_TIMEOUT,
            command_timeout: DEFAULT_TIMEOUT,
            pool_wait_timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Largest number of connections the pool opens (default 16); at least 1.
    pub fn set_pool_max_size(&mut self, max_size: u32) -> Result<&mut Self> {
        if max_size == 0 {
            return Err(Error::invalid("pool max size must be at least 1"));
        }
        if self.pool_min_idle > max_size {
            return Err(Error::invalid(format!(
                "pool max size {max_size} is below pool min idle {}",
                self.pool_min_idle
            )));
        }
        self.pool_max_size = max_size;
        Ok(self)
    }

    /// Idle connections the pool keeps open in advance (default 0); at most the max size.
    pub fn set_pool_min_idle(&mut self, min_idle: u32) -> Result<&mut Self> {
        if min_idle > self.pool_max_size {
            return Err(Error::invalid(format!(
                "pool min idle {min_idle} exceeds pool max size {}",
                self.pool_max_size
            )));
        }
        self.pool_min_idle = min_idle;
        Ok(self)
    }

    /// Longest wait for a TCP (and TLS) connection to be established (default 1000 ms).
    pub fn set_connect_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.connect_timeout = positive("connect timeout", timeout)?;
        Ok(self)
    }

    /// Longest wait for one command's reply, and for a write to the socket (default 1000 ms).
    pub fn set_command_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.command_timeout = positive("command timeout", timeout)?;
        Ok(self)
    }

    /// Longest wait for a pooled connection to become free (default 1000 ms).
    pub fn set_pool_wait_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.pool_wait_timeout = positive("pool wait timeout", timeout)?;
        Ok(self)
    }

    /// Largest number of pooled connections.
    pub fn pool_max_size(&self) -> u32 {
        self.pool_max_size
    }

    /// Idle connections kept ready.
    pub fn pool_min_idle(&self) -> u32 {
        self.pool_min_idle
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The command timeout.
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// The pool wait timeout.
    pub fn pool_wait_timeout(&self) -> Duration {
        self.pool_wait_timeout
    }
}

fn positive(what: &str, timeout: Duration) -> Result<Duration> {
    if timeout.is_zero() {
        return Err(Error::invalid(format!("{what} must be positive")));
    }
    Ok(timeout)
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("target", &self.display)
            .field("pool_max_size", &self.pool_max_size)
            .field("pool_min_idle", &self.pool_min_idle)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("pool_wait_timeout", &self.pool_wait_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("redis://app:s3cret@host:1/0"),
            "redis://app:***@host:1/0"
        );
        assert_eq!(redact_url("redis://:s3cret@host"), "redis://:***@host");
        assert_eq!(redact_url("redis://host:1"), "redis://host:1");
        let cfg = Config::new("redis://app:s3cret@127.0.0.1:1").unwrap();
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let err = Config::new("http://app:s3cret@x").unwrap_err();
        assert!(!err.message().contains("s3cret"));
    }

    #[test]
    fn setters_validate() {
        let mut cfg = Config::new("redis://127.0.0.1:1").unwrap();
        assert!(cfg.set_pool_max_size(0).is_err());
        assert!(cfg.set_pool_min_idle(17).is_err());
        cfg.set_pool_min_idle(4).unwrap();
        assert!(cfg.set_pool_max_size(3).is_err());
        assert!(cfg.set_command_timeout(Duration::ZERO).is_err());
        assert_eq!(cfg.pool_max_size(), 16);
        assert_eq!(cfg.pool_min_idle(), 4);
    }
}
