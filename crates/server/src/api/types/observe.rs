//! API types of the catalog, health, metric series and alerts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A trigger type in the catalog.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TriggerType {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub settings: Vec<TriggerSetting>,
    pub channels: Vec<TriggerChannel>,
    /// Where its detail (samples and schemas) is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// Verification presets by provider (`http`, in its detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets: Option<Vec<WebhookPreset>>,
}

/// A provider's verification, by name: `verify: { preset: NAME, … }`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct WebhookPreset {
    pub name: String,
    pub title: String,
    /// The provider's page on verifying its requests.
    pub docs: String,
    /// Settings it needs (`a|b`: either).
    pub needs: Vec<String>,
    /// Settings it takes when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<String>,
    /// The header (or body field) the signature comes in.
    pub signature: String,
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    /// Where the delivery id comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// The handshake the trigger answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<String>,
    /// A payload the provider publishes as an example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<serde_json::Value>,
}

/// An operation `call:` steps can name (`slack.postMessage`), with the schemas of its input and
/// output: what the editor's palette and data mapper read.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorOperation {
    /// `connector.operation`.
    pub name: String,
    pub description: String,
    /// The account it uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<OperationAccount>,
    /// Whether a transient failure (network, 5xx, 429) is tried again; false for operations that
    /// must not run twice.
    pub retryable: bool,
    /// JSON Schema of the step's `with:`.
    pub input: Value,
    /// JSON Schema of `steps.<id>.output`.
    pub output: Value,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct OperationAccount {
    /// Account type (`slack`, `http`, `postgres`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether a step must name one.
    pub required: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TriggerSetting {
    pub name: String,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TriggerChannel {
    pub name: String,
    pub events: Vec<TriggerEvent>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TriggerEvent {
    /// The handler name (`onOpened`).
    pub name: String,
    /// What the provider sends (`issues.opened`).
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// A sample payload (detail only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Value>,
    /// The payload's JSON Schema (detail only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Liveness {
    /// `ok`.
    pub status: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Readiness {
    pub store: bool,
    /// The dispatcher is alive (always true on an ingress-only node, which runs nothing).
    pub workers: bool,
    pub disk_full: bool,
    /// This node's id among the nodes sharing the database (the holder name of its leases).
    pub node: String,
    /// `all`, `ingress` or `worker`.
    pub role: String,
}

/// Bucket width of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SeriesStep {
    #[serde(rename = "1m")]
    OneMinute,
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    OneHour,
}

/// What a series covers. Every filter is optional: left out, the series adds up every
/// component, environment and handler.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SeriesQuery {
    pub component: Option<String>,
    pub environment: Option<String>,
    /// Filters the run fields only (events arrive for a component, not a handler).
    pub handler: Option<String>,
    /// RFC 3339; default one hour before `to`. Rounded down to the step.
    pub from: Option<String>,
    /// RFC 3339; default now. Rounded up to the step.
    pub to: Option<String>,
    /// `1m` (default), `5m` or `1h`. Minute buckets are kept 7 days, hourly ones 400 days.
    pub step: Option<SeriesStep>,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct RunCounts {
    pub succeeded: u64,
    pub failed: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Runs that exhausted their retries.
    pub dead: u64,
}

/// Run durations in milliseconds, from histogram buckets (0 without runs).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// One aligned bucket; empty buckets are all zeros.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct SeriesBucket {
    pub start: String,
    /// Requests that reached a deployed component (and messages from in-server sources).
    pub received: u64,
    /// Stored as new events.
    pub accepted: u64,
    /// Known delivery ids, answered without running again.
    pub duplicates: u64,
    /// Refused, by error code (`signature_mismatch`, `body_too_large`, …).
    pub rejected: std::collections::BTreeMap<String, u64>,
    pub runs: RunCounts,
    pub duration_ms: Percentiles,
    /// Runs waiting (queued or retrying), the most seen in the bucket.
    pub queue_depth: u64,
    /// How long the oldest due run had waited, the most seen in the bucket.
    pub oldest_wait_ms: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Series {
    pub step: SeriesStep,
    pub from: String,
    pub to: String,
    pub buckets: Vec<SeriesBucket>,
}

/// Which alerts to list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AlertQuery {
    /// `open` (default) or `all` (resolved ones too).
    pub state: Option<AlertState>,
    /// 1 to 500 (default 50).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Open,
    All,
}

/// An operational alert.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    pub id: String,
    /// `run_dead`, `source_down`, `registration_failed`, `renewal_failed`, `account_refresh_failed`,
    /// `disk_usage` or `disk_full`.
    pub kind: String,
    pub component: Option<String>,
    pub environment: Option<String>,
    pub message: String,
    /// What the kind knows more (run and event ids, the error, the disk's percent…).
    pub detail: Value,
    pub raised_at: String,
    pub resolved_at: Option<String>,
}

/// An alert with how its delivery to the alert webhook went.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertEntry {
    #[serde(flatten)]
    pub alert: Alert,
    pub delivered_at: Option<String>,
    pub delivery_attempts: u32,
    pub delivery_error: Option<String>,
}
