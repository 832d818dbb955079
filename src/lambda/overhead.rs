//! lyrebird's own time in one invocation (`overhead_micros` in the invocation log), from
//! timestamps taken inside the exchange with the runtime process. The handler's time and the
//! process's own scheduling are left out:
//!
//! - dispatch: from the invocation being ready (a batch received, an Invoke accepted, an event's
//!   attempt starting) until the `/next` response is written to the runtime, less the waits
//!   lyrebird does not control: for a concurrency slot, for a new process to start (a cold
//!   start), and for the runtime to ask for its next event when it asked only after the event was
//!   handed to its sandbox;
//! - completion: from the runtime's `/response` (or `/error`) arriving until the outcome is
//!   handled (the SQS batch deleted, the Invoke answered, the asynchronous retry or destination
//!   decided), which is when the caller drops the invocation's [`Settle`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::invocations::{InvocationRecord, Invocations};

/// The marks of one exchange, set by the pool and the sandbox's Runtime API handlers.
#[derive(Debug, Default)]
pub struct Exchange(Mutex<Marks>);

#[derive(Debug, Default)]
struct Marks {
    /// The event was put in the sandbox's inbox.
    handed: Option<Instant>,
    /// The runtime's `/next` request that took the event arrived.
    asked: Option<Instant>,
    /// The `/next` response's body was handed to the connection.
    written: Option<Instant>,
    /// The runtime's `/response` or `/error` arrived.
    answered: Option<Instant>,
    /// Waits that are not lyrebird's work: a concurrency slot, a cold start, a Tail log
    /// settling.
    excluded: Duration,
}

impl Exchange {
    pub fn handed(&self) {
        self.0.lock().handed = Some(Instant::now());
    }

    pub fn asked(&self, at: Instant) {
        self.0.lock().asked = Some(at);
    }

    pub fn written(&self) {
        let mut marks = self.0.lock();
        if marks.written.is_none() {
            marks.written = Some(Instant::now());
        }
    }

    pub fn answered(&self, at: Instant) {
        self.0.lock().answered = Some(at);
    }

    /// Leaves out a wait that is not lyrebird's work.
    pub fn exclude(&self, wait: Duration) {
        self.0.lock().excluded += wait;
    }

    /// The dispatch part, when the answer arrived and the waits to leave out, once the
    /// exchange is complete.
    fn dispatch(&self, ready: Instant) -> Option<Measured> {
        let marks = self.0.lock();
        let (handed, asked, written, answered) =
            (marks.handed?, marks.asked?, marks.written?, marks.answered?);
        let runtime_late = asked.saturating_duration_since(handed);
        Some(Measured {
            dispatch: written
                .saturating_duration_since(ready)
                .saturating_sub(runtime_late),
            answered,
            excluded: marks.excluded,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    dispatch: Duration,
    answered: Instant,
    excluded: Duration,
}

/// An invocation's log record, written when the caller has handled its outcome (when this is
/// dropped), with lyrebird's own time up to then.
#[derive(Debug)]
pub struct Settle {
    log: Arc<Invocations>,
    record: Option<InvocationRecord>,
    /// None when the runtime never answered (a timeout, a crash).
    measured: Option<Measured>,
}

impl Settle {
    pub fn new(
        log: Arc<Invocations>,
        record: InvocationRecord,
        exchange: &Exchange,
        ready: Instant,
    ) -> Self {
        Settle {
            log,
            record: Some(record),
            measured: exchange.dispatch(ready),
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.overhead_micros = self.measured.map(|m| {
                (m.dispatch + m.answered.elapsed())
                    .saturating_sub(m.excluded)
                    .as_micros() as u64
            });
            record.dispatch_micros = self
                .measured
                .map(|m| m.dispatch.saturating_sub(m.excluded).as_micros() as u64);
            self.log.record(record);
        }
    }
}
