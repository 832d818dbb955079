//! Issue 17 item 4: the panic policy. A panic aborts the process, logged; a restart on the same
//! data directory keeps every acknowledged message (they were on disk before they were
//! acknowledged), so no state half-updated by the panic is ever served.

mod common;

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

#[tokio::test]
async fn a_panic_aborts_and_a_restart_keeps_every_acknowledged_message() {
    let dir = std::env::temp_dir().join(format!("lyrebird-panic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = [
        OsStr::new("--data-dir"),
        dir.as_os_str(),
        OsStr::new("--test-endpoints"),
    ];
    let mut server = common::process::start(&args, &[]).await;
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let url = common::create_queue(&sqs, "survives-a-panic", &[]).await;
    let mut sent: Vec<String> = Vec::new();
    for i in 0..20 {
        let body = format!("acknowledged {i}");
        common::send(&sqs, &url, &body).await;
        sent.push(body);
    }

    // A panic inside a request: no answer, and the process ends.
    let answer = common::http()
        .post(format!("{}/_lyrebird/panic", server.endpoint))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(answer.is_err(), "answered after a panic: {answer:?}");
    let mut status = None;
    for _ in 0..100 {
        status = server.child.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("the process carried on after a panic");
    assert_eq!(
        status.signal(),
        Some(6),
        "not aborted (SIGABRT): {status:?}"
    );
    let log = server.output.lock().unwrap().join("\n");
    assert!(
        log.contains("panicked; aborting") && log.contains("panic requested through"),
        "the panic was not logged:\n{log}"
    );
    drop(server);

    let server = common::process::start(&args, &[]).await;
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let url = sqs
        .get_queue_url()
        .queue_name("survives-a-panic")
        .send()
        .await
        .expect("the queue survives")
        .queue_url
        .unwrap();
    let mut kept = common::drain(&sqs, &url).await;
    kept.sort();
    sent.sort();
    assert_eq!(kept, sent, "acknowledged messages lost across the panic");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
