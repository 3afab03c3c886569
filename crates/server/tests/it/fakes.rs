//! Local stand-ins for provider APIs that answer with the real request and response shapes,
//! recording every request so tests can check exactly what Onset sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

type Handler = dyn Fn(&Seen) -> (StatusCode, Value) + Send + Sync;

struct FakeState {
    seen: Mutex<Vec<Seen>>,
    handler: Box<Handler>,
}

/// A fake API: a function from request to `(status, JSON body)`, and the requests it got.
#[derive(Clone)]
pub struct Fake {
    pub base: String,
    state: Arc<FakeState>,
}

async fn serve(
    State(st): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
        body: serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    };
    let (status, answer) = (st.handler)(&seen);
    st.seen.lock().unwrap().push(seen);
    if answer.is_null() { status.into_response() } else { (status, axum::Json(answer)).into_response() }
}

impl Fake {
    pub async fn start(handler: impl Fn(&Seen) -> (StatusCode, Value) + Send + Sync + 'static) -> Fake {
        let state = Arc::new(FakeState { seen: Mutex::new(Vec::new()), handler: Box::new(handler) });
        let app = Router::new().fallback(any(serve)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { base, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.state.seen.lock().unwrap())
    }
}

/// GitHub's repository webhook API (`/repos/{owner}/{repo}/hooks`), keeping hooks in memory.
pub async fn github() -> Fake {
    let hooks: Arc<Mutex<HashMap<u64, Value>>> = Arc::default();
    let next = Arc::new(Mutex::new(12_345_678u64));
    Fake::start(move |req| {
        let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let mut hooks = hooks.lock().unwrap();
        match (req.method.as_str(), parts.as_slice()) {
            ("POST", ["repos", owner, repo, "hooks"]) => {
                let url = &req.body["config"]["url"];
                if hooks.values().any(|h| &h["config"]["url"] == url) {
                    return (StatusCode::UNPROCESSABLE_ENTITY, json!({ "message": "Validation Failed",
                        "errors": [ { "resource": "Hook", "code": "custom", "message": "Hook already exists on this repository" } ] }));
                }
                let mut id = next.lock().unwrap();
                *id += 1;
                let hook = json!({ "type": "Repository", "id": *id, "name": "web", "active": req.body["active"],
                    "events": req.body["events"],
                    "config": { "content_type": req.body["config"]["content_type"], "insecure_ssl": "0", "url": url },
                    "url": format!("https://api.github.com/repos/{owner}/{repo}/hooks/{id}"),
                    "last_response": { "code": null, "status": "unused", "message": null } });
                hooks.insert(*id, hook.clone());
                (StatusCode::CREATED, hook)
            }
            ("GET", ["repos", _, _, "hooks"]) => (StatusCode::OK, Value::Array(hooks.values().cloned().collect())),
            ("PATCH", ["repos", _, _, "hooks", id]) => match hooks.get_mut(&id.parse().unwrap_or(0)) {
                Some(h) => {
                    h["events"] = req.body["events"].clone();
                    h["config"]["url"] = req.body["config"]["url"].clone();
                    (StatusCode::OK, h.clone())
                }
                None => (StatusCode::NOT_FOUND, json!({ "message": "Not Found" })),
            },
            ("DELETE", ["repos", _, _, "hooks", id]) => match hooks.remove(&id.parse().unwrap_or(0)) {
                Some(_) => (StatusCode::NO_CONTENT, Value::Null),
                None => (StatusCode::NOT_FOUND, json!({ "message": "Not Found" })),
            },
            _ => (StatusCode::NOT_FOUND, json!({ "message": "Not Found" })),
        }
    })
    .await
}

/// A calendar as Google's fake holds it: items with the change sequence that last touched them.
#[derive(Default)]
pub struct Calendar {
    /// `(id, etag, status, summary, seq)`
    pub items: Vec<(String, String, String, String, u64)>,
    pub seq: u64,
    /// Sync tokens answered with 410.
    pub expired: Vec<String>,
    /// The `expiration` (unix ms) of the next watch; later watches get a week.
    pub next_expiration: Option<i64>,
}

impl Calendar {
    pub fn put(&mut self, id: &str, etag: &str, status: &str, summary: &str) {
        self.seq += 1;
        let seq = self.seq;
        self.items.retain(|i| i.0 != id);
        self.items.push((id.into(), etag.into(), status.into(), summary.into(), seq));
    }

    pub fn token(&self) -> String {
        format!("sync-{}", self.seq)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Google's Calendar API (`events.watch`, `events.list` with sync tokens and pages of two,
/// `channels.stop`) and OAuth2 token endpoint.
pub async fn google(calendar: Arc<Mutex<Calendar>>) -> Fake {
    Fake::start(move |req| {
        let mut cal = calendar.lock().unwrap();
        let path = req.path.as_str();
        let item = |i: &(String, String, String, String, u64)| {
            json!({ "kind": "calendar#event", "id": i.0, "etag": i.1, "status": i.2, "summary": i.3,
                "start": { "dateTime": "2026-11-25T10:00:00Z" }, "end": { "dateTime": "2026-11-25T11:00:00Z" } })
        };
        match (req.method.as_str(), path) {
            ("POST", "/token") => (StatusCode::OK, json!({ "access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer" })),
            ("POST", "/channels/stop") => (StatusCode::NO_CONTENT, Value::Null),
            ("POST", p) if p.ends_with("/events/watch") => {
                let expiration = cal.next_expiration.take().unwrap_or_else(|| now_ms() + 7 * 24 * 3600 * 1000);
                (StatusCode::OK, json!({ "kind": "api#channel", "id": req.body["id"], "resourceId": "res-team-calendar",
                    "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/team@example.com/events?alt=json",
                    "token": req.body["token"], "expiration": expiration.to_string() }))
            }
            ("GET", p) if p.ends_with("/events") => {
                let since = match req.query.get("syncToken") {
                    Some(t) if cal.expired.contains(t) => {
                        return (StatusCode::GONE, json!({ "error": { "code": 410, "message": "Sync token is no longer valid, a full sync is required." } }));
                    }
                    Some(t) => Some(t.trim_start_matches("sync-").parse::<u64>().unwrap()),
                    None => None,
                };
                let all: Vec<Value> = cal
                    .items
                    .iter()
                    .filter(|i| match since { Some(n) => i.4 > n, None => i.2 != "cancelled" })
                    .map(item)
                    .collect();
                let offset: usize = req.query.get("pageToken").map_or(0, |p| p.parse().unwrap());
                let page: Vec<Value> = all.iter().skip(offset).take(2).cloned().collect();
                if offset + 2 < all.len() {
                    (StatusCode::OK, json!({ "kind": "calendar#events", "items": page, "nextPageToken": (offset + 2).to_string() }))
                } else {
                    (StatusCode::OK, json!({ "kind": "calendar#events", "items": page, "nextSyncToken": cal.token() }))
                }
            }
            _ => (StatusCode::NOT_FOUND, json!({ "error": { "code": 404, "message": "Not Found" } })),
        }
    })
    .await
}
