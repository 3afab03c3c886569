//! The trigger catalog: every trigger type, its settings, channels and events, with a sample
//! payload and a JSON Schema per event. Data only; the ingress names deliveries with the same
//! functions, so the catalog and what runs never disagree.

pub mod github;
pub mod google;
mod naming;
mod skeleton;
pub mod slack;
pub mod timed;

use serde::Serialize;
use serde_json::{Map, Value};

pub use naming::{EventName, pascal};
pub use skeleton::{Skeleton, skeleton};

/// Trigger types this build can run.
pub const TRIGGER_TYPES: &[&str] =
    &["http", "github", "slack", "google-calendar", "schedule", "poll", "nats", "rabbitmq", "mqtt", "kafka", "sqs"];

/// Stream triggers: the channel is the subject/queue/topic, the one event `onMessage`.
pub const STREAM_TYPES: &[&str] = &["nats", "rabbitmq", "mqtt", "kafka", "sqs"];

/// Settings every stream trigger takes besides its broker's own.
const STREAM_COMMON: [SettingInfo; 5] = [
    setting("batch_size", false, "messages one run receives at most (default 1: a run per message)"),
    setting("batch_wait", false, "how long a batch waits to fill once its first message is in (default 500ms)"),
    setting("external_id", false, "a template over `message` giving its dedup id, when the broker has no stable one"),
    setting("max_in_flight", false, "messages received but not yet stored at most (default 64, or batch_size)"),
    REDACT,
];

#[derive(Debug, Clone, Serialize)]
pub struct TriggerInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    pub settings: Vec<SettingInfo>,
    pub channels: Vec<ChannelInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingInfo {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelInfo {
    pub name: String,
    pub events: Vec<EventInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventInfo {
    /// The handler name (`onOpened`).
    pub name: String,
    /// What the provider sends (`issues.opened`).
    pub source: String,
    /// Other handler names that receive it (`ReleaseService.onPreReleased`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

const fn setting(name: &'static str, required: bool, description: &'static str) -> SettingInfo {
    SettingInfo { name, required, description }
}

const REDACT: SettingInfo =
    setting("redact_headers", false, "more header names to store as [redacted] (credentials are always redacted)");

/// The settings each trigger type understands under `trigger.with`.
pub fn settings(kind: &str) -> Option<Vec<SettingInfo>> {
    Some(match kind {
        "http" => vec![
            setting(
                "verify",
                false,
                "request verification: a provider preset (`preset: stripe`; `onset catalog http --presets`) or a scheme (signature, hmac, standard-webhooks, token, basic)",
            ),
            setting("delivery_id", false, "a template giving each request's deduplication key"),
            REDACT,
            setting("response", false, "`immediate` (202 once stored) or `after_run` (wait for the run's answer)"),
            setting("response_timeout", false, "how long `after_run` waits (default 30s, at most 5m)"),
            setting(
                "rate_limit",
                false,
                "requests the whole API takes per window, `N/s`, `N/m`, `N/h` or `N/d` (N at once pass; the next in the window is 429, nothing stored); a handler's own `rate_limit` bounds its resource and method",
            ),
            setting(
                "rate_limit_per_ip",
                false,
                "requests each client address may send per window (`N/s`, `N/m`, `N/h`, `N/d`), for APIs anyone may call; behind a proxy set the server's --client-ip-header",
            ),
            setting(
                "security",
                false,
                "who may call: `{ scheme: none }` (the default), `{ scheme: api_key, in: header|query, name: x-api-key }` (a subscribed application's key, redacted when stored) or `{ scheme: oauth2, scopes: { /orders: { POST: [orders:write] } } }` (a bearer token of Onset's /oauth2/token, or of an external `issuer` with `jwks_url` and `audience`)",
            ),
        ],
        "github" => vec![
            setting("secret", false, "the webhook secret; with it every delivery must carry X-Hub-Signature-256"),
            setting("repository", false, "owner/name: deploy registers the webhook there (needs `token`)"),
            setting("token", false, "a token with the repository's Webhooks write permission"),
            setting("api_url", false, "the GitHub API base (default https://api.github.com)"),
            REDACT,
        ],
        "slack" => vec![setting("signing_secret", true, "the app's signing secret (Basic Information page)"), REDACT],
        "google-calendar" => vec![
            setting("calendar_id", true, "the calendar to watch (`primary` or an id such as team@example.com)"),
            setting(
                "account",
                true,
                "an OAuth2 access token, or {client_id, client_secret, refresh_token} to refresh one",
            ),
            setting("api_url", false, "the Calendar API base (default https://www.googleapis.com/calendar/v3)"),
            setting("token_url", false, "the OAuth2 token endpoint (default https://oauth2.googleapis.com/token)"),
            REDACT,
        ],
        "schedule" => vec![
            setting("cron", false, "5 fields (minute hour day month weekday) or 6 (second first); or `interval`"),
            setting("interval", false, "a fixed period such as `30s` or `5m`; or `cron`"),
            setting("timezone", false, "the cron's time zone (default UTC), e.g. Europe/Berlin"),
            setting("catch_up", false, "missed times after downtime: none, one (default) or all"),
            REDACT,
        ],
        "poll" => vec![
            setting("url", true, "the address to ask; may use `cursor` (null at first)"),
            setting("method", false, "GET (default) or POST"),
            setting("headers", false, "request headers, e.g. authorization from config"),
            setting("body", false, "a JSON body for POST"),
            setting("interval", false, "how often (at least 1s); or `cron`"),
            setting("cron", false, "when to poll, as for schedule"),
            setting("timezone", false, "the cron's time zone (default UTC)"),
            setting("catch_up", false, "missed times after downtime: none, one (default) or all"),
            setting("items", true, "the list of items in the answer, e.g. \"{{ response.body.results }}\""),
            setting("id", true, "an item's id, e.g. \"{{ item.id }}\": only ids never seen become events"),
            setting("cursor", false, "carried to the next request, e.g. \"{{ response.body.next }}\""),
            REDACT,
        ],
        "nats" => {
            let mut v = vec![
                setting("url", true, "the server, e.g. nats://127.0.0.1:4222"),
                setting("subject", true, "the subject to read (wildcards allowed); the handlers' channel"),
                setting(
                    "stream",
                    false,
                    "a JetStream stream: consume durably with explicit acks (else core NATS, at-most-once)",
                ),
                setting("durable", false, "the durable consumer's name (default onset-<component>-<environment>)"),
                setting("ack_wait", false, "how long JetStream waits for the ack before delivering again"),
                setting("max_deliver", false, "deliveries of a message at most"),
            ];
            v.extend(STREAM_COMMON);
            v
        }
        "rabbitmq" => {
            let mut v = vec![
                setting("url", true, "amqp://user:password@host:5672/%2f"),
                setting("queue", true, "the queue to consume; the handlers' channel"),
                setting("declare", false, "declare the queue (durable) if it does not exist"),
                setting("bindings", false, "[{exchange, routing_key}] to bind the queue to"),
                setting("prefetch", false, "unacknowledged deliveries at most (default max_in_flight)"),
            ];
            v.extend(STREAM_COMMON);
            v
        }
        "mqtt" => {
            let mut v = vec![
                setting("url", true, "mqtt://host:1883"),
                setting("topic", true, "the topic filter (+ and # wildcards); the handlers' channel"),
                setting("qos", false, "0, 1 (default) or 2; 1 and 2 are acknowledged after storing"),
                setting("client_id", false, "default onset-<component>-<environment>"),
                setting("clean_session", false, "default false: the broker keeps the session while Onset is away"),
                setting("username", false, "with password"),
                setting("password", false, "with username"),
            ];
            v.extend(STREAM_COMMON);
            v
        }
        "kafka" => {
            let mut v = vec![
                setting("brokers", true, "host:9092, or a list of them"),
                setting("topics", true, "the topics to read; each is a channel of the handlers"),
                setting("group", false, "the consumer group (default onset-<component>-<environment>)"),
                setting("start", false, "where a new group starts: earliest (default) or latest"),
                setting("options", false, "more librdkafka properties, e.g. security.protocol, sasl.username"),
            ];
            v.extend(STREAM_COMMON);
            v
        }
        "sqs" => {
            let mut v = vec![
                setting(
                    "queue_url",
                    true,
                    "https://sqs.<region>.amazonaws.com/<account>/<queue>; the queue name is the channel",
                ),
                setting("region", true, "e.g. eu-west-1"),
                setting("endpoint", false, "another SQS endpoint, e.g. a local one"),
                setting("access_key_id", false, "with secret_access_key (default: AWS_ACCESS_KEY_ID of the server)"),
                setting("secret_access_key", false, "from secrets (default: AWS_SECRET_ACCESS_KEY of the server)"),
                setting("session_token", false, "for temporary credentials"),
                setting("wait_seconds", false, "long-polling wait, 0 to 20 (default 20)"),
                setting(
                    "visibility_timeout",
                    false,
                    "how long a received message stays hidden (default 30s; extended while storing)",
                ),
            ];
            v.extend(STREAM_COMMON);
            v
        }
        _ => return None,
    })
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "http" => "a webhook of your own: resource paths as channels, HTTP methods as events",
        "github" => "GitHub repository or organization webhooks: every event GitHub sends",
        "slack" => "Slack Events API, slash commands and interactivity",
        "google-calendar" => "Google Calendar push notifications, turned into new/updated/deleted events",
        "schedule" => "fires on a cron or a fixed interval, once per due time across restarts",
        "poll" => "asks an HTTP API periodically; each item never seen before is an event",
        "nats" => "NATS subjects: JetStream durable consumers (at-least-once) or core NATS",
        "rabbitmq" => "a RabbitMQ queue with manual acks (at-least-once)",
        "mqtt" => "MQTT topics; QoS 1/2 with a persistent session are at-least-once",
        "sqs" => "an Amazon SQS queue: long polling, deleted after storing (at-least-once)",
        "kafka" => "Kafka topics as a consumer group; offsets committed after storing (at-least-once)",
        _ => "",
    }
}

/// Everything about one trigger type; `None` when this build does not know it.
pub fn trigger(kind: &str) -> Option<TriggerInfo> {
    let kind = *TRIGGER_TYPES.iter().find(|k| **k == kind)?;
    let channels = match kind {
        "github" => github::channels(),
        "slack" => slack::channels(),
        "google-calendar" => google::channels(),
        "schedule" => timed::channels(timed::SCHEDULE),
        "poll" => timed::channels(timed::POLL),
        _ => Vec::new(),
    };
    Some(TriggerInfo { kind, description: describe(kind), settings: settings(kind)?, channels })
}

pub fn triggers() -> Vec<TriggerInfo> {
    TRIGGER_TYPES.iter().filter_map(|k| trigger(k)).collect()
}

/// A sample payload for a handler of this trigger type.
pub fn sample(kind: &str, channel: &str, handler: &str) -> Option<Value> {
    match kind {
        "github" => github::sample(channel, handler),
        "slack" => slack::sample(channel, handler),
        "google-calendar" => google::sample(channel, handler),
        "schedule" => timed::sample(timed::SCHEDULE, channel, handler),
        "poll" => timed::sample(timed::POLL, channel, handler),
        _ => None,
    }
}

/// A JSON Schema of the payload a handler of this trigger type receives.
pub fn schema(kind: &str, channel: &str, handler: &str) -> Option<Value> {
    match kind {
        "github" => github::schema(channel, handler),
        "slack" => slack::schema(channel, handler),
        "google-calendar" => google::schema(channel, handler),
        "schedule" => timed::schema(timed::SCHEDULE, channel, handler),
        "poll" => timed::schema(timed::POLL, channel, handler),
        _ => None,
    }
}

/// One trigger type as JSON, each event with its `sample` and `schema` inline (`null` when the
/// catalog has none).
pub fn detail(kind: &str) -> Option<Value> {
    let info = trigger(kind)?;
    let mut value = serde_json::to_value(&info).ok()?;
    if let Some(channels) = value.get_mut("channels").and_then(Value::as_array_mut) {
        for channel in channels {
            let name = channel["name"].as_str().unwrap_or_default().to_string();
            if let Some(events) = channel.get_mut("events").and_then(Value::as_array_mut) {
                for event in events {
                    let handler = event["name"].as_str().unwrap_or_default().to_string();
                    event["sample"] = sample(kind, &name, &handler).unwrap_or(Value::Null);
                    event["schema"] = schema(kind, &name, &handler).unwrap_or(Value::Null);
                }
            }
        }
    }
    Some(value)
}

/// Whether the provider sends anything a handler with this name receives; the error names the
/// events the channel has.
pub fn check_handler(kind: &str, channel: &str, handler: &str) -> Result<(), String> {
    let known = match kind {
        "github" => github::source_of(channel, handler).is_some(),
        "slack" => slack::accepts(channel, handler),
        "google-calendar" => google::accepts(channel, handler),
        "schedule" => timed::accepts(timed::SCHEDULE, channel, handler),
        "poll" => timed::accepts(timed::POLL, channel, handler),
        k if STREAM_TYPES.contains(&k) => {
            if handler == "onMessage" {
                return Ok(());
            }
            return Err(format!(
                "a {k} trigger's one event is `onMessage` (under the subject/queue/topic `{channel}`)"
            ));
        }
        _ => return Ok(()),
    };
    if known {
        return Ok(());
    }
    let channels = trigger(kind).map(|t| t.channels).unwrap_or_default();
    Err(match channels.iter().find(|c| c.name == channel) {
        Some(c) => format!(
            "`{channel}` has no event `{handler}`; it has {}",
            c.events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => format!("a {kind} trigger has no channel `{channel}`; `onset catalog {kind}` lists them"),
    })
}

/// The definition `root` of `schema` with every definition it refers to, as one schema.
pub(crate) fn schema_closure(schema: &Value, root: &str) -> Value {
    let empty = Map::new();
    let all = schema.get("definitions").and_then(Value::as_object).unwrap_or(&empty);
    let mut picked = Map::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if picked.contains_key(&name) {
            continue;
        }
        let Some(def) = all.get(&name) else { continue };
        collect_refs(def, &mut todo);
        picked.insert(name, def.clone());
    }
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": format!("#/definitions/{root}"),
        "definitions": picked,
    })
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/definitions/")) {
                out.push(r.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_event_has_a_sample_and_schema_or_says_none() {
        for t in triggers() {
            for c in &t.channels {
                for e in &c.events {
                    if e.name.contains('<') {
                        continue;
                    }
                    assert!(check_handler(t.kind, &c.name, &e.name).is_ok(), "{} {}.{}", t.kind, c.name, e.name);
                    if t.kind != "github" {
                        assert!(sample(t.kind, &c.name, &e.name).is_some(), "{} {}.{}", t.kind, c.name, e.name);
                        assert!(schema(t.kind, &c.name, &e.name).is_some(), "{} {}.{}", t.kind, c.name, e.name);
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_handlers_are_explained() {
        let e = check_handler("github", "IssuesService", "onOpend").unwrap_err();
        assert!(e.contains("has no event `onOpend`") && e.contains("onOpened"), "{e}");
        let e = check_handler("google-calendar", "CalendarSvc", "onNewEvent").unwrap_err();
        assert!(e.contains("onset catalog google-calendar"), "{e}");
    }
}
