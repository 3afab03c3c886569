//! The example project the README's run command serves works as the walk-through says.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn the_shop_example_verifies_shapes_and_forwards_orders() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/components");
    let orders = std::fs::read_to_string(dir.join("orders.yaml")).unwrap();
    let audit = std::fs::read_to_string(dir.join("audit.yaml")).unwrap();
    let sample = std::fs::read_to_string(dir.join("../samples/order.json")).unwrap();
    // The example forwards to the audit component on the server's own address.
    let port = free_port();
    let mut options = Options::new(&[("orders.yaml", &orders), ("audit.yaml", &audit)])
        .env("ONSET_CONFIG__ORDERS__SECRET", SECRET)
        .env("ONSET_CONFIG__ORDERS__SINK", &format!("http://127.0.0.1:{port}/hooks/development/audit"));
    options.port = Some(port);
    let s = start_with(options).await;

    let unsigned = s.post_json("/hooks/development/orders", &json!({})).await;
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    let ts = now_secs();
    let sig = official_signature(SECRET, "msg_example", ts, &sample);
    let r = s
        .client
        .post(s.url("/hooks/development/orders"))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_example")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(sample.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], json!({ "order": "o-1001", "total": 42.5 }));

    // The forwarded order arrived at audit as an event of its own and ran there.
    let audit_events = s.get("/api/v1/events?component=audit").await;
    let forwarded = audit_events["items"][0]["id"].as_str().unwrap().to_string();
    let audit_event = s.wait_run_status(&forwarded, "succeeded").await;
    assert_eq!(audit_event["component"], "audit");
    let event = s.get(&format!("/api/v1/events/{forwarded}")).await;
    assert_eq!(event["payload"], json!({ "order": "o-1001", "total": 42.5 }));

    let r = s.client.put(s.url("/hooks/development/orders/orders/o-1001")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "every resource of the component is verified");
}

#[tokio::test]
async fn the_github_to_sheets_example_records_announces_and_emails() {
    const HOOK_SECRET: &str = "It's a Secret to Everybody";
    let google = py_fake(
        "google_apis.py",
        &[std::ffi::OsStr::new(&format!("{}/crates/connectors/testdata/google-sa-test-key.pub.pem", repo_root()))],
    );
    let slack = py_fake("slack.py", &[]);
    let smtp = py_fake("smtp.py", &[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/github-to-sheets/components");
    let source = std::fs::read_to_string(dir.join("issues.yaml")).unwrap();
    let options = Options::new(&[])
        .env("ONSET_CONFIG__ISSUES__WEBHOOK_SECRET", HOOK_SECRET)
        .env("ONSET_CONFIG__ISSUES__GOOGLE", "robot")
        .env("ONSET_CONFIG__ISSUES__SLACK", "team-slack")
        .env("ONSET_CONFIG__ISSUES__MAIL", "relay")
        .env("ONSET_CONFIG__ISSUES__SPREADSHEET", "sheet-1")
        .env("ONSET_CONFIG__ISSUES__CHANNEL", "C0BUGS")
        .env("ONSET_CONFIG__ISSUES__PEOPLE", r#"{"Codertocat": "Codertocat <codertocat@example.com>"}"#);
    let s = start_with(options).await;
    let key_file = json!({
        "type": "service_account", "client_email": "bot@onset-test.iam.gserviceaccount.com",
        "private_key": std::fs::read_to_string(format!("{}/crates/connectors/testdata/google-sa-test-key.pem", repo_root())).unwrap(),
        "token_uri": format!("{}/token", google.base)
    });
    s.set_account("robot", "google", json!({ "service_account": key_file.to_string(), "base_url": google.base })).await;
    s.set_account(
        "team-slack",
        "slack",
        json!({ "token": "xoxb-onset-test-token", "base_url": format!("{}/api", slack.base) }),
    )
    .await;
    let ports: Value = s.api.get(format!("{}/_ports", smtp.base)).send().await.unwrap().json().await.unwrap();
    s.set_account(
        "relay",
        "smtp",
        json!({ "host": "127.0.0.1", "port": ports["plain"].to_string(), "security": "none", "username": "onset",
                "password": "s3cret", "from": "Onset <bot@example.com>" }),
    )
    .await;
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": source, "path": "components/issues.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // GitHub's own example of `issues.opened` (a bug, assigned to Codertocat), signed by GitHub's
    // own library.
    let opened = crate::github::octokit_examples(HOOK_SECRET)
        .into_iter()
        .find(|e| e.event == "issues" && e.action.as_deref() == Some("opened"))
        .unwrap();
    let r = s
        .client
        .post(s.url("/hooks/development/issues"))
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header("x-hub-signature-256", &opened.signature)
        .body(opened.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;

    let state: Value = s.api.get(format!("{}/_state", google.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        state["sheets"]["sheet-1"]["Issues"][1],
        json!([1, "Spelling error in the README file", "Codertocat", "bug"]),
        "{run}"
    );
    let posted: Vec<Value> = s.api.get(format!("{}/_seen", slack.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["params"]["channel"], "C0BUGS");
    let text = posted[0]["params"]["text"].as_str().unwrap();
    assert!(text.starts_with(":bug: <https://github.com/Codertocat/Hello-World/issues/1|#1 Spelling error"), "{text}");
    let mails: Vec<Value> = s.api.get(format!("{}/_seen", smtp.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["rcpt_tos"], json!(["codertocat@example.com"]));
    assert_eq!(
        mails[0]["headers"]["subject"],
        "[Codertocat/Hello-World] #1 is yours: Spelling error in the README file"
    );

    // An unsigned delivery is refused before anything runs.
    let r = s
        .client
        .post(s.url("/hooks/development/issues"))
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", "forged")
        .body(opened.body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
