//! The Calendar API calls Onset makes: `events.watch`, `channels.stop`, `events.list`, and the
//! OAuth2 refresh that gives them an access token.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::tokens::{TokenCache, key};
use crate::triggers::{GoogleAccount, GoogleCalendar as GoogleSettings};

/// Why a call failed; `Gone` is `events.list`'s 410 (the sync token expired).
#[derive(Debug)]
pub enum ApiError {
    Gone,
    Failed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Gone => f.write_str("the sync token expired (410)"),
            ApiError::Failed(m) => f.write_str(m),
        }
    }
}

pub struct Calendar<'a> {
    client: reqwest::Client,
    settings: &'a GoogleSettings,
    token: String,
}

/// One page of `events.list`.
pub struct Page {
    pub items: Vec<Value>,
    pub next_page: Option<String>,
    pub next_sync: Option<String>,
}

fn failed(what: &str, status: StatusCode, body: &Value) -> ApiError {
    let message = body["error"]["message"].as_str().or(body["error_description"].as_str()).unwrap_or("");
    ApiError::Failed(format!("Google Calendar {what}: {status} {message}"))
}

impl<'a> Calendar<'a> {
    /// Gets an access token for the account (refreshing one when the account says how, and
    /// reusing it from `cache` while it is valid).
    pub async fn connect(settings: &'a GoogleSettings, cache: &TokenCache) -> Result<Calendar<'a>, ApiError> {
        let client = crate::triggers::registration::client().map_err(ApiError::Failed)?;
        let token = match &settings.account {
            GoogleAccount::Token(t) => t.expose().to_string(),
            GoogleAccount::Refresh { client_id, refresh_token, .. }
                if let Some(t) = cache.get(&key(&settings.token_url, client_id, refresh_token.expose())) =>
            {
                t
            }
            GoogleAccount::Refresh { client_id, client_secret, refresh_token } => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.expose()),
                    ("refresh_token", refresh_token.expose()),
                ];
                let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
                let resp = client
                    .post(&settings.token_url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| ApiError::Failed(format!("Google token refresh: {e}")))?;
                let status = resp.status();
                let answer: Value = resp.json().await.unwrap_or(Value::Null);
                if !status.is_success() {
                    return Err(failed("token refresh", status, &answer));
                }
                let token = answer["access_token"]
                    .as_str()
                    .ok_or_else(|| ApiError::Failed("Google token refresh answered without an access_token".into()))?
                    .to_string();
                let expires_in = answer["expires_in"].as_i64().unwrap_or(0);
                cache.put(key(&settings.token_url, client_id, refresh_token.expose()), token.clone(), expires_in);
                token
            }
        };
        Ok(Calendar { client, settings, token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_url.trim_end_matches('/'))
    }

    fn calendar_path(&self) -> String {
        let id: String = form_urlencoded::byte_serialize(self.settings.calendar_id.as_bytes()).collect();
        format!("/calendars/{id}/events")
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<(StatusCode, Value), ApiError> {
        let resp =
            req.bearer_auth(&self.token).send().await.map_err(|e| ApiError::Failed(format!("Google {what}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// `events.watch`: returns `(resourceId, expiration ms)`.
    pub async fn watch(&self, id: &str, token: &str, address: &str) -> Result<(String, i64), ApiError> {
        let body = json!({ "id": id, "type": "web_hook", "address": address, "token": token });
        let req = self.client.post(self.url(&format!("{}/watch", self.calendar_path()))).json(&body);
        let (status, answer) = self.send(req, "events.watch").await?;
        if !status.is_success() {
            return Err(failed("events.watch", status, &answer));
        }
        let resource = answer["resourceId"].as_str().unwrap_or_default().to_string();
        // `expiration` is an int64 that JSON carries as a string; accept both.
        let expiration = match &answer["expiration"] {
            Value::String(s) => s.parse().unwrap_or(0),
            v => v.as_i64().unwrap_or(0),
        };
        Ok((resource, expiration))
    }

    /// `channels.stop`; a channel already gone (404) counts as stopped.
    pub async fn stop(&self, id: &str, resource_id: &str) -> Result<(), ApiError> {
        let body = json!({ "id": id, "resourceId": resource_id });
        let req = self.client.post(self.url("/channels/stop")).json(&body);
        let (status, answer) = self.send(req, "channels.stop").await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(failed("channels.stop", status, &answer))
        }
    }

    /// One page of `events.list`: changes since `sync_token`, or everything without one.
    pub async fn list(&self, sync_token: Option<&str>, page_token: Option<&str>) -> Result<Page, ApiError> {
        let mut query: Vec<(&str, &str)> = vec![("maxResults", "250")];
        match sync_token {
            Some(t) => query.push(("syncToken", t)),
            None => query.push(("showDeleted", "false")),
        }
        if let Some(p) = page_token {
            query.push(("pageToken", p));
        }
        let req = self.client.get(self.url(&self.calendar_path())).query(&query);
        let (status, answer) = self.send(req, "events.list").await?;
        if status == StatusCode::GONE {
            return Err(ApiError::Gone);
        }
        if !status.is_success() {
            return Err(failed("events.list", status, &answer));
        }
        Ok(Page {
            items: answer["items"].as_array().cloned().unwrap_or_default(),
            next_page: answer["nextPageToken"].as_str().map(str::to_string),
            next_sync: answer["nextSyncToken"].as_str().map(str::to_string),
        })
    }

    /// Every page from `sync_token` (or a full listing): the items and the next sync token.
    pub async fn list_all(&self, sync_token: Option<&str>) -> Result<(Vec<Value>, String), ApiError> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let page = self.list(sync_token, page_token.as_deref()).await?;
            items.extend(page.items);
            match (page.next_page, page.next_sync) {
                (Some(p), _) => page_token = Some(p),
                (None, Some(s)) => return Ok((items, s)),
                (None, None) => {
                    return Err(ApiError::Failed("Google events.list ended without a nextSyncToken".into()));
                }
            }
        }
    }
}
