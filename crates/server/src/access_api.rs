//! `/api/v1/tokens` and `/api/v1/audit` (admin only).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::auth::{self, Principal, Role};
use crate::error::{ApiError, json_body};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    permissions: Vec<String>,
}

pub async fn create_token(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    who.admin()?;
    let req = json_body(body)?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::bad_request("unknown_role", "role is admin, developer or viewer").at("body role"))?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("name_missing", "a token needs a name (who or what uses it)").at("body name"));
    }
    if let Some(p) = req.permissions.iter().find(|p| p.as_str() != "promote") {
        return Err(ApiError::bad_request(
            "unknown_permission",
            format!("permission `{p}` does not exist; the one permission is `promote`"),
        )
        .at("body permissions"));
    }
    let can_promote = role == Role::Admin || req.permissions.iter().any(|p| p == "promote");
    let (row, token) = auth::create(&app, req.name.trim(), role, can_promote).await?;
    auth::audit(
        &app,
        &who,
        "token.create",
        &row.id,
        json!({ "name": row.name, "role": row.role, "promote": can_promote }),
    )
    .await;
    let mut body = serde_json::to_value(&row).unwrap_or(Value::Null);
    body["token"] = Value::String(token);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn tokens(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    who.admin()?;
    let rows = app.store.tokens().await?;
    Ok(Json(json!({ "items": rows, "next_cursor": null })))
}

pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.admin()?;
    if !app.store.revoke_token(id.clone(), now_ms()).await? {
        return Err(ApiError::not_found("unknown_token", format!("no active token `{id}`")));
    }
    auth::audit(&app, &who, "token.revoke", &id, json!({})).await;
    Ok(Json(json!({ "id": id, "revoked": true })))
}

pub async fn audit(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    who.admin()?;
    let limit: u32 = match q.get("limit") {
        None => 50,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::bad_request("invalid_limit", "limit is 1 to 500").at("query limit"))?,
    };
    let mut rows = app.store.audit(limit + 1, q.get("cursor").cloned()).await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(json!({ "items": rows, "next_cursor": next })))
}
