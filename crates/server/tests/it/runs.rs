//! Runs: steps recorded, outbound calls, retries with backoff, dead letters, replays.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn forwarder(retry: &str) -> String {
    format!(
        r#"
component: orders
trigger: {{ type: http }}
config:
  sink: {{ type: string }}
handlers:
  "/":
    POST:
      retry: {retry}
      steps:
        - id: shaped
          map: {{ order: "{{{{ event.id }}}}", total: "{{{{ event['items'] | map(attribute='price') | sum }}}}" }}
        - if: "steps.shaped.output.total > 0"
          then:
            - call: http.request
              with: {{ method: POST, url: "{{{{ config.sink }}}}", headers: {{ content-type: application/json }},
                       body: "{{{{ steps.shaped.output }}}}" }}
          else:
            - fail: "order {{{{ event.id }}}} has nothing to pay"
  "/orders/{{id}}":
    PUT:
      steps:
        - map: {{ id: "{{{{ meta.params.id }}}}", status: "{{{{ event.status }}}}", channel: "{{{{ meta.channel }}}}" }}
"#
    )
}

async fn server(sink: &Sink, retry: &str) -> TestServer {
    start_with(Options::new(&[("orders.yaml", &forwarder(retry))]).env("ONSET_CONFIG__ORDERS__SINK", &sink.url())).await
}

async fn send(s: &TestServer, path: &str, body: Value) -> String {
    let r = s.post_json(path, &body).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_run_records_every_step_and_calls_out_with_json() {
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let s = server(&sink, "{ attempts: 1 }").await;
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-1", "items": [{ "price": 2 }, { "price": 3.5 }] }))
        .await;
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(sink.bodies(), vec![json!({ "order": "o-1", "total": 5.5 })]);

    let steps = run["steps"].as_array().unwrap();
    let shape: Vec<(&str, &str, &str)> = steps
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["type"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(shape, [("0", "map", "succeeded"), ("1", "if", "succeeded"), ("1.then.0", "call", "succeeded")]);
    assert_eq!(steps[0]["id"], "shaped");
    assert_eq!(steps[0]["output"], json!({ "order": "o-1", "total": 5.5 }));
    assert_eq!(steps[2]["input"]["body"], json!({ "order": "o-1", "total": 5.5 }));
    assert_eq!(steps[2]["output"]["status"], 200);
    for s in steps {
        assert_eq!(s["attempt"], 1);
        assert!(s["started_at"].as_str().unwrap().ends_with('Z'));
        assert!(s["duration_ms"].as_f64().unwrap() >= 0.0);
    }
    assert!(run["deployment_id"].as_str().is_some());

    let event = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(event["component"], "orders");
    assert_eq!(event["environment"], "development");
    assert_eq!(event["channel"], "/");
    assert_eq!(event["event"], "POST");
    assert_eq!(event["status"], "handled");
    assert_eq!(event["runs"][0]["handler"], "POST /");
    assert_eq!(event["runs"][0]["status"], "succeeded");
}

#[tokio::test]
async fn path_parameters_reach_meta_params() {
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let s = server(&sink, "{ attempts: 1 }").await;
    let r = s
        .client
        .put(s.url("/hooks/development/orders/orders/A-17"))
        .json(&json!({ "status": "shipped" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], json!({ "id": "A-17", "status": "shipped", "channel": "/orders/{id}" }));
    let event = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(event["channel"], "/orders/{id}");
    assert_eq!(event["params"], json!({ "id": "A-17" }));
}

#[tokio::test]
async fn server_errors_retry_with_backoff_then_succeed() {
    let sink = Sink::start(SinkPlan(vec![(503, 0), (500, 0), (200, 0)])).await;
    let s = server(&sink, "{ attempts: 5, initial: 10ms, max: 50ms }").await;
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-2", "items": [{ "price": 1 }] })).await;
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["attempt"], 3);
    let attempts: Vec<i64> = run["steps"].as_array().unwrap().iter().map(|s| s["attempt"].as_i64().unwrap()).collect();
    assert_eq!(attempts, [1, 1, 1, 2, 2, 2, 3, 3, 3], "each attempt runs the handler from its first step");
    assert_eq!(sink.bodies().len(), 3);
}

#[tokio::test]
async fn exhausted_retries_dead_letter_and_replay_runs_them_again() {
    let sink = Sink::start(SinkPlan(vec![(503, 0), (503, 0), (200, 0)])).await;
    let s = server(&sink, "{ attempts: 2, initial: 5ms, max: 10ms }").await;
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-3", "items": [{ "price": 1 }] })).await;
    let run = s.wait_run_status(&id, "dead").await;
    assert!(run["error"].as_str().unwrap().contains("HTTP 503"), "{}", run["error"]);
    assert_eq!(run["error_step"], "1.then.0");
    let dead = s.get("/api/v1/runs?status=dead").await;
    assert_eq!(dead["items"].as_array().unwrap().len(), 1);
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("onset_dead_letters_total 1"), "{metrics}");
    assert!(metrics.contains("onset_retries_total 1"), "{metrics}");

    let r = s.api.post(s.url("/api/v1/components/orders/dead/replay")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["replayed"], 1);
    let new_run = body["runs"][0].as_str().unwrap().to_string();
    let event = s
        .wait_event(&id, |e| {
            e["runs"].as_array().unwrap().iter().any(|r| r["id"] == new_run.as_str() && r["status"] == "succeeded")
        })
        .await;
    assert_eq!(event["runs"].as_array().unwrap().len(), 2);
    // A second dead-letter replay has nothing left to replay.
    let body: Value =
        s.api.post(s.url("/api/v1/components/orders/dead/replay")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["replayed"], 0);
}

#[tokio::test]
async fn client_errors_and_fail_steps_fail_without_retry() {
    let sink = Sink::start(SinkPlan(vec![(422, 0)])).await;
    let s = server(&sink, "{ attempts: 5, initial: 5ms, max: 10ms }").await;
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-4", "items": [{ "price": 1 }] })).await;
    let run = s.wait_run_status(&id, "failed").await;
    assert_eq!(run["attempt"], 1);
    assert!(run["error"].as_str().unwrap().contains("HTTP 422"));
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-5", "items": [] })).await;
    let run = s.wait_run_status(&id, "failed").await;
    assert_eq!(run["error"], "order o-5 has nothing to pay");
    assert_eq!(sink.bodies().len(), 1);
}

#[tokio::test]
async fn replaying_an_event_runs_it_again_on_the_active_deployment() {
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let s = server(&sink, "{ attempts: 1 }").await;
    let id = send(&s, "/hooks/development/orders", json!({ "id": "o-6", "items": [{ "price": 1 }] })).await;
    let first = s.wait_run_status(&id, "succeeded").await;
    let r = s.api.post(s.url(&format!("/api/v1/events/{id}/replay"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let event = s
        .wait_event(&id, |e| {
            e["runs"].as_array().unwrap().len() == 2
                && e["runs"].as_array().unwrap().iter().all(|r| r["status"] == "succeeded")
        })
        .await;
    assert_eq!(event["runs"][1]["deployment_id"], first["deployment_id"]);
    assert_eq!(sink.bodies().len(), 2);
    let r = s.api.post(s.url("/api/v1/events/nope/replay")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A run whose lease was taken over while it ran (its worker was presumed dead) ends without
/// writing anything: the newer holder's result is the one that counts.
#[tokio::test]
async fn an_attempt_that_lost_its_lease_records_nothing() {
    const SLOW: &str = "component: slow\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - delay: 1500ms\n        - log: done\n";
    let s = start(&[("slow.yaml", SLOW)]).await;
    let r = s.client.post(s.url("/hooks/development/slow")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let running = s.wait_run_status(&event_id, "running").await;
    let run_id = running["id"].as_str().unwrap().to_string();

    // Another worker takes the run over, as it would after the lease expired.
    let db = rusqlite::Connection::open(s.data_dir().join("onset.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let taken = db.execute("UPDATE runs SET lease_token = 'another-worker' WHERE id = ?1", [&run_id]).unwrap();
    assert_eq!(taken, 1);

    let mut lost = false;
    for _ in 0..100 {
        let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.lines().any(|l| l.starts_with("onset_lease_lost_total") && l.ends_with(" 1")) {
            lost = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lost, "the refused completion is counted");
    let run = s.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["status"], "running", "the run stays with its new holder: {run}");
    assert_eq!(run["steps"], json!([]), "nothing of the stale attempt is recorded");
}

#[tokio::test]
async fn a_rendered_input_that_breaks_the_operation_schema_fails_the_run_once_with_where_and_why() {
    let yaml = r#"
component: caller
trigger: { type: http }
handlers:
  "/":
    POST:
      steps:
        - id: out
          call: http.request
          with: { url: "{{ event.url }}", method: "{{ event.method }}" }
"#;
    let s = start_with(Options::new(&[("caller.yaml", yaml)])).await;
    let id = send(&s, "/hooks/development/caller", json!({"url": "http://127.0.0.1:9/", "method": "FETCH"})).await;
    // Not retried: the same input would break the schema again.
    let run = s.wait_run_status(&id, "failed").await;
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("http.request: `with.method` is \"FETCH\", expected one of \"GET\""), "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
}
