//! `/api/v1/alerts`: what needs an operator's attention.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;

use super::doc::Op;
use super::types::{Alert, AlertEntry, AlertQuery, AlertState, Page};
use super::{Q, Table, limit};
use crate::app::App;
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/alerts", "listAlerts", "Operational alerts, newest first: open ones, or all")
            .tag("alerts")
            .query::<AlertQuery>()
            .answers::<Page<AlertEntry>>(200, "Alerts"),
        get(list),
    )
}

async fn list(State(app): State<Arc<App>>, Q(q): Q<AlertQuery>) -> Result<Json<Page<AlertEntry>>, ApiError> {
    let all = q.state == Some(AlertState::All);
    let limit = limit(q.limit)?;
    // Alerts not yet recorded (the disk is full) come first: they are the newest.
    let mut rows: Vec<onset_store::AlertRow> = app.unstored_alerts().values().cloned().collect();
    rows.extend(app.store.alerts(all, limit).await?);
    rows.truncate(limit as usize);
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let alert: Alert = serde_json::from_value(crate::alerts::alert_json(&row)).map_err(ApiError::internal)?;
        items.push(AlertEntry {
            alert,
            delivered_at: row.delivered_at.map(onset_store::time::rfc3339),
            delivery_attempts: row.attempts,
            delivery_error: row.last_error,
        });
    }
    Ok(Json(Page::all(items)))
}
