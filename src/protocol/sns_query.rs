//! The SNS query protocol: form parameters in (`Attributes.entry.N.key`, `Tags.member.N.Key`,
//! `MessageAttributes.entry.N.Name`, …), XML out with `<member>` lists and `<entry>` maps.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::error::{AwsError, AwsResult};
use crate::sns::model::*;
use crate::sns::SnsService;

use super::params::Params;
use super::query::{QueryBinding, QueryStyle};
use super::query_json::Rules;
use super::xml::XmlWriter;

/// SNS on the query protocol.
impl QueryBinding for SnsService {
    const STYLE: QueryStyle = QueryStyle {
        version: "2010-03-31",
        namespace: "http://sns.amazonaws.com/doc/2010-03-31/",
        // The only elements SNS writes empty are its wrapped lists.
        json: Rules {
            flattened: &[],
            empty_is_list: true,
        },
        error_detail: false,
    };

    fn decode(op: Operation, params: &Params) -> AwsResult<Request> {
        decode_request(op, params)
    }

    fn encode_result(response: &Response, w: &mut XmlWriter) {
        write_result(w, response)
    }

    /// SNS, registered last, takes the actions no other service claims: the answer names what
    /// lyrebird does not implement yet.
    fn claims(_action: &str, _params: &Params) -> bool {
        true
    }

    fn unknown_action(action: &str) -> AwsError {
        AwsError::new(
            &crate::error::codes::INVALID_ACTION,
            format!(
                "The action {action} is not implemented by lyrebird yet (see compat-matrix.md)."
            ),
        )
    }
}

fn decode_request(op: Operation, p: &Params) -> AwsResult<Request> {
    let s = |name: &str| p.string(name);
    Ok(match op {
        Operation::CreateTopic => Request::CreateTopic(CreateTopicInput {
            name: s("Name"),
            attributes: entry_map(p, "Attributes"),
            tags: tags(p, "Tags"),
            data_protection_policy: s("DataProtectionPolicy"),
        }),
        Operation::DeleteTopic => Request::DeleteTopic(TopicArnInput {
            topic_arn: s("TopicArn"),
        }),
        Operation::ListTopics => Request::ListTopics(NextTokenInput {
            next_token: s("NextToken"),
        }),
        Operation::GetTopicAttributes => Request::GetTopicAttributes(TopicArnInput {
            topic_arn: s("TopicArn"),
        }),
        Operation::SetTopicAttributes => Request::SetTopicAttributes(SetAttributeInput {
            arn: s("TopicArn"),
            attribute_name: s("AttributeName"),
            attribute_value: s("AttributeValue"),
        }),
        Operation::Subscribe => Request::Subscribe(SubscribeInput {
            topic_arn: s("TopicArn"),
            protocol: s("Protocol"),
            endpoint: s("Endpoint"),
            attributes: entry_map(p, "Attributes"),
            return_subscription_arn: p.bool("ReturnSubscriptionArn")?.unwrap_or(false),
        }),
        Operation::ConfirmSubscription => Request::ConfirmSubscription(ConfirmSubscriptionInput {
            topic_arn: s("TopicArn"),
            token: s("Token"),
            authenticate_on_unsubscribe: s("AuthenticateOnUnsubscribe"),
        }),
        Operation::Unsubscribe => Request::Unsubscribe(SubscriptionArnInput {
            subscription_arn: s("SubscriptionArn"),
        }),
        Operation::ListSubscriptions => Request::ListSubscriptions(NextTokenInput {
            next_token: s("NextToken"),
        }),
        Operation::ListSubscriptionsByTopic => {
            Request::ListSubscriptionsByTopic(ListSubscriptionsByTopicInput {
                topic_arn: s("TopicArn"),
                next_token: s("NextToken"),
            })
        }
        Operation::GetSubscriptionAttributes => {
            Request::GetSubscriptionAttributes(SubscriptionArnInput {
                subscription_arn: s("SubscriptionArn"),
            })
        }
        Operation::SetSubscriptionAttributes => {
            Request::SetSubscriptionAttributes(SetAttributeInput {
                arn: s("SubscriptionArn"),
                attribute_name: s("AttributeName"),
                attribute_value: s("AttributeValue"),
            })
        }
        Operation::Publish => Request::Publish(PublishInput {
            topic_arn: s("TopicArn"),
            target_arn: s("TargetArn"),
            phone_number: s("PhoneNumber"),
            fields: publish_fields(p)?,
        }),
        Operation::PublishBatch => Request::PublishBatch(PublishBatchInput {
            topic_arn: s("TopicArn"),
            entries: p
                .indexed("PublishBatchRequestEntries")
                .into_iter()
                .map(|e| {
                    Ok(PublishBatchEntry {
                        id: e.string("Id"),
                        fields: publish_fields(e)?,
                    })
                })
                .collect::<AwsResult<_>>()?,
        }),
        Operation::TagResource => Request::TagResource(TagResourceInput {
            resource_arn: s("ResourceArn"),
            tags: tags(p, "Tags"),
        }),
        Operation::UntagResource => Request::UntagResource(UntagResourceInput {
            resource_arn: s("ResourceArn"),
            tag_keys: p.list("TagKeys").unwrap_or_default(),
        }),
        Operation::ListTagsForResource => Request::ListTagsForResource(ResourceArnInput {
            resource_arn: s("ResourceArn"),
        }),
        Operation::GetDataProtectionPolicy => Request::GetDataProtectionPolicy(ResourceArnInput {
            resource_arn: s("ResourceArn"),
        }),
        Operation::PutDataProtectionPolicy => {
            Request::PutDataProtectionPolicy(PutDataProtectionPolicyInput {
                resource_arn: s("ResourceArn"),
                data_protection_policy: s("DataProtectionPolicy"),
            })
        }
        Operation::AddPermission => Request::AddPermission(AddPermissionInput {
            topic_arn: s("TopicArn"),
            label: s("Label"),
            aws_account_ids: p.list("AWSAccountId").unwrap_or_default(),
            action_names: p.list("ActionName").unwrap_or_default(),
        }),
        Operation::RemovePermission => Request::RemovePermission(RemovePermissionInput {
            topic_arn: s("TopicArn"),
            label: s("Label"),
        }),
        Operation::CreatePlatformApplication => {
            Request::CreatePlatformApplication(CreatePlatformApplicationInput {
                name: s("Name"),
                platform: s("Platform"),
                attributes: entry_map(p, "Attributes"),
            })
        }
        Operation::DeletePlatformApplication => {
            Request::DeletePlatformApplication(platform_application_arn(p))
        }
        Operation::ListPlatformApplications => Request::ListPlatformApplications(NextTokenInput {
            next_token: s("NextToken"),
        }),
        Operation::GetPlatformApplicationAttributes => {
            Request::GetPlatformApplicationAttributes(platform_application_arn(p))
        }
        Operation::SetPlatformApplicationAttributes => {
            Request::SetPlatformApplicationAttributes(SetAttributesInput {
                arn: s("PlatformApplicationArn"),
                attributes: entry_map(p, "Attributes"),
            })
        }
        Operation::CreatePlatformEndpoint => {
            Request::CreatePlatformEndpoint(CreatePlatformEndpointInput {
                platform_application_arn: s("PlatformApplicationArn"),
                token: s("Token"),
                custom_user_data: s("CustomUserData"),
                attributes: entry_map(p, "Attributes"),
            })
        }
        Operation::DeleteEndpoint => Request::DeleteEndpoint(EndpointArnInput {
            endpoint_arn: s("EndpointArn"),
        }),
        Operation::ListEndpointsByPlatformApplication => {
            Request::ListEndpointsByPlatformApplication(ListEndpointsByPlatformApplicationInput {
                platform_application_arn: s("PlatformApplicationArn"),
                next_token: s("NextToken"),
            })
        }
        Operation::GetEndpointAttributes => Request::GetEndpointAttributes(EndpointArnInput {
            endpoint_arn: s("EndpointArn"),
        }),
        Operation::SetEndpointAttributes => Request::SetEndpointAttributes(SetAttributesInput {
            arn: s("EndpointArn"),
            attributes: entry_map(p, "Attributes"),
        }),
        // The SMS attribute and opt-out operations spell their members in lower case.
        Operation::GetSMSAttributes => Request::GetSMSAttributes(GetSmsAttributesInput {
            attributes: p.list("attributes").unwrap_or_default(),
        }),
        Operation::SetSMSAttributes => Request::SetSMSAttributes(SetSmsAttributesInput {
            attributes: entry_map(p, "attributes"),
        }),
        Operation::CheckIfPhoneNumberIsOptedOut => {
            Request::CheckIfPhoneNumberIsOptedOut(PhoneNumberInput {
                phone_number: s("phoneNumber"),
            })
        }
        Operation::ListPhoneNumbersOptedOut => Request::ListPhoneNumbersOptedOut(NextTokenInput {
            next_token: s("nextToken"),
        }),
        Operation::OptInPhoneNumber => Request::OptInPhoneNumber(PhoneNumberInput {
            phone_number: s("phoneNumber"),
        }),
        Operation::GetSMSSandboxAccountStatus => Request::GetSMSSandboxAccountStatus(Empty {}),
        Operation::CreateSMSSandboxPhoneNumber => {
            Request::CreateSMSSandboxPhoneNumber(CreateSandboxPhoneNumberInput {
                phone_number: s("PhoneNumber"),
                language_code: s("LanguageCode"),
            })
        }
        Operation::VerifySMSSandboxPhoneNumber => {
            Request::VerifySMSSandboxPhoneNumber(VerifySandboxPhoneNumberInput {
                phone_number: s("PhoneNumber"),
                one_time_password: s("OneTimePassword"),
            })
        }
        Operation::DeleteSMSSandboxPhoneNumber => {
            Request::DeleteSMSSandboxPhoneNumber(PhoneNumberInput {
                phone_number: s("PhoneNumber"),
            })
        }
        Operation::ListSMSSandboxPhoneNumbers => Request::ListSMSSandboxPhoneNumbers(page(p)?),
        Operation::ListOriginationNumbers => Request::ListOriginationNumbers(page(p)?),
    })
}

fn platform_application_arn(p: &Params) -> PlatformApplicationArnInput {
    PlatformApplicationArnInput {
        platform_application_arn: p.string("PlatformApplicationArn"),
    }
}

fn page(p: &Params) -> AwsResult<PageInput> {
    Ok(PageInput {
        next_token: p.string("NextToken"),
        max_results: p.int("MaxResults")?,
    })
}

/// `Name.entry.N.key` / `Name.entry.N.value`.
fn entry_map(p: &Params, name: &str) -> StringMap {
    p.child(name)
        .map(|node| {
            node.indexed("entry")
                .into_iter()
                .filter_map(|e| Some((e.string("key")?, e.string("value").unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

/// `Name.member.N.Key` / `.Value`.
fn tags(p: &Params, name: &str) -> Vec<(String, String)> {
    p.indexed(name)
        .into_iter()
        .filter_map(|t| Some((t.string("Key")?, t.string("Value").unwrap_or_default())))
        .collect()
}

fn publish_fields(p: &Params) -> AwsResult<PublishFields> {
    let mut attributes = MessageAttributes::new();
    if let Some(node) = p.child("MessageAttributes") {
        for entry in node.indexed("entry") {
            let name = entry.string("Name").unwrap_or_default();
            let value = entry.child("Value");
            let field = |f: &str| value.and_then(|v| v.string(f));
            let binary_value = match field("BinaryValue") {
                Some(b64) => Some(STANDARD.decode(b64.trim()).map_err(|_| {
                    AwsError::new(
                        &crate::error::codes::SNS_PARAMETER_VALUE_INVALID,
                        format!("The message attribute '{name}' has an invalid binary value."),
                    )
                })?),
                None => None,
            };
            attributes.insert(
                name,
                MessageAttributeValue {
                    data_type: field("DataType"),
                    string_value: field("StringValue"),
                    binary_value,
                    ..Default::default()
                },
            );
        }
    }
    Ok(PublishFields {
        message: p.string("Message"),
        subject: p.string("Subject"),
        message_structure: p.string("MessageStructure"),
        message_attributes: attributes,
        message_deduplication_id: p.string("MessageDeduplicationId"),
        message_group_id: p.string("MessageGroupId"),
    })
}

fn write_result(w: &mut XmlWriter, response: &Response) {
    match response {
        Response::CreateTopic(o) => {
            w.text("TopicArn", &o.topic_arn);
        }
        Response::ListTopics(o) => {
            w.open("Topics");
            for arn in &o.topics {
                w.open("member").text("TopicArn", arn).close("member");
            }
            w.close("Topics")
                .opt_text("NextToken", o.next_token.as_deref());
        }
        Response::GetTopicAttributes(o)
        | Response::GetSubscriptionAttributes(o)
        | Response::GetPlatformApplicationAttributes(o)
        | Response::GetEndpointAttributes(o) => attributes(w, "Attributes", &o.attributes),
        Response::GetSMSAttributes(o) => attributes(w, "attributes", &o.attributes),
        Response::Subscribe(o) | Response::ConfirmSubscription(o) => {
            w.text("SubscriptionArn", &o.subscription_arn);
        }
        Response::ListSubscriptions(o) | Response::ListSubscriptionsByTopic(o) => {
            w.open("Subscriptions");
            for s in &o.subscriptions {
                w.open("member")
                    .text("SubscriptionArn", &s.subscription_arn)
                    .text("Owner", &s.owner)
                    .text("Protocol", &s.protocol)
                    .text("Endpoint", &s.endpoint)
                    .text("TopicArn", &s.topic_arn)
                    .close("member");
            }
            w.close("Subscriptions")
                .opt_text("NextToken", o.next_token.as_deref());
        }
        Response::Publish(o) => {
            w.text("MessageId", &o.message_id)
                .opt_text("SequenceNumber", o.sequence_number.as_deref());
        }
        Response::PublishBatch(o) => {
            w.open("Successful");
            for s in &o.successful {
                w.open("member")
                    .text("Id", &s.id)
                    .text("MessageId", &s.message_id)
                    .opt_text("SequenceNumber", s.sequence_number.as_deref())
                    .close("member");
            }
            w.close("Successful").open("Failed");
            for f in &o.failed {
                w.open("member")
                    .text("Id", &f.id)
                    .text("Code", &f.code)
                    .text("Message", &f.message)
                    .text("SenderFault", if f.sender_fault { "true" } else { "false" })
                    .close("member");
            }
            w.close("Failed");
        }
        Response::ListTagsForResource(o) => {
            w.open("Tags");
            for (k, v) in &o.tags {
                w.open("member")
                    .text("Key", k)
                    .text("Value", v)
                    .close("member");
            }
            w.close("Tags");
        }
        Response::GetDataProtectionPolicy(o) => {
            w.opt_text("DataProtectionPolicy", o.data_protection_policy.as_deref());
        }
        Response::CreatePlatformApplication(o) => {
            w.text("PlatformApplicationArn", &o.platform_application_arn);
        }
        Response::ListPlatformApplications(o) => {
            w.open("PlatformApplications");
            for app in &o.platform_applications {
                w.open("member").text("PlatformApplicationArn", &app.arn);
                attributes(w, "Attributes", &app.attributes);
                w.close("member");
            }
            w.close("PlatformApplications")
                .opt_text("NextToken", o.next_token.as_deref());
        }
        Response::CreatePlatformEndpoint(o) => {
            w.text("EndpointArn", &o.endpoint_arn);
        }
        Response::ListEndpointsByPlatformApplication(o) => {
            w.open("Endpoints");
            for endpoint in &o.endpoints {
                w.open("member").text("EndpointArn", &endpoint.arn);
                attributes(w, "Attributes", &endpoint.attributes);
                w.close("member");
            }
            w.close("Endpoints")
                .opt_text("NextToken", o.next_token.as_deref());
        }
        Response::CheckIfPhoneNumberIsOptedOut(o) => {
            w.text("isOptedOut", bool_text(o.is_opted_out));
        }
        Response::ListPhoneNumbersOptedOut(o) => {
            w.open("phoneNumbers");
            for number in &o.phone_numbers {
                w.text("member", number);
            }
            w.close("phoneNumbers")
                .opt_text("nextToken", o.next_token.as_deref());
        }
        Response::GetSMSSandboxAccountStatus(o) => {
            w.text("IsInSandbox", bool_text(o.is_in_sandbox));
        }
        Response::ListSMSSandboxPhoneNumbers(o) => {
            w.open("PhoneNumbers");
            for number in &o.phone_numbers {
                w.open("member")
                    .text("PhoneNumber", &number.phone_number)
                    .text("Status", &number.status)
                    .close("member");
            }
            w.close("PhoneNumbers")
                .opt_text("NextToken", o.next_token.as_deref());
        }
        Response::ListOriginationNumbers(_) => {
            w.empty("PhoneNumbers");
        }
        // An output shape without members: `<{Op}Result/>`.
        Response::TagResource(EmptyResult {})
        | Response::UntagResource(EmptyResult {})
        | Response::SetSMSAttributes(EmptyResult {})
        | Response::OptInPhoneNumber(EmptyResult {})
        | Response::CreateSMSSandboxPhoneNumber(EmptyResult {})
        | Response::VerifySMSSandboxPhoneNumber(EmptyResult {})
        | Response::DeleteSMSSandboxPhoneNumber(EmptyResult {}) => {}
        // No output shape (`Empty`): never asked for a Result.
        Response::DeleteTopic(Empty {})
        | Response::SetTopicAttributes(Empty {})
        | Response::Unsubscribe(Empty {})
        | Response::SetSubscriptionAttributes(Empty {})
        | Response::PutDataProtectionPolicy(Empty {})
        | Response::AddPermission(Empty {})
        | Response::RemovePermission(Empty {})
        | Response::DeletePlatformApplication(Empty {})
        | Response::SetPlatformApplicationAttributes(Empty {})
        | Response::DeleteEndpoint(Empty {})
        | Response::SetEndpointAttributes(Empty {}) => {}
    }
}

/// An `<entry><key/><value/></entry>` map under `tag` (`attributes` for GetSMSAttributes).
fn attributes(w: &mut XmlWriter, tag: &str, map: &StringMap) {
    w.open(tag);
    for (k, v) in map {
        w.open("entry")
            .text("key", k)
            .text("value", v)
            .close("entry");
    }
    w.close(tag);
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}
