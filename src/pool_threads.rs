//! The pool's background threads, which open connections and reap idle ones, and waiting for
//! them to exit when the executor closes.
//!
//! r2d2 runs its jobs on a `ScheduledThreadPool`, which stops its threads when dropped but does
//! not join them (it keeps no handles). Closing an executor must not return while one of them
//! still runs: a thread opening a connection while the executor goes away would outlive it (a
//! leak LeakSanitizer reported), and a host that unloads the library right after closing would
//! pull the code from under it. So each thread registers itself when the pool starts, and
//! [`Threads::wait_exited`] waits until each has run its thread-local destructors and (on
//! Linux) until the kernel no longer lists it.

use std::cell::RefCell;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use scheduled_thread_pool::{OnPoolDropBehavior, ScheduledThreadPool};

/// How many threads, as r2d2's own default pool.
const THREADS: usize = 3;

/// The registered threads of one pool.
#[derive(Default)]
pub(crate) struct Threads {
    /// Kernel thread ids (Linux), to tell when a thread is really gone.
    ids: Mutex<Vec<i64>>,
    /// How many threads have run their thread-local destructors.
    exited: Mutex<usize>,
    exit: Condvar,
}

/// Held in a thread-local of each pool thread: dropped when the thread exits.
struct ExitNotice(Arc<Threads>);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        *self.0.exited.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.exit.notify_all();
    }
}

thread_local! {
    static NOTICE: RefCell<Option<ExitNotice>> = const { RefCell::new(None) };
}

fn thread_id() -> i64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        i64::from(unsafe { libc::gettid() })
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// A new thread pool for r2d2 whose threads stop as soon as it is dropped (r2d2's default pool
/// would first wait for the reaper's next run, up to 30 s later), with its threads registered.
pub(crate) fn start() -> (Arc<ScheduledThreadPool>, Arc<Threads>) {
    let pool = ScheduledThreadPool::builder()
        .num_threads(THREADS)
        .thread_name_pattern("r2d2-worker-{}")
        .on_drop_behavior(OnPoolDropBehavior::DiscardPendingScheduled)
        .build();
    let threads = Arc::new(Threads::default());
    // Each job waits for all the others, so each runs on its own thread.
    let all_there = Arc::new(Barrier::new(THREADS + 1));
    for _ in 0..THREADS {
        let (threads, all_there) = (Arc::clone(&threads), Arc::clone(&all_there));
        pool.execute(move || {
            threads
                .ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(thread_id());
            NOTICE.with(|notice| *notice.borrow_mut() = Some(ExitNotice(threads)));
            all_there.wait();
        });
    }
    all_there.wait();
    (Arc::new(pool), threads)
}

impl Threads {
    /// Waits until every pool thread has exited; call after dropping the pool. A pool thread
    /// closing its own executor (from a log callback) does not wait for itself.
    pub(crate) fn wait_exited(&self) {
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if ids.contains(&thread_id()) && cfg!(target_os = "linux") {
            return;
        }
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        while *exited < ids.len() {
            exited = self.exit.wait(exited).unwrap_or_else(|e| e.into_inner());
        }
        drop(exited);
        // After its destructors a thread still runs a little code of this library on its way
        // out; gone from /proc, it runs none. Bounded, in case a new thread took the id.
        #[cfg(target_os = "linux")]
        {
            let limit = Instant::now() + Duration::from_secs(1);
            for id in ids {
                let task = format!("/proc/self/task/{id}");
                while std::path::Path::new(&task).exists() && Instant::now() < limit {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    }
}
