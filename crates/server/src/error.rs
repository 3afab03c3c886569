//! The one JSON error shape of every HTTP answer: `{code, message, location}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub location: Option<String>,
    /// For 405: the methods that do have handlers.
    pub allow: Option<String>,
    /// For 429/503: whole seconds.
    pub retry_after: Option<u64>,
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
        Self { status, code, message: message.into(), location: None, allow: None, retry_after: None }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            serde_json::to_vec(&Body { code: self.code, message: &self.message, location: self.location.as_deref() })
                .unwrap_or_default();
        let mut resp = (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// A JSON request body, or 400 `malformed_body` saying what is wrong with it.
pub fn json_body<T>(b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| ApiError::bad_request("malformed_body", e.body_text()).at("body"))
}
