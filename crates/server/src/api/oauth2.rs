//! Onset's authorization server: `POST /oauth2/token`, `GET /.well-known/jwks.json`,
//! `GET /.well-known/oauth-authorization-server`, outside `/api/v1` (clients of managed APIs
//! call them, not owners); and `POST /api/v1/oauth2/keys` for admins to rotate the signing key.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};

use super::Table;
use super::doc::Op;
use super::types::SigningKey;
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::post(
            "/api/v1/oauth2/keys",
            "rotateSigningKey",
            "Make a new OAuth2 signing key now (admin); earlier keys stay in the JWKS while tokens they signed are valid",
        )
        .tag("api-management")
        .answers::<SigningKey>(201, "The new key")
        .errors(&[403]),
        post(rotate),
    )
}

async fn rotate(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
) -> Result<(StatusCode, Json<SigningKey>), ApiError> {
    who.admin().map_err(ApiError::from)?;
    let kid = crate::oauth2::rotate(&app).await.map_err(ApiError::internal)?;
    crate::oauth2::keys_changed(&app);
    Ok((StatusCode::CREATED, Json(SigningKey { kid })))
}

fn base(app: &App, headers: &HeaderMap) -> String {
    crate::service::components::ingress_base(app, headers.get(header::HOST).and_then(|v| v.to_str().ok()))
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// `POST /oauth2/token` (form-urlencoded, client-credentials grant).
pub async fn token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !form {
        let e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the token request is a form: Content-Type application/x-www-form-urlencoded",
        );
        return no_store(rfc(e).into_response());
    }
    let answer = crate::oauth2::issue(&app, &base(&app, &headers), &headers, &body).await;
    no_store(match answer {
        Ok(token) => Json(token).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    })
}

/// An error with the RFC 6749 fields beside Onset's.
fn rfc(mut e: ApiError) -> ApiError {
    e.full = Some(Box::new(serde_json::json!({
        "error": e.code, "error_description": e.message, "code": e.code, "message": e.message
    })));
    e
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(app): State<Arc<App>>) -> Response {
    match crate::oauth2::jwks(&app).await {
        Ok(keys) => {
            let mut resp = Json(keys).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
            resp
        }
        Err(detail) => ApiError::internal(detail).into_response(),
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn metadata(State(app): State<Arc<App>>, headers: HeaderMap) -> Json<serde_json::Value> {
    Json(crate::oauth2::metadata(&base(&app, &headers)))
}
