//! The sled store. One writer thread applies changes in order and flushes once per batch of
//! whatever arrived meanwhile (group commit): under load many requests share each fsync, and a
//! lone request waits for just one. The directory is locked by sled, so two servers never share
//! it; the layout carries `FORMAT_VERSION`, and a newer one is refused.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use sled::Transactional;
use tokio::sync::oneshot;

use super::{Change, Durability, Space, Store, StoreMetrics, Ticket, Visitor, FORMAT_VERSION};

type Job = (Vec<Change>, Option<oneshot::Sender<Result<(), String>>>);

#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    trees: Vec<(Space, sled::Tree)>,
    durability: Durability,
    jobs: mpsc::SyncSender<Job>,
    metrics: Arc<StoreMetrics>,
}

const VERSION_KEY: &[u8] = b"format_version";

/// Jobs waiting for the writer at most; a submitter beyond it waits for room (backpressure).
pub const JOB_BACKLOG: usize = 16 * 1024;

impl SledStore {
    pub fn open(dir: &Path, durability: Durability) -> Result<SledStore, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
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
        let store_meta = &trees
            .iter()
            .find(|(s, _)| *s == Space::Meta)
            .expect("meta tree")
            .1;
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
                    db.flush().map_err(|e| e.to_string())?;
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
                db.flush().map_err(|e| e.to_string())?;
            }
        }
        // Bounded: under relaxed durability a writer that falls behind holds submitters back
        // instead of queueing without limit.
        let (jobs, rx) = mpsc::sync_channel::<Job>(JOB_BACKLOG);
        let metrics = Arc::new(StoreMetrics::default());
        let writer = SledWriter {
            db: db.clone(),
            trees: trees.clone(),
            metrics: metrics.clone(),
        };
        thread::Builder::new()
            .name("lyrebird-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| e.to_string())?;
        Ok(SledStore {
            db,
            trees,
            durability,
            jobs,
            metrics,
        })
    }

    fn tree(&self, space: Space) -> &sled::Tree {
        &self
            .trees
            .iter()
            .find(|(s, _)| *s == space)
            .expect("every space has a tree")
            .1
    }
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
        for record in self.tree(space).iter() {
            let (key, value) = record.map_err(|e| e.to_string())?;
            visit(&key, &value)?;
        }
        Ok(())
    }

    fn put_now(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.tree(space)
            .insert(key, value)
            .map_err(|e| e.to_string())?;
        self.db.flush().map(|_| ()).map_err(|e| e.to_string())
    }

    fn flush(&self) {
        // Wait for the writer to drain what was submitted, then flush.
        let (tx, rx) = oneshot::channel();
        if self.jobs.send((Vec::new(), Some(tx))).is_ok() {
            let _ = rx.blocking_recv();
        }
        let _ = self.db.flush();
    }

    fn describe(&self) -> &'static str {
        "sled"
    }

    fn metrics(&self) -> Option<&StoreMetrics> {
        Some(&self.metrics)
    }
}

struct SledWriter {
    db: sled::Db,
    trees: Vec<(Space, sled::Tree)>,
    metrics: Arc<StoreMetrics>,
}

impl SledWriter {
    fn run(self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut waiters = Vec::new();
            let mut result = self.apply(first.0);
            waiters.extend(first.1);
            let mut jobs = 1u64;
            // Group commit: take everything that queued up while we were busy.
            while let Ok((changes, waiter)) = rx.recv_timeout(Duration::ZERO) {
                if result.is_ok() {
                    result = self.apply(changes);
                }
                waiters.extend(waiter);
                jobs += 1;
            }
            if !waiters.is_empty() && result.is_ok() {
                let started = std::time::Instant::now();
                result = self.db.flush().map(|_| ()).map_err(|e| e.to_string());
                self.metrics
                    .flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                self.metrics.batch_jobs.observe(jobs as f64);
            }
            if let Err(e) = &result {
                tracing::error!(error = %e, "store write failed");
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        }
    }

    /// Applies one job atomically: its changes are gathered into one `Batch` per tree, and a
    /// job touching one tree (every send, receive and delete) is one `apply_batch`; a job across
    /// trees (a queue's deletion, a FIFO send with its deduplication entry) is one transaction.
    /// Either way sled recovers all of the job or none of it, so a failed write or a crash
    /// cannot leave half a job on disk. Neutral on the hot path: a batch replaces the same
    /// number of inserts, taken on this single writer thread, so no lock is contended.
    fn apply(&self, changes: Vec<Change>) -> Result<(), String> {
        let mut batches: Vec<(usize, sled::Batch)> = Vec::with_capacity(1);
        let mut batch_for = |space: Space| -> usize {
            let tree = self
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
        for change in &changes {
            let space = match change {
                Change::Put { space, .. }
                | Change::Delete { space, .. }
                | Change::DeletePrefix { space, .. } => *space,
            };
            slots.push(batch_for(space));
        }
        for (change, slot) in changes.into_iter().zip(slots) {
            let (tree, batch) = &mut batches[slot];
            match change {
                Change::Put { key, value, .. } => batch.insert(key, value),
                Change::Delete { key, .. } => batch.remove(key),
                Change::DeletePrefix { prefix, .. } => {
                    // Only this thread writes, so the keys read here are the keys to delete.
                    for key in self.trees[*tree].1.scan_prefix(&prefix).keys() {
                        batch.remove(key.map_err(|e| e.to_string())?);
                    }
                }
            }
        }
        match batches.len() {
            0 => Ok(()),
            1 => {
                let (tree, batch) = batches.pop().expect("one batch");
                self.trees[tree]
                    .1
                    .apply_batch(batch)
                    .map_err(|e| e.to_string())
            }
            _ => {
                let trees: Vec<&sled::Tree> =
                    batches.iter().map(|(t, _)| &self.trees[*t].1).collect();
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
