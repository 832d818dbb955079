//! PutEvents: AWS's checks (request and per entry), the event envelope as AWS builds it, and
//! routing: every enabled rule of the bus whose pattern matches, every archive that keeps it.

use std::sync::Arc;

use serde_json::Value;

use crate::clock::iso8601_millis;
use crate::context::RequestContext;
use crate::error::AwsResult;

use super::buses::{bus_key, bus_missing};
use super::model::*;
use super::stats::{bump, BusStats};
use super::{validation, EventsService, Key};

/// The most a PutEvents request may carry, in total (AWS's 256 KB).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
const MAX_ENTRIES: usize = 10;

/// An event on its way through buses and rules.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    /// The account and region it was put in (kept when it crosses to another bus).
    pub account: String,
    pub region: String,
    /// When it was ingested (the service clock, epoch ms), for retry ages and archives.
    pub ingested_ms: u64,
    /// Its `time` (epoch ms): PutEvents' `Time`, else when it was ingested.
    pub time_ms: u64,
    /// The envelope, for matching and transformation.
    pub value: Value,
    /// The envelope as delivered, members in AWS's order.
    pub json: String,
    /// Buses it went through before this one (a loop guard).
    pub hops: u8,
    pub trace_header: Option<String>,
}

/// The parts of an envelope.
pub struct Envelope<'a> {
    pub id: &'a str,
    pub detail_type: &'a str,
    pub source: &'a str,
    pub account: &'a str,
    pub time: &'a str,
    pub region: &'a str,
    pub replay_name: Option<&'a str>,
    pub resources: &'a [String],
    /// The detail's JSON text (an object).
    pub detail: &'a str,
}

impl Envelope<'_> {
    /// `{"version":"0","id",…,"detail"}` in AWS's member order (replays add `replay-name`
    /// after `region`).
    pub fn to_json(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let resources = serde_json::to_string(self.resources).unwrap_or_else(|_| "[]".into());
        let replay = self
            .replay_name
            .map(|r| format!(",\"replay-name\":{}", q(r)))
            .unwrap_or_default();
        format!(
            "{{\"version\":\"0\",\"id\":{},\"detail-type\":{},\"source\":{},\"account\":{},\"time\":{},\"region\":{}{replay},\"resources\":{resources},\"detail\":{}}}",
            q(self.id),
            q(self.detail_type),
            q(self.source),
            q(self.account),
            q(self.time),
            q(self.region),
            self.detail.trim(),
        )
    }
}

/// `2024-01-01T00:00:00Z`: the envelope's `time`, to the second.
pub fn event_time(epoch_ms: u64) -> String {
    let t = iso8601_millis(epoch_ms);
    format!("{}Z", &t[..19])
}

impl Event {
    /// An event from its envelope text (valid JSON by construction).
    pub fn new(
        id: String,
        account: &str,
        region: &str,
        json: String,
        now: u64,
        trace_header: Option<String>,
    ) -> Event {
        Event {
            value: serde_json::from_str(&json).unwrap_or(Value::Null),
            id,
            account: account.to_string(),
            region: region.to_string(),
            ingested_ms: now,
            time_ms: now,
            json,
            hops: 0,
            trace_header,
        }
    }
}

/// An entry's failure, as PutEvents reports it.
fn entry_error(code: &str, message: &str) -> PutEventsResultEntry {
    PutEventsResultEntry {
        event_id: None,
        error_code: Some(code.into()),
        error_message: Some(message.into()),
    }
}

/// How AWS counts an entry's size.
fn entry_size(e: &PutEventsEntry) -> usize {
    let s = |v: &Option<String>| v.as_deref().map_or(0, str::len);
    let resources: usize = e.resources.iter().flatten().map(String::len).sum();
    let time = if e.time.is_some() { 14 } else { 0 };
    s(&e.source) + s(&e.detail_type) + s(&e.detail) + resources + time
}

/// The request-level error for more than ten entries, in AWS's (Java) wording.
fn too_many_entries(entries: &[PutEventsEntry]) -> crate::error::AwsError {
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
    let listed: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "PutEventsRequestEntry(time={}, source={}, resources={}, detailType={}, detail={}, eventBusName={}, traceHeader={}, kmsKeyIdentifier=null, internalMetadata=null)",
                e.time.map_or("null".into(), |t| t.to_string()),
                o(&e.source),
                e.resources.as_ref().map_or("null".into(), |r| format!("[{}]", r.join(", "))),
                o(&e.detail_type),
                o(&e.detail),
                o(&e.event_bus_name),
                o(&e.trace_header),
            )
        })
        .collect();
    validation(format!(
        "1 validation error detected: Value '[{}]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10",
        listed.join(", ")
    ))
}

impl EventsService {
    pub fn put_events(
        &self,
        ctx: &RequestContext,
        input: PutEventsInput,
    ) -> AwsResult<PutEventsOutput> {
        let entries = input.entries.unwrap_or_default();
        if entries.is_empty() {
            return Err(validation(
                "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        if entries.len() > MAX_ENTRIES {
            return Err(too_many_entries(&entries));
        }
        if entries.iter().map(entry_size).sum::<usize>() > MAX_REQUEST_BYTES {
            return Err(validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        // Every bus must exist before anything is put (AWS-recorded: the whole request fails).
        let keys: Vec<Key> = entries
            .iter()
            .map(|e| bus_key(ctx, e.event_bus_name.as_deref()))
            .collect();
        // Each entry's bus's counters (PutEvents entries accepted and failed).
        let bus_stats: Vec<Arc<BusStats>> = {
            let reg = self.state.read();
            if let Some(k) = keys.iter().find(|k| !reg.buses.contains_key(*k)) {
                return Err(bus_missing(&k.2));
            }
            keys.iter()
                .filter_map(|k| reg.buses.get(k).map(|b| b.stats.clone()))
                .collect()
        };
        let now = self.now_ms();
        let mut failed = 0;
        let mut results = Vec::with_capacity(entries.len());
        for ((entry, key), bus) in entries.into_iter().zip(keys).zip(bus_stats) {
            match self.accept(ctx, entry, now) {
                Ok(event) => {
                    bump(&bus.entries_accepted);
                    results.push(PutEventsResultEntry {
                        event_id: Some(event.id.clone()),
                        ..Default::default()
                    });
                    self.route(ctx, Arc::new(event), &key, None);
                }
                Err(e) => {
                    bump(&bus.entries_failed);
                    failed += 1;
                    results.push(e);
                }
            }
        }
        Ok(PutEventsOutput {
            failed_entry_count: failed,
            entries: results,
        })
    }

    /// Checks one entry and builds its event.
    fn accept(
        &self,
        ctx: &RequestContext,
        entry: PutEventsEntry,
        now: u64,
    ) -> Result<Event, PutEventsResultEntry> {
        let required = |v: &Option<String>, name: &str| match v.as_deref() {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(entry_error(
                "InvalidArgument",
                &format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
            )),
        };
        required(&entry.source, "Source")?;
        required(&entry.detail_type, "DetailType")?;
        required(&entry.detail, "Detail")?;
        let detail = entry.detail.as_deref().unwrap_or_default();
        if !matches!(serde_json::from_str::<Value>(detail), Ok(Value::Object(_))) {
            return Err(entry_error("MalformedDetail", "Detail is malformed."));
        }
        let time_ms = entry
            .time
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map_or(now, |t| (t * 1000.0) as u64);
        let id = uuid::Uuid::new_v4().to_string();
        let resources = entry.resources.unwrap_or_default();
        let json = Envelope {
            id: &id,
            detail_type: entry.detail_type.as_deref().unwrap_or_default(),
            source: entry.source.as_deref().unwrap_or_default(),
            account: &ctx.account,
            time: &event_time(time_ms),
            region: &ctx.region,
            replay_name: None,
            resources: &resources,
            detail,
        }
        .to_json();
        let trace = entry.trace_header.or_else(|| ctx.trace_header.clone());
        let mut event = Event::new(id, &ctx.account, &ctx.region, json, now, trace);
        event.time_ms = time_ms;
        Ok(event)
    }

    /// Sends an event to the matching enabled rules of a bus (only those in `only`, for a
    /// replay) and keeps it in the bus's archives (not a replayed one).
    pub(super) fn route(
        &self,
        ctx: &RequestContext,
        event: Arc<Event>,
        key: &Key,
        only: Option<&[String]>,
    ) {
        let mut matched = Vec::new();
        {
            let reg = self.state.read();
            let Some(bus) = reg.buses.get(key) else {
                return;
            };
            for name in bus.index.matching(&event.value) {
                let Some(rule) = bus.rules.get(&name) else {
                    continue;
                };
                if !rule.enabled() || rule.targets.is_empty() {
                    continue;
                }
                if only.is_some_and(|only| !only.contains(&rule.arn)) {
                    continue;
                }
                bump(&rule.stats.matched_events);
                matched.push((
                    rule.arn.clone(),
                    rule.name.clone(),
                    rule.targets.clone(),
                    rule.stats.clone(),
                ));
            }
            if only.is_none() {
                self.archive(ctx, &reg, &bus.arn, &event);
            }
        }
        for (rule_arn, rule_name, targets, stats) in matched {
            for target in targets.iter() {
                self.deliver(ctx, &event, &rule_arn, &rule_name, target, &stats);
            }
        }
    }
}
