//! `schedule` and `poll` triggers end to end. The fire-time rules (cron, time zones, catch-up)
//! are proven with explicit clocks in `onset_sources::schedule`; here a 1 s interval shows the
//! server fires, stores and survives restarts without firing a due time twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::*;

const TICK: &str = "component: tick\ntrigger:\n  type: schedule\n  with: { interval: 1s, catch_up: one }\nhandlers:\n  ScheduleService:\n    onTick: { steps: [ { log: \"{{ event.scheduled_at }}\" } ] }\n";

#[tokio::test]
async fn a_schedule_fires_each_due_time_once_across_restarts() {
    let options = Options::new(&[("tick.yaml", TICK)]);
    let s = start_with(options.clone_for_restart()).await;
    let first = s.wait_events(2).await;
    for e in &first {
        assert_eq!((e["channel"].as_str(), e["event"].as_str()), (Some("ScheduleService"), Some("onTick")));
    }
    let health = s.get("/api/v1/components").await["items"][0]["health"].clone();
    assert_eq!(health["state"], "running", "{health}");
    // A restart a little later: the time missed meanwhile fires once (catch_up: one), and no
    // due time fires twice.
    let s = s.restart(&options).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = s.wait_events(first.len() + 2).await;
    let mut times: Vec<i64> =
        all.iter().map(|e| e["delivery_id"].as_str().unwrap().trim_start_matches("tick:").parse().unwrap()).collect();
    times.sort();
    let n = times.len();
    times.dedup();
    assert_eq!(times.len(), n, "each due time is one event");
    assert!(times.windows(2).all(|w| (w[1] - w[0]) % 1000 == 0), "due times are whole intervals apart: {times:?}");
    let id = all[0]["id"].as_str().unwrap();
    let run = s.wait_run_status(id, "succeeded").await;
    assert!(run["steps"][0]["output"].as_str().unwrap().ends_with('Z'));
}

/// A paged API: items with an id above `after`, two at a time, `next` = the last id returned.
#[derive(Default)]
struct Api {
    items: Vec<Value>,
    requests: Vec<Option<String>>,
    /// Serve from the start whatever the cursor says (an API that repeats itself).
    ignore_cursor: bool,
}

async fn list(
    State(api): State<Arc<Mutex<Api>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let mut api = api.lock().unwrap();
    let after: i64 = if api.ignore_cursor { 0 } else { q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0) };
    api.requests.push(q.get("after").cloned());
    let page: Vec<Value> = api.items.iter().filter(|i| i["id"].as_i64().unwrap() > after).take(2).cloned().collect();
    let next = page.last().map(|i| i["id"].clone()).unwrap_or(Value::Null);
    axum::Json(json!({ "results": page, "next": next }))
}

async fn api(items: Vec<Value>) -> (String, Arc<Mutex<Api>>) {
    let state = Arc::new(Mutex::new(Api { items, ..Api::default() }));
    let app = Router::new().route("/items", get(list)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

fn poller(base: &str) -> String {
    format!(
        r#"component: feed
trigger:
  type: poll
  with:
    url: "{{{{ config.api }}}}/items?after={{{{ cursor or 0 }}}}"
    interval: 1s
    items: "{{{{ response.body.results }}}}"
    id: "{{{{ item.id }}}}"
    cursor: "{{{{ response.body.next }}}}"
config:
  api: {{ type: string, default: "{base}" }}
handlers:
  PollService:
    onNewItem: {{ steps: [ {{ log: "{{{{ event.title }}}}" }} ] }}
"#
    )
}

#[tokio::test]
async fn a_poller_turns_new_items_into_events_follows_the_cursor_and_never_repeats() {
    let items: Vec<Value> = (1..=5).map(|i| json!({ "id": i, "title": format!("item {i}") })).collect();
    let (base, state) = api(items).await;
    let options = Options::new(&[("feed.yaml", &poller(&base))]);
    let s = start_with(options.clone_for_restart()).await;
    let events = s.wait_events(5).await;
    let mut ids: Vec<&str> = events.iter().map(|e| e["delivery_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(events[0]["event"], "onNewItem");
    // The pages were followed with the cursor in one poll: after=0, 2, 4 (then 5 gives nothing).
    let first_requests: Vec<Option<String>> = state.lock().unwrap().requests.iter().take(4).cloned().collect();
    assert_eq!(first_requests, [Some("0".into()), Some("2".into()), Some("4".into()), Some("5".into())]);

    // A new item arrives: one event.
    state.lock().unwrap().items.push(json!({ "id": 6, "title": "item 6" }));
    let events = s.wait_events(6).await;
    let run = s.wait_run_status(events[0]["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(run["steps"][0]["output"], "item 6");
    // The API repeats items already seen: none becomes an event again.
    state.lock().unwrap().ignore_cursor = true;
    let seen = state.lock().unwrap().requests.len();
    for _ in 0..100 {
        if state.lock().unwrap().requests.len() > seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.events().await.len(), 6);
    state.lock().unwrap().ignore_cursor = false;

    // After a restart the stored cursor (the API's last `next`, 2) is where polling resumes, and
    // nothing already seen becomes an event again.
    let before = state.lock().unwrap().requests.len();
    let s = s.restart(&options).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.events().await.len(), 6);
    let resumed = state.lock().unwrap().requests.get(before).cloned().unwrap();
    assert_eq!(resumed.as_deref(), Some("2"), "the cursor survived the restart");
}

#[tokio::test]
async fn timed_triggers_refuse_bad_settings() {
    let err = deploy_error(&[(
        "t.yaml",
        "component: t\ntrigger: { type: schedule, with: { cron: \"61 * * * *\" } }\nhandlers:\n  ScheduleService:\n    onTick: { steps: [ { log: x } ] }\n",
    )])
    .await;
    assert!(err.contains("trigger.with.cron") && err.contains("minute"), "{err}");
    let err = deploy_error(&[(
        "t.yaml",
        "component: t\ntrigger: { type: schedule, with: { interval: 5s, cron: \"* * * * *\" } }\nhandlers:\n  ScheduleService:\n    onTick: { steps: [ { log: x } ] }\n",
    )])
    .await;
    assert!(err.contains("both `cron` and `interval`"), "{err}");
}
