//! Control-plane tokens and the audit log (admin only).

use serde_json::json;

use crate::api::types::{AuditEntry, AuditQuery, CreatedToken, NewToken, Page, Revoked, Token};
use crate::app::{App, now_ms};
use crate::auth::{self, Principal, Role};
use crate::service::{Kind, Result, ServiceError, limit};

/// Creates a token; its secret is in the answer and nowhere else.
pub async fn create_token(app: &App, who: &Principal, req: NewToken) -> Result<CreatedToken> {
    who.admin()?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| ServiceError::invalid("unknown_role", "role is admin, developer or viewer", "body role"))?;
    if req.name.trim().is_empty() {
        return Err(ServiceError::invalid("name_missing", "a token needs a name (who or what uses it)", "body name"));
    }
    if let Some(p) = req.permissions.iter().find(|p| p.as_str() != "promote") {
        return Err(ServiceError::invalid(
            "unknown_permission",
            format!("permission `{p}` does not exist; the one permission is `promote`"),
            "body permissions",
        ));
    }
    let can_promote = role == Role::Admin || req.permissions.iter().any(|p| p == "promote");
    let (row, token) = auth::create(app, req.name.trim(), role, can_promote).await?;
    let detail = json!({ "name": row.name, "role": row.role, "promote": can_promote });
    auth::audit(app, who, "token.create", &row.id, detail).await;
    Ok(CreatedToken { row: row.into(), token })
}

/// Every token, revoked ones too (never their secrets).
pub async fn tokens(app: &App, who: &Principal) -> Result<Page<Token>> {
    who.admin()?;
    let rows = app.store.tokens().await?;
    Ok(Page::all(rows.into_iter().map(Into::into).collect()))
}

/// Revokes a token, but not the one the request carries: that could leave nobody able to
/// manage the server.
pub async fn revoke_token(app: &App, who: &Principal, id: String) -> Result<Revoked> {
    who.admin()?;
    if id == who.token_id {
        return Err(ServiceError::Conflict {
            code: "own_token",
            message: "this request carries that token; revoke it with another admin token".into(),
            at: Some("path id"),
        });
    }
    if !app.store.revoke_token(id.clone(), now_ms()).await? {
        return Err(ServiceError::not_found(Kind::Token, id));
    }
    auth::audit(app, who, "token.revoke", &id, json!({})).await;
    Ok(Revoked { id, revoked: true })
}

/// A page of the audit log, newest first.
pub async fn audit(app: &App, who: &Principal, q: AuditQuery) -> Result<Page<AuditEntry>> {
    who.admin()?;
    let limit = limit(q.limit)?;
    let mut rows = app.store.audit(limit + 1, q.cursor).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(Into::into).collect(), next_cursor })
}
