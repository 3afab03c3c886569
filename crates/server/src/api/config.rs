//! `/api/v1/environments`, `/api/v1/config/{component}` and `/api/v1/keys/rotate`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};
use onset_model::ConfigType;
use serde_json::{Value, json};

use super::doc::Op;
use super::types::{
    ConfigItem, ConfigList, ConfigSet, CreatedEnvironment, Environment, EnvironmentQuery, NewEnvironment, Page, Rotate,
    Rotated, SetConfig,
};
use super::{Body, OptionalBody, Q, Table, environment};
use crate::app::{App, now_ms};
use crate::auth::{self, Principal};
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/environments", "listEnvironments", "Environments in promotion order")
            .tag("config")
            .answers::<Page<Environment>>(200, "Environments"),
        get(environments),
    )
    .add(
        Op::post("/api/v1/environments", "createEnvironment", "Add an environment after another (admin)")
            .tag("config")
            .body::<NewEnvironment>()
            .answers::<CreatedEnvironment>(201, "Created")
            .errors(&[400, 403, 404, 409]),
        post(create_environment),
    )
    .add(
        Op::get(
            "/api/v1/config/{component}",
            "listConfig",
            "What a deploy would use for each config key (secrets masked)",
        )
        .tag("config")
        .query::<EnvironmentQuery>()
        .answers::<ConfigList>(200, "The keys and where their values come from")
        .errors(&[400, 404]),
        get(list_config),
    )
    .add(
        Op::put(
            "/api/v1/config/{component}",
            "setConfig",
            "Set config values for a component in an environment; sealed at rest",
        )
        .tag("config")
        .query::<EnvironmentQuery>()
        .body::<SetConfig>()
        .answers::<ConfigSet>(200, "Set (and re-activated when deployed)")
        .errors(&[400, 403, 404]),
        axum::routing::put(set_config),
    )
    .add(
        Op::post("/api/v1/keys/rotate", "rotateKey", "Re-seal every config value under a new master key (admin)")
            .tag("config")
            .body::<Rotate>()
            .answers::<Rotated>(200, "Re-sealed")
            .errors(&[400, 403]),
        post(rotate_key),
    )
}

async fn environments(State(app): State<Arc<App>>) -> Json<Page<Environment>> {
    Json(Page::all(
        app.environment_list().into_iter().enumerate().map(|(i, name)| Environment { name, position: i + 1 }).collect(),
    ))
}

async fn create_environment(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewEnvironment>,
) -> Result<(StatusCode, Json<CreatedEnvironment>), ApiError> {
    who.admin()?;
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
        )
        .at("body name"));
    }
    if !app.store.create_environment(req.name.clone(), req.after.clone(), now_ms()).await? {
        return Err(ApiError::not_found("unknown_environment", format!("there is no environment `{}`", req.after))
            .at("body after"));
    }
    app.load_environments().await.map_err(ApiError::internal)?;
    auth::audit(&app, &who, "environment.create", &req.name, json!({ "after": req.after })).await;
    Ok((StatusCode::CREATED, Json(CreatedEnvironment { name: req.name, environments: app.environment_list() })))
}

/// Sets values (text; numbers and booleans are accepted as such) for a component in an
/// environment, before or after it is deployed there.
async fn set_config(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(component): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    Body(req): Body<SetConfig>,
) -> Result<Json<ConfigSet>, ApiError> {
    let environment = environment(&app, q.environment.as_deref(), "query environment")?;
    who.may_change(&environment)?;
    if req.values.is_empty() {
        return Err(ApiError::bad_request("no_values", "give at least one key=value").at("body values"));
    }
    let pairs: Vec<(String, String)> = req
        .values
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    let reactivated = app
        .set_config(&component, &environment, &pairs)
        .await
        .map_err(|errors| ApiError::bad_request("invalid_config", errors.join("; ")).at("body values"))?;
    let keys: Vec<String> = pairs.into_iter().map(|(k, _)| k).collect();
    // The audit says which keys changed, never their values.
    auth::audit(&app, &who, "config.set", &format!("{environment}/{component}"), json!({ "keys": keys })).await;
    Ok(Json(ConfigSet { component, environment, keys, reactivated }))
}

/// What a deploy would use for each key: the value set here, the environment variable, the
/// default, or nothing; secrets (and every value of a component not deployed here, whose types
/// are unknown) are masked.
async fn list_config(
    State(app): State<Arc<App>>,
    Path(component): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<ConfigList>, ApiError> {
    let environment = environment(&app, q.environment.as_deref(), "query environment")?;
    let set = app.config_texts(&component, &environment).await.map_err(ApiError::internal)?;
    let active = app.active(&environment, &component);
    let mut items = Vec::new();
    match &active {
        Some(d) => {
            for (key, spec) in &d.component.config {
                let secret = spec.kind == ConfigType::Secret;
                let show = |v: Value| if secret { Value::String(onset_model::REDACTED.into()) } else { v };
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
                items.push(ConfigItem {
                    key: key.to_string(),
                    kind: serde_json::to_value(spec.kind).ok().and_then(|v| v.as_str().map(str::to_string)),
                    secret: Some(secret),
                    source: source.into(),
                    value,
                    required: Some(spec.is_required()),
                    description: spec.description.clone(),
                });
            }
        }
        None => {
            for (key, _, _) in &set {
                items.push(ConfigItem {
                    key: key.clone(),
                    kind: None,
                    secret: None,
                    source: "set".into(),
                    value: Value::String(onset_model::REDACTED.into()),
                    required: None,
                    description: None,
                });
            }
        }
    }
    Ok(Json(ConfigList { component, environment, deployed: active.is_some(), items }))
}

/// Re-seals every config value under a new master key.
async fn rotate_key(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    OptionalBody(req): OptionalBody<Rotate>,
) -> Result<Json<Rotated>, ApiError> {
    who.admin()?;
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
    Ok(Json(Rotated {
        key_id: id,
        resealed: n,
        source: match source {
            crate::secrets::KeySource::File => "file",
            crate::secrets::KeySource::Environment => "environment",
        }
        .into(),
    }))
}
