//! The invalidation listeners: one thread and one connection per primary, and a watcher thread
//! that looks at the topology every [`HEARTBEAT`] (the primaries the sentinels name, the
//! cluster's slot map) and starts or stops listeners to match.
//!
//! A listener connects as every connection of the library does (TCP, unix socket or TLS;
//! AUTH, SELECT), then, in RESP2:
//!
//! ```text
//! CLIENT ID                                                   -> its own id
//! CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX sf:           -> +OK
//! SUBSCRIBE __redis__:invalidate                              -> subscribed
//! ```
//!
//! From then on Redis sends, on this connection, the name of every key under `sf:` that any
//! client changes (or that expires or is evicted), and a nil for FLUSHALL/FLUSHDB. A `PING`
//! every heartbeat, one at a time, proves the stream alive and in step (see `cache/mod.rs`).
//! No answer within the command timeout, a closed or broken connection, or anything but these
//! messages: the connection is dropped, the cache flushed and bypassed, and the listener
//! connects again (after 50 ms, doubling up to 1 s while it fails).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{refusal, ClientCache, HEARTBEAT, TRACKED_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::resp::{self, Frame, Reply};
use crate::transport::{Deadline, ListenNode, ListenTargets, Plain, Stream};

const CHANNEL: &[u8] = b"__redis__:invalidate";
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(1);

/// What the threads share: the cache, the stop signal, and the sockets to end at stop.
struct Shared {
    cache: Arc<ClientCache>,
    stopping: AtomicBool,
    /// Guards the waits of the threads between steps (a stop wakes them).
    pause: Mutex<()>,
    wake: Condvar,
    /// A second handle to each listener's socket, by listener: shut down at stop, so that a
    /// thread blocked reading wakes at once.
    sockets: Mutex<HashMap<u64, Stream>>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sleeps `pause`, or less when asked to stop; returns whether to stop.
    fn sleep(&self, pause: Duration, also: &AtomicBool) -> bool {
        let deadline = Instant::now() + pause;
        let mut guard = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stopped() || also.load(Ordering::Acquire) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn wake_all(&self) {
        let _guard = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }
}

/// The running listeners of one executor's cache; stopped (threads joined) when dropped.
pub(crate) struct Listeners {
    shared: Arc<Shared>,
    watcher: Option<JoinHandle<()>>,
}

impl Listeners {
    /// Starts the watcher, which starts a listener per primary at once.
    pub(crate) fn start(
        cache: Arc<ClientCache>,
        targets: ListenTargets,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<Listeners> {
        let shared = Arc::new(Shared {
            cache,
            stopping: AtomicBool::new(false),
            pause: Mutex::new(()),
            wake: Condvar::new(),
            sockets: Mutex::new(HashMap::new()),
            connect_timeout,
            command_timeout,
        });
        let watcher_shared = Arc::clone(&shared);
        let watcher = std::thread::Builder::new()
            .name("sf-cache-watch".into())
            .spawn(move || watch(&watcher_shared, targets))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("client cache: cannot start a thread: {e}"),
                )
            })?;
        Ok(Listeners {
            shared,
            watcher: Some(watcher),
        })
    }

    /// Stops every thread and waits for them to exit.
    pub(crate) fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        for socket in self
            .shared
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            socket.shutdown();
        }
        self.shared.wake_all();
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listener thread the watcher runs.
struct Running {
    id: u64,
    generation: u64,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Running {
    /// Asks the thread to stop (waking it if it is reading) and returns it, to be joined.
    fn stop(self, shared: &Shared) -> JoinHandle<()> {
        self.stop.store(true, Ordering::Release);
        if let Some(socket) = shared
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.id)
        {
            socket.shutdown();
        }
        self.thread
    }
}

/// The watcher: looks at the topology every heartbeat, keeps one listener per primary.
fn watch(shared: &Arc<Shared>, mut targets: ListenTargets) {
    let mut running: HashMap<String, Running> = HashMap::new();
    // Listeners of nodes gone, stopping; joined once finished, all of them before returning
    // (so that closing the executor returns only after every thread of it exited).
    let mut retired: Vec<JoinHandle<()>> = Vec::new();
    let mut last: Option<crate::transport::Primaries> = None;
    let mut failing = false;
    let mut next_id = 0u64;
    let can_change = targets.can_change();
    while !shared.stopped() {
        let sent = Instant::now();
        match targets.primaries() {
            Ok(primaries) => {
                if failing {
                    log::info!("client cache: the topology answers again");
                    failing = false;
                }
                let changed = last.as_ref().is_none_or(|last| !last.same_as(&primaries));
                if changed && last.is_some() {
                    log::warn!(
                        "client cache: the topology changed (now {:?}); flushed, bypassed until \
                         the listeners confirm",
                        primaries.nodes
                    );
                }
                let labels: Vec<String> = primaries.nodes.iter().map(|n| n.label.clone()).collect();
                let generations = shared.cache.set_nodes(&labels, changed, sent, !can_change);
                // Stop the listeners of nodes gone, start those of nodes new.
                let gone: Vec<String> = running
                    .iter()
                    .filter(|(label, run)| {
                        !labels
                            .iter()
                            .zip(&generations)
                            .any(|(l, g)| l == *label && *g == run.generation)
                    })
                    .map(|(label, _)| label.clone())
                    .collect();
                for label in gone {
                    if let Some(run) = running.remove(&label) {
                        retired.push(run.stop(shared));
                    }
                }
                for (node, generation) in primaries.nodes.iter().zip(&generations) {
                    if running.contains_key(&node.label) {
                        continue;
                    }
                    next_id += 1;
                    match spawn_listener(shared, node.clone(), *generation, next_id) {
                        Ok(run) => {
                            running.insert(node.label.clone(), run);
                        }
                        Err(err) => log::warn!("{err}"),
                    }
                }
                shared.wake_all();
                last = Some(primaries);
            }
            Err(err) => {
                if !failing {
                    log::warn!(
                        "client cache: cannot look at the topology ({err}); hits stop within {} ms \
                         unless it answers again",
                        super::FRESHNESS.as_millis()
                    );
                    failing = true;
                }
            }
        }
        let (finished, still): (Vec<_>, Vec<_>) =
            retired.into_iter().partition(|thread| thread.is_finished());
        retired = still;
        for thread in finished {
            let _ = thread.join();
        }
        if shared.sleep(HEARTBEAT, &AtomicBool::new(false)) {
            break;
        }
    }
    retired.extend(running.into_values().map(|run| run.stop(shared)));
    for thread in retired {
        let _ = thread.join();
    }
}

fn spawn_listener(
    shared: &Arc<Shared>,
    node: ListenNode,
    generation: u64,
    id: u64,
) -> Result<Running> {
    let stop = Arc::new(AtomicBool::new(false));
    let (thread_shared, thread_stop) = (Arc::clone(shared), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name("sf-cache-listen".into())
        .spawn(move || listen(&thread_shared, &node, generation, id, &thread_stop))
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("client cache: cannot start a listener thread: {e}"),
            )
        })?;
    Ok(Running {
        id,
        generation,
        stop,
        thread,
    })
}

/// One listener: subscribes, reads, reconnects, until stopped.
fn listen(shared: &Shared, node: &ListenNode, generation: u64, id: u64, stop: &AtomicBool) {
    let mut retry = FIRST_RETRY;
    let mut failing = false;
    loop {
        if shared.stopped() || stop.load(Ordering::Acquire) {
            return;
        }
        let outcome = session(shared, node, generation, id, stop, &mut || {
            // Subscribed: the next failure is a new outage.
            retry = FIRST_RETRY;
            if failing {
                log::info!("client cache: listening to {} again", node.label);
                failing = false;
            }
        });
        shared
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if shared.stopped() || stop.load(Ordering::Acquire) {
            return;
        }
        let err = match outcome {
            Ok(()) => return,
            Err(err) => err,
        };
        shared.cache.node_lost(&node.label, generation, &err);
        if !failing {
            log::warn!(
                "client cache: invalidations from {} lost ({err}); flushed, bypassed until \
                 listening again",
                node.label
            );
            failing = true;
        }
        if shared.sleep(retry, stop) {
            return;
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// One connection's life: subscribe, then read invalidations and heartbeat until it fails
/// (`Err`) or the listener stops (`Ok`).
fn session(
    shared: &Shared,
    node: &ListenNode,
    generation: u64,
    id: u64,
    stop: &AtomicBool,
    subscribed: &mut dyn FnMut(),
) -> Result<()> {
    let mut conn = node.connect(shared.connect_timeout)?;
    {
        let mut sockets = shared.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if shared.stopped() {
            return Ok(());
        }
        sockets.insert(id, conn.socket_handle()?);
    }
    let command = || Deadline::command(shared.command_timeout);

    conn.send(command(), |a| {
        a.bytes(b"CLIENT");
        a.bytes(b"ID");
    })?;
    let client_id = resp::answer(conn.reply(command(), true)?, |mut reply| {
        match reply.next()? {
            Frame::Int(client_id) => Ok(client_id),
            other => Err(Error::unexpected(format!("CLIENT ID answered {other:?}"))),
        }
    })
    .map_err(|err| refusal("CLIENT ID", err))?;

    let subscribe_sent = Instant::now();
    conn.queue(|a| {
        a.bytes(b"CLIENT");
        a.bytes(b"TRACKING");
        a.bytes(b"ON");
        a.bytes(b"REDIRECT");
        a.int(client_id);
        a.bytes(b"BCAST");
        a.bytes(b"PREFIX");
        a.bytes(TRACKED_PREFIX.as_bytes());
    });
    conn.queue(|a| {
        a.bytes(b"SUBSCRIBE");
        a.bytes(CHANNEL);
    });
    conn.flush(command())?;
    let tracking = resp::answer(conn.reply(command(), false)?, |mut reply| {
        match reply.next()? {
            Frame::Status(b"OK") => Ok(()),
            other => Err(Error::unexpected(format!(
                "CLIENT TRACKING answered {other:?}"
            ))),
        }
    });
    // Read the SUBSCRIBE's answer even after a refusal: the stream stays in step.
    let subscription = read_message(conn.reply(command(), true)?);
    tracking.map_err(|err| refusal("CLIENT TRACKING", err))?;
    match subscription.map_err(|err| refusal("SUBSCRIBE", err))? {
        Message::Subscribed => {}
        other => return Err(Error::unexpected(format!("SUBSCRIBE answered {other:?}"))),
    }
    shared
        .cache
        .node_live(&node.label, generation, subscribe_sent);
    subscribed();
    log::debug!(
        "client cache: listening to {} (client {client_id})",
        node.label
    );
    heartbeat_loop(
        shared,
        &mut conn,
        &node.label,
        generation,
        stop,
        subscribe_sent,
    )
}

/// Reads invalidations, and pings every heartbeat (see `cache/mod.rs` for what a pong
/// confirms).
fn heartbeat_loop(
    shared: &Shared,
    conn: &mut Plain,
    label: &str,
    generation: u64,
    stop: &AtomicBool,
    subscribe_sent: Instant,
) -> Result<()> {
    // The send time of the last ping answered (at first, of the SUBSCRIBE).
    let mut answered_sent = subscribe_sent;
    let mut outstanding: Option<Instant> = None;
    let mut next_ping = Instant::now() + HEARTBEAT;
    loop {
        if shared.stopped() || stop.load(Ordering::Acquire) {
            return Ok(());
        }
        let now = Instant::now();
        if outstanding.is_none() && now >= next_ping {
            outstanding = Some(now);
            conn.send(Deadline::command(shared.command_timeout), |a| {
                a.bytes(b"PING")
            })?;
        }
        let until = match outstanding {
            Some(sent) => sent + shared.command_timeout,
            None => next_ping,
        };
        let left = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let message = match conn.next_reply(Deadline::command(left)) {
            Ok(bytes) => read_message(Reply::new(bytes))?,
            Err(err) if err.kind() == ErrorKind::Timeout => {
                if let Some(sent) = outstanding {
                    if sent.elapsed() >= shared.command_timeout {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "no answer to PING within the command timeout ({} ms)",
                                shared.command_timeout.as_millis()
                            ),
                        ));
                    }
                }
                continue;
            }
            Err(err) => return Err(err),
        };
        match message {
            Message::Invalidate(keys) => {
                for key in keys {
                    shared.cache.invalidated(&key);
                }
            }
            Message::Flushed => shared.cache.server_flushed(label),
            Message::Pong => {
                let Some(sent) = outstanding.take() else {
                    return Err(Error::unexpected(
                        "protocol error: an answer to a PING that was not sent",
                    ));
                };
                shared
                    .cache
                    .node_confirmed(label, generation, answered_sent);
                answered_sent = sent;
                next_ping = Instant::now() + HEARTBEAT;
            }
            Message::Subscribed => {
                return Err(Error::unexpected(
                    "protocol error: a second subscription confirmation",
                ))
            }
        }
        conn.tidy();
    }
}

/// What arrives on the subscribed connection.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    /// The subscription to the invalidation channel is on.
    Subscribed,
    /// These keys changed.
    Invalidate(Vec<Vec<u8>>),
    /// Every key changed (FLUSHALL, FLUSHDB).
    Flushed,
    /// The answer to a PING.
    Pong,
}

/// Reads one message of the subscribed connection; anything unexpected is a protocol error
/// (the connection is then dropped).
fn read_message(mut reply: Reply<'_>) -> Result<Message> {
    if let Some(line) = reply.error_line() {
        return Err(resp::server_error(line));
    }
    let odd = |what: &dyn std::fmt::Debug| {
        Error::unexpected(format!(
            "protocol error: unexpected message on the invalidation connection: {what:?}"
        ))
    };
    let len = match reply.next()? {
        Frame::Array(Some(len)) => len,
        other => return Err(odd(&other)),
    };
    let kind = match reply.next()? {
        Frame::Bulk(Some(kind)) => kind,
        other => return Err(odd(&other)),
    };
    match (len, kind) {
        (2, b"pong") => match reply.next()? {
            Frame::Bulk(Some(b"")) => Ok(Message::Pong),
            other => Err(odd(&other)),
        },
        (3, b"subscribe") => match (reply.next()?, reply.next()?) {
            (Frame::Bulk(Some(CHANNEL)), Frame::Int(1)) => Ok(Message::Subscribed),
            other => Err(odd(&other)),
        },
        (3, b"message") => {
            match reply.next()? {
                Frame::Bulk(Some(CHANNEL)) => {}
                other => return Err(odd(&other)),
            }
            match reply.next()? {
                Frame::Bulk(None) | Frame::Array(None) => Ok(Message::Flushed),
                Frame::Array(Some(count)) => {
                    let mut keys = Vec::with_capacity(count.min(reply.bytes().len() / 4));
                    for _ in 0..count {
                        match reply.next()? {
                            Frame::Bulk(Some(key)) => keys.push(key.to_vec()),
                            other => return Err(odd(&other)),
                        }
                    }
                    Ok(Message::Invalidate(keys))
                }
                other => Err(odd(&other)),
            }
        }
        _ => Err(odd(&String::from_utf8_lossy(kind))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::resp::{Decoder, Limits};

    /// Reads `bytes` as the decoder would hand them over.
    fn message(bytes: &[u8]) -> Result<Message> {
        let mut decoder = Decoder::new(Limits::DEFAULT);
        let len = decoder.feed(bytes).unwrap().expect("a whole reply");
        assert_eq!(len, bytes.len(), "one reply");
        read_message(Reply::new(bytes))
    }

    #[test]
    fn reads_what_redis_sends_on_the_invalidation_channel() {
        assert_eq!(
            message(b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n").unwrap(),
            Message::Subscribed
        );
        assert_eq!(
            message(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").unwrap(),
            Message::Pong
        );
        // BCAST: every key changed in one event-loop turn, in one array.
        assert_eq!(
            message(
                b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$9\r\nsf:{a:b}c\r\n$4\r\nsf:x\r\n"
            )
            .unwrap(),
            Message::Invalidate(vec![b"sf:{a:b}c".to_vec(), b"sf:x".to_vec()])
        );
        // FLUSHALL / FLUSHDB: a nil instead of the keys.
        assert_eq!(
            message(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n").unwrap(),
            Message::Flushed
        );
        assert_eq!(
            message(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*-1\r\n").unwrap(),
            Message::Flushed
        );
    }

    #[test]
    fn anything_else_ends_the_connection() {
        for odd in [
            &b"+PONG\r\n"[..],
            b"*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n*1\r\n$1\r\nk\r\n",
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n:1\r\n",
            b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:2\r\n",
            b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n",
            b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nm\r\n",
            b":1\r\n",
        ] {
            let err = message(odd).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedReply, "{err}");
        }
        let refused = message(b"-NOPERM no permission\r\n").unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Auth);
    }
}
