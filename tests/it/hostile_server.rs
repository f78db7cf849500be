//! Misbehaving servers: a scripted fake Redis on loopback (written here, in Rust) answers the
//! library normally, except for the keys of a "hostile" uid, which get whatever the test
//! scripts: lengths that would allocate gigabytes, nesting that would overflow the stack,
//! replies trickled byte by byte, endless lines and arrays, broken framing, stalled handshakes.
//!
//! Each case checks the status, that the call ended within the README's bound (W + C + T),
//! that the process's memory peak grew by a bounded amount, and that the next calls on the same
//! executor get their own answers. Run with `--nocapture` to see the figures. Each test runs
//! alone (times are asserted) and in a process of its own (memory is measured process-wide).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{alone, bulk, own_process, parse_command, well_behaved_reply};
use stateful_executor::{Config, ErrorKind, Executor};

// Generous for a loaded 2-core machine; the cases about connecting use `SHORT_C`.
const W: Duration = Duration::from_millis(2000);
const C: Duration = Duration::from_millis(1000);
const T: Duration = Duration::from_millis(1000);
const SHORT_C: Duration = Duration::from_millis(300);
const MIB: u64 = 1024 * 1024;

// ---- memory ----

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The process's resident memory now, and the peak since `reset_peak`.
fn rss() -> u64 {
    status_kib("VmRSS:") * 1024
}

fn peak() -> u64 {
    status_kib("VmHWM:") * 1024
}

fn reset_peak() {
    // "5" resets the peak resident set size (VmHWM) to the current one.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

/// VmRSS once the allocator has returned its free memory: what the process really holds.
fn trimmed_rss() -> u64 {
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
    rss()
}

/// Measures the growth of the memory peak over `run`.
fn peak_growth<T>(run: impl FnOnce() -> T) -> (T, u64) {
    reset_peak();
    let before = rss();
    let out = run();
    (out, peak().saturating_sub(before))
}

// ---- the fake server ----

/// What the server does with a GET or MGET that names the hostile uid.
#[derive(Clone)]
enum Hostile {
    /// These bytes, at once.
    Bytes(Vec<u8>),
    /// Chunks, each after its pause.
    Timed(Vec<(Duration, Vec<u8>)>),
    /// These bytes one at a time, one every `every`.
    Trickle(Vec<u8>, Duration),
    /// `head`, then `chunk` again and again (with `pause` between) until the client leaves.
    Endless {
        head: Vec<u8>,
        chunk: Vec<u8>,
        pause: Duration,
    },
}

const HOSTILE_UID: &str = "evil";

struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Bytes written by hostile answers.
    hostile_bytes: Arc<AtomicU64>,
    /// The arguments of the last AUTH.
    last_auth: Arc<Mutex<Vec<String>>>,
}

struct Session {
    hostile: Hostile,
    /// Accepted connections with these indexes (0 = the first) never answer.
    stalled: Vec<usize>,
    hostile_bytes: Arc<AtomicU64>,
    last_auth: Arc<Mutex<Vec<String>>>,
}

impl FakeServer {
    fn start(hostile: Hostile) -> FakeServer {
        FakeServer::start_with(hostile, Vec::new())
    }

    fn start_with(hostile: Hostile, stalled: Vec<usize>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let hostile_bytes = Arc::new(AtomicU64::new(0));
        let last_auth = Arc::new(Mutex::new(Vec::new()));
        let session = Arc::new(Session {
            hostile,
            stalled,
            hostile_bytes: Arc::clone(&hostile_bytes),
            last_auth: Arc::clone(&last_auth),
        });
        {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let index = accepted.fetch_add(1, Ordering::SeqCst);
                            let session = Arc::clone(&session);
                            let stop = Arc::clone(&stop);
                            thread::spawn(move || serve(stream, index, &session, &stop));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
        }
        FakeServer {
            port,
            stop,
            accepted,
            hostile_bytes,
            last_auth,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn config(&self) -> Config {
        config(&self.url())
    }

    fn executor(&self) -> Executor {
        Executor::open(&self.config()).expect("open on the fake server")
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn config(url: &str) -> Config {
    let mut config = Config::new(url).unwrap();
    config
        .set_pool_wait_timeout(W)
        .unwrap()
        .set_connect_timeout(C)
        .unwrap()
        .set_command_timeout(T)
        .unwrap()
        .set_pool_max_size(4)
        .unwrap();
    config
}

/// Reads client commands (RESP arrays of bulk strings) and answers them, until the client
/// leaves or the server stops.
fn serve(mut stream: TcpStream, index: usize, session: &Session, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _ = stream.set_nodelay(true);
    let stalled = session.stalled.contains(&index);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        while let Some((args, used)) = parse_command(&buf) {
            buf.drain(..used);
            if stalled {
                continue;
            }
            if answer(&mut stream, &args, session, stop).is_err() {
                return;
            }
        }
    }
}

/// The value the fake server holds at a key: a link key `sf:{ns:lk:uN}svc` holds pod N, a
/// workload key `sf:{ns:workload:svc}` holds "state-of-svc".
fn own_value(key: &[u8]) -> Vec<u8> {
    let key = String::from_utf8_lossy(key);
    if let Some(rest) = key.split(":lk:u").nth(1) {
        return rest.split('}').next().unwrap().as_bytes().to_vec();
    }
    if let Some(rest) = key.split(":workload:").nth(1) {
        return format!("state-of-{}", rest.trim_end_matches('}')).into_bytes();
    }
    b"?".to_vec()
}

fn answer(
    stream: &mut TcpStream,
    args: &[Vec<u8>],
    session: &Session,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let hostile = args[1..]
        .iter()
        .any(|a| String::from_utf8_lossy(a).contains(HOSTILE_UID));
    if hostile && (name == "GET" || name == "MGET") {
        return play(stream, &session.hostile, &session.hostile_bytes, stop);
    }
    if name == "AUTH" {
        *session.last_auth.lock().unwrap() = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
    }
    let reply = well_behaved_reply(args, own_value);
    stream.write_all(&reply)
}

fn play(
    stream: &mut TcpStream,
    hostile: &Hostile,
    sent: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut write = |bytes: &[u8]| -> std::io::Result<()> {
        stream.write_all(bytes)?;
        sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    };
    match hostile {
        Hostile::Bytes(bytes) => write(bytes),
        Hostile::Timed(chunks) => {
            for (pause, bytes) in chunks {
                thread::sleep(*pause);
                write(bytes)?;
            }
            Ok(())
        }
        Hostile::Trickle(bytes, every) => {
            for byte in bytes {
                write(&[*byte])?;
                thread::sleep(*every);
            }
            Ok(())
        }
        Hostile::Endless { head, chunk, pause } => {
            write(head)?;
            // Until the client closes (the write fails) or the test ends.
            while !stop.load(Ordering::Relaxed) {
                write(chunk)?;
                if !pause.is_zero() {
                    thread::sleep(*pause);
                }
            }
            Ok(())
        }
    }
}

// ---- checks ----

/// The README's bound for one call: pool wait + connect + command timeout.
fn bound() -> Duration {
    W + C + T
}

/// Uid `u{n}` is linked to pod n on the fake server.
fn check_own_answers(executor: &Executor, what: &str) {
    for n in 0..12 {
        let uid = format!("u{n}");
        assert_eq!(
            executor.get_linked_pod("ns", &uid, "svc").unwrap(),
            Some(n),
            "{what}: a later call got another call's answer"
        );
    }
    let uids: Vec<String> = (20..30).map(|n| format!("u{n}")).collect();
    let pods = executor.batch_get_linked_pods("ns", "svc", &uids).unwrap();
    assert_eq!(
        pods,
        (20..30).map(Some).collect::<Vec<_>>(),
        "{what}: batch"
    );
}

/// One hostile GET (through `get_linked_pod`): its status, time and memory peak growth.
fn hostile_get(executor: &Executor) -> (ErrorKind, Duration, u64) {
    let ((outcome, elapsed), grown) = peak_growth(|| {
        let started = Instant::now();
        let outcome = executor.get_linked_pod("ns", HOSTILE_UID, "svc");
        (outcome, started.elapsed())
    });
    let kind = match outcome {
        Ok(pod) => panic!("a hostile reply was accepted: {pod:?}"),
        Err(err) => {
            println!(
                "  -> {err} after {elapsed:?}, memory peak +{} KiB",
                grown / 1024
            );
            err.kind()
        }
    };
    (kind, elapsed, grown)
}

/// Runs one hostile reply case: expected status, within the bound, peak growth below
/// `max_growth`, then the next calls get their own answers.
fn case(what: &str, hostile: Hostile, expected: ErrorKind, max_growth: u64) -> FakeServer {
    println!("{what}");
    let server = FakeServer::start(hostile);
    let executor = server.executor();
    check_own_answers(&executor, what);
    let (kind, elapsed, grown) = hostile_get(&executor);
    assert_eq!(kind, expected, "{what}");
    assert!(
        elapsed < bound(),
        "{what}: took {elapsed:?}, bound {:?}",
        bound()
    );
    assert!(
        grown < max_growth,
        "{what}: memory peak grew by {} MiB",
        grown / MIB
    );
    check_own_answers(&executor, what);
    server
}

// ---- the cases ----

#[test]
fn announced_lengths_allocate_nothing() {
    let _alone = alone();
    if !own_process("hostile_server::announced_lengths_allocate_nothing") {
        return;
    }
    for header in [
        "$1000000000000000\r\n",
        "$9223372036854775806\r\n",
        "$1500000000\r\n",
        "$-7\r\n",
    ] {
        case(
            &format!("bulk header {header:?}"),
            Hostile::Bytes(header.as_bytes().to_vec()),
            ErrorKind::UnexpectedReply,
            16 * MIB,
        );
    }
    // Within Redis's limit but never sent: a timeout, and memory only for what arrived (1 MiB).
    let mut partial = b"$500000000\r\n".to_vec();
    partial.extend(std::iter::repeat_n(b'x', MIB as usize));
    case(
        "bulk of 500 MB announced, 1 MiB sent",
        Hostile::Bytes(partial),
        ErrorKind::Timeout,
        16 * MIB,
    );
}

#[test]
fn deep_and_wide_nesting_is_refused_without_recursion() {
    let _alone = alone();
    if !own_process("hostile_server::deep_and_wide_nesting_is_refused_without_recursion") {
        return;
    }
    // On a 256 KiB stack: 30,000 levels would overflow any recursive decoder.
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            case(
                "30,000 nested *1",
                Hostile::Bytes(b"*1\r\n".repeat(30_000)),
                ErrorKind::UnexpectedReply,
                16 * MIB,
            );
        })
        .unwrap()
        .join()
        .unwrap();
    case(
        "*100000000 nested 2,000 deep",
        Hostile::Bytes(b"*100000000\r\n".repeat(2_000)),
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
}

#[test]
fn a_trickled_reply_ends_at_the_command_timeout() {
    let _alone = alone();
    if !own_process("hostile_server::a_trickled_reply_ends_at_the_command_timeout") {
        return;
    }
    // A valid reply, one byte every 200 ms: each read succeeds, the command does not.
    case(
        "reply trickled 1 byte per 200 ms",
        Hostile::Trickle(b"$1\r\n7\r\n".to_vec(), Duration::from_millis(200)),
        ErrorKind::Timeout,
        16 * MIB,
    );
    case(
        "reply trickled 1 byte per 20 ms",
        Hostile::Trickle(bulk(&[b'x'; 100]), Duration::from_millis(20)),
        ErrorKind::Timeout,
        16 * MIB,
    );
}

#[test]
fn endless_lines_and_arrays_are_bounded() {
    let _alone = alone();
    if !own_process("hostile_server::endless_lines_and_arrays_are_bounded") {
        return;
    }
    case(
        "a line that never ends",
        Hostile::Endless {
            head: b"+".to_vec(),
            chunk: vec![b'a'; 64 * 1024],
            pause: Duration::ZERO,
        },
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
    // An array that never ends, at about 80 MB/s: the call ends at T, having buffered what
    // arrived by then (at most twice that, by buffer doubling).
    let server = case(
        "an array that never ends",
        Hostile::Endless {
            head: b"*1000000000\r\n".to_vec(),
            chunk: b":1\r\n".repeat(100_000),
            pause: Duration::from_millis(5),
        },
        ErrorKind::Timeout,
        256 * MIB,
    );
    let sent = server.hostile_bytes.load(Ordering::Relaxed);
    println!("  (the server sent {} MiB in all)", sent / MIB);
}

#[test]
fn error_elements_and_broken_framing_never_leak_into_the_next_call() {
    let _alone = alone();
    if !own_process(
        "hostile_server::error_elements_and_broken_framing_never_leak_into_the_next_call",
    ) {
        return;
    }
    // An error element inside the array, the tail after the command timeout.
    case(
        "*2, an error element, the tail 1.5 s later",
        Hostile::Timed(vec![
            (Duration::ZERO, b"*2\r\n-ERR x\r\n".to_vec()),
            (Duration::from_millis(1500), b"$1\r\n5\r\n".to_vec()),
        ]),
        ErrorKind::Timeout,
        16 * MIB,
    );
    // The same with the tail in time: a whole reply with an error element, refused.
    case(
        "*2, an error element, the tail 100 ms later",
        Hostile::Timed(vec![
            (Duration::ZERO, b"*2\r\n-ERR x\r\n".to_vec()),
            (Duration::from_millis(100), b"$1\r\n5\r\n".to_vec()),
        ]),
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
    case(
        "no CRLF after a bulk string",
        Hostile::Bytes(b"$1\r\n3:9\r\n".to_vec()),
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
    case(
        "a second reply after the reply",
        Hostile::Bytes(b"$1\r\n3\r\n$1\r\n9\r\n".to_vec()),
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
    case(
        "a RESP3 type",
        Hostile::Bytes(b"%1\r\n+a\r\n+b\r\n".to_vec()),
        ErrorKind::UnexpectedReply,
        16 * MIB,
    );
    case(
        "the server stops mid-reply",
        Hostile::Bytes(b"$10\r\n01234".to_vec()),
        ErrorKind::Timeout,
        16 * MIB,
    );
}

#[test]
fn large_values_do_not_pin_memory() {
    let _alone = alone();
    if !own_process("hostile_server::large_values_do_not_pin_memory") {
        return;
    }
    // A 64 MiB workload state read on 4 connections at once, then nothing: idle connections
    // must give the read buffers back.
    let big = vec![b's'; 64 * MIB as usize];
    let server = FakeServer::start(Hostile::Bytes(bulk(&big)));
    let mut config = server.config();
    config.set_command_timeout(Duration::from_secs(60)).unwrap();
    let executor = Executor::open(&config).unwrap();
    let before = trimmed_rss();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let state = executor.get_workload_state("ns", HOSTILE_UID).unwrap();
                assert_eq!(state.map(|s| s.len()), Some(64 * MIB as usize));
            });
        }
    });
    let after = trimmed_rss();
    println!(
        "VmRSS {} MiB before, {} MiB after four 64 MiB reads",
        before / MIB,
        after / MIB
    );
    // Each connection's buffer grew to 128 MiB (doubling past 64 MiB): kept, the four would
    // hold 512 MiB. What remains is the allocator's (it varies from run to run, 4 to 52 MiB
    // seen), well under one such buffer.
    assert!(
        after < before + 96 * MIB,
        "idle connections keep {} MiB",
        (after - before) / MIB
    );
    check_own_answers(&executor, "after large values");
}

#[test]
fn a_silent_handshake_fails_the_open_at_the_connect_timeout() {
    let _alone = alone();
    if !own_process("hostile_server::a_silent_handshake_fails_the_open_at_the_connect_timeout") {
        return;
    }
    let server = FakeServer::start_with(Hostile::Bytes(Vec::new()), (0..100).collect());
    let mut config = server.config();
    config.set_connect_timeout(SHORT_C).unwrap();
    let started = Instant::now();
    let err = Executor::open(&config).unwrap_err();
    let elapsed = started.elapsed();
    println!("open on a silent server: {err} after {elapsed:?}");
    assert_eq!(err.kind(), ErrorKind::Connection);
    // Far below any hang; the margin is for a loaded machine (it prints about 300 ms).
    assert!(elapsed < SHORT_C + Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn stalled_handshakes_cannot_starve_the_pool() {
    let _alone = alone();
    if !own_process("hostile_server::stalled_handshakes_cannot_starve_the_pool") {
        return;
    }
    // The executor's own first connection (0) works; the pool's next three never answer their
    // handshake, occupying all three of the pool's connecting threads.
    let server = FakeServer::start_with(Hostile::Bytes(Vec::new()), vec![1, 2, 3]);
    let mut config = server.config();
    let wait = Duration::from_millis(4000);
    config.set_pool_wait_timeout(wait).unwrap();
    // The pool's connecting threads are what this is about (pipelining opens its shared
    // connection inside a call, within the command's deadline).
    config.set_pipelining(false);
    let executor = Executor::open(&config).unwrap();
    let started = Instant::now();
    thread::scope(|s| {
        for n in 0..3 {
            let executor = &executor;
            s.spawn(move || {
                let pod = executor.get_linked_pod("ns", &format!("u{n}"), "svc");
                let elapsed = started.elapsed();
                println!("call {n} beside stalled handshakes: {pod:?} after {elapsed:?}");
                // The stalled handshakes give up at C; the pool's retries then connect.
                assert_eq!(pod.unwrap(), Some(n));
                assert!(elapsed < wait + C + T, "{elapsed:?}");
            });
        }
    });
    check_own_answers(&executor, "after stalled handshakes");
    assert!(server.accepted.load(Ordering::SeqCst) >= 5);
}

#[cfg(unix)]
#[test]
fn a_unix_socket_with_a_full_backlog_fails_at_the_connect_timeout() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let _alone = alone();
    if !own_process(
        "hostile_server::a_unix_socket_with_a_full_backlog_fails_at_the_connect_timeout",
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sf-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("full.sock");
    let _ = std::fs::remove_file(&path);
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    listener.listen(0).unwrap();
    // Fill the backlog: connects that nobody accepts, until one would block.
    let mut fillers = Vec::new();
    loop {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        match socket.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => fillers.push(socket),
            Err(_) => break,
        }
        assert!(fillers.len() < 1000, "the backlog never filled");
    }
    let started = Instant::now();
    let mut config = config(&format!("unix://{}", path.display()));
    config.set_connect_timeout(SHORT_C).unwrap();
    let err = Executor::open(&config).unwrap_err();
    let elapsed = started.elapsed();
    println!("open on a full unix socket: {err} after {elapsed:?}");
    assert_eq!(err.kind(), ErrorKind::Connection);
    // Far below any hang; the margin is for a loaded machine (it prints about 300 ms).
    assert!(elapsed < SHORT_C + Duration::from_secs(2), "{elapsed:?}");
    drop(fillers);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_password_with_a_slash_logs_in_and_never_shows() {
    let _alone = alone();
    if !own_process("hostile_server::a_password_with_a_slash_logs_in_and_never_shows") {
        return;
    }
    let server = FakeServer::start(Hostile::Bytes(Vec::new()));
    let url = format!("redis://user:pa/ss@127.0.0.1:{}", server.port);
    let executor = Executor::open(&config(&url)).unwrap();
    assert_eq!(
        *server.last_auth.lock().unwrap(),
        vec!["user".to_string(), "pa/ss".to_string()]
    );
    assert!(!format!("{:?}", executor.config()).contains("pa/ss"));
    check_own_answers(&executor, "password with a slash");
    let err = Config::new("redis://user:pa/ss@127.0.0.1:notaport").unwrap_err();
    assert!(!err.message().contains("pa/ss"), "{err}");
}
