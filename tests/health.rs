//! Readiness: `/_lyrebird/health`, LocalStack's `/_localstack/health` (tools wait on its exact
//! bytes), and the `lyrebird healthcheck` command the Docker image's HEALTHCHECK runs.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;

async fn get(server: &lyrebird::RunningServer, path: &str) -> (u16, String, String) {
    let resp = http()
        .get(format!("{}{}", server.endpoint(), path))
        .send()
        .await
        .expect("health request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

fn localstack_body(sns: &str, sqs: &str, sts: &str) -> String {
    localstack_body_with_lambda("available", sns, sqs, sts)
}

fn localstack_body_with_lambda(lambda: &str, sns: &str, sqs: &str, sts: &str) -> String {
    localstack_body_with("available", lambda, sns, sqs, sts)
}

/// LocalStack lists its services in alphabetical order.
fn localstack_body_with(events: &str, lambda: &str, sns: &str, sqs: &str, sts: &str) -> String {
    format!(
        r#"{{"services": {{"events": "{events}", "lambda": "{lambda}", "sns": "{sns}", "sqs": "{sqs}", "sts": "{sts}"}}, "edition": "community", "version": "{}"}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

#[tokio::test]
async fn lyrebird_health_reports_version_uptime_services_and_storage() {
    let server = server().await;
    let (status, content_type, body) = get(&server, "/_lyrebird/health").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "running");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptime_seconds"].is_u64(), "{health}");
    assert_eq!(
        health["services"],
        serde_json::json!({"sqs": "running", "sns": "running", "sts": "running", "lambda": "running", "events": "running"})
    );
    assert_eq!(health["event_buses"], 0, "{health}");
    assert_eq!(health["storage"], "memory");
    server.stop().await;
}

#[tokio::test]
async fn head_is_answered_on_both_health_paths() {
    let server = server().await;
    for path in ["/_lyrebird/health", "/_localstack/health"] {
        let resp = http()
            .head(format!("{}{path}", server.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "HEAD {path}");
        assert_eq!(resp.text().await.unwrap(), "", "HEAD {path} has no body");
    }
    server.stop().await;
}

/// LocalStack serializes with Python's `json.dumps` and loads services lazily: `available`
/// until a service's first request, `running` after. Both words are grepped for in the wild.
#[tokio::test]
async fn localstack_health_has_localstacks_bytes_and_service_states() {
    let server = server().await;
    let (status, content_type, body) = get(&server, "/_localstack/health").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, localstack_body("available", "available", "available"));

    sqs(&server).list_queues().send().await.unwrap();
    let (_, _, body) = get(&server, "/_localstack/health").await;
    assert_eq!(body, localstack_body("available", "running", "available"));
    assert!(body.contains(r#""sqs": "running""#));

    sns(&server).list_topics().send().await.unwrap();
    let (status, _) = query(
        &server,
        "/",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, body) = get(&server, "/_localstack/health").await;
    assert_eq!(body, localstack_body("running", "running", "running"));

    // Lambda's ListFunctions (REST-JSON).
    let (status, _, _) = get(&server, "/2015-03-31/functions").await;
    assert_eq!(status, 200);
    let (_, _, body) = get(&server, "/_localstack/health").await;
    assert_eq!(
        body,
        localstack_body_with_lambda("running", "running", "running", "running")
    );

    // EventBridge (AWS JSON 1.1): its first request makes it running, like the others.
    common::events::events(&server)
        .list_event_buses()
        .send()
        .await
        .unwrap();
    let (_, _, body) = get(&server, "/_localstack/health").await;
    assert_eq!(
        body,
        localstack_body_with("running", "running", "running", "running", "running")
    );
    let (_, _, body) = get(&server, "/_lyrebird/health").await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["event_buses"], 1, "the default bus: {health}");
    server.stop().await;
}

/// The real binary on `dir`, killed when dropped.
struct Process(std::process::Child, String);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_on(dir: &std::path::Path) -> Process {
    let port = common::process::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("lyrebird starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http()
        .get(format!("{endpoint}/_lyrebird/health"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "lyrebird did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Process(child, endpoint)
}

/// Restored state (or queues from a template) means the service is in use, as LocalStack's
/// would be after its init scripts ran.
#[tokio::test]
async fn localstack_health_counts_restored_state_as_running() {
    let dir = std::env::temp_dir().join(format!("lyrebird-health-{}", uuid::Uuid::new_v4()));
    let first = start_on(&dir).await;
    let (status, _) = query_at(
        &first.1,
        &[
            ("Action", "CreateQueue"),
            ("Version", "2012-11-05"),
            ("QueueName", "kept"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    drop(first);

    let second = start_on(&dir).await;
    let body = http()
        .get(format!("{}/_localstack/health", second.1))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, localstack_body("available", "running", "available"));
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn query_at(endpoint: &str, params: &[(&str, &str)]) -> (u16, String) {
    let resp = http()
        .post(endpoint)
        .form(params)
        .send()
        .await
        .expect("query request");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lyrebird"));
    command
        .env_remove("LYREBIRD_HOST")
        .env_remove("LYREBIRD_PORT")
        .env_remove("LYREBIRD_ADDR_FILE");
    command
        .args(args)
        .arg("healthcheck")
        .envs(env.iter().copied());
    let output = command.output().await.expect("lyrebird runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn healthcheck_command_succeeds_against_a_running_server() {
    let server = server().await;
    let port = server.addr.port().to_string();

    let (ok, out) = healthcheck(&["--port", &port], &[]).await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "healthy: HTTP/1.1 200 OK");

    // Inside the container the server binds 0.0.0.0 and the probe goes to loopback.
    let (ok, out) = healthcheck(
        &[],
        &[("LYREBIRD_HOST", "0.0.0.0"), ("LYREBIRD_PORT", &port)],
    )
    .await;
    assert!(ok, "{out}");
    server.stop().await;
}

#[tokio::test]
async fn healthcheck_command_fails_when_nothing_listens() {
    let port = common::process::free_port().to_string();
    let started = Instant::now();
    let (ok, out) = healthcheck(&["--host", "127.0.0.1", "--port", &port], &[]).await;
    assert!(!ok, "{out}");
    assert!(out.starts_with("unhealthy: "), "{out}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The Docker image's case: the HEALTHCHECK sees only the image's environment
/// (LYREBIRD_PORT=4566), while the server was started with `--port`. With LYREBIRD_ADDR_FILE the
/// server says where it really listens, and the probe goes there.
#[tokio::test]
async fn healthcheck_follows_a_port_given_on_the_command_line() {
    let dir = std::env::temp_dir().join(format!("lyrebird-addr-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr_file = dir.join("lyrebird.addr");
    let addr_file = addr_file.to_str().unwrap();
    // Where the environment says the server is, and nothing listens.
    let env_port = common::process::free_port().to_string();
    let env = [
        ("LYREBIRD_PORT", env_port.as_str()),
        ("LYREBIRD_ADDR_FILE", addr_file),
    ];
    // `--port 0` on the command line, as `docker run lyrebird --port 4568` would pass it.
    let server = common::process::start(&["--in-memory"], &env).await;
    let real_port = server.endpoint.rsplit(':').next().unwrap().to_string();
    assert_ne!(real_port, env_port);
    assert_eq!(
        std::fs::read_to_string(addr_file).unwrap().trim(),
        server.endpoint.trim_start_matches("http://")
    );

    let (ok, out) = healthcheck(&[], &env).await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "healthy: HTTP/1.1 200 OK");

    // A clean stop removes the file, so the probe no longer finds a server.
    let mut server = server;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.child.wait().unwrap().success());
    assert!(!std::path::Path::new(addr_file).exists());
    let (ok, out) = healthcheck(&[], &env).await;
    assert!(!ok, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that holds no address is reported, not probed or panicked on.
#[tokio::test]
async fn healthcheck_reports_an_unreadable_addr_file() {
    let dir = std::env::temp_dir().join(format!("lyrebird-bad-addr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr_file = dir.join("lyrebird.addr");
    std::fs::write(&addr_file, "not an address\n").unwrap();
    let (ok, out) = healthcheck(&[], &[("LYREBIRD_ADDR_FILE", addr_file.to_str().unwrap())]).await;
    assert!(!ok, "{out}");
    assert!(
        out.starts_with("unhealthy: ") && out.contains("not an address"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-connection TCP server that answers `reply` (or nothing at all) and holds the line.
fn fake_server(reply: Option<&'static str>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        if let Some(reply) = reply {
            let _ = stream.write_all(reply.as_bytes());
        }
        std::thread::sleep(Duration::from_secs(1));
    });
    port
}

#[test]
fn probe_rejects_other_statuses() {
    let port = fake_server(Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
    ));
    let err = lyrebird::health::probe("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
    assert!(err.contains("503 Service Unavailable"), "{err}");
}

#[test]
fn probe_gives_up_on_a_silent_server_at_its_deadline() {
    let port = fake_server(None);
    let started = Instant::now();
    let err = lyrebird::health::probe("0.0.0.0", port, Duration::from_millis(300)).unwrap_err();
    assert!(err.ends_with("timed out"), "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(900),
        "{waited:?}"
    );
}
