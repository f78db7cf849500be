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
