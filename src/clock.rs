//! Wall-clock time as the services see it. Injectable so tests can move time forward (visibility,
//! delay, retention, the purge interval) instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, shifted by an adjustable offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicU64,
    /// Wakes `sleep_until_ms` sleepers when the clock jumps.
    advanced: tokio::sync::Notify,
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock forward; only reachable when test endpoints are enabled.
    pub fn advance_ms(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.advanced.notify_waiters();
    }

    /// Sleeps until this clock reads `target_ms`, waking early if the clock is moved forward
    /// (so retry back-offs can be tested without waiting).
    pub async fn sleep_until_ms(&self, target_ms: u64) {
        loop {
            let advanced = self.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            let now = self.now_ms();
            if now >= target_ms {
                return;
            }
            let wait = std::time::Duration::from_millis(target_ms - now);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut advanced => {}
            }
        }
    }

    /// How far ahead of real time this clock runs.
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// `2024-01-01T00:00:00.000Z`: the timestamp format of SNS messages.
pub fn iso8601_millis(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        epoch_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::iso8601_millis;

    #[test]
    fn formats_like_sns() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601_millis(1_704_067_200_123),
            "2024-01-01T00:00:00.123Z"
        );
        assert_eq!(iso8601_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            iso8601_millis(4_102_444_799_999),
            "2099-12-31T23:59:59.999Z"
        );
    }
}
