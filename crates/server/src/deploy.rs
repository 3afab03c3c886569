//! Building a deployment: resolve config, compile handlers, render the trigger's settings,
//! prepare the verifier. Everything that can be wrong with a component is found here, before
//! it receives a single event.

use std::collections::HashMap;

use onset_engine::{CompiledComponent, Connectors};
use onset_expr::{Compiled, Compiler, Program};
use onset_model::{Component, ConfigType};
use onset_sources::{Redactor, Verifier};
use serde_json::{Map, Value};

use crate::routing::{Route, Routes};

/// How long a caller may wait for a run's answer at most.
const MAX_RESPONSE_TIMEOUT: onset_model::Duration = onset_model::Duration::from_secs(300);

/// When an `http` trigger answers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// `202` as soon as the event is stored (the default).
    Immediate,
    /// The caller waits for the run's answer (a `respond` step, or the first attempt's end),
    /// at most this long.
    AfterRun(std::time::Duration),
}

/// A component built for one environment, ready to receive and run events.
pub struct Deployed {
    pub id: String,
    pub environment: String,
    pub component: Component,
    pub source: String,
    /// The files the component refers to (`script_file`), path → text.
    pub files: std::collections::BTreeMap<String, String>,
    /// The operations of the imported OpenAPI documents among `files`.
    pub imported: Vec<onset_connectors::openapi::Imported>,
    pub compiled: CompiledComponent,
    /// The trigger, built by its type in the registry of `onset_sources::triggers`.
    pub trigger: Box<dyn onset_sources::triggers::Trigger>,
    /// How its events come in.
    pub intake: onset_sources::triggers::Intake,
    /// The resolved config (in memory only), for sources that evaluate templates later.
    pub config: Value,
    pub verifier: Verifier,
    pub redactor: Redactor,
    /// `with.delivery_id`, evaluated per request against `meta`.
    pub delivery_id: Option<(Program, Compiled)>,
    pub response: ResponseMode,
    pub routes: Routes,
    /// `trigger.with.rate_limit`: what the whole API takes per window.
    pub api_quota: Option<onset_gateway::Quota>,
    /// `trigger.with.rate_limit_per_ip`: what each client address may send.
    pub client_rate: Option<onset_model::Rate>,
    /// Handlers' `rate_limit`: `(resource pattern, method, quota)`.
    pub resource_quotas: Vec<(String, String, onset_gateway::Quota)>,
    /// `trigger.with.security`: who may call.
    pub security: onset_gateway::security::Security,
}

impl std::fmt::Debug for Deployed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployed")
            .field("id", &self.id)
            .field("component", &self.component.component)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

/// `ONSET_CONFIG__<COMPONENT>__<KEY>`, upper case, `-` → `_`.
pub fn config_env_name(component: &str, key: &str) -> String {
    format!("ONSET_CONFIG__{}__{}", component.to_ascii_uppercase().replace('-', "_"), key.to_ascii_uppercase())
}

pub(crate) fn typed(kind: ConfigType, text: &str) -> Result<Value, String> {
    Ok(match kind {
        ConfigType::String | ConfigType::Secret | ConfigType::Account => Value::String(text.to_string()),
        ConfigType::Number => {
            let n: f64 = text.trim().parse().map_err(|_| "is not a number".to_string())?;
            serde_json::Number::from_f64(n).map(Value::Number).ok_or("is not a finite number")?
        }
        ConfigType::Integer => Value::from(text.trim().parse::<i64>().map_err(|_| "is not an integer".to_string())?),
        ConfigType::Boolean => match text.trim() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" => Value::Bool(false),
            _ => return Err("is not a boolean (true or false)".into()),
        },
        ConfigType::Json => serde_json::from_str(text).map_err(|e| format!("is not JSON ({e})"))?,
    })
}

/// Config values in order: values set for the environment, the environment variable, the
/// schema's default. Reports every missing or malformed key.
pub fn resolve_config(
    component: &Component,
    environment_values: &Map<String, Value>,
    env: &HashMap<String, String>,
) -> Result<Value, Vec<String>> {
    let name = component.component.as_str();
    let mut values = Map::new();
    let mut errors = Vec::new();
    for (key, spec) in &component.config {
        let var = config_env_name(name, key.as_str());
        if let Some(value) = environment_values.get(key.as_str()) {
            values.insert(key.to_string(), value.clone());
        } else if let Some(text) = env.get(&var) {
            match typed(spec.kind, text) {
                Ok(v) => {
                    values.insert(key.to_string(), v);
                }
                Err(why) => errors.push(format!("component `{name}`: config `{key}`: {var} {why}")),
            }
        } else if let Some(default) = &spec.default {
            values.insert(key.to_string(), default.clone());
        } else if spec.is_required() {
            let about = spec.description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            errors.push(format!(
                "component `{name}`: config `{key}`{about} is required and has no value; set it with {var}=…"
            ));
        }
    }
    if errors.is_empty() { Ok(Value::Object(values)) } else { Err(errors) }
}

impl Deployed {
    /// `values` are the config values set for the environment (typed), `config_env` the
    /// `ONSET_CONFIG__…` variables.
    pub fn build(
        id: String,
        environment: &str,
        component: Component,
        source: String,
        (values, config_env): (&Map<String, Value>, &HashMap<String, String>),
        connectors: &dyn Connectors,
    ) -> Result<Deployed, Vec<String>> {
        let name = component.component.to_string();
        let config = resolve_config(&component, values, config_env)?;
        let compiled = CompiledComponent::compile(&component, &config, connectors)
            .map_err(|errs| errs.into_iter().map(|e| format!("component `{name}`: {e}")).collect::<Vec<_>>())?;

        let kind = component.trigger.kind.as_str();
        let trigger_type = onset_sources::triggers::source(kind)
            .ok_or_else(|| vec![format!("component `{name}`: trigger type `{kind}` is not available in this build")])?;
        let intake = trigger_type.intake();
        // Requests to the handlers' own resources (`http`) may carry their own delivery id
        // template (a deferred setting) and answer after the run.
        let resources = intake == onset_sources::triggers::Intake::Resources;
        let mut with = component.trigger.with.as_object().cloned().unwrap_or_default();
        let deferred: Map<String, Value> =
            trigger_type.deferred().iter().filter_map(|k| with.remove(*k).map(|v| (k.to_string(), v))).collect();
        let delivery_template = if resources { deferred.get("delivery_id").cloned() } else { None };
        let rendered = render_settings(&Value::Object(with), &config)
            .map_err(|e| vec![format!("component `{name}`: trigger.with: {e}")])?;
        let built = trigger_type.build(&rendered, &deferred).map_err(|e| vec![format!("component `{name}`: {e}")])?;
        let mut redact: Vec<String> = match rendered.get("redact_headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(_) => {
                return Err(vec![format!("component `{name}`: trigger.with.redact_headers is a list of header names")]);
            }
        };
        let security = onset_gateway::security::Security::parse(rendered.get("security"))
            .map_err(|e| vec![format!("component `{name}`: {e}")])?;
        if let onset_gateway::security::Security::OAuth2(o) = &security
            && let Some(rule) = o.scopes.iter().find(|r| !component.handlers.contains_key(&r.path))
        {
            return Err(vec![format!(
                "component `{name}`: trigger.with.security.scopes names `{}`, which no handler has",
                rule.path
            )]);
        }
        // The API key's header is never stored.
        if let onset_gateway::security::Security::ApiKey(onset_gateway::security::KeyIn::Header(h)) = &security {
            redact.push(h.clone());
        }
        let delivery_id = match delivery_template {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => {
                let mut c = Compiler::new();
                let compiled =
                    c.string(&t).map_err(|e| vec![format!("component `{name}`: trigger.with.delivery_id: {e}")])?;
                let program = c.finish().map_err(|e| vec![format!("component `{name}`: {e}")])?;
                Some((program, compiled))
            }
            Some(_) => return Err(vec![format!("component `{name}`: trigger.with.delivery_id is a template string")]),
        };
        let response = if resources { response_mode(&rendered) } else { Ok(ResponseMode::Immediate) }
            .map_err(|e| vec![format!("component `{name}`: {e}")])?;
        // Provider triggers take every delivery at the component's own path, by POST.
        let routes = if resources {
            Routes::new(
                component
                    .handlers
                    .iter()
                    .map(|(channel, events)| Route::new(channel, events.keys().cloned().collect()))
                    .collect(),
            )
        } else {
            Routes::new(vec![Route::new("/", vec!["POST".into()])])
        };
        let quota = |key: String, policy: &'static str, rate: onset_model::Rate| onset_gateway::Quota {
            key: key.into(),
            policy,
            limit: rate.limit,
            window: std::time::Duration::from_secs(rate.window_secs),
            ends_in: None,
        };
        let api_quota = match rendered.get("rate_limit") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => {
                let rate = r.parse().map_err(|e| vec![format!("component `{name}`: trigger.with.rate_limit: {e}")])?;
                Some(quota(format!("{environment}/{name}"), "api", rate))
            }
            Some(_) => {
                return Err(vec![format!(
                    "component `{name}`: trigger.with.rate_limit is written N/s, N/m, N/h or N/d"
                )]);
            }
        };
        let client_rate = match rendered.get("rate_limit_per_ip") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => {
                Some(r.parse().map_err(|e| vec![format!("component `{name}`: trigger.with.rate_limit_per_ip: {e}")])?)
            }
            Some(_) => {
                return Err(vec![format!(
                    "component `{name}`: trigger.with.rate_limit_per_ip is written N/s, N/m, N/h or N/d"
                )]);
            }
        };
        let resource_quotas = component
            .handlers
            .iter()
            .flat_map(|(channel, events)| {
                events.iter().filter_map(move |(method, h)| h.rate_limit.map(|r| (channel, method, r)))
            })
            .map(|(channel, method, rate)| {
                let key = format!("{environment}/{name} {method} {channel}");
                (channel.clone(), method.clone(), quota(key, "resource", rate))
            })
            .collect();
        Ok(Deployed {
            id,
            environment: environment.to_string(),
            component,
            source,
            files: Default::default(),
            imported: Vec::new(),
            compiled,
            trigger: built.trigger,
            intake,
            config,
            verifier: built.verifier,
            redactor: Redactor::new(redact),
            delivery_id,
            response,
            routes,
            api_quota,
            client_rate,
            resource_quotas,
            security,
        })
    }

    pub fn name(&self) -> &str {
        self.component.component.as_str()
    }

    /// How runs of a handler are named in the API.
    pub fn handler_name(&self, channel: &str, event: &str) -> String {
        handler_name(&self.component.trigger.kind, channel, event)
    }
}

/// `with.response` (`immediate` | `after_run`) and `with.response_timeout` (default 30s).
fn response_mode(with: &Value) -> Result<ResponseMode, String> {
    let timeout = match with.get("response_timeout") {
        None | Some(Value::Null) => onset_model::Duration::from_secs(30),
        Some(Value::String(t)) => t.parse().map_err(|e| format!("trigger.with.response_timeout: {e}"))?,
        Some(_) => return Err("trigger.with.response_timeout is a duration such as `10s`".into()),
    };
    if timeout > MAX_RESPONSE_TIMEOUT {
        return Err(format!("trigger.with.response_timeout is at most {MAX_RESPONSE_TIMEOUT}"));
    }
    match with.get("response").and_then(Value::as_str) {
        None | Some("immediate") if with.get("response").is_none_or(Value::is_string) => Ok(ResponseMode::Immediate),
        Some("after_run") => Ok(ResponseMode::AfterRun(timeout.as_std())),
        _ => {
            Err("trigger.with.response is `immediate` (answer 202 once stored) or `after_run` (wait for the run)"
                .into())
        }
    }
}

/// A handler's name as its trigger type names it: `POST /orders` for `http`, else `Channel.event`.
pub fn handler_name(trigger_kind: &str, channel: &str, event: &str) -> String {
    onset_sources::triggers::source(trigger_kind)
        .map_or_else(|| format!("{channel}.{event}"), |t| t.handler_name(channel, event))
}

/// Renders every template in the trigger settings against `config`.
fn render_settings(with: &Value, config: &Value) -> Result<Value, String> {
    let mut c = Compiler::new();
    let compiled = c.value(with).map_err(|e| e.to_string())?;
    let program = c.finish().map_err(|e| e.to_string())?;
    let scope = onset_expr::from_json(&serde_json::json!({ "config": config }));
    program.eval(&compiled, &scope).map(|v| onset_expr::to_json(&v)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use onset_engine::NoConnectors;

    fn component(yaml: &str) -> Component {
        yaml_serde::from_str(yaml).unwrap()
    }

    const ORDERS: &str = r#"
component: my-orders
trigger:
  type: http
  with:
    verify: { scheme: token, header: x-token, secret: "{{ config.secret }}" }
    delivery_id: "{{ meta.headers['x-request-id'] }}"
config:
  secret: { type: secret, description: shared token }
  limit: { type: integer, default: 3 }
  flag: { type: boolean, required: false }
handlers:
  /:
    POST: { steps: [ { log: "{{ config.limit }}" } ] }
"#;

    #[test]
    fn config_comes_from_the_environment_then_defaults() {
        let c = component(ORDERS);
        let env = HashMap::from([("ONSET_CONFIG__MY_ORDERS__SECRET".to_string(), "s".to_string())]);
        let config = resolve_config(&c, &Map::new(), &env).unwrap();
        assert_eq!(config, serde_json::json!({ "secret": "s", "limit": 3 }));
        let env = HashMap::from([
            ("ONSET_CONFIG__MY_ORDERS__SECRET".to_string(), "s".to_string()),
            ("ONSET_CONFIG__MY_ORDERS__LIMIT".to_string(), "9".to_string()),
        ]);
        assert_eq!(resolve_config(&c, &Map::new(), &env).unwrap()["limit"], 9);
        // A value set for the environment wins over the variable and the default.
        let set: Map<String, Value> = serde_json::from_value(serde_json::json!({ "limit": 4, "flag": true })).unwrap();
        let config = resolve_config(&c, &set, &env).unwrap();
        assert_eq!((config["limit"].clone(), config["flag"].clone()), (serde_json::json!(4), serde_json::json!(true)));
    }

    #[test]
    fn missing_and_malformed_values_are_all_named() {
        let c = component(ORDERS);
        let env = HashMap::from([("ONSET_CONFIG__MY_ORDERS__LIMIT".to_string(), "many".to_string())]);
        let errors = resolve_config(&c, &Map::new(), &env).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("config `secret` (shared token) is required"), "{}", errors[0]);
        assert!(errors[0].contains("ONSET_CONFIG__MY_ORDERS__SECRET=…"));
        assert!(errors[1].contains("ONSET_CONFIG__MY_ORDERS__LIMIT is not an integer"), "{}", errors[1]);
    }

    #[test]
    fn builds_verifier_from_rendered_settings() {
        let env = HashMap::from([("ONSET_CONFIG__MY_ORDERS__SECRET".to_string(), "tok".to_string())]);
        let d = Deployed::build(
            "d1".into(),
            "development",
            component(ORDERS),
            String::new(),
            (&Map::new(), &env),
            &NoConnectors,
        )
        .unwrap();
        assert_eq!(d.compiled.secrets().redact("the key: tok."), "the key: [redacted].");
        let mut h = http::HeaderMap::new();
        h.insert("x-token", "tok".parse().unwrap());
        assert!(d.verifier.verify(&onset_sources::Request::new(&h, b""), 0).is_ok());
        assert!(d.delivery_id.is_some());
        assert_eq!(d.handler_name("/", "POST"), "POST /");
    }

    #[test]
    fn unknown_trigger_settings_are_refused() {
        let c = component("component: x\ntrigger: { type: http, with: { verfy: {} } }\n");
        let err =
            Deployed::build("d".into(), "development", c, String::new(), (&Map::new(), &HashMap::new()), &NoConnectors)
                .unwrap_err();
        assert!(err[0].contains("`verfy` is not an http setting"), "{err:?}");
    }
}
