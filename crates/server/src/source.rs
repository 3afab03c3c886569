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

/// The source and its verifier, from the rendered `trigger.with` of a non-`http` trigger.
pub fn build(kind: &str, with: &Value) -> Result<(Source, Verifier), String> {
    match kind {
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
