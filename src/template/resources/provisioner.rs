//! The state of one template's application: the services, the account, region and stack it
//! is applied as, and what the resource being applied went through so far.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::context::RequestContext;
use crate::events::EventsService;
use crate::lambda::event_sources::EventSources;
use crate::lambda::LambdaService;
use crate::sns::SnsService;
use crate::sqs::SqsService;

/// What `Ref` and `Fn::GetAtt` of a provisioned resource return.
#[derive(Debug, Clone)]
pub struct Physical {
    pub reference: String,
    pub attributes: BTreeMap<&'static str, String>,
}

/// Applies resources of one template, as its account, region and stack.
pub struct Provisioner<'a> {
    pub sqs: &'a SqsService,
    pub sns: &'a SnsService,
    pub events: &'a EventsService,
    pub lambda: &'a LambdaService,
    /// `None` when only resources are provisioned (`template::provision_report`).
    pub event_sources: Option<&'a EventSources>,
    pub ctx: RequestContext,
    /// The template's folder: code paths (`CodeUri`) are relative to it.
    pub template_dir: std::path::PathBuf,
    /// Where inline function code (`ZipFile`, `InlineCode`) is written.
    pub code_root: std::path::PathBuf,
    pub stack: String,
    /// What the resource being applied went through so far.
    pub outcome: Cell<Outcome>,
    /// The resources SAM's transform generates for the function being applied (its role, event
    /// mappings, subscriptions, rules, permissions), by logical id, for `Ref` and `Fn::GetAtt`.
    pub generated: RefCell<Vec<(String, Physical)>>,
}

/// What applying a resource did to the state, for the summary a re-application logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Outcome {
    #[default]
    Unchanged,
    Updated,
    Created,
}

impl Provisioner<'_> {
    /// Records a change made to the resource being applied.
    pub(super) fn note(&self, outcome: Outcome) {
        self.outcome.set(self.outcome.get().max(outcome));
    }

    /// CloudFormation's `{stack}-{logical id}-{suffix}` for unnamed resources, with a suffix
    /// derived from the stack and id so that every start names the resource the same.
    pub fn generated_name(&self, id: &str, max_len: usize, fifo: bool) -> String {
        let digest = Sha256::digest(
            format!(
                "{}/{}/{}/{id}",
                self.ctx.account, self.ctx.region, self.stack
            )
            .as_bytes(),
        );
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let suffix: String = digest[..12]
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let tail = format!("-{suffix}{}", if fifo { ".fifo" } else { "" });
        let mut head = format!("{}-{}", clean(&self.stack), clean(id));
        head.truncate(max_len - tail.len());
        head + &tail
    }

    /// Records a resource SAM would generate for the function being applied.
    pub(super) fn generate(&self, id: String, physical: Physical) {
        self.generated.borrow_mut().push((id, physical));
    }

    /// The generated resources recorded since the last call.
    pub fn take_generated(&self) -> Vec<(String, Physical)> {
        std::mem::take(&mut *self.generated.borrow_mut())
    }

    pub(super) fn physical_id(&self, id: &str) -> String {
        self.generated_name(id, 256, false)
    }
}
