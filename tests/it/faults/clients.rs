//! The server's side of the connections: clients killed (CLIENT KILL) and the client limit
//! (maxclients) reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// `CLIENT KILL TYPE normal SKIPME yes` every 30 ms while 4 threads mostly read (every kind of
/// read, and now and then a write of the pod a uid already has) and 4 threads write.
/// Reads are retried once on a connection error, on a connection opened after the failure, so a
/// read fails only when a second kill hits its retry too; a write is never resent (it may have
/// run), so writes may fail, but only with a connection error. Every answer is right.
#[test]
fn client_kill_under_load() {
    let _alone = alone();
    const THREADS: usize = 8;
    const UIDS: i32 = 200;
    const KILL_FOR: Duration = Duration::from_millis(2500);
    const VERIFY_ROUNDS: usize = 50;

    let server = RedisServer::start();
    let ex = executor(&server, 16, ms(1000), ms(1000), ms(1000));
    prelink(&ex, "kill-", UIDS);
    let run = LoadRun::until_settled(THREADS, VERIFY_ROUNDS, |t| {
        let ex = Arc::clone(&ex);
        let mut rng = Rng::new(200 + t as u64);
        // For each own uid of a writer: the pods a read may find (a failed write may or may
        // not have run).
        let mut possible: HashMap<String, Vec<Option<Pod>>> = HashMap::new();
        let mut n: Pod = 0;
        move |rec: &mut Recorder| {
            if t % 2 == 0 {
                return prelinked_call(&ex, rec, &mut rng, "kill-", UIDS);
            }
            n += 1;
            let uid = format!("kill-w{t}-{}", rng.below(4));
            let allowed = possible.entry(uid.clone()).or_insert(vec![None]).clone();
            rec.call(
                true,
                || ex.set_linked_pod(NS, &uid, SVC, n, Persistence::Persistent),
                |prev| {
                    (!allowed.contains(prev))
                        .then(|| format!("previous {prev:?}, expected one of {allowed:?}"))
                },
            );
            let entry = possible.get_mut(&uid).unwrap();
            if rec.last().unwrap().failed().is_some() {
                entry.push(Some(n));
            } else {
                *entry = vec![Some(n)];
            }
        }
    });

    let mut raw = server.raw();
    let (mut kills, mut killed) = (Vec::new(), 0i64);
    thread::sleep(ms(300));
    let t_first_kill = run.now();
    while run.now() < t_first_kill + KILL_FOR && kills.len() < 1000 {
        let sent = run.now();
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes")
            .query(&mut raw)
            .unwrap();
        kills.push((sent, run.now()));
        killed += n;
        thread::sleep(ms(30));
    }
    thread::sleep(ms(300));
    let t_verify = run.settle();
    let calls = run.finish();

    let reads = calls.only(|c| !c.write);
    let writes = calls.only(|c| c.write);
    let read_errors = reads.errors();
    // A read is retried once: it may fail only when a second kill hit the retry, i.e. a kill
    // ran while the call did.
    let read_failures = reads.failed();
    let unexplained = read_failures.only(|c| {
        !kills
            .iter()
            .any(|&(sent, done)| sent <= c.end && c.start <= done)
    });
    let write_errors = writes.errors();
    let wrong = calls.wrong();
    let after = calls.started_after(t_verify);
    let after_ok = after.ok_count();
    let links = assert_links_whole(&mut raw, NS);
    let summary = format!(
        "client kill: {} CLIENT KILL killed {killed} connections; {} reads, errors \
         {read_errors:?} ({} of them with a kill during the call, so the retry was killed too); \
         {} writes, errors {write_errors:?}; {} wrong answers; slowest call {:?}; \
         {after_ok}/{} calls correct after the kills; {links} link keys whole; sample errors: \
         reads {:?}, writes {:?}",
        kills.len(),
        reads.len(),
        read_failures.len() - unexplained.len(),
        writes.len(),
        wrong.len(),
        calls.slowest(),
        after.len(),
        reads.sample_errors(),
        writes.sample_errors(),
    );
    println!("{summary}");
    assert!(killed > 0, "the kills hit nothing: {summary}");
    assert!(
        reads.errors_only_of(&["SF_CONNECTION"]),
        "reads failed with something else than a connection error: {summary}"
    );
    assert!(
        unexplained.is_empty(),
        "reads failed although no kill ran during them (the retry should have saved them): \
         {summary}"
    );
    assert!(
        read_failures.len() * 1000 <= reads.len(),
        "more than 1 read in 1000 failed: {summary}"
    );
    assert!(
        writes.errors_only_of(&["SF_CONNECTION"]),
        "writes failed with something else than a connection error: {summary}"
    );
    assert!(wrong.is_empty(), "wrong answers: {summary}");
    assert!(
        after.len() >= THREADS * VERIFY_ROUNDS,
        "too few calls after: {summary}"
    );
    assert_eq!(after_ok, after.len(), "failures after the kills: {summary}");
}

/// Waits until the server counts `n` connected clients (it notices closed ones asynchronously).
fn wait_for_clients(raw: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(raw).unwrap();
        if list.lines().count() == n {
            return;
        }
        assert!(Instant::now() < deadline, "clients: {list}");
        thread::sleep(ms(10));
    }
}

/// A server accepting 4 clients. First a pool of 8 for 8 threads: the pool makes do with the
/// connections it gets (connect failures stay in the background while a connection frees up in
/// time). Then a server already full: every call fails with a clean error carrying the server's
/// message, and works again once clients leave. Nothing is corrupted.
#[test]
fn maxclients_gives_clean_errors() {
    let _alone = alone();
    const THREADS: usize = 8;
    let server = RedisServer::start_with(&["--maxclients", "4"]);
    let mut raw = server.raw(); // one of the 4
    let ex = executor(&server, 8, ms(300), ms(300), ms(300));
    let run = LoadRun::for_time(THREADS, ms(1000), |t| {
        let ex = Arc::clone(&ex);
        let mut i: Pod = 0;
        move |rec: &mut Recorder| {
            i += 1;
            let uid = format!("maxc-{t}");
            let set = rec.call(
                true,
                || ex.set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent),
                |_| None,
            );
            if set.is_some() {
                rec.call(
                    false,
                    || ex.get_linked_pod(NS, &uid, SVC),
                    expect_pod(Some(i)),
                );
            }
        }
    });
    let calls = run.finish();
    let rejected = info_u64(&mut raw, "stats", "rejected_connections");
    drop(ex);
    wait_for_clients(&mut raw, 1);

    // A full server: the pool cannot open a single connection.
    let ex = executor(&server, 8, ms(300), ms(300), ms(300));
    wait_for_clients(&mut raw, 1);
    let hogs: Vec<redis::Connection> = (0..3).map(|_| server.raw()).collect();
    let mut rec = Recorder::new(Instant::now());
    for i in 0..10 {
        let uid = format!("maxc-full-{i}");
        let write = i % 2 == 0;
        rec.call(
            write,
            || match write {
                true => ex
                    .set_linked_pod(NS, &uid, SVC, i, Persistence::Persistent)
                    .map(drop),
                false => ex.get_linked_pod(NS, &uid, SVC).map(drop),
            },
            |_| Some("succeeded on a full server".into()),
        );
    }
    let full = rec.into_calls();
    drop(hogs);
    let recovered = Instant::now();
    let mut back = None;
    while recovered.elapsed() < Duration::from_secs(5) {
        if ex.get_linked_pod(NS, "maxc-0", SVC).is_ok() {
            back = Some(recovered.elapsed());
            break;
        }
    }
    let links = assert_links_whole(&mut raw, NS);

    let errors = calls.errors();
    let ok = calls.ok_count();
    let wrong = calls.wrong().len();
    let summary = format!(
        "maxclients 4, pool 8, 8 threads: {} calls, {ok} correct, {wrong} wrong, errors by kind \
         {errors:?}, {rejected} connections refused by the server; full server: errors by kind \
         {:?}, slowest {:?}, e.g. {:?}; working again {back:?} after clients left; {links} link \
         keys whole",
        calls.len(),
        full.errors(),
        full.slowest(),
        full.sample_errors(),
    );
    println!("{summary}");
    assert!(
        ok > 100,
        "the connections within the limit did not work: {summary}"
    );
    assert_eq!(wrong, 0, "{summary}");
    // Redis writes "-ERR max number of clients reached" and closes at once; the handshake
    // (CLIENT SETINFO) usually meets the reset, so the message names the likely cause itself.
    for call in calls.iter().chain(full.iter()) {
        if let Outcome::Failed(kind, message) = &call.outcome {
            assert_eq!(*kind, ErrorKind::Connection, "{message}: {summary}");
            assert!(
                message.contains("max number of clients") || message.contains("maxclients"),
                "the message does not point at the client limit: {message}: {summary}"
            );
        }
    }
    for call in full.iter() {
        assert!(call.failed().is_some(), "{summary}");
        assert!(call.took() <= ms(300) + ms(700), "{summary}");
    }
    assert!(back.is_some_and(|t| t < ms(1500)), "{summary}");
}
