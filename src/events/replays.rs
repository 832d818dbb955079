//! Replays: a time window of an archive sent again to its bus's rules (all of them, or those
//! `Destination.FilterArns` names), with `replay-name` in each envelope.
//!
//! A replay is a background job with AWS's states: StartReplay answers `STARTING`; the replay
//! task (one for all replays, on the service clock) makes it `RUNNING` and sends the archived
//! events in order of their `time`, one minute of event time per step, as AWS does ("replays
//! them using 1 minute intervals"). Minutes without events cost nothing; after a minute with
//! events the next step waits `replay_interval_ms` of service time (`--events-replay-interval-ms`,
//! 1 s by default; tests move the clock). `EventLastReplayedTime` is the time of the last event
//! sent. When nothing is left the replay is `COMPLETED` (`ReplayEndTime` set); CancelReplay makes a
//! `STARTING`/`RUNNING` replay `CANCELLING`, and the task's next look `CANCELLED`. A replay whose
//! archive or bus disappears ends `FAILED`, with the reason in `StateReason`.
//!
//! Progress (the start of the next minute to send) is stored after each step, so a replay that
//! was running when lyrebird stopped resumes where it was after a restart, as a replay on AWS
//! outlives a failed host: a step interrupted between sending and recording is sent again
//! (EventBridge delivers at least once). A replay being cancelled is `CANCELLED` after it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::archives::{bus_of_arn, Archived};
use super::buses::bus_missing;
use super::model::*;
use super::put_events::Event;
use super::{
    arn, epoch_seconds, not_found, page, parse_arn, validation, EventsService, Key, Violations,
};

const STARTING: &str = "STARTING";
const RUNNING: &str = "RUNNING";
const CANCELLING: &str = "CANCELLING";
const CANCELLED: &str = "CANCELLED";
const COMPLETED: &str = "COMPLETED";
const FAILED: &str = "FAILED";

/// Replays STARTING or RUNNING at once in an account and region (AWS's quota).
const MAX_ACTIVE: usize = 10;
/// One step sends the archived events of one minute of event time.
const WINDOW_MS: u64 = 60_000;

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub replay_start_ms: u64,
    pub replay_end_ms: Option<u64>,
    pub last_replayed_ms: Option<u64>,
    /// Event time from which the replay goes on: the start of the next minute to send.
    #[serde(default)]
    pub resume_ms: u64,
    /// When its next step is due (service clock). Not stored: after a restart, at once.
    #[serde(skip)]
    pub due_ms: u64,
}

impl Replay {
    /// STARTING or RUNNING: counts against the quota and can be cancelled.
    fn active(&self) -> bool {
        matches!(self.state.as_str(), STARTING | RUNNING)
    }

    fn due(&self, now: u64) -> bool {
        self.state == CANCELLING || (self.active() && self.due_ms <= now)
    }

    fn describe(&self) -> DescribeReplayOutput {
        DescribeReplayOutput {
            replay_name: self.name.clone(),
            replay_arn: Some(self.arn.clone()),
            description: self.description.clone(),
            state: self.state.clone(),
            state_reason: self.state_reason.clone(),
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

fn replay_missing(name: &str) -> AwsError {
    not_found(format!("Replay {name} does not exist."))
}

/// The archive name of an archive ARN (or of a bare name).
fn archive_name(source_arn: &str) -> &str {
    parse_arn(source_arn)
        .and_then(|(_, _, r)| r.strip_prefix("archive/"))
        .unwrap_or(source_arn)
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

/// What one step of a replay does.
enum Step {
    /// Send these events (in order); the replay goes on from `next_ms`, or is done.
    Send {
        bus: Key,
        events: Vec<Archived>,
        next_ms: u64,
        done: bool,
    },
    Completed,
    Failed(String),
}

impl EventsService {
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
        let mut reg = self.state.write();
        let k = (ctx.account.clone(), ctx.region.clone(), name.clone());
        if reg.replays.contains_key(&k) {
            return Err(AwsError::new(
                &codes::EVENTS_ALREADY_EXISTS,
                format!("Replay {name} already exists."),
            ));
        }
        let archive_name = archive_name(&source).to_string();
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
        // AWS-recorded: a missing destination bus is named first; an existing other bus is a
        // cross-bus replay.
        if let Some(bus) = bus_of_arn(&destination.arn) {
            if !reg.buses.contains_key(&bus) {
                return Err(bus_missing(&bus.2));
            }
        }
        if destination.arn != archive.source_arn {
            return Err(validation(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
            ));
        }
        let active = reg
            .replays
            .iter()
            .filter(|((a, r, _), replay)| *a == ctx.account && *r == ctx.region && replay.active())
            .count();
        if active >= MAX_ACTIVE {
            return Err(AwsError::new(
                &codes::EVENTS_LIMIT_EXCEEDED,
                "The requested resource exceeds the maximum number allowed.",
            ));
        }
        let replay = Replay {
            arn: arn(&ctx.region, &ctx.account, &format!("replay/{name}")),
            name,
            description: input.description,
            source_arn: source,
            destination,
            start_ms,
            end_ms,
            state: STARTING.into(),
            state_reason: None,
            replay_start_ms: now,
            replay_end_ms: None,
            last_replayed_ms: None,
            resume_ms: start_ms,
            due_ms: now,
        };
        self.persist_replay(ctx, &replay);
        let out = ReplayStateOutput {
            replay_arn: replay.arn.clone(),
            state: replay.state.clone(),
            state_reason: None,
            replay_start_time: Some(epoch_seconds(now)),
        };
        reg.replays.insert(k, replay);
        drop(reg);
        self.replays_changed.notify_one();
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

    /// A STARTING or RUNNING replay becomes CANCELLING (answered as AWS records it: the ARN
    /// and the state); the replay task ends it before sending anything more.
    pub fn cancel_replay(
        &self,
        ctx: &RequestContext,
        input: ReplayNameInput,
    ) -> AwsResult<ReplayStateOutput> {
        let name = input.replay_name.unwrap_or_default();
        let mut reg = self.state.write();
        let replay = reg
            .replays
            .get_mut(&(ctx.account.clone(), ctx.region.clone(), name.clone()))
            .ok_or_else(|| replay_missing(&name))?;
        if !replay.active() {
            return Err(AwsError::new(
                &codes::ILLEGAL_STATUS,
                format!(
                    "Replay {} is not in a valid state for this operation.",
                    replay.name
                ),
            ));
        }
        replay.state = CANCELLING.into();
        let replay = replay.clone();
        self.persist_replay(ctx, &replay);
        drop(reg);
        self.replays_changed.notify_one();
        Ok(ReplayStateOutput {
            replay_arn: replay.arn,
            state: replay.state,
            state_reason: None,
            replay_start_time: None,
        })
    }

    /// Starts the replay task (once, at start-up, inside the runtime).
    pub(super) fn start_replays(self: &Arc<Self>) {
        self.spawn_clock_task(self.replays_changed.clone(), EventsService::step_replays);
    }

    /// Moves every due replay one step; returns when the next one is due.
    fn step_replays(&self) -> Option<u64> {
        let now = self.now_ms();
        let due: Vec<Key> = self
            .state
            .read()
            .replays
            .iter()
            .filter(|(_, r)| r.due(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.step_replay(&key, now);
        }
        self.state
            .read()
            .replays
            .values()
            .filter(|r| r.active() || r.state == CANCELLING)
            .map(|r| if r.state == CANCELLING { now } else { r.due_ms })
            .min()
    }

    fn step_replay(&self, key: &Key, now: u64) {
        let ctx = RequestContext::internal(&key.0, &key.1, "");
        let Some(replay) = self.state.read().replays.get(key).cloned() else {
            return;
        };
        if replay.state == CANCELLING {
            return self.end_replay(&ctx, key, CANCELLED, None, now);
        }
        match self.next_step(key, &replay, now) {
            Step::Completed => self.end_replay(&ctx, key, COMPLETED, None, now),
            Step::Failed(reason) => self.end_replay(&ctx, key, FAILED, Some(reason), now),
            Step::Send {
                bus,
                events,
                next_ms,
                done,
            } => {
                let only = self.replay_rules(&bus, &replay.destination);
                let last = events.last().map(Archived::time);
                for archived in events {
                    // A replayed event is a new event (its own id, so FIFO targets do not drop
                    // it as a duplicate of the original), marked with the replay's name.
                    let id = uuid::Uuid::new_v4().to_string();
                    let json = with_replay_name(&archived.json, &replay.name).replacen(
                        &format!("\"id\":\"{}\"", archived.id),
                        &format!("\"id\":\"{id}\""),
                        1,
                    );
                    let event = Event::new(id, &key.0, &key.1, json, now, None);
                    self.route(&ctx, Arc::new(event), &bus, Some(only.as_slice()));
                }
                let mut reg = self.state.write();
                let Some(r) = reg.replays.get_mut(key) else {
                    return;
                };
                r.last_replayed_ms = last.or(r.last_replayed_ms);
                r.resume_ms = next_ms;
                r.due_ms = now.saturating_add(self.replay_interval_ms);
                // A cancel that came meanwhile stands.
                if r.state != CANCELLING {
                    r.state = if done { COMPLETED } else { RUNNING }.into();
                    if done {
                        r.replay_end_ms = Some(now);
                    }
                }
                let r = r.clone();
                self.persist_replay(&ctx, &r);
            }
        }
    }

    /// The next minute of archived events the replay sends, or how it ends.
    fn next_step(&self, key: &Key, replay: &Replay, now: u64) -> Step {
        let reg = self.state.read();
        let name = archive_name(&replay.source_arn);
        let Some(archive) = reg
            .archives
            .get(&(key.0.clone(), key.1.clone(), name.to_string()))
        else {
            return Step::Failed(format!("Archive {name} does not exist."));
        };
        let Some(bus) = bus_of_arn(&replay.destination.arn).filter(|b| reg.buses.contains_key(b))
        else {
            return Step::Failed(format!(
                "Event bus {} does not exist.",
                replay
                    .destination
                    .arn
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
            ));
        };
        archive.expire(now);
        let events = archive.events.lock();
        let in_range = |e: &&Archived| e.time() >= replay.resume_ms && e.time() < replay.end_ms;
        let Some(first) = events.iter().filter(in_range).map(Archived::time).min() else {
            return Step::Completed;
        };
        let next_ms = (first / WINDOW_MS)
            .saturating_add(1)
            .saturating_mul(WINDOW_MS)
            .min(replay.end_ms);
        let mut window: Vec<Archived> = events
            .iter()
            .filter(in_range)
            .filter(|e| e.time() < next_ms)
            .cloned()
            .collect();
        window.sort_by_key(|e| (e.time(), e.ingested_ms));
        let done = !events
            .iter()
            .any(|e| e.time() >= next_ms && e.time() < replay.end_ms);
        Step::Send {
            bus,
            events: window,
            next_ms,
            done,
        }
    }

    /// The rules a replay sends to: those it names, else every rule of the bus now.
    fn replay_rules(&self, bus: &Key, destination: &ReplayDestination) -> Vec<String> {
        match destination.filter_arns.as_ref().filter(|f| !f.is_empty()) {
            Some(only) => only.clone(),
            None => self
                .state
                .read()
                .buses
                .get(bus)
                .map(|b| b.rules.values().map(|r| r.arn.clone()).collect())
                .unwrap_or_default(),
        }
    }

    fn end_replay(
        &self,
        ctx: &RequestContext,
        key: &Key,
        state: &str,
        reason: Option<String>,
        now: u64,
    ) {
        let mut reg = self.state.write();
        let Some(r) = reg.replays.get_mut(key) else {
            return;
        };
        // Cancelled meanwhile: that is how it ends, whatever this step found.
        r.state = if r.state == CANCELLING && state != CANCELLED {
            CANCELLED
        } else {
            state
        }
        .into();
        r.state_reason = reason.filter(|_| r.state == FAILED);
        r.replay_end_ms = Some(now);
        let r = r.clone();
        self.persist_replay(ctx, &r);
    }
}
