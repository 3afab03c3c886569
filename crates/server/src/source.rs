//! Provider settings of a deployed trigger (`trigger.with`, rendered against config): what the
//! ingress needs to verify and name deliveries, and what registration needs to reach the API.

use onset_sources::{Secret, Verifier};
use serde::Deserialize;
use serde_json::Value;

pub const GITHUB_API: &str = "https://api.github.com";
pub const GOOGLE_CALENDAR_API: &str = "https://www.googleapis.com/calendar/v3";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// The kind of trigger and its provider settings.
#[derive(Debug, Clone)]
pub enum Source {
    Http,
    GitHub(GitHubSettings),
    Slack,
    GoogleCalendar(GoogleSettings),
    Schedule(Timing),
    Poll(PollSettings),
    Nats(onset_sources::stream::nats::NatsSettings, StreamCommon),
    Rabbitmq(onset_sources::stream::rabbitmq::RabbitSettings, StreamCommon),
    Mqtt(onset_sources::stream::mqtt::MqttSettings, StreamCommon),
    Kafka(onset_sources::stream::kafka::KafkaSettings, StreamCommon),
    Sqs(onset_sources::stream::sqs::SqsSettings, StreamCommon),
}

impl Source {
    /// Sources that must run on one node at a time in a cluster: schedules and pollers (a due
    /// time fires once), MQTT (one session per client id) and core NATS (every subscriber gets
    /// every message). Kafka groups, SQS, RabbitMQ queues and JetStream durable consumers share
    /// the work among consumers by themselves and run on every worker node.
    pub fn single(&self) -> bool {
        match self {
            Source::Schedule(_) | Source::Poll(_) | Source::Mqtt(..) => true,
            Source::Nats(settings, _) => settings.stream.is_none(),
            _ => false,
        }
    }

    /// The common settings of a stream trigger; `None` for other kinds.
    pub fn stream(&self) -> Option<&StreamCommon> {
        match self {
            Source::Nats(_, c)
            | Source::Rabbitmq(_, c)
            | Source::Mqtt(_, c)
            | Source::Kafka(_, c)
            | Source::Sqs(_, c) => Some(c),
            _ => None,
        }
    }
}

/// Settings every stream trigger takes.
#[derive(Clone)]
pub struct StreamCommon {
    /// Messages received but not yet stored at most.
    pub max_in_flight: usize,
    /// Messages one run receives at most (1: a run per message).
    pub batch_size: usize,
    /// How long a batch waits to fill once its first message is in.
    pub batch_wait: std::time::Duration,
    /// `external_id`: the dedup id of a message, over `event`, `message`, `headers`, `config`.
    pub external_id: Option<std::sync::Arc<(onset_expr::Program, onset_expr::Compiled)>>,
}

impl std::fmt::Debug for StreamCommon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCommon")
            .field("max_in_flight", &self.max_in_flight)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// Stream settings left unrendered at deploy (evaluated per message).
pub const STREAM_TEMPLATES: &[&str] = &["external_id"];

fn stream_common(with: &mut Value, deferred: &serde_json::Map<String, Value>) -> Result<StreamCommon, String> {
    let map = with.as_object_mut().ok_or("trigger.with is a mapping")?;
    let batch_size = match map.remove("batch_size") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=1000).contains(n))
            .ok_or("trigger.with.batch_size is a whole number from 1 to 1000")? as usize,
    };
    let batch_wait = match map.remove("batch_wait") {
        None | Some(Value::Null) => std::time::Duration::from_millis(500),
        Some(v) => {
            serde_json::from_value::<onset_model::Duration>(v)
                .map_err(|e| format!("trigger.with.batch_wait: {e} (e.g. 500ms or 2s)"))?
                .0
        }
    };
    if batch_wait > std::time::Duration::from_secs(60) {
        return Err("trigger.with.batch_wait is at most 60s".into());
    }
    let max_in_flight = match map.remove("max_in_flight") {
        // Room for a whole batch: a broker's prefetch follows this.
        None | Some(Value::Null) => batch_size.max(64),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or("trigger.with.max_in_flight is a whole number from 1 to 10000")? as usize,
    };
    let external_id = match deferred.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => {
            let mut c = onset_expr::Compiler::new();
            let compiled = c.string(t).map_err(|e| format!("trigger.with.external_id: {e}"))?;
            Some(std::sync::Arc::new((c.finish().map_err(|e| e.to_string())?, compiled)))
        }
        Some(_) => return Err("trigger.with.external_id is a template string".into()),
    };
    Ok(StreamCommon { max_in_flight, batch_size, batch_wait, external_id })
}

/// When a schedule fires or a poller asks, and what to do with times missed while down.
#[derive(Debug, Clone)]
pub struct Timing {
    pub every: onset_sources::schedule::Every,
    pub catch_up: onset_sources::schedule::CatchUp,
    /// The settings as written: a stored next time belongs to these.
    pub spec: String,
}

/// The request a poller makes and how it reads the answer; `url`, `items`, `id` and `cursor`
/// are evaluated at each poll.
#[derive(Clone)]
pub struct PollSettings {
    pub timing: Timing,
    pub method: String,
    pub headers: serde_json::Map<String, Value>,
    pub body: Option<Value>,
    pub templates: std::sync::Arc<PollTemplates>,
}

impl std::fmt::Debug for PollSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollSettings").field("method", &self.method).finish_non_exhaustive()
    }
}

pub struct PollTemplates {
    pub program: onset_expr::Program,
    pub url: onset_expr::Compiled,
    pub items: onset_expr::Compiled,
    pub id: onset_expr::Compiled,
    pub cursor: Option<onset_expr::Compiled>,
}

/// Keys of a `poll` trigger that are templates over the answer, left unrendered at deploy.
pub const POLL_TEMPLATES: &[&str] = &["url", "items", "id", "cursor"];

fn timing(with: &Value, minimum: std::time::Duration) -> Result<Timing, String> {
    use onset_sources::schedule::{CatchUp, Cron, Every};
    let cron = with.get("cron").and_then(Value::as_str);
    let interval = with.get("interval").and_then(Value::as_str);
    let every = match (cron, interval) {
        (Some(c), None) => {
            let tz_name = with.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
            let tz = jiff::tz::TimeZone::get(tz_name)
                .map_err(|_| format!("trigger.with.timezone `{tz_name}` is not a time zone (e.g. Europe/Berlin)"))?;
            Every::Cron(c.parse::<Cron>().map_err(|e| format!("trigger.with.cron: {e}"))?, tz)
        }
        (None, Some(i)) => {
            let d: onset_model::Duration = i.parse().map_err(|e| format!("trigger.with.interval: {e}"))?;
            if d.as_std() < minimum {
                return Err(format!("trigger.with.interval is at least {}s", minimum.as_secs()));
            }
            Every::Interval(d.as_std())
        }
        (Some(_), Some(_)) => return Err("trigger.with has both `cron` and `interval`; keep one".into()),
        (None, None) => return Err("trigger.with needs `cron` (e.g. \"*/5 * * * *\") or `interval` (e.g. 30s)".into()),
    };
    let catch_up = match with.get("catch_up") {
        None | Some(Value::Null) => CatchUp::default(),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| "trigger.with.catch_up is none, one or all".to_string())?
        }
    };
    let spec = serde_json::json!([with.get("cron"), with.get("interval"), with.get("timezone")]).to_string();
    Ok(Timing { every, catch_up, spec })
}

fn poll(with: &Value, deferred: &serde_json::Map<String, Value>) -> Result<PollSettings, String> {
    let timing = timing(with, std::time::Duration::from_secs(1))?;
    let method = with.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    if method != "GET" && method != "POST" {
        return Err(format!("trigger.with.method is GET or POST, not {method}"));
    }
    let headers = match with.get("headers") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("trigger.with.headers is a mapping of header names to values".into()),
    };
    let mut c = onset_expr::Compiler::new();
    let mut template = |key: &str, required: bool| -> Result<Option<onset_expr::Compiled>, String> {
        match deferred.get(key) {
            Some(Value::String(t)) => c.string(t).map(Some).map_err(|e| format!("trigger.with.{key}: {e}")),
            Some(_) => Err(format!("trigger.with.{key} is a template string")),
            None if required => Err(format!("a poll trigger needs trigger.with.{key}")),
            None => Ok(None),
        }
    };
    let url = template("url", true)?;
    let items = template("items", true)?;
    let id = template("id", true)?;
    let cursor = template("cursor", false)?;
    let program = c.finish().map_err(|e| e.to_string())?;
    let (Some(url), Some(items), Some(id)) = (url, items, id) else {
        return Err("a poll trigger needs url, items and id".into());
    };
    Ok(PollSettings {
        timing,
        method,
        headers,
        body: with.get("body").cloned().filter(|b| !b.is_null()),
        templates: std::sync::Arc::new(PollTemplates { program, url, items, id, cursor }),
    })
}

const TIMING_SETTINGS: &[&str] = &["cron", "interval", "timezone", "catch_up"];

fn only(kind: &str, with: &Value, allowed: &[&str]) -> Result<(), String> {
    if let Some(unknown) =
        with.as_object().and_then(|m| m.keys().find(|k| !allowed.contains(&k.as_str()) && *k != "redact_headers"))
    {
        return Err(format!("trigger setting `{unknown}` is not a {kind} setting ({})", allowed.join(", ")));
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSettings {
    #[serde(default)]
    pub secret: Option<Secret>,
    /// `owner/name`: deploy registers the webhook there.
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default = "github_api")]
    pub api_url: String,
}

fn github_api() -> String {
    GITHUB_API.into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackSettings {
    signing_secret: Secret,
}

/// How Onset gets an access token for a Google account.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum GoogleAccount {
    /// An access token used as is.
    Token(Secret),
    /// Refreshed at the token endpoint when needed.
    Refresh { client_id: String, client_secret: Secret, refresh_token: Secret },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSettings {
    pub calendar_id: String,
    pub account: GoogleAccount,
    #[serde(default = "google_api")]
    pub api_url: String,
    #[serde(default = "google_token_url")]
    pub token_url: String,
}

fn google_api() -> String {
    GOOGLE_CALENDAR_API.into()
}

fn google_token_url() -> String {
    GOOGLE_TOKEN_URL.into()
}

/// The provider's own settings; `redact_headers`, common to every type, is read elsewhere.
fn settings<T: serde::de::DeserializeOwned>(kind: &str, with: &Value) -> Result<T, String> {
    let mut own = with.clone();
    if let Some(map) = own.as_object_mut() {
        map.remove("redact_headers");
    }
    serde_json::from_value(own).map_err(|e| {
        let names: Vec<&str> =
            onset_model::catalog::settings(kind).unwrap_or_default().iter().map(|s| s.name).collect();
        format!("trigger.with: {e} (a {kind} trigger takes {})", names.join(", "))
    })
}

fn non_empty(secret: Option<Secret>) -> Option<Secret> {
    secret.filter(|s| !s.expose().is_empty())
}

/// The source and its verifier, from the rendered `trigger.with` of a non-`http` trigger;
/// `deferred` holds the settings left unrendered (templates evaluated later).
pub fn build(
    kind: &str,
    with: &Value,
    deferred: &serde_json::Map<String, Value>,
) -> Result<(Source, Verifier), String> {
    match kind {
        "schedule" => {
            only(kind, with, TIMING_SETTINGS)?;
            Ok((Source::Schedule(timing(with, std::time::Duration::from_secs(1))?), Verifier::none()))
        }
        "nats" | "rabbitmq" | "mqtt" | "kafka" | "sqs" => {
            let mut own = with.clone();
            let common = stream_common(&mut own, deferred)?;
            let source = match kind {
                "nats" => Source::Nats(settings(kind, &own)?, common),
                "rabbitmq" => Source::Rabbitmq(settings(kind, &own)?, common),
                "kafka" => {
                    let s: onset_sources::stream::kafka::KafkaSettings = settings(kind, &own)?;
                    s.check().map_err(|e| format!("trigger.with.{e}"))?;
                    Source::Kafka(s, common)
                }
                "sqs" => {
                    let s: onset_sources::stream::sqs::SqsSettings = settings(kind, &own)?;
                    s.check().map_err(|e| format!("trigger.with.{e}"))?;
                    Source::Sqs(s, common)
                }
                _ => {
                    let s: onset_sources::stream::mqtt::MqttSettings = settings(kind, &own)?;
                    onset_sources::stream::mqtt::host_port(&s.url).map_err(|e| format!("trigger.with.url: {e}"))?;
                    onset_sources::stream::mqtt::qos(s.qos).map_err(|e| format!("trigger.with.{e}"))?;
                    Source::Mqtt(s, common)
                }
            };
            Ok((source, Verifier::none()))
        }
        "poll" => {
            let mut allowed = TIMING_SETTINGS.to_vec();
            allowed.extend(["method", "headers", "body"]);
            only(kind, with, &allowed)?;
            Ok((Source::Poll(poll(with, deferred)?), Verifier::none()))
        }
        "github" => {
            let mut s: GitHubSettings = settings(kind, with)?;
            s.secret = non_empty(s.secret);
            s.token = non_empty(s.token);
            if let Some(repo) = &s.repository
                && repo.split('/').filter(|p| !p.is_empty()).count() != 2
            {
                return Err(format!("trigger.with.repository `{repo}` is not `owner/name`"));
            }
            if s.repository.is_some() && s.token.is_none() {
                return Err("trigger.with.repository needs trigger.with.token to register the webhook".into());
            }
            if s.repository.is_some() && s.secret.is_none() {
                return Err(
                    "trigger.with.repository needs trigger.with.secret: a registered webhook is always signed".into()
                );
            }
            let verifier = onset_sources::github::verifier(s.secret.clone()).map_err(|e| e.to_string())?;
            Ok((Source::GitHub(s), verifier))
        }
        "slack" => {
            let s: SlackSettings = settings(kind, with)?;
            if s.signing_secret.expose().is_empty() {
                return Err("trigger.with.signing_secret is empty".into());
            }
            let verifier = onset_sources::slack::verifier(s.signing_secret).map_err(|e| e.to_string())?;
            Ok((Source::Slack, verifier))
        }
        "google-calendar" => {
            let s: GoogleSettings = settings(kind, with)?;
            if s.calendar_id.is_empty() {
                return Err("trigger.with.calendar_id is empty".into());
            }
            // Notifications are checked against the channel Onset registered, not a signature.
            Ok((Source::GoogleCalendar(s), Verifier::none()))
        }
        other => Err(format!("trigger type `{other}` is not available in this build")),
    }
}
