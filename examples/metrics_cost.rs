//! What `/metrics` adds to a request: the per-request recording (`Metrics::observe`, one
//! counter and one histogram update), its CPU time alone, on one thread and on two at once (the
//! project machine's two cores), for BENCHMARKS.md. Everything else `/metrics` reports is read
//! at scrape time. `cargo run --release --example metrics_cost`
use std::time::Duration;

use lyrebird::metrics::Metrics;

/// This thread's CPU time: on a loaded machine wall time would count the time it waited.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of `n` observations on this thread.
fn run(metrics: &Metrics, n: u64) -> Duration {
    let started = thread_cpu();
    for i in 0..n {
        metrics.observe(
            Some(("sqs", "SendMessage")),
            200,
            Duration::from_micros(100 + i % 900),
        );
    }
    thread_cpu() - started
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
            (a.join().unwrap() + b.join().unwrap()) / 2
        });
        println!(
            "observe: {:.0} ns of CPU per request on one thread, {:.0} ns with two threads at once",
            one.as_nanos() as f64 / n as f64,
            two.as_nanos() as f64 / n as f64
        );
    }
}
