//! `/api/v1/plans`, `/api/v1/applications`, `/api/v1/subscriptions`: API management for owners.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{
    ApiKey, Application, CreatedApplication, IssuedKeys, NewApplication, NewPlan, NewSubscription, Page, Plan, Removed,
    Subscription, SubscriptionQuery,
};
use super::{Body, Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::gateway;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get(
            "/api/v1/plans",
            "listPlans",
            "Plans subscriptions are made under (Bronze, Silver, Gold, Unlimited and the admins')",
        )
        .tag("api-management")
        .answers::<Page<Plan>>(200, "Every plan"),
        get(plans),
    )
    .add(
        Op::post("/api/v1/plans", "createPlan", "A new plan: a rate limit and daily and monthly quotas (admin)")
            .tag("api-management")
            .body::<NewPlan>()
            .answers::<Plan>(201, "Created")
            .errors(&[400, 403, 409]),
        post(create_plan),
    )
    .add(
        Op::get("/api/v1/applications", "listApplications", "Consumers' applications")
            .tag("api-management")
            .answers::<Page<Application>>(200, "Every application"),
        get(applications),
    )
    .add(
        Op::post(
            "/api/v1/applications",
            "createApplication",
            "A new application; its client secret is answered this once",
        )
        .tag("api-management")
        .body::<NewApplication>()
        .answers::<CreatedApplication>(201, "Created")
        .errors(&[400, 403]),
        post(create_application),
    )
    .add(
        Op::delete(
            "/api/v1/applications/{id}",
            "deleteApplication",
            "Remove an application with its keys and subscriptions",
        )
        .tag("api-management")
        .answers::<Removed>(200, "Removed")
        .errors(&[403, 404, 409]),
        delete(delete_application),
    )
    .add(
        Op::get(
            "/api/v1/applications/{id}/keys",
            "listApplicationKeys",
            "The application's keys in use (prefixes only)",
        )
        .tag("api-management")
        .answers::<Page<ApiKey>>(200, "Its keys")
        .errors(&[404, 409]),
        get(keys),
    )
    .add(
        Op::post(
            "/api/v1/applications/{id}/keys",
            "issueApplicationKeys",
            "New sandbox (development) and production keys, answered this once; the previous ones stop working",
        )
        .tag("api-management")
        .answers::<IssuedKeys>(201, "The keys")
        .errors(&[403, 404, 409]),
        post(issue_keys),
    )
    .add(
        Op::get("/api/v1/subscriptions", "listSubscriptions", "Subscriptions of applications to components' APIs")
            .tag("api-management")
            .query::<SubscriptionQuery>()
            .answers::<Page<Subscription>>(200, "Subscriptions, oldest first")
            .errors(&[400, 404]),
        get(subscriptions),
    )
    .add(
        Op::post(
            "/api/v1/subscriptions",
            "createSubscription",
            "Subscribe an application to a component's API in an environment under a plan",
        )
        .tag("api-management")
        .body::<NewSubscription>()
        .answers::<Subscription>(201, "Subscribed")
        .errors(&[400, 403, 404, 409]),
        post(subscribe),
    )
    .add(
        Op::delete("/api/v1/subscriptions/{id}", "deleteSubscription", "End a subscription")
            .tag("api-management")
            .answers::<Removed>(200, "Removed")
            .errors(&[403, 404]),
        delete(unsubscribe),
    )
}

async fn plans(State(app): State<Arc<App>>) -> Result<Json<Page<Plan>>, ApiError> {
    Ok(Json(Page::all(gateway::plans(&app).await?)))
}

async fn create_plan(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewPlan>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    Ok((StatusCode::CREATED, Json(gateway::create_plan(&app, &who, req).await?)))
}

async fn applications(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<Application>>, ApiError> {
    Ok(Json(Page::all(gateway::applications(&app, &gateway::Caller::Owner(&who)).await?)))
}

async fn create_application(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewApplication>,
) -> Result<(StatusCode, Json<CreatedApplication>), ApiError> {
    Ok((StatusCode::CREATED, Json(gateway::create_application(&app, &gateway::Caller::Owner(&who), req).await?)))
}

async fn delete_application(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    Ok(Json(gateway::delete_application(&app, &gateway::Caller::Owner(&who), id).await?))
}

async fn keys(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    Ok(Json(Page::all(gateway::keys(&app, &gateway::Caller::Owner(&who), id).await?)))
}

async fn issue_keys(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<IssuedKeys>), ApiError> {
    Ok((StatusCode::CREATED, Json(gateway::issue_keys(&app, &gateway::Caller::Owner(&who), id).await?)))
}

async fn subscriptions(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Q(q): Q<SubscriptionQuery>,
) -> Result<Json<Page<Subscription>>, ApiError> {
    Ok(Json(Page::all(gateway::subscriptions(&app, &gateway::Caller::Owner(&who), q).await?)))
}

async fn subscribe(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    Ok((StatusCode::CREATED, Json(gateway::subscribe(&app, &gateway::Caller::Owner(&who), req).await?)))
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    Ok(Json(gateway::unsubscribe(&app, &gateway::Caller::Owner(&who), id).await?))
}
