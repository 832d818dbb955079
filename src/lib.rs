//! lyrebird: a standalone server that speaks the AWS SQS and SNS wire protocols.
//!
//! Three layers, one direction: `protocol` (bytes ⇄ typed operations and AWS errors) calls the
//! services (`sqs`, `sts`), which keep their state in memory behind per-queue locks.

pub mod clock;
pub mod config;
pub mod context;
pub mod error;
pub mod health;
pub mod hex;
pub mod memory;
pub mod protocol;
pub mod server;
pub mod sns;
pub mod sqs;
pub mod store;
pub mod sts;
pub mod template;

pub use config::Config;
pub use server::{spawn, RunningServer};
