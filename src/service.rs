//! The boundary between the protocol layer and the services. Each AWS service (SQS, SNS, STS, …)
//! declares its operations once with [`operations!`] — one typed input and one typed output each
//! — and implements [`Service`]. The protocol layer (`crate::protocol`) decodes a request into
//! the service's `Request`, awaits [`Service::call`], and encodes the `Response`; it knows the
//! service only through this trait and the service's codec binding, so a new service plugs in
//! without touching the codecs of the others.

use std::future::Future;

use serde::Serialize;

use crate::context::RequestContext;
use crate::error::AwsResult;

/// An AWS service as the protocol layer sees it: typed requests in, typed responses (or an
/// `AwsError`) out. Wire formats are the codec bindings' business (see `crate::protocol`).
pub trait Service: Send + Sync + 'static {
    /// The name requests are signed for (the SigV4 credential scope), also the name LocalStack's
    /// health report gives the service: `sqs`, `sns`, `sts`.
    const NAME: &'static str;
    /// The service's operations, as [`operations!`] declares them.
    type Operation: Operation;
    type Request: Send;
    type Response: Send;

    /// Runs one decoded request.
    fn call(
        &self,
        ctx: &RequestContext,
        request: Self::Request,
    ) -> impl Future<Output = AwsResult<Self::Response>> + Send;
}

/// A service's operation names and the facts its operations table gives about them.
pub trait Operation: Copy + Send + Sync + 'static {
    /// The operation with this wire name (`ReceiveMessage`), if the service has it.
    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
    /// Whether the AWS model gives the operation an output shape; it has none when its output
    /// type is [`Empty`] (the query protocol then writes no `<{Op}Result>` element).
    fn has_output(self) -> bool;
}

/// The output of an operation whose AWS model has no output shape (DeleteQueue, DeleteTopic): the
/// query protocol answers only `ResponseMetadata`, AWS JSON `{}`. Also an input without members.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// An output shape without members (SNS's TagResource): the query protocol writes an empty
/// `<{Op}Result/>`.
#[derive(Debug, Default, Serialize)]
pub struct EmptyResult {}

/// Declares a service's operations, one line each: `Name(InputType) -> OutputType;`. It
/// generates, in the calling module:
///
/// - `Operation`, an enum of the names, implementing [`Operation`] (`has_output` is false for
///   operations declared `-> Empty`);
/// - `Request` and `Response`, enums of the inputs and outputs, each with `operation()`.
///
/// Starting the list with `serde;` also generates the AWS JSON glue (`Request::from_json`,
/// `Response::to_json`), for services whose types derive serde with AWS's member names.
macro_rules! operations {
    (serde; $($op:ident($input:ty) -> $output:ty;)*) => {
        $crate::service::operations! { $($op($input) -> $output;)* }

        impl Request {
            /// Decodes an AWS JSON body for `op`.
            pub fn from_json(op: Operation, body: &[u8]) -> Result<Self, serde_json::Error> {
                let body = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { body };
                // awsJson input is always an object; serde would otherwise accept an array
                // positionally as a struct.
                if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                    return Err(serde::de::Error::custom("the request body must be a JSON object"));
                }
                Ok(match op { $(Operation::$op => Request::$op(serde_json::from_slice(body)?)),* })
            }
        }

        impl Response {
            /// The AWS JSON body of the response.
            pub fn to_json(&self) -> Vec<u8> {
                let encoded = match self { $(Response::$op(o) => serde_json::to_vec(o)),* };
                encoded.unwrap_or_else(|_| b"{}".to_vec())
            }
        }
    };
    ($($op:ident($input:ty) -> $output:ty;)*) => {
        /// An operation, by its wire name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation { $($op),* }

        impl $crate::service::Operation for Operation {
            fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($op) => Some(Self::$op),)* _ => None }
            }
            fn name(self) -> &'static str {
                match self { $(Self::$op => stringify!($op)),* }
            }
            fn has_output(self) -> bool {
                use std::any::TypeId;
                match self {
                    $(Self::$op => TypeId::of::<$output>() != TypeId::of::<$crate::service::Empty>()),*
                }
            }
        }

        /// A decoded request.
        #[derive(Debug)]
        pub enum Request { $($op($input)),* }

        /// A successful response.
        #[derive(Debug)]
        pub enum Response { $($op($output)),* }

        impl Operation {
            /// Every operation, in table order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];
        }

        impl Request {
            pub fn operation(&self) -> Operation {
                match self { $(Request::$op(_) => Operation::$op),* }
            }
        }

        impl Response {
            pub fn operation(&self) -> Operation {
                match self { $(Response::$op(_) => Operation::$op),* }
            }
        }
    };
}
pub(crate) use operations;
