//! The control plane against its own OpenAPI document: the document is valid OpenAPI 3.1
//! (openapi-spec-validator), and schemathesis, driving every operation with generated requests
//! and a token, finds no 5xx, no undocumented status and no response that breaks the schemas.

use std::process::Command;

use crate::support::*;

const SHOP: &str = r#"
component: orders
trigger: { type: http }
config:
  note: { type: string, default: hi }
handlers:
  "/":
    POST: { steps: [ { log: "{{ event }}" } ] }
"#;

/// Runs `program` in `dir` (schemathesis keeps a cache in its working directory).
fn run(program: &str, args: Vec<String>, dir: std::path::PathBuf) -> (bool, String) {
    let out = Command::new(program)
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (scripts/test installs it with pip): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_to_its_document() {
    let _heavy = HEAVY.lock().await;
    let s = start(&[("orders.yaml", SHOP)]).await;
    // Some events and runs, so lists and their items have something to show.
    for n in 0..3 {
        let r = s.post_json("/hooks/development/orders", &serde_json::json!({ "n": n })).await;
        assert_eq!(r.status(), 202);
    }
    let doc = s.client.get(s.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(doc.status(), 200, "the document needs no token");
    let text = doc.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();

    let path = file.to_string_lossy().into_owned();
    let cwd = dir.path().to_path_buf();
    let (ok, out) = tokio::task::spawn_blocking(move || run("openapi-spec-validator", vec![path], cwd)).await.unwrap();
    assert!(ok, "openapi-spec-validator refuses the document:\n{out}");

    let args = vec![
        "run".to_string(),
        s.url("/api/v1/openapi.json"),
        "-H".into(),
        format!("Authorization: Bearer {}", s.admin_token),
        "--max-examples".into(),
        "50".into(),
        "--checks".into(),
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance".into(),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--generation-database".into(),
        "none".into(),
        "--seed".into(),
        "20261202".into(),
        "--no-color".into(),
        "--report-dir".into(),
        dir.path().join("report").to_string_lossy().into_owned(),
    ];
    let cwd = dir.path().to_path_buf();
    let (ok, out) = tokio::task::spawn_blocking(move || run("st", args, cwd)).await.unwrap();
    assert!(ok, "schemathesis found problems:\n{out}");
    // Every operation schemathesis loaded was tested, and it loaded (all but at most one: it
    // leaves out the document's own operation) every one of the document.
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    let loaded: usize = out
        .split_once(" total")
        .and_then(|(before, _)| before.rsplit('/').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no operation count in:\n{out}"));
    assert!(loaded + 1 >= operations, "schemathesis loaded {loaded} of {operations} operations:\n{out}");
    assert!(out.contains(&format!("Tested: {loaded}\n")), "all {loaded} operations were tested:\n{out}");
}

const MANAGED: &str = r#"
component: orders
description: Orders of the shop.
docs: "Send an order with `POST /orders`; read one with `GET /orders/{id}`."
trigger:
  type: http
  with:
    security: { scheme: api_key, in: header, name: x-api-key }
    rate_limit: 100000/m
handlers:
  /orders:
    POST:
      rate_limit: 100000/m
      schema:
        type: object
        required: [sku]
        properties: { sku: { type: string }, qty: { type: integer, minimum: 1 } }
      steps: [ { log: "{{ event.sku }}" } ]
  /orders/{id}:
    GET: { steps: [ { log: "{{ meta.params.id }}" } ] }
    PUT: { steps: [ { log: "{{ meta.params.id }}" } ] }
"#;

/// A managed API (an API key, rate limits, a request schema, path parameters) driven by
/// schemathesis with a subscribed application's sandbox key: no 5xx, no undocumented status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_api_keeps_to_its_document() {
    let _heavy = HEAVY.lock().await;
    let s = start(&[("orders.yaml", MANAGED)]).await;
    s.post_json("/api/v1/applications", &serde_json::json!({ "name": "shop" })).await;
    s.post_json("/api/v1/subscriptions", &serde_json::json!({ "application": "shop", "component": "orders" })).await;
    let keys: serde_json::Value =
        s.api.post(s.url("/api/v1/applications/shop/keys")).send().await.unwrap().json().await.unwrap();
    let key = keys["sandbox"].as_str().unwrap().to_string();
    // The document is the owner's (control plane); schemathesis reads it from a file and calls
    // the server it names.
    let dir = tempfile::tempdir().unwrap();
    let doc = s.get("/api/v1/components/orders/openapi.json").await;
    let file = dir.path().join("orders.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let args = vec![
        "run".to_string(),
        file.to_string_lossy().into_owned(),
        "--url".into(),
        doc["servers"][0]["url"].as_str().unwrap().to_string(),
        "-H".into(),
        format!("x-api-key: {key}"),
        "--max-examples".into(),
        "30".into(),
        "--checks".into(),
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance".into(),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--generation-database".into(),
        "none".into(),
        "--seed".into(),
        "20261205".into(),
        "--no-color".into(),
    ];
    let cwd = dir.path().to_path_buf();
    let (ok, out) = tokio::task::spawn_blocking(move || run("st", args, cwd)).await.unwrap();
    assert!(ok, "schemathesis found problems:\n{out}");
    assert!(out.contains("Tested: 3\n"), "all 3 operations were tested:\n{out}");
    assert!(!s.events().await.is_empty(), "schemathesis's requests were taken");
}
