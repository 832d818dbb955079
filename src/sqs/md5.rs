//! The checksums SQS returns and SDKs verify: MD5 of the body, and AWS's length-prefixed digest
//! over message attributes (also used for system attributes).

use md5::{Digest, Md5};

use super::model::MessageAttributeValue;

pub fn md5_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&Md5::digest(bytes))
}

/// Digest of attributes in AWS's canonical form: names sorted by byte order, each field
/// length-prefixed (u32 big-endian), with a transport byte telling string from binary values.
/// Returns `None` for an empty set, since AWS omits the field then.
pub fn md5_of_attributes<'a, I>(attributes: I) -> Option<String>
where
    I: IntoIterator<Item = (&'a String, &'a MessageAttributeValue)>,
{
    let mut hasher = Md5::new();
    let mut any = false;
    // Callers pass BTreeMap iterators, which are already sorted by byte order.
    for (name, value) in attributes {
        any = true;
        let data_type = value.data_type.as_deref().unwrap_or("");
        update_prefixed(&mut hasher, name.as_bytes());
        update_prefixed(&mut hasher, data_type.as_bytes());
        if let Some(s) = &value.string_value {
            hasher.update([1u8]);
            update_prefixed(&mut hasher, s.as_bytes());
        } else if let Some(b) = &value.binary_value {
            hasher.update([2u8]);
            update_prefixed(&mut hasher, b);
        } else if !value.string_list_values.is_empty() {
            hasher.update([3u8]);
            for s in &value.string_list_values {
                update_prefixed(&mut hasher, s.as_bytes());
            }
        } else if !value.binary_list_values.is_empty() {
            hasher.update([4u8]);
            for b in &value.binary_list_values {
                update_prefixed(&mut hasher, b);
            }
        }
    }
    any.then(|| crate::hex::encode(&hasher.finalize()))
}

fn update_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn string(v: &str) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: Some("String".into()),
            string_value: Some(v.into()),
            ..Default::default()
        }
    }

    // Vectors are values AWS returned (see shared/aws-wire-reference.md §3).
    #[test]
    fn body_vectors() {
        assert_eq!(md5_hex(b"msg"), "6e2baaf3b97dbeef01c0043275f9a0e7");
        assert_eq!(md5_hex(b"test"), "098f6bcd4621d373cade4e832627b4f6");
    }

    #[test]
    fn attribute_vectors() {
        let mut m = BTreeMap::new();
        m.insert("Hello".to_string(), string("There"));
        assert_eq!(
            md5_of_attributes(&m).unwrap(),
            "a311262e065454b75da111d535b8dacd"
        );
        m.insert("General".to_string(), string("Kenobi"));
        assert_eq!(
            md5_of_attributes(&m).unwrap(),
            "fca026605781cb4126a1e9044df24232"
        );
        m.insert("Help.Me".to_string(), string("Me"));
        assert_eq!(
            md5_of_attributes(&m).unwrap(),
            "4c360f3fdafd970e05fae2f149d997f5"
        );

        let mut n = BTreeMap::new();
        n.insert(
            "timestamp".to_string(),
            MessageAttributeValue {
                data_type: Some("Number".into()),
                string_value: Some("1493147359900".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            md5_of_attributes(&n).unwrap(),
            "235c5c510d26fb653d073faed50ae77c"
        );

        let mut b = BTreeMap::new();
        b.insert(
            "attr1".to_string(),
            MessageAttributeValue {
                data_type: Some("Binary".into()),
                binary_value: Some(
                    b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"
                        .to_vec(),
                ),
                ..Default::default()
            },
        );
        assert_eq!(
            md5_of_attributes(&b).unwrap(),
            "8cbe4db156db8a94db8b801b7addb984"
        );

        let mut s = BTreeMap::new();
        s.insert(
            "AWSTraceHeader".to_string(),
            string("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
        );
        assert_eq!(
            md5_of_attributes(&s).unwrap(),
            "5ae4d5d7636402d80f4eb6d213245a88"
        );
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }
}
