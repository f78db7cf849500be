//! The command line: every command, argument and flag (clap), and what the commands share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stateful_executor::Pod;

use crate::conn::{ConnectArgs, Target};
use crate::out::Out;

const EXIT_CODES: &str = "\
Exit codes:
  0    done
  1    not found (no state, no link, nothing removed), or check found problems it did not repair
  2    bad arguments or input file: nothing was sent to Redis
  3    cannot connect, connection lost, timeout, or authentication refused
  4    Redis refused a command, or the data is too corrupt to go on
  130  drain interrupted (Ctrl-C): run it again to finish

The key layout and the meaning of every operation: docs/data-model.md; this tool: docs/sfctl.md.";

/// Inspect, repair, drain, check and back up the routing state that stateful-executor keeps in
/// Redis: pod states, workload states, and links from a uid to the pod serving it.
#[derive(Parser, Debug)]
#[command(name = "sfctl", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// One JSON object per line (fields: ns, uid, service, pod, persistent, ttl_seconds,
    /// state) instead of tables.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The state of every pod of a service (pod -> state).
    #[command(after_help = "Example: sfctl states prod chat")]
    States(ServiceArgs),

    /// The workload state of one or more services.
    #[command(after_help = "Example: sfctl workload prod chat game\n\
        Exit code 1 when any of them has none (the others are still shown).")]
    Workload(WorkloadArgs),

    /// Every link of a uid (service, pod, persistent or temporary, TTL left), or its link to
    /// one service.
    #[command(
        after_help = "Examples:\n  sfctl link prod user-42\n  sfctl link prod user-42 chat\n\n\
        Without SERVICE, temporary links (which no hash lists) are found by a SCAN of the node \
        holding the uid: give SERVICE to read one link directly on a big database."
    )]
    Link(LinkArgs),

    /// Every uid linked to one pod of a service: a SCAN over every node, printed as found.
    #[command(after_help = "Example: sfctl links-of-pod prod chat 3 --json > uids.jsonl")]
    LinksOfPod(LinksOfPodArgs),

    /// Publish the state of one pod; prints the state it had before.
    #[command(after_help = "Example: sfctl set-state prod chat 3 Running")]
    SetState(SetStateArgs),

    /// Publish the workload state of a service; prints the state it had before.
    #[command(after_help = "Example: sfctl set-workload prod chat Available")]
    SetWorkload(SetWorkloadArgs),

    /// Link a uid to a pod (persistent, or temporary with --ttl); prints the link it replaced.
    #[command(after_help = "Examples:\n  sfctl set-link prod user-42 chat 3\n  \
        sfctl set-link prod user-42 chat 3 --ttl 600")]
    SetLink(SetLinkArgs),

    /// Remove a uid's link to a service; prints the link it removed.
    #[command(after_help = "Examples:\n  sfctl unlink prod user-42 chat\n  \
        sfctl unlink prod user-42 chat --grace 300 --if-pod 3\n\n\
        Exit code 1 when nothing was removed (no link, or --if-pod names another pod).")]
    Unlink(UnlinkArgs),

    /// Release every link to one pod of a service, on every node, at a limited rate.
    #[command(after_help = "Examples:\n  sfctl drain prod chat 3 --dry-run\n  \
        sfctl drain prod chat 3 --grace 300 --rate 2000\n\n\
        Each link is released as remove_linked_pod_with_id does: atomically, and only while it \
        still points at POD (a link moved meanwhile is left alone and counted as moved). \
        Ctrl-C stops between two links; running the same command again finishes the job. \
        With --grace, links already expiring within the grace period are left as they are \
        (so a second run does not extend them).")]
    Drain(DrainArgs),

    /// Find what the data model forbids or a partial failure leaves behind; --fix repairs the
    /// safe cases.
    #[command(after_help = "Example: sfctl check prod --fix\n\n\
        Problems found (docs/sfctl.md explains each, and what --fix does):\n  \
        link-not-ordinal          a link key whose value is not a pod ordinal (left)\n  \
        untimed-link-not-in-hash  a link without TTL missing from the uid hash: a persistent \
        link whose field is missing, or a temporary link that lost its TTL (fixed: field added, \
        or the TTL given with --untimed-ttl)\n  \
        field-names-other-pod     a persistent link whose hash field names another pod, or \
        no pod (fixed: field set to the link's pod)\n  \
        temporary-link-in-hash    a temporary link listed in the uid hash (fixed: field removed)\n  \
        field-without-link        a uid hash field without its link key (fixed: field removed)\n  \
        state-field-not-ordinal   a pod-state field that is not a pod ordinal (left)\n  \
        link-to-absent-pod        a link to a pod the service publishes no state for (left; \
        see drain)\n  \
        wrong-type                a key of the layout holding another Redis type (left)\n  \
        expiring-key              a state, workload or uid hash key with a TTL (fixed: TTL \
        removed)\n  \
        unknown-key               a key under the namespace's prefix that is none of the \
        layout's (left)\n\n\
        Exit code 0 when nothing is left to repair, 1 otherwise.")]
    Check(CheckArgs),

    /// Write a namespace's states, workload states and links (with their TTLs left) as JSON
    /// lines to standard output.
    #[command(after_help = "Example: sfctl export prod > prod.jsonl")]
    Export(ExportArgs),

    /// Write the states, workload states and links of an export file (through the library's
    /// operations); the whole file is checked before anything is written.
    #[command(after_help = "Examples:\n  sfctl import prod.jsonl\n  \
        sfctl import prod.jsonl --ns staging\n\n\
        Links get the TTL left at export time; links present already are replaced.")]
    Import(ImportArgs),
}

/// A pod ordinal: 0..=2147483647.
fn pod_arg() -> clap::builder::RangedI64ValueParser<Pod> {
    clap::value_parser!(Pod).range(0..)
}

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Namespace.
    pub ns: String,
    /// Service.
    pub service: String,
}

#[derive(Args, Debug)]
pub struct WorkloadArgs {
    /// Namespace.
    pub ns: String,
    /// One or more services.
    #[arg(required = true)]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LinkArgs {
    /// Namespace.
    pub ns: String,
    /// The uid.
    pub uid: String,
    /// Only the link to this service.
    pub service: Option<String>,
}

#[derive(Args, Debug)]
pub struct LinksOfPodArgs {
    /// Namespace.
    pub ns: String,
    /// Service.
    pub service: String,
    /// Pod ordinal.
    #[arg(value_parser = pod_arg())]
    pub pod: Pod,
}

#[derive(Args, Debug)]
pub struct SetStateArgs {
    /// Namespace.
    pub ns: String,
    /// Service.
    pub service: String,
    /// Pod ordinal.
    #[arg(value_parser = pod_arg())]
    pub pod: Pod,
    /// The pod's new state.
    pub state: String,
}

#[derive(Args, Debug)]
pub struct SetWorkloadArgs {
    /// Namespace.
    pub ns: String,
    /// Service.
    pub service: String,
    /// The service's new workload state.
    pub state: String,
}

#[derive(Args, Debug)]
pub struct SetLinkArgs {
    /// Namespace.
    pub ns: String,
    /// The uid.
    pub uid: String,
    /// Service.
    pub service: String,
    /// Pod ordinal.
    #[arg(value_parser = pod_arg())]
    pub pod: Pod,
    /// A temporary link expiring after SECONDS (1..=2147483647); persistent without it.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub ttl: Option<u32>,
}

#[derive(Args, Debug)]
pub struct UnlinkArgs {
    /// Namespace.
    pub ns: String,
    /// The uid.
    pub uid: String,
    /// Service.
    pub service: String,
    /// Keep the link as a temporary one for SECONDS (a user back soon returns to the same pod);
    /// 0 deletes at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub grace: u32,
    /// Remove only while the link points at this pod.
    #[arg(long, value_name = "POD", value_parser = pod_arg())]
    pub if_pod: Option<Pod>,
}

#[derive(Args, Debug)]
pub struct DrainArgs {
    /// Namespace.
    pub ns: String,
    /// Service.
    pub service: String,
    /// The pod to drain.
    #[arg(value_parser = pod_arg())]
    pub pod: Pod,
    /// Keep each released link as a temporary one for SECONDS; 0 deletes at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub grace: u32,
    /// Links released per second at most (`500` or `500/s`); 0: no limit.
    #[arg(long, value_name = "N/s", default_value = "1000", value_parser = rate)]
    pub rate: u32,
    /// Count what would be released; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `N` or `N/s`.
fn rate(text: &str) -> std::result::Result<u32, String> {
    text.strip_suffix("/s")
        .unwrap_or(text)
        .parse::<u32>()
        .map_err(|_| format!("{text:?} is not a rate: use N or N/s (0: no limit)"))
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Namespace.
    pub ns: String,
    /// Repair the safe cases (each repair is atomic and applies only if the key is still as
    /// found); report the rest.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: repair an untimed link missing from the uid hash by giving it this TTL (as
    /// a temporary link) instead of adding its hash field (as a persistent one).
    #[arg(long, value_name = "SECONDS", requires = "fix", value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub untimed_ttl: Option<u32>,
    /// Examples shown per kind of problem (tables only; --json lists every one).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub examples: usize,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Namespace.
    pub ns: String,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// An export file (JSON lines).
    pub file: PathBuf,
    /// Write everything into this namespace instead of the one in each line.
    #[arg(long, value_name = "NEW")]
    pub ns: Option<String>,
}

/// What a command runs with: where Redis is, and the output.
pub struct Context {
    pub target: Target,
    pub out: Out,
}
