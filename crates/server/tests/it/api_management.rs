//! API management for owners: plans, applications with keys shown once and kept hashed,
//! subscriptions under plans, and who may change them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const HOOK: &str =
    "component: orders\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";

#[tokio::test]
async fn applications_keys_subscriptions_and_plans() {
    let s = start(&[("orders.yaml", HOOK)]).await;
    let plans = s.get("/api/v1/plans").await;
    let names: Vec<_> = plans["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bronze", "Gold", "Silver", "Unlimited"]);
    assert_eq!(plans["items"][0]["rate_limit"], "1000/m");
    let r = s.post_json("/api/v1/plans", &json!({ "name": "Trial", "rate_limit": "10/m", "daily_quota": 100 })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = s.post_json("/api/v1/plans", &json!({ "name": "Bad", "rate_limit": "10/x" })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.post_json("/api/v1/plans", &json!({ "name": "Trial" })).await.status(), StatusCode::CONFLICT);

    let made: Value =
        s.post_json("/api/v1/applications", &json!({ "name": "shop-frontend" })).await.json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    let secret = made["client_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("onset_cs_") && made["client_id"].as_str().unwrap().starts_with("onset_ci_"));
    assert_eq!(made["owner"], "token:admin");
    let listed = s.get("/api/v1/applications").await;
    assert!(listed["items"][0].get("client_secret").is_none(), "the secret is shown once");

    assert_eq!(s.get(&format!("/api/v1/applications/{id}/keys")).await["items"], json!([]));
    let keys: Value =
        s.api.post(s.url("/api/v1/applications/shop-frontend/keys")).send().await.unwrap().json().await.unwrap();
    let sandbox = keys["sandbox"].as_str().unwrap().to_string();
    let production = keys["production"].as_str().unwrap().to_string();
    assert!(sandbox.starts_with("onset_test_") && production.starts_with("onset_live_"));
    let shown = s.get(&format!("/api/v1/applications/{id}/keys")).await;
    let kinds: Vec<_> = shown["items"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["production", "sandbox"]);
    assert!(sandbox.starts_with(shown["items"][1]["prefix"].as_str().unwrap()));
    assert!(!shown.to_string().contains(&sandbox), "only a prefix is shown again");
    let again: Value =
        s.api.post(s.url(&format!("/api/v1/applications/{id}/keys"))).send().await.unwrap().json().await.unwrap();
    assert_ne!(again["sandbox"], json!(sandbox), "regenerated");

    let sub =
        s.post_json("/api/v1/subscriptions", &json!({ "application": "shop-frontend", "component": "orders" })).await;
    assert_eq!(sub.status(), StatusCode::CREATED);
    let sub: Value = sub.json().await.unwrap();
    assert_eq!((sub["plan"].as_str(), sub["environment"].as_str()), (Some("Bronze"), Some("development")));
    let twice = s.post_json("/api/v1/subscriptions", &json!({ "application": id, "component": "orders" })).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let r = s
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "application": id, "component": "orders", "environment": "production", "plan": "Platinum" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("plans: Bronze, Gold, Silver, Trial, Unlimited")
    );
    let r = s
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "application": id, "component": "orders", "environment": "production", "plan": "Gold" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let by_api = s.get("/api/v1/subscriptions?component=orders&environment=production").await;
    assert_eq!(by_api["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.get(&format!("/api/v1/subscriptions?application={id}")).await["items"].as_array().unwrap().len(), 2);

    // Who may: a viewer reads, a developer manages but not production nor plans.
    let server = &s;
    let token = |role: &str| {
        let body = json!({ "name": format!("t-{role}"), "role": role });
        async move {
            let v: Value = server.post_json("/api/v1/tokens", &body).await.json().await.unwrap();
            bearer_client(v["token"].as_str().unwrap())
        }
    };
    let viewer = token("viewer").await;
    assert_eq!(viewer.get(s.url("/api/v1/applications")).send().await.unwrap().status(), 200);
    let r = viewer.post(s.url("/api/v1/applications")).json(&json!({ "name": "x" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let developer = token("developer").await;
    let r = developer.post(s.url("/api/v1/plans")).json(&json!({ "name": "Dev" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = developer
        .post(s.url("/api/v1/subscriptions"))
        .json(&json!({ "application": id, "component": "other", "environment": "production" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Deleting the application ends its subscriptions; nothing secret is stored in plaintext.
    let r = s.api.delete(s.url("/api/v1/applications/shop-frontend")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("/api/v1/subscriptions").await["items"], json!([]));
    let r = s.api.delete(s.url(&format!("/api/v1/applications/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let db = std::fs::read(s.data_dir().join("onset.db")).unwrap_or_default();
    let wal = std::fs::read(s.data_dir().join("onset.db-wal")).unwrap_or_default();
    for secret in [&secret, &sandbox, &production] {
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret in the data directory");
        }
    }
}
