//! `/api/v1/deployments`, promotion and rollback.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use onset_model::SourceFile;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, DEVELOPMENT};
use crate::auth::{self, Principal};
use crate::deploy::Deployed;
use crate::deployments::{Failure, Origin, build_id};
use crate::error::{ApiError, json_body};

fn known_environment(app: &App, env: &str, location: &str) -> Result<(), ApiError> {
    if app.knows_environment(env) {
        return Ok(());
    }
    Err(ApiError::not_found(
        "unknown_environment",
        format!("there is no environment `{env}`; environments: {}", app.environment_list().join(", ")),
    )
    .at(location))
}

/// 422 with every reason, the failed deployment's id when one was recorded, and the config
/// keys that have no value (so a CLI can ask for them).
fn failed(f: Failure, missing: Vec<(String, Option<String>, bool)>) -> Response {
    let missing: Vec<Value> = missing
        .into_iter()
        .map(|(key, description, secret)| json!({ "key": key, "description": description, "secret": secret }))
        .collect();
    let body = json!({
        "code": "deploy_failed",
        "message": f.errors.join("\n"),
        "errors": f.errors,
        "deployment_id": f.deployment_id,
        "missing_config": missing,
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn answer(app: &App, d: &Deployed, status: StatusCode) -> Response {
    let row = app.store.deployment(d.id.clone()).await.ok().flatten();
    let log = app.store.deployment_logs(d.id.clone()).await.unwrap_or_default();
    let log: Vec<Value> =
        log.into_iter().map(|(at, m)| json!({ "at": onset_store::time::rfc3339(at), "message": m })).collect();
    (status, Json(json!({ "deployment": row, "log": log }))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    #[serde(default)]
    environment: Option<String>,
    /// The component file as written; `path` names it in error messages.
    source: String,
    #[serde(default)]
    path: Option<String>,
    /// Files the component refers to (`script_file`), path → text.
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Where the build came from (`{"git": {url, ref, commit}}`).
    #[serde(default)]
    meta: Option<Value>,
}

/// Validates, builds, registers and activates one component; a failure is recorded with its
/// log and nothing is activated.
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    req: Result<Json<NewDeployment>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = json_body(req)?;
    let environment = req.environment.unwrap_or_else(|| DEVELOPMENT.to_string());
    known_environment(&app, &environment, "body environment")?;
    who.may_change(&environment)?;
    let path = std::path::PathBuf::from(req.path.unwrap_or_else(|| "component.yaml".into()));
    // The same one-pass check as `onset validate`, at file:line:column.
    let problems = crate::validation::validate_source(&path, &req.source);
    if !problems.is_empty() {
        return Ok(failed(Failure::from(problems.iter().map(ToString::to_string).collect::<Vec<_>>()), Vec::new()));
    }
    let file = SourceFile { path, text: req.source, files: req.files };
    let parsed = crate::app::parse(&file).ok();
    let before = parsed.as_ref().and_then(|c| app.active(&environment, c.component.as_str()));
    let origin = Origin { meta: req.meta.unwrap_or_else(|| json!({})), actor: Some(who.name.clone()) };
    match app.deploy_from(&environment, &file, origin).await {
        Ok(d) => {
            let unchanged = before.is_some_and(|b| b.id == d.id);
            if !unchanged {
                auth::audit(
                    &app,
                    &who,
                    "deploy",
                    &format!("{environment}/{}", d.name()),
                    json!({ "deployment": d.id, "build": build_id(&file) }),
                )
                .await;
            }
            Ok(answer(&app, &d, if unchanged { StatusCode::OK } else { StatusCode::CREATED }).await)
        }
        Err(f) => {
            let missing = match &parsed {
                Some(c) => app.missing_config(c, &environment).await,
                None => Vec::new(),
            };
            Ok(failed(f, missing))
        }
    }
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50u32).clamp(1, 500);
    let rows = app.store.deployments(q.get("component").cloned(), q.get("environment").cloned(), limit).await?;
    Ok(Json(json!({ "items": rows, "next_cursor": null })))
}

pub async fn get_one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let row = app
        .store
        .deployment(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_deployment", format!("no deployment `{id}`")))?;
    let log = app.store.deployment_logs(id).await?;
    let log: Vec<Value> =
        log.into_iter().map(|(at, m)| json!({ "at": onset_store::time::rfc3339(at), "message": m })).collect();
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    v["log"] = Value::from(log);
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Promote {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// Deploys the build active in `from` (default development) to `to` (default the next
/// environment), with the target's config.
pub async fn promote(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    req: Option<Json<Promote>>,
) -> Result<Response, ApiError> {
    let req = req.map(|Json(r)| r).unwrap_or_default();
    let from = req.from.unwrap_or_else(|| DEVELOPMENT.to_string());
    known_environment(&app, &from, "body from")?;
    let order = app.environment_list();
    let to = match req.to {
        Some(t) => t,
        None => {
            let i = order.iter().position(|e| *e == from).unwrap_or(0);
            order.get(i + 1).cloned().ok_or_else(|| {
                ApiError::bad_request("no_next_environment", format!("`{from}` is the last environment; name `to`"))
                    .at("body to")
            })?
        }
    };
    known_environment(&app, &to, "body to")?;
    who.may_promote(&to)?;
    match app.promote(&name, &from, &to, Some(who.name.clone())).await {
        Ok(d) => {
            auth::audit(&app, &who, "promote", &format!("{to}/{name}"), json!({ "from": from, "deployment": d.id }))
                .await;
            Ok(answer(&app, &d, StatusCode::CREATED).await)
        }
        Err(f) => {
            let missing = match app.active(&from, &name) {
                Some(d) => app.missing_config(&d.component, &to).await,
                None => Vec::new(),
            };
            Ok(failed(f, missing))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    environment: String,
    #[serde(default)]
    to: Option<String>,
}

pub async fn rollback(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    req: Result<Json<Rollback>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = json_body(req)?;
    known_environment(&app, &req.environment, "body environment")?;
    who.may_change(&req.environment)?;
    match app.rollback(&name, &req.environment, req.to.as_deref(), &who.name).await {
        Ok(d) => {
            auth::audit(&app, &who, "rollback", &format!("{}/{name}", req.environment), json!({ "deployment": d.id }))
                .await;
            Ok(answer(&app, &d, StatusCode::OK).await)
        }
        Err(f) => Ok(failed(f, Vec::new())),
    }
}
