//! Unix sockets: a server listening on a `unix://` socket only.

use crate::harness::*;
use stateful_executor::*;

#[test]
fn every_operation_over_a_unix_socket() {
    let server = RedisServer::builder()
        .unix()
        .args(["--requirepass", "sock-pw"])
        .start();
    assert!(server.url().starts_with("unix://"), "{}", server.url());
    let ex = server.executor();
    ex.ping().unwrap();
    ex.set_service_state("ns", "chat", 0, "Running").unwrap();
    assert_eq!(ex.get_service_state("ns", "chat").unwrap().len(), 1);
    ex.set_workload_state("ns", "chat", "Available").unwrap();
    assert_eq!(
        ex.get_workload_states("ns", &["chat", "other"]).unwrap(),
        vec![Some("Available".to_string()), None]
    );
    assert_eq!(
        ex.set_linked_pod("ns", "u1", "chat", 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(
        ex.try_set_linked_pod("ns", "u1", "chat", 4, Persistence::Persistent)
            .unwrap(),
        TrySet {
            linked: false,
            pod: 3
        }
    );
    assert_eq!(
        ex.batch_get_linked_pods("ns", "chat", &["u1", "u2"])
            .unwrap(),
        vec![Some(3), None]
    );
    assert!(ex
        .remove_linked_pod("ns", "u1", "chat", Grace::Immediate)
        .unwrap());
    // What the executor wrote is in the server behind the socket.
    let mut raw = server.raw();
    assert_eq!(
        get_str(&mut raw, "sf:{ns:workload:chat}").as_deref(),
        Some("Available")
    );
    // Without the password: refused as Auth.
    let err = Executor::open(&Config::new(&server.url()).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}
