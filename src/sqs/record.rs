//! The durable form of a message (the `messages` space).
//!
//! Format 2 writes a compact binary record (`encode`): about a third of the JSON that format 1
//! wrote, and decoded without a parser. Format 1 stored each message as the JSON of the then
//! `StoredMessage`; `JsonRecord` mirrors it field for field, so records of directories written by
//! earlier versions still read (they are rewritten in the new form when the message next
//! changes). Hand-written rather than a serialisation crate: the record is small and fixed, and
//! no new dependency (or its own format-stability promise) is needed for it.

use std::sync::Arc;

use serde::Deserialize;

use super::message::{Extra, MessageParts, MessageState, StoredMessage};
use super::model::{MessageAttributeValue, MessageAttributes};

/// A message record as format 1 wrote it (JSON); read only.
#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
enum JsonState {
    Delayed { until_ms: u64 },
    Visible,
    InFlight { until_ms: u64, received_ms: u64 },
}

/// Encodes a message for the store (format 2, binary).
///
/// ```text
/// 0x02  id[16]  md5_of_body[16]  sent_ms:u64  receive_count:u32  state  sender:str  body:str
///       flags:u8  then, for each flag set, in bit order: trace_header:str,
///       first_receive_ms:u64, message_group_id:str, deduplication_id:str, sequence_number:str,
///       dead_letter_source_arn:str, message_id_text:str, attributes
/// state:      0 (visible) | 1 until_ms:u64 (delayed) | 2 until_ms:u64 held_ms:u32 (in flight)
/// str/bytes:  varint length, then the bytes
/// attributes: varint count, then per attribute: name:str, presence:u8 (bit 0 data_type,
///             bit 1 string_value, bit 2 binary_value), the present ones, then
///             string_list_values (varint count, str each), binary_list_values (likewise)
/// ```
///
/// Integers are little-endian. A JSON record (format 1) starts with `{`, so the first byte tells
/// the encodings apart.
pub fn encode(m: &StoredMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + m.body.len() + m.sender_id.len());
    out.push(BINARY);
    out.extend_from_slice(&m.id);
    out.extend_from_slice(&m.md5_of_body);
    out.extend_from_slice(&m.sent_ms.to_le_bytes());
    out.extend_from_slice(&m.receive_count.to_le_bytes());
    match m.state {
        MessageState::Visible => out.push(0),
        MessageState::Delayed { until_ms } => {
            out.push(1);
            out.extend_from_slice(&until_ms.to_le_bytes());
        }
        MessageState::InFlight { until_ms, held_ms } => {
            out.push(2);
            out.extend_from_slice(&until_ms.to_le_bytes());
            out.extend_from_slice(&held_ms.to_le_bytes());
        }
    }
    put_bytes(&mut out, m.sender_id.as_bytes());
    put_bytes(&mut out, m.body.as_bytes());
    let first_receive_ms = m.first_receive_ms();
    let flags_at = out.len();
    out.push(0);
    let Some(e) = m.extra() else {
        if let Some(first) = first_receive_ms {
            out[flags_at] = 1 << 1;
            out.extend_from_slice(&first.to_le_bytes());
        }
        return out;
    };
    let mut flags = 0u8;
    let mut field = |out: &mut Vec<u8>, bit: u8, value: Option<&[u8]>| {
        if let Some(v) = value {
            flags |= 1 << bit;
            put_bytes(out, v);
        }
    };
    field(&mut out, 0, e.trace_header.as_deref().map(str::as_bytes));
    if let Some(first) = first_receive_ms {
        flags |= 1 << 1;
        out.extend_from_slice(&first.to_le_bytes());
    }
    let mut field = |out: &mut Vec<u8>, bit: u8, value: Option<&str>| {
        if let Some(v) = value {
            flags |= 1 << bit;
            put_bytes(out, v.as_bytes());
        }
    };
    field(&mut out, 2, e.message_group_id.as_deref());
    field(&mut out, 3, e.deduplication_id.as_deref());
    field(&mut out, 4, e.sequence_number.as_deref());
    field(&mut out, 5, e.dead_letter_source_arn.as_deref());
    field(&mut out, 6, e.message_id_text.as_deref());
    if !e.attributes.is_empty() {
        flags |= 1 << 7;
        put_varint(&mut out, e.attributes.len() as u64);
        for (name, value) in &e.attributes {
            put_bytes(&mut out, name.as_bytes());
            let presence = value.data_type.is_some() as u8
                | (value.string_value.is_some() as u8) << 1
                | (value.binary_value.is_some() as u8) << 2;
            out.push(presence);
            if let Some(t) = &value.data_type {
                put_bytes(&mut out, t.as_bytes());
            }
            if let Some(s) = &value.string_value {
                put_bytes(&mut out, s.as_bytes());
            }
            if let Some(b) = &value.binary_value {
                put_bytes(&mut out, b);
            }
            put_varint(&mut out, value.string_list_values.len() as u64);
            for s in &value.string_list_values {
                put_bytes(&mut out, s.as_bytes());
            }
            put_varint(&mut out, value.binary_list_values.len() as u64);
            for b in &value.binary_list_values {
                put_bytes(&mut out, b);
            }
        }
    }
    out[flags_at] = flags;
    out
}

/// First byte of a binary record.
const BINARY: u8 = 0x02;

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads a binary record front to back; every read checks the length.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("unreadable message record: truncated".into());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            n |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err("unreadable message record: bad length".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| "unreadable message record: bad length")?)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| "unreadable message record: text is not UTF-8".to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_string)
    }
}

fn decode_binary(
    value: &[u8],
    sender: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<StoredMessage, String> {
    let mut r = Reader { rest: &value[1..] };
    let id = r.array::<16>()?;
    let md5 = r.array::<16>()?;
    let sent_ms = r.u64()?;
    let receive_count = r.u32()?;
    let state = match r.u8()? {
        0 => MessageState::Visible,
        1 => MessageState::Delayed { until_ms: r.u64()? },
        2 => MessageState::InFlight {
            until_ms: r.u64()?,
            held_ms: r.u32()?,
        },
        other => return Err(format!("unreadable message record: state {other}")),
    };
    let sender_id = sender(r.str()?);
    let body: Arc<str> = Arc::from(r.str()?);
    let flags = r.u8()?;
    let mut extra = Extra::default();
    let has = |bit: u8| flags & (1 << bit) != 0;
    if has(0) {
        extra.trace_header = Some(r.string()?);
    }
    if has(1) {
        extra.first_receive_ms = Some(r.u64()?);
    }
    if has(2) {
        extra.message_group_id = Some(Arc::from(r.str()?));
    }
    if has(3) {
        extra.deduplication_id = Some(r.string()?);
    }
    if has(4) {
        extra.sequence_number = Some(r.string()?);
    }
    if has(5) {
        extra.dead_letter_source_arn = Some(Arc::from(r.str()?));
    }
    if has(6) {
        extra.message_id_text = Some(r.str()?.into());
    }
    if has(7) {
        for _ in 0..r.varint()? {
            let name = r.string()?;
            let presence = r.u8()?;
            let mut value = MessageAttributeValue::default();
            if presence & 1 != 0 {
                value.data_type = Some(r.string()?);
            }
            if presence & 2 != 0 {
                value.string_value = Some(r.string()?);
            }
            if presence & 4 != 0 {
                value.binary_value = Some(r.bytes()?.to_vec());
            }
            for _ in 0..r.varint()? {
                value.string_list_values.push(r.string()?);
            }
            for _ in 0..r.varint()? {
                value.binary_list_values.push(r.bytes()?.to_vec());
            }
            extra.attributes.insert(name, value);
        }
    }
    if !r.rest.is_empty() {
        return Err("unreadable message record: trailing bytes".into());
    }
    Ok(StoredMessage::from_parts(
        id,
        md5,
        MessageParts {
            body,
            sender_id,
            sent_ms,
            state,
            receive_count,
            extra,
        },
    ))
}

/// Decodes a stored message; `sender` shares the sender id with the queue's other messages.
pub fn decode(
    value: &[u8],
    sender: &mut dyn FnMut(&str) -> Arc<str>,
) -> Result<StoredMessage, String> {
    match value.first() {
        Some(&BINARY) => decode_binary(value, sender),
        Some(b'{') => decode_json(value, sender),
        _ => Err("unreadable message record: unknown encoding".into()),
    }
}

/// Decodes a format 1 (JSON) record.
fn decode_json(
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
        MessageParts {
            body: r.body,
            sender_id: sender(&r.sender_id),
            sent_ms: r.sent_ms,
            state,
            receive_count: r.receive_count,
            extra,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::message::md5_bytes;

    fn shared(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    /// Records exactly as format 1 (lyrebird before the binary encoding) wrote them.
    const FORMAT_1_PLAIN: &str = r#"{"message_id":"bc61a1e2-63d4-4ae7-bb15-4adc8e2af4f9","body":"plain body","md5_of_body":"e428258a895396d6bfc32a97e13b4cc8","attributes":{},"trace_header":null,"sender_id":"000000000000","sent_ms":1796392841959,"receive_count":0,"first_receive_ms":null,"message_group_id":null,"deduplication_id":null,"sequence_number":null,"dead_letter_source_arn":null,"state":"Visible"}"#;
    const FORMAT_1_ATTRIBUTES: &str = r#"{"message_id":"022471c8-fe06-4b2c-a144-ee9125784e84","body":"with attributes","md5_of_body":"c2d900c011c138c4a68934fee2fdd344","attributes":{"b":{"BinaryValue":"AAEC","DataType":"Binary"},"n":{"StringValue":"42","DataType":"Number.int"},"s":{"StringValue":"v","DataType":"String"}},"trace_header":"Root=1-5759e988-bd862e3fe1be46a994272793","sender_id":"000000000000","sent_ms":1796392841959,"receive_count":1,"first_receive_ms":1796392841961,"message_group_id":null,"deduplication_id":null,"sequence_number":null,"dead_letter_source_arn":null,"state":{"InFlight":{"until_ms":1796392871961,"received_ms":1796392841961}}}"#;
    const FORMAT_1_FIFO: &str = r#"{"message_id":"b44ef2a5-8c24-47ae-914d-5a1bfef9cd9b","body":"fifo body","md5_of_body":"859aed88036979655983f05c544e190c","attributes":{},"trace_header":null,"sender_id":"000000000000","sent_ms":1796392841960,"receive_count":1,"first_receive_ms":1796392841961,"message_group_id":"g1","deduplication_id":"d1","sequence_number":"11796392841958000001","dead_letter_source_arn":"arn:aws:sqs:us-east-1:000000000000:src","state":{"Delayed":{"until_ms":1796393741960}}}"#;

    #[test]
    fn format_1_json_records_still_read() {
        let plain = decode(FORMAT_1_PLAIN.as_bytes(), &mut shared).unwrap();
        assert_eq!(plain.message_id(), "bc61a1e2-63d4-4ae7-bb15-4adc8e2af4f9");
        assert_eq!(plain.md5_of_body_hex(), "e428258a895396d6bfc32a97e13b4cc8");
        assert_eq!(&*plain.body, "plain body");
        assert_eq!(&*plain.sender_id, "000000000000");
        assert_eq!(plain.sent_ms, 1796392841959);
        assert_eq!(plain.state, MessageState::Visible);
        assert!(plain.extra().is_none(), "nothing rare, nothing boxed");

        let attrs = decode(FORMAT_1_ATTRIBUTES.as_bytes(), &mut shared).unwrap();
        assert_eq!(attrs.message_id(), "022471c8-fe06-4b2c-a144-ee9125784e84");
        assert_eq!(
            attrs.state,
            MessageState::in_flight(1796392871961, 1796392841961)
        );
        assert_eq!(attrs.receive_count, 1);
        assert_eq!(attrs.first_receive_ms(), Some(1796392841961));
        assert_eq!(
            attrs.trace_header(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793")
        );
        let a = attrs.attributes();
        assert_eq!(a["b"].binary_value.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(a["n"].string_value.as_deref(), Some("42"));
        assert_eq!(a["n"].data_type.as_deref(), Some("Number.int"));
        assert_eq!(
            crate::sqs::md5::md5_of_attributes(a).as_deref(),
            Some("7fa6f012dc899d06334f9d4fecc784b8"),
            "the attributes digest the client got at send time"
        );

        let fifo = decode(FORMAT_1_FIFO.as_bytes(), &mut shared).unwrap();
        assert_eq!(fifo.message_group_id().map(|g| &**g), Some("g1"));
        assert_eq!(fifo.deduplication_id(), Some("d1"));
        assert_eq!(fifo.sequence_number(), Some("11796392841958000001"));
        assert_eq!(
            fifo.dead_letter_source_arn().map(|a| &**a),
            Some("arn:aws:sqs:us-east-1:000000000000:src")
        );
        assert_eq!(
            fifo.state,
            MessageState::Delayed {
                until_ms: 1796393741960
            }
        );

        // Each reads back the same from its new encoding.
        for m in [plain, attrs, fifo] {
            let binary = encode(&m);
            assert_eq!(binary[0], BINARY);
            assert_eq!(decode(&binary, &mut shared).unwrap(), m);
        }
    }

    #[test]
    fn binary_records_round_trip_every_field() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "list".into(),
            MessageAttributeValue {
                string_list_values: vec!["a".into(), "ü".into()],
                binary_list_values: vec![vec![], vec![255; 300]],
                data_type: Some("Custom".into()),
                ..Default::default()
            },
        );
        attributes.insert("empty".into(), MessageAttributeValue::default());
        let extra = Extra {
            attributes,
            trace_header: Some("Root=1".into()),
            first_receive_ms: Some(7),
            message_group_id: Some("g".into()),
            deduplication_id: Some("d".into()),
            sequence_number: Some("10000000000000000001".into()),
            dead_letter_source_arn: Some("arn:aws:sqs:us-east-1:1:q".into()),
            message_id_text: None,
        };
        let body: String = "x".repeat(200_000);
        for state in [
            MessageState::Visible,
            MessageState::Delayed { until_ms: u64::MAX },
            MessageState::in_flight(1_000_000, 1),
        ] {
            for extra in [Extra::default(), extra.clone()] {
                let m = StoredMessage::new(
                    "5f0e8d3a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
                    "not an md5",
                    MessageParts {
                        body: Arc::from(body.as_str()),
                        sender_id: Arc::from("AIDAEXAMPLE"),
                        sent_ms: 42,
                        state,
                        receive_count: 3,
                        extra,
                    },
                );
                assert_eq!(m.message_id(), "5f0e8d3a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
                assert_eq!(m.md5_of_body, md5_bytes(body.as_bytes()));
                assert_eq!(decode(&encode(&m), &mut shared).unwrap(), m);
            }
        }
        // An id lyrebird would not have written is kept as it was.
        let odd = StoredMessage::new(
            "NOT-A-UUID",
            "",
            MessageParts {
                body: Arc::from(""),
                sender_id: Arc::from(""),
                sent_ms: 0,
                state: MessageState::Visible,
                receive_count: 0,
                extra: Extra::default(),
            },
        );
        let back = decode(&encode(&odd), &mut shared).unwrap();
        assert_eq!(back.message_id(), "NOT-A-UUID");
    }

    #[test]
    fn first_receive_times_survive_records_and_moves_wherever_they_are_kept() {
        let sent = 1_000;
        let message = |extra| {
            StoredMessage::new(
                "5f0e8d3a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
                "",
                MessageParts {
                    body: Arc::from("b"),
                    sender_id: Arc::from("s"),
                    sent_ms: sent,
                    state: MessageState::Visible,
                    receive_count: 1,
                    extra,
                },
            )
        };
        let others = Extra {
            trace_header: Some("Root=1".into()),
            ..Default::default()
        };
        // Compact (just after the send), and kept aside: before the send, and too late for u32.
        for first in [
            None,
            Some(sent),
            Some(sent + 5),
            Some(7),
            Some(sent + u32::MAX as u64),
        ] {
            for base in [Extra::default(), others.clone()] {
                let extra = Extra {
                    first_receive_ms: first,
                    ..base.clone()
                };
                let mut m = message(extra);
                assert_eq!(m.first_receive_ms(), first, "{first:?}");
                let compact = first.is_some_and(|f| f >= sent && f - sent < u32::MAX as u64);
                assert_eq!(
                    m.extra().is_none(),
                    base == Extra::default() && (first.is_none() || compact),
                    "{first:?}: boxed only when needed"
                );
                assert_eq!(decode(&encode(&m), &mut shared).unwrap(), m);
                let moved = m.take_extra();
                assert_eq!(moved.first_receive_ms, first);
                assert_eq!(m.first_receive_ms(), None);
            }
        }
        // A later receive time replaces one kept aside, and the box goes when nothing is left.
        let mut m = message(Extra {
            first_receive_ms: Some(7),
            ..Default::default()
        });
        m.set_first_receive_ms(sent + 1);
        assert_eq!(m.first_receive_ms(), Some(sent + 1));
        assert!(m.extra().is_none());
    }

    #[test]
    fn format_2_records_with_a_first_receive_read_back_byte_for_byte() {
        // Written out from the format above, as lyrebird before fcb060b wrote them (the first
        // receive then lived in the box of rare fields).
        let header = |out: &mut Vec<u8>| {
            out.push(0x02);
            out.extend_from_slice(&[0x11; 16]);
            out.extend_from_slice(&[0x22; 16]);
            out.extend_from_slice(&1_000u64.to_le_bytes());
            out.extend_from_slice(&2u32.to_le_bytes());
            out.push(0);
            out.extend_from_slice(b"\x01s\x04body");
        };
        // The first receive alone, 250 ms after the send.
        let mut alone = Vec::new();
        header(&mut alone);
        alone.push(1 << 1);
        alone.extend_from_slice(&1_250u64.to_le_bytes());
        // With a trace header before it and a group id after it.
        let mut with_others = Vec::new();
        header(&mut with_others);
        with_others.push(1 | 1 << 1 | 1 << 2);
        with_others.extend_from_slice(b"\x06Root=1");
        with_others.extend_from_slice(&1_250u64.to_le_bytes());
        with_others.extend_from_slice(b"\x01g");
        for record in [alone, with_others] {
            let m = decode(&record, &mut shared).unwrap();
            assert_eq!(m.first_receive_ms(), Some(1_250));
            assert_eq!(&*m.body, "body");
            assert_eq!(encode(&m), record);
        }
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let m = decode(FORMAT_1_FIFO.as_bytes(), &mut shared).unwrap();
        let binary = encode(&m);
        for len in 0..binary.len() {
            assert!(decode(&binary[..len], &mut shared).is_err(), "{len}");
        }
        let mut trailing = binary.clone();
        trailing.push(0);
        assert!(decode(&trailing, &mut shared).is_err());
        assert!(decode(b"\x09", &mut shared).is_err());
    }

    #[test]
    fn records_are_compact() {
        let m = decode(FORMAT_1_PLAIN.as_bytes(), &mut shared).unwrap();
        // 1 + 16 + 16 + 8 + 4 + 1 (state) + 13 (sender) + 11 (body) + 1 (flags)
        assert_eq!(encode(&m).len(), 71);
        assert!(std::mem::size_of::<StoredMessage>() <= 104);
        assert_eq!(std::mem::size_of::<MessageState>(), 16);
    }
}
