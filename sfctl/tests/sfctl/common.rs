//! What the sfctl tests share: running the sfctl binary, a standalone server or a 3-primary
//! cluster (from the library's test harness), raw access to the data behind sfctl's back.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};

use redis::ConnectionLike;
use serde_json::Value as Json;
use stateful_executor::{Config, Executor};

use crate::harness::{Cluster, RedisServer};

/// The sfctl binary cargo built for these tests, or the one `SFCTL_BIN` names (to measure the
/// release build: `SFCTL_BIN=target/release/sfctl cargo test -p sfctl drain_of_100k`).
fn sfctl_binary() -> String {
    std::env::var("SFCTL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sfctl").to_string())
}

/// How one run of sfctl ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The JSON objects of stdout, one per line.
    pub fn json(&self) -> Vec<Json> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{self:?}"))
            })
            .collect()
    }

    /// The one JSON object of stdout.
    pub fn object(&self) -> Json {
        let mut all = self.json();
        assert_eq!(all.len(), 1, "one JSON object expected: {self:?}");
        all.remove(0)
    }

    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code of sfctl: {self:?}");
        self
    }
}

/// Runs sfctl with `args` (no REDIS_URL from the environment).
pub fn sfctl<S: AsRef<str>>(args: &[S]) -> Run {
    Run::from(
        command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run sfctl"),
    )
}

/// The command line of sfctl with `args`, to spawn.
pub fn command<S: AsRef<str>>(args: &[S]) -> Command {
    let mut cmd = Command::new(sfctl_binary());
    cmd.env_remove("REDIS_URL")
        .env_remove("SF_PIPELINING")
        .args(args.iter().map(AsRef::as_ref));
    cmd
}

/// A standalone server or a 3-primary cluster, with what a test needs of either.
pub enum Setup {
    Standalone(RedisServer),
    Cluster(Cluster),
}

impl Setup {
    pub fn standalone() -> Setup {
        Setup::Standalone(RedisServer::start())
    }

    pub fn cluster() -> Setup {
        Setup::Cluster(Cluster::start(3, 0))
    }

    /// sfctl's connection flags for it.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Setup::Standalone(server) => vec!["--url".into(), server.url()],
            // Two seeds of three: sfctl finds the third primary itself.
            Setup::Cluster(cluster) => vec!["--cluster".into(), cluster.urls()[..2].join(",")],
        }
    }

    /// Runs sfctl against it.
    pub fn sfctl(&self, args: &[&str]) -> Run {
        let mut all = self.flags();
        all.extend(args.iter().map(|a| a.to_string()));
        sfctl(&all)
    }

    pub fn executor(&self) -> Executor {
        let config = match self {
            Setup::Standalone(server) => Config::new(&server.url()),
            Setup::Cluster(cluster) => Config::cluster(&cluster.urls()),
        };
        Executor::open(&config.unwrap()).expect("open executor")
    }

    /// A plain connection that reaches every key (routed by slot on a cluster).
    pub fn conn(&self) -> Box<dyn ConnectionLike> {
        match self {
            Setup::Standalone(server) => Box::new(server.raw()),
            Setup::Cluster(cluster) => Box::new(
                redis::cluster::ClusterClient::new(cluster.urls())
                    .unwrap()
                    .get_connection()
                    .unwrap(),
            ),
        }
    }

    /// Plain connections to every primary.
    pub fn primaries(&self) -> Vec<redis::Connection> {
        match self {
            Setup::Standalone(server) => vec![server.raw()],
            Setup::Cluster(cluster) => cluster
                .primaries()
                .into_iter()
                .map(|i| cluster.raw(i))
                .collect(),
        }
    }

    /// Every key, as text.
    pub fn keys(&self) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for mut conn in self.primaries() {
            let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
            all.extend(keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()));
        }
        all
    }

    /// Every key with its type, content and PTTL.
    pub fn snapshot(&self) -> BTreeMap<String, Stored> {
        let mut conn = self.conn();
        self.keys()
            .into_iter()
            .map(|key| {
                let stored = read_key(conn.as_mut(), &key);
                (key, stored)
            })
            .collect()
    }

    /// Starts watching every primary for connections and commands (see [`Watch`]).
    pub fn watch(&self) -> Watch {
        let mut conns = self.primaries();
        let (connections, commands) = Watch::totals(&mut conns);
        Watch {
            conns,
            connections,
            commands,
        }
    }

    /// Writes many links quickly: raw pipelines of the data model's commands, `(uid, pod,
    /// ttl)` in namespace `ns` for `service` (persistent without a TTL).
    pub fn write_links(&self, ns: &str, service: &str, links: &[(String, i32, Option<u32>)]) {
        let commands = |chunk: &[(String, i32, Option<u32>)]| {
            chunk
                .iter()
                .flat_map(|(uid, pod, ttl)| link_commands(ns, uid, service, *pod, *ttl))
                .collect::<Vec<_>>()
        };
        match self {
            Setup::Standalone(server) => {
                let mut conn = server.raw();
                for chunk in links.chunks(2000) {
                    let mut pipe = redis::pipe();
                    for cmd in commands(chunk) {
                        pipe.add_command(cmd).ignore();
                    }
                    pipe.query::<()>(&mut conn).unwrap();
                }
            }
            Setup::Cluster(cluster) => {
                let mut conn = redis::cluster::ClusterClient::new(cluster.urls())
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for chunk in links.chunks(2000) {
                    let mut pipe = redis::cluster::cluster_pipe();
                    for cmd in commands(chunk) {
                        pipe.add_command(cmd).ignore();
                    }
                    pipe.query::<()>(&mut conn).unwrap();
                }
            }
        }
    }
}

/// The commands that write one link as the data model lays it out.
fn link_commands(
    ns: &str,
    uid: &str,
    service: &str,
    pod: i32,
    ttl: Option<u32>,
) -> Vec<redis::Cmd> {
    let link = stateful_executor::keys::link_key(ns, uid, service);
    let hash = stateful_executor::keys::uid_links_key(ns, uid);
    match ttl {
        None => vec![
            redis::cmd("HSET").arg(&hash).arg(service).arg(pod).clone(),
            redis::cmd("SET").arg(&link).arg(pod).clone(),
        ],
        Some(ttl) => vec![redis::cmd("SET")
            .arg(&link)
            .arg(pod)
            .arg("EX")
            .arg(ttl)
            .clone()],
    }
}

/// A key as stored: its type, its content (a string's value, a hash's fields) and its PTTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub kind: String,
    pub string: Option<Vec<u8>>,
    pub hash: BTreeMap<Vec<u8>, Vec<u8>>,
    pub pttl: i64,
}

pub fn read_key(conn: &mut dyn ConnectionLike, key: &str) -> Stored {
    let kind: String = redis::cmd("TYPE").arg(key).query(conn).unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg(key).query(conn).unwrap();
    let mut stored = Stored {
        kind: kind.clone(),
        string: None,
        hash: BTreeMap::new(),
        pttl,
    };
    match kind.as_str() {
        "string" => stored.string = redis::cmd("GET").arg(key).query(conn).unwrap(),
        "hash" => stored.hash = redis::cmd("HGETALL").arg(key).query(conn).unwrap(),
        _ => {}
    }
    stored
}

/// GET of a key as text.
pub fn get(conn: &mut dyn ConnectionLike, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// HGET as text.
pub fn hget(conn: &mut dyn ConnectionLike, key: &str, field: &str) -> Option<String> {
    redis::cmd("HGET").arg(key).arg(field).query(conn).unwrap()
}

/// PTTL of a key.
pub fn pttl(conn: &mut dyn ConnectionLike, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(conn).unwrap()
}

/// Runs a raw command, ignoring its reply.
pub fn raw(conn: &mut dyn ConnectionLike, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<redis::Value>(conn).unwrap();
}

/// Whether every link of `uids` (for `service`) is whole: absent with no hash field, or
/// persistent and listed with the same pod, or temporary and not listed.
pub fn assert_links_whole(setup: &Setup, ns: &str, service: &str, uids: &[String]) {
    let mut conn = setup.conn();
    for uid in uids {
        let link = stateful_executor::keys::link_key(ns, uid, service);
        let hash = stateful_executor::keys::uid_links_key(ns, uid);
        let value = get(conn.as_mut(), &link);
        let field = hget(conn.as_mut(), &hash, service);
        let ttl = pttl(conn.as_mut(), &link);
        match (&value, ttl) {
            (None, _) => assert_eq!(field, None, "{uid}: hash field without link"),
            (Some(v), -1) => {
                assert_eq!(field.as_ref(), Some(v), "{uid}: persistent link not listed")
            }
            (Some(_), _) => assert_eq!(field, None, "{uid}: temporary link listed"),
        }
    }
}

/// The connections every primary accepted and the commands it ran, from connections opened
/// before counting (so the counting itself adds none).
pub struct Watch {
    conns: Vec<redis::Connection>,
    connections: u64,
    commands: u64,
}

impl Watch {
    fn totals(conns: &mut [redis::Connection]) -> (u64, u64) {
        let connections = conns
            .iter_mut()
            .map(|c| crate::harness::info_u64(c, "stats", "total_connections_received"))
            .sum();
        let commands = conns
            .iter_mut()
            .map(crate::harness::data_commands_processed)
            .sum();
        (connections, commands)
    }

    /// Asserts that no connection was opened and no command run since the watch started.
    #[track_caller]
    pub fn assert_untouched(&mut self, what: &str) {
        let (connections, commands) = Watch::totals(&mut self.conns);
        assert_eq!(connections, self.connections, "{what}: connected to Redis");
        assert_eq!(commands, self.commands, "{what}: ran commands");
    }
}
