//! What `/metrics` adds to a request: the per-request recording (`Metrics::observe`, one
//! counter and one histogram update), timed alone, on one thread and on two at once (the
//! project machine's two cores), for BENCHMARKS.md. Everything else `/metrics` reports is read
//! at scrape time. `cargo run --release --example metrics_cost`
use std::time::{Duration, Instant};

use lyrebird::metrics::Metrics;

fn run(metrics: &Metrics, n: u64) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        metrics.observe(
            Some(("sqs", "SendMessage")),
            200,
            Duration::from_micros(100 + i % 900),
        );
    }
    started.elapsed()
}

fn main() {
    let metrics = Metrics::default();
    let n = 5_000_000;
    run(&metrics, n / 10);
    for _ in 0..3 {
        let one = run(&metrics, n);
        let two = std::thread::scope(|s| {
            let a = s.spawn(|| run(&metrics, n));
            let b = s.spawn(|| run(&metrics, n));
            a.join().unwrap().max(b.join().unwrap())
        });
        println!(
            "observe: {:.0} ns/request on one thread, {:.0} ns/request with two threads at once",
            one.as_nanos() as f64 / n as f64,
            two.as_nanos() as f64 / n as f64
        );
    }
}
