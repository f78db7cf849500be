mod common;

use common::*;
use stateful_executor::*;

#[test]
fn set_get_and_corrupt() {
    let server = RedisServer::start();
    let ex = server.executor();
    assert_eq!(
        ex.set_linked_pod("ns", "u1", "chat", 3, Persistence::Persistent)
            .unwrap(),
        None
    );
    assert_eq!(
        ex.set_linked_pod("ns", "u1", "chat", 4, Persistence::temporary(30))
            .unwrap(),
        Some(3)
    );
    assert_eq!(ex.get_linked_pod("ns", "u1", "chat").unwrap(), Some(4));
    assert_eq!(
        ex.get_linked_pod_if_persist("ns", "u1", "chat").unwrap(),
        None
    );
    let mut raw = server.raw();
    raw_cmd(&mut raw, &["SET", "sf:{ns:lk:u2}chat", "abc"]);
    let err = ex
        .set_linked_pod("ns", "u2", "chat", 1, Persistence::Persistent)
        .unwrap_err();
    println!("{err}");
    assert_eq!(err.kind(), ErrorKind::UnexpectedReply);
    raw_cmd(&mut raw, &["SCRIPT", "FLUSH"]);
    assert_eq!(
        ex.set_linked_pod_if_absent("ns", "u3", "chat", 5, Persistence::Persistent)
            .unwrap(),
        5
    );
    let ts = ex
        .try_set_linked_pod("ns", "u3", "chat", 6, Persistence::Persistent)
        .unwrap();
    assert_eq!(
        ts,
        TrySet {
            linked: false,
            pod: 5
        }
    );
    assert!(ex
        .remove_linked_pod("ns", "u3", "chat", Grace::Seconds(10))
        .unwrap());
    println!("{:?}", raw_cmd(&mut raw, &["TTL", "sf:{ns:lk:u3}chat"]));
    println!(
        "{:?}",
        ex.batch_get_linked_pods("ns", "chat", &["u1", "u3", "zz"])
    );
}
