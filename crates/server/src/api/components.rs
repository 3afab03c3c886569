//! `/api/v1/components`: what is active where; pause, resume, undeploy, replay dead letters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{
    Component, DeadReplay, EnvironmentQuery, Lifecycle, Page, PauseState, PostmanFile, PostmanQuery, SetLifecycle,
    SignRequest, SignedRequest, Undeployed,
};
use super::{Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::components;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/components", "listComponents", "Components active in any environment")
            .tag("components")
            .answers::<Page<Component>>(200, "Every active component"),
        get(list),
    )
    .add(
        Op::get(
            "/api/v1/components/{name}",
            "getComponent",
            "One component in one environment, with its trigger's health",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<Component>(200, "The component")
        .errors(&[400, 404]),
        get(one),
    )
    .add(
        Op::delete(
            "/api/v1/components/{name}",
            "undeployComponent",
            "Remove a component from an environment (and its provider registration)",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<Undeployed>(200, "Removed")
        .errors(&[400, 403, 404, 502]),
        axum::routing::delete(undeploy),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/pause",
            "pauseComponent",
            "Keep accepting events but run none until resumed",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<PauseState>(200, "Paused")
        .errors(&[400, 403, 404]),
        post(pause),
    )
    .add(
        Op::post("/api/v1/components/{name}/resume", "resumeComponent", "Run again, starting with what waited")
            .tag("components")
            .query::<EnvironmentQuery>()
            .answers::<PauseState>(200, "Resumed")
            .errors(&[400, 403, 404]),
        post(resume),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/dead/replay",
            "replayDeadRuns",
            "Run every dead-lettered run again on the active deployment",
        )
        .tag("runs")
        .query::<EnvironmentQuery>()
        .answers::<DeadReplay>(202, "Queued")
        .errors(&[400, 403, 404]),
        post(replay_dead),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/sign",
            "signRequest",
            "Sign a request as the trigger's provider would, with the environment's secret (nothing is sent)",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .body::<SignRequest>()
        .answers::<SignedRequest>(200, "The request to send, with the headers its signature needs")
        .errors(&[400, 403, 404, 422]),
        post(sign),
    )
    .add(
        Op::get(
            "/api/v1/components/{name}/openapi.json",
            "getComponentOpenApi",
            "The OpenAPI 3.1 document of the component's API in one environment, from its handlers",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<serde_json::Map<String, serde_json::Value>>(200, "The OpenAPI document")
        .errors(&[400, 404]),
        get(openapi),
    )
    .add(
        Op::get(
            "/api/v1/components/{name}/postman.json",
            "getComponentPostman",
            "A Postman collection (v2.1) of the component's API in one environment, or its environment file",
        )
        .tag("components")
        .query::<PostmanQuery>()
        .answers::<serde_json::Map<String, serde_json::Value>>(200, "The collection (or environment file)")
        .errors(&[400, 404]),
        get(postman),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/lifecycle",
            "setComponentLifecycle",
            "Publish, deprecate (still served, marked, `Deprecation` on every answer) or retire (404) the component's API in an environment",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .body::<SetLifecycle>()
        .answers::<Lifecycle>(200, "The API's state there")
        .errors(&[400, 403, 404]),
        post(set_lifecycle),
    )
}

async fn set_lifecycle(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    super::Body(req): super::Body<SetLifecycle>,
) -> Result<Json<Lifecycle>, ApiError> {
    Ok(Json(components::set_lifecycle(&app, &who, &name, q.environment.as_deref(), req.state).await?))
}

async fn postman(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Q(q): Q<PostmanQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    let doc = components::openapi(&app, &name, q.environment.as_deref(), host)?;
    let environment = q.environment.as_deref().unwrap_or(crate::app::DEVELOPMENT);
    let (collection, env_file) = onset_gateway::postman::collection(&doc, environment);
    Ok(Json(if q.file.unwrap_or_default() == PostmanFile::Environment { env_file } else { collection }))
}

async fn openapi(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    Ok(Json(components::openapi(&app, &name, q.environment.as_deref(), host)?))
}

async fn list(State(app): State<Arc<App>>) -> Json<Page<Component>> {
    Json(components::list(&app))
}

async fn one(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<Component>, ApiError> {
    Ok(Json(components::get(&app, &name, q.environment.as_deref())?))
}

async fn pause(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<PauseState>, ApiError> {
    Ok(Json(components::set_paused(&app, &who, name, q.environment.as_deref(), true).await?))
}

async fn resume(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<PauseState>, ApiError> {
    Ok(Json(components::set_paused(&app, &who, name, q.environment.as_deref(), false).await?))
}

async fn undeploy(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<Undeployed>, ApiError> {
    Ok(Json(components::undeploy(&app, &who, name, q.environment.as_deref()).await?))
}

async fn replay_dead(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<(StatusCode, Json<DeadReplay>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(components::replay_dead(&app, &who, name, q.environment.as_deref()).await?)))
}

async fn sign(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    headers: axum::http::HeaderMap,
    super::Body(request): super::Body<SignRequest>,
) -> Result<Json<SignedRequest>, ApiError> {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    Ok(Json(components::sign(&app, &who, &name, q.environment.as_deref(), request, host.as_deref()).await?))
}
