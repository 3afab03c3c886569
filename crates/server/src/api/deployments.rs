//! `/api/v1/deployments`, promotion and rollback.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{
    DeployFailure, DeployResult, Deployment, DeploymentDetail, DeploymentQuery, LogLine, NewDeployment, Page, Promote,
    Rollback,
};
use super::{Body, OptionalBody, Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::deployments;

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

async fn create(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewDeployment>,
) -> Result<(StatusCode, Json<DeployResult>), ApiError> {
    let (result, changed) = deployments::deploy(&app, &who, req).await?;
    Ok((if changed { StatusCode::CREATED } else { StatusCode::OK }, Json(result)))
}

async fn list(State(app): State<Arc<App>>, Q(q): Q<DeploymentQuery>) -> Result<Json<Page<Deployment>>, ApiError> {
    Ok(Json(deployments::list(&app, q).await?))
}

async fn one(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<DeploymentDetail>, ApiError> {
    Ok(Json(deployments::get(&app, id).await?))
}

async fn logs(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Page<LogLine>>, ApiError> {
    Ok(Json(deployments::logs(&app, id).await?))
}

async fn promote(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    OptionalBody(req): OptionalBody<Promote>,
) -> Result<(StatusCode, Json<DeployResult>), ApiError> {
    Ok((StatusCode::CREATED, Json(deployments::promote(&app, &who, &name, req).await?)))
}

async fn rollback(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Body(req): Body<Rollback>,
) -> Result<Json<DeployResult>, ApiError> {
    Ok(Json(deployments::rollback(&app, &who, &name, req).await?))
}
