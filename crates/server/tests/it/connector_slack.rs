//! The slack connector against a local Slack (tests/fakes/slack.py) that slack_sdk, Slack's own
//! client, accepts: each operation's real request (method, path, auth, content type, params), the
//! two-step upload, `ok: false` as a step error with Slack's code, and a 429's Retry-After held.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "xoxb-onset-test-token";

fn fake_slack() -> PyFake {
    py_fake("slack.py", &[])
}

async fn seen(fake: &PyFake) -> Vec<Value> {
    reqwest::get(format!("{}/_seen", fake.base)).await.unwrap().json::<Vec<Value>>().await.unwrap()
}

const NOTIFY: &str = r#"component: notify
trigger: { type: http }
config:
  slack: { type: account, connector: slack }
handlers:
  /:
    POST:
      retry: { attempts: 3, initial: 10ms, max: 20ms }
      steps:
        - id: user
          call: slack.lookupUserByEmail
          account: "{{ config.slack }}"
          with: { email: ann@example.com }
        - id: posted
          call: slack.postMessage
          account: "{{ config.slack }}"
          with: { channel: "{{ event.channel }}", text: "hi <@{{ steps.user.output.user.id }}>" }
        - call: slack.addReaction
          account: "{{ config.slack }}"
          with: { channel: "{{ event.channel }}", timestamp: "{{ steps.posted.output.ts }}", name: eyes }
        - call: slack.updateMessage
          account: "{{ config.slack }}"
          with: { channel: "{{ event.channel }}", ts: "{{ steps.posted.output.ts }}", text: edited }
        - id: file
          call: slack.uploadFile
          account: "{{ config.slack }}"
          with: { channel: "{{ event.channel }}", filename: rows.csv, content: "a,b\n1,2\n", title: Rows }
"#;

async fn send(s: &TestServer, channel: &str) -> String {
    let r = s.post_json("/hooks/development/notify", &json!({ "channel": channel })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn slack_operations_send_slacks_requests_and_surface_slacks_errors() {
    // The fake's answers are ones Slack's own client takes (a fake of its own: the SDK run
    // spends the fake's one rate limit).
    let sdk_fake = fake_slack();
    let out = Command::new("python3")
        .arg(format!("{}/tests/fakes/slack_sdk_drives.py", repo_root()))
        .arg(&sdk_fake.base)
        .output()
        .unwrap();
    assert!(out.status.success(), "slack_sdk refuses the fake: {}", String::from_utf8_lossy(&out.stderr));

    let fake = fake_slack();
    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__NOTIFY__SLACK", "team-slack")).await;
    let r = s
        .api
        .put(s.url("/api/v1/accounts/team-slack?environment=development"))
        .json(&json!({ "type": "slack", "fields": { "token": TOKEN, "base_url": format!("{}/api", fake.base) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": NOTIFY, "path": "components/notify.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let run = s.wait_run_status(&send(&s, "C0GENERAL").await, "succeeded").await;
    assert_eq!(run["steps"][4]["output"]["files"][0]["name"], "rows.csv", "{run}");
    let got = seen(&fake).await;
    let paths: Vec<&str> = got
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .map(|p| if p.starts_with("/upload/F") { "/upload/…" } else { p })
        .collect();
    assert_eq!(
        paths,
        [
            "/api/users.lookupByEmail",
            "/api/chat.postMessage",
            "/api/reactions.add",
            "/api/chat.update",
            "/api/files.getUploadURLExternal",
            "/upload/…",
            "/api/files.completeUploadExternal",
        ]
    );
    for r in got.iter().filter(|r| r["path"].as_str().unwrap().starts_with("/api/")) {
        assert_eq!(r["method"], "POST", "{r}");
        assert_eq!(r["headers"]["authorization"], format!("Bearer {TOKEN}"), "{r}");
    }
    assert_eq!(got[0]["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(got[0]["params"]["email"], "ann@example.com");
    assert_eq!(got[1]["content_type"], "application/json");
    assert_eq!(got[1]["params"], json!({ "channel": "C0GENERAL", "text": "hi <@U0ANN>" }));
    let ts = run["steps"][1]["output"]["ts"].clone();
    assert_eq!(got[2]["params"], json!({ "channel": "C0GENERAL", "timestamp": ts, "name": "eyes" }));
    assert_eq!(got[3]["params"], json!({ "channel": "C0GENERAL", "ts": ts, "text": "edited" }));
    assert_eq!(got[4]["params"], json!({ "filename": "rows.csv", "length": "8" }));
    assert_eq!(got[5]["body"], "a,b\n1,2\n");
    assert!(got[5]["headers"].get("authorization").is_none(), "the upload URL gets no token");
    let file_id = got[5]["path"].as_str().unwrap().trim_start_matches("/upload/");
    assert_eq!(got[6]["params"]["channel_id"], "C0GENERAL");
    assert_eq!(
        serde_json::from_str::<Value>(got[6]["params"]["files"].as_str().unwrap()).unwrap(),
        json!([{ "id": file_id, "title": "Rows" }])
    );

    // `ok: false`: a step error with Slack's code and the fix, not retried.
    let run = s.wait_run_status(&send(&s, "C_MISSING").await, "failed").await;
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("slack.postMessage: Slack answered `channel_not_found`"), "{run}");
    assert_eq!(run["attempt"], 1);

    // A 429: the run waits the Retry-After (1 s, not the handler's 10 ms) and gets through.
    let before = seen(&fake).await.len();
    let run = s.wait_run_status(&send(&s, "C_BUSY").await, "succeeded").await;
    assert_eq!(run["attempt"], 2, "{run}");
    let busy: Vec<Value> =
        seen(&fake).await[before..].iter().filter(|r| r["path"] == "/api/chat.postMessage").cloned().collect();
    assert_eq!(busy.len(), 2);
    let waited = busy[1]["at"].as_f64().unwrap() - busy[0]["at"].as_f64().unwrap();
    assert!(waited >= 0.95, "the retry came {waited} s after the 429");

    // The account test is auth.test; a wrong token fails runs with Slack's code and the fix.
    let r = s.api.post(s.url("/api/v1/accounts/team-slack/test?environment=development")).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        "auth.test: Slack takes the token: user `onsetbot` in team `Onset Test`"
    );
    s.api
        .put(s.url("/api/v1/accounts/team-slack?environment=development"))
        .json(&json!({ "type": "slack", "fields": { "token": "xoxb-revoked" } }))
        .send()
        .await
        .unwrap();
    let run = s.wait_run_status(&send(&s, "C0GENERAL").await, "failed").await;
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("Slack answered `invalid_auth`") && error.contains("onset account set team-slack"), "{run}");
    assert!(!run.to_string().contains(TOKEN));
}
