//! The soak (issue 17 item 9): a steady mixed load — SendMessageBatch, SendMessage, Publish to a
//! topic with an SQS subscription, and consumers receiving and deleting from both queues — at a
//! fixed rate (by default half of the maximum this machine reaches with the same mix) for a long
//! time. Every `--soak-sample` seconds it prints the interval's throughput, p50/p99, errors, the
//! server's RSS and the queues' depth; at the end it checks: no errors, RSS drift after warm-up
//! within `--soak-max-drift`, p99 steady (the last third's median p99 at most 1.5x the first
//! third's, plus 1 ms), the queues not growing without bound.

use std::sync::Mutex;

use super::*;

/// One step of a worker's cycle.
#[derive(Clone, Copy)]
enum Step {
    SendBatch,
    Send,
    Publish,
    Consume,
    ConsumeFanned,
}

/// Per cycle: 11 messages into the queue and 1 through the topic; two receives of up to 10 from
/// the queue and one from the subscribed queue keep up with them.
const CYCLE: [Step; 6] = [
    Step::SendBatch,
    Step::Consume,
    Step::Send,
    Step::Publish,
    Step::Consume,
    Step::ConsumeFanned,
];

struct Target {
    queue: String,
    fanned: String,
    topic: String,
}

struct Interval {
    at: f64,
    rec: Recorder,
    rss_kib: Option<u64>,
    depth: Option<u64>,
}

/// Runs one step; records its latency (and messages) in `rec`.
async fn step(b: &Bench, t: &Target, s: Step, n: u64, rec: &Mutex<Recorder>) {
    let started = Instant::now();
    let result: Result<u64, ApiError> = async {
        match s {
            Step::SendBatch => {
                let body = b
                    .call(&b.send_batch_call(&t.queue, &batch_bodies(256)))
                    .await?;
                match b.batch_failures(&body)? {
                    0 => Ok(10),
                    failed => Err(ApiError::bad_response(format!("{failed} entries failed"))),
                }
            }
            Step::Send => b
                .call(&b.send_call(&t.queue, &make_body(256, n as usize)))
                .await
                .map(|_| 1),
            Step::Publish => b
                .call(&Bench::publish_call(
                    &t.topic,
                    &make_body(256, n as usize),
                    &[],
                ))
                .await
                .map(|_| 1),
            Step::Consume | Step::ConsumeFanned => {
                let url = if matches!(s, Step::Consume) {
                    &t.queue
                } else {
                    &t.fanned
                };
                let got = b.received(&b.call(&b.receive_call(url, 10, 0)).await?)?;
                if !got.is_empty() {
                    let handles: Vec<String> = got.iter().map(|m| m.handle.clone()).collect();
                    let body = b.call(&b.delete_batch_call(url, &handles)).await?;
                    if b.batch_failures(&body)? > 0 {
                        return Err(ApiError::bad_response("delete entries failed"));
                    }
                }
                Ok(got.len() as u64)
            }
        }
    }
    .await;
    let mut rec = rec.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(msgs) => rec.ok(started.elapsed(), msgs),
        Err(e) => rec.error(e),
    }
}

/// `workers` workers cycling through `CYCLE`, each paced to `rate / workers` calls a second (or
/// as fast as they can when `rate` is 0), until `stop`.
fn spawn_workers(
    b: &Bench,
    t: &Arc<Target>,
    workers: usize,
    rate: f64,
    rec: &Arc<Mutex<Recorder>>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (b, t, rec, stop) = (b.clone(), t.clone(), rec.clone(), stop.clone());
        set.spawn(async move {
            let mut pace = (rate > 0.0).then(|| {
                let mut i = tokio::time::interval(Duration::from_secs_f64(workers as f64 / rate));
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            });
            let mut n = w as u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
                step(&b, &t, CYCLE[n as usize % CYCLE.len()], n, &rec).await;
                n += workers as u64;
            }
        });
    }
    set
}

async fn depth(b: &Bench, url: &str) -> Option<u64> {
    let json = json!({ "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"] });
    let call = b.sqs("GetQueueAttributes", json, |f| {
        f.add("QueueUrl", url)
            .add("AttributeName.1", "ApproximateNumberOfMessages");
    });
    let body = b.call(&call).await.ok()?;
    let text = match b.protocol {
        Protocol::Json => serde_json::from_slice::<Value>(&body)
            .ok()?
            .pointer("/Attributes/ApproximateNumberOfMessages")?
            .as_str()?
            .to_owned(),
        Protocol::Query => {
            let xml = std::str::from_utf8(&body).ok()?;
            xml_first(xml.split("ApproximateNumberOfMessages").nth(1)?, "Value")?.to_owned()
        }
    };
    text.parse().ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub(super) async fn soak(ctx: &Ctx) -> Report {
    let args = &ctx.args;
    let what = format!(
        "mixed load for {:.0} s, {} workers",
        args.soak_seconds, args.connections
    );
    let b = &ctx.bench;
    let setup = async {
        let queue = b.create_queue(&b.name("soak"), &[]).await?;
        let fanned = b.create_queue(&b.name("soak-fanned"), &[]).await?;
        let topic = b.create_topic(&b.name("soak")).await?;
        b.subscribe_sqs(&topic, &b.queue_arn(&fanned).await?, None)
            .await?;
        Ok::<_, ApiError>(Target {
            queue,
            fanned,
            topic,
        })
    };
    let target = match setup.await {
        Ok(t) => Arc::new(t),
        Err(e) => return Report::failed("soak", &what, &e),
    };

    // The rate: given, or half of what the same mix reaches unpaced.
    let rate = if args.soak_rate > 0.0 {
        args.soak_rate
    } else {
        let rec = Arc::new(Mutex::new(Recorder::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut set = spawn_workers(b, &target, args.connections, 0.0, &rec, &stop);
        tokio::time::sleep(Duration::from_secs(5)).await;
        stop.store(true, Ordering::Relaxed);
        while set.join_next().await.is_some() {}
        let max = rec.lock().map(|r| r.ops).unwrap_or(0) as f64 / started.elapsed().as_secs_f64();
        eprintln!("soak: the mix reaches {max:.0} calls/s unpaced; soaking at half");
        // Let the consumers catch up before the timed part.
        for url in [&target.queue, &target.fanned] {
            while depth(b, url).await.unwrap_or(0) > 0 {
                let got = b
                    .call(&b.receive_call(url, 10, 0))
                    .await
                    .and_then(|body| b.received(&body))
                    .unwrap_or_default();
                let handles: Vec<String> = got.iter().map(|m| m.handle.clone()).collect();
                if !handles.is_empty() {
                    let _ = b.call(&b.delete_batch_call(url, &handles)).await;
                }
            }
        }
        max / 2.0
    };

    let rec = Arc::new(Mutex::new(Recorder::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut set = spawn_workers(b, &target, args.connections, rate, &rec, &stop);
    let mut intervals: Vec<Interval> = Vec::new();
    let mut total = Recorder::new();
    let sample = Duration::from_secs_f64(args.soak_sample);
    let duration = Duration::from_secs_f64(args.soak_seconds);
    eprintln!(
        "soak: {rate:.0} calls/s for {:.0} s",
        duration.as_secs_f64()
    );
    eprintln!("   t (s)   calls/s   p50 ms   p99 ms   max ms  errors   RSS MiB  depth");
    while started.elapsed() < duration {
        let left = duration.saturating_sub(started.elapsed());
        tokio::time::sleep(sample.min(left)).await;
        let taken = std::mem::replace(
            &mut *rec.lock().unwrap_or_else(|p| p.into_inner()),
            Recorder::new(),
        );
        let interval = Interval {
            at: started.elapsed().as_secs_f64(),
            rss_kib: ctx.probe.rss_kib(),
            depth: depth(b, &target.queue).await,
            rec: taken,
        };
        let secs = interval.at - intervals.last().map_or(0.0, |i| i.at);
        eprintln!(
            "{:>8.0} {:>9.0} {:>8} {:>8} {:>8} {:>7} {:>9} {:>6}",
            interval.at,
            interval.rec.ops as f64 / secs.max(1e-9),
            fmt_opt(interval.rec.quantile_ms(0.5), 2),
            fmt_opt(interval.rec.quantile_ms(0.99), 2),
            fmt_opt(interval.rec.max_ms(), 1),
            interval.rec.errors,
            interval
                .rss_kib
                .map_or_else(|| "-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            interval.depth.map_or_else(|| "-".into(), |d| d.to_string()),
        );
        for e in &interval.rec.first_errors {
            eprintln!("    error: {e}");
        }
        intervals.push(interval);
    }
    stop.store(true, Ordering::Relaxed);
    while set.join_next().await.is_some() {}
    let tail = std::mem::replace(
        &mut *rec.lock().unwrap_or_else(|p| p.into_inner()),
        Recorder::new(),
    );
    total.absorb_errors(&tail, "last calls");
    for i in &intervals {
        let mut copy = Recorder::new();
        copy.hist = i.rec.hist.clone();
        copy.ops = i.rec.ops;
        copy.msgs = i.rec.msgs;
        copy.errors = i.rec.errors;
        copy.first_errors = i.rec.first_errors.clone();
        total.merge(copy);
    }

    // The verdict. The first interval is warm-up (allocator pools, caches filling).
    let mut failures = Vec::new();
    if total.errors > 0 {
        failures.push(format!("{} errors", total.errors));
    }
    let steady = &intervals[intervals.len().min(1)..];
    let rss: Vec<u64> = steady.iter().filter_map(|i| i.rss_kib).collect();
    let drift = match (rss.first(), rss.last()) {
        (Some(&first), Some(&last)) if first > 0 => Some(last as f64 / first as f64 - 1.0),
        _ => None,
    };
    if let Some(d) = drift.filter(|d| *d > args.soak_max_drift) {
        failures.push(format!(
            "RSS drift {:.1} % > {:.0} %",
            d * 100.0,
            args.soak_max_drift * 100.0
        ));
    }
    let p99s: Vec<f64> = steady
        .iter()
        .filter_map(|i| i.rec.quantile_ms(0.99))
        .collect();
    let third = (p99s.len() / 3).max(1);
    let (early, late) = (
        median(p99s.iter().take(third).copied().collect()),
        median(p99s.iter().rev().take(third).copied().collect()),
    );
    if late > early * 1.5 + 1.0 {
        failures.push(format!(
            "p99 not steady: median {early:.2} ms in the first third, {late:.2} ms in the last"
        ));
    }
    let depths: Vec<u64> = steady.iter().filter_map(|i| i.depth).collect();
    if let (Some(first), Some(last)) = (depths.first(), depths.last()) {
        if *last > (*first).max(1000) * 2 {
            failures.push(format!("queue depth grew from {first} to {last}"));
        }
    }

    let mut r = Report::new("soak", what, started.elapsed(), total);
    r.notes.push(format!("{rate:.0} calls/s target"));
    if let Some(d) = drift {
        r.notes.push(format!("RSS drift {:+.1} %", d * 100.0));
    }
    r.notes
        .push(format!("p99 median {early:.2} ms early, {late:.2} ms late"));
    r.notes.push(if failures.is_empty() {
        "PASSED".to_owned()
    } else {
        format!("FAILED: {}", failures.join("; "))
    });
    r.extra.insert("soak_rate".into(), rate.into());
    r.extra.insert("soak_rss_drift".into(), drift.into());
    r.extra.insert("soak_p99_early_ms".into(), early.into());
    r.extra.insert("soak_p99_late_ms".into(), late.into());
    r.extra
        .insert("soak_passed".into(), failures.is_empty().into());
    r.extra.insert(
        "soak_samples".into(),
        intervals
            .iter()
            .map(|i| {
                json!({
                    "t_s": i.at,
                    "ops": i.rec.ops,
                    "p99_ms": i.rec.quantile_ms(0.99),
                    "errors": i.rec.errors,
                    "rss_kib": i.rss_kib,
                    "depth": i.depth,
                })
            })
            .collect::<Vec<_>>()
            .into(),
    );
    let _ = b.delete_queue(&target.queue).await;
    let _ = b.delete_queue(&target.fanned).await;
    let _ = b.delete_topic(&target.topic).await;
    r
}
