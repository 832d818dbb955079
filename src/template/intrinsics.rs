//! Intrinsic functions and conditions: turns a template value into a plain one, given the
//! parameters, the conditions, the mappings and what the resources created so far resolve to.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine};

use super::parse::{Map, Value};

/// Why a value could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    Invalid(String),
}

pub type EvalResult<T> = Result<T, EvalError>;

fn invalid<T>(message: impl Into<String>) -> EvalResult<T> {
    Err(EvalError::Invalid(message.into()))
}

/// What `Ref` and `Fn::GetAtt` of a resource resolve to.
pub trait Resources {
    fn reference(&self, id: &str) -> EvalResult<Value>;
    fn attribute(&self, id: &str, attribute: &str) -> EvalResult<Value>;
}

/// For condition expressions, which may only use parameters.
pub struct NoResources;

impl Resources for NoResources {
    fn reference(&self, id: &str) -> EvalResult<Value> {
        invalid(format!(
            "conditions can only refer to parameters, and {id} is not one"
        ))
    }

    fn attribute(&self, id: &str, _: &str) -> EvalResult<Value> {
        self.reference(id)
    }
}

/// Functions lyrebird recognises but does not evaluate.
const UNSUPPORTED: &[&str] = &[
    "Fn::GetAZs",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::ForEach",
];

/// Everything a value may refer to.
pub struct Evaluator<'a> {
    /// Template parameters and pseudo parameters (`AWS::Region`, …).
    pub parameters: &'a BTreeMap<String, Value>,
    pub conditions: &'a BTreeMap<String, bool>,
    pub mappings: &'a Map,
    /// Exports of templates applied before this one (`Fn::ImportValue`).
    pub imports: &'a BTreeMap<String, String>,
    pub resources: &'a dyn Resources,
}

impl Evaluator<'_> {
    /// Resolves every intrinsic function in `value`; `None` is `AWS::NoValue` (the property or
    /// list item is left out).
    pub fn resolve(&self, value: &Value) -> EvalResult<Option<Value>> {
        match value {
            Value::Map(map) => {
                if let Some((name, argument)) = map.single() {
                    if name == "Ref" || name.starts_with("Fn::") {
                        return self.function(name, argument);
                    }
                }
                let mut out = Map::default();
                for (key, item) in map.iter() {
                    if let Some(v) = self.resolve(item)? {
                        out.0.push((key.clone(), v));
                    }
                }
                Ok(Some(Value::Map(out)))
            }
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.resolve(item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::List(out)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    /// Resolves a value that must be present.
    fn value(&self, value: &Value, what: &str) -> EvalResult<Value> {
        self.resolve(value)?
            .map_or_else(|| invalid(format!("{what} cannot be AWS::NoValue")), Ok)
    }

    /// Resolves a value that must be a string (numbers and booleans read as their text).
    fn text(&self, value: &Value, what: &str) -> EvalResult<String> {
        let resolved = self.value(value, what)?;
        resolved.scalar_text().map_or_else(
            || invalid(format!("{what} must be a string, not {}", resolved.kind())),
            Ok,
        )
    }

    fn list(&self, value: &Value, what: &str) -> EvalResult<Vec<Value>> {
        match self.value(value, what)? {
            Value::List(items) => Ok(items),
            other => invalid(format!("{what} must be a list, not {}", other.kind())),
        }
    }

    fn function(&self, name: &str, argument: &Value) -> EvalResult<Option<Value>> {
        match name {
            "Ref" => self.reference(argument),
            "Fn::GetAtt" => {
                let (id, attribute) = get_att_parts(argument).ok_or_else(|| {
                    EvalError::Invalid(
                        "Fn::GetAtt takes [LogicalId, Attribute] or \"LogicalId.Attribute\"".into(),
                    )
                })?;
                let attribute = self.text(&attribute, "the Fn::GetAtt attribute")?;
                self.resources.attribute(&id, &attribute).map(Some)
            }
            "Fn::Sub" => self.sub(argument).map(|s| Some(Value::String(s))),
            "Fn::Join" => {
                let [delimiter, items] = arguments::<2>(name, argument)?;
                let delimiter = self.text(delimiter, "the Fn::Join delimiter")?;
                let items = self.list(items, "the Fn::Join list")?;
                let texts = items
                    .iter()
                    .map(|item| {
                        item.scalar_text().map_or_else(
                            || {
                                invalid(format!(
                                    "Fn::Join items must be strings, not {}",
                                    item.kind()
                                ))
                            },
                            Ok,
                        )
                    })
                    .collect::<EvalResult<Vec<_>>>()?;
                Ok(Some(Value::String(texts.join(&delimiter))))
            }
            "Fn::Select" => {
                let [index, items] = arguments::<2>(name, argument)?;
                let index = self.text(index, "the Fn::Select index")?;
                let items = self.list(items, "the Fn::Select list")?;
                let position = index.parse::<usize>().map_err(|_| {
                    EvalError::Invalid(format!("Fn::Select index {index:?} is not a number"))
                })?;
                items.get(position).cloned().map(Some).ok_or_else(|| {
                    EvalError::Invalid(format!(
                        "Fn::Select index {position} is out of range for a list of {}",
                        items.len()
                    ))
                })
            }
            "Fn::Split" => {
                let [delimiter, source] = arguments::<2>(name, argument)?;
                let delimiter = self.text(delimiter, "the Fn::Split delimiter")?;
                if delimiter.is_empty() {
                    return invalid("the Fn::Split delimiter must not be empty");
                }
                let source = self.text(source, "the Fn::Split string")?;
                Ok(Some(Value::List(
                    source
                        .split(delimiter.as_str())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )))
            }
            "Fn::If" => {
                let [condition, then, otherwise] = arguments::<3>(name, argument)?;
                let condition = condition.as_str().ok_or_else(|| {
                    EvalError::Invalid("Fn::If takes a condition name first".into())
                })?;
                if self.condition(condition)? {
                    self.resolve(then)
                } else {
                    self.resolve(otherwise)
                }
            }
            "Fn::FindInMap" => {
                let list = match argument {
                    Value::List(items) if items.len() == 3 => items,
                    _ => {
                        return invalid(
                            "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]",
                        )
                    }
                };
                let map_name = self.text(&list[0], "the Fn::FindInMap map name")?;
                let top = self.text(&list[1], "the Fn::FindInMap top-level key")?;
                let second = self.text(&list[2], "the Fn::FindInMap second-level key")?;
                self.mappings
                    .get(&map_name)
                    .and_then(Value::as_map)
                    .and_then(|m| m.get(&top))
                    .and_then(Value::as_map)
                    .and_then(|m| m.get(&second))
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| {
                        EvalError::Invalid(format!(
                            "Fn::FindInMap: Mappings has no {map_name} / {top} / {second}"
                        ))
                    })
            }
            "Fn::Base64" => {
                let text = self.text(argument, "the Fn::Base64 argument")?;
                Ok(Some(Value::String(STANDARD.encode(text))))
            }
            "Fn::ImportValue" => {
                let export = self.text(argument, "the Fn::ImportValue name")?;
                match self.imports.get(&export) {
                    Some(v) => Ok(Some(Value::String(v.clone()))),
                    None => invalid(format!(
                        "Fn::ImportValue: no template applied before this one exports {export:?}"
                    )),
                }
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => {
                invalid(format!("{name} can only be used in Conditions"))
            }
            f if UNSUPPORTED.contains(&f) => invalid(format!("{f} is not supported by lyrebird")),
            f => invalid(format!("unknown function {f}")),
        }
    }

    fn reference(&self, argument: &Value) -> EvalResult<Option<Value>> {
        let Some(name) = argument.as_str() else {
            return invalid(format!("Ref takes a name, not {}", argument.kind()));
        };
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        match self.parameters.get(name) {
            Some(v) => Ok(Some(v.clone())),
            None => self.resources.reference(name).map(Some),
        }
    }

    fn condition(&self, name: &str) -> EvalResult<bool> {
        self.conditions
            .get(name)
            .copied()
            .ok_or_else(|| EvalError::Invalid(format!("unknown condition {name}")))
    }

    /// `Fn::Sub`: `${Name}`, `${Resource.Attribute}`, and `${!Literal}` for a literal `${Literal}`.
    fn sub(&self, argument: &Value) -> EvalResult<String> {
        let (template, variables) = match argument {
            Value::List(items) => match items.as_slice() {
                [template, Value::Map(vars)] => (template, Some(vars)),
                _ => return invalid("Fn::Sub takes a string, or [string, {variables}]"),
            },
            other => (other, None),
        };
        let Some(template) = template.as_str() else {
            return invalid("the Fn::Sub template must be a literal string");
        };
        let mut out = String::with_capacity(template.len());
        for piece in sub_pieces(template) {
            match piece {
                SubPiece::Text(text) => out.push_str(text),
                SubPiece::Literal(name) => {
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
                SubPiece::Variable(name) => {
                    let value = match variables.and_then(|v| v.get(name)) {
                        Some(v) => self.value(v, &format!("Fn::Sub variable {name}"))?,
                        None => match name.split_once('.') {
                            Some((id, attribute)) => self.resources.attribute(id, attribute)?,
                            None => self
                                .reference(&Value::String(name.to_string()))?
                                .unwrap_or(Value::String(String::new())),
                        },
                    };
                    let text = value.scalar_text().map_or_else(
                        || {
                            invalid(format!(
                                "Fn::Sub variable {name} is {}, not a string",
                                value.kind()
                            ))
                        },
                        Ok,
                    )?;
                    out.push_str(&text);
                }
            }
        }
        Ok(out)
    }
}

/// The `(LogicalId, Attribute)` of a `Fn::GetAtt` argument: `[Id, Attribute]` or `"Id.Attribute"`
/// (the attribute is what follows the first dot).
fn get_att_parts(argument: &Value) -> Option<(String, Value)> {
    match argument {
        Value::String(s) => {
            let (id, attribute) = s.split_once('.')?;
            Some((id.to_string(), Value::String(attribute.to_string())))
        }
        Value::List(items) => match items.as_slice() {
            [Value::String(id), attribute] => Some((id.clone(), attribute.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn arguments<'v, const N: usize>(name: &str, argument: &'v Value) -> EvalResult<[&'v Value; N]> {
    match argument {
        Value::List(items) if items.len() == N => {
            let refs: Vec<&Value> = items.iter().collect();
            Ok(refs
                .try_into()
                .unwrap_or_else(|_| unreachable!("length checked")))
        }
        _ => invalid(format!("{name} takes a list of {N} arguments")),
    }
}

enum SubPiece<'a> {
    Text(&'a str),
    Variable(&'a str),
    Literal(&'a str),
}

fn sub_pieces(template: &str) -> Vec<SubPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        if start > 0 {
            pieces.push(SubPiece::Text(&rest[..start]));
        }
        let inner = &rest[start + 2..start + 2 + len];
        pieces.push(match inner.strip_prefix('!') {
            Some(literal) => SubPiece::Literal(literal),
            None => SubPiece::Variable(inner.trim()),
        });
        rest = &rest[start + 3 + len..];
    }
    if !rest.is_empty() {
        pieces.push(SubPiece::Text(rest));
    }
    pieces
}

/// A name a value refers to: `Ref X`, `Fn::GetAtt X.A`, or `${X}` / `${X.A}` in `Fn::Sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub target: String,
    pub attribute: Option<String>,
}

/// Every name `value` refers to, for dependency order and up-front checks.
pub fn references(value: &Value, out: &mut Vec<Reference>) {
    match value {
        Value::Map(map) => {
            if let Some((name, argument)) = map.single() {
                match name {
                    "Ref" => {
                        if let Some(target) = argument.as_str() {
                            out.push(Reference {
                                target: target.to_string(),
                                attribute: None,
                            });
                        }
                        return;
                    }
                    "Fn::GetAtt" => {
                        if let Some((id, attribute)) = get_att_parts(argument) {
                            out.push(Reference {
                                target: id,
                                attribute: attribute.as_str().map(str::to_string),
                            });
                        }
                        if let Value::List(items) = argument {
                            items.iter().skip(1).for_each(|i| references(i, out));
                        }
                        return;
                    }
                    "Fn::Sub" => {
                        let (template, variables) = match argument {
                            Value::List(items) => {
                                (items.first(), items.get(1).and_then(Value::as_map))
                            }
                            other => (Some(other), None),
                        };
                        if let Some(vars) = variables {
                            vars.iter().for_each(|(_, v)| references(v, out));
                        }
                        for piece in template
                            .and_then(Value::as_str)
                            .map(sub_pieces)
                            .unwrap_or_default()
                        {
                            if let SubPiece::Variable(name) = piece {
                                if variables.is_some_and(|v| v.get(name).is_some()) {
                                    continue;
                                }
                                let (target, attribute) = match name.split_once('.') {
                                    Some((id, a)) => (id, Some(a.to_string())),
                                    None => (name, None),
                                };
                                out.push(Reference {
                                    target: target.to_string(),
                                    attribute,
                                });
                            }
                        }
                        return;
                    }
                    _ => {}
                }
            }
            map.iter().for_each(|(_, v)| references(v, out));
        }
        Value::List(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// Evaluates every condition of the `Conditions` section (they may refer to one another).
pub fn conditions(
    definitions: &Map,
    parameters: &BTreeMap<String, Value>,
    mappings: &Map,
) -> Result<BTreeMap<String, bool>, (String, String)> {
    let mut done = BTreeMap::new();
    for name in definitions.keys() {
        let mut visiting = Vec::new();
        condition_value(
            name,
            definitions,
            parameters,
            mappings,
            &mut done,
            &mut visiting,
        )
        .map_err(|e| (name.to_string(), e))?;
    }
    Ok(done)
}

fn condition_value(
    name: &str,
    definitions: &Map,
    parameters: &BTreeMap<String, Value>,
    mappings: &Map,
    done: &mut BTreeMap<String, bool>,
    visiting: &mut Vec<String>,
) -> Result<bool, String> {
    if let Some(v) = done.get(name) {
        return Ok(*v);
    }
    if visiting.iter().any(|v| v == name) {
        visiting.push(name.to_string());
        return Err(format!(
            "conditions refer to each other in a cycle: {}",
            visiting.join(" → ")
        ));
    }
    let definition = definitions
        .get(name)
        .ok_or_else(|| format!("unknown condition {name}"))?;
    visiting.push(name.to_string());
    let value = condition_expression(
        definition,
        definitions,
        parameters,
        mappings,
        done,
        visiting,
    )?;
    visiting.pop();
    done.insert(name.to_string(), value);
    Ok(value)
}

fn condition_expression(
    expression: &Value,
    definitions: &Map,
    parameters: &BTreeMap<String, Value>,
    mappings: &Map,
    done: &mut BTreeMap<String, bool>,
    visiting: &mut Vec<String>,
) -> Result<bool, String> {
    let Some((function, argument)) = expression.as_map().and_then(Map::single) else {
        return Err(format!(
            "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition, not {}",
            expression.kind()
        ));
    };
    let operand = |e: &Value, done: &mut BTreeMap<String, bool>, visiting: &mut Vec<String>| {
        condition_expression(e, definitions, parameters, mappings, done, visiting)
    };
    match function {
        "Condition" => {
            let name = argument
                .as_str()
                .ok_or_else(|| "Condition takes a condition name".to_string())?;
            condition_value(name, definitions, parameters, mappings, done, visiting)
        }
        "Fn::Equals" => {
            let [a, b] = arguments::<2>(function, argument).map_err(message)?;
            let no_conditions = BTreeMap::new();
            let imports = BTreeMap::new();
            let evaluator = Evaluator {
                parameters,
                conditions: &no_conditions,
                mappings,
                imports: &imports,
                resources: &NoResources,
            };
            let a = evaluator
                .value(a, "a Fn::Equals operand")
                .map_err(message)?;
            let b = evaluator
                .value(b, "a Fn::Equals operand")
                .map_err(message)?;
            Ok(match (a.scalar_text(), b.scalar_text()) {
                (Some(a), Some(b)) => a == b,
                _ => a == b,
            })
        }
        "Fn::Not" => {
            let [inner] = arguments::<1>(function, argument).map_err(message)?;
            Ok(!operand(inner, done, visiting)?)
        }
        "Fn::And" | "Fn::Or" => {
            let items = match argument {
                Value::List(items) if (2..=10).contains(&items.len()) => items,
                _ => return Err(format!("{function} takes a list of 2 to 10 conditions")),
            };
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(operand(item, done, visiting)?);
            }
            Ok(if function == "Fn::And" {
                values.iter().all(|v| *v)
            } else {
                values.iter().any(|v| *v)
            })
        }
        other => Err(format!("{other} cannot be used as a condition")),
    }
}

fn message(error: EvalError) -> String {
    match error {
        EvalError::Invalid(m) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::yaml;
    use super::*;

    /// One resource: queue `Q` (Ref = URL).
    struct Fixture;

    impl Resources for Fixture {
        fn reference(&self, id: &str) -> EvalResult<Value> {
            match id {
                "Q" => Ok(Value::String("http://localhost/000000000000/q".into())),
                _ => invalid(format!("unknown reference {id}")),
            }
        }

        fn attribute(&self, id: &str, attribute: &str) -> EvalResult<Value> {
            match (id, attribute) {
                ("Q", "Arn") => Ok(Value::String("arn:aws:sqs:us-east-1:000000000000:q".into())),
                ("Q", "QueueName") => Ok(Value::String("q".into())),
                _ => self
                    .reference(id)
                    .and_then(|_| invalid(format!("no attribute {attribute}"))),
            }
        }
    }

    fn parameters() -> BTreeMap<String, Value> {
        let mut p = BTreeMap::new();
        p.insert("Env".into(), Value::String("dev".into()));
        p.insert("AWS::Region".into(), Value::String("us-east-1".into()));
        p.insert("AWS::StackName".into(), Value::String("orders".into()));
        p.insert(
            "Zones".into(),
            Value::List(vec![Value::String("a".into()), Value::String("b".into())]),
        );
        p
    }

    /// Resolves the `v:` entry of a one-line YAML document.
    fn eval(source: &str) -> EvalResult<Option<Value>> {
        let doc = yaml(&format!(
            "Mappings:\n  Sizes:\n    dev: {{Timeout: 30}}\nv: {source}\n"
        ))
        .unwrap();
        let map = doc.as_map().unwrap();
        let parameters = parameters();
        let mut conditions = BTreeMap::new();
        conditions.insert("IsProd".to_string(), false);
        let mut imports = BTreeMap::new();
        imports.insert(
            "shared-topic".to_string(),
            "arn:aws:sns:us-east-1:0:t".to_string(),
        );
        let evaluator = Evaluator {
            parameters: &parameters,
            conditions: &conditions,
            mappings: map.get("Mappings").unwrap().as_map().unwrap(),
            imports: &imports,
            resources: &Fixture,
        };
        evaluator.resolve(map.get("v").unwrap())
    }

    fn text(source: &str) -> String {
        match eval(source) {
            Ok(Some(Value::String(s))) => s,
            other => panic!("{source}: {other:?}"),
        }
    }

    #[test]
    fn ref_in_both_forms() {
        assert_eq!(text("!Ref Env"), "dev");
        assert_eq!(text("{Ref: Env}"), "dev");
        assert_eq!(text("!Ref AWS::Region"), "us-east-1");
        assert_eq!(text("!Ref Q"), "http://localhost/000000000000/q");
        assert_eq!(eval("!Ref AWS::NoValue"), Ok(None));
    }

    #[test]
    fn get_att_in_every_form() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        assert_eq!(text("!GetAtt Q.Arn"), arn);
        assert_eq!(text("!GetAtt [Q, Arn]"), arn);
        assert_eq!(text("{'Fn::GetAtt': [Q, Arn]}"), arn);
        assert_eq!(text("{'Fn::GetAtt': Q.QueueName}"), "q");
    }

    #[test]
    fn sub_with_parameters_attributes_variables_and_literals() {
        assert_eq!(text("!Sub 'orders-${Env}'"), "orders-dev");
        assert_eq!(
            text("!Sub '${AWS::StackName}-${AWS::Region}'"),
            "orders-us-east-1"
        );
        assert_eq!(
            text("!Sub 'arn=${Q.Arn}'"),
            "arn=arn:aws:sqs:us-east-1:000000000000:q"
        );
        assert_eq!(text("!Sub ['${Name}-x', {Name: !Ref Env}]"), "dev-x");
        assert_eq!(text("{'Fn::Sub': ['${A}${Env}', {A: a}]}"), "adev");
        assert_eq!(
            text("!Sub 'keep ${!Literal} and $ alone'"),
            "keep ${Literal} and $ alone"
        );
    }

    #[test]
    fn join_select_split() {
        assert_eq!(text("!Join ['-', [a, !Ref Env, 3]]"), "a-dev-3");
        assert_eq!(text("{'Fn::Join': ['', [x, y]]}"), "xy");
        assert_eq!(text("!Join [',', !Ref Zones]"), "a,b");
        assert_eq!(text("!Select [1, !Ref Zones]"), "b");
        assert_eq!(text("!Select ['0', [x, y]]"), "x");
        assert_eq!(text("!Select [1, !Split [',', 'p,q,r']]"), "q");
        assert_eq!(
            eval("!Split ['|', 'a|b']"),
            Ok(Some(Value::List(vec![
                Value::String("a".into()),
                Value::String("b".into())
            ])))
        );
        assert!(
            matches!(eval("!Select [5, [x]]"), Err(EvalError::Invalid(m)) if m.contains("out of range"))
        );
    }

    #[test]
    fn if_picks_a_branch_and_may_remove_a_property() {
        assert_eq!(text("!If [IsProd, big, small]"), "small");
        assert_eq!(text("{'Fn::If': [IsProd, big, small]}"), "small");
        assert_eq!(eval("!If [IsProd, x, !Ref AWS::NoValue]"), Ok(None));
        assert_eq!(
            eval("[a, !If [IsProd, b, !Ref AWS::NoValue]]"),
            Ok(Some(Value::List(vec![Value::String("a".into())])))
        );
        assert!(
            matches!(eval("!If [Nope, a, b]"), Err(EvalError::Invalid(m)) if m.contains("unknown condition Nope"))
        );
    }

    #[test]
    fn find_in_map_base64_and_import() {
        assert_eq!(
            eval("!FindInMap [Sizes, !Ref Env, Timeout]"),
            Ok(Some(Value::Number("30".into())))
        );
        assert_eq!(text("!Base64 hi"), "aGk=");
        assert_eq!(
            text("!ImportValue shared-topic"),
            "arn:aws:sns:us-east-1:0:t"
        );
        assert!(eval("!ImportValue missing").is_err());
    }

    #[test]
    fn unsupported_and_misplaced_functions_are_rejected_by_name() {
        for (source, expected) in [
            ("!GetAZs ''", "Fn::GetAZs is not supported by lyrebird"),
            ("!Cidr [a, 1, 2]", "Fn::Cidr is not supported by lyrebird"),
            (
                "!Equals [a, a]",
                "Fn::Equals can only be used in Conditions",
            ),
            ("{'Fn::Bogus': 1}", "unknown function Fn::Bogus"),
        ] {
            assert_eq!(
                eval(source),
                Err(EvalError::Invalid(expected.into())),
                "{source}"
            );
        }
    }

    #[test]
    fn references_are_collected_from_every_form() {
        let doc = yaml(
            "a: !Ref Env\nb: !GetAtt Q.Arn\nc: !Sub '${X}-${Y.Arn}-${!Z}-${V}'\nd: !Sub ['${V}', {V: !Ref W}]\ne: [!GetAtt [R, Name]]\n",
        )
        .unwrap();
        let mut found = Vec::new();
        references(&doc, &mut found);
        let names: Vec<(String, Option<String>)> =
            found.into_iter().map(|r| (r.target, r.attribute)).collect();
        let expect = |t: &str, a: Option<&str>| (t.to_string(), a.map(str::to_string));
        assert_eq!(
            names,
            vec![
                expect("Env", None),
                expect("Q", Some("Arn")),
                expect("X", None),
                expect("Y", Some("Arn")),
                expect("V", None),
                expect("W", None),
                expect("R", Some("Name")),
            ]
        );
    }

    #[test]
    fn conditions_combine_and_refer_to_each_other() {
        let doc = yaml(
            "IsDev: !Equals [!Ref Env, dev]\n\
             IsProd: {'Fn::Equals': [prod, !Ref Env]}\n\
             NotProd: !Not [!Condition IsProd]\n\
             Both: !And [!Condition IsDev, !Condition NotProd]\n\
             Either: !Or [!Condition IsProd, {Condition: IsDev}]\n\
             UsWest: !Equals [!Ref AWS::Region, us-west-2]\n",
        )
        .unwrap();
        let values = conditions(doc.as_map().unwrap(), &parameters(), &Map::default()).unwrap();
        let expected: BTreeMap<String, bool> = [
            ("IsDev", true),
            ("IsProd", false),
            ("NotProd", true),
            ("Both", true),
            ("Either", true),
            ("UsWest", false),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn condition_errors() {
        let cycle = yaml("A: !Not [!Condition B]\nB: !Not [!Condition A]\n").unwrap();
        let (name, err) =
            conditions(cycle.as_map().unwrap(), &parameters(), &Map::default()).unwrap_err();
        assert_eq!(name, "A");
        assert!(err.contains("cycle: A → B → A"), "{err}");
        let resource = yaml("A: !Equals [!Ref Q, x]\n").unwrap();
        let (_, err) =
            conditions(resource.as_map().unwrap(), &parameters(), &Map::default()).unwrap_err();
        assert!(err.contains("only refer to parameters"), "{err}");
    }
}
