//! RabbitMQ triggers against the machine's RabbitMQ (127.0.0.1:5672, guest/guest), messages
//! published with pika (the client of RabbitMQ's own tutorials).

use std::time::Duration;

use crate::support::*;

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Publishes `{"n": n}` for n in `from..to` to `queue` (declared durable), message_id `m-<n>`.
fn publish(queue: &str, from: u32, to: u32) {
    let script = r#"
import sys, json, pika
queue, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2f"))
ch = conn.channel()
ch.queue_declare(queue=queue, durable=True)
ch.confirm_delivery()
for n in range(start, end):
    ch.basic_publish(exchange="", routing_key=queue, body=json.dumps({"n": n}),
                     properties=pika.BasicProperties(message_id="m-%d" % n, delivery_mode=2,
                                                     content_type="application/json", headers={"X-Source": "test"}))
conn.close()
"#;
    piped("python3", &["-c", script, queue, &from.to_string(), &to.to_string()], None, "");
}

fn delete_queue(queue: &str) {
    let script = "import sys, pika\nc = pika.BlockingConnection(pika.URLParameters('amqp://guest:guest@127.0.0.1:5672/%2f'))\nc.channel().queue_delete(queue=sys.argv[1])\nc.close()";
    let _ = std::process::Command::new("python3").args(["-c", script, queue]).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_messages_arrive_once_across_restarts_and_lost_connections() {
    let queue = format!("onset-test-{}", uuid::Uuid::new_v4().simple());
    let yaml = format!(
        "component: jobs\ntrigger:\n  type: rabbitmq\n  with: {{ url: \"{URL}\", queue: {queue}, declare: true, prefetch: 16 }}\nhandlers:\n  {queue}:\n    onMessage: {{ steps: [ {{ log: \"{{{{ event.n }}}} via {{{{ meta.message.routing_key }}}} {{{{ meta.headers['x-source'] }}}}\" }} ] }}\n"
    );
    let options = Options::new(&[("jobs.yaml", &yaml)]);
    let s = start_with(options.clone_for_restart()).await;
    let q = queue.clone();
    tokio::task::spawn_blocking(move || publish(&q, 0, 20)).await.unwrap();
    let events = s.wait_events(20).await;
    assert_eq!(unique_delivery_ids(&events), 20);
    let oldest = events.last().unwrap()["id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&oldest, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], format!("0 via {queue} test"));

    // Onset restarts while messages arrive: unacknowledged ones come again, each stored once.
    let q = queue.clone();
    let producing = async move { tokio::task::spawn_blocking(move || publish(&q, 20, 60)).await.unwrap() };
    let s = restart_while_producing(s, &options, producing, 60, Duration::from_millis(500)).await;

    // The broker drops every connection: the trigger reconnects by itself.
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_all_connections", "onset test: connection loss"])
        .output()
        .expect("rabbitmqctl closes connections");
    assert!(closed.status.success(), "{}", String::from_utf8_lossy(&closed.stderr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = queue.clone();
    tokio::task::spawn_blocking(move || publish(&q, 60, 70)).await.unwrap();
    let events = s.wait_events(70).await;
    assert_eq!(unique_delivery_ids(&events), 70);
    let health = s.get("/api/v1/components").await["items"][0]["health"].clone();
    assert_eq!(health["state"], "running", "{health}");
    // The queue's ready messages, as a passive declare reports them.
    s.wait_backlog(0).await;
    delete_queue(&queue);
}

/// The numbers each succeeded run logged, once they cover `total` messages (or after 10 s).
async fn batches(s: &TestServer, total: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for _ in 0..200 {
        out.clear();
        let runs = s.get("/api/v1/runs?status=succeeded&limit=500").await;
        for r in runs["items"].as_array().unwrap() {
            let run = s.get(&format!("/api/v1/runs/{}", r["id"].as_str().unwrap())).await;
            let text = run["steps"][0]["output"].as_str().unwrap_or_default().to_string();
            out.push(text.split(',').map(|n| n.parse::<u32>().unwrap()).collect::<Vec<_>>());
        }
        if out.iter().map(Vec::len).sum::<usize>() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_hand_several_messages_to_one_run_each_message_once() {
    let queue = format!("onset-test-{}", uuid::Uuid::new_v4().simple());
    let yaml = format!(
        "component: jobs\ntrigger:\n  type: rabbitmq\n  with: {{ url: \"{URL}\", queue: {queue}, declare: true, batch_size: 5, batch_wait: 200ms }}\nhandlers:\n  {queue}:\n    onMessage: {{ steps: [ {{ log: \"{{{{ event | map(attribute='n') | join(',') }}}}\" }}, {{ log: \"{{{{ meta.message | length }}}} {{{{ meta.message[0].message_id }}}}\" }} ] }}\n"
    );
    let s = start(&[("jobs.yaml", &yaml)]).await;
    let q = queue.clone();
    tokio::task::spawn_blocking(move || publish(&q, 0, 12)).await.unwrap();
    let got = batches(&s, 12).await;
    let mut all: Vec<u32> = got.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..12).collect::<Vec<_>>(), "every message in exactly one run: {got:?}");
    assert!(got.iter().all(|b| b.len() <= 5), "at most batch_size per run: {got:?}");
    assert!(got.len() < 12, "several messages share a run: {got:?}");
    let run = s
        .get(&format!("/api/v1/runs/{}", s.get("/api/v1/runs?limit=1").await["items"][0]["id"].as_str().unwrap()))
        .await;
    let meta = run["steps"][1]["output"].as_str().unwrap().to_string();
    assert!(meta.contains(" m-"), "meta.message lists each message's broker fields: {meta}");

    // The same messages again (same message ids): known, so no run.
    let q = queue.clone();
    tokio::task::spawn_blocking(move || publish(&q, 0, 5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = batches(&s, 12).await;
    assert_eq!(again.iter().map(Vec::len).sum::<usize>(), 12, "redelivered messages run nothing: {again:?}");
    delete_queue(&queue);
}
