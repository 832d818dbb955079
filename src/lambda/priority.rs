//! How function processes share the CPU with lyrebird (`--lambda-priority`).
//!
//! On AWS the service that polls a queue, dispatches events and deletes batches does not share a
//! CPU with the functions it feeds; here it does. With more handler processes than cores (the
//! default concurrency is 10), a handler that is woken keeps a core for its time slice while
//! lyrebird's thread waits, which put 1–4 ms into the p99 of lyrebird's own time per invocation
//! on 2 cores (BENCHMARKS.md). A nice value alone does not stop that: the scheduler still lets a
//! running task finish its slice. A `SCHED_IDLE` process is preempted as soon as a normal thread
//! wakes, and gets whatever CPU normal threads leave: p99 0.3–0.65 ms there. But it gets next to
//! nothing while other work keeps every core busy: with two compilers running beside the test
//! suite, every invocation of the order pipeline's TypeScript handlers hit its 10 s Timeout.
//!
//! `auto` (the default) takes both: handlers start under `SCHED_IDLE`, and one that has been
//! busy with an invocation (or its init) for longer than a quiet machine would need is raised to
//! lyrebird's priority (see [`Promotion`]), so a busy machine delays a handler by that much at
//! most and never starves it; after a while it is lowered again. Raising a process out of
//! `SCHED_IDLE` needs `CAP_SYS_NICE` (root outside a container) or an `RLIMIT_NICE` of 20;
//! without either, `auto` is `normal`, since a lowered handler could never be raised.

use std::sync::OnceLock;
use std::time::Duration;

/// The CPU priority of function processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandlerPriority {
    /// `SCHED_IDLE`, raised to `Normal` while an invocation runs long (see the module doc);
    /// `Normal` where lyrebird may not raise a process again.
    #[default]
    Auto,
    /// `SCHED_IDLE`: handlers run on the CPU that lyrebird and the machine's other normal work
    /// leave, and give way to them at once; a busy handler never delays lyrebird. On a machine
    /// whose every core is kept busy by other work, handlers get next to no CPU and reach their
    /// Timeout.
    Idle,
    /// Nice 10: lyrebird mostly goes first; handlers keep about a tenth of a core against each
    /// busy normal-priority thread.
    Low,
    /// The same priority as lyrebird.
    Normal,
}

/// When an `auto` handler is raised and lowered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promotion {
    /// An invocation still running after this long (from when the runtime took the event) gets
    /// its process raised. A no-op handler answers in well under 1 ms of CPU; ten of them
    /// sharing two cores with lyrebird take ~20 ms at p99 (BENCHMARKS.md, W7).
    pub invocation: Duration,
    /// The same for a process still in its init (a cold Node start is ~50 ms of CPU; a
    /// TypeScript handler loading the SDK a few hundred).
    pub init: Duration,
    /// A raised process is lowered again when it is handed an event this long after it was
    /// raised: the machine may be quiet again. On a machine that stays busy this costs each
    /// process one `invocation` delay per `hold`.
    pub hold: Duration,
}

impl Default for Promotion {
    fn default() -> Self {
        Promotion {
            invocation: Duration::from_millis(250),
            init: Duration::from_secs(1),
            hold: Duration::from_secs(30),
        }
    }
}

impl HandlerPriority {
    /// What `self` means on this machine: `Auto` stays `Auto` only where lyrebird may raise a
    /// process out of `SCHED_IDLE` again (checked once, on a thread of its own).
    pub fn resolved(self) -> HandlerPriority {
        if self == HandlerPriority::Auto && !may_raise_from_idle() {
            tracing::info!(
                "function processes run at lyrebird's priority: raising one out of SCHED_IDLE \
                 again needs CAP_SYS_NICE or RLIMIT_NICE 20 (--lambda-priority idle lowers them \
                 for good)"
            );
            return HandlerPriority::Normal;
        }
        self
    }

    /// Applies the priority to the calling process. Runs in the forked child before `exec`,
    /// so it makes plain system calls only; a refusal leaves the priority as it was.
    pub(super) fn apply_to_self(self) {
        match self {
            HandlerPriority::Auto | HandlerPriority::Idle => {
                set_policy(0, libc::SCHED_IDLE);
            }
            HandlerPriority::Low => {
                // SAFETY: nice(2) on the calling process.
                unsafe { libc::nice(10) };
            }
            HandlerPriority::Normal => {}
        }
    }
}

/// Whether a thread of this process may go from `SCHED_IDLE` back to `SCHED_OTHER`: tried on a
/// short-lived thread, so the answer covers capabilities, rlimits and seccomp alike.
pub fn may_raise_from_idle() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        std::thread::spawn(|| set_policy(0, libc::SCHED_IDLE) && set_policy(0, libc::SCHED_OTHER))
            .join()
            .unwrap_or(false)
    })
}

/// Puts every thread of every process in the process group `pgid` under `SCHED_IDLE` (`idle`)
/// or back under `SCHED_OTHER`; returns how many threads were changed. Blocking (it reads
/// /proc): run it off the runtime's workers. A thread that ends meanwhile is skipped.
pub(super) fn set_group(pgid: i32, idle: bool) -> usize {
    let policy = if idle {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut changed = 0;
    for process in processes.flatten() {
        let name = process.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // The leader too is checked: its number may have been reused after the group ended.
        if process_group(pid) != Some(pgid) {
            continue;
        }
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for thread in threads.flatten() {
            let tid = thread.file_name().to_str().and_then(|t| t.parse().ok());
            if tid.is_some_and(|tid| set_policy(tid, policy)) {
                changed += 1;
            }
        }
    }
    changed
}

/// The process group of `pid` (field 5 of /proc/PID/stat, after the parenthesised name, which
/// may itself hold spaces and parentheses).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// sched_setscheduler(2) on one thread (`0`: the calling one) with priority 0.
fn set_policy(tid: i32, policy: i32) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain system call reading only `param`; async-signal-safe (used before exec).
    unsafe { libc::sched_setscheduler(tid, policy, &param) == 0 }
}
