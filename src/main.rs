use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lyrebird::lambda::HandlerPriority;
use lyrebird::server::{serve, App};
use lyrebird::store::Durability;
use lyrebird::Config;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "lyrebird",
    version,
    about = "AWS SQS and SNS wire-protocol emulator"
)]
struct Cli {
    #[command(flatten)]
    flags: Flags,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Every `Config` setting as a flag, each also readable from a `LYREBIRD_*` environment variable.
/// clap stays here, out of the library's API; the help text is the flags' doc comments.
#[derive(Args)]
struct Flags {
    /// Address to bind (the Docker image uses 0.0.0.0).
    #[arg(long, env = "LYREBIRD_HOST", default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (4566 is LocalStack's, so lyrebird drops in where it was).
    #[arg(long, env = "LYREBIRD_PORT", default_value_t = 4566)]
    port: u16,

    /// Once listening, write the address in use (`host:port`) to this file, and remove it on
    /// shutdown. `lyrebird healthcheck` with the same setting probes that address rather than
    /// --host/--port, so a probe that sees only the environment (Docker's HEALTHCHECK) follows
    /// a `--port` given on the command line. The Docker image sets it to /tmp/lyrebird.addr.
    #[arg(long, env = "LYREBIRD_ADDR_FILE")]
    addr_file: Option<PathBuf>,

    /// Region used when a request carries no SigV4 credential scope.
    #[arg(long, env = "LYREBIRD_REGION", default_value = "us-east-1")]
    region: String,

    /// Account used unless the access key id is exactly 12 digits.
    #[arg(long, env = "LYREBIRD_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,

    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins when set.
    #[arg(long, env = "LYREBIRD_LOG_LEVEL", default_value = "info")]
    log_level: String,

    /// Refuse to re-create a queue name within 60 s of deleting it, as AWS does
    /// (`QueueDeletedRecently`). Off by default: test suites re-create queues constantly.
    #[arg(long, env = "LYREBIRD_STRICT_QUEUE_RECREATE", default_value_t = false)]
    strict_queue_recreate: bool,

    /// Where state is kept (default: `$XDG_DATA_HOME/lyrebird` or `~/.local/share/lyrebird`).
    #[arg(long, env = "LYREBIRD_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Keep nothing on disk: state lives and dies with the process (CI, throw-away runs).
    #[arg(long, env = "LYREBIRD_IN_MEMORY", default_value_t = false)]
    in_memory: bool,

    /// `strict`: a send, publish or delete is acknowledged once it is on disk (concurrent
    /// requests share one flush). `relaxed`: acknowledged at once, flushed every 200 ms; a crash
    /// can lose the last moments of acknowledged work.
    #[arg(long, env = "LYREBIRD_DURABILITY", value_enum, default_value_t = DurabilityArg::Strict)]
    durability: DurabilityArg,

    /// CloudFormation/SAM template to apply at start-up (repeatable; comma-separated in the
    /// environment). Applying is idempotent: an unchanged template on a kept data directory
    /// changes nothing, a changed property is updated.
    #[arg(long = "init", env = "LYREBIRD_INIT", value_delimiter = ',')]
    init: Vec<PathBuf>,

    /// Directory whose `*.yaml`, `*.yml` and `*.json` templates are applied at start-up, by
    /// name, after the `--init` ones.
    #[arg(long, env = "LYREBIRD_INIT_DIR")]
    init_dir: Option<PathBuf>,

    /// Template parameter override, `KEY=VALUE` (repeatable; `;`-separated in the environment).
    #[arg(long = "param", env = "LYREBIRD_PARAMS", value_delimiter = ';')]
    params: Vec<String>,

    /// Enable test-only endpoints such as `POST /_lyrebird/clock/advance`.
    #[arg(long, env = "LYREBIRD_TEST_ENDPOINTS", default_value_t = false)]
    test_endpoints: bool,

    /// Test only (with --test-endpoints): start the service clock this many milliseconds
    /// ahead, to continue the clock a previous run on the same data dir had moved.
    #[arg(
        long,
        env = "LYREBIRD_TEST_CLOCK_OFFSET_MS",
        default_value_t = 0,
        hide = true
    )]
    test_clock_offset_ms: u64,

    /// Do not serve the web console (/_lyrebird/console/). The developer endpoints
    /// (/_aws/..., /_lyrebird/...) stay: like the rest of the API they have no authentication.
    #[arg(long, env = "LYREBIRD_NO_CONSOLE", default_value_t = false)]
    no_console: bool,

    /// Do not serve Prometheus metrics (/metrics) nor count requests for them.
    #[arg(long, env = "LYREBIRD_NO_METRICS", default_value_t = false)]
    no_metrics: bool,

    /// In-flight messages a queue allows: at the limit a standard queue's ReceiveMessage fails
    /// with OverLimit and a FIFO queue's returns nothing more, as on AWS. 120,000 is AWS's
    /// default quota; a small value lets an application test how it copes.
    #[arg(long, env = "LYREBIRD_IN_FLIGHT_LIMIT", default_value_t = lyrebird::sqs::IN_FLIGHT_LIMIT)]
    in_flight_limit: usize,

    /// How often (milliseconds) to check for freed memory to give back to the OS, as after
    /// deleting or draining a large queue: it goes back one to two intervals after the freeing
    /// stops (or after 30 intervals of non-stop freeing). 0 never gives it back.
    #[arg(
        long,
        env = "LYREBIRD_MEMORY_TRIM_INTERVAL_MS",
        default_value_t = 10_000
    )]
    memory_trim_interval_ms: u64,

    /// Milliseconds a connection may take to send a request's head (request line and headers);
    /// hyper starts this clock whenever the connection waits for a request, so it is also how
    /// long an idle keep-alive connection stays open. Slow or silent clients are disconnected.
    #[arg(
        long,
        env = "LYREBIRD_HEADER_READ_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    header_read_timeout_ms: u64,

    /// Connections served at once; beyond it a new connection is answered 503
    /// `ServiceUnavailable` and closed.
    #[arg(long, env = "LYREBIRD_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,

    /// Queues an account may have in a region; CreateQueue beyond it fails with `OverLimit`.
    /// (AWS sets no such quota; this bounds memory.)
    #[arg(long, env = "LYREBIRD_MAX_QUEUES", default_value_t = 1_000_000)]
    max_queues: usize,

    /// Topics an account may have in a region; CreateTopic beyond it fails with
    /// `TopicLimitExceeded` (100,000 is AWS's default quota).
    #[arg(long, env = "LYREBIRD_MAX_TOPICS", default_value_t = 100_000)]
    max_topics: usize,

    /// Subscriptions to an account's topics in a region; Subscribe beyond it fails with
    /// `SubscriptionLimitExceeded`.
    #[arg(long, env = "LYREBIRD_MAX_SUBSCRIPTIONS", default_value_t = 1_000_000)]
    max_subscriptions: usize,

    /// HTTP/S subscription deliveries in flight at once (retries wait without holding a slot).
    #[arg(long, env = "LYREBIRD_SNS_HTTP_CONCURRENCY", default_value_t = 64)]
    sns_http_concurrency: usize,

    /// HTTP/S deliveries pending (sending or waiting to retry) at most; one beyond it is
    /// treated as failed at once (logged, and sent to the subscription's dead-letter queue).
    #[arg(long, env = "LYREBIRD_SNS_HTTP_BACKLOG", default_value_t = 10_000)]
    sns_http_backlog: usize,

    /// `open`: any credentials are accepted (a 12-digit access key id names the account).
    /// `sigv4`: requests must be signed by a key of --credentials, whose account they act as;
    /// another account's queue or topic is reached only where its policy allows, and
    /// /_lyrebird/* (except health) needs `Authorization: Bearer <console_token>`.
    #[arg(long, env = "LYREBIRD_AUTH", value_enum, default_value_t = AuthArg::Open)]
    auth: AuthArg,

    /// JSON file of `--auth sigv4`: {"keys": [{"access_key_id", "secret_access_key",
    /// "account_id"}], "console_token": "..."}.
    #[arg(long, env = "LYREBIRD_CREDENTIALS")]
    credentials: Option<PathBuf>,

    /// `NAME=COMMAND`: start the Lambda function NAME with this shell command instead of its
    /// runtime's (repeatable; `;`-separated in the environment). It runs in the function's code
    /// folder with Lambda's environment and must speak the Runtime API.
    #[arg(
        long = "lambda-command",
        env = "LYREBIRD_LAMBDA_COMMAND",
        value_delimiter = ';'
    )]
    lambda_commands: Vec<String>,

    /// Invocations (processes) of a Lambda function at once, unless its
    /// ReservedConcurrentExecutions says otherwise.
    #[arg(long, env = "LYREBIRD_LAMBDA_CONCURRENCY", default_value_t = 10)]
    lambda_concurrency: usize,

    /// CPU priority of Lambda function processes. `auto`: SCHED_IDLE, raised to lyrebird's
    /// priority while an invocation runs past 250 ms (or an init past 1 s), so a busy machine
    /// delays handlers but never starves them; `normal` where lyrebird lacks CAP_SYS_NICE.
    /// `normal`: the same as lyrebird. `idle` (SCHED_IDLE): handlers use only the CPU that
    /// lyrebird and other work leave, so they never delay lyrebird, but on a machine kept busy by
    /// other work they run into their Timeout. `low`: nice 10, in between.
    #[arg(long, env = "LYREBIRD_LAMBDA_PRIORITY", value_enum, default_value_t = PriorityArg::Auto)]
    lambda_priority: PriorityArg,

    /// Asynchronous (Event) invocations queued per function; more are refused with
    /// TooManyRequestsException.
    #[arg(long, env = "LYREBIRD_LAMBDA_ASYNC_BACKLOG", default_value_t = 10_000)]
    lambda_async_backlog: usize,

    /// Milliseconds (service time) an EventBridge replay waits after each minute of archived
    /// events it sends; 0 sends a replay's whole window at once.
    #[arg(long, env = "LYREBIRD_EVENTS_REPLAY_INTERVAL_MS", default_value_t = lyrebird::events::DEFAULT_REPLAY_INTERVAL_MS)]
    events_replay_interval_ms: u64,
}

/// `--auth`; `lyrebird::credentials::AuthMode` without clap.
#[derive(Clone, Copy, ValueEnum)]
enum AuthArg {
    Open,
    Sigv4,
}

/// `--lambda-priority`; `lyrebird::lambda::HandlerPriority` without clap.
#[derive(Clone, Copy, ValueEnum)]
enum PriorityArg {
    Auto,
    Idle,
    Low,
    Normal,
}

/// `--durability`; `lyrebird::store::Durability` without clap.
#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// A write is acknowledged after it is flushed to disk (shared by concurrent writers).
    Strict,
    /// A write is acknowledged at once and flushed within the flush interval.
    Relaxed,
}

impl From<Flags> for Config {
    fn from(flags: Flags) -> Self {
        Config {
            host: flags.host,
            port: flags.port,
            addr_file: flags.addr_file,
            region: flags.region,
            account_id: flags.account_id,
            log_level: flags.log_level,
            strict_queue_recreate: flags.strict_queue_recreate,
            data_dir: flags.data_dir,
            in_memory: flags.in_memory,
            init: flags.init,
            init_dir: flags.init_dir,
            params: flags.params,
            test_endpoints: flags.test_endpoints,
            test_clock_offset_ms: flags.test_clock_offset_ms,
            console: !flags.no_console,
            metrics: !flags.no_metrics,
            in_flight_limit: flags.in_flight_limit,
            memory_trim_interval_ms: flags.memory_trim_interval_ms,
            header_read_timeout_ms: flags.header_read_timeout_ms,
            max_connections: flags.max_connections,
            max_queues: flags.max_queues,
            max_topics: flags.max_topics,
            max_subscriptions: flags.max_subscriptions,
            sns_http_concurrency: flags.sns_http_concurrency,
            sns_http_backlog: flags.sns_http_backlog,
            auth: match flags.auth {
                AuthArg::Open => lyrebird::credentials::AuthMode::Open,
                AuthArg::Sigv4 => lyrebird::credentials::AuthMode::SigV4,
            },
            credentials: flags.credentials,
            lambda_commands: flags.lambda_commands,
            lambda_concurrency: flags.lambda_concurrency,
            lambda_priority: match flags.lambda_priority {
                PriorityArg::Auto => HandlerPriority::Auto,
                PriorityArg::Idle => HandlerPriority::Idle,
                PriorityArg::Low => HandlerPriority::Low,
                PriorityArg::Normal => HandlerPriority::Normal,
            },
            lambda_async_backlog: flags.lambda_async_backlog,
            lambda_promotion: Default::default(),
            lambda_init_timeout_ms: lyrebird::lambda::DEFAULT_INIT_TIMEOUT_MS,
            events_replay_interval_ms: flags.events_replay_interval_ms,
            durability: match flags.durability {
                DurabilityArg::Strict => Durability::Strict,
                DurabilityArg::Relaxed => Durability::Relaxed,
            },
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 if the lyrebird at --host/--port answers its health endpoint within 2 s, else 1
    ///
    /// For Docker's HEALTHCHECK, so the image needs no curl. Give --host/--port before the
    /// command (`lyrebird --port 4567 healthcheck`) or as LYREBIRD_HOST/LYREBIRD_PORT; a
    /// wildcard host (0.0.0.0, ::) is probed on loopback. With --addr-file (LYREBIRD_ADDR_FILE)
    /// the address the server wrote there wins, whatever port it was started with.
    Healthcheck,
}

fn main() -> std::process::ExitCode {
    let Cli { flags, command } = Cli::parse();
    let config = Config::from(flags);
    if let Some(Command::Healthcheck) = command {
        return healthcheck(&config);
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&config.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    lyrebird::panic_policy::install();
    if let Err(e) = config.validate() {
        eprintln!("lyrebird: {e}");
        return std::process::ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lyrebird: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lyrebird: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn healthcheck(config: &Config) -> std::process::ExitCode {
    let target = match &config.addr_file {
        Some(path) => lyrebird::health::read_addr_file(path),
        None => Ok(None),
    };
    let result = target.and_then(|addr| {
        let (host, port) = match addr {
            Some(addr) => (addr.ip().to_string(), addr.port()),
            None => (config.host.clone(), config.port),
        };
        lyrebird::health::probe(&host, port, Duration::from_secs(2))
    });
    match result {
        Ok(status) => {
            println!("healthy: {status}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> std::io::Result<()> {
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {}:{}: {e}", config.host, config.port),
            )
        })?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::start(config, addr).await?);
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {addr}, which is not a loopback address: the API, the developer endpoints{} have no authentication; anyone who can reach this port can read and change all state",
            if app.config.console { " and the web console" } else { "" }
        );
    }
    tracing::info!(region = %app.config.region, account = %app.config.account_id, "lyrebird {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
    // Process-wide, so here rather than in `serve` (embedded servers share their host's heap).
    lyrebird::memory::spawn_trimmer(Duration::from_millis(app.config.memory_trim_interval_ms));
    let addr_file = app.config.addr_file.clone();
    if let Some(path) = &addr_file {
        // Not fatal: the server works without it, only a healthcheck reading it would not.
        if let Err(e) = lyrebird::health::write_addr_file(path, addr) {
            tracing::warn!("cannot write the address file {}: {e}", path.display());
        }
    }
    let served = serve(listener, app, shutdown_signal()).await;
    if let Some(path) = &addr_file {
        let _ = std::fs::remove_file(path);
    }
    served?;
    tracing::info!("lyrebird stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (docker stop).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
