//! Command-line flags, each also readable from a `LYREBIRD_*` environment variable.

use std::path::PathBuf;

use clap::Parser;

use crate::store::Durability;

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

    /// Once listening, write the address in use (`host:port`) to this file, and remove it on
    /// shutdown. `lyrebird healthcheck` with the same setting probes that address rather than
    /// --host/--port, so a probe that sees only the environment (Docker's HEALTHCHECK) follows
    /// a `--port` given on the command line. The Docker image sets it to /tmp/lyrebird.addr.
    #[arg(long, env = "LYREBIRD_ADDR_FILE")]
    pub addr_file: Option<PathBuf>,

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

    /// Where state is kept (default: `$XDG_DATA_HOME/lyrebird` or `~/.local/share/lyrebird`).
    #[arg(long, env = "LYREBIRD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Keep nothing on disk: state lives and dies with the process (CI, throw-away runs).
    #[arg(long, env = "LYREBIRD_IN_MEMORY", default_value_t = false)]
    pub in_memory: bool,

    /// `strict`: a send, publish or delete is acknowledged once it is on disk (concurrent
    /// requests share one flush). `relaxed`: acknowledged at once, flushed every 200 ms; a crash
    /// can lose the last moments of acknowledged work.
    #[arg(long, env = "LYREBIRD_DURABILITY", value_enum, default_value_t = Durability::Strict)]
    pub durability: Durability,

    /// CloudFormation/SAM template to apply at start-up (repeatable; comma-separated in the
    /// environment). Applying is idempotent: an unchanged template on a kept data directory
    /// changes nothing, a changed property is updated.
    #[arg(long = "init", env = "LYREBIRD_INIT", value_delimiter = ',')]
    pub init: Vec<PathBuf>,

    /// Directory whose `*.yaml`, `*.yml` and `*.json` templates are applied at start-up, by
    /// name, after the `--init` ones.
    #[arg(long, env = "LYREBIRD_INIT_DIR")]
    pub init_dir: Option<PathBuf>,

    /// Template parameter override, `KEY=VALUE` (repeatable; `;`-separated in the environment).
    #[arg(long = "param", env = "LYREBIRD_PARAMS", value_delimiter = ';')]
    pub params: Vec<String>,

    /// Enable test-only endpoints such as `POST /_lyrebird/clock/advance`.
    #[arg(long, env = "LYREBIRD_TEST_ENDPOINTS", default_value_t = false)]
    pub test_endpoints: bool,

    /// In-flight messages a queue allows: at the limit a standard queue's ReceiveMessage fails
    /// with OverLimit and a FIFO queue's returns nothing more, as on AWS. 120,000 is AWS's
    /// default quota; a small value lets an application test how it copes.
    #[arg(long, env = "LYREBIRD_IN_FLIGHT_LIMIT", default_value_t = crate::sqs::IN_FLIGHT_LIMIT)]
    pub in_flight_limit: usize,

    /// How often (milliseconds) to check for freed memory to give back to the OS, as after
    /// deleting or draining a large queue: it goes back one to two intervals after the freeing
    /// stops (or after 30 intervals of non-stop freeing). 0 never gives it back.
    #[arg(
        long,
        env = "LYREBIRD_MEMORY_TRIM_INTERVAL_MS",
        default_value_t = 10_000
    )]
    pub memory_trim_interval_ms: u64,

    /// Milliseconds a connection may take to send a request's head (request line and headers);
    /// hyper starts this clock whenever the connection waits for a request, so it is also how
    /// long an idle keep-alive connection stays open. Slow or silent clients are disconnected.
    #[arg(
        long,
        env = "LYREBIRD_HEADER_READ_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub header_read_timeout_ms: u64,

    /// Connections served at once; beyond it a new connection is answered 503
    /// `ServiceUnavailable` and closed.
    #[arg(long, env = "LYREBIRD_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Queues an account may have in a region; CreateQueue beyond it fails with `OverLimit`.
    /// (AWS sets no such quota; this bounds memory.)
    #[arg(long, env = "LYREBIRD_MAX_QUEUES", default_value_t = 1_000_000)]
    pub max_queues: usize,

    /// Topics an account may have in a region; CreateTopic beyond it fails with
    /// `TopicLimitExceeded` (100,000 is AWS's default quota).
    #[arg(long, env = "LYREBIRD_MAX_TOPICS", default_value_t = 100_000)]
    pub max_topics: usize,

    /// Subscriptions to an account's topics in a region; Subscribe beyond it fails with
    /// `SubscriptionLimitExceeded`.
    #[arg(long, env = "LYREBIRD_MAX_SUBSCRIPTIONS", default_value_t = 1_000_000)]
    pub max_subscriptions: usize,

    /// HTTP/S subscription deliveries in flight at once (retries wait without holding a slot).
    #[arg(long, env = "LYREBIRD_SNS_HTTP_CONCURRENCY", default_value_t = 64)]
    pub sns_http_concurrency: usize,

    /// HTTP/S deliveries pending (sending or waiting to retry) at most; one beyond it is
    /// treated as failed at once (logged, and sent to the subscription's dead-letter queue).
    #[arg(long, env = "LYREBIRD_SNS_HTTP_BACKLOG", default_value_t = 10_000)]
    pub sns_http_backlog: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 4566,
            addr_file: None,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            log_level: "info".into(),
            test_endpoints: false,
            strict_queue_recreate: false,
            data_dir: None,
            // Embedded servers (tests) keep nothing unless asked to.
            in_memory: true,
            durability: Durability::Strict,
            init: Vec::new(),
            init_dir: None,
            params: Vec::new(),
            memory_trim_interval_ms: 10_000,
            in_flight_limit: crate::sqs::IN_FLIGHT_LIMIT,
            header_read_timeout_ms: 30_000,
            max_connections: 10_000,
            max_queues: 1_000_000,
            max_topics: 100_000,
            max_subscriptions: 1_000_000,
            sns_http_concurrency: 64,
            sns_http_backlog: 10_000,
        }
    }
}

impl Config {
    /// The data directory in use, unless running in memory.
    pub fn storage_dir(&self) -> Option<PathBuf> {
        if self.in_memory {
            return None;
        }
        if let Some(dir) = &self.data_dir {
            return Some(dir.clone());
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        Some(base.join("lyrebird"))
    }

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
