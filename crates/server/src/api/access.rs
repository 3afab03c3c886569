//! `/api/v1/tokens` and `/api/v1/audit` (admin only).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{AuditEntry, AuditQuery, CreatedToken, NewToken, Page, Revoked, Token};
use super::{Body, Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::access;

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
    Ok((StatusCode::CREATED, Json(access::create_token(&app, &who, req).await?)))
}

async fn list(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<Token>>, ApiError> {
    Ok(Json(access::tokens(&app, &who).await?))
}

async fn revoke(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(access::revoke_token(&app, &who, id).await?))
}

async fn audit(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    Ok(Json(access::audit(&app, &who, q).await?))
}
