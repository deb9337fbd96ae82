//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line per measurement,
//! written with the logs (stdout in Lambda), which CloudWatch Logs turns into metrics: no
//! API call, no latency, no permission beyond the logs'.
//!
//! A line: `{"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace", "Dimensions":
//! [[names]], "Metrics": [{"Name", "Unit"}]}]}, <dimension>: "<value>", <metric>: <number
//! or [numbers]>}`. Dimensions stay few and small (the function, an outcome, an endpoint,
//! a reason: never a user, account or post id); the namespace is `METRICS_NAMESPACE`
//! (template parameter `MetricsNamespace`, default `TikTokConnections`).

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "TikTokConnections";
/// EMF's limits per line.
const MAX_METRICS: usize = 100;
const MAX_DIMENSIONS: usize = 30;
/// EMF's limit of values per metric in one line.
const MAX_VALUES: usize = 100;

/// CloudWatch's units (those used here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Where lines go: the log writer ([`crate::runtime::init_logging_with`] sets it), else
/// stdout.
type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();
static FUNCTION: OnceLock<String> = OnceLock::new();
static NAMESPACE: OnceLock<String> = OnceLock::new();

/// Sends the lines to `sink` (once per process; later calls change nothing).
pub fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

/// The `function` dimension: the function's binary name, as its log group ends
/// (`/aws/lambda/<stack>/<function>` in template.yaml), else `local`.
pub fn function() -> &'static str {
    FUNCTION.get_or_init(|| {
        std::env::var("AWS_LAMBDA_LOG_GROUP_NAME")
            .ok()
            .and_then(|g| g.rsplit('/').next().map(str::to_owned))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "local".to_owned())
    })
}

fn namespace() -> &'static str {
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty() && n.len() <= 255)
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

/// One EMF line under construction: the function dimension is always there.
pub struct Line {
    dimensions: Vec<(&'static str, String)>,
    sets: Vec<Vec<&'static str>>,
    metrics: Vec<(&'static str, Unit, Vec<f64>)>,
}

impl Line {
    /// A line whose metrics are by function and the given dimensions.
    pub fn new(dimensions: &[(&'static str, &str)]) -> Line {
        let mut line = Line {
            dimensions: vec![("function", function().to_owned())],
            sets: Vec::new(),
            metrics: Vec::new(),
        };
        let mut set = vec!["function"];
        for (name, value) in dimensions {
            line.dimensions.push((name, dimension_value(value)));
            set.push(name);
        }
        line.sets.push(set);
        line
    }

    /// The metrics by these sets of the line's dimensions instead (`function` is in each).
    pub fn by(mut self, sets: &[&[&'static str]]) -> Line {
        self.sets = sets
            .iter()
            .map(|names| {
                let mut set = vec!["function"];
                set.extend(names.iter().filter(|n| **n != "function"));
                set
            })
            .collect();
        self
    }

    pub fn count(self, name: &'static str, value: u64) -> Line {
        self.value(name, Unit::Count, value as f64)
    }

    pub fn value(mut self, name: &'static str, unit: Unit, value: f64) -> Line {
        self.metrics.push((name, unit, vec![value]));
        self
    }

    /// Several values of one metric (CloudWatch's percentiles come from them).
    pub fn values(mut self, name: &'static str, unit: Unit, values: &[f64]) -> Line {
        if !values.is_empty() {
            self.metrics.push((name, unit, values.to_vec()));
        }
        self
    }

    /// The line as CloudWatch reads it (values past EMF's limits left out).
    pub fn to_json(&self, timestamp_ms: u64) -> Value {
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .take(MAX_METRICS)
            .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let sets: Vec<Vec<&str>> = self
            .sets
            .iter()
            .map(|s| s.iter().take(MAX_DIMENSIONS).copied().collect())
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace(),
                    "Dimensions": sets,
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            line.insert((*name).into(), Value::String(value.clone()));
        }
        for (name, _, values) in self.metrics.iter().take(MAX_METRICS) {
            let numbers: Vec<Value> = values
                .iter()
                .take(MAX_VALUES)
                .filter(|v| v.is_finite())
                .map(|v| serde_json::json!(v))
                .collect();
            let value = match numbers.len() {
                1 => numbers.into_iter().next().unwrap_or(Value::Null),
                _ => Value::Array(numbers),
            };
            line.insert((*name).into(), value);
        }
        Value::Object(line)
    }

    /// Writes the line.
    pub fn emit(self) {
        if self.metrics.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let text = self.to_json(now).to_string();
        match SINK.get() {
            Some(sink) => sink(&text),
            None => println!("{text}"),
        }
    }
}

/// A dimension's value: short, printable, never empty (CloudWatch's limit is 1024).
fn dimension_value(value: &str) -> String {
    let cleaned: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
    if cleaned.is_empty() {
        "none".to_owned()
    } else {
        cleaned
    }
}

/// A status code's class: `2xx`, `4xx`, `5xx`...
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One API request's answer: requests by status class and by contract code, latency.
pub fn request(status: u16, code: &str, elapsed: std::time::Duration) {
    Line::new(&[("status_class", status_class(status)), ("code", code)])
        .by(&[&[], &["status_class"], &["code"]])
        .count("Requests", 1)
        .count("Errors5xx", u64::from(status >= 500))
        .value(
            "Latency",
            Unit::Milliseconds,
            elapsed.as_secs_f64() * 1000.0,
        )
        .emit();
}

/// Checks a line against the EMF specification: the `_aws` block (a millisecond
/// `Timestamp`, one or more `CloudWatchMetrics` directives with a `Namespace`,
/// `Dimensions` as sets of at most 30 names and `Metrics` of at most 100 with valid
/// units), each dimension a string member, each metric a number or up to 100 numbers.
pub fn validate(line: &Value) -> Result<(), String> {
    let aws = line.get("_aws").ok_or("no _aws block")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp is not milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a list of directives")?;
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if namespace.is_empty() || namespace.len() > 255 {
            return Err("a directive's Namespace is not 1-255 characters".into());
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not a list")?;
            if names.len() > MAX_DIMENSIONS {
                return Err("a dimension set has more than 30 names".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !line.get(name).is_some_and(Value::is_string) {
                    return Err(format!("dimension {name} is not a string member"));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics")?;
        if metrics.is_empty() || metrics.len() > MAX_METRICS {
            return Err("a directive has 0 or more than 100 metrics".into());
        }
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric has no Name")?;
            let unit = metric.get("Unit").and_then(Value::as_str).unwrap_or("None");
            if !VALID_UNITS.contains(&unit) {
                return Err(format!("metric {name} has unit {unit}"));
            }
            let values = match line.get(name) {
                Some(Value::Number(_)) => 1,
                Some(Value::Array(values)) if values.iter().all(Value::is_number) => values.len(),
                _ => return Err(format!("metric {name} has no numeric value")),
            };
            if values == 0 || values > MAX_VALUES {
                return Err(format!("metric {name} has {values} values"));
            }
        }
    }
    Ok(())
}

/// CloudWatch's units.
const VALID_UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

#[cfg(test)]
mod tests;
