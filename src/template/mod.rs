//! Provisioning from CloudFormation and SAM templates at start-up (`--init`, `--init-dir`).
//!
//! Users already describe their queues and topics in templates; lyrebird reads those rather than
//! a format of its own. A template is parsed (`parse`), its parameters, conditions and
//! references checked before anything is created, its resources ordered by what they refer to,
//! then each resolved (`intrinsics`) and applied through the SQS and SNS operations
//! (`resources`). Types other than SQS and SNS ones are skipped with a warning.

pub mod intrinsics;
pub mod parse;
pub mod resources;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::context::RequestContext;
use crate::sns::SnsService;
use crate::sqs::SqsService;

use intrinsics::{EvalError, EvalResult, Evaluator, Reference};
use parse::{Map, Value};
use resources::{Kind, Physical, Provisioner};

/// One resolved `Outputs` entry, shaped like CloudFormation's DescribeStacks `Output`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub stack_name: String,
    pub output_key: String,
    pub output_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_name: Option<String>,
}

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    // SAM's defaults for its own resource types, which lyrebird skips.
    "Globals",
];

const RESOURCE_KEYS: &[&str] = &[
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "CreationPolicy",
    "UpdatePolicy",
];

const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// Applies every template the configuration names, in order, and returns their outputs.
pub fn provision(
    config: &Config,
    sqs: &SqsService,
    sns: &SnsService,
    host: &str,
) -> Result<Vec<Output>, String> {
    let files = template_files(config)?;
    let overrides = parameter_overrides(&config.params)?;
    if files.is_empty() {
        if let Some(name) = overrides.keys().next() {
            return Err(format!(
                "--param {name} given, but no template to apply (--init)"
            ));
        }
        return Ok(Vec::new());
    }
    // Every template is read and checked for syntax before any is applied.
    let templates = files
        .iter()
        .map(|path| Template::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    for name in overrides.keys() {
        if !templates.iter().any(|t| t.declares(name)) {
            return Err(format!(
                "--param {name}: no template declares a parameter {name}"
            ));
        }
    }
    let mut exports = BTreeMap::new();
    let mut outputs = Vec::new();
    for template in &templates {
        let ctx = RequestContext::internal(&config.account_id, &config.region, host);
        let provisioner = Provisioner {
            sqs,
            sns,
            ctx,
            stack: template.stack.clone(),
        };
        let applied = template.apply(&provisioner, &overrides, &exports)?;
        for output in applied {
            tracing::info!(
                "{}: output {} = {}",
                template.file,
                output.output_key,
                output.output_value
            );
            if let Some(export) = &output.export_name {
                if exports
                    .insert(export.clone(), output.output_value.clone())
                    .is_some()
                {
                    return Err(format!(
                        "{}: output {}: export name {export:?} is already exported by another template",
                        template.file, output.output_key
                    ));
                }
            }
            outputs.push(output);
        }
    }
    Ok(outputs)
}

/// `--init` files in the order given, then the init directory's `*.yaml|*.yml|*.json` by name.
pub fn template_files(config: &Config) -> Result<Vec<PathBuf>, String> {
    let mut files = config.init.clone();
    if let Some(dir) = &config.init_dir {
        if !dir.exists() {
            tracing::warn!(dir = %dir.display(), "init directory does not exist; nothing to apply from it");
        } else {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read init directory {}: {e}", dir.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                })
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    Ok(files)
}

/// `KEY=VALUE` pairs from `--param`.
fn parameter_overrides(params: &[String]) -> Result<BTreeMap<String, String>, String> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("--param {p:?}: expected KEY=VALUE")),
        })
        .collect()
}

/// One template file, parsed and checked for its shape.
struct Template {
    /// The path as given, for messages.
    file: String,
    /// `AWS::StackName`: the file name without its extension.
    stack: String,
    root: Map,
}

/// A resource declaration.
struct Resource<'t> {
    id: &'t str,
    type_name: &'t str,
    kind: Option<Kind>,
    properties: Map,
    condition: Option<&'t str>,
    depends_on: Vec<String>,
}

/// What became of a resource, for the references to it.
enum Status {
    Created(Physical),
    /// Not a type lyrebird provisions (or refers to one that is not).
    Skipped {
        type_name: String,
    },
    /// Its condition is false.
    Disabled {
        condition: String,
    },
}

impl Template {
    fn load(path: &Path) -> Result<Template, String> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        let parsed = if is_json {
            parse::json(&text)
        } else {
            parse::yaml(&text)
        };
        let root = match parsed.map_err(|e| format!("{file}: {e}"))? {
            Value::Map(map) => map,
            other => {
                return Err(format!(
                    "{file}: a template is a mapping, not {}",
                    other.kind()
                ))
            }
        };
        for key in root.keys() {
            if !SECTIONS.contains(&key) {
                return Err(format!("{file}: unknown template section {key}"));
            }
        }
        check_transform(root.get("Transform")).map_err(|e| format!("{file}: Transform: {e}"))?;
        match root.get("Resources") {
            Some(Value::Map(m)) if !m.is_empty() => {}
            _ => {
                return Err(format!(
                    "{file}: Resources: a template needs at least one resource"
                ))
            }
        }
        let stack = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stack".into());
        Ok(Template { file, stack, root })
    }

    fn section(&self, name: &str) -> Result<Map, String> {
        match self.root.get(name) {
            None | Some(Value::Null) => Ok(Map::default()),
            Some(Value::Map(m)) => Ok(m.clone()),
            Some(other) => Err(format!(
                "{}: {name} must be a mapping, not {}",
                self.file,
                other.kind()
            )),
        }
    }

    fn declares(&self, parameter: &str) -> bool {
        self.section("Parameters")
            .is_ok_and(|p| p.get(parameter).is_some())
    }

    /// Parameters (declared, with defaults and overrides) and pseudo parameters.
    fn parameters(
        &self,
        overrides: &BTreeMap<String, String>,
        ctx: &RequestContext,
    ) -> Result<BTreeMap<String, Value>, String> {
        let mut values = BTreeMap::new();
        for (name, definition) in self.section("Parameters")?.iter() {
            let fail = |m: String| format!("{}: parameter {name}: {m}", self.file);
            let definition = definition
                .as_map()
                .ok_or_else(|| fail("must be a mapping with a Type".into()))?;
            let value = parameter_value(name, definition, overrides.get(name)).map_err(fail)?;
            values.insert(name.clone(), value);
        }
        let text = |s: &str| Value::String(s.to_string());
        values.insert("AWS::Region".into(), text(&ctx.region));
        values.insert("AWS::AccountId".into(), text(&ctx.account));
        values.insert("AWS::StackName".into(), text(&self.stack));
        values.insert(
            "AWS::StackId".into(),
            text(&format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/{}",
                ctx.region,
                ctx.account,
                self.stack,
                stack_uuid(&ctx.account, &ctx.region, &self.stack)
            )),
        );
        values.insert("AWS::Partition".into(), text("aws"));
        values.insert("AWS::URLSuffix".into(), text("amazonaws.com"));
        values.insert("AWS::NotificationARNs".into(), Value::List(Vec::new()));
        Ok(values)
    }

    fn resources(&self) -> Result<Vec<Resource<'_>>, String> {
        let Some(Value::Map(section)) = self.root.get("Resources") else {
            unreachable!("checked when loaded");
        };
        let mut out = Vec::new();
        for (id, declaration) in section.0.iter() {
            let fail = |m: String| format!("{}: resource {id}: {m}", self.file);
            let declaration = declaration
                .as_map()
                .ok_or_else(|| fail("must be a mapping with a Type".into()))?;
            for key in declaration.keys() {
                if !RESOURCE_KEYS.contains(&key) {
                    return Err(fail(format!("unknown resource attribute {key}")));
                }
            }
            let type_name = declaration
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| fail("Type is required".into()))?;
            let properties = match declaration.get("Properties") {
                None | Some(Value::Null) => Map::default(),
                Some(Value::Map(m)) => m.clone(),
                Some(other) => {
                    return Err(fail(format!(
                        "Properties must be a mapping, not {}",
                        other.kind()
                    )))
                }
            };
            let condition = match declaration.get("Condition") {
                None => None,
                Some(Value::String(c)) => Some(c.as_str()),
                Some(_) => return Err(fail("Condition must be a condition name".into())),
            };
            let depends_on = match declaration.get("DependsOn") {
                None => Vec::new(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::List(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        fail("DependsOn must be a resource name or a list of them".into())
                    })?,
                Some(_) => {
                    return Err(fail(
                        "DependsOn must be a resource name or a list of them".into(),
                    ))
                }
            };
            out.push(Resource {
                id,
                type_name,
                kind: Kind::of(type_name),
                properties,
                condition,
                depends_on,
            });
        }
        Ok(out)
    }

    fn apply(
        &self,
        provisioner: &Provisioner,
        overrides: &BTreeMap<String, String>,
        imports: &BTreeMap<String, String>,
    ) -> Result<Vec<Output>, String> {
        let file = &self.file;
        let parameters = self.parameters(overrides, &provisioner.ctx)?;
        let mappings = self.section("Mappings")?;
        let conditions =
            intrinsics::conditions(&self.section("Conditions")?, &parameters, &mappings)
                .map_err(|(name, e)| format!("{file}: condition {name}: {e}"))?;
        let resources = self.resources()?;
        let outputs = self.section("Outputs")?;
        self.check_references(&resources, &parameters, &conditions, &outputs)?;
        let order = self.order(&resources, &parameters)?;

        let mut status: BTreeMap<String, Status> = BTreeMap::new();
        let (mut created, mut skipped) = (0, 0);
        for index in order {
            let resource = &resources[index];
            let place = format!("{file}: resource {} ({})", resource.id, resource.type_name);
            if let Some(condition) = resource.condition {
                if !conditions[condition] {
                    status.insert(
                        resource.id.to_string(),
                        Status::Disabled {
                            condition: condition.to_string(),
                        },
                    );
                    continue;
                }
            }
            let Some(kind) = resource.kind else {
                tracing::warn!("{place}: skipped: lyrebird provisions only SQS and SNS resources");
                skipped += 1;
                status.insert(
                    resource.id.to_string(),
                    Status::Skipped {
                        type_name: resource.type_name.to_string(),
                    },
                );
                continue;
            };
            let lookup = Lookup { status: &status };
            let evaluator = Evaluator {
                parameters: &parameters,
                conditions: &conditions,
                mappings: &mappings,
                imports,
                resources: &lookup,
            };
            let mut resolved = Map::default();
            let mut needs_skipped = None;
            for (property, value) in resource.properties.iter() {
                match evaluator.resolve(value) {
                    Ok(Some(v)) => resolved.0.push((property.clone(), v)),
                    Ok(None) => {}
                    Err(EvalError::Skipped { id, kind }) => {
                        needs_skipped = Some((id, kind));
                        break;
                    }
                    Err(EvalError::Invalid(m)) => {
                        return Err(format!("{place}, property {property}: {m}"))
                    }
                }
            }
            if let Some((id, kind)) = needs_skipped {
                tracing::warn!(
                    "{place}: skipped: it refers to {id} ({kind}), which lyrebird does not provision"
                );
                skipped += 1;
                status.insert(
                    resource.id.to_string(),
                    Status::Skipped {
                        type_name: resource.type_name.to_string(),
                    },
                );
                continue;
            }
            let physical = provisioner
                .apply(kind, resource.type_name, resource.id, &resolved)
                .map_err(|f| match f.property {
                    Some(p) => format!("{place}, property {p}: {}", f.message),
                    None => format!("{place}: {}", f.message),
                })?;
            tracing::debug!("{place}: applied ({})", physical.reference);
            created += 1;
            status.insert(resource.id.to_string(), Status::Created(physical));
        }
        tracing::info!(
            "{file}: applied {created} resources as stack {}{}",
            self.stack,
            if skipped > 0 {
                format!(", skipped {skipped}")
            } else {
                String::new()
            }
        );

        let lookup = Lookup { status: &status };
        let evaluator = Evaluator {
            parameters: &parameters,
            conditions: &conditions,
            mappings: &mappings,
            imports,
            resources: &lookup,
        };
        let mut results = Vec::new();
        for (key, definition) in outputs.iter() {
            let place = format!("{file}: output {key}");
            let definition = definition
                .as_map()
                .ok_or_else(|| format!("{place}: must be a mapping with a Value"))?;
            if let Some(condition) = definition.get("Condition").and_then(Value::as_str) {
                if !conditions[condition] {
                    continue;
                }
            }
            let text = |name: &str| -> EvalResult<Option<String>> {
                let Some(value) = definition.get(name) else {
                    return Ok(None);
                };
                match evaluator.resolve(value)? {
                    None => Ok(None),
                    Some(v) => v.scalar_text().map(Some).ok_or_else(|| {
                        EvalError::Invalid(format!("{name} must be a string, not {}", v.kind()))
                    }),
                }
            };
            let resolved = text("Value").and_then(|value| {
                let description = text("Description")?;
                let export_name = match definition.get("Export") {
                    None => None,
                    Some(Value::Map(export)) => match export.get("Name") {
                        Some(name) => evaluator.resolve(name)?.and_then(|v| v.scalar_text()),
                        None => None,
                    },
                    Some(_) => return Err(EvalError::Invalid("Export must be {Name: …}".into())),
                };
                Ok((value, description, export_name))
            });
            match resolved {
                Ok((Some(value), description, export_name)) => results.push(Output {
                    stack_name: self.stack.clone(),
                    output_key: key.clone(),
                    output_value: value,
                    description,
                    export_name,
                }),
                Ok((None, ..)) => return Err(format!("{place}: Value is required")),
                Err(EvalError::Skipped { id, kind }) => tracing::warn!(
                    "{place}: left out: it refers to {id} ({kind}), which lyrebird does not provision"
                ),
                Err(EvalError::Invalid(m)) => return Err(format!("{place}: {m}")),
            }
        }
        Ok(results)
    }

    /// Every `Ref`, `Fn::GetAtt`, `Fn::Sub` variable, `DependsOn` and `Condition` names
    /// something that exists, before anything is created.
    fn check_references(
        &self,
        resources: &[Resource],
        parameters: &BTreeMap<String, Value>,
        conditions: &BTreeMap<String, bool>,
        outputs: &Map,
    ) -> Result<(), String> {
        let by_id: BTreeMap<&str, &Resource> = resources.iter().map(|r| (r.id, r)).collect();
        let check = |reference: &Reference| -> Result<(), String> {
            let target = reference.target.as_str();
            match (&reference.attribute, by_id.get(target)) {
                (None, _) if target == "AWS::NoValue" || parameters.contains_key(target) => Ok(()),
                (None, Some(_)) => Ok(()),
                (Some(attribute), Some(resource)) => match resource.kind {
                    Some(kind) if !kind.attributes().contains(&attribute.as_str()) => Err(format!(
                        "{target} ({}) has no attribute {attribute} (it has {})",
                        resource.type_name,
                        kind.attributes().join(", ")
                    )),
                    _ => Ok(()),
                },
                _ => Err(format!("unknown reference {target}")),
            }
        };
        let check_condition = |name: &str| match conditions.contains_key(name) {
            true => Ok(()),
            false => Err(format!("unknown condition {name}")),
        };
        for resource in resources {
            let place = format!("{}: resource {}", self.file, resource.id);
            if let Some(c) = resource.condition {
                check_condition(c).map_err(|e| format!("{place}, Condition: {e}"))?;
            }
            for dependency in &resource.depends_on {
                if !by_id.contains_key(dependency.as_str()) {
                    return Err(format!("{place}, DependsOn: unknown resource {dependency}"));
                }
            }
            for (property, value) in resource.properties.iter() {
                let mut found = Vec::new();
                intrinsics::references(value, &mut found);
                for reference in &found {
                    check(reference).map_err(|e| format!("{place}, property {property}: {e}"))?;
                }
            }
        }
        for (key, definition) in outputs.iter() {
            let mut found = Vec::new();
            intrinsics::references(definition, &mut found);
            for reference in &found {
                check(reference).map_err(|e| format!("{}: output {key}: {e}", self.file))?;
            }
            if let Some(c) = definition
                .as_map()
                .and_then(|d| d.get("Condition"))
                .and_then(Value::as_str)
            {
                check_condition(c)
                    .map_err(|e| format!("{}: output {key}, Condition: {e}", self.file))?;
            }
        }
        Ok(())
    }

    /// Resource indices in creation order: each after everything it refers to or depends on,
    /// otherwise in template order. A cycle is an error naming it.
    fn order(
        &self,
        resources: &[Resource],
        parameters: &BTreeMap<String, Value>,
    ) -> Result<Vec<usize>, String> {
        let index: BTreeMap<&str, usize> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        let dependencies: Vec<BTreeSet<usize>> = resources
            .iter()
            .map(|r| {
                let mut found = Vec::new();
                r.properties
                    .iter()
                    .for_each(|(_, v)| intrinsics::references(v, &mut found));
                found
                    .iter()
                    .map(|f| f.target.as_str())
                    .filter(|t| !parameters.contains_key(*t))
                    .chain(r.depends_on.iter().map(String::as_str))
                    .filter_map(|t| index.get(t).copied())
                    .collect()
            })
            .collect();
        let mut done = vec![false; resources.len()];
        let mut order = Vec::with_capacity(resources.len());
        while order.len() < resources.len() {
            let next = (0..resources.len())
                .find(|&i| !done[i] && dependencies[i].iter().all(|&d| done[d]));
            match next {
                Some(i) => {
                    done[i] = true;
                    order.push(i);
                }
                None => {
                    // Walk unfinished dependencies from any waiting resource until one repeats.
                    let mut path = vec![(0..resources.len()).find(|&i| !done[i]).unwrap_or(0)];
                    loop {
                        let last = *path.last().unwrap_or(&0);
                        let Some(&d) = dependencies[last].iter().find(|&&d| !done[d]) else {
                            break;
                        };
                        if let Some(start) = path.iter().position(|&p| p == d) {
                            path.drain(..start);
                            path.push(d);
                            break;
                        }
                        path.push(d);
                    }
                    let names: Vec<&str> = path.iter().map(|&i| resources[i].id).collect();
                    return Err(format!(
                        "{}: resources depend on each other in a cycle: {}",
                        self.file,
                        names.join(" → ")
                    ));
                }
            }
        }
        Ok(order)
    }
}

/// A stable id for `AWS::StackId`, so it is the same on every start.
fn stack_uuid(account: &str, region: &str, stack: &str) -> uuid::Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{account}/{region}/{stack}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// `Transform` may only be SAM's, which needs nothing from lyrebird for the types it provisions.
fn check_transform(transform: Option<&Value>) -> Result<(), String> {
    let names = match transform {
        None => return Ok(()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::List(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(other) => return Err(format!("must be a transform name, not {}", other.kind())),
    };
    match names.iter().find(|n| **n != SAM_TRANSFORM) {
        Some(other) => Err(format!(
            "{other} is not supported (lyrebird accepts {SAM_TRANSFORM} only)"
        )),
        None => Ok(()),
    }
}

/// A parameter's value: the override, else its Default, checked against its constraints.
fn parameter_value(name: &str, definition: &Map, given: Option<&String>) -> Result<Value, String> {
    let ty = definition
        .get("Type")
        .and_then(Value::as_str)
        .ok_or("Type is required")?;
    let text = match (given, definition.get("Default")) {
        (Some(v), _) => v.clone(),
        (None, Some(default)) => match default {
            Value::List(items) => items
                .iter()
                .map(|i| i.scalar_text().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
            other => other
                .scalar_text()
                .ok_or_else(|| format!("Default must be a string, not {}", other.kind()))?,
        },
        (None, None) if ty.starts_with("AWS::SSM::Parameter::Value") => {
            return Err(format!(
            "{ty} reads Parameter Store, which lyrebird does not have: pass --param {name}=VALUE"
        ))
        }
        (None, None) => return Err(format!("has no Default: pass --param {name}=VALUE")),
    };
    let list = ty == "CommaDelimitedList" || ty.starts_with("List<");
    let items: Vec<&str> = if list {
        text.split(',').map(str::trim).collect()
    } else {
        vec![text.as_str()]
    };
    for item in &items {
        check_constraints(item, ty, definition)?;
    }
    Ok(if list {
        Value::List(items.iter().map(|s| Value::String(s.to_string())).collect())
    } else {
        Value::String(text)
    })
}

fn check_constraints(value: &str, ty: &str, definition: &Map) -> Result<(), String> {
    let number = |key: &str| -> Option<f64> {
        definition
            .get(key)
            .and_then(Value::scalar_text)
            .and_then(|t| t.parse().ok())
    };
    if let Some(Value::List(allowed)) = definition.get("AllowedValues") {
        if !allowed
            .iter()
            .any(|a| a.scalar_text().as_deref() == Some(value))
        {
            let shown: Vec<String> = allowed.iter().filter_map(Value::scalar_text).collect();
            return Err(format!(
                "value {value:?} is not one of AllowedValues [{}]",
                shown.join(", ")
            ));
        }
    }
    if ty == "Number" || ty == "List<Number>" {
        let n: f64 = value
            .parse()
            .map_err(|_| format!("value {value:?} is not a number"))?;
        if number("MinValue").is_some_and(|min| n < min)
            || number("MaxValue").is_some_and(|max| n > max)
        {
            return Err(format!("value {value} is outside MinValue..MaxValue"));
        }
    }
    let length = value.chars().count() as f64;
    if number("MinLength").is_some_and(|min| length < min)
        || number("MaxLength").is_some_and(|max| length > max)
    {
        return Err(format!("value {value:?} is outside MinLength..MaxLength"));
    }
    Ok(())
}

/// Resolves references to resources through what has been applied so far.
struct Lookup<'a> {
    status: &'a BTreeMap<String, Status>,
}

impl intrinsics::Resources for Lookup<'_> {
    fn reference(&self, id: &str) -> EvalResult<Value> {
        match self.status.get(id) {
            Some(Status::Created(p)) => Ok(Value::String(p.reference.clone())),
            Some(Status::Skipped { type_name }) => Err(EvalError::Skipped {
                id: id.to_string(),
                kind: type_name.clone(),
            }),
            Some(Status::Disabled { condition }) => Err(EvalError::Invalid(format!(
                "{id} is not created (its condition {condition} is false)"
            ))),
            None => Err(EvalError::Invalid(format!("unknown reference {id}"))),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> EvalResult<Value> {
        self.reference(id)?;
        match self.status.get(id) {
            Some(Status::Created(p)) => p
                .attributes
                .get(attribute)
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| EvalError::Invalid(format!("{id} has no attribute {attribute}"))),
            _ => unreachable!("reference() fails for anything not created"),
        }
    }
}
