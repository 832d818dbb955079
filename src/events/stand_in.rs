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

pub mod schedule {
    #[derive(Debug, Clone)]
    pub struct Schedule {
        period_ms: u64,
    }

    impl Schedule {
        pub fn parse(expr: &str) -> Result<Schedule, String> {
            let bad = || "Parameter ScheduleExpression is not valid.".to_string();
            let inner = expr
                .strip_prefix("rate(")
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            let (n, unit) = inner.split_once(' ').ok_or_else(bad)?;
            let n: u64 = n.parse().map_err(|_| bad())?;
            let unit_ms = match unit {
                "minute" | "minutes" => 60_000,
                "hour" | "hours" => 3_600_000,
                "day" | "days" => 86_400_000,
                _ => return Err(bad()),
            };
            Ok(Schedule {
                period_ms: n * unit_ms,
            })
        }

        pub fn next_after(&self, epoch_ms: u64) -> Option<u64> {
            Some(epoch_ms + self.period_ms)
        }
    }
}
