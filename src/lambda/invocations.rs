//! The recent invocations, newest last, for `GET /_lyrebird/lambda/invocations`: tests assert
//! what ran (function, source, batch size, outcome) without parsing logs. A bounded ring.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::Serialize;

/// How many invocations are remembered.
pub const KEPT: usize = 1_000;

/// One finished invocation.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationRecord {
    pub function: String,
    pub function_arn: String,
    pub request_id: String,
    /// `api`, `aws:sqs`, `aws:sns`, `aws:events`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    pub batch_size: usize,
    /// `RequestResponse` or `Event`.
    pub invocation_type: &'static str,
    /// `success`, `error` (the handler failed), `timeout`, `runtime_error` (the process exited,
    /// failed to start or to initialise).
    pub outcome: &'static str,
    pub duration_ms: f64,
    /// `errorType: errorMessage` of a failed invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it started, epoch milliseconds on the service clock.
    pub started_ms: u64,
    /// lyrebird's own time in this invocation, microseconds (see `overhead.rs`): absent when
    /// the runtime never answered (a timeout, a crash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead_micros: Option<u64>,
    /// Its dispatch part: from ready to the event written to the runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_micros: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Invocations(Mutex<VecDeque<InvocationRecord>>);

impl Invocations {
    pub fn record(&self, record: InvocationRecord) {
        let mut ring = self.0.lock();
        if ring.len() >= KEPT {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    /// Oldest first; `function` filters by name or ARN.
    pub fn list(&self, function: Option<&str>) -> Vec<InvocationRecord> {
        self.0
            .lock()
            .iter()
            .filter(|r| function.is_none_or(|f| r.function == f || r.function_arn == f))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.0.lock().clear();
    }
}
