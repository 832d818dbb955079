//! lyrebird: a standalone server that speaks the AWS SQS and SNS wire protocols.
//!
//! Layers, one direction (see ARCHITECTURE.md): `server` (HTTP, lyrebird's own endpoints)
//! hands AWS requests to `protocol` (bytes ⇄ typed operations and AWS errors), which calls the
//! services (`sqs`, `sns`, `sts`) through the `service::Service` trait; they keep their state in
//! memory behind per-resource locks and write it through `store`.

pub mod clock;
pub mod config;
pub mod console;
pub mod context;
pub mod credentials;
pub mod destinations;
pub mod developer;
pub mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod hex;
pub mod lambda;
pub mod memory;
pub mod metrics;
pub mod panic_policy;
pub mod policy;
pub mod protocol;
pub mod ruler;
pub mod server;
pub mod service;
pub mod sns;
pub mod sqs;
pub mod store;
pub mod sts;
pub mod template;

pub use config::Config;
pub use server::{spawn, RunningServer};
