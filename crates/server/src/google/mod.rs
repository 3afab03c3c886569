//! google-calendar triggers: notifications carry no body; Onset checks them against the channel
//! it registered, answers 200 at once, and fetches the changes itself (one sync at a time per
//! component and environment).

mod api;
pub mod channel;
pub mod sync;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::deploy::Deployed;
use crate::error::ApiError;
use crate::ingress::Rejection;

type SyncLock = Arc<tokio::sync::Mutex<()>>;

/// One lock per (component, environment): syncs of a calendar never overlap.
#[derive(Default)]
pub struct Locks(Mutex<HashMap<(String, String), SyncLock>>);

impl Locks {
    pub fn get(&self, component: &str, environment: &str) -> SyncLock {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((component.to_string(), environment.to_string())).or_default().clone()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn refused(message: &str, location: &str) -> Rejection {
    ("unauthorized", ApiError::new(StatusCode::UNAUTHORIZED, "channel_unknown", message).at(location))
}

/// A push notification: accepted only from the channel Onset opened (id and secret token).
pub async fn notification(
    app: &Arc<App>,
    deployed: &Arc<Deployed>,
    headers: &HeaderMap,
) -> Result<(&'static str, Response), Rejection> {
    let channel = channel::load(app, deployed.name(), &deployed.environment)
        .await
        .map_err(|e| ("error", ApiError::internal(e)))?
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
        "sync" => Ok(("sync", StatusCode::OK.into_response())),
        "exists" | "not_exists" => {
            let headers_json = deployed.redactor.to_json(headers);
            let text = serde_json::Value::Object(headers_json).to_string();
            tokio::spawn(sync::changes(app.clone(), deployed.clone(), text));
            Ok(("accepted", StatusCode::OK.into_response()))
        }
        other => Err((
            "malformed",
            ApiError::bad_request(
                "unknown_resource_state",
                format!("X-Goog-Resource-State `{other}` is not sync, exists or not_exists"),
            )
            .at("header x-goog-resource-state"),
        )),
    }
}
