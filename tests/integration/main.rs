//! Integration tests: a real lyrebird on an ephemeral port, driven by aws-sdk-sqs (AWS JSON 1.0)
//! and by raw HTTP for the query protocol and malformed input.

mod common;
mod smoke;
