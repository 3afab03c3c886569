//! Every rejection status, in DESIGN §5's order, stores nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const ORDERS: &str = r#"
component: orders
trigger:
  type: http
  with:
    verify: { scheme: standard-webhooks, secret: "{{ config.secret }}" }
config:
  secret: { type: secret }
handlers:
  "/":
    POST: { steps: [ { log: "got {{ event }}" } ] }
  "/orders/{id}":
    PUT: { steps: [ { log: "{{ meta.params.id }}" } ] }
    PATCH: { steps: [ { log: "{{ meta.params.id }}" } ] }
"#;

async fn server(max_body: u64) -> TestServer {
    let mut o = Options::new(&[("orders.yaml", ORDERS)]).env("ONSET_CONFIG__ORDERS__SECRET", SECRET);
    o.max_body = max_body;
    start_with(o).await
}

fn signed(client: &reqwest::Client, url: &str, body: &str, msg_id: &str) -> reqwest::RequestBuilder {
    let ts = now_secs();
    let sig = official_signature(SECRET, msg_id, ts, body);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_string())
}

async fn error_body(r: reqwest::Response) -> (StatusCode, serde_json::Value) {
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn accepted_events_answer_202_and_duplicates_200() {
    let s = server(1 << 20).await;
    let r = signed(&s.client, &s.url("/hooks/development/orders"), r#"{"id": 1}"#, "msg_1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let first: serde_json::Value = r.json().await.unwrap();
    assert_eq!(first["duplicate"], false);
    let event_id = first["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&event_id, "succeeded").await;

    let r = signed(&s.client, &s.url("/hooks/development/orders"), r#"{"id": 1}"#, "msg_1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again: serde_json::Value = r.json().await.unwrap();
    assert_eq!(again, json!({ "event_id": event_id, "duplicate": true }));
    // Nothing new stored, nothing run twice.
    assert_eq!(s.events().await.len(), 1);
    let runs = s.get("/api/v1/runs").await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn each_rejection_stores_nothing() {
    let s = server(1024).await;
    let c = &s.client;

    let (st, body) = error_body(c.post(s.url("/hooks/staging/orders")).send().await.unwrap()).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_environment")));
    let (st, body) = error_body(c.post(s.url("/hooks/development/nope")).send().await.unwrap()).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_component")));
    let (st, body) = error_body(c.post(s.url("/hooks/development/orders/elsewhere")).send().await.unwrap()).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_resource")));

    let r = c.delete(s.url("/hooks/development/orders/orders/7")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "PUT, PATCH");
    let (st, body) = error_body(r).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));

    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(2000));
    let (st, body) =
        error_body(signed(c, &s.url("/hooks/development/orders"), &big, "msg_big").send().await.unwrap()).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));

    let (st, body) = error_body(
        c.post(s.url("/hooks/development/orders"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("signature_missing")));
    assert_eq!(body["location"], "header webhook-signature");

    let (st, body) = error_body(
        c.post(s.url("/hooks/development/orders"))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_x")
            .header("webhook-timestamp", now_secs().to_string())
            .header("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("signature_mismatch")));

    let (st, body) =
        error_body(signed(c, &s.url("/hooks/development/orders"), "{not json", "msg_bad").send().await.unwrap()).await;
    assert_eq!((st, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_body")));
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));

    assert!(s.events().await.is_empty(), "rejected requests are never stored");
}

#[tokio::test]
async fn rejections_follow_the_fixed_order() {
    let s = server(1024).await;
    let c = &s.client;
    // Unsigned and a wrong method: 405 comes before 401.
    let r = c.get(s.url("/hooks/development/orders")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Too large and unsigned: 413 before 401.
    let r = c.post(s.url("/hooks/development/orders")).body("x".repeat(5000)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Malformed and unsigned: 401 before 400.
    let r = c
        .post(s.url("/hooks/development/orders"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(s.events().await.is_empty());
}

#[tokio::test]
async fn a_full_ingest_queue_answers_503_and_loses_nothing_it_accepted() {
    let mut o = Options::new(&[(
        "open.yaml",
        "component: open\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: hi } ] }\n",
    )]);
    o.ingest_queue = 1;
    let s = start_with(o).await;
    let pause = s.api.post(s.url("/api/v1/components/open/pause")).send().await.unwrap();
    assert!(pause.status().is_success());
    let mut tasks = Vec::new();
    for i in 0..300 {
        let c = s.client.clone();
        let url = s.url("/hooks/development/open");
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"n": {i}}}"#))
                .send()
                .await
                .unwrap()
        }));
    }
    let (mut accepted, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status() {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.headers()["retry-after"], "1");
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["code"], "overloaded");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0, "a one-slot queue under 300 concurrent requests refuses some");
    assert_eq!(s.events().await.len(), accepted, "every 202 is stored, every 503 is not");
}

#[tokio::test]
async fn bodies_become_payloads_by_content_type() {
    let s = start(&[(
        "open.yaml",
        "component: open\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { map: \"{{ event }}\" } ] }\n",
    )])
    .await;
    let cases = [
        ("application/x-www-form-urlencoded", "a=1&b=two", json!({ "a": "1", "b": "two" })),
        ("text/plain", "hello", json!("hello")),
        ("application/json", "", json!(null)),
    ];
    for (ct, body, expected) in cases {
        let r = s
            .client
            .post(s.url("/hooks/development/open?x=1"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{ct}");
        let id = r.json::<serde_json::Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
        let event = s.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!(event["payload"], expected, "{ct}");
        assert_eq!(event["query"], json!({ "x": "1" }));
    }
}

/// What the door accepts, a run can read: bodies serde_json's `Value` would refuse (too deep,
/// invalid UTF-8, a number out of range) are refused with 400 before anything is stored.
#[tokio::test]
async fn json_a_run_cannot_read_is_refused_at_the_door() {
    let s = start(&[(
        "open.yaml",
        "component: open\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { map: \"{{ event }}\" } ] }\n",
    )])
    .await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("deep", deep, "recursion limit"),
        ("utf-8", b"{\"name\": \"caf\xe9\"}".to_vec(), "invalid unicode code point"),
        ("number", format!("{{\"n\": {}}}", "7".repeat(5000)).into_bytes(), "number out of range"),
    ];
    for (what, body, reason) in cases {
        let r = s
            .client
            .post(s.url("/hooks/development/open"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (st, body) = error_body(r).await;
        assert_eq!((st, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_body")), "{what}");
        assert!(body["message"].as_str().unwrap().contains(reason), "{what}: {body}");
        assert_eq!(body["location"], "body");
    }
    assert!(s.events().await.is_empty(), "nothing refused is stored");
    // The same shapes within the limits are events whose runs succeed.
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let r = s
        .client
        .post(s.url("/hooks/development/open"))
        .header("content-type", "application/json")
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<serde_json::Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&id, "succeeded").await;
}
