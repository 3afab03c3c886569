//! Accounts: set, listed with secrets masked, sealed at rest, named by config of type `account`,
//! used by a run in their environment, checked at deploy, tested and removed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "tok-3b9d27c1-account";

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
