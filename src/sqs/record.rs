//! The durable form of a message (the `messages` space).
//!
//! Format 1 stored each message as the JSON of the then `StoredMessage`; `JsonRecord` mirrors it
//! field for field so those directories still read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::model::MessageAttributes;
use super::queue::{Extra, MessageState, StoredMessage};

/// A message record as format 1 wrote it (JSON).
#[derive(Debug, Serialize, Deserialize)]
struct JsonRecord {
    message_id: String,
    body: Arc<str>,
    md5_of_body: String,
    attributes: MessageAttributes,
    trace_header: Option<String>,
    sender_id: String,
    sent_ms: u64,
    receive_count: u32,
    first_receive_ms: Option<u64>,
    message_group_id: Option<Arc<str>>,
    deduplication_id: Option<String>,
    sequence_number: Option<String>,
    dead_letter_source_arn: Option<Arc<str>>,
    state: JsonState,
}

#[derive(Debug, Serialize, Deserialize)]
enum JsonState {
    Delayed { until_ms: u64 },
    Visible,
    InFlight { until_ms: u64, received_ms: u64 },
}

/// Encodes a message for the store.
pub fn encode(m: &StoredMessage) -> Vec<u8> {
    let extra = m.extra().cloned().unwrap_or_default();
    let record = JsonRecord {
        message_id: m.message_id(),
        body: m.body.clone(),
        md5_of_body: m.md5_of_body_hex(),
        attributes: extra.attributes,
        trace_header: extra.trace_header,
        sender_id: m.sender_id.to_string(),
        sent_ms: m.sent_ms,
        receive_count: m.receive_count,
        first_receive_ms: extra.first_receive_ms,
        message_group_id: extra.message_group_id,
        deduplication_id: extra.deduplication_id,
        sequence_number: extra.sequence_number,
        dead_letter_source_arn: extra.dead_letter_source_arn,
        state: match m.state {
            MessageState::Delayed { until_ms } => JsonState::Delayed { until_ms },
            MessageState::Visible => JsonState::Visible,
            MessageState::InFlight { until_ms, held_ms } => JsonState::InFlight {
                until_ms,
                received_ms: until_ms - held_ms as u64,
            },
        },
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Decodes a stored message; `sender` shares the sender id with the queue's other messages.
pub fn decode(
    value: &[u8],
    sender: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<StoredMessage, String> {
    let r: JsonRecord =
        serde_json::from_slice(value).map_err(|e| format!("unreadable message record: {e}"))?;
    let state = match r.state {
        JsonState::Delayed { until_ms } => MessageState::Delayed { until_ms },
        JsonState::Visible => MessageState::Visible,
        JsonState::InFlight {
            until_ms,
            received_ms,
        } => MessageState::in_flight(until_ms, received_ms),
    };
    let extra = Extra {
        attributes: r.attributes,
        trace_header: r.trace_header,
        first_receive_ms: r.first_receive_ms,
        message_group_id: r.message_group_id,
        deduplication_id: r.deduplication_id,
        sequence_number: r.sequence_number,
        dead_letter_source_arn: r.dead_letter_source_arn,
        message_id_text: None,
    };
    Ok(StoredMessage::new(
        &r.message_id,
        &r.md5_of_body,
        r.body,
        sender(&r.sender_id),
        r.sent_ms,
        state,
        r.receive_count,
        extra,
    ))
}
