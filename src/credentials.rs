//! The credentials of `--auth sigv4`: which access key ids exist, their secret keys and
//! accounts, and the bearer token of lyrebird's own endpoints (`/_lyrebird/*`). Read once at
//! start-up from a JSON file:
//!
//! ```json
//! {
//!   "keys": [
//!     { "access_key_id": "AKIDALICE", "secret_access_key": "alice-secret", "account_id": "111111111111" },
//!     { "access_key_id": "AKIDBOB",   "secret_access_key": "bob-secret",   "account_id": "222222222222" }
//!   ],
//!   "console_token": "a long random string"
//! }
//! ```
//!
//! Without `console_token`, lyrebird's own endpoints (other than the health checks) are closed.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// How requests are authenticated (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Any credentials, or none, are accepted; a 12-digit access key id names the account.
    #[default]
    Open,
    /// Every AWS request must carry a valid SigV4 signature by a key of the credentials file.
    SigV4,
}

/// A key's secret and the account it acts as.
pub struct Secret {
    pub secret_access_key: String,
    pub account_id: String,
}

/// A key pair handed to a function's processes (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AccountKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// By account id, the first key of the file acting as that account.
pub type AccountKeys = HashMap<String, AccountKey>;

/// The loaded credentials file.
pub struct Credentials {
    keys: HashMap<String, Secret>,
    /// The file's first key of each account (in file order, so the choice is stable).
    first_by_account: AccountKeys,
    console_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("keys", &self.keys.len())
            .field("console_token", &self.console_token.is_some())
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    keys: Vec<Key>,
    #[serde(default)]
    console_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Key {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

impl Credentials {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("credentials file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        let mut first_by_account = AccountKeys::new();
        for key in file.keys {
            if key.access_key_id.is_empty() || key.secret_access_key.is_empty() {
                return Err("an access key id or secret access key is empty".into());
            }
            let account = &key.account_id;
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("account_id {account:?} is not 12 digits"));
            }
            first_by_account
                .entry(key.account_id.clone())
                .or_insert_with(|| AccountKey {
                    access_key_id: key.access_key_id.clone(),
                    secret_access_key: key.secret_access_key.clone(),
                });
            let secret = Secret {
                secret_access_key: key.secret_access_key,
                account_id: key.account_id,
            };
            if keys.insert(key.access_key_id.clone(), secret).is_some() {
                return Err(format!(
                    "access key id {} is listed twice",
                    key.access_key_id
                ));
            }
        }
        if keys.is_empty() {
            return Err("no keys".into());
        }
        let console_token = file.console_token.filter(|t| !t.is_empty());
        Ok(Credentials {
            keys,
            first_by_account,
            console_token,
        })
    }

    pub fn key(&self, access_key_id: &str) -> Option<&Secret> {
        self.keys.get(access_key_id)
    }

    /// Per account, the key its functions' processes sign their SDK calls with: the file's
    /// first key of that account.
    pub fn account_keys(&self) -> AccountKeys {
        self.first_by_account.clone()
    }

    /// Whether an `Authorization` header value carries the console token (`Bearer <token>`).
    pub fn console_token_matches(&self, authorization: Option<&str>) -> bool {
        let (Some(token), Some(given)) = (
            self.console_token.as_deref(),
            authorization.and_then(|a| a.strip_prefix("Bearer ")),
        ) else {
            return false;
        };
        constant_time_eq(token.as_bytes(), given.trim().as_bytes())
    }
}

/// Compares secrets without an early exit that would tell how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_the_file() {
        let c = Credentials::parse(
            r#"{"keys":[{"access_key_id":"A","secret_access_key":"s3cr3t","account_id":"111111111111"}],"console_token":"t0k3n"}"#,
        )
        .unwrap();
        assert_eq!(c.key("A").unwrap().account_id, "111111111111");
        assert!(c.key("B").is_none());
        let two = Credentials::parse(
            r#"{"keys":[{"access_key_id":"A","secret_access_key":"a","account_id":"111111111111"},{"access_key_id":"B","secret_access_key":"b","account_id":"111111111111"}]}"#,
        )
        .unwrap();
        assert_eq!(two.account_keys()["111111111111"].access_key_id, "A");
        assert!(c.console_token_matches(Some("Bearer t0k3n")));
        assert!(!c.console_token_matches(Some("Bearer u")));
        assert!(!c.console_token_matches(None));
        assert!(!format!("{c:?}").contains("s3cr3t") && !format!("{c:?}").contains("t0k3n"));
        for bad in [
            r#"{"keys":[]}"#,
            r#"{"keys":[{"access_key_id":"A","secret_access_key":"s","account_id":"12"}]}"#,
            r#"{"keys":[{"access_key_id":"A","secret_access_key":"","account_id":"111111111111"}]}"#,
            "not json",
        ] {
            assert!(Credentials::parse(bad).is_err(), "{bad}");
        }
    }
}
