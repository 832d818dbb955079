//! What `/metrics` reports of a function, named after CloudWatch's Lambda metrics: Invocations,
//! Errors, Throttles, Duration (a histogram) and ConcurrentExecutions. Relaxed atomics kept in
//! the function's pool, so an invocation costs a few atomic additions; read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the duration buckets, in milliseconds (a last, unbounded bucket follows):
/// from a warm 1 ms call to Lambda's 15-minute limit.
pub const DURATION_BOUNDS_MS: [f64; 16] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
    30_000.0, 60_000.0, 900_000.0,
];

/// One function's counters since it was created (or restored).
#[derive(Debug, Default)]
pub struct FunctionStats {
    /// Invocations that ran (successfully or not); throttled ones are not invocations.
    pub invocations: AtomicU64,
    /// Invocations that ended in a function error (handler error, timeout, runtime exit).
    pub errors: AtomicU64,
    /// Invocation requests refused for want of concurrency (or of room in the async queue).
    pub throttles: AtomicU64,
    /// Invocations running now.
    pub concurrent: AtomicU64,
    /// Durations: one count per bucket of `DURATION_BOUNDS_MS`, and the unbounded one.
    duration_buckets: [AtomicU64; DURATION_BOUNDS_MS.len() + 1],
    duration_sum_us: AtomicU64,
}

/// Read at scrape time: (upper bound in seconds, count in that bucket) pairs, the last one
/// `+Inf`, and the sum in seconds.
#[derive(Debug)]
pub struct DurationSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl FunctionStats {
    /// An invocation starts running; it counts as concurrent until the guard is dropped.
    pub fn running(&self) -> Running<'_> {
        self.concurrent.fetch_add(1, Ordering::Relaxed);
        Running(self)
    }

    /// An invocation ended after `duration_ms`, with a function error or not.
    pub fn finished(&self, duration_ms: f64, error: bool) {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = DURATION_BOUNDS_MS
            .iter()
            .position(|bound| duration_ms <= *bound)
            .unwrap_or(DURATION_BOUNDS_MS.len());
        self.duration_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.duration_sum_us
            .fetch_add((duration_ms * 1000.0) as u64, Ordering::Relaxed);
    }

    pub fn throttled(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
    }

    pub fn durations(&self) -> DurationSnapshot {
        let counts: Vec<u64> = self
            .duration_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let bounds = DURATION_BOUNDS_MS
            .iter()
            .map(|ms| ms / 1000.0)
            .chain([f64::INFINITY]);
        DurationSnapshot {
            count: counts.iter().sum(),
            buckets: bounds.zip(counts).collect(),
            sum_seconds: self.duration_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A running invocation (see [`FunctionStats::running`]).
pub struct Running<'a>(&'a FunctionStats);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.concurrent.fetch_sub(1, Ordering::Relaxed);
    }
}
