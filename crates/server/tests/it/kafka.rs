//! Kafka triggers against librdkafka's mock cluster (an in-process broker speaking the Kafka
//! protocol on a local port), with records produced by librdkafka's own producer.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::support::*;

fn producer(brokers: &str) -> FutureProducer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "30000")
        .create()
        .expect("a producer")
}

/// Produces `{"n": n}` for n in `from..to`, keyed by n, with an `X-Source` header.
async fn produce(p: &FutureProducer, from: u32, to: u32) {
    for n in from..to {
        let (key, body) = (n.to_string(), serde_json::json!({ "n": n }).to_string());
        let headers = OwnedHeaders::new().insert(Header { key: "X-Source", value: Some("test") });
        let record = FutureRecord::to("orders").key(&key).payload(&body).headers(headers);
        p.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).expect("the record is produced");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_once_across_restarts_and_broker_outages() {
    let _heavy = HEAVY.lock().await;
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 3, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let yaml = format!(
        "component: shop\ntrigger:\n  type: kafka\n  with: {{ brokers: \"{brokers}\", topics: [orders], group: shop, options: {{ session.timeout.ms: \"6000\" }} }}\nhandlers:\n  orders:\n    onMessage: {{ steps: [ {{ log: \"{{{{ event.n }}}} key {{{{ meta.message.key }}}} {{{{ meta.headers['x-source'] }}}}\" }} ] }}\n"
    );
    // The mock cluster's coordinator waits out a departed member's session before it
    // rebalances (a real broker acts on LeaveGroup at once): keep the session short.
    let options = Options::new(&[("shop.yaml", &yaml)]);
    let p = producer(&brokers);
    let s = start_with(options.clone_for_restart()).await;
    produce(&p, 0, 20).await;
    let events = s.wait_events(20).await;
    assert_eq!(unique_delivery_ids(&events), 20);
    let run = s.wait_run_status(events[0]["id"].as_str().unwrap(), "succeeded").await;
    let output = run["steps"][0]["output"].as_str().unwrap().to_string();
    let words: Vec<&str> = output.split(' ').collect();
    assert_eq!(words.len(), 4, "{output}");
    assert_eq!((words[0], words[2], words[3]), (words[0], words[0], "test"), "payload, key and header: {output}");
    let id = events[0]["delivery_id"].as_str().unwrap();
    assert!(id.starts_with("orders/") && id.split('/').count() == 3, "topic/partition/offset: {id}");

    // Onset restarts while records arrive: the uncommitted ones come again, each stored once.
    let producing = {
        let p = p.clone();
        async move { produce(&p, 20, 60).await }
    };
    let s = restart_while_producing(s, &options, producing, 60, Duration::from_millis(500)).await;

    // The broker goes away and comes back: the trigger recovers by itself.
    cluster.broker_down(1).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.broker_up(1).unwrap();
    produce(&p, 60, 70).await;
    let events = s.wait_events(70).await;
    assert_eq!(unique_delivery_ids(&events), 70);
    let health = s.get("/api/v1/components").await["items"][0]["health"].clone();
    assert_eq!(health["state"], "running", "{health}");

    // librdkafka reports the group's lag; health and metrics show it (0: all caught up).
    s.wait_backlog(0).await;
}
