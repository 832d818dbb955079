//! Receipt handles: opaque to clients, but they encode which queue incarnation, which message and
//! which receive they came from, so deletes and visibility changes need no lookup table.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use crate::error::{codes, AwsError, AwsResult};

const MAGIC: [u8; 2] = *b"LB";
const LEN: usize = 2 + 8 + 8 + 4 + 4 + 4;

/// What a receipt handle identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub queue_id: u64,
    pub seq: u64,
    /// The receive (1-based receive count) that issued this handle.
    pub receive: u32,
}

impl Receipt {
    pub fn encode(&self) -> String {
        let mut buf = [0u8; LEN];
        buf[..2].copy_from_slice(&MAGIC);
        buf[2..10].copy_from_slice(&self.queue_id.to_be_bytes());
        buf[10..18].copy_from_slice(&self.seq.to_be_bytes());
        buf[18..22].copy_from_slice(&self.receive.to_be_bytes());
        buf[22..26].copy_from_slice(&rand::random::<u32>().to_be_bytes());
        let check = checksum(&buf[..26]);
        buf[26..].copy_from_slice(&check.to_be_bytes());
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn decode(handle: &str) -> AwsResult<Receipt> {
        let invalid = || {
            AwsError::new(
                &codes::RECEIPT_HANDLE_IS_INVALID,
                format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
            )
        };
        let mut buf = [0u8; LEN];
        match URL_SAFE_NO_PAD.decode_slice(handle.as_bytes(), &mut buf) {
            Ok(LEN) => {}
            _ => return Err(invalid()),
        }
        let u32_at = |i: usize| u32::from_be_bytes(buf[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_be_bytes(buf[i..i + 8].try_into().unwrap());
        if buf[..2] != MAGIC || checksum(&buf[..26]) != u32_at(26) {
            return Err(invalid());
        }
        Ok(Receipt {
            queue_id: u64_at(2),
            seq: u64_at(10),
            receive: u32_at(18),
        })
    }
}

/// FNV-1a: enough to tell a handle lyrebird issued from arbitrary bytes.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let r = Receipt {
            queue_id: 7,
            seq: 42,
            receive: 3,
        };
        let a = r.encode();
        let b = r.encode();
        assert_ne!(a, b, "each receive gets a fresh handle");
        assert_eq!(Receipt::decode(&a).unwrap(), r);
        assert!(Receipt::decode("garbage").is_err());
        let mut tampered = a.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        assert!(Receipt::decode(std::str::from_utf8(&tampered).unwrap()).is_err());
    }
}
