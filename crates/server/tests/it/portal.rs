//! The developer portal's API: consumers' own accounts (never control-plane tokens), published
//! APIs with their documents, and each consumer's own applications, keys, subscriptions and
//! console tokens — a consumer signs up, subscribes under Bronze, and calls the API with the
//! sandbox key.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const ORDERS: &str = r#"
component: orders
description: Orders of the shop.
docs: "Send `POST /` with an order."
trigger:
  type: http
  with: { security: { scheme: api_key } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

const STOCK: &str = r#"
component: stock
trigger:
  type: http
  with: { security: { scheme: oauth2, scopes: { /: { POST: [stock:write] } } } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

/// A consumer's browser: the portal's cookies and CSRF token.
struct Consumer<'a> {
    s: &'a TestServer,
    cookie: String,
    csrf: String,
}

impl Consumer<'_> {
    fn from<'s>(s: &'s TestServer, r: &reqwest::Response) -> Consumer<'s> {
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(cookie.contains("onset_portal="), "{cookie}");
        let csrf = cookie.split("onset_portal_csrf=").nth(1).unwrap().split(';').next().unwrap().to_string();
        Consumer { s, cookie, csrf }
    }
    async fn get(&self, path: &str) -> reqwest::Response {
        self.s.client.get(self.s.url(path)).header("cookie", &self.cookie).send().await.unwrap()
    }
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        let r = self.s.client.post(self.s.url(path)).header("cookie", &self.cookie).header("x-csrf-token", &self.csrf);
        r.json(&body).send().await.unwrap()
    }
    async fn delete(&self, path: &str) -> reqwest::Response {
        let r =
            self.s.client.delete(self.s.url(path)).header("cookie", &self.cookie).header("x-csrf-token", &self.csrf);
        r.send().await.unwrap()
    }
}

async fn signup(s: &TestServer, email: &str) -> reqwest::Response {
    s.client
        .post(s.url("/portal/api/signup"))
        .json(&json!({ "email": email, "password": "a long secret", "name": "Ann" }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_consumer_signs_up_subscribes_and_calls_with_the_sandbox_key() {
    let s = start(&[("orders.yaml", ORDERS), ("stock.yaml", STOCK)]).await;

    // The published APIs and their documents are there for anyone.
    let apis: Value = s.client.get(s.url("/portal/api/apis")).send().await.unwrap().json().await.unwrap();
    let names: Vec<(&str, &str)> = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["component"].as_str().unwrap(), a["security"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("orders", "api_key"), ("stock", "oauth2")]);
    let doc: Value = s
        .client
        .get(s.url("/portal/api/apis/development/orders/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["info"]["description"].as_str().unwrap().contains("Send `POST /` with an order."), "{doc}");
    // So are its Postman collection and environment file, with the key as a variable.
    let get = |path: &str| s.client.get(s.url(path)).send();
    let collection: Value =
        get("/portal/api/apis/development/orders/postman.json").await.unwrap().json().await.unwrap();
    assert_eq!(collection["info"]["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    assert_eq!(collection["item"][0]["request"]["header"][1]["value"], "{{apiKey}}", "{collection}");
    let environment: Value =
        get("/portal/api/apis/development/orders/postman.json?file=environment").await.unwrap().json().await.unwrap();
    let keys: Vec<&str> = environment["values"].as_array().unwrap().iter().filter_map(|v| v["key"].as_str()).collect();
    assert_eq!(keys, ["baseUrl", "apiKey"], "{environment}");
    let r = get("/portal/api/apis/development/orders/postman.json?file=pdf").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get("/portal/api/apis/production/orders/postman.json").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Accounts: one per address, a password of 10 characters or more, wrong ones refused.
    let r = signup(&s, "Ann@Example.com").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ann = Consumer::from(&s, &r);
    assert_eq!(signup(&s, "ann@example.com").await.status(), StatusCode::CONFLICT);
    let weak = s
        .client
        .post(s.url("/portal/api/signup"))
        .json(&json!({ "email": "bob@example.com", "password": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let wrong = s
        .client
        .post(s.url("/portal/api/session"))
        .json(&json!({ "email": "ann@example.com", "password": "not the secret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let me: Value = ann.get("/portal/api/session").await.json().await.unwrap();
    assert_eq!(me["email"], "ann@example.com");

    // Control-plane tokens do not open the portal, and the portal's cookie not the control plane.
    let r = s.api.get(s.url("/portal/api/applications")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.client.get(s.url("/api/v1/applications")).header("cookie", &ann.cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A change without the CSRF token is refused.
    let r = s
        .client
        .post(s.url("/portal/api/applications"))
        .header("cookie", &ann.cookie)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // An application, a subscription under Bronze, a sandbox key: the API takes it.
    let r = ann.post("/portal/api/applications", json!({ "name": "my shop" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let app_id = created["id"].as_str().unwrap().to_string();
    assert!(created["client_secret"].as_str().unwrap().starts_with("onset_cs_"));
    let r = ann
        .post("/portal/api/subscriptions", json!({ "application": app_id, "component": "orders", "plan": "Bronze" }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let keys: Value =
        ann.post(&format!("/portal/api/applications/{app_id}/keys"), json!({})).await.json().await.unwrap();
    let sandbox = keys["sandbox"].as_str().unwrap();
    let r = s.client.post(s.url("/hooks/development/orders")).header("x-api-key", sandbox).json(&json!({})).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::ACCEPTED);
    // The owner sees the consumer's application as theirs.
    let owners = s.get("/api/v1/applications").await;
    assert!(owners["items"][0]["owner"].as_str().unwrap().starts_with("consumer:"), "{owners}");

    // A console token for an OAuth2 API.
    ann.post("/portal/api/subscriptions", json!({ "application": app_id, "component": "stock" })).await;
    let token: Value =
        ann.post(&format!("/portal/api/applications/{app_id}/token"), json!({})).await.json().await.unwrap();
    assert_eq!(token["scope"], "stock:write", "{token}");
    let r = s
        .client
        .post(s.url("/hooks/development/stock"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({}))
        .send();
    assert_eq!(r.await.unwrap().status(), StatusCode::ACCEPTED);

    // Another consumer sees none of it and cannot touch it.
    let bob = Consumer::from(&s, &signup(&s, "bob@example.com").await);
    let theirs: Value = bob.get("/portal/api/applications").await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(bob.get("/portal/api/subscriptions").await.json::<Value>().await.unwrap()["items"], json!([]));
    assert_eq!(bob.delete(&format!("/portal/api/applications/{app_id}")).await.status(), StatusCode::NOT_FOUND);
    let r = bob.post(&format!("/portal/api/applications/{app_id}/keys"), json!({})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let subs: Value = ann.get("/portal/api/subscriptions").await.json().await.unwrap();
    let sub_id = subs["items"][0]["id"].as_str().unwrap();
    assert_eq!(bob.delete(&format!("/portal/api/subscriptions/{sub_id}")).await.status(), StatusCode::NOT_FOUND);

    // A retired API leaves the portal.
    let r =
        s.post_json("/api/v1/components/stock/lifecycle?environment=development", &json!({ "state": "retired" })).await;
    assert_eq!(r.status(), 200);
    let apis: Value = s.client.get(s.url("/portal/api/apis")).send().await.unwrap().json().await.unwrap();
    assert_eq!(apis["items"].as_array().unwrap().len(), 1);
    let r = s.client.get(s.url("/portal/api/apis/development/stock/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Signing out ends the session in the browser.
    let r = ann.delete("/portal/api/session").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("onset_portal=;")));
}
