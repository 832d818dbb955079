//! RSA PKCS#1 v1.5 signing through AWS-LC, for the one hot RSA operation: signing every SNS
//! notification.
//!
//! Why not the `rsa` crate that makes our keys and certificate: its private-key operation
//! takes ~2 ms per RSA-2048 signature on the project's machine, which capped Publish at ~530/s.
//! AWS-LC's assembly does it in ~0.26 ms (OpenSSL's own figure there: 0.28 ms). Neither `ring`
//! nor the safe `aws-lc-rs` API signs PKCS#1 v1.5 with SHA-1, which `SignatureVersion` 1 (the
//! default) needs, so this calls AWS-LC's `RSA_sign` through `aws-lc-sys` directly: a key
//! parsed once, a digest in, a signature out.

use std::os::raw::c_uint;
use std::ptr::NonNull;

/// Digest algorithms `RSA_sign` embeds in the signature's DigestInfo.
#[derive(Debug, Clone, Copy)]
pub enum Digest {
    Sha1,
    Sha256,
}

impl Digest {
    fn nid(self) -> i32 {
        match self {
            Digest::Sha1 => aws_lc_sys::NID_sha1,
            Digest::Sha256 => aws_lc_sys::NID_sha256,
        }
    }

    fn len(self) -> usize {
        match self {
            Digest::Sha1 => 20,
            Digest::Sha256 => 32,
        }
    }
}

/// An RSA private key owned by AWS-LC.
pub struct RsaKey(NonNull<aws_lc_sys::RSA>);

// SAFETY: AWS-LC documents an `RSA` as usable concurrently from several threads by its
// non-mutating functions, and lists `RSA_sign` and `RSA_size` among them ("Signing /
// Verification: these functions are considered non-mutating for thread-safety purposes and may
// be used concurrently", openssl/rsa.h). Nothing here mutates the key after parsing, and
// `RSA_free` runs only from `Drop`, when no other reference exists.
unsafe impl Send for RsaKey {}
unsafe impl Sync for RsaKey {}

impl RsaKey {
    /// Parses a DER `RSAPrivateKey` (PKCS#1); `None` if AWS-LC rejects it.
    pub fn from_pkcs1_der(der: &[u8]) -> Option<RsaKey> {
        // SAFETY: AWS-LC reads `der.len()` bytes from `der` and returns a new object or null.
        let key = unsafe { aws_lc_sys::RSA_private_key_from_bytes(der.as_ptr(), der.len()) };
        NonNull::new(key).map(RsaKey)
    }

    /// The PKCS#1 v1.5 signature of a message whose `digest` (made with `alg`) is given;
    /// `None` if the digest has the wrong length or AWS-LC fails.
    pub fn sign(&self, alg: Digest, digest: &[u8]) -> Option<Vec<u8>> {
        if digest.len() != alg.len() {
            return None;
        }
        // SAFETY: the key is valid for the life of `self` (see the Send/Sync note).
        let size = unsafe { aws_lc_sys::RSA_size(self.0.as_ptr()) } as usize;
        let mut out = vec![0u8; size];
        let mut out_len: c_uint = 0;
        // SAFETY: `out` has room for `RSA_size` bytes, the most `RSA_sign` writes; `digest`
        // is valid for `digest.len()` bytes; `out_len` is a valid place for the length.
        let ok = unsafe {
            aws_lc_sys::RSA_sign(
                alg.nid(),
                digest.as_ptr(),
                digest.len(),
                out.as_mut_ptr(),
                &mut out_len,
                self.0.as_ptr(),
            )
        };
        if ok != 1 || out_len as usize > size {
            return None;
        }
        out.truncate(out_len as usize);
        Some(out)
    }
}

impl Drop for RsaKey {
    fn drop(&mut self) {
        // SAFETY: we own the only reference, made by `RSA_private_key_from_bytes`.
        unsafe { aws_lc_sys::RSA_free(self.0.as_ptr()) }
    }
}
