//! `email.send` against real SMTP servers (aiosmtpd, tests/fakes/smtp.py) that require AUTH: a
//! message with every part as Python's email parser reads it, bcc in the envelope only, a 4xx
//! retried, a 5xx failing the run, STARTTLS and implicit TLS with a private CA, and
//! `onset account test` proving the login.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PASSWORD: &str = "s3cret";

const MAIL: &str = r#"component: mail
trigger: { type: http }
config:
  smtp: { type: account, connector: smtp }
handlers:
  /:
    POST:
      retry: { attempts: 3, initial: 10ms, max: 20ms }
      steps:
        - id: sent
          call: email.send
          account: "{{ config.smtp }}"
          with:
            to: "{{ event.to }}"
            cc: ["Cy <cy@example.com>"]
            bcc: dee@example.com
            reply_to: support@example.com
            subject: "Issue #{{ event.number }} is yours"
            text: "Hello {{ event.name }}, issue #{{ event.number }} was assigned to you."
            html: "<p>Hello <b>{{ event.name }}</b></p>"
            attachments:
              - { filename: issue.json, content_type: application/json, content: "{{ event.json_b64 }}" }
"#;

async fn seen(base: &str) -> Vec<Value> {
    reqwest::get(format!("{base}/_seen")).await.unwrap().json().await.unwrap()
}

async fn set_account(s: &TestServer, fields: Value) {
    let r = s
        .api
        .put(s.url("/api/v1/accounts/relay?environment=development"))
        .json(&json!({ "type": "smtp", "fields": fields }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn send(s: &TestServer, to: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(br#"{"number":7}"#);
    let r =
        s.post_json("/hooks/development/mail", &json!({ "to": to, "name": "Ann", "number": 7, "json_b64": b64 })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn email_send_delivers_every_part_through_auth_and_tls() {
    let fake = py_fake("smtp.py", &[]);
    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__MAIL__SMTP", "relay")).await;
    let ports: Value = s.api.get(format!("{}/_ports", fake.base)).send().await.unwrap().json().await.unwrap();
    set_account(
        &s,
        json!({
            "host": "127.0.0.1", "port": ports["plain"].to_string(), "security": "none",
            "username": "onset", "password": PASSWORD, "from": "Onset <bot@example.com>"
        }),
    )
    .await;
    let r = s.api.post(s.url("/api/v1/accounts/relay/test?environment=development")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], "127.0.0.1 answered EHLO and took the login");
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": MAIL, "path": "components/mail.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let run = s.wait_run_status(&send(&s, "Ann <ann@example.com>").await, "succeeded").await;
    let output = &run["steps"][0]["output"];
    assert_eq!(output["response"], "250 2.0.0 Ok: queued as FAKE1", "{run}");
    assert_eq!(output["recipients"], json!(["ann@example.com", "cy@example.com", "dee@example.com"]));
    let got = seen(&fake.base).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["encrypted"], false);
    assert_eq!(m["mail_from"], "bot@example.com");
    assert_eq!(m["rcpt_tos"], json!(["ann@example.com", "cy@example.com", "dee@example.com"]));
    let h = &m["headers"];
    assert_eq!(h["from"], "Onset <bot@example.com>");
    assert_eq!(h["to"], "Ann <ann@example.com>");
    assert_eq!(h["cc"], "Cy <cy@example.com>");
    assert_eq!(h["reply-to"], "support@example.com");
    assert_eq!(h["subject"], "Issue #7 is yours");
    assert_eq!(h["message-id"], output["message_id"]);
    assert!(h.get("bcc").is_none(), "bcc is in the envelope only: {h}");
    assert_eq!(m["text"].as_str().unwrap().trim_end(), "Hello Ann, issue #7 was assigned to you.");
    assert_eq!(m["html"].as_str().unwrap().trim_end(), "<p>Hello <b>Ann</b></p>");
    assert_eq!(
        m["attachments"],
        json!([{ "filename": "issue.json", "content_type": "application/json", "content": "eyJudW1iZXIiOjd9" }])
    );

    // A greylisting 451 is transient: the run's next attempt gets through.
    let run = s.wait_run_status(&send(&s, "busy@example.com").await, "succeeded").await;
    assert_eq!(run["attempt"], 2, "{run}");
    // A 550 is the recipient's refusal: the run fails at once with the server's words.
    let run = s.wait_run_status(&send(&s, "nobody@example.com").await, "failed").await;
    assert_eq!(run["attempt"], 1, "{run}");
    assert!(run["error"].as_str().unwrap().contains("User unknown"), "{run}");

    // STARTTLS, then TLS from the start, each with the private CA in the account.
    for (listener, security) in [("starttls", "starttls"), ("tls", "tls")] {
        set_account(
            &s,
            json!({
                "host": "127.0.0.1", "port": ports[listener].to_string(), "security": security,
                "username": "onset", "password": PASSWORD, "from": "bot@example.com", "ca_cert": ports["ca"]
            }),
        )
        .await;
        s.wait_run_status(&send(&s, "ann@example.com").await, "succeeded").await;
        let last = seen(&fake.base).await.pop().unwrap();
        assert_eq!((last["listener"].as_str().unwrap(), &last["encrypted"]), (listener, &json!(true)));
    }
    // Without the CA (fields merge; null removes one) the server's certificate is refused, and
    // the step says where the CA goes.
    set_account(&s, json!({ "ca_cert": null })).await;
    let r = s.api.get(s.url("/api/v1/accounts?environment=development")).send().await.unwrap();
    assert!(!r.text().await.unwrap().contains("ca_cert"), "the field is gone");
    set_account(&s, json!({ "host": "127.0.0.1", "port": ports["tls"].to_string(), "security": "tls" })).await;
    let run = s.wait_run_status(&send(&s, "ann@example.com").await, "failed").await;
    assert_eq!(run["attempt"], 1, "a certificate refused is not retried: {run}");
    assert!(run["error"].as_str().unwrap().contains("ca_cert"), "{run}");

    // A wrong password: the account test says so, with the fix.
    set_account(
        &s,
        json!({ "host": "127.0.0.1", "port": ports["plain"].to_string(), "security": "none", "username": "onset",
                "password": "wrong", "from": "bot@example.com" }),
    )
    .await;
    let r = s.api.post(s.url("/api/v1/accounts/relay/test?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.json::<Value>().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("535") && message.contains("user name and password"), "{body}");
    let runs = s.api.get(s.url("/api/v1/runs?component=mail")).send().await.unwrap().text().await.unwrap();
    assert!(!runs.contains(PASSWORD), "the password reaches no run");
}
