//! `AWS::Serverless::Function` and `AWS::Lambda::Function`, provisioned as lyrebird functions
//! that run the template's own handlers (SAM `Globals.Function` is merged in, and a CDK code
//! asset becomes the `Code` path, when the template is read); `AWS::Lambda::Permission` is accepted (lyrebird enforces no resource policies).
//!
//! Code: SAM's `CodeUri` and a `Code` given as a path are folders relative to the template,
//! used where they are (a `.zip` there is unpacked); `InlineCode` / `Code.ZipFile` is written as `index.js` / `index.py`,
//! as CloudFormation does. A folder that does not exist is logged and the function still
//! created, so the rest of the template works and its invocations fail as Lambda's would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::lambda::function::{
    CodeLocation, FunctionConfig, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECS, MAX_TIMEOUT_SECS,
    MEMORY_RANGE,
};
use crate::lambda::launch::{RuntimeKind, KNOWN_RUNTIMES};
use crate::lambda::PutOutcome;
use crate::template::parse::{Map, Value};
use crate::template::standins::{Place, StandIn};

use super::props::{Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};

/// SAM's function properties (those lyrebird does not use are accepted and ignored).
pub(super) const SERVERLESS_FUNCTION_PROPERTIES: &[(&str, Type)] = &[
    ("Architectures", Type::Other),
    ("AssumeRolePolicyDocument", Type::Other),
    ("AutoPublishAlias", Type::Other),
    ("AutoPublishAliasAllProperties", Type::Other),
    ("AutoPublishCodeSha256", Type::Other),
    ("CodeSigningConfigArn", Type::Other),
    ("CodeUri", Type::Other),
    ("DeadLetterQueue", Type::Other),
    ("DeploymentPreference", Type::Other),
    ("Description", Type::String),
    ("Environment", Type::Other),
    ("EphemeralStorage", Type::Other),
    ("EventInvokeConfig", Type::Other),
    ("Events", Type::Other),
    ("FileSystemConfigs", Type::Other),
    ("FunctionName", Type::String),
    ("FunctionUrlConfig", Type::Other),
    ("Handler", Type::String),
    ("ImageConfig", Type::Other),
    ("ImageUri", Type::Other),
    ("InlineCode", Type::String),
    ("KmsKeyArn", Type::Other),
    ("Layers", Type::Other),
    ("LoggingConfig", Type::Other),
    ("MemorySize", Type::Integer),
    ("PackageType", Type::Other),
    ("PermissionsBoundary", Type::Other),
    ("Policies", Type::Other),
    ("PropagateTags", Type::Other),
    ("ProvisionedConcurrencyConfig", Type::Other),
    ("RecursiveLoop", Type::Other),
    ("ReservedConcurrentExecutions", Type::Integer),
    ("Role", Type::String),
    ("RolePath", Type::Other),
    ("Runtime", Type::String),
    ("RuntimeManagementConfig", Type::Other),
    ("SnapStart", Type::Other),
    ("SourceKMSKeyArn", Type::Other),
    ("Tags", Type::Other),
    ("Timeout", Type::Integer),
    ("Tracing", Type::Other),
    ("VersionDescription", Type::Other),
    ("VersionDeletionPolicy", Type::Other),
    ("VpcConfig", Type::Other),
];

pub(super) const LAMBDA_FUNCTION_PROPERTIES: &[(&str, Type)] = &[
    ("Architectures", Type::Other),
    ("Code", Type::Other),
    ("CodeSigningConfigArn", Type::Other),
    ("DeadLetterConfig", Type::Other),
    ("Description", Type::String),
    ("Environment", Type::Other),
    ("EphemeralStorage", Type::Other),
    ("FileSystemConfigs", Type::Other),
    ("FunctionName", Type::String),
    ("Handler", Type::String),
    ("ImageConfig", Type::Other),
    ("KmsKeyArn", Type::Other),
    ("Layers", Type::Other),
    ("LoggingConfig", Type::Other),
    ("MemorySize", Type::Integer),
    ("PackageType", Type::Other),
    ("RecursiveLoop", Type::Other),
    ("ReservedConcurrentExecutions", Type::Integer),
    ("Role", Type::String),
    ("Runtime", Type::String),
    ("RuntimeManagementConfig", Type::Other),
    ("SnapStart", Type::Other),
    ("Tags", Type::Tags),
    ("Timeout", Type::Integer),
    ("TracingConfig", Type::Other),
    ("VpcConfig", Type::Other),
];

pub(super) const PERMISSION_PROPERTIES: &[(&str, Type)] = &[
    ("Action", Type::String),
    ("EventSourceToken", Type::String),
    ("FunctionName", Type::String),
    ("FunctionUrlAuthType", Type::String),
    ("InvokedViaFunctionUrl", Type::Boolean),
    ("Principal", Type::String),
    ("PrincipalOrgID", Type::String),
    ("SourceAccount", Type::String),
    ("SourceArn", Type::String),
];

impl Provisioner<'_> {
    pub(super) fn function(&self, type_name: &str, id: &str, props: &Props) -> Applied<Physical> {
        let serverless = type_name == "AWS::Serverless::Function";
        let name = match props.text("FunctionName", Type::String)? {
            Some(name) => name,
            None => self.generated_name(id, 64, false),
        };
        let runtime = props.required("Runtime")?;
        if !KNOWN_RUNTIMES.contains(&runtime.as_str()) {
            return Err(Failure::property(
                "Runtime",
                format!("{runtime} is not a Lambda runtime"),
            ));
        }
        let handler = match props.text("Handler", Type::String)? {
            Some(h) => h,
            None if RuntimeKind::of(&runtime) == RuntimeKind::Provided => String::new(),
            None => return Err(Failure::property("Handler", "is required")),
        };
        let timeout = integer(props, "Timeout", DEFAULT_TIMEOUT_SECS, 1..=MAX_TIMEOUT_SECS)?;
        let memory = integer(props, "MemorySize", DEFAULT_MEMORY_MB, MEMORY_RANGE)?;
        let reserved = match props.text("ReservedConcurrentExecutions", Type::Integer)? {
            None => None,
            Some(n) => Some(n.parse::<u32>().map_err(|_| {
                Failure::property("ReservedConcurrentExecutions", "must be 0 or more")
            })?),
        };
        let role = match props.text("Role", Type::String)? {
            Some(role) => role,
            None => {
                // SAM generates `{id}Role`; lyrebird enforces no IAM, so it is a stand-in.
                let role_id = format!("{id}Role");
                let role = StandIn::new(
                    "AWS::IAM::Role",
                    &Place {
                        account: &self.ctx.account,
                        region: &self.ctx.region,
                        stack: &self.stack,
                        id: &role_id,
                        name: None,
                        generated: self.generated_name(&role_id, 64, false),
                    },
                );
                if serverless {
                    let role_arn = role.arn.clone();
                    self.generate(
                        role_id,
                        Physical {
                            reference: role.reference.clone(),
                            attributes: BTreeMap::from([
                                ("Arn", role.arn.clone()),
                                ("RoleId", role.attribute("RoleId")),
                            ]),
                        },
                    );
                    role_arn
                } else {
                    role.arn
                }
            }
        };
        let code = if serverless {
            match (props.get("InlineCode"), props.get("CodeUri")) {
                (Some(_), _) => {
                    let source = props.required("InlineCode")?;
                    self.inline_code(id, &runtime, &source)?
                }
                (None, Some(uri)) => self.code_folder(id, "CodeUri", uri)?,
                (None, None) => self.code_folder(id, "CodeUri", &Value::String(".".into()))?,
            }
        } else {
            match props.get("Code") {
                None => return Err(Failure::property("Code", "is required")),
                Some(Value::Map(code)) => match code.get("ZipFile").and_then(Value::scalar_text) {
                    Some(source) => self.inline_code(id, &runtime, &source)?,
                    None => {
                        return Err(Failure::property(
                            "Code",
                            "lyrebird runs local code only: give Code.ZipFile, or Code as a folder path relative to the template",
                        ))
                    }
                },
                Some(path) => self.code_folder(id, "Code", path)?,
            }
        };
        let config = FunctionConfig {
            account: self.ctx.account.clone(),
            region: self.ctx.region.clone(),
            name: name.clone(),
            runtime,
            handler,
            role,
            description: props.text("Description", Type::String)?.unwrap_or_default(),
            timeout_secs: timeout,
            memory_mb: memory,
            environment: environment(props)?,
            reserved_concurrency: reserved,
            code,
            architectures: Vec::new(),
            dead_letter_target: dead_letter_target(props, serverless)?,
            tags: if serverless {
                map_tags(props)?
            } else {
                props.tags()?
            },
            last_modified_ms: 0,
            revision_id: String::new(),
            stack: Some(self.stack.clone()),
        };
        let arn = config.arn();
        match self.lambda.put_function(&self.ctx, config) {
            PutOutcome::Created => self.note(Outcome::Created),
            PutOutcome::Updated => self.note(Outcome::Updated),
            PutOutcome::Unchanged => {}
        }
        if serverless {
            self.function_event_invoke_config(&name, props)?;
            self.function_events(id, &name, props)?;
        }
        Ok(Physical {
            reference: name,
            attributes: BTreeMap::from([("Arn", arn)]),
        })
    }

    /// Accepted as declared: lyrebird does not enforce resource policies.
    pub(super) fn permission(&self, id: &str, props: &Props) -> Applied<Physical> {
        props.required("FunctionName")?;
        props.required("Action")?;
        props.required("Principal")?;
        Ok(Physical {
            reference: self.physical_id(id),
            attributes: BTreeMap::new(),
        })
    }

    /// A code folder named by a template, relative to the template's folder.
    fn code_folder(&self, id: &str, property: &str, value: &Value) -> Applied<CodeLocation> {
        let Some(relative) = value.scalar_text() else {
            return Err(Failure::property(
                property,
                "lyrebird runs local code only: give a folder path relative to the template (S3 locations are not fetched)",
            ));
        };
        if relative.starts_with("s3://") {
            return Err(Failure::property(
                property,
                format!("{relative}: lyrebird runs local code only; give a folder path relative to the template"),
            ));
        }
        let dir = self.template_dir.join(&relative);
        let dir = dir.canonicalize().unwrap_or(dir);
        if dir.is_file() && relative.ends_with(".zip") {
            // A packaged function (a CDK zip asset, a built archive): unpacked like a ZipFile.
            let bytes = std::fs::read(&dir).map_err(|e| {
                Failure::property(property, format!("cannot read {}: {e}", dir.display()))
            })?;
            let root = self
                .code_root
                .join(&self.ctx.account)
                .join(&self.ctx.region)
                .join(format!("asset-{}-{id}", self.stack));
            return crate::lambda::unpack_zip(&bytes, &root)
                .map_err(|e| Failure::property(property, format!("{}: {}", relative, e.message)));
        }
        match crate::lambda::code_folder(&dir) {
            Ok(code) => Ok(code),
            Err(reason) => {
                tracing::error!(
                    "{}: function {id}: {property} {relative}: {reason}; its invocations will fail",
                    self.stack
                );
                Ok(CodeLocation {
                    dir,
                    sha256: String::new(),
                    size: 0,
                    owned: false,
                })
            }
        }
    }

    /// Inline source written as `index.js` / `index.py` in a folder of lyrebird's.
    fn inline_code(&self, id: &str, runtime: &str, source: &str) -> Applied<CodeLocation> {
        let file = match RuntimeKind::of(runtime) {
            RuntimeKind::Node => "index.js",
            RuntimeKind::Python => "index.py",
            _ => {
                return Err(Failure::property(
                    "InlineCode",
                    format!("inline code needs a nodejs or python runtime, not {runtime}"),
                ))
            }
        };
        let dir = self
            .code_root
            .join(&self.ctx.account)
            .join(&self.ctx.region)
            .join(format!("inline-{}-{id}", self.stack));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(source) {
                std::fs::write(path, source)?;
            }
            Ok(())
        };
        write().map_err(|e| {
            Failure::property(
                "Code",
                format!("cannot write the inline code to {}: {e}", dir.display()),
            )
        })?;
        crate::lambda::code_folder(&dir).map_err(|e| Failure::property("Code", e))
    }
}

fn integer(
    props: &Props,
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Applied<u32> {
    let Some(text) = props.text(name, Type::Integer)? else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(Failure::property(
            name,
            format!(
                "must be between {} and {}, not {text}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// `Environment: {Variables: {NAME: value}}`
fn environment(props: &Props) -> Applied<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(environment) = props.get("Environment") else {
        return Ok(out);
    };
    let bad = || Failure::property("Environment", "must be {Variables: {NAME: value}}");
    let variables = match environment.as_map().ok_or_else(bad)?.get("Variables") {
        None | Some(Value::Null) => return Ok(out),
        Some(v) => v.as_map().ok_or_else(bad)?,
    };
    for (name, value) in variables.iter() {
        let text = match value {
            Value::Null => String::new(),
            v => v.scalar_text().ok_or_else(|| {
                Failure::property(
                    "Environment",
                    format!("variable {name} must be a string, not {}", v.kind()),
                )
            })?,
        };
        out.insert(name.clone(), text);
    }
    Ok(out)
}

/// The dead-letter queue: SAM's `DeadLetterQueue: {Type: SQS|SNS, TargetArn}` or
/// `AWS::Lambda::Function`'s `DeadLetterConfig: {TargetArn}`, checked as the API checks it.
fn dead_letter_target(props: &Props, serverless: bool) -> Applied<Option<String>> {
    let property = if serverless {
        "DeadLetterQueue"
    } else {
        "DeadLetterConfig"
    };
    let Some(value) = props.get(property) else {
        return Ok(None);
    };
    let map = value
        .as_map()
        .ok_or_else(|| Failure::property(property, "must be a mapping with TargetArn"))?;
    let arn = match map.get("TargetArn") {
        None | Some(Value::Null) => String::new(),
        Some(v) => v
            .scalar_text()
            .ok_or_else(|| Failure::property(property, "TargetArn must be a string"))?,
    };
    if serverless {
        let kind = map.get("Type").and_then(Value::scalar_text);
        let expected = crate::lambda::destinations::service_of(&arn).to_ascii_uppercase();
        match kind.as_deref() {
            Some(k @ ("SQS" | "SNS")) if k == expected => {}
            Some(k @ ("SQS" | "SNS")) => {
                return Err(Failure::property(
                    property,
                    format!("Type is {k} but TargetArn {arn} is not of that kind"),
                ))
            }
            _ => {
                return Err(Failure::property(
                    property,
                    "Type must be SQS or SNS (SAM's valid values)",
                ))
            }
        }
    }
    crate::lambda::check_dead_letter(arn).map_err(|e| Failure::property(property, e.message))
}

/// SAM's `Tags: {Key: Value}`.
fn map_tags(props: &Props) -> Applied<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    if let Some(value) = props.get("Tags") {
        let map = value
            .as_map()
            .ok_or_else(|| Failure::property("Tags", "must be a mapping of tag names to values"))?;
        for (k, v) in map.iter() {
            tags.insert(k.clone(), v.scalar_text().unwrap_or_default());
        }
    }
    Ok(tags)
}

/// A SAM function's properties without those SAM does not define (each logged).
pub(super) fn known_properties_only(id: &str, properties: &Map) -> Map {
    Map(properties
        .iter()
        .filter(|(key, _)| {
            let known = SERVERLESS_FUNCTION_PROPERTIES.iter().any(|(k, _)| k == key);
            if !known {
                tracing::warn!("resource {id} (AWS::Serverless::Function): property {key} is not a SAM property; ignored");
            }
            known
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// The folder of a template file, for relative code paths.
pub fn template_dir(file: &str) -> PathBuf {
    Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."))
}
