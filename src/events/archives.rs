//! Archives: the events of a bus that match the archive's pattern, kept for RetentionDays
//! (replays, which send them again, are in `replays.rs`).

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

/// One archived event: when it was ingested, its time, id and envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archived {
    pub ingested_ms: u64,
    /// The event's `time` (PutEvents' `Time`, else ingestion), which replays select on.
    /// Records written before it was kept have none: their ingestion time stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    pub id: String,
    pub json: String,
}

impl Archived {
    /// The event time a replay's window is compared with.
    pub fn time(&self) -> u64 {
        self.time_ms.unwrap_or(self.ingested_ms)
    }
}

impl Archive {
    /// Drops the events older than the retention period.
    pub(super) fn expire(&self, now: u64) -> (u64, u64) {
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

fn archive_missing(name: &str) -> AwsError {
    not_found(format!("Archive {name} does not exist."))
}

/// The bus key of an event bus ARN, if it is one.
pub(super) fn bus_of_arn(arn: &str) -> Option<Key> {
    let (region, account, resource) = parse_arn(arn)?;
    let name = resource.strip_prefix("event-bus/")?;
    Some((account.to_string(), region.to_string(), name.to_string()))
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
                time_ms: Some(event.time_ms),
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
        // AWS-recorded: checked before the archive is looked up.
        if input.event_pattern.is_none()
            && input.retention_days.is_none()
            && input.description.is_none()
        {
            return Err(validation(
                "At least one of EventPattern, RetentionDays or Description must be provided.",
            ));
        }
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
}
