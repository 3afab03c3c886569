//! What the web UI's editor, test console and session use: sign-in, validation, trial runs,
//! expression previews, drafts, project files and replays of many runs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Step;

/// `POST /api/v1/session`: a control-plane token to sign in with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The admin token (`<data-dir>/admin-token`) or one from `onset token create`.
    pub token: String,
}

/// Who is signed in, and the CSRF token writes must carry in `X-CSRF-Token`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Session {
    /// The token's name.
    pub name: String,
    /// `admin`, `developer` or `viewer` (reads only).
    pub role: String,
    pub can_promote: bool,
    /// Repeat it in `X-CSRF-Token` on every change made with the session cookie (also in the
    /// `onset_csrf` cookie); absent when the request carried a bearer token.
    pub csrf_token: Option<String>,
    /// When the session ends (absent for bearer tokens).
    pub expires_at: Option<String>,
    /// `project` when the server edits a project directory (`serve --project`), else `server`
    /// (drafts kept in the store).
    pub mode: String,
    /// Environments in promotion order.
    pub environments: Vec<String>,
}

/// A component's source as an editor holds it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceText {
    /// The component file's YAML.
    pub source: String,
    /// Its path, for problems' places (default `components/<name>.yaml`); in project mode the
    /// script files and connector documents it names are read from beside it.
    pub path: Option<String>,
    /// Files it carries (script files, connector documents) by relative path; these win over
    /// those on disk.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// One problem in a component's source.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Problem {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
    /// The offending text as written (first line, shortened).
    pub found: String,
}

/// `onset validate`'s answer for one source.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Validation {
    /// Empty when the source is valid.
    pub problems: Vec<Problem>,
}

/// `POST /api/v1/try`: one handler on one payload with the `onset run` engine; nothing stored.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TryRequest {
    #[serde(flatten)]
    pub source: SourceText,
    /// `Channel.event` (`IssuesService.onOpened`) or, for http triggers, `POST /orders/42`.
    pub event: String,
    /// The event's payload (default `{}`).
    #[serde(default)]
    pub payload: Value,
    /// Config values by key, as text typed by the component's schema (secrets are not shown back).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// What a trial run did, step by step.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TryResult {
    pub component: String,
    /// As the API names handlers: `IssuesService.onOpened`, `POST /orders`.
    pub handler: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    /// The path of the step that failed.
    pub error_step: Option<String>,
    /// The last step's output (null when the run failed).
    pub output: Value,
    pub steps: Vec<Step>,
    pub duration_ms: f64,
}

/// How the text of an expression preview is read.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PreviewMode {
    /// As a step's field: a sole `{{ expr }}` is its native value, other `{{ }}` interpolate
    /// into a string, plain text is itself.
    #[default]
    Value,
    /// As an `if:` or `while:` condition: a bare expression (`event.issue.number > 5`).
    Condition,
}

/// `POST /api/v1/expressions/preview`: an expression or template on a sample event.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub text: String,
    #[serde(default)]
    pub mode: PreviewMode,
    /// The event's payload, seen as `event`.
    #[serde(default)]
    pub event: Value,
    /// Seen as `meta` (channel, event, headers…); default `{}`.
    #[serde(default)]
    pub meta: Value,
    /// Seen as `config`; default `{}`.
    #[serde(default)]
    pub config: Value,
    /// Seen as `vars`; default `{}`.
    #[serde(default)]
    pub vars: Value,
    /// Seen as `steps` (`steps.<id>.output`); default `{}`.
    #[serde(default)]
    pub steps: Value,
}

/// The value, or why there is none (an error is an answer here, not a failed request).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Preview {
    pub value: Option<Value>,
    pub error: Option<String>,
}

/// A component's draft (server mode).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Draft {
    pub component: String,
    pub text: String,
    /// Pass it as `base_revision` to save over this one.
    pub revision: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// One draft in the list (without its text).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DraftEntry {
    pub component: String,
    pub revision: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// `PUT /api/v1/drafts/{component}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftSave {
    pub text: String,
    /// The revision this edit started from (0 for a new draft): a draft saved by someone else
    /// since is not overwritten (409). Leave it out to save regardless.
    pub base_revision: Option<i64>,
}

/// A file of the project directory (project mode).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectFile {
    /// Relative to the project directory, with `/`.
    pub path: String,
    pub text: String,
    /// SHA-256 of the text: pass it as `base_sha256` to save over exactly this version.
    pub sha256: String,
}

/// One entry of the project's file list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProjectEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `PUT /api/v1/project/files/{path}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSave {
    pub text: String,
    /// The SHA-256 of the version this edit started from; the file changed on disk since →
    /// 409 and nothing is written. Leave it out to write regardless (or to create the file).
    pub base_sha256: Option<String>,
}

/// `POST /api/v1/runs/replay`: runs or events to run again on the active deployment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayMany {
    /// Run ids or event ids (1 to 500); a run's event is run again.
    pub ids: Vec<String>,
}

/// What a replay of many did, per id asked for.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplayedMany {
    pub replayed: Vec<super::EventReplay>,
    /// Ids that were not replayed, with why.
    pub skipped: Vec<ReplaySkipped>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplaySkipped {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// `GET /api/v1/catalog/{kind}/skeleton`: what `onset new` writes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SkeletonQuery {
    /// The new component's name.
    pub name: String,
    /// The channel whose events get handlers.
    pub channel: Option<String>,
    /// Only this event (default: every event of the channel).
    pub event: Option<String>,
}

/// A new component's source and its events' samples.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SkeletonSource {
    pub path: String,
    pub source: String,
    /// Sample payloads by `Channel.event`.
    pub samples: BTreeMap<String, Value>,
}
