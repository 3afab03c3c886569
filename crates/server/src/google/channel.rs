//! The watch channel of a google-calendar trigger: created at deploy (`events.watch`), renewed
//! before it expires, stopped at undeploy (`channels.stop`). Kept per (component, environment).

use serde::{Deserialize, Serialize};

use super::api::Calendar;
use crate::app::{App, now_ms};
use crate::deploy::Deployed;
use onset_sources::triggers::GoogleCalendar as GoogleSettings;

pub const CHANNEL_KEY: &str = "google.channel";
pub const SYNC_TOKEN_KEY: &str = "google.sync_token";

/// A channel Onset opened, and the one it replaced (notifications of both are accepted while
/// they overlap).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub token: String,
    pub resource_id: String,
    /// Unix ms.
    pub expiration: i64,
    pub calendar_id: String,
    pub api_url: String,
    #[serde(default)]
    pub previous: Option<(String, String)>,
}

pub async fn load(app: &App, component: &str, environment: &str) -> Result<Option<Channel>, String> {
    crate::registration::load_state(app, component, environment, CHANNEL_KEY).await
}

async fn save(app: &App, component: &str, environment: &str, channel: Option<&Channel>) -> Result<(), String> {
    let text = channel.map(serde_json::to_string).transpose().map_err(|e| e.to_string())?;
    app.store
        .set_trigger_state(component.to_string(), environment.to_string(), CHANNEL_KEY.into(), text)
        .await
        .map_err(|e| e.to_string())
}

fn secret_token() -> String {
    format!("onset-{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Opens a new channel, keeps it, then stops `old` (if any). Returns what was done.
async fn open(
    app: &App,
    deployed: &Deployed,
    s: &GoogleSettings,
    address: &str,
    old: Option<&Channel>,
) -> Result<Vec<String>, String> {
    let calendar = Calendar::connect(s, &app.google_tokens).await.map_err(|e| e.to_string())?;
    let id = uuid::Uuid::now_v7().to_string();
    let token = secret_token();
    let (resource_id, expiration) = calendar.watch(&id, &token, address).await.map_err(|e| e.to_string())?;
    let channel = Channel {
        id: id.clone(),
        token,
        resource_id,
        expiration,
        calendar_id: s.calendar_id.clone(),
        api_url: s.api_url.clone(),
        previous: old.map(|o| (o.id.clone(), o.token.clone())),
    };
    save(app, deployed.name(), &deployed.environment, Some(&channel)).await?;
    let mut log = vec![format!(
        "Google Calendar channel {id} watches {} until {}",
        s.calendar_id,
        onset_store::time::rfc3339(expiration)
    )];
    if let Some(o) = old {
        // The old channel's calendar may differ (the settings changed): stop it where it was.
        let settings = GoogleSettings { calendar_id: o.calendar_id.clone(), api_url: o.api_url.clone(), ..s.clone() };
        let old_calendar = Calendar::connect(&settings, &app.google_tokens).await.map_err(|e| e.to_string())?;
        match old_calendar.stop(&o.id, &o.resource_id).await {
            Ok(()) => log.push(format!("Google Calendar channel {} stopped", o.id)),
            Err(e) => {
                log.push(format!("Google Calendar channel {} could not be stopped ({e}); it expires by itself", o.id))
            }
        }
    }
    Ok(log)
}

/// At deploy: keeps a channel that still has time and watches the same calendar, else opens
/// one; then makes sure a sync token exists (the calendar's current events are the baseline).
pub async fn register(app: &App, deployed: &Deployed, s: &GoogleSettings) -> Result<Vec<String>, String> {
    let public = crate::registration::public_url(app, deployed, "watching a Google Calendar")?;
    if !public.starts_with("https://") {
        return Err(format!(
            "component `{}`: Google delivers notifications only to https addresses; --public-url is {public}",
            deployed.name()
        ));
    }
    let address = crate::registration::hook_url(public, &deployed.environment, deployed.name());
    let current = load(app, deployed.name(), &deployed.environment).await?;
    let keep = current.as_ref().is_some_and(|c| {
        c.calendar_id == s.calendar_id && c.api_url == s.api_url && c.expiration - now_ms() > renew_margin(app)
    });
    let mut log = if keep {
        let c = current.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        vec![format!("Google Calendar channel {c} kept (it still watches {})", s.calendar_id)]
    } else {
        if current.as_ref().is_some_and(|c| c.calendar_id != s.calendar_id) {
            // Another calendar: what was known of the old one says nothing about this one.
            app.store
                .clear_calendar_items(deployed.name().to_string(), deployed.environment.clone())
                .await
                .map_err(|e| e.to_string())?;
            app.store
                .set_trigger_state(deployed.name().into(), deployed.environment.clone(), SYNC_TOKEN_KEY.into(), None)
                .await
                .map_err(|e| e.to_string())?;
        }
        open(app, deployed, s, &address, current.as_ref()).await?
    };
    if let Some(line) = super::sync::baseline(app, deployed, s).await? {
        log.push(line);
    }
    Ok(log)
}

fn renew_margin(app: &App) -> i64 {
    i64::try_from(app.config.channel_renewal.as_millis()).unwrap_or(i64::MAX)
}

/// At undeploy: stops the channel and forgets what it knew.
pub async fn unregister(app: &App, deployed: &Deployed, s: &GoogleSettings) -> Result<Vec<String>, String> {
    let Some(c) = load(app, deployed.name(), &deployed.environment).await? else { return Ok(Vec::new()) };
    let settings = GoogleSettings { calendar_id: c.calendar_id.clone(), api_url: c.api_url.clone(), ..s.clone() };
    let calendar = Calendar::connect(&settings, &app.google_tokens).await.map_err(|e| e.to_string())?;
    calendar.stop(&c.id, &c.resource_id).await.map_err(|e| e.to_string())?;
    save(app, deployed.name(), &deployed.environment, None).await?;
    let (component, environment) = (deployed.name().to_string(), deployed.environment.clone());
    app.store
        .set_trigger_state(component.clone(), environment.clone(), SYNC_TOKEN_KEY.into(), None)
        .await
        .map_err(|e| e.to_string())?;
    app.store.clear_calendar_items(component, environment).await.map_err(|e| e.to_string())?;
    Ok(vec![format!("Google Calendar channel {} stopped", c.id)])
}

/// Renews every channel that expires within the renewal margin, until shutdown.
pub async fn renew_loop(app: std::sync::Arc<App>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(app.config.renewal_check) => {}
            () = app.shutdown.cancelled() => break,
        }
        // In a cluster one node renews at a time.
        if !app.hold("google-calendar-renewal").await {
            continue;
        }
        let channels = match app.store.trigger_states(CHANNEL_KEY.into()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read Google Calendar channels for renewal");
                continue;
            }
        };
        for (component, environment, text) in channels {
            let Ok(channel) = serde_json::from_str::<Channel>(&text) else { continue };
            if channel.expiration - now_ms() > renew_margin(&app) {
                continue;
            }
            let Some(deployed) = app.active(&environment, &component) else { continue };
            let Some(s) = deployed.trigger.as_any().downcast_ref::<GoogleSettings>() else { continue };
            let Some(public) = app.config.public_url.as_deref() else { continue };
            let address = crate::registration::hook_url(public, &environment, &component);
            let key = format!("renewal_failed:{environment}/{component}");
            match open(&app, &deployed, s, &address, Some(&channel)).await {
                Ok(lines) => {
                    for line in lines {
                        tracing::info!(component, environment, "renewal: {line}");
                    }
                    crate::alerts::resolve(&app, &key).await;
                }
                Err(e) => {
                    tracing::warn!(component, environment, error = %e, "the Google Calendar channel was not renewed; retrying");
                    let subject =
                        crate::alerts::Subject { component: Some(&component), environment: Some(&environment) };
                    let message =
                        format!("the Google Calendar channel of `{component}` in `{environment}` was not renewed: {e}");
                    crate::alerts::raise(
                        &app,
                        crate::alerts::Kind::RenewalFailed,
                        key,
                        subject,
                        message,
                        serde_json::json!({ "error": e }),
                    )
                    .await;
                }
            }
        }
    }
}
