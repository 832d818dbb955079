//! The SQS query protocol: flattened form parameters in (`Attribute.1.Name`, `MessageAttribute.1.
//! Value.StringValue`, `SendMessageBatchRequestEntry.1.Id`, …), XML out.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};
use crate::service::Operation as _;
use crate::sqs::model::*;
use crate::sqs::SqsService;

use super::params::Params;
use super::query::{invalid_action, QueryBinding, QueryStyle};
use super::query_json::Rules;
use super::xml::XmlWriter;

/// SQS on the query protocol.
impl QueryBinding for SqsService {
    const STYLE: QueryStyle = QueryStyle {
        version: "2012-11-05",
        namespace: "http://queue.amazonaws.com/doc/2012-11-05/",
        json: Rules {
            flattened: JSON_LISTS,
            empty_is_list: false,
        },
        error_detail: true,
    };

    fn decode(op: Operation, params: &Params) -> AwsResult<Request> {
        decode_request(op, params)
    }

    fn encode_result(response: &Response, w: &mut XmlWriter) {
        write_result(w, response)
    }

    /// AddPermission and RemovePermission exist in SNS too: SNS's name a topic.
    fn claims(action: &str, params: &Params) -> bool {
        Operation::from_name(action).is_some() && params.str("TopicArn").is_none()
    }

    /// `/<12-digit account>/<queue name>`: a queue URL's path.
    fn owns_path(path: &str) -> bool {
        let mut parts = path.trim_matches('/').split('/');
        let (Some(account), Some(name)) = (parts.next(), parts.next()) else {
            return false;
        };
        parts.next().is_none()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty()
    }

    /// A request to a queue URL acts on that queue; creating or listing queues there is not an
    /// action of that endpoint.
    fn at_path(
        op: Operation,
        path: &str,
        ctx: &RequestContext,
        params: &mut Params,
    ) -> AwsResult<()> {
        if matches!(op, Operation::CreateQueue | Operation::ListQueues) {
            return Err(invalid_action(op.name()));
        }
        params.set_default("QueueUrl", format!("http://{}{}", ctx.host, path));
        Ok(())
    }
}

/// Decodes the parameters of `op` into its typed input.
fn decode_request(op: Operation, p: &Params) -> AwsResult<Request> {
    let url = || p.string("QueueUrl");
    Ok(match op {
        Operation::CreateQueue => Request::CreateQueue(CreateQueueInput {
            queue_name: p.string("QueueName"),
            attributes: p.map("Attribute", "Name", "Value"),
            tags: p.map("Tag", "Key", "Value"),
        }),
        Operation::GetQueueUrl => Request::GetQueueUrl(GetQueueUrlInput {
            queue_name: p.string("QueueName"),
            queue_owner_aws_account_id: p.string("QueueOwnerAWSAccountId"),
        }),
        Operation::ListQueues => Request::ListQueues(ListQueuesInput {
            queue_name_prefix: p.string("QueueNamePrefix"),
            next_token: p.string("NextToken"),
            max_results: p.int("MaxResults")?,
        }),
        Operation::DeleteQueue => Request::DeleteQueue(QueueUrlInput { queue_url: url() }),
        Operation::PurgeQueue => Request::PurgeQueue(QueueUrlInput { queue_url: url() }),
        Operation::ListQueueTags => Request::ListQueueTags(QueueUrlInput { queue_url: url() }),
        Operation::GetQueueAttributes => Request::GetQueueAttributes(GetQueueAttributesInput {
            queue_url: url(),
            attribute_names: p.list("AttributeName").or_else(|| p.list("AttributeNames")),
        }),
        Operation::SetQueueAttributes => Request::SetQueueAttributes(SetQueueAttributesInput {
            queue_url: url(),
            attributes: p.map("Attribute", "Name", "Value"),
        }),
        Operation::TagQueue => Request::TagQueue(TagQueueInput {
            queue_url: url(),
            tags: p.map("Tag", "Key", "Value"),
        }),
        Operation::UntagQueue => Request::UntagQueue(UntagQueueInput {
            queue_url: url(),
            tag_keys: p.list("TagKey"),
        }),
        Operation::SendMessage => Request::SendMessage(SendMessageInput {
            queue_url: url(),
            message_body: p.string("MessageBody"),
            delay_seconds: p.int("DelaySeconds")?,
            message_attributes: message_attributes(p, "MessageAttribute")?,
            message_system_attributes: message_attributes(p, "MessageSystemAttribute")?,
            message_deduplication_id: p.string("MessageDeduplicationId"),
            message_group_id: p.string("MessageGroupId"),
        }),
        Operation::SendMessageBatch => Request::SendMessageBatch(SendMessageBatchInput {
            queue_url: url(),
            entries: Some(
                p.indexed("SendMessageBatchRequestEntry")
                    .into_iter()
                    .map(|e| {
                        Ok(SendMessageBatchEntry {
                            id: e.string("Id"),
                            message_body: e.string("MessageBody"),
                            delay_seconds: e.int("DelaySeconds")?,
                            message_attributes: message_attributes(e, "MessageAttribute")?,
                            message_system_attributes: message_attributes(
                                e,
                                "MessageSystemAttribute",
                            )?,
                            message_deduplication_id: e.string("MessageDeduplicationId"),
                            message_group_id: e.string("MessageGroupId"),
                        })
                    })
                    .collect::<AwsResult<_>>()?,
            ),
        }),
        Operation::ReceiveMessage => Request::ReceiveMessage(ReceiveMessageInput {
            queue_url: url(),
            attribute_names: p.list("AttributeName").or_else(|| p.list("AttributeNames")),
            // On the query protocol AWS follows AttributeName when both lists are given.
            message_system_attribute_names: p
                .list("MessageSystemAttributeName")
                .or_else(|| p.list("MessageSystemAttributeNames"))
                .filter(|_| {
                    p.list("AttributeName")
                        .or_else(|| p.list("AttributeNames"))
                        .is_none_or(|names| names.is_empty())
                }),
            message_attribute_names: p
                .list("MessageAttributeName")
                .or_else(|| p.list("MessageAttributeNames")),
            max_number_of_messages: p.int("MaxNumberOfMessages")?,
            visibility_timeout: p.int("VisibilityTimeout")?,
            wait_time_seconds: p.int("WaitTimeSeconds")?,
            receive_request_attempt_id: p.string("ReceiveRequestAttemptId"),
        }),
        Operation::DeleteMessage => Request::DeleteMessage(DeleteMessageInput {
            queue_url: url(),
            receipt_handle: p.string("ReceiptHandle"),
        }),
        Operation::DeleteMessageBatch => Request::DeleteMessageBatch(DeleteMessageBatchInput {
            queue_url: url(),
            entries: Some(
                p.indexed("DeleteMessageBatchRequestEntry")
                    .into_iter()
                    .map(|e| DeleteMessageBatchEntry {
                        id: e.string("Id"),
                        receipt_handle: e.string("ReceiptHandle"),
                    })
                    .collect(),
            ),
        }),
        Operation::ChangeMessageVisibility => {
            Request::ChangeMessageVisibility(ChangeMessageVisibilityInput {
                queue_url: url(),
                receipt_handle: p.string("ReceiptHandle"),
                visibility_timeout: p.int("VisibilityTimeout")?,
            })
        }
        Operation::ChangeMessageVisibilityBatch => {
            Request::ChangeMessageVisibilityBatch(ChangeMessageVisibilityBatchInput {
                queue_url: url(),
                entries: Some(
                    p.indexed("ChangeMessageVisibilityBatchRequestEntry")
                        .into_iter()
                        .map(|e| {
                            Ok(ChangeMessageVisibilityBatchEntry {
                                id: e.string("Id"),
                                receipt_handle: e.string("ReceiptHandle"),
                                visibility_timeout: e.int("VisibilityTimeout")?,
                            })
                        })
                        .collect::<AwsResult<_>>()?,
                ),
            })
        }
        Operation::AddPermission => Request::AddPermission(AddPermissionInput {
            queue_url: url(),
            label: p.string("Label"),
            aws_account_ids: p.list("AWSAccountId").or_else(|| p.list("AWSAccountIds")),
            actions: p.list("ActionName").or_else(|| p.list("Actions")),
        }),
        Operation::RemovePermission => Request::RemovePermission(RemovePermissionInput {
            queue_url: url(),
            label: p.string("Label"),
        }),
        Operation::ListDeadLetterSourceQueues => {
            Request::ListDeadLetterSourceQueues(ListDeadLetterSourceQueuesInput {
                queue_url: url(),
                next_token: p.string("NextToken"),
                max_results: p.int("MaxResults")?,
            })
        }
        Operation::StartMessageMoveTask => {
            Request::StartMessageMoveTask(StartMessageMoveTaskInput {
                source_arn: p.string("SourceArn"),
                destination_arn: p.string("DestinationArn"),
                max_number_of_messages_per_second: p.int("MaxNumberOfMessagesPerSecond")?,
            })
        }
        Operation::ListMessageMoveTasks => {
            Request::ListMessageMoveTasks(ListMessageMoveTasksInput {
                source_arn: p.string("SourceArn"),
                max_results: p.int("MaxResults")?,
            })
        }
        Operation::CancelMessageMoveTask => {
            Request::CancelMessageMoveTask(CancelMessageMoveTaskInput {
                task_handle: p.string("TaskHandle"),
            })
        }
    })
}

/// `Prefix.N.Name` + `Prefix.N.Value.{DataType,StringValue,BinaryValue,…}`.
fn message_attributes(p: &Params, prefix: &str) -> AwsResult<Option<MessageAttributes>> {
    if p.child(prefix).is_none() {
        return Ok(None);
    }
    let mut out = MessageAttributes::new();
    for entry in p.indexed(prefix) {
        let name = entry.string("Name").unwrap_or_default();
        let value = entry.child("Value");
        let field = |f: &str| value.and_then(|v| v.string(f));
        let binary_value = match field("BinaryValue") {
            Some(b64) => Some(decode_base64(&name, &b64)?),
            None => None,
        };
        let string_list_values = value
            .and_then(|v| v.list("StringListValue"))
            .unwrap_or_default();
        let binary_list_values = value
            .and_then(|v| v.list("BinaryListValue"))
            .unwrap_or_default()
            .iter()
            .map(|b| decode_base64(&name, b))
            .collect::<AwsResult<_>>()?;
        out.insert(
            name,
            MessageAttributeValue {
                data_type: field("DataType"),
                string_value: field("StringValue"),
                binary_value,
                string_list_values,
                binary_list_values,
            },
        );
    }
    Ok(Some(out))
}

fn decode_base64(name: &str, text: &str) -> AwsResult<Vec<u8>> {
    STANDARD.decode(text.trim()).map_err(|_| {
        AwsError::invalid_parameter_value(format!(
            "The message attribute '{name}' has an invalid binary value: not base64."
        ))
    })
}

/// SQS's flattened lists in the JSON rendering of a query answer (`Accept: application/json`):
/// the item element and the key of its array. `messages` is what AWS was recorded answering
/// for ReceiveMessage and `Attributes` (of `{Name, Value}`) for GetQueueAttributes; the others
/// follow the model's member names.
pub const JSON_LISTS: &[(&str, &str)] = &[
    ("Message", "messages"),
    ("Attribute", "Attributes"),
    ("MessageAttribute", "MessageAttributes"),
    ("StringListValue", "StringListValues"),
    ("BinaryListValue", "BinaryListValues"),
    ("QueueUrl", "QueueUrls"),
    ("Tag", "Tags"),
    ("SendMessageBatchResultEntry", "Successful"),
    ("DeleteMessageBatchResultEntry", "Successful"),
    ("ChangeMessageVisibilityBatchResultEntry", "Successful"),
    ("BatchResultErrorEntry", "Failed"),
    ("ListMessageMoveTasksResultEntry", "Results"),
];

fn write_result(w: &mut XmlWriter, response: &Response) {
    match response {
        Response::CreateQueue(o) | Response::GetQueueUrl(o) => {
            w.text("QueueUrl", &o.queue_url);
        }
        Response::ListQueues(o) => {
            for url in &o.queue_urls {
                w.text("QueueUrl", url);
            }
            w.opt_text("NextToken", o.next_token.as_deref());
        }
        Response::GetQueueAttributes(o) => {
            for (name, value) in &o.attributes {
                w.open("Attribute")
                    .text("Name", name)
                    .text("Value", value)
                    .close("Attribute");
            }
        }
        Response::ListQueueTags(o) => {
            for (key, value) in &o.tags {
                w.open("Tag")
                    .text("Key", key)
                    .text("Value", value)
                    .close("Tag");
            }
        }
        Response::SendMessage(o) => send_result(w, o),
        Response::SendMessageBatch(o) => {
            for entry in &o.successful {
                w.open("SendMessageBatchResultEntry").text("Id", &entry.id);
                send_result(w, &entry.result);
                w.close("SendMessageBatchResultEntry");
            }
            batch_errors(w, &o.failed);
        }
        Response::ReceiveMessage(o) => {
            for m in &o.messages {
                received_message(w, m);
            }
        }
        Response::DeleteMessageBatch(o) => batch_ids(w, "DeleteMessageBatchResultEntry", o),
        Response::ChangeMessageVisibilityBatch(o) => {
            batch_ids(w, "ChangeMessageVisibilityBatchResultEntry", o)
        }
        // No output shape (`Empty`): never asked for a Result.
        Response::DeleteQueue(Empty {})
        | Response::PurgeQueue(Empty {})
        | Response::SetQueueAttributes(Empty {})
        | Response::TagQueue(Empty {})
        | Response::UntagQueue(Empty {})
        | Response::DeleteMessage(Empty {})
        | Response::ChangeMessageVisibility(Empty {})
        | Response::AddPermission(Empty {})
        | Response::RemovePermission(Empty {}) => {}
        Response::ListDeadLetterSourceQueues(o) => {
            for url in &o.queue_urls {
                w.text("QueueUrl", url);
            }
            w.opt_text("NextToken", o.next_token.as_deref());
        }
        Response::StartMessageMoveTask(o) => {
            w.text("TaskHandle", &o.task_handle);
        }
        Response::CancelMessageMoveTask(o) => {
            w.text(
                "ApproximateNumberOfMessagesMoved",
                &o.approximate_number_of_messages_moved.to_string(),
            );
        }
        Response::ListMessageMoveTasks(o) => {
            for t in &o.results {
                w.open("ListMessageMoveTasksResultEntry")
                    .opt_text("TaskHandle", t.task_handle.as_deref())
                    .text("Status", &t.status)
                    .text("SourceArn", &t.source_arn)
                    .opt_text("DestinationArn", t.destination_arn.as_deref())
                    .opt_text(
                        "MaxNumberOfMessagesPerSecond",
                        t.max_number_of_messages_per_second
                            .map(|n| n.to_string())
                            .as_deref(),
                    )
                    .text(
                        "ApproximateNumberOfMessagesMoved",
                        &t.approximate_number_of_messages_moved.to_string(),
                    )
                    .opt_text(
                        "ApproximateNumberOfMessagesToMove",
                        t.approximate_number_of_messages_to_move
                            .map(|n| n.to_string())
                            .as_deref(),
                    )
                    .opt_text("FailureReason", t.failure_reason.as_deref())
                    .text("StartedTimestamp", &t.started_timestamp.to_string())
                    .close("ListMessageMoveTasksResultEntry");
            }
        }
    }
}

fn send_result(w: &mut XmlWriter, o: &SendMessageOutput) {
    w.text("MessageId", &o.message_id)
        .text("MD5OfMessageBody", &o.md5_of_message_body)
        .opt_text(
            "MD5OfMessageAttributes",
            o.md5_of_message_attributes.as_deref(),
        )
        .opt_text(
            "MD5OfMessageSystemAttributes",
            o.md5_of_message_system_attributes.as_deref(),
        )
        .opt_text("SequenceNumber", o.sequence_number.as_deref());
}

fn batch_ids(w: &mut XmlWriter, entry_tag: &str, o: &BatchIdsOutput) {
    for entry in &o.successful {
        w.open(entry_tag).text("Id", &entry.id).close(entry_tag);
    }
    batch_errors(w, &o.failed);
}

fn batch_errors(w: &mut XmlWriter, failed: &[BatchResultErrorEntry]) {
    for f in failed {
        w.open("BatchResultErrorEntry")
            .text("Id", &f.id)
            .text("SenderFault", if f.sender_fault { "true" } else { "false" })
            .text("Code", &f.code)
            .text("Message", &f.message)
            .close("BatchResultErrorEntry");
    }
}

fn received_message(w: &mut XmlWriter, m: &ReceivedMessage) {
    w.open("Message")
        .text("MessageId", &m.message_id)
        .text("ReceiptHandle", &m.receipt_handle)
        .text("MD5OfBody", &m.md5_of_body)
        .text("Body", &m.body);
    for (name, value) in &m.attributes {
        w.open("Attribute")
            .text("Name", name)
            .text("Value", value)
            .close("Attribute");
    }
    w.opt_text(
        "MD5OfMessageAttributes",
        m.md5_of_message_attributes.as_deref(),
    );
    for (name, value) in &m.message_attributes {
        w.open("MessageAttribute").text("Name", name).open("Value");
        w.opt_text("StringValue", value.string_value.as_deref());
        if let Some(b) = &value.binary_value {
            w.text("BinaryValue", &STANDARD.encode(b));
        }
        for s in &value.string_list_values {
            w.text("StringListValue", s);
        }
        for b in &value.binary_list_values {
            w.text("BinaryListValue", &STANDARD.encode(b));
        }
        w.opt_text("DataType", value.data_type.as_deref());
        w.close("Value").close("MessageAttribute");
    }
    w.close("Message");
}
