//! What `/metrics` reports of rules and buses, named after CloudWatch's EventBridge metrics:
//! per rule MatchedEvents, Invocations, FailedInvocations, InvocationsSentToDlq,
//! InvocationsFailedToBeSentToDlq and RetryInvocationAttempts; per bus the PutEvents entries accepted and failed. Relaxed atomics
//! kept beside the rule (or bus) and shared with its deliveries in flight; read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// One rule's counters since it was created (or restored).
#[derive(Debug, Default)]
pub struct RuleStats {
    /// Events the rule matched (and routed to its targets).
    pub matched_events: AtomicU64,
    /// Target invocations, successful or not; retries are not new invocations.
    pub invocations: AtomicU64,
    /// Invocations that failed for good (after their retries).
    pub failed_invocations: AtomicU64,
    /// Failed invocations whose event reached the target's dead-letter queue.
    pub sent_to_dlq: AtomicU64,
    /// Failed invocations whose dead-letter queue refused the event (missing, too large…).
    pub dlq_failed: AtomicU64,
    /// Retries of API destination calls.
    pub retry_attempts: AtomicU64,
}

/// One bus's PutEvents entries since it was created (or restored).
#[derive(Debug, Default)]
pub struct BusStats {
    pub entries_accepted: AtomicU64,
    pub entries_failed: AtomicU64,
}

/// Counts one.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A counter's value now.
pub fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A rule's place and counters, for `/metrics`.
#[derive(Debug)]
pub struct RuleRow {
    pub account: String,
    pub region: String,
    pub bus: String,
    pub rule: String,
    pub stats: std::sync::Arc<RuleStats>,
}

impl super::EventsService {
    /// At most `limit` rules' counters, by account, region, bus and rule name.
    pub fn rule_stats(&self, limit: usize) -> Vec<RuleRow> {
        let reg = self.state.read();
        reg.buses
            .values()
            .flat_map(|bus| {
                bus.rules.values().map(move |rule| RuleRow {
                    account: bus.account.clone(),
                    region: bus.region.clone(),
                    bus: bus.name.clone(),
                    rule: rule.name.clone(),
                    stats: rule.stats.clone(),
                })
            })
            .take(limit)
            .collect()
    }

    /// Rules on every bus.
    pub fn rule_count(&self) -> usize {
        self.state
            .read()
            .buses
            .values()
            .map(|b| b.rules.len())
            .sum()
    }

    /// At most `limit` buses' PutEvents counters: ((account, region, name), counters).
    pub fn bus_stats(&self, limit: usize) -> Vec<(super::Key, std::sync::Arc<BusStats>)> {
        let reg = self.state.read();
        reg.buses
            .iter()
            .take(limit)
            .map(|(key, bus)| (key.clone(), bus.stats.clone()))
            .collect()
    }
}
