//! Readiness: lyrebird's own health report, the same facts in LocalStack's shape (so scripts that
//! wait on `/_localstack/health` keep working), and the `lyrebird healthcheck` probe that Docker's
//! `HEALTHCHECK` runs (plain std TCP, so the image needs no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The path `lyrebird healthcheck` probes.
pub const HEALTH_PATH: &str = "/_lyrebird/health";

/// Which services have been asked something, by `Service::NAME`. LocalStack loads a service on
/// its first request and reports it `available` before and `running` after; scripts wait for
/// either word.
#[derive(Debug, Default)]
pub struct ServiceStates {
    events: AtomicBool,
    lambda: AtomicBool,
    sqs: AtomicBool,
    sns: AtomicBool,
    sts: AtomicBool,
}

impl ServiceStates {
    /// Records a request for the service named `service` (names LocalStack does not report
    /// are ignored).
    pub fn mark_used(&self, service: &str) {
        if let Some(flag) = self.flag(service) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    fn used(&self, service: &str) -> bool {
        self.flag(service)
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    fn flag(&self, service: &str) -> Option<&AtomicBool> {
        match service {
            "events" => Some(&self.events),
            "lambda" => Some(&self.lambda),
            "sqs" => Some(&self.sqs),
            "sns" => Some(&self.sns),
            "sts" => Some(&self.sts),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct LocalStackHealth {
    services: LocalStackServices,
    edition: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct LocalStackServices {
    events: &'static str,
    lambda: &'static str,
    sns: &'static str,
    sqs: &'static str,
    sts: &'static str,
}

/// `GET /_localstack/health`, byte for byte as LocalStack writes it: Python's `json.dumps`
/// spacing (`", "`, `": "`), because wait loops grep for `"sqs": "running"`. A service holding
/// state (restored, or created from a template) counts as running, as LocalStack's would after
/// its init scripts; `holds_state` says which do (by `Service::NAME`).
pub fn localstack_report(states: &ServiceStates, holds_state: impl Fn(&str) -> bool) -> String {
    let state = |service: &str| {
        if states.used(service) || holds_state(service) {
            "running"
        } else {
            "available"
        }
    };
    let report = LocalStackHealth {
        services: LocalStackServices {
            events: state("events"),
            lambda: state("lambda"),
            sns: state("sns"),
            sqs: state("sqs"),
            sts: state("sts"),
        },
        edition: "community",
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonSpacing);
    report
        .serialize(&mut serializer)
        .expect("serializing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output with Python's default separators.
struct PythonSpacing;

impl serde_json::ser::Formatter for PythonSpacing {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_array_value(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Records where the server listens for `lyrebird healthcheck --addr-file`: written to a
/// temporary name and renamed, so a probe never reads half an address.
pub fn write_addr_file(path: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, path)
}

/// The address a running server wrote with [`write_addr_file`]; `None` when there is no file
/// (no server has started, or it stopped cleanly), so the caller falls back to --host/--port.
pub fn read_addr_file(path: &Path) -> Result<Option<SocketAddr>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| format!("{}: not an address ({e}): {text:?}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Asks the lyrebird at `host:port` for its health within `timeout`; `Ok` carries the status
/// line of a 200 answer. A wildcard bind address (`0.0.0.0`, `::`) is probed on loopback.
pub fn probe(host: &str, port: u16, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let host = match host.trim_start_matches('[').trim_end_matches(']') {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        other => other,
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last_error = format!("{host} has no address");
    for addr in addrs {
        match ask(addr, deadline) {
            Ok(status) => return Ok(status),
            Err(e) => last_error = format!("http://{addr}{HEALTH_PATH}: {e}"),
        }
    }
    Err(last_error)
}

fn ask(addr: SocketAddr, deadline: Instant) -> Result<String, String> {
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "timed out".to_string())
    };
    let mut stream = TcpStream::connect_timeout(&addr, remaining()?).map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(remaining()?))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET {HEALTH_PATH} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // Only the status line matters.
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => return Err("connection closed before a response".into()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err("timed out".into())
            }
            Err(e) => return Err(e.to_string()),
        }
        if head.len() > 4096 {
            return Err("no HTTP status line".into());
        }
    }
    let end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let status_line = String::from_utf8_lossy(&head[..end]).into_owned();
    match status_line.split(' ').nth(1) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(status_line),
        _ => Err(format!("answered {status_line:?}")),
    }
}
