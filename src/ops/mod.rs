//! Every operation, described once: its arguments' checks, its keys and the node that serves
//! them, its command, the reader of its reply, whether it may be sent again, and its name in
//! logs, errors and statistics. The engine (`engine.rs`) runs any of them, alone or many
//! together; the public API (`executor.rs`), [`BatchOp`] and the C API only choose which.
//!
//! An operation is a value of one of a few shapes, each implementing [`Op`]:
//! - [`KeyCommand`]: one command on one key (`HSET`, `SET`, `GET`, `HGETALL`), its reply read
//!   into a value or, for the packed map reads, into a caller's [`Packed`] buffer;
//! - [`LinkScript`]: one of the Lua scripts over a uid's two keys;
//! - [`Ping`];
//! - [`KeysRead`]: many string keys read in one round trip per node (`MGET` per slot), not a
//!   single command, so it has a trait of its own ([`ReadKeys`]) and is never part of a batch.
//!
//! `links.rs` and `states.rs` hold one constructor per operation: the description proper.

pub(crate) mod links;
pub(crate) mod states;

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::codec;
use crate::error::{Error, Result};
use crate::keys::KeyPieces;
use crate::packed::Packed;
use crate::scripts::Script;
use crate::transport::{Args, Reply, Route};
use crate::types::{Grace, Persistence, Pod, TrySet};

pub(crate) use links::LinkKeys;

/// Whether sending an operation again could change its outcome: the retry rule, and what a
/// client-side cache does with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    /// Reads only: sending it twice changes nothing, so it is sent again when its reply was
    /// lost. A cache may keep its answer under its keys.
    Read,
    /// Writes: never sent again once it may have reached the server (it could land after
    /// another client's newer write and undo it). A cache drops (or updates) its keys.
    Write,
}

/// One operation that is one command to the node serving its key: everything the engine needs
/// of it but the reading of its reply (so that a batch can hold operations of any result).
pub(crate) trait Command {
    /// Its name in logs, error messages and statistics ("get linked pod").
    fn name(&self) -> &'static str;

    /// Read or write (see [`Access`]).
    fn access(&self) -> Access;

    /// Where it goes: the node serving its key (all its keys share one slot).
    fn route(&self) -> Route<'_>;

    /// Hands each key it reads ([`Access::Read`]) or may change ([`Access::Write`]) to `visit`,
    /// as the pieces of the key: the one place the client-side cache learns what an operation
    /// touches (a write drops these keys' entries).
    fn keys(&self, visit: &mut dyn FnMut(&[&[u8]]));

    /// What the client-side cache may answer for it: the key and the plain read whose reply
    /// the cache keeps. `None` (the default): not cached.
    fn cached_read(&self) -> Option<CachedRead<'_>> {
        None
    }

    /// The script it runs, if any: a server that lost it (NOSCRIPT) gets it again with EVAL.
    fn script(&self) -> Option<&'static Script> {
        None
    }

    /// Encodes its command; `reload`: EVAL the script's source instead of EVALSHA.
    fn encode(&self, a: &mut dyn Args, reload: bool);
}

/// A [`Command`] and the reader of its reply.
pub(crate) trait Op: Command {
    /// What the operation returns.
    type Output;

    /// Reads its reply (an error reply never gets here: it is the server's error).
    fn decode(&self, reply: Reply<'_>) -> Result<Self::Output>;

    /// Reads the reply of its [`cached_read`](Command::cached_read), which the cache kept (the
    /// operation's own reply by default: its command is that read).
    fn decode_cached(&self, reply: Reply<'_>) -> Result<Self::Output> {
        self.decode(reply)
    }
}

/// The plain read of one key the client cache keeps the reply of.
#[derive(Clone, Copy)]
pub(crate) struct CachedRead<'a> {
    pub(crate) key: &'a [&'a [u8]],
    /// `GET` (else `HGETALL`).
    pub(crate) get: bool,
    /// Only a key without a TTL counts (a persistent link): with one, the answer is "absent".
    pub(crate) persistent_only: bool,
}

/// A key in pieces; keys of five pieces get an empty sixth (which changes no byte sent).
pub(crate) type Key<'a> = KeyPieces<'a, 6>;

/// What every call of an operation shares, written once as a `static` in `links.rs` or
/// `states.rs`: its name, whether it writes, and the reader of its reply (`R`, of the shape's
/// type).
pub(crate) struct Spec<R: 'static> {
    /// The name in logs, error messages and statistics.
    pub(crate) name: &'static str,
    pub(crate) access: Access,
    pub(crate) read: R,
}

impl<R> Spec<R> {
    /// A read.
    pub(crate) const fn reads(name: &'static str, read: R) -> Self {
        Spec {
            name,
            access: Access::Read,
            read,
        }
    }

    /// A write.
    pub(crate) const fn writes(name: &'static str, read: R) -> Self {
        Spec {
            name,
            access: Access::Write,
            read,
        }
    }
}

/// The key `key(ns, name)` once `ns` is a valid namespace and `name` passes `check`.
pub(crate) fn checked_key<'a>(
    ns: &'a str,
    name: &'a str,
    check: fn(&str) -> Result<()>,
    key: fn(&'a str, &'a str) -> KeyPieces<'a, 5>,
) -> Result<Key<'a>> {
    crate::keys::check_namespace(ns)?;
    check(name)?;
    Ok(key(ns, name).widened())
}

/// The command of a [`KeyCommand`] on its key.
#[derive(Clone, Copy)]
pub(crate) enum Verb<'a> {
    Get,
    HGetAll,
    /// `SET key value`.
    Set(&'a str),
    /// `HSET key pod value`.
    HSet(Pod, &'a str),
}

/// A reader of a reply, given the key the command named (for its messages).
pub(crate) type KeyReader<T> = fn(Reply<'_>, &Key<'_>) -> Result<T>;

/// What reads a [`KeyCommand`]'s reply: a [`KeyReader`], or [`IntoPacked`].
pub(crate) trait ReadReply {
    type Output;
    fn read(&self, reply: Reply<'_>, key: &Key<'_>) -> Result<Self::Output>;
}

impl<T> ReadReply for KeyReader<T> {
    type Output = T;

    fn read(&self, reply: Reply<'_>, key: &Key<'_>) -> Result<T> {
        self(reply, key)
    }
}

/// A writer of an `HGETALL` reply's entries into a [`Packed`] buffer, given the key (for
/// messages).
pub(crate) type PackedFill = fn(Reply<'_>, &Key<'_>, &mut Packed) -> Result<()>;

/// A map read's entries written into a caller's buffer (no allocation per entry); the buffer
/// is emptied before each attempt fills it.
pub(crate) struct IntoPacked<'p> {
    fill: PackedFill,
    out: RefCell<&'p mut Packed>,
}

impl ReadReply for IntoPacked<'_> {
    type Output = ();

    fn read(&self, reply: Reply<'_>, key: &Key<'_>) -> Result<()> {
        let mut out = self.out.borrow_mut();
        out.clear();
        (self.fill)(reply, key, &mut out)
    }
}

/// One command on one key whose reply is read into a value.
pub(crate) type OnKey<'a, T> = KeyCommand<'a, KeyReader<T>>;

/// A map read into a caller's [`Packed`] buffer.
pub(crate) type PackedRead<'a, 'p> = KeyCommand<'a, IntoPacked<'p>>;

/// One command on one key.
pub(crate) struct KeyCommand<'a, R> {
    name: &'static str,
    access: Access,
    key: Key<'a>,
    verb: Verb<'a>,
    reader: R,
}

impl<'a, R> KeyCommand<'a, R> {
    fn of<F>(spec: &'static Spec<F>, key: Key<'a>, verb: Verb<'a>, reader: R) -> Self {
        let (name, access) = (spec.name, spec.access);
        KeyCommand {
            name,
            access,
            key,
            verb,
            reader,
        }
    }
}

impl<'a, T> KeyCommand<'a, KeyReader<T>> {
    pub(crate) fn new(spec: &'static Spec<KeyReader<T>>, key: Key<'a>, verb: Verb<'a>) -> Self {
        Self::of(spec, key, verb, spec.read)
    }

    /// As [`new`](Self::new), on a key that may have been refused.
    pub(crate) fn on(
        spec: &'static Spec<KeyReader<T>>,
        key: Result<Key<'a>>,
        verb: Verb<'a>,
    ) -> Result<Self> {
        Ok(Self::new(spec, key?, verb))
    }
}

impl<'a, T> KeyCommand<'a, KeyReader<T>> {
    /// The same map read (`HGETALL`), its entries written by `spec` into `out` instead.
    pub(crate) fn packed<'p>(
        self,
        spec: &'static Spec<PackedFill>,
        out: &'p mut Packed,
    ) -> PackedRead<'a, 'p> {
        let reader = IntoPacked {
            fill: spec.read,
            out: RefCell::new(out),
        };
        KeyCommand::of(spec, self.key, Verb::HGetAll, reader)
    }
}

impl<R: ReadReply> Command for KeyCommand<'_, R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn access(&self) -> Access {
        self.access
    }

    fn route(&self) -> Route<'_> {
        Route::Key(self.key.pieces())
    }

    fn keys(&self, visit: &mut dyn FnMut(&[&[u8]])) {
        visit(self.key.pieces());
    }

    fn cached_read(&self) -> Option<CachedRead<'_>> {
        let get = match (self.access, self.verb) {
            (Access::Read, Verb::Get) => true,
            (Access::Read, Verb::HGetAll) => false,
            _ => return None,
        };
        Some(CachedRead {
            key: self.key.pieces(),
            get,
            persistent_only: false,
        })
    }

    fn encode(&self, a: &mut dyn Args, _reload: bool) {
        let key = self.key.pieces();
        match self.verb {
            Verb::Get => codec::get(a, key),
            Verb::HGetAll => codec::hgetall(a, key),
            Verb::Set(value) => codec::set(a, key, value),
            Verb::HSet(pod, value) => codec::hset(a, key, pod, value),
        }
    }
}

impl<R: ReadReply> Op for KeyCommand<'_, R> {
    type Output = R::Output;

    fn decode(&self, reply: Reply<'_>) -> Result<R::Output> {
        self.reader.read(reply, &self.key)
    }
}

/// A reader of a script's reply (the script named in messages).
pub(crate) type ScriptReader<T> = fn(Reply<'_>, &Script) -> Result<T>;

/// What every call of a link script shares: its [`Spec`] and its Lua script.
pub(crate) struct ScriptSpec<T: 'static> {
    pub(crate) spec: Spec<ScriptReader<T>>,
    pub(crate) script: &'static Script,
    /// A read the client cache may answer: the reader of the link's `GET` reply (only a
    /// persistent link counts).
    pub(crate) from_cache: Option<KeyReader<T>>,
}

impl<T> ScriptSpec<T> {
    /// A script that only reads.
    pub(crate) const fn reads(
        name: &'static str,
        script: &'static Script,
        read: ScriptReader<T>,
    ) -> Self {
        ScriptSpec {
            spec: Spec::reads(name, read),
            script,
            from_cache: None,
        }
    }

    /// The same read, answered by the client cache from the link's `GET` reply, read by `read`.
    pub(crate) const fn cached_as(self, read: KeyReader<T>) -> Self {
        ScriptSpec {
            from_cache: Some(read),
            ..self
        }
    }

    /// A script that writes.
    pub(crate) const fn writes(
        name: &'static str,
        script: &'static Script,
        read: ScriptReader<T>,
    ) -> Self {
        ScriptSpec {
            spec: Spec::writes(name, read),
            script,
            from_cache: None,
        }
    }
}

/// One of the Lua scripts over a uid's two keys (`lua/`): `KEYS` the uid hash and the link,
/// `ARGV` the service then `argv`.
pub(crate) struct LinkScript<'a, T: 'static> {
    pub(crate) spec: &'static ScriptSpec<T>,
    pub(crate) keys: LinkKeys<'a>,
    pub(crate) argv: [i32; 2],
    pub(crate) argc: usize,
}

impl<T> Command for LinkScript<'_, T> {
    fn name(&self) -> &'static str {
        self.spec.spec.name
    }

    fn access(&self) -> Access {
        self.spec.spec.access
    }

    fn route(&self) -> Route<'_> {
        Route::Key(self.keys.uid_hash.pieces())
    }

    fn keys(&self, visit: &mut dyn FnMut(&[&[u8]])) {
        visit(self.keys.uid_hash.pieces());
        visit(self.keys.link.pieces());
    }

    fn cached_read(&self) -> Option<CachedRead<'_>> {
        self.spec.from_cache.map(|_| CachedRead {
            key: self.keys.link.pieces(),
            get: true,
            persistent_only: true,
        })
    }

    fn script(&self) -> Option<&'static Script> {
        Some(self.spec.script)
    }

    fn encode(&self, a: &mut dyn Args, reload: bool) {
        let keys = [self.keys.uid_hash.pieces(), self.keys.link.pieces()];
        codec::script(a, self.spec.script, reload, &keys, |a| {
            a.bytes(self.keys.service.as_bytes());
            for arg in &self.argv[..self.argc] {
                a.int((*arg).into());
            }
        });
    }
}

impl<T> Op for LinkScript<'_, T> {
    type Output = T;

    fn decode(&self, reply: Reply<'_>) -> Result<T> {
        (self.spec.spec.read)(reply, self.spec.script)
    }

    fn decode_cached(&self, reply: Reply<'_>) -> Result<T> {
        match self.spec.from_cache {
            Some(read) => read(reply, &self.keys.link),
            None => Err(Error::new(
                crate::ErrorKind::Internal,
                format!("{}: not a cached read", self.spec.spec.name),
            )),
        }
    }
}

/// `PING`: whether the server answers.
pub(crate) struct Ping;

impl Command for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn route(&self) -> Route<'_> {
        Route::Any
    }

    fn keys(&self, _visit: &mut dyn FnMut(&[&[u8]])) {}

    fn encode(&self, a: &mut dyn Args, _reload: bool) {
        codec::ping(a)
    }
}

impl Op for Ping {
    type Output = ();

    fn decode(&self, reply: Reply<'_>) -> Result<()> {
        codec::read_pong(reply)
    }
}

/// An operation that reads many string keys in one round trip per node: one `MGET` on one
/// server, one per slot on a cluster (never CROSSSLOT). Always a read.
pub(crate) trait ReadKeys {
    type Output;

    /// Its name in logs, error messages and statistics.
    fn name(&self) -> &'static str;

    /// How many keys it reads.
    fn count(&self) -> usize;

    /// Key `i`, as pieces, handed to `put` (every key a client-side cache would track).
    fn key(&self, i: usize, put: &mut dyn FnMut(&[&[u8]]));

    /// Forgets what an earlier attempt read.
    fn start(&mut self);

    /// Takes the value of key `i` (`None` when absent), in input order.
    fn value(&mut self, i: usize, value: Option<&[u8]>) -> Result<()>;

    /// The result, once every value was taken.
    fn finish(self) -> Self::Output;
}

/// A reader of one stored value (`None` when absent), given the key's name for its messages.
pub(crate) type ValueReader<T> = fn(Option<&[u8]>, &dyn Fn() -> String) -> Result<T>;

/// A [`ReadKeys`] whose values are decoded one by one into a list, in input order.
pub(crate) struct KeysRead<'a, T: 'static, K: Fn(usize) -> Key<'a>> {
    pub(crate) spec: &'static Spec<ValueReader<T>>,
    pub(crate) count: usize,
    pub(crate) key: K,
    pub(crate) values: Vec<T>,
}

impl<'a, T, K: Fn(usize) -> Key<'a>> KeysRead<'a, T, K> {
    pub(crate) fn new(spec: &'static Spec<ValueReader<T>>, count: usize, key: K) -> Self {
        KeysRead {
            spec,
            count,
            key,
            values: Vec::with_capacity(count),
        }
    }
}

impl<'a, T, K: Fn(usize) -> Key<'a>> ReadKeys for KeysRead<'a, T, K> {
    type Output = Vec<T>;

    fn name(&self) -> &'static str {
        self.spec.name
    }

    fn count(&self) -> usize {
        self.count
    }

    fn key(&self, i: usize, put: &mut dyn FnMut(&[&[u8]])) {
        put((self.key)(i).pieces())
    }

    fn start(&mut self) {
        self.values.clear();
    }

    fn value(&mut self, i: usize, value: Option<&[u8]>) -> Result<()> {
        let decoded = (self.spec.read)(value, &|| (self.key)(i).to_string())?;
        self.values.push(decoded);
        Ok(())
    }

    fn finish(self) -> Vec<T> {
        self.values
    }
}

// ---- batches ----

/// One operation of a batch: the arguments of the single call of the same name.
#[derive(Debug, Clone, Copy)]
pub enum BatchOp<'a> {
    /// [`Executor::set_service_state`](crate::Executor::set_service_state).
    SetServiceState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Pod state.
        state: &'a str,
    },
    /// [`Executor::get_service_state`](crate::Executor::get_service_state).
    GetServiceState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::set_workload_state`](crate::Executor::set_workload_state).
    SetWorkloadState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
        /// Workload state.
        state: &'a str,
    },
    /// [`Executor::get_workload_state`](crate::Executor::get_workload_state).
    GetWorkloadState {
        /// Namespace.
        ns: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::set_linked_pod`](crate::Executor::set_linked_pod).
    SetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::try_set_linked_pod`](crate::Executor::try_set_linked_pod).
    TrySetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::set_linked_pod_if_absent`](crate::Executor::set_linked_pod_if_absent).
    SetLinkedPodIfAbsent {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Pod ordinal.
        pod: Pod,
        /// Persistent or temporary.
        persistence: Persistence,
    },
    /// [`Executor::get_linked_pod`](crate::Executor::get_linked_pod).
    GetLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::get_linked_pod_if_persist`](crate::Executor::get_linked_pod_if_persist).
    GetLinkedPodIfPersist {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
    },
    /// [`Executor::remove_linked_pod`](crate::Executor::remove_linked_pod).
    RemoveLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Delete now, or keep as a temporary link.
        grace: Grace,
    },
    /// [`Executor::remove_linked_pod_with_id`](crate::Executor::remove_linked_pod_with_id).
    RemoveLinkedPodWithId {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Delete now, or keep as a temporary link.
        grace: Grace,
        /// Only a link to this pod is removed.
        pod: Pod,
    },
    /// [`Executor::touch_linked_pod`](crate::Executor::touch_linked_pod).
    TouchLinkedPod {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
        /// Service.
        service: &'a str,
        /// Only a link to this pod is touched.
        pod: Pod,
        /// The temporary link's new TTL, in seconds (1..=2147483647).
        persist_seconds: u32,
    },
    /// [`Executor::get_link_services`](crate::Executor::get_link_services).
    GetLinkServices {
        /// Namespace.
        ns: &'a str,
        /// User id.
        uid: &'a str,
    },
}

/// The result of one operation of a batch: what its single call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// A write without a result (set service state, set workload state).
    Done,
    /// Get service state: pod -> state.
    States(BTreeMap<Pod, String>),
    /// Get workload state.
    State(Option<String>),
    /// A pod: the previous one (set linked pod), the current one (set if absent), the linked
    /// one (the two gets).
    Pod(Option<Pod>),
    /// Try set linked pod.
    TrySet(TrySet),
    /// Whether a link was removed (the two removes).
    Removed(bool),
    /// Get link services: service -> pod.
    Links(BTreeMap<String, Pod>),
    /// Whether the link points at the pod (touch linked pod).
    Touched(bool),
}

/// An operation of a batch, its result given as a [`BatchOutcome`]: one variant per kind of
/// result (not per operation), so that a batch allocates nothing per operation.
pub(crate) enum Planned<'a> {
    Done(OnKey<'a, ()>),
    States(OnKey<'a, BTreeMap<Pod, String>>),
    State(OnKey<'a, Option<String>>),
    Linked(OnKey<'a, Option<Pod>>),
    Links(OnKey<'a, BTreeMap<String, Pod>>),
    Pod(LinkScript<'a, Option<Pod>>),
    Current(LinkScript<'a, Pod>),
    TrySet(LinkScript<'a, TrySet>),
    Removed(LinkScript<'a, bool>),
    Touched(LinkScript<'a, bool>),
}

impl Planned<'_> {
    /// The operation, whatever its result.
    fn command(&self) -> &dyn Command {
        match self {
            Planned::Done(op) => op,
            Planned::States(op) => op,
            Planned::State(op) => op,
            Planned::Linked(op) => op,
            Planned::Links(op) => op,
            Planned::Pod(op) => op,
            Planned::Current(op) => op,
            Planned::TrySet(op) => op,
            Planned::Removed(op) | Planned::Touched(op) => op,
        }
    }
}

impl Command for Planned<'_> {
    fn name(&self) -> &'static str {
        self.command().name()
    }

    fn access(&self) -> Access {
        self.command().access()
    }

    fn route(&self) -> Route<'_> {
        self.command().route()
    }

    fn keys(&self, visit: &mut dyn FnMut(&[&[u8]])) {
        self.command().keys(visit)
    }

    fn script(&self) -> Option<&'static Script> {
        self.command().script()
    }

    fn cached_read(&self) -> Option<CachedRead<'_>> {
        self.command().cached_read()
    }

    fn encode(&self, a: &mut dyn Args, reload: bool) {
        self.command().encode(a, reload)
    }
}

impl Planned<'_> {
    /// The outcome, read by `decode` of the operation itself (its reply, or the cached one).
    fn outcome(&self, reply: Reply<'_>, cached: bool) -> Result<BatchOutcome> {
        fn read<O: Op>(op: &O, reply: Reply<'_>, cached: bool) -> Result<O::Output> {
            if cached {
                op.decode_cached(reply)
            } else {
                op.decode(reply)
            }
        }
        use BatchOutcome as Out;
        Ok(match self {
            Planned::Done(op) => read(op, reply, cached).map(|()| Out::Done)?,
            Planned::States(op) => Out::States(read(op, reply, cached)?),
            Planned::State(op) => Out::State(read(op, reply, cached)?),
            Planned::Linked(op) => Out::Pod(read(op, reply, cached)?),
            Planned::Links(op) => Out::Links(read(op, reply, cached)?),
            Planned::Pod(op) => Out::Pod(read(op, reply, cached)?),
            Planned::Current(op) => Out::Pod(Some(read(op, reply, cached)?)),
            Planned::TrySet(op) => Out::TrySet(read(op, reply, cached)?),
            Planned::Removed(op) => Out::Removed(read(op, reply, cached)?),
            Planned::Touched(op) => Out::Touched(read(op, reply, cached)?),
        })
    }
}

impl Op for Planned<'_> {
    type Output = BatchOutcome;

    fn decode(&self, reply: Reply<'_>) -> Result<BatchOutcome> {
        self.outcome(reply, false)
    }

    fn decode_cached(&self, reply: Reply<'_>) -> Result<BatchOutcome> {
        self.outcome(reply, true)
    }
}

impl<'a> BatchOp<'a> {
    /// The operation's name, as in the messages of its single call.
    pub fn name(&self) -> &'static str {
        match self {
            BatchOp::SetServiceState { .. } => states::SET_SERVICE_STATE.name,
            BatchOp::GetServiceState { .. } => states::GET_SERVICE_STATE.name,
            BatchOp::SetWorkloadState { .. } => states::SET_WORKLOAD_STATE.name,
            BatchOp::GetWorkloadState { .. } => states::GET_WORKLOAD_STATE.name,
            BatchOp::SetLinkedPod { .. } => links::SET_LINKED_POD.spec.name,
            BatchOp::TrySetLinkedPod { .. } => links::TRY_SET_LINKED_POD.spec.name,
            BatchOp::SetLinkedPodIfAbsent { .. } => links::SET_LINKED_POD_IF_ABSENT.spec.name,
            BatchOp::GetLinkedPod { .. } => links::GET_LINKED_POD.name,
            BatchOp::GetLinkedPodIfPersist { .. } => links::GET_LINKED_POD_IF_PERSIST.spec.name,
            BatchOp::RemoveLinkedPod { .. } => links::REMOVE_LINKED_POD.spec.name,
            BatchOp::RemoveLinkedPodWithId { .. } => links::REMOVE_LINKED_POD_WITH_ID.spec.name,
            BatchOp::TouchLinkedPod { .. } => links::TOUCH_LINKED_POD.spec.name,
            BatchOp::GetLinkServices { .. } => links::GET_LINK_SERVICES.name,
        }
    }

    /// The operation its single call runs, its arguments checked as that call checks them
    /// (nothing is sent for a rejected one): one row per kind.
    #[rustfmt::skip]
    pub(crate) fn plan(&self) -> Result<Planned<'a>> {
        use links::{pod_script, remove, SET_LINKED_POD, SET_LINKED_POD_IF_ABSENT, TOUCH_LINKED_POD};
        use links::TRY_SET_LINKED_POD;
        use BatchOp as B;
        use Planned as P;
        Ok(match *self {
            B::SetServiceState { ns, service, pod, state } =>
                P::Done(states::set_service_state(ns, service, pod, state)?),
            B::GetServiceState { ns, service } => P::States(states::get_service_state(ns, service)?),
            B::SetWorkloadState { ns, service, state } => P::Done(states::set_workload_state(ns, service, state)?),
            B::GetWorkloadState { ns, service } => P::State(states::get_workload_state(ns, service)?),
            B::SetLinkedPod { ns, uid, service, pod, persistence } =>
                P::Pod(pod_script(&SET_LINKED_POD, ns, uid, service, pod, persistence)?),
            B::TrySetLinkedPod { ns, uid, service, pod, persistence } =>
                P::TrySet(pod_script(&TRY_SET_LINKED_POD, ns, uid, service, pod, persistence)?),
            B::SetLinkedPodIfAbsent { ns, uid, service, pod, persistence } =>
                P::Current(pod_script(&SET_LINKED_POD_IF_ABSENT, ns, uid, service, pod, persistence)?),
            B::GetLinkedPod { ns, uid, service } => P::Linked(links::get_linked_pod(ns, uid, service)?),
            B::GetLinkedPodIfPersist { ns, uid, service } =>
                P::Pod(links::get_linked_pod_if_persist(ns, uid, service)?),
            B::RemoveLinkedPod { ns, uid, service, grace } => P::Removed(remove(ns, uid, service, grace, None)?),
            B::RemoveLinkedPodWithId { ns, uid, service, grace, pod } =>
                P::Removed(remove(ns, uid, service, grace, Some(pod))?),
            B::TouchLinkedPod { ns, uid, service, pod, persist_seconds } => {
                let ttl = Persistence::temporary(persist_seconds);
                P::Touched(pod_script(&TOUCH_LINKED_POD, ns, uid, service, pod, ttl)?)
            }
            B::GetLinkServices { ns, uid } => P::Links(links::get_link_services(ns, uid)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use Access::{Read, Write};

    /// Checks what a client-side cache would learn of an operation (read or write, and its
    /// keys), and that every key lives in the slot the operation is routed to.
    fn check<O: Op>(op: Result<O>, access: Access, expected: &[&String]) {
        let op = op.unwrap();
        let mut keys = Vec::new();
        op.keys(&mut |pieces| keys.push(String::from_utf8(pieces.concat()).unwrap()));
        assert_eq!(
            (op.access(), keys.iter().collect::<Vec<_>>()),
            (access, expected.to_vec())
        );
        let slot = op.route().slot();
        op.keys(&mut |pieces| assert_eq!(Route::Key(pieces).slot(), slot, "{}", op.name()));
    }

    #[test]
    fn each_operation_names_the_keys_it_reads_or_changes() {
        let (ns, uid, svc, p) = ("prod", "u1", "chat", Persistence::Persistent);
        let link = &keys::link_key(ns, uid, svc);
        let hash = &keys::uid_links_key(ns, uid);
        let states = &keys::service_state_key(ns, svc);
        let workload = &keys::workload_key(ns, svc);
        let mut out = Packed::new();
        let state_writes = [
            states::set_service_state(ns, svc, 1, "Up"),
            states::set_workload_state(ns, svc, "Up"),
        ];
        for (op, key) in state_writes.into_iter().zip([states, workload]) {
            check(op, Write, &[key]);
        }
        check(states::get_service_state(ns, svc), Read, &[states]);
        let packed = states::get_service_state(ns, svc)
            .map(|op| op.packed(&states::GET_SERVICE_STATE_PACKED, &mut out));
        check(packed, Read, &[states]);
        check(states::get_workload_state(ns, svc), Read, &[workload]);
        fn pod_script<T>(spec: &'static ScriptSpec<T>) -> Result<LinkScript<'static, T>> {
            let ttl = Persistence::temporary(60);
            links::pod_script(spec, "prod", "u1", "chat", 1, ttl)
        }
        check(pod_script(&links::SET_LINKED_POD), Write, &[hash, link]);
        check(pod_script(&links::TRY_SET_LINKED_POD), Write, &[hash, link]);
        check(
            pod_script(&links::SET_LINKED_POD_IF_ABSENT),
            Write,
            &[hash, link],
        );
        check(pod_script(&links::TOUCH_LINKED_POD), Write, &[hash, link]);
        let persistent = links::pod_script(&links::SET_LINKED_POD, ns, uid, svc, 1, p);
        check(persistent, Write, &[hash, link]);
        check(links::get_linked_pod(ns, uid, svc), Read, &[link]);
        let if_persist = links::get_linked_pod_if_persist(ns, uid, svc);
        check(if_persist, Read, &[hash, link]);
        let grace = Grace::Seconds(5);
        for only in [None, Some(2)] {
            check(
                links::remove(ns, uid, svc, grace, only),
                Write,
                &[hash, link],
            );
        }
        check(links::get_link_services(ns, uid), Read, &[hash]);
        let packed = links::get_link_services(ns, uid)
            .map(|op| op.packed(&links::GET_LINK_SERVICES_PACKED, &mut out));
        check(packed, Read, &[hash]);
        check(Ok(Ping), Read, &[]);
    }

    #[test]
    fn a_batch_operation_is_its_single_call() {
        let (ns, service) = ("prod", "chat");
        let op = BatchOp::GetLinkedPod {
            ns,
            uid: "u",
            service,
        };
        assert_eq!(op.plan().unwrap().name(), op.name());
        let bad = BatchOp::GetLinkedPod {
            ns,
            uid: "u{",
            service,
        };
        assert_eq!(
            bad.plan().err(),
            links::get_linked_pod(ns, "u{", service).err()
        );
    }
}
