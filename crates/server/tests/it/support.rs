//! A server booted in-process on 127.0.0.1:0 with its own project and data directory, a local
//! HTTP sink that records what handlers send it, and helpers to wait for runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::any;
use onset_server::ServerConfig;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub base: String,
    /// For ingress: no credentials.
    pub client: reqwest::Client,
    /// For the control plane: the admin token the first start wrote to the data directory.
    pub api: reqwest::Client,
    pub admin_token: String,
    pub shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<Result<(), onset_server::ServerError>>>,
    data: Option<tempfile::TempDir>,
    project: Option<tempfile::TempDir>,
}

/// Sets server config a test knows only at run time.
pub type Tune = Arc<dyn Fn(&mut ServerConfig) + Send + Sync>;

pub struct Options {
    pub files: Vec<(String, String)>,
    pub env: HashMap<String, String>,
    pub max_body: u64,
    pub ingest_queue: usize,
    pub workers: usize,
    pub max_waiting: usize,
    /// Listen on this port instead of any free one (for components that call the server itself).
    pub port: Option<u16>,
    pub public_url: Option<String>,
    /// `(renew when less than this remains, check every)` for Google Calendar channels.
    pub renewal: Option<(Duration, Duration)>,
    /// Sets whatever else a test needs on the server's config.
    pub tune: Option<fn(&mut ServerConfig)>,
    /// The same, for settings known only at run time (a sink's address).
    pub tune_with: Option<Tune>,
}

impl Options {
    pub fn new(files: &[(&str, &str)]) -> Self {
        Self {
            files: files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
            env: HashMap::new(),
            max_body: 25 << 20,
            ingest_queue: 8192,
            workers: 16,
            max_waiting: 10_000,
            port: None,
            public_url: None,
            renewal: None,
            tune: None,
            tune_with: None,
        }
    }
    /// The same options again (a restart reuses the project already on disk).
    pub fn clone_for_restart(&self) -> Self {
        Self {
            files: self.files.clone(),
            env: self.env.clone(),
            max_body: self.max_body,
            ingest_queue: self.ingest_queue,
            workers: self.workers,
            max_waiting: self.max_waiting,
            port: self.port,
            public_url: self.public_url.clone(),
            renewal: self.renewal,
            tune: self.tune,
            tune_with: self.tune_with.clone(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.to_string(), v.to_string());
        self
    }
}

pub async fn start(files: &[(&str, &str)]) -> TestServer {
    start_with(Options::new(files)).await
}

pub async fn start_with(options: Options) -> TestServer {
    start_in(options, tempfile::tempdir().unwrap()).await
}

/// Starts a server whose data directory is `data` (e.g. a small file system of the test's own).
pub async fn start_in(options: Options, data: tempfile::TempDir) -> TestServer {
    onset_server::install_crypto_provider();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("onset.yaml"), "name: test\n").unwrap();
    std::fs::create_dir_all(project.path().join("components")).unwrap();
    for (path, text) in &options.files {
        let path = project.path().join("components").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    boot(data, project, &options).await
}

async fn boot(data: tempfile::TempDir, project: tempfile::TempDir, options: &Options) -> TestServer {
    let mut config = ServerConfig::new(data.path().to_path_buf());
    config.project = Some(project.path().to_path_buf());
    config.watch = false;
    config.max_body = options.max_body;
    config.ingest_queue = options.ingest_queue;
    config.workers = options.workers;
    config.max_waiting = options.max_waiting;
    config.config_env = options.env.clone();
    config.shutdown_timeout = Duration::from_secs(5);
    config.public_url = options.public_url.clone();
    if let Some((before, every)) = options.renewal {
        config.channel_renewal = before;
        config.renewal_check = every;
    }
    if let Some(tune) = options.tune {
        tune(&mut config);
    }
    if let Some(tune) = &options.tune_with {
        tune(&mut config);
    }
    // A node joining a database that has its admin token already writes no token file.
    let seeded = config.admin_token.clone();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port.unwrap_or(0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(onset_server::run(config, listener, shutdown.clone()));
    let data_dir = data.path().to_path_buf();
    let mut server = TestServer {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        api: reqwest::Client::new(),
        admin_token: String::new(),
        shutdown,
        handle: Some(handle),
        data: Some(data),
        project: Some(project),
    };
    for _ in 0..200 {
        if let Ok(r) = server.client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            let written = std::fs::read_to_string(data_dir.join("admin-token")).ok();
            server.admin_token = written.or(seeded.clone()).expect("an admin token").trim().to_string();
            server.api = bearer_client(&server.admin_token);
            return server;
        }
        if server.handle.as_ref().is_some_and(|h| h.is_finished()) {
            let result = server.handle.take().unwrap().await.unwrap();
            panic!("the server stopped at start: {result:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server did not become ready");
}

impl TestServer {
    /// Sets an account of `development` through the API, as `onset account set` does.
    pub async fn set_account(&self, name: &str, kind: &str, fields: Value) {
        let r = self
            .api
            .put(self.url(&format!("/api/v1/accounts/{name}?environment=development")))
            .json(&serde_json::json!({ "type": kind, "fields": fields }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn project_dir(&self) -> std::path::PathBuf {
        self.project.as_ref().map(|p| p.path().to_path_buf()).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.api.get(self.url(path)).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.api.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default()
    }

    pub async fn events(&self) -> Vec<Value> {
        self.get("/api/v1/events?limit=500").await["items"].as_array().unwrap().clone()
    }

    /// Waits until at least `n` events are stored; returns them, newest first.
    pub async fn wait_events(&self, n: usize) -> Vec<Value> {
        for _ in 0..800 {
            let list = self.events().await;
            if list.len() >= n {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} events, have {}", self.events().await.len());
    }

    /// Waits (up to 10 s) until the (only) component's health reports `backlog: n` — what the
    /// broker says waits — and that `/metrics` has the same; the health as last seen otherwise.
    pub async fn wait_backlog(&self, n: u64) {
        let mut health = Value::Null;
        for _ in 0..100 {
            health = self.get("/api/v1/components").await["items"][0]["health"].clone();
            if health["backlog"] == n {
                let metrics = self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
                let line = metrics.lines().find(|l| l.starts_with("onset_source_backlog{")).unwrap_or_default();
                assert!(line.ends_with(&format!(" {n}")), "{line}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("health never had backlog {n}: {health}");
    }

    /// Waits until the (only) component's source reports `running` (connected).
    pub async fn until_source_running(&self) {
        for _ in 0..400 {
            let name =
                self.get("/api/v1/components").await["items"][0]["name"].as_str().unwrap_or_default().to_string();
            if self.get(&format!("/api/v1/components/{name}")).await["health"]["state"] == "running" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the trigger's source did not report running");
    }

    /// Waits until `check` holds for the event's runs (each status as listed).
    pub async fn wait_event<F: Fn(&Value) -> bool>(&self, event_id: &str, check: F) -> Value {
        for _ in 0..500 {
            let e = self.get(&format!("/api/v1/events/{event_id}")).await;
            if check(&e) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "event {event_id} never reached the expected state: {}",
            self.get(&format!("/api/v1/events/{event_id}")).await
        );
    }

    pub async fn wait_run_status(&self, event_id: &str, status: &str) -> Value {
        let e = self
            .wait_event(event_id, |e| {
                e["runs"].as_array().is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["status"] == status))
            })
            .await;
        let run_id = e["runs"][0]["id"].as_str().unwrap().to_string();
        self.get(&format!("/api/v1/runs/{run_id}")).await
    }

    /// Stops the server as SIGTERM would and returns its directories for a restart.
    pub async fn stop(mut self) -> (tempfile::TempDir, tempfile::TempDir) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        // The store's writer thread releases the directory lock when its last handle is gone.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (self.data.take().unwrap(), self.project.take().unwrap())
    }

    pub async fn restart(self, options: &Options) -> TestServer {
        let (data, project) = self.stop().await;
        restart_from(data, project, options).await
    }
}

/// Restarts `s` while `producing` publishes; afterwards exactly `total` events are stored, each
/// with its own delivery id, also once `settle` (the broker's redelivery delay) has passed.
pub async fn restart_while_producing(
    s: TestServer,
    options: &Options,
    producing: impl std::future::Future<Output = ()> + Send + 'static,
    total: usize,
    settle: Duration,
) -> TestServer {
    let producing = tokio::spawn(producing);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let s = s.restart(options).await;
    producing.await.unwrap();
    s.wait_events(total).await;
    tokio::time::sleep(settle).await;
    let events = s.events().await;
    assert_eq!(events.len(), total, "nothing lost, nothing twice");
    assert_eq!(unique_delivery_ids(&events), total);
    s
}

/// Starts a server again on directories a stopped one left.
pub async fn restart_from(data: tempfile::TempDir, project: tempfile::TempDir, options: &Options) -> TestServer {
    boot(data, project, options).await
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What the sink does with each request, in order: `(status, delay ms)`; the last repeats.
#[derive(Clone)]
pub struct SinkPlan(pub Vec<(u16, u64)>);

/// A request the sink received: headers and body.
type Received = (HashMap<String, String>, Value);

struct SinkState {
    plan: SinkPlan,
    received: Mutex<Vec<Received>>,
    /// (now, most at once)
    in_flight: Mutex<(usize, usize)>,
    count: Mutex<usize>,
}

/// A local HTTP endpoint for handlers to call.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<SinkState>,
}

async fn sink_handler(State(st): State<Arc<SinkState>>, headers: axum::http::HeaderMap, body: String) -> StatusCode {
    let n = {
        let mut c = st.count.lock().unwrap();
        *c += 1;
        *c - 1
    };
    {
        let mut f = st.in_flight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    let (status, delay) = st.plan.0[n.min(st.plan.0.len() - 1)];
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let h = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    st.received.lock().unwrap().push((h, serde_json::from_str(&body).unwrap_or(Value::String(body))));
    st.in_flight.lock().unwrap().0 -= 1;
    StatusCode::from_u16(status).unwrap()
}

impl Sink {
    pub async fn start(plan: SinkPlan) -> Sink {
        let state = Arc::new(SinkState {
            plan,
            received: Mutex::new(Vec::new()),
            in_flight: Mutex::new((0, 0)),
            count: Mutex::new(0),
        });
        let app = Router::new().fallback(any(sink_handler)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Sink { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every request's headers (lower-case names) and body, in order.
    pub fn received(&self) -> Vec<(HashMap<String, String>, Value)> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.state.received.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }

    pub fn max_concurrent(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }
}

/// Standard Webhooks headers made by the official Python library (`standardwebhooks`).
pub fn official_signature(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let script = r#"
import sys, datetime
from standardwebhooks.webhooks import Webhook
secret, msg_id, ts, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.stdin.read()
print(Webhook(secret).sign(msg_id, datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc), body))
"#;
    let out = piped("python3", &["-c", script, secret, msg_id, &timestamp.to_string()], None, body);
    out.trim().to_string()
}

/// Runs a program with `stdin` as its input and returns its output; panics with its errors
/// and `hint` (how to install what it needs) when it fails.
pub fn piped(program: &str, args: &[&str], dir: Option<&str>, stdin: &str) -> String {
    let mut cmd = std::process::Command::new(program);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is needed by this test: {e}"));
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} failed; scripts/test installs what the tests need (pip standardwebhooks slack-sdk, npm ci --prefix tests/npm): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts a server on a project made of `files` and returns why it refused to start.
pub async fn deploy_error(files: &[(&str, &str)]) -> String {
    onset_server::install_crypto_provider();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("onset.yaml"), "name: t\n").unwrap();
    std::fs::create_dir_all(project.path().join("components")).unwrap();
    for (path, text) in files {
        std::fs::write(project.path().join("components").join(path), text).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(data.path().to_path_buf());
    config.project = Some(project.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    onset_server::run(config, listener, CancellationToken::new()).await.expect_err("the deploy must fail").to_string()
}

/// A client that sends `Authorization: Bearer <token>` with every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// How many distinct delivery ids the events have.
pub fn unique_delivery_ids(events: &[Value]) -> usize {
    let mut ids: Vec<&str> = events.iter().filter_map(|e| e["delivery_id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// Starts a broker from the machine's packages (`/usr/sbin/<name>`, else on `PATH`) and waits
/// until it listens on `port`.
pub fn spawn_daemon(name: &str, args: &[String], port: u16) -> std::process::Child {
    let sbin = format!("/usr/sbin/{name}");
    let program = if std::path::Path::new(&sbin).exists() { sbin } else { name.to_string() };
    let mut child = std::process::Command::new(&program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} (its Debian package) runs these tests: {e}"));
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{name} did not start");
}

/// A port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Held by the tests that load the machine for a minute (the steady-load retention test, the
/// schemathesis run) and by those whose brokers time out when starved of CPU (Kafka's mock
/// cluster), so none of them overlaps another on two cores.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A provider's API faked by a script under tests/fakes (Python), answering on the port it prints
/// (`PORT n`); killed when dropped.
pub struct PyFake {
    child: std::process::Child,
    pub base: String,
}

impl Drop for PyFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root (for tests/fakes, tests/npm and test data).
pub fn repo_root() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../..")
}

pub fn py_fake(script: &str, args: &[&std::ffi::OsStr]) -> PyFake {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new("python3")
        .arg(format!("{}/tests/fakes/{script}", repo_root()))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 runs tests/fakes/{script}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("PORT ").unwrap_or_else(|| panic!("{script} said {line:?}")).to_string();
    PyFake { child, base: format!("http://127.0.0.1:{port}") }
}
