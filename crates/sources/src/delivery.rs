//! What a provider's request becomes once verified: its names, dedup key, payload and the answer
//! the provider expects.

use bytes::Bytes;
use onset_model::catalog::EventName;

/// How the sender is answered once the event is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `202 {"event_id", "duplicate"}` (GitHub, http).
    Accepted,
    /// `200` with an empty body (Slack, Google).
    Empty,
    /// `200` with this text (Slack's `url_verification`).
    Challenge(String),
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub name: EventName,
    pub delivery_id: Option<String>,
    /// JSON text.
    pub payload: Bytes,
    pub answer: Answer,
}

pub(crate) fn malformed(message: impl Into<String>) -> crate::PayloadError {
    crate::PayloadError { message: message.into() }
}

pub(crate) fn essence(content_type: Option<&str>) -> String {
    content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// The first value of a form field.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
