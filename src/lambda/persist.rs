//! Functions in the durable store: one JSON record per function under `account/region/name`,
//! written with the request that changed it and read back at start-up. Code unpacked from a
//! ZipFile lives beside the store (`<data dir>/lambda-code`), so it survives with it.

use std::sync::Arc;

use crate::context::RequestContext;
use crate::store::{Change, Space};

use super::function::FunctionConfig;
use super::LambdaService;

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
        Ok(restored)
    }
}
