//! SQS triggers against moto_server (a local server speaking the SQS API), with messages sent by
//! boto3, the AWS SDK for Python.

use std::time::Duration;

use crate::support::*;

pub struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        Moto { child: spawn_moto(port), port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts it again on the same port (moto keeps nothing: queues are gone).
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_moto(self.port);
    }
}

fn spawn_moto(port: u16) -> std::process::Child {
    spawn_daemon("moto_server", &["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()], port)
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BOTO: &str = r#"
import sys, json, boto3
endpoint, action, queue = sys.argv[1], sys.argv[2], sys.argv[3]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
if action == "create":
    print(sqs.create_queue(QueueName=queue)["QueueUrl"])
elif action == "send":
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    start, end = int(sys.argv[4]), int(sys.argv[5])
    for first in range(start, end, 10):
        entries = [{"Id": str(n), "MessageBody": json.dumps({"n": n}),
                    "MessageAttributes": {"X-Source": {"DataType": "String", "StringValue": "test"}}}
                   for n in range(first, min(first + 10, end))]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed"), answer
elif action == "count":
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
elif action == "visible":
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print(a["ApproximateNumberOfMessages"])
"#;

fn boto(endpoint: &str, args: &[&str]) -> String {
    let mut all = vec!["-c", BOTO, endpoint];
    all.extend_from_slice(args);
    piped("python3", &all, None, "").trim().to_string()
}

async fn send(endpoint: &str, from: u32, to: u32) {
    let (endpoint, from, to) = (endpoint.to_string(), from.to_string(), to.to_string());
    tokio::task::spawn_blocking(move || boto(&endpoint, &["send", "orders", &from, &to])).await.unwrap();
}

/// Messages in the queue, visible or not, once that is 0 or after 5 s.
async fn drained(endpoint: &str) -> String {
    let mut left = String::new();
    for _ in 0..50 {
        left = boto(endpoint, &["count", "orders"]);
        if left == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_messages_arrive_once_are_deleted_and_survive_restarts() {
    let mut moto = Moto::start();
    let endpoint = moto.endpoint();
    let url = boto(&endpoint, &["create", "orders"]);
    let yaml = format!(
        "component: shop\ntrigger:\n  type: sqs\n  with:\n    queue_url: \"{url}\"\n    region: us-east-1\n    endpoint: \"{endpoint}\"\n    access_key_id: testing\n    secret_access_key: testing\n    wait_seconds: 1\nhandlers:\n  orders:\n    onMessage: {{ steps: [ {{ log: \"{{{{ event.n }}}} {{{{ meta.headers['x-source'] }}}} {{{{ meta.message.receive_count }}}}\" }} ] }}\n"
    );
    let options = Options::new(&[("shop.yaml", &yaml)]);
    let s = start_with(options.clone_for_restart()).await;
    send(&endpoint, 0, 20).await;
    let events = s.wait_events(20).await;
    assert_eq!(unique_delivery_ids(&events), 20);
    let run = s.wait_run_status(events[0]["id"].as_str().unwrap(), "succeeded").await;
    let output = run["steps"][0]["output"].as_str().unwrap().to_string();
    assert!(output.ends_with(" test 1"), "payload, message attribute, receive count: {output}");

    // Onset restarts while messages arrive: undeleted ones come again, each stored once.
    let producing = {
        let endpoint = endpoint.clone();
        async move { send(&endpoint, 20, 60).await }
    };
    let s = restart_while_producing(s, &options, producing, 60, Duration::from_millis(500)).await;
    assert_eq!(drained(&endpoint).await, "0", "every stored message is deleted");

    // The server goes away and comes back (empty: the queue is created again).
    moto.restart();
    assert_eq!(boto(&endpoint, &["create", "orders"]), url);
    send(&endpoint, 60, 70).await;
    let events = s.wait_events(70).await;
    assert_eq!(unique_delivery_ids(&events), 70);
    let health = s.get("/api/v1/components").await["items"][0]["health"].clone();
    assert_eq!(health["state"], "running", "{health}");
    // What the broker says still waits for this consumer.
    s.wait_backlog(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_being_stored_stay_hidden_and_unstored_ones_are_released_on_stop() {
    use onset_sources::stream::{Backlog, Status, sqs};
    onset_server::install_crypto_provider();
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let url = boto(&endpoint, &["create", "orders"]);
    send(&endpoint, 0, 1).await;
    let settings: sqs::SqsSettings = serde_json::from_value(serde_json::json!({
        "queue_url": url, "region": "us-east-1", "endpoint": endpoint, "access_key_id": "testing",
        "secret_access_key": "testing", "wait_seconds": 1, "visibility_timeout": "2s",
    }))
    .unwrap();
    let consume = |stop: tokio_util::sync::CancellationToken| {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (status, _) = tokio::sync::watch::channel(Status::Connecting);
        let task = tokio::spawn(sqs::run(settings.clone(), 1, Backlog::default(), tx, status, stop));
        (rx, task)
    };
    let visible = || boto(&endpoint, &["visible", "orders"]);

    // Received and not yet stored for longer than the 2 s visibility timeout: still hidden.
    let stop = tokio_util::sync::CancellationToken::new();
    let (mut rx, task) = consume(stop.clone());
    let message = rx.recv().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(visible(), "0", "the visibility is extended while the message is being stored");

    // Onset stops before storing it: the message is visible again at once.
    drop(message);
    stop.cancel();
    task.await.unwrap();
    assert_eq!(visible(), "1", "released on stop");

    // Stored and acknowledged: deleted.
    let stop = tokio_util::sync::CancellationToken::new();
    let (mut rx, task) = consume(stop.clone());
    let message = rx.recv().await.unwrap();
    assert_eq!(message.message["receive_count"], 2);
    message.ack.ack().await.unwrap();
    assert_eq!(drained(&endpoint).await, "0", "deleted once acknowledged");
    stop.cancel();
    task.await.unwrap();
}
