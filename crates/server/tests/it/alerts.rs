//! Operational alerts: one test per kind, and deliveries to the alert webhook that verify with
//! the `standardwebhooks` library, retried until taken, each alert sent once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn alerts(s: &TestServer, state: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/alerts?state={state}")).await["items"].as_array().unwrap().clone()
}

async fn wait_alert(s: &TestServer, kind: &str) -> Value {
    for _ in 0..200 {
        if let Some(a) = alerts(s, "all").await.into_iter().find(|a| a["kind"] == kind) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} alert: {:?}", alerts(s, "all").await);
}

/// Checks a delivery with the Standard Webhooks library and returns its payload.
fn verified(headers: &std::collections::HashMap<String, String>, body: &Value) -> Value {
    let script = r#"
import sys, json
from standardwebhooks.webhooks import Webhook
headers = json.loads(sys.argv[2])
body = sys.stdin.read()
print(json.dumps(Webhook(sys.argv[1]).verify(body, headers)))
"#;
    let wanted: std::collections::HashMap<&str, &str> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .into_iter()
        .map(|k| (k, headers[k].as_str()))
        .collect();
    let out =
        piped("python3", &["-c", script, SECRET, &serde_json::to_string(&wanted).unwrap()], None, &body.to_string());
    serde_json::from_str(out.trim()).unwrap()
}

const DYING: &str = r#"
component: dying
trigger: { type: http }
handlers:
  "/":
    POST:
      retry: { attempts: 2, initial: 10ms, max: 20ms }
      steps:
        - call: http.request
          with: { method: POST, url: "http://127.0.0.1:1/", timeout: 2s }
"#;

#[tokio::test]
async fn a_dead_run_raises_an_alert_delivered_once_signed_and_retried() {
    // The webhook refuses twice, then takes it.
    let hook = Arc::new(Sink::start(SinkPlan(vec![(500, 0), (503, 0), (204, 0)])).await);
    let mut o = Options::new(&[("dying.yaml", DYING)]);
    let url = hook.url();
    o.tune_with = Some(Arc::new(move |c| {
        c.alert_webhook = Some(url.clone());
        c.alert_webhook_secret = Some(SECRET.into());
    }));
    let s = start_with(o).await;
    let r = s.post_json("/hooks/development/dying", &json!({})).await;
    let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&event_id, "dead").await;

    let alert = wait_alert(&s, "run_dead").await;
    assert_eq!((alert["component"].as_str(), alert["environment"].as_str()), (Some("dying"), Some("development")));
    assert_eq!(alert["detail"]["run_id"], run["id"]);
    assert!(alert["message"].as_str().unwrap().contains("dead after 2 attempts"), "{alert}");

    for _ in 0..100 {
        if hook.received().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Backoff is 1 s then 2 s; once taken it is not sent again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = hook.received();
    assert_eq!(received.len(), 3, "two refusals, then one delivery, and nothing more");
    let ids: std::collections::HashSet<&str> = received.iter().map(|(h, _)| h["webhook-id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    let (headers, body) = &received[2];
    let payload = verified(headers, body);
    assert_eq!(payload["type"], "alert.run_dead");
    assert_eq!(payload["data"]["id"], alert["id"]);
    let listed = alerts(&s, "all").await.into_iter().find(|a| a["id"] == alert["id"]).unwrap();
    assert!(listed["delivered_at"].is_string() && listed["delivery_attempts"] == 3, "{listed}");
}

#[tokio::test]
async fn a_source_down_for_longer_than_the_limit_raises_one_alert() {
    let port = free_port();
    let yaml = format!(
        "component: feed\ntrigger: {{ type: nats, with: {{ url: \"nats://127.0.0.1:{port}\", subject: orders }} }}\nhandlers:\n  orders:\n    onMessage: {{ steps: [ {{ log: hi }} ] }}\n"
    );
    let mut o = Options::new(&[("feed.yaml", &yaml)]);
    o.tune = Some(|c| {
        c.alert_source_down = Duration::from_millis(500);
        c.alert_check_every = Duration::from_millis(100);
    });
    let s = start_with(o).await;
    let alert = wait_alert(&s, "source_down").await;
    assert_eq!(alert["component"], "feed");
    assert!(alert["message"].as_str().unwrap().contains("has been failing"), "{alert}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open: Vec<Value> = alerts(&s, "open").await.into_iter().filter(|a| a["kind"] == "source_down").collect();
    assert_eq!(open.len(), 1, "raised once while the source stays down: {open:?}");

    // The broker comes up: the source recovers and the alert is resolved.
    let mut nats = spawn_daemon("nats-server", &["-a".into(), "127.0.0.1".into(), "-p".into(), port.to_string()], port);
    for _ in 0..200 {
        if alerts(&s, "open").await.iter().all(|a| a["kind"] != "source_down") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nats.kill();
    let _ = nats.wait();
    let all = alerts(&s, "all").await;
    let resolved = all.iter().find(|a| a["kind"] == "source_down").unwrap();
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
}

#[tokio::test]
async fn a_failed_registration_raises_an_alert() {
    let mut o = Options::new(&[]);
    o.public_url = Some("https://hooks.example.com/".into());
    let s = start_with(o).await;
    let source = "component: gh\ntrigger:\n  type: github\n  with: { secret: s, repository: acme/widgets, token: t, api_url: \"http://127.0.0.1:1\" }\nhandlers:\n  IssuesService:\n    onOpened: { steps: [ { log: x } ] }\n";
    let r = s.post_json("/api/v1/deployments", &json!({ "source": source })).await;
    assert_eq!(r.status(), 422);
    let alert = wait_alert(&s, "registration_failed").await;
    assert_eq!(alert["component"], "gh");
    assert!(alert["message"].as_str().unwrap().contains("could not be registered"), "{alert}");
}

#[tokio::test]
async fn a_disk_above_the_threshold_raises_an_alert() {
    let mut o = Options::new(&[]);
    o.tune = Some(|c| {
        c.alert_disk_percent = 1;
        c.alert_check_every = Duration::from_millis(100);
    });
    let s = start_with(o).await;
    let alert = wait_alert(&s, "disk_usage").await;
    assert!(alert["detail"]["percent"].as_f64().unwrap() >= 1.0, "{alert}");
    assert!(alert["component"].is_null());
}
