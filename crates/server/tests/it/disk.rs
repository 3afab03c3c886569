//! The data directory's disk fills up: new events get 503 (senders retry), readiness drops, and
//! once space is back everything already acknowledged runs.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A tmpfs of its own, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, size: &str) -> SmallDisk {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mounting a small tmpfs at {} needs root (the tests run as root)", dir.display());
        SmallDisk(dir.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Writes a file until the disk has no room left.
fn fill(path: &std::path::Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 16 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

const SLOW: &str = r#"
component: slow
trigger: { type: http }
handlers:
  "/":
    POST:
      steps:
        - delay: 1500ms
        - log: "{{ event.n }}"
"#;

#[tokio::test]
async fn a_full_disk_refuses_with_503_and_runs_everything_it_accepted_once_space_is_back() {
    let data = tempfile::tempdir().unwrap();
    let _disk = SmallDisk::mount(data.path(), "12m");
    let filler = data.path().join("filler");
    let mut o = Options::new(&[("slow.yaml", SLOW)]);
    o.tune = Some(|c| c.alert_check_every = std::time::Duration::from_millis(100));
    let s = start_in(o, data).await;

    let mut accepted = Vec::new();
    for n in 0..20 {
        let r =
            s.client.post(s.url("/hooks/development/slow")).json(&serde_json::json!({ "n": n })).send().await.unwrap();
        assert_eq!(r.status(), 202);
        accepted.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    // Their runs are in flight (each waits 1.5 s) when the disk fills.
    fill(&filler);
    let big = "x".repeat(256 << 10);
    let mut refused = None;
    for n in 0..200 {
        let body = serde_json::json!({ "n": 100 + n, "pad": big });
        let r = s.client.post(s.url("/hooks/development/slow")).json(&body).send().await.unwrap();
        match r.status().as_u16() {
            202 => accepted.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()),
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    let refused = refused.expect("a full disk refuses new events");
    assert_eq!(refused.headers()["retry-after"], "10");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "disk_full", "{body}");
    let ready = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["disk_full"], true);
    // An alert says so, though the full disk cannot record it yet.
    let mut alert = Value::Null;
    for _ in 0..100 {
        let open = s.get("/api/v1/alerts").await;
        if let Some(a) = open["items"].as_array().unwrap().iter().find(|a| a["kind"] == "disk_full") {
            alert = a.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(alert["message"].as_str().is_some_and(|m| m.starts_with("disk full")), "{alert}");

    // Runs end while the disk is full; their ends wait for room.
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::remove_file(&filler).unwrap();
    let mut ready = false;
    for _ in 0..100 {
        if s.client.get(s.url("/readyz")).send().await.unwrap().status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz is ready again once a write succeeds");
    for id in &accepted {
        s.wait_run_status(id, "succeeded").await;
    }
    assert_eq!(s.events().await.len(), accepted.len(), "every acknowledged event is stored, nothing else");
    // Once writes work again the alert is recorded, then resolved.
    for _ in 0..100 {
        let all = s.get("/api/v1/alerts?state=all").await;
        if all["items"].as_array().unwrap().iter().any(|a| a["kind"] == "disk_full" && a["resolved_at"].is_string()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the disk_full alert was not resolved: {}", s.get("/api/v1/alerts?state=all").await);
}
