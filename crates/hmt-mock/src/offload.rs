//! Heavy work kept off the async I/O threads, so that one slow request
//! never holds up a cheap one.
//!
//! Three things a request can make the mock do take unbounded-looking
//! time relative to answering from a cache: generating data from a schema
//! (up to the generator's caps, tens of milliseconds for a large one),
//! validating a large body, and running a user's callback script. On an
//! async worker thread each would stall every other connection that
//! worker serves. [`Offload::run`] runs them with
//! [`tokio::task::block_in_place`]: the worker hands its other tasks to a
//! fresh worker and becomes a blocking thread for the duration, so cheap
//! requests keep being answered; the work itself runs on a short-lived
//! thread at a lower priority, so that on one CPU the cheap answers still
//! come first. `block_in_place` rather than
//! `spawn_blocking` because the work borrows the request and the loaded
//! specs: moving them to another thread would mean cloning both for every
//! generated answer.
//!
//! The pool is bounded three ways, each answered with a clear 503 rather
//! than unbounded threads or memory:
//! - at most `workers` pieces of heavy work run at once (a semaphore);
//! - at most `queue` more wait for a turn;
//! - a request waits at most `deadline` for its turn.
//!
//! The work itself is bounded by what runs it (the generator's caps, the
//! script engine's operation limit), not here: CPU-bound code cannot be
//! cancelled from outside.
//!
//! On a current-thread runtime (a `#[tokio::test]` driving the library)
//! there is no other worker to hand tasks to, so the work runs in place,
//! still counted against the bounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;

/// The bounds of the heavy-work pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadLimits {
    /// Pieces of heavy work running at once.
    pub workers: usize,
    /// Pieces waiting for a turn beyond those; more are refused at once.
    pub queue: usize,
    /// How long a piece waits for its turn before it is refused.
    pub deadline: Duration,
}

impl Default for OffloadLimits {
    /// One piece per CPU, 64 waiting per CPU, 10 s wait at most.
    fn default() -> OffloadLimits {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        OffloadLimits {
            workers: cpus,
            queue: 64 * cpus,
            deadline: Duration::from_secs(10),
        }
    }
}

/// Why heavy work was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Every worker was busy and the queue full.
    #[error("{running} heavy requests are running and {waiting} waiting, the most allowed")]
    QueueFull {
        /// Pieces running.
        running: usize,
        /// Pieces waiting.
        waiting: usize,
    },
    /// No worker came free within the deadline.
    #[error("no worker came free within {0:?}")]
    Deadline(Duration),
}

/// The heavy-work pool of one mock.
#[derive(Debug)]
pub struct Offload {
    limits: OffloadLimits,
    permits: Semaphore,
    waiting: AtomicUsize,
}

impl Offload {
    /// A pool with these bounds (`workers` at least one).
    pub fn new(limits: OffloadLimits) -> Offload {
        let limits = OffloadLimits {
            workers: limits.workers.max(1),
            ..limits
        };
        Offload {
            permits: Semaphore::new(limits.workers),
            waiting: AtomicUsize::new(0),
            limits,
        }
    }

    /// Runs `work` once a worker is free, off the async I/O threads where
    /// the runtime has others; [`Busy`] when none comes free in time.
    pub async fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> Result<R, Busy> {
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
                let _queued = Queued(&self.waiting);
                if waiting >= self.limits.queue {
                    return Err(Busy::QueueFull {
                        running: self.limits.workers,
                        waiting,
                    });
                }
                match tokio::time::timeout(self.limits.deadline, self.permits.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    // The semaphore is never closed; a closed one means
                    // nothing will run again, which is a deadline too.
                    Ok(Err(_)) | Err(_) => return Err(Busy::Deadline(self.limits.deadline)),
                }
            }
        };
        let multi_thread = Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        Ok(if multi_thread {
            tokio::task::block_in_place(|| at_low_priority(work))
        } else {
            work()
        })
    }
}

/// Runs `work` on a thread of its own at a lower scheduling priority
/// (nice +10 on Linux) and waits for it.
///
/// Why a thread of its own: handing the worker's tasks on
/// (`block_in_place`) is not enough when the mock has one CPU (a container
/// limit, `taskset`): the fresh worker and the heavy work then share that
/// CPU as equals, and a cheap answer waits for a time slice of the heavy
/// one. At nice +10 the cheap answers' thread weighs about ten times as
/// much, so it gets the CPU as soon as it has work. The priority cannot be
/// raised back without privileges, hence a short-lived thread rather than
/// lowering the calling one, which goes back to serving connections. A
/// thread costs tens of microseconds, small beside the work sent here.
fn at_low_priority<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    let work = std::sync::Mutex::new(Some(work));
    let take = || {
        hmt_types::sync::lock(&work)
            .take()
            .expect("the work is taken once")
    };
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("hmt-heavy".to_owned())
            .spawn_scoped(scope, || {
                lower_this_threads_priority();
                take()()
            });
        match spawned {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (a process or memory limit): the work
            // runs here, at the normal priority, rather than not at all.
            Err(_) => take()(),
        }
    })
}

/// Lowers the calling thread's priority (Linux keeps a nice value per
/// thread); elsewhere nothing.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority(2) on this thread's own id changes only its
    // scheduling weight; no memory is involved. Failure leaves the
    // priority as it was, which is harmless.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// One place in the queue, given back however the wait ends (a dropped
/// request future included).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn limits(workers: usize, queue: usize, deadline_ms: u64) -> OffloadLimits {
        OffloadLimits {
            workers,
            queue,
            deadline: Duration::from_millis(deadline_ms),
        }
    }

    /// While a slow piece of work runs, a cheap task on the same runtime
    /// still gets the CPU within milliseconds: the worker that runs the
    /// work handed its tasks on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn slow_work_does_not_hold_up_other_tasks() {
        let offload = Arc::new(Offload::new(limits(1, 4, 5_000)));
        let (started, running) = std::sync::mpsc::channel();
        let slow = {
            let offload = offload.clone();
            tokio::spawn(async move {
                offload
                    .run(move || {
                        started.send(()).unwrap();
                        std::thread::sleep(Duration::from_millis(400));
                    })
                    .await
            })
        };
        // The slow work holds the only worker (a blocking wait: this is the
        // test's own thread, not a worker, and timers need a free worker).
        running.recv().unwrap();
        let asked = Instant::now();
        let cheap = tokio::spawn(async move { asked.elapsed() }).await.unwrap();
        assert!(
            cheap < Duration::from_millis(200),
            "a cheap task waited {cheap:?} behind 400 ms of offloaded work"
        );
        slow.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_a_wait_ends_at_the_deadline() {
        let offload = Arc::new(Offload::new(limits(1, 1, 100)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = {
            let offload = offload.clone();
            tokio::spawn(async move { offload.run(move || hold.recv().ok()).await })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        // One waits (the queue holds one) ...
        let waiting = {
            let offload = offload.clone();
            tokio::spawn(async move { offload.run(|| ()).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // ... so the next is refused without waiting.
        assert_eq!(
            offload.run(|| ()).await,
            Err(Busy::QueueFull {
                running: 1,
                waiting: 1
            })
        );
        // The waiting one gives up at its deadline.
        assert_eq!(
            waiting.await.unwrap(),
            Err(Busy::Deadline(Duration::from_millis(100)))
        );
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(Some(())));
        // Every place was given back: work runs again.
        assert_eq!(offload.run(|| 7).await, Ok(7));
        assert_eq!(offload.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn on_a_current_thread_runtime_the_work_runs_in_place() {
        let offload = Offload::new(limits(1, 0, 10));
        let here = std::thread::current().id();
        assert_eq!(offload.run(|| std::thread::current().id()).await, Ok(here));
    }

    /// The heavy work runs at a lower priority than the threads that serve
    /// connections (so on one CPU a cheap answer is not made to wait for a
    /// time slice of it), and the serving threads keep theirs.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn heavy_work_runs_at_a_lower_priority_and_the_caller_keeps_its_own() {
        fn this_threads_nice() -> i32 {
            // SAFETY: getpriority(2) on this thread's own id reads a number.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        }
        let offload = Offload::new(limits(1, 0, 1_000));
        let caller = this_threads_nice();
        let worker = offload.run(this_threads_nice).await.unwrap();
        assert_eq!(worker, (caller + 10).min(19), "the heavy work's nice value");
        assert_eq!(
            this_threads_nice(),
            caller,
            "the serving thread's nice value"
        );
        let answered = tokio::spawn(async { this_threads_nice() }).await.unwrap();
        assert_eq!(answered, caller, "a task after the heavy work");
    }
}
