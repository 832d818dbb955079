//! Gives memory that deleted queues and drained backlogs freed back to the operating system.
//!
//! glibc's malloc keeps freed memory in its arenas for reuse: a 1M-message queue, once deleted,
//! left ~250 MiB resident for the life of the process, so a server shared by test suites only
//! ever grew. The queue engine counts the bytes its removed messages held (a relaxed atomic add
//! per deleted or expired message, one per purged or dropped queue); a slow timer calls
//! `malloc_trim` once a lot was freed and the freeing has (nearly) stopped for a whole interval,
//! or after a few intervals regardless. Waiting for the pause keeps trims (tens of milliseconds
//! on a large fragmented heap, holding each arena's lock in turn) out of busy periods, whose
//! freed memory the next sends reuse anyway; the cap keeps a slow trickle of deletes from
//! putting the trim off for ever. Asking malloc how much it holds free (`mallinfo2`) was tried
//! as the trigger and dropped: it walks every free chunk under the arena lock, 61 ms on a heap
//! with a million free chunks. A trim comes one to two intervals after the freeing stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Freed bytes below which trimming is not worth its cost.
const WORTHWHILE_BYTES: u64 = 16 << 20;

/// Freed bytes per interval that still count as quiet (a consumer trickling deletes).
const QUIET_BYTES: u64 = 1 << 20;

/// Intervals a worthwhile amount may wait for a quiet one before it is trimmed anyway (five
/// minutes at the default interval: under sustained deleting the next sends reuse the memory).
const MAX_WAIT_TICKS: u32 = 30;

/// Bytes freed since start (approximate: message bodies plus their bookkeeping).
static FREED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Records that about `bytes` of heap were freed.
pub fn note_freed(bytes: u64) {
    FREED_BYTES.fetch_add(bytes, Ordering::Relaxed);
}

/// Bytes noted as freed since start.
pub fn freed_bytes() -> u64 {
    FREED_BYTES.load(Ordering::Relaxed)
}

/// Starts the trimmer on the current Tokio runtime (no-op when `interval` is zero or the
/// allocator is not glibc's).
pub fn spawn_trimmer(interval: Duration) {
    if interval.is_zero() || !imp::SUPPORTED {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut policy = TrimPolicy::default();
        loop {
            ticks.tick().await;
            if !policy.should_trim(freed_bytes()) {
                continue;
            }
            // It walks the allocator's arenas: off the async workers.
            if let Ok(t) = tokio::task::spawn_blocking(trim).await {
                tracing::debug!(
                    released_mib = t.released as f64 / 1048576.0,
                    took_ms = t.took.as_secs_f64() * 1000.0,
                    "returned freed memory to the OS"
                );
            }
        }
    });
}

/// When to trim, from the running total of freed bytes seen at each tick.
#[derive(Debug, Default)]
pub struct TrimPolicy {
    seen: u64,
    trimmed_at: u64,
    waited: u32,
}

impl TrimPolicy {
    /// True when at least `WORTHWHILE_BYTES` were freed since the last trim and either little
    /// more since the previous tick, or the trim has waited `MAX_WAIT_TICKS` already.
    pub fn should_trim(&mut self, freed_total: u64) -> bool {
        let quiet = freed_total - self.seen < QUIET_BYTES;
        self.seen = freed_total;
        if freed_total - self.trimmed_at < WORTHWHILE_BYTES {
            self.waited = 0;
            return false;
        }
        self.waited += 1;
        if quiet || self.waited > MAX_WAIT_TICKS {
            self.trimmed_at = freed_total;
            self.waited = 0;
            return true;
        }
        false
    }
}

/// What one trim did.
#[derive(Debug)]
pub struct Trimmed {
    pub released: u64,
    pub took: Duration,
}

/// Returns the allocator's free pages to the OS.
pub fn trim() -> Trimmed {
    let before = resident_anonymous_bytes();
    let started = std::time::Instant::now();
    imp::trim();
    let took = started.elapsed();
    let released = match (before, resident_anonymous_bytes()) {
        (Some(b), Some(a)) => b.saturating_sub(a),
        _ => 0,
    };
    Trimmed { released, took }
}

/// `RssAnon` of this process: heap and stacks, not the mapped binary.
fn resident_anonymous_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    pub const SUPPORTED: bool = true;

    pub fn trim() {
        // SAFETY: malloc_trim is thread-safe; it takes each arena's lock in turn.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub const SUPPORTED: bool = false;

    pub fn trim() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn trims_once_a_large_freeing_has_settled() {
        let mut policy = TrimPolicy::default();
        assert!(!policy.should_trim(0), "nothing freed");
        assert!(!policy.should_trim(5 * MIB), "still freeing");
        assert!(!policy.should_trim(5 * MIB), "quiet, but too little");
        assert!(!policy.should_trim(100 * MIB), "a queue is being deleted");
        assert!(!policy.should_trim(300 * MIB), "still going");
        assert!(
            policy.should_trim(300 * MIB + MIB / 2),
            "quiet enough: trim"
        );
        assert!(!policy.should_trim(300 * MIB + MIB / 2), "once");
        assert!(!policy.should_trim(310 * MIB));
        assert!(
            !policy.should_trim(310 * MIB),
            "10 MiB more is not worth it"
        );
        assert!(!policy.should_trim(330 * MIB));
        assert!(policy.should_trim(330 * MIB), "30 MiB more is");
    }

    #[test]
    fn frees_that_never_pause_still_get_trimmed_now_and_then() {
        let mut policy = TrimPolicy::default();
        let mut freed = 0;
        let mut trims = Vec::new();
        for tick in 0..80 {
            freed += 2 * MIB;
            if policy.should_trim(freed) {
                trims.push(tick);
            }
        }
        // Worthwhile from tick 7 on, then trimmed after waiting MAX_WAIT_TICKS, twice over.
        assert_eq!(trims, vec![37, 75]);
        // A trickle below QUIET_BYTES per interval counts as quiet.
        let mut policy = TrimPolicy::default();
        assert!(!policy.should_trim(20 * MIB));
        assert!(policy.should_trim(20 * MIB + 100_000));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trimming_gives_a_freed_heap_back() {
        // RssAnon is the whole test process's; other tests running meanwhile move it by far
        // less than the 50 MiB margin.
        // Many small blocks, as messages are. Keeping one in 256 alive, as a queue's survivors
        // would, stops `free` from shrinking the heap's top itself.
        let mut blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![i as u8; 512]).collect();
        let mut index = 0;
        blocks.retain(|_| {
            index += 1;
            index % 256 == 0
        });
        let trimmed = trim();
        assert!(trimmed.released > 50 << 20, "{trimmed:?}");
        assert_eq!(blocks.len(), 781);
    }
}
