//! An imported OpenAPI document's operations end to end: the document carried with the
//! component (as `onset connector import` keeps it in the project), validated against, and two
//! operations called on a local pet shop with an `http` account whose base_url and key they use.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PETSTORE: &str = include_str!("../../../connectors/testdata/petstore.yaml");

const SHOP: &str = r#"component: shop
trigger: { type: http }
config:
  pets: { type: account, connector: http }
handlers:
  /:
    POST:
      steps:
        - id: list
          call: petstore.listPets
          account: "{{ config.pets }}"
          with: { limit: 2 }
        - id: one
          call: petstore.showPetById
          account: "{{ config.pets }}"
          with: { petId: "{{ steps.list.output.body[1].id }}" }
"#;

#[tokio::test]
async fn an_imported_petstore_lists_and_shows_pets() {
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/v1/pets",
            axum::routing::get(move |q: Query<std::collections::HashMap<String, String>>, h: HeaderMap| async move {
                let key = h.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                s1.lock().unwrap().push((format!("list limit={}", q.get("limit").cloned().unwrap_or_default()), key));
                axum::Json(json!([{ "id": 1, "name": "Rex" }, { "id": 2, "name": "Tom", "tag": "cat" }]))
            }),
        )
        .route(
            "/v1/pets/{id}",
            axum::routing::get(move |Path(id): Path<String>| async move {
                s2.lock().unwrap().push((format!("show {id}"), String::new()));
                axum::Json(json!({ "id": id.parse::<i64>().unwrap_or(0), "name": "Tom", "tag": "cat" }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__SHOP__PETS", "pets")).await;
    s.set_account(
        "pets",
        "http",
        json!({ "auth": "api_key", "in": "header", "name": "X-API-Key",
        "value": "pet-key-123456", "base_url": base }),
    )
    .await;
    let files = json!({ "../connectors/petstore.yaml": PETSTORE });
    // Without the document, the operations are unknown.
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": SHOP, "path": "components/shop.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("`petstore.listPets` is not a known operation"));
    // A literal input that breaks the document's schema is refused at deploy.
    let bad = SHOP.replace("with: { limit: 2 }", "with: { limit: two }");
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": bad, "path": "components/shop.yaml", "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.contains("`with.limit` of `petstore.listPets` is a string, expected an integer"), "{text}");
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": SHOP, "path": "components/shop.yaml", "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let r = s.post_json("/hooks/development/shop", &json!({})).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][1]["output"]["body"], json!({ "id": 2, "name": "Tom", "tag": "cat" }), "{run}");
    assert_eq!(
        *seen.lock().unwrap(),
        [("list limit=2".to_string(), "pet-key-123456".to_string()), ("show 2".to_string(), String::new())]
    );
    assert!(!run.to_string().contains("pet-key-123456"));
}

/// The Petstore 3.0 example document as published (`@readme/oas-examples`, installed into
/// tests/npm by scripts/test): all twenty operations imported, two of them run against a local
/// pet store.
#[tokio::test]
async fn the_petstore_3_0_example_document_drives_two_operations() {
    let doc = std::fs::read_to_string(format!(
        "{}/tests/npm/node_modules/@readme/oas-examples/3.0/yaml/petstore.yaml",
        repo_root()
    ))
    .expect("tests/npm needs its packages (npm ci --prefix tests/npm, done by scripts/test)");
    let api = onset_connectors::openapi::import("petstore", &doc).unwrap();
    assert_eq!(api.operations.len(), 20, "{:?}", api.operations.iter().map(|o| &o.name).collect::<Vec<_>>());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/v2/pet/findByStatus",
            axum::routing::get(move |uri: axum::http::Uri| async move {
                s1.lock().unwrap().push(uri.query().unwrap_or_default().to_string());
                axum::Json(json!([{ "id": 7, "name": "Rex", "photoUrls": [], "status": "available" }]))
            }),
        )
        .route(
            "/v2/pet/{id}",
            axum::routing::get(move |Path(id): Path<String>, h: HeaderMap| async move {
                let key = h.get("api_key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                s2.lock().unwrap().push(format!("pet {id} key {key}"));
                axum::Json(json!({ "id": id.parse::<i64>().unwrap_or(0), "name": "Rex", "photoUrls": [] }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__STORE__PETS", "pets")).await;
    s.set_account(
        "pets",
        "http",
        json!({ "auth": "api_key", "in": "header", "name": "api_key",
        "value": "special-key-0001", "base_url": base }),
    )
    .await;
    let source = r#"component: store
trigger: { type: http }
config:
  pets: { type: account, connector: http }
handlers:
  /:
    POST:
      steps:
        - id: found
          call: petstore.findPetsByStatus
          account: "{{ config.pets }}"
          with: { status: [available, pending] }
        - call: petstore.getPetById
          account: "{{ config.pets }}"
          with: { petId: "{{ steps.found.output.body[0].id }}" }
"#;
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": source, "path": "components/store.yaml",
                        "files": { "../connectors/petstore.yaml": doc } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let r = s.post_json("/hooks/development/store", &json!({})).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][1]["output"]["body"]["name"], "Rex", "{run}");
    assert_eq!(*seen.lock().unwrap(), ["status=available&status=pending", "pet 7 key special-key-0001"]);
}
