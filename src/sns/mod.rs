//! The SNS service: topics, subscriptions, publishing, filter policies and delivery.
//!
//! - `topics.rs`: CreateTopic … SetTopicAttributes, tags, data protection policy, permissions
//! - `subscription.rs`: a subscription's identity and state, and its attribute rules
//! - `subscriptions.rs`: Subscribe, ConfirmSubscription, Unsubscribe, listing, attributes
//! - `publish.rs`: Publish, PublishBatch, and their validation
//! - `message.rs`: a message being published (`Prepared`), captured deliveries, publish checks
//! - `delivery.rs`: fan-out to SQS (envelope or raw), HTTP/S, and captured protocols
//! - `filter/`: the compiled filter-policy language (engine apart from the SNS rules)
//! - `signing.rs`: the RSA identity that signs messages
//! - `platform.rs`: mobile push: platform applications, their endpoints, delivery to them
//! - `sms.rs`: SMS attributes, the opt-out list, the SMS sandbox, origination numbers

mod aws_lc_rsa;
pub mod delivery;
pub mod filter;
pub mod lambda_delivery;
pub mod message;
pub mod model;
pub mod persist;
pub mod platform;
pub mod publish;
pub mod signing;
pub mod sms;
pub mod subscription;
pub mod subscriptions;
pub mod topics;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};
use crate::service::{Operation as _, Service};
use crate::sqs::SqsService;
use crate::store::SharedStore;

use model::{Request, Response};
use subscription::Subscription;
use topics::Topic;

/// The SNS service. Topics and subscriptions are indexed by ARN; each carries its own lock.
pub struct SnsService {
    clock: Arc<Clock>,
    sqs: Arc<SqsService>,
    store: SharedStore,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    subscriptions: RwLock<BTreeMap<String, Arc<Subscription>>>,
    platforms: RwLock<platform::Platforms>,
    sms: Mutex<sms::SmsState>,
    deliveries: delivery::Deliveries,
    /// Loaded or generated at start-up (`server::App::new`, on a blocking thread): key
    /// generation is the slowest thing lyrebird does.
    signer: OnceLock<signing::Signer>,
    /// Serialises signer creation without holding up unrelated requests.
    signer_init: Mutex<()>,
    /// Why a newly generated signing key is not on disk yet (reported by the health check and
    /// retried by `keep_signing_key`); `None` once it is, or when it was loaded.
    signing_key_unsaved: Mutex<Option<String>>,
    limits: SnsLimits,
    /// The Lambda functions `lambda` subscriptions invoke (`lambda_delivery.rs`).
    lambda: lambda_delivery::LambdaLink,
}

/// Per-account caps and the bounds of HTTP/S delivery (flags `--max-topics` and so on).
#[derive(Debug, Clone)]
pub struct SnsLimits {
    pub max_topics: usize,
    pub max_subscriptions: usize,
    pub http_concurrency: usize,
    pub http_backlog: usize,
}

impl Default for SnsLimits {
    fn default() -> Self {
        SnsLimits {
            max_topics: 100_000,
            max_subscriptions: 1_000_000,
            http_concurrency: 64,
            http_backlog: 10_000,
        }
    }
}

impl std::fmt::Debug for SnsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsService")
            .field("topics", &self.topics.read().len())
            .finish()
    }
}

impl SnsService {
    pub fn new(
        clock: Arc<Clock>,
        sqs: Arc<SqsService>,
        store: SharedStore,
        limits: SnsLimits,
    ) -> Self {
        SnsService {
            store,
            deliveries: delivery::Deliveries::new(clock.clone(), &limits),
            limits,
            clock,
            sqs,
            topics: RwLock::new(BTreeMap::new()),
            subscriptions: RwLock::new(BTreeMap::new()),
            platforms: RwLock::new(Default::default()),
            sms: Mutex::new(Default::default()),
            signer: OnceLock::new(),
            signer_init: Mutex::new(()),
            signing_key_unsaved: Mutex::new(None),
            lambda: Default::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn signer(&self) -> &signing::Signer {
        if let Some(s) = self.signer.get() {
            return s;
        }
        let _guard = self.signer_init.lock();
        self.signer.get_or_init(|| self.load_or_create_signer())
    }

    pub fn deliveries(&self) -> &delivery::Deliveries {
        &self.deliveries
    }
}

/// What the protocol layer calls: one decoded request, one response.
impl Service for SnsService {
    const NAME: &'static str = "sns";
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
        let changes_platform_state = matches!(
            request,
            Request::CreatePlatformApplication(_)
                | Request::DeletePlatformApplication(_)
                | Request::SetPlatformApplicationAttributes(_)
                | Request::CreatePlatformEndpoint(_)
                | Request::DeleteEndpoint(_)
                | Request::SetEndpointAttributes(_)
                | Request::SetSMSAttributes(_)
                | Request::OptInPhoneNumber(_)
                | Request::CreateSMSSandboxPhoneNumber(_)
                | Request::DeleteSMSSandboxPhoneNumber(_)
                | Request::VerifySMSSandboxPhoneNumber(_)
        );
        let response = self.dispatch(ctx, request)?;
        if changes_platform_state {
            self.persist_platform_state(ctx);
        }
        Ok(response)
    }
}

impl SnsService {
    fn dispatch(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        Ok(match request {
            Request::CreateTopic(i) => Response::CreateTopic(self.create_topic(ctx, i)?),
            Request::DeleteTopic(i) => Response::DeleteTopic(self.delete_topic(ctx, i)?),
            Request::ListTopics(i) => Response::ListTopics(self.list_topics(ctx, i)?),
            Request::GetTopicAttributes(i) => {
                Response::GetTopicAttributes(self.get_topic_attributes(ctx, i)?)
            }
            Request::SetTopicAttributes(i) => {
                Response::SetTopicAttributes(self.set_topic_attributes(ctx, i)?)
            }
            Request::Subscribe(i) => Response::Subscribe(self.subscribe(ctx, i)?),
            Request::ConfirmSubscription(i) => {
                Response::ConfirmSubscription(self.confirm_subscription(ctx, i)?)
            }
            Request::Unsubscribe(i) => Response::Unsubscribe(self.unsubscribe(ctx, i)?),
            Request::ListSubscriptions(i) => {
                Response::ListSubscriptions(self.list_subscriptions(ctx, i)?)
            }
            Request::ListSubscriptionsByTopic(i) => {
                Response::ListSubscriptionsByTopic(self.list_subscriptions_by_topic(ctx, i)?)
            }
            Request::GetSubscriptionAttributes(i) => {
                Response::GetSubscriptionAttributes(self.get_subscription_attributes(ctx, i)?)
            }
            Request::SetSubscriptionAttributes(i) => {
                Response::SetSubscriptionAttributes(self.set_subscription_attributes(ctx, i)?)
            }
            Request::Publish(i) => Response::Publish(self.publish(ctx, i)?),
            Request::PublishBatch(i) => Response::PublishBatch(self.publish_batch(ctx, i)?),
            Request::TagResource(i) => Response::TagResource(self.tag_resource(ctx, i)?),
            Request::UntagResource(i) => Response::UntagResource(self.untag_resource(ctx, i)?),
            Request::ListTagsForResource(i) => {
                Response::ListTagsForResource(self.list_tags_for_resource(ctx, i)?)
            }
            Request::GetDataProtectionPolicy(i) => {
                Response::GetDataProtectionPolicy(self.get_data_protection_policy(ctx, i)?)
            }
            Request::PutDataProtectionPolicy(i) => {
                Response::PutDataProtectionPolicy(self.put_data_protection_policy(ctx, i)?)
            }
            Request::AddPermission(i) => Response::AddPermission(self.add_permission(ctx, i)?),
            Request::RemovePermission(i) => {
                Response::RemovePermission(self.remove_permission(ctx, i)?)
            }
            Request::CreatePlatformApplication(i) => {
                Response::CreatePlatformApplication(self.create_platform_application(ctx, i)?)
            }
            Request::DeletePlatformApplication(i) => {
                Response::DeletePlatformApplication(self.delete_platform_application(ctx, i)?)
            }
            Request::ListPlatformApplications(i) => {
                Response::ListPlatformApplications(self.list_platform_applications(ctx, i)?)
            }
            Request::GetPlatformApplicationAttributes(i) => {
                Response::GetPlatformApplicationAttributes(
                    self.get_platform_application_attributes(ctx, i)?,
                )
            }
            Request::SetPlatformApplicationAttributes(i) => {
                Response::SetPlatformApplicationAttributes(
                    self.set_platform_application_attributes(ctx, i)?,
                )
            }
            Request::CreatePlatformEndpoint(i) => {
                Response::CreatePlatformEndpoint(self.create_platform_endpoint(ctx, i)?)
            }
            Request::DeleteEndpoint(i) => Response::DeleteEndpoint(self.delete_endpoint(ctx, i)?),
            Request::ListEndpointsByPlatformApplication(i) => {
                Response::ListEndpointsByPlatformApplication(
                    self.list_endpoints_by_platform_application(ctx, i)?,
                )
            }
            Request::GetEndpointAttributes(i) => {
                Response::GetEndpointAttributes(self.get_endpoint_attributes(ctx, i)?)
            }
            Request::SetEndpointAttributes(i) => {
                Response::SetEndpointAttributes(self.set_endpoint_attributes(ctx, i)?)
            }
            Request::GetSMSAttributes(i) => {
                Response::GetSMSAttributes(self.get_sms_attributes(ctx, i)?)
            }
            Request::SetSMSAttributes(i) => {
                Response::SetSMSAttributes(self.set_sms_attributes(ctx, i)?)
            }
            Request::CheckIfPhoneNumberIsOptedOut(i) => Response::CheckIfPhoneNumberIsOptedOut(
                self.check_if_phone_number_is_opted_out(ctx, i)?,
            ),
            Request::ListPhoneNumbersOptedOut(i) => {
                Response::ListPhoneNumbersOptedOut(self.list_phone_numbers_opted_out(ctx, i)?)
            }
            Request::OptInPhoneNumber(i) => {
                Response::OptInPhoneNumber(self.opt_in_phone_number(ctx, i)?)
            }
            Request::GetSMSSandboxAccountStatus(_) => {
                Response::GetSMSSandboxAccountStatus(self.get_sms_sandbox_account_status())
            }
            Request::CreateSMSSandboxPhoneNumber(i) => {
                Response::CreateSMSSandboxPhoneNumber(self.create_sms_sandbox_phone_number(ctx, i)?)
            }
            Request::VerifySMSSandboxPhoneNumber(i) => {
                Response::VerifySMSSandboxPhoneNumber(self.verify_sms_sandbox_phone_number(ctx, i)?)
            }
            Request::DeleteSMSSandboxPhoneNumber(i) => {
                Response::DeleteSMSSandboxPhoneNumber(self.delete_sms_sandbox_phone_number(ctx, i)?)
            }
            Request::ListSMSSandboxPhoneNumbers(i) => {
                Response::ListSMSSandboxPhoneNumbers(self.list_sms_sandbox_phone_numbers(ctx, i)?)
            }
            Request::ListOriginationNumbers(i) => {
                Response::ListOriginationNumbers(self.list_origination_numbers(i)?)
            }
        })
    }

    /// Forgets every topic, subscription, platform application, endpoint and SMS setting
    /// (the signing key stays).
    pub fn reset(&self) -> crate::store::Ticket {
        self.topics.write().clear();
        self.subscriptions.write().clear();
        *self.platforms.write() = Default::default();
        *self.sms.lock() = Default::default();
        self.deliveries.clear();
        let everything = |space| crate::store::Change::DeletePrefix {
            space,
            prefix: Vec::new(),
        };
        self.store.submit(vec![
            everything(crate::store::Space::Topics),
            everything(crate::store::Space::Subscriptions),
            everything(crate::store::Space::TopicDeduplication),
        ])
    }

    pub fn topic_count(&self) -> usize {
        self.topics.read().len()
    }

    /// The first `limit` topics by ARN (`/metrics`, the console).
    pub fn topics_sorted(&self, limit: usize) -> Vec<Arc<Topic>> {
        self.topics.read().values().take(limit).cloned().collect()
    }

    /// The confirmation token of a subscription (LocalStack's `/_aws/sns/subscription-tokens`),
    /// for endpoints that cannot receive the confirmation request.
    pub fn subscription_token(&self, arn: &str) -> Option<String> {
        let subscription = self.subscriptions.read().get(arn).cloned()?;
        let token = subscription.state.lock().token.clone();
        (!token.is_empty()).then_some(token)
    }
}

/// The parts of an SNS ARN (`arn:aws:sns:<region>:<account>:<name>[:<id>]`), checked as AWS
/// checks them, with its wording for each failure.
pub(crate) fn parse_arn<'a>(
    parameter: &str,
    arn: Option<&'a str>,
    ctx: &RequestContext,
) -> AwsResult<SnsArn<'a>> {
    let arn = match arn {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(AwsError::sns_invalid(format!(
                "{parameter} Reason: no value for required parameter"
            )))
        }
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 {
        return Err(AwsError::sns_invalid(format!(
            "{parameter} Reason: An ARN must have at least 6 elements, not {}",
            parts.len()
        )));
    }
    if parts[0] != "arn" || parts[2] != "sns" {
        return Err(AwsError::sns_invalid(parameter));
    }
    if parts[3] != ctx.region {
        return Err(AwsError::sns_invalid(parameter));
    }
    Ok(SnsArn {
        id: parts.get(6).copied(),
    })
}

/// What callers need of a checked ARN: whether it names a subscription (a seventh part).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnsArn<'a> {
    pub id: Option<&'a str>,
}

/// NextToken for SNS listings: the last ARN of the previous page.
/// AWS's tokens are padded standard base64.
pub(crate) fn encode_token(last: &str) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    STANDARD.encode(last)
}

pub(crate) fn decode_token(token: &str) -> AwsResult<String> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AwsError::sns_invalid("NextToken"))
}

/// SNS lists 100 entries per page.
pub(crate) const PAGE_SIZE: usize = 100;

/// Model-constraint violations (a required member missing, a pattern not matched), reported
/// together in the wording of AWS's request validation:
/// `1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null`.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    /// Records `member` as missing when `value` is `None`.
    pub fn required<T>(&mut self, member: &str, value: Option<&T>) -> &mut Self {
        if value.is_none() {
            self.0.push(format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ));
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
            n => Err(AwsError::new(
                &crate::error::codes::SNS_VALIDATION_ERROR,
                format!(
                    "{n} validation error{} detected: {}",
                    if n == 1 { "" } else { "s" },
                    found.join("; ")
                ),
            )),
        }
    }
}
