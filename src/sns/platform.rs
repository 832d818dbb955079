//! Mobile push: platform applications (Create/Delete/ListPlatformApplications,
//! Get/SetPlatformApplicationAttributes), their endpoints (CreatePlatformEndpoint, DeleteEndpoint,
//! ListEndpointsByPlatformApplication, Get/SetEndpointAttributes) and delivery to an endpoint,
//! published to directly (`TargetArn`) or through a topic subscription. lyrebird reaches no push
//! service: what would have been pushed is captured with protocol `application`.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::message::{
    attributes_size, check_attributes, check_subject, no_default_entry, structured, Kind, Outgoing,
    Prepared,
};
use super::model::*;
use super::subscription::Subscription;
use super::topics::{Topic, DEFAULT_MAX_MESSAGE_SIZE};
use super::{decode_token, encode_token, parse_arn, SnsService, Violations, PAGE_SIZE};

/// The push services SNS serves (`Platform` of CreatePlatformApplication). Each name is also
/// the `MessageStructure=json` key that carries that platform's payload.
pub const PLATFORMS: &[&str] = &[
    "ADM",
    "APNS",
    "APNS_SANDBOX",
    "APNS_VOIP",
    "APNS_VOIP_SANDBOX",
    "MACOS",
    "MACOS_SANDBOX",
    "BAIDU",
    "GCM",
    "MPNS",
    "WNS",
];
/// Firebase (GCM) authenticates with a credential alone; every other platform needs both.
const CREDENTIAL_ONLY: &[&str] = &["GCM"];
const CREDENTIALS: &[&str] = &["PlatformPrincipal", "PlatformCredential"];
const CUSTOM_USER_DATA_LIMIT: usize = 2048;

/// Every account's platform applications and endpoints, indexed by ARN (which carries the
/// region and account). Plain data, so it can be persisted as it is.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Platforms {
    applications: BTreeMap<String, Application>,
    endpoints: BTreeMap<String, Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub platform: String,
    /// What GetPlatformApplicationAttributes shows: `Enabled` and whatever was set.
    pub attributes: StringMap,
    /// PlatformPrincipal and PlatformCredential: compared on re-creation, never shown.
    pub credentials: StringMap,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub application_arn: String,
    pub platform: String,
    /// Enabled, Token, CustomUserData (and Baidu's ChannelId and UserId).
    pub attributes: StringMap,
}

fn enabled(attributes: &StringMap) -> bool {
    attributes.get("Enabled").is_some_and(|v| v == "true")
}

impl Platforms {
    /// Where an endpoint would be delivered to: its platform, if it and its application are
    /// enabled; otherwise the error Publish answers with.
    fn deliverable(&self, endpoint_arn: &str) -> AwsResult<&str> {
        let endpoint = self.endpoints.get(endpoint_arn).ok_or_else(|| {
            AwsError::sns_invalid(
                "TargetArn Reason: No endpoint found for the target arn specified",
            )
        })?;
        if !enabled(&endpoint.attributes) {
            return Err(AwsError::new(
                &codes::SNS_ENDPOINT_DISABLED,
                "Endpoint is disabled",
            ));
        }
        let application_enabled = self
            .applications
            .get(&endpoint.application_arn)
            .is_some_and(|app| enabled(&app.attributes));
        if !application_enabled {
            return Err(AwsError::new(
                &codes::SNS_PLATFORM_APPLICATION_DISABLED,
                "Platform application is disabled",
            ));
        }
        Ok(&endpoint.platform)
    }

    /// The endpoints of one application, in ARN order, after `after` if given.
    fn endpoints_of<'a>(
        &'a self,
        application_arn: &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = (&'a String, &'a Endpoint)> + 'a {
        let prefix = endpoint_prefix(application_arn);
        let start = match after {
            Some(last) => Bound::Excluded(last.to_string()),
            None => Bound::Included(prefix.clone()),
        };
        self.endpoints
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(move |(arn, _)| arn.starts_with(&prefix))
    }
}

/// `arn:…:app/GCM/name` → `arn:…:endpoint/GCM/name/`, the prefix of its endpoints' ARNs.
fn endpoint_prefix(application_arn: &str) -> String {
    format!("{}/", application_arn.replacen(":app/", ":endpoint/", 1))
}

/// Whether a Publish `TargetArn` names a mobile endpoint rather than a topic.
pub fn is_endpoint_arn(arn: &str) -> bool {
    resource_of(arn).starts_with("endpoint/")
}

/// The part of an SNS ARN after `arn:aws:sns:<region>:<account>:`.
fn resource_of(arn: &str) -> &str {
    arn.splitn(6, ':').nth(5).unwrap_or_default()
}

/// Checks an application (`app/<platform>/<name>`, two slashes) or endpoint
/// (`endpoint/<platform>/<application>/<id>`, three) ARN as AWS does.
fn checked_arn<'a>(
    parameter: &str,
    arn: Option<&'a str>,
    ctx: &RequestContext,
    slashes: usize,
) -> AwsResult<&'a str> {
    parse_arn(parameter, arn, ctx)?;
    let arn = arn.unwrap_or_default();
    if resource_of(arn).matches('/').count() != slashes {
        return Err(AwsError::sns_invalid(format!(
            "{parameter} Reason: Wrong number of slashes in relative portion of the ARN."
        )));
    }
    Ok(arn)
}

fn application_arn<'a>(arn: Option<&'a str>, ctx: &RequestContext) -> AwsResult<&'a str> {
    checked_arn("PlatformApplicationArn", arn, ctx, 2)
}

fn endpoint_arn<'a>(arn: Option<&'a str>, ctx: &RequestContext) -> AwsResult<&'a str> {
    checked_arn("EndpointArn", arn, ctx, 3)
}

fn check_application_name(name: &str) -> AwsResult<()> {
    let reason = if name.is_empty() {
        "cannot be empty"
    } else if name.chars().count() > 256 {
        "must be at most 256 characters long"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        "must contain only characters 'a'-'z', 'A'-'Z', '0'-'9', '_', '-', and '.'"
    } else {
        return Ok(());
    };
    Err(AwsError::sns_invalid(format!("{name} Reason: {reason}")))
}

fn attribute_error(detail: impl std::fmt::Display) -> AwsError {
    AwsError::sns_invalid(format!("Attributes Reason: {detail}"))
}

/// `true`/`false` in any case, stored lower-case.
fn boolean(name: &str, value: &str) -> AwsResult<String> {
    match value.to_ascii_lowercase().as_str() {
        v @ ("true" | "false") => Ok(v.to_string()),
        _ => Err(attribute_error(format!(
            "Invalid value for attribute: {name}: must be true or false"
        ))),
    }
}

/// Checks one platform-application attribute; returns the value to store.
fn check_application_attribute(name: &str, value: &str) -> AwsResult<String> {
    match name {
        "Enabled" => boolean(name, value),
        "SuccessFeedbackSampleRate" => match value.parse::<u8>() {
            Ok(rate) if rate <= 100 => Ok(value.to_string()),
            _ => Err(attribute_error(format!(
                "Invalid value for attribute: {name}: {value} value provided is not an integer between 0-100"
            ))),
        },
        _ => Ok(value.to_string()),
    }
}

/// Splits application attributes into shown attributes and hidden credentials, checking each.
fn split_application_attributes(given: StringMap) -> AwsResult<(StringMap, StringMap)> {
    let mut attributes = StringMap::new();
    let mut credentials = StringMap::new();
    for (name, value) in given {
        if CREDENTIALS.contains(&name.as_str()) {
            credentials.insert(name, value);
        } else {
            let value = check_application_attribute(&name, &value)?;
            attributes.insert(name, value);
        }
    }
    Ok((attributes, credentials))
}

/// Checks one endpoint attribute; returns the value to store.
fn check_endpoint_attribute(platform: &str, name: &str, value: &str) -> AwsResult<String> {
    match name {
        "Enabled" => boolean(name, value),
        "Token" if value.is_empty() => Err(attribute_error(
            "Invalid value for attribute: Token: cannot be empty",
        )),
        "CustomUserData" if value.len() > CUSTOM_USER_DATA_LIMIT => Err(attribute_error(
            "Invalid value for attribute: CustomUserData: must be at most 2048 bytes long in UTF-8 encoding",
        )),
        "Token" | "CustomUserData" => Ok(value.to_string()),
        "ChannelId" | "UserId" if platform == "BAIDU" => Ok(value.to_string()),
        _ => Err(attribute_error(format!("Invalid attribute name: {name}"))),
    }
}

/// Stores checked endpoint attributes; an empty CustomUserData clears it.
fn apply_endpoint_attributes(
    platform: &str,
    target: &mut StringMap,
    given: &StringMap,
) -> AwsResult<()> {
    let mut checked = Vec::with_capacity(given.len());
    for (name, value) in given {
        checked.push((name, check_endpoint_attribute(platform, name, value)?));
    }
    for (name, value) in checked {
        if name == "CustomUserData" && value.is_empty() {
            target.remove(name);
        } else {
            target.insert(name.clone(), value);
        }
    }
    Ok(())
}

/// A listing's NextToken, decoded (the last ARN of the previous page).
fn after(token: Option<&str>) -> AwsResult<Option<String>> {
    token
        .filter(|t| !t.is_empty())
        .map(decode_token)
        .transpose()
}

impl SnsService {
    pub fn create_platform_application(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformApplicationInput,
    ) -> AwsResult<PlatformApplicationArnOutput> {
        Violations::default()
            .required("name", input.name.as_ref())
            .required("platform", input.platform.as_ref())
            .required(
                "attributes",
                (!input.attributes.is_empty()).then_some(&input.attributes),
            )
            .check()?;
        let name = input.name.unwrap_or_default();
        let platform = input.platform.unwrap_or_default();
        check_application_name(&name)?;
        // AWS's documentation spells Baidu's platform both ways; its ARNs say BAIDU.
        let platform = match platform.as_str() {
            "Baidu" => "BAIDU",
            p if PLATFORMS.contains(&p) => p,
            _ => {
                return Err(AwsError::sns_invalid(format!(
                    "Platform Reason: {platform} is not supported"
                )))
            }
        };
        let (mut attributes, credentials) = split_application_attributes(input.attributes)?;
        match (
            credentials.contains_key("PlatformPrincipal"),
            credentials.contains_key("PlatformCredential"),
        ) {
            (true, false) => {
                return Err(attribute_error(
                    "PlatformPrincipal attribute provided without PlatformCredential",
                ))
            }
            (false, true) if !CREDENTIAL_ONLY.contains(&platform) => {
                return Err(attribute_error(
                    "PlatformCredential attribute provided without PlatformPrincipal",
                ))
            }
            (false, false) => {
                return Err(attribute_error("PlatformCredential attribute is required"))
            }
            _ => {}
        }
        attributes
            .entry("Enabled".into())
            .or_insert_with(|| "true".into());
        let application = Application {
            platform: platform.to_string(),
            attributes,
            credentials,
        };
        let arn = format!(
            "arn:aws:sns:{}:{}:app/{platform}/{name}",
            ctx.region, ctx.account
        );
        let mut platforms = self.platforms.write();
        match platforms.applications.get(&arn) {
            Some(existing) if *existing != application => {
                return Err(AwsError::sns_invalid(
                    "Name Reason: An application with the same name but different properties already exists",
                ))
            }
            Some(_) => {}
            None => {
                platforms.applications.insert(arn.clone(), application);
                tracing::debug!(application = %arn, "created platform application");
            }
        }
        Ok(PlatformApplicationArnOutput {
            platform_application_arn: arn,
        })
    }

    /// Idempotent; the application's endpoints go with it.
    pub fn delete_platform_application(
        &self,
        ctx: &RequestContext,
        input: PlatformApplicationArnInput,
    ) -> AwsResult<Empty> {
        let arn = application_arn(input.platform_application_arn.as_deref(), ctx)?;
        let mut platforms = self.platforms.write();
        if platforms.applications.remove(arn).is_some() {
            let endpoints: Vec<String> = platforms
                .endpoints_of(arn, None)
                .map(|(e, _)| e.clone())
                .collect();
            for endpoint in endpoints {
                platforms.endpoints.remove(&endpoint);
            }
        }
        Ok(Empty {})
    }

    pub fn list_platform_applications(
        &self,
        ctx: &RequestContext,
        input: NextTokenInput,
    ) -> AwsResult<ListPlatformApplicationsOutput> {
        let prefix = format!("arn:aws:sns:{}:{}:app/", ctx.region, ctx.account);
        let after = after(input.next_token.as_deref())?;
        let platforms = self.platforms.read();
        let start = after.unwrap_or_else(|| prefix.clone());
        let mut rows = platforms
            .applications
            .range::<String, _>((Bound::Excluded(start), Bound::Unbounded))
            .take_while(|(arn, _)| arn.starts_with(&prefix))
            .map(|(arn, app)| ArnWithAttributes {
                arn: arn.clone(),
                attributes: app.attributes.clone(),
            });
        let page: Vec<ArnWithAttributes> = rows.by_ref().take(PAGE_SIZE).collect();
        let next_token = rows
            .next()
            .and(page.last())
            .map(|last| encode_token(&last.arn));
        Ok(ListPlatformApplicationsOutput {
            platform_applications: page,
            next_token,
        })
    }

    pub fn get_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: PlatformApplicationArnInput,
    ) -> AwsResult<AttributesOutput> {
        let arn = application_arn(input.platform_application_arn.as_deref(), ctx)?;
        let platforms = self.platforms.read();
        let app = platforms
            .applications
            .get(arn)
            .ok_or_else(|| AwsError::sns_not_found("PlatformApplication"))?;
        Ok(AttributesOutput {
            attributes: app.attributes.clone(),
        })
    }

    pub fn set_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: SetAttributesInput,
    ) -> AwsResult<Empty> {
        let arn = application_arn(input.arn.as_deref(), ctx)?;
        Violations::default()
            .required(
                "attributes",
                (!input.attributes.is_empty()).then_some(&input.attributes),
            )
            .check()?;
        let mut platforms = self.platforms.write();
        let app = platforms
            .applications
            .get_mut(arn)
            .ok_or_else(|| AwsError::sns_not_found("PlatformApplication"))?;
        let (attributes, credentials) = split_application_attributes(input.attributes)?;
        app.attributes.extend(attributes);
        app.credentials.extend(credentials);
        Ok(Empty {})
    }

    /// Idempotent for a token already registered with the same attributes.
    pub fn create_platform_endpoint(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformEndpointInput,
    ) -> AwsResult<EndpointArnOutput> {
        let app_arn = application_arn(input.platform_application_arn.as_deref(), ctx)?;
        Violations::default()
            .required("token", input.token.as_ref())
            .check()?;
        let mut platforms = self.platforms.write();
        let platform = platforms
            .applications
            .get(app_arn)
            .ok_or_else(|| AwsError::sns_not_found("PlatformApplication"))?
            .platform
            .clone();
        let token = input.token.unwrap_or_default();
        if token.is_empty() {
            return Err(AwsError::sns_invalid("Token Reason: cannot be empty"));
        }
        let mut attributes = StringMap::from([
            ("Enabled".to_string(), "true".to_string()),
            ("Token".to_string(), token),
        ]);
        if let Some(data) = input.custom_user_data.filter(|d| !d.is_empty()) {
            let data = check_endpoint_attribute(&platform, "CustomUserData", &data)?;
            attributes.insert("CustomUserData".into(), data);
        }
        // Attributes win over the Token and CustomUserData parameters.
        apply_endpoint_attributes(&platform, &mut attributes, &input.attributes)?;
        let existing = platforms
            .endpoints_of(app_arn, None)
            .find(|(_, e)| e.attributes.get("Token") == attributes.get("Token"));
        if let Some((arn, endpoint)) = existing {
            if endpoint.attributes != attributes {
                return Err(AwsError::sns_invalid(format!(
                    "Token Reason: Endpoint {arn} already exists with the same Token, but different attributes."
                )));
            }
            return Ok(EndpointArnOutput {
                endpoint_arn: arn.clone(),
            });
        }
        let arn = format!("{}{}", endpoint_prefix(app_arn), uuid::Uuid::new_v4());
        platforms.endpoints.insert(
            arn.clone(),
            Endpoint {
                application_arn: app_arn.to_string(),
                platform,
                attributes,
            },
        );
        tracing::debug!(endpoint = %arn, "created platform endpoint");
        Ok(EndpointArnOutput { endpoint_arn: arn })
    }

    /// Idempotent. Topic subscriptions to the endpoint stay, as on AWS, and deliver nothing.
    pub fn delete_endpoint(
        &self,
        ctx: &RequestContext,
        input: EndpointArnInput,
    ) -> AwsResult<Empty> {
        let arn = endpoint_arn(input.endpoint_arn.as_deref(), ctx)?;
        self.platforms.write().endpoints.remove(arn);
        Ok(Empty {})
    }

    pub fn list_endpoints_by_platform_application(
        &self,
        ctx: &RequestContext,
        input: ListEndpointsByPlatformApplicationInput,
    ) -> AwsResult<ListEndpointsOutput> {
        let app_arn = application_arn(input.platform_application_arn.as_deref(), ctx)?;
        let after = after(input.next_token.as_deref())?;
        let platforms = self.platforms.read();
        if !platforms.applications.contains_key(app_arn) {
            return Err(AwsError::sns_not_found("PlatformApplication"));
        }
        let mut rows = platforms
            .endpoints_of(app_arn, after.as_deref())
            .map(|(arn, endpoint)| ArnWithAttributes {
                arn: arn.clone(),
                attributes: endpoint.attributes.clone(),
            });
        let page: Vec<ArnWithAttributes> = rows.by_ref().take(PAGE_SIZE).collect();
        let next_token = rows
            .next()
            .and(page.last())
            .map(|last| encode_token(&last.arn));
        Ok(ListEndpointsOutput {
            endpoints: page,
            next_token,
        })
    }

    pub fn get_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: EndpointArnInput,
    ) -> AwsResult<AttributesOutput> {
        let arn = endpoint_arn(input.endpoint_arn.as_deref(), ctx)?;
        let platforms = self.platforms.read();
        let endpoint = platforms
            .endpoints
            .get(arn)
            .ok_or_else(|| AwsError::sns_not_found("Endpoint"))?;
        Ok(AttributesOutput {
            attributes: endpoint.attributes.clone(),
        })
    }

    pub fn set_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: SetAttributesInput,
    ) -> AwsResult<Empty> {
        let arn = endpoint_arn(input.arn.as_deref(), ctx)?;
        Violations::default()
            .required(
                "attributes",
                (!input.attributes.is_empty()).then_some(&input.attributes),
            )
            .check()?;
        let mut platforms = self.platforms.write();
        let endpoint = platforms
            .endpoints
            .get_mut(arn)
            .ok_or_else(|| AwsError::sns_not_found("Endpoint"))?;
        apply_endpoint_attributes(
            &endpoint.platform,
            &mut endpoint.attributes,
            &input.attributes,
        )?;
        Ok(Empty {})
    }

    /// Subscribe checks that an `application` endpoint exists (wording, missing space and all,
    /// as AWS answers).
    pub(super) fn check_subscribable_endpoint(&self, endpoint: &str) -> AwsResult<()> {
        if self.platforms.read().endpoints.contains_key(endpoint) {
            Ok(())
        } else {
            Err(AwsError::sns_invalid(format!(
                "Endpoint Reason: Endpoint does not exist for endpoint arn{endpoint}"
            )))
        }
    }

    /// Publish with `TargetArn` = an endpoint: checked like any publish, then captured. With
    /// `MessageStructure=json` the endpoint gets its platform's key, else `default`.
    pub(super) fn publish_to_endpoint(
        &self,
        ctx: &RequestContext,
        arn: &str,
        fields: PublishFields,
    ) -> AwsResult<PublishOutput> {
        let platform = self.platforms.read().deliverable(arn)?.to_string();
        let message = match fields.message {
            Some(m) if !m.is_empty() => m,
            _ => return Err(AwsError::sns_invalid("Empty message")),
        };
        check_subject(fields.subject.as_deref())?;
        check_attributes(&fields.message_attributes, "")?;
        if message.len() + attributes_size(&fields.message_attributes) > DEFAULT_MAX_MESSAGE_SIZE {
            return Err(AwsError::sns_invalid("Message too long"));
        }
        let payload = match fields.message_structure.as_deref() {
            None | Some("") => message,
            Some("json") => {
                let mut parsed = structured(&message)?;
                parsed
                    .remove(&platform)
                    .or_else(|| parsed.remove("default"))
                    .ok_or_else(no_default_entry)?
            }
            Some(_) => return Err(AwsError::sns_invalid("MessageStructure")),
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        self.deliveries.capture(Outgoing {
            kind: Kind::Notification,
            protocol: "application".into(),
            endpoint: arn.to_string(),
            subscription_arn: None,
            topic_arn: None,
            message_id: message_id.clone(),
            subject: fields.subject,
            message: payload,
            attributes: fields.message_attributes,
            message_structure: fields.message_structure.filter(|s| !s.is_empty()),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
        });
        Ok(PublishOutput {
            message_id,
            sequence_number: None,
        })
    }

    /// A topic's message to an `application` subscription: the endpoint's platform payload, or
    /// the default message. Deleted or disabled endpoints get nothing, as on AWS.
    pub(super) fn deliver_to_endpoint(
        &self,
        topic: &Topic,
        sub: &Subscription,
        prepared: &Prepared,
    ) -> bool {
        let platform = match self.platforms.read().deliverable(&sub.endpoint) {
            Ok(platform) => platform.to_string(),
            Err(e) => {
                tracing::debug!(subscription = %sub.arn, error = %e, "push not delivered");
                return false;
            }
        };
        let message = prepared
            .per_protocol
            .get(&platform)
            .unwrap_or(&prepared.message);
        self.deliveries.capture(Outgoing {
            kind: Kind::Notification,
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            subscription_arn: Some(sub.arn.clone()),
            topic_arn: Some(topic.arn.clone()),
            message_id: prepared.message_id.clone(),
            subject: prepared.subject.clone(),
            message: message.clone(),
            attributes: prepared.attributes.clone(),
            message_structure: prepared.message_structure.clone(),
            account: topic.account.clone(),
            region: topic.region.clone(),
        });
        true
    }
}
