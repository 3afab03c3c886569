//! Steps: the logic a handler runs for each event.
//!
//! A step is a YAML mapping with exactly one action key (`log`, `set`, `map`, `if`, `for_each`,
//! `call`, `fail`) and the options every step may carry (`id`, `name`, `timeout`, `retry`,
//! `on_error`). Values are kept as JSON so the engine can compile their templates.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::component::RetrySpec;
use crate::quantity::Duration;

/// One step of a handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawStep")]
pub struct Step {
    pub id: Option<String>,
    pub name: Option<String>,
    pub timeout: Option<Duration>,
    pub retry: Option<RetrySpec>,
    pub on_error: OnError,
    pub kind: StepKind,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Log(LogSpec),
    /// `set: { name: value }` assigns `vars.name`.
    Set(IndexMap<String, serde_json::Value>),
    /// `map: <value>` builds a value (usually an object) from templates.
    Map(serde_json::Value),
    If {
        condition: String,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    /// `switch: <expr>` runs the steps of the case whose key equals the value, else `default`.
    Switch {
        value: String,
        cases: IndexMap<String, Vec<Step>>,
        default: Vec<Step>,
    },
    /// `delay: 2s` (or a template giving a duration) waits, at most [`MAX_DELAY`].
    Delay(serde_json::Value),
    /// `respond: { status, headers, body }` answers a caller waiting on an `http` trigger with
    /// `response: after_run`; the run goes on.
    Respond(serde_json::Value),
    /// JavaScript: a module whose default export takes `ctx` and returns a value, written inline
    /// (`script: |`) or in a file next to the component (`script_file: scripts/x.js`, whose text
    /// is attached when the project is loaded).
    Script {
        source: String,
        file: Option<String>,
    },
    ForEach {
        items: serde_json::Value,
        as_name: String,
        steps: Vec<Step>,
        concurrency: Option<u32>,
    },
    Call {
        operation: String,
        with: serde_json::Value,
        account: Option<serde_json::Value>,
    },
    Fail(serde_json::Value),
}

impl StepKind {
    /// The action key, as written in YAML and recorded in run steps.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Log(_) => "log",
            StepKind::Set(_) => "set",
            StepKind::Map(_) => "map",
            StepKind::If { .. } => "if",
            StepKind::Switch { .. } => "switch",
            StepKind::Delay(_) => "delay",
            StepKind::Respond(_) => "respond",
            StepKind::Script { .. } => "script",
            StepKind::ForEach { .. } => "for_each",
            StepKind::Call { .. } => "call",
            StepKind::Fail(_) => "fail",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogSpec {
    pub message: serde_json::Value,
    pub level: LogLevel,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// What happens when a step fails after its own retries.
#[derive(Debug, Clone, Default)]
pub enum OnError {
    /// The run fails (the default).
    #[default]
    Fail,
    /// The failure is recorded and the run goes on with the next step.
    Continue,
    /// These steps run with the failure available as `error`; the run goes on afterwards.
    Steps(Vec<Step>),
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum RawOnError {
    #[schemars(schema_with = "on_error_word")]
    Word(String),
    Steps(Vec<Step>),
}

/// One step: exactly one action key (`log`, `set`, `map`, `if`, `switch`, `for_each`, `call`,
/// `delay`, `fail`) plus the options every step may carry.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Step")]
struct RawStep {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timeout: Option<Duration>,
    #[serde(default)]
    retry: Option<RetrySpec>,
    #[serde(default)]
    on_error: Option<RawOnError>,
    #[serde(default)]
    log: Option<serde_json::Value>,
    #[serde(default)]
    level: Option<LogLevel>,
    #[serde(default)]
    set: Option<IndexMap<String, serde_json::Value>>,
    #[serde(default)]
    map: Option<serde_json::Value>,
    #[serde(default, rename = "if")]
    condition: Option<String>,
    #[serde(default)]
    then: Option<Vec<Step>>,
    #[serde(default, rename = "else")]
    otherwise: Option<Vec<Step>>,
    #[serde(default)]
    switch: Option<String>,
    #[serde(default)]
    cases: Option<IndexMap<String, Vec<Step>>>,
    #[serde(default)]
    default: Option<Vec<Step>>,
    #[serde(default)]
    delay: Option<serde_json::Value>,
    #[serde(default)]
    respond: Option<serde_json::Value>,
    /// JavaScript: `export default (ctx) => …` over a frozen ctx (event, meta, config, vars, steps).
    #[serde(default)]
    script: Option<String>,
    /// A JavaScript file, relative to the component file (e.g. `scripts/notify.js`).
    #[serde(default)]
    script_file: Option<String>,
    #[serde(default)]
    for_each: Option<serde_json::Value>,
    #[serde(default, rename = "as")]
    as_name: Option<String>,
    #[serde(default, rename = "do")]
    body: Option<Vec<Step>>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    call: Option<String>,
    #[serde(default)]
    with: Option<serde_json::Value>,
    #[serde(default)]
    account: Option<serde_json::Value>,
    #[serde(default)]
    fail: Option<serde_json::Value>,
}

fn on_error_word(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": ["fail", "continue"] })
}

impl schemars::JsonSchema for Step {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawStep::json_schema(generator)
    }
}

/// The action keys of a step: each step has exactly one.
pub const STEP_ACTIONS: &[&str] =
    &["log", "set", "map", "if", "switch", "for_each", "call", "script", "script_file", "delay", "respond", "fail"];

/// The options every step may carry.
pub const STEP_OPTIONS: &[&str] = &["id", "name", "timeout", "retry", "on_error"];

/// Keys that belong to one action: `(key, action)`.
pub const ACTION_KEYS: &[(&str, &str)] = &[
    ("level", "log"),
    ("then", "if"),
    ("else", "if"),
    ("cases", "switch"),
    ("default", "switch"),
    ("as", "for_each"),
    ("do", "for_each"),
    ("concurrency", "for_each"),
    ("with", "call"),
    ("account", "call"),
];

/// "log, set, … respond or fail", for messages.
fn actions_text() -> String {
    let (last, rest) = STEP_ACTIONS.split_last().unwrap_or((&"", &[]));
    format!("{} or {last}", rest.join(", "))
}

/// The longest `delay` a step may take: a run holds a worker while it waits.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// `[A-Za-z_][A-Za-z0-9_]*`: ids and loop variables are names in expressions.
pub fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(raw: RawStep) -> Result<Self, String> {
        let mut actions = Vec::new();
        for (present, key) in [
            (raw.log.is_some(), "log"),
            (raw.set.is_some(), "set"),
            (raw.map.is_some(), "map"),
            (raw.condition.is_some(), "if"),
            (raw.switch.is_some(), "switch"),
            (raw.delay.is_some(), "delay"),
            (raw.respond.is_some(), "respond"),
            (raw.script.is_some(), "script"),
            (raw.script_file.is_some(), "script_file"),
            (raw.for_each.is_some(), "for_each"),
            (raw.call.is_some(), "call"),
            (raw.fail.is_some(), "fail"),
        ] {
            if present {
                actions.push(key);
            }
        }
        let action = match actions.as_slice() {
            [one] => *one,
            [] => return Err(format!("a step needs exactly one action key: {}", actions_text())),
            many => {
                return Err(format!(
                    "a step has one action key, this one has {}: split it into separate steps",
                    many.join(" and ")
                ));
            }
        };
        let misplaced = |key: &str, present: bool, belongs: &str| -> Result<(), String> {
            if present && action != belongs {
                Err(format!("`{key}` belongs to a `{belongs}` step, not to a `{action}` step"))
            } else {
                Ok(())
            }
        };
        misplaced("level", raw.level.is_some(), "log")?;
        misplaced("then", raw.then.is_some(), "if")?;
        misplaced("else", raw.otherwise.is_some(), "if")?;
        misplaced("cases", raw.cases.is_some(), "switch")?;
        misplaced("default", raw.default.is_some(), "switch")?;
        misplaced("as", raw.as_name.is_some(), "for_each")?;
        misplaced("do", raw.body.is_some(), "for_each")?;
        misplaced("concurrency", raw.concurrency.is_some(), "for_each")?;
        misplaced("with", raw.with.is_some(), "call")?;
        misplaced("account", raw.account.is_some(), "call")?;

        if let Some(id) = &raw.id
            && !is_identifier(id)
        {
            return Err(format!(
                "step id `{id}` is not a name: use letters, digits and `_` (it is read as `steps.{id}.output`)"
            ));
        }
        let on_error = match raw.on_error {
            None => OnError::Fail,
            Some(RawOnError::Word(w)) if w == "fail" => OnError::Fail,
            Some(RawOnError::Word(w)) if w == "continue" => OnError::Continue,
            Some(RawOnError::Word(w)) => {
                return Err(format!("on_error is `fail`, `continue` or a list of steps, not `{w}`"));
            }
            Some(RawOnError::Steps(steps)) => OnError::Steps(steps),
        };

        let kind = match action {
            "log" => {
                StepKind::Log(LogSpec { message: raw.log.unwrap_or_default(), level: raw.level.unwrap_or_default() })
            }
            "set" => StepKind::Set(raw.set.unwrap_or_default()),
            "map" => StepKind::Map(raw.map.unwrap_or_default()),
            "if" => {
                let then = raw.then.ok_or("an `if` step needs `then:` with the steps to run when it holds")?;
                StepKind::If {
                    condition: raw.condition.unwrap_or_default(),
                    then,
                    otherwise: raw.otherwise.unwrap_or_default(),
                }
            }
            "switch" => {
                let cases = raw.cases.ok_or("a `switch` step needs `cases:` mapping values to steps")?;
                StepKind::Switch {
                    value: raw.switch.unwrap_or_default(),
                    cases,
                    default: raw.default.unwrap_or_default(),
                }
            }
            "delay" => {
                let delay = raw.delay.unwrap_or_default();
                match &delay {
                    serde_json::Value::String(text) if !text.contains("{{") => {
                        let d: Duration = text.parse().map_err(|e: crate::QuantityError| e.to_string())?;
                        if d > MAX_DELAY {
                            return Err(format!("`delay: {text}` is longer than the limit of {MAX_DELAY}"));
                        }
                    }
                    serde_json::Value::String(_) => {}
                    _ => return Err("`delay` is a duration such as `2s` (or a template giving one)".into()),
                }
                StepKind::Delay(delay)
            }
            "script" => StepKind::Script { source: raw.script.unwrap_or_default(), file: None },
            "script_file" => StepKind::Script { source: String::new(), file: raw.script_file },
            "respond" => {
                let respond = raw.respond.unwrap_or_default();
                if let Some(map) = respond.as_object()
                    && let Some(unknown) = map.keys().find(|k| !["status", "headers", "body"].contains(&k.as_str()))
                {
                    return Err(format!("respond takes status, headers and body, not `{unknown}`"));
                }
                if !respond.is_object() {
                    return Err("respond is a mapping: `respond: { status: 200, headers: {…}, body: … }`".into());
                }
                StepKind::Respond(respond)
            }
            "for_each" => {
                let steps = raw.body.ok_or("a `for_each` step needs `do:` with the steps to run for each item")?;
                let as_name = raw.as_name.unwrap_or_else(|| "item".to_string());
                if !is_identifier(&as_name) {
                    return Err(format!("`as: {as_name}` is not a name: use letters, digits and `_`"));
                }
                if raw.concurrency == Some(0) {
                    return Err("`concurrency` is at least 1".to_string());
                }
                StepKind::ForEach {
                    items: raw.for_each.unwrap_or_default(),
                    as_name,
                    steps,
                    concurrency: raw.concurrency,
                }
            }
            "call" => StepKind::Call {
                operation: raw.call.unwrap_or_default(),
                with: raw.with.unwrap_or(serde_json::Value::Object(Default::default())),
                account: raw.account,
            },
            _ => StepKind::Fail(raw.fail.unwrap_or_default()),
        };
        Ok(Step { id: raw.id, name: raw.name, timeout: raw.timeout, retry: raw.retry, on_error, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<Step>, String> {
        yaml_serde::from_str::<Vec<Step>>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn each_action_parses() {
        let steps = parse(
            r#"
- log: "hello {{ event.name }}"
  level: warn
- id: shaped
  map: { a: 1 }
- set: { x: "{{ 1 + 1 }}" }
- if: "vars.x > 1"
  then: [ { log: yes } ]
  else: [ { log: no } ]
- for_each: "{{ event.items }}"
  as: it
  do: [ { log: "{{ it }}" } ]
- call: http.request
  with: { url: "http://example.com" }
  timeout: 2s
  on_error: continue
- fail: "bad"
- switch: "event.action"
  cases: { opened: [ { log: o } ], "1": [ { log: one } ] }
  default: [ { log: other } ]
- delay: 250ms
"#,
        )
        .unwrap();
        let kinds: Vec<_> = steps.iter().map(|s| s.kind.type_name()).collect();
        assert_eq!(kinds, ["log", "map", "set", "if", "for_each", "call", "fail", "switch", "delay"]);
        assert!(matches!(&steps[0].kind, StepKind::Log(l) if l.level == LogLevel::Warn));
        assert_eq!(steps[1].id.as_deref(), Some("shaped"));
        assert!(matches!(steps[5].on_error, OnError::Continue));
        assert_eq!(steps[5].timeout, Some(Duration::from_secs(2)));
        assert!(matches!(&steps[4].kind, StepKind::ForEach { as_name, .. } if as_name == "it"));
    }

    #[test]
    fn a_step_needs_exactly_one_action() {
        let err = parse("- id: x\n").unwrap_err();
        assert!(err.contains("exactly one action key"), "{err}");
        let err = parse("- log: a\n  map: {}\n").unwrap_err();
        assert!(err.contains("log and map"), "{err}");
    }

    #[test]
    fn misplaced_and_unknown_keys_are_named() {
        let err = parse("- log: a\n  then: []\n").unwrap_err();
        assert!(err.contains("`then` belongs to a `if` step"), "{err}");
        let err = parse("- lgo: a\n").unwrap_err();
        assert!(err.contains("unknown field `lgo`"), "{err}");
        let err = parse("- id: 'not ok'\n  log: a\n").unwrap_err();
        assert!(err.contains("is not a name"), "{err}");
        let err = parse("- if: x\n").unwrap_err();
        assert!(err.contains("needs `then:`"), "{err}");
        let err = parse("- switch: x\n").unwrap_err();
        assert!(err.contains("needs `cases:`"), "{err}");
        let err = parse("- delay: 10m\n").unwrap_err();
        assert!(err.contains("longer than the limit of 5m"), "{err}");
        let err = parse("- delay: 10\n").unwrap_err();
        assert!(err.contains("is a duration"), "{err}");
        let err = parse("- log: a\n  default: []\n").unwrap_err();
        assert!(err.contains("`default` belongs to a `switch` step"), "{err}");
    }
}
