//! check: find what the data model forbids or a partial failure leaves behind, and with --fix
//! repair the cases where the right answer is certain.
//!
//! A repair is safe when it cannot change where any uid is routed: the link key is what every
//! reader routes by (get linked pod), so repairs make the uid hash agree with the link keys,
//! never the other way round, and remove expiries the data model forbids. Each repair is one
//! script that applies only when the keys are still as they were read. Corrupt values, links
//! to pods without a state, wrong types and foreign keys need a person: they are reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use stateful_executor::{keys, Executor, Pod};

use crate::cli::{CheckArgs, Context};
use crate::conn::Node;
use crate::fail::{Fail, Result, NOT_FOUND, OK};
use crate::layout::{self, Key};
use crate::scan::scan_node;

/// Every kind of problem, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// A link key whose value is not a pod ordinal.
    LinkNotOrdinal,
    /// A link without TTL that the uid hash does not list: a persistent link whose field is
    /// missing, or a temporary link that lost its TTL (the data alone cannot tell which).
    UntimedLinkNotInHash,
    /// A persistent link whose uid hash field names another pod (or holds no pod ordinal).
    FieldNamesOtherPod,
    /// A temporary link that the uid hash lists (it lists persistent links only).
    TemporaryLinkInHash,
    /// A uid hash field without its link key.
    FieldWithoutLink,
    /// A pod-state hash field that is not a pod ordinal.
    StateFieldNotOrdinal,
    /// A link to a pod absent from the service's pod states (when it publishes any).
    LinkToAbsentPod,
    /// A key of the layout holding another Redis type.
    WrongType,
    /// A state, workload or uid hash key with a TTL (the data model gives them none).
    ExpiringKey,
    /// A key under the namespace's prefix that is none of the layout's keys.
    UnknownKey,
}

impl Problem {
    const ALL: [Problem; 10] = [
        Problem::LinkNotOrdinal,
        Problem::UntimedLinkNotInHash,
        Problem::FieldNamesOtherPod,
        Problem::TemporaryLinkInHash,
        Problem::FieldWithoutLink,
        Problem::StateFieldNotOrdinal,
        Problem::LinkToAbsentPod,
        Problem::WrongType,
        Problem::ExpiringKey,
        Problem::UnknownKey,
    ];

    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// One problem found.
#[derive(Serialize, Debug)]
struct Finding {
    problem: Problem,
    key: String,
    ns: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<Pod>,
    detail: String,
    fixed: bool,
    /// What --fix did, or why it left the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    repair: Option<String>,
}

/// The repairs, each applied only when the keys are still as read.
mod scripts {
    /// Lists a persistent link in its uid hash. KEYS: uid hash, link. ARGV: service, pod as
    /// read, '0' (field was absent) or '1' and the field's value as read.
    pub const SET_FIELD: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[2] or redis.call('PTTL', KEYS[2]) ~= -1 then return 0 end
local field = redis.call('HGET', KEYS[1], ARGV[1])
if (ARGV[3] == '0' and field ~= false) or (ARGV[3] == '1' and field ~= ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1";

    /// Gives an untimed link missing from the uid hash a TTL. KEYS: uid hash, link. ARGV:
    /// service, pod as read, seconds.
    pub const EXPIRE_UNTIMED: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[2] or redis.call('PTTL', KEYS[2]) ~= -1 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1";

    /// Removes a uid hash field whose link is temporary ('temporary') or absent ('absent').
    /// KEYS: uid hash, link. ARGV: service, field's value as read, which case.
    pub const DROP_FIELD: &str = r"
local pttl = redis.call('PTTL', KEYS[2])
if ARGV[3] == 'temporary' and pttl <= 0 then return 0 end
if ARGV[3] == 'absent' and pttl ~= -2 then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1";
}

/// A uid hash that disagrees with a link key, and the repair that would make it agree.
struct Mismatch {
    problem: Problem,
    detail: String,
    script: &'static str,
    /// The script's arguments after the service.
    args: Vec<Vec<u8>>,
    /// What the repair does, for the report.
    done: String,
}

/// What is known of a link key after reading it.
struct LinkRead {
    value: Option<Vec<u8>>,
    pttl_ms: i64,
    field: Option<Vec<u8>>,
}

/// What a batch needs read after TYPE and PTTL.
enum Pending {
    State { service: String },
    UidLinks { uid: String },
    Link { uid: String, service: String },
}

struct Checker<'a> {
    ns: &'a str,
    args: &'a CheckArgs,
    executor: &'a Executor,
    /// Pods with a state, per service (`None`: the service publishes no state at all).
    states: HashMap<String, Option<BTreeSet<Pod>>>,
    /// Links of services without any state: not checked against states.
    unchecked_links: BTreeMap<String, u64>,
    found: BTreeMap<Problem, (u64, u64)>,
    examples: BTreeMap<Problem, Vec<Finding>>,
    keys: u64,
    json: bool,
    out: &'a mut crate::out::Out,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Checker<'_> {
    fn report(&mut self, finding: Finding) -> Result<()> {
        let counts = self.found.entry(finding.problem).or_default();
        counts.0 += 1;
        if finding.fixed {
            counts.1 += 1;
        }
        if self.json {
            return self.out.json(&finding);
        }
        let examples = self.examples.entry(finding.problem).or_default();
        if examples.len() < self.args.examples {
            examples.push(finding);
        }
        Ok(())
    }

    fn finding(&self, problem: Problem, key: &[u8], detail: String) -> Finding {
        Finding {
            problem,
            key: lossy(key),
            ns: self.ns.to_string(),
            uid: None,
            service: None,
            pod: None,
            detail,
            fixed: false,
            repair: None,
        }
    }

    /// Runs a repair script; records in `finding` what happened.
    fn repair(
        &self,
        node: &mut Node,
        finding: &mut Finding,
        script: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        done: &str,
    ) {
        let script = redis::Script::new(script);
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        match invocation.invoke::<i64>(&mut node.conn) {
            Ok(1) => {
                finding.fixed = true;
                finding.repair = Some(done.to_string());
            }
            Ok(_) => finding.repair = Some("left: changed since it was read".into()),
            Err(err) => finding.repair = Some(format!("left: the repair failed: {err}")),
        }
    }

    fn pods_with_state(&mut self, service: &str) -> Result<Option<BTreeSet<Pod>>> {
        if let Some(known) = self.states.get(service) {
            return Ok(known.clone());
        }
        let pods: BTreeSet<Pod> = self
            .executor
            .get_service_state(self.ns, service)?
            .into_keys()
            .collect();
        let known = (!pods.is_empty()).then_some(pods);
        self.states.insert(service.to_string(), known.clone());
        Ok(known)
    }

    fn batch(&mut self, node: &mut Node, batch: Vec<Vec<u8>>) -> Result<()> {
        self.keys += batch.len() as u64;
        let mut pipe = redis::pipe();
        for key in &batch {
            pipe.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
        }
        let kinds: Vec<(String, i64)> = pipe
            .query(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&node.name))?;
        let mut pending = Vec::new();
        for (key, (kind, pttl)) in batch.iter().zip(kinds) {
            if kind == "none" {
                continue; // expired or deleted since the SCAN
            }
            let class = layout::classify(self.ns, key);
            let Some(expected) = class.expected_type() else {
                let finding = self.finding(
                    Problem::UnknownKey,
                    key,
                    format!("a {kind} that is none of the layout's keys"),
                );
                self.report(finding)?;
                continue;
            };
            if kind != expected {
                let finding = self.finding(
                    Problem::WrongType,
                    key,
                    format!("a {kind}, where the layout has a {expected}"),
                );
                self.report(finding)?;
                continue;
            }
            if pttl > 0 && !matches!(class, Key::Link { .. }) {
                let mut finding = self.finding(
                    Problem::ExpiringKey,
                    key,
                    format!("expires in {} ms; the layout gives it no TTL", pttl),
                );
                if self.args.fix {
                    match redis::cmd("PERSIST").arg(key).query::<i64>(&mut node.conn) {
                        Ok(1) => {
                            finding.fixed = true;
                            finding.repair = Some("TTL removed".into());
                        }
                        Ok(_) => finding.repair = Some("left: changed since it was read".into()),
                        Err(err) => finding.repair = Some(format!("left: {err}")),
                    }
                }
                self.report(finding)?;
            }
            match class {
                Key::State { service } => pending.push((key, Pending::State { service })),
                Key::UidLinks { uid } => pending.push((key, Pending::UidLinks { uid })),
                Key::Link { uid, service } => pending.push((key, Pending::Link { uid, service })),
                Key::Workload { .. } | Key::Other => {}
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        // One round trip for the content of every key of the batch.
        let mut pipe = redis::pipe();
        for (key, what) in &pending {
            match what {
                Pending::State { .. } | Pending::UidLinks { .. } => {
                    pipe.cmd("HGETALL").arg(*key);
                }
                Pending::Link { uid, service } => {
                    pipe.cmd("GET")
                        .arg(*key)
                        .cmd("PTTL")
                        .arg(*key)
                        .cmd("HGET")
                        .arg(keys::uid_links_key(self.ns, uid))
                        .arg(service);
                }
            }
        }
        // A uid hash of another type fails its HGET alone (it is reported as wrong-type).
        pipe.ignore_errors();
        let mut replies = pipe
            .query::<Vec<redis::Value>>(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&node.name))?
            .into_iter();
        let name = node.name.clone();
        let mut next = |key: &[u8], what: &str| -> Result<redis::Value> {
            match replies.next() {
                Some(redis::Value::ServerError(err)) => Err(Fail::failed(format!(
                    "{name}: {what} {}: {err:?}",
                    lossy(key)
                ))),
                Some(value) => Ok(value),
                None => Err(Fail::failed(format!("{name}: no reply to {what}"))),
            }
        };
        let parse =
            |key: &[u8], e: redis::ParsingError| Fail::failed(format!("{}: {e}", lossy(key)));
        let mut reads = Vec::with_capacity(pending.len());
        for (key, what) in pending {
            match what {
                Pending::State { .. } | Pending::UidLinks { .. } => {
                    let fields: Vec<(Vec<u8>, Vec<u8>)> =
                        redis::from_redis_value(next(key, "HGETALL")?)
                            .map_err(|e| parse(key, e))?;
                    reads.push((key, what, None, fields));
                }
                Pending::Link { .. } => {
                    let value =
                        redis::from_redis_value(next(key, "GET")?).map_err(|e| parse(key, e))?;
                    let pttl_ms =
                        redis::from_redis_value(next(key, "PTTL")?).map_err(|e| parse(key, e))?;
                    let field = next(key, "HGET")
                        .ok()
                        .and_then(|f| redis::from_redis_value(f).ok())
                        .flatten();
                    let read = LinkRead {
                        value,
                        pttl_ms,
                        field,
                    };
                    reads.push((key, what, Some(read), Vec::new()));
                }
            }
        }
        for (key, what, link, fields) in reads {
            match what {
                Pending::State { service } => self.check_states(key, &service, fields)?,
                Pending::UidLinks { uid } => self.check_uid_hash(node, key, &uid, fields)?,
                Pending::Link { uid, service } => {
                    let read = link.expect("read for every link");
                    self.check_link(node, key, &uid, &service, read)?
                }
            }
        }
        Ok(())
    }

    fn check_states(
        &mut self,
        key: &[u8],
        service: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        for (field, value) in fields {
            if keys::parse_pod(&field).is_none() {
                let mut finding = self.finding(
                    Problem::StateFieldNotOrdinal,
                    key,
                    format!(
                        "field {:?} (state {:?}) is not a pod ordinal; readers skip it",
                        lossy(&field),
                        lossy(&value)
                    ),
                );
                finding.service = Some(service.to_string());
                self.report(finding)?;
            }
        }
        Ok(())
    }

    fn check_uid_hash(
        &mut self,
        node: &mut Node,
        key: &[u8],
        uid: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        // Fields whose link key exists are checked from the link's side.
        let mut pipe = redis::pipe();
        let link_keys: Vec<String> = fields
            .iter()
            .map(|(service, _)| keys::link_key(self.ns, uid, &lossy(service)))
            .collect();
        for link in &link_keys {
            pipe.cmd("EXISTS").arg(link);
        }
        let exists: Vec<i64> = pipe
            .query(&mut node.conn)
            .map_err(|e| Fail::from(e).context(&node.name))?;
        for (((service, value), link), exists) in fields.iter().zip(&link_keys).zip(exists) {
            if exists == 1 {
                continue;
            }
            let mut finding = self.finding(
                Problem::FieldWithoutLink,
                key,
                format!(
                    "field {:?} = {:?}, but no link key {link}",
                    lossy(service),
                    lossy(value)
                ),
            );
            finding.uid = Some(uid.to_string());
            finding.service = Some(lossy(service));
            finding.pod = keys::parse_pod(value);
            if self.args.fix {
                self.repair(
                    node,
                    &mut finding,
                    scripts::DROP_FIELD,
                    &[key, link.as_bytes()],
                    &[service, value, b"absent"],
                    "field removed",
                );
            }
            self.report(finding)?;
        }
        Ok(())
    }

    fn check_link(
        &mut self,
        node: &mut Node,
        key: &[u8],
        uid: &str,
        service: &str,
        read: LinkRead,
    ) -> Result<()> {
        let Some(value) = read.value else {
            return Ok(()); // expired or deleted since the SCAN
        };
        let finding = |checker: &Self, problem, detail: String, pod| {
            let mut finding = checker.finding(problem, key, detail);
            finding.uid = Some(uid.to_string());
            finding.service = Some(service.to_string());
            finding.pod = pod;
            finding
        };
        let Some(pod) = keys::parse_pod(&value) else {
            let mut f = finding(
                self,
                Problem::LinkNotOrdinal,
                format!("holds {:?}, which is not a pod ordinal", lossy(&value)),
                None,
            );
            if self.args.fix {
                f.repair = Some(format!(
                    "left: look at it, then delete it by hand (redis-cli DEL '{}')",
                    lossy(key)
                ));
            }
            return self.report(f);
        };
        // The uid hash against the link key: what is wrong, and the repair (script, its
        // arguments after the service, what it does).
        let uid_hash = keys::uid_links_key(self.ns, uid);
        let pod_text = pod.to_string();
        let persistent = read.pttl_ms == -1;
        let mismatch = match (read.field, persistent) {
            (None, true) => {
                let (script, args, done) = match self.args.untimed_ttl {
                    None => (
                        scripts::SET_FIELD,
                        vec![pod_text.clone().into_bytes(), b"0".to_vec()],
                        "field added: a persistent link".to_string(),
                    ),
                    Some(seconds) => (
                        scripts::EXPIRE_UNTIMED,
                        vec![
                            pod_text.clone().into_bytes(),
                            seconds.to_string().into_bytes(),
                        ],
                        format!("TTL of {seconds} s given: a temporary link"),
                    ),
                };
                let detail =
                    format!("pod {pod}, no TTL, but the uid hash {uid_hash} does not list it");
                Some(Mismatch {
                    problem: Problem::UntimedLinkNotInHash,
                    detail,
                    script,
                    args,
                    done,
                })
            }
            (Some(field), true) if keys::parse_pod(&field) != Some(pod) => Some(Mismatch {
                problem: Problem::FieldNamesOtherPod,
                detail: format!(
                    "persistent link to pod {pod}, but the uid hash field says {:?}",
                    lossy(&field)
                ),
                script: scripts::SET_FIELD,
                args: vec![pod_text.clone().into_bytes(), b"1".to_vec(), field],
                done: "field set to the link's pod".to_string(),
            }),
            (Some(field), false) => Some(Mismatch {
                problem: Problem::TemporaryLinkInHash,
                detail: format!(
                    "temporary link to pod {pod} ({} ms left), but the uid hash lists it ({:?})",
                    read.pttl_ms,
                    lossy(&field)
                ),
                script: scripts::DROP_FIELD,
                args: vec![field, b"temporary".to_vec()],
                done: "field removed".to_string(),
            }),
            _ => None,
        };
        if let Some(Mismatch {
            problem,
            detail,
            script,
            args,
            done,
        }) = mismatch
        {
            let mut f = finding(self, problem, detail, Some(pod));
            if self.args.fix {
                let mut all: Vec<&[u8]> = vec![service.as_bytes()];
                all.extend(args.iter().map(Vec::as_slice));
                self.repair(
                    node,
                    &mut f,
                    script,
                    &[uid_hash.as_bytes(), key],
                    &all,
                    &done,
                );
            }
            self.report(f)?;
        }
        match self.pods_with_state(service)? {
            Some(pods) if !pods.contains(&pod) => {
                let mut f = finding(
                    self,
                    Problem::LinkToAbsentPod,
                    format!("linked to pod {pod}, which has no state in service {service:?}"),
                    Some(pod),
                );
                if self.args.fix {
                    f.repair = Some(format!(
                        "left: sfctl drain {} {} {pod} releases the links to it",
                        self.ns, service
                    ));
                }
                self.report(f)?;
            }
            Some(_) => {}
            None => *self.unchecked_links.entry(service.to_string()).or_default() += 1,
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    ns: &'a str,
    keys_checked: u64,
    /// Problems found, per kind.
    found: BTreeMap<String, u64>,
    /// Of those, repaired by --fix.
    fixed: BTreeMap<String, u64>,
    /// Links of services that publish no pod state (not checked against states).
    links_of_services_without_states: &'a BTreeMap<String, u64>,
}

pub fn check(ctx: &mut Context, args: &CheckArgs) -> Result<u8> {
    keys::check_namespace(&args.ns)?;
    let executor = ctx.target.executor()?;
    let mut nodes = ctx.target.nodes()?;
    let node_count = nodes.nodes.len();
    let bar = crate::out::spinner();
    let mut checker = Checker {
        ns: &args.ns,
        args,
        executor: &executor,
        states: HashMap::new(),
        unchecked_links: BTreeMap::new(),
        found: BTreeMap::new(),
        examples: BTreeMap::new(),
        keys: 0,
        json: ctx.out.json,
        out: &mut ctx.out,
    };
    let pattern = layout::namespace_pattern(&args.ns);
    let never = AtomicBool::new(false);
    for (index, node) in nodes.nodes.iter_mut().enumerate() {
        scan_node(node, &pattern, None, &never, |node, batch| {
            checker.batch(node, batch)?;
            bar.set_message(format!(
                "node {}/{node_count}  {} keys checked",
                index + 1,
                checker.keys
            ));
            Ok(())
        })?;
    }
    bar.finish_and_clear();
    let left: u64 = checker
        .found
        .values()
        .map(|(found, fixed)| found - fixed)
        .sum();
    let count_map = |pick: fn(&(u64, u64)) -> u64| {
        checker
            .found
            .iter()
            .map(|(problem, counts)| (problem.name(), pick(counts)))
            .collect::<BTreeMap<_, _>>()
    };
    let (found, fixed) = (count_map(|c| c.0), count_map(|c| c.1));
    let out = checker.out;
    if checker.json {
        out.json(&Summary {
            ns: &args.ns,
            keys_checked: checker.keys,
            found,
            fixed,
            links_of_services_without_states: &checker.unchecked_links,
        })?;
    } else {
        out.line(&format!(
            "checked {} keys of namespace {:?} on {node_count} node(s)",
            checker.keys, args.ns
        ))?;
        if checker.found.is_empty() {
            out.line("no problems found")?;
        } else {
            let rows = Problem::ALL
                .iter()
                .filter_map(|p| checker.found.get(p).map(|c| (p, c)))
                .map(|(p, (found, fixed))| {
                    vec![
                        p.name(),
                        found.to_string(),
                        fixed.to_string(),
                        (found - fixed).to_string(),
                    ]
                })
                .collect();
            out.line("")?;
            out.table(&["PROBLEM", "FOUND", "FIXED", "LEFT"], rows)?;
            out.line("")?;
            out.line("examples:")?;
            for (problem, examples) in &checker.examples {
                for f in examples {
                    let repair = f
                        .repair
                        .as_ref()
                        .map_or(String::new(), |r| format!("  [{r}]"));
                    out.line(&format!(
                        "  {}  {}: {}{repair}",
                        problem.name(),
                        f.key,
                        f.detail
                    ))?;
                }
            }
        }
        for (service, links) in &checker.unchecked_links {
            out.line(&format!(
                "note: {links} links of service {service:?}, which publishes no pod state, were not \
                 checked against pod states"
            ))?;
        }
    }
    out.flush()?;
    Ok(if left > 0 { NOT_FOUND } else { OK })
}
