//! API shapes, list filters, health and metrics.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const HELLO: &str = "component: hello\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: \"hi {{ event.name }}\" } ] }\n";
const OTHER: &str =
    "component: other\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { fail: nope } ] }\n";

#[tokio::test]
async fn lists_filter_and_page() {
    let s = start(&[("hello.yaml", HELLO), ("other.yaml", OTHER)]).await;
    let mut hello_ids = Vec::new();
    for i in 0..3 {
        let r = s.post_json("/hooks/development/hello", &json!({ "name": i })).await;
        hello_ids.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    let r = s.post_json("/hooks/development/other", &json!({})).await;
    let other = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&other, "failed").await;
    for id in &hello_ids {
        s.wait_run_status(id, "succeeded").await;
    }

    let page = s.get("/api/v1/events?component=hello&limit=2").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], hello_ids[2].as_str(), "newest first");
    assert!(items[0].get("payload").is_none(), "lists leave out payloads");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = s.get(&format!("/api/v1/events?component=hello&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);

    let failed = s.get("/api/v1/runs?status=failed").await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    assert_eq!(failed["items"][0]["component"], "other");
    let hello_runs = s.get("/api/v1/runs?component=hello&status=succeeded").await;
    assert_eq!(hello_runs["items"].as_array().unwrap().len(), 3);

    let r = s.api.get(s.url("/api/v1/runs?status=weird")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.json::<Value>().await.unwrap();
    assert_eq!(body["code"], "invalid_query");
    assert!(body["message"].as_str().unwrap().contains("unknown variant `weird`"), "{body}");
    // One rule for environments: an unknown one is 404 everywhere.
    for path in ["/api/v1/runs?environment=nowhere", "/api/v1/components/hello?environment=nowhere"] {
        let r = s.api.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_environment", "{path}");
    }
    let r = s.api.get(s.url("/api/v1/events?limit=501")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s.api.get(s.url("/api/v1/events/does-not-exist")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_event");

    let components = s.get("/api/v1/components").await;
    let names: Vec<&str> =
        components["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hello", "other"]);
    assert_eq!(components["items"][0]["handlers"][0]["name"], "POST /");
    assert_eq!(components["items"][0]["ingress"], "/hooks/development/hello");
}

#[tokio::test]
async fn health_and_metrics() {
    let s = start(&[("hello.yaml", HELLO)]).await;
    assert_eq!(s.get("/livez").await["status"], "ok");
    let ready = s.get("/readyz").await;
    assert_eq!((&ready["store"], &ready["workers"], &ready["disk_full"]), (&json!(true), &json!(true), &json!(false)));
    assert_eq!(ready["role"], "all");
    assert!(ready["node"].as_str().is_some_and(|n| !n.is_empty()), "{ready}");
    let r = s.post_json("/hooks/development/hello", &json!({ "name": "x" })).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&id, "succeeded").await;
    s.client.post(s.url("/hooks/development/nope")).send().await.unwrap();
    let text = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"onset_events_received_total{component="hello",environment="development",outcome="accepted"} 1"#,
        r#"onset_events_received_total{component="nope",environment="development",outcome="not_found"} 1"#,
        r#"onset_runs_total{component="hello",environment="development",status="succeeded"} 1"#,
        "onset_run_duration_seconds_bucket",
        r#"onset_step_duration_seconds_bucket{type="log""#,
        "onset_queue_depth 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn restarts_keep_deployments_and_history() {
    let s = start(&[("hello.yaml", HELLO)]).await;
    let r = s.post_json("/hooks/development/hello", &json!({ "name": "x" })).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let before = s.wait_run_status(&id, "succeeded").await;
    let s = s.restart(&Options::new(&[("hello.yaml", HELLO)])).await;
    let after = s.get(&format!("/api/v1/runs/{}", before["id"].as_str().unwrap())).await;
    assert_eq!(after["status"], "succeeded");
    let components = s.get("/api/v1/components").await;
    assert_eq!(
        components["items"][0]["deployment_id"], before["deployment_id"],
        "the same source keeps its deployment"
    );
}

#[tokio::test]
async fn the_catalog_lists_trigger_types_with_samples_and_schemas() {
    let s = start(&[]).await;
    let list = s.get("/api/v1/catalog").await;
    let kinds: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, onset_model::TRIGGER_TYPES);
    assert!(kinds.contains(&"github") && kinds.contains(&"nats"));
    let github = s.get("/api/v1/catalog/github").await;
    let issues = github["channels"].as_array().unwrap().iter().find(|c| c["name"] == "IssuesService").unwrap();
    let opened = issues["events"].as_array().unwrap().iter().find(|e| e["name"] == "onOpened").unwrap();
    assert_eq!(opened["source"], "issues.opened");
    assert_eq!(opened["sample"]["action"], "opened");
    assert_eq!(opened["schema"]["$ref"], "#/definitions/issues$opened");
    let r = s.api.get(s.url("/api/v1/catalog/carrier-pigeon")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_catalog_lists_connector_operations_with_both_schemas() {
    let s = start(&[]).await;
    let list = s.get("/api/v1/catalog/connectors").await;
    let ops = list["items"].as_array().unwrap();
    let http = ops.iter().find(|o| o["name"] == "http.request").expect("http.request is listed");
    assert_eq!(http["account"], json!({"type": "http", "required": false}));
    assert_eq!(http["input"]["required"], json!(["url"]));
    assert_eq!(http["output"]["properties"]["status"]["type"], "integer");
    // Sorted by name, each one's input a mapping schema.
    let names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(ops.iter().all(|o| o["input"]["type"] == "object"), "{list}");
}
