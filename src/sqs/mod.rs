//! The SQS service: queue registry and the operations, one file per family.
//!
//! - `queues.rs`: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes,
//!   PurgeQueue
//! - `messages.rs`: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
//!   ChangeMessageVisibility(Batch)
//! - `tags.rs`: TagQueue, UntagQueue, ListQueueTags
//! - `permissions.rs`: AddPermission, RemovePermission
//! - `dead_letters.rs`: redrive checks and moves, ListDeadLetterSourceQueues
//! - `move_tasks.rs`: Start/List/CancelMessageMoveTask
//! - `queue.rs`: the per-queue engine they drive (visibility, delay, retention, receive)
//! - `fifo.rs`: FIFO message groups in the order they became receivable, and the
//!   deduplication window
//! - `message.rs`: a message in memory (`StoredMessage`) and a message to enqueue; `record.rs`:
//!   its binary store record
//! - `paging.rs`: MaxResults/NextToken paging of the list operations

pub mod attributes;
pub mod dead_letters;
pub mod fifo;
pub mod md5;
pub mod message;
pub mod messages;
pub mod model;
pub mod move_tasks;
pub mod paging;
pub mod peek;
pub mod permissions;
pub mod queue;
pub mod queues;
pub mod receipt;
pub mod record;
pub mod tags;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};
use crate::service::{Operation as _, Service};
use crate::store::{SharedStore, Space};

use model::{Request, Response};
use queue::Queue;

/// Queues by account, then region, then name (sorted, for ListQueues).
type Registry = HashMap<String, HashMap<String, BTreeMap<String, Arc<Queue>>>>;
type SharedRegistry = Arc<RwLock<Registry>>;

/// AWS's default quota of in-flight messages per queue (standard and FIFO alike).
pub const IN_FLIGHT_LIMIT: usize = 120_000;

/// Behaviours that differ from AWS on purpose, or that AWS lets accounts change, chosen by
/// configuration.
#[derive(Debug, Clone)]
pub struct SqsOptions {
    /// Enforce AWS's 60-second wait before re-creating a deleted queue's name.
    pub strict_queue_recreate: bool,
    /// In-flight messages a queue allows (AWS Support can raise the quota).
    pub in_flight_limit: usize,
    /// Queues an account may have in one region.
    pub max_queues: usize,
}

impl Default for SqsOptions {
    fn default() -> Self {
        SqsOptions {
            strict_queue_recreate: false,
            in_flight_limit: IN_FLIGHT_LIMIT,
            max_queues: 1_000_000,
        }
    }
}

/// The SQS service. Cheap to share; each queue carries its own lock.
#[derive(Debug)]
pub struct SqsService {
    clock: Arc<Clock>,
    options: SqsOptions,
    store: SharedStore,
    registry: SharedRegistry,
    /// When each (account, region, name) was last deleted, for `strict_queue_recreate`.
    deleted_at: Mutex<queues::RecentlyDeleted>,
    move_tasks: Mutex<Vec<Arc<move_tasks::MoveTask>>>,
    /// Set at shutdown: long polls return at once instead of holding the server open.
    closing: AtomicBool,
}

impl SqsService {
    pub fn new(clock: Arc<Clock>, options: SqsOptions, store: SharedStore) -> Self {
        SqsService {
            clock,
            options,
            store,
            registry: Arc::new(RwLock::new(HashMap::new())),
            deleted_at: Mutex::new(Default::default()),
            move_tasks: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

/// What the protocol layer calls: one decoded request, one response.
impl Service for SqsService {
    const NAME: &'static str = "sqs";
    type Operation = model::Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        // Signed requests (`--auth sigv4`) name their operation in cross-account policy checks.
        let scoped;
        let ctx = if ctx.authenticated {
            scoped = ctx.for_action(request.operation().name());
            &scoped
        } else {
            ctx
        };
        Ok(match request {
            Request::CreateQueue(i) => Response::CreateQueue(self.create_queue(ctx, i)?),
            Request::GetQueueUrl(i) => Response::GetQueueUrl(self.get_queue_url(ctx, i)?),
            Request::ListQueues(i) => Response::ListQueues(self.list_queues(ctx, i)?),
            Request::DeleteQueue(i) => Response::DeleteQueue(self.delete_queue(ctx, i)?),
            Request::PurgeQueue(i) => Response::PurgeQueue(self.purge_queue(ctx, i)?),
            Request::GetQueueAttributes(i) => {
                Response::GetQueueAttributes(self.get_queue_attributes(ctx, i)?)
            }
            Request::SetQueueAttributes(i) => {
                Response::SetQueueAttributes(self.set_queue_attributes(ctx, i)?)
            }
            Request::TagQueue(i) => Response::TagQueue(self.tag_queue(ctx, i)?),
            Request::UntagQueue(i) => Response::UntagQueue(self.untag_queue(ctx, i)?),
            Request::ListQueueTags(i) => Response::ListQueueTags(self.list_queue_tags(ctx, i)?),
            Request::SendMessage(i) => Response::SendMessage(self.send_message(ctx, i)?),
            Request::SendMessageBatch(i) => {
                Response::SendMessageBatch(self.send_message_batch(ctx, i)?)
            }
            Request::ReceiveMessage(i) => {
                Response::ReceiveMessage(self.receive_message(ctx, i).await?)
            }
            Request::DeleteMessage(i) => Response::DeleteMessage(self.delete_message(ctx, i)?),
            Request::DeleteMessageBatch(i) => {
                Response::DeleteMessageBatch(self.delete_message_batch(ctx, i)?)
            }
            Request::ChangeMessageVisibility(i) => {
                Response::ChangeMessageVisibility(self.change_message_visibility(ctx, i)?)
            }
            Request::ChangeMessageVisibilityBatch(i) => Response::ChangeMessageVisibilityBatch(
                self.change_message_visibility_batch(ctx, i)?,
            ),
            Request::AddPermission(i) => Response::AddPermission(self.add_permission(ctx, i)?),
            Request::RemovePermission(i) => {
                Response::RemovePermission(self.remove_permission(ctx, i)?)
            }
            Request::ListDeadLetterSourceQueues(i) => {
                Response::ListDeadLetterSourceQueues(self.list_dead_letter_source_queues(ctx, i)?)
            }
            Request::StartMessageMoveTask(i) => {
                Response::StartMessageMoveTask(self.start_message_move_task(ctx, i)?)
            }
            Request::ListMessageMoveTasks(i) => {
                Response::ListMessageMoveTasks(self.list_message_move_tasks(ctx, i)?)
            }
            Request::CancelMessageMoveTask(i) => {
                Response::CancelMessageMoveTask(self.cancel_message_move_task(ctx, i)?)
            }
        })
    }
}

impl SqsService {
    fn lookup(&self, account: &str, region: &str, name: &str) -> Option<Arc<Queue>> {
        self.registry
            .read()
            .get(account)?
            .get(region)?
            .get(name)
            .cloned()
    }

    /// Finds a queue by its ARN (`arn:aws:sqs:<region>:<account>:<name>`).
    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        lookup_arn(&self.registry, arn)
    }

    /// Finds the queue a `QueueUrl` names. Only the path matters (`/<account>/<name>`), so URLs
    /// of real AWS or of another host still resolve; a bare queue name is accepted too.
    pub fn resolve(&self, ctx: &RequestContext, queue_url: Option<&str>) -> AwsResult<Arc<Queue>> {
        let url = match queue_url {
            Some(u) if !u.is_empty() => u,
            _ => return Err(AwsError::missing_parameter("QueueUrl")),
        };
        let (host, path) = match url.split_once("://") {
            Some((_, rest)) => rest.split_once('/').unwrap_or((rest, "")),
            None => ("", url),
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
        let (name, account) = match (segments.next(), segments.next()) {
            (Some(name), Some(account)) => (name, account),
            (Some(name), None) => (name, ctx.account.as_str()),
            _ => return Err(AwsError::queue_does_not_exist()),
        };
        let region = region_of_host(host).unwrap_or(&ctx.region);
        let queue = self
            .lookup(account, region, name)
            .ok_or_else(AwsError::queue_does_not_exist)?;
        self.authorize(ctx, &queue)?;
        Ok(queue)
    }

    /// With `--auth sigv4`, a caller from another account reaches a queue only where the queue's
    /// Policy grants its account the action (`crate::policy`); owners always do.
    pub(crate) fn authorize(&self, ctx: &RequestContext, queue: &Queue) -> AwsResult<()> {
        if !ctx.authenticated || queue.account == ctx.account {
            return Ok(());
        }
        let action = format!("sqs:{}", ctx.action.unwrap_or_default());
        let policy = queue.lock_config(|c| c.policy.clone());
        if crate::policy::allows(policy.as_deref(), &ctx.account, &action, &queue.arn) {
            return Ok(());
        }
        Err(AwsError::new(
            &crate::error::codes::ACCESS_DENIED,
            format!(
                "Access to the resource {} is denied.",
                Self::queue_url(ctx, queue)
            ),
        ))
    }

    /// The URL clients use for a queue: through the host they reached us by.
    pub fn queue_url(ctx: &RequestContext, queue: &Queue) -> String {
        format!("http://{}/{}/{}", ctx.host, queue.account, queue.name)
    }

    /// Forgets every queue in every account and region.
    pub fn reset(&self) -> Vec<crate::store::Ticket> {
        for task in self.move_tasks.lock().drain(..) {
            task.cancel();
        }
        self.deleted_at.lock().clear();
        let old = std::mem::take(&mut *self.registry.write());
        all_queues(&old).map(|queue| queue.mark_deleted()).collect()
    }

    /// Wakes every long-polling receiver so it re-reads the clock (after the test clock moved).
    pub fn wake_all(&self) {
        let registry = self.registry.read();
        for queue in all_queues(&registry) {
            queue.notify().notify_waiters();
        }
    }

    /// Rebuilds every queue and message from the store (start-up). Returns (queues, messages).
    pub fn restore(&self) -> Result<(usize, usize), String> {
        let now = self.now_ms();
        let mut by_id = HashMap::new();
        for (_, value) in self.store.load(Space::Queues)? {
            let record: queue::QueueRecord = serde_json::from_slice(&value)
                .map_err(|e| format!("unreadable queue record: {e}"))?;
            let queue = Arc::new(Queue::from_record(record, now, self.store.clone()));
            by_id.insert(queue.id, queue);
        }
        let mut messages = 0;
        let mut current: Option<(u64, parking_lot::MutexGuard<'_, queue::QueueState>)> = None;
        // Streamed: a large backlog is never held twice (records and messages) in memory.
        self.store.scan(Space::Messages, &mut |key, value| {
            let (Some(id), Some(seq)) = (key_u64(key, 0), key_u64(key, 8)) else {
                return Ok(());
            };
            let Some(queue) = by_id.get(&id) else {
                return Ok(());
            };
            if current.as_ref().map(|(c, _)| *c) != Some(id) {
                current = Some((id, queue.lock_unrefreshed()));
            }
            if let Some((_, state)) = current.as_mut() {
                state.restore_record(seq, value, now)?;
            }
            messages += 1;
            Ok(())
        })?;
        drop(current);
        for (key, value) in self.store.load(Space::Deduplication)? {
            let Some(queue) = key_u64(&key, 0).and_then(|id| by_id.get(&id)) else {
                continue;
            };
            if let Ok(entry) = serde_json::from_slice(&value) {
                queue.lock_unrefreshed().restore_dedup(&key, entry, now);
            }
        }
        let mut registry = self.registry.write();
        for queue in by_id.into_values() {
            queue.lock_unrefreshed().finish_restore();
            registry
                .entry(queue.account.clone())
                .or_default()
                .entry(queue.region.clone())
                .or_default()
                .insert(queue.name.clone(), queue);
        }
        drop(registry);
        self.restore_move_tasks()?;
        let queues = all_queues(&self.registry.read()).count();
        Ok((queues, messages))
    }

    /// Hands every queue's outstanding changes (expiries found while reading) to the store.
    pub fn commit_all(&self) {
        let registry = self.registry.read();
        for queue in all_queues(&registry) {
            let mut state = queue.lock(self.now_ms());
            drop(queue.commit(&mut state));
        }
    }

    /// Releases every long poll; called when the server shuts down.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake_all();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn queue_count(&self) -> usize {
        all_queues(&self.registry.read()).count()
    }

    /// The queues of one account and region, by name (the console's list).
    pub fn queues_in(&self, account: &str, region: &str) -> Vec<Arc<Queue>> {
        let registry = self.registry.read();
        let queues = registry
            .get(account)
            .and_then(|regions| regions.get(region));
        queues.map_or_else(Vec::new, |q| q.values().cloned().collect())
    }

    /// Up to `limit` queues of every account and region (`/metrics`), sorted by account, region
    /// and name so a cap keeps the same ones from scrape to scrape.
    pub fn queues_sorted(&self, limit: usize) -> Vec<Arc<Queue>> {
        let registry = self.registry.read();
        let mut accounts: Vec<_> = registry.iter().collect();
        accounts.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::new();
        for (_, regions) in accounts {
            let mut regions: Vec<_> = regions.iter().collect();
            regions.sort_by(|a, b| a.0.cmp(b.0));
            for (_, queues) in regions {
                for queue in queues.values() {
                    if out.len() >= limit {
                        return out;
                    }
                    out.push(queue.clone());
                }
            }
        }
        out
    }

    /// The service clock (milliseconds since the epoch), as the developer endpoints see it.
    pub fn clock_ms(&self) -> u64 {
        self.now_ms()
    }
}

/// Every queue of every account and region.
fn all_queues(registry: &Registry) -> impl Iterator<Item = &Arc<Queue>> {
    registry
        .values()
        .flat_map(|regions| regions.values())
        .flat_map(|queues| queues.values())
}

fn key_u64(key: &[u8], at: usize) -> Option<u64> {
    key.get(at..at + 8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

fn lookup_arn(registry: &RwLock<Registry>, arn: &str) -> Option<Arc<Queue>> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("sqs"), Some(region), Some(account), Some(name), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    registry
        .read()
        .get(account)?
        .get(region)?
        .get(name)
        .cloned()
}

/// The region of an AWS SQS endpoint host (`sqs.<region>.amazonaws.com`,
/// `<region>.queue.amazonaws.com`), if the host is one.
fn region_of_host(host: &str) -> Option<&str> {
    let host = host.split(':').next()?;
    if let Some(rest) = host.strip_prefix("sqs.") {
        let region = rest.split('.').next()?;
        return (rest[region.len()..].starts_with(".amazonaws.com")).then_some(region);
    }
    let (region, rest) = host.split_once('.')?;
    rest.starts_with("queue.amazonaws.com").then_some(region)
}

#[cfg(test)]
mod tests {
    use super::region_of_host;

    #[test]
    fn region_from_aws_hosts() {
        assert_eq!(
            region_of_host("sqs.eu-west-1.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_host("us-east-2.queue.amazonaws.com"),
            Some("us-east-2")
        );
        assert_eq!(region_of_host("localhost:4566"), None);
        assert_eq!(region_of_host("queue.amazonaws.com"), None);
        assert_eq!(region_of_host("lyrebird"), None);
    }
}
