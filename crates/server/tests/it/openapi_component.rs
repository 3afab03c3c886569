//! Each component's API as an OpenAPI 3.1 document, checked by openapi-spec-validator.

use serde_json::{Value, json};

use crate::support::*;

const SHOP: &str = r#"
component: shop-api
description: Orders in and out
docs: |
  ## Orders
  Send an order; it is stored before the answer.
trigger:
  type: http
  with:
    rate_limit: 100/m
    verify: { scheme: token, header: x-token, secret: s3cret }
handlers:
  /orders:
    POST:
      rate_limit: 5/s
      schema:
        type: object
        required: [sku]
        properties: { sku: { type: string }, qty: { type: integer, minimum: 1 } }
      steps: [ { log: "{{ event.sku }}" } ]
  /orders/{id}:
    PUT: { steps: [ { log: "{{ meta.params.id }}" } ] }
    GET: { steps: [ { log: read } ] }
"#;

pub(crate) fn validate(doc: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = std::process::Command::new("openapi-spec-validator")
        .arg(&path)
        .output()
        .expect("openapi-spec-validator (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openapi-spec-validator:\n{}{}\n{doc:#}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_components_api_is_described_from_its_handlers() {
    let s = start(&[
        ("shop-api.yaml", SHOP),
        (
            "gh.yaml",
            "component: gh\ntrigger: { type: github, with: { secret: s } }\nhandlers:\n  IssuesService:\n    onOpened: { steps: [ { log: hi } ] }\n",
        ),
    ])
    .await;
    let doc = s.get("/api/v1/components/shop-api/openapi.json?environment=development").await;
    validate(&doc);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "shop-api");
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.starts_with("Orders in and out\n\n## Orders"), "{description}");
    let server = doc["servers"][0]["url"].as_str().unwrap();
    assert!(server.starts_with("http://127.0.0.1:") && server.ends_with("/hooks/development/shop-api"), "{server}");

    let post = &doc["paths"]["/orders"]["post"];
    assert_eq!(post["operationId"], "post_orders");
    assert_eq!(post["requestBody"]["content"]["application/json"]["schema"]["required"], json!(["sku"]));
    assert!(post["responses"]["401"].is_object(), "the token is checked");
    let limited = &post["responses"]["429"];
    assert!(limited["description"].as_str().unwrap().contains("the API: 100/m, this resource: 5/s"), "{limited}");
    assert!(limited["headers"]["RateLimit-Policy"].is_object() && limited["headers"]["Retry-After"].is_object());
    let item = &doc["paths"]["/orders/{id}"];
    assert_eq!(item["parameters"][0]["name"], "id");
    assert!(item["put"]["requestBody"].is_object() && item["get"]["requestBody"].is_null(), "GET takes no body");
    assert_eq!(item["get"]["operationId"], "get_orders_id");

    // A provider's webhook: one URL, its events named.
    let gh = s.get("/api/v1/components/gh/openapi.json").await;
    validate(&gh);
    assert!(gh["paths"]["/"]["post"]["description"].as_str().unwrap().contains("`IssuesService.onOpened`"));

    let r = s.api.get(s.url("/api/v1/components/nope/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

const OPEN: &str = r#"
component: open-api
trigger: { type: http }
handlers:
  /orders:
    POST:
      schema: { type: object, required: [sku], properties: { sku: { type: string }, qty: { type: integer, minimum: 1 } } }
      steps: [ { log: "{{ event.sku }} x{{ event.qty }}" } ]
  /orders/{id}:
    PUT: { steps: [ { log: "{{ meta.params.id }}" } ] }
    GET: { steps: [ { log: read } ] }
"#;

#[tokio::test]
async fn the_postman_collection_runs_green_in_newman() {
    let s = start(&[("open-api.yaml", OPEN)]).await;
    let collection = s.get("/api/v1/components/open-api/postman.json").await;
    let environment = s.get("/api/v1/components/open-api/postman.json?file=environment").await;
    assert_eq!(collection["info"]["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    let names: Vec<_> = collection["item"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["POST /orders", "PUT /orders/{id}", "GET /orders/{id}"]);
    assert_eq!(collection["item"][0]["request"]["body"]["raw"], "{\n  \"sku\": \"text\",\n  \"qty\": 1\n}");
    assert_eq!(collection["item"][1]["request"]["url"]["raw"], "{{baseUrl}}/orders/:id");
    assert!(environment["values"][0]["value"].as_str().unwrap().ends_with("/hooks/development/open-api"));

    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.json");
    let e = dir.path().join("e.json");
    std::fs::write(&c, collection.to_string()).unwrap();
    std::fs::write(&e, environment.to_string()).unwrap();
    let newman = format!("{}/tests/npm/node_modules/newman/bin/newman.js", repo_root());
    let (c, e) = (c.to_str().unwrap().to_string(), e.to_str().unwrap().to_string());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args([newman.as_str(), "run", &c, "-e", &e, "--reporters", "cli", "--color", "off"])
            .output()
            .expect("node with newman (scripts/test installs tests/npm)")
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "newman:\n{text}");
    assert!(text.contains("the API takes the request"), "{text}");
    // Each request was an event, stored and run.
    let events = s.wait_events(3).await;
    let mut handlers: Vec<_> =
        events.iter().map(|e| format!("{} {}", e["event"].as_str().unwrap(), e["channel"].as_str().unwrap())).collect();
    handlers.sort();
    assert_eq!(handlers, ["GET /orders/{id}", "POST /orders", "PUT /orders/{id}"]);
}

#[tokio::test]
async fn an_api_is_deprecated_then_retired_and_published_again() {
    let s = start(&[("open-api.yaml", OPEN)]).await;
    let send = || s.client.put(s.url("/hooks/development/open-api/orders/7")).json(&json!({})).send();
    let set = |state: &'static str| {
        s.api
            .post(s.url("/api/v1/components/open-api/lifecycle?environment=development"))
            .json(&json!({ "state": state }))
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.headers().get("deprecation").is_none());
    assert_eq!(s.get("/api/v1/components/open-api").await["lifecycle"], "published");

    let v: Value = set("deprecated").await.unwrap().json().await.unwrap();
    assert_eq!(v["state"], "deprecated");
    let since = v["deprecated_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_second();
    let r = send().await.unwrap();
    assert_eq!(r.status(), 202, "still served");
    assert_eq!(r.headers()["deprecation"], format!("@{since}").as_str(), "RFC 9745");
    let doc = s.get("/api/v1/components/open-api/openapi.json").await;
    assert_eq!(doc["paths"]["/orders/{id}"]["put"]["deprecated"], true);
    validate(&doc);
    assert_eq!(s.get("/api/v1/components/open-api").await["lifecycle"], "deprecated");

    set("retired").await.unwrap();
    let r = send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "api_retired");
    assert_eq!(s.events().await.len(), 2, "nothing of the retired API's request was stored");
    // Published again, it takes requests.
    set("published").await.unwrap();
    assert_eq!(send().await.unwrap().status(), 202);

    // A viewer cannot change it; the state survives a restart.
    let created: Value =
        s.post_json("/api/v1/tokens", &json!({ "name": "v", "role": "viewer" })).await.json().await.unwrap();
    let viewer = bearer_client(created["token"].as_str().unwrap());
    let r = viewer
        .post(s.url("/api/v1/components/open-api/lifecycle"))
        .json(&json!({ "state": "retired" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    set("retired").await.unwrap();
    let options = Options::new(&[("open-api.yaml", OPEN)]);
    let s = s.restart(&options).await;
    let r = s.client.put(s.url("/hooks/development/open-api/orders/7")).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 404, "retired after a restart");
}

#[tokio::test]
async fn docs_may_come_from_a_markdown_file_beside_the_component() {
    let guide = "# Guide\n\nHow to send an order.\n";
    let with_file = OPEN.replace("component: open-api\n", "component: open-api\ndocs: guides/open-api.md\n");
    let s = start(&[("open-api.yaml", &with_file), ("guides/open-api.md", guide)]).await;
    let doc = s.get("/api/v1/components/open-api/openapi.json").await;
    assert_eq!(doc["info"]["description"], guide);
    validate(&doc);

    let missing = with_file.replace("guides/open-api.md", "guides/none.md");
    let err = deploy_error(&[("open-api.yaml", &missing)]).await;
    assert!(
        err.contains(
            "open-api.yaml:3:1: `docs: guides/none.md` names a Markdown file that is not beside the component"
        ),
        "{err}"
    );
}
