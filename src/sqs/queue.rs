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
//! order they became receivable, as recorded on AWS.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;

use crate::error::{AwsError, AwsResult};
use crate::store::{Change, SharedStore, Space, Ticket};

use super::attributes::QueueConfig;
use super::model::{MessageAttributes, StringMap};
use super::receipt::Receipt;

/// How long FIFO queues remember deduplication ids and receive-request attempts.
pub const DEDUPLICATION_INTERVAL_MS: u64 = 5 * 60 * 1000;
const MAX_VISIBILITY_MS: u64 = 43_200_000;

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
        state.last_purge_ms = record.last_purge_ms;
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

/// A message as kept in memory, sized for large backlogs: the id and the MD5 of the body are
/// raw bytes (formatted only for output), the sender id is shared by the queue's messages, and
/// everything most messages lack (attributes, FIFO fields, trace header, dead-letter source) sits
/// in one optional box. The first receive time lives in the struct's padding instead, because
/// nearly every message gets one and boxing it cost an allocation per first receive. The body is
/// an `Arc<str>` so a receive hands it out without copying. The durable form is in `record.rs`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: [u8; 16],
    pub md5_of_body: [u8; 16],
    pub body: Arc<str>,
    pub sender_id: Arc<str>,
    /// Never changed once the message exists: `first_receive` is an offset from it.
    pub sent_ms: u64,
    pub state: MessageState,
    pub receive_count: u32,
    /// First receive as milliseconds after `sent_ms`, plus one (0: none here). A time this
    /// cannot express (before the send time, as after some moves, or 49 days after it) is kept
    /// in `extra` instead.
    first_receive: u32,
    extra: Option<Box<Extra>>,
}

/// The fields of a message that most messages do not have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    pub attributes: MessageAttributes,
    pub trace_header: Option<String>,
    /// Carried here between queues and in records; in a `StoredMessage` only when the compact
    /// field cannot hold it.
    pub first_receive_ms: Option<u64>,
    pub message_group_id: Option<Arc<str>>,
    pub deduplication_id: Option<String>,
    pub sequence_number: Option<String>,
    /// Set when a redrive moved the message here from its source queue.
    pub dead_letter_source_arn: Option<Arc<str>>,
    /// A message id that is not a lowercase hyphenated UUID (lyrebird writes none; kept as read).
    pub message_id_text: Option<Box<str>>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        *self == Extra::default()
    }
}

static NO_ATTRIBUTES: MessageAttributes = MessageAttributes::new();

impl StoredMessage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        message_id: &str,
        md5_of_body: &str,
        body: Arc<str>,
        sender_id: Arc<str>,
        sent_ms: u64,
        state: MessageState,
        receive_count: u32,
        mut extra: Extra,
    ) -> Self {
        let id = match parse_message_id(message_id) {
            Some(id) => id,
            None => {
                extra.message_id_text = Some(message_id.into());
                [0; 16]
            }
        };
        let md5 = match parse_md5(md5_of_body) {
            Some(md5) => md5,
            None => md5_bytes(body.as_bytes()),
        };
        Self::from_parts(
            id,
            md5,
            body,
            sender_id,
            sent_ms,
            state,
            receive_count,
            extra,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        id: [u8; 16],
        md5_of_body: [u8; 16],
        body: Arc<str>,
        sender_id: Arc<str>,
        sent_ms: u64,
        state: MessageState,
        receive_count: u32,
        mut extra: Extra,
    ) -> Self {
        let first_receive = extra.first_receive_ms.take();
        let mut m = StoredMessage {
            id,
            md5_of_body,
            body,
            sender_id,
            sent_ms,
            state,
            receive_count,
            first_receive: 0,
            extra: (!extra.is_empty()).then(|| Box::new(extra)),
        };
        if let Some(ms) = first_receive {
            m.set_first_receive_ms(ms);
        }
        m
    }

    /// The message id as clients see it (a UUID).
    pub fn message_id(&self) -> String {
        let text = self.extra().and_then(|e| e.message_id_text.as_deref());
        message_id_text(&self.id, text)
    }

    /// About how much heap the message holds (the body may be shared with a response).
    pub fn held_bytes(&self) -> u64 {
        /// The body's and the box's allocation headers, and the message's entries in the
        /// queue's map, ready list and age index.
        const BOOKKEEPING: usize = 64;
        let extra = self
            .extra
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<Extra>());
        (self.body.len() + std::mem::size_of::<Self>() + extra + BOOKKEEPING) as u64
    }

    pub fn md5_of_body_hex(&self) -> String {
        super::md5::hex(&self.md5_of_body)
    }

    pub fn extra(&self) -> Option<&Extra> {
        self.extra.as_deref()
    }

    /// The rare fields, boxed on first use.
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Takes the rare fields, and the first receive time, out (moves between queues).
    pub fn take_extra(&mut self) -> Extra {
        let first_receive_ms = self.first_receive_ms();
        self.first_receive = 0;
        let mut extra = self.extra.take().map(|e| *e).unwrap_or_default();
        extra.first_receive_ms = first_receive_ms;
        extra
    }

    pub fn attributes(&self) -> &MessageAttributes {
        self.extra().map_or(&NO_ATTRIBUTES, |e| &e.attributes)
    }

    pub fn trace_header(&self) -> Option<&str> {
        self.extra()?.trace_header.as_deref()
    }

    pub fn first_receive_ms(&self) -> Option<u64> {
        match self.first_receive {
            0 => self.extra()?.first_receive_ms,
            offset => Some(self.sent_ms + (offset - 1) as u64),
        }
    }

    pub fn set_first_receive_ms(&mut self, ms: u64) {
        let offset = ms
            .checked_sub(self.sent_ms)
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d < u32::MAX);
        match offset {
            Some(d) => {
                self.first_receive = d + 1;
                if let Some(e) = self.extra.as_mut() {
                    e.first_receive_ms = None;
                    if e.is_empty() {
                        self.extra = None;
                    }
                }
            }
            None => {
                self.first_receive = 0;
                self.extra_mut().first_receive_ms = Some(ms);
            }
        }
    }

    pub fn message_group_id(&self) -> Option<&Arc<str>> {
        self.extra()?.message_group_id.as_ref()
    }

    pub fn deduplication_id(&self) -> Option<&str> {
        self.extra()?.deduplication_id.as_deref()
    }

    pub fn sequence_number(&self) -> Option<&str> {
        self.extra()?.sequence_number.as_deref()
    }

    pub fn dead_letter_source_arn(&self) -> Option<&Arc<str>> {
        self.extra()?.dead_letter_source_arn.as_ref()
    }
}

/// A message id as clients see it: kept text when it was not a UUID, else the UUID's.
fn message_id_text(id: &[u8; 16], kept: Option<&str>) -> String {
    match kept {
        Some(text) => text.to_string(),
        None => uuid::Uuid::from_bytes(*id).to_string(),
    }
}

/// A message id in its 16-byte form, if it is a UUID written the way lyrebird writes them.
pub fn parse_message_id(text: &str) -> Option<[u8; 16]> {
    let id = uuid::Uuid::try_parse(text).ok()?;
    (id.hyphenated().to_string() == text).then(|| *id.as_bytes())
}

fn parse_md5(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

pub fn md5_bytes(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(bytes).into()
}

/// Where a message is in its life cycle. An in-flight message keeps how long ago (before its
/// deadline) it was received, in milliseconds: at most 12 hours, so 16 bytes hold the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Delayed { until_ms: u64 },
    Visible,
    InFlight { until_ms: u64, held_ms: u32 },
}

impl MessageState {
    pub fn in_flight(until_ms: u64, received_ms: u64) -> Self {
        MessageState::InFlight {
            until_ms,
            held_ms: until_ms.saturating_sub(received_ms).min(u32::MAX as u64) as u32,
        }
    }
}

/// What a send (or a move between queues) needs to enqueue.
#[derive(Debug)]
pub struct NewMessage {
    pub id: [u8; 16],
    pub md5_of_body: [u8; 16],
    pub body: Arc<str>,
    pub sender_id: Arc<str>,
    /// Attributes, trace header, group and deduplication ids, first receive, dead-letter source
    /// (the sequence number is assigned by the enqueue).
    pub extra: Extra,
    pub delay_seconds: u32,
    /// Original send time for moved messages that keep it; `None` means now.
    pub sent_ms: Option<u64>,
    pub receive_count: u32,
    /// Deduplication key for FIFO sends; `None` skips deduplication (moves between queues).
    pub dedup_key: Option<String>,
}

impl NewMessage {
    /// A message leaving `source` for another queue (dead-letter redrive or move task).
    pub fn moved_from(
        mut m: StoredMessage,
        dead_letter_source_arn: Option<Arc<str>>,
        keep_sent: bool,
    ) -> Self {
        let mut extra = m.take_extra();
        extra.dead_letter_source_arn = dead_letter_source_arn;
        extra.sequence_number = None;
        NewMessage {
            id: m.id,
            md5_of_body: m.md5_of_body,
            body: m.body,
            sender_id: m.sender_id,
            extra,
            delay_seconds: 0,
            sent_ms: keep_sent.then_some(m.sent_ms),
            receive_count: m.receive_count,
            dedup_key: None,
        }
    }
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

/// A FIFO message group: its messages in send order, and its entry in the ready list.
#[derive(Debug, Default)]
struct Group {
    seqs: BTreeSet<u64>,
    /// The ready-list ticket of the group's live entry; 0 while its head is not visible. Older
    /// entries of the group in the list carry other tickets and are skipped on pop.
    ticket: u64,
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
    /// Groups in the order they became receivable, each entry with its group's ticket.
    Fifo {
        groups: HashMap<Arc<str>, Group>,
        ready: VecDeque<(Arc<str>, u64)>,
        next_ticket: u64,
    },
}

/// A FIFO receive remembered for `ReceiveRequestAttemptId` retries.
#[derive(Debug)]
struct Attempt {
    expires_ms: u64,
    /// (seq, receive count, receipt handle) of each message returned.
    entries: Vec<(u64, u32, String)>,
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
    /// FIFO deduplication: key → (expiry, message id, sequence number), and expiry order.
    dedup: HashMap<String, (u64, Arc<str>, Option<String>)>,
    dedup_expiry: VecDeque<(u64, String)>,
    attempts: HashMap<String, Attempt>,
    /// Changes not yet handed to the store; `None` when nothing is kept.
    journal: Option<Vec<Change>>,
    queue_id: u64,
}

impl QueueState {
    fn new(config: QueueConfig, tags: StringMap, now_ms: u64, fifo: bool) -> Self {
        let delivery = if fifo {
            Delivery::Fifo {
                groups: HashMap::new(),
                ready: VecDeque::new(),
                next_ticket: 0,
            }
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
            dedup: HashMap::new(),
            dedup_expiry: VecDeque::new(),
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
        let mut k = self.queue_id.to_be_bytes().to_vec();
        k.extend_from_slice(key.as_bytes());
        k
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

    /// Applies due transitions: retention expiry, end of delay, end of visibility timeout,
    /// and forgets expired deduplication ids.
    fn refresh(&mut self, now_ms: u64) {
        let retention_ms = self.config.message_retention_period as u64 * 1000;
        while let Some(&(sent, seq)) = self.by_age.first() {
            if sent + retention_ms > now_ms {
                break;
            }
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
        while let Some((expires, _)) = self.dedup_expiry.front() {
            if *expires > now_ms {
                break;
            }
            let (expires, key) = self.dedup_expiry.pop_front().expect("peeked");
            if self.dedup.get(&key).is_some_and(|(e, _, _)| *e == expires) {
                self.dedup.remove(&key);
                self.journal(|s| Change::Delete {
                    space: Space::Deduplication,
                    key: s.dedup_key(&key),
                });
            }
        }
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
            Delivery::Fifo { .. } => {
                if let Some(id) = group {
                    self.sync_group(&id);
                }
            }
        }
    }

    /// FIFO: lists a group at the tail of the ready list when its head (oldest message) has
    /// become visible, and unlists it while the head is not visible. Later messages in flight
    /// do not block a group. Forgets a group that has no messages left.
    fn sync_group(&mut self, id: &Arc<str>) {
        let Delivery::Fifo {
            groups,
            ready,
            next_ticket,
        } = &mut self.delivery
        else {
            return;
        };
        let Some(g) = groups.get_mut(id) else { return };
        let Some(head) = g.seqs.first() else {
            groups.remove(id);
            return;
        };
        let head_visible = self
            .messages
            .get(head)
            .is_some_and(|m| m.state == MessageState::Visible);
        if !head_visible {
            g.ticket = 0;
        } else if g.ticket == 0 {
            *next_ticket += 1;
            g.ticket = *next_ticket;
            ready.push_back((id.clone(), *next_ticket));
            self.woken = true;
        }
    }

    /// Whether something became receivable since the last call (long polls are woken then).
    pub fn take_woken(&mut self) -> bool {
        std::mem::take(&mut self.woken)
    }

    fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let m = self.messages.remove(&seq)?;
        self.journal(|s| Change::Delete {
            space: Space::Messages,
            key: s.message_key(seq),
        });
        self.by_age.remove(&(m.sent_ms, seq));
        match m.state {
            MessageState::Delayed { .. } => self.counts.delayed -= 1,
            MessageState::Visible => self.counts.visible -= 1,
            MessageState::InFlight { .. } => self.counts.in_flight -= 1,
        }
        if let (Delivery::Fifo { groups, .. }, Some(id)) =
            (&mut self.delivery, m.message_group_id())
        {
            if let Some(g) = groups.get_mut(id) {
                g.seqs.remove(&seq);
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
        let fifo = matches!(self.delivery, Delivery::Fifo { .. });
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
            let expires = now_ms + DEDUPLICATION_INTERVAL_MS;
            let message_id: Arc<str> =
                message_id_text(&new.id, new.extra.message_id_text.as_deref()).into();
            self.journal(|s| Change::Put {
                space: Space::Deduplication,
                key: s.dedup_key(&key),
                value: serde_json::to_vec(&(expires, &message_id, &sequence_number))
                    .unwrap_or_default(),
            });
            self.dedup
                .insert(key.clone(), (expires, message_id, sequence_number.clone()));
            self.dedup_expiry.push_back((expires, key));
        }
        let delay_ms = new.delay_seconds as u64 * 1000;
        let state = if delay_ms > 0 {
            MessageState::Delayed {
                until_ms: now_ms + delay_ms,
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
                new.body,
                sender_id,
                sent_ms,
                state,
                new.receive_count,
                extra,
            )),
        );
        self.index_new(seq);
        self.journal_message(seq);
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
            Delivery::Fifo { groups, .. } => {
                // FIFO messages always carry a group (checked on send).
                let id = group.unwrap_or_else(|| Arc::from(""));
                groups.entry(id.clone()).or_default().seqs.insert(seq);
                self.sync_group(&id);
            }
        }
    }

    /// Puts back a message read from the store (start-up, in key order). Deadlines that passed
    /// while lyrebird was down have passed: such messages are visible again.
    fn restore_message(&mut self, seq: u64, mut m: StoredMessage, now_ms: u64) {
        m.state = match m.state {
            MessageState::Delayed { until_ms } | MessageState::InFlight { until_ms, .. }
                if until_ms <= now_ms =>
            {
                MessageState::Visible
            }
            other => other,
        };
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
        self.dedup_expiry.make_contiguous().sort();
    }

    /// Puts back a FIFO deduplication entry read from the store, unless it has expired.
    pub fn restore_dedup(
        &mut self,
        key: &[u8],
        entry: (u64, Arc<str>, Option<String>),
        now_ms: u64,
    ) {
        let (expires, message_id, sequence_number) = entry;
        if expires <= now_ms || key.len() < 8 {
            return;
        }
        let key = String::from_utf8_lossy(&key[8..]).into_owned();
        self.dedup
            .insert(key.clone(), (expires, message_id, sequence_number));
        self.dedup_expiry.push_back((expires, key));
    }

    /// Takes up to `max` visible messages into flight for `visibility_s` seconds, handing each
    /// (with a fresh receipt handle) to `render`. With `max_receives` (a redrive policy), a
    /// message already received that many times is removed into `dead_letters` instead.
    #[allow(clippy::too_many_arguments)]
    pub fn receive<T>(
        &mut self,
        queue_id: u64,
        max: usize,
        visibility_s: u32,
        now_ms: u64,
        max_receives: Option<u32>,
        attempt_id: Option<&str>,
        dead_letters: &mut Vec<StoredMessage>,
        mut render: impl FnMut(&StoredMessage, String) -> T,
    ) -> Vec<T> {
        if let Some(previous) = attempt_id.and_then(|id| self.attempts.get(id)) {
            // A retried FIFO receive gets the same messages and handles while none changed.
            let unchanged = previous.entries.iter().all(|(seq, receive, _)| {
                self.messages.get(seq).is_some_and(|m| {
                    m.receive_count == *receive && matches!(m.state, MessageState::InFlight { .. })
                })
            });
            if unchanged {
                return previous
                    .entries
                    .iter()
                    .map(|(seq, _, handle)| render(&self.messages[seq], handle.clone()))
                    .collect();
            }
        }
        let until_ms = now_ms + visibility_s as u64 * 1000;
        let mut taken: Vec<(u64, u32, String)> = Vec::with_capacity(max.min(self.counts.visible));
        let fifo = matches!(self.delivery, Delivery::Fifo { .. });
        while taken.len() < max {
            if !fifo {
                let Some(seq) = self.pop_ready_message() else {
                    break;
                };
                if !self.redrive_if_exhausted(seq, max_receives, dead_letters) {
                    taken.push(self.take_into_flight(queue_id, seq, until_ms, now_ms));
                }
                continue;
            }
            // FIFO: take the consecutive visible messages from the next ready group's head,
            // stopping at its first message in flight. A served group's head is then in flight,
            // so no group is served twice by one receive.
            let Some(id) = self.pop_ready_group() else {
                break;
            };
            let mut cursor = None;
            while taken.len() < max {
                let Some(seq) = self.next_in_group(&id, cursor) else {
                    break;
                };
                cursor = Some(seq);
                if self.messages[&seq].state != MessageState::Visible {
                    break;
                }
                if !self.redrive_if_exhausted(seq, max_receives, dead_letters) {
                    taken.push(self.take_into_flight(queue_id, seq, until_ms, now_ms));
                }
            }
            self.sync_group(&id);
        }
        if visibility_s == 0 {
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
        if let Some(id) = attempt_id {
            if !taken.is_empty() {
                let attempt = Attempt {
                    expires_ms: now_ms + DEDUPLICATION_INTERVAL_MS,
                    entries: taken,
                };
                self.attempts.insert(id.to_string(), attempt);
            }
        }
        out
    }

    /// Removes a message into `dead_letters` if it has used up its receives.
    fn redrive_if_exhausted(
        &mut self,
        seq: u64,
        max_receives: Option<u32>,
        dead_letters: &mut Vec<StoredMessage>,
    ) -> bool {
        let exhausted =
            max_receives.is_some_and(|limit| self.messages[&seq].receive_count >= limit);
        if exhausted {
            dead_letters.extend(self.remove(seq));
        }
        exhausted
    }

    fn take_into_flight(
        &mut self,
        queue_id: u64,
        seq: u64,
        until_ms: u64,
        now_ms: u64,
    ) -> (u64, u32, String) {
        self.set_state(seq, MessageState::in_flight(until_ms, now_ms));
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
        loop {
            let Delivery::Fifo { groups, ready, .. } = &mut self.delivery else {
                return None;
            };
            let (id, ticket) = ready.pop_front()?;
            let Some(g) = groups.get_mut(&id) else {
                continue;
            };
            if g.ticket != ticket {
                continue;
            }
            g.ticket = 0;
            let head_visible = g
                .seqs
                .first()
                .and_then(|seq| self.messages.get(seq))
                .is_some_and(|m| m.state == MessageState::Visible);
            if head_visible {
                return Some(id);
            }
        }
    }

    /// FIFO: the message after `after` in a group (the first one when `after` is `None`).
    fn next_in_group(&self, id: &Arc<str>, after: Option<u64>) -> Option<u64> {
        let Delivery::Fifo { groups, .. } = &self.delivery else {
            return None;
        };
        let g = groups.get(id)?;
        match after {
            None => g.seqs.first().copied(),
            Some(after) => g
                .seqs
                .range((Bound::Excluded(after), Bound::Unbounded))
                .next()
                .copied(),
        }
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
        if matches!(self.delivery, Delivery::Fifo { .. })
            && (m.receive_count != receipt.receive
                || !matches!(m.state, MessageState::InFlight { .. }))
        {
            return Err(HandleError::Expired);
        }
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
        if receipt.receive != m.receive_count && matches!(self.delivery, Delivery::Fifo { .. }) {
            return Ok(Ok(()));
        }
        let received_ms = match m.state {
            MessageState::InFlight { until_ms, held_ms } => until_ms - held_ms as u64,
            // Visibility already expired: AWS accepts the call and hides the message again.
            _ => now_ms,
        };
        let until_ms = now_ms + timeout_s as u64 * 1000;
        if until_ms - received_ms > MAX_VISIBILITY_MS {
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

    /// Takes the oldest visible message out of the queue (message move tasks).
    pub fn take_visible(&mut self) -> Option<StoredMessage> {
        if matches!(self.delivery, Delivery::Standard { .. }) {
            let seq = self.pop_ready_message()?;
            return self.remove(seq);
        }
        let id = self.pop_ready_group()?;
        let seq = self.next_in_group(&id, None)?;
        let m = self.remove(seq);
        self.sync_group(&id);
        m
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
        self.dedup = HashMap::new();
        self.dedup_expiry = VecDeque::new();
        match &mut self.delivery {
            Delivery::Standard { ready, returned } => {
                *ready = VecDeque::new();
                *returned = BinaryHeap::new();
            }
            Delivery::Fifo { groups, ready, .. } => {
                *groups = HashMap::new();
                *ready = VecDeque::new();
            }
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
        let taken = state.receive(7, 3, 30, now, None, None, &mut Vec::new(), |_, h| h);
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
            let handles = state.receive(7, 10, 30, now, None, None, &mut Vec::new(), |_, h| h);
            for h in handles {
                state.delete(7, &Receipt::decode(&h).unwrap()).unwrap();
            }
        }
        assert_eq!(state.messages.len(), 100);
        assert!(state.messages.capacity() < full / 8, "{full}");
        // What is left still works.
        let handles = state.receive(7, 10, 30, now, None, None, &mut Vec::new(), |_, h| h);
        assert_eq!(handles.len(), 10);
    }
}
