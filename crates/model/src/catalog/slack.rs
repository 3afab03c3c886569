//! Slack: Events API `event.type` → Ballerina's services (`AppService.onAppMention`…), the rule
//! `<Type>Service.on<Type>` for types they lack; slash commands and interactivity payloads.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::naming::{EventName, on, service};
use super::{ChannelInfo, EventInfo};

/// Ballerina's `trigger.slack` services and the `event.type`s each takes (`on` + PascalCase).
const SERVICES: &[(&str, &[&str])] = &[
    ("AppService", &["app_mention", "app_rate_limited", "app_uninstalled"]),
    (
        "ChannelService",
        &[
            "channel_archive",
            "channel_created",
            "channel_deleted",
            "channel_history_changed",
            "channel_left",
            "channel_rename",
            "channel_unarchive",
        ],
    ),
    ("DndService", &["dnd_updated", "dnd_updated_user"]),
    ("EmailDomainChangedService", &["email_domain_changed"]),
    ("EmojiChangedService", &["emoji_changed"]),
    (
        "FileService",
        &[
            "file_change",
            "file_comment_added",
            "file_comment_deleted",
            "file_comment_edited",
            "file_created",
            "file_deleted",
            "file_public",
            "file_shared",
            "file_unshared",
        ],
    ),
    ("GridMigrationService", &["grid_migration_finished", "grid_migration_started"]),
    (
        "GroupService",
        &[
            "group_archive",
            "group_close",
            "group_history_changed",
            "group_left",
            "group_open",
            "group_rename",
            "group_unarchive",
        ],
    ),
    ("ImService", &["im_close", "im_created", "im_history_changed", "im_open"]),
    ("LinkSharedService", &["link_shared"]),
    ("MemberService", &["member_joined_channel", "member_left_channel"]),
    ("MessageService", &["message"]),
    ("PinService", &["pin_added", "pin_removed"]),
    ("ReactionService", &["reaction_added", "reaction_removed"]),
    ("ResourcesService", &["resources_added", "resources_removed"]),
    ("ScopeService", &["scope_denied", "scope_granted"]),
    ("StarService", &["star_added", "star_removed"]),
    (
        "SubteamService",
        &[
            "subteam_created",
            "subteam_members_changed",
            "subteam_self_added",
            "subteam_self_removed",
            "subteam_updated",
        ],
    ),
    ("TeamService", &["team_domain_change", "team_join", "team_rename"]),
    ("TokensRevokedService", &["tokens_revoked"]),
    ("UrlVerificationService", &["url_verification"]),
    ("UserChangeService", &["user_change"]),
];

/// Event types Slack sends that Ballerina has no service for: named by the rule.
const MORE_TYPES: &[&str] = &[
    "app_home_opened",
    "app_requested",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "call_rejected",
    "channel_id_changed",
    "channel_shared",
    "channel_unshared",
    "function_executed",
    "invite_requested",
    "message_metadata_deleted",
    "message_metadata_posted",
    "message_metadata_updated",
    "shared_channel_invite_accepted",
    "shared_channel_invite_approved",
    "shared_channel_invite_declined",
    "shared_channel_invite_received",
    "team_access_granted",
    "team_access_revoked",
    "user_huddle_changed",
    "user_profile_changed",
    "user_status_changed",
];

/// `message` events by `channel_type`: the handler tried before `onMessage`.
const MESSAGE_KINDS: &[(&str, &str)] = &[
    ("channel", "onMessageChannels"),
    ("group", "onMessageGroups"),
    ("im", "onMessageIm"),
    ("mpim", "onMessageMpim"),
    ("app_home", "onMessageAppHome"),
];

/// Interactivity payload `type`s (`InteractionService.on<Type>`).
pub const INTERACTION_TYPES: &[&str] = &[
    "block_actions",
    "block_suggestion",
    "dialog_cancellation",
    "dialog_submission",
    "interactive_message",
    "message_action",
    "shortcut",
    "view_closed",
    "view_submission",
    "workflow_step_edit",
];

pub const SLASH_COMMANDS: &str = "SlashCommandService";
pub const INTERACTIONS: &str = "InteractionService";

/// The names of an Events API event (`event.type`, and `channel_type` for messages), or of a
/// top-level type (`url_verification`, `app_rate_limited`).
pub fn name_of(kind: &str, channel_type: Option<&str>) -> EventName {
    if kind == "message" {
        let kinded = channel_type.and_then(|t| MESSAGE_KINDS.iter().find(|(k, _)| *k == t));
        return match kinded {
            Some((_, handler)) => EventName::new("MessageService", *handler).or("MessageService", "onMessage"),
            None => EventName::new("MessageService", "onMessage"),
        };
    }
    match SERVICES.iter().find(|(_, types)| types.contains(&kind)) {
        Some((svc, _)) => EventName::new(*svc, on(kind)),
        None => EventName::new(service(kind), on(kind)),
    }
}

/// `/weather` → `SlashCommandService.onWeather`.
pub fn slash_command(command: &str) -> EventName {
    EventName::new(SLASH_COMMANDS, on(command))
}

/// `block_actions` → `InteractionService.onBlockActions`.
pub fn interaction(kind: &str) -> EventName {
    EventName::new(INTERACTIONS, on(kind))
}

/// Every `(type, channel, handler)` the catalog lists.
static KNOWN: LazyLock<Vec<(String, String, String)>> = LazyLock::new(|| {
    let mut all = Vec::new();
    for (svc, types) in SERVICES {
        for t in *types {
            all.push((t.to_string(), svc.to_string(), on(t)));
        }
    }
    for (kind, handler) in MESSAGE_KINDS {
        all.push((format!("message ({kind})"), "MessageService".into(), handler.to_string()));
    }
    for t in MORE_TYPES {
        all.push((t.to_string(), service(t), on(t)));
    }
    for t in INTERACTION_TYPES {
        all.push((t.to_string(), INTERACTIONS.into(), on(t)));
    }
    all
});

/// Whether a handler name can receive Slack events: a listed name, any slash command, or a
/// type the list lacks written by the rule (`XyzService.onXyz`).
pub fn accepts(channel: &str, handler: &str) -> bool {
    KNOWN.iter().any(|(_, c, h)| c == channel && h == handler)
        || (channel == SLASH_COMMANDS && super::github::is_handler_name(handler))
        || channel.strip_suffix("Service").is_some_and(|t| !t.is_empty() && handler == format!("on{t}"))
}

pub fn channels() -> Vec<ChannelInfo> {
    let mut out: Vec<ChannelInfo> = Vec::new();
    for (source, channel, handler) in KNOWN.iter() {
        let info = EventInfo { name: handler.clone(), source: source.clone(), aliases: Vec::new() };
        match out.iter_mut().find(|c| &c.name == channel) {
            Some(c) => c.events.push(info),
            None => out.push(ChannelInfo { name: channel.clone(), events: vec![info] }),
        }
    }
    out.push(ChannelInfo {
        name: SLASH_COMMANDS.into(),
        events: vec![EventInfo {
            name: "on<Command>".into(),
            source: "slash command, e.g. /weather → onWeather".into(),
            aliases: Vec::new(),
        }],
    });
    out
}

static SAMPLES: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../catalog/slack/samples.json")).unwrap_or_default());

/// The `event.type` a handler stands for, if it is an Events API event.
fn event_type(channel: &str, handler: &str) -> Option<String> {
    if channel == "MessageService" {
        return Some("message".into());
    }
    KNOWN
        .iter()
        .find(|(_, c, h)| c == channel && h == handler)
        .map(|(t, _, _)| t.clone())
        .or_else(|| MORE_TYPES.iter().find(|t| service(t) == channel).map(|t| t.to_string()))
}

/// A payload as Slack delivers it to this handler.
pub fn sample(channel: &str, handler: &str) -> Option<Value> {
    if channel == SLASH_COMMANDS {
        let mut s = SAMPLES["slash_command"].clone();
        let command = handler.strip_prefix("on").unwrap_or("weather").to_ascii_lowercase();
        s["command"] = Value::String(format!("/{command}"));
        return Some(s);
    }
    if channel == INTERACTIONS {
        let kind = INTERACTION_TYPES.iter().find(|t| on(t) == handler)?;
        let mut s = SAMPLES["interaction"].clone();
        s["type"] = Value::String(kind.to_string());
        return Some(s);
    }
    let kind = event_type(channel, handler)?;
    if kind == "url_verification" || kind == "app_rate_limited" {
        return Some(SAMPLES[kind.as_str()].clone());
    }
    let mut envelope = SAMPLES["envelope"].clone();
    let mut event = SAMPLES["events"]
        .get(&kind)
        .cloned()
        .unwrap_or_else(|| json!({ "type": kind, "user": "U123ABC456", "event_ts": "1515449522.000016" }));
    if let Some((channel_type, _)) = MESSAGE_KINDS.iter().find(|(_, h)| *h == handler) {
        event["channel_type"] = Value::String(channel_type.to_string());
    }
    envelope["event"] = event;
    Some(envelope)
}

/// A JSON Schema of what Slack sends this handler: the envelope and the event's `type`.
pub fn schema(channel: &str, handler: &str) -> Option<Value> {
    let draft = "http://json-schema.org/draft-07/schema#";
    if channel == SLASH_COMMANDS {
        let fields = [
            "token",
            "team_id",
            "team_domain",
            "channel_id",
            "channel_name",
            "user_id",
            "user_name",
            "command",
            "text",
            "api_app_id",
            "response_url",
            "trigger_id",
        ];
        let props: serde_json::Map<String, Value> =
            fields.iter().map(|f| (f.to_string(), json!({ "type": "string" }))).collect();
        return Some(json!({ "$schema": draft, "title": format!("Slack slash command ({handler})"), "type": "object",
            "required": ["command", "team_id", "user_id", "response_url", "trigger_id"], "properties": props }));
    }
    if channel == INTERACTIONS {
        let kind = INTERACTION_TYPES.iter().find(|t| on(t) == handler)?;
        return Some(json!({ "$schema": draft, "title": format!("Slack interactivity payload `{kind}`"),
            "type": "object", "required": ["type", "team", "user"],
            "properties": { "type": { "const": kind }, "team": { "type": "object" }, "user": { "type": "object" },
                "api_app_id": { "type": "string" }, "trigger_id": { "type": "string" },
                "response_url": { "type": "string" }, "actions": { "type": "array" }, "view": { "type": "object" } } }));
    }
    let kind = event_type(channel, handler)?;
    if kind == "url_verification" || kind == "app_rate_limited" {
        return Some(json!({ "$schema": draft, "type": "object", "required": ["type"],
            "properties": { "type": { "const": kind }, "token": { "type": "string" },
                "challenge": { "type": "string" }, "team_id": { "type": "string" } } }));
    }
    let mut event = json!({ "type": "object", "required": ["type"],
        "properties": { "type": { "const": kind }, "event_ts": { "type": "string" }, "user": {} } });
    if let Some((channel_type, _)) = MESSAGE_KINDS.iter().find(|(_, h)| *h == handler) {
        event["properties"]["channel_type"] = json!({ "const": channel_type });
    }
    Some(json!({ "$schema": draft, "title": format!("Slack Events API `{kind}` event"), "type": "object",
        "required": ["type", "event", "event_id", "team_id"],
        "properties": { "type": { "const": "event_callback" }, "token": { "type": "string" },
            "team_id": { "type": "string" }, "api_app_id": { "type": "string" }, "event_id": { "type": "string" },
            "event_time": { "type": "integer" }, "authorizations": { "type": "array" }, "event": event } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballerina_services_then_the_rule() {
        assert_eq!(name_of("app_mention", None), EventName::new("AppService", "onAppMention"));
        assert_eq!(name_of("emoji_changed", None), EventName::new("EmojiChangedService", "onEmojiChanged"));
        assert_eq!(name_of("team_join", None), EventName::new("TeamService", "onTeamJoin"));
        assert_eq!(name_of("app_home_opened", None), EventName::new("AppHomeOpenedService", "onAppHomeOpened"));
        let m = name_of("message", Some("im"));
        assert_eq!((m.channel.as_str(), m.event.as_str()), ("MessageService", "onMessageIm"));
        assert_eq!(m.also, vec![("MessageService".to_string(), "onMessage".to_string())]);
        assert_eq!(name_of("message", None), EventName::new("MessageService", "onMessage"));
        assert_eq!(slash_command("/webhook-collect"), EventName::new("SlashCommandService", "onWebhookCollect"));
        assert_eq!(interaction("view_submission"), EventName::new("InteractionService", "onViewSubmission"));
        let services: std::collections::HashSet<_> = SERVICES.iter().map(|(s, _)| s).collect();
        assert_eq!(services.len(), 22);
    }

    #[test]
    fn accepts_known_and_rule_names_only() {
        assert!(accepts("AppService", "onAppMention"));
        assert!(accepts("MessageService", "onMessageChannels"));
        assert!(accepts("SlashCommandService", "onDeploy"));
        assert!(accepts("InteractionService", "onBlockActions"));
        assert!(accepts("BrandNewThingService", "onBrandNewThing"));
        assert!(!accepts("AppService", "onAppMentoin"));
        assert!(!accepts("InteractionService", "onClick"));
    }

    #[test]
    fn samples_match_their_handlers() {
        let s = sample("MessageService", "onMessageIm").unwrap();
        assert_eq!((s["type"].as_str(), s["event"]["channel_type"].as_str()), (Some("event_callback"), Some("im")));
        assert_eq!(sample("SlashCommandService", "onDeploy").unwrap()["command"], "/deploy");
        assert_eq!(sample("InteractionService", "onViewSubmission").unwrap()["type"], "view_submission");
        assert_eq!(sample("AppService", "onAppRateLimited").unwrap()["type"], "app_rate_limited");
        assert!(schema("ReactionService", "onReactionAdded").is_some());
    }
}
