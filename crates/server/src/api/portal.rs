//! The developer portal's API, `/portal/api/…`: consumers sign up and sign in with their own
//! accounts (never control-plane tokens), find the published APIs and their documents, and manage
//! their own applications, keys and subscriptions. A consumer's session is a sealed cookie
//! (`onset_portal`, HttpOnly, SameSite=Strict, path `/portal`); a change made with it repeats the
//! session's CSRF secret in `X-CSRF-Token`.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use onset_store::ConsumerRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::types::{NewApplication, NewSubscription, SubscriptionQuery};
use crate::app::{App, new_id, now_ms};
use crate::error::{ApiError, json_body};
use crate::service::gateway::{self, Caller};

pub const COOKIE: &str = "onset_portal";
pub const CSRF_COOKIE: &str = "onset_portal_csrf";
const SESSION_HOURS: i64 = 12;
/// PBKDF2-HMAC-SHA256 rounds (OWASP's 2023 advice).
const ROUNDS: u32 = 600_000;
/// Sign-in attempts per address per minute.
const SIGN_INS_PER_MINUTE: u64 = 10;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/portal/api/signup", post(signup))
        .route("/portal/api/session", post(sign_in).get(session).delete(sign_out))
        .route("/portal/api/apis", get(apis))
        .route("/portal/api/apis/{environment}/{component}/openapi.json", get(api_document))
        .route("/portal/api/apis/{environment}/{component}/postman.json", get(api_postman))
        .route("/portal/api/plans", get(plans))
        .route("/portal/api/applications", get(applications).post(create_application))
        .route("/portal/api/applications/{id}", delete(delete_application))
        .route("/portal/api/applications/{id}/keys", get(keys).post(issue_keys))
        .route("/portal/api/applications/{id}/token", post(token))
        .route("/portal/api/subscriptions", get(subscriptions).post(subscribe))
        .route("/portal/api/subscriptions/{id}", delete(unsubscribe))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The consumer's id.
    i: String,
    /// The CSRF secret.
    c: String,
    /// Expiry, unix ms.
    e: i64,
}

#[derive(Serialize)]
struct Me {
    id: String,
    email: String,
    name: String,
    csrf_token: String,
}

fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| ApiError::internal("no randomness"))?;
    let mut out = [0u8; 32];
    let rounds = NonZeroU32::new(ROUNDS).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &mut out);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!("pbkdf2-sha256${ROUNDS}${}${}", b64.encode(salt), b64.encode(out)))
}

fn password_matches(stored: &str, password: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(rounds), Ok(salt), Ok(hash)) =
        (rounds.parse::<u32>().ok().and_then(NonZeroU32::new), b64.decode(salt), b64.decode(hash))
    else {
        return false;
    };
    ring::pbkdf2::verify(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &hash).is_ok()
}

fn cookies(app: &App, session: Option<(&str, &str)>) -> [String; 2] {
    let secure =
        if app.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) { "; Secure" } else { "" };
    match session {
        Some((sealed, csrf)) => {
            let age = SESSION_HOURS * 3600;
            [
                format!("{COOKIE}={sealed}; Path=/portal; Max-Age={age}; HttpOnly; SameSite=Strict{secure}"),
                format!("{CSRF_COOKIE}={csrf}; Path=/portal; Max-Age={age}; SameSite=Strict{secure}"),
            ]
        }
        None => [
            format!("{COOKIE}=; Path=/portal; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
            format!("{CSRF_COOKIE}=; Path=/portal; Max-Age=0; SameSite=Strict{secure}"),
        ],
    }
}

/// Signs the consumer in: the session cookies and who they are.
fn start_session(app: &App, c: &ConsumerRow, status: StatusCode) -> Result<Response, ApiError> {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let claims = Claims { i: c.id.clone(), c: csrf.clone(), e: now_ms() + SESSION_HOURS * 3_600_000 };
    let keyring = app.keyring();
    let key = keyring.sealing();
    let text = serde_json::to_string(&claims).map_err(ApiError::internal)?;
    let sealed = format!("{}.{}", key.id, key.seal("portal", "", "cookie", &text).map_err(ApiError::internal)?);
    let me = Me { id: c.id.clone(), email: c.email.clone(), name: c.name.clone(), csrf_token: csrf.clone() };
    let mut resp = (status, Json(me)).into_response();
    for v in cookies(app, Some((&sealed, &csrf))) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// The signed-in consumer; a change (`write`) also needs the session's CSRF secret.
async fn consumer(app: &App, headers: &HeaderMap, write: bool) -> Result<(ConsumerRow, String), ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "sign in to the portal first (POST /portal/api/session)",
        )
    };
    let cookie = crate::auth::cookie(headers, COOKIE).ok_or_else(unauthorized)?;
    let (key_id, sealed) = cookie.split_once('.').ok_or_else(unauthorized)?;
    let keyring = app.keyring();
    let plain =
        keyring.get(key_id).and_then(|k| k.open("portal", "", "cookie", sealed).ok()).ok_or_else(unauthorized)?;
    let claims: Claims = serde_json::from_str(&plain).map_err(|_| unauthorized())?;
    if claims.e <= now_ms() {
        return Err(unauthorized());
    }
    if write {
        let given = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
        let same: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), claims.c.as_bytes()).into();
        if !same {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a change needs the session's CSRF token in `X-CSRF-Token` (the `onset_portal_csrf` cookie)",
            )
            .at("header x-csrf-token"));
        }
    }
    let row = app.store.consumer(claims.i).await.map_err(ApiError::from)?.ok_or_else(unauthorized)?;
    Ok((row, claims.c))
}

async fn signup(
    State(app): State<Arc<App>>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let req = json_body(body)?;
    let email = req.email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace);
    if !valid {
        return Err(
            ApiError::bad_request("invalid_email", "an e-mail address such as ann@example.com").at("body email")
        );
    }
    if req.password.chars().count() < 10 || req.password.len() > 1024 {
        return Err(ApiError::bad_request("weak_password", "a password has 10 to 1024 characters").at("body password"));
    }
    let name =
        req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&email).chars().take(100).collect();
    let password = req.password.clone();
    let password_hash =
        tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(ApiError::internal)??;
    let row = ConsumerRow { id: new_id(), email: email.clone(), name, password_hash, created_at: now_ms() };
    if !app.store.create_consumer(row.clone()).await.map_err(ApiError::from)? {
        return Err(ApiError::new(StatusCode::CONFLICT, "email_taken", "an account has this address already; sign in")
            .at("body email"));
    }
    start_session(&app, &row, StatusCode::CREATED)
}

async fn sign_in(
    State(app): State<Arc<App>>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let req = json_body(body)?;
    let email = req.email.trim().to_ascii_lowercase();
    let attempts = onset_gateway::Quota {
        key: format!("portal sign-in {email}").into(),
        policy: "sign-in",
        limit: SIGN_INS_PER_MINUTE,
        window: std::time::Duration::from_secs(60),
        ends_in: None,
    };
    if let Err(refusal) = app.limiter.acquire(&[&attempts], std::time::Instant::now()) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many sign-ins for this address; retry after {} s", refusal.retry_after_secs),
        );
        e.rate_limited = Some(Box::new(refusal));
        return Err(e);
    }
    let found = app.store.consumer(email).await.map_err(ApiError::from)?;
    let password = req.password.clone();
    let stored = found.as_ref().map(|c| c.password_hash.clone());
    // The same work whether or not the address has an account.
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(h) => password_matches(&h, &password),
        None => {
            let _ = hash_password(&password);
            false
        }
    })
    .await
    .map_err(ApiError::internal)?;
    match found.filter(|_| ok) {
        Some(c) => start_session(&app, &c, StatusCode::OK),
        None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the address or password is wrong")),
    }
}

async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let (c, csrf) = consumer(&app, &headers, false).await?;
    Ok(Json(Me { id: c.id, email: c.email, name: c.name, csrf_token: csrf }))
}

async fn sign_out(State(app): State<Arc<App>>) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    for v in cookies(&app, None) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The APIs the portal shows: http components deployed and not retired, per environment.
async fn apis(State(app): State<Arc<App>>, headers: HeaderMap) -> Json<Value> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let base = crate::service::components::ingress_base(&app, host);
    let mut items: Vec<Value> = app
        .active_all()
        .into_iter()
        .filter(|d| crate::service::components::in_portal(&app, &d.environment, d.name()))
        .map(|d| {
            let name = d.name().to_string();
            let lifecycle = app.lifecycle.get(&d.environment, &name);
            let security = match &d.security {
                onset_gateway::security::Security::None => "none",
                onset_gateway::security::Security::ApiKey(_) => "api_key",
                onset_gateway::security::Security::OAuth2(o) if o.external.is_some() => "external_oauth2",
                onset_gateway::security::Security::OAuth2(_) => "oauth2",
            };
            json!({
                "component": name,
                "environment": d.environment,
                "description": d.component.description,
                "lifecycle": lifecycle.api(),
                "security": security,
                "url": format!("{base}/hooks/{}/{name}", d.environment),
            })
        })
        .collect();
    items.sort_by(|a, b| {
        (a["component"].as_str(), a["environment"].as_str()).cmp(&(b["component"].as_str(), b["environment"].as_str()))
    });
    Json(json!({ "items": items }))
}

async fn api_document(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((environment, component)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(published_document(&app, &headers, &environment, &component)?))
}

#[derive(Deserialize)]
struct PostmanFileQuery {
    #[serde(default)]
    file: super::types::PostmanFile,
}

/// The API's Postman collection (v2.1) or its environment file, as owners get them.
async fn api_postman(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((environment, component)): Path<(String, String)>,
    super::Q(q): super::Q<PostmanFileQuery>,
) -> Result<Json<Value>, ApiError> {
    let doc = published_document(&app, &headers, &environment, &component)?;
    let (collection, env_file) = onset_gateway::postman::collection(&doc, &environment);
    Ok(Json(if q.file == super::types::PostmanFile::Environment { env_file } else { collection }))
}

/// The OpenAPI document of an API the portal shows (deployed, serving an API, not retired).
fn published_document(app: &App, headers: &HeaderMap, environment: &str, component: &str) -> Result<Value, ApiError> {
    if !crate::service::components::in_portal(app, environment, component) {
        return Err(ApiError::not_found(
            "unknown_api",
            format!("no API `{component}` is published in `{environment}`"),
        ));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    Ok(crate::service::components::openapi(app, component, Some(environment), host)?)
}

async fn plans(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": gateway::plans(&app).await? })))
}

async fn applications(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, false).await?;
    Ok(Json(json!({ "items": gateway::applications(&app, &Caller::Consumer(&c.id)).await? })))
}

async fn create_application(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<NewApplication>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let created = gateway::create_application(&app, &Caller::Consumer(&c.id), json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(created).map_err(ApiError::internal)?)))
}

async fn delete_application(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let removed = gateway::delete_application(&app, &Caller::Consumer(&c.id), id).await?;
    Ok(Json(serde_json::to_value(removed).map_err(ApiError::internal)?))
}

async fn keys(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, false).await?;
    Ok(Json(json!({ "items": gateway::keys(&app, &Caller::Consumer(&c.id), id).await? })))
}

async fn issue_keys(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let issued = gateway::issue_keys(&app, &Caller::Consumer(&c.id), id).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(issued).map_err(ApiError::internal)?)))
}

#[derive(Deserialize, Default)]
struct TokenRequest {
    #[serde(default)]
    scope: Option<String>,
}

/// A short-lived OAuth2 token of one of the consumer's applications for its subscribed APIs
/// outside production (the console's "test token"), as `POST /oauth2/token` would answer.
async fn token(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<TokenRequest>>,
) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let owner = format!("consumer:{}", c.id);
    let application = app
        .store
        .application(id.clone())
        .await
        .map_err(ApiError::from)?
        .filter(|a| a.owner == owner)
        .ok_or_else(|| ApiError::not_found("not_found", format!("you have no application `{id}`")))?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let base = crate::service::components::ingress_base(&app, host);
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let production = crate::auth::PRODUCTION;
    let answer =
        crate::oauth2::mint(&app, &base, &application, &[], req.scope.as_deref(), |env| env != production).await?;
    Ok(Json(answer))
}

async fn subscriptions(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, false).await?;
    let q = SubscriptionQuery { application: None, component: None, environment: None };
    Ok(Json(json!({ "items": gateway::subscriptions(&app, &Caller::Consumer(&c.id), q).await? })))
}

async fn subscribe(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Json<NewSubscription>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let s = gateway::subscribe(&app, &Caller::Consumer(&c.id), json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(s).map_err(ApiError::internal)?)))
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (c, _) = consumer(&app, &headers, true).await?;
    let removed = gateway::unsubscribe(&app, &Caller::Consumer(&c.id), id).await?;
    Ok(Json(serde_json::to_value(removed).map_err(ApiError::internal)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_salted_and_checked() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("pbkdf2-sha256$600000$"));
        assert!(password_matches(&a, "correct horse"));
        assert!(!password_matches(&a, "correct horsE"));
        assert!(!password_matches("plain", "plain"));
    }
}
