//! `onset-bench`: ingest and end-to-end numbers for the `onset` binary next to two references
//! measured in the same run on the same machine. See the README for the command and a table.
#![recursion_limit = "256"]

mod brokers;
mod connector;
mod load;
mod payload;
mod postgres;
mod refs;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::routing::post;

use load::{Bodies, Outcome, SECRET, SendTimes, quantile_ms};

struct Options {
    duration: Duration,
    rate: u64,
    concurrencies: Vec<usize>,
    onset: PathBuf,
    /// Scenario names to run: bare, sqlite, paused, ed25519, running, open, observed, pruning, connector, brokers or
    /// one broker; postgres only when named.
    only: Vec<String>,
    /// Repeats of each side of the `observed` comparison.
    repeats: usize,
}

impl Options {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

fn parse_options() -> anyhow::Result<Options> {
    let mut o = Options {
        duration: Duration::from_secs(4),
        rate: 1000,
        concurrencies: vec![1, 16, 64],
        onset: std::env::current_exe()?.with_file_name("onset"),
        only: Vec::new(),
        repeats: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => o.duration = Duration::from_secs(value.parse().context("--seconds is a whole number")?),
            "--rate" => o.rate = value.parse().context("--rate is events per second")?,
            "--concurrency" => {
                o.concurrencies = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .context("--concurrency is like 1,16,64")?
            }
            "--onset" => o.onset = PathBuf::from(value),
            "--only" => o.only = value.split(',').map(str::to_string).collect(),
            "--repeats" => o.repeats = value.parse().context("--repeats is a whole number")?,
            other => bail!(
                "unknown flag {other}; flags: --seconds N, --rate N, --concurrency 1,16,64, --onset PATH, --repeats N, \
                 --only bare,sqlite,paused,ed25519,running,open,observed,gateway,pruning,connector,postgres,brokers (or nats,rabbitmq,mqtt,kafka,sqs)"
            ),
        }
    }
    if !o.onset.exists() {
        bail!("no onset binary at {}; build it with `cargo build --release -p onset-cli`", o.onset.display());
    }
    Ok(o)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Bare,
    Sqlite,
    OnsetPaused,
    /// Durable ingest like `OnsetPaused`, verified with an Ed25519 preset instead of HMAC.
    OnsetEd25519,
    OnsetRunning,
    /// Durable ingest like `OnsetPaused`, behind an API key (a subscribed application's) and an
    /// API-level rate limit that is never reached.
    OnsetKeyed,
    /// The same behind an OAuth2 JWT of Onset's token server (the subscribed application's).
    OnsetOAuth2,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Bare => "bare",
            Target::Sqlite => "sqlite",
            Target::OnsetPaused => "paused",
            Target::OnsetEd25519 => "ed25519",
            Target::OnsetRunning => "running",
            Target::OnsetKeyed => "keyed",
            Target::OnsetOAuth2 => "oauth2",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Target::Bare => "bare axum 200 (reference)",
            Target::Sqlite => "SQLite WAL append, batched (reference)",
            Target::OnsetPaused => "onset, durable ingest (component paused)",
            Target::OnsetEd25519 => "onset, durable ingest, Ed25519 preset (component paused)",
            Target::OnsetRunning => "onset, ingest + 5-step runs ending in HTTP",
            Target::OnsetKeyed => "onset, durable ingest, API key + unreached rate limit (component paused)",
            Target::OnsetOAuth2 => "onset, durable ingest, OAuth2 JWT + unreached rate limit (component paused)",
        }
    }
}

const COMPONENT: &str = r##"
component: github
trigger:
  type: http
  with:
    verify: { scheme: standard-webhooks, secret: "{{ config.secret }}" }
config:
  secret: { type: secret }
  sink: { type: string }
handlers:
  "/":
    POST:
      steps:
        - id: issue
          map: { number: "{{ event.issue.number }}", title: "{{ event.issue.title }}", seq: "{{ event.bench_seq }}" }
        - set: { labels: "{{ event.issue.labels | map(attribute='name') | join(', ') }}" }
        - log: "issue {{ steps.issue.output.number }} labelled {{ vars.labels }}"
          level: debug
        - id: notice
          map: { text: "#{{ steps.issue.output.number }} {{ steps.issue.output.title }}", seq: "{{ steps.issue.output.seq }}" }
        - call: http.request
          with: { method: POST, url: "{{ config.sink }}", body: { seq: "{{ steps.notice.output.seq }}" } }
"##;

struct Running {
    child: std::process::Child,
    dir: tempfile::TempDir,
    base: String,
    /// For `OnsetKeyed` and `OnsetOAuth2`: the header a subscribed application sends (its
    /// sandbox key, or a bearer token).
    credential: Option<(&'static str, String)>,
}

impl Running {
    fn peak_rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start(target: Target, opts: &Options, sink: &str, client: &reqwest::Client) -> anyhow::Result<Running> {
    start_with(target, opts, sink, client, &[]).await
}

/// Like [`start`], with more `onset serve` flags.
async fn start_with(
    target: Target,
    opts: &Options,
    sink: &str,
    client: &reqwest::Client,
    extra: &[String],
) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let me = std::env::current_exe()?;
    let child = match target {
        Target::Bare => Command::new(me).args(["serve-bare", &addr]).stderr(Stdio::inherit()).spawn()?,
        Target::Sqlite => Command::new(me)
            .args(["serve-sqlite", &addr, &dir.path().display().to_string()])
            .stderr(Stdio::inherit())
            .spawn()?,
        Target::OnsetPaused
        | Target::OnsetEd25519
        | Target::OnsetRunning
        | Target::OnsetKeyed
        | Target::OnsetOAuth2 => {
            let project = dir.path().join("project");
            std::fs::create_dir_all(project.join("components"))?;
            std::fs::write(project.join("onset.yaml"), "name: bench\n")?;
            let component = match target {
                Target::OnsetEd25519 => {
                    let key = Bodies::ed25519().public_key().unwrap_or_default();
                    COMPONENT.replace(
                        "{ scheme: standard-webhooks, secret: \"{{ config.secret }}\" }",
                        &format!("{{ preset: standard-webhooks, public_key: \"{key}\" }}"),
                    )
                }
                Target::OnsetKeyed => COMPONENT.replace(
                    "    verify: { scheme: standard-webhooks, secret: \"{{ config.secret }}\" }\n",
                    "    verify: { scheme: standard-webhooks, secret: \"{{ config.secret }}\" }\n    security: { scheme: api_key, in: header, name: x-api-key }\n    rate_limit: 1000000000/s\n",
                ),
                Target::OnsetOAuth2 => COMPONENT.replace(
                    "    verify: { scheme: standard-webhooks, secret: \"{{ config.secret }}\" }\n",
                    "    verify: { scheme: standard-webhooks, secret: \"{{ config.secret }}\" }\n    security: { scheme: oauth2, scopes: { /: { POST: [events:write] } } }\n    rate_limit: 1000000000/s\n",
                ),
                _ => COMPONENT.to_string(),
            };
            std::fs::write(project.join("components/github.yaml"), component)?;
            Command::new(&opts.onset)
                .args(["serve", "--no-watch", "--listen", &addr])
                .arg("--project")
                .arg(&project)
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(extra)
                .env("ONSET_CONFIG__GITHUB__SECRET", SECRET)
                .env("ONSET_CONFIG__GITHUB__SINK", sink)
                .env("ONSET_LOG", "warn")
                .stderr(Stdio::inherit())
                .spawn()?
        }
    };
    let mut running = Running { child, dir, base: format!("http://{addr}"), credential: None };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = match target {
            Target::Bare | Target::Sqlite => tokio::net::TcpStream::connect(&addr).await.is_ok(),
            _ => client.get(format!("{}/readyz", running.base)).send().await.is_ok_and(|r| r.status().is_success()),
        };
        if ready {
            break;
        }
        if Instant::now() > deadline {
            bail!("{} did not start", target.label());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if matches!(target, Target::OnsetPaused | Target::OnsetEd25519 | Target::OnsetKeyed | Target::OnsetOAuth2) {
        let token = std::fs::read_to_string(running.dir.path().join("data/admin-token"))
            .context("the server writes its admin token at the first start")?;
        if matches!(target, Target::OnsetKeyed | Target::OnsetOAuth2) {
            let (key, client_id, secret) = subscribed(client, &running.base, token.trim()).await?;
            running.credential = Some(if target == Target::OnsetKeyed {
                ("x-api-key", key)
            } else {
                ("authorization", format!("Bearer {}", access_token(client, &running.base, &client_id, &secret).await?))
            });
        }
        let r = client
            .post(format!("{}/api/v1/components/github/pause", running.base))
            .bearer_auth(token.trim())
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("cannot pause the bench component: {}", r.status());
        }
    }
    Ok(running)
}

/// A token of Onset's authorization server for the application.
async fn access_token(client: &reqwest::Client, base: &str, client_id: &str, secret: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("no token for the bench application: {}", r.status());
    }
    let answer: serde_json::Value = r.json().await?;
    Ok(answer["access_token"].as_str().context("an access token")?.to_string())
}

/// An application subscribed to the bench component under the Unlimited plan: its sandbox key,
/// client id and client secret.
async fn subscribed(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<(String, String, String)> {
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).bearer_auth(token).json(&body).send()
    };
    let app: serde_json::Value =
        post("/api/v1/applications", serde_json::json!({ "name": "bench" })).await?.json().await?;
    let id = app["id"].as_str().context("an application id")?.to_string();
    let client_id = app["client_id"].as_str().context("a client id")?.to_string();
    let secret = app["client_secret"].as_str().context("a client secret")?.to_string();
    let keys: serde_json::Value =
        post(&format!("/api/v1/applications/{id}/keys"), serde_json::json!({})).await?.json().await?;
    let r = post(
        "/api/v1/subscriptions",
        serde_json::json!({ "application": id, "component": "github", "plan": "Unlimited" }),
    )
    .await?;
    if !r.status().is_success() {
        bail!("cannot subscribe the bench application: {}", r.status());
    }
    Ok((keys["sandbox"].as_str().context("a sandbox key")?.to_string(), client_id, secret))
}

/// The cost of API management at the ingress: durable ingest (component paused) without
/// security, with an API key check and with an OAuth2 JWT (each with an API-level rate limit that
/// is never reached), interleaved `--repeats` times at concurrency 16; medians compared.
async fn gateway(
    opts: &Options,
    client: &reqwest::Client,
    bodies: &Arc<Bodies>,
    current: &CurrentArrivals,
    sink_url: &str,
    capacity: usize,
) -> anyhow::Result<()> {
    let c = 16;
    let sides = [Target::OnsetPaused, Target::OnsetKeyed, Target::OnsetOAuth2];
    println!("\nAPI management cost, concurrency {c}, {} interleaved repeats of each side:\n", opts.repeats);
    println!("| scenario | none accepted/s (median) | with accepted/s (median) | with ÷ none | within 10% |");
    println!("|---|---|---|---|---|");
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for i in 0..opts.repeats * sides.len() {
        let target = sides[i % sides.len()];
        let times = track_arrivals(current, capacity).times.clone();
        let server = start_with(target, opts, sink_url, client, &[]).await?;
        let with = match &server.credential {
            Some((name, value)) => {
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(*name, value.parse()?);
                reqwest::Client::builder().default_headers(headers).pool_max_idle_per_host(64).build()?
            }
            None => client.clone(),
        };
        let url = format!("{}/hooks/development/github", server.base);
        let out = load::closed_loop(&with, &url, bodies, &times, &format!("g{i}"), c, opts.duration).await;
        if out.refused > 0 && server.credential.is_some() {
            bail!("{} requests were refused with credentials: the limit must never be reached", out.refused);
        }
        rates[i % sides.len()].push(out.accepted as f64 / out.elapsed.as_secs_f64());
        drop(server);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let none = median(&mut rates[0]);
    for (side, rates) in sides.iter().zip(rates.iter_mut()).skip(1) {
        let with = median(rates);
        let ratio = with / none;
        println!(
            "| {} | {none:.0} | {with:.0} | {:.0}% | {} |",
            side.label(),
            100.0 * ratio,
            if ratio >= 0.9 { "yes" } else { "no" }
        );
    }
    Ok(())
}

/// Arrival times at the sink (ns since the send-time origin), by sequence number.
struct Arrivals {
    times: Arc<SendTimes>,
    arrived: Vec<AtomicU64>,
}

type CurrentArrivals = Arc<std::sync::RwLock<Option<Arc<Arrivals>>>>;

/// Fresh send times and arrival slots for one measured run, made the ones the sink records into.
fn track_arrivals(current: &CurrentArrivals, capacity: usize) -> Arc<Arrivals> {
    let arrivals = Arc::new(Arrivals {
        times: SendTimes::new(capacity),
        arrived: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
    });
    if let Ok(mut g) = current.write() {
        *g = Some(arrivals.clone());
    }
    arrivals
}

async fn sink_handler(State(state): State<Arc<std::sync::RwLock<Option<Arc<Arrivals>>>>>, body: axum::body::Bytes) {
    let now = Instant::now();
    let seq = serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v["seq"].as_u64());
    let current = state.read().ok().and_then(|g| g.clone());
    if let (Some(seq), Some(a)) = (seq, current)
        && let Some(slot) = a.arrived.get(seq as usize)
    {
        slot.store(now.duration_since(a.times.origin).as_nanos() as u64, Ordering::Relaxed);
    }
}

/// End-to-end latencies (µs) of accepted requests whose run reached the sink, and how many did not.
async fn end_to_end(arrivals: &Arrivals, accepted: &[u64]) -> (Vec<u64>, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let missing = accepted.iter().filter(|&&s| arrivals.arrived[s as usize].load(Ordering::Relaxed) == 0).count();
        if missing == 0 || Instant::now() > deadline {
            let lat = accepted
                .iter()
                .filter_map(|&s| {
                    let arrived = arrivals.arrived[s as usize].load(Ordering::Relaxed);
                    let sent = arrivals.times.get(s)?;
                    (arrived > 0).then(|| arrived.saturating_sub(sent) / 1000)
                })
                .collect();
            return (lat, missing);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Row {
    label: String,
    concurrency: String,
    per_sec: f64,
    ack: (f64, f64),
    e2e: Option<(f64, f64, usize)>,
}

fn fmt_ms(v: f64) -> String {
    if v.is_nan() { "—".into() } else { format!("{v:.2}") }
}

async fn run() -> anyhow::Result<()> {
    let opts = parse_options()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let bodies = Arc::new(Bodies::new());
    let ed25519_bodies = Arc::new(Bodies::ed25519());

    let current: Arc<std::sync::RwLock<Option<Arc<Arrivals>>>> = Arc::default();
    let sink_app = Router::new().route("/", post(sink_handler)).with_state(current.clone());
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/", sink_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(sink_listener, sink_app).await });

    println!("body: {} bytes (GitHub issues.opened shape), signed with Standard Webhooks", bodies.size());
    println!(
        "each cell: {}s of load; machine: {} cores\n",
        opts.duration.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut rows = Vec::new();
    let mut peak_rss_kb = 0;
    let mut sqlite_ref = std::collections::HashMap::new();
    let capacity = 2_000_000;
    let broker_wanted = opts.wants("brokers") || brokers::NAMES.iter().any(|b| opts.wants(b));
    for target in [Target::Bare, Target::Sqlite, Target::OnsetPaused, Target::OnsetEd25519, Target::OnsetRunning] {
        // A broker table is set against the SQLite reference of the same run.
        let as_reference = target == Target::Sqlite && broker_wanted && !opts.only.is_empty();
        if !opts.wants(target.name()) && !as_reference {
            continue;
        }
        let concurrencies = if as_reference && !opts.wants("sqlite") { vec![64] } else { opts.concurrencies.clone() };
        for &c in &concurrencies {
            let arrivals = track_arrivals(&current, capacity);
            let times = arrivals.times.clone();
            let server = start(target, &opts, &sink_url, &client).await?;
            let url = format!("{}/hooks/development/github", server.base);
            let run_id = format!("c{c}");
            let signer = if target == Target::OnsetEd25519 { &ed25519_bodies } else { &bodies };
            let mut out: Outcome = load::closed_loop(&client, &url, signer, &times, &run_id, c, opts.duration).await;
            let per_sec = out.accepted as f64 / out.elapsed.as_secs_f64();
            let e2e = if target == Target::OnsetRunning {
                let (mut lat, missing) = end_to_end(&arrivals, &out.accepted_seqs).await;
                Some((quantile_ms(&mut lat, 0.5), quantile_ms(&mut lat, 0.99), missing))
            } else {
                None
            };
            if matches!(target, Target::OnsetPaused | Target::OnsetEd25519 | Target::OnsetRunning) {
                peak_rss_kb = peak_rss_kb.max(server.peak_rss_kb().unwrap_or(0));
            }
            if target == Target::Sqlite {
                sqlite_ref.insert(c, per_sec);
            }
            if out.refused > 0 {
                println!("  note: {} at concurrency {c} refused {} requests", target.label(), out.refused);
            }
            rows.push(Row {
                label: target.label().into(),
                concurrency: c.to_string(),
                per_sec,
                ack: (quantile_ms(&mut out.ack_us, 0.5), quantile_ms(&mut out.ack_us, 0.99)),
                e2e,
            });
            drop(server);
        }
    }

    if opts.wants("connector") {
        connector::run(opts.duration).await?;
    }
    if opts.wants("observed") {
        observed(&opts, &client, &bodies, &current, &sink_url, capacity).await?;
    }
    if opts.wants("gateway") {
        gateway(&opts, &client, &bodies, &current, &sink_url, capacity).await?;
    }
    if opts.only.iter().any(|o| o == "postgres") {
        postgres::run(opts.duration.as_secs().max(1), &opts.onset).await?;
    }
    if opts.wants("pruning") {
        pruning(&opts, &client, &bodies, &current, &sink_url, capacity).await?;
    }

    // Steady rate, open loop: latency counted from each request's scheduled time.
    if opts.wants("open") {
        let row = open_loop_row(&opts, &client, &bodies, &current, &sink_url, capacity, &mut peak_rss_kb).await?;
        rows.push(row);
    }

    let brokers: Vec<&str> =
        brokers::NAMES.iter().copied().filter(|b| opts.wants(b) || opts.wants("brokers")).collect();
    if !brokers.is_empty() {
        let mut table = Vec::new();
        for b in brokers {
            table.push(brokers::run(b, &opts.onset).await.with_context(|| format!("the {b} benchmark"))?);
        }
        // The SQLite durable-ingest reference of the same run, at its best concurrency.
        let sqlite_best = sqlite_ref.values().copied().fold(f64::NAN, f64::max);
        println!("\nbroker → stored event, messages of 1 KB the broker already holds, same run:\n");
        println!(
            "| broker | ack-only consumer msg/s (client) | onset msg/s | SQLite ref /s | onset ÷ smaller ref | ≥ 70% |"
        );
        println!("|---|---|---|---|---|---|");
        for r in &table {
            let smaller = if sqlite_best.is_nan() { r.ack_only } else { r.ack_only.min(sqlite_best) };
            let ratio = r.onset / smaller;
            println!(
                "| {} | {:.0} ({}) | {:.0} | {} | {:.0}% | {} |",
                r.broker,
                r.ack_only,
                r.client,
                r.onset,
                if sqlite_best.is_nan() { "—".to_string() } else { format!("{sqlite_best:.0}") },
                100.0 * ratio,
                if ratio >= 0.7 { "yes" } else { "no" }
            );
        }
        println!();
    }
    print_report(&rows, &sqlite_ref, peak_rss_kb);
    print_ed25519_ratio(&rows);
    Ok(())
}

async fn open_loop_row(
    opts: &Options,
    client: &reqwest::Client,
    bodies: &Arc<Bodies>,
    current: &CurrentArrivals,
    sink_url: &str,
    capacity: usize,
    peak_rss_kb: &mut u64,
) -> anyhow::Result<Row> {
    let arrivals = track_arrivals(current, capacity);
    let times = arrivals.times.clone();
    let server = start(Target::OnsetRunning, opts, sink_url, client).await?;
    let url = format!("{}/hooks/development/github", server.base);
    let mut out = load::open_loop(client, &url, bodies, &times, "open", opts.rate, opts.duration).await;
    let (mut lat, missing) = end_to_end(&arrivals, &out.accepted_seqs).await;
    *peak_rss_kb = (*peak_rss_kb).max(server.peak_rss_kb().unwrap_or(0));
    Ok(Row {
        label: format!("onset, ingest + runs, open loop at {}/s", opts.rate),
        concurrency: "—".into(),
        per_sec: out.accepted as f64 / out.elapsed.as_secs_f64(),
        ack: (quantile_ms(&mut out.ack_us, 0.5), quantile_ms(&mut out.ack_us, 0.99)),
        e2e: Some((quantile_ms(&mut lat, 0.5), quantile_ms(&mut lat, 0.99), missing)),
    })
}

/// The cost of observability: the same ingest and ingest + runs rows with metric series and
/// tracing off (`--no-series`, no OTLP endpoint) and on (series, every event traced, spans sent
/// to a local OTLP receiver), interleaved off/on `--repeats` times; medians compared.
async fn observed(
    opts: &Options,
    client: &reqwest::Client,
    bodies: &Arc<Bodies>,
    current: &CurrentArrivals,
    sink_url: &str,
    capacity: usize,
) -> anyhow::Result<()> {
    let spans = Arc::new(AtomicU64::new(0));
    let counted = spans.clone();
    let receiver = Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(body.len() as u64, Ordering::Relaxed);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let otlp = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let off = vec!["--no-series".to_string()];
    let on = vec!["--otlp-endpoint".to_string(), otlp, "--otlp-sample-ratio".to_string(), "1".to_string()];
    let c = 16;
    println!("\nobservability cost, concurrency {c}, {} interleaved repeats of each side:\n", opts.repeats);
    println!("| scenario | off accepted/s (median) | on accepted/s (median) | on ÷ off | within 10% |");
    println!("|---|---|---|---|---|");
    for target in [Target::OnsetPaused, Target::OnsetRunning] {
        let (mut offs, mut ons) = (Vec::new(), Vec::new());
        for i in 0..opts.repeats * 2 {
            let flags = if i % 2 == 0 { &off } else { &on };
            let times = track_arrivals(current, capacity).times.clone();
            let server = start_with(target, opts, sink_url, client, flags).await?;
            let url = format!("{}/hooks/development/github", server.base);
            let out = load::closed_loop(client, &url, bodies, &times, &format!("o{i}"), c, opts.duration).await;
            let per_sec = out.accepted as f64 / out.elapsed.as_secs_f64();
            if i % 2 == 0 {
                offs.push(per_sec)
            } else {
                ons.push(per_sec)
            }
            drop(server);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (off_med, on_med) = (median(&mut offs), median(&mut ons));
        let ratio = on_med / off_med;
        println!(
            "| {} | {off_med:.0} | {on_med:.0} | {:.0}% | {} |",
            target.label(),
            100.0 * ratio,
            if ratio >= 0.9 { "yes" } else { "no" }
        );
    }
    println!("\nspans received by the local OTLP receiver: {} KB", spans.load(Ordering::Relaxed) / 1024);
    Ok(())
}

/// Whether pruning holds ingest up: ingest + runs with retention at 1 s, pruned every second
/// (so each prune deletes a second's worth of events, runs and steps while new ones arrive),
/// against the defaults (nothing old enough to prune), interleaved `--repeats` times; medians
/// of throughput and of the ack p99 and worst ack, and how many events were pruned.
async fn pruning(
    opts: &Options,
    client: &reqwest::Client,
    bodies: &Arc<Bodies>,
    current: &CurrentArrivals,
    sink_url: &str,
    capacity: usize,
) -> anyhow::Result<()> {
    let off: Vec<String> = Vec::new();
    let on: Vec<String> =
        ["--retain-succeeded", "1s", "--retain-failed", "1s", "--prune-every", "1s"].map(String::from).to_vec();
    let c = 16;
    let (mut offs, mut ons) = (Vec::new(), Vec::new());
    let mut pruned = 0u64;
    for i in 0..opts.repeats * 2 {
        let flags = if i % 2 == 0 { &off } else { &on };
        let times = track_arrivals(current, capacity).times.clone();
        let server = start_with(Target::OnsetRunning, opts, sink_url, client, flags).await?;
        let url = format!("{}/hooks/development/github", server.base);
        let mut out = load::closed_loop(client, &url, bodies, &times, &format!("p{i}"), c, opts.duration).await;
        let row = (
            out.accepted as f64 / out.elapsed.as_secs_f64(),
            quantile_ms(&mut out.ack_us, 0.99),
            quantile_ms(&mut out.ack_us, 1.0),
        );
        if i % 2 == 0 {
            offs.push(row);
        } else {
            ons.push(row);
            let metrics = client.get(format!("{}/metrics", server.base)).send().await?.text().await?;
            pruned += metrics
                .lines()
                .filter(|l| l.starts_with("onset_pruned_events_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64;
        }
        drop(server);
    }
    let median = |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    println!("\npruning while ingesting, concurrency {c}, {} interleaved repeats of each side:\n", opts.repeats);
    println!("| retention | accepted/s (median) | ack p99 ms (median) | worst ack ms (median) |");
    println!("|---|---|---|---|");
    for (label, rows) in [("defaults (nothing to prune)", &offs), ("1s, pruned every second", &ons)] {
        println!(
            "| {label} | {:.0} | {} | {} |",
            median(rows, |r| r.0),
            fmt_ms(median(rows, |r| r.1)),
            fmt_ms(median(rows, |r| r.2))
        );
    }
    println!(
        "\npruned while the load ran: {pruned} events; throughput with pruning ÷ without: {:.0}%",
        100.0 * median(&ons, |r| r.0) / median(&offs, |r| r.0)
    );
    Ok(())
}

/// Durable ingest verified with Ed25519 against the same with HMAC, per concurrency (no gate).
fn print_ed25519_ratio(rows: &[Row]) {
    let of = |target: Target, c: &str| rows.iter().find(|r| r.label == target.label() && r.concurrency == c);
    let cells: Vec<String> = rows
        .iter()
        .filter(|r| r.label == Target::OnsetEd25519.label())
        .filter_map(|ed| {
            of(Target::OnsetPaused, &ed.concurrency)
                .map(|hmac| format!("c{} {:.0}%", ed.concurrency, 100.0 * ed.per_sec / hmac.per_sec))
        })
        .collect();
    if !cells.is_empty() {
        println!("Ed25519 preset ÷ HMAC (Standard Webhooks v1), durable ingest, same run: {}", cells.join(", "));
    }
}

fn print_report(rows: &[Row], sqlite_ref: &std::collections::HashMap<usize, f64>, peak_rss_kb: u64) {
    if rows.is_empty() {
        // Only scenarios with their own tables ran (connector, brokers, postgres…).
        return;
    }
    println!(
        "| scenario | concurrency | accepted/s | vs SQLite ref | ack p50 ms | ack p99 ms | e2e p50 ms | e2e p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ratio = r
            .concurrency
            .parse::<usize>()
            .ok()
            .and_then(|c| sqlite_ref.get(&c))
            .map_or("—".to_string(), |base| format!("{:.0}%", 100.0 * r.per_sec / base));
        let (e50, e99) = match r.e2e {
            Some((p50, p99, 0)) => (fmt_ms(p50), fmt_ms(p99)),
            Some((p50, p99, missing)) => (fmt_ms(p50), format!("{} ({missing} missing)", fmt_ms(p99))),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            r.label,
            r.concurrency,
            r.per_sec,
            ratio,
            fmt_ms(r.ack.0),
            fmt_ms(r.ack.1),
            e50,
            e99
        );
    }
    println!("\npeak RSS of onset (VmHWM, max over its runs): {:.1} MB", peak_rss_kb as f64 / 1024.0);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.get(1).map(String::as_str) {
            Some("serve-bare") => refs::serve_bare(args.get(2).map_or("127.0.0.1:0", String::as_str)).await,
            Some("serve-sqlite") => {
                let dir = args.get(3).map(Path::new).unwrap_or(Path::new("."));
                refs::serve_sqlite(args.get(2).map_or("127.0.0.1:0", String::as_str), &dir.display().to_string()).await
            }
            _ => run().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
