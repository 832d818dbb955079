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
//! suite, every invocation of the order pipeline's TypeScript handlers hit its 10 s Timeout, and
//! at nice 10 the pipeline still missed its deadline on that machine. A handler must not fail
//! because the machine is busy, so the default stays `normal` (lyrebird's own priority), and
//! `idle` (or `low`) is for a machine given over to lyrebird and its handlers: a CI job running
//! the pipeline, a load test.

/// The CPU priority of function processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandlerPriority {
    /// `SCHED_IDLE`: handlers run on the CPU that lyrebird and the machine's other normal work
    /// leave, and give way to them at once; a busy handler never delays lyrebird. On a machine
    /// whose every core is kept busy by other work, handlers get next to no CPU and reach their
    /// Timeout.
    Idle,
    /// Nice 10: lyrebird mostly goes first; handlers keep about a tenth of a core against each
    /// busy normal-priority thread.
    Low,
    /// The same priority as lyrebird.
    #[default]
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
