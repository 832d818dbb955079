//! Message move tasks: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask.
//! A task runs in the background, taking visible messages out of a dead-letter queue and
//! sending each to the given destination or back to the queue it came from.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use parking_lot::Mutex;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::store::{Change, SharedStore, Space};

use super::message::NewMessage;
use super::model::*;
use super::queue::Moving;
use super::{lookup_arn, SharedRegistry, SqsService};

/// One task, shared between the worker and the API.
#[derive(Debug)]
pub struct MoveTask {
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    max_per_second: Option<i64>,
    started_ms: i64,
    to_move: i64,
    moved: AtomicI64,
    cancelled: AtomicBool,
    /// RUNNING, COMPLETED, CANCELLED or FAILED, and the failure reason.
    status: Mutex<(&'static str, Option<String>)>,
    store: SharedStore,
}

/// A task as the store keeps it; a task still RUNNING at a crash resumes at start-up.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MoveTaskRecord {
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    max_per_second: Option<i64>,
    started_ms: i64,
    to_move: i64,
    moved: i64,
    status: String,
    failure_reason: Option<String>,
}

const RECORD_PREFIX: &str = "move_task/";

/// What a TaskHandle carries: AWS's handles are padded standard base64 of this compact JSON,
/// in this key order, and CancelMessageMoveTask reads the source queue back out of them.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskHandle {
    task_id: String,
    source_arn: String,
}

impl TaskHandle {
    fn encode(&self) -> String {
        STANDARD.encode(serde_json::to_string(self).unwrap_or_default())
    }

    fn decode(handle: &str) -> Option<Self> {
        serde_json::from_slice(&STANDARD.decode(handle).ok()?).ok()
    }
}

/// Finished tasks kept per source queue: ListMessageMoveTasks shows at most 10.
const KEPT_TASKS: usize = 10;

impl MoveTask {
    fn entry(&self) -> MessageMoveTaskEntry {
        let (status, failure_reason) = self.status.lock().clone();
        MessageMoveTaskEntry {
            // AWS returns the handle only while the task can still be cancelled.
            task_handle: (status == "RUNNING").then(|| self.handle.clone()),
            status: status.to_string(),
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_number_of_messages_per_second: self.max_per_second,
            approximate_number_of_messages_moved: self.moved.load(Ordering::Relaxed),
            approximate_number_of_messages_to_move: Some(self.to_move),
            failure_reason,
            started_timestamp: self.started_ms,
        }
    }

    /// Stops the worker (reset, CancelMessageMoveTask).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.finish("CANCELLED", None);
    }

    /// Writes the task's record (not waited for: counts are approximate, as on AWS).
    fn persist(&self) {
        if !self.store.persistent() {
            return;
        }
        let (status, failure_reason) = self.status.lock().clone();
        let record = MoveTaskRecord {
            handle: self.handle.clone(),
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_per_second: self.max_per_second,
            started_ms: self.started_ms,
            to_move: self.to_move,
            moved: self.moved.load(Ordering::Relaxed),
            status: status.to_string(),
            failure_reason,
        };
        let change = Change::Put {
            space: Space::Meta,
            key: format!("{RECORD_PREFIX}{}", self.handle).into_bytes(),
            value: serde_json::to_vec(&record).unwrap_or_default(),
        };
        drop(self.store.submit(vec![change]));
    }

    fn from_record(r: MoveTaskRecord, store: SharedStore) -> Self {
        let status = match r.status.as_str() {
            "RUNNING" => "RUNNING",
            "COMPLETED" => "COMPLETED",
            "CANCELLED" => "CANCELLED",
            _ => "FAILED",
        };
        MoveTask {
            handle: r.handle,
            source_arn: r.source_arn,
            destination_arn: r.destination_arn,
            max_per_second: r.max_per_second,
            started_ms: r.started_ms,
            to_move: r.to_move,
            moved: AtomicI64::new(r.moved),
            cancelled: AtomicBool::new(false),
            status: Mutex::new((status, r.failure_reason)),
            store,
        }
    }

    fn finish(&self, status: &'static str, reason: Option<String>) {
        let mut current = self.status.lock();
        if current.0 == "RUNNING" {
            *current = (status, reason);
            drop(current);
            self.persist();
        }
    }
}

impl SqsService {
    pub fn start_message_move_task(
        &self,
        ctx: &RequestContext,
        input: StartMessageMoveTaskInput,
    ) -> AwsResult<StartMessageMoveTaskOutput> {
        let source_arn = match input.source_arn {
            Some(a) if !a.is_empty() => a,
            _ => return Err(AwsError::missing_parameter("SourceArn")),
        };
        let source = self.queue_by_arn(&source_arn).ok_or_else(|| {
            AwsError::new(
                &codes::RESOURCE_NOT_FOUND,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        })?;
        self.authorize(ctx, &source)?;
        if !self.is_dead_letter_queue(&source.arn) {
            return Err(AwsError::invalid_parameter_value(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let destination_arn = input.destination_arn.filter(|d| !d.is_empty());
        if let Some(arn) = &destination_arn {
            let Some(destination) = self.queue_by_arn(arn) else {
                return Err(AwsError::new(
                    &codes::RESOURCE_NOT_FOUND,
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                ));
            };
            self.authorize(ctx, &destination)?;
        }
        let max_per_second = match input.max_number_of_messages_per_second {
            Some(n) => Some(super::validate::int_in_range(
                "MaxNumberOfMessagesPerSecond",
                n,
                1..=500,
                "MaxNumberOfMessagesPerSecond must be between 1 and 500.",
            )?),
            None => None,
        };
        let now = self.now_ms();
        let mut tasks = self.move_tasks.lock();
        if tasks
            .iter()
            .any(|t| t.source_arn == source.arn && t.status.lock().0 == "RUNNING")
        {
            return Err(AwsError::invalid_parameter_value(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let to_move = source.lock(now).counts().visible as i64;
        let handle = TaskHandle {
            task_id: uuid::Uuid::new_v4().to_string(),
            source_arn: source.arn.clone(),
        }
        .encode();
        let task = Arc::new(MoveTask {
            handle: handle.clone(),
            source_arn: source.arn.clone(),
            destination_arn,
            max_per_second,
            started_ms: now as i64,
            to_move,
            moved: AtomicI64::new(0),
            cancelled: AtomicBool::new(false),
            status: Mutex::new(("RUNNING", None)),
            store: self.store.clone(),
        });
        task.persist();
        tasks.push(task.clone());
        self.prune_move_tasks(&mut tasks);
        tokio::spawn(run(task, self.registry.clone(), self.clock.clone()));
        Ok(StartMessageMoveTaskOutput {
            task_handle: handle,
        })
    }

    pub fn list_message_move_tasks(
        &self,
        ctx: &RequestContext,
        input: ListMessageMoveTasksInput,
    ) -> AwsResult<ListMessageMoveTasksOutput> {
        let source_arn = match input.source_arn {
            Some(a) if !a.is_empty() => a,
            _ => return Err(AwsError::missing_parameter("SourceArn")),
        };
        let Some(source) = self.queue_by_arn(&source_arn) else {
            return Err(AwsError::new(
                &codes::RESOURCE_NOT_FOUND,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            ));
        };
        self.authorize(ctx, &source)?;
        let max = match input.max_results {
            Some(n) => super::validate::int_in_range(
                "MaxResults",
                n,
                1..=10,
                "MaxResults must be between 1 and 10.",
            )? as usize,
            None => 1,
        };
        let tasks = self.move_tasks.lock();
        let results = tasks
            .iter()
            .rev()
            .filter(|t| t.source_arn == source_arn)
            .take(max)
            .map(|t| t.entry())
            .collect();
        Ok(ListMessageMoveTasksOutput { results })
    }

    pub fn cancel_message_move_task(
        &self,
        ctx: &RequestContext,
        input: CancelMessageMoveTaskInput,
    ) -> AwsResult<CancelMessageMoveTaskOutput> {
        let handle = match input.task_handle {
            Some(h) if !h.is_empty() => h,
            _ => return Err(AwsError::missing_parameter("TaskHandle")),
        };
        let Some(decoded) = TaskHandle::decode(&handle) else {
            return Err(AwsError::invalid_parameter_value(
                "Value for parameter TaskHandle is invalid.",
            ));
        };
        let Some(source) = self.queue_by_arn(&decoded.source_arn) else {
            return Err(AwsError::new(
                &codes::RESOURCE_NOT_FOUND,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            ));
        };
        self.authorize(ctx, &source)?;
        let tasks = self.move_tasks.lock();
        let task = tasks
            .iter()
            .find(|t| t.handle == handle)
            .ok_or_else(|| AwsError::new(&codes::RESOURCE_NOT_FOUND, "Task does not exist."))?;
        if task.status.lock().0 != "RUNNING" {
            return Err(AwsError::new(
                &codes::RESOURCE_NOT_FOUND,
                "Task does not exist.",
            ));
        }
        task.cancel();
        Ok(CancelMessageMoveTaskOutput {
            approximate_number_of_messages_moved: task.moved.load(Ordering::Relaxed),
        })
    }

    /// Forgets finished tasks beyond the most recent `KEPT_TASKS` of their source queue (all
    /// that ListMessageMoveTasks can show), in memory and in the store, so they do not pile up.
    fn prune_move_tasks(&self, tasks: &mut Vec<Arc<MoveTask>>) {
        let mut per_source: std::collections::HashMap<String, usize> = Default::default();
        let mut forgotten = Vec::new();
        // Newest last: count from the end.
        for i in (0..tasks.len()).rev() {
            let seen = per_source.entry(tasks[i].source_arn.clone()).or_default();
            *seen += 1;
            if *seen > KEPT_TASKS && tasks[i].status.lock().0 != "RUNNING" {
                forgotten.push(tasks.remove(i));
            }
        }
        if self.store.persistent() && !forgotten.is_empty() {
            let changes = forgotten
                .iter()
                .map(|t| Change::Delete {
                    space: Space::Meta,
                    key: format!("{RECORD_PREFIX}{}", t.handle).into_bytes(),
                })
                .collect();
            drop(self.store.submit(changes));
        }
    }

    /// Forgets every move task of a deleted source queue (ListMessageMoveTasks cannot name a
    /// queue that does not exist, and a queue created again under the ARN starts with none);
    /// a running one is cancelled first.
    pub(super) fn forget_move_tasks_of(&self, source_arn: &str) -> crate::store::Ticket {
        let forgotten: Vec<Arc<MoveTask>> = {
            let mut tasks = self.move_tasks.lock();
            let (gone, kept) = std::mem::take(&mut *tasks)
                .into_iter()
                .partition(|t| t.source_arn == source_arn);
            *tasks = kept;
            gone
        };
        for task in &forgotten {
            if task.status.lock().0 == "RUNNING" {
                task.cancel();
            }
        }
        if !self.store.persistent() || forgotten.is_empty() {
            return crate::store::Ticket::done();
        }
        self.store.submit(
            forgotten
                .iter()
                .map(|t| Change::Delete {
                    space: Space::Meta,
                    key: format!("{RECORD_PREFIX}{}", t.handle).into_bytes(),
                })
                .collect(),
        )
    }

    /// Move tasks remembered (running or finished), for tests of the pruning.
    pub fn move_task_count(&self) -> usize {
        self.move_tasks.lock().len()
    }

    /// Whether some queue names `arn` as its dead-letter queue.
    fn is_dead_letter_queue(&self, arn: &str) -> bool {
        let queues: Vec<_> = {
            let registry = self.registry.read();
            registry
                .values()
                .flat_map(|r| r.values())
                .flat_map(|q| q.values())
                .cloned()
                .collect()
        };
        queues.iter().any(|q| {
            q.lock_config(|c| {
                c.redrive_policy
                    .as_ref()
                    .is_some_and(|p| p.dead_letter_target_arn == arn)
            })
        })
    }
}

impl SqsService {
    /// Brings back stored move tasks; those that were running resume where their count was.
    pub(super) fn restore_move_tasks(&self) -> Result<usize, String> {
        let mut restored = Vec::new();
        for (key, value) in self.store.load(Space::Meta)? {
            if !key.starts_with(RECORD_PREFIX.as_bytes()) {
                continue;
            }
            let record: MoveTaskRecord =
                serde_json::from_slice(&value).map_err(|e| format!("unreadable move task: {e}"))?;
            restored.push(Arc::new(MoveTask::from_record(record, self.store.clone())));
        }
        restored.sort_by_key(|t| t.started_ms);
        for task in restored.iter().filter(|t| t.status.lock().0 == "RUNNING") {
            tokio::spawn(run(task.clone(), self.registry.clone(), self.clock.clone()));
        }
        let count = restored.len();
        self.prune_move_tasks(&mut restored);
        *self.move_tasks.lock() = restored;
        Ok(count)
    }
}

/// The worker: moves up to `to_move` messages, honouring the rate limit and cancellation.
async fn run(task: Arc<MoveTask>, registry: SharedRegistry, clock: Arc<crate::clock::Clock>) {
    let pause = task
        .max_per_second
        .map(|n| Duration::from_secs_f64(1.0 / n as f64));
    while task.moved.load(Ordering::Relaxed) < task.to_move
        && !task.cancelled.load(Ordering::Acquire)
    {
        let Some(source) = lookup_arn(&registry, &task.source_arn) else {
            task.finish(
                "FAILED",
                Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            );
            return;
        };
        let now = clock.now_ms();
        let mut moving = Moving::default();
        if !source.lock(now).take_visible(&mut moving) {
            break;
        }
        let (mut messages, removals) = moving.into_parts();
        let Some(message) = messages.pop() else {
            break;
        };
        let target_arn = task
            .destination_arn
            .clone()
            .or_else(|| message.dead_letter_source_arn().map(|a| a.to_string()));
        let target = target_arn
            .as_deref()
            .and_then(|arn| lookup_arn(&registry, arn));
        let Some(target) = target else {
            // Nowhere to go: put it back and report the failure, as AWS does.
            let mut state = source.lock(now);
            state.enqueue(NewMessage::moved_from(message, None, true), now);
            state.journal_removals(removals);
            drop(source.commit(&mut state));
            task.finish(
                "FAILED",
                Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            );
            return;
        };
        let keep_sent = !target.is_fifo();
        let mut moved = NewMessage::moved_from(message, None, keep_sent);
        // A redriven message starts over: it must not be dead-lettered again at once.
        moved.receive_count = 0;
        moved.extra.first_receive_ms = None;
        // The copy and the original's removal are one store job (retried until it is
        // written): a crash leaves the message in one queue or the other.
        let (ticket, copy) = {
            let mut state = target.lock(now);
            state.enqueue(moved, now);
            state.journal_removals(removals);
            let copy = state.pending_changes();
            (target.commit_confirmed(&mut state), copy)
        };
        super::dead_letters::until_durable(&target, ticket, &copy, &clock).await;
        target.notify().notify_one();
        let count = task.moved.fetch_add(1, Ordering::Relaxed) + 1;
        if count % 1000 == 0 {
            task.persist();
        }
        match pause {
            Some(p) => tokio::time::sleep(p).await,
            None if count % 100 == 0 => tokio::task::yield_now().await,
            None => {}
        }
    }
    task.finish("COMPLETED", None);
}
