//! Provisioning from CloudFormation and SAM templates, and AWS CDK cloud assemblies, at
//! start-up (`--init`, `--init-dir`).
//!
//! Users already describe their queues and topics in templates; lyrebird reads those rather than
//! a format of its own. The sources (`assembly`: files, directories, `cdk.out`) name the
//! templates and their stacks; templates are applied exporters first. A template is parsed
//! (`parse`), its parameters, conditions and references checked before anything is created, its
//! resources ordered by what they refer to, then each resolved (`intrinsics`) and applied
//! through the SQS and SNS operations (`resources`). Resources of other types are not created:
//! their `Ref` and `Fn::GetAtt` get stand-in values (`standins`).

pub mod assembly;
pub mod intrinsics;
pub mod parse;
pub mod resources;
pub mod standins;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;
use crate::context::RequestContext;
use crate::events::EventsService;
use crate::lambda::event_sources::EventSources;
use crate::lambda::LambdaService;
use crate::sns::SnsService;
use crate::sqs::SqsService;

use assembly::Source;
use intrinsics::{EvalError, EvalResult, Evaluator, Reference};
use parse::{Map, Value};
use resources::{Kind, Outcome, Physical, Provisioner};
use standins::StandIn;

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

/// What applying the configured templates did.
#[derive(Debug, Default)]
pub struct Report {
    pub outputs: Vec<Output>,
    pub stacks: Vec<StackReport>,
}

/// What applying one template did to its resources.
#[derive(Debug, Default, Clone)]
pub struct StackReport {
    pub file: String,
    pub stack: String,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Resources lyrebird does not provision: logical id and the values standing in for them.
    pub stand_ins: Vec<(String, StandIn)>,
}

impl StackReport {
    /// Counts one applied resource.
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    /// SQS and SNS resources applied.
    pub fn applied(&self) -> usize {
        self.created + self.updated + self.unchanged
    }

    /// The line logged once the template is applied: first start and re-start read differently.
    pub fn summary(&self) -> String {
        let changed = self.created + self.updated;
        let mut line = format!(
            "{}: stack {}: applied {} resources, {}",
            self.file,
            self.stack,
            self.applied(),
            match (changed, self.created) {
                (0, _) => "none changed".to_string(),
                (n, c) if c == n => format!("{c} created"),
                (n, 0) => format!("{n} changed"),
                (n, c) => format!("{n} changed ({c} created)"),
            }
        );
        if !self.stand_ins.is_empty() {
            line += &format!(
                "; {} not provisioned (stand-in values)",
                self.stand_ins.len()
            );
        }
        line
    }
}

/// Applies every template the configuration names, exporters first, and returns their outputs.
pub fn provision(
    config: &Config,
    sqs: &SqsService,
    sns: &SnsService,
    lambda: &LambdaService,
    events: &EventsService,
    event_sources: &EventSources,
    host: &str,
) -> Result<Vec<Output>, String> {
    apply_all(config, sqs, sns, lambda, events, Some(event_sources), host).map(|r| r.outputs)
}

/// `provision`, with what each template changed (event sources, which need a running server's
/// pollers, are left out: SAM `Events` and `AWS::Lambda::EventSourceMapping` are skipped).
pub fn provision_report(
    config: &Config,
    sqs: &SqsService,
    sns: &SnsService,
    lambda: &LambdaService,
    events: &EventsService,
    host: &str,
) -> Result<Report, String> {
    apply_all(config, sqs, sns, lambda, events, None, host)
}

fn apply_all(
    config: &Config,
    sqs: &SqsService,
    sns: &SnsService,
    lambda: &LambdaService,
    events: &EventsService,
    event_sources: Option<&EventSources>,
    host: &str,
) -> Result<Report, String> {
    let sources = assembly::sources(&config.init, config.init_dir.as_deref())?;
    let overrides = parameter_overrides(&config.params)?;
    if sources.is_empty() {
        if let Some(name) = overrides.keys().next() {
            return Err(format!(
                "--param {name} given, but no template to apply (--init)"
            ));
        }
        return Ok(Report::default());
    }
    // Every template is read and checked for syntax before any is applied.
    let templates = sources
        .iter()
        .map(Template::load)
        .collect::<Result<Vec<_>, _>>()?;
    for name in overrides.keys() {
        if !templates.iter().any(|t| t.declares(name)) {
            return Err(format!(
                "--param {name}: no template declares a parameter {name}"
            ));
        }
    }
    let ctx = RequestContext::internal(&config.account_id, &config.region, host);
    let order = template_order(&templates, &sources, &overrides, &ctx)?;
    let mut exports = BTreeMap::new();
    let mut report = Report::default();
    for template in order.into_iter().map(|i| &templates[i]) {
        let provisioner = Provisioner {
            sqs,
            sns,
            events,
            lambda,
            event_sources,
            template_dir: resources::template_dir(&template.file),
            code_root: lambda.code_root().to_path_buf(),
            ctx: ctx.clone(),
            stack: template.stack.clone(),
            outcome: Cell::new(Outcome::Unchanged),
            generated: Default::default(),
        };
        let (applied, stack) = template.apply(&provisioner, &overrides, &exports)?;
        tracing::info!("{}", stack.summary());
        report.stacks.push(stack);
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
            report.outputs.push(output);
        }
    }
    Ok(report)
}

/// Template indices in the order to apply them: each after the stacks its manifest says it
/// depends on and after the templates exporting the names it imports; otherwise as given.
fn template_order(
    templates: &[Template],
    sources: &[Source],
    overrides: &BTreeMap<String, String>,
    ctx: &RequestContext,
) -> Result<Vec<usize>, String> {
    let mut exporters: BTreeMap<String, usize> = BTreeMap::new();
    let mut imports: Vec<BTreeSet<String>> = Vec::new();
    for (i, template) in templates.iter().enumerate() {
        let (exported, imported) = template.exports_and_imports(overrides, ctx);
        for name in exported {
            exporters.entry(name).or_insert(i);
        }
        imports.push(imported);
    }
    let dependencies: Vec<BTreeSet<usize>> = sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let by_manifest = source
                .depends_on
                .iter()
                .filter_map(|d| sources.iter().position(|s| &s.path == d));
            let by_import = imports[i].iter().filter_map(|n| exporters.get(n).copied());
            by_manifest.chain(by_import).filter(|&d| d != i).collect()
        })
        .collect();
    let mut done = vec![false; templates.len()];
    let mut order = Vec::with_capacity(templates.len());
    while order.len() < templates.len() {
        match (0..templates.len()).find(|&i| !done[i] && dependencies[i].iter().all(|&d| done[d])) {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                let waiting: Vec<&str> = (0..templates.len())
                    .filter(|&i| !done[i])
                    .map(|i| templates[i].file.as_str())
                    .collect();
                return Err(format!(
                    "templates import from each other in a cycle: {}",
                    waiting.join(", ")
                ));
            }
        }
    }
    Ok(order)
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
    /// `AWS::StackName`.
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
    /// Not a type lyrebird provisions: references to it get stand-in values.
    StandIn(StandIn),
    /// Its condition is false.
    Disabled {
        condition: String,
    },
}

impl Template {
    fn load(source: &Source) -> Result<Template, String> {
        let path = &source.path;
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
        Ok(Template {
            file,
            stack: source.stack.clone(),
            root,
        })
    }

    /// SAM's `Globals.<section>` (`Function`): defaults for its resources of that type.
    fn sam_globals(&self, section: &str) -> Option<&Map> {
        self.root.get("Globals")?.as_map()?.get(section)?.as_map()
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

    /// The export names of its Outputs and the names its `Fn::ImportValue`s ask for, as far as
    /// they resolve without any resource (literal names, or made of parameters such as
    /// `${AWS::StackName}`).
    fn exports_and_imports(
        &self,
        overrides: &BTreeMap<String, String>,
        ctx: &RequestContext,
    ) -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut exports, mut imports) = (BTreeSet::new(), BTreeSet::new());
        let Ok(parameters) = self.parameters(overrides, ctx) else {
            return (exports, imports);
        };
        let mappings = self.section("Mappings").unwrap_or_default();
        let conditions = self
            .section("Conditions")
            .ok()
            .and_then(|c| intrinsics::conditions(&c, &parameters, &mappings).ok())
            .unwrap_or_default();
        let no_imports = BTreeMap::new();
        let evaluator = Evaluator {
            parameters: &parameters,
            conditions: &conditions,
            mappings: &mappings,
            imports: &no_imports,
            resources: &intrinsics::NoResources,
        };
        let text = |v: &Value| evaluator.resolve(v).ok().flatten()?.scalar_text();
        for (_, definition) in self.section("Outputs").unwrap_or_default().iter() {
            if let Some(name) = definition
                .as_map()
                .and_then(|d| d.get("Export"))
                .and_then(Value::as_map)
                .and_then(|e| e.get("Name"))
                .and_then(text)
            {
                exports.insert(name);
            }
        }
        let mut arguments = Vec::new();
        let root = Value::Map(self.root.clone());
        import_arguments(&root, &mut arguments);
        imports.extend(arguments.into_iter().filter_map(text));
        (exports, imports)
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
            let mut properties = match declaration.get("Properties") {
                None | Some(Value::Null) => Map::default(),
                Some(Value::Map(m)) => m.clone(),
                Some(other) => {
                    return Err(fail(format!(
                        "Properties must be a mapping, not {}",
                        other.kind()
                    )))
                }
            };
            if type_name == "AWS::Serverless::Function" {
                if let Some(globals) = self.sam_globals("Function") {
                    merge_globals(&mut properties, globals);
                }
            }
            if let Some(asset) = cdk_code_asset(type_name, declaration) {
                // The CDK uploads a function's code from cdk.out; lyrebird runs it from there.
                properties.0.retain(|(k, _)| k != "Code");
                properties.0.push(("Code".into(), Value::String(asset)));
            }
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

    /// Applies the template: checks everything that can be checked before anything is created,
    /// applies the resources in dependency order, then resolves the outputs.
    fn apply(
        &self,
        provisioner: &Provisioner,
        overrides: &BTreeMap<String, String>,
        imports: &BTreeMap<String, String>,
    ) -> Result<(Vec<Output>, StackReport), String> {
        let inputs = self.inputs(overrides, imports, &provisioner.ctx)?;
        let resources = self.resources()?;
        let outputs = self.section("Outputs")?;
        self.check_references(&resources, &inputs.parameters, &inputs.conditions, &outputs)?;
        let order = self.order(&resources, &inputs.parameters)?;

        let mut status: BTreeMap<String, Status> = BTreeMap::new();
        let mut report = StackReport {
            file: self.file.clone(),
            stack: self.stack.clone(),
            ..StackReport::default()
        };
        let generated = generated_ids(&resources);
        for index in order {
            let resource = &resources[index];
            let applied =
                self.apply_resource(resource, &inputs, &status, provisioner, &mut report)?;
            // SAM's generated resources follow the function: created with it, or disabled.
            if let Status::Disabled { condition } = &applied {
                for (id, _) in generated.iter().filter(|(_, g)| g.owner == index) {
                    let condition = condition.clone();
                    status.insert(id.clone(), Status::Disabled { condition });
                }
            }
            for (id, physical) in provisioner.take_generated() {
                if generated.contains_key(&id) {
                    status.insert(id, Status::Created(physical));
                }
            }
            status.insert(resource.id.to_string(), applied);
        }
        let results = self.outputs(&outputs, &inputs, &status)?;
        Ok((results, report))
    }

    /// Parameters (with overrides and pseudo parameters), mappings and conditions.
    fn inputs<'i>(
        &self,
        overrides: &BTreeMap<String, String>,
        imports: &'i BTreeMap<String, String>,
        ctx: &RequestContext,
    ) -> Result<Inputs<'i>, String> {
        let parameters = self.parameters(overrides, ctx)?;
        let mappings = self.section("Mappings")?;
        let conditions =
            intrinsics::conditions(&self.section("Conditions")?, &parameters, &mappings)
                .map_err(|(name, e)| format!("{}: condition {name}: {e}", self.file))?;
        Ok(Inputs {
            parameters,
            mappings,
            conditions,
            imports,
        })
    }

    /// Applies one resource, given what became of those applied before it, and returns what
    /// references to it resolve to: the provisioned resource, a stand-in for a type lyrebird
    /// does not provision, or nothing when its condition is false.
    fn apply_resource(
        &self,
        resource: &Resource,
        inputs: &Inputs,
        status: &BTreeMap<String, Status>,
        provisioner: &Provisioner,
        report: &mut StackReport,
    ) -> Result<Status, String> {
        let place = format!(
            "{}: resource {} ({})",
            self.file, resource.id, resource.type_name
        );
        if let Some(condition) = resource.condition {
            if !inputs.conditions[condition] {
                return Ok(Status::Disabled {
                    condition: condition.to_string(),
                });
            }
        }
        let lookup = Lookup { status };
        let evaluator = inputs.evaluator(&lookup);
        let Some(kind) = resource.kind else {
            let stand_in = self.stand_in(resource, provisioner, &evaluator);
            if resource.type_name == "AWS::CDK::Metadata" {
                tracing::debug!("{place}: ignored (CDK's own bookkeeping)");
            } else {
                tracing::info!(
                    "{place}: not provisioned by lyrebird; stands in as Ref {}, Arn {}",
                    stand_in.reference,
                    stand_in.arn
                );
                report
                    .stand_ins
                    .push((resource.id.to_string(), stand_in.clone()));
            }
            return Ok(Status::StandIn(stand_in));
        };
        let resolved = resolve_properties(resource, &evaluator, &place)?;
        let (physical, outcome) = provisioner
            .apply(kind, resource.type_name, resource.id, &resolved)
            .map_err(|f| match f.property {
                Some(p) => format!("{place}, property {p}: {}", f.message),
                None => format!("{place}: {}", f.message),
            })?;
        tracing::debug!("{place}: {outcome:?} ({})", physical.reference);
        report.count(outcome);
        Ok(Status::Created(physical))
    }

    /// The template's `Outputs`, resolved against the applied resources (those whose condition
    /// is false are left out).
    fn outputs(
        &self,
        outputs: &Map,
        inputs: &Inputs,
        status: &BTreeMap<String, Status>,
    ) -> Result<Vec<Output>, String> {
        let lookup = Lookup { status };
        let evaluator = inputs.evaluator(&lookup);
        let mut results = Vec::new();
        for (key, definition) in outputs.iter() {
            let place = format!("{}: output {key}", self.file);
            let definition = definition
                .as_map()
                .ok_or_else(|| format!("{place}: must be a mapping with a Value"))?;
            if let Some(condition) = definition.get("Condition").and_then(Value::as_str) {
                if !inputs.conditions[condition] {
                    continue;
                }
            }
            match resolve_output(definition, &evaluator) {
                Ok((Some(value), description, export_name)) => results.push(Output {
                    stack_name: self.stack.clone(),
                    output_key: key.clone(),
                    output_value: value,
                    description,
                    export_name,
                }),
                Ok((None, ..)) => return Err(format!("{place}: Value is required")),
                Err(e) => return Err(format!("{place}: {}", eval_message(e))),
            }
        }
        Ok(results)
    }

    /// The values standing in for a resource lyrebird does not provision, named by its own name
    /// property when that resolves, else as CloudFormation would generate it.
    fn stand_in(
        &self,
        resource: &Resource,
        provisioner: &Provisioner,
        evaluator: &Evaluator,
    ) -> StandIn {
        let name = standins::name_property(resource.type_name)
            .and_then(|p| resource.properties.get(p))
            .and_then(|v| evaluator.resolve(v).ok().flatten())
            .and_then(|v| v.scalar_text());
        let ctx = &provisioner.ctx;
        StandIn::new(
            resource.type_name,
            &standins::Place {
                account: &ctx.account,
                region: &ctx.region,
                stack: &self.stack,
                id: resource.id,
                name,
                generated: provisioner.generated_name(resource.id, 64, false),
            },
        )
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
        let generated = generated_ids(resources);
        let check = |reference: &Reference| -> Result<(), String> {
            let target = reference.target.as_str();
            if let (Some(g), None) = (generated.get(target), by_id.get(target)) {
                return match &reference.attribute {
                    Some(attribute) if !g.attributes.contains(&attribute.as_str()) => Err(format!(
                        "{target} (generated by SAM for {}) has no attribute {attribute}{}",
                        resources[g.owner].id,
                        match g.attributes {
                            [] => String::new(),
                            names => format!(" (it has {})", names.join(", ")),
                        }
                    )),
                    _ => Ok(()),
                };
            }
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
                if !by_id.contains_key(dependency.as_str())
                    && !generated.contains_key(dependency.as_str())
                {
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
        let generated = generated_ids(resources);
        // A reference to a resource SAM generates for a function waits for that function.
        let index: BTreeMap<&str, usize> = generated
            .iter()
            .map(|(id, g)| (id.as_str(), g.owner))
            .chain(resources.iter().enumerate().map(|(i, r)| (r.id, i)))
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

/// A resource SAM's transform generates for a function of the template.
struct Generated {
    /// The function's index among the template's resources.
    owner: usize,
    attributes: &'static [&'static str],
}

/// The resources SAM generates for the template's functions, by logical id; a resource the
/// template declares itself keeps its id.
fn generated_ids(resources: &[Resource]) -> BTreeMap<String, Generated> {
    let declared: BTreeSet<&str> = resources.iter().map(|r| r.id).collect();
    let mut out = BTreeMap::new();
    for (owner, resource) in resources.iter().enumerate() {
        if resource.type_name != "AWS::Serverless::Function" {
            continue;
        }
        for (id, attributes) in resources::sam_generated(resource.id, &resource.properties) {
            if !declared.contains(id.as_str()) {
                out.insert(id, Generated { owner, attributes });
            }
        }
    }
    out
}

/// Everything a template's values are evaluated against but its resources.
struct Inputs<'a> {
    /// Declared parameters (defaults and overrides applied) and pseudo parameters.
    parameters: BTreeMap<String, Value>,
    mappings: Map,
    conditions: BTreeMap<String, bool>,
    /// Exports of templates applied before this one.
    imports: &'a BTreeMap<String, String>,
}

impl Inputs<'_> {
    /// An evaluator that resolves resources through `lookup`.
    fn evaluator<'e>(&'e self, lookup: &'e Lookup<'e>) -> Evaluator<'e> {
        Evaluator {
            parameters: &self.parameters,
            conditions: &self.conditions,
            mappings: &self.mappings,
            imports: self.imports,
            resources: lookup,
        }
    }
}

/// A resource's properties with every intrinsic function resolved (`AWS::NoValue` drops one).
fn resolve_properties(
    resource: &Resource,
    evaluator: &Evaluator,
    place: &str,
) -> Result<Map, String> {
    let mut resolved = Map::default();
    for (property, value) in resource.properties.iter() {
        match evaluator.resolve(value) {
            Ok(Some(v)) => resolved.0.push((property.clone(), v)),
            Ok(None) => {}
            Err(e) => return Err(format!("{place}, property {property}: {}", eval_message(e))),
        }
    }
    Ok(resolved)
}

/// An output's `Value`, `Description` and `Export.Name`, resolved.
fn resolve_output(
    definition: &Map,
    evaluator: &Evaluator,
) -> EvalResult<(Option<String>, Option<String>, Option<String>)> {
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
    let value = text("Value")?;
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
}

/// The arguments of every `Fn::ImportValue` in `value`.
fn import_arguments<'v>(value: &'v Value, found: &mut Vec<&'v Value>) {
    match value {
        Value::Map(map) => {
            if let Some((name, argument)) = map.single() {
                if name == "Fn::ImportValue" {
                    found.push(argument);
                    return;
                }
            }
            map.iter().for_each(|(_, v)| import_arguments(v, found));
        }
        Value::List(items) => items.iter().for_each(|v| import_arguments(v, found)),
        _ => {}
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

/// The local code folder (or zip) the CDK staged for a function: `Metadata` `aws:asset:path`
/// (relative to the assembly, the template's folder) when `aws:asset:property` is `Code`.
fn cdk_code_asset(type_name: &str, declaration: &Map) -> Option<String> {
    if type_name != "AWS::Lambda::Function" {
        return None;
    }
    let metadata = declaration.get("Metadata")?.as_map()?;
    if metadata.get("aws:asset:property")?.as_str()? != "Code" {
        return None;
    }
    Some(metadata.get("aws:asset:path")?.as_str()?.to_string())
}

/// SAM's merge of `Globals` into a resource's properties: a property the resource sets wins,
/// mappings (`Environment.Variables`, `Tags`) are merged key by key.
fn merge_globals(properties: &mut Map, globals: &Map) {
    for (key, global) in globals.iter() {
        match properties.0.iter_mut().find(|(k, _)| k == key) {
            None => properties.0.push((key.clone(), global.clone())),
            Some((_, Value::Map(own))) => {
                if let Value::Map(global) = global {
                    merge_globals(own, global);
                }
            }
            Some(_) => {}
        }
    }
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

fn eval_message(error: EvalError) -> String {
    match error {
        EvalError::Invalid(m) => m,
    }
}

/// Resolves references to resources through what has been applied so far.
struct Lookup<'a> {
    status: &'a BTreeMap<String, Status>,
}

impl intrinsics::Resources for Lookup<'_> {
    fn reference(&self, id: &str) -> EvalResult<Value> {
        match self.status.get(id) {
            Some(Status::Created(p)) => Ok(Value::String(p.reference.clone())),
            Some(Status::StandIn(stand_in)) => Ok(Value::String(stand_in.reference.clone())),
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
            Some(Status::StandIn(stand_in)) => Ok(Value::String(stand_in.attribute(attribute))),
            _ => unreachable!("reference() fails for anything not created"),
        }
    }
}
