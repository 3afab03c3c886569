//! Three `onset serve` processes on one PostgreSQL database, as a user runs a cluster: events
//! sent to any node run once on some node, a node killed mid-run loses nothing, and a schedule
//! fires once per due time cluster-wide, moving to another node when its owner dies.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use hmac::Mac as _;
use serde_json::{Value, json};

use crate::postgres::{Schema, database_url, psql};

/// Every node is given the same first admin token and master key, as a cluster's Secret would.
const ADMIN_TOKEN: &str = "onset_cluster_test_admin_token_0123456789";
const MASTER_KEY: &str = "8f4e2c1a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
const SECRET: &str = "cluster-signing-secret";
/// Short, so a killed node's runs and schedule move within the test; a real cluster keeps 30s.
const LEASE: Duration = Duration::from_secs(3);

/// One `onset serve` process with a data directory of its own.
struct Node {
    child: Child,
    base: String,
    id: String,
    _data: tempfile::TempDir,
}

impl Node {
    fn kill9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a node on `project` and the schema, waits until it is ready, and learns its id.
async fn start(client: &reqwest::Client, project: &Path, schema: &str, sink: SocketAddr) -> Node {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_onset"))
        .args(["serve", "--no-watch", "--workers", "16", "--lease", &format!("{}s", LEASE.as_secs())])
        .arg("--project")
        .arg(project)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &database_url(), "--database-schema", schema])
        .env("ONSET_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("ONSET_MASTER_KEY", MASTER_KEY)
        .env("ONSET_CONFIG__ORDERS__SECRET", SECRET)
        .env("ONSET_CONFIG__ORDERS__SINK", format!("http://{sink}/orders"))
        .env("ONSET_CONFIG__TICK__SINK", format!("http://{sink}/tick"))
        .env("ONSET_LOG", "warn")
        .env_remove("ONSET_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut node = Node { child, base: format!("http://127.0.0.1:{port}"), id: String::new(), _data: data };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", node.base)).send().await
            && r.status().is_success()
        {
            let ready: Value = r.json().await.unwrap();
            node.id = ready["node"].as_str().unwrap().to_string();
            return node;
        }
        assert!(Instant::now() < deadline, "node at {} did not become ready", node.base);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the sink received: `n` → the run ids that delivered it; tick due times in arrival order.
#[derive(Clone, Default)]
struct Sink {
    orders: Arc<Mutex<BTreeMap<i64, Vec<String>>>>,
    ticks: Arc<Mutex<Vec<(String, Instant)>>>,
}

async fn sink() -> (SocketAddr, Sink) {
    let seen = Sink::default();
    let app = Router::new()
        .route(
            "/orders",
            post(|State(seen): State<Sink>, body: String| async move {
                let v: Value = serde_json::from_str(&body).unwrap();
                let n = v["n"].as_i64().unwrap();
                seen.orders.lock().unwrap().entry(n).or_default().push(v["run"].as_str().unwrap().to_string());
                "ok"
            }),
        )
        .route(
            "/tick",
            post(|State(seen): State<Sink>, body: String| async move {
                let v: Value = serde_json::from_str(&body).unwrap();
                seen.ticks.lock().unwrap().push((v["at"].as_str().unwrap().to_string(), Instant::now()));
                "ok"
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

const ORDERS: &str = r#"
component: orders
trigger:
  type: http
  with:
    verify: { scheme: hmac, header: x-signature, prefix: "sha256=", secret: "{{ config.secret }}" }
    delivery_id: "{{ meta.headers['x-request-id'] }}"
config:
  secret: { type: secret }
  sink: { type: string }
handlers:
  "/":
    POST:
      retry: { attempts: 10, initial: 50ms, max: 500ms }
      steps:
        - call: http.request
          with: { method: POST, url: "{{ config.sink }}", body: { n: "{{ event.n }}", run: "{{ meta.run_id }}" } }
"#;

const TICK: &str = r#"
component: tick
trigger:
  type: schedule
  with: { interval: 1s, catch_up: all }
config:
  sink: { type: string }
handlers:
  ScheduleService:
    onTick:
      steps:
        - call: http.request
          with: { method: POST, url: "{{ config.sink }}", body: { at: "{{ event.scheduled_at }}" } }
"#;

fn project(component: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onset.yaml"), "name: cluster\n").unwrap();
    std::fs::create_dir_all(dir.path().join("components")).unwrap();
    std::fs::write(dir.path().join(format!("components/{component}.yaml")), text).unwrap();
    dir
}

fn signature(body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends event `n` to the node `n % 3`, or to the next live node when that one is gone, until one
/// accepts it (202) or knows it already (200). Answers whether it was accepted at all.
async fn send(client: &reqwest::Client, bases: &[String], n: i64) -> bool {
    let body = json!({ "n": n }).to_string();
    for attempt in 0..30 {
        let base = &bases[(n as usize + attempt) % bases.len()];
        let sent = client
            .post(format!("{base}/hooks/development/orders"))
            .header("content-type", "application/json")
            .header("x-request-id", format!("order-{n}"))
            .header("x-signature", signature(&body))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 202 || r.status() == 200 => return true,
            Ok(r) => assert_eq!(r.status(), 503, "only overload may refuse a signed event: {}", r.status()),
            Err(_) => {} // that node is gone: the next one takes it
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_lose_nothing_when_one_is_killed() {
    onset_server::install_crypto_provider();
    let schema = Schema::new("onset_cluster_events");
    let (sink_addr, seen) = sink().await;
    let project = project("orders", ORDERS);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(start(&client, project.path(), &schema.0, sink_addr).await);
    }
    let deployments = psql(&format!("SELECT count(*) FROM {}.deployments", schema.0));
    assert_eq!(deployments, "1", "three nodes starting on one project deploy its build once");
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();

    const EVENTS: i64 = 5_000;
    const CONCURRENCY: i64 = 32;
    let accepted: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let started = Instant::now();
    let mut senders = Vec::new();
    for lane in 0..CONCURRENCY {
        let (client, bases, accepted) = (client.clone(), bases.clone(), accepted.clone());
        senders.push(tokio::spawn(async move {
            let mut n = lane;
            while n < EVENTS {
                if send(&client, &bases, n).await {
                    accepted.lock().unwrap().insert(n);
                }
                n += CONCURRENCY;
            }
        }));
    }
    // Kill the third node once a good share is accepted and runs are surely in flight on it.
    while accepted.lock().unwrap().len() < 1_500 {
        assert!(started.elapsed() < Duration::from_secs(120), "the cluster stopped accepting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[2].kill9();
    let killed_at = accepted.lock().unwrap().len();
    for s in senders {
        s.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let sent_in = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let missing: Vec<i64> = {
            let orders = seen.orders.lock().unwrap();
            accepted.iter().copied().filter(|n| !orders.contains_key(n)).collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} accepted events never reached the sink, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orders = seen.orders.lock().unwrap().clone();
    let twice: Vec<(&i64, &Vec<String>)> = orders.iter().filter(|(_, runs)| runs.len() > 1).collect();
    for (n, runs) in &twice {
        let distinct: BTreeSet<&String> = runs.iter().collect();
        assert_eq!(distinct.len(), 1, "event {n} ran as different runs {runs:?}: only a reclaimed run runs again");
    }
    // A run whose call reached the sink may still be recording its completion (completions are
    // written in batches): wait for every run to end, then require that all succeeded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let not_done = loop {
        let n = psql(&format!("SELECT count(*) FROM {}.runs WHERE status <> 'succeeded'", schema.0));
        if n == "0" || Instant::now() >= deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(not_done, "0", "every run ends succeeded");
    let runs = psql(&format!("SELECT count(*) FROM {}.runs", schema.0));
    assert_eq!(runs, accepted.len().to_string(), "one run per accepted event");
    let mut lost = 0.0;
    for node in &nodes[..2] {
        let text = client.get(format!("{}/metrics", node.base)).send().await.unwrap().text().await.unwrap();
        lost += metric(&text, "onset_lease_lost_total");
    }
    // What ran twice is what the killed node was running (at most its 16 worker slots), and any
    // attempt of a live node that stalled past its lease (counted, its result dropped).
    assert!(
        twice.len() as f64 <= 16.0 + lost,
        "{} events ran twice, more than the killed node held (lost leases on live nodes: {lost})",
        twice.len()
    );
    println!(
        "cluster: {} of {EVENTS} events accepted in {:.1}s over 3 nodes (node 3 SIGKILLed after {killed_at}); \
         all reached the sink; {} ran twice (runs the killed node held); completions refused for lost leases: {lost}",
        accepted.len(),
        sent_in.as_secs_f64(),
        twice.len(),
    );
    assert!(accepted.len() as i64 >= EVENTS - 50, "nearly every event is accepted by a live node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schedule_fires_once_per_due_time_and_moves_when_its_node_dies() {
    onset_server::install_crypto_provider();
    let schema = Schema::new("onset_cluster_tick");
    let (sink_addr, seen) = sink().await;
    let project = project("tick", TICK);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(start(&client, project.path(), &schema.0, sink_addr).await);
    }
    let started = Instant::now();
    let owner =
        |schema: &str| psql(&format!("SELECT holder FROM {schema}.leases WHERE name = 'source:development/tick'"));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let first = owner(&schema.0);
    let at = nodes.iter().position(|n| n.id == first).unwrap_or_else(|| panic!("the lease holder {first} is a node"));
    nodes[at].kill9();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(started.elapsed())).await;
    let second = owner(&schema.0);
    assert_ne!(second, first, "another node took the schedule over");
    assert!(nodes.iter().any(|n| n.id == second));

    // Once per due time: one event per due time (the due time is its delivery id), and with
    // `catch_up: all` no due time is skipped, not even across the takeover.
    let fired = psql(&format!(
        "SELECT count(*) || ' ' || count(DISTINCT delivery_id) FROM {}.events WHERE component = 'tick'",
        schema.0
    ));
    let (events, distinct) = fired.split_once(' ').unwrap();
    assert_eq!(events, distinct, "a due time fired twice");
    let due: Vec<i64> = psql(&format!(
        "SELECT substr(delivery_id, 6) FROM {}.events WHERE component = 'tick' ORDER BY delivery_id",
        schema.0
    ))
    .lines()
    .map(|l| l.parse().unwrap())
    .collect();
    let skipped: Vec<&[i64]> = due.windows(2).filter(|w| w[1] - w[0] != 1_000).collect();
    assert!(skipped.is_empty(), "due times were skipped: {skipped:?}");

    let ticks = seen.ticks.lock().unwrap().clone();
    let arrived: BTreeSet<i64> =
        ticks.iter().map(|(at, _)| at.parse::<jiff::Timestamp>().unwrap().as_millisecond()).collect();
    for at in &due {
        assert!(arrived.contains(at), "the run of due time {at} never reached the sink");
    }
    let mut times: Vec<Instant> = ticks.iter().map(|(_, seen)| *seen).collect();
    times.sort();
    let widest = times.windows(2).map(|w| w[1].duration_since(w[0])).max().unwrap_or_default();
    let after_kill = ticks.iter().filter(|(_, seen)| *seen > killed).count();
    let takeover = ticks.iter().map(|(_, seen)| *seen).filter(|seen| *seen > killed).min();
    println!(
        "schedule: {} due times fired over {:.0}s on 3 nodes, each once, none skipped; owner killed, the next run \
         arrived {:?} later from another node; widest silence at the sink {:?} (lease {} s)",
        due.len(),
        started.elapsed().as_secs_f64(),
        takeover.map(|t| t.duration_since(killed)).unwrap_or_default(),
        widest,
        LEASE.as_secs()
    );
    assert!(after_kill >= 5, "the schedule goes on after its node dies ({after_kill} fired since)");
    assert!(widest <= LEASE * 2, "the schedule moved within about a lease: silent for {widest:?}");
}
