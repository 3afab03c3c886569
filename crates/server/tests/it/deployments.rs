//! Develop → deploy → promote → rollback through the API, each environment with its own config.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn greet(version: &str) -> String {
    format!(
        "component: greet\ntrigger: {{ type: http }}\nconfig:\n  greeting: {{ type: string, description: what to say first }}\n  channel: {{ type: string, description: where to say it }}\nhandlers:\n  /:\n    POST: {{ steps: [ {{ log: \"{version} {{{{ config.greeting }}}} in {{{{ config.channel }}}}\" }} ] }}\n"
    )
}

async fn deploy(api: &reqwest::Client, s: &TestServer, env: &str, source: &str) -> reqwest::Response {
    api.post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": env, "source": source, "path": "components/greet.yaml" }))
        .send()
        .await
        .unwrap()
}

async fn said(s: &TestServer, env: &str) -> String {
    let r = s.client.post(s.url(&format!("/hooks/{env}/greet"))).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{env}");
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&id, "succeeded").await["steps"][0]["output"].as_str().unwrap().to_string()
}

async fn set(s: &TestServer, env: &str, values: Value) {
    let r = s
        .api
        .put(s.url(&format!("/api/v1/config/greet?environment={env}")))
        .json(&json!({ "values": values }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn deploy_promote_rollback_with_config_per_environment() {
    let s = start(&[]).await;

    // Missing config: the deploy fails listing every key, nothing is activated, the failure is recorded.
    let r = deploy(&s.api, &s, "development", &greet("v1")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let failure: Value = r.json().await.unwrap();
    let errors: Vec<&str> = failure["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("config `greeting` (what to say first) is required"), "{}", errors[0]);
    assert!(errors[1].contains("config `channel` (where to say it) is required"), "{}", errors[1]);
    assert_eq!(
        failure["missing_config"],
        json!([
            { "key": "greeting", "description": "what to say first", "secret": false },
            { "key": "channel", "description": "where to say it", "secret": false },
        ])
    );
    let failed_id = failure["deployment_id"].as_str().unwrap();
    let record = s.get(&format!("/api/v1/deployments/{failed_id}")).await;
    assert_eq!((record["status"].as_str(), record["active"].as_bool()), (Some("failed"), Some(false)));
    assert!(record["log"].as_array().unwrap().iter().any(|l| l["message"].as_str().unwrap().starts_with("failed:")));
    let r = s.client.post(s.url("/hooks/development/greet")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Config per environment, production's set before anything is deployed there.
    set(&s, "development", json!({ "greeting": "hi", "channel": "#dev" })).await;
    set(&s, "production", json!({ "greeting": "hello", "channel": "#general" })).await;
    let r = deploy(&s.api, &s, "development", &greet("v1")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v1: Value = r.json().await.unwrap();
    let stages: Vec<&str> = v1["log"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert!(stages.first().unwrap().starts_with("build ") && stages.last() == Some(&"activated"), "{stages:?}");
    assert_eq!(said(&s, "development").await, "v1 hi in #dev");
    // Deploying the same content again changes nothing.
    assert_eq!(deploy(&s.api, &s, "development", &greet("v1")).await.status(), StatusCode::OK);

    // Promote: the same build, production's config.
    let r =
        s.post_json("/api/v1/components/greet/promote", &json!({ "from": "development", "to": "production" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let promoted: Value = r.json().await.unwrap();
    assert_eq!(promoted["deployment"]["build"], v1["deployment"]["build"], "the very same build");
    assert_eq!(promoted["deployment"]["meta"]["promoted_from"]["environment"], "development");
    assert_eq!(said(&s, "production").await, "v1 hello in #general");
    assert_eq!(said(&s, "development").await, "v1 hi in #dev");

    // v2 through development into production, then roll production back: v1 answers again.
    assert_eq!(deploy(&s.api, &s, "development", &greet("v2")).await.status(), StatusCode::CREATED);
    let r = s.post_json("/api/v1/components/greet/promote", &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "development → the next environment by default");
    assert_eq!(said(&s, "production").await, "v2 hello in #general");
    let r = s.post_json("/api/v1/components/greet/rollback", &json!({ "environment": "production" })).await;
    assert_eq!(r.status(), StatusCode::OK);
    let back: Value = r.json().await.unwrap();
    assert_eq!(back["deployment"]["id"], promoted["deployment"]["id"]);
    assert_eq!(said(&s, "production").await, "v1 hello in #general");
    assert_eq!(said(&s, "development").await, "v2 hi in #dev", "development is untouched");

    let list = s.get("/api/v1/deployments?component=greet&environment=production").await;
    let active: Vec<_> = list["items"].as_array().unwrap().iter().filter(|d| d["active"] == true).collect();
    assert_eq!(active.len(), 1);
    let audit = s.get("/api/v1/audit").await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["deploy", "promote", "rollback", "config.set"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

async fn token(s: &TestServer, role: &str, permissions: &[&str]) -> reqwest::Client {
    let body = json!({ "name": format!("{role}-{}", permissions.len()), "role": role, "permissions": permissions });
    let r = s.post_json("/api/v1/tokens", &body).await;
    bearer_client(r.json::<Value>().await.unwrap()["token"].as_str().unwrap())
}

#[tokio::test]
async fn who_may_deploy_and_promote() {
    let s = start(&[]).await;
    set(&s, "development", json!({ "greeting": "hi", "channel": "#dev" })).await;
    set(&s, "production", json!({ "greeting": "hello", "channel": "#general" })).await;
    let viewer = token(&s, "viewer", &[]).await;
    let dev = token(&s, "developer", &[]).await;
    let releaser = token(&s, "developer", &["promote"]).await;

    assert_eq!(deploy(&viewer, &s, "development", &greet("v1")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(deploy(&dev, &s, "production", &greet("v1")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(deploy(&dev, &s, "development", &greet("v1")).await.status(), StatusCode::CREATED);
    let promote = |c: &reqwest::Client| {
        c.post(s.url("/api/v1/components/greet/promote")).json(&json!({ "to": "production" })).send()
    };
    assert_eq!(promote(&dev).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(s.client.post(s.url("/hooks/production/greet")).body("{}").send().await.unwrap().status() == 404);
    assert_eq!(promote(&releaser).await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(said(&s, "production").await, "v1 hello in #general");
    let r = dev
        .post(s.url("/api/v1/components/greet/rollback"))
        .json(&json!({ "environment": "production" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// What the store says when it fails (table names, SQL, file paths) goes to the log; the
/// client gets a generic 500 and nothing is activated.
#[tokio::test]
async fn store_failures_reach_the_log_not_the_client() {
    let s = start(&[]).await;
    let db = rusqlite::Connection::open(s.data_dir().join("onset.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute_batch("ALTER TABLE deployments RENAME TO deployments_gone").unwrap();
    let source = "component: plain\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: hi } ] }\n";
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": source }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = r.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "code": "internal", "message": "internal error; the server log has the detail" })
    );
    let hook = s.client.post(s.url("/hooks/development/plain")).body("{}").send().await.unwrap();
    assert_eq!(hook.status(), StatusCode::NOT_FOUND, "nothing was activated");

    db.execute_batch("ALTER TABLE config_values RENAME TO config_values_gone").unwrap();
    let r = s
        .api
        .put(s.url("/api/v1/config/plain?environment=development"))
        .json(&json!({ "values": { "greeting": "hello" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = r.text().await.unwrap();
    for leak in ["config_values", "no such table", "database", "onset.db", &s.data_dir().display().to_string()] {
        assert!(!body.contains(leak), "`{leak}` reached the client: {body}");
    }
}
