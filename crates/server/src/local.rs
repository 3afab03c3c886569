//! `onset run`: one handler, one payload, no server. The same loading, config resolution,
//! compilation and engine as a deployment, with the result returned instead of stored.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use onset_connectors::Registry;
use onset_engine::{CompiledComponent, RunInput, RunOutcome};
use onset_model::{Component, Project};
use serde_json::{Map, Value, json};

use crate::deploy::{handler_name, resolve_config, typed};
use crate::routing::{Route, Routes};

/// What to run.
#[derive(Debug, Clone)]
pub struct LocalRunRequest {
    pub component: String,
    /// `Channel.event` (split on the last `.`) or, for `http` triggers, `"POST /orders/42"`.
    pub event: String,
    pub payload: Value,
    /// `--config key=value`, typed by the component's schema; they win over the environment.
    pub config: Vec<(String, String)>,
    /// `ONSET_CONFIG__…` variables.
    pub config_env: HashMap<String, String>,
}

#[derive(Debug)]
pub struct LocalRun {
    pub component: String,
    pub channel: String,
    pub event: String,
    /// As the API names it: `POST /orders`, `IssuesService.onOpened`.
    pub handler: String,
    pub outcome: RunOutcome,
    pub duration_ms: f64,
}

/// The handler an event spec names: `(channel, event, path parameters)`.
fn resolve_event(component: &Component, spec: &str) -> Result<(String, String, Map<String, Value>), String> {
    let name = component.component.as_str();
    // Triggers whose handlers are resources and methods (`http`) name events `"POST /path"`.
    let resources = onset_sources::triggers::source(&component.trigger.kind)
        .is_some_and(|t| t.intake() == onset_sources::triggers::Intake::Resources);
    let known = || {
        component
            .handler_list()
            .map(|(c, e, _)| if resources { format!("\"{e} {c}\"") } else { format!("{c}.{e}") })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if resources && let Some((method, path)) = spec.split_once(' ') {
        let routes = Routes::new(
            component.handlers.iter().map(|(c, events)| Route::new(c, events.keys().cloned().collect())).collect(),
        );
        let (route, params) = routes
            .find(path.trim())
            .ok_or_else(|| format!("component `{name}` has no resource matching `{path}`; handlers: {}", known()))?;
        let method = method.trim().to_ascii_uppercase();
        if !route.methods.contains(&method) {
            return Err(format!("`{}` has handlers for {}, not {method}", route.pattern, route.methods.join(", ")));
        }
        let params = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        return Ok((route.pattern.clone(), method, params));
    }
    let (channel, event) = spec.rsplit_once('.').ok_or_else(|| {
        format!(
            "--event `{spec}`: write `Channel.event` (or `\"POST /path\"` for http triggers); handlers: {}",
            known()
        )
    })?;
    if component.handlers.get(channel).and_then(|e| e.get(event)).is_none() {
        return Err(format!("component `{name}` has no handler for `{spec}`; handlers: {}", known()));
    }
    Ok((channel.to_string(), event.to_string(), Map::new()))
}

/// Config keys the handlers or their script files refer to (`config.key`, `config['key']`).
fn keys_used_by_handlers(file: &onset_model::SourceFile) -> std::collections::HashSet<String> {
    let doc: Value = yaml_serde::from_str(&file.text).unwrap_or(Value::Null);
    let mut text = doc.get("handlers").map(ToString::to_string).unwrap_or_default();
    for script in file.files.values() {
        text.push_str(script);
    }
    let mut used = std::collections::HashSet::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(i) = text[at..].find("config") {
        let start = at + i + "config".len();
        at = start;
        let rest = &text[start..];
        let key: String = if let Some(r) = rest.strip_prefix('.') {
            r.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        } else if let Some(r) = rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\\\"")) {
            r.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        } else {
            continue;
        };
        // `myconfig.x` is not `config.x`.
        let before = (start - "config".len()).checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        used.insert(key);
    }
    used
}

/// Runs the handler locally. Errors are one line each, naming the file, key or flag to fix.
pub async fn run_local(project_dir: &Path, req: LocalRunRequest) -> Result<LocalRun, Vec<String>> {
    let project =
        Project::load(project_dir).map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let Some((component, file)) = project.components.iter().find(|(c, _)| c.component.as_str() == req.component) else {
        let names: Vec<_> = project.components.iter().map(|(c, _)| c.component.to_string()).collect();
        return Err(vec![format!(
            "no component `{}` in {}; components: {}",
            req.component,
            project_dir.display(),
            names.join(", ")
        )]);
    };
    run_component(component, file, req).await
}

/// Parses a component's source (an editor's text) as a deploy would, each problem at
/// file:line:column.
pub fn parse_source(file: &onset_model::SourceFile) -> Result<Component, Vec<String>> {
    let problems = crate::validation::validate_source(&file.path, &file.text, &file.files);
    if !problems.is_empty() {
        return Err(problems.iter().map(ToString::to_string).collect());
    }
    yaml_serde::from_str(&file.text).map_err(|e| vec![format!("{}: {e}", file.path.display())])
}

/// Runs one handler of a component already loaded (from a project or an editor).
pub async fn run_component(
    component: &Component,
    file: &onset_model::SourceFile,
    req: LocalRunRequest,
) -> Result<LocalRun, Vec<String>> {
    let (channel, event, params) = resolve_event(component, &req.event).map_err(|e| vec![e])?;
    // The trigger does not run locally: config only its settings use (a webhook secret) is
    // not asked for.
    let mut component = component.clone();
    let used = keys_used_by_handlers(file);
    for (key, spec) in component.config.iter_mut() {
        if !used.contains(key.as_str()) {
            spec.required = Some(false);
        }
    }
    let component = &component;

    let mut values = Map::new();
    let mut errors = Vec::new();
    for (key, text) in &req.config {
        match component.config.iter().find(|(k, _)| k.as_str() == key) {
            Some((_, spec)) => match typed(spec.kind, text) {
                Ok(v) => {
                    values.insert(key.clone(), v);
                }
                Err(why) => errors.push(format!("--config {key}={text}: the value {why}")),
            },
            None => {
                let declared: Vec<_> = component.config.keys().map(ToString::to_string).collect();
                errors.push(format!(
                    "--config {key}: `{}` declares no such key; it has: {}",
                    req.component,
                    declared.join(", ")
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let config = resolve_config(component, &values, &req.config_env).map_err(|errs| {
        errs.into_iter().map(|e| e.replace("; set it with ", "; pass --config KEY=VALUE or set ")).collect::<Vec<_>>()
    })?;
    let http = onset_connectors::HttpConnector::new(Default::default()).map_err(|e| vec![e])?;
    let scripts = onset_script::ScriptPool::new(1).map_err(|e| vec![format!("cannot start the script runner: {e}")])?;
    let registry = Registry::new(http).with_scripts(scripts, onset_script::Limits::default());
    // The project's OpenAPI documents the component calls; no accounts locally.
    let imported = onset_connectors::openapi::from_files(&file.files)?;
    let connectors = registry.in_deployment("local", &imported);
    let compiled = CompiledComponent::compile(component, &config, &connectors)
        .map_err(|errs| errs.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let handler = compiled.handler(&channel, &event).ok_or_else(|| vec![format!("no handler {channel} {event}")])?;

    let meta = json!({
        "trigger": component.trigger.kind, "component": req.component, "environment": "local",
        "channel": channel, "event": event, "delivery_id": null,
        "received_at": jiff::Timestamp::now().to_string(), "headers": {}, "query": {}, "params": params,
        "event_id": null, "run_id": null, "attempt": 1,
    });
    let input = RunInput {
        event: onset_expr::from_json(&req.payload),
        meta: onset_expr::from_json(&meta),
        attempt: 1,
        responder: None,
        trace: None,
    };
    let started = Instant::now();
    let outcome = compiled.run(handler, input, &connectors).await;
    Ok(LocalRun {
        handler: handler_name(&component.trigger.kind, &channel, &event),
        component: req.component,
        channel,
        event,
        outcome,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(yaml: &str) -> Component {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn event_specs_name_handlers() {
        let http = component(
            "component: o\ntrigger: { type: http }\nhandlers:\n  /: { POST: { steps: [] } }\n  /orders/{id}: { PUT: { steps: [] } }\n",
        );
        let (c, e, p) = resolve_event(&http, "PUT /orders/42").unwrap();
        assert_eq!((c.as_str(), e.as_str(), p["id"].as_str()), ("/orders/{id}", "PUT", Some("42")));
        assert_eq!(resolve_event(&http, "post /").unwrap().1, "POST");
        assert!(resolve_event(&http, "GET /").unwrap_err().contains("handlers for POST"));
        assert!(resolve_event(&http, "POST /nope").unwrap_err().contains("no resource matching"));
        // The `Channel.event` form works for http too (split on the last dot).
        assert_eq!(resolve_event(&http, "/.POST").unwrap().0, "/");
        let err = resolve_event(&http, "nothing").unwrap_err();
        assert!(err.contains("\"POST /\"") && err.contains("\"PUT /orders/{id}\""), "{err}");
    }

    #[test]
    fn only_config_the_handlers_use_is_needed_locally() {
        let text = r#"
component: x
trigger: { type: github, with: { secret: "{{ config.webhook_secret }}" } }
config:
  webhook_secret: { type: secret }
  channel: { type: string }
  sheet: { type: string }
  myconfig: { type: string }
handlers:
  IssuesService:
    onOpened:
      steps:
        - log: "{{ config.channel }} {{ config['sheet'] }} {{ notconfig.x }}"
        - script_file: scripts/a.js
"#;
        let files = std::collections::BTreeMap::from([("scripts/a.js".to_string(), "ctx.config.from_js".to_string())]);
        let file = onset_model::SourceFile { path: "x.yaml".into(), text: text.into(), files };
        let used = keys_used_by_handlers(&file);
        let mut used: Vec<_> = used.into_iter().collect();
        used.sort();
        assert_eq!(used, ["channel", "from_js", "sheet"]);
    }
}
