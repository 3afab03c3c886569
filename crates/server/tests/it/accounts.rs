//! Accounts: set, listed with secrets masked, sealed at rest, named by config of type `account`,
//! used by a run in their environment, checked at deploy, tested and removed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "tok-3b9d27c1-account";
/// An access token the token endpoint issues at run time.
const LIVE_TOKEN: &str = "at-1-issued-at-run-time";

const CALLER: &str = r#"component: caller
trigger: { type: http }
config:
  api: { type: account, connector: http }
handlers:
  /:
    POST:
      steps:
        - call: http.request
          account: "{{ config.api }}"
          with: { method: POST, url: "/orders", body: { n: 1 } }
"#;

async fn put_account(s: &TestServer, name: &str, env: &str, body: Value) -> reqwest::Response {
    s.api.put(s.url(&format!("/api/v1/accounts/{name}?environment={env}"))).json(&body).send().await.unwrap()
}

async fn deploy(s: &TestServer, env: &str, source: &str) -> reqwest::Response {
    s.api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": env, "source": source, "path": "components/caller.yaml" }))
        .send()
        .await
        .unwrap()
}

fn raw_database(s: &TestServer) -> Vec<u8> {
    ["onset.db", "onset.db-wal"].iter().flat_map(|f| std::fs::read(s.data_dir().join(f)).unwrap_or_default()).collect()
}

#[tokio::test]
async fn a_run_calls_with_the_account_of_its_environment_and_the_secret_shows_nowhere() {
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let s = start(&[]).await;
    let base = sink.url().trim_end_matches('/').to_string() + "/v1";

    // Bad fields are refused with what to write, and nothing is stored.
    let r = put_account(&s, "api", "development", json!({ "type": "http", "fields": { "auth": "bearer" } })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("auth=bearer needs `token=…`"));

    let r = put_account(
        &s,
        "api",
        "development",
        json!({ "type": "http", "fields": { "auth": "bearer", "token": TOKEN, "base_url": base } }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.json::<Value>().await.unwrap();
    assert_eq!(shown["fields"]["token"], "[redacted]");
    assert_eq!(shown["fields"]["base_url"], base);
    let list = s.get("/api/v1/accounts?environment=development").await;
    assert_eq!(list["items"][0]["name"], "api");
    assert!(!list.to_string().contains(TOKEN));
    assert_eq!(s.get("/api/v1/accounts?environment=production").await["items"], json!([]));

    // A deploy naming an account that is not there says how to create it.
    let r = deploy(&s, "development", CALLER).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "the config value is missing");
    let r = s
        .api
        .put(s.url("/api/v1/config/caller?environment=development"))
        .json(&json!({ "values": { "api": "nope" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = deploy(&s, "development", CALLER).await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("config `api` names account `nope`, which does not exist in `development`")
            && text.contains("onset account set nope --type http --env development"),
        "{text}"
    );
    s.api
        .put(s.url("/api/v1/config/caller?environment=development"))
        .json(&json!({ "values": { "api": "api" } }))
        .send()
        .await
        .unwrap();
    let r = deploy(&s, "development", CALLER).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // The run calls the account's base URL with its token; its record never holds the token.
    let id = s.post_json("/hooks/development/caller", &json!({})).await.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    let (headers, body) = sink.received().remove(0);
    assert_eq!(headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(body, json!({ "n": 1 }));
    assert!(!run.to_string().contains(TOKEN), "{run}");
    assert!(!raw_database(&s).windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "sealed at rest");
    let audit = s.get("/api/v1/audit").await;
    assert!(!audit.to_string().contains(TOKEN));

    // Changing one field keeps the others; the next run uses the new token at once.
    let r = put_account(&s, "api", "development", json!({ "type": "http", "fields": { "token": "second" } })).await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = s.post_json("/hooks/development/caller", &json!({})).await.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.wait_run_status(&id, "succeeded").await;
    assert_eq!(sink.received()[1].0["authorization"], "Bearer second");

    // Test: a real GET of its test_url with the credentials.
    let test_url = format!("{base}/ping");
    put_account(&s, "api", "development", json!({ "type": "http", "fields": { "test_url": test_url } })).await;
    let r = s.api.post(s.url("/api/v1/accounts/api/test?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], format!("GET {test_url} answered HTTP 200"));
    assert_eq!(sink.received()[2].0["authorization"], "Bearer second");

    // Removed: the next run fails for good, naming the account and the fix.
    let r = s.api.delete(s.url("/api/v1/accounts/api?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.api.delete(s.url("/api/v1/accounts/api?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = s.post_json("/hooks/development/caller", &json!({})).await.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = s.wait_run_status(&id, "failed").await;
    assert!(run["error"].as_str().unwrap().contains("there is no account `api` in environment `development`"), "{run}");
}

#[tokio::test]
async fn an_account_that_cannot_get_a_token_raises_an_alert_until_it_can() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // A token endpoint that refuses the client until `fixed`, and an API behind it.
    let fixed = Arc::new(AtomicBool::new(false));
    let f = fixed.clone();
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(move || {
                let ok = f.load(Ordering::SeqCst);
                async move {
                    if ok {
                        (StatusCode::OK, axum::Json(json!({ "access_token": LIVE_TOKEN, "expires_in": 3600 })))
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            axum::Json(json!({ "error": "invalid_client", "error_description": "Client authentication failed" })),
                        )
                    }
                }
            }),
        )
        // An API that echoes the credentials it got (some do, in errors and debug answers).
        .route(
            "/orders",
            axum::routing::post(|headers: axum::http::HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                axum::Json(json!({ "ok": true, "you_sent": auth }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__CALLER__API", "api")).await;
    let fields = json!({ "auth": "oauth2_client_credentials", "token_url": format!("{base}/token"),
        "client_id": "onset", "client_secret": "wrong", "base_url": base });
    assert_eq!(put_account(&s, "api", "development", json!({ "type": "http", "fields": fields })).await.status(), 200);
    assert_eq!(deploy(&s, "development", CALLER).await.status(), StatusCode::CREATED);
    let send = || async {
        let r = s.post_json("/hooks/development/caller", &json!({})).await;
        r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
    };
    let run = s.wait_run_status(&send().await, "failed").await;
    assert!(
        run["error"].as_str().unwrap().contains("HTTP 401: invalid_client (Client authentication failed)"),
        "{run}"
    );
    let alert = loop {
        let open = s.get("/api/v1/alerts?state=open").await;
        if let Some(a) = open["items"].as_array().unwrap().iter().find(|a| a["kind"] == "account_refresh_failed") {
            break a.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(alert["environment"], "development");
    assert!(
        alert["message"].as_str().unwrap().starts_with("account `api` in `development` cannot get an access token")
    );
    assert!(!alert.to_string().contains("wrong"), "no secret in the alert: {alert}");

    // Fixed at the provider: the next run gets a token and the alert is resolved. The token,
    // obtained at run time and echoed by the API, is redacted from the run's record.
    fixed.store(true, Ordering::SeqCst);
    let run = s.wait_run_status(&send().await, "succeeded").await;
    assert!(!run.to_string().contains(LIVE_TOKEN), "{run}");
    assert!(run.to_string().contains("Bearer [redacted]"), "{run}");
    for _ in 0..250 {
        let open = s.get("/api/v1/alerts?state=open").await;
        if !open["items"].as_array().unwrap().iter().any(|a| a["kind"] == "account_refresh_failed") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the alert stayed open");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_used_at_once_and_kept_sealed() {
    use std::sync::{Arc, Mutex};
    // A token endpoint that rotates refresh tokens: each takes one grant, and the answer carries
    // the next. Its API refuses the first access token once (revoked), forcing another grant.
    let chain = Arc::new(Mutex::new((1u32, Vec::<String>::new())));
    let c = chain.clone();
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(move |body: String| {
                let c = c.clone();
                async move {
                    let mut chain = c.lock().unwrap();
                    let form: std::collections::HashMap<String, String> =
                        form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    let sent = form.get("refresh_token").cloned().unwrap_or_default();
                    chain.1.push(sent.clone());
                    if sent != format!("refresh-{}", chain.0) {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" })));
                    }
                    chain.0 += 1;
                    let n = chain.0;
                    (
                        StatusCode::OK,
                        axum::Json(json!({ "access_token": format!("access-token-{n}"), "expires_in": 3600,
                                           "refresh_token": format!("refresh-{n}") })),
                    )
                }
            }),
        )
        .route(
            "/orders",
            axum::routing::post(|headers: axum::http::HeaderMap| async move {
                if headers.get("authorization").is_some_and(|v| v == "Bearer access-token-2") {
                    (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "revoked" })))
                } else {
                    (StatusCode::OK, axum::Json(json!({ "ok": true })))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__CALLER__API", "api")).await;
    let fields = json!({ "auth": "oauth2_refresh_token", "token_url": format!("{base}/token"),
        "client_id": "onset", "refresh_token": "refresh-1", "base_url": base });
    assert_eq!(put_account(&s, "api", "development", json!({ "type": "http", "fields": fields })).await.status(), 200);
    assert_eq!(deploy(&s, "development", CALLER).await.status(), StatusCode::CREATED);
    let r = s.post_json("/hooks/development/caller", &json!({})).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    // Grant 1 (refresh-1 → refresh-2), a 401, grant 2 with the rotated refresh-2, then through.
    s.wait_run_status(&id, "succeeded").await;
    assert_eq!(chain.lock().unwrap().1, ["refresh-1", "refresh-2"]);
    // The stored account has the latest refresh token: the account test (a fresh grant, from
    // the store) sends it.
    for _ in 0..100 {
        let audit = s.get("/api/v1/audit").await;
        if audit.to_string().contains("account.rotate") {
            assert!(!audit.to_string().contains("refresh-"), "no token in the audit log: {audit}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Both rotations were handed over before the run ended; the second may still be storing.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let r = s.api.post(s.url("/api/v1/accounts/api/test?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(chain.lock().unwrap().1.last().unwrap(), "refresh-3");
    assert!(!raw_database(&s).windows(9).any(|w| w == b"refresh-4"), "sealed at rest");
}
