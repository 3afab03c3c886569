//! Verification schemes against real requests; Standard Webhooks signatures come from the
//! official library.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

fn component(verify: &str) -> String {
    format!(
        "component: hook\ntrigger:\n  type: http\n  with:\n    verify: {verify}\n    redact_headers: [x-internal]\nconfig:\n  secret: {{ type: secret }}\nhandlers:\n  /:\n    POST: {{ steps: [ {{ log: ok }} ] }}\n"
    )
}

async fn server(verify: &str, secret: &str) -> TestServer {
    start_with(Options::new(&[("hook.yaml", &component(verify))]).env("ONSET_CONFIG__HOOK__SECRET", secret)).await
}

#[tokio::test]
async fn standard_webhooks_from_the_official_library_and_rotation() {
    // Two secrets while rotating: a sender using either is accepted.
    let s = server(
        r#"{ scheme: standard-webhooks, secret: ["{{ config.secret }}", "whsec_c2Vjb25kLXNlY3JldC1rZXktdmFsdWU="] }"#,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    .await;
    for (i, secret) in
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25kLXNlY3JldC1rZXktdmFsdWU="].iter().enumerate()
    {
        let body = format!(r#"{{"type":"contact.created","n":{i}}}"#);
        let id = format!("msg_{i}");
        let ts = now_secs();
        let r = s
            .client
            .post(s.url("/hooks/development/hook"))
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", official_signature(secret, &id, ts, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "secret {i}");
        let event_id = r.json::<serde_json::Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
        let event = s.get(&format!("/api/v1/events/{event_id}")).await;
        assert_eq!(event["delivery_id"], id.as_str(), "webhook-id is the delivery id");
    }
    // An unknown secret and an old timestamp are refused.
    let body = "{}";
    let ts = now_secs();
    let r = s
        .client
        .post(s.url("/hooks/development/hook"))
        .header("webhook-id", "msg_x")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", official_signature("whsec_b3RoZXItc2VjcmV0LWtleS12YWx1ZQ==", "msg_x", ts, body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let old = ts - 600;
    let r = s
        .client
        .post(s.url("/hooks/development/hook"))
        .header("webhook-id", "msg_y")
        .header("webhook-timestamp", old.to_string())
        .header("webhook-signature", official_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_y", old, body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "timestamp_out_of_tolerance");
}

#[tokio::test]
async fn hmac_github_style_and_header_redaction() {
    let s = server(
        r#"{ scheme: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secret: "{{ config.secret }}" }"#,
        "It's a Secret to Everybody",
    )
    .await;
    let body = r#"{"zen":"Keep it logically awesome."}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"It's a Secret to Everybody").unwrap();
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let r = s
        .client
        .post(s.url("/hooks/development/hook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={sig}"))
        .header("authorization", "Bearer secret-token")
        .header("x-internal", "private")
        .header("x-visible", "shown")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<serde_json::Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let event = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(event["headers"]["authorization"], "[redacted]");
    assert_eq!(event["headers"]["x-internal"], "[redacted]");
    assert_eq!(event["headers"]["x-visible"], "shown");
    assert_eq!(event["payload"], json!({ "zen": "Keep it logically awesome." }));

    let r = s
        .client
        .post(s.url("/hooks/development/hook"))
        .header("x-hub-signature-256", format!("sha256={sig}"))
        .body(r#"{"zen":"tampered"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_and_basic() {
    let s = server(r#"{ scheme: token, header: X-Gitlab-Token, secret: "{{ config.secret }}" }"#, "tok-123").await;
    let url = s.url("/hooks/development/hook");
    assert_eq!(
        s.client.post(&url).header("x-gitlab-token", "tok-123").send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.client.post(&url).header("x-gitlab-token", "tok-124").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let s = server(r#"{ scheme: basic, username: ci, password: "{{ config.secret }}" }"#, "pw").await;
    let url = s.url("/hooks/development/hook");
    let good = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ci:pw"));
    let bad = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ci:px"));
    assert_eq!(s.client.post(&url).header("authorization", good).send().await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(
        s.client.post(&url).header("authorization", bad).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let events = s.events().await;
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_missing_secret_is_a_clear_deploy_error() {
    let hook = component("{ scheme: token, header: x-t, secret: \"{{ config.secret }}\" }");
    let err = deploy_error(&[("hook.yaml", &hook)]).await;
    assert!(
        err.contains("component `hook`: config `secret` (secret)") || err.contains("component `hook`: config `secret`"),
        "{err}"
    );
    assert!(err.contains("ONSET_CONFIG__HOOK__SECRET"), "{err}");
}
