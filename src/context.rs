//! Who is asking, from where: what the protocol layer learns from a request's headers and the
//! services need (account, region, the host to build queue URLs with).

use std::sync::Arc;

use crate::store::Ticket;

/// Writes a request must see durable before it is acknowledged.
#[derive(Default)]
pub struct PendingWrites(parking_lot::Mutex<Vec<Ticket>>);

impl PendingWrites {
    pub fn push(&self, ticket: Ticket) {
        self.0.lock().push(ticket);
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Waits for every write this request made.
    pub async fn durable(&self) -> Result<(), String> {
        let tickets = std::mem::take(&mut *self.0.lock());
        for ticket in tickets {
            ticket.durable().await?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PendingWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingWrites({})", self.0.lock().len())
    }
}

/// Per-request facts the services need, independent of the wire protocol.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub account: String,
    pub region: String,
    /// `Host` header as the client sent it, so returned URLs reach this server the same way.
    pub host: String,
    /// SigV4 access key id, if the request was signed.
    pub access_key: Option<String>,
    /// The principal a service sends on behalf of (SNS delivering to SQS); `None` for a
    /// client's own request, whose sender is its account.
    pub sender: Option<String>,
    /// SigV4 credential-scope service (`sqs`, `sns`, `sts`), if the request was signed.
    pub signing_service: Option<String>,
    /// `X-Amzn-Trace-Id` header, recorded as the AWSTraceHeader system attribute.
    pub trace_header: Option<String>,
    /// Store writes to wait for before answering.
    pub writes: Arc<PendingWrites>,
    /// `--auth sigv4`: the request's signature was verified and `account` is the signer's, so
    /// another account's resources are reached only where their policy allows (`crate::policy`).
    pub authenticated: bool,
    /// The operation being run, set by a service for its policy checks when `authenticated`.
    pub action: Option<&'static str>,
    /// The service and operation the request was decoded as (set by the protocol layer, read
    /// for `/metrics`); unset for a request no service took.
    pub operation: std::sync::OnceLock<(&'static str, &'static str)>,
    /// The store, while writes that failed wait to be written again (see `Store::settled`): an
    /// answer that writes nothing waits for them, unless it only reads.
    pub unsettled_store: Option<crate::store::SharedStore>,
}

impl RequestContext {
    /// A context for code paths that run without a request (tests, start-up provisioning).
    pub fn internal(account: &str, region: &str, host: &str) -> Self {
        RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            account: account.to_string(),
            region: region.to_string(),
            host: host.to_string(),
            access_key: None,
            sender: None,
            signing_service: None,
            trace_header: None,
            writes: Arc::default(),
            authenticated: false,
            action: None,
            operation: Default::default(),
            unsettled_store: None,
        }
    }

    /// This context for running `action` (its policy checks name it); shares the writes.
    pub fn for_action(&self, action: &'static str) -> Self {
        let mut ctx = self.clone();
        ctx.action = Some(action);
        ctx
    }

    /// The principal SQS reports as SenderId: AWS reports a principal id (for a client, the
    /// account the request is attributed to), never the access key id.
    pub fn sender_id(&self) -> &str {
        self.sender.as_deref().unwrap_or(&self.account)
    }
}
