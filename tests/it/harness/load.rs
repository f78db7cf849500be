//! Load while something goes wrong: [`LoadRun`] keeps N threads calling the executor, each call
//! timed against the run's clock and judged (right answer, wrong answer, error of some kind);
//! the test injects its fault meanwhile, then reads the [`Calls`].
//!
//! ```ignore
//! let run = LoadRun::until_settled(8, 50, |t| {
//!     let ex = Arc::clone(&ex);
//!     move |rec: &mut Recorder| {
//!         rec.call(false, || ex.get_linked_pod(NS, "u", SVC), expect_pod(Some(1)));
//!     }
//! });
//! server.kill(); /* ... */ server.restart();
//! let t_verify = run.settle(); // from now on each thread does 50 more steps, then stops
//! let calls = run.finish();
//! assert!(calls.started_after(t_verify).all_ok());
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use stateful_executor::{ErrorKind, Pod, Result};

/// No run lasts longer, whatever its stop rule says.
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// Nor records more calls per thread.
const MAX_CALLS_PER_THREAD: usize = 200_000;
/// After a step with a failed call, a thread waits this long (no spinning while the server is
/// down).
const BACKOFF: Duration = Duration::from_millis(5);

/// How one call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Succeeded with the expected answer.
    Ok,
    /// Succeeded with an answer the test knows to be wrong.
    Wrong(String),
    /// Failed.
    Failed(ErrorKind, String),
}

/// One finished call, timed against the run's clock.
#[derive(Clone, Debug)]
pub struct Call {
    pub start: Duration,
    pub end: Duration,
    pub write: bool,
    pub outcome: Outcome,
}

impl Call {
    pub fn took(&self) -> Duration {
        self.end - self.start
    }

    pub fn failed(&self) -> Option<ErrorKind> {
        match self.outcome {
            Outcome::Failed(kind, _) => Some(kind),
            _ => None,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    pub fn is_wrong(&self) -> bool {
        matches!(self.outcome, Outcome::Wrong(_))
    }
}

/// Records the calls of one thread.
pub struct Recorder {
    clock: Instant,
    calls: Vec<Call>,
}

impl Recorder {
    pub fn new(clock: Instant) -> Recorder {
        Recorder {
            clock,
            calls: Vec::new(),
        }
    }

    /// Runs `f`, timing it, and judges its result with `check` (which returns why an answer is
    /// wrong, if it is). Returns the value when the call succeeded with a right answer.
    pub fn call<T>(
        &mut self,
        write: bool,
        f: impl FnOnce() -> Result<T>,
        check: impl FnOnce(&T) -> Option<String>,
    ) -> Option<T> {
        let start = self.clock.elapsed();
        let result = f();
        let end = self.clock.elapsed();
        let (outcome, value) = match result {
            Ok(value) => match check(&value) {
                None => (Outcome::Ok, Some(value)),
                Some(why) => (Outcome::Wrong(why), None),
            },
            Err(err) => (Outcome::Failed(err.kind(), err.to_string()), None),
        };
        self.calls.push(Call {
            start,
            end,
            write,
            outcome,
        });
        value
    }

    /// The last call recorded.
    pub fn last(&self) -> Option<&Call> {
        self.calls.last()
    }

    pub fn into_calls(self) -> Calls {
        Calls {
            calls: self.calls,
            stall: Duration::ZERO,
        }
    }
}

/// A check for [`Recorder::call`]: the answer must be `expected`.
pub fn expect<T: PartialEq + std::fmt::Debug>(expected: T) -> impl FnOnce(&T) -> Option<String> {
    move |got| (*got != expected).then(|| format!("expected {expected:?}, got {got:?}"))
}

/// A check for [`Recorder::call`]: the answer must be this pod (or none).
pub fn expect_pod(expected: Option<Pod>) -> impl FnOnce(&Option<Pod>) -> Option<String> {
    expect(expected)
}

/// When the threads of a run stop.
#[derive(Clone, Copy)]
enum Until {
    /// This long after the start.
    Elapsed(Duration),
    /// Once [`LoadRun::settle`] was called and each thread did this many steps after it.
    Settled(usize),
}

/// N threads calling the executor until a stop rule says so; see the module documentation.
pub struct LoadRun {
    clock: Instant,
    settled: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Vec<Call>>>,
    probe: SchedulingProbe,
}

impl LoadRun {
    /// `threads` threads run `step` (made for each thread by `worker(thread index)`) in a loop
    /// for `run_for`.
    pub fn for_time<S>(threads: usize, run_for: Duration, worker: impl Fn(usize) -> S) -> LoadRun
    where
        S: FnMut(&mut Recorder) + Send + 'static,
    {
        LoadRun::start(threads, Until::Elapsed(run_for), worker)
    }

    /// `threads` threads run `step` in a loop until the test calls [`LoadRun::settle`] and each
    /// thread did `rounds` more steps.
    pub fn until_settled<S>(threads: usize, rounds: usize, worker: impl Fn(usize) -> S) -> LoadRun
    where
        S: FnMut(&mut Recorder) + Send + 'static,
    {
        LoadRun::start(threads, Until::Settled(rounds), worker)
    }

    fn start<S>(threads: usize, until: Until, worker: impl Fn(usize) -> S) -> LoadRun
    where
        S: FnMut(&mut Recorder) + Send + 'static,
    {
        let clock = Instant::now();
        let settled = Arc::new(AtomicBool::new(false));
        let workers = (0..threads)
            .map(|t| {
                let mut step = worker(t);
                let settled = Arc::clone(&settled);
                thread::spawn(move || {
                    let mut rec = Recorder::new(clock);
                    let mut rounds_settled = 0;
                    loop {
                        let done = match until {
                            Until::Elapsed(run_for) => clock.elapsed() >= run_for,
                            Until::Settled(rounds) => rounds_settled >= rounds,
                        };
                        if done
                            || clock.elapsed() >= RUN_LIMIT
                            || rec.calls.len() >= MAX_CALLS_PER_THREAD
                        {
                            break;
                        }
                        let settled_before = settled.load(Ordering::SeqCst);
                        let first = rec.calls.len();
                        step(&mut rec);
                        if rec.calls[first..].iter().any(|c| c.failed().is_some()) {
                            thread::sleep(BACKOFF);
                        }
                        if settled_before {
                            rounds_settled += 1;
                        }
                    }
                    rec.calls
                })
            })
            .collect();
        LoadRun {
            clock,
            settled,
            workers,
            probe: SchedulingProbe::start(),
        }
    }

    /// Time since the run started: the clock every call's start and end are measured against.
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The fault is over: from now on each thread does its last rounds (see
    /// [`LoadRun::until_settled`]). Returns the time it was called.
    pub fn settle(&self) -> Duration {
        let now = self.now();
        self.settled.store(true, Ordering::SeqCst);
        now
    }

    /// Waits for every thread and returns all their calls.
    pub fn finish(self) -> Calls {
        let calls = self
            .workers
            .into_iter()
            .flat_map(|w| w.join().expect("load thread panicked"))
            .collect();
        Calls {
            calls,
            stall: self.probe.finish(),
        }
    }
}

/// How late a thread of this process woke up, at worst, while a run went on: on a machine busy
/// with other work a thread holding a connection can be off the CPU for longer than a pool
/// wait, and then timing windows narrower than that cannot be judged.
struct SchedulingProbe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Duration>,
}

impl SchedulingProbe {
    const TICK: Duration = Duration::from_millis(10);

    fn start() -> SchedulingProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut worst = Duration::ZERO;
                while !stop.load(Ordering::SeqCst) {
                    let asleep = Instant::now();
                    thread::sleep(Self::TICK);
                    worst = worst.max(asleep.elapsed().saturating_sub(Self::TICK));
                }
                worst
            })
        };
        SchedulingProbe { stop, thread }
    }

    fn finish(self) -> Duration {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("probe thread panicked")
    }
}

/// The calls of a run, with the summaries the fault tests assert on.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    pub calls: Vec<Call>,
    /// The longest a thread of the process overslept during the run (see `SchedulingProbe`).
    pub stall: Duration,
}

impl Calls {
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Call> {
        self.calls.iter()
    }

    /// The calls for which `keep` holds.
    pub fn only(&self, keep: impl Fn(&Call) -> bool) -> Calls {
        Calls {
            calls: self.calls.iter().filter(|c| keep(c)).cloned().collect(),
            stall: self.stall,
        }
    }

    pub fn ended_before(&self, t: Duration) -> Calls {
        self.only(|c| c.end < t)
    }

    pub fn started_after(&self, t: Duration) -> Calls {
        self.only(|c| c.start >= t)
    }

    pub fn failed(&self) -> Calls {
        self.only(|c| c.failed().is_some())
    }

    pub fn failed_with(&self, kind: ErrorKind) -> Calls {
        self.only(|c| c.failed() == Some(kind))
    }

    pub fn wrong(&self) -> Calls {
        self.only(Call::is_wrong)
    }

    pub fn ok_count(&self) -> usize {
        self.calls.iter().filter(|c| c.is_ok()).count()
    }

    pub fn all_ok(&self) -> bool {
        self.calls.iter().all(Call::is_ok)
    }

    /// Error counts by kind (C status name).
    pub fn errors(&self) -> BTreeMap<&'static str, usize> {
        let mut kinds = BTreeMap::new();
        for kind in self.calls.iter().filter_map(Call::failed) {
            *kinds.entry(kind.status_name()).or_insert(0) += 1;
        }
        kinds
    }

    /// Whether every error is of one of these kinds (C status names).
    pub fn errors_only_of(&self, kinds: &[&str]) -> bool {
        self.errors().keys().all(|k| kinds.contains(k))
    }

    pub fn slowest(&self) -> Duration {
        self.calls.iter().map(Call::took).max().unwrap_or_default()
    }

    pub fn quickest(&self) -> Duration {
        self.calls.iter().map(Call::took).min().unwrap_or_default()
    }

    /// A few distinct error messages, for assertion messages.
    pub fn sample_errors(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for call in &self.calls {
            if let Outcome::Failed(_, message) | Outcome::Wrong(message) = &call.outcome {
                if !seen.contains(message) && seen.len() < 5 {
                    seen.push(message.clone());
                }
            }
        }
        seen
    }
}

/// A small deterministic PRNG (xorshift64*): each thread gets its own seed, so runs differ per
/// thread but need no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
