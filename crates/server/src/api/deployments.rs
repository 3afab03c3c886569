//! `/api/v1/deployments`, promotion and rollback.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use onset_model::SourceFile;
use serde_json::json;

use super::doc::Op;
use super::types::{
    DeployFailure, DeployResult, Deployment, DeploymentDetail, DeploymentQuery, LogLine, MissingConfig, NewDeployment,
    Page, Promote, Rollback,
};
use super::{Body, OptionalBody, Q, Table, environment, environment_filter, limit};
use crate::app::{App, DEVELOPMENT};
use crate::auth::{self, Principal};
use crate::deploy::Deployed;
use crate::deployments::{Failure, Origin, build_id};
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/deployments", "listDeployments", "Deployments, newest first")
            .tag("deployments")
            .query::<DeploymentQuery>()
            .answers::<Page<Deployment>>(200, "Deployments")
            .errors(&[400, 404]),
        get(list),
    )
    .add(
        Op::post("/api/v1/deployments", "createDeployment", "Validate, build, register and activate one component")
            .tag("deployments")
            .body::<NewDeployment>()
            .answers::<DeployResult>(201, "Activated")
            .answers::<DeployResult>(200, "The same build was active already")
            .answers::<DeployFailure>(422, "Not deployed; every reason and each missing config key")
            .errors(&[400, 403, 404]),
        post(create),
    )
    .add(
        Op::get("/api/v1/deployments/{id}", "getDeployment", "One deployment with its log")
            .tag("deployments")
            .answers::<DeploymentDetail>(200, "The deployment")
            .errors(&[404]),
        get(one),
    )
    .add(
        Op::get("/api/v1/deployments/{id}/logs", "getDeploymentLogs", "What a deployment did, timestamped")
            .tag("deployments")
            .answers::<Page<LogLine>>(200, "The log")
            .errors(&[404]),
        get(logs),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/promote",
            "promoteComponent",
            "Deploy the build active in one environment to the next, with that environment's config",
        )
        .tag("deployments")
        .body::<Promote>()
        .answers::<DeployResult>(201, "Promoted")
        .answers::<DeployFailure>(422, "Not promoted; every reason and each missing config key")
        .errors(&[400, 403, 404]),
        post(promote),
    )
    .add(
        Op::post("/api/v1/components/{name}/rollback", "rollbackComponent", "Make an earlier deployment active again")
            .tag("deployments")
            .body::<Rollback>()
            .answers::<DeployResult>(200, "Rolled back")
            .answers::<DeployFailure>(422, "Not rolled back")
            .errors(&[400, 403, 404]),
        post(rollback),
    )
}

fn log_lines(lines: Vec<(i64, String)>) -> Vec<LogLine> {
    lines.into_iter().map(|(at, message)| LogLine { at: onset_store::time::rfc3339(at), message }).collect()
}

/// 422 with every reason, the failed deployment's id when one was recorded, and the config
/// keys that have no value (so a CLI can ask for them).
fn failed(f: Failure, missing: Vec<(String, Option<String>, bool)>) -> Response {
    let body = DeployFailure {
        code: "deploy_failed".into(),
        message: f.errors.join("\n"),
        errors: f.errors,
        deployment_id: f.deployment_id,
        missing_config: missing
            .into_iter()
            .map(|(key, description, secret)| MissingConfig { key, description, secret })
            .collect(),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn answer(app: &App, d: &Deployed, status: StatusCode) -> Response {
    let row = app.store.deployment(d.id.clone()).await.ok().flatten();
    let log = app.store.deployment_logs(d.id.clone()).await.unwrap_or_default();
    (status, Json(DeployResult { deployment: row.map(Into::into), log: log_lines(log) })).into_response()
}

async fn create(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewDeployment>,
) -> Result<Response, ApiError> {
    let environment = environment(&app, req.environment.as_deref(), "body environment")?;
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
    let meta = req.meta.map_or_else(|| json!({}), serde_json::Value::Object);
    let origin = Origin { meta, actor: Some(who.name.clone()) };
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

async fn list(State(app): State<Arc<App>>, Q(q): Q<DeploymentQuery>) -> Result<Json<Page<Deployment>>, ApiError> {
    let environment = environment_filter(&app, q.environment.as_deref())?;
    let rows = app.store.deployments(q.component, environment, limit(q.limit)?).await?;
    Ok(Json(Page::all(rows.into_iter().map(Into::into).collect())))
}

fn unknown_deployment(id: &str) -> ApiError {
    ApiError::not_found("unknown_deployment", format!("no deployment `{id}`")).at("path id")
}

async fn one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<DeploymentDetail>, ApiError> {
    let row = app.store.deployment(id.clone()).await?.ok_or_else(|| unknown_deployment(&id))?;
    let log = app.store.deployment_logs(id).await?;
    Ok(Json(DeploymentDetail { deployment: row.into(), log: log_lines(log) }))
}

async fn logs(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Page<LogLine>>, ApiError> {
    if app.store.deployment(id.clone()).await?.is_none() {
        return Err(unknown_deployment(&id));
    }
    Ok(Json(Page::all(log_lines(app.store.deployment_logs(id).await?))))
}

/// Deploys the build active in `from` (default development) to `to` (default the next
/// environment), with the target's config.
async fn promote(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    OptionalBody(req): OptionalBody<Promote>,
) -> Result<Response, ApiError> {
    let from = environment(&app, Some(req.from.as_deref().unwrap_or(DEVELOPMENT)), "body from")?;
    let to = match req.to {
        Some(t) => environment(&app, Some(&t), "body to")?,
        None => {
            let order = app.environment_list();
            let i = order.iter().position(|e| *e == from).unwrap_or(0);
            order.get(i + 1).cloned().ok_or_else(|| {
                ApiError::bad_request("no_next_environment", format!("`{from}` is the last environment; name `to`"))
                    .at("body to")
            })?
        }
    };
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

async fn rollback(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Body(req): Body<Rollback>,
) -> Result<Response, ApiError> {
    let environment = environment(&app, Some(&req.environment), "body environment")?;
    who.may_change(&environment)?;
    match app.rollback(&name, &environment, req.to.as_deref(), &who.name).await {
        Ok(d) => {
            auth::audit(&app, &who, "rollback", &format!("{environment}/{name}"), json!({ "deployment": d.id })).await;
            Ok(answer(&app, &d, StatusCode::OK).await)
        }
        Err(f) => Ok(failed(f, Vec::new())),
    }
}
