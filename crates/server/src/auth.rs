//! Control-plane access: every `/api/v1` request carries `Authorization: Bearer <token>`.
//! Only a hash of each token is stored. Roles: `admin` (everything), `developer` (changes in
//! every environment but production; promotes into production only with the `promote`
//! permission), `viewer` (reads). Every change is written to the audit log.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use onset_store::{AuditRow, TokenRow};
use serde_json::Value;

use crate::app::{App, new_id, now_ms};
use crate::error::ApiError;
use crate::service::ServiceError;

/// The environment only admins and promoting developers may change.
pub const PRODUCTION: &str = "production";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Developer,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "developer" => Some(Role::Developer),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }
}

/// Who is calling: the token's name, role and permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The id of the token the request carries.
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub can_promote: bool,
}

fn forbidden(message: String) -> ServiceError {
    ServiceError::Forbidden(message)
}

impl Principal {
    /// May this token change what runs in `environment` (deploy, config, pause, replay…)?
    pub fn may_change(&self, environment: &str) -> Result<(), ServiceError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Developer if environment != PRODUCTION => Ok(()),
            Role::Developer => Err(forbidden(format!(
                "token `{}` (developer) cannot change `{PRODUCTION}`; promote into it with a token that has the promote permission",
                self.name
            ))),
            Role::Viewer => Err(forbidden(format!("token `{}` is a viewer: it can only read", self.name))),
        }
    }

    /// May this token promote a build into `environment`? Into production, a developer needs
    /// the `promote` permission.
    pub fn may_promote(&self, environment: &str) -> Result<(), ServiceError> {
        match self.role {
            Role::Developer if environment == PRODUCTION && !self.can_promote => Err(forbidden(format!(
                "token `{}` (developer) has no promote permission for `{PRODUCTION}`",
                self.name
            ))),
            Role::Developer => Ok(()),
            _ => self.may_change(environment),
        }
    }

    pub fn admin(&self) -> Result<(), ServiceError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(forbidden(format!("only admin tokens may do this; `{}` is a {}", self.name, self.role.as_str())))
        }
    }
}

pub fn hash(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token: `onset_` and 244 random bits in hex.
pub fn new_token() -> String {
    format!("onset_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Stores a new token and returns its row and the token itself (shown once).
pub async fn create(
    app: &App,
    name: &str,
    role: Role,
    can_promote: bool,
) -> Result<(TokenRow, String), onset_store::StoreError> {
    let token = new_token();
    let row = TokenRow {
        id: new_id(),
        name: name.to_string(),
        hash: hash(&token),
        role: role.as_str().to_string(),
        can_promote,
        created_at: now_ms(),
        revoked_at: None,
    };
    app.store.create_token(row.clone()).await?;
    Ok((row, token))
}

/// Tokens shorter than this are refused as `ONSET_ADMIN_TOKEN`.
const MIN_SEEDED_TOKEN: usize = 32;

/// The first start creates an admin token (`ONSET_ADMIN_TOKEN` when set, so every node of a
/// new database can be given the same one; else a random one) and writes it to
/// `<data-dir>/admin-token` (0600). A store that has tokens keeps them: the variable seeds once.
pub async fn bootstrap(app: &App) -> Result<(), String> {
    if let Some(seed) = &app.config.admin_token
        && seed.trim().len() < MIN_SEEDED_TOKEN
    {
        return Err(format!(
            "ONSET_ADMIN_TOKEN has {} characters; give at least {MIN_SEEDED_TOKEN} (e.g. `openssl rand -hex 32`)",
            seed.trim().len()
        ));
    }
    if !app.store.tokens().await.map_err(|e| e.to_string())?.is_empty() {
        return Ok(());
    }
    let token = match &app.config.admin_token {
        Some(seed) => {
            let token = seed.trim().to_string();
            let row = TokenRow {
                id: new_id(),
                name: "admin".into(),
                hash: hash(&token),
                role: Role::Admin.as_str().to_string(),
                can_promote: true,
                created_at: now_ms(),
                revoked_at: None,
            };
            app.store.create_token(row).await.map_err(|e| e.to_string())?;
            token
        }
        None => create(app, "admin", Role::Admin, true).await.map_err(|e| e.to_string())?.1,
    };
    let path = app.config.data_dir.join("admin-token");
    write_private(&path, &(token + "\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "created the admin token");
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

/// The middleware in front of `/api/v1`: finds the caller's token or answers 401.
pub async fn require_token(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = given.filter(|t| !t.is_empty()) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_missing",
            "the control plane needs `Authorization: Bearer <token>`; the first admin token is in <data-dir>/admin-token",
        )
        .at("header authorization")
        .into_response();
    };
    match app.store.token_by_hash(hash(token)).await {
        Ok(Some(row)) => {
            let principal = Principal {
                token_id: row.id,
                name: row.name,
                role: Role::parse(&row.role).unwrap_or(Role::Viewer),
                can_promote: row.can_promote,
            };
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Ok(None) => ApiError::new(StatusCode::UNAUTHORIZED, "token_invalid", "the token is unknown or revoked")
            .at("header authorization")
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Records a change in the audit log; a failure to record is logged, the change stands.
pub async fn audit(app: &App, who: &Principal, action: &str, target: &str, detail: Value) {
    let row = AuditRow {
        id: new_id(),
        at: now_ms(),
        actor: who.name.clone(),
        action: action.to_string(),
        target: target.to_string(),
        detail,
    };
    if let Err(e) = app.store.add_audit(row).await {
        tracing::error!(error = %e, action, target, "the audit entry was not stored");
    }
}
