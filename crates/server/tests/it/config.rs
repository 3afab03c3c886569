//! Per-environment config: sealed at rest, applied to the active build, secrets redacted from
//! runs, environments in promotion order, key rotation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const GREET: &str = r#"
component: greet
trigger: { type: http }
config:
  greeting: { type: string }
  secret: { type: secret, description: an API key }
  times: { type: integer, default: 1 }
handlers:
  /:
    POST: { steps: [ { log: "{{ config.greeting }} x{{ config.times }} with {{ config.secret }}" } ] }
"#;

const SECRET: &str = "s3cr3t-value-7d1f";

fn raw_database(s: &TestServer) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["onset.db", "onset.db-wal"] {
        all.extend(std::fs::read(s.data_dir().join(f)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn run_output(s: &TestServer) -> String {
    let r = s.client.post(s.url("/hooks/development/greet")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    run["steps"][0]["output"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn values_are_sealed_applied_at_once_and_secrets_never_recorded() {
    let options = Options::new(&[("greet.yaml", GREET)])
        .env("ONSET_CONFIG__GREET__GREETING", "hello")
        .env("ONSET_CONFIG__GREET__SECRET", "from-env");
    let s = start_with(options.clone_for_restart()).await;
    assert_eq!(run_output(&s).await, "hello x1 with [redacted]");

    // Values set for the environment win over the variables and reach the active build at once.
    let r = s
        .api
        .put(s.url("/api/v1/config/greet?environment=development"))
        .json(&json!({ "values": { "greeting": "bonjour", "secret": SECRET, "times": 3 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["reactivated"], true);
    let out = run_output(&s).await;
    assert_eq!(out, "bonjour x3 with [redacted]");

    // Listed with their source; the secret masked.
    let list = s.get("/api/v1/config/greet?environment=development").await;
    let item = |k: &str| list["items"].as_array().unwrap().iter().find(|i| i["key"] == k).unwrap().clone();
    assert_eq!(
        (item("greeting")["value"].clone(), item("greeting")["source"].clone()),
        (json!("bonjour"), json!("set"))
    );
    assert_eq!(item("secret")["value"], "[redacted]");
    assert_eq!(item("secret")["secret"], true);

    // Wrong types and unknown keys are refused and change nothing.
    let r =
        s.api.put(s.url("/api/v1/config/greet")).json(&json!({ "values": { "times": "many" } })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r =
        s.api.put(s.url("/api/v1/config/greet")).json(&json!({ "values": { "colour": "red" } })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("declares no config `colour`"));

    // The raw database holds neither the secret nor any set value in plaintext, and the audit
    // names the keys only.
    let raw = raw_database(&s);
    assert!(!contains(&raw, SECRET), "the secret is sealed at rest");
    let audit = s.get("/api/v1/audit").await;
    let entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "config.set").unwrap().clone();
    assert_eq!(entry["detail"]["keys"], json!(["greeting", "secret", "times"]));
    assert!(!audit.to_string().contains(SECRET));

    // Rotation re-seals every value; after a restart the new key file opens them.
    let old_key = std::fs::read_to_string(s.data_dir().join("master.key")).unwrap();
    let r = s.api.post(s.url("/api/v1/keys/rotate")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["resealed"], 3);
    let new_key = std::fs::read_to_string(s.data_dir().join("master.key")).unwrap();
    assert_ne!(old_key, new_key);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(s.data_dir().join("master.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let s = s.restart(&options).await;
    assert_eq!(run_output(&s).await, "bonjour x3 with [redacted]");
}

#[tokio::test]
async fn environments_in_promotion_order_and_config_before_the_first_deploy() {
    let s = start_with(
        Options::new(&[("greet.yaml", GREET)])
            .env("ONSET_CONFIG__GREET__GREETING", "hello")
            .env("ONSET_CONFIG__GREET__SECRET", "from-env"),
    )
    .await;
    let names = |v: &Value| {
        v["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(&s.get("/api/v1/environments").await), ["development", "production"]);
    let r = s.post_json("/api/v1/environments", &json!({ "name": "staging", "after": "development" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(names(&s.get("/api/v1/environments").await), ["development", "staging", "production"]);
    let r = s.post_json("/api/v1/environments", &json!({ "name": "staging", "after": "development" })).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = s.post_json("/api/v1/environments", &json!({ "name": "qa", "after": "nowhere" })).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "unknown_environment");

    // Values may be set for an environment before the component is deployed there.
    let r = s
        .api
        .put(s.url("/api/v1/config/greet?environment=staging"))
        .json(&json!({ "values": { "greeting": "hi", "secret": SECRET } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["reactivated"], false);
    let list = s.get("/api/v1/config/greet?environment=staging").await;
    assert_eq!(list["deployed"], false);
    assert!(list["items"].as_array().unwrap().iter().all(|i| i["value"] == "[redacted]"), "types unknown: all masked");

    // Staging exists but has nothing deployed; an unknown environment is named as such.
    let r = s.client.post(s.url("/hooks/staging/greet")).body("{}").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_component");
    let r = s.client.post(s.url("/hooks/qa/greet")).body("{}").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_environment");
    let r = s
        .api
        .put(s.url("/api/v1/config/greet?environment=qa"))
        .json(&json!({ "values": { "a": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
