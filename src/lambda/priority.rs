//! How function processes share the CPU with lyrebird (`--lambda-priority`).
//!
//! On AWS the service that polls a queue, dispatches events and deletes batches does not share a
//! CPU with the functions it feeds; here it does. With more handler processes than cores (the
//! default concurrency is 10), a handler that is woken keeps a core for its time slice while
//! lyrebird's thread waits, which put 1–4 ms into the p99 of lyrebird's own time per invocation
//! on 2 cores (BENCHMARKS.md). A nice value alone does not stop that: the scheduler still lets a
//! running task finish its slice. A `SCHED_IDLE` process is preempted as soon as a normal thread
//! wakes, and gets whatever CPU normal threads leave.

/// The CPU priority of function processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandlerPriority {
    /// `SCHED_IDLE`: handlers run on the CPU that lyrebird and the machine's other normal work
    /// leave, and give way to them at once; a busy handler never delays lyrebird. On a machine
    /// whose every core is kept busy by other work, handlers get little CPU and can reach
    /// their Timeout: choose `low` or `normal` there.
    #[default]
    Idle,
    /// Nice 10: handlers keep a share of the CPU under any load, lyrebird mostly goes first.
    Low,
    /// The same priority as lyrebird.
    Normal,
}

impl HandlerPriority {
    /// Applies the priority to the calling process. Runs in the forked child before `exec`,
    /// so it makes plain system calls only; a refusal leaves the priority as it was.
    pub(super) fn apply_to_self(self) {
        // SAFETY: sched_setscheduler(2) and nice(2) on the calling process; both are
        // async-signal-safe and touch no memory but the parameter passed.
        unsafe {
            match self {
                HandlerPriority::Idle => {
                    let param = libc::sched_param { sched_priority: 0 };
                    libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
                }
                HandlerPriority::Low => {
                    libc::nice(10);
                }
                HandlerPriority::Normal => {}
            }
        }
    }
}
