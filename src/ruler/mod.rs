//! The event-pattern language shared by SNS filter policies and EventBridge event patterns,
//! named after `aws/event-ruler`, the matcher AWS open-sourced (its error texts are the texts
//! both services answer with).
//!
//! `json.rs` (the pattern document as parsed, in document order), `compile.rs` (validation and
//! the `$or` expansion into a rule set), `ip.rs` (addresses and CIDR blocks), `matching.rs` (one
//! value against one condition), `document.rs` (a JSON document against a whole rule set) and
//! `explain.rs` (which key failed, for the console's testers).
//! Each service keeps its own limits and wording on top (`sns::filter`, `events::pattern`).

pub mod compile;
pub mod document;
pub(crate) mod explain;
pub mod ip;
pub mod json;
pub mod matching;
pub mod wildcard;
