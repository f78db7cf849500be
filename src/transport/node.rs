//! One node: where it listens, how to log in, opening its socket (TCP, unix or TLS) within a
//! deadline, and how connect failures are reported. Knows nothing of pools or topologies.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::deadline::Deadline;

use crate::config::TlsFiles;
use crate::error::{Error, ErrorKind, Result};

/// A node's TCP address, as a URL names it or the cluster announces it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct NodeAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl NodeAddr {
    /// Parses `host:port` (a MOVED or ASK target).
    pub(crate) fn parse(text: &str) -> Option<NodeAddr> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(NodeAddr {
            host: host.to_string(),
            port: port.parse().ok()?,
        })
    }
}

/// Where a node listens.
#[derive(Clone, Debug)]
pub(crate) enum Address {
    Tcp(NodeAddr),
    #[cfg(unix)]
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => addr.fmt(f),
            #[cfg(unix)]
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The credentials and database of a URL.
#[derive(Clone, Default, Debug)]
pub(crate) struct Login {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
}

impl Login {
    pub(crate) fn from_settings(settings: &redis::RedisConnectionInfo) -> Login {
        Login {
            username: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
            db: settings.db(),
        }
    }
}

/// How to open a connection to one node: its address, TLS settings and login. Cluster nodes and
/// sentinel-named primaries use the same settings at an address learned at run time ([`at`]).
///
/// [`at`]: Endpoint::at
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) address: Address,
    /// `Some` for `rediss://`.
    tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) login: Login,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.address)
    }
}

impl Endpoint {
    /// The endpoint of a parsed URL, with the configured certificates.
    pub(crate) fn from_info(info: &redis::ConnectionInfo, tls: &TlsFiles) -> Result<Endpoint> {
        let (address, secure) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (
                Address::Tcp(NodeAddr {
                    host: host.clone(),
                    port: *port,
                }),
                false,
            ),
            redis::ConnectionAddr::TcpTls { host, port, .. } => (
                Address::Tcp(NodeAddr {
                    host: host.clone(),
                    port: *port,
                }),
                true,
            ),
            #[cfg(unix)]
            redis::ConnectionAddr::Unix(path) => (Address::Unix(path.clone()), false),
            other => {
                return Err(Error::config(format!("unsupported address {other:?}")));
            }
        };
        Ok(Endpoint {
            address,
            tls: if secure {
                Some(tls_client_config(tls)?)
            } else {
                None
            },
            login: Login::from_settings(info.redis_settings()),
        })
    }

    /// The same settings at another TCP address.
    pub(crate) fn at(&self, addr: &NodeAddr) -> Endpoint {
        Endpoint {
            address: Address::Tcp(addr.clone()),
            tls: self.tls.clone(),
            login: self.login.clone(),
        }
    }

    /// The same address and TLS settings with another login.
    pub(crate) fn with_login(&self, login: Login) -> Endpoint {
        Endpoint {
            login,
            ..self.clone()
        }
    }

    /// Opens the socket (and the TLS session) within `deadline`; no Redis command yet.
    pub(crate) fn open_stream(&self, deadline: Deadline) -> Result<Stream> {
        let stream = match &self.address {
            Address::Tcp(addr) => {
                let tcp = connect_tcp(addr, deadline)?;
                match &self.tls {
                    None => Stream::Tcp(tcp),
                    Some(config) => {
                        Stream::Tls(Box::new(tls_handshake(config, &addr.host, tcp, deadline)?))
                    }
                }
            }
            #[cfg(unix)]
            Address::Unix(path) => Stream::Unix(connect_unix(path, deadline)?),
        };
        Ok(stream)
    }
}

fn connect_tcp(addr: &NodeAddr, deadline: Deadline) -> Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    let addrs = super::resolve::resolve(&addr.host, addr.port, deadline)?;
    for socket_addr in addrs {
        let left = deadline.remaining("connect")?;
        match TcpStream::connect_timeout(&socket_addr, left) {
            Ok(stream) => {
                // Requests are written whole, so Nagle's algorithm could only delay them.
                stream
                    .set_nodelay(true)
                    .map_err(|e| Error::new(ErrorKind::Connection, e.to_string()))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(match last.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => deadline.expired("connect"),
        _ => Error::new(ErrorKind::Connection, last.to_string()),
    })
}

/// A unix-socket connect that gives up at the deadline. A blocking connect to a listener whose
/// backlog is full waits until it accepts, for ever if it never does; Linux answers a
/// non-blocking one with EAGAIN instead, so it is retried until the deadline.
#[cfg(unix)]
fn connect_unix(path: &std::path::Path, deadline: Deadline) -> Result<UnixStream> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let fail = |e: io::Error| Error::new(ErrorKind::Connection, e.to_string());
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(fail)?;
    let addr = SockAddr::unix(path).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    let mut pause = Duration::from_millis(1);
    loop {
        match socket.connect(&addr) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.remaining("connect")?;
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    socket.set_nonblocking(false).map_err(fail)?;
    Ok(UnixStream::from(std::os::fd::OwnedFd::from(socket)))
}

/// The application's process-wide rustls provider when it installed one (a FIPS build, say),
/// else aws-lc-rs, rustls's default, which offers the post-quantum hybrid key exchange
/// (X25519MLKEM768) first. The library never installs a process-wide provider itself.
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
        return installed.clone();
    }
    static OURS: std::sync::OnceLock<Arc<rustls::crypto::CryptoProvider>> =
        std::sync::OnceLock::new();
    OURS.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// rustls's settings for `rediss://`: the CA file's certificates when one is set (only those),
/// else the system's trust store; the client certificate when one is set.
fn tls_client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn fmt::Display| Error::config(format!("TLS {what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| bad("CA file", &e))?;
                roots.add(cert).map_err(|e| bad("CA file", &e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::config(
                    "TLS: no CA certificate found in the system's trust store; set a CA file",
                ));
            }
        }
    }
    let provider = crypto_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("settings", &e))?
        .with_root_certificates(roots);
    let config = match &files.client_pem {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| bad("client certificate", &e))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("client key", &e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad("client certificate", &e))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_handshake(
    config: &Arc<rustls::ClientConfig>,
    host: &str,
    tcp: TcpStream,
    deadline: Deadline,
) -> Result<TlsStream> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| Error::config(format!("TLS: {host:?} is not a valid server name: {e}")))?;
    let conn = rustls::ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| Error::new(ErrorKind::Connection, format!("TLS: {e}")))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        let left = deadline.remaining("TLS handshake")?;
        let set = |s: &TcpStream| {
            s.set_read_timeout(Some(left))?;
            s.set_write_timeout(Some(left))
        };
        set(&stream.sock).map_err(|e| Error::new(ErrorKind::Connection, e.to_string()))?;
        match stream.conn.complete_io(&mut stream.sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(Error::new(ErrorKind::Connection, e.to_string())),
        }
    }
    Ok(stream)
}

/// An open socket to a node.
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Ends both directions of the socket: a thread blocked reading it wakes at once (closing
    /// an executor stops its cache's invalidation listeners this way).
    pub(crate) fn shutdown(&self) {
        let socket = match self {
            Stream::Tcp(s) => s,
            #[cfg(unix)]
            Stream::Unix(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
                return;
            }
            Stream::Tls(s) => &s.sock,
        };
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }

    /// A second handle to the same socket, to [`shutdown`](Self::shutdown) it from another
    /// thread (a TLS stream's handle is its TCP socket's).
    pub(crate) fn try_clone_socket(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            #[cfg(unix)]
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tls(s) => Stream::Tcp(s.sock.try_clone()?),
        })
    }

    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
            Stream::Tls(s) => s.sock.set_read_timeout(Some(timeout)),
        }
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
            Stream::Tls(s) => s.sock.set_write_timeout(Some(timeout)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// TLS keeps written records until flushed; plain sockets send at once.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// A failure to connect to `target`, said so: every kind but `Auth` and `Config` becomes
/// `Connection` (a connect that times out is a failure to connect, not a slow command).
pub(crate) fn connect_error(target: &dyn fmt::Display, err: Error) -> Error {
    let kind = match err.kind() {
        ErrorKind::Auth | ErrorKind::Config => err.kind(),
        _ => ErrorKind::Connection,
    };
    Error::new(
        kind,
        format!("cannot connect to {target}: {}", err.message()),
    )
}

/// One error out of the failures of several nodes: an authentication problem wins (it is a
/// configuration problem every node shares), otherwise a connection error listing them all.
pub(crate) fn combine_failures(what: &str, failures: Vec<(String, Error)>) -> Error {
    let kind = if failures.iter().any(|(_, e)| e.kind() == ErrorKind::Auth) {
        ErrorKind::Auth
    } else if failures.iter().all(|(_, e)| e.kind() == ErrorKind::Config) && !failures.is_empty() {
        ErrorKind::Config
    } else {
        ErrorKind::Connection
    };
    let detail = failures
        .iter()
        .map(|(addr, err)| format!("{addr}: {}", err.message()))
        .collect::<Vec<_>>()
        .join("; ");
    Error::new(kind, format!("{what} ({detail})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_addresses() {
        assert_eq!(
            NodeAddr::parse("127.0.0.1:7001"),
            Some(NodeAddr {
                host: "127.0.0.1".into(),
                port: 7001
            })
        );
        assert_eq!(
            NodeAddr::parse("[::1]:7001").map(|a| a.host),
            Some("::1".into())
        );
        assert_eq!(NodeAddr::parse("nonsense"), None);
    }
}
