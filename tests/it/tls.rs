//! TLS through rustls: certificates made at test time with the openssl CLI, TLS-only
//! redis-server processes (`--port 0 --tls-port ...`), a TLS cluster.

use std::time::Duration;

use crate::harness::*;
use stateful_executor::*;

fn tls_server(certs: &TestCerts, auth_clients: bool) -> RedisServer {
    RedisServer::builder().tls(certs, auth_clients).start()
}

fn open(url: &str, tune: impl FnOnce(&mut Config)) -> Result<Executor> {
    let mut config = Config::new(url)?;
    config.set_connect_timeout(Duration::from_secs(3))?;
    tune(&mut config);
    Executor::open(&config)
}

fn exercise(ex: &Executor) {
    ex.set_service_state("ns", "chat", 0, "Running").unwrap();
    assert_eq!(
        ex.set_linked_pod("ns", "u1", "chat", 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(3));
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &["u1", "u2"])
            .unwrap(),
        vec![Some(3), None]
    );
}

#[test]
fn verified_with_the_ca_refused_without() {
    let certs = TestCerts::generate();
    let server = tls_server(&certs, false);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let ca = certs.path("ca.crt");

    let ex = open(&url, |c| {
        c.set_tls_ca_file(&ca).unwrap();
    })
    .expect("TLS with the CA");
    exercise(&ex);
    // The certificate names localhost too.
    let ex = open(&format!("rediss://localhost:{}", server.port), |c| {
        c.set_tls_ca_file(&ca).unwrap();
    })
    .expect("TLS to localhost");
    assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(3));

    // The system's trust store does not know our CA: refused, as a connection error.
    let err = open(&url, |_| {}).unwrap_err();
    println!("without the CA: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    // Another CA: refused as well.
    let other = certs.path("other-ca.crt");
    let err = open(&url, |c| {
        c.set_tls_ca_file(&other).unwrap();
    })
    .unwrap_err();
    println!("with another CA: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    // Plain TCP to a TLS port: a connection error too, not a hang.
    let err = open(&format!("redis://127.0.0.1:{}", server.port), |_| {}).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
        "{err}"
    );
}

#[test]
fn client_certificates() {
    let certs = TestCerts::generate();
    let server = tls_server(&certs, true);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let ca = certs.path("ca.crt");

    let err = open(&url, |c| {
        c.set_tls_ca_file(&ca).unwrap();
    })
    .unwrap_err();
    println!("without a client certificate: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");

    let ex = open(&url, |c| {
        c.set_tls_ca_file(&ca)
            .unwrap()
            .set_tls_client_cert(&certs.path("client.crt"), &certs.path("client.key"))
            .unwrap();
    })
    .expect("TLS with a client certificate");
    exercise(&ex);
}

#[test]
fn bad_tls_files_are_config_errors() {
    let certs = TestCerts::generate();
    let mut config = Config::new("rediss://127.0.0.1:1").unwrap();
    for (what, err) in [
        (
            "missing CA",
            config.set_tls_ca_file("/nonexistent/ca.pem").unwrap_err(),
        ),
        (
            "key as CA",
            config.set_tls_ca_file(&certs.path("ca.key")).unwrap_err(),
        ),
        (
            "cert as key",
            config
                .set_tls_client_cert(&certs.path("client.crt"), &certs.path("client.crt"))
                .unwrap_err(),
        ),
        (
            "missing client cert",
            config
                .set_tls_client_cert("/nonexistent/c.pem", &certs.path("client.key"))
                .unwrap_err(),
        ),
    ] {
        println!("{what}: {err}");
        assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
    }
    let empty = certs.dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        config
            .set_tls_ca_file(empty.to_str().unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    // Certificates with a plain redis:// URL: a mistake, said at open.
    let mut plain = Config::new("redis://127.0.0.1:1").unwrap();
    plain.set_tls_ca_file(&certs.path("ca.crt")).unwrap();
    let err = Executor::open(&plain).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[test]
fn tls_cluster() {
    let certs = TestCerts::generate();
    let cluster = Cluster::start_with(3, 0, Some(&certs));
    let mut config = Config::cluster(&cluster.urls()[..1]).unwrap();
    config
        .set_tls_ca_file(&certs.path("ca.crt"))
        .unwrap()
        .set_connect_timeout(Duration::from_secs(3))
        .unwrap()
        .set_command_timeout(Duration::from_secs(3))
        .unwrap();
    let ex = Executor::open(&config).expect("TLS cluster");
    exercise(&ex);
    let uids: Vec<String> = (0..2000).map(|i| format!("t-{i}")).collect();
    for (i, uid) in uids.iter().enumerate().step_by(2) {
        ex.set_linked_pod("ns", uid, "chat", (i % 9) as Pod, Persistence::Persistent)
            .unwrap();
    }
    let pods = ex.batch_get_linked_pods("ns", "chat", &uids).unwrap();
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(*pod, (i % 2 == 0).then_some((i % 9) as Pod), "uid {i}");
    }
    // Without the CA the cluster's nodes are not trusted.
    let err = Executor::open(&Config::cluster(&cluster.urls()[..1]).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
}
