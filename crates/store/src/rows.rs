//! What goes in and comes out of the store. Output rows serialise to the API's JSON shapes.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Run states. `failed` = not retryable; `dead` = retries exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Retrying,
    Failed,
    Dead,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Retrying,
        RunStatus::Failed,
        RunStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Retrying => "retrying",
            RunStatus::Failed => "failed",
            RunStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A run to create with its event.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub channel: String,
    pub event: String,
    /// How the handler is named in the API: `POST /orders`, `IssuesService.onOpened`.
    pub handler: String,
    pub deployment_id: String,
    pub max_attempts: u32,
}

/// An accepted event with the runs it starts, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub channel: String,
    pub event: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    /// JSON text.
    pub headers: String,
    pub query: String,
    pub params: String,
    /// JSON text, shared without copying between ingest and workers.
    pub payload: bytes::Bytes,
    pub runs: Vec<NewRun>,
    /// The traceparent of the span that ingested it (when traced), for its runs.
    pub trace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Stored,
    /// The delivery id was seen before: this is the original event's id.
    Duplicate {
        event_id: String,
    },
}

/// A run ready for a worker (as queued, or as recovered at start).
#[derive(Debug, Clone)]
pub struct PendingRun {
    pub id: String,
    pub event_id: String,
    pub component: String,
    pub environment: String,
    pub channel: String,
    pub event: String,
    pub deployment_id: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_at: i64,
}

/// The end of one attempt.
#[derive(Debug, Clone)]
pub struct Completion {
    pub run_id: String,
    /// The lease the attempt ran under: the completion is refused with
    /// [`StoreError::LeaseLost`](crate::StoreError::LeaseLost) when the run is no longer held
    /// with it. `None` records it whatever holds the run (a run ended before it was taken).
    pub lease: Option<String>,
    pub attempt: u32,
    pub status: RunStatus,
    pub finished_at: i64,
    pub error: Option<String>,
    pub error_step: Option<String>,
    /// For `retrying`: when the next attempt is due.
    pub next_run_at: Option<i64>,
    pub steps: Vec<NewStep>,
}

#[derive(Debug, Clone)]
pub struct NewStep {
    /// JSON array text of the lines the step wrote, if any.
    pub logs: Option<String>,
    pub path: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: &'static str,
    pub status: &'static str,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub started_at: i64,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRef {
    pub id: String,
    pub handler: String,
    pub status: RunStatus,
    pub deployment_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub channel: String,
    pub event: String,
    pub delivery_id: Option<String>,
    #[serde(serialize_with = "crate::time::ser")]
    pub received_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<RawValue>>,
    pub status: String,
    pub runs: Vec<RunRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub event_id: String,
    pub component: String,
    pub environment: String,
    pub channel: String,
    pub event: String,
    pub handler: String,
    pub deployment_id: String,
    pub status: RunStatus,
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub started_at: Option<i64>,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub finished_at: Option<i64>,
    /// When the next attempt is due, while `retrying` or `queued`.
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub next_attempt_at: Option<i64>,
    pub error: Option<String>,
    pub error_step: Option<String>,
    pub replay_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepRow>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub path: String,
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub attempt: u32,
    pub status: String,
    pub input: Option<Box<RawValue>>,
    pub output: Option<Box<RawValue>>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Box<RawValue>>,
    #[serde(serialize_with = "crate::time::ser")]
    pub started_at: i64,
    pub duration_ms: f64,
}

/// Filters of list queries; `before` is the cursor (an id: ids sort by time).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub component: Option<String>,
    pub environment: Option<String>,
    pub status: Option<String>,
    pub before: Option<String>,
    /// Only ids from this one on (ids are UUIDv7: a time bound is an id bound).
    pub since: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub build: String,
    pub source: String,
    /// JSON object of the files the component refers to (path → text).
    pub files: String,
    pub created_at: i64,
    /// JSON object: where the build came from (`{"git": {url, ref, commit}}`), `{}` if nowhere.
    pub meta: String,
    /// The token name that made it (none for `serve --project`).
    pub created_by: Option<String>,
}

/// A deployment as listed: never its source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeploymentRow {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub build: String,
    pub status: String,
    pub error: Option<String>,
    pub meta: serde_json::Value,
    pub created_by: Option<String>,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: i64,
    /// Whether it is the active deployment of its component in its environment.
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Activation {
    pub component: String,
    pub environment: String,
    pub deployment_id: String,
    pub paused: bool,
}

/// Counts by status, for gauges at start.
#[derive(Debug, Clone, Default)]
pub struct QueueCounts {
    pub queued: u64,
    pub running: u64,
    pub retrying: u64,
}

/// What a worker needs of an event to run a handler.
#[derive(Debug, Clone)]
pub struct EventForRun {
    /// JSON text.
    pub payload: bytes::Bytes,
    pub headers: String,
    pub query: String,
    pub params: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    /// The traceparent of the span that ingested the event, when it was traced.
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub hash: String,
    pub role: String,
    pub can_promote: bool,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: String,
    #[serde(serialize_with = "crate::time::ser")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub component: Option<String>,
    pub environment: Option<String>,
    pub message: String,
    /// JSON object text.
    pub detail: String,
    pub raised_at: i64,
    pub resolved_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// An event the pruner considers, with what decides its age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneCandidate {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub received_at: i64,
    /// Runs not finished (queued, running, retrying): such an event is never pruned.
    pub open_runs: i64,
    /// When its last succeeded run finished, if any.
    pub succeeded_at: Option<i64>,
    /// When its last failed or dead run finished, if any.
    pub failed_at: Option<i64>,
}

/// One bucket's counters for a component, environment and handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Bucket width in ms (60,000 or 3,600,000).
    pub resolution: i64,
    /// Bucket start, unix ms, a multiple of `resolution`.
    pub start: i64,
    pub component: String,
    pub environment: String,
    /// `""` for counters of the component as a whole.
    pub handler: String,
    /// A JSON object of counters (see [`merge_counts`]).
    pub counts: Value,
}

/// A config value as stored: sealed text and the id of the key that sealed it.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub component: String,
    pub environment: String,
    pub key: String,
    pub sealed: String,
    pub key_id: String,
    pub updated_at: i64,
}

/// One synchronisation of a calendar, applied at once: the events it produced, the items it
/// saw change, and the state (sync token) to keep. A crash before the commit leaves the old
/// token, so the next sync finds the same changes again; delivery ids keep them from running twice.
#[derive(Debug, Clone, Default)]
pub struct SyncBatch {
    pub component: String,
    pub environment: String,
    pub events: Vec<NewEvent>,
    /// `(item id, etag)` seen now.
    pub upserts: Vec<(String, String)>,
    /// Item ids deleted.
    pub deletes: Vec<String>,
    /// `(key, value)`; `None` removes the key.
    pub state: Vec<(String, Option<String>)>,
}

impl<T> Page<T> {
    /// A page from rows read with one more than `limit`: the extra row says there is a next
    /// page, whose cursor is the last kept row's id.
    pub fn from_rows(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> &str) -> Page<T> {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|i| id(i).to_string())
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

impl NewEvent {
    /// Makes this the event of a batch over `members`: its payload, headers and params become
    /// the JSON arrays of theirs, in order.
    pub fn gather(&mut self, members: &[&NewEvent]) {
        let list = |field: fn(&NewEvent) -> &[u8]| {
            let mut out = Vec::with_capacity(members.iter().map(|m| field(m).len() + 1).sum::<usize>() + 2);
            out.push(b'[');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(field(m));
            }
            out.push(b']');
            out
        };
        self.payload = bytes::Bytes::from(list(|m| m.payload.as_ref()));
        self.headers = String::from_utf8_lossy(&list(|m| m.headers.as_bytes())).into_owned();
        self.params = String::from_utf8_lossy(&list(|m| m.params.as_bytes())).into_owned();
    }
}

/// A lease on something only one node may do at a time (a schedule, a poller, a channel
/// renewal), held by `holder` until `until` unless renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    pub until: i64,
}

/// A node sharing the store, as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub id: String,
    /// `all`, `ingress` or `worker`.
    pub role: String,
    pub version: String,
    /// The ids of the master keys the node holds, newest first.
    pub key_ids: Vec<String>,
    pub started_at: i64,
    pub seen_at: i64,
}

/// What other nodes sharing a store announce: runs waiting to be claimed, and changes of shared
/// state (deployments, pause flags, environments, config). Both are also woken when the
/// announcements may have been missed (the listening connection was lost), so a node re-reads
/// rather than trusts what it holds.
#[derive(Debug, Default)]
pub struct Signals {
    pub runs: tokio::sync::Notify,
    pub state: tokio::sync::Notify,
}

/// The key ids of a node as stored (a JSON array).
pub(crate) fn key_ids(text: &str) -> Result<Vec<String>, crate::StoreError> {
    serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("node key ids: {e}")))
}

/// A component's source as the web UI keeps it between deploys (server mode, no `--project`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftRow {
    pub component: String,
    /// The component file's YAML, byte for byte as written.
    pub text: String,
    /// Starts at 1 and grows by one with every save: a save based on an older revision is refused.
    pub revision: i64,
    pub updated_at: i64,
    /// The name of the token that saved it.
    pub updated_by: String,
}

/// An API plan: how much a subscription under it may call (WSO2's tiers are seeded:
/// Bronze 1000/m, Silver 2000/m, Gold 5000/m, Unlimited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub name: String,
    /// `N/s|m|h|d`; none: unlimited.
    pub rate_limit: Option<String>,
    pub daily_quota: Option<i64>,
    pub monthly_quota: Option<i64>,
    pub created_at: i64,
}

/// A consumer's application: its client id, and only a hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: String,
    pub name: String,
    /// Who manages it: `token:<name>` (an owner's control-plane token) or `consumer:<id>`.
    pub owner: String,
    pub client_id: String,
    pub secret_hash: String,
    pub created_at: i64,
}

/// An application's API key (only its hash is kept): `sandbox` keys call development,
/// `production` keys production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub hash: String,
    pub application_id: String,
    pub kind: String,
    /// The key's first characters, to tell keys apart without revealing them.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An application subscribed to a component's API in an environment, under a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: String,
    pub application_id: String,
    pub component: String,
    pub environment: String,
    pub plan: String,
    pub created_at: i64,
}

/// One of Onset's OAuth2 signing keys: its public JWK, and the private key sealed with the
/// master key `key_id` (never kept in plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub public_jwk: String,
    pub sealed: String,
    pub key_id: String,
    pub created_at: i64,
}

/// A developer-portal account: its e-mail address (kept lower-case) and a salted password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
}
