//! Gives memory that deleted queues and drained backlogs freed back to the operating system.
//!
//! glibc's malloc keeps freed memory in its arenas for reuse: a 1M-message queue, once deleted,
//! left ~250 MiB resident for the life of the process, so a server shared by test suites only
//! ever grew. A slow timer compares the process's anonymous resident memory with what the
//! allocator has in use and calls `malloc_trim` only when far more is resident than used; an
//! idle server, or one whose memory is all in use, does nothing but the comparison.

use std::time::Duration;

/// Resident-but-unused memory below which trimming is not worth its cost.
const SLACK_BYTES: u64 = 16 << 20;

/// Starts the trimmer on the current Tokio runtime (no-op when `interval` is zero or the
/// allocator is not glibc's).
pub fn spawn_trimmer(interval: Duration) {
    if interval.is_zero() || !imp::SUPPORTED {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            // Both calls walk the allocator's arenas: off the async workers.
            let trimmed = tokio::task::spawn_blocking(trim_if_worthwhile).await;
            if let Ok(Some(t)) = trimmed {
                tracing::debug!(
                    released_mib = t.released as f64 / 1048576.0,
                    took_ms = t.took.as_secs_f64() * 1000.0,
                    "returned freed memory to the OS"
                );
            }
        }
    });
}

/// What one trim did.
#[derive(Debug)]
pub struct Trimmed {
    pub released: u64,
    pub took: Duration,
}

/// Trims when the resident anonymous memory exceeds the allocator's in-use bytes by more than
/// the slack (and by more than a quarter of what is in use, so a large live heap's normal
/// fragmentation does not trigger a trim every tick).
pub fn trim_if_worthwhile() -> Option<Trimmed> {
    let resident = resident_anonymous_bytes()?;
    let in_use = imp::allocated_bytes()?;
    let unused = resident.saturating_sub(in_use);
    if unused < SLACK_BYTES.max(in_use / 4) {
        return None;
    }
    let started = std::time::Instant::now();
    imp::trim();
    let after = resident_anonymous_bytes().unwrap_or(resident);
    Some(Trimmed {
        released: resident.saturating_sub(after),
        took: started.elapsed(),
    })
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

    /// Bytes handed out by malloc, in arenas and in its own mmaps.
    pub fn allocated_bytes() -> Option<u64> {
        // SAFETY: mallinfo2 only reads the allocator's statistics (glibc ≥ 2.33).
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }

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

    pub fn allocated_bytes() -> Option<u64> {
        None
    }

    pub fn trim() {}
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn a_freed_heap_is_given_back_and_a_live_one_is_left_alone() {
        // Many small blocks, as messages are. Keeping one in 256 alive, as a queue's survivors
        // would, stops `free` from shrinking the heap's top itself.
        let mut blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![i as u8; 512]).collect();
        assert!(
            trim_if_worthwhile().is_none(),
            "all in use: nothing to give back"
        );
        let mut index = 0;
        blocks.retain(|_| {
            index += 1;
            index % 256 == 0
        });
        let trimmed = trim_if_worthwhile().expect("~100 MiB freed is worth a trim");
        assert!(trimmed.released > 50 << 20, "{trimmed:?}");
        assert_eq!(blocks.len(), 781);
    }
}
