//! Broker → stored event: messages/s of the `onset` binary consuming a JetStream stream of 1 KB
//! messages, next to an ack-only consumer on the same client crate (async-nats), both reading
//! the same pre-filled stream in the same run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt as _;

pub struct BrokerRow {
    pub label: String,
    pub per_sec: f64,
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("nothing listens on port {port}")
}

/// Publishes `n` messages of ~1 KB to `subject`, waiting for every acknowledgement.
async fn fill(js: &async_nats::jetstream::Context, subject: &str, n: usize) -> anyhow::Result<()> {
    let filler = "x".repeat(960);
    let mut pending = Vec::with_capacity(512);
    for i in 0..n {
        let body = format!("{{\"n\":{i},\"pad\":\"{filler}\"}}");
        pending.push(js.publish(subject.to_string(), body.into()).await?);
        if pending.len() == 512 {
            for p in pending.drain(..) {
                p.await?;
            }
        }
    }
    for p in pending {
        p.await?;
    }
    Ok(())
}

/// Consumes and acks `n` messages with a durable pull consumer: the client's own ceiling.
async fn ack_only(js: &async_nats::jetstream::Context, n: usize) -> anyhow::Result<f64> {
    let stream = js.get_stream("BENCH").await?;
    let consumer = stream
        .get_or_create_consumer(
            "ack-only",
            async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("ack-only".into()),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    let started = Instant::now();
    let mut seen = 0;
    while seen < n {
        let msg = messages.next().await.context("the stream ended")??;
        msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        seen += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Events accepted so far, from `/metrics`.
async fn accepted(client: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let text = client.get(format!("{base}/metrics")).send().await?.text().await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("onset_events_received_total") && l.contains("outcome=\"accepted\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

async fn onset(onset: &Path, nats_url: &str, n: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("components"))?;
    std::fs::write(project.join("onset.yaml"), "name: bench\n")?;
    // No handlers: every message is stored as an (unhandled) event; what is measured is
    // broker → stored event.
    std::fs::write(
        project.join("components/bench.yaml"),
        format!(
            "component: bench\ntrigger:\n  type: nats\n  with: {{ url: \"{nats_url}\", subject: \"bench.>\", stream: BENCH, max_in_flight: 512 }}\n"
        ),
    )?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let _server = Child(
        Command::new(onset)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--no-watch", "--project"])
            .arg(&project)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("ONSET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_port(port).await?;
    // Timed from the first stored event: the process start is not part of the rate.
    let mut first: Option<(Instant, u64)> = None;
    loop {
        let now = accepted(&client, &base).await?;
        if first.is_none() && now > 0 {
            first = Some((Instant::now(), now));
        }
        if now as usize >= n {
            let (t0, n0) = first.unwrap_or((started, 0));
            return Ok((now - n0) as f64 / t0.elapsed().as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("onset did not store {n} messages in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(ack-only consumer, onset)` rows for NATS JetStream.
pub async fn nats(onset_bin: &Path, n: usize) -> anyhow::Result<Vec<BrokerRow>> {
    let program = if Path::new("/usr/sbin/nats-server").exists() { "/usr/sbin/nats-server" } else { "nats-server" };
    let store = tempfile::tempdir()?;
    let port = free_port()?;
    let _nats = Child(
        Command::new(program)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("nats-server runs the NATS benchmark")?,
    );
    wait_port(port).await?;
    let url = format!("nats://127.0.0.1:{port}");
    let js = async_nats::jetstream::new(async_nats::connect(&url).await?);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        ..Default::default()
    })
    .await?;
    fill(&js, "bench.messages", n).await?;
    let reference = ack_only(&js, n).await?;
    let ours = onset(onset_bin, &url, n).await?;
    Ok(vec![
        BrokerRow { label: "NATS JetStream: async-nats ack-only consumer (reference)".into(), per_sec: reference },
        BrokerRow { label: "NATS JetStream: onset, message → stored event → ack".into(), per_sec: ours },
    ])
}
