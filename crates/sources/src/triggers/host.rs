//! What a running trigger may ask of the server that hosts it: to store events (waiting while
//! the store is busy, so backpressure reaches the source), to keep a little state, to call a
//! connector, and to report its health. The server implements it once for every trigger type.

use bytes::Bytes;
use onset_model::catalog::EventName;
use serde_json::Value;

/// One member of a batch event: its delivery id, payload, and headers and fields as JSON text.
pub type Member = (Option<String>, Bytes, (String, String));

/// What one sync of a provider's items changed, applied in one transaction: the events it makes
/// (name, delivery id, payload), the items seen now `(id, version)` and gone, and state values.
#[derive(Debug, Default)]
pub struct SyncChanges {
    pub events: Vec<(EventName, String, Value)>,
    pub upserts: Vec<(String, String)>,
    pub deletes: Vec<String>,
    pub state: Vec<(String, Option<String>)>,
    /// The notification's headers (JSON text), kept with each event.
    pub headers: String,
}

/// The credentials a Google trigger names: an account of the environment by name, or its inline
/// OAuth2 client and refresh token.
#[derive(Debug, Clone, Copy)]
pub enum GoogleCredentials<'a> {
    Account(&'a str),
    Refresh { token_url: &'a str, client_id: &'a str, client_secret: &'a str, refresh_token: &'a str },
}

#[async_trait::async_trait]
pub trait Host: Send + Sync {
    fn component(&self) -> &str;
    fn environment(&self) -> &str;
    /// The component's resolved config (deferred templates see it as `config`).
    fn config(&self) -> &Value;
    /// The address providers reach this server at (`--public-url`), if it was given.
    fn public_url(&self) -> Option<&str>;
    /// The component's handlers as `(channel, event)`.
    fn handlers(&self) -> Vec<(String, String)>;
    /// Stores one event of `name`: `Ok(true)` when it is new, `Ok(false)` when its delivery id
    /// was known. `extra` is the headers and the source's own fields, as JSON objects.
    async fn store(
        &self,
        name: &EventName,
        delivery_id: Option<String>,
        payload: Bytes,
        extra: (String, String),
    ) -> Result<bool, String>;
    /// Stores messages of one channel as one event whose payload is their list.
    async fn store_batch(&self, name: &EventName, members: Vec<Member>) -> Result<(), String>;
    /// A state value this trigger kept (per component and environment).
    async fn state(&self, key: &str) -> Result<Option<String>, String>;
    /// Keeps (or with `None` forgets) a state value.
    async fn set_state(&self, key: &str, value: Option<String>) -> Result<(), String>;
    /// Items of the provider this trigger has seen, id → version (Google Calendar: etags).
    async fn known_items(&self) -> Result<std::collections::HashMap<String, String>, String>;
    /// Forgets every item seen.
    async fn clear_items(&self) -> Result<(), String>;
    /// Applies a sync: its events are stored and their runs queued, with the item changes and
    /// state, all or nothing.
    async fn apply_sync(&self, changes: SyncChanges) -> Result<(), String>;
    /// How long before it expires a registration (a watch channel) is renewed.
    fn renew_before(&self) -> std::time::Duration;
    /// An access token for Google credentials, from the token cache Google steps use. For an
    /// account name, `Ok(None)` when the environment has no account of that name.
    async fn google_token(&self, credentials: GoogleCredentials<'_>) -> Result<Option<String>, String>;
    /// Calls a connector operation (`http.request`), as a step would.
    async fn call(&self, operation: &str, input: Value) -> Result<Value, String>;
    /// The source works; `next_at` (unix ms) is when it acts next, if it knows.
    fn healthy(&self, next_at: Option<i64>);
    /// The source failed and keeps trying.
    fn failed(&self, error: String, next_at: Option<i64>);
    /// What the broker reports waiting for this consumer.
    fn backlog(&self, waiting: u64);
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds as RFC 3339 UTC, as events and logs show times.
pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
