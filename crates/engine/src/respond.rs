//! The caller waiting for a run's answer (`http` triggers with `response: after_run`).

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Delivers at most one answer: the first `respond` step, or the end of the first attempt.
#[derive(Debug, Clone)]
pub struct Responder(Arc<Mutex<Option<oneshot::Sender<serde_json::Value>>>>);

impl Responder {
    /// A responder and the receiving end the ingress waits on.
    pub fn new() -> (Self, oneshot::Receiver<serde_json::Value>) {
        let (tx, rx) = oneshot::channel();
        (Self(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// Sends `{status, headers, body}`; `false` when an answer was already sent (or nobody waits).
    pub fn respond(&self, response: serde_json::Value) -> bool {
        let sender = self.0.lock().map(|mut slot| slot.take()).unwrap_or(None);
        sender.is_some_and(|tx| tx.send(response).is_ok())
    }

    pub fn is_pending(&self) -> bool {
        self.0.lock().map(|slot| slot.as_ref().is_some_and(|tx| !tx.is_closed())).unwrap_or(false)
    }
}

/// Checks and normalises a `respond` value: `status` 100–599 (default 200), `headers` a mapping
/// of text, `body` anything.
pub fn normalise(value: serde_json::Value) -> Result<serde_json::Value, String> {
    let mut map = match value {
        serde_json::Value::Object(map) => map,
        other => return Err(format!("respond needs a mapping with status, headers and body, got {other}")),
    };
    let status = match map.remove("status") {
        None | Some(serde_json::Value::Null) => 200,
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
            Some(n) if (100..=599).contains(&n) => n,
            _ => return Err(format!("respond.status is an HTTP status from 100 to 599, not {v}")),
        },
    };
    let headers = match map.remove("headers") {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(h)) => h
            .into_iter()
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                (k, serde_json::Value::String(text))
            })
            .collect(),
        Some(other) => return Err(format!("respond.headers is a mapping of names to values, not {other}")),
    };
    let body = map.remove("body").unwrap_or(serde_json::Value::Null);
    Ok(serde_json::json!({ "status": status, "headers": headers, "body": body }))
}
