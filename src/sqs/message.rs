//! A message as the queue engine keeps it in memory (`StoredMessage`, its rare fields in
//! `Extra`, its life-cycle `MessageState`), and what a send or a move hands the engine to enqueue
//! (`NewMessage`). The durable form is in `record.rs`; the queue that holds them in `queue.rs`.

use std::sync::Arc;

use super::model::MessageAttributes;

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

/// What a `StoredMessage` is made of besides its id and body checksum.
#[derive(Debug)]
pub struct MessageParts {
    pub body: Arc<str>,
    pub sender_id: Arc<str>,
    pub sent_ms: u64,
    pub state: MessageState,
    pub receive_count: u32,
    /// The rare fields, first receive time included (kept compactly when it fits).
    pub extra: Extra,
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
    /// A message from its id and body checksum as text (format 1 records, tests): an id that
    /// is not a UUID is kept as text, a checksum that is not one is computed from the body.
    pub fn new(message_id: &str, md5_of_body: &str, mut parts: MessageParts) -> Self {
        let id = match parse_message_id(message_id) {
            Some(id) => id,
            None => {
                parts.extra.message_id_text = Some(message_id.into());
                [0; 16]
            }
        };
        let md5 = match parse_md5(md5_of_body) {
            Some(md5) => md5,
            None => md5_bytes(parts.body.as_bytes()),
        };
        Self::from_parts(id, md5, parts)
    }

    pub fn from_parts(id: [u8; 16], md5_of_body: [u8; 16], parts: MessageParts) -> Self {
        let MessageParts {
            body,
            sender_id,
            sent_ms,
            state,
            receive_count,
            mut extra,
        } = parts;
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
        crate::hex::encode(&self.md5_of_body)
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
pub(super) fn message_id_text(id: &[u8; 16], kept: Option<&str>) -> String {
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
