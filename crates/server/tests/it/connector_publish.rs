//! `publish.*` against the real brokers (RabbitMQ, Kafka's mock cluster, moto for SQS, NATS
//! with JetStream, Mosquitto), each message read back with the broker's own client: pika,
//! librdkafka, boto3, async-nats and mosquitto_sub.

use std::time::Duration;

use futures_util::StreamExt as _;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers as _;
use rdkafka::mocking::MockCluster;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::mqtt::Mosquitto;
use crate::nats::{NatsServer, connect};
use crate::sqs::Moto;
use crate::support::*;

const FANOUT: &str = r#"component: fanout
trigger: { type: http }
config:
  rabbit: { type: account, connector: rabbitmq }
  kafka: { type: account, connector: kafka }
  sqs: { type: account, connector: sqs }
  nats: { type: account, connector: nats }
  mqtt: { type: account, connector: mqtt }
handlers:
  /:
    POST:
      retry: { attempts: 3, initial: 10ms, max: 20ms }
      steps:
        - id: rabbit
          call: publish.rabbitmq
          account: "{{ config.rabbit }}"
          with: { routing_key: "{{ event.queue }}", body: { order: "{{ event.order }}" }, headers: { x-source: onset }, message_id: "m-{{ event.order }}" }
        - id: kafka
          call: publish.kafka
          account: "{{ config.kafka }}"
          with: { topic: orders, key: "{{ event.order }}", body: { order: "{{ event.order }}" }, headers: { x-source: onset } }
        - id: sqs
          call: publish.sqs
          account: "{{ config.sqs }}"
          with: { queue_url: "{{ event.queue_url }}", body: "order {{ event.order }}", attributes: { x-source: onset } }
        - id: js
          call: publish.nats
          account: "{{ config.nats }}"
          with: { subject: orders.new, body: { order: "{{ event.order }}" }, jetstream: true, message_id: "m-{{ event.order }}" }
        - id: core
          call: publish.nats
          account: "{{ config.nats }}"
          with: { subject: "ping.{{ event.order }}", body: pong }
        - id: mqtt
          call: publish.mqtt
          account: "{{ config.mqtt }}"
          with: { topic: "orders/{{ event.order }}", body: { order: "{{ event.order }}" }, qos: 2, retain: true }
"#;

const PIKA: &str = r#"
import sys, json, pika
action, queue = sys.argv[1], sys.argv[2]
conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2f"))
ch = conn.channel()
if action == "declare":
    ch.queue_declare(queue=queue, durable=True)
elif action == "get":
    method, props, body = ch.basic_get(queue=queue, auto_ack=True)
    print(json.dumps({"body": body.decode(), "headers": props.headers, "content_type": props.content_type,
                      "delivery_mode": props.delivery_mode, "message_id": props.message_id}))
else:
    ch.queue_delete(queue=queue)
conn.close()
"#;

const BOTO: &str = r#"
import sys, json, boto3
endpoint, action, queue = sys.argv[1], sys.argv[2], sys.argv[3]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
if action == "create":
    print(sqs.create_queue(QueueName=queue)["QueueUrl"])
else:
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=2)["Messages"][0]
    print(json.dumps({"id": m["MessageId"], "body": m["Body"],
                      "source": m["MessageAttributes"]["x-source"]["StringValue"]}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_every_broker_and_waits_for_its_confirmation() {
    let _heavy = HEAVY.lock().await;
    let queue = format!("onset-publish-{}", std::process::id());
    piped("python3", &["-c", PIKA, "declare", &queue], None, "");
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 1, 1).unwrap();
    let moto = Moto::start();
    let queue_url =
        piped("python3", &["-c", BOTO, &moto.endpoint(), "create", "published"], None, "").trim().to_string();
    let nats = NatsServer::start();
    let client = connect(&nats.url()).await;
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut pings = client.subscribe("ping.>").await.unwrap();
    client.flush().await.unwrap();
    let mosquitto = Mosquitto::start();

    let mut options = Options::new(&[]);
    for key in ["rabbit", "kafka", "sqs", "nats", "mqtt"] {
        options = options.env(&format!("ONSET_CONFIG__FANOUT__{}", key.to_uppercase()), &format!("my-{key}"));
    }
    let s = start_with(options).await;
    s.set_account("my-rabbit", "rabbitmq", json!({ "url": "amqp://guest:guest@127.0.0.1:5672/%2f" })).await;
    s.set_account("my-kafka", "kafka", json!({ "brokers": cluster.bootstrap_servers() })).await;
    s.set_account("my-sqs",
        "sqs",
        json!({ "region": "us-east-1", "endpoint": moto.endpoint(), "access_key_id": "testing", "secret_access_key": "testing" }),
    )
    .await;
    s.set_account("my-nats", "nats", json!({ "url": nats.url() })).await;
    s.set_account("my-mqtt", "mqtt", json!({ "url": format!("mqtt://127.0.0.1:{}", mosquitto.port) })).await;
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": FANOUT, "path": "components/fanout.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let r = s
        .post_json("/hooks/development/fanout", &json!({ "queue": queue, "queue_url": queue_url, "order": "o-7" }))
        .await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    let out = |i: usize| run["steps"][i]["output"].clone();
    assert_eq!(out(0), json!({ "confirmed": true, "exchange": "", "routing_key": queue }), "{run}");
    assert_eq!((out(1)["topic"].clone(), out(1)["offset"].clone()), (json!("orders"), json!(0)));
    assert!(out(2)["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(out(3), json!({ "stream": "ORDERS", "sequence": 1, "duplicate": false }));
    assert_eq!(out(5), json!({ "topic": "orders/o-7", "qos": 2 }));

    // Each broker's own client reads what was published.
    let got: Value = serde_json::from_str(&piped("python3", &["-c", PIKA, "get", &queue], None, "")).unwrap();
    assert_eq!(got["body"], r#"{"order":"o-7"}"#);
    assert_eq!(got["headers"], json!({ "x-source": "onset" }));
    assert_eq!((got["content_type"].clone(), got["delivery_mode"].clone()), (json!("application/json"), json!(2)));
    assert_eq!(got["message_id"], "m-o-7");

    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["orders"]).unwrap();
    let record = tokio::time::timeout(Duration::from_secs(20), consumer.recv()).await.unwrap().unwrap();
    assert_eq!(record.key(), Some(&b"o-7"[..]));
    assert_eq!(record.payload(), Some(&br#"{"order":"o-7"}"#[..]));
    let header = record.headers().unwrap().get(0);
    assert_eq!((header.key, header.value), ("x-source", Some(&b"onset"[..])));

    let got: Value =
        serde_json::from_str(&piped("python3", &["-c", BOTO, &moto.endpoint(), "receive", &queue_url], None, ""))
            .unwrap();
    assert_eq!(got, json!({ "id": out(2)["message_id"], "body": "order o-7", "source": "onset" }));

    let stream = js.get_stream("ORDERS").await.unwrap();
    let stored = stream.get_raw_message(1).await.unwrap();
    assert_eq!(stored.subject.as_str(), "orders.new");
    assert_eq!(&stored.payload[..], br#"{"order":"o-7"}"#);
    let ping = tokio::time::timeout(Duration::from_secs(5), pings.next()).await.unwrap().unwrap();
    assert_eq!((ping.subject.as_str(), &ping.payload[..]), ("ping.o-7", &b"pong"[..]));

    let port = mosquitto.port.to_string();
    let retained =
        piped("mosquitto_sub", &["-h", "127.0.0.1", "-p", &port, "-t", "orders/o-7", "-C", "1", "-W", "5"], None, "");
    assert_eq!(retained.trim(), r#"{"order":"o-7"}"#);

    // A message RabbitMQ cannot route comes back: the run fails at once, saying so.
    let r = s
        .post_json(
            "/hooks/development/fanout",
            &json!({ "queue": "nowhere-bound", "queue_url": queue_url, "order": "o-8" }),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "failed").await;
    assert_eq!(run["attempt"], 1, "{run}");
    assert!(run["error"].as_str().unwrap().contains("no queue is bound to routing key `nowhere-bound`"), "{run}");
    piped("python3", &["-c", PIKA, "delete", &queue], None, "");
}
