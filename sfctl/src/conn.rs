//! Where Redis is: the connection flags, the library's `Config` built from them, and the plain
//! redis-rs connections to every primary for what the library's API does not do (SCAN over
//! every node, TTL and TYPE reads, the repairs of `check`).

use std::path::PathBuf;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Value};
use stateful_executor::{Config, Executor};

use crate::fail::{Fail, Result, CONNECTION};

/// The connection flags, shared by every command.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Connection (before or after the command)")]
pub struct ConnectArgs {
    /// One Redis server: redis://[user:password@]host:port[/db], rediss://... (TLS) or
    /// unix:///path/to/socket[?db=N] (the same URL forms as the library).
    #[arg(
        long,
        global = true,
        env = "REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379",
        value_name = "URL"
    )]
    pub url: String,

    /// A Redis Cluster, by one or more seed nodes (redis:// or rediss://): --cluster URL
    /// --cluster URL, or --cluster URL,URL; replaces --url. Every primary is found from them.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        value_name = "URL",
        conflicts_with = "sentinel"
    )]
    pub cluster: Vec<String>,

    /// Redis Sentinel, by one or more sentinels (redis:// or rediss://; repeated, or
    /// comma-separated), asked in order for the primary named by --master; replaces --url. The
    /// first URL's credentials and /db apply to the primary too.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        value_name = "URL",
        requires = "master"
    )]
    pub sentinel: Vec<String>,

    /// The name the sentinels monitor the primary under (with --sentinel).
    #[arg(long, global = true, value_name = "NAME", requires = "sentinel")]
    pub master: Option<String>,

    /// TLS: trust only the CA certificates of this PEM file for rediss:// servers.
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// TLS: the client certificate (PEM) for servers that verify clients (with --tls-key).
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS: the client certificate's private key (PEM) (with --tls-cert).
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Longest time opening one connection may take, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "2", value_parser = seconds)]
    pub connect_timeout: Duration,

    /// Longest time one command may take, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    pub timeout: Duration,
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn seconds(text: &str) -> std::result::Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{text:?} is not a number of seconds in (0, 86400]")),
    }
}

/// Where the data is, as the flags say: checked, with the TLS files read, before anything
/// connects (a bad flag is a usage error that sends nothing).
pub struct Target {
    /// For the library.
    config: Config,
    /// For the plain connections.
    raw: RawTarget,
    tls: Option<Tls>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

enum RawTarget {
    Standalone(ConnectionInfo),
    Cluster(Vec<ConnectionInfo>),
    Sentinel {
        sentinels: Vec<ConnectionInfo>,
        master: String,
        /// The /db of the first sentinel URL: the primary's database.
        db: i64,
    },
}

/// The TLS files' content, for redis-rs (which takes bytes, not paths).
#[derive(Clone)]
struct Tls {
    ca: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl ConnectArgs {
    /// Checks the flags and reads the TLS files; connects to nothing.
    pub fn target(&self) -> Result<Target> {
        let (mut config, raw) = if !self.cluster.is_empty() {
            let config = Config::cluster(&self.cluster)?;
            let seeds = self
                .cluster
                .iter()
                .map(|u| parse_url(u))
                .collect::<Result<_>>()?;
            (config, RawTarget::Cluster(seeds))
        } else if !self.sentinel.is_empty() {
            let master = self.master.clone().unwrap_or_default();
            let config = Config::sentinel(&self.sentinel, &master)?;
            let sentinels: Vec<ConnectionInfo> = self
                .sentinel
                .iter()
                .map(|u| parse_url(u))
                .collect::<Result<_>>()?;
            let db = sentinels[0].redis_settings().db();
            // Sentinels have no databases: the URL's database is the primary's.
            let sentinels = sentinels
                .into_iter()
                .map(|info| {
                    let settings = info.redis_settings().clone().set_db(0);
                    info.set_redis_settings(settings)
                })
                .collect();
            (
                config,
                RawTarget::Sentinel {
                    sentinels,
                    master,
                    db,
                },
            )
        } else {
            (
                Config::new(&self.url)?,
                RawTarget::Standalone(parse_url(&self.url)?),
            )
        };
        let path = |p: &PathBuf| p.display().to_string();
        let mut tls = Tls {
            ca: None,
            client: None,
        };
        if let Some(ca) = &self.tls_ca {
            config.set_tls_ca_file(&path(ca))?;
            tls.ca = Some(std::fs::read(ca)?);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.set_tls_client_cert(&path(cert), &path(key))?;
            tls.client = Some((std::fs::read(cert)?, std::fs::read(key)?));
        }
        config
            .set_connect_timeout(self.connect_timeout)?
            .set_command_timeout(self.timeout)?
            .set_pool_wait_timeout(self.connect_timeout + self.timeout)?
            // One caller: no shared connection, a small pool.
            .set_pipelining(false)
            .set_pool_max_size(4)?;
        Ok(Target {
            config,
            raw,
            tls: (tls.ca.is_some() || tls.client.is_some()).then_some(tls),
            connect_timeout: self.connect_timeout,
            command_timeout: self.timeout,
        })
    }
}

/// Escapes the characters of a URL's user info that would end it early (`/ ? # @`), so that a
/// password holding them parses as written, as the library parses URLs (its config.rs).
fn escape_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    if url[..scheme_end].contains("unix") {
        return url.to_string();
    }
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
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

/// A URL for redis-rs. The library has parsed the same URL already (a bad one is its `Config`
/// error, which masks the password); this never shows the URL.
fn parse_url(url: &str) -> Result<ConnectionInfo> {
    escape_user_info(url)
        .as_str()
        .into_connection_info()
        .map_err(|e| Fail::usage(format!("invalid Redis URL: {e}")))
}

/// `host:port` or the socket path of an address: names a node without its credentials.
fn address_name(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => "?".to_string(),
    }
}

/// The address `host:port` with the scheme (and TLS setting) of `like`.
fn same_scheme(like: &ConnectionAddr, host: String, port: u16) -> ConnectionAddr {
    match like {
        ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: None,
        },
        _ => ConnectionAddr::Tcp(host, port),
    }
}

/// One primary, by a plain connection.
pub struct Node {
    /// `host:port` (or the socket path): for messages.
    pub name: String,
    pub conn: redis::Connection,
}

/// Every primary holding the data: the one server, the sentinels' primary, or each primary of
/// the cluster with the slots it serves.
pub struct Nodes {
    pub nodes: Vec<Node>,
    /// Cluster only: the primary (index into `nodes`) of each slot.
    slot_owner: Vec<usize>,
}

const SLOTS: usize = 16384;

/// The cluster slot of a key: CRC16 of its hash tag (or of the whole key without one).
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let after = &key[open + 1..];
            after
                .iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &after[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % SLOTS as u16
}

impl Nodes {
    /// The primary holding `key`.
    pub fn for_key(&mut self, key: &[u8]) -> &mut Node {
        let index = if self.slot_owner.is_empty() {
            0
        } else {
            self.slot_owner[key_slot(key) as usize]
        };
        &mut self.nodes[index]
    }

    /// Runs `cmd` on the primary holding `key`.
    pub fn query_key<T: redis::FromRedisValue>(
        &mut self,
        key: &[u8],
        cmd: &redis::Cmd,
    ) -> Result<T> {
        let node = self.for_key(key);
        cmd.query(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&node.name))
    }

    /// Runs `pipe` (commands on keys of one slot) on the primary holding `key`.
    pub fn pipe_key<T: redis::FromRedisValue>(
        &mut self,
        key: &[u8],
        pipe: &redis::Pipeline,
    ) -> Result<T> {
        let node = self.for_key(key);
        pipe.query(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&node.name))
    }
}

impl Target {
    /// Opens the library's executor (connects, pings, loads its scripts).
    pub fn executor(&self) -> Result<Executor> {
        Ok(Executor::open(&self.config)?)
    }

    fn connect(&self, info: ConnectionInfo) -> Result<Node> {
        let name = address_name(info.addr());
        let client = match (&self.tls, info.addr()) {
            (Some(tls), ConnectionAddr::TcpTls { .. }) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: tls.client.clone().map(|(client_cert, client_key)| {
                        redis::ClientTlsConfig {
                            client_cert,
                            client_key,
                        }
                    }),
                    root_cert: tls.ca.clone(),
                },
            ),
            _ => redis::Client::open(info),
        }
        .map_err(|e| Fail::usage(format!("{name}: {e}")))?;
        let failed = |e: redis::RedisError| Fail::from(e).context(&format!("connecting to {name}"));
        let conn = client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(failed)?;
        conn.set_read_timeout(Some(self.command_timeout))
            .map_err(failed)?;
        conn.set_write_timeout(Some(self.command_timeout))
            .map_err(failed)?;
        Ok(Node { name, conn })
    }

    /// Plain connections to every primary.
    pub fn nodes(&self) -> Result<Nodes> {
        match &self.raw {
            RawTarget::Standalone(info) => Ok(Nodes {
                nodes: vec![self.connect(info.clone())?],
                slot_owner: Vec::new(),
            }),
            RawTarget::Sentinel {
                sentinels,
                master,
                db,
            } => {
                let info = self.sentinel_primary(sentinels, master, *db)?;
                Ok(Nodes {
                    nodes: vec![self.connect(info)?],
                    slot_owner: Vec::new(),
                })
            }
            RawTarget::Cluster(seeds) => self.cluster_nodes(seeds),
        }
    }

    /// The primary's address from the first sentinel that knows it, with the sentinel URL's
    /// credentials and database.
    fn sentinel_primary(
        &self,
        sentinels: &[ConnectionInfo],
        master: &str,
        db: i64,
    ) -> Result<ConnectionInfo> {
        let mut last = Fail::new(CONNECTION, "no sentinel given");
        for info in sentinels {
            let mut node = match self.connect(info.clone()) {
                Ok(node) => node,
                Err(err) => {
                    last = err;
                    continue;
                }
            };
            let reply: Option<(String, u16)> = match redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(master)
                .query(&mut node.conn)
            {
                Ok(reply) => reply,
                Err(err) => {
                    last = Fail::from(err).context(&node.name);
                    continue;
                }
            };
            match reply {
                Some((host, port)) => {
                    let settings = info.redis_settings().clone().set_db(db);
                    return Ok(info
                        .clone()
                        .set_addr(same_scheme(info.addr(), host, port))
                        .set_redis_settings(settings));
                }
                None => {
                    last = Fail::new(
                        CONNECTION,
                        format!(
                            "sentinel {} does not know a primary named {master:?}",
                            node.name
                        ),
                    )
                }
            }
        }
        Err(last)
    }

    /// Every primary of the cluster, from the first seed that answers `CLUSTER SLOTS`.
    fn cluster_nodes(&self, seeds: &[ConnectionInfo]) -> Result<Nodes> {
        let mut last = Fail::new(CONNECTION, "no cluster seed given");
        for seed in seeds {
            let mut node = match self.connect(seed.clone()) {
                Ok(node) => node,
                Err(err) => {
                    last = err;
                    continue;
                }
            };
            let reply: Value = match redis::cmd("CLUSTER").arg("SLOTS").query(&mut node.conn) {
                Ok(reply) => reply,
                Err(err) => {
                    last = Fail::from(err).context(&node.name);
                    continue;
                }
            };
            let seed_host = match seed.addr() {
                ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
                _ => String::new(),
            };
            let ranges = parse_cluster_slots(reply, &seed_host)
                .map_err(|e| Fail::failed(format!("{}: CLUSTER SLOTS: {e}", node.name)))?;
            let mut addresses: Vec<(String, u16)> = Vec::new();
            let mut slot_owner = vec![usize::MAX; SLOTS];
            for (start, end, host, port) in ranges {
                let index = match addresses.iter().position(|a| *a == (host.clone(), port)) {
                    Some(i) => i,
                    None => {
                        addresses.push((host, port));
                        addresses.len() - 1
                    }
                };
                for owner in &mut slot_owner[start as usize..=end as usize] {
                    *owner = index;
                }
            }
            if slot_owner.contains(&usize::MAX) {
                return Err(Fail::new(
                    CONNECTION,
                    format!("{}: the cluster does not serve every slot", node.name),
                ));
            }
            let nodes = addresses
                .into_iter()
                .map(|(host, port)| {
                    self.connect(seed.clone().set_addr(same_scheme(seed.addr(), host, port)))
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Nodes { nodes, slot_owner });
        }
        Err(last)
    }
}

/// The slot ranges of a `CLUSTER SLOTS` reply with their primary's host and port; a primary
/// announced without a host is the seed's host.
fn parse_cluster_slots(
    reply: Value,
    seed_host: &str,
) -> std::result::Result<Vec<(u16, u16, String, u16)>, String> {
    let Value::Array(entries) = reply else {
        return Err("not an array".into());
    };
    let mut ranges = Vec::new();
    for entry in entries {
        let Value::Array(fields) = entry else {
            return Err("a range is not an array".into());
        };
        let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err("a range lacks its start, end or primary".into());
        };
        let host = match primary.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => return Err("a primary has no host".into()),
        };
        let host = if host.is_empty() || host == "?" {
            seed_host.to_string()
        } else {
            host
        };
        let Some(Value::Int(port)) = primary.get(1) else {
            return Err("a primary has no port".into());
        };
        let slot = |n: i64| u16::try_from(n).ok().filter(|&s| (s as usize) < SLOTS);
        match (slot(*start), slot(*end), u16::try_from(*port)) {
            (Some(start), Some(end), Ok(port)) if start <= end => {
                ranges.push((start, end, host, port))
            }
            _ => return Err("a slot range or port out of bounds".into()),
        }
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_hash_tag() {
        // Known values (CLUSTER KEYSLOT): the tag alone decides.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{foo}bar"), 12182);
        assert_eq!(
            key_slot(b"sf:{prod:lk:u1}chat"),
            key_slot(b"sf:{prod:lk:u1}")
        );
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(
            key_slot(b"{}foo"),
            crc16::State::<crc16::XMODEM>::calculate(b"{}foo") % 16384
        );
    }

    #[test]
    fn passwords_with_url_characters_parse_as_written() {
        let info = parse_url("redis://user:p/a?s#s@w@127.0.0.1:7000/2").unwrap();
        assert_eq!(info.redis_settings().password(), Some("p/a?s#s@w"));
        assert_eq!(info.redis_settings().username(), Some("user"));
        assert_eq!(info.redis_settings().db(), 2);
        assert_eq!(address_name(info.addr()), "127.0.0.1:7000");
    }
}
