//! Topologies of several servers: a Redis Cluster and a Sentinel setup.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

/// A Redis Cluster of real processes built with `redis-cli --cluster create`.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
    /// The CA file when the cluster speaks TLS only.
    pub ca: Option<PathBuf>,
}

impl Cluster {
    /// `masters` primaries with `replicas` replicas each, node timeout 2 s, ready to serve.
    pub fn start(masters: usize, replicas: usize) -> Cluster {
        Cluster::start_with(masters, replicas, None)
    }

    /// As `start`, TLS only (`tls-cluster`, `tls-replication`) when `certs` is given.
    pub fn start_with(masters: usize, replicas: usize, certs: Option<&TestCerts>) -> Cluster {
        let nodes: Vec<RedisServer> = (0..masters * (1 + replicas))
            .map(|_| {
                let node = RedisServer::builder().cluster_node();
                match certs {
                    Some(certs) => node.tls(certs, false).args([
                        "--tls-cluster",
                        "yes",
                        "--tls-replication",
                        "yes",
                    ]),
                    None => node,
                }
                .start()
            })
            .collect();
        let cluster = Cluster {
            nodes,
            ca: certs.map(|c| c.dir.join("ca.crt")),
        };
        let mut create = Command::new("redis-cli");
        if let Some(ca) = &cluster.ca {
            create.arg("--tls").arg("--cacert").arg(ca);
        }
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(node.addr());
        }
        let out = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_healthy();
        cluster
    }

    /// A plain connection to node `index`, for the test's own commands.
    pub fn raw(&self, index: usize) -> redis::Connection {
        self.nodes[index].raw()
    }

    /// `redis://127.0.0.1:PORT` (or `rediss://`) of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Waits until every running node sees the cluster as ok with all slots served, and every
    /// running replica is in sync with its primary.
    pub fn wait_healthy(&self) {
        wait_until("a healthy cluster", Duration::from_secs(60), || {
            self.nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.is_running())
                .all(|(i, _)| {
                    let mut conn = self.raw(i);
                    let info = try_raw(&mut conn, &["CLUSTER", "INFO"]).map(text);
                    let repl = try_raw(&mut conn, &["INFO", "replication"]).map(text);
                    let (Ok(info), Ok(repl)) = (info, repl) else {
                        return false;
                    };
                    info_field(&info, "cluster_state").as_deref() == Some("ok")
                        && info_field(&info, "cluster_slots_ok").as_deref() == Some("16384")
                        && (info_field(&repl, "role").as_deref() == Some("master")
                            || info_field(&repl, "master_link_status").as_deref() == Some("up"))
                })
        });
    }

    /// Indexes of the running nodes that are primaries.
    pub fn primaries(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .filter(|&i| {
                let repl = text(raw_cmd(&mut self.raw(i), &["INFO", "replication"]));
                info_field(&repl, "role").as_deref() == Some("master")
            })
            .collect()
    }

    /// The node id of a node.
    pub fn node_id(&self, index: usize) -> String {
        text(raw_cmd(&mut self.raw(index), &["CLUSTER", "MYID"]))
    }

    /// Moves the slot of `key` to another primary: IMPORTING/MIGRATING, every key of the slot
    /// MIGRATEd, then the slot given to the target on every primary.
    pub fn migrate_slot_of(&self, key: &str) {
        let slot = self.slot_of(key);
        let mut migration = self.begin_migration(slot);
        loop {
            let listed = raw_cmd(
                &mut migration.src,
                &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "100"],
            );
            let keys = match listed {
                redis::Value::Array(keys) => keys.into_iter().map(text).collect::<Vec<_>>(),
                other => panic!("GETKEYSINSLOT answered {other:?}"),
            };
            if keys.is_empty() {
                break;
            }
            migration.migrate(&keys);
        }
        migration.finish();
        assert_eq!(self.primary_of_slot(slot), migration.target);
    }

    /// Two uids whose link keys in `ns` share a hash slot, and that slot. The names vary in
    /// length and content, since CRC16 tells apart every two same-length names that differ in
    /// two bytes or less.
    pub fn two_uids_in_one_slot(&self, ns: &str) -> (String, String, i64) {
        let mut seen = std::collections::BTreeMap::new();
        (0..20_000u64)
            .map(|i| format!("pair-{}-{i}", i.wrapping_mul(2_654_435_761) % 1_000_003))
            .find_map(|uid| {
                let slot = self.slot_of(&format!("sf:{{{ns}:lk:{uid}}}"));
                seen.insert(slot, uid.clone())
                    .map(|first| (first, uid, slot))
            })
            .expect("two uids in one slot")
    }

    /// The hash slot of `key`, as the cluster computes it.
    pub fn slot_of(&self, key: &str) -> i64 {
        match raw_cmd(&mut self.raw(0), &["CLUSTER", "KEYSLOT", key]) {
            redis::Value::Int(slot) => slot,
            other => panic!("CLUSTER KEYSLOT answered {other:?}"),
        }
    }

    /// Starts moving `slot` from its primary to another one (IMPORTING on the target, MIGRATING
    /// on the source); the keys move with `SlotMigration::migrate`, the slot with `finish`.
    pub fn begin_migration(&self, slot: i64) -> SlotMigration<'_> {
        let source = self.primary_of_slot(slot);
        let target = self.primaries().into_iter().find(|&i| i != source).unwrap();
        let (source_id, target_id) = (self.node_id(source), self.node_id(target));
        let slot = slot.to_string();
        let mut src = self.raw(source);
        let mut dst = self.raw(target);
        raw_cmd(
            &mut dst,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id],
        );
        raw_cmd(
            &mut src,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id],
        );
        SlotMigration {
            cluster: self,
            slot,
            target,
            target_id,
            src,
            dst,
        }
    }

    /// The index of the node serving `key`'s slot as primary.
    pub fn primary_of_key(&self, key: &str) -> usize {
        self.primary_of_slot(self.slot_of(key))
    }

    /// The index of the node serving `slot` as primary, as node 0 (or the first running node)
    /// sees it.
    pub fn primary_of_slot(&self, slot: i64) -> usize {
        let asker = (0..self.nodes.len())
            .find(|&i| self.nodes[i].is_running())
            .unwrap();
        let nodes = text(raw_cmd(&mut self.raw(asker), &["CLUSTER", "NODES"]));
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !fields.get(2).is_some_and(|f| f.contains("master")) || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                match (a.parse::<i64>(), b.parse::<i64>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                let port: u16 = fields[1]
                    .split('@')
                    .next()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .expect("node address");
                return self
                    .nodes
                    .iter()
                    .position(|n| n.port == port)
                    .expect("known node");
            }
        }
        panic!("no primary serves slot {slot}");
    }

    /// The index of a replica of the primary at `primary`.
    pub fn replica_of(&self, primary: usize) -> usize {
        let id = self.node_id(primary);
        (0..self.nodes.len())
            .filter(|&i| i != primary && self.nodes[i].is_running())
            .find(|&i| {
                let nodes = text(raw_cmd(&mut self.raw(i), &["CLUSTER", "NODES"]));
                nodes
                    .lines()
                    .find(|l| l.contains("myself"))
                    .is_some_and(|l| l.split_whitespace().nth(3) == Some(id.as_str()))
            })
            .expect("a replica of the primary")
    }
}

/// A primary, its replica and three sentinels monitoring them as `mymaster`.
pub struct SentinelSetup {
    pub primary: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

pub const MASTER_NAME: &str = "mymaster";

impl SentinelSetup {
    pub fn start() -> SentinelSetup {
        let primary = RedisServer::start();
        let primary_port = primary.port.to_string();
        let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary_port]);
        let conf = format!(
            "sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
             sentinel failover-timeout {MASTER_NAME} 6000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n"
        );
        let sentinels = (0..3)
            .map(|_| RedisServer::builder().sentinel(&conf).start())
            .collect();
        let setup = SentinelSetup {
            primary,
            replica,
            sentinels,
        };
        // Ready when every sentinel knows the replica and the other sentinels.
        wait_until(
            "sentinels to discover the setup",
            Duration::from_secs(60),
            || {
                setup.sentinels.iter().all(|s| {
                    let master = try_raw(&mut s.raw(), &["SENTINEL", "MASTER", MASTER_NAME]);
                    let Ok(redis::Value::Array(fields)) = master else {
                        return false;
                    };
                    let fields: Vec<String> = fields.into_iter().map(text).collect();
                    let get = |name: &str| {
                        fields
                            .iter()
                            .position(|f| f == name)
                            .and_then(|i| fields.get(i + 1))
                            .cloned()
                    };
                    get("num-slaves").as_deref() == Some("1")
                        && get("num-other-sentinels").as_deref() == Some("2")
                })
            },
        );
        setup
    }

    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// The primary's port as the first sentinel reports it.
    pub fn reported_primary_port(&self) -> Option<u16> {
        match try_raw(
            &mut self.sentinels[0].raw(),
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
        ) {
            Ok(redis::Value::Array(fields)) if fields.len() == 2 => {
                text(fields[1].clone()).parse().ok()
            }
            _ => None,
        }
    }
}

/// A slot being moved between two primaries (`Cluster::begin_migration`): until `finish`, keys
/// already moved answer ASK on the source, the others are served where they were.
pub struct SlotMigration<'a> {
    cluster: &'a Cluster,
    slot: String,
    /// The index of the primary the slot moves to.
    pub target: usize,
    target_id: String,
    /// Connections to the source and the target primary.
    pub src: redis::Connection,
    pub dst: redis::Connection,
}

impl SlotMigration<'_> {
    /// MIGRATEs `keys` (all of the slot) from the source to the target.
    pub fn migrate(&mut self, keys: &[String]) {
        let target_port = self.cluster.nodes[self.target].port.to_string();
        let mut args = vec![
            "MIGRATE",
            "127.0.0.1",
            &target_port,
            "",
            "0",
            "5000",
            "KEYS",
        ];
        args.extend(keys.iter().map(String::as_str));
        raw_cmd(&mut self.src, &args);
    }

    /// Gives the slot to the target on every primary: from now on the source answers MOVED.
    pub fn finish(&mut self) {
        for i in self.cluster.primaries() {
            raw_cmd(
                &mut self.cluster.raw(i),
                &["CLUSTER", "SETSLOT", &self.slot, "NODE", &self.target_id],
            );
        }
    }
}
