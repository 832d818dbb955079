//! The sled store. One writer thread applies changes in order and flushes once per batch of
//! whatever arrived meanwhile (group commit): under load many requests share each fsync, and a
//! lone request waits for just one. The directory is locked by sled, so two servers never share
//! it; the layout carries `FORMAT_VERSION`, and a newer one is refused.
//!
//! A failed write (a full disk) fails its jobs and every job after it: sled refuses all writes
//! once one has failed. The writer then reopens the directory (at most every
//! `REOPEN_INTERVAL`), which recovers what is on disk — everything acknowledged, as only a
//! flushed job is — and writing resumes once there is room again, without a restart.
//!
//! The services changed their state in memory before they submitted each failed job, and they
//! cannot take it back, so the writer keeps every failed job and, once the directory is open
//! again, writes them first, in their order, before anything newer. Memory and disk then agree
//! again: a client's retry of a failed request (its answer was a 503, whose outcome AWS leaves
//! open) that finds its change already made — a FIFO duplicate, a message already deleted, a
//! queue that exists — is acknowledged only behind that replay. Kept jobs are bounded
//! (`MAX_KEPT_BYTES`); past it the process stops (the panic policy's abort: what is on disk is
//! what was acknowledged, and a restart is safe).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use sled::Transactional;
use tokio::sync::oneshot;

use super::{Change, Durability, Space, Store, StoreMetrics, Ticket, Visitor, FORMAT_VERSION};

type Job = (Vec<Change>, Option<oneshot::Sender<Result<(), String>>>);

#[derive(Debug)]
pub struct SledStore {
    /// The open database; `None` only while the writer reopens it. Nothing else keeps a handle,
    /// so dropping these releases the directory for the reopen.
    handles: Arc<RwLock<Option<Handles>>>,
    durability: Durability,
    jobs: mpsc::SyncSender<Job>,
    metrics: Arc<StoreMetrics>,
    /// Set by the writer while failed jobs wait for their replay.
    unsettled: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Handles {
    db: sled::Db,
    trees: Vec<(Space, sled::Tree)>,
}

impl Handles {
    fn tree(&self, space: Space) -> &sled::Tree {
        let Handles { trees, .. } = self;
        trees
            .iter()
            .find_map(|(s, t)| (*s == space).then_some(t))
            .expect("every space has a tree")
    }
}

/// After a failed write, the writer reopens the directory at most this often; jobs meanwhile
/// fail at once.
const REOPEN_INTERVAL: Duration = Duration::from_millis(250);

const VERSION_KEY: &[u8] = b"format_version";

/// Failed jobs kept for their replay at most (their changes' keys and values); past it the
/// process stops rather than let memory and disk disagree.
const MAX_KEPT_BYTES: usize = 256 * 1024 * 1024;

/// Jobs waiting for the writer at most; a submitter beyond it waits for room (backpressure).
pub const JOB_BACKLOG: usize = 16 * 1024;

impl SledStore {
    pub fn open(dir: &Path, durability: Durability) -> Result<SledStore, String> {
        let (store, writer, rx) = Self::open_unstarted(dir, durability, JOB_BACKLOG)?;
        thread::Builder::new()
            .name("lyrebird-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| e.to_string())?;
        Ok(store)
    }

    /// Opens the store with a job channel of `backlog` jobs, and hands back its writer and the
    /// channel's receiving end for the caller to start (a test can hold it back).
    fn open_unstarted(
        dir: &Path,
        durability: Durability,
        backlog: usize,
    ) -> Result<(SledStore, SledWriter, mpsc::Receiver<Job>), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
        let handles = open_handles(dir)?;
        let store_meta = handles.tree(Space::Meta);
        match store_meta.get(VERSION_KEY).map_err(|e| e.to_string())? {
            Some(v) => {
                let version = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(u32::MAX);
                if version > FORMAT_VERSION {
                    return Err(format!(
                        "data directory {} was written by a newer lyrebird (format {version}; this one reads up to {FORMAT_VERSION}); refusing to open it",
                        dir.display()
                    ));
                }
                if version < FORMAT_VERSION {
                    // Records of the new format may be written from now on.
                    store_meta
                        .insert(VERSION_KEY, FORMAT_VERSION.to_string().as_bytes())
                        .map_err(|e| e.to_string())?;
                    handles.db.flush().map_err(|e| e.to_string())?;
                    tracing::info!(
                        from = version,
                        to = FORMAT_VERSION,
                        "data directory format upgraded"
                    );
                }
            }
            None => {
                store_meta
                    .insert(VERSION_KEY, FORMAT_VERSION.to_string().as_bytes())
                    .map_err(|e| e.to_string())?;
                handles.db.flush().map_err(|e| e.to_string())?;
            }
        }
        let handles = Arc::new(RwLock::new(Some(handles)));
        // Bounded: under relaxed durability a writer that falls behind holds submitters back
        // instead of queueing without limit.
        let (jobs, rx) = mpsc::sync_channel::<Job>(backlog);
        let metrics = Arc::new(StoreMetrics::default());
        let unsettled = Arc::new(AtomicBool::new(false));
        let writer = SledWriter {
            unsettled: unsettled.clone(),
            dir: dir.to_path_buf(),
            handles: handles.clone(),
            failed_at: None,
            kept: Vec::new(),
            kept_bytes: 0,
            metrics: metrics.clone(),
        };
        let store = SledStore {
            handles,
            durability,
            jobs,
            metrics,
            unsettled,
        };
        Ok((store, writer, rx))
    }

    /// Runs `f` with the open database, or fails while it is being reopened.
    fn with<T>(&self, f: impl FnOnce(&Handles) -> Result<T, String>) -> Result<T, String> {
        match &*self.handles.read() {
            Some(handles) => f(handles),
            None => Err("the store is being reopened after a failed write".into()),
        }
    }
}

fn open_handles(dir: &Path) -> Result<Handles, String> {
    let db = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        // sled's default page cache is 1 GiB; lyrebird keeps its hot state itself.
        .cache_capacity(64 * 1024 * 1024)
        // In relaxed mode sled's own timer bounds what a crash can lose.
        .flush_every_ms(Some(200))
        .open()
        .map_err(|e| match e {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                format!(
                    "data directory {} is in use by another lyrebird (it is locked): {io}",
                    dir.display()
                )
            }
            other => format!("cannot open data directory {}: {other}", dir.display()),
        })?;
    let trees = Space::ALL
        .iter()
        .map(|s| db.open_tree(s.name()).map(|t| (*s, t)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(Handles { db, trees })
}

impl Store for SledStore {
    fn persistent(&self) -> bool {
        true
    }

    fn submit(&self, changes: Vec<Change>) -> Ticket {
        if changes.is_empty() {
            return Ticket::done();
        }
        match self.durability {
            Durability::Relaxed => {
                let _ = self.jobs.send((changes, None));
                Ticket::done()
            }
            Durability::Strict => {
                let (tx, rx) = oneshot::channel();
                if self.jobs.send((changes, Some(tx))).is_err() {
                    return Ticket::failed("the store stopped".into());
                }
                Ticket(Some(rx))
            }
        }
    }

    fn settled(&self) -> bool {
        !self.unsettled.load(Ordering::Acquire)
    }

    fn barrier(&self) -> Ticket {
        match self.durability {
            Durability::Relaxed => Ticket::done(),
            // An empty job: the writer answers it after flushing everything queued before it.
            Durability::Strict => {
                let (tx, rx) = oneshot::channel();
                if self.jobs.send((Vec::new(), Some(tx))).is_err() {
                    return Ticket::failed("the store stopped".into());
                }
                Ticket(Some(rx))
            }
        }
    }

    fn submit_confirmed(&self, changes: Vec<Change>) -> Ticket {
        if changes.is_empty() {
            return Ticket::done();
        }
        let (tx, rx) = oneshot::channel();
        if self.jobs.send((changes, Some(tx))).is_err() {
            return Ticket::failed("the store stopped".into());
        }
        Ticket(Some(rx))
    }

    fn scan(&self, space: Space, visit: &mut Visitor<'_>) -> Result<(), String> {
        self.with(|h| {
            for record in h.tree(space).iter() {
                let (key, value) = record.map_err(|e| e.to_string())?;
                visit(&key, &value)?;
            }
            Ok(())
        })
    }

    fn put_now(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.with(|h| {
            h.tree(space)
                .insert(key, value)
                .map_err(|e| e.to_string())?;
            h.db.flush().map(|_| ()).map_err(|e| e.to_string())
        })
    }

    fn flush(&self) {
        // Wait for the writer to drain what was submitted, then flush.
        let (tx, rx) = oneshot::channel();
        if self.jobs.send((Vec::new(), Some(tx))).is_ok() {
            let _ = rx.blocking_recv();
        }
        let _ = self.with(|h| h.db.flush().map_err(|e| e.to_string()));
    }

    fn describe(&self) -> &'static str {
        "sled"
    }

    fn metrics(&self) -> Option<&StoreMetrics> {
        Some(&self.metrics)
    }
}

struct SledWriter {
    dir: PathBuf,
    handles: Arc<RwLock<Option<Handles>>>,
    /// When the last write failed (and the error), until a reopen succeeds.
    failed_at: Option<(Instant, String)>,
    /// Jobs not on disk whose changes the services already made in memory, oldest first:
    /// written before anything else once the directory is open again.
    kept: Vec<Vec<Change>>,
    kept_bytes: usize,
    /// Shared with the store: set while `kept` waits for its replay.
    unsettled: Arc<AtomicBool>,
    metrics: Arc<StoreMetrics>,
}

impl SledWriter {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        loop {
            // While jobs wait for their replay, try again on a timer too: no new job may come.
            let first = if self.failed_at.is_some() {
                match rx.recv_timeout(REOPEN_INTERVAL) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let _ = self.recover();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            };
            let mut waiters = Vec::new();
            // This round's jobs, until their flush has succeeded (a failed flush loses them too).
            let mut round = Vec::new();
            let mut result = self.recover();
            let mut jobs = 0u64;
            let mut next = Some(first);
            while let Some((changes, waiter)) = next {
                if result.is_ok() {
                    result = self.apply(&changes);
                }
                if !changes.is_empty() {
                    round.push(changes);
                }
                waiters.extend(waiter);
                jobs += 1;
                // Group commit: take everything that queued up while we were busy.
                next = rx.recv_timeout(Duration::ZERO).ok();
            }
            if !waiters.is_empty() && result.is_ok() {
                let started = Instant::now();
                result = self.with(|h| h.db.flush().map(|_| ()).map_err(|e| e.to_string()));
                self.metrics
                    .flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                self.metrics.batch_jobs.observe(jobs as f64);
            }
            if let Err(e) = &result {
                if self.failed_at.is_none() {
                    tracing::error!(error = %e, "store write failed; writes fail until the data directory is reopened");
                    self.failed_at = Some((Instant::now(), e.clone()));
                }
                self.keep(round);
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        }
    }

    /// Keeps failed jobs for their replay; stops the process past `MAX_KEPT_BYTES`.
    fn keep(&mut self, jobs: Vec<Vec<Change>>) {
        self.unsettled.store(true, Ordering::Release);
        for job in jobs {
            self.kept_bytes += job.iter().map(Change::size).sum::<usize>();
            self.kept.push(job);
        }
        if self.kept_bytes > MAX_KEPT_BYTES {
            tracing::error!(
                kept_bytes = self.kept_bytes,
                jobs = self.kept.len(),
                "the store has failed for too long to keep what it could not write; stopping (what was acknowledged is on disk)"
            );
            std::process::abort();
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Handles) -> Result<T, String>) -> Result<T, String> {
        match &*self.handles.read() {
            Some(handles) => f(handles),
            None => Err("the data directory is not open".into()),
        }
    }

    /// After a failed write: reopens the directory (sled refuses every write after one failed),
    /// at most every `REOPEN_INTERVAL`; until then, or if reopening fails, the error stands.
    /// What the failed jobs wrote in memory is dropped with the old handles; what is on disk is
    /// what was flushed, which is everything acknowledged.
    fn recover(&mut self) -> Result<(), String> {
        let Some((at, error)) = &self.failed_at else {
            return Ok(());
        };
        if at.elapsed() < REOPEN_INTERVAL {
            return Err(error.clone());
        }
        let mut slot = self.handles.write();
        // Dropping the old handles ends sled's threads and releases its lock on the directory.
        drop(slot.take());
        let mut reopened = open_handles(&self.dir);
        for _ in 0..50 {
            match &reopened {
                Err(e) if e.contains("locked") => {
                    thread::sleep(Duration::from_millis(10));
                    reopened = open_handles(&self.dir);
                }
                _ => break,
            }
        }
        // A reopened database must also take a write: sled may open on a full disk.
        let reopened = reopened.and_then(|h| {
            h.tree(Space::Meta)
                .insert(VERSION_KEY, FORMAT_VERSION.to_string().as_bytes())
                .and_then(|_| h.db.flush())
                .map(|_| h)
                .map_err(|e| e.to_string())
        });
        // Then the jobs that failed, in order, flushed before anything newer is written.
        let reopened = reopened.and_then(|h| {
            for job in &self.kept {
                apply(&h, job)?;
            }
            h.db.flush().map(|_| h).map_err(|e| e.to_string())
        });
        match reopened {
            Ok(handles) => {
                *slot = Some(handles);
                self.failed_at = None;
                tracing::warn!(
                    replayed = self.kept.len(),
                    "data directory reopened after a failed write; the failed jobs written again; writing again"
                );
                self.kept = Vec::new();
                self.kept_bytes = 0;
                self.unsettled.store(false, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.failed_at = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Applies one job atomically: its changes are gathered into one `Batch` per tree, and a
    /// job touching one tree (every send, receive and delete) is one `apply_batch`; a job across
    /// trees (a queue's deletion, a FIFO send with its deduplication entry) is one transaction.
    /// Either way sled recovers all of the job or none of it, so a failed write or a crash
    /// cannot leave half a job on disk. Neutral on the hot path: a batch replaces the same
    /// number of inserts, taken on this single writer thread, so no lock is contended.
    fn apply(&self, changes: &[Change]) -> Result<(), String> {
        self.with(|h| apply(h, changes))
    }
}

/// See `SledWriter::apply`.
fn apply(handles: &Handles, changes: &[Change]) -> Result<(), String> {
    {
        let mut batches: Vec<(usize, sled::Batch)> = Vec::with_capacity(1);
        let mut batch_for = |space: Space| -> usize {
            let tree = handles
                .trees
                .iter()
                .position(|(s, _)| *s == space)
                .expect("every space has a tree");
            match batches.iter().position(|(t, _)| *t == tree) {
                Some(i) => i,
                None => {
                    batches.push((tree, sled::Batch::default()));
                    batches.len() - 1
                }
            }
        };
        let mut slots = Vec::with_capacity(changes.len());
        for change in changes {
            let space = match change {
                Change::Put { space, .. }
                | Change::Delete { space, .. }
                | Change::DeletePrefix { space, .. } => *space,
            };
            slots.push(batch_for(space));
        }
        for (change, slot) in changes.iter().zip(slots) {
            let (tree, batch) = &mut batches[slot];
            match change {
                Change::Put { key, value, .. } => batch.insert(key.as_slice(), value.as_slice()),
                Change::Delete { key, .. } => batch.remove(key.as_slice()),
                Change::DeletePrefix { prefix, .. } => {
                    // Only this thread writes, so the keys read here are the keys to delete.
                    for key in handles.trees[*tree].1.scan_prefix(prefix).keys() {
                        batch.remove(key.map_err(|e| e.to_string())?);
                    }
                }
            }
        }
        match batches.len() {
            0 => Ok(()),
            1 => {
                let (tree, batch) = batches.pop().expect("one batch");
                handles.trees[tree]
                    .1
                    .apply_batch(batch)
                    .map_err(|e| e.to_string())
            }
            _ => {
                let trees: Vec<&sled::Tree> =
                    batches.iter().map(|(t, _)| &handles.trees[*t].1).collect();
                trees
                    .as_slice()
                    .transaction(|tx| {
                        for (i, (_, batch)) in batches.iter().enumerate() {
                            tx[i].apply_batch(batch)?;
                        }
                        Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .map_err(|e| format!("{e:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Under relaxed durability a writer that falls behind holds submitters back once
    /// `backlog` jobs wait (backpressure), instead of queueing without limit.
    #[test]
    fn a_full_job_channel_holds_submitters_back() {
        let dir = std::env::temp_dir().join(format!("lyrebird-backlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (store, writer, rx) =
            SledStore::open_unstarted(&dir, Durability::Relaxed, 2).expect("open");
        let store = Arc::new(store);
        let submitted = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (store, submitted) = (store.clone(), submitted.clone());
            thread::spawn(move || {
                for i in 0u8..5 {
                    let put = Change::Put {
                        space: Space::Messages,
                        key: vec![i],
                        value: vec![i],
                    };
                    drop(store.submit(vec![put]));
                    submitted.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // The writer is not running: two jobs fit, the third waits for room.
        thread::sleep(Duration::from_millis(300));
        assert_eq!(
            submitted.load(Ordering::SeqCst),
            2,
            "the backlog grew past its bound"
        );
        thread::spawn(move || writer.run(rx));
        submitter.join().expect("submitter");
        assert_eq!(submitted.load(Ordering::SeqCst), 5);
        store.flush();
        assert_eq!(store.load(Space::Messages).expect("load").len(), 5);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
