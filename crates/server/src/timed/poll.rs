//! `poll`: asks an HTTP API at each due time; every item whose id was never seen is an event
//! (`PollService.onNewItem`, the item as payload). The id is the delivery id, so an item seen
//! again is a duplicate; a `cursor` is stored and given to the next request, and while one
//! comes back with new items the next page is fetched at once.

use std::sync::Arc;

use bytes::Bytes;
use onset_model::catalog::EventName;
use onset_sources::schedule::due;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{sleep_until, store_next, stored_next};
use crate::app::{App, now_ms};
use crate::deploy::Deployed;
use onset_sources::triggers::Poll as PollSettings;

const NEXT: &str = "poll.next";
const CURSOR: &str = "poll.cursor";
/// Pages fetched at most in one poll.
const MAX_PAGES: usize = 100;

pub async fn run(app: Arc<App>, deployed: Arc<Deployed>, settings: PollSettings, token: CancellationToken) {
    let (component, environment) = (deployed.name().to_string(), deployed.environment.clone());
    let timing = &settings.timing;
    // The first poll is at once; afterwards at each due time.
    let mut next = stored_next(&app, &component, &environment, NEXT, timing).await.unwrap_or_else(now_ms);
    loop {
        if !sleep_until(next, &token).await {
            return;
        }
        let (fires, after) = due(&timing.every, next, now_ms(), timing.catch_up);
        next = after;
        if !fires.is_empty() {
            match poll_once(&app, &deployed, &settings, &token).await {
                Ok(()) => app.source_ok(&environment, &component, Some(next)),
                Err(e) => {
                    tracing::warn!(component, environment, error = %e, "poll failed; trying again at the next due time");
                    app.source_failed(&environment, &component, e, Some(next));
                }
            }
        }
        store_next(&app, &component, &environment, NEXT, timing, next).await;
    }
}

async fn poll_once(
    app: &Arc<App>,
    deployed: &Arc<Deployed>,
    s: &PollSettings,
    token: &CancellationToken,
) -> Result<(), String> {
    let (component, environment) = (deployed.name().to_string(), deployed.environment.clone());
    let t = &s.templates;
    let name = EventName::new("PollService", "onNewItem");
    let config = deployed.config.clone();
    // Read once per poll; between pages the cursor is carried here (and stored as it moves).
    let mut cursor: Value = app
        .store
        .trigger_state(component.clone(), environment.clone(), CURSOR.into())
        .await
        .map_err(|e| e.to_string())?
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    for _ in 0..MAX_PAGES {
        let scope = onset_expr::from_json(&json!({ "config": config, "cursor": cursor }));
        let url = t.program.eval(&t.url, &scope).map_err(|e| format!("trigger.with.url: {e}"))?;
        let url = url.as_str().map(str::to_string).unwrap_or_else(|| onset_expr::to_json(&url).to_string());
        let mut request = json!({ "method": s.method, "url": url, "headers": s.headers });
        if let Some(b) = &s.body {
            request["body"] = b.clone();
        }
        let response = onset_engine::Connectors::call(&app.connectors, "http.request", request, None)
            .await
            .map_err(|e| format!("{} {url}: {}", s.method, e.message))?;
        let status = response["status"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) {
            return Err(format!("{} {url} answered {status}", s.method));
        }
        let scope = onset_expr::from_json(&json!({ "config": config, "response": response }));
        let items = t.program.eval(&t.items, &scope).map_err(|e| format!("trigger.with.items: {e}"))?;
        let items = onset_expr::to_json(&items);
        let Value::Array(items) = items else {
            return Err(format!("trigger.with.items gave {}, not a list", kind(&items)));
        };
        let mut new = 0;
        for item in &items {
            let scope = onset_expr::from_json(&json!({ "config": config, "response": response, "item": item }));
            let id = t.program.eval(&t.id, &scope).map_err(|e| format!("trigger.with.id: {e}"))?;
            let id = id.as_str().map(str::to_string).unwrap_or_else(|| onset_expr::to_json(&id).to_string());
            if id.is_empty() || id == "null" {
                return Err("trigger.with.id gave no id for an item".into());
            }
            let outcome = crate::ingress::store_delivery(
                app,
                deployed,
                &name,
                Some(id),
                Bytes::from(item.to_string()),
                ("{}".into(), "{}".into()),
                token,
            )
            .await?;
            if matches!(outcome, onset_store::IngestOutcome::Stored) {
                new += 1;
            }
        }
        let Some(cursor_template) = &t.cursor else { return Ok(()) };
        let next_cursor = onset_expr::to_json(
            &t.program.eval(cursor_template, &scope).map_err(|e| format!("trigger.with.cursor: {e}"))?,
        );
        if next_cursor.is_null() || next_cursor == cursor {
            return Ok(());
        }
        app.store
            .set_trigger_state(component.clone(), environment.clone(), CURSOR.into(), Some(next_cursor.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        cursor = next_cursor;
        if new == 0 || items.is_empty() {
            return Ok(());
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
