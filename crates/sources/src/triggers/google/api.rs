//! The Calendar API calls Onset makes: `events.watch`, `channels.stop`, `events.list`, and the
//! OAuth2 refresh that gives them an access token.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::triggers::host::{GoogleCredentials, Host};
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
    /// Gets an access token for the account through the host, which keeps one token cache for
    /// Google steps and triggers: a named `google` account, the inline refresh token, or, when
    /// the string names no account, the string as an access token.
    pub async fn connect(settings: &'a GoogleSettings, host: &dyn Host) -> Result<Calendar<'a>, ApiError> {
        let client = crate::triggers::registration::client().map_err(ApiError::Failed)?;
        let token = match &settings.account {
            GoogleAccount::Token(t) => match host.google_token(GoogleCredentials::Account(t.expose())).await {
                Ok(Some(token)) => token,
                Ok(None) => t.expose().to_string(),
                Err(e) => return Err(ApiError::Failed(e)),
            },
            GoogleAccount::Refresh { client_id, client_secret, refresh_token } => {
                let credentials = GoogleCredentials::Refresh {
                    token_url: &settings.token_url,
                    client_id,
                    client_secret: client_secret.expose(),
                    refresh_token: refresh_token.expose(),
                };
                match host.google_token(credentials).await {
                    Ok(Some(token)) => token,
                    Ok(None) => return Err(ApiError::Failed("no Google token for the inline account".into())),
                    Err(e) => return Err(ApiError::Failed(format!("Google token refresh: {e}"))),
                }
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
