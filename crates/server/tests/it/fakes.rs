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
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
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
