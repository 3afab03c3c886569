//! `/api/v1/environments`, `/api/v1/config/{component}` and `/api/v1/keys/rotate`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use onset_model::ConfigType;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::{App, DEVELOPMENT, now_ms};
use crate::auth::{self, Principal};
use crate::error::{ApiError, json_body};

type Params = Query<HashMap<String, String>>;

fn environment_of(app: &App, q: &HashMap<String, String>) -> Result<String, ApiError> {
    let env = q.get("environment").cloned().unwrap_or_else(|| DEVELOPMENT.to_string());
    if app.knows_environment(&env) {
        Ok(env)
    } else {
        Err(ApiError::not_found(
            "unknown_environment",
            format!("there is no environment `{env}`; environments: {}", app.environment_list().join(", ")),
        )
        .at("query environment"))
    }
}

pub async fn environments(State(app): State<Arc<App>>) -> Json<Value> {
    let items: Vec<Value> =
        app.environment_list().iter().enumerate().map(|(i, name)| json!({ "name": name, "position": i + 1 })).collect();
    Json(json!({ "items": items, "next_cursor": null }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    name: String,
    after: String,
}

pub async fn create_environment(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    req: Result<Json<NewEnvironment>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.admin()?;
    let req = json_body(req)?;
    let valid = !req.name.is_empty()
        && req.name.len() <= 63
        && req.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ApiError::bad_request("invalid_name", "an environment name is lower-case letters, digits and `-`")
            .at("body name"));
    }
    if app.knows_environment(&req.name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "environment_exists",
            format!("`{}` exists already", req.name),
        ));
    }
    if !app.store.create_environment(req.name.clone(), req.after.clone(), now_ms()).await? {
        return Err(ApiError::bad_request("unknown_environment", format!("there is no environment `{}`", req.after))
            .at("body after"));
    }
    app.load_environments().await.map_err(ApiError::internal)?;
    auth::audit(&app, &who, "environment.create", &req.name, json!({ "after": req.after })).await;
    Ok((StatusCode::CREATED, Json(json!({ "name": req.name, "environments": app.environment_list() }))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    values: Map<String, Value>,
}

/// Sets values (text; numbers and booleans are accepted as such) for a component in an
/// environment, before or after it is deployed there.
pub async fn set_config(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(component): Path<String>,
    Query(q): Params,
    req: Result<Json<SetConfig>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&app, &q)?;
    who.may_change(&environment)?;
    let req = json_body(req)?;
    if req.values.is_empty() {
        return Err(ApiError::bad_request("no_values", "give at least one key=value").at("body values"));
    }
    let mut pairs = Vec::new();
    for (k, v) in req.values {
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        pairs.push((k, text));
    }
    let reactivated = app
        .set_config(&component, &environment, &pairs)
        .await
        .map_err(|errors| ApiError::bad_request("invalid_config", errors.join("; ")).at("body values"))?;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    // The audit says which keys changed, never their values.
    auth::audit(&app, &who, "config.set", &format!("{environment}/{component}"), json!({ "keys": keys })).await;
    Ok(Json(json!({ "component": component, "environment": environment, "keys": keys, "reactivated": reactivated })))
}

/// What a deploy would use for each key: the value set here, the environment variable, the
/// default, or nothing; secrets (and every value of a component not deployed here, whose types
/// are unknown) are masked.
pub async fn list_config(
    State(app): State<Arc<App>>,
    Path(component): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&app, &q)?;
    let set = app.config_texts(&component, &environment).await.map_err(ApiError::internal)?;
    let active = app.active(&environment, &component);
    let mut items = Vec::new();
    match &active {
        Some(d) => {
            for (key, spec) in &d.component.config {
                let secret = spec.kind == ConfigType::Secret;
                let show = |v: Value| if secret { Value::String(onset_sources::REDACTED.into()) } else { v };
                let var = crate::deploy::config_env_name(&component, key.as_str());
                let (source, value) = if let Some((_, text, _)) = set.iter().find(|(k, _, _)| k == key.as_str()) {
                    ("set", show(Value::String(text.clone())))
                } else if let Some(text) = app.config.config_env.get(&var) {
                    ("environment variable", show(Value::String(text.clone())))
                } else if let Some(d) = &spec.default {
                    ("default", show(d.clone()))
                } else {
                    ("missing", Value::Null)
                };
                items.push(json!({ "key": key.as_str(), "type": spec.kind, "secret": secret, "source": source,
                    "value": value, "required": spec.is_required(), "description": spec.description }));
            }
        }
        None => {
            for (key, _, _) in &set {
                items.push(json!({ "key": key, "secret": null, "source": "set", "value": onset_sources::REDACTED }));
            }
        }
    }
    Ok(Json(
        json!({ "component": component, "environment": environment, "deployed": active.is_some(), "items": items }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Needed when the key comes from ONSET_MASTER_KEY: the operator sets it there afterwards.
    #[serde(default)]
    new_key: Option<String>,
}

/// Re-seals every config value under a new master key.
pub async fn rotate_key(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    req: Option<Json<Rotate>>,
) -> Result<Json<Value>, ApiError> {
    who.admin()?;
    let req = req.map(|Json(r)| r).unwrap_or_default();
    let source = app.master_key.read().unwrap_or_else(std::sync::PoisonError::into_inner).source;
    let bytes = match (&req.new_key, source) {
        (Some(text), _) => {
            crate::secrets::decode_key(text).map_err(|e| ApiError::bad_request("invalid_key", e).at("body new_key"))?
        }
        (None, crate::secrets::KeySource::File) => crate::secrets::random_key().map_err(ApiError::internal)?,
        (None, crate::secrets::KeySource::Environment) => {
            return Err(ApiError::bad_request(
                "new_key_needed",
                "the master key comes from ONSET_MASTER_KEY: give the new key (base64 of 32 bytes) as new_key, then set it there",
            )
            .at("body new_key"));
        }
    };
    let new = crate::secrets::MasterKey::from_bytes(&bytes, source).map_err(ApiError::internal)?;
    let id = new.id.clone();
    let n = crate::secrets::rotate(&app, new, &bytes).await.map_err(ApiError::internal)?;
    auth::audit(&app, &who, "keys.rotate", &id, json!({ "values": n })).await;
    Ok(Json(json!({ "key_id": id, "resealed": n, "source": match source {
        crate::secrets::KeySource::File => "file",
        crate::secrets::KeySource::Environment => "environment",
    } })))
}
