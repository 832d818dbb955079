use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lyrebird::server::{serve, App};
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
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
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
    let Cli { config, command } = Cli::parse();
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
