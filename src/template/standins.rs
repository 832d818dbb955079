//! Stand-in values for resources lyrebird does not provision (KMS keys, IAM roles, alarms, …),
//! so that the resources referring to them are still created.
//!
//! A queue encrypted with its stack's own key, a topic logging delivery status through a role,
//! a rule targeting a state machine: each needs only the other resource's `Ref` or `Fn::GetAtt`
//! value, a string in a known shape. The stand-in is that string, stable for a stack and logical
//! id (the same on every start), in the stack's account and region. Once lyrebird provisions a
//! type (a `resources::Kind`), its resources are real and never reach this module.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// What `Ref` and `Fn::GetAtt` of an unprovisioned resource resolve to.
#[derive(Debug, Clone, PartialEq)]
pub struct StandIn {
    pub type_name: String,
    /// `Ref`.
    pub reference: String,
    /// `Fn::GetAtt` values of the attributes the type documents (others: see `attribute`).
    pub attributes: BTreeMap<String, String>,
    /// The ARN, for any `*Arn` attribute the type's table does not name.
    pub arn: String,
}

/// Where the stand-in lives, and what its template says that shapes it.
pub struct Place<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub stack: &'a str,
    pub id: &'a str,
    /// The resource's own name property (`FunctionName`, `RoleName`, …), when it is a string.
    pub name: Option<String>,
    /// CloudFormation's generated physical name `{stack}-{id}-{SUFFIX}` for this resource.
    pub generated: String,
}

/// The properties that name a resource of each type, when set.
pub fn name_property(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "AWS::IAM::Role" => "RoleName",
        "AWS::IAM::User" => "UserName",
        "AWS::IAM::ManagedPolicy" => "ManagedPolicyName",
        "AWS::IAM::Policy" => "PolicyName",
        "AWS::KMS::Alias" => "AliasName",
        "AWS::CloudWatch::Alarm" => "AlarmName",
        "AWS::CloudWatch::CompositeAlarm" => "AlarmName",
        "AWS::S3::Bucket" => "BucketName",
        "AWS::Events::Rule" => "Name",
        "AWS::Events::EventBus" => "Name",
        "AWS::Logs::LogGroup" => "LogGroupName",
        "AWS::DynamoDB::Table" => "TableName",
        "AWS::StepFunctions::StateMachine" => "StateMachineName",
        "AWS::Kinesis::Stream" => "Name",
        "AWS::KinesisFirehose::DeliveryStream" => "DeliveryStreamName",
        _ => return None,
    })
}

impl StandIn {
    pub fn new(type_name: &str, place: &Place) -> StandIn {
        let (account, region) = (place.account, place.region);
        let name = place
            .name
            .clone()
            .unwrap_or_else(|| place.generated.clone());
        let mut attributes = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            attributes.insert(k.to_string(), v);
        };
        let (reference, arn) = match type_name {
            "AWS::KMS::Key" => {
                let key_id = stable_uuid(place);
                let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
                set("KeyId", key_id.clone());
                (key_id, arn)
            }
            "AWS::KMS::Alias" => {
                let alias = match place.name.clone() {
                    Some(a) if a.starts_with("alias/") => a,
                    Some(a) => format!("alias/{a}"),
                    None => format!("alias/{name}"),
                };
                let arn = format!("arn:aws:kms:{region}:{account}:{alias}");
                (alias, arn)
            }
            "AWS::IAM::Role" => {
                set("RoleId", unique_id("AROA", place));
                (name.clone(), format!("arn:aws:iam::{account}:role/{name}"))
            }
            "AWS::IAM::User" => {
                set("UserId", unique_id("AIDA", place));
                (name.clone(), format!("arn:aws:iam::{account}:user/{name}"))
            }
            "AWS::IAM::ManagedPolicy" => {
                let arn = format!("arn:aws:iam::{account}:policy/{name}");
                set("PolicyArn", arn.clone());
                (arn.clone(), arn)
            }
            "AWS::CloudWatch::Alarm" | "AWS::CloudWatch::CompositeAlarm" => (
                name.clone(),
                format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}"),
            ),
            "AWS::S3::Bucket" => {
                let bucket = name.to_ascii_lowercase();
                set("DomainName", format!("{bucket}.s3.amazonaws.com"));
                set(
                    "RegionalDomainName",
                    format!("{bucket}.s3.{region}.amazonaws.com"),
                );
                (bucket.clone(), format!("arn:aws:s3:::{bucket}"))
            }
            "AWS::Events::Rule" => (
                name.clone(),
                format!("arn:aws:events:{region}:{account}:rule/{name}"),
            ),
            "AWS::Logs::LogGroup" => (
                name.clone(),
                format!("arn:aws:logs:{region}:{account}:log-group:{name}:*"),
            ),
            "AWS::DynamoDB::Table" => (
                name.clone(),
                format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
            ),
            "AWS::StepFunctions::StateMachine" => {
                let arn = format!("arn:aws:states:{region}:{account}:stateMachine:{name}");
                set("Name", name.clone());
                (arn.clone(), arn)
            }
            _ => {
                // AWS::Service::Thing → arn:aws:service:region:account:thing/name
                let mut parts = type_name.split("::").skip(1);
                let service = parts.next().unwrap_or("unknown").to_ascii_lowercase();
                let resource = parts.next().unwrap_or("resource").to_ascii_lowercase();
                (
                    name.clone(),
                    format!("arn:aws:{service}:{region}:{account}:{resource}/{name}"),
                )
            }
        };
        attributes.insert("Arn".into(), arn.clone());
        StandIn {
            type_name: type_name.to_string(),
            reference,
            attributes,
            arn,
        }
    }

    /// `Fn::GetAtt`: a documented attribute; any other `…Arn` is the ARN, anything else the
    /// `Ref` value (a template that needs more than a well-formed string needs the real service).
    pub fn attribute(&self, name: &str) -> String {
        match self.attributes.get(name) {
            Some(v) => v.clone(),
            None if name.ends_with("Arn") => self.arn.clone(),
            None => self.reference.clone(),
        }
    }
}

fn digest(place: &Place) -> [u8; 32] {
    Sha256::digest(
        format!(
            "{}/{}/{}/{}",
            place.account, place.region, place.stack, place.id
        )
        .as_bytes(),
    )
    .into()
}

/// A key id in KMS's shape (a UUID), the same for the same stack and logical id.
fn stable_uuid(place: &Place) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest(place)[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// IAM's unique ids: a four-letter prefix and 17 upper-case letters and digits.
fn unique_id(prefix: &str, place: &Place) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let tail: String = digest(place)[..17]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(id: &str, name: Option<&str>) -> Place<'static> {
        Place {
            account: "000000000000",
            region: "us-east-1",
            stack: "App",
            id: Box::leak(id.to_string().into_boxed_str()),
            name: name.map(str::to_string),
            generated: format!("App-{id}-ABC123"),
        }
    }

    #[test]
    fn well_formed_values_per_type() {
        let key = StandIn::new("AWS::KMS::Key", &place("Key", None));
        assert_eq!(key.reference.len(), 36);
        assert_eq!(
            key.attribute("Arn"),
            format!("arn:aws:kms:us-east-1:000000000000:key/{}", key.reference)
        );
        assert_eq!(key.attribute("KeyId"), key.reference);
        let again = StandIn::new("AWS::KMS::Key", &place("Key", None));
        assert_eq!(key, again, "stable across starts");

        let role = StandIn::new("AWS::IAM::Role", &place("Role", Some("logger")));
        assert_eq!(role.reference, "logger");
        assert_eq!(
            role.attribute("Arn"),
            "arn:aws:iam::000000000000:role/logger"
        );
        assert!(role.attribute("RoleId").starts_with("AROA"));

        let alarm = StandIn::new("AWS::CloudWatch::Alarm", &place("Alarm", Some("deep")));
        assert_eq!(
            alarm.attribute("Arn"),
            "arn:aws:cloudwatch:us-east-1:000000000000:alarm:deep"
        );

        let other = StandIn::new("AWS::Pipes::Pipe", &place("P", None));
        assert_eq!(
            other.attribute("Arn"),
            "arn:aws:pipes:us-east-1:000000000000:pipe/App-P-ABC123"
        );
        assert_eq!(other.attribute("SomethingArn"), other.arn);
        assert_eq!(other.attribute("Name"), "App-P-ABC123");
    }
}
