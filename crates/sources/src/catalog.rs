//! What the sources add to the trigger catalog of `crates/model`: the `http` type's webhook
//! presets, each with what it needs and the provider's sample payload where it publishes one.

use serde::Serialize;
use serde_json::Value;

use crate::presets::{Locator, presets};

/// A preset as the catalog shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PresetSummary {
    pub name: String,
    pub title: String,
    /// The provider's page on verifying its requests.
    pub docs: String,
    /// Settings it needs (`a|b`: either).
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<String>,
    /// The header (or body field) the signature comes in.
    pub signature: String,
    pub algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    /// Where the delivery id comes from (`header X`, `field a.b`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Value>,
}

pub fn preset_summaries() -> Vec<PresetSummary> {
    presets()
        .iter()
        .map(|p| PresetSummary {
            name: p.name.clone(),
            title: p.title.clone(),
            docs: p.docs.clone(),
            needs: p.needs.clone(),
            accepts: p.accepts.clone(),
            signature: p.signature_place(),
            algorithm: p.algorithm().to_string(),
            tolerance: p.tolerance().map(str::to_string),
            delivery_id: match &p.id {
                Some(Locator { header: Some(h), .. }) => Some(format!("header {h}")),
                Some(Locator { field: Some(f), .. }) => Some(format!("field {f}")),
                _ => None,
            },
            handshake: p.handshake.map(|h| h.name().to_string()),
            sample: p.sample.clone(),
        })
        .collect()
}

/// One trigger type's catalog detail (samples and schemas) with what its source adds.
pub fn detail(kind: &str) -> Option<Value> {
    let mut detail = onset_model::catalog::detail(kind)?;
    if kind == "http"
        && let Some(map) = detail.as_object_mut()
    {
        map.insert("presets".into(), serde_json::to_value(preset_summaries()).unwrap_or_default());
    }
    Some(detail)
}
