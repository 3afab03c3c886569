//! Turning calendar changes into events: `events.list` with the stored sync token (a full
//! listing after a 410), each changed item compared with the etags seen before.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use onset_model::catalog::{EventName, google};
use onset_store::{IngestOutcome, NewEvent, SyncBatch};
use serde_json::Value;

use super::api::{ApiError, Calendar};
use super::channel::SYNC_TOKEN_KEY;
use crate::app::{App, new_id, now_ms};
use crate::deploy::Deployed;
use crate::ingress::runs_for;
use onset_sources::triggers::GoogleCalendar as GoogleSettings;

async fn sync_token(app: &App, component: &str, environment: &str) -> Result<Option<String>, String> {
    app.store
        .trigger_state(component.to_string(), environment.to_string(), SYNC_TOKEN_KEY.into())
        .await
        .map_err(|e| e.to_string())
}

/// Without a sync token yet: lists the calendar once and keeps its events as the baseline
/// (they existed before the trigger, so nothing runs for them).
pub async fn baseline(app: &App, deployed: &Deployed, s: &GoogleSettings) -> Result<Option<String>, String> {
    let lock = app.calendar_locks.get(deployed.name(), &deployed.environment);
    let _held = lock.lock().await;
    if sync_token(app, deployed.name(), &deployed.environment).await?.is_some() {
        return Ok(None);
    }
    let calendar = Calendar::connect(s, &app.google_tokens).await.map_err(|e| e.to_string())?;
    let (items, next) = calendar.list_all(None).await.map_err(|e| e.to_string())?;
    let upserts: Vec<(String, String)> = items.iter().filter(|i| !cancelled(i)).filter_map(id_etag).collect();
    let n = upserts.len();
    let batch = SyncBatch {
        component: deployed.name().to_string(),
        environment: deployed.environment.clone(),
        upserts,
        state: vec![(SYNC_TOKEN_KEY.into(), Some(next))],
        ..SyncBatch::default()
    };
    app.store.apply_sync(batch).await.map_err(|e| e.to_string())?;
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
pub async fn changes(app: Arc<App>, deployed: Arc<Deployed>, headers: String) {
    let Some(s) = deployed.trigger.as_any().downcast_ref::<GoogleSettings>() else { return };
    let lock = app.calendar_locks.get(deployed.name(), &deployed.environment);
    let _held = lock.lock().await;
    if let Err(e) = sync_once(&app, &deployed, s, &headers).await {
        tracing::warn!(component = deployed.name(), environment = %deployed.environment, error = %e,
            "Google Calendar changes were not fetched; the next notification fetches them");
    }
}

async fn sync_once(app: &Arc<App>, deployed: &Arc<Deployed>, s: &GoogleSettings, headers: &str) -> Result<(), String> {
    let token = sync_token(app, deployed.name(), &deployed.environment).await?;
    let calendar = Calendar::connect(s, &app.google_tokens).await.map_err(|e| e.to_string())?;
    let (items, next, full) = match calendar.list_all(token.as_deref()).await {
        Ok((items, next)) => (items, next, token.is_none()),
        Err(ApiError::Gone) => {
            tracing::info!(component = deployed.name(), "Google Calendar sync token expired (410): full resync");
            let (items, next) = calendar.list_all(None).await.map_err(|e| e.to_string())?;
            (items, next, true)
        }
        Err(e) => return Err(e.to_string()),
    };
    let known = app
        .store
        .calendar_items(deployed.name().to_string(), deployed.environment.clone())
        .await
        .map_err(|e| e.to_string())?;
    let mut batch = SyncBatch {
        component: deployed.name().to_string(),
        environment: deployed.environment.clone(),
        state: vec![(SYNC_TOKEN_KEY.into(), Some(next))],
        ..SyncBatch::default()
    };
    let received_at = now_ms();
    let mut made: Vec<(NewEvent, usize)> = Vec::new();
    let mut push = |handler: &str, delivery_id: String, payload: &Value, batch: &mut SyncBatch| {
        let name = EventName::new(google::CHANNEL, handler);
        let runs = runs_for(deployed, &name);
        let event = NewEvent {
            id: new_id(),
            component: deployed.name().to_string(),
            environment: deployed.environment.clone(),
            channel: name.channel,
            event: name.event,
            delivery_id: Some(delivery_id),
            received_at,
            headers: headers.to_string(),
            query: "{}".into(),
            params: "{}".into(),
            payload: Bytes::from(payload.to_string()),
            runs,
            trace: None,
        };
        made.push((event.clone(), batch.events.len()));
        batch.events.push(event);
    };
    let mut listed = HashSet::new();
    for item in &items {
        let Some((id, etag)) = id_etag(item) else { continue };
        listed.insert(id.clone());
        let delivery = format!("{id}:{etag}");
        if cancelled(item) {
            // A deletion of an event never seen (created and deleted between two syncs) tells nothing.
            if known.contains_key(&id) {
                push(google::DELETE, delivery, item, &mut batch);
                batch.deletes.push(id);
            }
            continue;
        }
        match known.get(&id) {
            None => push(google::NEW, delivery, item, &mut batch),
            Some(old) if *old != etag => push(google::UPDATE, delivery, item, &mut batch),
            Some(_) => continue,
        }
        batch.upserts.push((id, etag));
    }
    if full {
        // A full listing leaves out deleted events: what was known and is gone was deleted.
        let gone: HashMap<&String, &String> = known.iter().filter(|(id, _)| !listed.contains(*id)).collect();
        for (id, etag) in gone {
            let payload =
                serde_json::json!({ "kind": "calendar#event", "id": id, "etag": etag, "status": "cancelled" });
            push(google::DELETE, format!("{id}:{etag}:deleted"), &payload, &mut batch);
            batch.deletes.push(id.clone());
        }
    }
    let outcomes = app.store.apply_sync(batch).await.map_err(|e| e.to_string())?;
    for (event, index) in made {
        if !matches!(outcomes.get(index), Some(IngestOutcome::Stored)) {
            continue;
        }
        app.metrics.event_received(deployed.name(), &deployed.environment, "accepted");
        crate::ingress::enqueue_runs(app, &event);
    }
    Ok(())
}
