//! Pausing keeps accepting and storing; concurrency bounds runs at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const SLOW: &str = r#"
component: slow
trigger: { type: http }
config:
  sink: { type: string }
handlers:
  "/":
    POST:
      concurrency: 2
      retry: { attempts: 1 }
      steps:
        - call: http.request
          with: { method: POST, url: "{{ config.sink }}", body: "{{ event }}" }
"#;

#[tokio::test]
async fn concurrency_bounds_runs_of_a_handler_and_nothing_is_refused() {
    let sink = Sink::start(SinkPlan(vec![(200, 100)])).await;
    let s = start_with(Options::new(&[("slow.yaml", SLOW)]).env("ONSET_CONFIG__SLOW__SINK", &sink.url())).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let r = s.post_json("/hooks/development/slow", &json!({ "n": i })).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "events wait in the queue, they are never refused");
        ids.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        s.wait_run_status(id, "succeeded").await;
    }
    assert_eq!(sink.bodies().len(), 8);
    assert_eq!(sink.max_concurrent(), 2, "concurrency: 2 means two runs at once, no more");
}

#[tokio::test]
async fn paused_components_store_events_and_run_them_after_resume() {
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let s = start_with(Options::new(&[("slow.yaml", SLOW)]).env("ONSET_CONFIG__SLOW__SINK", &sink.url())).await;
    let r = s.api.post(s.url("/api/v1/components/slow/pause?environment=development")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["paused"], true);
    let components = s.get("/api/v1/components").await;
    assert_eq!(components["items"][0]["paused"], true);

    let mut ids = Vec::new();
    for i in 0..3 {
        let r = s.post_json("/hooks/development/slow", &json!({ "n": i })).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        ids.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.bodies().is_empty(), "nothing runs while paused");
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("onset_queue_depth 3"), "paused runs are waiting runs:\n{metrics}");
    for id in &ids {
        let e = s.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!(e["runs"][0]["status"], "queued");
    }

    // Paused survives a restart.
    let options = Options::new(&[("slow.yaml", SLOW)]).env("ONSET_CONFIG__SLOW__SINK", &sink.url());
    let s = s.restart(&options).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.bodies().is_empty(), "still paused after a restart");

    let r = s.api.post(s.url("/api/v1/components/slow/resume")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["paused"], false);
    for id in &ids {
        s.wait_run_status(id, "succeeded").await;
    }
    assert_eq!(sink.bodies().len(), 3);

    let r = s.api.post(s.url("/api/v1/components/nope/pause")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn runs_beyond_the_memory_bound_wait_in_the_database_and_all_run() {
    let sink = Sink::start(SinkPlan(vec![(200, 5)])).await;
    let mut options = Options::new(&[("slow.yaml", SLOW)]).env("ONSET_CONFIG__SLOW__SINK", &sink.url());
    options.workers = 1;
    options.max_waiting = 4;
    let s = start_with(options).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = s.post_json("/hooks/development/slow", &json!({ "n": i })).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        ids.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        s.wait_run_status(id, "succeeded").await;
    }
    let mut ns: Vec<i64> = sink.bodies().iter().map(|b| b["n"].as_i64().unwrap()).collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..40).collect::<Vec<_>>(), "each run once, none lost");
}
