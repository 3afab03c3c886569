//! The `google-calendar` trigger's runtime: its watch channel (opened at deploy with
//! `events.watch`, renewed before it expires, stopped at undeploy), the push notifications that
//! say something changed (checked against the channel Onset opened, answered at once), and the
//! sync that turns the changes into events (`events.list` with the stored sync token, each item
//! compared with the etag seen before; one sync at a time per component and environment).

mod api;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use onset_model::catalog::{EventName, google};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::Refusal;
use super::host::{Host, SyncChanges, now_ms, rfc3339};
use super::providers::GoogleCalendar as GoogleSettings;
use super::registration::{hook_url, public_url};
use api::{ApiError, Calendar};

pub const CHANNEL_KEY: &str = "google.channel";
pub const SYNC_TOKEN_KEY: &str = "google.sync_token";

type SyncLock = Arc<tokio::sync::Mutex<()>>;

/// One lock per (component, environment): syncs of a calendar never overlap.
static LOCKS: LazyLock<Mutex<HashMap<(String, String), SyncLock>>> = LazyLock::new(Default::default);

fn lock_of(host: &dyn Host) -> SyncLock {
    let mut map = LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry((host.component().to_string(), host.environment().to_string())).or_default().clone()
}

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

async fn load(host: &dyn Host) -> Result<Option<Channel>, String> {
    Ok(host.state(CHANNEL_KEY).await?.and_then(|v| serde_json::from_str(&v).ok()))
}

async fn save(host: &dyn Host, channel: Option<&Channel>) -> Result<(), String> {
    let text = channel.map(serde_json::to_string).transpose().map_err(|e| e.to_string())?;
    host.set_state(CHANNEL_KEY, text).await
}

fn secret_token() -> String {
    format!("onset-{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn renew_margin(host: &dyn Host) -> i64 {
    i64::try_from(host.renew_before().as_millis()).unwrap_or(i64::MAX)
}

/// Opens a new channel, keeps it, then stops `old` (if any). Returns what was done.
async fn open(
    host: &dyn Host,
    s: &GoogleSettings,
    address: &str,
    old: Option<&Channel>,
) -> Result<Vec<String>, String> {
    let calendar = Calendar::connect(s, host).await.map_err(|e| e.to_string())?;
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
    save(host, Some(&channel)).await?;
    let mut log = vec![format!("Google Calendar channel {id} watches {} until {}", s.calendar_id, rfc3339(expiration))];
    if let Some(o) = old {
        // The old channel's calendar may differ (the settings changed): stop it where it was.
        let settings = GoogleSettings { calendar_id: o.calendar_id.clone(), api_url: o.api_url.clone(), ..s.clone() };
        let old_calendar = Calendar::connect(&settings, host).await.map_err(|e| e.to_string())?;
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
pub(super) async fn register(host: &dyn Host, s: &GoogleSettings) -> Result<Vec<String>, String> {
    let public = public_url(host, "watching a Google Calendar")?;
    if !public.starts_with("https://") {
        return Err(format!(
            "component `{}`: Google delivers notifications only to https addresses; --public-url is {public}",
            host.component()
        ));
    }
    let address = hook_url(public, host.environment(), host.component());
    let current = load(host).await?;
    let keep = current.as_ref().is_some_and(|c| {
        c.calendar_id == s.calendar_id && c.api_url == s.api_url && c.expiration - now_ms() > renew_margin(host)
    });
    let mut log = if keep {
        let c = current.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        vec![format!("Google Calendar channel {c} kept (it still watches {})", s.calendar_id)]
    } else {
        if current.as_ref().is_some_and(|c| c.calendar_id != s.calendar_id) {
            // Another calendar: what was known of the old one says nothing about this one.
            host.clear_items().await?;
            host.set_state(SYNC_TOKEN_KEY, None).await?;
        }
        open(host, s, &address, current.as_ref()).await?
    };
    if let Some(line) = baseline(host, s).await? {
        log.push(line);
    }
    Ok(log)
}

/// At undeploy: stops the channel and forgets what it knew.
pub(super) async fn unregister(host: &dyn Host, s: &GoogleSettings) -> Result<Vec<String>, String> {
    let Some(c) = load(host).await? else { return Ok(Vec::new()) };
    let settings = GoogleSettings { calendar_id: c.calendar_id.clone(), api_url: c.api_url.clone(), ..s.clone() };
    let calendar = Calendar::connect(&settings, host).await.map_err(|e| e.to_string())?;
    calendar.stop(&c.id, &c.resource_id).await.map_err(|e| e.to_string())?;
    save(host, None).await?;
    host.set_state(SYNC_TOKEN_KEY, None).await?;
    host.clear_items().await?;
    Ok(vec![format!("Google Calendar channel {} stopped", c.id)])
}

/// Opens a new channel when the current one expires within the renewal margin.
pub(super) async fn renew(host: &dyn Host, s: &GoogleSettings) -> Result<Vec<String>, String> {
    let Some(channel) = load(host).await? else { return Ok(Vec::new()) };
    if channel.expiration - now_ms() > renew_margin(host) {
        return Ok(Vec::new());
    }
    let Some(public) = host.public_url() else { return Ok(Vec::new()) };
    let address = hook_url(public, host.environment(), host.component());
    open(host, s, &address, Some(&channel)).await
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn refused(message: &str, location: &str) -> Refusal {
    Refusal { status: 401, code: "channel_unknown", message: message.into(), location: location.into() }
}

/// A push notification: accepted only from the channel Onset opened (id and secret token);
/// `exists`/`not_exists` start a sync in the background. Answers the ingest outcome.
pub(super) async fn notification(
    host: Arc<dyn Host>,
    s: GoogleSettings,
    headers: &http::HeaderMap,
    headers_json: String,
) -> Result<&'static str, Refusal> {
    let channel = load(&*host)
        .await
        .map_err(|e| Refusal { status: 500, code: "internal", message: e, location: String::new() })?
        .ok_or_else(|| refused("no Google Calendar channel is open for this component", "path"))?;
    let id = header(headers, "x-goog-channel-id");
    let token = header(headers, "x-goog-channel-token");
    let matches = |(cid, ctoken): (&str, &str)| cid == id && bool::from(ctoken.as_bytes().ct_eq(token.as_bytes()));
    let current = matches((&channel.id, &channel.token));
    let previous = channel.previous.as_ref().is_some_and(|(i, t)| matches((i, t)));
    if !current && !previous {
        return Err(refused(
            "X-Goog-Channel-ID and X-Goog-Channel-Token do not match the channel Onset opened",
            "header x-goog-channel-token",
        ));
    }
    let resource = header(headers, "x-goog-resource-id");
    if current && !resource.is_empty() && !channel.resource_id.is_empty() && resource != channel.resource_id {
        return Err(refused("X-Goog-Resource-ID is not the watched calendar", "header x-goog-resource-id"));
    }
    match header(headers, "x-goog-resource-state") {
        // The channel's start: the baseline was taken at deploy.
        "sync" => Ok("sync"),
        "exists" | "not_exists" => {
            tokio::spawn(changes(host, s, headers_json));
            Ok("accepted")
        }
        other => Err(Refusal {
            status: 400,
            code: "unknown_resource_state",
            message: format!("X-Goog-Resource-State `{other}` is not sync, exists or not_exists"),
            location: "header x-goog-resource-state".into(),
        }),
    }
}

/// Without a sync token yet: lists the calendar once and keeps its events as the baseline
/// (they existed before the trigger, so nothing runs for them).
async fn baseline(host: &dyn Host, s: &GoogleSettings) -> Result<Option<String>, String> {
    let lock = lock_of(host);
    let _held = lock.lock().await;
    if host.state(SYNC_TOKEN_KEY).await?.is_some() {
        return Ok(None);
    }
    let calendar = Calendar::connect(s, host).await.map_err(|e| e.to_string())?;
    let (items, next) = calendar.list_all(None).await.map_err(|e| e.to_string())?;
    let upserts: Vec<(String, String)> = items.iter().filter(|i| !cancelled(i)).filter_map(id_etag).collect();
    let n = upserts.len();
    host.apply_sync(SyncChanges {
        upserts,
        state: vec![(SYNC_TOKEN_KEY.into(), Some(next))],
        ..SyncChanges::default()
    })
    .await?;
    Ok(Some(format!("Google Calendar {}: {n} existing events are the baseline", s.calendar_id)))
}

fn cancelled(item: &Value) -> bool {
    item["status"] == "cancelled"
}

fn id_etag(item: &Value) -> Option<(String, String)> {
    Some((item["id"].as_str()?.to_string(), item["etag"].as_str().unwrap_or_default().to_string()))
}

/// Fetches and records the changes since the stored sync token. One at a time per component
/// and environment: the notifications of a channel share its token.
async fn changes(host: Arc<dyn Host>, s: GoogleSettings, headers: String) {
    let lock = lock_of(&*host);
    let _held = lock.lock().await;
    if let Err(e) = sync_once(&*host, &s, headers).await {
        tracing::warn!(component = host.component(), environment = host.environment(), error = %e,
            "Google Calendar changes were not fetched; the next notification fetches them");
    }
}

async fn sync_once(host: &dyn Host, s: &GoogleSettings, headers: String) -> Result<(), String> {
    let token = host.state(SYNC_TOKEN_KEY).await?;
    let calendar = Calendar::connect(s, host).await.map_err(|e| e.to_string())?;
    let (items, next, full) = match calendar.list_all(token.as_deref()).await {
        Ok((items, next)) => (items, next, token.is_none()),
        Err(ApiError::Gone) => {
            tracing::info!(component = host.component(), "Google Calendar sync token expired (410): full resync");
            let (items, next) = calendar.list_all(None).await.map_err(|e| e.to_string())?;
            (items, next, true)
        }
        Err(e) => return Err(e.to_string()),
    };
    let known = host.known_items().await?;
    let mut changes =
        SyncChanges { state: vec![(SYNC_TOKEN_KEY.into(), Some(next))], headers, ..SyncChanges::default() };
    let event = |handler: &str| EventName::new(google::CHANNEL, handler);
    let mut listed = HashSet::new();
    for item in &items {
        let Some((id, etag)) = id_etag(item) else { continue };
        listed.insert(id.clone());
        let delivery = format!("{id}:{etag}");
        if cancelled(item) {
            // A deletion of an event never seen (created and deleted between two syncs) tells nothing.
            if known.contains_key(&id) {
                changes.events.push((event(google::DELETE), delivery, item.clone()));
                changes.deletes.push(id);
            }
            continue;
        }
        match known.get(&id) {
            None => changes.events.push((event(google::NEW), delivery, item.clone())),
            Some(old) if *old != etag => changes.events.push((event(google::UPDATE), delivery, item.clone())),
            Some(_) => continue,
        }
        changes.upserts.push((id, etag));
    }
    if full {
        // A full listing leaves out deleted events: what was known and is gone was deleted.
        for (id, etag) in known.iter().filter(|(id, _)| !listed.contains(*id)) {
            let payload =
                serde_json::json!({ "kind": "calendar#event", "id": id, "etag": etag, "status": "cancelled" });
            changes.events.push((event(google::DELETE), format!("{id}:{etag}:deleted"), payload));
            changes.deletes.push(id.clone());
        }
    }
    host.apply_sync(changes).await
}
