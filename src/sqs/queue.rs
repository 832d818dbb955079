//! The queue engine: one queue's messages and their life cycle (delayed → visible → in flight →
//! deleted, expired, moved to a dead-letter queue, or visible again), with counters kept exact on
//! every transition.
//!
//! Each queue has its own lock, so queues never contend with each other, and its own `Notify`,
//! so long-polling receivers sleep until a send (or their own deadline) wakes them: no polling.
//! Time is passed in by the caller (milliseconds since the epoch) so the engine never reads a
//! clock itself; timed transitions happen lazily in `refresh`, driven by heaps of deadlines.
//!
//! Standard queues deliver visible messages in send order: a message back from flight (or out of
//! its delay) keeps its place. FIFO queues keep messages per message group in send order; a group
//! is receivable while its oldest message (the head) is visible, and groups are served in the
//! order they became receivable, as recorded on AWS (the groups and their ready list are in
//! `fifo.rs`). The messages themselves are in `message.rs`, their durable form in `record.rs`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;

use crate::error::{AwsError, AwsResult};
use crate::store::{Change, SharedStore, Space, Ticket};

use super::attributes::QueueConfig;
use super::fifo::{DedupEntry, Deduplication, Groups};
use super::message::{message_id_text, MessageParts, MessageState, NewMessage, StoredMessage};
use super::model::StringMap;
use super::receipt::Receipt;

/// How long FIFO queues remember deduplication ids and receive-request attempts.
pub const DEDUPLICATION_INTERVAL_MS: u64 = 5 * 60 * 1000;
const MAX_VISIBILITY_MS: u64 = 43_200_000;
/// The longest DelaySeconds (900 s).
const MAX_DELAY_MS: u64 = 900_000;

/// A queue: identity, plus its state behind a per-queue lock.
#[derive(Debug)]
pub struct Queue {
    /// Distinguishes this incarnation from a later queue of the same name.
    pub id: u64,
    pub name: String,
    pub account: String,
    pub region: String,
    pub arn: String,
    pub created_ms: u64,
    /// FIFO deduplication per message group: fixed when the queue is created (AWS keeps the
    /// creation-time DeduplicationScope even after SetQueueAttributes reports another).
    pub dedup_per_group: bool,
    state: Mutex<QueueState>,
    /// Wakes long-polling receivers.
    notify: Notify,
    deleted: AtomicBool,
    store: SharedStore,
}

impl Queue {
    pub fn new(
        name: String,
        account: String,
        region: String,
        config: QueueConfig,
        tags: StringMap,
        now_ms: u64,
        store: SharedStore,
    ) -> Self {
        let record = QueueRecord {
            id: rand::random(),
            name,
            account,
            region,
            created_ms: now_ms,
            config,
            tags,
            last_modified_ms: now_ms,
            last_purge_ms: None,
            dedup_per_group: None,
        };
        Self::from_record(record, now_ms, store)
    }

    /// Rebuilds a queue (without its messages) from its durable record.
    pub fn from_record(record: QueueRecord, now_ms: u64, store: SharedStore) -> Self {
        let arn = format!(
            "arn:aws:sqs:{}:{}:{}",
            record.region, record.account, record.name
        );
        let fifo = record.config.fifo_queue;
        let dedup_per_group = record
            .dedup_per_group
            .unwrap_or(record.config.deduplication_scope == "messageGroup");
        let mut state = QueueState::new(record.config, record.tags, now_ms, fifo);
        state.queue_id = record.id;
        state.last_modified_ms = record.last_modified_ms;
        // A purge cannot lie in the future (a wall clock set back between runs).
        state.last_purge_ms = record.last_purge_ms.map(|t| t.min(now_ms));
        if store.persistent() {
            state.journal = Some(Vec::new());
        }
        Queue {
            id: record.id,
            name: record.name,
            account: record.account,
            region: record.region,
            arn,
            created_ms: record.created_ms,
            dedup_per_group,
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
            store,
        }
    }

    /// The durable form of the queue's identity and settings.
    pub fn record(&self, state: &QueueState) -> QueueRecord {
        QueueRecord {
            id: self.id,
            name: self.name.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            created_ms: self.created_ms,
            config: state.config.clone(),
            tags: state.tags.clone(),
            last_modified_ms: state.last_modified_ms,
            last_purge_ms: state.last_purge_ms,
            dedup_per_group: Some(self.dedup_per_group),
        }
    }

    /// Hands the changes journaled under `state`'s lock to the store. Called with the lock
    /// held, so the store sees a queue's changes in the order they happened.
    pub fn commit(&self, state: &mut QueueState) -> Ticket {
        match state.journal.as_mut() {
            Some(journal) if !journal.is_empty() => self.store.submit(std::mem::take(journal)),
            _ => Ticket::done(),
        }
    }

    /// Like `commit`, for an answer that may report another request's change still being
    /// written when this one changed nothing (a delete of a message a concurrent delete just
    /// removed): the ticket then waits for what was submitted before, so an acknowledgement
    /// never runs ahead of the store.
    pub fn commit_or_wait(&self, state: &mut QueueState) -> Ticket {
        match state.journal.as_ref() {
            Some(journal) if journal.is_empty() => self.store.barrier(),
            _ => self.commit(state),
        }
    }

    /// As `commit`, with a ticket that reports a failed write even under relaxed durability.
    pub fn commit_confirmed(&self, state: &mut QueueState) -> Ticket {
        match state.journal.as_mut() {
            Some(journal) if !journal.is_empty() => {
                self.store.submit_confirmed(std::mem::take(journal))
            }
            _ => Ticket::done(),
        }
    }

    /// Journals the queue record itself (after a settings, tags or purge change).
    pub fn journal_record(&self, state: &mut QueueState) {
        if state.journal.is_none() {
            return;
        }
        let value = serde_json::to_vec(&self.record(state)).unwrap_or_default();
        let key = self.id.to_be_bytes().to_vec();
        if let Some(journal) = &mut state.journal {
            journal.push(Change::Put {
                space: Space::Queues,
                key,
                value,
            });
        }
    }

    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }

    /// Locks the queue's state, applying every timed transition that is due.
    pub fn lock(&self, now_ms: u64) -> MutexGuard<'_, QueueState> {
        let mut state = self.state.lock();
        state.refresh(now_ms);
        // What became receivable by the clock alone: long polls already wake at the next due
        // time, so `take_woken` reports only what the caller's own operation does.
        state.woken = false;
        state
    }

    /// Locks without applying due transitions (start-up restore).
    pub fn lock_unrefreshed(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock()
    }

    /// Reads the configuration without applying due transitions.
    pub fn lock_config<T>(&self, read: impl FnOnce(&QueueConfig) -> T) -> T {
        read(&self.state.lock().config)
    }

    pub fn notify(&self) -> &Notify {
        &self.notify
    }

    /// Marks the queue deleted, drops its messages (durably too) and releases every waiting
    /// receiver.
    pub fn mark_deleted(&self) -> Ticket {
        self.deleted.store(true, Ordering::Release);
        let mut state = self.state.lock();
        state.clear();
        let ticket = match state.journal.as_mut() {
            Some(journal) => {
                let id = self.id.to_be_bytes().to_vec();
                journal.clear();
                journal.push(Change::Delete {
                    space: Space::Queues,
                    key: id.clone(),
                });
                journal.push(Change::DeletePrefix {
                    space: Space::Messages,
                    prefix: id.clone(),
                });
                journal.push(Change::DeletePrefix {
                    space: Space::Deduplication,
                    prefix: id,
                });
                self.commit(&mut state)
            }
            None => Ticket::done(),
        };
        drop(state);
        self.notify.notify_waiters();
        ticket
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// The queue's gauges and counters at `now_ms`, applying due transitions as any read of
    /// its attributes does.
    pub fn gauges(&self, now_ms: u64) -> Gauges {
        self.lock(now_ms).gauges()
    }

    /// Copies of the queue's messages as they stand at `now_ms`, in send order, at most `limit`
    /// of them, for the developer endpoints and the console. Read-only: it takes the lock
    /// without applying due transitions (which would journal expiries) and works out each
    /// message's state at `now_ms` itself, so receive counts, visibility and the store are
    /// untouched. Also counts the messages by their state at `now_ms`; the lock is held for at
    /// most `PEEK_SCAN` messages, beyond which the counts are the engine's own (as of the
    /// queue's last operation: a message due back from flight still counts as in flight).
    pub fn peek(&self, now_ms: u64, limit: usize, wanted: impl Fn(PeekState) -> bool) -> Peek {
        let state = self.state.lock();
        let retention_ms = state.config.message_retention_period as u64 * 1000;
        let mut peek = Peek {
            counts_exact: true,
            ..Peek::default()
        };
        for (scanned, &(sent_ms, seq)) in state.by_age.iter().enumerate() {
            if scanned == PEEK_SCAN {
                peek.counts = state.counts;
                peek.counts_exact = false;
                break;
            }
            if sent_ms + retention_ms <= now_ms {
                continue;
            }
            let Some(m) = state.messages.get(&seq) else {
                continue;
            };
            let shown = PeekState::at(m.state, now_ms);
            match shown {
                PeekState::Visible => peek.counts.visible += 1,
                PeekState::InFlight { .. } => peek.counts.in_flight += 1,
                PeekState::Delayed { .. } => peek.counts.delayed += 1,
            }
            peek.oldest_sent_ms.get_or_insert(sent_ms);
            if peek.messages.len() < limit && wanted(shown) {
                peek.messages.push(((**m).clone(), shown));
            }
        }
        peek
    }
}

/// The most messages a peek looks at under the queue's lock (a few milliseconds).
pub const PEEK_SCAN: usize = 100_000;

/// What `Queue::peek` saw.
#[derive(Debug, Default)]
pub struct Peek {
    pub messages: Vec<(StoredMessage, PeekState)>,
    /// Every unexpired message, shown or not, by its state at the time of the peek (the
    /// engine's counts when `counts_exact` is false: see `Queue::peek`).
    pub counts: Counts,
    pub counts_exact: bool,
    pub oldest_sent_ms: Option<u64>,
}

/// A message's state at a given time, as a peek shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeekState {
    Visible,
    InFlight { until_ms: u64 },
    Delayed { until_ms: u64 },
}

impl PeekState {
    /// The state `state` is in at `now_ms`, had the due transitions been applied.
    fn at(state: MessageState, now_ms: u64) -> Self {
        match state {
            MessageState::Delayed { until_ms } if until_ms > now_ms => {
                PeekState::Delayed { until_ms }
            }
            MessageState::InFlight { until_ms, .. } if until_ms > now_ms => {
                PeekState::InFlight { until_ms }
            }
            _ => PeekState::Visible,
        }
    }
}

/// A queue's identity and settings as the store keeps them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueueRecord {
    pub id: u64,
    pub name: String,
    pub account: String,
    pub region: String,
    pub created_ms: u64,
    pub config: QueueConfig,
    pub tags: StringMap,
    pub last_modified_ms: u64,
    pub last_purge_ms: Option<u64>,
    /// The deduplication scope the queue was created with (`None` in records written before it
    /// was kept: the configured scope then).
    #[serde(default)]
    pub dedup_per_group: Option<bool>,
}

/// The outcome of an enqueue.
#[derive(Debug, PartialEq, Eq)]
pub enum Enqueued {
    Accepted {
        sequence_number: Option<String>,
        visible: bool,
    },
    /// A FIFO duplicate within the deduplication interval: nothing was enqueued.
    Duplicate {
        message_id: Arc<str>,
        sequence_number: Option<String>,
    },
}

/// What happened to a queue's messages since start-up, for `/metrics`: plain counters kept under
/// the queue's lock the transitions already hold, so they cost no atomic operation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Messages enqueued: sends, SNS deliveries and messages moved in (not FIFO duplicates).
    pub sent: u64,
    /// Receives of a message (a message received twice counts twice).
    pub received: u64,
    pub deleted: u64,
    /// Messages moved to the dead-letter queue after using up their receives.
    pub moved_to_dead_letter: u64,
    /// Messages dropped at the end of the retention period.
    pub expired: u64,
}

/// A queue's gauges and counters, read at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub counts: Counts,
    pub oldest_sent_ms: Option<u64>,
    pub stats: Stats,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
}

/// Why a receipt-handle operation did not apply.
#[derive(Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The handle was issued by another queue (or another incarnation of this one).
    WrongQueue,
    /// The message is gone (deleted, purged, expired, moved).
    Gone,
    /// FIFO: the handle's receive is over (visibility expired or the message was received again).
    Expired,
}

/// Delivery order: send order for standard queues, per-group lists for FIFO queues.
#[derive(Debug)]
enum Delivery {
    /// Visible messages in send order, merged from two sorted sources: `ready` (messages
    /// visible since they were enqueued, in seq order) and `returned` (messages back from
    /// flight or a delay), so a returning message keeps its place. Both may hold stale
    /// sequence numbers, skipped on pop.
    Standard {
        ready: VecDeque<u64>,
        returned: BinaryHeap<Reverse<u64>>,
    },
    /// Messages per group, and groups in the order they became receivable (`fifo.rs`).
    Fifo(Groups),
}

/// What one ReceiveMessage asks of a queue.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveRequest<'a> {
    /// The queue's incarnation, written into receipt handles.
    pub queue_id: u64,
    /// At most this many messages.
    pub max: usize,
    pub visibility_s: u32,
    pub now_ms: u64,
    /// The redrive policy's `maxReceiveCount`, when the queue has one.
    pub max_receives: Option<u32>,
    /// FIFO `ReceiveRequestAttemptId`.
    pub attempt_id: Option<&'a str>,
}

impl ReceiveRequest<'_> {
    /// When the messages this receive takes become visible again.
    fn until_ms(&self) -> u64 {
        self.now_ms
            .saturating_add(u64::from(self.visibility_s) * 1000)
    }
}

/// Messages taken out of a queue to go to another (dead-lettered, or moved by a move task),
/// with their removal from the store held back: the removals are written in the same store job
/// as the copies (`QueueState::journal_removals`), so a crash or a failed write leaves each
/// message in one queue or the other, never in neither.
#[derive(Debug, Default)]
pub struct Moving {
    pub messages: Vec<StoredMessage>,
    removals: Removals,
}

impl Moving {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn into_parts(self) -> (Vec<StoredMessage>, Removals) {
        (self.messages, self.removals)
    }
}

/// The store removals of messages taken out (`Moving`), to be journaled with their copies.
#[derive(Debug, Default)]
#[must_use = "journal the removals with the copies, or the originals stay on disk"]
pub struct Removals(Vec<Change>);

/// A message a receive took: (seq, receive count, receipt handle).
type Taken = (u64, u32, String);

/// A FIFO receive remembered for `ReceiveRequestAttemptId` retries.
#[derive(Debug)]
struct Attempt {
    expires_ms: u64,
    /// Each message returned.
    entries: Vec<Taken>,
}

/// Hashes a queue's sequence numbers with one multiply (Fibonacci hashing) instead of SipHash:
/// the message map is looked up on every send, receive and delete, and read back whole at
/// start-up. The keys are made by lyrebird, consecutive within a queue, so a multiply spreads
/// them perfectly and clients cannot choose colliding ones.
type SeqHash = std::hash::BuildHasherDefault<SeqHasher>;

#[derive(Debug, Default)]
struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug)]
pub struct QueueState {
    pub config: QueueConfig,
    pub tags: StringMap,
    pub last_modified_ms: u64,
    pub last_purge_ms: Option<u64>,
    next_seq: u64,
    next_sequence_number: u128,
    /// Boxed: the map's slots stay small whatever its load factor.
    messages: HashMap<u64, Box<StoredMessage>, SeqHash>,
    /// Sender ids shared by this queue's messages (there are few distinct ones).
    senders: HashSet<Arc<str>>,
    delivery: Delivery,
    /// (due time, seq) of delayed messages and (due time, flight order, seq) of in-flight ones:
    /// messages whose visibility ends together come back in the order they were taken, so FIFO
    /// groups served by one receive become receivable again in the order served. Stale
    /// entries are skipped.
    delayed: BinaryHeap<Reverse<(u64, u64)>>,
    in_flight: BinaryHeap<Reverse<(u64, u64, u64)>>,
    next_flight_order: u64,
    /// Set when something became receivable; read by `take_woken` to wake long polls.
    woken: bool,
    /// (sent time, seq) of every message, for retention expiry.
    by_age: BTreeSet<(u64, u64)>,
    counts: Counts,
    stats: Stats,
    /// FIFO deduplication ids seen within the interval (`fifo.rs`).
    dedup: Deduplication,
    attempts: HashMap<String, Attempt>,
    /// Changes not yet handed to the store; `None` when nothing is kept.
    journal: Option<Vec<Change>>,
    queue_id: u64,
}

impl QueueState {
    fn new(config: QueueConfig, tags: StringMap, now_ms: u64, fifo: bool) -> Self {
        let delivery = if fifo {
            Delivery::Fifo(Groups::default())
        } else {
            Delivery::Standard {
                ready: VecDeque::new(),
                returned: BinaryHeap::new(),
            }
        };
        QueueState {
            config,
            tags,
            last_modified_ms: now_ms,
            last_purge_ms: None,
            // Time-based, so sequence numbers (and receipt handles) never repeat across restarts.
            next_seq: now_ms << 20,
            // 20-digit decimal like AWS's, increasing for the life of the queue.
            next_sequence_number: 10_000_000_000_000_000_000 + now_ms as u128 * 1_000_000,
            messages: HashMap::default(),
            senders: HashSet::new(),
            delivery,
            delayed: BinaryHeap::new(),
            in_flight: BinaryHeap::new(),
            next_flight_order: 0,
            woken: false,
            by_age: BTreeSet::new(),
            counts: Counts::default(),
            stats: Stats::default(),
            dedup: Deduplication::default(),
            attempts: HashMap::new(),
            journal: None,
            queue_id: 0,
        }
    }

    fn message_key(&self, seq: u64) -> Vec<u8> {
        let mut key = Vec::with_capacity(16);
        key.extend_from_slice(&self.queue_id.to_be_bytes());
        key.extend_from_slice(&seq.to_be_bytes());
        key
    }

    fn dedup_key(&self, key: &str) -> Vec<u8> {
        dedup_store_key(self.queue_id, key)
    }

    /// The changes journaled and not yet committed (to write them again if the store fails).
    pub fn pending_changes(&self) -> Vec<Change> {
        self.journal.clone().unwrap_or_default()
    }

    /// Journals again what `changes` (a failed write) wrote, as things stand now: a message
    /// record in its current form if the message is still here (never one deleted since), any
    /// other record as it was.
    pub fn rejournal(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Put {
                    space: Space::Messages,
                    key,
                    ..
                } if key.len() == 16 => {
                    let seq = u64::from_be_bytes(key[8..16].try_into().unwrap_or_default());
                    self.journal_message(seq);
                }
                other => {
                    if let Some(journal) = self.journal.as_mut() {
                        journal.push(other.clone());
                    }
                }
            }
        }
    }

    /// Journals a message's current form.
    fn journal_message(&mut self, seq: u64) {
        if self.journal.is_none() {
            return;
        }
        let key = self.message_key(seq);
        if let (Some(journal), Some(m)) = (self.journal.as_mut(), self.messages.get(&seq)) {
            let value = super::record::encode(m);
            journal.push(Change::Put {
                space: Space::Messages,
                key,
                value,
            });
        }
    }

    fn journal(&mut self, change: impl FnOnce(&Self) -> Change) {
        if self.journal.is_none() {
            return;
        }
        let change = change(self);
        if let Some(journal) = &mut self.journal {
            journal.push(change);
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Counts, the oldest message's send time and the counters (`/metrics`).
    pub fn gauges(&self) -> Gauges {
        Gauges {
            counts: self.counts,
            oldest_sent_ms: self.by_age.first().map(|&(sent, _)| sent),
            stats: self.stats,
        }
    }

    /// Applies due transitions: retention expiry, end of delay, end of visibility timeout,
    /// and forgets expired deduplication ids.
    fn refresh(&mut self, now_ms: u64) {
        let retention_ms = self.config.message_retention_period as u64 * 1000;
        while let Some(&(sent, seq)) = self.by_age.first() {
            if sent.saturating_add(retention_ms) > now_ms {
                break;
            }
            self.stats.expired += 1;
            self.remove_and_free(seq);
        }
        while let Some(&Reverse((due, seq))) = self.delayed.peek() {
            if due > now_ms {
                break;
            }
            self.delayed.pop();
            if self
                .messages
                .get(&seq)
                .is_some_and(|m| m.state == (MessageState::Delayed { until_ms: due }))
            {
                self.set_state(seq, MessageState::Visible);
            }
        }
        while let Some(&Reverse((due, _, seq))) = self.in_flight.peek() {
            if due > now_ms {
                break;
            }
            self.in_flight.pop();
            let expired = self.messages.get(&seq).is_some_and(
                |m| matches!(m.state, MessageState::InFlight { until_ms, .. } if until_ms == due),
            );
            if expired {
                self.set_state(seq, MessageState::Visible);
            }
        }
        let (queue_id, journal) = (self.queue_id, &mut self.journal);
        self.dedup.expire(now_ms, |key| {
            if let Some(journal) = journal {
                journal.push(Change::Delete {
                    space: Space::Deduplication,
                    key: dedup_store_key(queue_id, key),
                });
            }
        });
        if !self.attempts.is_empty() {
            self.attempts.retain(|_, a| a.expires_ms > now_ms);
        }
    }

    /// The earliest time a timed transition could make a message visible.
    pub fn next_due_ms(&self) -> Option<u64> {
        let d = self.delayed.peek().map(|Reverse((due, _))| *due);
        let f = self.in_flight.peek().map(|Reverse((due, _, _))| *due);
        match (d, f) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves a message to `state`, keeping counters, deadline heaps and delivery order right.
    fn set_state(&mut self, seq: u64, state: MessageState) {
        let Some(m) = self.messages.get_mut(&seq) else {
            return;
        };
        let old = m.state;
        m.state = state;
        let group = m.message_group_id().cloned();
        let counts = &mut self.counts;
        match old {
            MessageState::Delayed { .. } => counts.delayed -= 1,
            MessageState::Visible => counts.visible -= 1,
            MessageState::InFlight { .. } => counts.in_flight -= 1,
        }
        match state {
            MessageState::Delayed { until_ms } => {
                counts.delayed += 1;
                self.delayed.push(Reverse((until_ms, seq)));
            }
            MessageState::Visible => counts.visible += 1,
            MessageState::InFlight { until_ms, .. } => {
                counts.in_flight += 1;
                self.next_flight_order += 1;
                self.in_flight
                    .push(Reverse((until_ms, self.next_flight_order, seq)));
            }
        }
        match &mut self.delivery {
            Delivery::Standard { returned, .. } => {
                if state == MessageState::Visible && old != MessageState::Visible {
                    returned.push(Reverse(seq));
                    self.woken = true;
                }
            }
            Delivery::Fifo(_) => {
                if let Some(id) = group {
                    self.sync_group(&id);
                }
            }
        }
    }

    /// FIFO: lists or unlists a group in the ready list as its head's visibility now stands
    /// (see `Groups::sync`); a newly listed group wakes long polls.
    fn sync_group(&mut self, id: &Arc<str>) {
        let Delivery::Fifo(groups) = &mut self.delivery else {
            return;
        };
        let messages = &self.messages;
        if groups.sync(id, |seq| is_visible(messages, seq)) {
            self.woken = true;
        }
    }

    /// Whether something became receivable since the last call (long polls are woken then).
    pub fn take_woken(&mut self) -> bool {
        std::mem::take(&mut self.woken)
    }

    fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let m = self.unlink(seq)?;
        self.journal(|s| Change::Delete {
            space: Space::Messages,
            key: s.message_key(seq),
        });
        Some(m)
    }

    /// Takes a message out to be moved to another queue: its removal from the store is not
    /// journaled here but handed back, to be written in one job with the copy (`Moving`).
    fn take_out(&mut self, seq: u64, moving: &mut Moving) {
        if let Some(m) = self.unlink(seq) {
            if self.journal.is_some() {
                moving.removals.0.push(Change::Delete {
                    space: Space::Messages,
                    key: self.message_key(seq),
                });
            }
            moving.messages.push(m);
        }
    }

    /// Journals the store removals of messages taken out of another queue, so that they go to
    /// the store in the same job as their copies, just enqueued here.
    pub fn journal_removals(&mut self, removals: Removals) {
        if let Some(journal) = self.journal.as_mut() {
            journal.extend(removals.0);
        }
    }

    /// Takes a message out of the in-memory state and its indexes, journaling nothing.
    fn unlink(&mut self, seq: u64) -> Option<StoredMessage> {
        let m = self.messages.remove(&seq)?;
        self.by_age.remove(&(m.sent_ms, seq));
        match m.state {
            MessageState::Delayed { .. } => self.counts.delayed -= 1,
            MessageState::Visible => self.counts.visible -= 1,
            MessageState::InFlight { .. } => self.counts.in_flight -= 1,
        }
        if let (Delivery::Fifo(groups), Some(id)) = (&mut self.delivery, m.message_group_id()) {
            if groups.remove(id, seq) {
                // The next message may now be the head, and visible.
                let id = id.clone();
                self.sync_group(&id);
            }
        }
        Some(*m)
    }

    /// The queue's shared copy of a sender id.
    fn intern_sender(&mut self, sender: &str) -> Arc<str> {
        if let Some(shared) = self.senders.get(sender) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(sender);
        // Bounded, in case a queue sees many identities over its life.
        if self.senders.len() < 256 {
            self.senders.insert(shared.clone());
        }
        shared
    }

    /// Adds a message. FIFO sends carrying a `dedup_key` seen within the deduplication interval
    /// are accepted but not enqueued, and answer with the original message's id.
    pub fn enqueue(&mut self, new: NewMessage, now_ms: u64) -> Enqueued {
        let fifo = matches!(self.delivery, Delivery::Fifo(_));
        if let Some(key) = &new.dedup_key {
            if let Some((_, message_id, sequence_number)) = self.dedup.get(key) {
                return Enqueued::Duplicate {
                    message_id: message_id.clone(),
                    sequence_number: sequence_number.clone(),
                };
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let sequence_number = fifo.then(|| {
            self.next_sequence_number += 1;
            self.next_sequence_number.to_string()
        });
        let mut new = new;
        if let Some(key) = new.dedup_key.take() {
            let expires = now_ms.saturating_add(DEDUPLICATION_INTERVAL_MS);
            let message_id: Arc<str> =
                message_id_text(&new.id, new.extra.message_id_text.as_deref()).into();
            self.journal(|s| Change::Put {
                space: Space::Deduplication,
                key: s.dedup_key(&key),
                value: serde_json::to_vec(&(expires, &message_id, &sequence_number))
                    .unwrap_or_default(),
            });
            self.dedup
                .insert(key, (expires, message_id, sequence_number.clone()));
        }
        let delay_ms = new.delay_seconds as u64 * 1000;
        let state = if delay_ms > 0 {
            MessageState::Delayed {
                until_ms: now_ms.saturating_add(delay_ms),
            }
        } else {
            MessageState::Visible
        };
        let sent_ms = new.sent_ms.unwrap_or(now_ms);
        let sender_id = self.intern_sender(&new.sender_id);
        let mut extra = new.extra;
        extra.sequence_number = sequence_number.clone();
        self.messages.insert(
            seq,
            Box::new(StoredMessage::from_parts(
                new.id,
                new.md5_of_body,
                MessageParts {
                    body: new.body,
                    sender_id,
                    sent_ms,
                    state,
                    receive_count: new.receive_count,
                    extra,
                },
            )),
        );
        self.index_new(seq);
        self.journal_message(seq);
        self.stats.sent += 1;
        Enqueued::Accepted {
            sequence_number,
            visible: state == MessageState::Visible,
        }
    }

    /// Files a message just put into `messages` into the age, deadline and delivery indexes.
    fn index_new(&mut self, seq: u64) {
        let m = &self.messages[&seq];
        let (state, sent_ms, group) = (m.state, m.sent_ms, m.message_group_id().cloned());
        self.by_age.insert((sent_ms, seq));
        match state {
            MessageState::Delayed { until_ms } => {
                self.counts.delayed += 1;
                self.delayed.push(Reverse((until_ms, seq)));
            }
            MessageState::Visible => self.counts.visible += 1,
            MessageState::InFlight { until_ms, .. } => {
                self.counts.in_flight += 1;
                self.next_flight_order += 1;
                self.in_flight
                    .push(Reverse((until_ms, self.next_flight_order, seq)));
            }
        }
        match &mut self.delivery {
            Delivery::Standard { ready, .. } => {
                // Sequence numbers only grow, so `ready` stays in send order.
                if state == MessageState::Visible {
                    ready.push_back(seq);
                    self.woken = true;
                }
            }
            Delivery::Fifo(groups) => {
                // FIFO messages always carry a group (checked on send).
                let id = group.unwrap_or_else(|| Arc::from(""));
                groups.insert(id.clone(), seq);
                self.sync_group(&id);
            }
        }
    }

    /// Puts back a message read from the store (start-up, in key order). Deadlines that passed
    /// while lyrebird was down have passed: such messages are visible again.
    ///
    /// Stored times are absolute, and the service clock is anchored to the wall clock again at
    /// each start: if the wall clock was set back between runs, a deadline is clamped to the
    /// longest it can be from now (a delay 15 min, a visibility timeout what the receive granted)
    /// and a send time
    /// to now, so no message stays hidden (or kept) longer than AWS could.
    fn restore_message(&mut self, seq: u64, mut m: StoredMessage, now_ms: u64) {
        m.state = match m.state {
            MessageState::Delayed { until_ms } | MessageState::InFlight { until_ms, .. }
                if until_ms <= now_ms =>
            {
                MessageState::Visible
            }
            MessageState::Delayed { until_ms } => MessageState::Delayed {
                until_ms: until_ms.min(now_ms.saturating_add(MAX_DELAY_MS)),
            },
            // `held_ms` is the visibility granted at the receive: at most that from now.
            MessageState::InFlight { until_ms, held_ms } => MessageState::InFlight {
                until_ms: until_ms
                    .min(now_ms.saturating_add(u64::from(held_ms).min(MAX_VISIBILITY_MS))),
                held_ms,
            },
            other => other,
        };
        m.sent_ms = m.sent_ms.min(now_ms);
        if let Some(n) = m.sequence_number().and_then(|n| n.parse::<u128>().ok()) {
            self.next_sequence_number = self.next_sequence_number.max(n);
        }
        self.next_seq = self.next_seq.max(seq + 1);
        self.messages.insert(seq, Box::new(m));
        self.index_new(seq);
    }

    /// Decodes a message record read from the store and puts the message back.
    pub fn restore_record(&mut self, seq: u64, value: &[u8], now_ms: u64) -> Result<(), String> {
        let m = super::record::decode(value, &mut |sender| self.intern_sender(sender))?;
        self.restore_message(seq, m, now_ms);
        Ok(())
    }

    /// Orders what `restore_*` added; called once the queue's records are all read.
    pub fn finish_restore(&mut self) {
        self.dedup.finish_restore();
    }

    /// Puts back a FIFO deduplication entry read from the store, unless it has expired.
    pub fn restore_dedup(&mut self, key: &[u8], entry: DedupEntry, now_ms: u64) {
        let (expires, message_id, sequence_number) = entry;
        if expires <= now_ms || key.len() < 8 {
            return;
        }
        // Clamped as message deadlines are (`restore_message`).
        let expires = expires.min(now_ms.saturating_add(DEDUPLICATION_INTERVAL_MS));
        let key = String::from_utf8_lossy(&key[8..]).into_owned();
        self.dedup
            .insert(key, (expires, message_id, sequence_number));
    }

    /// Takes up to `max` visible messages into flight for `visibility_s` seconds, handing each
    /// (with a fresh receipt handle) to `render`. With `max_receives` (a redrive policy), a
    /// message already received that many times is taken out into `dead_letters` instead (its
    /// removal from the store held back for the dead-letter queue's job).
    pub fn receive<T>(
        &mut self,
        request: &ReceiveRequest<'_>,
        dead_letters: &mut Moving,
        mut render: impl FnMut(&StoredMessage, String) -> T,
    ) -> Vec<T> {
        if let Some(out) = request
            .attempt_id
            .and_then(|id| self.replay_attempt(id, &mut render))
        {
            return out;
        }
        let mut taken: Vec<Taken> = Vec::with_capacity(request.max.min(self.counts.visible));
        match self.delivery {
            Delivery::Standard { .. } => self.take_in_send_order(request, &mut taken, dead_letters),
            Delivery::Fifo(_) => self.take_by_group(request, &mut taken, dead_letters),
        }
        if request.visibility_s == 0 {
            // Visible again at once: standard messages keep their places, FIFO groups re-enter
            // the ready list in the order they were served.
            for (seq, _, _) in &taken {
                self.set_state(*seq, MessageState::Visible);
            }
        }
        let out = taken
            .iter()
            .map(|(seq, _, handle)| render(&self.messages[seq], handle.clone()))
            .collect();
        if let Some(id) = request.attempt_id {
            self.remember_attempt(id, taken, request.now_ms);
        }
        out
    }

    /// A retried FIFO receive (same `ReceiveRequestAttemptId`) gets the same messages and
    /// handles while none of them changed.
    fn replay_attempt<T>(
        &self,
        attempt_id: &str,
        render: &mut impl FnMut(&StoredMessage, String) -> T,
    ) -> Option<Vec<T>> {
        let previous = self.attempts.get(attempt_id)?;
        let unchanged = previous.entries.iter().all(|(seq, receive, _)| {
            self.messages.get(seq).is_some_and(|m| {
                m.receive_count == *receive && matches!(m.state, MessageState::InFlight { .. })
            })
        });
        unchanged.then(|| {
            previous
                .entries
                .iter()
                .map(|(seq, _, handle)| render(&self.messages[seq], handle.clone()))
                .collect()
        })
    }

    /// Standard queues: the oldest visible messages, up to the request's maximum.
    fn take_in_send_order(
        &mut self,
        request: &ReceiveRequest<'_>,
        taken: &mut Vec<Taken>,
        dead_letters: &mut Moving,
    ) {
        let until_ms = request.until_ms();
        while taken.len() < request.max {
            let Some(seq) = self.pop_ready_message() else {
                break;
            };
            if !self.redrive_if_exhausted(seq, request.max_receives, dead_letters) {
                taken.push(self.take_into_flight(request.queue_id, seq, until_ms, request.now_ms));
            }
        }
    }

    /// FIFO: from each ready group in turn, the consecutive visible messages from its head,
    /// stopping at its first message in flight. A served group's head is then in flight, so no
    /// group is served twice by one receive.
    fn take_by_group(
        &mut self,
        request: &ReceiveRequest<'_>,
        taken: &mut Vec<Taken>,
        dead_letters: &mut Moving,
    ) {
        let until_ms = request.until_ms();
        while taken.len() < request.max {
            let Some(id) = self.pop_ready_group() else {
                break;
            };
            let mut cursor = None;
            while taken.len() < request.max {
                let Some(seq) = self.next_in_group(&id, cursor) else {
                    break;
                };
                cursor = Some(seq);
                if self.messages[&seq].state != MessageState::Visible {
                    break;
                }
                if !self.redrive_if_exhausted(seq, request.max_receives, dead_letters) {
                    taken.push(self.take_into_flight(
                        request.queue_id,
                        seq,
                        until_ms,
                        request.now_ms,
                    ));
                }
            }
            self.sync_group(&id);
        }
    }

    /// Keeps what a FIFO receive with a `ReceiveRequestAttemptId` returned, for its retries.
    fn remember_attempt(&mut self, attempt_id: &str, taken: Vec<Taken>, now_ms: u64) {
        if !taken.is_empty() {
            let attempt = Attempt {
                expires_ms: now_ms.saturating_add(DEDUPLICATION_INTERVAL_MS),
                entries: taken,
            };
            self.attempts.insert(attempt_id.to_string(), attempt);
        }
    }

    /// Takes a message out into `dead_letters` if it has used up its receives.
    fn redrive_if_exhausted(
        &mut self,
        seq: u64,
        max_receives: Option<u32>,
        dead_letters: &mut Moving,
    ) -> bool {
        let exhausted =
            max_receives.is_some_and(|limit| self.messages[&seq].receive_count >= limit);
        if exhausted {
            self.stats.moved_to_dead_letter += 1;
            self.take_out(seq, dead_letters);
        }
        exhausted
    }

    /// Takes a visible message into flight until `until_ms`, with a fresh receipt handle.
    fn take_into_flight(&mut self, queue_id: u64, seq: u64, until_ms: u64, now_ms: u64) -> Taken {
        self.set_state(seq, MessageState::in_flight(until_ms, now_ms));
        self.stats.received += 1;
        let m = self.messages.get_mut(&seq).expect("present");
        m.receive_count += 1;
        if m.first_receive_ms().is_none() {
            m.set_first_receive_ms(now_ms);
        }
        let receive = m.receive_count;
        let handle = Receipt {
            queue_id,
            seq,
            receive,
        }
        .encode();
        self.journal_message(seq);
        (seq, receive, handle)
    }

    /// Standard queues: the oldest visible message (the lower of the two sources' heads).
    fn pop_ready_message(&mut self) -> Option<u64> {
        let Delivery::Standard { ready, returned } = &mut self.delivery else {
            return None;
        };
        loop {
            let seq = match (ready.front(), returned.peek()) {
                (Some(&a), Some(&Reverse(b))) if b < a => returned.pop()?.0,
                (Some(_), _) => ready.pop_front()?,
                (None, Some(_)) => returned.pop()?.0,
                (None, None) => return None,
            };
            if self
                .messages
                .get(&seq)
                .is_some_and(|m| m.state == MessageState::Visible)
            {
                return Some(seq);
            }
        }
    }

    /// FIFO: the next group that may deliver (its head visible), unlisted.
    fn pop_ready_group(&mut self) -> Option<Arc<str>> {
        let Delivery::Fifo(groups) = &mut self.delivery else {
            return None;
        };
        let messages = &self.messages;
        groups.pop_ready(|seq| is_visible(messages, seq))
    }

    /// FIFO: the message after `after` in a group (the first one when `after` is `None`).
    fn next_in_group(&self, id: &Arc<str>, after: Option<u64>) -> Option<u64> {
        match &self.delivery {
            Delivery::Fifo(groups) => groups.next_in_group(id, after),
            Delivery::Standard { .. } => None,
        }
    }

    /// Deletes a message by its id, whatever its state (the console's "delete this message",
    /// which has no receipt handle). False when no such message is here.
    pub fn delete_by_id(&mut self, id: &[u8; 16]) -> bool {
        let Some(seq) = self
            .messages
            .iter()
            .find(|(_, m)| &m.id == id)
            .map(|(seq, _)| *seq)
        else {
            return false;
        };
        self.stats.deleted += 1;
        self.remove_and_free(seq);
        true
    }

    /// Deletes the message a handle names. Deleting a message that is already gone succeeds, as
    /// on AWS; on standard queues so does deleting with an older handle of the same message.
    pub fn delete(&mut self, queue_id: u64, receipt: &Receipt) -> Result<(), HandleError> {
        if receipt.queue_id != queue_id {
            return Err(HandleError::WrongQueue);
        }
        let Some(m) = self.messages.get(&receipt.seq) else {
            return Ok(());
        };
        if matches!(self.delivery, Delivery::Fifo(_))
            && (m.receive_count != receipt.receive
                || !matches!(m.state, MessageState::InFlight { .. }))
        {
            return Err(HandleError::Expired);
        }
        self.stats.deleted += 1;
        self.remove_and_free(receipt.seq);
        Ok(())
    }

    /// Sets a new visibility timeout, counted from now, for the message a handle names.
    pub fn change_visibility(
        &mut self,
        queue_id: u64,
        receipt: &Receipt,
        timeout_s: u32,
        now_ms: u64,
    ) -> Result<AwsResult<()>, HandleError> {
        if receipt.queue_id != queue_id {
            return Err(HandleError::WrongQueue);
        }
        let Some(m) = self.messages.get(&receipt.seq) else {
            return Err(HandleError::Gone);
        };
        // On FIFO queues a handle from an earlier receive no longer controls the message; on
        // standard queues (recorded on AWS) any handle of a message that still exists does.
        if receipt.receive != m.receive_count && matches!(self.delivery, Delivery::Fifo(_)) {
            return Ok(Ok(()));
        }
        let received_ms = match m.state {
            MessageState::InFlight { until_ms, held_ms } => until_ms.saturating_sub(held_ms as u64),
            // Visibility already expired: AWS accepts the call and hides the message again.
            _ => now_ms,
        };
        let until_ms = now_ms.saturating_add(u64::from(timeout_s) * 1000);
        if until_ms.saturating_sub(received_ms) > MAX_VISIBILITY_MS {
            return Ok(Err(AwsError::invalid_value_for(
                "VisibilityTimeout",
                timeout_s,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds].",
            )));
        }
        let state = if timeout_s == 0 {
            MessageState::Visible
        } else {
            MessageState::in_flight(until_ms, received_ms)
        };
        self.set_state(receipt.seq, state);
        self.journal_message(receipt.seq);
        Ok(Ok(()))
    }

    /// Takes the oldest visible message out of the queue into `moving` (message move tasks);
    /// false when there is none.
    pub fn take_visible(&mut self, moving: &mut Moving) -> bool {
        let before = moving.messages.len();
        if matches!(self.delivery, Delivery::Standard { .. }) {
            if let Some(seq) = self.pop_ready_message() {
                self.take_out(seq, moving);
            }
        } else if let Some(id) = self.pop_ready_group() {
            if let Some(seq) = self.next_in_group(&id, None) {
                self.take_out(seq, moving);
            }
            self.sync_group(&id);
        }
        moving.messages.len() > before
    }

    /// Removes every message, in flight or not, and (recorded on AWS) the FIFO deduplication
    /// memory: after a purge a deduplication id seen before is accepted again.
    /// The collections are replaced, not cleared, so their capacity is freed too.
    pub fn clear(&mut self) {
        let held = self.held_bytes();
        self.messages = HashMap::default();
        self.journal(|s| Change::DeletePrefix {
            space: Space::Messages,
            prefix: s.queue_id.to_be_bytes().to_vec(),
        });
        if !self.dedup.is_empty() {
            self.journal(|s| Change::DeletePrefix {
                space: Space::Deduplication,
                prefix: s.queue_id.to_be_bytes().to_vec(),
            });
        }
        self.dedup.clear();
        match &mut self.delivery {
            Delivery::Standard { ready, returned } => {
                *ready = VecDeque::new();
                *returned = BinaryHeap::new();
            }
            Delivery::Fifo(groups) => groups.clear(),
        }
        self.delayed = BinaryHeap::new();
        self.in_flight = BinaryHeap::new();
        self.by_age.clear();
        self.attempts.clear();
        self.counts = Counts::default();
        crate::memory::note_freed(held);
    }

    /// Removes a message for good (deleted or expired) and counts its memory as freed. Once
    /// a queue has shed most of its messages the map gives back its spare capacity.
    fn remove_and_free(&mut self, seq: u64) {
        let Some(m) = self.remove(seq) else { return };
        let held = m.held_bytes();
        drop(m);
        let capacity = self.messages.capacity();
        if capacity > 4096 && self.messages.len() < capacity / 8 {
            self.messages.shrink_to(self.messages.len() * 2);
            if let Delivery::Standard { ready, returned } = &mut self.delivery {
                ready.shrink_to(ready.len() * 2);
                returned.shrink_to(returned.len() * 2);
            }
        }
        crate::memory::note_freed(held);
    }

    /// About how much heap the messages hold.
    fn held_bytes(&self) -> u64 {
        self.messages.values().map(|m| m.held_bytes()).sum()
    }
}

/// A deduplication entry's key in the store: the queue's id, then the deduplication key.
fn dedup_store_key(queue_id: u64, key: &str) -> Vec<u8> {
    let mut k = queue_id.to_be_bytes().to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

/// Whether a message is here and visible.
fn is_visible(messages: &HashMap<u64, Box<StoredMessage>, SeqHash>, seq: u64) -> bool {
    messages
        .get(&seq)
        .is_some_and(|m| m.state == MessageState::Visible)
}

impl Drop for QueueState {
    /// Counts messages still here when the state goes: DeleteQueue clears a queue first, so
    /// these are sends that raced a delete, state reset for tests, or a failed restore.
    fn drop(&mut self) {
        let held = self.held_bytes();
        self.messages = HashMap::default();
        crate::memory::note_freed(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::message::{md5_bytes, Extra};

    fn queue_with(count: usize, body_len: usize, now_ms: u64) -> QueueState {
        let mut state = QueueState::new(QueueConfig::new(false), StringMap::new(), now_ms, false);
        for i in 0..count {
            let body: Arc<str> = Arc::from("x".repeat(body_len).as_str());
            let new = NewMessage {
                id: [i as u8; 16],
                md5_of_body: md5_bytes(body.as_bytes()),
                body,
                sender_id: Arc::from("s"),
                extra: Extra::default(),
                delay_seconds: 0,
                sent_ms: None,
                receive_count: 0,
                dedup_key: None,
            };
            state.enqueue(new, now_ms);
        }
        state
    }

    /// A receive of up to `max` messages for 30 seconds from queue 7.
    fn request(max: usize, now_ms: u64) -> ReceiveRequest<'static> {
        ReceiveRequest {
            queue_id: 7,
            max,
            visibility_s: 30,
            now_ms,
            max_receives: None,
            attempt_id: None,
        }
    }

    /// Freed bytes counted while `f` runs. The counter is shared with tests running
    /// meanwhile, so this is a lower bound.
    fn freed_during(f: impl FnOnce()) -> u64 {
        let before = crate::memory::freed_bytes();
        f();
        crate::memory::freed_bytes() - before
    }

    #[test]
    fn removed_messages_count_as_freed_memory() {
        let now = 1_000_000;
        let body = 10_000;
        // Deleted.
        let mut state = queue_with(3, body, now);
        let taken = state.receive(&request(3, now), &mut Moving::default(), |_, h| h);
        let receipt = Receipt::decode(&taken[0]).unwrap();
        assert!(freed_during(|| state.delete(7, &receipt).unwrap()) >= body as u64);
        // Purged.
        assert!(freed_during(|| state.clear()) >= 2 * body as u64);
        // Expired.
        let mut state = queue_with(2, body, now);
        let later = now + state.config.message_retention_period as u64 * 1000;
        assert!(freed_during(|| state.refresh(later)) >= 2 * body as u64);
        assert_eq!(state.counts().visible, 0);
        // Dropped with its queue.
        let state = queue_with(4, body, now);
        assert!(freed_during(|| drop(state)) >= 4 * body as u64);
    }

    #[test]
    fn consecutive_sequence_numbers_hash_apart() {
        use std::hash::BuildHasher;
        let base = 1_796_000_000_000u64 << 20;
        let hashes: Vec<u64> = (0..1024)
            .map(|i| SeqHash::default().hash_one(base + i))
            .collect();
        // hashbrown picks the bucket from the low bits and a tag from the top 7.
        let buckets: HashSet<u64> = hashes.iter().map(|h| h % 1024).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(buckets.len(), 1024);
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn a_drained_queue_gives_back_its_map() {
        let now = 1_000_000;
        let mut state = queue_with(20_000, 1, now);
        let full = state.messages.capacity();
        for _ in 0..1_990 {
            let handles = state.receive(&request(10, now), &mut Moving::default(), |_, h| h);
            for h in handles {
                state.delete(7, &Receipt::decode(&h).unwrap()).unwrap();
            }
        }
        assert_eq!(state.messages.len(), 100);
        assert!(state.messages.capacity() < full / 8, "{full}");
        // What is left still works.
        let handles = state.receive(&request(10, now), &mut Moving::default(), |_, h| h);
        assert_eq!(handles.len(), 10);
    }

    /// Issue 17 item 3: the previous run's clock was ten days ahead (the wall clock has been
    /// set back since); restored deadlines are clamped to their longest span from the new now.
    #[test]
    fn restored_deadlines_are_clamped_when_the_wall_clock_was_set_back() {
        let now = 1_800_000_000_000;
        let before = now + 10 * 86_400_000;
        let mut old = queue_with(2, 1, before);
        // Another millisecond: sequence numbers apart from `old`'s.
        let mut delayed = queue_with(0, 1, before + 1);
        let new = NewMessage {
            id: [9; 16],
            md5_of_body: md5_bytes(b"d"),
            body: Arc::from("d"),
            sender_id: Arc::from("s"),
            extra: Extra::default(),
            delay_seconds: 900,
            sent_ms: None,
            receive_count: 0,
            dedup_key: None,
        };
        delayed.enqueue(new, before);
        let taken = old.receive(&request(1, before), &mut Moving::default(), |_, h| h);
        assert_eq!(taken.len(), 1);
        let mut restored = QueueState::new(QueueConfig::new(false), StringMap::new(), now, false);
        for (seq, m) in old.messages.iter().chain(delayed.messages.iter()) {
            let record = crate::sqs::record::encode(m);
            restored.restore_record(*seq, &record, now).unwrap();
        }
        assert!(restored.messages.values().all(|m| m.sent_ms <= now));
        let c = restored.counts();
        assert_eq!((c.visible, c.in_flight, c.delayed), (1, 1, 1));
        // Within 30 s (the receive's visibility) and 900 s (the delay) of now, not ten days.
        restored.refresh(now + 900_000);
        assert_eq!(restored.counts().visible, 3, "a deadline outlived its span");
    }
}
