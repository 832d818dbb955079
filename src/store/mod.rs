//! Storage: durability, not AWS. The services keep their hot state in memory and describe every
//! change to it as key/value `Change`s in a few `Space`s; a `Store` makes them durable and gives
//! them back at start-up. `memory` keeps nothing (throw-away runs, CI); `sled` keeps everything,
//! with group commit so concurrent requests share one flush.

pub mod memory;
pub mod sled;

use std::sync::Arc;

use tokio::sync::oneshot;

/// Bump when the on-disk layout changes incompatibly. Opening a directory of an older format
/// marks it with this one (older versions then refuse it rather than misread it), so every
/// later lyrebird must still read what the older formats wrote.
///
/// 1: JSON records everywhere. 2: binary message records (`sqs::record`); format 1 message
/// records still read.
pub const FORMAT_VERSION: u32 = 2;

/// A family of records, each its own keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    Queues,
    Messages,
    Deduplication,
    Topics,
    Subscriptions,
    Meta,
    /// FIFO topics' deduplication window: `topic ARN \0 key` → (expiry, message id, sequence).
    TopicDeduplication,
    /// EventBridge buses, rules, archives, replays, connections, API destinations.
    Events,
    /// Events kept by EventBridge archives: `archive ARN \0 time \0 id` → event.
    ArchivedEvents,
    /// Lambda functions: `account/region/name` → the function's configuration (JSON).
    LambdaFunctions,
    /// Accepted asynchronous (Event) invocations not yet finished: `function key/uuid` → JSON.
    LambdaEvents,
    /// Lambda event source mappings: UUID → configuration.
    EventSourceMappings,
    /// Lambda asynchronous invocation settings: `account/region/name` → JSON.
    LambdaEventInvokeConfigs,
}

impl Space {
    pub const ALL: [Space; 13] = [
        Space::Queues,
        Space::Messages,
        Space::Deduplication,
        Space::Topics,
        Space::Subscriptions,
        Space::Meta,
        Space::TopicDeduplication,
        Space::Events,
        Space::ArchivedEvents,
        Space::LambdaFunctions,
        Space::LambdaEvents,
        Space::EventSourceMappings,
        Space::LambdaEventInvokeConfigs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Space::Queues => "queues",
            Space::Messages => "messages",
            Space::Deduplication => "deduplication",
            Space::Topics => "topics",
            Space::Subscriptions => "subscriptions",
            Space::Meta => "meta",
            Space::TopicDeduplication => "topic_deduplication",
            Space::Events => "events",
            Space::ArchivedEvents => "archived_events",
            Space::LambdaFunctions => "lambda_functions",
            Space::LambdaEvents => "lambda_events",
            Space::EventSourceMappings => "event_source_mappings",
            Space::LambdaEventInvokeConfigs => "lambda_event_invoke_configs",
        }
    }
}

/// One change to durable state.
#[derive(Debug, Clone)]
pub enum Change {
    Put {
        space: Space,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        space: Space,
        key: Vec<u8>,
    },
    /// Deletes every key starting with `prefix` (a queue's messages when it is deleted).
    DeletePrefix {
        space: Space,
        prefix: Vec<u8>,
    },
}

impl Change {
    /// The bytes of keys and values it holds.
    pub fn size(&self) -> usize {
        match self {
            Change::Put { key, value, .. } => key.len() + value.len(),
            Change::Delete { key, .. } => key.len(),
            Change::DeletePrefix { prefix, .. } => prefix.len(),
        }
    }
}

/// How much an acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A write is acknowledged after it is flushed to disk (shared by concurrent writers).
    #[default]
    Strict,
    /// A write is acknowledged at once and flushed within the flush interval.
    Relaxed,
}

/// Resolves when submitted changes are durable.
#[must_use = "await durable() before acknowledging the request"]
pub struct Ticket(Option<oneshot::Receiver<Result<(), String>>>);

impl Ticket {
    pub fn done() -> Self {
        Ticket(None)
    }

    /// A ticket for changes the store could not take (a store that fails at once).
    pub fn failed(reason: String) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(reason));
        Ticket(Some(rx))
    }

    pub async fn durable(self) -> Result<(), String> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or_else(|_| Err("the store stopped".into())),
        }
    }
}

/// Called with each (key, value) of a space by `Store::scan`.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), String> + 'a;

/// Everything a store holds, read back at start-up.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

pub trait Store: Send + Sync + std::fmt::Debug {
    /// Whether changes are kept at all; services skip building them when not.
    fn persistent(&self) -> bool;
    /// Hands changes over; they are applied in submission order.
    fn submit(&self, changes: Vec<Change>) -> Ticket;
    /// A ticket that completes once everything submitted so far is durable (for an answer
    /// that changes nothing itself but reports the effect of changes still being written).
    /// False while writes that failed (whose changes the services made in memory) wait to be
    /// written again; an answer that changes nothing itself then waits for a `barrier`.
    fn settled(&self) -> bool {
        true
    }

    fn barrier(&self) -> Ticket {
        Ticket::done()
    }

    /// As `submit`, but the ticket reports whether the changes were written even under relaxed
    /// durability, for the few writes whose failure must be retried (moved messages).
    fn submit_confirmed(&self, changes: Vec<Change>) -> Ticket {
        self.submit(changes)
    }
    /// Visits every record of a space in key order, without holding them all in memory.
    fn scan(&self, space: Space, visit: &mut Visitor<'_>) -> Result<(), String>;
    /// All records of a (small) space, in key order.
    fn load(&self, space: Space) -> Result<Records, String> {
        let mut records = Vec::new();
        self.scan(space, &mut |k, v| {
            records.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(records)
    }
    /// Writes one record and flushes it before returning, on the calling thread, for the rare
    /// write outside any request that must be durable before its effects are seen (the SNS
    /// signing key, created at start-up).
    fn put_now(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Flushes everything outstanding (clean shutdown).
    fn flush(&self);
    fn describe(&self) -> &'static str;
    /// Flush latency and group-commit sizes, for a store that flushes (`/metrics`).
    fn metrics(&self) -> Option<&StoreMetrics> {
        None
    }
}

/// What the writer of a flushing store measures: one observation per group commit.
#[derive(Debug)]
pub struct StoreMetrics {
    /// Seconds one flush to disk took.
    pub flush_seconds: prometheus_client::metrics::histogram::Histogram,
    /// Jobs (requests' change sets) committed together by one flush.
    pub batch_jobs: prometheus_client::metrics::histogram::Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
        StoreMetrics {
            flush_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batch_jobs: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
        }
    }
}

pub type SharedStore = Arc<dyn Store>;
