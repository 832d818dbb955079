//! The HTTP server: lyrebird's own endpoints (`/_lyrebird/...`) and everything else handed to the
//! protocol layer; start-up, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::config::Config;
use crate::credentials::{AuthMode, Credentials};
use crate::error::{codes, AwsError};
use crate::events::EventsService;
use crate::health::ServiceStates;
use crate::lambda::event_sources::{lambda_seam::LambdaRuntime, EventSources};
use crate::lambda::{LambdaOptions, LambdaService};
use crate::protocol::{self, Host, Services};
use crate::service::Service;
use crate::sns::{SnsLimits, SnsService};
use crate::sqs::{SqsOptions, SqsService};
use crate::store::{memory::MemoryStore, sled::SledStore, SharedStore};
use crate::sts::StsService;

/// Largest request body accepted: a 1 MiB message survives form or JSON encoding within it.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub clock: Arc<Clock>,
    pub sqs: Arc<SqsService>,
    pub store: SharedStore,
    pub sns: Arc<SnsService>,
    pub events: Arc<EventsService>,
    pub lambda: Arc<LambdaService>,
    /// Lambda event source mappings (SQS pollers).
    pub event_sources: Arc<EventSources>,
    /// The services the protocol layer dispatches to, by protocol.
    pub services: Services,
    pub started: Instant,
    /// `host:port` for queue URLs when a request carries no Host header.
    pub default_host: String,
    /// Services asked something so far (LocalStack's health reports them as running).
    pub service_states: ServiceStates,
    /// Outputs of the templates applied at start-up (`--init`).
    pub init_outputs: Vec<crate::template::Output>,
    /// `--auth sigv4`: the keys requests must be signed with.
    pub credentials: Option<Credentials>,
    /// Request metrics (`None` with `--no-metrics`).
    pub metrics: Option<crate::metrics::Metrics>,
}

impl App {
    /// Opens the store, restores what it holds, and builds the services.
    pub fn new(config: Config, local_addr: SocketAddr) -> Result<Self, String> {
        let credentials = match (config.auth, &config.credentials) {
            (AuthMode::SigV4, Some(path)) => Some(Credentials::load(path)?),
            (AuthMode::SigV4, None) => return Err("--auth sigv4 needs --credentials FILE".into()),
            (AuthMode::Open, _) => None,
        };
        let clock = Arc::new(Clock::new());
        if config.test_endpoints && config.test_clock_offset_ms > 0 {
            clock.advance_ms(config.test_clock_offset_ms);
        }
        let store: SharedStore = match config.storage_dir() {
            None => Arc::new(MemoryStore),
            Some(dir) => Arc::new(SledStore::open(&dir, config.durability)?),
        };
        let sqs = Arc::new(SqsService::new(
            clock.clone(),
            SqsOptions {
                strict_queue_recreate: config.strict_queue_recreate,
                in_flight_limit: config.in_flight_limit,
                max_queues: config.max_queues,
            },
            store.clone(),
        ));
        let sns = Arc::new(SnsService::new(
            clock.clone(),
            sqs.clone(),
            store.clone(),
            SnsLimits {
                max_topics: config.max_topics,
                max_subscriptions: config.max_subscriptions,
                http_concurrency: config.sns_http_concurrency,
                http_backlog: config.sns_http_backlog,
            },
        ));
        let lambda = LambdaService::new(
            clock.clone(),
            store.clone(),
            LambdaOptions {
                default_concurrency: config.lambda_concurrency,
                async_backlog: config.lambda_async_backlog,
                commands: config.lambda_command_map()?,
                code_root: crate::lambda::code_root(config.storage_dir().as_deref()),
                endpoint: format!("http://127.0.0.1:{}", local_addr.port()),
                handler_priority: config.lambda_priority,
                promotion: config.lambda_promotion,
                init_timeout: std::time::Duration::from_millis(config.lambda_init_timeout_ms),
                handler_keys: credentials.as_ref().map(|c| Arc::new(c.account_keys())),
            },
        );
        let event_sources = EventSources::new(sqs.clone(), clock.clone(), store.clone());
        let events = Arc::new(
            EventsService::new(
                clock.clone(),
                sqs.clone(),
                sns.clone(),
                lambda.clone(),
                store.clone(),
            )
            .with_replay_interval_ms(config.events_replay_interval_ms)
            .with_resource_policies(credentials.is_some()),
        );
        // Lambda's destinations and dead letters reach SQS, SNS and EventBridge through this
        // (connected before stored events are restored, which may need it at once).
        lambda.connect_destinations(Arc::new(crate::destinations::Destinations {
            sqs: sqs.clone(),
            sns: sns.clone(),
            events: events.clone(),
            host: format!("localhost:{}", local_addr.port()),
        }));
        if store.persistent() {
            let started = Instant::now();
            let (queues, messages) = sqs.restore()?;
            let (topics, subscriptions) = sns.restore()?;
            let (event_buses, rules) = events.restore()?;
            let functions = lambda.restore()?;
            let mappings = event_sources.restore()?;
            tracing::info!(
                dir = %config.storage_dir().unwrap_or_default().display(),
                queues,
                messages,
                topics,
                subscriptions,
                event_buses,
                rules,
                functions,
                mappings,
                millis = started.elapsed().as_millis() as u64,
                "restored state"
            );
        }
        // The SNS signing key is loaded, or generated and flushed, here at start-up (on the
        // blocking thread `App::start` runs this on), never inside a request. With a data
        // directory the key is ready before the first request is accepted: loading it takes
        // milliseconds, and generating it (~0.1 s) happens once per directory. In memory the key
        // is made at every start and never flushed, so start-up (a few ms) does not wait for
        // it: a thread of its own makes it, and a publish in the first ~0.1 s waits for that.
        if store.persistent() {
            let _ = sns.signer();
        }
        // A key that could not be stored (a full disk) is written again until it is, on that
        // thread too: start-up does not wait for room.
        if !store.persistent() || sns.signing_key_problem().is_some() {
            let sns = sns.clone();
            std::thread::Builder::new()
                .name("sns-signing-key".into())
                .spawn(move || {
                    let _ = sns.signer();
                    // A key that could not be stored is written again until it is.
                    sns.keep_signing_key();
                })
                .map_err(|e| format!("cannot start the signing-key thread: {e}"))?;
        }
        let default_host = format!("localhost:{}", local_addr.port());
        // Templates go on top of the restored state, before the first request is accepted (and
        // are applied again at every start, so their writes need no flush of their own).
        // Event sources invoke functions through the Lambda seam (connected before templates
        // are applied, so the mappings they create start polling at once).
        let runtime = Arc::new(LambdaRuntime(lambda.clone()));
        event_sources.connect(runtime.clone());
        sns.connect_lambda(runtime);
        let init_outputs = crate::template::provision(
            &config,
            &sqs,
            &sns,
            &lambda,
            &events,
            &event_sources,
            &default_host,
        )?;
        // One line per service and protocol. The query protocol tries its services in this
        // order when a request does not name one: SNS, last, takes whatever is left.
        let services = Services::default()
            .query(sqs.clone())
            .json(sqs.clone())
            .query(Arc::new(StsService))
            .query(sns.clone())
            .rest(event_sources.clone())
            .json(events.clone())
            .rest(lambda.clone());
        Ok(App {
            events,
            services,
            lambda,
            event_sources,
            sns,
            sqs,
            store,
            clock,
            started: Instant::now(),
            default_host,
            service_states: ServiceStates::default(),
            init_outputs,
            credentials,
            metrics: config.metrics.then(crate::metrics::Metrics::default),
            config,
        })
    }
}

impl App {
    /// `App::new` on a blocking thread: opening the store, restoring it and loading or
    /// generating the signing key all block.
    pub async fn start(config: Config, local_addr: SocketAddr) -> std::io::Result<App> {
        let app = tokio::task::spawn_blocking(move || App::new(config, local_addr))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        app.events.start();
        Ok(app)
    }
}

pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/_lyrebird/health", get(health))
        .route("/_localstack/health", get(localstack_health))
        .route("/_lyrebird/reset", post(reset))
        .route(
            "/_lyrebird/sns/deliveries",
            get(sns_deliveries).delete(clear_sns_deliveries),
        )
        .route("/_lyrebird/sns/opt-outs", post(sns_opt_out))
        .route(crate::sns::delivery::CERT_PATH, get(signing_certificate))
        .route("/_lyrebird/init/outputs", get(init_outputs))
        .route(
            "/_lyrebird/lambda/invocations",
            get(lambda_invocations).delete(clear_lambda_invocations),
        );
    if app.config.test_endpoints {
        router = router
            .route("/_lyrebird/clock/advance", post(advance_clock))
            .route("/_lyrebird/clock/wall", post(step_wall_clock))
            .route("/_lyrebird/panic", post(panic_on_request));
    }
    router = router.merge(crate::developer::routes());
    if app.config.metrics {
        router = router.route("/metrics", get(metrics));
    }
    if app.config.console {
        router = router.merge(crate::console::routes());
    }
    // After every route of lyrebird's own (a layer covers only the routes added before it);
    // AWS requests, the fallback, read their bodies and verify their signatures themselves.
    router = router.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        bounded_body,
    ));
    if app.credentials.is_some() {
        router = router.layer(axum::middleware::from_fn_with_state(
            app.clone(),
            console_token,
        ));
    }
    router.fallback(aws).with_state(app)
}

/// `--auth sigv4`: lyrebird's own endpoints (`/_lyrebird/*`, the LocalStack-style `/_aws/*` and
/// `/metrics`) answer only requests bearing the credentials file's console token
/// (`Authorization: Bearer <token>`). Open: the health reports, and the console's page, which
/// holds no data (its script sends the token with every call).
async fn console_token(
    State(app): State<Arc<App>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let own = path.starts_with("/_lyrebird/") || path.starts_with("/_aws/") || path == "/metrics";
    let open = !own
        || path == crate::health::HEALTH_PATH
        || path == "/_lyrebird/console"
        || path == "/_lyrebird/console/";
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let allowed = open
        || app
            .credentials
            .as_ref()
            .is_some_and(|c| c.console_token_matches(authorization));
    if allowed {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({
                "error": "this endpoint needs Authorization: Bearer <console_token of the credentials file>"
            })),
        )
            .into_response()
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests (long polls
/// are released at once).
///
/// Connections are served by hyper directly (rather than `axum::serve`) for the limits a
/// server facing untrusted clients needs: a request head must arrive within the header read
/// timeout (hyper starts that clock whenever the connection waits for a request, so it is also
/// the keep-alive idle timeout), and beyond `max_connections` a new connection is answered 503
/// `ServiceUnavailable` and closed rather than held.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = TowerToHyperService::new(router(app.clone()));
    let slots = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let header_timeout = Duration::from_millis(app.config.header_read_timeout_ms.max(1));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: the listener is fine, try again shortly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    app.event_sources.shutdown().await;
    app.sqs.close();
    app.lambda.stop_all();
    graceful.shutdown().await;
    // Everything acknowledged is already durable; this also keeps receive state.
    app.sqs.commit_all();
    let store = app.store.clone();
    let _ = tokio::task::spawn_blocking(move || store.flush()).await;
    Ok(())
}

/// Answers a connection over the cap with a 503 AWS error and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str = "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Too many connections; retry later.</Message></Error></ErrorResponse>";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// lyrebird's own endpoints read their request bodies under the same limits as AWS requests
/// (`read_body`), before their handlers' extractors see them: a client stalling or trickling a
/// body to the console or a developer endpoint is cut off too.
async fn bounded_body(
    State(app): State<Arc<App>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let stall = Duration::from_millis(app.config.header_read_timeout_ms.max(1));
    match read_body(body, stall).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => (
            StatusCode::from_u16(e.code.status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(serde_json::json!({ "error": e.code.query_code, "message": e.message })),
        )
            .into_response(),
    }
}

/// Reads a request body of at most `MAX_BODY_BYTES`. A client that sends nothing for `stall`
/// (the header read timeout), or has not sent it all within four times that, is answered
/// `RequestTimeout` and its connection closed: a body trickled a byte at a time must not hold
/// a connection slot and its buffer for ever.
async fn read_body(body: Body, stall: Duration) -> Result<bytes::Bytes, AwsError> {
    use http_body_util::BodyExt;
    let timed_out = || {
        AwsError::new(
            &codes::REQUEST_TIMEOUT,
            "Your socket connection to the server was not read from or written to within the timeout period.",
        )
    };
    let deadline = tokio::time::Instant::now() + stall * 4;
    let mut body = body;
    let mut read = bytes::BytesMut::new();
    loop {
        let wait = stall.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let frame = match tokio::time::timeout(wait, body.frame()).await {
            Err(_) => return Err(timed_out()),
            Ok(None) => return Ok(read.freeze()),
            Ok(Some(Err(_))) => return Err(timed_out()),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > MAX_BODY_BYTES {
                return Err(AwsError::new(
                    &codes::REQUEST_TOO_LARGE,
                    format!("Request body is larger than {MAX_BODY_BYTES} bytes."),
                ));
            }
            read.extend_from_slice(&data);
        }
    }
}

/// A server running in the background, for tests and embedding.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds `config.host:config.port` (port 0 picks a free one) and serves in a background task.
pub async fn spawn(config: Config) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::start(config, addr).await?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app.clone(), async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
    })
}

async fn aws(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let stall = Duration::from_millis(app.config.header_read_timeout_ms.max(1));
    let body = read_body(body, stall).await;
    let app = &*app;
    protocol::handle(
        app,
        &app.services,
        parts.method,
        parts.uri,
        parts.headers,
        body,
    )
    .await
}

/// What the protocol layer needs from the server.
impl Host for App {
    fn default_account(&self) -> &str {
        &self.config.account_id
    }

    fn default_region(&self) -> &str {
        &self.config.region
    }

    fn default_host(&self) -> &str {
        &self.default_host
    }

    fn unsettled_store(&self) -> Option<crate::store::SharedStore> {
        (!self.store.settled()).then(|| self.store.clone())
    }

    fn mark_used(&self, service: &'static str) {
        self.service_states.mark_used(service);
    }

    fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn observe(
        &self,
        operation: Option<(&'static str, &'static str)>,
        status: u16,
        elapsed: Duration,
    ) {
        if let Some(metrics) = &self.metrics {
            metrics.observe(operation, status, elapsed);
        }
    }
}

async fn health(State(app): State<Arc<App>>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "running",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": app.started.elapsed().as_secs(),
        "services": {
            "sqs": "running", "sns": "running", "sts": "running", "lambda": "running", "events": "running"
        },
        "storage": app.store.describe(),
        "queues": app.sqs.queue_count(),
        "topics": app.sns.topic_count(),
        // Failures the server is retrying in the background (issue 17: surfaced, not dropped).
        "problems": app.sns.signing_key_problem().into_iter().collect::<Vec<_>>(),
        "functions": app.lambda.function_count(),
        "event_buses": app.events.bus_count(),
    }))
}

/// Prometheus metrics (OpenMetrics text).
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let Some(metrics) = &app.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(&app),
    )
        .into_response()
}

/// Wipes all state in every account and region, so test suites can isolate tests.
async fn reset(State(app): State<Arc<App>>) -> Response {
    let mut tickets = app.sqs.reset();
    tickets.push(app.sns.reset());
    tickets.push(app.event_sources.reset());
    tickets.push(app.events.reset());
    tickets.push(app.lambda.reset());
    for ticket in tickets {
        if let Err(e) = ticket.durable().await {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reset could not be stored: {e}"),
            )
                .into_response();
        }
    }
    tracing::info!("state reset");
    Json(serde_json::json!({ "reset": true })).into_response()
}

/// What SNS would have sent to email, SMS, Lambda, Firehose and mobile endpoints. Filters:
/// `protocol`, `endpoint`, `topic_arn`, `subscription_arn`.
async fn sns_deliveries(
    State(app): State<Arc<App>>,
    axum::extract::Query(filter): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    Json(app.sns.deliveries().list(&filter))
}

/// Recent Lambda invocations, oldest first (`?function=NAME_OR_ARN` filters).
async fn lambda_invocations(
    State(app): State<Arc<App>>,
    axum::extract::Query(filter): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let function = filter.get("function").map(String::as_str);
    Json(serde_json::json!({ "Invocations": app.lambda.invocations().list(function) }))
}

async fn clear_lambda_invocations(State(app): State<Arc<App>>) -> impl IntoResponse {
    app.lambda.invocations().clear();
    Json(serde_json::json!({ "cleared": true }))
}

/// The `Outputs` of the templates applied at start-up, as CloudFormation's DescribeStacks
/// shapes them.
async fn init_outputs(State(app): State<Arc<App>>) -> impl IntoResponse {
    Json(serde_json::json!({ "Outputs": app.init_outputs }))
}

async fn clear_sns_deliveries(State(app): State<Arc<App>>) -> impl IntoResponse {
    app.sns.deliveries().clear();
    Json(serde_json::json!({ "cleared": true }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptOut {
    phone_number: String,
    account_id: Option<String>,
}

/// Puts a phone number on an account's SMS opt-out list, as its holder replying STOP would;
/// AWS has no API for this. The account defaults to the configured one.
async fn sns_opt_out(State(app): State<Arc<App>>, Json(opt_out): Json<OptOut>) -> Response {
    let account = opt_out
        .account_id
        .unwrap_or_else(|| app.config.account_id.clone());
    match app.sns.opt_out(&account, &opt_out.phone_number) {
        Ok(()) => Json(serde_json::json!({ "optedOut": opt_out.phone_number })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// The certificate SNS signatures verify against (`SigningCertURL`).
async fn signing_certificate(State(app): State<Arc<App>>) -> impl IntoResponse {
    let pem = app.sns.signer().certificate_pem().to_string();
    (
        [(http::header::CONTENT_TYPE, "application/x-pem-file")],
        pem,
    )
}

/// LocalStack's health report, for tools that wait on it. (`HEAD` is answered too, with 200, as
/// LocalStack does: axum routes HEAD to GET handlers and drops the body.)
async fn localstack_health(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        crate::health::localstack_report(&app.service_states, |service| match service {
            SqsService::NAME => app.sqs.queue_count() > 0,
            SnsService::NAME => app.sns.topic_count() > 0,
            LambdaService::NAME => app.lambda.function_count() > 0,
            EventsService::NAME => app.events.bus_count() > 0,
            _ => false,
        }),
    )
}

/// The most the test clock may be moved forward, in all.
const MAX_ADVANCE_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

#[derive(serde::Deserialize)]
struct Advance {
    seconds: f64,
}

/// Test-only: moves the service clock forward so timers fire without sleeping.
async fn advance_clock(State(app): State<Arc<App>>, Json(advance): Json<Advance>) -> Response {
    // Bounded (a century) so that clock arithmetic cannot overflow, however often it is called.
    if !(advance.seconds.is_finite() && (0.0..=MAX_ADVANCE_SECONDS).contains(&advance.seconds))
        || app.clock.offset_ms() > (MAX_ADVANCE_SECONDS * 1000.0) as u64
    {
        return (
            StatusCode::BAD_REQUEST,
            "seconds must be a non-negative number, at most a century in all",
        )
            .into_response();
    }
    app.clock.advance_ms((advance.seconds * 1000.0) as u64);
    app.sqs.wake_all();
    Json(serde_json::json!({ "offset_ms": app.clock.offset_ms() })).into_response()
}

/// Test-only: steps the wall-clock reading alone (`seconds` may be negative), as setting the
/// host's clock would; deadlines run on the monotonic service clock and must not notice.
async fn step_wall_clock(State(app): State<Arc<App>>, Json(step): Json<Advance>) -> Response {
    if !(step.seconds.is_finite() && step.seconds.abs() <= MAX_ADVANCE_SECONDS) {
        return (
            StatusCode::BAD_REQUEST,
            "seconds must be a number, at most a century either way",
        )
            .into_response();
    }
    app.clock.step_wall_ms((step.seconds * 1000.0) as i64);
    app.sqs.wake_all();
    Json(serde_json::json!({ "wall_step_ms": app.clock.wall_step_ms() })).into_response()
}

/// Test-only: panics inside a request, to show the panic policy (`panic_policy.rs`).
async fn panic_on_request() -> Response {
    panic!("panic requested through /_lyrebird/panic")
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.to_string()));
        *response.status_mut() =
            StatusCode::from_u16(self.code.status).unwrap_or(StatusCode::BAD_REQUEST);
        response
    }
}
