//! Slack requests end to end, signed by Slack's own SDK (`slack_sdk.signature.SignatureVerifier`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// `X-Slack-Signature` as `slack_sdk` computes it.
fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let script = "import sys\nfrom slack_sdk.signature import SignatureVerifier\n\
        print(SignatureVerifier(sys.argv[1]).generate_signature(timestamp=sys.argv[2], body=sys.stdin.read()))";
    piped("python3", &["-c", script, secret, &timestamp.to_string()], None, body).trim().to_string()
}

const COMPONENT: &str = r#"
component: chat
trigger:
  type: slack
  with: { signing_secret: "{{ config.signing_secret }}" }
config:
  signing_secret: { type: secret }
handlers:
  AppService:
    onAppMention: { steps: [ { log: "{{ event.event.text }}" } ] }
  MessageService:
    onMessage: { steps: [ { log: "any {{ event.event.channel_type }}" } ] }
    onMessageIm: { steps: [ { log: "direct" } ] }
  SlashCommandService:
    onWeather: { steps: [ { log: "weather for {{ event.text }}" } ] }
  InteractionService:
    onBlockActions: { steps: [ { log: "{{ event.actions[0].action_id }}" } ] }
"#;

struct Slack {
    s: TestServer,
}

impl Slack {
    async fn send(
        &self,
        content_type: &str,
        body: &str,
        ts: i64,
        signature: Option<String>,
        retry: Option<u32>,
    ) -> reqwest::Response {
        let mut r = self
            .s
            .client
            .post(self.s.url("/hooks/development/chat"))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string());
        if let Some(sig) = signature {
            r = r.header("x-slack-signature", sig);
        }
        if let Some(n) = retry {
            r = r.header("x-slack-retry-num", n.to_string()).header("x-slack-retry-reason", "http_timeout");
        }
        r.body(body.to_string()).send().await.unwrap()
    }

    async fn signed(&self, content_type: &str, body: &str) -> reqwest::Response {
        let ts = now_secs();
        self.send(content_type, body, ts, Some(slack_signature(SECRET, ts, body)), None).await
    }

    /// The newest stored event.
    async fn last(&self) -> Value {
        let list = self.s.events().await;
        let id = list[0]["id"].as_str().unwrap().to_string();
        self.s.get(&format!("/api/v1/events/{id}")).await
    }
}

fn callback(event_id: &str, event: Value) -> String {
    json!({ "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456", "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": 1515449522 })
    .to_string()
}

async fn slack() -> Slack {
    let s =
        start_with(Options::new(&[("chat.yaml", COMPONENT)]).env("ONSET_CONFIG__CHAT__SIGNING_SECRET", SECRET)).await;
    Slack { s }
}

#[tokio::test]
async fn challenge_events_retries_and_channel_types() {
    let slack = slack().await;
    // url_verification: the challenge comes back as text, with 200.
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let r = slack.signed(JSON, body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    // An app mention: 200 with an empty body, stored, its handler runs.
    let body = callback(
        "Ev0LAN670R",
        json!({ "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> hi",
        "ts": "1515449522.000016", "channel": "C0LAN2Q65", "event_ts": "1515449522.000016" }),
    );
    let r = slack.signed(JSON, &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    let event = slack.last().await;
    assert_eq!((event["channel"].as_str(), event["event"].as_str()), (Some("AppService"), Some("onAppMention")));
    assert_eq!(event["delivery_id"], "Ev0LAN670R");
    let id = event["id"].as_str().unwrap().to_string();
    let run = slack.s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], "<@U0LAN0Z89> hi");

    // Slack's retries of the same event_id are acknowledged and never run twice.
    for n in 1..=3 {
        let ts = now_secs();
        let r = slack.send(JSON, &body, ts, Some(slack_signature(SECRET, ts, &body)), Some(n)).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let all = slack.s.events().await;
    assert_eq!(all.len(), 2, "the challenge and one app mention");

    // A direct message runs onMessageIm; a channel message falls back to onMessage.
    for (event_id, channel_type, handler, output) in [
        ("Ev1", "im", "MessageService.onMessageIm", "direct"),
        ("Ev2", "channel", "MessageService.onMessage", "any channel"),
    ] {
        let body = callback(
            event_id,
            json!({ "type": "message", "channel": "C1", "user": "U1", "text": "hello",
            "ts": "1355517523.000005", "channel_type": channel_type, "event_ts": "1355517523.000005" }),
        );
        assert_eq!(slack.signed(JSON, &body).await.status(), StatusCode::OK);
        let event = slack.last().await;
        let run = slack.s.wait_run_status(event["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!((run["handler"].as_str(), run["steps"][0]["output"].as_str()), (Some(handler), Some(output)));
    }

    // An event no handler takes is stored as unhandled.
    let body = callback("Ev3", json!({ "type": "team_join", "user": { "id": "W1" }, "event_ts": "1" }));
    assert_eq!(slack.signed(JSON, &body).await.status(), StatusCode::OK);
    let event = slack.last().await;
    assert_eq!((event["channel"].as_str(), event["status"].as_str()), (Some("TeamService"), Some("unhandled")));
}

#[tokio::test]
async fn slash_commands_interactions_and_refusals() {
    let slack = slack().await;
    let form = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Fweather&text=94070&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678&trigger_id=13345224609.738474920.8088930838d88f008e0";
    assert_eq!(slack.signed(FORM, form).await.status(), StatusCode::OK);
    let event = slack.last().await;
    let run = slack.s.wait_run_status(event["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(
        (run["handler"].as_str(), run["steps"][0]["output"].as_str()),
        (Some("SlashCommandService.onWeather"), Some("weather for 94070"))
    );

    let payload = json!({ "type": "block_actions", "team": { "id": "T9TK3CUKW" }, "user": { "id": "UA8RXUSPL" },
        "actions": [ { "action_id": "approve", "type": "button" } ], "trigger_id": "1.2.3" });
    let body =
        format!("payload={}", form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>());
    assert_eq!(slack.signed(FORM, &body).await.status(), StatusCode::OK);
    let event = slack.last().await;
    assert_eq!(event["payload"]["type"], "block_actions");
    let run = slack.s.wait_run_status(event["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(run["steps"][0]["output"], "approve");
    let stored = slack.s.events().await.len();

    // Tampered, stale, future, unsigned and wrongly keyed requests store nothing.
    let body = callback("EvX", json!({ "type": "app_mention", "text": "x", "event_ts": "1" }));
    let now = now_secs();
    let sig = slack_signature(SECRET, now, &body);
    let cases = [
        (body.replace("\"x\"", "\"y\""), now, Some(sig.clone()), "signature_mismatch"),
        (body.clone(), now - 310, Some(slack_signature(SECRET, now - 310, &body)), "timestamp_out_of_tolerance"),
        (body.clone(), now + 310, Some(slack_signature(SECRET, now + 310, &body)), "timestamp_out_of_tolerance"),
        (body.clone(), now, None, "signature_missing"),
        (body.clone(), now, Some(slack_signature("another-secret", now, &body)), "signature_mismatch"),
    ];
    for (body, ts, sig, code) in cases {
        let r = slack.send(JSON, &body, ts, sig, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code);
    }
    // Slack's unsigned ssl_check probe is answered and not stored.
    let r = slack
        .s
        .client
        .post(slack.s.url("/hooks/development/chat"))
        .header("content-type", FORM)
        .body("ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(slack.s.events().await.len(), stored);
}
