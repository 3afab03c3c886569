//! GitHub: `X-GitHub-Event` + `action` → `<Event>Service.on<Action>`, or `on<Event>` without an
//! action. Event list, samples and schemas come from `catalog/github/` (see its LICENSE).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use super::naming::{EventName, on, service};
use super::{ChannelInfo, EventInfo};

#[derive(Debug, Clone, Deserialize)]
pub struct GitHubEvent {
    pub name: String,
    pub actions: Vec<String>,
    /// The definition in `schema.json` that describes this event's payloads.
    pub schema: Option<String>,
}

static EVENTS: LazyLock<Vec<GitHubEvent>> = LazyLock::new(|| {
    // Committed data, checked by a test: it parses.
    serde_json::from_str(include_str!("../../catalog/github/events.json")).unwrap_or_default()
});

static SAMPLES: LazyLock<serde_json::Map<String, Value>> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../catalog/github/samples.json")).unwrap_or_default());

static SCHEMA: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../catalog/github/schema.json")).unwrap_or_default());

/// Ballerina's spellings that differ from the rule: (event, action, channel, handler).
const ALIASES: &[(&str, &str, &str, &str)] = &[("release", "prereleased", "ReleaseService", "onPreReleased")];

/// Events whose `action` is chosen by the sender (`repository_dispatch`'s `event_type`).
const FREE_ACTIONS: &[&str] = &["repository_dispatch"];

pub fn events() -> &'static [GitHubEvent] {
    &EVENTS
}

/// The names of a delivery of `event` with the payload's `action`.
pub fn name_of(event: &str, action: Option<&str>) -> EventName {
    let channel = service(event);
    let mut name = match action {
        Some(a) => EventName::new(channel, on(a)),
        None => EventName::new(channel, on(event)),
    };
    for (e, a, c, h) in ALIASES {
        if *e == event && Some(*a) == action {
            name = name.or(*c, *h);
        }
    }
    name
}

/// A GitHub event and its action (`None` for events without one).
type Source = (String, Option<String>);

/// `(channel, handler)` → `(event, action)`, for every name the catalog knows, aliases included.
static REVERSE: LazyLock<HashMap<(String, String), Source>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for e in events() {
        if e.actions.is_empty() {
            map.insert((service(&e.name), on(&e.name)), (e.name.clone(), None));
        }
        for a in &e.actions {
            for (c, h) in name_of(&e.name, Some(a)).candidates() {
                map.insert((c.to_string(), h.to_string()), (e.name.clone(), Some(a.clone())));
            }
        }
    }
    map
});

/// The GitHub event and action a handler name stands for; `None` when GitHub sends no such event.
pub fn source_of(channel: &str, handler: &str) -> Option<Source> {
    if let Some(found) = REVERSE.get(&(channel.to_string(), handler.to_string())) {
        return Some(found.clone());
    }
    FREE_ACTIONS.iter().find(|e| service(e) == channel && is_handler_name(handler)).map(|e| (e.to_string(), None))
}

/// `onSomething`: what a handler for a sender-chosen action looks like.
pub fn is_handler_name(name: &str) -> bool {
    name.strip_prefix("on").and_then(|r| r.chars().next()).is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

pub fn channels() -> Vec<ChannelInfo> {
    events()
        .iter()
        .map(|e| {
            let mut list = Vec::new();
            if e.actions.is_empty() {
                let (name, source) = if FREE_ACTIONS.contains(&e.name.as_str()) {
                    ("on<EventType>".to_string(), format!("{} (any action, named by the rule)", e.name))
                } else {
                    (on(&e.name), e.name.clone())
                };
                list.push(EventInfo { name, source, aliases: Vec::new() });
            }
            for a in &e.actions {
                let n = name_of(&e.name, Some(a));
                list.push(EventInfo {
                    name: n.event.clone(),
                    source: format!("{}.{a}", e.name),
                    aliases: n.also.iter().map(|(c, h)| format!("{c}.{h}")).collect(),
                });
            }
            ChannelInfo { name: service(&e.name), events: list }
        })
        .collect()
}

/// A real payload of this event (from `@octokit/webhooks-examples`), when one is known.
pub fn sample(channel: &str, handler: &str) -> Option<Value> {
    let (event, action) = source_of(channel, handler)?;
    let key = match action {
        Some(a) => format!("{event}.{a}"),
        None => event,
    };
    SAMPLES.get(&key).cloned()
}

/// A self-contained JSON Schema (draft-07) for this event's payload, when one is known.
pub fn schema(channel: &str, handler: &str) -> Option<Value> {
    let (event, action) = source_of(channel, handler)?;
    let info = events().iter().find(|e| e.name == event)?;
    let definitions = SCHEMA.get("definitions")?.as_object()?;
    let root = match &action {
        Some(a) if definitions.contains_key(&format!("{event}${a}")) => format!("{event}${a}"),
        _ => info.schema.clone()?,
    };
    Some(super::schema_closure(&SCHEMA, &root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_parses_and_covers_the_common_events() {
        assert!(events().len() > 60);
        assert!(!SAMPLES.is_empty());
        assert!(SCHEMA.get("definitions").is_some());
        let issues = events().iter().find(|e| e.name == "issues").unwrap();
        assert!(issues.actions.iter().any(|a| a == "opened"));
    }

    #[test]
    fn names_follow_the_rule_and_keep_ballerina_aliases() {
        assert_eq!(name_of("issues", Some("opened")), EventName::new("IssuesService", "onOpened"));
        assert_eq!(name_of("push", None), EventName::new("PushService", "onPush"));
        assert_eq!(
            name_of("pull_request", Some("review_requested")),
            EventName::new("PullRequestService", "onReviewRequested")
        );
        let pre = name_of("release", Some("prereleased"));
        assert_eq!((pre.channel.as_str(), pre.event.as_str()), ("ReleaseService", "onPrereleased"));
        assert_eq!(pre.also, vec![("ReleaseService".to_string(), "onPreReleased".to_string())]);
        assert_eq!(source_of("ReleaseService", "onPreReleased"), Some(("release".into(), Some("prereleased".into()))));
        assert_eq!(
            source_of("RepositoryDispatchService", "onSampleCollected"),
            Some(("repository_dispatch".into(), None))
        );
        assert_eq!(source_of("IssuesService", "onOpend"), None);
    }

    #[test]
    fn samples_and_schemas_for_events() {
        let s = sample("IssuesService", "onOpened").unwrap();
        assert_eq!(s["action"], "opened");
        let issues = schema("IssuesService", "onOpened").unwrap();
        assert_eq!(issues["$ref"], "#/definitions/issues$opened");
        assert!(issues["definitions"]["issues$opened"].is_object());
        assert!(issues["definitions"]["user"].is_object(), "referenced definitions come along");
        assert!(schema("PushService", "onPush").is_some());
        assert!(sample("PushService", "onPush").is_some());
    }
}
