//! Host-name lookup within a deadline. The system resolver (`getaddrinfo`) takes no timeout
//! and can block for many seconds when a DNS server does not answer (Kubernetes service names
//! are looked up this way), which would break the bound on every call that connects. So a
//! name is looked up on a thread of its own while the caller waits at most until its deadline;
//! callers that need the same name at the same moment share one lookup, so a resolver outage
//! costs one waiting thread per name, not one per connect. Results are not cached: the next
//! connect looks the name up again and follows DNS changes (a failover's new address).
//! IP literals, the usual case, are parsed in place with no thread.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use super::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result};

/// The addresses of `host:port`, or `Connection` when the lookup fails or has not answered by
/// the deadline.
pub(crate) fn resolve(host: &str, port: u16, deadline: Deadline) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    resolve_with(&LOOKUPS, (name, port), deadline, |(host, port)| {
        (host.as_str(), *port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect())
    })
}

type Key = (String, u16);
type Answer = std::result::Result<Vec<SocketAddr>, String>;

/// One lookup in progress: its answer once the resolver returns.
#[derive(Default)]
struct Lookup {
    answer: Mutex<Option<Answer>>,
    answered: Condvar,
}

/// The lookups in progress, by name and port.
#[derive(Default)]
struct Lookups {
    pending: OnceLock<Mutex<HashMap<Key, Arc<Lookup>>>>,
}

static LOOKUPS: Lookups = Lookups {
    pending: OnceLock::new(),
};

impl Lookups {
    fn pending(&self) -> MutexGuard<'_, HashMap<Key, Arc<Lookup>>> {
        let map = self.pending.get_or_init(Default::default);
        map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Waits for the lookup of `key` (starting it with `look_up` unless one is in progress) until
/// `deadline`. The lookup thread finishes on its own time if the caller gives up.
fn resolve_with<F>(
    lookups: &'static Lookups,
    key: Key,
    deadline: Deadline,
    look_up: F,
) -> Result<Vec<SocketAddr>>
where
    F: FnOnce(&Key) -> io::Result<Vec<SocketAddr>> + Send + 'static,
{
    let (lookup, start) = {
        let mut pending = lookups.pending();
        match pending.get(&key) {
            Some(lookup) => (Arc::clone(lookup), false),
            None => {
                let lookup = Arc::new(Lookup::default());
                pending.insert(key.clone(), Arc::clone(&lookup));
                (lookup, true)
            }
        }
    };
    if start {
        let shared = Arc::clone(&lookup);
        let spawned = std::thread::Builder::new()
            .name("sf-resolve".into())
            .spawn(move || {
                let answer = look_up(&key).map_err(|e| e.to_string());
                {
                    let mut pending = lookups.pending();
                    if pending.get(&key).is_some_and(|l| Arc::ptr_eq(l, &shared)) {
                        pending.remove(&key);
                    }
                }
                *shared.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
                shared.answered.notify_all();
            });
        if let Err(e) = spawned {
            // Nobody will answer this lookup: forget it so that the next caller starts another.
            lookups.pending().retain(|_, l| !Arc::ptr_eq(l, &lookup));
            return Err(Error::new(
                ErrorKind::Connection,
                format!("host name lookup: no thread for it: {e}"),
            ));
        }
    }
    let mut answer = lookup.answer.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match answer.as_ref() {
            Some(Ok(addrs)) => return Ok(addrs.clone()),
            Some(Err(e)) => return Err(Error::new(ErrorKind::Connection, e.clone())),
            None => {}
        }
        let left = deadline
            .remaining("host name lookup")
            .map_err(|_| Error::new(ErrorKind::Connection, "host name lookup: timed out"))?;
        answer = lookup
            .answered
            .wait_timeout(answer, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn fresh_lookups() -> &'static Lookups {
        Box::leak(Box::default())
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let deadline = Deadline::connect(Duration::ZERO);
        let v4 = resolve("127.0.0.1", 7000, deadline).unwrap();
        assert_eq!(v4, vec!["127.0.0.1:7000".parse().unwrap()]);
        let v6 = resolve("::1", 7000, deadline).unwrap();
        assert_eq!(v6, vec!["[::1]:7000".parse().unwrap()]);
    }

    #[test]
    fn a_name_from_the_hosts_file_resolves() {
        let addrs = resolve(
            "localhost",
            7001,
            Deadline::connect(Duration::from_secs(10)),
        )
        .unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 7001),
            "{addrs:?}"
        );
    }

    #[test]
    fn a_lookup_that_does_not_answer_fails_at_the_deadline() {
        let lookups = fresh_lookups();
        let (release, released) = mpsc::channel::<()>();
        let started = Instant::now();
        let err = resolve_with(
            lookups,
            ("stuck.example".into(), 1),
            Deadline::connect(Duration::from_millis(100)),
            move |_| {
                let _ = released.recv();
                Ok(Vec::new())
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(err.to_string().contains("timed out"), "{err}");
        // The caller came back while the lookup was still blocked (it is released only now).
        assert!(lookups.pending().contains_key(&("stuck.example".into(), 1)));
        assert!(started.elapsed() >= Duration::from_millis(100));
        release.send(()).unwrap();
    }

    #[test]
    fn callers_of_the_same_name_share_one_lookup() {
        let lookups = fresh_lookups();
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let addr: SocketAddr = "10.1.2.3:6380".parse().unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let calls = Arc::clone(&calls);
                let released = Arc::clone(&released);
                std::thread::spawn(move || {
                    resolve_with(
                        lookups,
                        ("shared.example".into(), 6380),
                        Deadline::connect(Duration::from_secs(30)),
                        move |_| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            let _ = released.lock().unwrap().recv();
                            Ok(vec![addr])
                        },
                    )
                })
            })
            .collect();
        // Answer only once every waiter holds the lookup (the map, the lookup thread and the
        // four waiters: six references).
        let key: Key = ("shared.example".into(), 6380);
        while lookups
            .pending()
            .get(&key)
            .is_none_or(|l| Arc::strong_count(l) < 6)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        release.send(()).unwrap();
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap().unwrap(), vec![addr]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Answered lookups are forgotten: the next caller looks the name up again.
        assert!(lookups.pending().is_empty());
    }

    #[test]
    fn a_failed_lookup_is_a_connection_error_with_the_resolver_message() {
        let err = resolve_with(
            fresh_lookups(),
            ("nx.example".into(), 1),
            Deadline::connect(Duration::from_secs(10)),
            |_| Err(io::Error::other("no such host")),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(err.to_string().contains("no such host"), "{err}");
    }
}
