//! `/api/v1/catalog`: trigger types with their settings, channels and events, and the connector
//! operations `call:` steps can name.

use axum::Json;
use axum::extract::Path;
use axum::routing::get;

use super::Table;
use super::doc::Op;
use super::types::{ConnectorOperation, Page, TriggerType};
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/catalog", "listTriggerTypes", "Every trigger type with its settings, channels and events")
            .tag("catalog")
            .answers::<Page<TriggerType>>(200, "The catalog"),
        get(list),
    )
    .add(
        Op::get(
            "/api/v1/catalog/connectors",
            "listConnectorOperations",
            "Every operation `call:` steps can name, with its account type and input and output JSON Schemas",
        )
        .tag("catalog")
        .answers::<Page<ConnectorOperation>>(200, "The operations, by name"),
        get(connectors),
    )
    .add(
        Op::get(
            "/api/v1/catalog/{kind}",
            "getTriggerType",
            "One trigger type with each event's sample and JSON Schema (and the http type's webhook presets)",
        )
        .tag("catalog")
        .answers::<TriggerType>(200, "The trigger type")
        .errors(&[404]),
        get(one),
    )
}

fn typed(value: serde_json::Value) -> Result<TriggerType, ApiError> {
    serde_json::from_value(value).map_err(ApiError::internal)
}

async fn list() -> Result<Json<Page<TriggerType>>, ApiError> {
    let mut items = Vec::new();
    for t in onset_model::catalog::triggers() {
        let mut entry = typed(serde_json::to_value(&t).map_err(ApiError::internal)?)?;
        entry.href = Some(format!("/api/v1/catalog/{}", t.kind));
        items.push(entry);
    }
    Ok(Json(Page::all(items)))
}

async fn one(Path(kind): Path<String>) -> Result<Json<TriggerType>, ApiError> {
    let detail = onset_sources::catalog::detail(&kind).ok_or_else(|| {
        ApiError::not_found(
            "unknown_trigger_type",
            format!("there is no trigger type `{kind}`; types: {}", onset_model::TRIGGER_TYPES.join(", ")),
        )
        .at("path kind")
    })?;
    Ok(Json(typed(detail)?))
}

async fn connectors() -> Result<Json<Page<ConnectorOperation>>, ApiError> {
    let items = onset_connectors::catalog()
        .into_iter()
        .map(|op| serde_json::to_value(op).and_then(serde_json::from_value))
        .collect::<Result<Vec<ConnectorOperation>, _>>()
        .map_err(ApiError::internal)?;
    Ok(Json(Page::all(items)))
}
