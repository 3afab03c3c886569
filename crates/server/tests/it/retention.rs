//! Retention: finished events go after their ages, open ones stay, a pruned delivery id is
//! forgotten, and under steady load the database file stops growing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const KEPT: &str = r#"
component: kept
trigger: { type: http, with: { delivery_id: "{{ meta.headers['x-id'] }}" } }
retention: { succeeded: 1s, failed: 4s }
handlers:
  "/":
    POST:
      retry: { attempts: 1 }
      steps:
        - if: "event.fail"
          then: [ { fail: "asked to fail" } ]
"#;

async fn send(s: &TestServer, id: &str, body: Value) -> String {
    let r = s.client.post(s.url("/hooks/development/kept")).header("x-id", id).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

async fn exists(s: &TestServer, event_id: &str) -> bool {
    let r = s.api.get(s.url(&format!("/api/v1/events/{event_id}"))).send().await.unwrap();
    match r.status() {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn finished_events_go_after_their_ages_and_open_ones_stay() {
    let mut o = Options::new(&[("kept.yaml", KEPT)]);
    o.tune = Some(|c| c.prune_every = Duration::from_millis(200));
    let s = start_with(o).await;
    let ok = send(&s, "a", json!({ "fail": false })).await;
    let failed = send(&s, "b", json!({ "fail": true })).await;
    s.wait_run_status(&ok, "succeeded").await;
    s.wait_run_status(&failed, "failed").await;
    // Paused: its run stays queued, past every age.
    let pause = s.api.post(s.url("/api/v1/components/kept/pause?environment=development")).send().await.unwrap();
    assert!(pause.status().is_success());
    let queued = send(&s, "c", json!({ "fail": false })).await;

    let started = Instant::now();
    while exists(&s, &ok).await {
        assert!(started.elapsed() < Duration::from_secs(10), "the succeeded event is pruned after 1s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exists(&s, &failed).await, "a failed run is kept for its longer age");
    let runs = s.get("/api/v1/runs?component=kept").await;
    assert!(runs["items"].as_array().unwrap().iter().all(|r| r["event_id"] != ok.as_str()), "its runs went too");
    while exists(&s, &failed).await {
        assert!(started.elapsed() < Duration::from_secs(15), "the failed event is pruned after 4s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exists(&s, &queued).await, "nothing queued is ever pruned");

    // The pruned delivery id is forgotten: the same delivery again is a new event that runs.
    let resume = s.api.post(s.url("/api/v1/components/kept/resume?environment=development")).send().await.unwrap();
    assert!(resume.status().is_success());
    let r = s
        .client
        .post(s.url("/hooks/development/kept"))
        .header("x-id", "a")
        .json(&json!({ "fail": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "a redelivery after retention runs again");
    let again = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    assert_ne!(again, ok);
    s.wait_run_status(&again, "succeeded").await;
    s.wait_run_status(&queued, "succeeded").await;
}

const STEADY: &str = r#"
component: steady
# Each request waits for its run, so ingest cannot outrun execution: the load is steady.
trigger: { type: http, with: { response: after_run } }
retention: { succeeded: 1s }
handlers:
  "/":
    POST:
      steps:
        - map: { n: "{{ event.n }}", pad: "{{ event.pad }}" }
"#;

/// Under steady ingest with runs, the database file settles: once retention has caught up it
/// stays within ±10% of its steady-state size (the median of what was measured), over 100,000
/// runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_file_stops_growing_under_steady_load() {
    let _heavy = HEAVY.lock().await;
    let mut o = Options::new(&[("steady.yaml", STEADY)]);
    o.workers = 64;
    o.tune = Some(|c| c.prune_every = Duration::from_millis(250));
    let s = start_with(o).await;
    let db = s.data_dir().join("onset.db");
    let pad = "p".repeat(1024);
    let total: usize = 100_000;
    let senders = 32;
    // A steady rate (1,000 events/s): a time-based retention then holds a steady amount of data.
    let pace = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let pacer = {
        let pace = pace.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                // Ten requests per tick, never a backlog of more than one tick's worth.
                let room = 10usize.saturating_sub(pace.available_permits());
                pace.add_permits(room);
            }
        })
    };
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, url, pad, sent, pace) =
            (s.client.clone(), s.url("/hooks/development/steady"), pad.clone(), sent.clone(), pace.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                pace.acquire().await.unwrap().forget();
                let n = sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let body = format!(r#"{{"n": {n}, "pad": "{pad}"}}"#);
                let r = client.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
                assert!(matches!(r.status(), StatusCode::OK | StatusCode::ACCEPTED), "{}", r.status());
            }
        }));
    }
    // Sizes while the load goes on, after the first quarter (retention has caught up by then).
    let mut sizes = Vec::new();
    while sent.load(std::sync::atomic::Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if sent.load(std::sync::atomic::Ordering::Relaxed) > total / 4 {
            sizes.push(std::fs::metadata(&db).unwrap().len());
        }
    }
    pace.add_permits(senders);
    for t in tasks {
        t.await.unwrap();
    }
    pacer.abort();
    // Every run finished (and most were pruned): wait for the queue to drain.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let queued = s.get("/api/v1/runs?component=steady&status=queued&limit=1").await;
        if queued["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "runs did not drain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sizes.push(std::fs::metadata(&db).unwrap().len());
    assert!(sizes.len() >= 4, "{sizes:?}");
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    let steady = sorted[sorted.len() / 2] as f64;
    let (min, max) = sizes.iter().fold((u64::MAX, 0), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
    assert!(
        (max as f64) <= steady * 1.1 && (min as f64) >= steady * 0.9,
        "the file should stay within ±10% of {steady} bytes: {sizes:?}"
    );
    // A second after the last run, every event is past retention and gone from the API.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.get("/api/v1/events?component=steady&limit=1").await["items"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "events past retention are still listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
