//! `--only postgres`: the PostgreSQL queue on its own — runs claimed and completed per second by
//! four workers (claims of up to 64 under one lease, completions with their lease) — next to
//! `pgbench -S` (read-only) and `pgbench -N` (simple writes) on the same server in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use onset_store::{Completion, NewEvent, NewRun, PgOptions, PgStore, RunStatus, Store};

fn database_url() -> String {
    std::env::var("ONSET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn psql(sql: &str) -> anyhow::Result<()> {
    let ok = std::process::Command::new("psql").arg(database_url()).args(["-qc", sql]).status()?.success();
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

pub async fn run(seconds: u64) -> anyhow::Result<()> {
    let schema = "onset_bench_queue";
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
    // Enough waiting runs that the workers never run dry.
    let total = 60_000u64;
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
                for run in claimed {
                    s.complete(Completion {
                        run_id: run.id,
                        lease: Some(token.clone()),
                        attempt: 1,
                        status: RunStatus::Succeeded,
                        finished_at: 2,
                        error: None,
                        error_step: None,
                        next_run_at: None,
                        steps: Vec::new(),
                    })
                    .await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
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
    let select = pgbench("-S", seconds, 8)?;
    let writes = pgbench("-N", seconds, 8)?;
    println!("\nPostgreSQL queue, 4 workers, claims of 64, {seconds} s each:\n");
    println!("| what | per second |");
    println!("|---|---|");
    println!("| onset runs claimed + completed (each completion its own transaction) | {per_sec:.0} |");
    println!("| pgbench -S (read-only transactions, 8 clients) | {select:.0} |");
    println!("| pgbench -N (simple write transactions, 8 clients) | {writes:.0} |");
    Ok(())
}
