//! `--only postgres`: the PostgreSQL queue on its own — runs claimed and completed per second by
//! four workers (claims of up to 64 under one lease, completions with their lease, one by one or
//! in one transaction per claim) — next to `pgbench -S` (read-only) and `pgbench -N` (simple
//! writes) on the same server in the same run; then end to end, one ingress process and 1, 2
//! and 3 worker processes on one database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use std::path::Path;

use onset_store::{Completion, NewEvent, NewRun, NewStep, PgOptions, PgStore, RunStatus, Store};

fn database_url() -> String {
    std::env::var("ONSET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(sql: &str) -> anyhow::Result<()> {
    let ok = std::process::Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .arg(database_url())
        .args(["-qc", sql])
        .status()?
        .success();
    anyhow::ensure!(ok, "psql failed: {sql}");
    Ok(())
}

/// `pgbench` for `seconds` with `clients` clients in a schema of its own; its TPS.
fn pgbench(mode: &str, seconds: u64, clients: usize) -> anyhow::Result<f64> {
    let schema = "onset_bench_pgbench";
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))?;
    let run = |args: &[&str]| {
        std::process::Command::new("pgbench")
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-U")
            .arg("postgres")
            .args(args)
            .arg("test")
            .env("PGOPTIONS", format!("-c search_path={schema}"))
            .output()
    };
    let init = run(&["-i", "-q", "-s", "1"])?;
    anyhow::ensure!(init.status.success(), "pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
    let out = run(&[mode, "-T", &seconds.to_string(), "-c", &clients.to_string(), "-j", "2"])?;
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = ").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()))
        .with_context(|| format!("no tps in pgbench's output: {text}"))
}

fn event(i: u64) -> NewEvent {
    NewEvent {
        id: format!("e{i:08}"),
        component: "bench".into(),
        environment: "development".into(),
        channel: "/".into(),
        event: "POST".into(),
        delivery_id: None,
        received_at: 0,
        headers: "{}".into(),
        query: "{}".into(),
        params: "{}".into(),
        payload: bytes::Bytes::from_static(b"{}"),
        runs: vec![NewRun {
            id: format!("r{i:08}"),
            channel: "/".into(),
            event: "POST".into(),
            handler: "POST /".into(),
            deployment_id: "d".into(),
            max_attempts: 1,
        }],
        trace: None,
    }
}

/// Fills a fresh schema with `total` waiting runs; the store over it.
async fn filled(schema: &str, total: u64) -> anyhow::Result<Arc<dyn Store>> {
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    let store: Arc<dyn Store> = Arc::new(
        PgStore::connect(&PgOptions {
            schema: Some(schema.into()),
            max_connections: 12,
            ..PgOptions::new(database_url())
        })
        .await
        .context("PostgreSQL for --only postgres (ONSET_TEST_DATABASE_URL)")?,
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut fill = Vec::new();
    for _ in 0..8 {
        let (s, next) = (store.clone(), next.clone());
        fill.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), onset_store::StoreError>(());
                }
                s.ingest(event(i)).await?;
            }
        }));
    }
    for f in fill {
        f.await??;
    }
    // What autovacuum does to a table this size soon after it is filled: without statistics the
    // planner does not know the queue's index suits a claim.
    psql(&format!("ANALYZE {schema}.runs"))?;
    Ok(store)
}

fn succeeded(run_id: String, lease: &str) -> Completion {
    Completion {
        run_id,
        lease: Some(lease.to_string()),
        attempt: 1,
        status: RunStatus::Succeeded,
        finished_at: 2,
        error: None,
        error_step: None,
        next_run_at: None,
        steps: vec![NewStep {
            logs: None,
            path: "0".into(),
            id: None,
            name: None,
            kind: "map",
            status: "succeeded",
            input: None,
            output: Some(r#"{"ok":true}"#.into()),
            error: None,
            started_at: 1,
            duration_ms: 0.1,
        }],
    }
}

/// Runs claimed (64 at a time) and completed per second by four workers for `seconds`, each
/// completion its own transaction or each claim's completions in one.
async fn queue_rate(seconds: u64, batched: bool) -> anyhow::Result<f64> {
    let schema = "onset_bench_queue";
    let store = filled(schema, if batched { 150_000 } else { 40_000 }).await?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..4 {
        let (s, done) = (store.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let token = format!("w{w}-{n}");
                let claimed = s.claim(token.clone(), 64, 1, i64::MAX).await?;
                if claimed.is_empty() {
                    break;
                }
                let count = claimed.len() as u64;
                if batched {
                    s.complete_batch(claimed.into_iter().map(|r| succeeded(r.id, &token)).collect()).await?;
                } else {
                    for run in claimed {
                        s.complete(succeeded(run.id, &token)).await?;
                    }
                }
                done.fetch_add(count, Ordering::Relaxed);
            }
            Ok::<(), onset_store::StoreError>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let per_sec = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    drop(store);
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    Ok(per_sec)
}

const CLUSTER_COMPONENT: &str = r#"
component: work
trigger: { type: http }
handlers:
  "/":
    POST:
      steps:
        - id: shaped
          map: { n: "{{ event.n }}", doubled: "{{ event.n * 2 }}" }
        - log: "{{ steps.shaped.output.doubled }}"
          level: debug
"#;

/// One `onset serve` process of the cluster rows.
struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// End to end on one database: an ingress node takes `events` events at concurrency 64 and
/// `workers` worker processes run them; events per second from the first send to the last run's
/// end.
async fn cluster_rate(onset: &Path, workers: usize, events: u64) -> anyhow::Result<f64> {
    let schema = format!("onset_bench_cluster_{workers}");
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("components"))?;
    std::fs::write(project.join("onset.yaml"), "name: bench\n")?;
    std::fs::write(project.join("components/work.yaml"), CLUSTER_COMPONENT)?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(128).build()?;
    let mut nodes = Vec::new();
    let mut ingress = String::new();
    for i in 0..=workers {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let role = if i == 0 { "ingress" } else { "worker" };
        let child = std::process::Command::new(onset)
            .args(["serve", "--no-watch", "--role", role, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--project")
            .arg(&project)
            .arg("--data-dir")
            .arg(dir.path().join(format!("data{i}")))
            .args(["--database-url", &database_url(), "--database-schema", &schema])
            .env("ONSET_ADMIN_TOKEN", "onset_bench_cluster_admin_token_0123456789")
            .env("ONSET_MASTER_KEY", "ab".repeat(32))
            .env("ONSET_LOG", "warn")
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .with_context(|| format!("{} (build it: cargo build --release -p onset-cli)", onset.display()))?;
        nodes.push(Node(child));
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            anyhow::ensure!(Instant::now() < deadline, "node {i} did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if i == 0 {
            ingress = base;
        }
    }
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..64 {
        let (client, next, url) = (client.clone(), next.clone(), format!("{ingress}/hooks/development/work"));
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    return Ok::<(), anyhow::Error>(());
                }
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(format!("{{\"n\":{n}}}"))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 202, "the ingress node answered {}", r.status());
            }
        }));
    }
    for s in senders {
        s.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = std::process::Command::new("psql")
            .arg(database_url())
            .args(["-Atc", &format!("SELECT count(*) FROM {schema}.runs WHERE finished_at IS NOT NULL")])
            .output()?;
        let done: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        if done >= events {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {done} of {events} runs ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let per_sec = events as f64 / started.elapsed().as_secs_f64();
    let out = std::process::Command::new("psql")
        .arg(database_url())
        .args(["-Atc", &format!("SELECT count(*) FROM {schema}.runs WHERE status <> 'succeeded'")])
        .output()?;
    let failed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    anyhow::ensure!(failed == "0", "{failed} runs of the cluster rows did not succeed");
    drop(nodes);
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    Ok(per_sec)
}

pub async fn run(seconds: u64, onset: &Path) -> anyhow::Result<()> {
    let single = queue_rate(seconds, false).await?;
    let batched = queue_rate(seconds, true).await?;
    let select = pgbench("-S", seconds, 8)?;
    let writes = pgbench("-N", seconds, 8)?;
    let events = 3_000 * seconds.max(1);
    let mut cluster = Vec::new();
    for workers in 1..=3 {
        cluster.push((workers, cluster_rate(onset, workers, events).await?));
    }
    println!("\nPostgreSQL queue, 4 workers, claims of 64, {seconds} s each (one step record per run):\n");
    println!("| what | per second |");
    println!("|---|---|");
    println!("| onset runs claimed + completed, each completion its own transaction | {single:.0} |");
    println!("| onset runs claimed + completed, a claim's completions in one transaction | {batched:.0} |");
    println!("| pgbench -S (read-only transactions, 8 clients) | {select:.0} |");
    println!("| pgbench -N (simple write transactions, 8 clients) | {writes:.0} |");
    println!("\nEnd to end on PostgreSQL: one ingress node, {events} events at concurrency 64, a 2-step handler:\n");
    println!("| worker processes | events per second (first send to last run's end) |");
    println!("|---|---|");
    for (workers, rate) in cluster {
        println!("| {workers} | {rate:.0} |");
    }
    Ok(())
}
