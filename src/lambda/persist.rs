//! Functions in the durable store: one JSON record per function under `account/region/name`,
//! written with the request that changed it and read back at start-up. Code unpacked from a
//! ZipFile lives beside the store (`<data dir>/lambda-code`), so it survives with it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::store::{Change, Space};

use super::async_invoke::AsyncEvent;
use super::destinations::FailureRoute;
use super::function::{self, FunctionConfig};
use super::{InvocationSource, LambdaService};

/// An accepted asynchronous invocation, kept until it is done: what it runs and where its
/// outcome goes, so a restart loses neither.
#[derive(Debug, Serialize, Deserialize)]
struct EventRecord {
    account: String,
    region: String,
    function: String,
    payload: String,
    source: String,
    #[serde(default)]
    source_arn: Option<String>,
    batch_size: usize,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    accepted_ms: Option<u64>,
    #[serde(default)]
    route: FailureRoute,
}

impl LambdaService {
    pub(super) fn persist(&self, ctx: &RequestContext, config: &FunctionConfig) {
        if !self.store.persistent() {
            return;
        }
        let value = serde_json::to_vec(config).unwrap_or_default();
        ctx.writes.push(self.store.submit(vec![Change::Put {
            space: Space::LambdaFunctions,
            key: config.key().into_bytes(),
            value,
        }]));
    }

    pub(super) fn forget(&self, ctx: &RequestContext, key: &str) {
        if self.store.persistent() {
            ctx.writes.push(self.store.submit(vec![Change::Delete {
                space: Space::LambdaFunctions,
                key: key.as_bytes().to_vec(),
            }]));
        }
    }

    /// Keeps an accepted Event invocation in the store; its key, when the store keeps anything.
    pub(super) fn keep_event(
        &self,
        id: &function::FunctionId,
        event: &AsyncEvent,
        ctx: Option<&RequestContext>,
    ) -> Option<Vec<u8>> {
        if !self.store.persistent() {
            return None;
        }
        let record = EventRecord {
            account: id.account.clone(),
            region: id.region.clone(),
            function: id.name.clone(),
            payload: String::from_utf8_lossy(&event.payload).into_owned(),
            source: event.source.label().to_string(),
            source_arn: event.source.arn().map(str::to_string),
            batch_size: event.batch_size,
            request_id: Some(event.request_id.clone()),
            accepted_ms: Some(event.accepted_ms),
            route: event.route.clone(),
        };
        let key = format!(
            "{}/{}",
            function::key(&id.account, &id.region, &id.name),
            uuid::Uuid::new_v4().simple()
        )
        .into_bytes();
        let ticket = self.store.submit(vec![Change::Put {
            space: Space::LambdaEvents,
            key: key.clone(),
            value: serde_json::to_vec(&record).unwrap_or_default(),
        }]);
        match ctx {
            Some(ctx) => ctx.writes.push(ticket),
            // A service's own invocation (SNS, EventBridge): written in order with the rest.
            None => drop(tokio::spawn(ticket.durable())),
        }
        Some(key)
    }

    pub(super) fn forget_event(&self, key: Vec<u8>) {
        let ticket = self.store.submit(vec![Change::Delete {
            space: Space::LambdaEvents,
            key,
        }]);
        drop(tokio::spawn(ticket.durable()));
    }

    /// Runs again the Event invocations accepted before a restart and not finished, with their
    /// request ids, ages and failure routes.
    fn restore_events(&self) -> Result<usize, String> {
        let records = self.store.load(Space::LambdaEvents)?;
        let this = self.arc();
        let mut restored = 0;
        for (key, value) in records {
            let Ok(record) = serde_json::from_slice::<EventRecord>(&value) else {
                self.forget_event(key);
                continue;
            };
            let id = function::FunctionId {
                account: record.account,
                region: record.region,
                name: record.function,
                qualifier: None,
            };
            let Ok(pool) = self.pool_of(&id) else {
                tracing::warn!(function = %id.arn(), "an accepted event of a deleted function is dropped");
                self.forget_event(key);
                continue;
            };
            let arn = record.source_arn.unwrap_or_default();
            let source = match record.source.as_str() {
                "aws:sqs" => InvocationSource::Sqs { arn },
                "aws:sns" => InvocationSource::Sns { arn },
                "aws:events" => InvocationSource::Events { arn },
                "aws:lambda" => InvocationSource::Lambda { arn },
                _ => InvocationSource::Api,
            };
            let event = AsyncEvent {
                request_id: record
                    .request_id
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                payload: record.payload.into(),
                source,
                batch_size: record.batch_size,
                accepted_ms: record.accepted_ms.unwrap_or_else(|| self.clock.now_ms()),
                route: record.route,
            };
            if this
                .queue_event(&id, pool, event, None, Some(key.clone()))
                .is_err()
            {
                self.forget_event(key);
                continue;
            }
            restored += 1;
        }
        Ok(restored)
    }

    /// Reads the stored functions back; returns how many.
    pub fn restore(&self) -> Result<usize, String> {
        self.restore_event_invoke_configs()?;
        let records = self.store.load(Space::LambdaFunctions)?;
        let mut restored = 0;
        for (key, value) in records {
            match serde_json::from_slice::<FunctionConfig>(&value) {
                Ok(config) => {
                    self.register(Arc::new(config));
                    restored += 1;
                }
                Err(e) => tracing::error!(
                    key = %String::from_utf8_lossy(&key),
                    error = %e,
                    "unreadable function record skipped"
                ),
            }
        }
        let events = self.restore_events()?;
        if events > 0 {
            tracing::info!(
                events,
                "asynchronous invocations accepted before the restart run again"
            );
        }
        Ok(restored)
    }
}
