use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::any;
use serde_json::{Value, json};

/// Records the `n` of every body it receives, after `delay`. Idempotent from the handler's
/// point of view: a repeated `n` is the same fact.
#[derive(Clone, Default)]
struct Seen {
    ns: Arc<Mutex<Vec<i64>>>,
    started: Arc<Mutex<usize>>,
}

async fn sink(delay: Duration) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .fallback(any(|State((seen, delay)): State<(Seen, Duration)>, body: String| async move {
            *seen.started.lock().unwrap() += 1;
            tokio::time::sleep(delay).await;
            let v: Value = serde_json::from_str(&body).unwrap();
            seen.ns.lock().unwrap().push(v["n"].as_i64().unwrap());
            "ok"
        }))
        .with_state((seen.clone(), delay));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn project(dir: &Path) {
    std::fs::write(dir.join("onset.yaml"), "name: crash\n").unwrap();
    std::fs::create_dir_all(dir.join("components")).unwrap();
    std::fs::write(
        dir.join("components/forward.yaml"),
        r#"
component: forward
trigger: { type: http }
config:
  sink: { type: string }
handlers:
  "/":
    POST:
      retry: { attempts: 10, initial: 50ms, max: 500ms }
      steps:
        - map: { n: "{{ event.n }}" }
        - call: http.request
          with: { method: POST, url: "{{ config.sink }}", body: { n: "{{ event.n }}" } }
"#,
    )
    .unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server process; killed when dropped, so a failing test leaves nothing running.
struct Onset(Child);

impl Onset {
    fn kill9(&mut self) {
        self.0.kill().unwrap(); // SIGKILL
        self.0.wait().unwrap();
    }
}

impl Drop for Onset {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(project: &Path, data: &Path, port: u16, sink: SocketAddr, workers: usize) -> Onset {
    let child = Command::new(env!("CARGO_BIN_EXE_onset"))
        .args(["serve", "--no-watch", "--shutdown-timeout", "10s"])
        .arg("--project")
        .arg(project)
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", &workers.to_string()])
        .env("ONSET_CONFIG__FORWARD__SINK", format!("http://{sink}/"))
        .env("ONSET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Onset(child)
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("onset did not become ready at {base}");
}

/// A sink, a project and a data directory that survive restarts of the server.
struct Fixture {
    sink: SocketAddr,
    seen: Seen,
    project: tempfile::TempDir,
    data: tempfile::TempDir,
    port: u16,
    base: String,
    client: reqwest::Client,
}

impl Fixture {
    async fn new(sink_delay: Duration) -> Fixture {
        onset_server::install_crypto_provider();
        let (sink, seen) = sink(sink_delay).await;
        let project_dir = tempfile::tempdir().unwrap();
        project(project_dir.path());
        let port = free_port();
        Fixture {
            sink,
            seen,
            project: project_dir,
            data: tempfile::tempdir().unwrap(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap(),
        }
    }

    /// The admin token the first start wrote to the data directory.
    fn token(&self) -> String {
        std::fs::read_to_string(self.data.path().join("admin-token")).unwrap().trim().to_string()
    }

    /// Starts `onset serve` on the fixture's directories and waits until it is ready.
    async fn start(&self, workers: usize) -> Onset {
        let child = spawn(self.project.path(), self.data.path(), self.port, self.sink, workers);
        wait_ready(&self.client, &self.base).await;
        child
    }
}

/// Waits until every run of every event succeeded.
async fn wait_all_succeeded(client: &reqwest::Client, base: &str, token: &str, ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let st = statuses(client, base, token, ids).await;
        let pending: Vec<_> = st.iter().filter(|(_, runs)| runs.iter().any(|s| s != "succeeded")).collect();
        if pending.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "runs not succeeded in time: {pending:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Statuses of every run of the given events.
async fn statuses(client: &reqwest::Client, base: &str, token: &str, ids: &[String]) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for id in ids {
        let r = client.get(format!("{base}/api/v1/events/{id}")).bearer_auth(token).send().await.unwrap();
        let e: Value = r.json().await.unwrap();
        let runs = e["runs"].as_array().unwrap_or_else(|| panic!("event {id} is missing: {e}"));
        out.insert(id.clone(), runs.iter().map(|r| r["status"].as_str().unwrap().to_string()).collect());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_loses_no_accepted_event() {
    let f = Fixture::new(Duration::from_millis(100)).await;
    let (client, base, seen) = (f.client.clone(), f.base.clone(), f.seen.clone());
    let mut child = f.start(16).await;

    // Senders keep going while the server is killed: requests answered 202 are the promise.
    let accepted: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..60 {
                let n = worker * 1000 + i;
                let sent =
                    client.post(format!("{base}/hooks/development/forward")).json(&json!({ "n": n })).send().await;
                match sent {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => {
                        let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
                        accepted.lock().unwrap().push((n, id));
                    }
                    _ => break,
                }
            }
        }));
    }
    // Kill once a good number are accepted and some runs are surely in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while accepted.lock().unwrap().len() < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill9();
    for s in senders {
        s.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let done_before_restart = seen.ns.lock().unwrap().len();
    assert!(accepted.len() >= 150, "only {} accepted", accepted.len());
    assert!(
        done_before_restart < accepted.len(),
        "the kill must interrupt work: {done_before_restart} of {} done",
        accepted.len()
    );

    let mut child = f.start(16).await;
    let ids: Vec<String> = accepted.iter().map(|(_, id)| id.clone()).collect();
    wait_all_succeeded(&client, &base, &f.token(), &ids, Duration::from_secs(60)).await;
    let delivered: BTreeSet<i64> = seen.ns.lock().unwrap().iter().copied().collect();
    for (n, id) in &accepted {
        assert!(delivered.contains(n), "event {id} (n={n}) was accepted but its handler never reached the sink");
    }
    child.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_runs_in_flight_then_exits() {
    let f = Fixture::new(Duration::from_millis(700)).await;
    let (client, base, seen) = (f.client.clone(), f.base.clone(), f.seen.clone());
    let mut child = f.start(2).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let r = client.post(format!("{base}/hooks/development/forward")).json(&json!({ "n": n })).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
        ids.push(r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string());
    }
    // Two workers: two runs reach the sink and wait there.
    let deadline = Instant::now() + Duration::from_secs(10);
    while *seen.started.lock().unwrap() < 2 {
        assert!(Instant::now() < deadline, "runs never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let term = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = client.post(format!("{base}/hooks/development/forward")).json(&json!({ "n": 99 })).send().await;
    assert!(
        refused.map_or(true, |r| r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE),
        "intake stops at SIGTERM"
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    assert_eq!(seen.ns.lock().unwrap().len(), 2, "the runs in flight finished before the exit");

    let mut child = f.start(2).await;
    let st = statuses(&client, &base, &f.token(), &ids[..2]).await;
    assert!(st.values().all(|runs| runs == &["succeeded"]), "finished runs were recorded: {st:?}");
    wait_all_succeeded(&client, &base, &f.token(), &ids, Duration::from_secs(30)).await;
    let mut ns = seen.ns.lock().unwrap().clone();
    ns.sort();
    assert_eq!(ns, [0, 1, 2, 3, 4], "each event reached the sink exactly once");
    child.kill9();
}
