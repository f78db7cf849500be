//! One way to run a redis-server for a test: [`RedisServer`], for a plain server, a TLS-only
//! one, one on a unix socket, a cluster node or a sentinel.
//!
//! The one readiness rule: a server is ready when it answers PING on the listener the test
//! uses (TCP, TLS or unix socket). A process that exits before that (most likely because another
//! process took the port meanwhile) is started again on another port, up to five times.

use std::cell::Cell;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use stateful_executor::{Config, Executor};

use super::certs::TestCerts;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// How long a server may take to answer its first PING.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A free TCP port on 127.0.0.1 (the OS picks it; we release it for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A fresh, empty temporary directory; the caller removes it.
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

/// Where a server listens.
#[derive(Clone, Debug)]
enum Listener {
    Tcp,
    /// TLS only (`--port 0 --tls-port PORT`); clients verify with `ca` and present the client
    /// certificate when the server asks for one.
    Tls {
        ca: PathBuf,
        client: Option<(PathBuf, PathBuf)>,
    },
    /// A unix socket only (`--port 0`).
    Unix,
}

/// What to start: see [`RedisServer::builder`].
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    tag: &'static str,
    listener: Listener,
    args: Vec<String>,
    sentinel_conf: Option<String>,
    password: Option<String>,
}

impl ServerBuilder {
    /// Extra redis-server arguments; `{port}` and `{dir}` are replaced by the server's port and
    /// directory. `--requirepass X` is remembered for the test's own connections.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        if let Some(i) = self.args.iter().position(|a| a == "--requirepass") {
            self.password = self.args.get(i + 1).cloned();
        }
        self
    }

    /// TLS only, with the certificates of `certs`; `auth_clients`: clients need a certificate.
    pub fn tls(mut self, certs: &TestCerts, auth_clients: bool) -> Self {
        self.tag = "tls";
        self.listener = Listener::Tls {
            ca: certs.dir.join("ca.crt"),
            client: auth_clients
                .then(|| (certs.dir.join("client.crt"), certs.dir.join("client.key"))),
        };
        self.args.extend(certs.server_args(auth_clients));
        self
    }

    /// A unix socket only (`server.url()` is `unix:///...`).
    pub fn unix(mut self) -> Self {
        self.tag = "unix";
        self.listener = Listener::Unix;
        self
    }

    /// A node of a Redis Cluster (joined by [`super::Cluster`]).
    pub fn cluster_node(mut self) -> Self {
        self.tag = "cluster";
        self.args.extend(
            [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--cluster-replica-validity-factor",
                "0",
            ]
            .map(String::from),
        );
        self
    }

    /// A sentinel with this configuration file text (sentinels rewrite their file).
    pub fn sentinel(mut self, conf: &str) -> Self {
        self.tag = "sentinel";
        self.sentinel_conf = Some(conf.to_string());
        self
    }

    /// Starts the server and waits until it is ready.
    pub fn start(self) -> RedisServer {
        let gate = GateToken::enter();
        let dir = temp_dir(self.tag);
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir,
            spec: self,
            _gate: gate,
        };
        for _attempt in 0..5 {
            server.port = match server.spec.listener {
                Listener::Unix => 0,
                _ => free_port(),
            };
            if server.spawn() {
                return server;
            }
            server.refuse_missing_tls();
        }
        panic!(
            "{} did not start; see the log in {}",
            server.spec.tag,
            server.dir.display()
        );
    }
}

/// The server program the tests run: `$REDIS_SERVER` when set, else `valkey-server` when
/// `SF_TEST_SERVER=valkey` (the one switch for running the suite against Valkey), else
/// `redis-server`.
pub fn server_binary() -> String {
    if let Ok(binary) = std::env::var("REDIS_SERVER") {
        return binary;
    }
    match std::env::var("SF_TEST_SERVER").as_deref() {
        Ok("valkey") => "valkey-server".into(),
        Ok("redis") | Err(_) => "redis-server".into(),
        Ok(other) => panic!("SF_TEST_SERVER={other}: expected redis or valkey"),
    }
}

/// One redis-server child process in its own temporary directory; killed, and the directory
/// removed, on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// The TCP (or TLS) port; 0 for a unix socket.
    pub port: u16,
    pub dir: PathBuf,
    spec: ServerBuilder,
    _gate: Option<GateToken>,
}

impl RedisServer {
    /// A plain server with persistence off.
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// A plain server with extra arguments (`["--requirepass", "x"]`, ...).
    pub fn start_with(args: &[&str]) -> RedisServer {
        RedisServer::builder().args(args).start()
    }

    /// Any other kind of server: `RedisServer::builder().tls(&certs, false).start()`.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            tag: "redis",
            listener: Listener::Tcp,
            args: Vec::new(),
            sentinel_conf: None,
            password: None,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{port}", &self.port.to_string())
            .replace("{dir}", &self.dir.display().to_string())
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("redis-{}.log", self.port))
    }

    /// A TLS server that exited because its build has no TLS (a Valkey built without it, say)
    /// fails the test here, saying so: a TLS test never passes without TLS.
    fn refuse_missing_tls(&self) {
        if !matches!(self.spec.listener, Listener::Tls { .. }) {
            return;
        }
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        if log.contains("Failed finding TLS support") || log.contains("connection type tls") {
            panic!(
                "{} was built without TLS: run this test against a server with TLS, or skip the \
                 TLS tests (make test does when the server lacks TLS)",
                server_binary()
            );
        }
    }

    /// Starts the process on `self.port`; true once it is ready.
    fn spawn(&mut self) -> bool {
        let binary = server_binary();
        let mut cmd = Command::new(&binary);
        if let Some(conf) = &self.spec.sentinel_conf {
            let path = self.dir.join("sentinel.conf");
            std::fs::write(&path, self.fill(conf)).expect("write sentinel config");
            cmd.arg(path).arg("--sentinel");
        } else {
            cmd.args(["--save", "", "--appendonly", "no"]);
        }
        let port = self.port.to_string();
        match self.spec.listener {
            Listener::Tcp => cmd.args(["--port", &port]),
            // The TLS port is among the builder's arguments (`--tls-port {port}`).
            Listener::Tls { .. } => cmd.args(["--port", "0"]),
            Listener::Unix => cmd
                .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
                .arg(self.socket_path()),
        };
        cmd.args(["--bind", "127.0.0.1", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path())
            .args(self.spec.args.iter().map(|a| self.fill(a)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run {binary}: {e}; install redis-server (make test does it as root)")
        });
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false; // exited: most likely the port was taken meanwhile
            }
            if self.answers_ping() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    fn answers_ping(&self) -> bool {
        let Ok(client) = self.client() else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
    }

    /// The URL the library is given: `redis://127.0.0.1:PORT`, `rediss://...` or `unix://...`,
    /// without credentials.
    pub fn url(&self) -> String {
        match self.spec.listener {
            Listener::Tcp => format!("redis://127.0.0.1:{}", self.port),
            Listener::Tls { .. } => format!("rediss://127.0.0.1:{}", self.port),
            Listener::Unix => format!("unix://{}", self.socket_path().display()),
        }
    }

    /// The URL with the server's password (`--requirepass`), for the test's own connections.
    pub fn admin_url(&self) -> String {
        match (&self.spec.password, &self.spec.listener) {
            (None, _) => self.url(),
            (Some(pw), Listener::Unix) => format!("{}?pass={pw}", self.url()),
            (Some(pw), _) => self.url().replacen("://", &format!("://:{pw}@"), 1),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn client(&self) -> redis::RedisResult<redis::Client> {
        self.client_for(self.admin_url())
    }

    fn client_for(&self, url: String) -> redis::RedisResult<redis::Client> {
        match &self.spec.listener {
            Listener::Tls { ca, client } => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: client.as_ref().map(|(cert, key)| redis::ClientTlsConfig {
                        client_cert: std::fs::read(cert).expect("read client certificate"),
                        client_key: std::fs::read(key).expect("read client key"),
                    }),
                    root_cert: Some(std::fs::read(ca).expect("read CA")),
                },
            ),
            _ => redis::Client::open(url),
        }
    }

    fn connect(client: redis::RedisResult<redis::Client>) -> redis::Connection {
        let conn = client
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("raw connection");
        conn.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        conn
    }

    /// A plain redis-rs connection for the test's own commands (setting up data, checking the
    /// layout), with the server's password and TLS settings.
    pub fn raw(&self) -> redis::Connection {
        RedisServer::connect(self.client())
    }

    /// A plain connection as the ACL user `user` (TCP or TLS servers).
    pub fn raw_as(&self, user: &str, password: &str) -> redis::Connection {
        let url = self
            .url()
            .replacen("://", &format!("://{user}:{password}@"), 1);
        RedisServer::connect(self.client_for(url))
    }

    /// An executor with default settings on this server.
    pub fn executor(&self) -> Executor {
        self.executor_with(|_| {})
    }

    /// An executor on this server with a configuration adjusted by `configure`.
    pub fn executor_with(&self, configure: impl FnOnce(&mut Config)) -> Executor {
        let mut config = Config::new(&self.admin_url()).unwrap();
        if let Listener::Tls { ca, client } = &self.spec.listener {
            config.set_tls_ca_file(&ca.display().to_string()).unwrap();
            if let Some((cert, key)) = client {
                config
                    .set_tls_client_cert(&cert.display().to_string(), &key.display().to_string())
                    .unwrap();
            }
        }
        configure(&mut config);
        Executor::open(&config).expect("open executor")
    }

    /// Kills the process (SIGKILL), keeping its port and directory.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port (after `kill`).
    pub fn restart(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            if self.spawn() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process id, while it runs (to stop and continue it with signals).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- Tests that measure timings run alone ----

/// While a test holding it runs, no other test has a server (or a child process) running: call
/// `let _alone = alone();` first in a test that asserts timings (the suite shares a small
/// machine). It waits until the servers of running tests are gone and keeps other tests from
/// starting one.
pub fn alone() -> Alone {
    let mut state = gate_state();
    while state.alone {
        state = GATE.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
    state.alone = true;
    ALONE_HERE.with(|a| a.set(true));
    // Bounded: a test that starts servers from several threads could otherwise wait forever.
    let deadline = Instant::now() + Duration::from_secs(120);
    while state.shared > 0 && Instant::now() < deadline {
        state = GATE
            .changed
            .wait_timeout(state, Duration::from_millis(200))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    Alone(())
}

/// See [`alone`].
pub struct Alone(());

impl Drop for Alone {
    fn drop(&mut self) {
        ALONE_HERE.with(|a| a.set(false));
        gate_state().alone = false;
        GATE.changed.notify_all();
    }
}

struct GateState {
    /// Servers running for tests that do not run alone.
    shared: usize,
    /// A test runs alone (or waits to).
    alone: bool,
}

struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

static GATE: Gate = Gate {
    state: Mutex::new(GateState {
        shared: 0,
        alone: false,
    }),
    changed: Condvar::new(),
};

thread_local! {
    /// This test thread runs alone.
    static ALONE_HERE: Cell<bool> = const { Cell::new(false) };
    /// Servers this test thread started and still holds (a test that already has a server
    /// may start more without waiting: otherwise it and a test waiting to run alone would wait
    /// for each other).
    static HELD_HERE: Cell<usize> = const { Cell::new(0) };
}

fn gate_state() -> MutexGuard<'static, GateState> {
    GATE.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The share of the gate of a running server (or of a test's child process, see
/// [`super::own_process`]).
pub(super) struct GateToken {
    owner: ThreadId,
}

impl GateToken {
    pub(super) fn enter() -> Option<GateToken> {
        if ALONE_HERE.with(Cell::get) {
            return None;
        }
        let mut state = gate_state();
        if HELD_HERE.with(Cell::get) == 0 {
            while state.alone {
                state = GATE.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        }
        state.shared += 1;
        HELD_HERE.with(|h| h.set(h.get() + 1));
        Some(GateToken {
            owner: thread::current().id(),
        })
    }
}

impl Drop for GateToken {
    fn drop(&mut self) {
        if thread::current().id() == self.owner {
            HELD_HERE.with(|h| h.set(h.get().saturating_sub(1)));
        }
        gate_state().shared -= 1;
        GATE.changed.notify_all();
    }
}
