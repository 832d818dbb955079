//! SigV4 verification (`--auth sigv4`): a request must be signed, in its `Authorization` header
//! or as a presigned URL, by a key of the credentials file, within 15 minutes of the service
//! clock. The expected signature is computed by the `aws-sigv4` crate (the SDKs' own signer)
//! over exactly what was received: the method, the path and query as sent, the signed headers
//! only, and the payload hash the client declared (`x-amz-content-sha256`, checked against the
//! body) or the body's. A signature more than 15 minutes from the service clock is refused as
//! SQS and SNS refuse it (`SignatureDoesNotMatch`, "Signature expired: …", as recorded in client
//! reports); a presigned URL used after its `X-Amz-Expires` answers `RequestExpired`.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials as SigningCredentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use crate::credentials::{constant_time_eq, Credentials};
use crate::error::{codes, AwsError};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's time may be from the service clock.
const SKEW_MS: u64 = 15 * 60 * 1000;
/// The longest a presigned URL may be valid (seven days).
const MAX_EXPIRES_S: u64 = 604_800;
/// Presigning parameters the signer adds itself (so they are taken out of the received query).
const PRESIGN_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

/// Who signed a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key: String,
    pub account: String,
}

/// The parts of a signature, from the header or the query.
struct Claimed {
    credential: String,
    signed_headers: String,
    signature: String,
    date: String,
    /// Presigned: how long the URL is valid.
    expires_s: Option<u64>,
}

/// Verifies a request's signature; `now_ms` is the service clock.
pub fn verify(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Caller, AwsError> {
    let claimed = claimed(headers, uri)?;
    let scope: Vec<&str> = claimed.credential.split('/').collect();
    let [access_key, scope_date, region, service, terminal] = scope[..] else {
        return Err(incomplete(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            claimed.credential
        )));
    };
    if terminal != "aws4_request" || scope_date.len() != 8 {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            claimed.credential
        )));
    }
    let Some(secret) = credentials.key(access_key) else {
        return Err(AwsError::new(
            &codes::INVALID_CLIENT_TOKEN_ID,
            "The security token included in the request is invalid.",
        ));
    };
    let signed_ms = parse_amz_date(&claimed.date).ok_or_else(|| {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            claimed.date
        ))
    })?;
    let signed: Vec<&str> = claimed.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }

    // The request as the client signed it: signed headers only, every value of each.
    let mut signed_values: Vec<(&str, &str)> = Vec::new();
    for name in &signed {
        let mut found = false;
        for value in headers.get_all(*name) {
            let value = value.to_str().map_err(|_| mismatch())?;
            signed_values.push((name, value));
            found = true;
        }
        if !found {
            return Err(mismatch());
        }
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(mismatch)?;
    let query = uri.query().map(|q| match claimed.expires_s {
        Some(_) => without_presign_params(q),
        None => q.to_string(),
    });
    let target = match query.as_deref() {
        Some(q) if !q.is_empty() => format!("http://{host}{}?{q}", uri.path()),
        _ => format!("http://{host}{}", uri.path()),
    };
    if target.parse::<Uri>().map_or(true, |u| u.host().is_none()) {
        return Err(mismatch());
    }

    let declared = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    let body_hash = crate::hex::encode(&Sha256::digest(body));
    let bodies: Vec<SignableBody<'_>> = match declared {
        Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            if !hash.eq_ignore_ascii_case(&body_hash) {
                return Err(mismatch());
            }
            vec![SignableBody::Precomputed(hash.to_string())]
        }
        Some(other) => vec![SignableBody::Precomputed(other.to_string())],
        // A presigned URL may have been signed over the body or as UNSIGNED-PAYLOAD.
        None if claimed.expires_s.is_some() => {
            vec![SignableBody::Bytes(body), SignableBody::UnsignedPayload]
        }
        None => vec![SignableBody::Bytes(body)],
    };

    let identity: Identity = SigningCredentials::new(
        access_key,
        secret.secret_access_key.clone(),
        None,
        None,
        "lyrebird",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sign exactly the headers the client listed, whatever they are.
    settings.excluded_headers = Some(Vec::<Cow<'static, str>>::new());
    if let Some(expires) = claimed.expires_s {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(UNIX_EPOCH + Duration::from_millis(signed_ms))
        .settings(settings)
        .build()
        .map_err(|_| mismatch())?
        .into();
    let matches = bodies.into_iter().any(|body| {
        let request = SignableRequest::new(
            method.as_str(),
            target.as_str(),
            signed_values.iter().copied(),
            body,
        );
        request.and_then(|r| sign(r, &params)).is_ok_and(|out| {
            constant_time_eq(out.signature().as_bytes(), claimed.signature.as_bytes())
        })
    });
    if !matches {
        return Err(mismatch());
    }

    // Signed as claimed; now whether it is still (or already) valid. A signature more than 15
    // minutes from the clock is answered as SQS and SNS answer it (SignatureDoesNotMatch,
    // "Signature expired: …"); a presigned URL past its X-Amz-Expires is RequestExpired.
    let (signed_at, now) = (amz_date(signed_ms), amz_date(now_ms));
    if signed_ms.saturating_add(SKEW_MS) < now_ms && claimed.expires_s.is_none() {
        return Err(AwsError::new(
            &codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "Signature expired: {signed_at} is now earlier than {} ({now} - 15 min.)",
                amz_date(now_ms - SKEW_MS)
            ),
        ));
    }
    if signed_ms > now_ms.saturating_add(SKEW_MS) {
        return Err(AwsError::new(
            &codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "Signature not yet current: {signed_at} is still later than {} ({now} + 15 min.)",
                amz_date(now_ms.saturating_add(SKEW_MS))
            ),
        ));
    }
    if let Some(expires) = claimed.expires_s {
        if now_ms > signed_ms.saturating_add(expires.saturating_mul(1000)) {
            return Err(AwsError::new(
                &codes::REQUEST_EXPIRED,
                "Request has expired.",
            ));
        }
    }
    Ok(Caller {
        access_key: access_key.to_string(),
        account: secret.account_id.clone(),
    })
}

/// The signature's parts from the `Authorization` header, or from a presigned URL's query.
fn claimed(headers: &HeaderMap, uri: &Uri) -> Result<Claimed, AwsError> {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| incomplete(String::new()))?;
        let Some(fields) = auth.strip_prefix(ALGORITHM).filter(|f| f.starts_with(' ')) else {
            return Err(incomplete(format!(
                "Unsupported AWS 'algorithm': '{}'",
                auth.split(' ').next().unwrap_or_default()
            )));
        };
        let field = |name: &str| {
            fields
                .split(',')
                .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        let (credential, signed_headers, signature) = (
            field("Credential"),
            field("SignedHeaders"),
            field("Signature"),
        );
        let mut missing = String::new();
        for (name, value) in [
            ("Credential", &credential),
            ("Signature", &signature),
            ("SignedHeaders", &signed_headers),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                missing.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        let date = headers
            .get("x-amz-date")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string);
        if date.is_none() {
            missing.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        if !missing.is_empty() {
            return Err(incomplete(format!("{missing}Authorization={auth}")));
        }
        return Ok(Claimed {
            credential: credential.unwrap_or_default(),
            signed_headers: signed_headers.unwrap_or_default(),
            signature: signature.unwrap_or_default(),
            date: date.unwrap_or_default(),
            expires_s: None,
        });
    }
    let pairs: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if param("X-Amz-Signature").is_none() && param("X-Amz-Credential").is_none() {
        return Err(AwsError::new(
            &codes::MISSING_AUTHENTICATION_TOKEN,
            "Request is missing Authentication Token",
        ));
    }
    if param("X-Amz-Algorithm").as_deref() != Some(ALGORITHM) {
        return Err(incomplete(
            "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'".into(),
        ));
    }
    let mut missing = String::new();
    for name in [
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
        "X-Amz-Expires",
    ] {
        if param(name).is_none_or(|v| v.is_empty()) {
            missing.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !missing.is_empty() {
        return Err(incomplete(format!(
            "{missing}Re-examine the query-string parameters."
        )));
    }
    let expires_s = param("X-Amz-Expires")
        .and_then(|e| e.parse::<u64>().ok())
        .filter(|e| (1..=MAX_EXPIRES_S).contains(e))
        .ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_S}."
            ))
        })?;
    Ok(Claimed {
        credential: param("X-Amz-Credential").unwrap_or_default(),
        signed_headers: param("X-Amz-SignedHeaders").unwrap_or_default(),
        signature: param("X-Amz-Signature").unwrap_or_default(),
        date: param("X-Amz-Date").unwrap_or_default(),
        expires_s: Some(expires_s),
    })
}

/// The received query without the presigning parameters, each other pair as it was sent.
fn without_presign_params(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !PRESIGN_PARAMS.contains(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `20240101T000000Z` as epoch milliseconds.
fn parse_amz_date(date: &str) -> Option<u64> {
    let b = date.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let text = date.get(range)?;
        text.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| text.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year as i64 - 1, month + 9)
    } else {
        (year as i64, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m as i64 + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    u64::try_from(secs).ok()?.checked_mul(1000)
}

/// Epoch milliseconds as an `X-Amz-Date` (`20240101T000000Z`).
fn amz_date(ms: u64) -> String {
    // From `2024-01-01T00:00:00.000Z`.
    let iso = crate::clock::iso8601_millis(ms);
    let digits: String = iso[..19].chars().filter(char::is_ascii_digit).collect();
    format!("{}T{}Z", &digits[..8], &digits[8..])
}

fn incomplete(message: String) -> AwsError {
    AwsError::new(&codes::INCOMPLETE_SIGNATURE, message)
}

fn mismatch() -> AwsError {
    AwsError::new(
        &codes::SIGNATURE_DOES_NOT_MATCH,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20240101T000000Z"), Some(1_704_067_200_000));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199_000));
        assert_eq!(amz_date(1_709_251_199_000), "20240229T235959Z");
        for bad in [
            "",
            "2024-01-01T00:00:00Z",
            "20241301T000000Z",
            "2024010lT000000Z",
            "20240101T000000",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    /// Hostile signing parts are refused with an AWS error, never a panic.
    #[test]
    fn malformed_signatures_are_errors_not_panics() {
        let credentials = Credentials::parse(
            r#"{"keys":[{"access_key_id":"AKID","secret_access_key":"s","account_id":"111111111111"}]}"#,
        )
        .unwrap();
        let auth = |signed: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, SignedHeaders={signed}, Signature=00")
        };
        let long = "a;".repeat(5000);
        let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
            (vec![("authorization", auth(";;;"))], "/"),
            (vec![("authorization", auth("host;x-amz-date;"))], "/"),
            (vec![("authorization", auth("host;x-amz-date")), ("host", "exa mple".into())], "/"),
            (vec![("authorization", auth("host;x-amz-date")), ("host", "".into())], "/"),
            (vec![("authorization", auth(&long))], "/"),
            (vec![("authorization", "AWS4-HMAC-SHA256".into())], "/"),
            (vec![("authorization", "AWS4-HMAC-SHA256 Credential=//////".into())], "/"),
            (vec![("authorization", "Bearer x".into())], "/"),
            (vec![], "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%zz&X-Amz-Expires=99999999999999999999"),
            (vec![], "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F2024%2Fr%2Fs%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"),
            (vec![], "/?X-Amz-Signature="),
        ];
        for (headers, uri) in cases {
            let mut map = HeaderMap::new();
            map.insert("x-amz-date", "20240101T000000Z".parse().unwrap());
            map.insert("host", "localhost:4566".parse().unwrap());
            for (name, value) in &headers {
                if let Ok(value) = value.parse() {
                    map.insert(*name, value);
                }
            }
            let uri: Uri = uri.parse().unwrap();
            let result = verify(
                &credentials,
                &Method::POST,
                &uri,
                &map,
                b"body",
                1_704_067_200_000,
            );
            assert!(result.is_err(), "{headers:?} {uri}");
        }
    }

    #[test]
    fn strips_only_presigning_parameters() {
        assert_eq!(
            without_presign_params(
                "Action=ListQueues&X-Amz-Signature=ab&X-Amz-Date=1&Version=2012-11-05"
            ),
            "Action=ListQueues&Version=2012-11-05"
        );
    }
}
