//! SNS message signing: the key, the certificate served at `SigningCertURL`, and
//! the `Signature` of HTTP/HTTPS notifications, (Un)SubscriptionConfirmation
//! messages and the SQS envelope of standard topics.
//!
//! What AWS does (see "Verifying the signatures of Amazon SNS messages" in the
//! SNS developer guide): the string to sign is `key\nvalue\n` for a fixed list
//! of keys depending on the message `Type` (absent keys skipped, raw values),
//! and `Signature` is base64 of an RSA PKCS#1 v1.5 signature over it, with SHA1
//! for `SignatureVersion` "1" and SHA256 for "2". Verifiers download the PEM
//! certificate from `SigningCertURL` and check with its public key.
//!
//! Crate choice (no system OpenSSL; everything is built from source by cargo):
//! - `rsa` 0.9 (RustCrypto): key generation, PKCS#8 encoding, the certificate's
//!   signature, and a fallback for notification signatures. 0.9 is the current stable line; 0.10 is
//!   still a release candidate and needs Rust 1.87 (we promise 1.85).
//! - `x509-cert` 0.2 with `builder` (RustCrypto): builds the self-signed
//!   certificate from the same `rsa` signing key, sharing `der`/`spki`/`pkcs8`
//!   with `rsa`, so it adds almost nothing. `rcgen` was rejected: it signs with
//!   `ring` or `aws-lc-rs` (C/assembly builds), neither of which can generate
//!   RSA keys, and its 0.14 line needs Rust 1.88.
//! - `aws-lc-sys` (AWS-LC, built by `cc`, no cmake): the signature of every
//!   notification, ~8x faster than `rsa` (see [`super::aws_lc_rsa`]).
//!
//! The certificate is derived deterministically from the key (fixed subject,
//! validity and extensions, serial number taken from a hash of the public key,
//! and PKCS#1 v1.5 signatures are deterministic), so a key restored with
//! [`Signer::from_pkcs8_der`] serves byte-for-byte the same certificate.
//!
//! `rsa` 0.9 is subject to RUSTSEC-2023-0071 (Marvin timing side channel).
//! Its signing here always goes through the randomized (blinded) path, and an
//! emulator's throw-away key is not a secret worth a timing attack anyway.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::pem::LineEnding;
use x509_cert::der::EncodePem;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use super::aws_lc_rsa::{self, RsaKey};

/// Size of generated keys, as AWS uses.
const KEY_BITS: usize = 2048;
/// Subject (and, self-signed, issuer) of the certificate, as AWS's.
const CERT_SUBJECT: &str = "CN=sns.amazonaws.com";
const CERT_DNS_NAME: &str = "sns.amazonaws.com";
/// Fixed validity so the certificate is a pure function of the key:
/// 2020-01-01T00:00:00Z ..= 2049-12-31T23:59:59Z (the last UTCTime instant).
const NOT_BEFORE_UNIX: u64 = 1_577_836_800;
const NOT_AFTER_UNIX: u64 = 2_524_607_999;

/// Keys signed for a `Notification` (and any other type), in AWS's order.
const NOTIFICATION_KEYS: &[&str] = &[
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
/// Keys signed for `SubscriptionConfirmation` / `UnsubscribeConfirmation`.
const CONFIRMATION_KEYS: &[&str] = &[
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
];

/// `SignatureVersion` of a topic: `V1` = SHA1withRSA (the default), `V2` =
/// SHA256withRSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V1,
    V2,
}

impl SignatureVersion {
    /// Parses the attribute value: `"1"` or `"2"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1" => Some(Self::V1),
            "2" => Some(Self::V2),
            _ => None,
        }
    }

    /// The attribute / message-field value: `"1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
        }
    }
}

/// The SNS signing identity: an RSA-2048 key and a self-signed X.509
/// certificate for it (`CN=sns.amazonaws.com`), derived from the key.
#[derive(Clone)]
pub struct Signer {
    /// The same key in AWS-LC, which makes the notification signatures.
    fast: Arc<RsaKey>,
    sha1: SigningKey<Sha1>,
    sha256: SigningKey<Sha256>,
    cert_pem: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh RSA-2048 key and its certificate.
    ///
    /// Panics only if the operating system's random source fails.
    pub fn generate() -> Signer {
        let key = RsaPrivateKey::new(&mut OsRng, KEY_BITS).expect("RSA key generation failed");
        Self::from_key(key).expect("building the signing certificate failed")
    }

    /// Rebuilds a signer from a key saved with [`Signer::key_pkcs8_der`]. The
    /// certificate is derived deterministically from the key, so it is
    /// identical to the one served before.
    pub fn from_pkcs8_der(key_der: &[u8]) -> Result<Signer, String> {
        let key = RsaPrivateKey::from_pkcs8_der(key_der)
            .map_err(|e| format!("not a PKCS#8 RSA private key: {e}"))?;
        Self::from_key(key)
    }

    fn from_key(key: RsaPrivateKey) -> Result<Signer, String> {
        let pkcs1 = key
            .to_pkcs1_der()
            .map_err(|e| format!("encoding the signing key: {e}"))?;
        let fast =
            RsaKey::from_pkcs1_der(pkcs1.as_bytes()).ok_or("AWS-LC rejected the signing key")?;
        let sha1 = SigningKey::<Sha1>::new(key.clone());
        let sha256 = SigningKey::<Sha256>::new(key);
        let cert_pem = self_signed_cert_pem(&sha256)?;
        Ok(Signer {
            fast: Arc::new(fast),
            sha1,
            sha256,
            cert_pem,
        })
    }

    /// The private key as PKCS#8 DER, to persist it.
    pub fn key_pkcs8_der(&self) -> Vec<u8> {
        self.sha256
            .as_ref()
            .to_pkcs8_der()
            .expect("encoding an RSA key as PKCS#8 cannot fail")
            .as_bytes()
            .to_vec()
    }

    /// The PEM certificate (`-----BEGIN CERTIFICATE-----`, LF line endings)
    /// to serve at `SigningCertURL`.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Base64 of the RSA PKCS#1 v1.5 signature of `string_to_sign` (UTF-8),
    /// with SHA1 for `V1` and SHA256 for `V2`: the message's `Signature`.
    pub fn sign(&self, string_to_sign: &str, version: SignatureVersion) -> String {
        let data = string_to_sign.as_bytes();
        let fast = match version {
            SignatureVersion::V1 => self
                .fast
                .sign(aws_lc_rsa::Digest::Sha1, &Sha1::digest(data)),
            SignatureVersion::V2 => self
                .fast
                .sign(aws_lc_rsa::Digest::Sha256, &Sha256::digest(data)),
        };
        if let Some(sig) = fast {
            return BASE64.encode(sig);
        }
        // The randomized signer only blinds the private-key operation; PKCS#1
        // v1.5 signatures stay deterministic.
        let sig = match version {
            SignatureVersion::V1 => self.sha1.sign_with_rng(&mut OsRng, data).to_vec(),
            SignatureVersion::V2 => self.sha256.sign_with_rng(&mut OsRng, data).to_vec(),
        };
        BASE64.encode(sig)
    }
}

/// Builds the self-signed certificate for `signer`'s key. Everything in it is
/// fixed or derived from the public key, so the output depends on the key only.
fn self_signed_cert_pem(signer: &SigningKey<Sha256>) -> Result<String, String> {
    let err = |what: &str, e: &dyn fmt::Display| format!("signing certificate: {what}: {e}");
    let spki_der = signer
        .as_ref()
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| err("public key", &e))?;
    let spki = SubjectPublicKeyInfoOwned::try_from(spki_der.as_bytes())
        .map_err(|e| err("public key", &e))?;

    // 128-bit positive serial from the public key's hash (first byte kept in
    // 0x40..=0x7f so the DER integer is positive and minimal).
    let digest = Sha256::digest(spki_der.as_bytes());
    let mut serial = [0u8; 16];
    serial.copy_from_slice(&digest[..16]);
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let serial = SerialNumber::new(&serial).map_err(|e| err("serial", &e))?;

    let time = |secs: u64| Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(secs));
    let validity = Validity {
        not_before: time(NOT_BEFORE_UNIX).map_err(|e| err("validity", &e))?,
        not_after: time(NOT_AFTER_UNIX).map_err(|e| err("validity", &e))?,
    };
    let subject = Name::from_str(CERT_SUBJECT).map_err(|e| err("subject", &e))?;

    // An end-entity certificate like AWS's (CA:FALSE, digitalSignature,
    // keyEncipherment), self-issued.
    let profile = Profile::Leaf {
        issuer: subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: true,
    };
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, signer)
        .map_err(|e| err("builder", &e))?;
    builder
        .add_extension(&SubjectAltName(vec![GeneralName::DnsName(
            CERT_DNS_NAME
                .to_string()
                .try_into()
                .map_err(|e| err("subjectAltName", &e))?,
        )]))
        .map_err(|e| err("subjectAltName", &e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| err("signing", &e))?;
    cert.to_pem(LineEnding::LF).map_err(|e| err("PEM", &e))
}

/// Builds the string to sign from the (key, value) pairs of a message: for
/// each key AWS signs for the message's `Type`, in AWS's order, `key\nvalue\n`
/// with the raw value; absent keys are skipped (so pass `Subject` only when
/// the message has one). `SubscriptionConfirmation` and
/// `UnsubscribeConfirmation` use `Message, MessageId, SubscribeURL, Timestamp,
/// Token, TopicArn, Type`; any other type (`Notification`) uses `Message,
/// MessageId, Subject, Timestamp, TopicArn, Type`. Other keys are ignored and,
/// if a key is repeated, its first value is used.
pub fn string_to_sign(fields: &[(&str, &str)]) -> String {
    let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let keys = match get("Type") {
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation") => CONFIRMATION_KEYS,
        _ => NOTIFICATION_KEYS,
    };
    let mut out = String::new();
    for key in keys {
        if let Some(value) = get(key) {
            out.push_str(key);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::{Signer as _, Verifier};
    use rsa::RsaPublicKey;
    use std::sync::OnceLock;
    use x509_cert::der::{DecodePem, Encode};
    use x509_cert::Certificate;

    /// Key generation is slow-ish: share one signer across tests.
    fn signer() -> &'static Signer {
        static SIGNER: OnceLock<Signer> = OnceLock::new();
        SIGNER.get_or_init(Signer::generate)
    }

    /// The public key, taken from the PEM certificate as a verifier would.
    fn public_key_from_cert(pem: &str) -> RsaPublicKey {
        let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate parses");
        let spki_der = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("spki encodes");
        RsaPublicKey::from_public_key_der(&spki_der).expect("RSA public key")
    }

    fn sample_notification() -> String {
        string_to_sign(&[
            ("Type", "Notification"),
            ("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"),
            ("TopicArn", "arn:aws:sns:us-west-2:123456789012:MyTopic"),
            ("Subject", "My First Message"),
            ("Message", "Hello world!\n\"quoted\" ünïcödé"),
            ("Timestamp", "2012-05-02T00:54:06.655Z"),
        ])
    }

    fn verify(signer: &Signer, data: &str, sig_b64: &str, version: SignatureVersion) -> bool {
        let public = public_key_from_cert(signer.certificate_pem());
        let sig = Signature::try_from(BASE64.decode(sig_b64).unwrap().as_slice()).unwrap();
        match version {
            SignatureVersion::V1 => VerifyingKey::<Sha1>::new(public).verify(data.as_bytes(), &sig),
            SignatureVersion::V2 => {
                VerifyingKey::<Sha256>::new(public).verify(data.as_bytes(), &sig)
            }
        }
        .is_ok()
    }

    #[test]
    fn signature_version_parse() {
        assert_eq!(SignatureVersion::parse("1"), Some(SignatureVersion::V1));
        assert_eq!(SignatureVersion::parse("2"), Some(SignatureVersion::V2));
        assert_eq!(SignatureVersion::parse("3"), None);
        assert_eq!(SignatureVersion::parse(""), None);
        assert_eq!(SignatureVersion::V1.as_str(), "1");
        assert_eq!(SignatureVersion::V2.as_str(), "2");
    }

    #[test]
    fn sign_and_verify_with_certificate_key() {
        let s = signer();
        let data = sample_notification();
        for version in [SignatureVersion::V1, SignatureVersion::V2] {
            let sig = s.sign(&data, version);
            assert_eq!(BASE64.decode(&sig).unwrap().len(), KEY_BITS / 8);
            assert!(verify(s, &data, &sig, version), "{version:?} verifies");
            assert!(!verify(s, &format!("{data}x"), &sig, version));
            // Signing is deterministic.
            assert_eq!(sig, s.sign(&data, version));
        }
        // A V1 signature is not a V2 one.
        let v1 = s.sign(&data, SignatureVersion::V1);
        assert!(!verify(s, &data, &v1, SignatureVersion::V2));
    }

    /// AWS-LC makes the signatures; PKCS#1 v1.5 is deterministic, so they must be byte for
    /// byte what the `rsa` crate (the fallback) makes from the same key.
    #[test]
    fn aws_lc_signatures_equal_the_rsa_crates() {
        let s = signer();
        for data in [sample_notification(), String::new(), "x".repeat(300_000)] {
            let bytes = data.as_bytes();
            let v1 = s.sign(&data, SignatureVersion::V1);
            let v2 = s.sign(&data, SignatureVersion::V2);
            assert_eq!(BASE64.decode(&v1).unwrap(), s.sha1.sign(bytes).to_vec());
            assert_eq!(BASE64.decode(&v2).unwrap(), s.sha256.sign(bytes).to_vec());
        }
        // A digest of the wrong length is refused, not signed.
        assert!(s
            .fast
            .sign(aws_lc_rsa::Digest::Sha256, &Sha1::digest(b"x"))
            .is_none());
    }

    #[test]
    fn certificate_shape() {
        let pem = signer().certificate_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.trim_end().ends_with("-----END CERTIFICATE-----"));
        let cert = Certificate::from_pem(pem.as_bytes()).unwrap();
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.subject.to_string(), CERT_SUBJECT);
        assert_eq!(tbs.issuer, tbs.subject);
        assert_eq!(
            tbs.validity.not_before.to_unix_duration().as_secs(),
            NOT_BEFORE_UNIX
        );
        assert_eq!(
            tbs.validity.not_after.to_unix_duration().as_secs(),
            NOT_AFTER_UNIX
        );
        // Self-signed: the certificate's signature verifies with its own key.
        let public = public_key_from_cert(pem);
        let sig = Signature::try_from(cert.signature.raw_bytes()).unwrap();
        VerifyingKey::<Sha256>::new(public)
            .verify(&tbs.to_der().unwrap(), &sig)
            .expect("self-signature verifies");
    }

    #[test]
    fn pkcs8_round_trip() {
        let s = signer();
        let der = s.key_pkcs8_der();
        let restored = Signer::from_pkcs8_der(&der).expect("restores");
        assert_eq!(restored.key_pkcs8_der(), der);
        assert_eq!(restored.certificate_pem(), s.certificate_pem());
        let data = sample_notification();
        for version in [SignatureVersion::V1, SignatureVersion::V2] {
            let sig = restored.sign(&data, version);
            assert_eq!(sig, s.sign(&data, version));
            assert!(verify(s, &data, &sig, version));
        }
        assert!(Signer::from_pkcs8_der(b"not a key").is_err());
        assert!(Signer::from_pkcs8_der(&der[..der.len() / 2]).is_err());
    }

    #[test]
    fn string_to_sign_notification() {
        let fields = [
            ("Type", "Notification"),
            ("MessageId", "mid"),
            ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t"),
            ("Subject", "subj"),
            ("Message", "line1\nline2"),
            ("Timestamp", "2012-05-02T00:54:06.655Z"),
            ("SignatureVersion", "1"),
            ("Signature", "ignored"),
            ("SigningCertURL", "ignored"),
            ("UnsubscribeURL", "ignored"),
        ];
        assert_eq!(
            string_to_sign(&fields),
            "Message\nline1\nline2\nMessageId\nmid\nSubject\nsubj\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\nNotification\n"
        );
        let without_subject: Vec<_> = fields
            .iter()
            .copied()
            .filter(|(k, _)| *k != "Subject")
            .collect();
        assert_eq!(
            string_to_sign(&without_subject),
            "Message\nline1\nline2\nMessageId\nmid\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\nNotification\n"
        );
    }

    #[test]
    fn string_to_sign_confirmations() {
        for ty in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
            let fields = [
                ("Type", ty),
                ("MessageId", "mid"),
                ("Token", "tok"),
                ("TopicArn", "arn"),
                ("Message", "You have chosen to subscribe"),
                (
                    "SubscribeURL",
                    "http://localhost/?Action=ConfirmSubscription",
                ),
                ("Timestamp", "ts"),
                ("Subject", "not signed for confirmations"),
            ];
            assert_eq!(
                string_to_sign(&fields),
                format!(
                    "Message\nYou have chosen to subscribe\nMessageId\nmid\n\
                     SubscribeURL\nhttp://localhost/?Action=ConfirmSubscription\n\
                     Timestamp\nts\nToken\ntok\nTopicArn\narn\nType\n{ty}\n"
                )
            );
        }
    }

    /// Independent check with the `openssl` command line, when installed.
    #[test]
    fn openssl_cli_verifies() {
        use std::process::Command;
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("openssl not found: skipping");
            return;
        }
        let s = signer();
        let dir = std::env::temp_dir().join(format!(
            "lyrebird-sns-signing-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        let pubkey = dir.join("pub.pem");
        let data = dir.join("data");
        std::fs::write(&cert, s.certificate_pem()).unwrap();
        std::fs::write(&data, sample_notification()).unwrap();

        // `openssl x509 -pubkey` into a file (no bash process substitution).
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl x509: {out:?}");
        std::fs::write(&pubkey, &out.stdout).unwrap();

        for (version, digest) in [
            (SignatureVersion::V1, "-sha1"),
            (SignatureVersion::V2, "-sha256"),
        ] {
            let sig = dir.join(format!("sig{}.bin", version.as_str()));
            let sig_b64 = s.sign(&sample_notification(), version);
            std::fs::write(&sig, BASE64.decode(sig_b64).unwrap()).unwrap();
            let out = Command::new("openssl")
                .args(["dgst", digest, "-verify"])
                .arg(&pubkey)
                .arg("-signature")
                .arg(&sig)
                .arg(&data)
                .output()
                .unwrap();
            assert!(
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
                "openssl dgst {digest}: {out:?}"
            );
        }
        // The certificate's self-signature, checked by openssl too.
        let out = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&cert)
            .arg("-partial_chain")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl verify: {out:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
