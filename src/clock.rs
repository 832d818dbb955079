//! Time as the services see it.
//!
//! Every deadline (visibility, delay, retention, retries, long polls, deduplication windows,
//! the purge interval, SigV4's ±15 minutes) runs on `now_ms`: the wall clock read once at start,
//! plus the monotonic time elapsed since (`Instant`), so a host clock stepped backwards or
//! forwards while lyrebird runs moves no deadline. It is still milliseconds since the epoch, so
//! it is what is stored and reported (SentTimestamp and the like); only timestamps that are
//! reported and never compared with a deadline (SNS notifications' `Timestamp`) read the wall
//! clock itself, `wall_ms`.
//!
//! Across a restart the service clock is anchored again to the wall clock; stored deadlines are
//! absolute epoch times, so a restore clamps each to the longest span it can have from now
//! (the visibility timeout granted, 15 min of delay, 5 min of deduplication, no send time or purge in the
//! future): a wall clock set back between runs cannot hide a message for longer than AWS could.
//!
//! Tests move time without sleeping: `advance_ms` moves both readings forward; `step_wall_ms`
//! moves the wall reading alone (a host clock being set), which no deadline may notice.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The service clock: epoch milliseconds on a monotonic base, shifted by a test offset.
#[derive(Debug)]
pub struct Clock {
    /// The wall clock (epoch ms) read at `anchor`.
    anchor_wall_ms: u64,
    anchor: Instant,
    /// Test: how far both readings have been moved forward.
    offset_ms: AtomicU64,
    /// Test: how far the wall reading alone has been stepped (back when negative).
    wall_step_ms: AtomicI64,
    /// Wakes `sleep_until_ms` sleepers when the clock jumps.
    advanced: tokio::sync::Notify,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The host's wall clock in epoch milliseconds (0 before the epoch).
fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            anchor_wall_ms: system_ms(),
            anchor: Instant::now(),
            offset_ms: AtomicU64::new(0),
            wall_step_ms: AtomicI64::new(0),
            advanced: tokio::sync::Notify::new(),
        }
    }

    /// Service time: what every deadline is measured on (monotonic), in epoch milliseconds.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.anchor.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.anchor_wall_ms
            .saturating_add(elapsed)
            .saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The wall clock (with the test offset), for timestamps that are only reported.
    pub fn wall_ms(&self) -> u64 {
        system_ms()
            .saturating_add_signed(self.wall_step_ms.load(Ordering::Relaxed))
            .saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock forward; only reachable when test endpoints are enabled.
    pub fn advance_ms(&self, ms: u64) {
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms))
            })
            .ok();
        self.advanced.notify_waiters();
    }

    /// Steps the wall reading alone, as setting the host clock would; only reachable when
    /// test endpoints are enabled. Deadlines do not move.
    pub fn step_wall_ms(&self, ms: i64) {
        self.wall_step_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(ms))
            })
            .ok();
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

    /// How far the wall reading has been stepped by tests.
    pub fn wall_step_ms(&self) -> i64 {
        self.wall_step_ms.load(Ordering::Relaxed)
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
    use super::{iso8601_millis, Clock};

    #[test]
    fn a_stepped_wall_clock_moves_no_deadline() {
        let clock = Clock::new();
        let (now, wall) = (clock.now_ms(), clock.wall_ms());
        clock.step_wall_ms(-3_600_000);
        assert!(clock.now_ms() >= now, "service time went back");
        assert!(
            clock.wall_ms() + 3_000_000 < wall,
            "wall reading not stepped"
        );
        clock.step_wall_ms(i64::MIN);
        clock.step_wall_ms(i64::MIN);
        assert_eq!(clock.wall_ms(), 0, "saturates instead of wrapping");
        clock.advance_ms(u64::MAX);
        clock.advance_ms(u64::MAX);
        assert_eq!(clock.now_ms(), u64::MAX, "saturates instead of wrapping");
    }

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
