//! Skeletons of new components: what `onset new` writes and the web UI's create wizard opens.

use std::fmt::Write as _;

use serde_json::Value;

/// Settings and config keys for a skeleton of this trigger type.
fn trigger_block(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "github" => (
            "    secret: \"{{ config.webhook_secret }}\"\n",
            "  webhook_secret: { type: secret, description: the secret set on the GitHub webhook }\n",
        ),
        "slack" => (
            "    signing_secret: \"{{ config.signing_secret }}\"\n",
            "  signing_secret: { type: secret, description: the Slack app's signing secret }\n",
        ),
        "google-calendar" => (
            "    calendar_id: \"{{ config.calendar_id }}\"\n    account: \"{{ config.account }}\"\n",
            "  calendar_id: { type: string, example: team@example.com }\n  account: { type: json, description: \"an access token, or {client_id, client_secret, refresh_token}\" }\n",
        ),
        "schedule" => ("    interval: 1m\n", ""),
        "poll" => (
            "    url: \"{{ config.api }}/items\"\n    interval: 1m\n    items: \"{{ response.body }}\"\n    id: \"{{ item.id }}\"\n",
            "  api: { type: string, example: https://api.example.com, description: the API to poll }\n",
        ),
        _ => ("", ""),
    }
}

/// Paths into a payload worth logging, in order of preference.
const KEY_FIELDS: &[&str] = &[
    "action",
    "repository.full_name",
    "sender.login",
    "issue.number",
    "issue.title",
    "pull_request.number",
    "pull_request.title",
    "release.tag_name",
    "ref",
    "event.type",
    "event.user",
    "event.channel",
    "event.text",
    "command",
    "text",
    "user_name",
    "type",
    "summary",
    "id",
    "status",
];

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// A `log` template over the key fields this event's sample has.
fn log_line(sample: Option<&Value>) -> String {
    let Some(sample) = sample else { return "{{ meta.channel }}.{{ meta.event }} received".into() };
    let parts: Vec<String> = KEY_FIELDS
        .iter()
        .filter(|p| lookup(sample, p).is_some_and(|v| v.is_string() || v.is_number()))
        .take(4)
        .map(|p| format!("{p}={{{{ event.{p} }}}}"))
        .collect();
    if parts.is_empty() { "{{ meta.channel }}.{{ meta.event }} received".into() } else { parts.join(" ") }
}

/// A new component's source: a handler per event of one channel, each logging the fields its
/// sample carries, and the samples to run them on (`onset new`, the web UI's create wizard).
#[derive(Debug, Clone)]
pub struct Skeleton {
    pub yaml: String,
    pub channel: String,
    /// `(event, sample payload)` per handler, in the order of the file.
    pub samples: Vec<(String, Value)>,
}

/// The skeleton of `name` for a `kind` trigger's channel (every event of it, or the one named).
pub fn skeleton(name: &str, kind: &str, channel: Option<&str>, event: Option<&str>) -> Result<Skeleton, String> {
    crate::ComponentName::parse(name).map_err(|e| format!("component name: {e}"))?;
    let info = super::trigger(kind).ok_or_else(|| {
        format!(
            "there is no trigger type `{kind}`; types: {} (and `onset catalog connectors` for operations)",
            crate::TRIGGER_TYPES.join(", ")
        )
    })?;
    if kind == "http" {
        return Err("`onset new --trigger http` has no catalog channels; write the resource paths yourself (see docs/runtime.md)".into());
    }
    let channel_name = channel.ok_or_else(|| {
        format!(
            "--channel is needed; {kind} has {}",
            info.channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let chosen = info
        .channels
        .iter()
        .find(|c| c.name == channel_name)
        .ok_or_else(|| format!("{kind} has no channel `{channel_name}`; `onset catalog {kind}` lists them"))?;
    let events: Vec<String> = match event {
        Some(e) => {
            super::check_handler(kind, channel_name, e)?;
            vec![e.to_string()]
        }
        None => chosen.events.iter().map(|e| e.name.clone()).filter(|e| !e.contains('<')).collect(),
    };
    if events.is_empty() {
        return Err(format!("`{channel_name}` events are named by the sender; pass --event (e.g. --event onDeploy)"));
    }
    let (with, config) = trigger_block(kind);
    let config = if config.is_empty() { "config: {}\n".to_string() } else { format!("config:\n{config}") };
    let mut yaml = format!(
        "# Made by `onset new {name} --trigger {kind} --channel {channel_name}`; `onset catalog {kind}` lists every event.\ncomponent: {name}\ndescription: {channel_name} events from {kind}\ntrigger:\n  type: {kind}\n  with:\n{with}{config}handlers:\n  {channel_name}:\n"
    );
    let mut samples = Vec::with_capacity(events.len());
    for e in events {
        let sample = super::sample(kind, channel_name, &e);
        let _ = write!(
            yaml,
            "    {e}:\n      steps:\n        - log: \"{}\"\n",
            log_line(sample.as_ref()).replace('"', "\\\"")
        );
        samples.push((e, sample.unwrap_or_else(|| serde_json::json!({}))));
    }
    Ok(Skeleton { yaml, channel: channel_name.to_string(), samples })
}
