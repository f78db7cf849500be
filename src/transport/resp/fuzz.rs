//! In-process fuzzing of the decoder (proptest): well-formed replies of every shape, the same
//! replies mutated, and arbitrary bytes, each fed whole and in random chunks. Checked: no panic;
//! chunking never changes the outcome; an accepted reply is exactly the bytes of one encoded
//! reply, and redis-rs's own parser reads the same value from them (a differential check);
//! nothing beyond the limits is ever accepted.

use proptest::prelude::*;
use redis::Value;

use super::*;

/// A RESP2 reply tree (errors only where the library can meet them: as the whole reply).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Okay),
        // "+OK" reads as `Okay`, both here and in redis-rs.
        "[a-zA-Z0-9 ]{0,12}".prop_map(|s| match s.as_str() {
            "OK" => Value::Okay,
            _ => Value::SimpleString(s),
        }),
        any::<i64>().prop_map(Value::Int),
        Just(Value::Nil),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::BulkString),
        // CR and LF inside bulk strings must not confuse the decoder.
        Just(Value::BulkString(b"\r\n$3\r\n*1\r\n".to_vec())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        proptest::collection::vec(inner, 0..6).prop_map(Value::Array)
    })
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Okay => out.extend_from_slice(b"+OK\r\n"),
        Value::SimpleString(s) => {
            out.push(b'+');
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Value::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
        Value::BulkString(bytes) => {
            out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
        Value::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                encode_value(item, out);
            }
        }
        other => unreachable!("not generated: {other:?}"),
    }
}

fn encoded(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out
}

type Outcome = std::result::Result<Option<usize>, ProtocolError>;

/// Feeds `bytes` whole.
fn whole(limits: Limits, bytes: &[u8]) -> Outcome {
    Decoder::new(limits).feed(bytes)
}

/// Feeds growing prefixes of `bytes` ending at `cuts` (as reads would deliver them), then the
/// whole; stops at the first answer that is not "more bytes needed".
fn chunked(limits: Limits, bytes: &[u8], cuts: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for cut in cuts {
        match decoder.feed(&bytes[..cut]) {
            Ok(None) => {}
            other => return other,
        }
    }
    Ok(None)
}

/// The outcome class, for comparing whole and chunked feeding (error texts may differ only in
/// which limit was noticed first, never in accepting or not).
fn class(outcome: &Outcome) -> std::result::Result<Option<usize>, ()> {
    outcome.as_ref().map(|n| *n).map_err(|_| ())
}

/// Walks an accepted reply, checking every frame against the limits; returns its value when it
/// holds no error element and no status line that is not UTF-8.
fn walk(limits: Limits, bytes: &[u8]) -> Option<Value> {
    fn check(limits: Limits, reply: &mut Reply, depth: usize) -> bool {
        match reply.next().expect("an accepted reply walks") {
            Frame::Array(Some(n)) => {
                assert!(depth < limits.depth, "accepted nesting beyond the limit");
                assert!(n <= limits.array, "accepted an array beyond the limit");
                let mut plain = true;
                for _ in 0..n {
                    plain &= check(limits, reply, depth + 1);
                }
                plain
            }
            Frame::Bulk(Some(data)) => {
                assert!(
                    data.len() <= limits.bulk,
                    "accepted a bulk beyond the limit"
                );
                true
            }
            Frame::Status(line) => {
                assert!(line.len() <= limits.line);
                // redis-rs refuses a status line that is not UTF-8; the library reads it
                // lossily (it only ever compares one with OK or PONG): not compared.
                std::str::from_utf8(line).is_ok()
            }
            Frame::Error(line) => {
                assert!(line.len() <= limits.line);
                false
            }
            _ => true,
        }
    }
    assert!(
        bytes.len() <= limits.reply,
        "accepted a reply beyond the limit"
    );
    let plain = check(limits, &mut Reply::new(bytes), 0);
    plain.then(|| {
        Reply::new(bytes)
            .value()
            .expect("an accepted reply converts")
    })
}

/// Small limits, so that generated replies cross them.
const SMALL: Limits = Limits {
    depth: 3,
    bulk: 16,
    array: 4,
    line: 24,
    reply: 160,
};

/// Mutations of a valid stream: a byte changed, inserted or removed, a cut, a slice repeated.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b'*'),
        Just(b'$'),
        Just(b'-'),
        Just(b'9'),
        Just(b'0'),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), special.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), special).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..12).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let at = |i: usize| i % bytes.len();
    match *mutation {
        Mutation::Set(i, b) => {
            let i = at(i);
            bytes[i] = b;
        }
        Mutation::Insert(i, b) => {
            let i = at(i);
            bytes.insert(i, b);
        }
        Mutation::Remove(i) => {
            let i = at(i);
            bytes.remove(i);
        }
        Mutation::Truncate(i) => {
            let i = at(i);
            bytes.truncate(i);
        }
        Mutation::Repeat(i, n) => {
            let i = at(i);
            let end = (i + n).min(bytes.len());
            let piece = bytes[i..end].to_vec();
            bytes.splice(i..i, piece);
        }
    }
}

/// What every input must satisfy, valid or not.
fn check_any(
    limits: Limits,
    bytes: &[u8],
    cuts: &[usize],
) -> std::result::Result<(), TestCaseError> {
    let all = whole(limits, bytes);
    prop_assert_eq!(
        class(&all),
        class(&chunked(limits, bytes, cuts)),
        "chunking changed the outcome"
    );
    if let Ok(Some(n)) = all {
        prop_assert!(n > 0 && n <= bytes.len());
        if let Some(ours) = walk(limits, &bytes[..n]) {
            // Differential: redis-rs reads the same value from the same bytes.
            let theirs = redis::parse_redis_value(&bytes[..n]);
            prop_assert_eq!(Ok(ours), theirs.map_err(|e| e.to_string()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_replies_decode_to_what_redis_rs_reads(
        value in value(),
        next in value(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = encoded(&value);
        let mut stream = bytes.clone();
        stream.extend_from_slice(&encoded(&next));
        for input in [&bytes, &stream] {
            prop_assert_eq!(whole(Limits::DEFAULT, input), Ok(Some(bytes.len())));
            prop_assert_eq!(chunked(Limits::DEFAULT, input, &cuts), Ok(Some(bytes.len())));
        }
        let ours = walk(Limits::DEFAULT, &bytes).expect("no error element generated");
        prop_assert_eq!(&ours, &redis::parse_redis_value(&bytes).unwrap());
        prop_assert_eq!(ours, value);
        // Every strict prefix is incomplete, never an error.
        for end in 0..bytes.len() {
            prop_assert_eq!(whole(Limits::DEFAULT, &bytes[..end]), Ok(None));
        }
        check_any(SMALL, &stream, &cuts)?;
    }

    #[test]
    fn mutated_replies_never_confuse_the_decoder(
        value in value(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = encoded(&value);
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_any(Limits::DEFAULT, &bytes, &cuts)?;
        check_any(SMALL, &bytes, &cuts)?;
    }

    #[test]
    fn arbitrary_bytes_never_confuse_the_decoder(
        bytes in proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(b"*$:+-\r\n0123456789".to_vec()),
                1 => any::<u8>(),
            ],
            0..200,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        check_any(Limits::DEFAULT, &bytes, &cuts)?;
        check_any(SMALL, &bytes, &cuts)?;
    }
}
