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
