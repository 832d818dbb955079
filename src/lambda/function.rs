//! A function's configuration as lyrebird keeps it (and persists it), its ARN, and how a name,
//! partial ARN or full ARN given by a client resolves to one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{codes, AwsError};

use super::model::{DeadLetterConfig, Environment, FunctionConfiguration, RuntimeVersionConfig};

/// Lambda's defaults for an omitted Timeout (seconds) and MemorySize (MB).
pub const DEFAULT_TIMEOUT_SECS: u32 = 3;
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// AWS's limits on Timeout (seconds) and MemorySize (MB).
pub const MAX_TIMEOUT_SECS: u32 = 900;
pub const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;

/// Where a function's code lives on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CodeLocation {
    /// `LAMBDA_TASK_ROOT`: the unpacked archive, or a template's CodeUri folder as it is.
    pub dir: PathBuf,
    /// Base64 SHA-256 of the archive (or of the folder's files), as `CodeSha256` reports it.
    pub sha256: String,
    pub size: u64,
    /// lyrebird unpacked it (from a ZipFile), so it deletes the folder with the function.
    pub owned: bool,
}

/// One function, `$LATEST` (versions and aliases are not modelled).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionConfig {
    pub account: String,
    pub region: String,
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    #[serde(default)]
    pub description: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`: at most this many invocations at once (0 throttles all).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    pub code: CodeLocation,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `DeadLetterConfig.TargetArn`: an SQS queue or SNS topic ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_target: Option<String>,
    pub last_modified_ms: u64,
    pub revision_id: String,
    /// The template stack that declared it, if any (re-applying converges it).
    #[serde(default)]
    pub stack: Option<String>,
}

impl FunctionConfig {
    pub fn arn(&self) -> String {
        function_arn(&self.region, &self.account, &self.name)
    }

    /// The store key and registry key: `account/region/name`.
    pub fn key(&self) -> String {
        key(&self.account, &self.region, &self.name)
    }

    /// The answer to a request that changed the function (`transition`), as AWS records it: the
    /// state the function passes through, under a revision of its own. lyrebird's creation and
    /// updates complete at once, so the function itself settles straight away, with a new
    /// revision, as AWS's does when the transition ends (later reads show `Active`/`Successful`).
    pub fn settle(&mut self, transition: Transition) -> FunctionConfiguration {
        self.revision_id = uuid::Uuid::new_v4().to_string();
        let mut answer = self.configuration();
        match transition {
            Transition::Creating => {
                answer.state = Some("Pending");
                answer.state_reason = Some("The function is being created.");
                answer.state_reason_code = Some("Creating");
                answer.last_update_status = None;
            }
            Transition::Updating => {
                // AWS words an update's reason as it does a creation's (recorded).
                answer.last_update_status = Some("InProgress");
                answer.last_update_status_reason = Some("The function is being created.");
                answer.last_update_status_reason_code = Some("Creating");
            }
        }
        self.revision_id = uuid::Uuid::new_v4().to_string();
        answer
    }

    /// `FunctionConfiguration` of the function at rest, as AWS answers reads of it.
    pub fn configuration(&self) -> FunctionConfiguration {
        FunctionConfiguration {
            function_name: self.name.clone(),
            function_arn: self.arn(),
            runtime: self.runtime.clone(),
            role: self.role.clone(),
            handler: self.handler.clone(),
            code_size: self.code.size,
            description: self.description.clone(),
            timeout: self.timeout_secs,
            memory_size: self.memory_mb,
            last_modified: lambda_timestamp(self.last_modified_ms),
            code_sha256: self.code.sha256.clone(),
            version: "$LATEST",
            environment: (!self.environment.is_empty()).then(|| Environment {
                variables: self.environment.clone(),
            }),
            dead_letter_config: self.dead_letter_target.clone().map(|arn| DeadLetterConfig {
                target_arn: Some(arn),
            }),
            tracing_config: serde_json::json!({ "Mode": "PassThrough" }),
            revision_id: self.revision_id.clone(),
            state: Some("Active"),
            state_reason: None,
            state_reason_code: None,
            last_update_status: Some("Successful"),
            last_update_status_reason: None,
            last_update_status_reason_code: None,
            package_type: "Zip",
            architectures: if self.architectures.is_empty() {
                vec!["x86_64".into()]
            } else {
                self.architectures.clone()
            },
            ephemeral_storage: serde_json::json!({ "Size": 512 }),
            logging_config: serde_json::json!({
                "LogFormat": "Text",
                "LogGroup": format!("/aws/lambda/{}", self.name),
            }),
            snap_start: serde_json::json!({ "ApplyOn": "None", "OptimizationStatus": "Off" }),
            runtime_version_config: Some(RuntimeVersionConfig {
                runtime_version_arn: runtime_version_arn(&self.region, &self.runtime),
            }),
        }
    }

    /// The function as a ListFunctions entry: AWS leaves out its state, last update status and
    /// runtime version there (recorded).
    pub fn listed(&self) -> FunctionConfiguration {
        FunctionConfiguration {
            state: None,
            last_update_status: None,
            runtime_version_config: None,
            ..self.configuration()
        }
    }
}

/// What a request did to a function, for the state its answer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// CreateFunction: `State: Pending` (reason `Creating`), no `LastUpdateStatus` yet.
    Creating,
    /// UpdateFunctionCode / UpdateFunctionConfiguration: `LastUpdateStatus: InProgress`.
    Updating,
}

/// `arn:aws:lambda:<region>::runtime:<64 hex>`. AWS's hex identifies the runtime build a
/// function runs on; lyrebird has no builds, so it derives a stable value from the runtime's
/// name (the same runtime always answers the same ARN, a different runtime a different one).
pub fn runtime_version_arn(region: &str, runtime: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("lyrebird-runtime:{runtime}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("arn:aws:lambda:{region}::runtime:{hex}")
}

pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

pub fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

/// Lambda's `LastModified`: `2024-01-01T00:00:00.000+0000`.
pub fn lambda_timestamp(epoch_ms: u64) -> String {
    let iso = crate::clock::iso8601_millis(epoch_ms);
    format!("{}+0000", iso.trim_end_matches('Z'))
}

/// A function as a request names it, resolved against the caller's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionId {
    pub account: String,
    pub region: String,
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionId {
    pub fn arn(&self) -> String {
        function_arn(&self.region, &self.account, &self.name)
    }

    /// The ARN as AWS words it in "Function not found" (with the qualifier when one is given).
    pub fn qualified_arn(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", self.arn()),
            None => self.arn(),
        }
    }

    pub fn not_found(&self) -> AwsError {
        AwsError::new(
            &codes::RESOURCE_NOT_FOUND,
            format!("Function not found: {}", self.qualified_arn()),
        )
    }
}

/// Resolves `name`, `name:qualifier`, `account:function:name[:qualifier]` or
/// `arn:aws:lambda:region:account:function:name[:qualifier]` named by a request that reads or
/// acts on an existing function; `qualifier` is the `Qualifier` parameter, which must agree with
/// one in the name. A name longer than a function's can be is not refused: no such function
/// exists (AWS answers ResourceNotFoundException, recorded).
pub fn resolve(
    account: &str,
    region: &str,
    given: &str,
    qualifier: Option<&str>,
) -> Result<FunctionId, AwsError> {
    in_region(
        region,
        resolve_as(account, region, given, qualifier, Naming::Existing)?,
    )
}

/// As `resolve`, for CreateFunction: AWS checks the name against a stricter pattern (no dots,
/// no `$LATEST.PUBLISHED`) and refuses one longer than 64 characters.
pub fn resolve_new(account: &str, region: &str, given: &str) -> Result<FunctionId, AwsError> {
    in_region(
        region,
        resolve_as(account, region, given, None, Naming::New)?,
    )
}

/// As `resolve`, for the invoke seam: an event source (an SNS subscription, an EventBridge
/// target) may name a function of another region by its ARN, as AWS allows them to.
pub fn resolve_any_region(
    account: &str,
    region: &str,
    given: &str,
) -> Result<FunctionId, AwsError> {
    resolve_as(account, region, given, None, Naming::Existing)
}

/// The API reaches only the functions of the region it is called in (AWS's wording, recorded).
fn in_region(region: &str, id: FunctionId) -> Result<FunctionId, AwsError> {
    if id.region == region {
        return Ok(id);
    }
    Err(AwsError::new(
        &codes::RESOURCE_NOT_FOUND,
        format!(
            "Functions from '{}' are not reachable in this region ('{region}')",
            id.region
        ),
    ))
}

/// Which of AWS's two `functionName` patterns applies (their texts are AWS's, recorded).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    Existing,
    New,
}

impl Naming {
    fn pattern(self) -> &'static str {
        match self {
            Naming::Existing => "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
            Naming::New => "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        }
    }

    fn valid_name(self, name: &str) -> bool {
        !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || b == b'-'
                    || b == b'_'
                    || (b == b'.' && self == Naming::Existing)
            })
    }

    fn valid_qualifier(self, q: &str) -> bool {
        q == "$LATEST"
            || (self == Naming::Existing && q == "$LATEST.PUBLISHED")
            || Naming::New.valid_name(q)
    }
}

fn resolve_as(
    account: &str,
    region: &str,
    given: &str,
    qualifier: Option<&str>,
    naming: Naming,
) -> Result<FunctionId, AwsError> {
    let validation = |constraint: String| {
        AwsError::new(
            &codes::VALIDATION,
            format!("1 validation error detected: Value '{given}' at 'functionName' failed to satisfy constraint: {constraint}"),
        )
    };
    if given.len() > 140 {
        return Err(validation(
            "Member must have length less than or equal to 140".into(),
        ));
    }
    let invalid = || {
        validation(format!(
            "Member must satisfy regular expression pattern: {}",
            naming.pattern()
        ))
    };
    let parts: Vec<&str> = given.split(':').collect();
    let (given_account, reg, name, in_name) = match parts.as_slice() {
        [name] => (None, region, *name, None),
        [name, q] => (None, region, *name, Some(*q)),
        [acct, "function", name] => (Some(*acct), region, *name, None),
        [acct, "function", name, q] => (Some(*acct), region, *name, Some(*q)),
        ["arn", partition, "lambda", reg, acct, "function", name]
            if valid_region(reg) && valid_partition(partition) =>
        {
            (Some(*acct), *reg, *name, None)
        }
        ["arn", partition, "lambda", reg, acct, "function", name, q]
            if valid_region(reg) && valid_partition(partition) =>
        {
            (Some(*acct), *reg, *name, Some(*q))
        }
        _ => return Err(invalid()),
    };
    let account_ok =
        given_account.is_none_or(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    if !account_ok
        || !naming.valid_name(name)
        || in_name.is_some_and(|q| !naming.valid_qualifier(q))
    {
        return Err(invalid());
    }
    let acct = given_account.unwrap_or(account);
    if name.len() > 64 && naming == Naming::New {
        return Err(AwsError::invalid_parameter_value(format!(
            "1 validation error detected: Value '{given}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    let qualifier = match (in_name, qualifier) {
        (Some(a), Some(b)) if a != b => return Err(AwsError::invalid_parameter_value(
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => a.or(b).map(str::to_string),
    };
    Ok(FunctionId {
        account: acct.to_string(),
        region: reg.to_string(),
        name: name.to_string(),
        qualifier,
    })
}

/// `aws[a-zA-Z-]*` or empty.
fn valid_partition(partition: &str) -> bool {
    partition.is_empty()
        || partition
            .strip_prefix("aws")
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`.
fn valid_region(region: &str) -> bool {
    let rest = region.strip_prefix("eusc-").unwrap_or(region);
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let Some((country, rest)) = rest.split_at_checked(2) else {
        return false;
    };
    if !lower(country) {
        return false;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('-').collect();
    // Optional `gov` / `iso[a-z]?` before the area.
    if parts.len() == 3 {
        let tag = parts.remove(0);
        let iso = tag
            .strip_prefix("iso")
            .is_some_and(|t| t.len() <= 1 && t.bytes().all(|b| b.is_ascii_lowercase()));
        if tag != "gov" && !iso {
            return false;
        }
    }
    matches!(parts.as_slice(), [area, digit] if lower(area) && digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_arns() {
        let id = resolve("000000000000", "us-east-1", "fn", None).unwrap();
        assert_eq!(
            id.arn(),
            "arn:aws:lambda:us-east-1:000000000000:function:fn"
        );
        let id = resolve_any_region(
            "000000000000",
            "us-east-1",
            "arn:aws:lambda:eu-west-1:111111111111:function:f:$LATEST",
        )
        .unwrap();
        assert_eq!(
            (id.region.as_str(), id.account.as_str()),
            ("eu-west-1", "111111111111")
        );
        assert_eq!(id.qualifier.as_deref(), Some("$LATEST"));
        let id = resolve("0", "r", "111111111111:function:g", Some("$LATEST")).unwrap();
        assert_eq!(
            (id.account.as_str(), id.name.as_str()),
            ("111111111111", "g")
        );
        assert!(resolve("0", "r", "a/b", None).is_err());
        assert!(resolve("0", "r", "invalid-account:function:f", None).is_err());
        for region in ["invalid-region", "", "us-east-12"] {
            let arn = format!("arn:aws:lambda:{region}:111111111111:function:f");
            assert!(resolve("0", "r", &arn, None).is_err(), "{arn}");
        }
        for region in [
            "us-gov-west-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "eu-central-2",
        ] {
            let arn = format!("arn:aws:lambda:{region}:111111111111:function:f");
            assert!(resolve("0", region, &arn, None).is_ok(), "{arn}");
            assert!(resolve("0", "us-east-1", &arn, None).is_err(), "{arn}");
        }
        assert!(resolve("0", "r", "my.function", None).is_ok());
        assert!(resolve_new("0", "r", "my.function").is_err());
        assert!(resolve("0", "r", &"a".repeat(65), None).is_ok());
        assert!(resolve_new("0", "r", &"a".repeat(65)).is_err());
        assert!(resolve("0", "r", "f:1", Some("2")).is_err());
        assert!(resolve("0", "r", "", None).is_err());
    }

    #[test]
    fn runtime_version_arns_are_stable_per_runtime() {
        let a = runtime_version_arn("us-east-1", "nodejs20.x");
        assert_eq!(a, runtime_version_arn("us-east-1", "nodejs20.x"));
        assert_ne!(a, runtime_version_arn("us-east-1", "python3.12"));
        let hex = a
            .strip_prefix("arn:aws:lambda:us-east-1::runtime:")
            .unwrap();
        assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn timestamps_as_lambda_writes_them() {
        assert_eq!(lambda_timestamp(0), "1970-01-01T00:00:00.000+0000");
    }
}
