//! `onset events`, `onset runs [show]` and `onset replay` against a running server.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{onset, serve};

const FLAKY: &str = r#"
component: flaky
trigger: { type: http }
handlers:
  "/":
    POST:
      retry: { attempts: 2, initial: 10ms, max: 20ms }
      steps:
        - id: shaped
          map: { n: "{{ event.n }}" }
        - call: http.request
          with: { method: POST, url: "http://127.0.0.1:1/", body: "{{ steps.shaped.output }}", timeout: 2s }
"#;

fn text(out: &Output) -> String {
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn events_runs_and_replays_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("project/components")).unwrap();
    std::fs::write(dir.path().join("project/onset.yaml"), "name: observe\n").unwrap();
    std::fs::write(dir.path().join("project/components/flaky.yaml"), FLAKY).unwrap();
    let (_server, base) = serve(dir.path(), &["--no-watch", "--project", "project"], |c| {
        c.env("ONSET_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::null());
    });
    let d = dir.path();
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &base]);
        onset(d, &all)
    };

    onset_server::install_crypto_provider();
    let r = reqwest::Client::new()
        .post(format!("{base}/hooks/development/flaky"))
        .json(&serde_json::json!({ "n": 7 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();

    // The call fails each attempt: the run ends dead.
    let deadline = Instant::now() + Duration::from_secs(20);
    let run_id = loop {
        let page: Value =
            serde_json::from_str(&text(&cli(&["runs", "--component", "flaky", "--status", "dead", "--json"]))).unwrap();
        if let Some(run) = page["items"].as_array().and_then(|i| i.first()) {
            break run["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the run did not end dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let events = text(&cli(&["events", "--component", "flaky"]));
    let header = events.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("CHANNEL EVENT") && header.contains("RUNS"), "{events}");
    let row = events.lines().find(|l| l.contains(&event_id)).unwrap_or_else(|| panic!("{events}"));
    assert!(row.contains("/ POST") && row.contains("handled") && row.contains(&format!("dead {run_id}")), "{row}");

    let runs = text(&cli(&["runs", "--env", "development"]));
    let row = runs.lines().find(|l| l.contains(&run_id)).unwrap_or_else(|| panic!("{runs}"));
    assert!(row.contains("POST /") && row.contains("dead") && row.contains("2/2"), "{row}");

    let shown = text(&cli(&["runs", "show", &run_id]));
    assert!(shown.contains(&format!("run {run_id}  dead  flaky (development)")), "{shown}");
    let header = shown.lines().find(|l| l.starts_with("ATTEMPT")).unwrap_or_else(|| panic!("{shown}"));
    assert!(header.contains("PATH") && header.contains("TYPE") && header.contains("DURATION"), "{header}");
    let failed_call = shown
        .lines()
        .find(|l| l.starts_with('2') && l.contains("call") && l.contains("failed"))
        .unwrap_or_else(|| panic!("the second attempt's call step: {shown}"));
    assert!(failed_call.contains(" ms"), "{failed_call}");
    let full: Value = serde_json::from_str(&text(&cli(&["runs", "show", &run_id, "--json"]))).unwrap();
    assert_eq!(full["steps"].as_array().unwrap().len(), 4, "two steps in each of two attempts: {full}");
    assert_eq!(full["steps"][0]["output"], serde_json::json!({ "n": 7 }));

    let replayed = text(&cli(&["replay", "--dead", "flaky", "--env", "development"]));
    assert!(replayed.contains("1 dead run(s) of flaky in development replayed"), "{replayed}");
    let again = text(&cli(&["replay", &event_id]));
    assert!(again.starts_with(&format!("event {event_id} replayed: run ")), "{again}");
    let event: Value = serde_json::from_str(&text(&cli(&["events", "--component", "flaky", "--json"]))).unwrap();
    assert_eq!(event["items"][0]["runs"].as_array().unwrap().len(), 3, "the original run and two replays");

    // Bad input: the server's own words, and a non-zero exit.
    let out = cli(&["events", "--status", "sideways"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown variant `sideways`"), "{out:?}");
    let out = cli(&["replay"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("give an event id"), "{out:?}");
}
