//! Prometheus metrics at `/metrics` (OpenMetrics text, with `prometheus-client`).
//!
//! Two kinds, by cost:
//! - Requests by service, operation and status, with a latency histogram per service and
//!   operation: recorded once per request by the protocol layer (`Host::observe`); the labels are
//!   the operation tables' static names, so they are bounded by construction.
//! - Everything per queue, topic, rule, bus, function and store is read at scrape time from
//!   counters the services keep anyway (queue counts and `Stats` under the queue's lock, the
//!   relaxed atomics of topics, rules, buses and functions — `events::stats`, `lambda::stats` —
//!   and the store writer's histograms): a message, event or invocation pays a few atomic
//!   additions at most.
//!
//! Label cardinality: queues, topics, buses and functions are labelled by account, region and
//! name, rules by account, region, bus and name; at most `MAX_LABELLED` of each kind (in a
//! fixed order, so the same ones from scrape to scrape); `lyrebird_sqs_queues`,
//! `lyrebird_sns_topics`, `lyrebird_events_rules` and `lyrebird_lambda_functions` count them
//! all.

use std::fmt::Write;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::events::stats::{read, BusStats, RuleRow, RuleStats};
use crate::lambda::stats::{DurationSnapshot, FunctionStats};
use crate::server::App;
use crate::sns::topics::PROTOCOLS;
use crate::sqs::queue::Gauges;

/// Queues (and topics) labelled at most; beyond it they are counted, not labelled.
pub const MAX_LABELLED: usize = 1000;

type Operation = [(&'static str, &'static str); 2];
type Status = [(&'static str, u16); 1];
/// account, region and queue (or topic) name.
type ResourceLabels = [(&'static str, String); 3];
/// account, region, bus and rule name.
type RuleLabels = [(&'static str, String); 4];

/// Label sets a thread keeps handles for, at most.
const HANDLE_CACHE: usize = 128;

/// One cached label set's metrics (see `Metrics::handles`).
struct Handle {
    /// The `Metrics` they belong to (several servers may share a process).
    owner: u64,
    service: &'static str,
    operation: &'static str,
    status: u16,
    counter: Counter,
    histogram: Histogram,
}

thread_local! {
    static HANDLES: std::cell::RefCell<Vec<Handle>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The request metrics, shared by every request.
#[derive(Debug)]
pub struct Metrics {
    /// Tells this server's cached handles from another's (`with_handles`).
    id: u64,
    requests: Family<(Operation, Status), Counter>,
    latency: Family<Operation, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 16))
            }),
        }
    }
}

impl Metrics {
    /// One request's outcome. `None`: a request no service took (malformed, unknown action).
    pub fn observe(
        &self,
        operation: Option<(&'static str, &'static str)>,
        status: u16,
        elapsed: Duration,
    ) {
        let (service, operation) = operation.unwrap_or(("unknown", "unknown"));
        self.with_handles(service, operation, status, |counter, histogram| {
            counter.inc();
            histogram.observe(elapsed.as_secs_f64());
        });
    }

    /// Runs `record` on the counter and histogram of a label set, from this thread's cache:
    /// the families' lookups (a shared lock and a hash of the labels) are paid once per thread
    /// and label set, not per request, and no reference count is touched. Names are compared by
    /// address: they are the operation tables' statics.
    fn with_handles(
        &self,
        service: &'static str,
        operation: &'static str,
        status: u16,
        record: impl FnOnce(&Counter, &Histogram),
    ) {
        HANDLES.with(|cache| {
            let mut cache = cache.borrow_mut();
            let hit = cache.iter().position(|h| {
                h.owner == self.id
                    && h.status == status
                    && std::ptr::eq(h.service, service)
                    && std::ptr::eq(h.operation, operation)
            });
            let at = match hit {
                Some(at) => at,
                None => {
                    let op = [("service", service), ("operation", operation)];
                    let counter = self
                        .requests
                        .get_or_create(&(op, [("status", status)]))
                        .clone();
                    let histogram = self.latency.get_or_create(&op).clone();
                    // Bounded: servers come and go in tests; a full cache starts again.
                    if cache.len() >= HANDLE_CACHE {
                        cache.clear();
                    }
                    cache.push(Handle {
                        owner: self.id,
                        service,
                        operation,
                        status,
                        counter,
                        histogram,
                    });
                    cache.len() - 1
                }
            };
            record(&cache[at].counter, &cache[at].histogram);
        })
    }

    /// The whole exposition: request metrics, then what the services hold now.
    pub fn render(&self, app: &App) -> String {
        let mut registry = Registry::with_prefix("lyrebird");
        registry.register(
            "requests",
            "API requests by service, operation and HTTP status",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "API request latency by service and operation",
            Unit::Seconds,
            self.latency.clone(),
        );
        if let Some(store) = app.store.metrics() {
            registry.register_with_unit(
                "store_flush_duration",
                "Time one group-commit flush to disk took",
                Unit::Seconds,
                store.flush_seconds.clone(),
            );
            registry.register(
                "store_group_commit_jobs",
                "Requests' writes committed together by one flush",
                store.batch_jobs.clone(),
            );
        }
        registry.register_collector(Box::new(Snapshot::take(app)));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# metrics could not be encoded");
        }
        out
    }
}

/// Queue and topic values read at scrape time.
#[derive(Debug)]
struct Snapshot {
    queues: Vec<(ResourceLabels, Gauges, f64)>,
    queue_total: usize,
    topics: Vec<(ResourceLabels, TopicValues)>,
    topic_total: usize,
    rules: Vec<(RuleLabels, RuleRow)>,
    rule_total: usize,
    buses: Vec<(ResourceLabels, std::sync::Arc<BusStats>)>,
    functions: Vec<(ResourceLabels, std::sync::Arc<FunctionStats>)>,
    function_total: usize,
}

#[derive(Debug)]
struct TopicValues {
    published: u64,
    delivered: [u64; PROTOCOLS.len()],
    failed: [u64; PROTOCOLS.len()],
}

impl Snapshot {
    fn take(app: &App) -> Self {
        let now = app.sqs.clock_ms();
        let queues = app
            .sqs
            .queues_sorted(MAX_LABELLED)
            .iter()
            .map(|q| {
                let gauges = q.gauges(now);
                let age = gauges
                    .oldest_sent_ms
                    .map_or(0.0, |s| now.saturating_sub(s) as f64 / 1000.0);
                let labels = [
                    ("account", q.account.clone()),
                    ("region", q.region.clone()),
                    ("queue", q.name.clone()),
                ];
                (labels, gauges, age)
            })
            .collect();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let topics = app
            .sns
            .topics_sorted(MAX_LABELLED)
            .iter()
            .map(|t| {
                let labels = [
                    ("account", t.account.clone()),
                    ("region", t.region.clone()),
                    ("topic", t.name.clone()),
                ];
                let values = TopicValues {
                    published: load(&t.stats.published),
                    delivered: std::array::from_fn(|i| load(&t.stats.delivered[i])),
                    failed: std::array::from_fn(|i| load(&t.stats.failed[i])),
                };
                (labels, values)
            })
            .collect();
        let rules = app
            .events
            .rule_stats(MAX_LABELLED)
            .into_iter()
            .map(|r| {
                let labels = [
                    ("account", r.account.clone()),
                    ("region", r.region.clone()),
                    ("bus", r.bus.clone()),
                    ("rule", r.rule.clone()),
                ];
                (labels, r)
            })
            .collect();
        let buses = app
            .events
            .bus_stats(MAX_LABELLED)
            .into_iter()
            .map(|((account, region, bus), stats)| {
                (
                    [("account", account), ("region", region), ("bus", bus)],
                    stats,
                )
            })
            .collect();
        let functions = app
            .lambda
            .function_stats(MAX_LABELLED)
            .into_iter()
            .map(|(f, stats)| {
                let labels = [
                    ("account", f.account.clone()),
                    ("region", f.region.clone()),
                    ("function", f.name.clone()),
                ];
                (labels, stats)
            })
            .collect();
        Snapshot {
            queues,
            queue_total: app.sqs.queue_count(),
            topics,
            topic_total: app.sns.topic_count(),
            rules,
            rule_total: app.events.rule_count(),
            buses,
            functions,
            function_total: app.lambda.function_count(),
        }
    }
}

/// Writes one gauge or counter family, one sample per labelled resource.
fn family<L, T: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl Iterator<Item = (L, T)>,
) -> Result<(), std::fmt::Error>
where
    L: prometheus_client::encoding::EncodeLabelSet,
{
    let mut rows = rows.peekable();
    let Some((_, first)) = rows.peek() else {
        return Ok(());
    };
    let mut metric = encoder.encode_descriptor(name, help, unit, first.metric_type())?;
    for (labels, value) in rows {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        ConstGauge::new(self.queue_total as i64).encode(e.encode_descriptor(
            "sqs_queues",
            "Queues in every account and region",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?)?;
        let q = || self.queues.iter();
        let gauge = |v: usize| ConstGauge::new(v as i64);
        family(
            e,
            "sqs_messages_visible",
            "Messages available to receive",
            None,
            q().map(|(l, g, _)| (&l[..], gauge(g.counts.visible))),
        )?;
        family(
            e,
            "sqs_messages_in_flight",
            "Messages received and not yet deleted or visible again",
            None,
            q().map(|(l, g, _)| (&l[..], gauge(g.counts.in_flight))),
        )?;
        family(
            e,
            "sqs_messages_delayed",
            "Messages not yet visible because of a delay",
            None,
            q().map(|(l, g, _)| (&l[..], gauge(g.counts.delayed))),
        )?;
        family(
            e,
            "sqs_oldest_message_age",
            "Age of the oldest message (0 when empty)",
            Some(&Unit::Seconds),
            q().map(|(l, _, age)| (&l[..], ConstGauge::new(*age))),
        )?;
        let counter = ConstCounter::new;
        family(
            e,
            "sqs_messages_sent",
            "Messages enqueued (sends, SNS deliveries, moves in) since start-up",
            None,
            q().map(|(l, g, _)| (&l[..], counter(g.stats.sent))),
        )?;
        family(
            e,
            "sqs_messages_received",
            "Message receives since start-up",
            None,
            q().map(|(l, g, _)| (&l[..], counter(g.stats.received))),
        )?;
        family(
            e,
            "sqs_messages_deleted",
            "Messages deleted since start-up",
            None,
            q().map(|(l, g, _)| (&l[..], counter(g.stats.deleted))),
        )?;
        family(
            e,
            "sqs_messages_moved_to_dead_letter_queue",
            "Messages moved to the dead-letter queue since start-up",
            None,
            q().map(|(l, g, _)| (&l[..], counter(g.stats.moved_to_dead_letter))),
        )?;
        family(
            e,
            "sqs_messages_expired",
            "Messages dropped at the end of the retention period since start-up",
            None,
            q().map(|(l, g, _)| (&l[..], counter(g.stats.expired))),
        )?;

        ConstGauge::new(self.topic_total as i64).encode(e.encode_descriptor(
            "sns_topics",
            "Topics in every account and region",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?)?;
        let t = || self.topics.iter();
        family(
            e,
            "sns_messages_published",
            "Messages published to the topic since start-up",
            None,
            t().map(|(l, v)| (&l[..], counter(v.published))),
        )?;
        let by_protocol = |pick: fn(&TopicValues) -> &[u64; PROTOCOLS.len()]| {
            t().flat_map(move |(l, v)| {
                PROTOCOLS
                    .iter()
                    .zip(pick(v))
                    .filter(|(_, n)| **n > 0)
                    .map(move |(p, n)| ((&l[..], [("protocol", *p)]), counter(*n)))
            })
        };
        family(
            e,
            "sns_messages_delivered",
            "Deliveries by protocol since start-up",
            None,
            by_protocol(|v| &v.delivered),
        )?;
        family(
            e,
            "sns_messages_failed",
            "Failed deliveries by protocol since start-up",
            None,
            by_protocol(|v| &v.failed),
        )?;
        self.encode_events(e)?;
        self.encode_lambda(e)
    }
}

impl Snapshot {
    /// Per rule (CloudWatch's MatchedEvents, Invocations, FailedInvocations,
    /// InvocationsSentToDlq, InvocationsFailedToBeSentToDlq, RetryInvocationAttempts) and
    /// PutEvents entries per bus.
    fn encode_events(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        total(e, "events_rules", "Rules on every bus", self.rule_total)?;
        self.per_rule(
            e,
            "events_rule_matched_events",
            "Events the rule matched since start-up (MatchedEvents)",
            |r| &r.matched_events,
        )?;
        self.per_rule(
            e,
            "events_rule_invocations",
            "Target invocations, successful or not, since start-up (Invocations)",
            |r| &r.invocations,
        )?;
        self.per_rule(
            e,
            "events_rule_failed_invocations",
            "Target invocations that failed for good since start-up (FailedInvocations)",
            |r| &r.failed_invocations,
        )?;
        self.per_rule(
            e,
            "events_rule_invocations_sent_to_dlq",
            "Failed invocations sent to the target's dead-letter queue (InvocationsSentToDlq)",
            |r| &r.sent_to_dlq,
        )?;
        self.per_rule(
            e,
            "events_rule_invocations_failed_to_be_sent_to_dlq",
            "Failed invocations the dead-letter queue refused (InvocationsFailedToBeSentToDlq)",
            |r| &r.dlq_failed,
        )?;
        self.per_rule(
            e,
            "events_rule_retry_invocation_attempts",
            "Retries of target invocations since start-up (RetryInvocationAttempts)",
            |r| &r.retry_attempts,
        )?;
        let entries = self.buses.iter().flat_map(|(l, s)| {
            [
                ("accepted", read(&s.entries_accepted)),
                ("failed", read(&s.entries_failed)),
            ]
            .map(|(outcome, n)| ((&l[..], [("outcome", outcome)]), ConstCounter::new(n)))
        });
        family(
            e,
            "events_put_events_entries",
            "PutEvents entries by bus and outcome (accepted or failed) since start-up",
            None,
            entries,
        )
    }

    /// One counter of every labelled rule.
    fn per_rule(
        &self,
        e: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        pick: fn(&RuleStats) -> &AtomicU64,
    ) -> Result<(), std::fmt::Error> {
        let rows = self.rules.iter();
        let rows = rows.map(|(l, r)| (&l[..], ConstCounter::new(read(pick(&r.stats)))));
        family(e, name, help, None, rows)
    }

    /// Per function: CloudWatch's Invocations, Errors, Throttles, Duration and
    /// ConcurrentExecutions.
    fn encode_lambda(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        total(
            e,
            "lambda_functions",
            "Functions in every account and region",
            self.function_total,
        )?;
        let f = || self.functions.iter();
        let counter = |v: &AtomicU64| ConstCounter::new(read(v));
        family(
            e,
            "lambda_invocations",
            "Invocations that ran, successful or not, since start-up (Invocations)",
            None,
            f().map(|(l, s)| (&l[..], counter(&s.invocations))),
        )?;
        family(
            e,
            "lambda_errors",
            "Invocations that ended in a function error since start-up (Errors)",
            None,
            f().map(|(l, s)| (&l[..], counter(&s.errors))),
        )?;
        family(
            e,
            "lambda_throttles",
            "Invocation requests throttled since start-up (Throttles)",
            None,
            f().map(|(l, s)| (&l[..], counter(&s.throttles))),
        )?;
        family(
            e,
            "lambda_concurrent_executions",
            "Invocations running now (ConcurrentExecutions)",
            None,
            f().map(|(l, s)| (&l[..], ConstGauge::new(read(&s.concurrent) as i64))),
        )?;
        family(
            e,
            "lambda_duration",
            "How long invocations ran (Duration)",
            Some(&Unit::Seconds),
            f().map(|(l, s)| (&l[..], Durations(s.durations()))),
        )
    }
}

/// A count of every resource of a kind, labelled or not.
fn total(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    n: usize,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(n as i64).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A function's duration histogram as read at scrape time.
#[derive(Debug)]
struct Durations(DurationSnapshot);

impl EncodeMetric for Durations {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(
            self.0.sum_seconds,
            self.0.count,
            &self.0.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
