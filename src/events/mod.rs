//! The EventBridge service: event buses, rules, targets, PutEvents and delivery, schedules,
//! archives and replays, connections and API destinations.
//!
//! - `model.rs`: the operations and their typed inputs and outputs
//! - `buses.rs`: event buses, their permissions (policy) and tags
//! - `rules.rs`: rules (patterns, schedules, state), TestEventPattern
//! - `targets.rs`: PutTargets, RemoveTargets, ListTargetsByRule and the target checks
//! - `put_events.rs`: PutEvents: validation, the event envelope, routing to the matching rules
//! - `delivery.rs`: one event to one target (SQS, SNS, Lambda, another bus, API destination),
//!   input transformation, retries on the service clock and the dead-letter queue
//! - `schedules.rs`: the task firing `rate(…)`/`cron(…)` rules on the service clock
//! - `archives.rs`: archives (what they keep)
//! - `replays.rs`: replays, a background job on the service clock (states, pacing, cancel)
//! - `connections.rs`: connections (and their authorization states) and API destinations
//! - `oauth.rs`: OAuth client-credentials token requests and the tokens in use
//! - `rate_limit.rs`: API destinations' invocation rate limits (a token bucket each)
//! - `persist.rs`: all of it in the durable store
//! - `stats.rs`: per-rule and per-bus counters for `/metrics`
//!
//! The pure parts, shared with Lambda's filter criteria: the event-pattern language
//! (`pattern`, over the shared `crate::ruler` core), the index that finds the rules an event
//! matches without testing each (`index`), target input transformation (`transform`) and
//! schedule expressions (`schedule`).

pub mod archives;
pub mod buses;
pub mod connections;
pub mod delivery;
pub mod index;
pub mod model;
pub mod oauth;
pub mod pattern;
pub mod persist;
pub mod put_events;
pub mod rate_limit;
pub mod replays;
pub mod rules;
pub mod schedule;
pub mod schedules;
pub mod stats;
pub mod targets;
pub mod transform;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::RwLock;

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::lambda::LambdaService;
use crate::service::Service;
use crate::sns::SnsService;
use crate::sqs::SqsService;
use crate::store::SharedStore;

use archives::Archive;
use buses::Bus;
use connections::{ApiDestination, Connection};
use model::{Request, Response};
use replays::Replay;

/// A replay's pause after each minute of events it sends, unless configured.
pub const DEFAULT_REPLAY_INTERVAL_MS: u64 = 1_000;

/// `(account, region, name)`: how buses, archives, replays, connections and API destinations
/// are keyed (names are unique per account and region).
pub type Key = (String, String, String);

/// The EventBridge service.
pub struct EventsService {
    clock: Arc<Clock>,
    sqs: Arc<SqsService>,
    sns: Arc<SnsService>,
    lambda: Arc<LambdaService>,
    store: SharedStore,
    state: RwLock<Registry>,
    delivery: delivery::Deliveries,
    /// Wakes the schedule task when a schedule rule is put or changed.
    schedule_changed: Arc<tokio::sync::Notify>,
    /// Wakes the replay task when a replay is started or cancelled.
    replays_changed: Arc<tokio::sync::Notify>,
    /// Service time a replay waits after each minute of events it sends.
    replay_interval_ms: u64,
    /// `--auth sigv4`: another account's queue or topic takes a rule's events only where its
    /// Policy allows it (`delivery::reach`).
    resource_policies: bool,
    /// The service itself, once started: background work (OAuth token requests, deliveries
    /// that change a connection's state) reaches it through this.
    me: OnceLock<Weak<EventsService>>,
}

/// Everything EventBridge keeps, by account and region.
#[derive(Default)]
pub struct Registry {
    pub buses: BTreeMap<Key, Bus>,
    pub archives: BTreeMap<Key, Archive>,
    pub replays: BTreeMap<Key, Replay>,
    pub connections: BTreeMap<Key, Connection>,
    pub destinations: BTreeMap<Key, ApiDestination>,
}

impl std::fmt::Debug for EventsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsService")
            .field("buses", &self.state.read().buses.len())
            .finish()
    }
}

impl EventsService {
    pub fn new(
        clock: Arc<Clock>,
        sqs: Arc<SqsService>,
        sns: Arc<SnsService>,
        lambda: Arc<LambdaService>,
        store: SharedStore,
    ) -> Self {
        EventsService {
            delivery: delivery::Deliveries::new(),
            clock,
            sqs,
            sns,
            lambda,
            store,
            state: RwLock::new(Registry::default()),
            schedule_changed: Arc::new(tokio::sync::Notify::new()),
            replays_changed: Arc::new(tokio::sync::Notify::new()),
            replay_interval_ms: DEFAULT_REPLAY_INTERVAL_MS,
            resource_policies: false,
            me: OnceLock::new(),
        }
    }

    /// Starts the background work (once, at start-up, inside the runtime): the schedule task,
    /// the replay task, and the token requests of OAuth connections still AUTHORIZING.
    pub fn start(self: &Arc<Self>) {
        let _ = self.me.set(Arc::downgrade(self));
        self.start_scheduler();
        self.start_replays();
        let authorizing: Vec<_> = self
            .state
            .read()
            .connections
            .values()
            .filter(|c| c.authorizing())
            .cloned()
            .collect();
        for connection in authorizing {
            self.authorize(&connection);
        }
    }

    /// How long (service time) a replay waits after each minute of archived events it sends.
    pub fn with_replay_interval_ms(mut self, ms: u64) -> Self {
        self.replay_interval_ms = ms;
        self
    }

    /// Enforces resource policies on cross-account targets (`--auth sigv4`).
    pub fn with_resource_policies(mut self, on: bool) -> Self {
        self.resource_policies = on;
        self
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Runs `step` on the service clock: again when `changed` is notified, when the clock is
    /// moved, or at the time `step` returned (at least once a minute). The task holds the
    /// service only while stepping, so a stopped server's store is released.
    fn spawn_clock_task(
        self: &Arc<Self>,
        changed: Arc<tokio::sync::Notify>,
        step: fn(&EventsService) -> Option<u64>,
    ) {
        /// Longest sleep without anything due.
        const IDLE_MS: u64 = 60_000;
        let events = Arc::downgrade(self);
        let clock = self.clock.clone();
        tokio::spawn(async move {
            loop {
                let notified = changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let Some(service) = events.upgrade() else {
                    return;
                };
                let next = step(&service);
                drop(service);
                let now = clock.now_ms();
                let until = next.unwrap_or(now + IDLE_MS).min(now + IDLE_MS);
                tokio::select! {
                    _ = clock.sleep_until_ms(until) => {}
                    _ = &mut notified => {}
                }
            }
        });
    }

    /// Forgets every bus, rule, archive, replay, connection and API destination.
    pub fn reset(&self) -> crate::store::Ticket {
        *self.state.write() = Registry::default();
        self.schedule_changed.notify_one();
        self.store.submit(vec![
            crate::store::Change::DeletePrefix {
                space: crate::store::Space::Events,
                prefix: Vec::new(),
            },
            crate::store::Change::DeletePrefix {
                space: crate::store::Space::ArchivedEvents,
                prefix: Vec::new(),
            },
        ])
    }

    pub fn bus_count(&self) -> usize {
        self.state.read().buses.len()
    }
}

impl Service for EventsService {
    const NAME: &'static str = "events";
    type Operation = model::Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        self.ensure_default_bus(ctx, &ctx.account, &ctx.region);
        Ok(match request {
            Request::CreateEventBus(i) => Response::CreateEventBus(self.create_event_bus(ctx, i)?),
            Request::DescribeEventBus(i) => {
                Response::DescribeEventBus(self.describe_event_bus(ctx, i)?)
            }
            Request::UpdateEventBus(i) => Response::UpdateEventBus(self.update_event_bus(ctx, i)?),
            Request::DeleteEventBus(i) => Response::DeleteEventBus(self.delete_event_bus(ctx, i)?),
            Request::ListEventBuses(i) => Response::ListEventBuses(self.list_event_buses(ctx, i)?),
            Request::PutRule(i) => Response::PutRule(self.put_rule(ctx, i)?),
            Request::DescribeRule(i) => Response::DescribeRule(self.describe_rule(ctx, i)?),
            Request::DeleteRule(i) => Response::DeleteRule(self.delete_rule(ctx, i)?),
            Request::EnableRule(i) => Response::EnableRule(self.set_rule_state(ctx, i, true)?),
            Request::DisableRule(i) => Response::DisableRule(self.set_rule_state(ctx, i, false)?),
            Request::ListRules(i) => Response::ListRules(self.list_rules(ctx, i)?),
            Request::ListRuleNamesByTarget(i) => {
                Response::ListRuleNamesByTarget(self.list_rule_names_by_target(ctx, i)?)
            }
            Request::PutTargets(i) => Response::PutTargets(self.put_targets(ctx, i)?),
            Request::RemoveTargets(i) => Response::RemoveTargets(self.remove_targets(ctx, i)?),
            Request::ListTargetsByRule(i) => {
                Response::ListTargetsByRule(self.list_targets_by_rule(ctx, i)?)
            }
            Request::PutEvents(i) => Response::PutEvents(self.put_events(ctx, i)?),
            Request::TestEventPattern(i) => {
                Response::TestEventPattern(rules::test_event_pattern(i)?)
            }
            Request::PutPermission(i) => Response::PutPermission(self.put_permission(ctx, i)?),
            Request::RemovePermission(i) => {
                Response::RemovePermission(self.remove_permission(ctx, i)?)
            }
            Request::TagResource(i) => Response::TagResource(self.tag_resource(ctx, i)?),
            Request::UntagResource(i) => Response::UntagResource(self.untag_resource(ctx, i)?),
            Request::ListTagsForResource(i) => {
                Response::ListTagsForResource(self.list_tags_for_resource(ctx, i)?)
            }
            Request::CreateArchive(i) => Response::CreateArchive(self.create_archive(ctx, i)?),
            Request::DescribeArchive(i) => {
                Response::DescribeArchive(self.describe_archive(ctx, i)?)
            }
            Request::UpdateArchive(i) => Response::UpdateArchive(self.update_archive(ctx, i)?),
            Request::DeleteArchive(i) => Response::DeleteArchive(self.delete_archive(ctx, i)?),
            Request::ListArchives(i) => Response::ListArchives(self.list_archives(ctx, i)?),
            Request::StartReplay(i) => Response::StartReplay(self.start_replay(ctx, i)?),
            Request::DescribeReplay(i) => Response::DescribeReplay(self.describe_replay(ctx, i)?),
            Request::ListReplays(i) => Response::ListReplays(self.list_replays(ctx, i)?),
            Request::CancelReplay(i) => Response::CancelReplay(self.cancel_replay(ctx, i)?),
            Request::CreateConnection(i) => {
                Response::CreateConnection(self.create_connection(ctx, i)?)
            }
            Request::DescribeConnection(i) => {
                Response::DescribeConnection(self.describe_connection(ctx, i)?)
            }
            Request::UpdateConnection(i) => {
                Response::UpdateConnection(self.update_connection(ctx, i)?)
            }
            Request::DeleteConnection(i) => {
                Response::DeleteConnection(self.delete_connection(ctx, i)?)
            }
            Request::ListConnections(i) => {
                Response::ListConnections(self.list_connections(ctx, i)?)
            }
            Request::CreateApiDestination(i) => {
                Response::CreateApiDestination(self.create_api_destination(ctx, i)?)
            }
            Request::DescribeApiDestination(i) => {
                Response::DescribeApiDestination(self.describe_api_destination(ctx, i)?)
            }
            Request::UpdateApiDestination(i) => {
                Response::UpdateApiDestination(self.update_api_destination(ctx, i)?)
            }
            Request::DeleteApiDestination(i) => {
                Response::DeleteApiDestination(self.delete_api_destination(ctx, i)?)
            }
            Request::ListApiDestinations(i) => {
                Response::ListApiDestinations(self.list_api_destinations(ctx, i)?)
            }
        })
    }
}

/// `arn:aws:events:<region>:<account>:<resource>`.
pub fn arn(region: &str, account: &str, resource: &str) -> String {
    format!("arn:aws:events:{region}:{account}:{resource}")
}

/// The parts of an EventBridge ARN: (region, account, resource).
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("events"), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((region, account, resource))
}

/// Epoch milliseconds as AWS JSON's epoch seconds.
pub fn epoch_seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(&codes::EVENTS_NOT_FOUND, message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(&codes::EVENTS_VALIDATION, message)
}

/// AWS's model-constraint wording, one error or several: `1 validation error detected: Value
/// 'x' at 'name' failed to satisfy constraint: Member must …`.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn required<T: ?Sized>(&mut self, member: &str, value: Option<&T>) -> &mut Self {
        if value.is_none() {
            self.0.push(format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ));
        }
        self
    }

    /// A resource name: `[\.\-_A-Za-z0-9]+`, 1 to `max` characters.
    pub fn name(&mut self, member: &str, value: Option<&str>, max: usize) -> &mut Self {
        let Some(v) = value else {
            return self.required::<()>(member, None);
        };
        if !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            || v.is_empty()
        {
            self.invalid(
                member,
                v,
                "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
            );
        }
        if v.chars().count() > max {
            self.invalid(
                member,
                v,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
        self
    }

    pub fn invalid(&mut self, member: &str, value: impl std::fmt::Display, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn check(&mut self) -> AwsResult<()> {
        let found = std::mem::take(&mut self.0);
        match found.len() {
            0 => Ok(()),
            n => Err(validation(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                found.join("; ")
            ))),
        }
    }
}

/// Listings page by position: the token is the index of the next item, base64-encoded.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    limit: Option<i64>,
) -> AwsResult<(Vec<T>, Option<String>)> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let start = match token {
        None => 0,
        Some(t) => STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| validation("The NextToken provided is invalid."))?,
    };
    let limit = match limit {
        Some(l) if l > 0 => (l as usize).min(100),
        _ => 100,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| STANDARD.encode((start + limit).to_string()));
    Ok((page, next))
}
