//! Functions in the durable store: one JSON record per function under `account/region/name`,
//! written with the request that changed it and read back at start-up. Code unpacked from a
//! ZipFile lives beside the store (`<data dir>/lambda-code`), so it survives with it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::store::{Change, Space};

use super::function::{self, FunctionConfig};
use super::{InvocationSource, InvokeRequest, LambdaService};

/// An accepted asynchronous invocation, kept until it is done.
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
        request: &InvokeRequest,
        ctx: Option<&RequestContext>,
    ) -> Option<Vec<u8>> {
        if !self.store.persistent() {
            return None;
        }
        let record = EventRecord {
            account: id.account.clone(),
            region: id.region.clone(),
            function: id.name.clone(),
            payload: String::from_utf8_lossy(&request.payload).into_owned(),
            source: request.source.label().to_string(),
            source_arn: request.source.arn().map(str::to_string),
            batch_size: request.batch_size,
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

    /// Runs again the Event invocations accepted before a restart and not finished (their
    /// failure callbacks did not survive it: a final failure is logged).
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
                _ => InvocationSource::Api,
            };
            let mut request = InvokeRequest::new(record.payload, source);
            request.batch_size = record.batch_size;
            let function_arn = id.arn();
            let on_failure = Box::new(move |failure: super::AsyncFailure| {
                tracing::warn!(function = %function_arn, request_id = %failure.request_id, "an event accepted before the restart failed after its retries");
            });
            if this
                .queue_event(&id, pool, request, on_failure, None, Some(key.clone()))
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
