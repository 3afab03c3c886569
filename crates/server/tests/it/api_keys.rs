//! `security: { scheme: api_key }` at the ingress: a subscribed application's key of the
//! environment's kind, 401 and 403 before anything is stored, the key never stored, the plan's
//! limit per subscription, and a replaced key refused on the next request.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const KEYED: &str = r#"
component: orders
trigger:
  type: http
  with: { security: { scheme: api_key, in: header, name: x-api-key } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

const QUERY: &str = r#"
component: search
trigger:
  type: http
  with: { security: { scheme: api_key, in: query, name: key } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

async fn keys(s: &TestServer, app: &str) -> (String, String) {
    let v: Value =
        s.api.post(s.url(&format!("/api/v1/applications/{app}/keys"))).send().await.unwrap().json().await.unwrap();
    (v["sandbox"].as_str().unwrap().to_string(), v["production"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn only_a_subscribed_applications_key_of_the_environments_kind_calls() {
    let s = start(&[("orders.yaml", KEYED), ("search.yaml", QUERY)]).await;
    s.post_json("/api/v1/applications", &json!({ "name": "shop" })).await;
    let (sandbox, production) = keys(&s, "shop").await;
    let call = |key: Option<String>| {
        let mut r = s.client.post(s.url("/hooks/development/orders")).json(&json!({ "n": 1 }));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    let code = |r: reqwest::Response| async move {
        let status = r.status();
        (status, r.json::<Value>().await.unwrap()["code"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(code(call(None).await.unwrap()).await, (StatusCode::UNAUTHORIZED, "api_key_missing".into()));
    assert_eq!(
        code(call(Some("onset_test_nope".into())).await.unwrap()).await,
        (StatusCode::UNAUTHORIZED, "api_key_invalid".into())
    );
    assert_eq!(
        code(call(Some(sandbox.clone())).await.unwrap()).await,
        (StatusCode::FORBIDDEN, "not_subscribed".into())
    );
    // Subscribing takes effect on the next request (this node forgets what it looked up).
    let r = s.post_json("/api/v1/subscriptions", &json!({ "application": "shop", "component": "orders" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ok = call(Some(sandbox.clone())).await.unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    assert_eq!(
        code(call(Some(production.clone())).await.unwrap()).await,
        (StatusCode::FORBIDDEN, "api_key_environment".into()),
        "a production key does not call development"
    );

    // The key is stored redacted.
    let events = s.wait_events(1).await;
    let event = s.get(&format!("/api/v1/events/{}", events[0]["id"].as_str().unwrap())).await;
    assert_eq!(event["headers"]["x-api-key"], "[redacted]");

    // New keys: the old one is refused on the very next request.
    let (fresh, _) = keys(&s, "shop").await;
    assert_eq!(code(call(Some(sandbox)).await.unwrap()).await, (StatusCode::UNAUTHORIZED, "api_key_invalid".into()));
    assert_eq!(call(Some(fresh.clone())).await.unwrap().status(), StatusCode::ACCEPTED);

    // In the query, redacted too.
    s.post_json("/api/v1/subscriptions", &json!({ "application": "shop", "component": "search" })).await;
    let r = s
        .client
        .post(s.url(&format!("/hooks/development/search?key={fresh}&q=shoes")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let event = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(event["query"], json!({ "key": "[redacted]", "q": "shoes" }));
    let all = s.get("/api/v1/events?limit=50").await.to_string();
    assert!(!all.contains(&fresh), "the key is nowhere in the events");
    assert_eq!(s.events().await.len(), 3, "the refused requests stored nothing");

    // The API's documents name the key; the Postman collection runs green with a sandbox key.
    let doc = s.get("/api/v1/components/orders/openapi.json").await;
    assert_eq!(
        doc["components"]["securitySchemes"]["apiKey"],
        json!({
            "type": "apiKey", "in": "header", "name": "x-api-key",
            "description": "A subscribed application's key: sandbox keys call development, production keys production",
        })
    );
    assert!(doc["paths"]["/"]["post"]["responses"]["403"].is_object());
    let collection = s.get("/api/v1/components/orders/postman.json").await;
    let mut environment = s.get("/api/v1/components/orders/postman.json?file=environment").await;
    assert_eq!(collection["item"][0]["request"]["header"][1], json!({ "key": "x-api-key", "value": "{{apiKey}}" }));
    environment["values"][1]["value"] = json!(fresh);
    newman(&collection, &environment).await;
    assert_eq!(s.events().await.len(), 4, "newman's request was taken");
}

/// Runs the collection with Postman's own runner (newman, from tests/npm); panics unless green.
pub(crate) async fn newman(collection: &Value, environment: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let (c, e) = (dir.path().join("c.json"), dir.path().join("e.json"));
    std::fs::write(&c, collection.to_string()).unwrap();
    std::fs::write(&e, environment.to_string()).unwrap();
    let newman = format!("{}/tests/npm/node_modules/newman/bin/newman.js", repo_root());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(newman)
            .args(["run", c.to_str().unwrap(), "-e", e.to_str().unwrap(), "--reporters", "cli", "--color", "off"])
            .output()
            .expect("node with newman (scripts/test installs tests/npm)")
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "newman:\n{text}");
}

#[tokio::test]
async fn a_plan_limits_each_subscription() {
    let s = start(&[("orders.yaml", KEYED)]).await;
    s.post_json("/api/v1/plans", &json!({ "name": "Tiny", "rate_limit": "2/m" })).await;
    for app in ["a", "b"] {
        s.post_json("/api/v1/applications", &json!({ "name": app })).await;
        s.post_json("/api/v1/subscriptions", &json!({ "application": app, "component": "orders", "plan": "Tiny" }))
            .await;
    }
    let (a, _) = keys(&s, "a").await;
    let (b, _) = keys(&s, "b").await;
    let call =
        |key: &str| s.client.post(s.url("/hooks/development/orders")).header("x-api-key", key).json(&json!({})).send();
    assert_eq!(call(&a).await.unwrap().status(), 202);
    assert_eq!(call(&a).await.unwrap().status(), 202);
    let r = call(&a).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["ratelimit-policy"], "\"plan\";q=2;w=60");
    // Another subscription has its own allowance.
    assert_eq!(call(&b).await.unwrap().status(), 202);
    assert_eq!(s.events().await.len(), 3);

    // A daily quota: counted for the calendar day (UTC); the refusal says until when.
    s.post_json("/api/v1/plans", &json!({ "name": "TwoADay", "daily_quota": 2, "monthly_quota": 100 })).await;
    s.post_json("/api/v1/applications", &json!({ "name": "c" })).await;
    s.post_json("/api/v1/subscriptions", &json!({ "application": "c", "component": "orders", "plan": "TwoADay" }))
        .await;
    let (c, _) = keys(&s, "c").await;
    assert_eq!(call(&c).await.unwrap().status(), 202);
    assert_eq!(call(&c).await.unwrap().status(), 202);
    let r = call(&c).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["ratelimit-policy"], "\"daily\";q=2;w=86400");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let midnight = 86_400 - (jiff::Timestamp::now().as_second() % 86_400) as u64;
    assert!(retry <= midnight && retry + 5 >= midnight, "until midnight UTC: {retry} vs {midnight}");
    assert_eq!(s.events().await.len(), 5);
}
