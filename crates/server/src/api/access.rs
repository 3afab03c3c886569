//! `/api/v1/tokens` and `/api/v1/audit` (admin only).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json};
use serde_json::json;

use super::doc::Op;
use super::types::{AuditEntry, AuditQuery, CreatedToken, NewToken, Page, Revoked, Token};
use super::{Body, Q, Table, limit};
use crate::app::{App, now_ms};
use crate::auth::{self, Principal, Role};
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/tokens", "listTokens", "Control-plane tokens (admin)")
            .tag("access")
            .answers::<Page<Token>>(200, "Tokens, revoked ones too")
            .errors(&[403]),
        get(list),
    )
    .add(
        Op::post("/api/v1/tokens", "createToken", "Create a token; its secret is shown this once (admin)")
            .tag("access")
            .body::<NewToken>()
            .answers::<CreatedToken>(201, "Created")
            .errors(&[400, 403]),
        axum::routing::post(create),
    )
    .add(
        Op::delete("/api/v1/tokens/{id}", "revokeToken", "Revoke a token (admin)")
            .tag("access")
            .answers::<Revoked>(200, "Revoked")
            .errors(&[403, 404, 409]),
        delete(revoke),
    )
    .add(
        Op::get("/api/v1/audit", "listAudit", "Every change made through the control plane, newest first (admin)")
            .tag("access")
            .query::<AuditQuery>()
            .answers::<Page<AuditEntry>>(200, "A page of the audit log")
            .errors(&[400, 403]),
        get(audit),
    )
}

async fn create(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Body(req): Body<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    who.admin()?;
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
    Ok((StatusCode::CREATED, Json(CreatedToken { row: row.into(), token })))
}

async fn list(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<Token>>, ApiError> {
    who.admin()?;
    let rows = app.store.tokens().await?;
    Ok(Json(Page::all(rows.into_iter().map(Into::into).collect())))
}

async fn revoke(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    who.admin()?;
    if id == who.token_id {
        // Revoking the token in hand could leave nobody able to manage the server.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "own_token",
            "this request carries that token; revoke it with another admin token",
        )
        .at("path id"));
    }
    if !app.store.revoke_token(id.clone(), now_ms()).await? {
        return Err(ApiError::not_found("unknown_token", format!("no active token `{id}`")).at("path id"));
    }
    auth::audit(&app, &who, "token.revoke", &id, json!({})).await;
    Ok(Json(Revoked { id, revoked: true }))
}

async fn audit(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    who.admin()?;
    let limit = limit(q.limit)?;
    let mut rows = app.store.audit(limit + 1, q.cursor).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor }))
}
