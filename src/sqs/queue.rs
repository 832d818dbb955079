//! The queue engine: one queue's messages and their life cycle (delayed → visible → in flight →
//! deleted or visible again), with counters kept exact on every transition.
//!
//! Each queue has its own lock, so queues never contend with each other, and its own `Notify`,
//! so long-polling receivers sleep until a send (or their own deadline) wakes them: no polling.
//! Time is passed in by the caller (milliseconds since the epoch) so the engine never reads a
//! clock itself; timed transitions happen lazily in `refresh`, driven by the heaps of deadlines.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;

use crate::error::{AwsError, AwsResult};

use super::attributes::QueueConfig;
use super::model::{MessageAttributes, StringMap};
use super::receipt::Receipt;

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
    state: Mutex<QueueState>,
    /// Wakes long-polling receivers.
    notify: Notify,
    deleted: AtomicBool,
}

impl Queue {
    pub fn new(
        name: String,
        account: String,
        region: String,
        config: QueueConfig,
        tags: StringMap,
        now_ms: u64,
    ) -> Self {
        let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
        Queue {
            id: rand::random(),
            name,
            account,
            region,
            arn,
            created_ms: now_ms,
            state: Mutex::new(QueueState::new(config, tags, now_ms)),
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
        }
    }

    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }

    /// Locks the queue's state, applying every timed transition that is due.
    pub fn lock(&self, now_ms: u64) -> MutexGuard<'_, QueueState> {
        let mut state = self.state.lock();
        state.refresh(now_ms);
        state
    }

    pub fn notify(&self) -> &Notify {
        &self.notify
    }

    /// Marks the queue deleted and releases every waiting receiver.
    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.state.lock().clear();
        self.notify.notify_waiters();
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// A message as stored. Shared strings are `Arc<str>` so a receive hands them out without
/// copying the body.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub message_id: Arc<str>,
    pub body: Arc<str>,
    pub md5_of_body: Arc<str>,
    pub attributes: MessageAttributes,
    pub trace_header: Option<String>,
    pub sender_id: Arc<str>,
    pub sent_ms: u64,
    pub receive_count: u32,
    pub first_receive_ms: Option<u64>,
    pub message_group_id: Option<String>,
    pub state: MessageState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Delayed { until_ms: u64 },
    Visible,
    InFlight { until_ms: u64, received_ms: u64 },
}

/// What a send needs to enqueue.
#[derive(Debug)]
pub struct NewMessage {
    pub message_id: Arc<str>,
    pub body: Arc<str>,
    pub md5_of_body: Arc<str>,
    pub attributes: MessageAttributes,
    pub trace_header: Option<String>,
    pub sender_id: Arc<str>,
    pub message_group_id: Option<String>,
    pub delay_seconds: u32,
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
    /// The message is gone (deleted, purged, expired).
    Gone,
}

#[derive(Debug)]
pub struct QueueState {
    pub config: QueueConfig,
    pub tags: StringMap,
    pub last_modified_ms: u64,
    pub last_purge_ms: Option<u64>,
    next_seq: u64,
    messages: HashMap<u64, StoredMessage>,
    /// Visible messages in delivery order; may hold stale sequence numbers, skipped on pop.
    ready: VecDeque<u64>,
    /// (due time, seq) of delayed and in-flight messages; stale entries are skipped.
    delayed: BinaryHeap<Reverse<(u64, u64)>>,
    in_flight: BinaryHeap<Reverse<(u64, u64)>>,
    /// (sent time, seq) of every message, for retention expiry.
    by_age: BTreeSet<(u64, u64)>,
    counts: Counts,
}

impl QueueState {
    fn new(config: QueueConfig, tags: StringMap, now_ms: u64) -> Self {
        QueueState {
            config,
            tags,
            last_modified_ms: now_ms,
            last_purge_ms: None,
            next_seq: 1,
            messages: HashMap::new(),
            ready: VecDeque::new(),
            delayed: BinaryHeap::new(),
            in_flight: BinaryHeap::new(),
            by_age: BTreeSet::new(),
            counts: Counts::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Applies due transitions: retention expiry, end of delay, end of visibility timeout.
    fn refresh(&mut self, now_ms: u64) {
        let retention_ms = self.config.message_retention_period as u64 * 1000;
        while let Some(&(sent, seq)) = self.by_age.first() {
            if sent + retention_ms > now_ms {
                break;
            }
            self.remove(seq);
        }
        while let Some(&Reverse((due, seq))) = self.delayed.peek() {
            if due > now_ms {
                break;
            }
            self.delayed.pop();
            if let Some(m) = self.messages.get(&seq) {
                if m.state == (MessageState::Delayed { until_ms: due }) {
                    self.make_visible(seq);
                }
            }
        }
        while let Some(&Reverse((due, seq))) = self.in_flight.peek() {
            if due > now_ms {
                break;
            }
            self.in_flight.pop();
            if let Some(m) = self.messages.get(&seq) {
                if matches!(m.state, MessageState::InFlight { until_ms, .. } if until_ms == due) {
                    self.make_visible(seq);
                }
            }
        }
    }

    /// The earliest time a timed transition could make a message visible.
    pub fn next_due_ms(&self) -> Option<u64> {
        let d = self.delayed.peek().map(|Reverse((due, _))| *due);
        let f = self.in_flight.peek().map(|Reverse((due, _))| *due);
        match (d, f) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn set_state(&mut self, seq: u64, state: MessageState) {
        let Some(m) = self.messages.get_mut(&seq) else {
            return;
        };
        let counts = &mut self.counts;
        match m.state {
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
                self.in_flight.push(Reverse((until_ms, seq)));
            }
        }
        m.state = state;
    }

    fn make_visible(&mut self, seq: u64) {
        self.set_state(seq, MessageState::Visible);
        self.ready.push_back(seq);
    }

    fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let m = self.messages.remove(&seq)?;
        self.by_age.remove(&(m.sent_ms, seq));
        match m.state {
            MessageState::Delayed { .. } => self.counts.delayed -= 1,
            MessageState::Visible => self.counts.visible -= 1,
            MessageState::InFlight { .. } => self.counts.in_flight -= 1,
        }
        Some(m)
    }

    /// Adds a message; returns true when it is visible at once (so receivers should be woken).
    pub fn enqueue(&mut self, new: NewMessage, now_ms: u64) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        let delay_ms = new.delay_seconds as u64 * 1000;
        let state = if delay_ms > 0 {
            MessageState::Delayed {
                until_ms: now_ms + delay_ms,
            }
        } else {
            MessageState::Visible
        };
        let message = StoredMessage {
            message_id: new.message_id,
            body: new.body,
            md5_of_body: new.md5_of_body,
            attributes: new.attributes,
            trace_header: new.trace_header,
            sender_id: new.sender_id,
            sent_ms: now_ms,
            receive_count: 0,
            first_receive_ms: None,
            message_group_id: new.message_group_id,
            state,
        };
        self.messages.insert(seq, message);
        self.by_age.insert((now_ms, seq));
        match state {
            MessageState::Delayed { until_ms } => {
                self.counts.delayed += 1;
                self.delayed.push(Reverse((until_ms, seq)));
                false
            }
            _ => {
                self.counts.visible += 1;
                self.ready.push_back(seq);
                true
            }
        }
    }

    /// Takes up to `max` visible messages into flight for `visibility_s` seconds, handing each
    /// (with a fresh receipt handle) to `render`.
    pub fn receive<T>(
        &mut self,
        queue_id: u64,
        max: usize,
        visibility_s: u32,
        now_ms: u64,
        mut render: impl FnMut(&StoredMessage, String) -> T,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(max.min(self.counts.visible));
        while out.len() < max {
            let Some(seq) = self.ready.pop_front() else {
                break;
            };
            match self.messages.get(&seq) {
                Some(m) if m.state == MessageState::Visible => {}
                _ => continue, // stale entry: deleted or moved since it was queued
            }
            let until_ms = now_ms + visibility_s as u64 * 1000;
            self.set_state(
                seq,
                MessageState::InFlight {
                    until_ms,
                    received_ms: now_ms,
                },
            );
            let m = self.messages.get_mut(&seq).expect("checked above");
            m.receive_count += 1;
            m.first_receive_ms.get_or_insert(now_ms);
            let handle = Receipt {
                queue_id,
                seq,
                receive: m.receive_count,
            }
            .encode();
            out.push(render(m, handle));
        }
        out
    }

    /// Deletes the message a handle names. Deleting a message that is already gone succeeds,
    /// as on AWS; so does deleting with an older handle of the same message.
    pub fn delete(&mut self, queue_id: u64, receipt: &Receipt) -> Result<(), HandleError> {
        if receipt.queue_id != queue_id {
            return Err(HandleError::WrongQueue);
        }
        self.remove(receipt.seq);
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
        // A handle from an earlier receive no longer controls the message.
        if receipt.receive != m.receive_count {
            return Ok(Ok(()));
        }
        let received_ms = match m.state {
            MessageState::InFlight { received_ms, .. } => received_ms,
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
        if timeout_s == 0 {
            self.set_state(receipt.seq, MessageState::Visible);
            // Returned messages go to the front: they were due first.
            self.ready.push_front(receipt.seq);
        } else {
            self.set_state(
                receipt.seq,
                MessageState::InFlight {
                    until_ms,
                    received_ms,
                },
            );
        }
        Ok(Ok(()))
    }

    /// Removes every message, in flight or not.
    pub fn clear(&mut self) {
        self.messages.clear();
        self.ready.clear();
        self.delayed.clear();
        self.in_flight.clear();
        self.by_age.clear();
        self.counts = Counts::default();
    }
}

const MAX_VISIBILITY_MS: u64 = 43_200_000;
