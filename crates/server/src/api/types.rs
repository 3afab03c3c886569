//! The control plane's request and response types: the contract clients are generated from.
//! Store rows are converted into these; times are RFC 3339 UTC strings, ids UUIDv7 strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

mod accounts;
mod gateway;
mod observe;
mod studio;
pub use accounts::*;
pub use gateway::*;
pub use observe::*;
pub use studio::*;

/// Every error: a stable machine-readable `code`, a human `message`, and where the problem is.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A page of a list, newest first; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn all(items: Vec<T>) -> Self {
        Page { items, next_cursor: None }
    }
}

/// `?environment=`: default `development`; an unknown name is 404 `unknown_environment`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct EnvironmentQuery {
    /// The environment (default `development`).
    pub environment: Option<String>,
}

/// `?environment=&file=`: the Postman collection or its environment file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PostmanQuery {
    /// The environment (default `development`).
    pub environment: Option<String>,
    /// `collection` (default) or `environment` (the Postman environment file with `baseUrl`).
    pub file: Option<PostmanFile>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PostmanFile {
    #[default]
    Collection,
    Environment,
}

/// Filters of the event list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct EventQuery {
    pub component: Option<String>,
    pub environment: Option<String>,
    pub status: Option<EventStatus>,
    /// Only those from this time on (RFC 3339).
    pub from: Option<String>,
    /// Only those before this time (RFC 3339).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// Filters of the run list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RunQuery {
    pub component: Option<String>,
    pub environment: Option<String>,
    pub status: Option<RunStatus>,
    /// Only those from this time on (RFC 3339).
    pub from: Option<String>,
    /// Only those before this time (RFC 3339).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// Filters of the deployment list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DeploymentQuery {
    pub component: Option<String>,
    pub environment: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// Paging of the audit log.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// `handled`: runs were queued; `unhandled`: no handler took it; `batched`: a message one
/// batch run received with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Handled,
    Unhandled,
    Batched,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Handled => "handled",
            EventStatus::Unhandled => "unhandled",
            EventStatus::Batched => "batched",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Retrying,
    Failed,
    Dead,
}

impl From<onset_store::RunStatus> for RunStatus {
    fn from(s: onset_store::RunStatus) -> Self {
        use onset_store::RunStatus as S;
        match s {
            S::Queued => RunStatus::Queued,
            S::Running => RunStatus::Running,
            S::Succeeded => RunStatus::Succeeded,
            S::Retrying => RunStatus::Retrying,
            S::Failed => RunStatus::Failed,
            S::Dead => RunStatus::Dead,
        }
    }
}

impl RunStatus {
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
}

/// A run as an event lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunRef {
    pub id: String,
    pub handler: String,
    pub status: RunStatus,
    pub deployment_id: String,
}

/// An event: what a trigger received, stored before it was acknowledged.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Event {
    pub id: String,
    pub component: String,
    pub environment: String,
    pub channel: String,
    pub event: String,
    pub delivery_id: Option<String>,
    pub received_at: String,
    /// Request headers, lower-case names, credentials redacted (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub headers: Option<Box<RawValue>>,
    /// Query parameters (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub query: Option<Box<RawValue>>,
    /// Path parameters of `http` resources, or a broker message's fields (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub params: Option<Box<RawValue>>,
    /// The payload handlers see as `event` (not in lists): any JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Value>")]
    pub payload: Option<Box<RawValue>>,
    /// `handled` (runs were queued), `unhandled` (no handler matched) or `batched`.
    pub status: String,
    pub runs: Vec<RunRef>,
}

impl From<onset_store::EventRow> for Event {
    fn from(e: onset_store::EventRow) -> Self {
        Event {
            id: e.id,
            component: e.component,
            environment: e.environment,
            channel: e.channel,
            event: e.event,
            delivery_id: e.delivery_id,
            received_at: onset_store::time::rfc3339(e.received_at),
            headers: e.headers,
            query: e.query,
            params: e.params,
            payload: e.payload,
            status: e.status,
            runs: e
                .runs
                .into_iter()
                .map(|r| RunRef {
                    id: r.id,
                    handler: r.handler,
                    status: r.status.into(),
                    deployment_id: r.deployment_id,
                })
                .collect(),
        }
    }
}

/// One executed step of a run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Step {
    /// Position in the handler: `3`, `3.do[2].0`, `1.then.0`.
    pub path: String,
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub attempt: u32,
    /// `succeeded` or `failed`.
    pub status: String,
    #[schemars(with = "Option<Value>")]
    pub input: Option<Box<RawValue>>,
    #[schemars(with = "Option<Value>")]
    pub output: Option<Box<RawValue>>,
    pub error: Option<String>,
    /// Lines the step wrote (a script's console).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub logs: Option<Box<RawValue>>,
    pub started_at: String,
    pub duration_ms: f64,
}

/// A run: one handler for one event, with its attempts; `steps` only when asked for one run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Run {
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
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the next attempt is due, while `retrying` or `queued`.
    pub next_attempt_at: Option<String>,
    pub error: Option<String>,
    pub error_step: Option<String>,
    pub replay_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
}

impl From<onset_store::RunRow> for Run {
    fn from(r: onset_store::RunRow) -> Self {
        let t = |ms: Option<i64>| ms.map(onset_store::time::rfc3339);
        Run {
            id: r.id,
            event_id: r.event_id,
            component: r.component,
            environment: r.environment,
            channel: r.channel,
            event: r.event,
            handler: r.handler,
            deployment_id: r.deployment_id,
            status: r.status.into(),
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            created_at: onset_store::time::rfc3339(r.created_at),
            started_at: t(r.started_at),
            finished_at: t(r.finished_at),
            next_attempt_at: t(r.next_attempt_at),
            error: r.error,
            error_step: r.error_step,
            replay_of: r.replay_of,
            steps: r.steps.map(|steps| {
                steps
                    .into_iter()
                    .map(|s| Step {
                        path: s.path,
                        id: s.id,
                        name: s.name,
                        kind: s.kind,
                        attempt: s.attempt,
                        status: s.status,
                        input: s.input,
                        output: s.output,
                        error: s.error,
                        logs: s.logs,
                        started_at: onset_store::time::rfc3339(s.started_at),
                        duration_ms: s.duration_ms,
                    })
                    .collect()
            }),
        }
    }
}

/// `202` to a replay of one event.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventReplay {
    pub event_id: String,
    /// The new runs' ids.
    pub runs: Vec<String>,
}

/// A dead run a replay could not take.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Skipped {
    pub run: String,
    pub reason: String,
}

/// `202` to a replay of every dead-lettered run of a component.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeadReplay {
    pub replayed: usize,
    pub runs: Vec<String>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial: String,
    pub max: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Handler {
    /// `POST /orders` for http triggers, else `Channel.event`.
    pub name: String,
    pub channel: String,
    pub event: String,
    pub concurrency: Option<u32>,
    pub retry: Option<RetryPolicy>,
}

/// What an in-server source (schedule, poller, broker consumer) last did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SourceHealth {
    /// `running`, `connecting`, or `failing` after an error (it keeps trying).
    pub state: String,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    /// Schedules and pollers: when they act next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
    /// Stream triggers: messages waiting in the broker, where the broker reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
}

impl From<crate::timed::Health> for SourceHealth {
    fn from(h: crate::timed::Health) -> Self {
        SourceHealth {
            state: h.state.to_string(),
            last_success_at: h.last_success_at.map(onset_store::time::rfc3339),
            last_error: h.last_error,
            next_at: h.next_at.map(onset_store::time::rfc3339),
            backlog: h.backlog,
        }
    }
}

/// A component active in an environment.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Component {
    pub name: String,
    pub description: Option<String>,
    pub environment: String,
    pub deployment_id: String,
    /// The trigger type (`http`, `github`, `nats`, …).
    pub trigger: String,
    pub paused: bool,
    /// Where its events arrive.
    pub ingress: String,
    pub handlers: Vec<Handler>,
    /// For schedules, pollers and broker consumers.
    pub health: Option<SourceHealth>,
    /// The API's lifecycle there: `published`, `deprecated` or `retired`.
    pub lifecycle: LifecycleState,
}

/// An API's lifecycle in an environment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    /// Served (the default).
    Published,
    /// Still served; marked in its documents, every answer carries `Deprecation`.
    Deprecated,
    /// Answered 404 `api_retired`; nothing is stored.
    Retired,
}

/// `POST /api/v1/components/{name}/lifecycle`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLifecycle {
    pub state: LifecycleState,
}

/// An API's lifecycle state in one environment.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Lifecycle {
    pub component: String,
    pub environment: String,
    pub state: LifecycleState,
    /// When it was deprecated (RFC 3339), for a deprecated API.
    pub deprecated_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PauseState {
    pub component: String,
    pub environment: String,
    pub paused: bool,
}

/// A request to sign as the trigger's provider would (`POST /api/v1/components/{name}/sign`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The body, exactly as it will be sent (default empty).
    #[serde(default)]
    pub body: String,
    /// The method (default `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// The resource under the component's ingress URL (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// The query string, without `?`.
    #[serde(default)]
    pub query: Option<String>,
    /// Headers the request will carry (default `content-type: application/json`).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// The request to send: its URL and every header, the signature's among them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignedRequest {
    pub method: String,
    /// The ingress URL: `--public-url` when the server has one, else the address this request
    /// reached.
    pub url: String,
    /// The headers to send (the given ones and those the signature adds).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The names of the headers the signature added.
    pub signed: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Undeployed {
    pub component: String,
    pub environment: String,
    pub deployed: bool,
}

/// One line of a deployment's log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogLine {
    pub at: String,
    pub message: String,
}

/// A deployment (never its source).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deployment {
    pub id: String,
    pub component: String,
    pub environment: String,
    /// Hash of the component's files.
    pub build: String,
    /// `active`, `inactive`, `failed`, …
    pub status: String,
    pub error: Option<String>,
    /// Where the build came from, e.g. `{"git": {url, ref, commit}}`.
    pub meta: serde_json::Map<String, Value>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub active: bool,
}

impl From<onset_store::DeploymentRow> for Deployment {
    fn from(d: onset_store::DeploymentRow) -> Self {
        Deployment {
            id: d.id,
            component: d.component,
            environment: d.environment,
            build: d.build,
            status: d.status,
            error: d.error,
            meta: match d.meta {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
            created_by: d.created_by,
            created_at: onset_store::time::rfc3339(d.created_at),
            active: d.active,
        }
    }
}

/// A deployment with its log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeploymentDetail {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub log: Vec<LogLine>,
    /// The component file as deployed (`onset pull` writes it back into a project).
    pub source: String,
    /// The files it carried (script files, connector documents), path → text.
    pub files: std::collections::BTreeMap<String, String>,
}

/// The answer to a deploy, promotion or rollback that activated a build.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeployResult {
    pub deployment: Option<Deployment>,
    pub log: Vec<LogLine>,
}

/// A config key without a value, for a client to ask for.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MissingConfig {
    pub key: String,
    pub description: Option<String>,
    pub secret: bool,
}

/// `422`: the deployment failed; nothing was activated.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeployFailure {
    /// `deploy_failed`.
    pub code: String,
    pub message: String,
    pub errors: Vec<String>,
    /// The failed deployment's id, when one was recorded.
    pub deployment_id: Option<String>,
    pub missing_config: Vec<MissingConfig>,
}

/// A component file to validate, build and activate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    /// Default `development`.
    #[serde(default)]
    pub environment: Option<String>,
    /// The component file as written.
    pub source: String,
    /// Names the file in error messages (default `component.yaml`).
    #[serde(default)]
    pub path: Option<String>,
    /// Files the component refers to (`script_file`), path → text.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Where the build came from (`{"git": {url, ref, commit}}`).
    #[serde(default)]
    pub meta: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Promote {
    /// Default `development`.
    #[serde(default)]
    pub from: Option<String>,
    /// Default: the environment after `from`.
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub environment: String,
    /// A deployment id (default: the one before the active one).
    #[serde(default)]
    pub to: Option<String>,
}

/// A control-plane token (never its secret, except once at creation).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    /// `admin`, `developer` or `viewer`.
    pub role: String,
    pub can_promote: bool,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<onset_store::TokenRow> for Token {
    fn from(t: onset_store::TokenRow) -> Self {
        Token {
            id: t.id,
            name: t.name,
            role: t.role,
            can_promote: t.can_promote,
            created_at: onset_store::time::rfc3339(t.created_at),
            revoked_at: t.revoked_at.map(onset_store::time::rfc3339),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who or what uses it.
    pub name: String,
    /// `admin`, `developer` or `viewer`.
    pub role: String,
    /// `promote` lets a developer promote into production.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `201`: the token's secret, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub row: Token,
    pub token: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
}

/// One change made through the control plane.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    /// The token's name.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
}

impl From<onset_store::AuditRow> for AuditEntry {
    fn from(a: onset_store::AuditRow) -> Self {
        AuditEntry {
            id: a.id,
            at: onset_store::time::rfc3339(a.at),
            actor: a.actor,
            action: a.action,
            target: a.target,
            detail: a.detail,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Environment {
    pub name: String,
    /// 1 for the first in promotion order.
    pub position: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    /// Lower-case letters, digits and `-`.
    pub name: String,
    /// The environment it comes after in promotion order.
    pub after: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedEnvironment {
    pub name: String,
    /// Every environment, in promotion order.
    pub environments: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Key → value (text; numbers and booleans are taken as such).
    pub values: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigSet {
    pub component: String,
    pub environment: String,
    pub keys: Vec<String>,
    /// Whether the active deployment was re-activated with the new values.
    pub reactivated: bool,
}

/// What a deploy would use for one key.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigItem {
    pub key: String,
    /// The config type, when the component is deployed here.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Unknown (null) when the component is not deployed here.
    pub secret: Option<bool>,
    /// `set`, `environment variable`, `default` or `missing`.
    pub source: String,
    /// `[redacted]` for secrets.
    pub value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigList {
    pub component: String,
    pub environment: String,
    pub deployed: bool,
    pub items: Vec<ConfigItem>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Needed when the key comes from ONSET_MASTER_KEY: base64 of 32 bytes.
    #[serde(default)]
    pub new_key: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Rotated {
    pub key_id: String,
    pub resealed: usize,
    /// `file` or `environment`.
    pub source: String,
}
