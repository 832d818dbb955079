//! AWS errors as data: one `ErrorCode` per modeled (or well-known unmodeled) error, carrying every
//! name a wire protocol needs, so a service returns `AwsError` and each codec renders it.

use std::fmt;

/// The identity of an AWS error across protocols.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorCode {
    /// Shape name, used as the JSON `__type` suffix and by SDKs to pick a typed exception.
    pub shape: &'static str,
    /// Query-protocol `<Code>` (also the `x-amzn-query-error` header value for SQS JSON).
    pub query_code: &'static str,
    /// HTTP status the query protocol uses for this error.
    pub status: u16,
    /// Unmodeled errors live in the `com.amazon.coral.service` namespace in JSON.
    pub coral: bool,
}

macro_rules! codes {
    ($($name:ident = ($shape:expr, $code:expr, $status:expr, $coral:expr);)*) => {
        $(pub const $name: ErrorCode = ErrorCode { shape: $shape, query_code: $code, status: $status, coral: $coral };)*
    };
}

/// Error codes of SQS, STS, SNS and of the protocols themselves.
pub mod codes {
    use super::ErrorCode;
    codes! {
        QUEUE_DOES_NOT_EXIST = ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, false);
        QUEUE_NAME_EXISTS = ("QueueNameExists", "QueueAlreadyExists", 400, false);
        QUEUE_DELETED_RECENTLY = ("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, false);
        PURGE_QUEUE_IN_PROGRESS = ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, false);
        OVER_LIMIT = ("OverLimit", "OverLimit", 403, false);
        TOO_MANY_ENTRIES_IN_BATCH_REQUEST = ("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, false);
        EMPTY_BATCH_REQUEST = ("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, false);
        BATCH_ENTRY_IDS_NOT_DISTINCT = ("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, false);
        INVALID_BATCH_ENTRY_ID = ("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, false);
        BATCH_REQUEST_TOO_LONG = ("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, false);
        MESSAGE_NOT_INFLIGHT = ("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, false);
        UNSUPPORTED_OPERATION = ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, false);
        RECEIPT_HANDLE_IS_INVALID = ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400, false);
        INVALID_ATTRIBUTE_NAME = ("InvalidAttributeName", "InvalidAttributeName", 400, false);
        INVALID_ATTRIBUTE_VALUE = ("InvalidAttributeValue", "InvalidAttributeValue", 400, false);
        INVALID_MESSAGE_CONTENTS = ("InvalidMessageContents", "InvalidMessageContents", 400, false);
        RESOURCE_NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFoundException", 404, false);
        INVALID_PARAMETER_VALUE = ("InvalidParameterValueException", "InvalidParameterValue", 400, true);
        MISSING_PARAMETER = ("MissingRequiredParameterException", "MissingParameter", 400, true);
        ACCESS_DENIED = ("AccessDeniedException", "AccessDenied", 403, true);
        INVALID_ACTION = ("InvalidAction", "InvalidAction", 400, true);
        MISSING_ACTION = ("MissingAction", "MissingAction", 400, true);
        UNKNOWN_OPERATION = ("UnknownOperationException", "UnknownOperationException", 400, true);
        SERIALIZATION = ("SerializationException", "SerializationException", 400, true);
        REQUEST_TOO_LARGE = ("RequestEntityTooLarge", "RequestEntityTooLarge", 413, true);
        REQUEST_TIMEOUT = ("RequestTimeout", "RequestTimeout", 400, true);
        INTERNAL_ERROR = ("InternalFailure", "InternalFailure", 500, true);
        // SigV4 authentication (--auth sigv4): AWS JSON shapes, query codes.
        INVALID_CLIENT_TOKEN_ID = ("UnrecognizedClientException", "InvalidClientTokenId", 403, true);
        SIGNATURE_DOES_NOT_MATCH = ("InvalidSignatureException", "SignatureDoesNotMatch", 403, true);
        INCOMPLETE_SIGNATURE = ("IncompleteSignatureException", "IncompleteSignature", 400, true);
        REQUEST_EXPIRED = ("InvalidSignatureException", "RequestExpired", 400, true);
        MISSING_AUTHENTICATION_TOKEN = ("MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, true);
        SERVICE_UNAVAILABLE = ("ServiceUnavailable", "ServiceUnavailable", 503, true);
        // LocalStack's peek endpoint (`/_aws/sqs/messages`) refusing anything but ReceiveMessage.
        INVALID_REQUEST = ("InvalidRequest", "InvalidRequest", 400, false);
        // SNS
        SNS_NOT_FOUND = ("NotFoundException", "NotFound", 404, false);
        SNS_INVALID_PARAMETER = ("InvalidParameterException", "InvalidParameter", 400, false);
        SNS_PARAMETER_VALUE_INVALID = ("InvalidParameterValueException", "ParameterValueInvalid", 400, false);
        TOPIC_LIMIT_EXCEEDED = ("TopicLimitExceededException", "TopicLimitExceeded", 403, false);
        SUBSCRIPTION_LIMIT_EXCEEDED = ("SubscriptionLimitExceededException", "SubscriptionLimitExceeded", 403, false);
        SNS_AUTHORIZATION_ERROR = ("AuthorizationErrorException", "AuthorizationError", 403, false);
        SNS_TOO_MANY_ENTRIES = ("TooManyEntriesInBatchRequestException", "TooManyEntriesInBatchRequest", 400, false);
        SNS_EMPTY_BATCH = ("EmptyBatchRequestException", "EmptyBatchRequest", 400, false);
        SNS_BATCH_IDS_NOT_DISTINCT = ("BatchEntryIdsNotDistinctException", "BatchEntryIdsNotDistinct", 400, false);
        SNS_INVALID_BATCH_ENTRY_ID = ("InvalidBatchEntryIdException", "InvalidBatchEntryId", 400, false);
        SNS_BATCH_TOO_LONG = ("BatchRequestTooLongException", "BatchRequestTooLong", 400, false);
        SNS_VALIDATION_ERROR = ("ValidationException", "ValidationError", 400, false);
        SNS_FILTER_POLICY_LIMIT = ("FilterPolicyLimitExceededException", "FilterPolicyLimitExceeded", 403, false);
        SNS_TAG_LIMIT_EXCEEDED = ("TagLimitExceededException", "TagLimitExceeded", 400, false);
        SNS_ENDPOINT_DISABLED = ("EndpointDisabledException", "EndpointDisabled", 400, false);
        SNS_PLATFORM_APPLICATION_DISABLED = ("PlatformApplicationDisabledException", "PlatformApplicationDisabled", 400, false);
        SNS_RESOURCE_NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFound", 404, false);
        SNS_OPTED_OUT = ("OptedOutException", "OptedOut", 400, false);
        SNS_USER_ERROR = ("UserErrorException", "UserError", 400, false);
        // EventBridge (AWS JSON only; AWS answers its not-found with 400)
        EVENTS_NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFoundException", 400, false);
        EVENTS_ALREADY_EXISTS = ("ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 400, false);
        EVENTS_VALIDATION = ("ValidationException", "ValidationException", 400, false);
        INVALID_EVENT_PATTERN = ("InvalidEventPatternException", "InvalidEventPatternException", 400, false);
        EVENTS_LIMIT_EXCEEDED = ("LimitExceededException", "LimitExceededException", 400, false);
        ILLEGAL_STATUS = ("IllegalStatusException", "IllegalStatusException", 400, false);
        // Modeled without a query error code, so the shape name is the code.
        SNS_VERIFICATION = ("VerificationException", "VerificationException", 400, false);
        // Lambda (REST-JSON: the shape name is the `x-amzn-errortype`)
        RESOURCE_CONFLICT = ("ResourceConflictException", "ResourceConflictException", 409, false);
        LAMBDA_TOO_MANY_REQUESTS = ("TooManyRequestsException", "TooManyRequestsException", 429, false);
        LAMBDA_REQUEST_TOO_LARGE = ("RequestTooLargeException", "RequestTooLargeException", 413, false);
        LAMBDA_INVALID_REQUEST_CONTENT = ("InvalidRequestContentException", "InvalidRequestContentException", 400, false);
        LAMBDA_PRECONDITION_FAILED = ("PreconditionFailedException", "PreconditionFailedException", 412, false);
        LAMBDA_SERVICE = ("ServiceException", "ServiceException", 500, false);
        VALIDATION = ("ValidationException", "ValidationException", 400, false);
    }
}

/// An error as AWS reports it. Services build these; codecs render them.
#[derive(Debug, PartialEq, Eq)]
pub struct AwsError {
    pub code: &'static ErrorCode,
    pub message: String,
    /// The `Reason` member some REST-JSON errors carry (Lambda's throttles).
    pub reason: Option<&'static str>,
}

pub type AwsResult<T> = Result<T, AwsError>;

impl AwsError {
    pub fn new(code: &'static ErrorCode, message: impl Into<String>) -> Self {
        AwsError {
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// `Sender` for client faults (4xx), `Receiver` for server faults.
    pub fn fault(&self) -> &'static str {
        if self.code.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    pub fn is_sender_fault(&self) -> bool {
        self.code.status < 500
    }

    /// The message as the query protocol words it. AWS words one error differently there.
    pub fn query_message(&self) -> &str {
        if self.code == &codes::QUEUE_DOES_NOT_EXIST && self.message == QUEUE_DOES_NOT_EXIST_MSG {
            "The specified queue does not exist for this wsdl version."
        } else {
            &self.message
        }
    }

    pub fn queue_does_not_exist() -> Self {
        Self::new(&codes::QUEUE_DOES_NOT_EXIST, QUEUE_DOES_NOT_EXIST_MSG)
    }

    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new(&codes::INVALID_PARAMETER_VALUE, message)
    }

    /// AWS's wording for an out-of-range or malformed parameter.
    pub fn invalid_value_for(parameter: &str, value: impl fmt::Display, reason: &str) -> Self {
        Self::invalid_parameter_value(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
        ))
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            &codes::MISSING_PARAMETER,
            format!("The request must contain the parameter {name}."),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(&codes::INTERNAL_ERROR, message)
    }

    /// A temporary failure the client should retry (the store cannot write: a full disk).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(&codes::SERVICE_UNAVAILABLE, message)
    }
}

impl AwsError {
    /// SNS's `InvalidParameter`, worded `Invalid parameter: <detail>`.
    pub fn sns_invalid(detail: impl fmt::Display) -> Self {
        Self::new(
            &codes::SNS_INVALID_PARAMETER,
            format!("Invalid parameter: {detail}"),
        )
    }

    pub fn sns_not_found(what: &str) -> Self {
        Self::new(&codes::SNS_NOT_FOUND, format!("{what} does not exist"))
    }
}

const QUEUE_DOES_NOT_EXIST_MSG: &str = "The specified queue does not exist.";

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.query_code, self.message)
    }
}

impl std::error::Error for AwsError {}
