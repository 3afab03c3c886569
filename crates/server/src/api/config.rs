//! `/api/v1/environments`, `/api/v1/config/{component}` and `/api/v1/keys/rotate`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{
    ConfigList, ConfigSet, CreatedEnvironment, Environment, EnvironmentQuery, NewEnvironment, Page, Rotate, Rotated,
    SetConfig,
};
use super::{Body, OptionalBody, Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::config;

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
    Json(config::environments(&app))
}

async fn create_environment(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewEnvironment>,
) -> Result<(StatusCode, Json<CreatedEnvironment>), ApiError> {
    Ok((StatusCode::CREATED, Json(config::create_environment(&app, &who, req).await?)))
}

async fn set_config(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(component): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    Body(req): Body<SetConfig>,
) -> Result<Json<ConfigSet>, ApiError> {
    Ok(Json(config::set(&app, &who, component, q.environment.as_deref(), req.values).await?))
}

async fn list_config(
    State(app): State<Arc<App>>,
    Path(component): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<ConfigList>, ApiError> {
    Ok(Json(config::list(&app, component, q.environment.as_deref()).await?))
}

async fn rotate_key(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    OptionalBody(req): OptionalBody<Rotate>,
) -> Result<Json<Rotated>, ApiError> {
    Ok(Json(config::rotate(&app, &who, req).await?))
}
