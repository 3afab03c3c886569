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

/// The web UI's session cookie: the caller's token hash, a CSRF secret and an expiry, sealed
/// with the node's master key (so every node of a cluster reads it, and nobody can forge or
/// read one). HttpOnly, SameSite=Strict.
pub const SESSION_COOKIE: &str = "onset_session";
/// The CSRF secret of the session, readable by the page: writes made with the session cookie
/// must repeat it in the `X-CSRF-Token` header.
pub const CSRF_COOKIE: &str = "onset_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts (revoking its token ends it at once).
pub const SESSION_HOURS: i64 = 12;

/// What a sealed session cookie carries.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionClaims {
    /// The SHA-256 of the token signed in with.
    h: String,
    /// The CSRF secret.
    c: String,
    /// Expiry, unix ms.
    e: i64,
}

/// A session made by signing in: the cookie values and what the page is told.
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// The session of the request, when it was authenticated by its cookie.
#[derive(Debug, Clone)]
pub struct SessionCsrf(pub String);

/// Seals a session for `token` (already checked).
pub fn new_session(app: &App, token: &str) -> Result<NewSession, String> {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = now_ms() + SESSION_HOURS * 3_600_000;
    let claims = SessionClaims { h: hash(token), c: csrf.clone(), e: expires_at };
    let keyring = app.keyring();
    let key = keyring.sealing();
    let sealed = key.seal("session", "", "cookie", &serde_json::to_string(&claims).map_err(|e| e.to_string())?)?;
    Ok(NewSession { cookie: format!("{}.{sealed}", key.id), csrf, expires_at })
}

/// The claims of a session cookie, when one of this node's keys sealed it and it has not expired.
fn open_session(app: &App, cookie: &str) -> Option<SessionClaims> {
    let (key_id, sealed) = cookie.split_once('.')?;
    let keyring = app.keyring();
    let plain = keyring.get(key_id)?.open("session", "", "cookie", sealed).ok()?;
    let claims: SessionClaims = serde_json::from_str(&plain).ok()?;
    (claims.e > now_ms()).then_some(claims)
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` values that start (`Some`) or end (`None`) a session. `Secure` when the
/// public URL is https.
pub fn session_cookies(app: &App, session: Option<&NewSession>) -> [String; 2] {
    let secure =
        if app.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) { "; Secure" } else { "" };
    match session {
        Some(s) => {
            let age = SESSION_HOURS * 3600;
            [
                format!("{SESSION_COOKIE}={}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict{secure}", s.cookie),
                format!("{CSRF_COOKIE}={}; Path=/; Max-Age={age}; SameSite=Strict{secure}", s.csrf),
            ]
        }
        None => [
            format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
            format!("{CSRF_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}"),
        ],
    }
}

fn unauthorized(code: &'static str, message: &'static str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message).at("header authorization").into_response()
}

/// The middleware in front of `/api/v1`: finds the caller's token (a bearer token, or the web
/// UI's session cookie with its CSRF header on writes) or answers 401.
pub async fn require_token(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let token_hash = match bearer {
        Some(token) => hash(token),
        None => {
            let Some(cookie) = cookie(req.headers(), SESSION_COOKIE) else {
                return unauthorized(
                    "token_missing",
                    "the control plane needs `Authorization: Bearer <token>`; the first admin token is in <data-dir>/admin-token",
                );
            };
            let Some(claims) = open_session(&app, cookie) else {
                return unauthorized("session_expired", "the session has expired or is not valid here; sign in again");
            };
            let safe = matches!(req.method(), &axum::http::Method::GET | &axum::http::Method::HEAD);
            if !safe {
                let given = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                let same: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), claims.c.as_bytes()).into();
                if !same {
                    return ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_failed",
                        "a change made with the session cookie must carry the session's CSRF token in `X-CSRF-Token` (the `onset_csrf` cookie)",
                    )
                    .at("header x-csrf-token")
                    .into_response();
                }
            }
            req.extensions_mut().insert(SessionCsrf(claims.c));
            claims.h
        }
    };
    match app.store.token_by_hash(token_hash).await {
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
        Ok(None) => unauthorized("token_invalid", "the token is unknown or revoked"),
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
