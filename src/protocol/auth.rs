//! What lyrebird reads from SigV4 signing: the access key id, region and service of the
//! credential scope. Signatures are not verified; unsigned requests are accepted.

use http::HeaderMap;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key: String,
    pub region: String,
    pub service: String,
}

/// From `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, …`
/// or a presigned URL's `X-Amz-Credential`.
pub fn credential_scope(headers: &HeaderMap, query: Option<&str>) -> Option<CredentialScope> {
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let credential = auth
            .split([' ', ','])
            .find_map(|part| part.trim().strip_prefix("Credential="));
        if let Some(scope) = credential.and_then(parse_scope) {
            return Some(scope);
        }
    }
    let query = query?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .iter()
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| parse_scope(v))
}

fn parse_scope(credential: &str) -> Option<CredentialScope> {
    let mut parts = credential.split('/');
    let access_key = parts.next()?.to_string();
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    (!access_key.is_empty() && !region.is_empty()).then_some(CredentialScope {
        access_key,
        region,
        service,
    })
}

/// LocalStack's convention: an access key id of exactly 12 digits names the account.
pub fn account_from_access_key(access_key: &str) -> Option<&str> {
    (access_key.len() == 12 && access_key.bytes().all(|b| b.is_ascii_digit())).then_some(access_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_presigned_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        let s = credential_scope(&h, None).unwrap();
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str(), s.service.as_str()),
            ("AKID", "eu-west-1", "sqs")
        );
        let q = "X-Amz-Credential=111122223333%2F20240101%2Fus-west-2%2Fsns%2Faws4_request";
        let s = credential_scope(&HeaderMap::new(), Some(q)).unwrap();
        assert_eq!(s.service, "sns");
        assert_eq!(account_from_access_key(&s.access_key), Some("111122223333"));
        assert_eq!(account_from_access_key("test"), None);
        assert!(credential_scope(&HeaderMap::new(), None).is_none());
    }
}
