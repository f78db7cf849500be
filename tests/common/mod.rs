//! Test support: real `redis-server` processes on free loopback ports, in temporary directories,
//! stopped (and their directories removed) when the handle drops.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use stateful_executor::{Config, Executor};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (the OS picks it; we release it for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A fresh, empty temporary directory, removed by the caller.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sf-test-{}-{}-{}",
        std::process::id(),
        tag,
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// One redis-server child process.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    extra_args: Vec<String>,
    password: Option<String>,
}

impl RedisServer {
    /// A plain server with persistence off.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// A server with extra command-line arguments (`["--requirepass", "x"]`, ...).
    pub fn start_with(extra_args: &[&str]) -> RedisServer {
        let dir = temp_dir("redis");
        let extra_args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let password = extra_args
            .iter()
            .position(|a| a == "--requirepass")
            .map(|i| extra_args[i + 1].clone());
        for _attempt in 0..5 {
            let mut server = RedisServer {
                child: None,
                port: free_port(),
                dir: dir.clone(),
                extra_args: extra_args.clone(),
                password: password.clone(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start; see logs in {}", dir.display());
    }

    /// Starts the process on `self.port` and waits until it accepts connections.
    fn spawn(&mut self) -> bool {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut cmd = Command::new(&binary);
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join(format!("redis-{}.log", self.port)))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run {binary}: {e}; install redis-server (make test does it as root)")
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false; // exited: most likely the port was taken meanwhile
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.try_ping() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    fn try_ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.admin_url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
    }

    /// `redis://127.0.0.1:PORT` (without credentials).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A URL with the server's password, for the test's own raw commands.
    pub fn admin_url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}", self.port),
            None => self.url(),
        }
    }

    /// A plain redis-rs connection for raw commands (setting up data, checking the layout).
    pub fn raw(&self) -> redis::Connection {
        let client = redis::Client::open(self.admin_url()).expect("client");
        let conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("raw connection");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    /// An executor with default settings on this server.
    pub fn executor(&self) -> Executor {
        Executor::open(&Config::new(&self.admin_url()).unwrap()).expect("open executor")
    }

    /// Kills the process (SIGKILL) without removing the directory.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port (after `kill`).
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.spawn() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    fn stop(&mut self) {
        self.kill();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id, while it runs (to stop and continue it with signals).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a raw command and returns its reply as a redis-rs value.
pub fn raw_cmd(conn: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn).expect("raw command")
}

/// DBSIZE of the server.
pub fn dbsize(conn: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(conn).unwrap()
}

// ---- helpers added for the integration suite ----

/// An executor on this server with a configuration adjusted by `configure`.
pub fn executor_with(server: &RedisServer, configure: impl FnOnce(&mut Config)) -> Executor {
    let mut config = Config::new(&server.admin_url()).unwrap();
    configure(&mut config);
    Executor::open(&config).expect("open executor")
}

/// GET of a key as raw bytes (`None` when absent).
pub fn get_raw(conn: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// GET of a key as a string (`None` when absent).
pub fn get_str(conn: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

/// HGETALL of a key, sorted by field.
pub fn hgetall(
    conn: &mut redis::Connection,
    key: &str,
) -> std::collections::BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(conn).unwrap()
}

/// TYPE of a key (`"none"` when absent).
pub fn key_type(conn: &mut redis::Connection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query(conn).unwrap()
}

/// TTL of a key in seconds (-1: no expiry, -2: no key).
pub fn ttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(conn).unwrap()
}

/// PTTL of a key in milliseconds (-1: no expiry, -2: no key).
pub fn pttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(conn).unwrap()
}

/// Every key of the database, as bytes, sorted.
pub fn all_keys(conn: &mut redis::Connection) -> std::collections::BTreeSet<Vec<u8>> {
    redis::cmd("KEYS").arg("*").query(conn).unwrap()
}

/// One key as seen from outside: its DUMP (type and content) and its PTTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub dump: Vec<u8>,
    pub pttl: i64,
}

/// DUMP and PTTL of every key of the database.
pub fn snapshot(conn: &mut redis::Connection) -> std::collections::BTreeMap<Vec<u8>, KeyState> {
    all_keys(conn)
        .into_iter()
        .map(|key| {
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(conn).unwrap();
            let pttl: i64 = redis::cmd("PTTL").arg(&key).query(conn).unwrap();
            (key, KeyState { dump, pttl })
        })
        .collect()
}

/// Asserts that two snapshots hold the same keys with the same content, and that each key kept
/// its expiry: none stays none, and a TTL only ran down by the time that passed (at most `slack`).
pub fn assert_same_data(
    before: &std::collections::BTreeMap<Vec<u8>, KeyState>,
    after: &std::collections::BTreeMap<Vec<u8>, KeyState>,
    what: &str,
) {
    let slack_ms = 10_000;
    let names = |m: &std::collections::BTreeMap<Vec<u8>, KeyState>| {
        m.keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(before),
        names(after),
        "{what}: the set of keys changed"
    );
    for (key, b) in before {
        let a = &after[key];
        let name = String::from_utf8_lossy(key);
        assert_eq!(b.dump, a.dump, "{what}: content of {name} changed");
        if b.pttl < 0 {
            assert_eq!(b.pttl, a.pttl, "{what}: expiry of {name} changed");
        } else {
            assert!(
                a.pttl > 0 && a.pttl <= b.pttl && b.pttl - a.pttl <= slack_ms,
                "{what}: TTL of {name} changed from {} ms to {} ms",
                b.pttl,
                a.pttl
            );
        }
    }
}

/// `total_commands_processed` of INFO stats (this INFO itself is not counted yet).
pub fn commands_processed(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .expect("total_commands_processed in INFO stats")
        .trim()
        .parse()
        .unwrap()
}

/// How many times `command` (lower case, e.g. `"set"`) ran since the last CONFIG RESETSTAT,
/// counting calls made from Lua scripts.
pub fn command_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// Calls of every command since start, except the bookkeeping that is not a data access: INFO
/// (the test's own reads) and CLIENT SETINFO (sent by a pool connection that finishes opening
/// in the background).
pub fn data_commands_processed(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| !l.starts_with("info:") && !l.starts_with("client|setinfo:"))
        .filter_map(|l| l.split_once(":calls="))
        .map(|(_, rest)| rest.split(',').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

// ---- Topologies: clusters, sentinels, TLS (tests/cluster.rs, sentinel.rs, tls.rs, acl.rs) ----

/// A redis-server process (server, cluster node or sentinel) started from an argument template
/// in which `{port}` and `{dir}` are replaced; killed, and its directory removed, on drop.
pub struct Proc {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    /// Text of a config file passed as the first argument (sentinels need one they can rewrite).
    conf: Option<String>,
}

impl Proc {
    /// Starts the process on a free port (trying a few ports) and waits until it is ready.
    pub fn start(tag: &str, args: &[&str], conf: Option<&str>) -> Proc {
        let dir = temp_dir(tag);
        let mut proc = Proc {
            child: None,
            port: 0,
            dir,
            args: args.iter().map(|s| s.to_string()).collect(),
            conf: conf.map(str::to_string),
        };
        for _attempt in 0..5 {
            proc.port = free_port();
            if proc.spawn() {
                return proc;
            }
        }
        panic!("{tag} did not start; see logs in {}", proc.dir.display());
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{port}", &self.port.to_string())
            .replace("{dir}", &self.dir.display().to_string())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("redis-{}.log", self.port))
    }

    /// Starts the process on `self.port`; true once its log says it is ready.
    fn spawn(&mut self) -> bool {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let log = self.log_path();
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new(&binary);
        if let Some(conf) = &self.conf {
            let path = self.dir.join("redis.conf");
            std::fs::write(&path, self.fill(conf)).expect("write config");
            cmd.arg(path);
        }
        cmd.args(self.args.iter().map(|a| self.fill(a)))
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(&log)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot run {binary}: {e}")),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false; // exited: most likely the port was taken meanwhile
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Ready to accept connections") || text.contains("+monitor master") {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// SIGKILL, keeping the directory.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A plain redis-rs connection with generous timeouts, over TLS with `ca` when given.
pub fn connect_raw(port: u16, ca: Option<&Path>, auth: Option<(&str, &str)>) -> redis::Connection {
    let scheme = if ca.is_some() { "rediss" } else { "redis" };
    let userinfo = auth.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default();
    let url = format!("{scheme}://{userinfo}127.0.0.1:{port}");
    let client = match ca {
        Some(ca) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(ca).expect("read CA")),
            },
        ),
        None => redis::Client::open(url),
    }
    .expect("client");
    let conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("raw connection");
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    conn
}

/// Runs a raw command, returning the error instead of panicking.
pub fn try_raw(conn: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn)
}

/// A reply as text (bulk or simple string), for INFO and friends.
pub fn text(value: redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::SimpleString(s) => s,
        redis::Value::VerbatimString { text, .. } => text,
        other => format!("{other:?}"),
    }
}

/// The `field:value` of an INFO-style reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Test certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1 and
/// localhost, and a client certificate, all signed by the CA; plus an unrelated CA.
pub struct TestCerts {
    pub dir: PathBuf,
}

impl TestCerts {
    pub fn generate() -> TestCerts {
        let dir = temp_dir("certs");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| panic!("cannot run openssl (install it): {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for (ca, cn) in [("ca", "sf-test-ca"), ("other-ca", "sf-other-ca")] {
            let (key, crt, subj) = (
                format!("{ca}.key"),
                format!("{ca}.crt"),
                format!("/CN={cn}"),
            );
            let mut args = vec!["req", "-x509", "-new", "-nodes"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &crt, "-days", "3", "-subj", &subj]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
            args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            run(&args);
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        for (name, cn) in [("server", "localhost"), ("client", "sf-test-client")] {
            let (key, csr, crt, ext, subj) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
                format!("{name}.ext"),
                format!("/CN={cn}"),
            );
            let mut args = vec!["req", "-new", "-nodes"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            run(&args);
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "3",
                "-extfile",
                &ext,
            ]);
        }
        TestCerts { dir }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// redis-server arguments for a TLS-only server with these certificates.
    pub fn server_args(&self, auth_clients: bool) -> Vec<String> {
        [
            "--port",
            "0",
            "--tls-port",
            "{port}",
            "--tls-cert-file",
            &self.path("server.crt"),
            "--tls-key-file",
            &self.path("server.key"),
            "--tls-ca-cert-file",
            &self.path("ca.crt"),
            "--tls-auth-clients",
            if auth_clients { "yes" } else { "no" },
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of real processes built with `redis-cli --cluster create`.
pub struct Cluster {
    pub nodes: Vec<Proc>,
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
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--dir",
            "{dir}",
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--cluster-replica-validity-factor",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match certs {
            Some(certs) => {
                args.extend(certs.server_args(false));
                args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(String::from));
            }
            None => args.extend(["--port", "{port}"].map(String::from)),
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let nodes: Vec<Proc> = (0..masters * (1 + replicas))
            .map(|_| Proc::start("cluster", &args, None))
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

    pub fn raw(&self, index: usize) -> redis::Connection {
        connect_raw(self.nodes[index].port, self.ca.as_deref(), None)
    }

    /// `redis://127.0.0.1:PORT` (or `rediss://`) of every node.
    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        self.nodes
            .iter()
            .map(|n| format!("{scheme}://127.0.0.1:{}", n.port))
            .collect()
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

    /// The index of the node serving `key`'s slot as primary.
    pub fn primary_of_key(&self, key: &str) -> usize {
        let slot = match raw_cmd(&mut self.raw(0), &["CLUSTER", "KEYSLOT", key]) {
            redis::Value::Int(slot) => slot,
            other => panic!("CLUSTER KEYSLOT answered {other:?}"),
        };
        self.primary_of_slot(slot)
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
    pub primary: Proc,
    pub replica: Proc,
    pub sentinels: Vec<Proc>,
}

pub const MASTER_NAME: &str = "mymaster";

impl SentinelSetup {
    pub fn start() -> SentinelSetup {
        let data_args = [
            "--port",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--dir",
            "{dir}",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let primary = Proc::start("primary", &data_args, None);
        let primary_port = primary.port.to_string();
        let mut replica_args = data_args.to_vec();
        replica_args.extend(["--replicaof", "127.0.0.1", &primary_port]);
        let replica = Proc::start("replica", &replica_args, None);
        let conf = format!(
            "port {{port}}\nbind 127.0.0.1\ndir {{dir}}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
             sentinel failover-timeout {MASTER_NAME} 6000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n"
        );
        let sentinels = (0..3)
            .map(|_| Proc::start("sentinel", &["--sentinel"], Some(&conf)))
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
                    let mut conn = connect_raw(s.port, None, None);
                    let master = try_raw(&mut conn, &["SENTINEL", "MASTER", MASTER_NAME]);
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
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The primary's port as the first sentinel reports it.
    pub fn reported_primary_port(&self) -> Option<u16> {
        let mut conn = connect_raw(self.sentinels[0].port, None, None);
        match try_raw(
            &mut conn,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
        ) {
            Ok(redis::Value::Array(fields)) if fields.len() == 2 => {
                text(fields[1].clone()).parse().ok()
            }
            _ => None,
        }
    }
}
