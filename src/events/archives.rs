//! Archives (the events of a bus that match the archive's pattern, kept for RetentionDays)
//! and replays (a time window of an archive sent again to its bus's rules, with
//! `replay-name` in the envelope).

use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;

use super::buses::bus_missing;
use super::model::*;
use super::pattern::EventPattern;
use super::put_events::Event;
use super::rules::parse_pattern;
use super::{
    arn, epoch_seconds, not_found, page, parse_arn, validation, EventsService, Key, Registry,
    Violations,
};

const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archive {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub source_arn: String,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    /// 0 keeps events indefinitely.
    pub retention_days: i64,
    pub created_ms: u64,
    #[serde(skip)]
    pub pattern: Option<Arc<EventPattern>>,
    #[serde(skip)]
    pub events: Arc<Mutex<Vec<Archived>>>,
}

/// One archived event: when it was ingested, its id and envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archived {
    pub ingested_ms: u64,
    pub id: String,
    pub json: String,
}

impl Archive {
    /// Drops the events older than the retention period.
    fn expire(&self, now: u64) -> (u64, u64) {
        let mut events = self.events.lock();
        if self.retention_days > 0 {
            let horizon = now.saturating_sub(self.retention_days as u64 * DAY_MS);
            events.retain(|e| e.ingested_ms >= horizon);
        }
        let size = events.iter().map(|e| e.json.len() as u64).sum();
        (events.len() as u64, size)
    }

    fn describe(&self, now: u64) -> DescribeArchiveOutput {
        let (count, size) = self.expire(now);
        DescribeArchiveOutput {
            archive_arn: Some(self.arn.clone()),
            archive_name: self.name.clone(),
            event_source_arn: self.source_arn.clone(),
            description: self.description.clone(),
            event_pattern: self.event_pattern.clone(),
            state: "ENABLED".into(),
            retention_days: self.retention_days,
            size_bytes: size,
            event_count: count,
            creation_time: epoch_seconds(self.created_ms),
        }
    }

    fn state(&self) -> ArchiveStateOutput {
        ArchiveStateOutput {
            archive_arn: self.arn.clone(),
            state: "ENABLED".into(),
            creation_time: epoch_seconds(self.created_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub source_arn: String,
    pub destination: ReplayDestination,
    pub start_ms: u64,
    pub end_ms: u64,
    pub state: String,
    pub replay_start_ms: u64,
    pub replay_end_ms: Option<u64>,
    pub last_replayed_ms: Option<u64>,
}

impl Replay {
    fn describe(&self) -> DescribeReplayOutput {
        DescribeReplayOutput {
            replay_name: self.name.clone(),
            replay_arn: Some(self.arn.clone()),
            description: self.description.clone(),
            state: self.state.clone(),
            event_source_arn: self.source_arn.clone(),
            destination: Some(self.destination.clone()),
            event_start_time: epoch_seconds(self.start_ms),
            event_end_time: epoch_seconds(self.end_ms),
            event_last_replayed_time: self.last_replayed_ms.map(epoch_seconds),
            replay_start_time: epoch_seconds(self.replay_start_ms),
            replay_end_time: self.replay_end_ms.map(epoch_seconds),
        }
    }
}

fn archive_missing(name: &str) -> AwsError {
    not_found(format!("Archive {name} does not exist."))
}

fn replay_missing(name: &str) -> AwsError {
    not_found(format!("Replay {name} does not exist."))
}

/// The bus key of an event bus ARN, if it is one.
fn bus_of_arn(arn: &str) -> Option<Key> {
    let (region, account, resource) = parse_arn(arn)?;
    let name = resource.strip_prefix("event-bus/")?;
    Some((account.to_string(), region.to_string(), name.to_string()))
}

/// An envelope with `replay-name` after `region` (envelopes are built by `put_events`, so
/// the first top-level `,"resources":` is the member; a string cannot hold it unescaped).
fn with_replay_name(json: &str, replay: &str) -> String {
    let name = serde_json::to_string(replay).unwrap_or_default();
    match json.find(",\"resources\":") {
        Some(at) => format!("{},\"replay-name\":{name}{}", &json[..at], &json[at..]),
        None => json.to_string(),
    }
}

impl EventsService {
    /// Keeps `event` in every archive of the bus whose pattern it matches.
    pub(super) fn archive(
        &self,
        ctx: &RequestContext,
        reg: &Registry,
        bus_arn: &str,
        event: &Event,
    ) {
        for archive in reg.archives.values() {
            if archive.source_arn != bus_arn {
                continue;
            }
            if archive
                .pattern
                .as_ref()
                .is_some_and(|p| !p.matches(&event.value))
            {
                continue;
            }
            let archived = Archived {
                ingested_ms: event.ingested_ms,
                id: event.id.clone(),
                json: event.json.clone(),
            };
            self.persist_archived(ctx, &archive.arn, &archived);
            archive.events.lock().push(archived);
        }
    }

    pub fn create_archive(
        &self,
        ctx: &RequestContext,
        input: ArchiveInput,
    ) -> AwsResult<ArchiveStateOutput> {
        let mut v = Violations::default();
        v.name("archiveName", input.archive_name.as_deref(), 48)
            .required("eventSourceArn", input.event_source_arn.as_ref())
            .check()?;
        let name = input.archive_name.unwrap_or_default();
        let source = input.event_source_arn.unwrap_or_default();
        let pattern = match input.event_pattern.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(Arc::new(parse_pattern(p)?)),
            None => None,
        };
        let mut reg = self.state.write();
        let bus_key = bus_of_arn(&source).ok_or_else(|| {
            validation(format!(
                "Parameter {source} is not valid. Reason: Provided Arn is not in correct format."
            ))
        })?;
        if !reg.buses.contains_key(&bus_key) {
            return Err(bus_missing(&bus_key.2));
        }
        let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
        if reg.archives.contains_key(&k) {
            return Err(AwsError::new(
                &codes::EVENTS_ALREADY_EXISTS,
                format!("Archive {name} already exists."),
            ));
        }
        let archive = Archive {
            arn: arn(&ctx.region, &ctx.account, &format!("archive/{name}")),
            name,
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            source_arn: source,
            description: input.description,
            event_pattern: input.event_pattern.filter(|p| !p.is_empty()),
            retention_days: input.retention_days.unwrap_or(0).max(0),
            created_ms: self.now_ms(),
            pattern,
            events: Arc::default(),
        };
        self.persist_archive(ctx, &archive);
        let out = archive.state();
        reg.archives.insert(k, archive);
        Ok(out)
    }

    pub fn describe_archive(
        &self,
        ctx: &RequestContext,
        input: ArchiveNameInput,
    ) -> AwsResult<DescribeArchiveOutput> {
        let name = input.archive_name.unwrap_or_default();
        let reg = self.state.read();
        let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
        let archive = reg.archives.get(&k).ok_or_else(|| archive_missing(&name))?;
        Ok(archive.describe(self.now_ms()))
    }

    pub fn update_archive(
        &self,
        ctx: &RequestContext,
        input: ArchiveInput,
    ) -> AwsResult<ArchiveStateOutput> {
        let name = input.archive_name.unwrap_or_default();
        let pattern = match input.event_pattern.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(Arc::new(parse_pattern(p)?)),
            None => None,
        };
        let mut reg = self.state.write();
        let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
        let archive = reg
            .archives
            .get_mut(&k)
            .ok_or_else(|| archive_missing(&name))?;
        if input.description.is_some() {
            archive.description = input.description;
        }
        if let Some(p) = pattern {
            archive.pattern = Some(p);
            archive.event_pattern = input.event_pattern;
        }
        if let Some(days) = input.retention_days {
            archive.retention_days = days.max(0);
        }
        let archive = archive.clone();
        self.persist_archive(ctx, &archive);
        Ok(archive.state())
    }

    pub fn delete_archive(
        &self,
        ctx: &RequestContext,
        input: ArchiveNameInput,
    ) -> AwsResult<Empty> {
        let name = input.archive_name.unwrap_or_default();
        let mut reg = self.state.write();
        let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
        let archive = reg
            .archives
            .remove(&k)
            .ok_or_else(|| archive_missing(&name))?;
        self.forget(ctx, "archive", &ctx.account, &ctx.region, &name);
        self.forget_archived(ctx, &archive.arn);
        Ok(Empty {})
    }

    pub fn list_archives(
        &self,
        ctx: &RequestContext,
        input: ListInput,
    ) -> AwsResult<ListArchivesOutput> {
        let reg = self.state.read();
        if let Some(source) = input.event_source_arn.as_deref() {
            match bus_of_arn(source) {
                Some(k) if reg.buses.contains_key(&k) => {}
                Some(k) => return Err(bus_missing(&k.2)),
                None => return Err(bus_missing(source)),
            }
        }
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let now = self.now_ms();
        let all: Vec<_> = reg
            .archives
            .iter()
            .filter(|((a, r, n), archive)| {
                *a == ctx.account
                    && *r == ctx.region
                    && n.starts_with(prefix)
                    && input
                        .event_source_arn
                        .as_ref()
                        .is_none_or(|s| *s == archive.source_arn)
                    && input.state.as_deref().is_none_or(|s| s == "ENABLED")
            })
            .map(|(_, a)| {
                let mut d = a.describe(now);
                d.archive_arn = None;
                d.description = None;
                d.event_pattern = None;
                d
            })
            .collect();
        let (archives, next_token) = page(all, input.next_token.as_deref(), input.limit)?;
        Ok(ListArchivesOutput {
            archives,
            next_token,
        })
    }

    pub fn start_replay(
        &self,
        ctx: &RequestContext,
        input: StartReplayInput,
    ) -> AwsResult<ReplayStateOutput> {
        let mut v = Violations::default();
        v.name("replayName", input.replay_name.as_deref(), 64)
            .required("eventSourceArn", input.event_source_arn.as_ref())
            .required("eventStartTime", input.event_start_time.as_ref())
            .required("eventEndTime", input.event_end_time.as_ref())
            .required("destination", input.destination.as_ref())
            .check()?;
        let name = input.replay_name.unwrap_or_default();
        let source = input.event_source_arn.unwrap_or_default();
        let destination = input.destination.unwrap_or_default();
        let to_ms = |t: Option<f64>| (t.unwrap_or(0.0).max(0.0) * 1000.0) as u64;
        let (start_ms, end_ms) = (to_ms(input.event_start_time), to_ms(input.event_end_time));
        let now = self.now_ms();
        let (events, bus_key, archive_bus_arn) = {
            let reg = self.state.read();
            let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
            if reg.replays.contains_key(&k) {
                return Err(AwsError::new(
                    &codes::EVENTS_ALREADY_EXISTS,
                    format!("Replay {name} already exists."),
                ));
            }
            let archive_name = parse_arn(&source)
                .and_then(|(_, _, r)| r.strip_prefix("archive/"))
                .unwrap_or(&source)
                .to_string();
            let archive = reg
                .archives
                .get(&(ctx.account.clone(), ctx.region.clone(), archive_name.clone()))
                .ok_or_else(|| {
                    validation(format!(
                        "Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not exist."
                    ))
                })?;
            if start_ms >= end_ms {
                return Err(validation(
                    "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
                ));
            }
            if destination.arn != archive.source_arn {
                return Err(validation(
                    "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
                ));
            }
            archive.expire(now);
            let events: Vec<Archived> = archive
                .events
                .lock()
                .iter()
                .filter(|e| e.ingested_ms >= start_ms && e.ingested_ms < end_ms)
                .cloned()
                .collect();
            let bus_key = bus_of_arn(&archive.source_arn).unwrap_or_default();
            (events, bus_key, archive.source_arn.clone())
        };
        if !self.state.read().buses.contains_key(&bus_key) {
            return Err(bus_missing(&bus_key.2));
        }
        // Rules of the destination bus, or only those the replay names.
        let only: Vec<String> = destination.filter_arns.clone().unwrap_or_default();
        let only = if only.is_empty() {
            let reg = self.state.read();
            reg.buses
                .get(&bus_key)
                .map(|b| b.rules.values().map(|r| r.arn.clone()).collect())
                .unwrap_or_default()
        } else {
            only
        };
        let last = events.iter().map(|e| e.ingested_ms).max();
        for archived in events {
            // A replayed event is a new event (its own id, so FIFO targets do not drop it as a
            // duplicate of the original), marked with the replay's name.
            let id = uuid::Uuid::new_v4().to_string();
            let json = with_replay_name(&archived.json, &name).replacen(
                &format!("\"id\":\"{}\"", archived.id),
                &format!("\"id\":\"{id}\""),
                1,
            );
            let mut event = Event::new(id, &ctx.account, &ctx.region, json, now, None);
            event.ingested_ms = now;
            self.route(ctx, Arc::new(event), &bus_key, Some(&only));
        }
        let _ = archive_bus_arn;
        let replay = Replay {
            arn: arn(&ctx.region, &ctx.account, &format!("replay/{name}")),
            name: name.clone(),
            description: input.description,
            source_arn: source,
            destination,
            start_ms,
            end_ms,
            state: "COMPLETED".into(),
            replay_start_ms: now,
            replay_end_ms: Some(self.now_ms()),
            last_replayed_ms: last,
        };
        self.persist_replay(ctx, &replay);
        let out = ReplayStateOutput {
            replay_arn: replay.arn.clone(),
            state: "STARTING".into(),
            replay_start_time: Some(epoch_seconds(now)),
        };
        self.state
            .write()
            .replays
            .insert((ctx.account.clone(), ctx.region.clone(), name), replay);
        Ok(out)
    }

    pub fn describe_replay(
        &self,
        ctx: &RequestContext,
        input: ReplayNameInput,
    ) -> AwsResult<DescribeReplayOutput> {
        let name = input.replay_name.unwrap_or_default();
        let reg = self.state.read();
        reg.replays
            .get(&(ctx.account.clone(), ctx.region.clone(), name.clone()))
            .map(Replay::describe)
            .ok_or_else(|| replay_missing(&name))
    }

    pub fn list_replays(
        &self,
        ctx: &RequestContext,
        input: ListInput,
    ) -> AwsResult<ListReplaysOutput> {
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let reg = self.state.read();
        let all: Vec<_> = reg
            .replays
            .iter()
            .filter(|((a, r, n), replay)| {
                *a == ctx.account
                    && *r == ctx.region
                    && n.starts_with(prefix)
                    && input.state.as_ref().is_none_or(|s| *s == replay.state)
                    && input
                        .event_source_arn
                        .as_ref()
                        .is_none_or(|s| *s == replay.source_arn)
            })
            .map(|(_, r)| {
                let mut d = r.describe();
                d.replay_arn = None;
                d.description = None;
                d.destination = None;
                d
            })
            .collect();
        let (replays, next_token) = page(all, input.next_token.as_deref(), input.limit)?;
        Ok(ListReplaysOutput {
            replays,
            next_token,
        })
    }

    pub fn cancel_replay(
        &self,
        ctx: &RequestContext,
        input: ReplayNameInput,
    ) -> AwsResult<ReplayStateOutput> {
        let name = input.replay_name.unwrap_or_default();
        let reg = self.state.read();
        let replay = reg
            .replays
            .get(&(ctx.account.clone(), ctx.region.clone(), name.clone()))
            .ok_or_else(|| replay_missing(&name))?;
        // Replays run to completion when started, so there is nothing left to cancel.
        Err(AwsError::new(
            &codes::ILLEGAL_STATUS,
            format!(
                "Replay {} is not in a valid state for this operation.",
                replay.name
            ),
        ))
    }
}
