//! A component: one trigger, its config schema and its handlers.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::config::ConfigSpec;
use crate::names::{ComponentName, ConfigKey};
use crate::quantity::Duration;
use crate::step::{OnError, Step, StepKind};

/// The methods an `http` trigger's handler may be keyed by.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub use crate::catalog::TRIGGER_TYPES;

/// Settings an `http` trigger understands under `with`.
pub const HTTP_SETTINGS: &[&str] = &[
    "verify",
    "delivery_id",
    "redact_headers",
    "response",
    "response_timeout",
    "rate_limit",
    "rate_limit_per_ip",
    "security",
];

/// A component file: one trigger, its config schema and its handlers.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub component: ComponentName,
    #[serde(default)]
    pub description: Option<String>,
    pub trigger: TriggerSpec,
    #[serde(default)]
    pub config: IndexMap<ConfigKey, ConfigSpec>,
    #[serde(default)]
    pub handlers: IndexMap<String, IndexMap<String, HandlerSpec>>,
    /// How long this component's events and runs are kept once finished (the server's
    /// `--retain-succeeded` / `--retain-failed` otherwise).
    #[serde(default)]
    pub retention: Option<RetentionSpec>,
    /// The API's documentation (http triggers): Markdown, the name of a Markdown file beside the
    /// component (`orders.md`, `docs/orders.md`), or the URL of a page that has it.
    #[serde(default)]
    pub docs: Option<String>,
}

/// Ages after which finished runs (and their events) are pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// Succeeded runs, and events no handler took.
    #[serde(default)]
    pub succeeded: Option<Duration>,
    /// Failed and dead runs.
    #[serde(default)]
    pub failed: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    #[serde(rename = "type")]
    pub kind: String,
    /// Type-specific settings; strings may be templates over `config`.
    #[serde(default = "empty_object")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub with: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// The logic run for one channel/event pair.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    pub steps: Vec<Step>,
    /// Whole-run retries: the handler runs again from its first step.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// At most this many runs of this handler at once; the rest wait in the queue.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Requests this resource and method take per window (`10/s`, `600/m`), across every
    /// caller; over it the ingress answers 429 and stores nothing (`http` triggers).
    #[serde(default)]
    pub rate_limit: Option<crate::Rate>,
    /// The JSON Schema of the request body, for the API's OpenAPI document (`http` triggers).
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
}

/// Exponential backoff with full jitter: attempt n waits a random time in
/// `[0, min(max, initial * 2^(n-1))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    #[serde(default = "RetrySpec::default_attempts")]
    #[schemars(range(min = 1))]
    pub attempts: u32,
    #[serde(default = "RetrySpec::default_initial")]
    pub initial: Duration,
    #[serde(default = "RetrySpec::default_max")]
    pub max: Duration,
}

impl RetrySpec {
    fn default_attempts() -> u32 {
        5
    }
    fn default_initial() -> Duration {
        Duration::from_secs(1)
    }
    fn default_max() -> Duration {
        Duration::from_secs(300)
    }
}

impl Default for RetrySpec {
    fn default() -> Self {
        Self { attempts: Self::default_attempts(), initial: Self::default_initial(), max: Self::default_max() }
    }
}

/// A problem found after parsing, with the key it concerns so the loader can place it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A key or value as written in the file, used to find the line.
    pub near: String,
    pub message: String,
}

impl Component {
    /// `docs:` when it names a Markdown file (one line ending in `.md`, not a URL).
    pub fn docs_file(&self) -> Option<&str> {
        self.docs.as_deref().map(str::trim).filter(|d| {
            d.ends_with(".md") && !d.contains('\n') && !d.contains("://") && !d.starts_with('/') && !d.contains("..")
        })
    }

    /// Checks what the parser cannot: trigger type, handler keys, step ids, settings.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let kind = self.trigger.kind.as_str();
        if !TRIGGER_TYPES.contains(&kind) {
            problems.push(Problem {
                near: kind.to_string(),
                message: format!(
                    "trigger type `{kind}` is not available in this build; available: {}",
                    TRIGGER_TYPES.join(", ")
                ),
            });
        }
        if !self.trigger.with.is_object() {
            problems.push(Problem {
                near: "with".into(),
                message: "`trigger.with` is a mapping of the trigger's settings".into(),
            });
        }
        for (channel, events) in &self.handlers {
            if kind == "http" {
                if let Err(message) = check_resource_path(channel) {
                    problems.push(Problem { near: channel.clone(), message });
                }
                for method in events.keys() {
                    if !HTTP_METHODS.contains(&method.as_str()) {
                        problems.push(Problem {
                            near: method.clone(),
                            message: format!(
                                "handler `{channel}` `{method}`: an http trigger's events are HTTP methods ({})",
                                HTTP_METHODS.join(", ")
                            ),
                        });
                    }
                }
            }
            for (event, handler) in events {
                if let Err(message) = crate::catalog::check_handler(kind, channel, event) {
                    problems.push(Problem {
                        near: event.clone(),
                        message: format!("handler `{channel}` `{event}`: {message}"),
                    });
                }
                if handler.rate_limit.is_some() && kind != "http" {
                    problems.push(Problem {
                        near: "rate_limit".into(),
                        message: format!(
                            "handler `{channel}` `{event}`: `rate_limit` bounds requests to an http trigger's resource; a `{kind}` trigger takes none"
                        ),
                    });
                }
                if handler.concurrency == Some(0) {
                    problems.push(Problem {
                        near: "concurrency".into(),
                        message: format!("handler `{channel}` `{event}`: `concurrency` is at least 1"),
                    });
                }
                if let Some(retry) = handler.retry
                    && retry.attempts == 0
                {
                    problems.push(Problem {
                        near: "attempts".into(),
                        message: format!("handler `{channel}` `{event}`: `retry.attempts` is at least 1"),
                    });
                }
                let mut seen = HashSet::new();
                walk_steps(&handler.steps, &mut |step| {
                    if let Some(id) = &step.id
                        && !seen.insert(id.clone())
                    {
                        problems.push(Problem {
                            near: format!("id: {id}"),
                            message: format!(
                                "handler `{channel}` `{event}`: step id `{id}` is used twice; ids are unique in a handler"
                            ),
                        });
                    }
                });
            }
        }
        problems
    }

    /// The `script_file` paths the component names, in file order.
    pub fn script_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        for events in self.handlers.values() {
            for handler in events.values() {
                walk_steps(&handler.steps, &mut |step| {
                    if let StepKind::Script { file: Some(f), .. } = &step.kind {
                        files.push(f.clone());
                    }
                });
            }
        }
        files
    }

    /// The connectors the component's `call` steps name (`petstore` for `petstore.listPets`),
    /// each once, in file order.
    pub fn called_connectors(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for events in self.handlers.values() {
            for handler in events.values() {
                walk_steps(&handler.steps, &mut |step| {
                    if let StepKind::Call { operation, .. } = &step.kind
                        && let Some((prefix, _)) = operation.split_once('.')
                        && !names.iter().any(|n| n == prefix)
                    {
                        names.push(prefix.to_string());
                    }
                });
            }
        }
        names
    }

    /// Puts each `script_file`'s text (from `files`, keyed by the path as written) into its step.
    pub fn attach_scripts(&mut self, files: &std::collections::BTreeMap<String, String>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for events in self.handlers.values_mut() {
            for handler in events.values_mut() {
                walk_steps_mut(&mut handler.steps, &mut |step| {
                    if let StepKind::Script { source, file: Some(f) } = &mut step.kind {
                        match files.get(f.as_str()) {
                            Some(text) => *source = text.clone(),
                            None => problems.push(Problem {
                                near: f.clone(),
                                message: format!(
                                    "script_file `{f}` cannot be read; the path is relative to the component file"
                                ),
                            }),
                        }
                    }
                });
            }
        }
        problems
    }

    /// Every handler as `(channel, event, spec)`, in file order.
    pub fn handler_list(&self) -> impl Iterator<Item = (&str, &str, &HandlerSpec)> {
        self.handlers.iter().flat_map(|(c, events)| events.iter().map(move |(e, h)| (c.as_str(), e.as_str(), h)))
    }
}

fn walk_steps_mut(steps: &mut [Step], f: &mut impl FnMut(&mut Step)) {
    for step in steps {
        f(step);
        match &mut step.kind {
            StepKind::If { then, otherwise, .. } => {
                walk_steps_mut(then, f);
                walk_steps_mut(otherwise, f);
            }
            StepKind::ForEach { steps, .. } => walk_steps_mut(steps, f),
            StepKind::Switch { cases, default, .. } => {
                for steps in cases.values_mut() {
                    walk_steps_mut(steps, f);
                }
                walk_steps_mut(default, f);
            }
            _ => {}
        }
        if let OnError::Steps(steps) = &mut step.on_error {
            walk_steps_mut(steps, f);
        }
    }
}

fn walk_steps<'a>(steps: &'a [Step], f: &mut impl FnMut(&'a Step)) {
    for step in steps {
        f(step);
        match &step.kind {
            StepKind::If { then, otherwise, .. } => {
                walk_steps(then, f);
                walk_steps(otherwise, f);
            }
            StepKind::ForEach { steps, .. } => walk_steps(steps, f),
            StepKind::Switch { cases, default, .. } => {
                for steps in cases.values() {
                    walk_steps(steps, f);
                }
                walk_steps(default, f);
            }
            _ => {}
        }
        if let OnError::Steps(steps) = &step.on_error {
            walk_steps(steps, f);
        }
    }
}

/// `/`, `/orders`, `/orders/{id}`: literal segments or `{name}` parameters.
fn check_resource_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("resource path `{path}` must start with `/` (e.g. `/` or `/orders/{{id}}`)"));
    }
    let mut params = HashSet::new();
    for segment in path[1..].split('/') {
        if let Some(inner) = segment.strip_prefix('{') {
            let name = inner.strip_suffix('}').unwrap_or("");
            if !crate::step::is_identifier(name) {
                return Err(format!(
                    "resource path `{path}`: `{segment}` is not a parameter; write `{{name}}` with letters, digits and `_`"
                ));
            }
            if !params.insert(name) {
                return Err(format!("resource path `{path}`: parameter `{name}` appears twice"));
            }
        } else if segment.contains(['{', '}']) {
            return Err(format!("resource path `{path}`: a parameter takes a whole segment, as in `/orders/{{id}}`"));
        } else if segment.is_empty() && path != "/" {
            return Err(format!("resource path `{path}` has an empty segment"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(yaml: &str) -> Component {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn resource_paths() {
        assert!(check_resource_path("/").is_ok());
        assert!(check_resource_path("/orders/{id}/items").is_ok());
        assert!(check_resource_path("orders").is_err());
        assert!(check_resource_path("/orders/{id}/{id}").is_err());
        assert!(check_resource_path("/orders/x{id}").is_err());
        assert!(check_resource_path("/orders//x").is_err());
    }

    #[test]
    fn checks_find_every_problem() {
        let c = component(
            r#"
component: orders
trigger: { type: http }
handlers:
  "/":
    FETCH: { steps: [ { id: a, log: x }, { id: a, log: y } ] }
  orders:
    POST: { steps: [], concurrency: 0 }
"#,
        );
        let problems: Vec<_> = c.check().into_iter().map(|p| p.message).collect();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("HTTP methods"));
        assert!(problems[1].contains("used twice"));
        assert!(problems[2].contains("must start with `/`"));
        assert!(problems[3].contains("at least 1"));
    }

    #[test]
    fn unknown_trigger_types_are_named() {
        let c = component("component: x\ntrigger: { type: carrier-pigeon }\n");
        assert!(c.check()[0].message.contains("`carrier-pigeon` is not available"));
    }

    #[test]
    fn retry_defaults() {
        let c = component(
            "component: x\ntrigger: { type: http }\nhandlers: { /: { POST: { steps: [], retry: { attempts: 2 } } } }\n",
        );
        let retry = c.handlers["/"]["POST"].retry.unwrap();
        assert_eq!(retry, RetrySpec { attempts: 2, ..RetrySpec::default() });
    }
}
