//! The one JSON error shape of every HTTP answer: `{code, message, location}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::{Kind, ServiceError};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub location: Option<String>,
    /// One more header: `Allow` on a 405 (the methods that do have handlers), `WWW-Authenticate`
    /// on a 401/403 of a bearer-token API (RFC 6750 §3).
    pub header: Option<Box<(header::HeaderName, String)>>,
    /// For 429/503: whole seconds.
    pub retry_after: Option<u64>,
    /// A body with more than the three fields (a refused deployment's reasons), sent instead.
    pub full: Option<Box<serde_json::Value>>,
    /// For 429 from a rate limit: `Retry-After`, `RateLimit-Policy` and `RateLimit`.
    pub rate_limited: Option<Box<onset_gateway::Refusal>>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            location: None,
            header: None,
            retry_after: None,
            full: None,
            rate_limited: None,
        }
    }
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.header = Some(Box::new((name, value)));
        self
    }
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 404: the component is not active in that environment.
    pub fn not_deployed(component: &str, environment: &str) -> Self {
        Self::not_found("unknown_component", format!("no component `{component}` is deployed to `{environment}`"))
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn overloaded() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the ingest queue is full; retry after the number of seconds in Retry-After",
        );
        e.retry_after = Some(1);
        e
    }
    /// 503: the data directory's disk is full; senders retry, nothing accepted is lost.
    pub fn disk_full() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "disk_full",
            "the server's disk is full and cannot store this; retry after the number of seconds in Retry-After",
        );
        e.retry_after = Some(10);
        e
    }
    /// An internal failure: the detail goes to the log, the caller gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the server log has the detail")
    }
}

impl From<onset_store::StoreError> for ApiError {
    fn from(e: onset_store::StoreError) -> Self {
        match e {
            onset_store::StoreError::Busy => ApiError::overloaded(),
            onset_store::StoreError::DiskFull => ApiError::disk_full(),
            other => ApiError::internal(other),
        }
    }
}

/// The one mapping from what an operation says to what a client sees. Store failures, the
/// provider's words on an unregistration and internal failures are logged and answered with a
/// generic message.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownEnvironment { at, .. } => {
                ApiError::not_found("unknown_environment", e.to_string()).at(at)
            }
            ServiceError::NotDeployed { .. } => ApiError::not_found("unknown_component", e.to_string()),
            ServiceError::NotFound { kind, .. } => {
                let code = match kind {
                    Kind::Event => "unknown_event",
                    Kind::Run => "unknown_run",
                    Kind::Deployment => "unknown_deployment",
                    Kind::Token => "unknown_token",
                    Kind::Account => "unknown_account",
                    Kind::Draft => "no_draft",
                    Kind::File => "unknown_file",
                    Kind::Application => "unknown_application",
                    Kind::Subscription => "unknown_subscription",
                };
                ApiError::not_found(code, e.to_string()).at("path id")
            }
            ServiceError::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            ServiceError::Invalid { code, message, at } => ApiError::bad_request(code, message).at(at),
            ServiceError::Conflict { code, message, at } => {
                let e = ApiError::new(StatusCode::CONFLICT, code, message);
                match at {
                    Some(at) => e.at(at),
                    None => e,
                }
            }
            ServiceError::Unprocessable { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ServiceError::DeployFailed(failure) => {
                let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "deploy_failed", failure.message.clone());
                e.full = serde_json::to_value(&*failure).ok().map(Box::new);
                e
            }
            ServiceError::Unregister(detail) => {
                tracing::warn!(error = %detail, "unregistering from the provider failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "unregister_failed",
                    "the component could not be unregistered from its provider; the server log has the detail",
                )
            }
            ServiceError::Store(e) => e.into(),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.full {
            Some(full) => serde_json::to_vec(full),
            None => serde_json::to_vec(&Body {
                code: self.code,
                message: &self.message,
                location: self.location.as_deref(),
            }),
        }
        .unwrap_or_default();
        let mut resp = (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Some((name, value)) = self.header.map(|h| *h)
            && let Ok(v) = HeaderValue::from_str(&value)
        {
            resp.headers_mut().insert(name, v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(refusal) = self.rate_limited {
            for (name, value) in refusal.headers() {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, v);
                }
            }
        }
        resp
    }
}

/// A JSON request body, or 400 `malformed_body` saying what is wrong with it.
pub fn json_body<T>(b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| ApiError::bad_request("malformed_body", e.body_text()).at("body"))
}
