//! TEMPORARY stand-ins for the pattern, transform and schedule modules that the events-pattern
//! branch provides; removed when that branch is merged. Exact values only.

pub mod transform {
    use std::collections::BTreeMap;

    use serde_json::Value;

    pub struct RuleContext<'a> {
        pub rule_arn: &'a str,
        pub rule_name: &'a str,
        pub ingestion_time: &'a str,
    }

    #[derive(Debug, Clone)]
    pub struct InputTransformer {
        paths: BTreeMap<String, String>,
        template: String,
    }

    impl InputTransformer {
        pub fn new(paths: &BTreeMap<String, String>, template: &str) -> Result<Self, String> {
            Ok(InputTransformer {
                paths: paths.clone(),
                template: template.to_string(),
            })
        }

        pub fn apply(&self, event: &Value, _ctx: &RuleContext) -> String {
            let mut out = self.template.clone();
            for (name, path) in &self.paths {
                let v = input_path(path, event).unwrap_or(Value::Null);
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out = out.replace(&format!("<{name}>"), &text);
            }
            out
        }
    }

    pub fn input_path(path: &str, event: &Value) -> Option<Value> {
        let mut v = event;
        for part in path
            .trim_start_matches('$')
            .split('.')
            .filter(|p| !p.is_empty())
        {
            v = v.get(part)?;
        }
        Some(v.clone())
    }
}
