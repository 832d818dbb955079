//! Command-line flags, each also readable from a `LYREBIRD_*` environment variable.

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "lyrebird",
    version,
    about = "AWS SQS and SNS wire-protocol emulator"
)]
pub struct Config {
    /// Address to bind (the Docker image uses 0.0.0.0).
    #[arg(long, env = "LYREBIRD_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (4566 is LocalStack's, so lyrebird drops in where it was).
    #[arg(long, env = "LYREBIRD_PORT", default_value_t = 4566)]
    pub port: u16,

    /// Region used when a request carries no SigV4 credential scope.
    #[arg(long, env = "LYREBIRD_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Account used unless the access key id is exactly 12 digits.
    #[arg(long, env = "LYREBIRD_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins when set.
    #[arg(long, env = "LYREBIRD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Refuse to re-create a queue name within 60 s of deleting it, as AWS does
    /// (`QueueDeletedRecently`). Off by default: test suites re-create queues constantly.
    #[arg(long, env = "LYREBIRD_STRICT_QUEUE_RECREATE", default_value_t = false)]
    pub strict_queue_recreate: bool,

    /// Enable test-only endpoints such as `POST /_lyrebird/clock/advance`.
    #[arg(long, env = "LYREBIRD_TEST_ENDPOINTS", default_value_t = false)]
    pub test_endpoints: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 4566,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            log_level: "info".into(),
            test_endpoints: false,
            strict_queue_recreate: false,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "account id must be 12 digits, got {:?}",
                self.account_id
            ));
        }
        if self.region.is_empty() {
            return Err("region must not be empty".into());
        }
        Ok(())
    }
}
