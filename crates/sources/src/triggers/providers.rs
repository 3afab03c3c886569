//! Webhook trigger types: `http` (any sender, verified as `verify` says) and the providers
//! GitHub, Slack and Google Calendar.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Built, Intake, Trigger, TriggerSource, settings};
use crate::{Delivery, PayloadError, Secret, Verifier};

pub const GITHUB_API: &str = "https://api.github.com";
pub const GOOGLE_CALENDAR_API: &str = "https://www.googleapis.com/calendar/v3";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

fn non_empty(secret: Option<Secret>) -> Option<Secret> {
    secret.filter(|s| !s.expose().is_empty())
}

/// `http`: requests to the handlers' own resources, verified as `with.verify` says.
pub struct HttpSource;

#[derive(Debug)]
pub struct Http;

impl TriggerSource for HttpSource {
    fn kind(&self) -> &'static str {
        "http"
    }
    fn intake(&self) -> Intake {
        Intake::Resources
    }
    /// The delivery id template, evaluated per request by the ingress (`delivery_id` and
    /// `response` are the ingress's settings).
    fn deferred(&self) -> &'static [&'static str] {
        &["delivery_id"]
    }
    fn build(&self, with: &Value, _deferred: &Map<String, Value>) -> Result<Built, String> {
        if let Some(unknown) =
            with.as_object().and_then(|m| m.keys().find(|k| !onset_model::HTTP_SETTINGS.contains(&k.as_str())))
        {
            return Err(format!(
                "trigger setting `{unknown}` is not an http setting ({})",
                onset_model::HTTP_SETTINGS.join(", ")
            ));
        }
        let verifier = Verifier::from_json(with.get("verify")).map_err(|e| e.to_string())?;
        Ok(Built { verifier, trigger: Box::new(Http) })
    }
    fn handler_name(&self, channel: &str, event: &str) -> String {
        format!("{event} {channel}")
    }
}

impl Trigger for Http {
    fn kind(&self) -> &'static str {
        "http"
    }
}

/// `github`: deliveries signed with the webhook's secret; with `repository` and `token`, deploy
/// registers the webhook.
pub struct GitHubSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHub {
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

impl TriggerSource for GitHubSource {
    fn kind(&self) -> &'static str {
        "github"
    }
    fn intake(&self) -> Intake {
        Intake::Provider
    }
    fn build(&self, with: &Value, _deferred: &Map<String, Value>) -> Result<Built, String> {
        let mut s: GitHub = settings("github", with)?;
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
        let verifier = crate::github::verifier(s.secret.clone()).map_err(|e| e.to_string())?;
        Ok(Built { verifier, trigger: Box::new(s) })
    }
}

impl Trigger for GitHub {
    fn kind(&self) -> &'static str {
        "github"
    }
    fn register<'a>(
        &'a self,
        host: &'a dyn super::Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        Some(Box::pin(super::github_hooks::register(host, self)))
    }
    fn unregister<'a>(
        &'a self,
        host: &'a dyn super::Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        Some(Box::pin(super::github_hooks::unregister(host, self)))
    }
    fn classify(
        &self,
        headers: &http::HeaderMap,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Delivery, PayloadError> {
        crate::github::classify(headers, content_type, body)
    }
}

/// `slack`: Events API, slash commands and interactivity, signed with the app's signing secret.
pub struct SlackSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackSettings {
    signing_secret: Secret,
}

#[derive(Debug)]
pub struct Slack;

impl TriggerSource for SlackSource {
    fn kind(&self) -> &'static str {
        "slack"
    }
    fn intake(&self) -> Intake {
        Intake::Provider
    }
    fn build(&self, with: &Value, _deferred: &Map<String, Value>) -> Result<Built, String> {
        let s: SlackSettings = settings("slack", with)?;
        if s.signing_secret.expose().is_empty() {
            return Err("trigger.with.signing_secret is empty".into());
        }
        let verifier = crate::slack::verifier(s.signing_secret).map_err(|e| e.to_string())?;
        Ok(Built { verifier, trigger: Box::new(Slack) })
    }
}

impl Trigger for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }
    fn is_probe(&self, content_type: Option<&str>, body: &[u8]) -> bool {
        crate::slack::is_ssl_check(content_type, body)
    }
    fn classify(
        &self,
        _headers: &http::HeaderMap,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Delivery, PayloadError> {
        crate::slack::classify(content_type, body)
    }
    fn manual_registration(&self, url: &str) -> Option<String> {
        Some(format!(
            "Slack cannot be registered by API: paste {url} as the Request URL of the app's Event Subscriptions, \
             Interactivity and Slash Commands"
        ))
    }
}

/// `google-calendar`: push notifications of a watched calendar; the server syncs what changed.
pub struct GoogleCalendarSource;

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
pub struct GoogleCalendar {
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

impl TriggerSource for GoogleCalendarSource {
    fn kind(&self) -> &'static str {
        "google-calendar"
    }
    fn intake(&self) -> Intake {
        Intake::Notification
    }
    fn build(&self, with: &Value, _deferred: &Map<String, Value>) -> Result<Built, String> {
        let s: GoogleCalendar = settings("google-calendar", with)?;
        if s.calendar_id.is_empty() {
            return Err("trigger.with.calendar_id is empty".into());
        }
        // Notifications are checked against the channel Onset registered, not a signature.
        Ok(Built { verifier: Verifier::none(), trigger: Box::new(s) })
    }
}

impl Trigger for GoogleCalendar {
    fn kind(&self) -> &'static str {
        "google-calendar"
    }
    fn register<'a>(
        &'a self,
        host: &'a dyn super::Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        Some(Box::pin(super::google::register(host, self)))
    }
    fn unregister<'a>(
        &'a self,
        host: &'a dyn super::Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        Some(Box::pin(super::google::unregister(host, self)))
    }
    fn renew<'a>(
        &'a self,
        host: &'a dyn super::Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        Some(Box::pin(super::google::renew(host, self)))
    }
    fn notify(
        &self,
        host: std::sync::Arc<dyn super::Host>,
        headers: &http::HeaderMap,
        headers_json: String,
    ) -> Option<futures_util::future::BoxFuture<'static, Result<&'static str, super::Refusal>>> {
        let settings = self.clone();
        let headers = headers.clone();
        Some(Box::pin(async move { super::google::notification(host, settings, &headers, headers_json).await }))
    }
}
