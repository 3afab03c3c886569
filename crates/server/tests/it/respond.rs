//! `response: after_run`: the caller waits for the run's answer.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const API: &str = r#"
component: api
trigger:
  type: http
  with: { response: after_run, response_timeout: 300ms }
handlers:
  /orders:
    POST:
      steps:
        - id: order
          map: { id: "{{ event.id }}", total: "{{ event.qty * 2 }}" }
        - respond:
            status: 201
            headers: { location: "/orders/{{ event.id }}" }
            body: "{{ steps.order.output }}"
        - log: "still running after the answer"
  /echo:
    POST:
      steps:
        - map: { got: "{{ event }}" }
  /broken:
    POST:
      steps:
        - fail: "no stock for {{ event.id }}"
  /slow:
    POST:
      retry: { attempts: 1 }
      steps:
        - delay: 1s
        - map: done
"#;

#[tokio::test]
async fn a_respond_step_answers_the_caller() {
    let s = start(&[("api.yaml", API)]).await;
    let r = s.post_json("/hooks/development/api/orders", &json!({ "id": "o-9", "qty": 3 })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/orders/o-9");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "id": "o-9", "total": 6 }));
    // Stored and run like any event, and the run went on after answering.
    let events = s.events().await;
    assert_eq!(events.len(), 1);
    let run = s.wait_run_status(events[0]["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(run["steps"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn without_respond_the_last_output_or_the_failure_answers() {
    let s = start(&[("api.yaml", API)]).await;
    let r = s.post_json("/hooks/development/api/echo", &json!({ "a": 1 })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "got": { "a": 1 } }));

    let r = s.post_json("/hooks/development/api/broken", &json!({ "id": "o-1" })).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "run_failed");
    assert_eq!(body["message"], "no stock for o-1");
    assert_eq!(body["location"], "step 0");
}

#[tokio::test]
async fn a_slow_run_times_out_with_504_and_still_runs() {
    let s = start(&[("api.yaml", API)]).await;
    let started = Instant::now();
    let r = s.post_json("/hooks/development/api/slow", &json!({})).await;
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(900), "the timeout is 300ms");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "run_timeout");
    let events = s.events().await;
    s.wait_run_status(events[0]["id"].as_str().unwrap(), "succeeded").await;
}

#[tokio::test]
async fn a_paused_component_answers_202_at_once() {
    let s = start(&[("api.yaml", API)]).await;
    s.api.post(s.url("/api/v1/components/api/pause")).send().await.unwrap();
    let started = Instant::now();
    let r = s.post_json("/hooks/development/api/orders", &json!({ "id": "o-2", "qty": 1 })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn response_settings_are_checked_at_deploy() {
    let bad = "component: api\ntrigger: { type: http, with: { response: later } }\nhandlers: { /: { POST: { steps: [] } } }\n";
    let err = deploy_error(&[("api.yaml", bad)]).await;
    assert!(err.contains("trigger.with.response is `immediate`"), "{err}");
}
