//! SNS state in the durable store: topics, subscriptions (with confirmation state and tokens)
//! and the signing key. Records are written under the owning lock, so the store sees each
//! topic's and subscription's changes in order; restore rebuilds compiled filter policies.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::store::{Change, Space};

use super::model::StringMap;
use super::signing::Signer;
use super::subscription::{Subscription, SubscriptionState};
use super::topics::{Topic, TopicState};
use super::SnsService;

const SIGNING_KEY: &[u8] = b"sns_signing_key";
const PLATFORMS: &[u8] = b"sns_platforms";
const SMS: &[u8] = b"sns_sms";

#[derive(Debug, Serialize, Deserialize)]
struct TopicRecord {
    arn: String,
    name: String,
    account: String,
    region: String,
    fifo: bool,
    attributes: StringMap,
    tags: BTreeMap<String, String>,
    data_protection_policy: Option<String>,
    deleted_subscriptions: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SubscriptionRecord {
    arn: String,
    topic_arn: String,
    protocol: String,
    endpoint: String,
    owner: String,
    attributes: StringMap,
    confirmed: bool,
    token: String,
}

/// The store key of a FIFO topic's deduplication entry (ARNs hold no NUL).
fn dedup_key(topic_arn: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(topic_arn.len() + 1 + key.len());
    k.extend_from_slice(topic_arn.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

impl SnsService {
    fn submit(&self, ctx: &RequestContext, change: Change) {
        if self.store.persistent() {
            ctx.writes.push(self.store.submit(vec![change]));
        }
    }

    /// Writes a topic's record; call with the topic's lock held (`state`).
    pub(super) fn persist_topic(&self, ctx: &RequestContext, topic: &Topic, state: &TopicState) {
        if !self.store.persistent() {
            return;
        }
        let record = TopicRecord {
            arn: topic.arn.clone(),
            name: topic.name.clone(),
            account: topic.account.clone(),
            region: topic.region.clone(),
            fifo: topic.fifo,
            attributes: state.attributes.clone(),
            tags: state.tags.clone(),
            data_protection_policy: state.data_protection_policy.clone(),
            deleted_subscriptions: state.deleted_subscriptions,
        };
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.submit(
            ctx,
            Change::Put {
                space: Space::Topics,
                key: topic.arn.as_bytes().to_vec(),
                value,
            },
        );
    }

    pub(super) fn forget_topic(&self, ctx: &RequestContext, arn: &str) {
        self.submit(
            ctx,
            Change::Delete {
                space: Space::Topics,
                key: arn.as_bytes().to_vec(),
            },
        );
        // Subscription ARNs start with their topic's ARN and a colon.
        let prefix = format!("{arn}:").into_bytes();
        self.submit(
            ctx,
            Change::DeletePrefix {
                space: Space::Subscriptions,
                prefix,
            },
        );
        self.submit(
            ctx,
            Change::DeletePrefix {
                space: Space::TopicDeduplication,
                prefix: dedup_key(arn, ""),
            },
        );
    }

    /// Records a FIFO topic's deduplication entry; call with the topic's lock held.
    pub(super) fn persist_dedup(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        key: &str,
        entry: &(u64, String, Option<String>),
    ) {
        if !self.store.persistent() {
            return;
        }
        let value = serde_json::to_vec(entry).unwrap_or_default();
        self.submit(
            ctx,
            Change::Put {
                space: Space::TopicDeduplication,
                key: dedup_key(&topic.arn, key),
                value,
            },
        );
    }

    /// Forgets an expired deduplication entry; call with the topic's lock held.
    pub(super) fn forget_dedup(&self, topic: &Topic, key: &str) {
        if self.store.persistent() {
            // Nothing waits for it: an expired entry read back is dropped at restore anyway.
            drop(self.store.submit(vec![Change::Delete {
                space: Space::TopicDeduplication,
                key: dedup_key(&topic.arn, key),
            }]));
        }
    }

    /// Writes a subscription's record; call with its lock held (`state`).
    pub(super) fn persist_subscription(
        &self,
        ctx: &RequestContext,
        sub: &Subscription,
        state: &SubscriptionState,
    ) {
        if !self.store.persistent() {
            return;
        }
        let record = SubscriptionRecord {
            arn: sub.arn.clone(),
            topic_arn: sub.topic_arn.clone(),
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            owner: sub.owner.clone(),
            attributes: state.attributes.clone(),
            confirmed: state.confirmed,
            token: state.token.clone(),
        };
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.submit(
            ctx,
            Change::Put {
                space: Space::Subscriptions,
                key: sub.arn.as_bytes().to_vec(),
                value,
            },
        );
    }

    pub(super) fn forget_subscription(&self, ctx: &RequestContext, arn: &str) {
        self.submit(
            ctx,
            Change::Delete {
                space: Space::Subscriptions,
                key: arn.as_bytes().to_vec(),
            },
        );
    }

    /// Writes the (small) platform-application and SMS state whole. The snapshots are taken and
    /// handed to the store under their locks, so the last one written is the newest.
    pub(super) fn persist_platform_state(&self, ctx: &RequestContext) {
        if !self.store.persistent() {
            return;
        }
        {
            let platforms = self.platforms.read();
            let value = serde_json::to_vec(&*platforms).unwrap_or_default();
            self.submit(
                ctx,
                Change::Put {
                    space: Space::Meta,
                    key: PLATFORMS.to_vec(),
                    value,
                },
            );
        }
        let sms = self.sms.lock();
        let value = serde_json::to_vec(&*sms).unwrap_or_default();
        self.submit(
            ctx,
            Change::Put {
                space: Space::Meta,
                key: SMS.to_vec(),
                value,
            },
        );
    }

    /// The signing identity kept in the store, or a new one (then kept).
    pub(super) fn load_or_create_signer(&self) -> Signer {
        let stored = self
            .store
            .load(Space::Meta)
            .ok()
            .and_then(|records| records.into_iter().find(|(k, _)| k == SIGNING_KEY))
            .and_then(|(_, der)| Signer::from_pkcs8_der(&der).ok());
        if let Some(signer) = stored {
            return signer;
        }
        let signer = Signer::generate();
        // Durable before anything is signed with it: a signature must stay verifiable against
        // the certificate served after a crash.
        if let Err(e) = self
            .store
            .put_now(Space::Meta, SIGNING_KEY, &signer.key_pkcs8_der())
        {
            tracing::error!(error = %e, "the new SNS signing key could not be stored; retrying");
            *self.signing_key_unsaved.lock() = Some(e);
        }
        signer
    }

    /// Writes the signing key again, with a growing pause (50 ms to 5 s), until the store takes
    /// it, if it could not be stored when it was made. Blocks: run on the start-up key thread.
    /// Meanwhile the health report names the problem.
    pub fn keep_signing_key(&self) {
        let mut pause = std::time::Duration::from_millis(50);
        while self.signing_key_unsaved.lock().is_some() {
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
            let der = self.signer().key_pkcs8_der();
            match self.store.put_now(Space::Meta, SIGNING_KEY, &der) {
                Ok(()) => {
                    tracing::info!("the SNS signing key is stored");
                    *self.signing_key_unsaved.lock() = None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the SNS signing key still cannot be stored; retrying");
                    *self.signing_key_unsaved.lock() = Some(e);
                }
            }
        }
    }

    /// Why the signing key is not stored yet, while it is not (for the health report).
    pub fn signing_key_problem(&self) -> Option<String> {
        self.signing_key_unsaved
            .lock()
            .as_ref()
            .map(|e| format!("the SNS signing key is not stored yet (retrying): {e}"))
    }

    /// Rebuilds topics and subscriptions from the store (start-up). Returns (topics, subscriptions).
    pub fn restore(&self) -> Result<(usize, usize), String> {
        let now = self.now_ms();
        let mut topics = self.topics.write();
        for (_, value) in self.store.load(Space::Topics)? {
            let r: TopicRecord = serde_json::from_slice(&value)
                .map_err(|e| format!("unreadable topic record: {e}"))?;
            let topic = Topic {
                arn: r.arn.clone(),
                name: r.name,
                account: r.account,
                region: r.region,
                fifo: r.fifo,
                stats: Default::default(),
                publish_order: Mutex::new(()),
                state: Mutex::new(TopicState {
                    attributes: r.attributes,
                    tags: r.tags,
                    data_protection_policy: r.data_protection_policy,
                    subscriptions: Arc::new(Vec::new()),
                    deleted_subscriptions: r.deleted_subscriptions,
                    // Time-based, so FIFO sequence numbers keep increasing across restarts.
                    next_sequence_number: 10_000_000_000_000_000_000 + now as u128 * 1_000_000,
                    dedup: HashMap::new(),
                    dedup_expiry: VecDeque::new(),
                }),
            };
            topics.insert(r.arn, Arc::new(topic));
        }
        for (key, value) in self.store.load(Space::TopicDeduplication)? {
            let Some(split) = key.iter().position(|b| *b == 0) else {
                continue;
            };
            let (arn, dedup) = (&key[..split], &key[split + 1..]);
            let topic = std::str::from_utf8(arn).ok().and_then(|a| topics.get(a));
            let entry: Option<(u64, String, Option<String>)> = serde_json::from_slice(&value).ok();
            let (Some(topic), Some(entry)) = (topic, entry) else {
                continue;
            };
            if entry.0 <= now {
                continue;
            }
            // At most five minutes from now, whatever the wall clock did between runs.
            let entry = (
                entry.0.min(now.saturating_add(5 * 60 * 1000)),
                entry.1,
                entry.2,
            );
            let dedup = String::from_utf8_lossy(dedup).into_owned();
            let mut state = topic.state.lock();
            state.dedup_expiry.push_back((entry.0, dedup.clone()));
            state.dedup.insert(dedup, entry);
        }
        for topic in topics.values() {
            topic.state.lock().dedup_expiry.make_contiguous().sort();
        }
        for (key, value) in self.store.load(Space::Meta)? {
            if key == PLATFORMS {
                *self.platforms.write() = serde_json::from_slice(&value)
                    .map_err(|e| format!("unreadable platform state: {e}"))?;
            } else if key == SMS {
                *self.sms.lock() = serde_json::from_slice(&value)
                    .map_err(|e| format!("unreadable SMS state: {e}"))?;
            }
        }
        let mut index = self.subscriptions.write();
        let mut per_topic: HashMap<String, Vec<Arc<Subscription>>> = HashMap::new();
        for (_, value) in self.store.load(Space::Subscriptions)? {
            let r: SubscriptionRecord = serde_json::from_slice(&value)
                .map_err(|e| format!("unreadable subscription record: {e}"))?;
            if !topics.contains_key(&r.topic_arn) {
                continue;
            }
            let state = SubscriptionState::restore(r.attributes, r.confirmed, r.token)
                .map_err(|e| format!("subscription {}: {e}", r.arn))?;
            let sub = Arc::new(Subscription {
                arn: r.arn.clone(),
                topic_arn: r.topic_arn.clone(),
                protocol: r.protocol,
                endpoint: r.endpoint,
                owner: r.owner,
                state: Mutex::new(state),
            });
            per_topic.entry(r.topic_arn).or_default().push(sub.clone());
            index.insert(r.arn, sub);
        }
        for (arn, subs) in per_topic {
            if let Some(topic) = topics.get(&arn) {
                topic.state.lock().subscriptions = Arc::new(subs);
            }
        }
        Ok((topics.len(), index.len()))
    }
}

/// Reads `data` as each kind of SNS record, as `restore` would (for the store-record fuzz
/// target): it may be refused, never panic.
#[doc(hidden)]
pub fn decode_records(data: &[u8]) {
    let _ = serde_json::from_slice::<TopicRecord>(data);
    let _ = serde_json::from_slice::<Option<(u64, String, Option<String>)>>(data);
    if let Ok(r) = serde_json::from_slice::<SubscriptionRecord>(data) {
        let _ = SubscriptionState::restore(r.attributes, r.confirmed, r.token);
    }
}
