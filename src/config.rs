//! The server's settings. Each is a command-line flag of the binary too, also readable from a
//! `LYREBIRD_*` environment variable (src/main.rs).

use std::path::PathBuf;

use crate::credentials::AuthMode;
use crate::store::Durability;

/// How a server runs. The binary fills it from its flags and `LYREBIRD_*` variables (src/main.rs);
/// embedders and tests build it directly, usually from `Config::default()`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (the Docker image uses 0.0.0.0).
    pub host: String,

    /// Port to listen on (4566 is LocalStack's, so lyrebird drops in where it was).
    pub port: u16,

    /// Once listening, write the address in use (`host:port`) to this file, and remove it on
    /// shutdown. `lyrebird healthcheck` with the same setting probes that address rather than
    /// --host/--port, so a probe that sees only the environment (Docker's HEALTHCHECK) follows
    /// a `--port` given on the command line. The Docker image sets it to /tmp/lyrebird.addr.
    pub addr_file: Option<PathBuf>,

    /// Region used when a request carries no SigV4 credential scope.
    pub region: String,

    /// Account used unless the access key id is exactly 12 digits.
    pub account_id: String,

    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins when set.
    pub log_level: String,

    /// Refuse to re-create a queue name within 60 s of deleting it, as AWS does
    /// (`QueueDeletedRecently`). Off by default: test suites re-create queues constantly.
    pub strict_queue_recreate: bool,

    /// Where state is kept (default: `$XDG_DATA_HOME/lyrebird` or `~/.local/share/lyrebird`).
    pub data_dir: Option<PathBuf>,

    /// Keep nothing on disk: state lives and dies with the process (CI, throw-away runs).
    pub in_memory: bool,

    /// `strict`: a send, publish or delete is acknowledged once it is on disk (concurrent
    /// requests share one flush). `relaxed`: acknowledged at once, flushed every 200 ms; a crash
    /// can lose the last moments of acknowledged work.
    pub durability: Durability,

    /// CloudFormation/SAM template to apply at start-up (repeatable; comma-separated in the
    /// environment). Applying is idempotent: an unchanged template on a kept data directory
    /// changes nothing, a changed property is updated.
    pub init: Vec<PathBuf>,

    /// Directory whose `*.yaml`, `*.yml` and `*.json` templates are applied at start-up, by
    /// name, after the `--init` ones.
    pub init_dir: Option<PathBuf>,

    /// Template parameter override, `KEY=VALUE` (repeatable; `;`-separated in the environment).
    pub params: Vec<String>,

    /// Enable test-only endpoints such as `POST /_lyrebird/clock/advance`.
    pub test_endpoints: bool,

    /// Test only (honoured with `test_endpoints`): the service clock starts this many
    /// milliseconds ahead, as `POST /_lyrebird/clock/advance` would put it, before the store is
    /// restored. A test that restarts lyrebird on a data dir continues the clock the previous
    /// run had moved, instead of the restore seeing a wall clock set back (and clamping).
    pub test_clock_offset_ms: u64,
    /// Serve the web console at `/_lyrebird/console/` (the developer endpoints stay).
    pub console: bool,

    /// Serve Prometheus metrics at `/metrics` and count requests for them.
    pub metrics: bool,

    /// In-flight messages a queue allows: at the limit a standard queue's ReceiveMessage fails
    /// with OverLimit and a FIFO queue's returns nothing more, as on AWS. 120,000 is AWS's
    /// default quota; a small value lets an application test how it copes.
    pub in_flight_limit: usize,

    /// How often (milliseconds) to check for freed memory to give back to the OS, as after
    /// deleting or draining a large queue: it goes back one to two intervals after the freeing
    /// stops (or after 30 intervals of non-stop freeing). 0 never gives it back.
    pub memory_trim_interval_ms: u64,

    /// Milliseconds a connection may take to send a request's head (request line and headers);
    /// hyper starts this clock whenever the connection waits for a request, so it is also how
    /// long an idle keep-alive connection stays open. Slow or silent clients are disconnected.
    pub header_read_timeout_ms: u64,

    /// Connections served at once; beyond it a new connection is answered 503
    /// `ServiceUnavailable` and closed.
    pub max_connections: usize,

    /// Queues an account may have in a region; CreateQueue beyond it fails with `OverLimit`.
    /// (AWS sets no such quota; this bounds memory.)
    pub max_queues: usize,

    /// Topics an account may have in a region; CreateTopic beyond it fails with
    /// `TopicLimitExceeded` (100,000 is AWS's default quota).
    pub max_topics: usize,

    /// Subscriptions to an account's topics in a region; Subscribe beyond it fails with
    /// `SubscriptionLimitExceeded`.
    pub max_subscriptions: usize,

    /// HTTP/S subscription deliveries in flight at once (retries wait without holding a slot).
    pub sns_http_concurrency: usize,

    /// HTTP/S deliveries pending (sending or waiting to retry) at most; one beyond it is
    /// treated as failed at once (logged, and sent to the subscription's dead-letter queue).
    pub sns_http_backlog: usize,

    /// `open` (default): any credentials are accepted, a 12-digit access key id names the
    /// account. `sigv4`: every request must be signed by a key of `credentials`, which also
    /// gives its account; other accounts' queues and topics are reached only where their policy
    /// allows, and `/_lyrebird/*` (except health) needs the file's console token.
    pub auth: AuthMode,

    /// The credentials file of `auth = sigv4` (JSON; see `crate::credentials`).
    pub credentials: Option<PathBuf>,

    /// `NAME=COMMAND`: start the Lambda function NAME with this shell command instead of its
    /// runtime's (repeatable). It runs in the function's code folder with Lambda's environment
    /// (`AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, …) and must speak the Runtime API.
    pub lambda_commands: Vec<String>,

    /// Invocations (processes) of a Lambda function at once, unless its
    /// ReservedConcurrentExecutions says otherwise.
    pub lambda_concurrency: usize,

    /// The CPU priority of Lambda function processes against lyrebird's own threads
    /// (src/lambda/priority.rs).
    pub lambda_priority: crate::lambda::HandlerPriority,

    /// When `auto`-priority function processes are raised out of `SCHED_IDLE` and lowered
    /// again. Not a flag: tests shorten it.
    pub lambda_promotion: crate::lambda::Promotion,

    /// Asynchronous (Event) invocations queued per function; more are refused with
    /// TooManyRequestsException.
    pub lambda_async_backlog: usize,

    /// Milliseconds a new Lambda process has to ask for its first event (Lambda's 10 s init
    /// phase); a slower one still runs when it is ready within the function's Timeout, counted
    /// from the invocation. Not a flag: tests shorten it.
    pub lambda_init_timeout_ms: u64,

    /// Milliseconds (service time) an EventBridge replay waits after each minute of archived
    /// events it sends (AWS replays minute by minute and takes minutes); 0 sends a replay's
    /// whole window at once.
    pub events_replay_interval_ms: u64,
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
            test_clock_offset_ms: 0,
            console: true,
            metrics: true,
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
            auth: AuthMode::Open,
            credentials: None,
            lambda_commands: Vec::new(),
            lambda_concurrency: 10,
            lambda_priority: Default::default(),
            lambda_promotion: Default::default(),
            lambda_async_backlog: 10_000,
            lambda_init_timeout_ms: crate::lambda::DEFAULT_INIT_TIMEOUT_MS,
            events_replay_interval_ms: crate::events::DEFAULT_REPLAY_INTERVAL_MS,
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

    /// `--lambda-command` settings by function name.
    pub fn lambda_command_map(&self) -> Result<std::collections::HashMap<String, String>, String> {
        self.lambda_commands
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, command)) if !name.is_empty() && !command.trim().is_empty() => {
                    Ok((name.to_string(), command.to_string()))
                }
                _ => Err(format!(
                    "--lambda-command must be NAME=COMMAND, got {entry:?}"
                )),
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "account id must be 12 digits, got {:?}",
                self.account_id
            ));
        }
        self.lambda_command_map()?;
        if self.region.is_empty() {
            return Err("region must not be empty".into());
        }
        if self.auth == AuthMode::SigV4 && self.credentials.is_none() {
            return Err("--auth sigv4 needs --credentials FILE".into());
        }
        Ok(())
    }
}
