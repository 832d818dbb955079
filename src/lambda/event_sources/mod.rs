//! Event sources: what makes Lambda functions run without anyone calling Invoke.
//!
//! - `mapping.rs`: an event source mapping's configuration, requests and validation
//! - `sqs_poller.rs`: the engine of an SQS mapping (receive → filter → invoke → delete)
//! - `sqs_event.rs`, `sns_event.rs`: the event documents Lambda hands functions
//! - `batch_response.rs`: `ReportBatchItemFailures` answers
//! - `filter.rs`: `FilterCriteria`
//! - `runtime.rs`: what the engine needs from the functions (`FunctionRuntime`);
//!   `lambda_seam.rs`: the Lambda service behind it
//! - `api.rs`: the Create/Get/List/Update/DeleteEventSourceMapping operations
//!
//! `EventSources` is the registry of mappings (by UUID): the API operations and templates go
//! through it; each enabled mapping has one poller task, which a change or deletion wakes.
//! Mappings are kept in the store (`Space::EventSourceMappings`) and restarted at start-up.

pub mod api;
pub mod batch_response;
pub mod filter;
pub mod lambda_seam;
pub mod mapping;
pub mod runtime;
pub mod sns_event;
pub mod sqs_event;
pub mod sqs_poller;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::context::PendingWrites;
use crate::sqs::SqsService;
use crate::store::{Change, SharedStore, Space};

use mapping::{
    conflict, function_name_of, invalid, not_found, CreateEventSourceMappingInput,
    EventSourceMapping, ListEventSourceMappingsOutput, Refusal, Settings,
    UpdateEventSourceMappingInput,
};
pub use runtime::{FunctionRuntime, Invoked};

/// One mapping and the handle its poller watches.
#[derive(Debug)]
pub struct Mapping {
    pub config: Mutex<EventSourceMapping>,
    /// Woken when the configuration changes or the mapping is deleted.
    pub changed: Notify,
    pub deleted: std::sync::atomic::AtomicBool,
}

impl Mapping {
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// The registry of event source mappings.
pub struct EventSources {
    sqs: Arc<SqsService>,
    clock: Arc<Clock>,
    store: SharedStore,
    runtime: OnceLock<Arc<dyn FunctionRuntime>>,
    mappings: Mutex<BTreeMap<String, Arc<Mapping>>>,
    /// Where pollers run (the runtime the server was started in).
    tasks: Option<tokio::runtime::Handle>,
    /// The running pollers, stopped at shutdown.
    pollers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for EventSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventSources({})", self.mappings.lock().len())
    }
}

impl EventSources {
    pub fn new(sqs: Arc<SqsService>, clock: Arc<Clock>, store: SharedStore) -> Arc<Self> {
        Arc::new(EventSources {
            sqs,
            clock,
            store,
            runtime: OnceLock::new(),
            mappings: Mutex::new(BTreeMap::new()),
            tasks: tokio::runtime::Handle::try_current().ok(),
            pollers: Mutex::default(),
        })
    }

    /// Connects the functions the mappings invoke (once, at start-up), and starts the pollers
    /// of every mapping known so far.
    pub fn connect(&self, runtime: Arc<dyn FunctionRuntime>) {
        let _ = self.runtime.set(runtime);
        let all: Vec<Arc<Mapping>> = self.mappings.lock().values().cloned().collect();
        for mapping in all {
            self.start(mapping);
        }
    }

    fn runtime(&self) -> Option<&Arc<dyn FunctionRuntime>> {
        self.runtime.get()
    }

    fn start(&self, mapping: Arc<Mapping>) {
        let (Some(tasks), Some(runtime)) = (&self.tasks, self.runtime()) else {
            return;
        };
        let poller = sqs_poller::SqsPoller::new(
            self.sqs.clone(),
            runtime.clone(),
            self.clock.clone(),
            mapping,
        );
        let mut pollers = self.pollers.lock();
        pollers.retain(|p| !p.is_finished());
        pollers.push(tasks.spawn(poller.run()));
    }

    fn now_s(&self) -> f64 {
        // Whole milliseconds, as AWS's LastModified carries.
        self.clock.now_ms() as f64 / 1000.0
    }

    /// Writes a mapping's record; the answer waits for it (`writes`).
    fn persist(&self, config: &EventSourceMapping, writes: &PendingWrites) {
        if !self.store.persistent() {
            return;
        }
        if let Ok(value) = serde_json::to_vec(&StoredMapping::from(config)) {
            writes.push(self.store.submit(vec![Change::Put {
                space: Space::EventSourceMappings,
                key: config.uuid.as_bytes().to_vec(),
                value,
            }]));
        }
    }

    /// Rebuilds the mappings from the store (start-up); their pollers start on `connect`.
    pub fn restore(&self) -> Result<usize, String> {
        let mut mappings = self.mappings.lock();
        for (_, value) in self.store.load(Space::EventSourceMappings)? {
            let stored: StoredMapping = serde_json::from_slice(&value)
                .map_err(|e| format!("unreadable event source mapping record: {e}"))?;
            let config = stored.into_config();
            mappings.insert(config.uuid.clone(), Arc::new(new_mapping(config)));
        }
        Ok(mappings.len())
    }

    /// With `--auth sigv4`, a mapping may poll another account's queue only where the queue's
    /// Policy lets the caller's account `sqs:ReceiveMessage` (lyrebird has no execution roles:
    /// the caller's account stands for the role's). Refused as Lambda refuses a role that cannot
    /// read the queue. Templates are the operator's own and are not checked.
    pub fn may_poll(
        &self,
        ctx: &crate::context::RequestContext,
        source: &str,
    ) -> Result<(), Refusal> {
        let Some(queue) = self.sqs.queue_by_arn(source) else {
            return Ok(());
        };
        if !ctx.authenticated || queue.account == ctx.account {
            return Ok(());
        }
        let policy = queue.lock_config(|c| c.policy.clone());
        if crate::policy::allows(
            policy.as_deref(),
            &ctx.account,
            "sqs:ReceiveMessage",
            &queue.arn,
        ) {
            return Ok(());
        }
        Err(invalid(
            "The provided execution role does not have permissions to call ReceiveMessage on SQS",
        ))
    }

    /// `CreateEventSourceMapping`.
    pub fn create(
        &self,
        account: &str,
        region: &str,
        input: CreateEventSourceMappingInput,
        writes: &PendingWrites,
    ) -> Result<EventSourceMapping, Refusal> {
        let source = input
            .event_source_arn
            .clone()
            .ok_or_else(|| invalid("Unrecognized event source."))?;
        let function = input.function_name.clone().unwrap_or_default();
        let function_arn = self.function_arn(account, region, &function)?;
        let queue = self.sqs.queue_by_arn(&source).filter(|q| !q.is_deleted());
        if !source.starts_with("arn:") || source.split(':').nth(2) != Some("sqs") {
            return Err(invalid("Unrecognized event source."));
        }
        let Some(queue) = queue else {
            return Err(invalid(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.",
            ));
        };
        input.stream_only.refuse_for_sqs()?;
        let settings = Settings::check(
            input.batch_size,
            input.maximum_batching_window_in_seconds,
            input.function_response_types,
            input.filter_criteria,
            input.scaling_config,
            queue.is_fifo(),
        )?;
        // A batch must stay hidden while the function may still be working on it.
        let visibility = queue.lock(self.clock.now_ms()).config.visibility_timeout;
        if let Some(timeout) = self.runtime().and_then(|r| r.timeout_secs(&function_arn)) {
            if visibility < timeout {
                return Err(invalid(format!(
                    "Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds"
                )));
            }
        }
        let mut mappings = self.mappings.lock();
        if let Some(existing) = mappings.values().find(|m| {
            let c = m.config.lock();
            c.event_source_arn == source && c.function_arn == function_arn
        }) {
            let uuid = existing.config.lock().uuid.clone();
            return Err(conflict(
                format!(
                    "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {uuid}",
                    function_name_of(&function)
                ),
            ));
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut config = EventSourceMapping {
            event_source_mapping_arn: format!(
                "arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}"
            ),
            uuid: uuid.clone(),
            batch_size: 0,
            event_source_arn: source,
            function_arn,
            function_response_types: Vec::new(),
            last_modified: self.now_s(),
            maximum_batching_window_in_seconds: 0,
            state: String::new(),
            state_transition_reason: "USER_INITIATED".into(),
            filter_criteria: None,
            scaling_config: None,
            enabled: input.enabled.unwrap_or(true),
            account: account.to_string(),
            region: region.to_string(),
        };
        config.apply(settings);
        config.state = config.settled_state().into();
        self.persist(&config, writes);
        let mut answer = config.clone();
        answer.state = "Creating".into();
        let mapping = Arc::new(new_mapping(config));
        mappings.insert(uuid, mapping.clone());
        drop(mappings);
        self.start(mapping);
        Ok(answer)
    }

    fn function_arn(&self, account: &str, region: &str, function: &str) -> Result<String, Refusal> {
        self.runtime()
            .and_then(|r| r.function_arn(account, region, function))
            .ok_or_else(|| invalid("Function does not exist"))
    }

    fn find(&self, account: &str, region: &str, uuid: &str) -> Result<Arc<Mapping>, Refusal> {
        self.mappings
            .lock()
            .get(uuid)
            .filter(|m| {
                let c = m.config.lock();
                c.account == account && c.region == region
            })
            .cloned()
            .ok_or_else(not_found)
    }

    /// `GetEventSourceMapping`.
    pub fn get(
        &self,
        account: &str,
        region: &str,
        uuid: &str,
    ) -> Result<EventSourceMapping, Refusal> {
        Ok(self.find(account, region, uuid)?.config.lock().clone())
    }

    /// `ListEventSourceMappings`, filtered by source ARN and function (name or ARN); `marker`
    /// is the UUID after which to continue.
    pub fn list(
        &self,
        account: &str,
        region: &str,
        event_source_arn: Option<&str>,
        function: Option<&str>,
        marker: Option<&str>,
        max_items: Option<usize>,
    ) -> ListEventSourceMappingsOutput {
        let max = max_items.unwrap_or(100).clamp(1, 10_000);
        let mut page: Vec<EventSourceMapping> = self
            .mappings
            .lock()
            .iter()
            .filter(|(uuid, _)| marker.is_none_or(|m| uuid.as_str() > m))
            .map(|(_, m)| m.config.lock().clone())
            .filter(|c| c.account == account && c.region == region)
            .filter(|c| event_source_arn.is_none_or(|arn| c.event_source_arn == arn))
            .filter(|c| {
                function.is_none_or(|f| function_name_of(&c.function_arn) == function_name_of(f))
            })
            .take(max + 1)
            .collect();
        let next_marker = (page.len() > max).then(|| {
            page.truncate(max);
            page.last().map(|c| c.uuid.clone()).unwrap_or_default()
        });
        ListEventSourceMappingsOutput {
            event_source_mappings: page,
            next_marker,
        }
    }

    /// `UpdateEventSourceMapping`: the poller picks the change up at once (a disabled mapping
    /// stops polling before this returns an answer to its caller).
    pub fn update(
        &self,
        account: &str,
        region: &str,
        uuid: &str,
        input: UpdateEventSourceMappingInput,
        writes: &PendingWrites,
    ) -> Result<EventSourceMapping, Refusal> {
        let mapping = self.find(account, region, uuid)?;
        input.stream_only.refuse_for_sqs()?;
        let function_arn = match input.function_name.as_deref() {
            Some(f) => Some(self.function_arn(account, region, f)?),
            None => None,
        };
        let fifo = self
            .sqs
            .queue_by_arn(&mapping.config.lock().event_source_arn)
            .is_some_and(|q| q.is_fifo());
        let mut config = mapping.config.lock();
        let settings = Settings::check(
            input.batch_size.or(Some(config.batch_size as i64)),
            input
                .maximum_batching_window_in_seconds
                .or(Some(config.maximum_batching_window_in_seconds as i64)),
            input
                .function_response_types
                .or_else(|| Some(config.function_response_types.clone())),
            input
                .filter_criteria
                .or_else(|| config.filter_criteria.clone()),
            input
                .scaling_config
                .or_else(|| config.scaling_config.clone()),
            fifo,
        )?;
        config.apply(settings);
        if let Some(arn) = function_arn {
            config.function_arn = arn;
        }
        let answer_state = match input.enabled {
            Some(true) if !config.enabled => "Enabling",
            Some(false) if config.enabled => "Disabling",
            _ => "Updating",
        };
        if let Some(enabled) = input.enabled {
            config.enabled = enabled;
        }
        config.state = config.settled_state().into();
        config.last_modified = self.now_s();
        self.persist(&config, writes);
        let mut answer = config.clone();
        answer.state = answer_state.into();
        drop(config);
        mapping.changed.notify_waiters();
        Ok(answer)
    }

    /// `DeleteEventSourceMapping`: the poller stops; messages it holds in flight become
    /// visible again after their visibility timeout, as on AWS.
    pub fn delete(
        &self,
        account: &str,
        region: &str,
        uuid: &str,
        writes: &PendingWrites,
    ) -> Result<EventSourceMapping, Refusal> {
        let mapping = self.find(account, region, uuid)?;
        self.mappings.lock().remove(uuid);
        mapping
            .deleted
            .store(true, std::sync::atomic::Ordering::Release);
        mapping.changed.notify_waiters();
        if self.store.persistent() {
            writes.push(self.store.submit(vec![Change::Delete {
                space: Space::EventSourceMappings,
                key: uuid.as_bytes().to_vec(),
            }]));
        }
        let mut answer = mapping.config.lock().clone();
        answer.state = "Deleting".into();
        Ok(answer)
    }

    /// Finds a mapping of `function` on `source` (templates re-applied at start-up reuse it).
    pub fn find_by_source(
        &self,
        account: &str,
        region: &str,
        source: &str,
        function: &str,
    ) -> Option<String> {
        self.mappings.lock().values().find_map(|m| {
            let c = m.config.lock();
            (c.account == account
                && c.region == region
                && c.event_source_arn == source
                && function_name_of(&c.function_arn) == function_name_of(function))
            .then(|| c.uuid.clone())
        })
    }

    /// Deletes every mapping (`/_lyrebird/reset`).
    pub fn reset(&self) -> crate::store::Ticket {
        self.close();
        if self.store.persistent() {
            self.store.submit(vec![Change::DeletePrefix {
                space: Space::EventSourceMappings,
                prefix: Vec::new(),
            }])
        } else {
            crate::store::Ticket::done()
        }
    }

    /// Stops every poller and the batches they are running, and waits until they are gone
    /// (server shutdown: a batch cut short is received again after its visibility timeout).
    pub async fn shutdown(&self) {
        self.close();
        let pollers = std::mem::take(&mut *self.pollers.lock());
        for poller in pollers {
            poller.abort();
            let _ = poller.await;
        }
    }

    /// Stops every poller (reset); batches in flight finish.
    pub fn close(&self) {
        for mapping in std::mem::take(&mut *self.mappings.lock()).into_values() {
            mapping
                .deleted
                .store(true, std::sync::atomic::Ordering::Release);
            mapping.changed.notify_waiters();
        }
    }
}

fn new_mapping(config: EventSourceMapping) -> Mapping {
    Mapping {
        config: Mutex::new(config),
        changed: Notify::new(),
        deleted: Default::default(),
    }
}

/// The store record: the configuration plus what the API answer leaves out.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredMapping {
    config: EventSourceMapping,
    enabled: bool,
    account: String,
    region: String,
}

impl From<&EventSourceMapping> for StoredMapping {
    fn from(c: &EventSourceMapping) -> Self {
        StoredMapping {
            config: c.clone(),
            enabled: c.enabled,
            account: c.account.clone(),
            region: c.region.clone(),
        }
    }
}

impl StoredMapping {
    fn into_config(self) -> EventSourceMapping {
        let mut config = self.config;
        config.enabled = self.enabled;
        config.account = self.account;
        config.region = self.region;
        config.state = config.settled_state().into();
        config
    }
}
#[cfg(test)]
mod tests;
