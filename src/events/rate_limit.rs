//! `InvocationRateLimitPerSecond` of API destinations: a token bucket per destination on the
//! service clock. It holds one second's worth of calls and refills at the rate; a call beyond
//! it is not dropped but given a later turn (turns are handed out in order), so excess events
//! wait. The delivery task sleeps until its turn on the service clock, which tests move.

use std::collections::HashMap;

use parking_lot::Mutex;

#[derive(Debug)]
struct Bucket {
    /// Calls that may go now; below zero, turns handed out ahead of the refill.
    tokens: f64,
    /// When `tokens` was last brought up to date (service clock).
    at_ms: u64,
}

/// The buckets, by API destination ARN.
#[derive(Debug, Default)]
pub struct RateLimits(Mutex<HashMap<String, Bucket>>);

impl RateLimits {
    /// Reserves the next call to `destination` at `per_second`: when it may be made (`now_ms`,
    /// or later when the calls ahead of it have used the bucket up).
    pub fn reserve(&self, destination: &str, per_second: u32, now_ms: u64) -> u64 {
        let rate = f64::from(per_second.max(1));
        let mut buckets = self.0.lock();
        let bucket = buckets.entry(destination.to_string()).or_insert(Bucket {
            tokens: rate,
            at_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64;
        bucket.tokens = (bucket.tokens + elapsed * rate / 1000.0).min(rate);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            now_ms
        } else {
            now_ms.saturating_add((-bucket.tokens * 1000.0 / rate).ceil() as u64)
        }
    }

    /// Gives back a turn that will not be used (its event went to the dead-letter queue).
    pub fn release(&self, destination: &str) {
        if let Some(bucket) = self.0.lock().get_mut(destination) {
            bucket.tokens += 1.0;
        }
    }

    /// Forgets a deleted destination's bucket.
    pub fn forget(&self, destination: &str) {
        self.0.lock().remove(destination);
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimits;

    #[test]
    fn a_second_of_calls_goes_at_once_then_one_turn_per_interval() {
        let limits = RateLimits::default();
        let turns: Vec<u64> = (0..5).map(|_| limits.reserve("d", 2, 1_000)).collect();
        assert_eq!(turns, vec![1_000, 1_000, 1_500, 2_000, 2_500]);
        // A second later the bucket has refilled by two turns: the next waits behind the queue.
        assert_eq!(limits.reserve("d", 2, 2_000), 3_000);
        limits.release("d");
        assert_eq!(limits.reserve("d", 2, 2_000), 3_000);
        // Other destinations have their own buckets.
        assert_eq!(limits.reserve("e", 1, 2_000), 2_000);
    }
}
