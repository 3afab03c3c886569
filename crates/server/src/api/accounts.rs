//! `/api/v1/accounts`: named credential sets per environment (secret fields sealed, never shown
//! back), and `/api/v1/catalog/accounts`: the account types and their fields.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{AccountDeleted, AccountItem, AccountTested, AccountTypeInfo, EnvironmentQuery, Page, SetAccount};
use super::{Body, Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::accounts;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/accounts", "listAccounts", "The accounts of an environment (secret fields masked)")
            .tag("accounts")
            .query::<EnvironmentQuery>()
            .answers::<Page<AccountItem>>(200, "Accounts by name")
            .errors(&[404]),
        get(list),
    )
    .add(
        Op::put(
            "/api/v1/accounts/{name}",
            "setAccount",
            "Create an account or change some of its fields in an environment; sealed at rest",
        )
        .tag("accounts")
        .query::<EnvironmentQuery>()
        .body::<SetAccount>()
        .answers::<AccountItem>(200, "The account as stored (secrets masked)")
        .errors(&[400, 403, 404]),
        put(set),
    )
    .add(
        Op::delete("/api/v1/accounts/{name}", "deleteAccount", "Remove an account from an environment")
            .tag("accounts")
            .query::<EnvironmentQuery>()
            .answers::<AccountDeleted>(200, "Removed")
            .errors(&[403, 404]),
        axum::routing::delete(delete),
    )
    .add(
        Op::post(
            "/api/v1/accounts/{name}/test",
            "testAccount",
            "Make a cheap real call with the account (its test_url, or an OAuth2 token request)",
        )
        .tag("accounts")
        .query::<EnvironmentQuery>()
        .answers::<AccountTested>(200, "The call and its answer")
        .errors(&[403, 404, 422]),
        post(test),
    )
    .add(
        Op::get("/api/v1/catalog/accounts", "listAccountTypes", "Every account type with its fields")
            .tag("catalog")
            .answers::<Page<AccountTypeInfo>>(200, "Account types"),
        get(types),
    )
}

async fn list(State(app): State<Arc<App>>, Q(q): Q<EnvironmentQuery>) -> Result<Json<Page<AccountItem>>, ApiError> {
    Ok(Json(accounts::list(&app, q.environment.as_deref()).await?))
}

async fn set(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
    Body(req): Body<SetAccount>,
) -> Result<Json<AccountItem>, ApiError> {
    Ok(Json(accounts::set(&app, &who, name, q.environment.as_deref(), req).await?))
}

async fn delete(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<AccountDeleted>, ApiError> {
    Ok(Json(accounts::delete(&app, &who, name, q.environment.as_deref()).await?))
}

async fn test(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<AccountTested>, ApiError> {
    Ok(Json(accounts::test(&app, &who, name, q.environment.as_deref()).await?))
}

async fn types() -> Json<Page<AccountTypeInfo>> {
    Json(accounts::types())
}
