//! Configuration: where Redis is and how the pool behaves.
//!
//! One `Config` type describes every topology; the topology only changes how connections are
//! made (see `transport/`), never what the executor does with them.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the Redis data lives.
#[derive(Clone)]
pub(crate) enum Topology {
    /// One server (or a proxy in front of several), by URL.
    Standalone(redis::ConnectionInfo),
    /// A Redis Cluster, found through any reachable subset of its nodes (the seeds).
    Cluster {
        /// The seed nodes, all TCP, all with the same credentials and TLS mode.
        seeds: Vec<redis::ConnectionInfo>,
    },
    /// A primary (and its replicas) monitored by Redis Sentinel.
    Sentinel {
        /// The sentinels, asked in order for the current primary.
        sentinels: Vec<redis::ConnectionInfo>,
        /// The name the sentinels monitor the primary under.
        master_name: String,
        /// How to log in to the primary: by default the credentials and database of the
        /// sentinel URLs; replaced by `Config::set_sentinel_master_auth`.
        master: redis::RedisConnectionInfo,
    },
}

/// PEM files for TLS, read and checked when set, applied to every `rediss://` connection.
#[derive(Clone, Default)]
pub(crate) struct TlsFiles {
    /// Shown in messages: the file names, never their content.
    pub(crate) ca_file: Option<String>,
    pub(crate) client_cert_file: Option<String>,
    /// The CA certificates (PEM) that replace the system's trust store.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The client certificate chain and private key (PEM), for servers that check clients.
    pub(crate) client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    pub(crate) fn is_set(&self) -> bool {
        self.ca_pem.is_some() || self.client_pem.is_some()
    }
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
    pub(crate) tls: TlsFiles,
    pub(crate) pipelining: bool,
    pub(crate) pipelining_min_in_flight: u32,
    /// The client-side cache: (max entries, max age); `None`: off.
    pub(crate) client_cache: Option<(u32, Duration)>,
}

/// Default largest number of pooled connections.
pub const DEFAULT_POOL_MAX_SIZE: u32 = 16;
/// Largest accepted pool max size: Redis's default `maxclients`. The pool reserves room for
/// this many connections up front (about 200 bytes each), so a size near `u32::MAX` would make
/// opening the executor abort on a failed allocation of hundreds of gigabytes.
pub const MAX_POOL_MAX_SIZE: u32 = 10_000;
/// Default number of idle connections the pool keeps ready.
pub const DEFAULT_POOL_MIN_IDLE: u32 = 0;
/// Default connect, command and pool wait timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Whether auto-pipelining is on by default: on, because with the adaptive routing
/// ([`DEFAULT_PIPELINING_MIN_IN_FLIGHT`]) `make bench` showed it tying with pipelining off at
/// 1, 4 and 8 threads (where calls hold pooled connections, as with it off) and winning at 16
/// (see the README's Performance section). Pipelining for every call lost at 4 and 8 threads,
/// where a command queued while another thread reads waits for that read before it is
/// written. The environment variable `SF_PIPELINING` (`on`, `off` or `always`) replaces this
/// default for the configurations a process creates.
pub const DEFAULT_PIPELINING: bool = true;

/// With auto-pipelining on, a call goes through the shared connection only while at least
/// this many calls of the executor (itself included) are in flight, and through a pooled
/// connection otherwise, exactly as with pipelining off: fewer concurrent callers rarely
/// fill a batch, and then waiting for another thread's read costs more than the shared write
/// saves (see the README's Performance section).
pub const DEFAULT_PIPELINING_MIN_IN_FLIGHT: u32 = 12;

/// The defaults for new configurations (pipelining, its least number of calls in flight):
/// `SF_PIPELINING` when it says `on`, `off` or `always` (on, for every call: the shared
/// connection even for a lone caller), else [`DEFAULT_PIPELINING`] and
/// [`DEFAULT_PIPELINING_MIN_IN_FLIGHT`]. Read once per process.
fn default_pipelining() -> (bool, u32) {
    static DEFAULT: std::sync::OnceLock<(bool, u32)> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let adaptive = DEFAULT_PIPELINING_MIN_IN_FLIGHT;
        match std::env::var("SF_PIPELINING").as_deref() {
            Ok("on") => (true, adaptive),
            Ok("always") => (true, 1),
            Ok("off") => (false, adaptive),
            _ => (DEFAULT_PIPELINING, adaptive),
        }
    })
}

/// Where the user info of a `redis://` or `rediss://` URL ends (its last `@`), as an index into
/// `rest`, the URL after `scheme://`. Passwords may hold `/`, `?`, `#` or `@` unescaped, so the
/// last `@` counts, not the first `/` (host, port and database hold none).
fn user_info_end(rest: &str) -> Option<usize> {
    rest.rfind('@')
}

/// Masks the password of a Redis URL (`redis://user:secret@host` -> `redis://user:***@host`),
/// including the `pass=` query parameter of unix-socket URLs.
pub(crate) fn redact_url(url: &str) -> String {
    let mut shown = match url.find("://") {
        Some(scheme_end) if !url[..scheme_end].contains("unix") => {
            let rest = &url[scheme_end + 3..];
            match user_info_end(rest) {
                Some(at) => {
                    let user_end = rest[..at].find(':').unwrap_or(at);
                    format!(
                        "{}{}:***{}",
                        &url[..scheme_end + 3],
                        &rest[..user_end],
                        &rest[at..]
                    )
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    if let Some(query) = shown.find('?') {
        let masked: Vec<String> = shown[query + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name == "pass" || name == "password" => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        shown = format!("{}?{}", &shown[..query], masked.join("&"));
    }
    shown
}

/// Escapes the characters of the user info that would end it early (`/ ? # @`), so that a
/// password holding them parses as written (the URL parser decodes them again).
fn escape_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    if url[..scheme_end].contains("unix") {
        return url.to_string();
    }
    let rest = &url[scheme_end + 3..];
    let Some(at) = user_info_end(rest) else {
        return url.to_string();
    };
    let mut escaped = String::with_capacity(url.len() + 8);
    escaped.push_str(&url[..scheme_end + 3]);
    for c in rest[..at].chars() {
        match c {
            '/' => escaped.push_str("%2F"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            '@' => escaped.push_str("%40"),
            c => escaped.push(c),
        }
    }
    escaped.push_str(&rest[at..]);
    escaped
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
    escape_user_info(url)
        .as_str()
        .into_connection_info()
        .map_err(|e| Error::config(format!("invalid Redis URL {shown:?}: {e}")))
}

/// Whether a parsed URL asks for TLS (`rediss://`).
pub(crate) fn is_tls(info: &redis::ConnectionInfo) -> bool {
    matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. })
}

/// Parses a non-empty list of URLs that must agree on TLS and credentials.
fn parse_url_list<S: AsRef<str>>(what: &str, urls: &[S]) -> Result<Vec<redis::ConnectionInfo>> {
    if urls.is_empty() {
        return Err(Error::config(format!("at least one {what} URL is needed")));
    }
    let infos = urls
        .iter()
        .map(|url| parse_url(url.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let first = &infos[0];
    for (info, url) in infos.iter().zip(urls).skip(1) {
        let shown = redact_url(url.as_ref());
        if is_tls(info) != is_tls(first) {
            return Err(Error::config(format!(
                "{what} URL {shown:?} mixes redis:// and rediss:// with the first URL; use one scheme"
            )));
        }
        let (a, b) = (info.redis_settings(), first.redis_settings());
        if a.username() != b.username() || a.password() != b.password() {
            return Err(Error::config(format!(
                "{what} URL {shown:?} has other credentials than the first URL; use the same"
            )));
        }
    }
    Ok(infos)
}

fn display_list<S: AsRef<str>>(urls: &[S]) -> String {
    urls.iter()
        .map(|url| redact_url(url.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a PEM file for a TLS setter; any problem is a `Config` error naming the file.
fn read_pem(what: &str, path: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::config(format!("cannot read {what} file {path:?}: {e}")))?;
    if bytes.is_empty() {
        return Err(Error::config(format!("{what} file {path:?} is empty")));
    }
    Ok(bytes)
}

fn check_certificates(what: &str, path: &str, pem: &[u8]) -> Result<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| Error::config(format!("{what} file {path:?} is not valid PEM: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::config(format!(
            "{what} file {path:?} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(())
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

    /// A configuration for a Redis Cluster, given any reachable subset of its nodes as seeds:
    /// `redis://[user:password@]host:port` or `rediss://...` for TLS. All seeds must use the
    /// same scheme and credentials, database 0 and TCP (the cluster announces its nodes by IP
    /// and port, so unix sockets cannot be followed). The full node list is read from the
    /// cluster (`CLUSTER SLOTS`) when connecting, and again whenever it changes.
    pub fn cluster<S: AsRef<str>>(seed_urls: &[S]) -> Result<Config> {
        let seeds = parse_url_list("cluster seed", seed_urls)?;
        for (info, url) in seeds.iter().zip(seed_urls) {
            let shown = redact_url(url.as_ref());
            if matches!(info.addr(), redis::ConnectionAddr::Unix(_)) {
                return Err(Error::config(format!(
                    "cluster seed {shown:?} is a unix socket; a cluster needs host:port seeds"
                )));
            }
            if info.redis_settings().db() != 0 {
                return Err(Error::config(format!(
                    "cluster seed {shown:?} selects database {}; a cluster has only database 0",
                    info.redis_settings().db()
                )));
            }
        }
        Ok(Config::with_topology(
            Topology::Cluster { seeds },
            format!("cluster {}", display_list(seed_urls)),
        ))
    }

    /// A configuration for a primary monitored by Redis Sentinel: the sentinels' URLs
    /// (`redis://[user:password@]host:port[/db]`, `rediss://...`) and the name they monitor
    /// the primary under. Each new connection asks the sentinels, in order, for the current
    /// primary, so after a failover the pool reaches the new one without reopening.
    ///
    /// Credentials in the URLs log in to the sentinels and, by default, to the primary too; a
    /// `/db` path selects the primary's database (sentinels have none). When the primary uses
    /// other credentials, set them with [`set_sentinel_master_auth`](Self::set_sentinel_master_auth).
    /// `rediss://` means TLS to the sentinels and to the primary alike.
    pub fn sentinel<S: AsRef<str>>(sentinel_urls: &[S], master_name: &str) -> Result<Config> {
        if master_name.is_empty()
            || master_name.len() > 256
            || master_name
                .bytes()
                .any(|b| b.is_ascii_control() || b.is_ascii_whitespace())
        {
            return Err(Error::config(format!(
                "sentinel master name {master_name:?} must be 1-256 bytes without spaces or control characters"
            )));
        }
        let mut sentinels = parse_url_list("sentinel", sentinel_urls)?;
        let master = sentinels[0].redis_settings().clone();
        // Sentinels have no databases: the URL's database is the primary's.
        sentinels = sentinels
            .into_iter()
            .map(|info| {
                let settings = info.redis_settings().clone().set_db(0);
                info.set_redis_settings(settings)
            })
            .collect();
        Ok(Config::with_topology(
            Topology::Sentinel {
                sentinels,
                master_name: master_name.to_string(),
                master,
            },
            format!(
                "sentinel master {master_name} via {}",
                display_list(sentinel_urls)
            ),
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
            tls: TlsFiles::default(),
            pipelining: default_pipelining().0,
            pipelining_min_in_flight: default_pipelining().1,
            client_cache: None,
        }
    }

    /// Sentinel only: the credentials for the primary when they differ from the sentinels'
    /// (`username` `None` is the `default` user; `password` `None` logs in without one).
    /// The database stays the one of the sentinel URL.
    pub fn set_sentinel_master_auth(
        &mut self,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<&mut Self> {
        let Topology::Sentinel { master, .. } = &mut self.topology else {
            return Err(Error::config(
                "sentinel master credentials apply only to a sentinel configuration; \
                 put credentials in the URL otherwise",
            ));
        };
        let mut settings = redis::RedisConnectionInfo::default()
            .set_db(master.db())
            .set_protocol(master.protocol());
        if let Some(username) = username {
            settings = settings.set_username(username);
        }
        if let Some(password) = password {
            settings = settings.set_password(password);
        }
        *master = settings;
        Ok(self)
    }

    /// TLS: trust only the CA certificates of this PEM file (instead of the system's trust
    /// store) when verifying the servers of `rediss://` URLs, in every topology. Read and
    /// checked now: a missing, unreadable or certificate-less file is a `Config` error.
    pub fn set_tls_ca_file(&mut self, path: &str) -> Result<&mut Self> {
        let pem = read_pem("TLS CA", path)?;
        check_certificates("TLS CA", path, &pem)?;
        self.tls.ca_pem = Some(pem);
        self.tls.ca_file = Some(path.to_string());
        Ok(self)
    }

    /// TLS: present this client certificate (PEM chain) and private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1) to servers that verify clients (`tls-auth-clients yes`), in every topology. Read
    /// and checked now: an unreadable file, or one without a certificate or key, is a `Config`
    /// error.
    pub fn set_tls_client_cert(&mut self, cert_path: &str, key_path: &str) -> Result<&mut Self> {
        use rustls::pki_types::pem::PemObject;
        let cert = read_pem("TLS client certificate", cert_path)?;
        check_certificates("TLS client certificate", cert_path, &cert)?;
        let key = read_pem("TLS client key", key_path)?;
        rustls::pki_types::PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
            Error::config(format!(
                "TLS client key file {key_path:?} holds no usable PEM private key: {e}"
            ))
        })?;
        self.tls.client_pem = Some((cert, key));
        self.tls.client_cert_file = Some(cert_path.to_string());
        Ok(self)
    }

    /// Largest number of connections the pool opens (default 16); 1 to [`MAX_POOL_MAX_SIZE`].
    pub fn set_pool_max_size(&mut self, max_size: u32) -> Result<&mut Self> {
        if max_size == 0 {
            return Err(Error::invalid("pool max size must be at least 1"));
        }
        if max_size > MAX_POOL_MAX_SIZE {
            return Err(Error::invalid(format!(
                "pool max size {max_size} exceeds {MAX_POOL_MAX_SIZE}"
            )));
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

    /// Longest time opening one connection may take: the TCP or unix connect, TLS and the
    /// Redis handshake (`AUTH`, `SELECT`, `PING`) together (default 1000 ms).
    pub fn set_connect_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.connect_timeout = positive("connect timeout", timeout)?;
        Ok(self)
    }

    /// Longest time one command may take: writing it and reading its whole reply, under one
    /// deadline rather than per read (default 1000 ms).
    pub fn set_command_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.command_timeout = positive("command timeout", timeout)?;
        Ok(self)
    }

    /// Longest wait for a pooled connection to become free (default 1000 ms).
    pub fn set_pool_wait_timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        self.pool_wait_timeout = positive("pool wait timeout", timeout)?;
        Ok(self)
    }

    /// Auto-pipelining (default on, or as the `SF_PIPELINING` environment variable says:
    /// `on`, `off` or `always`): while enough calls are in flight at once
    /// ([`Config::set_pipelining_min_in_flight`]), commands that threads issue at the same
    /// moment to the same node share one connection, one write and one read, and each thread
    /// gets its own reply; fewer calls at once each hold a pooled connection, as with it off.
    /// Off: each call holds a pooled connection for one command per round trip.
    pub fn set_pipelining(&mut self, enabled: bool) -> &mut Self {
        self.pipelining = enabled;
        self
    }

    /// Whether auto-pipelining is on.
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// With auto-pipelining on: the least number of calls of the executor in flight at once
    /// (the call itself included) for a call to go through the shared connection (default
    /// [`DEFAULT_PIPELINING_MIN_IN_FLIGHT`]; 1: every call). Below it a call holds a pooled
    /// connection, as with pipelining off (and, as then, waits for the pool when it is busy:
    /// keep the pool's max size at least this minus one, as the defaults are, 16 and 12).
    pub fn set_pipelining_min_in_flight(&mut self, calls: u32) -> Result<&mut Self> {
        if calls == 0 {
            return Err(Error::invalid(
                "pipelining min in flight must be at least 1",
            ));
        }
        self.pipelining_min_in_flight = calls;
        Ok(self)
    }

    /// The least number of calls in flight for a call to use the shared connection.
    pub fn pipelining_min_in_flight(&self) -> u32 {
        self.pipelining_min_in_flight
    }

    /// The client-side cache of reads (default off; `max_entries` 0 turns it off): up to
    /// `max_entries` answers of `get_linked_pod`, `get_linked_pod_if_persist`,
    /// `batch_get_linked_pods`, `get_service_state`, `get_workload_state(s)` and
    /// `get_link_services` (and their packed forms) are kept in the executor, each for at most
    /// `max_age` (and never past its key's own TTL), and served without a round trip while
    /// Redis's invalidations (`CLIENT TRACKING`, Redis >= 6 or Valkey) say they are current.
    /// A cached answer was the key's value at some moment at most
    /// `min(max_age, CLIENT_CACHE_FRESHNESS)` before the read began; when that cannot be
    /// guaranteed (an invalidation connection lost or silent, a failover under way) reads go
    /// to Redis. The executor's own writes drop their entries before they return. Opening
    /// fails with `Config` when the server has no `CLIENT TRACKING`, with `Auth` when the user
    /// may not use it. See docs/cache.md for when to turn it on and what it costs Redis.
    /// `max_age` must be positive when `max_entries` is not 0.
    pub fn set_client_cache(&mut self, max_entries: u32, max_age: Duration) -> Result<&mut Self> {
        if max_entries == 0 {
            self.client_cache = None;
            return Ok(self);
        }
        if max_age.is_zero() {
            return Err(Error::invalid(
                "client cache max age must be positive (or max entries 0: no cache)",
            ));
        }
        self.client_cache = Some((max_entries, max_age));
        Ok(self)
    }

    /// The client-side cache's (max entries, max age), or `None` when it is off.
    pub fn client_cache(&self) -> Option<(u32, Duration)> {
        self.client_cache
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
            .field("pipelining", &self.pipelining)
            .field("pipelining_min_in_flight", &self.pipelining_min_in_flight)
            .field("client_cache", &self.client_cache)
            .field("tls_ca_file", &self.tls.ca_file)
            .field("tls_client_cert_file", &self.tls.client_cert_file)
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
        assert_eq!(
            redact_url("redis://user:pa/ss@host:1/2"),
            "redis://user:***@host:1/2"
        );
        assert_eq!(redact_url("redis://u:a@b?c#d@h"), "redis://u:***@h");
        assert_eq!(
            redact_url("unix:///tmp/r@1.sock?db=1&pass=s3cret"),
            "unix:///tmp/r@1.sock?db=1&pass=***"
        );
        for url in [
            "redis://user:pa/ss@127.0.0.1:1/2",
            "redis://:a?b#c@d@127.0.0.1:1",
        ] {
            let cfg = Config::new(url).unwrap();
            let Topology::Standalone(info) = &cfg.topology else {
                unreachable!()
            };
            let password = url[8..url.rfind('@').unwrap()].split_once(':').unwrap().1;
            assert_eq!(info.redis_settings().password(), Some(password));
            assert!(!format!("{cfg:?}").contains(password));
        }
        let err = Config::new("redis://user:pa/ss@host:notaport").unwrap_err();
        assert!(!err.message().contains("pa/ss"), "{err}");
        let cfg = Config::new("redis://app:s3cret@127.0.0.1:1").unwrap();
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let err = Config::new("http://app:s3cret@x").unwrap_err();
        assert!(!err.message().contains("s3cret"));
    }

    #[test]
    fn setters_validate() {
        let mut cfg = Config::new("redis://127.0.0.1:1").unwrap();
        assert!(cfg.set_pool_max_size(0).is_err());
        assert!(cfg.set_pool_max_size(MAX_POOL_MAX_SIZE + 1).is_err());
        assert!(cfg.set_pool_max_size(u32::MAX).is_err());
        assert!(cfg.set_pool_min_idle(17).is_err());
        cfg.set_pool_min_idle(4).unwrap();
        assert!(cfg.set_pool_max_size(3).is_err());
        assert!(cfg.set_command_timeout(Duration::ZERO).is_err());
        assert_eq!(cfg.pool_max_size(), 16);
        assert_eq!(cfg.pool_min_idle(), 4);
    }
}
