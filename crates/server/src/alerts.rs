//! Operational alerts: a run dead after its last retry, an in-server source down for longer than
//! `--alert-source-down`, a failed registration or renewal, an account that cannot get an access
//! token, the data directory's disk above `--alert-disk-percent` or full. Each is raised once per condition (keyed), listed at
//! `GET /api/v1/alerts`, and, with `--alert-webhook`, POSTed there once, signed the Standard
//! Webhooks way and retried with backoff until it is taken.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use onset_store::AlertRow;
use serde_json::{Value, json};

use crate::app::{App, new_id, now_ms};

/// Delivery attempts at most (about a day of backoff).
pub const MAX_ATTEMPTS: u32 = 20;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RunDead,
    SourceDown,
    RegistrationFailed,
    RenewalFailed,
    DiskUsage,
    DiskFull,
    AccountRefreshFailed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RunDead => "run_dead",
            Kind::SourceDown => "source_down",
            Kind::RegistrationFailed => "registration_failed",
            Kind::RenewalFailed => "renewal_failed",
            Kind::DiskUsage => "disk_usage",
            Kind::DiskFull => "disk_full",
            Kind::AccountRefreshFailed => "account_refresh_failed",
        }
    }
}

/// Where an alert points.
pub struct Subject<'a> {
    pub component: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl Subject<'_> {
    pub const SERVER: Subject<'static> = Subject { component: None, environment: None };
}

/// Raises an alert unless the same one (by `key`) is open; a new one wakes the deliverer.
pub async fn raise(app: &App, kind: Kind, key: String, subject: Subject<'_>, message: String, detail: Value) {
    let now = now_ms();
    let row = AlertRow {
        id: new_id(),
        kind: kind.as_str().into(),
        key,
        component: subject.component.map(str::to_string),
        environment: subject.environment.map(str::to_string),
        message,
        detail: detail.to_string(),
        raised_at: now,
        resolved_at: None,
        delivered_at: None,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    };
    let (kind_name, message) = (row.kind.clone(), row.message.clone());
    if app.unstored_alerts().contains_key(&row.key) {
        return;
    }
    match app.store.raise_alert(row.clone()).await {
        Ok(true) => {
            tracing::warn!(alert = %kind_name, "alert: {message}");
            app.alerts_changed.notify_one();
        }
        Ok(false) => {}
        Err(e) => {
            // A full disk cannot record the alert that says so: it is kept, listed and
            // delivered from memory, and recorded once a write succeeds.
            tracing::warn!(error = %e, alert = %kind_name, "alert (not yet recorded): {message}");
            app.unstored_alerts().insert(row.key.clone(), row);
            app.alerts_changed.notify_one();
        }
    }
}

/// Records the alerts that could not be written when raised (keeping their delivery state).
async fn store_pending(app: &App) {
    let pending: Vec<AlertRow> = app.unstored_alerts().values().cloned().collect();
    for row in pending {
        if app.store.raise_alert(row.clone()).await.is_ok() {
            app.unstored_alerts().remove(&row.key);
        }
    }
}

/// Resolves the open alert with `key`, if there is one.
pub async fn resolve(app: &App, key: &str) {
    let unstored = app.unstored_alerts().remove(key);
    if let Some(mut row) = unstored {
        row.resolved_at = Some(now_ms());
        let _ = app.store.raise_alert(row).await;
    }
    match app.store.resolve_alert(key.to_string(), now_ms()).await {
        Ok(true) => tracing::info!(key, "alert resolved"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, key, "cannot resolve an alert"),
    }
}

/// Checks sources and the disk every `every` until shutdown.
pub async fn watch(app: Arc<App>, every: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = app.shutdown.cancelled() => return,
        }
        check_disk(&app).await;
        store_pending(&app).await;
        check_sources(&app).await;
    }
}

async fn check_sources(app: &App) {
    let now = now_ms();
    let limit = i64::try_from(app.config.alert_source_down.as_millis()).unwrap_or(i64::MAX);
    let mut down = std::collections::HashSet::new();
    for ((environment, component), health) in app.source_health.all() {
        let key = format!("source_down:{environment}/{component}");
        match health.failing_since {
            Some(since) if now - since >= limit => {
                let message = format!(
                    "the trigger of `{component}` in `{environment}` has been failing for {}s: {}",
                    (now - since) / 1000,
                    health.last_error.clone().unwrap_or_default()
                );
                let detail = json!({ "since": onset_store::time::rfc3339(since), "error": health.last_error });
                raise(
                    app,
                    Kind::SourceDown,
                    key.clone(),
                    Subject { component: Some(&component), environment: Some(&environment) },
                    message,
                    detail,
                )
                .await;
                down.insert(key);
            }
            Some(_) => {
                down.insert(key);
            }
            None => {}
        }
    }
    // Open alerts of sources that work again (or are gone) are resolved.
    if let Ok(open) = app.store.open_alert_keys(Kind::SourceDown.as_str().into()).await {
        for key in open.iter().filter(|k| !down.contains(*k)) {
            resolve(app, key).await;
        }
    }
}

/// Percent of the data directory's file system in use.
pub fn disk_percent(dir: &std::path::Path) -> Option<f64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    let total = s.f_blocks as f64;
    if total <= 0.0 {
        return None;
    }
    Some(100.0 * (total - s.f_bavail as f64) / total)
}

async fn check_disk(app: &App) {
    if let Some(used) = disk_percent(&app.config.data_dir) {
        let limit = f64::from(app.config.alert_disk_percent);
        if used >= limit {
            let message = format!(
                "the data directory's disk is {used:.0}% full (alert at {limit:.0}%); retention or more space is needed"
            );
            raise(app, Kind::DiskUsage, "disk_usage".into(), Subject::SERVER, message, json!({ "percent": used }))
                .await;
        } else {
            resolve(app, "disk_usage").await;
        }
    }
    if app.store.disk_full() {
        let message = "disk full: writes fail for want of space; new events are refused with 503".to_string();
        raise(app, Kind::DiskFull, "disk_full".into(), Subject::SERVER, message, json!({})).await;
    } else {
        resolve(app, "disk_full").await;
    }
}

/// The alert as the API and the webhook show it.
pub fn alert_json(a: &AlertRow) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind,
        "component": a.component,
        "environment": a.environment,
        "message": a.message,
        "detail": serde_json::from_str::<Value>(&a.detail).unwrap_or(Value::Null),
        "raised_at": onset_store::time::rfc3339(a.raised_at),
        "resolved_at": a.resolved_at.map(onset_store::time::rfc3339),
    })
}

/// Delivers new alerts to the webhook until shutdown.
pub async fn deliver(app: Arc<App>) {
    let (Some(url), Some(secret)) = (app.config.alert_webhook.clone(), app.config.alert_webhook_secret.clone()) else {
        return;
    };
    let Ok(key) = webhook_key(&secret) else { return };
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the alert webhook client; alerts are only listed");
            return;
        }
    };
    loop {
        let now = now_ms();
        // Alerts the store could not take yet (a full disk) go out from memory.
        let unstored: Vec<AlertRow> = app
            .unstored_alerts()
            .values()
            .filter(|a| a.delivered_at.is_none() && a.next_attempt_at <= now && a.attempts < MAX_ATTEMPTS)
            .cloned()
            .collect();
        for alert in unstored {
            let outcome = send(&client, &url, &key, &alert).await;
            if let Some(a) = app.unstored_alerts().get_mut(&alert.key) {
                a.attempts += 1;
                match outcome {
                    Ok(()) => a.delivered_at = Some(now_ms()),
                    Err(e) => {
                        a.next_attempt_at = now_ms() + backoff_ms(a.attempts - 1);
                        a.last_error = Some(e);
                    }
                }
            }
        }
        // In a cluster one node delivers stored alerts at a time.
        let due = if app.hold("alerts:delivery").await {
            app.store.alerts_to_deliver(now, MAX_ATTEMPTS).await
        } else {
            Ok(Vec::new())
        };
        match due {
            Ok(due) => {
                for alert in due {
                    let outcome = send(&client, &url, &key, &alert).await;
                    let (delivered, error, next) = match outcome {
                        Ok(()) => (Some(now_ms()), None, now_ms()),
                        Err(e) => {
                            tracing::warn!(alert = %alert.id, error = %e, attempt = alert.attempts + 1, "the alert webhook did not take an alert; retrying");
                            (None, Some(e), now_ms() + backoff_ms(alert.attempts))
                        }
                    };
                    if let Err(e) = app.store.alert_attempt(alert.id.clone(), delivered, error, next).await {
                        tracing::warn!(error = %e, "cannot record an alert delivery");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read alerts to deliver"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = app.alerts_changed.notified() => {}
            () = app.shutdown.cancelled() => return,
        }
    }
}

/// 1 s doubling to 10 minutes.
fn backoff_ms(attempts: u32) -> i64 {
    (1_000i64 << attempts.min(10)).min(600_000)
}

/// The HMAC key of a `whsec_…` secret.
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or("--alert-webhook-secret is a Standard Webhooks secret: whsec_ followed by base64")?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("--alert-webhook-secret: the part after whsec_ is not base64 ({e})"))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

async fn send(client: &reqwest::Client, url: &str, key: &[u8], alert: &AlertRow) -> Result<(), String> {
    let body = json!({
        "type": format!("alert.{}", alert.kind),
        "timestamp": onset_store::time::rfc3339(now_ms()),
        "data": alert_json(alert),
    })
    .to_string();
    let ts = now_ms() / 1000;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &alert.id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign(key, &alert.id, ts, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach the alert webhook: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the alert webhook answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_be_whsec_base64_and_backoff_is_capped() {
        assert!(webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(webhook_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err().contains("whsec_"));
        assert!(webhook_key("whsec_***").unwrap_err().contains("base64"));
        assert_eq!(backoff_ms(0), 1_000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}
