//! NATS triggers against a real nats-server (one per test, on its own port and store), with
//! messages published by NATS's own Rust client.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

pub struct NatsServer {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn_nats(port, dir.path());
        NatsServer { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts it again on the same port and store.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(300));
        self.child = spawn_nats(self.port, self.dir.path());
    }
}

fn spawn_nats(port: u16, dir: &std::path::Path) -> std::process::Child {
    let args = [
        "-a".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-js".into(),
        "-sd".into(),
        dir.display().to_string(),
    ];
    spawn_daemon("nats-server", &args, port)
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn connect(url: &str) -> async_nats::Client {
    for _ in 0..100 {
        if let Ok(c) = async_nats::connect(url).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot connect to {url}");
}

fn component(url: &str, extra: &str) -> String {
    format!(
        "component: orders\ntrigger:\n  type: nats\n  with:\n    url: {url}\n    subject: \"orders.>\"\n{extra}handlers:\n  \"orders.>\":\n    onMessage: {{ steps: [ {{ log: \"{{{{ event.n }}}}\" }} ] }}\n"
    )
}

async fn publish(js: &async_nats::jetstream::Context, from: u32, to: u32) {
    for n in from..to {
        let ack = js.publish(format!("orders.n{}", n % 3), json!({ "n": n }).to_string().into()).await.unwrap();
        ack.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_messages_arrive_once_across_onset_and_broker_restarts() {
    let mut nats = NatsServer::start();
    let client = connect(&nats.url()).await;
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = component(&nats.url(), "    stream: ORDERS\n    ack_wait: 2s\n");
    let options = Options::new(&[("orders.yaml", &yaml)]);
    let s = start_with(options.clone_for_restart()).await;
    publish(&js, 0, 30).await;
    let events = s.wait_events(30).await;
    assert_eq!(unique_delivery_ids(&events), 30);
    assert!(events.iter().all(|e| e["channel"] == "orders.>" && e["event"] == "onMessage"));
    let first = s.get(&format!("/api/v1/events/{}", events.last().unwrap()["id"].as_str().unwrap())).await;
    assert_eq!(first["delivery_id"], "ORDERS:1");
    assert_eq!(first["params"]["sequence"], 1);
    let run = s.wait_run_status(first["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(run["steps"][0]["output"], "0");

    // Onset stops while messages keep coming: after its restart each arrives once.
    let producing = {
        let js = js.clone();
        async move { publish(&js, 30, 60).await }
    };
    // Past ack_wait, redeliveries are in.
    let s = restart_while_producing(s, &options, producing, 60, Duration::from_millis(2500)).await;

    // The broker dies and comes back: the trigger reconnects by itself.
    nats.restart();
    let client = connect(&nats.url()).await;
    let js = async_nats::jetstream::new(client);
    publish(&js, 60, 70).await;
    let events = s.wait_events(70).await;
    assert_eq!(unique_delivery_ids(&events), 70);
    let health = s.get("/api/v1/components").await["items"][0]["health"].clone();
    assert_eq!(health["state"], "running", "{health}");
    // What the broker says still waits for this consumer.
    s.wait_backlog(0).await;
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("onset_source_up{component=\"orders\",environment=\"development\"} 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_nats_with_an_external_id() {
    let nats = NatsServer::start();
    let yaml = component(&nats.url(), "    external_id: \"{{ event.n }}\"\n");
    let s = start_with(Options::new(&[("orders.yaml", &yaml)])).await;
    let client = connect(&nats.url()).await;
    // Core NATS delivers only to a live subscription: wait until the trigger is connected.
    s.until_source_running().await;
    for n in [1, 2, 2, 3] {
        client.publish("orders.core", json!({ "n": n }).to_string().into()).await.unwrap();
    }
    client.flush().await.unwrap();
    let events = s.wait_events(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.events().await.len(), 3, "the repeated id is a duplicate");
    assert_eq!(unique_delivery_ids(&events), 3);
}
