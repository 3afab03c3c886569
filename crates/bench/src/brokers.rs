//! Broker → stored event: messages/s of the `onset` binary consuming 1 KB messages a broker
//! already holds, next to an ack-only consumer built on the same client crate reading the same
//! amount in the same run. One function per broker; each starts (or uses) its broker, fills it,
//! runs the ack-only consumer, then onset.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures_util::StreamExt as _;

pub struct BrokerRow {
    pub broker: &'static str,
    pub client: &'static str,
    pub ack_only: f64,
    pub onset: f64,
}

/// Every broker benchmark, by `--only` name.
pub const NAMES: [&str; 5] = ["nats", "rabbitmq", "mqtt", "kafka", "sqs"];

pub async fn run(name: &str, onset_bin: &Path) -> anyhow::Result<BrokerRow> {
    eprintln!("{name}: filling, then the ack-only consumer, then onset");
    match name {
        "nats" => nats(onset_bin, 20_000).await,
        "rabbitmq" => rabbitmq(onset_bin, 20_000).await,
        "mqtt" => mqtt(onset_bin, 10_000).await,
        // The mock cluster keeps 5 MB per partition: 4 partitions of 4000 records.
        "kafka" => kafka(onset_bin, 16_000).await,
        // moto_server answers in ~250 ms a request here, far slower than SQS: few messages.
        "sqs" => sqs(onset_bin, 300).await,
        other => bail!("no broker benchmark `{other}`"),
    }
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[&str], what: &str) -> anyhow::Result<Child> {
    let sbin = format!("/usr/sbin/{program}");
    let program = if Path::new(&sbin).exists() { sbin } else { program.to_string() };
    Ok(Child(
        Command::new(&program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("{program} runs the {what} benchmark"))?,
    ))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("nothing listens on port {port}")
}

/// A ~1 KB JSON body.
fn body(i: usize) -> String {
    format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(960))
}

/// Counts messages and times them from the first one (connecting is not part of the rate).
struct Meter {
    n: usize,
    first: Option<Instant>,
    seen: usize,
}

impl Meter {
    fn new(n: usize) -> Meter {
        eprintln!("  ack-only consumer: {n} messages");
        Meter { n, first: None, seen: 0 }
    }

    fn done(&self) -> bool {
        self.seen >= self.n
    }

    fn tick(&mut self) {
        self.first.get_or_insert_with(Instant::now);
        self.seen += 1;
    }

    fn rate(&self) -> f64 {
        // The first message starts the clock: n − 1 intervals.
        (self.seen.saturating_sub(1)) as f64 / self.first.map_or(f64::NAN, |t| t.elapsed().as_secs_f64())
    }
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

/// Runs `onset serve` with one component whose trigger is `trigger` (YAML flow mapping) and no
/// handlers: every message is stored as an (unhandled) event, so what is measured is broker →
/// stored event → acknowledged. Timed from the first stored event.
async fn onset(onset: &Path, trigger: &str, n: usize) -> anyhow::Result<f64> {
    eprintln!("  onset: {n} messages");
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("components"))?;
    std::fs::write(project.join("onset.yaml"), "name: bench\n")?;
    std::fs::write(project.join("components/bench.yaml"), format!("component: bench\ntrigger: {trigger}\n"))?;
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
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_port(port).await?;
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
            bail!("onset stored {now} of {n} messages in 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- NATS JetStream -------------------------------------------------------------------------

async fn nats(onset_bin: &Path, n: usize) -> anyhow::Result<BrokerRow> {
    let store = tempfile::tempdir()?;
    let port = free_port()?;
    let dir = store.path().display().to_string();
    let _nats = spawn("nats-server", &["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd", &dir], "NATS")?;
    wait_port(port).await?;
    let url = format!("nats://127.0.0.1:{port}");
    let js = async_nats::jetstream::new(async_nats::connect(&url).await?);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        ..Default::default()
    })
    .await?;
    let mut pending = Vec::with_capacity(512);
    for i in 0..n {
        pending.push(js.publish("bench.messages", body(i).into()).await?);
        if pending.len() == 512 {
            for p in pending.drain(..) {
                p.await?;
            }
        }
    }
    for p in pending {
        p.await?;
    }
    // The stream keeps the messages: both consumers read all of them.
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
    let mut meter = Meter::new(n);
    while !meter.done() {
        let msg = messages.next().await.context("the stream ended")??;
        msg.ack().await.map_err(|e| anyhow!("{e}"))?;
        meter.tick();
    }
    let trigger = format!(
        "{{ type: nats, with: {{ url: \"{url}\", subject: \"bench.>\", stream: BENCH, max_in_flight: 512 }} }}"
    );
    let ours = onset(onset_bin, &trigger, n).await?;
    Ok(BrokerRow { broker: "NATS JetStream", client: "async-nats", ack_only: meter.rate(), onset: ours })
}

// ---- RabbitMQ -------------------------------------------------------------------------------

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

async fn rabbitmq(onset_bin: &Path, n: usize) -> anyhow::Result<BrokerRow> {
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, Connection, ConnectionProperties};

    let conn = Connection::connect(AMQP, ConnectionProperties::default())
        .await
        .context("RabbitMQ on 127.0.0.1:5672 (guest/guest) runs the RabbitMQ benchmark")?;
    let channel = conn.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let suffix = std::process::id();
    let queues = [format!("bench-ack-only-{suffix}"), format!("bench-onset-{suffix}")];
    // A queue is consumed destructively: each consumer gets its own, filled alike.
    for q in &queues {
        channel.queue_declare(q.as_str().into(), QueueDeclareOptions::durable(), FieldTable::default()).await?;
        let mut confirms = Vec::with_capacity(512);
        for i in 0..n {
            let props = BasicProperties::default().with_delivery_mode(2).with_message_id(format!("m-{i}").into());
            confirms.push(
                channel
                    .basic_publish(
                        "".into(),
                        q.as_str().into(),
                        BasicPublishOptions::default(),
                        body(i).as_bytes(),
                        props,
                    )
                    .await?,
            );
            if confirms.len() == 512 {
                for c in confirms.drain(..) {
                    c.await?;
                }
            }
        }
        for c in confirms {
            c.await?;
        }
    }
    channel.basic_qos(512, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            queues[0].as_str().into(),
            "ack-only".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut meter = Meter::new(n);
    while !meter.done() {
        let delivery = consumer.next().await.context("the consumer ended")??;
        delivery.ack(BasicAckOptions::default()).await?;
        meter.tick();
    }
    let trigger =
        format!("{{ type: rabbitmq, with: {{ url: \"{AMQP}\", queue: {}, max_in_flight: 512 }} }}", queues[1]);
    let ours = onset(onset_bin, &trigger, n).await;
    for q in &queues {
        let _ = channel.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
    }
    Ok(BrokerRow { broker: "RabbitMQ", client: "lapin", ack_only: meter.rate(), onset: ours? })
}

// ---- MQTT -----------------------------------------------------------------------------------

/// Connects with a persistent session (clean_session false), QoS 1, manual acks.
fn mqtt_client(port: u16, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    options.set_clean_session(false);
    options.set_manual_acks(true);
    options.set_keep_alive(Duration::from_secs(30));
    rumqttc::AsyncClient::new(options, 1024)
}

/// Polls until the broker acknowledges the connection, then subscribes and waits for SUBACK.
async fn mqtt_subscribed(port: u16, id: &str) -> anyhow::Result<(rumqttc::AsyncClient, rumqttc::EventLoop)> {
    use rumqttc::{Event, Packet, QoS};
    let (client, mut events) = mqtt_client(port, id);
    client.subscribe("bench/#", QoS::AtLeastOnce).await?;
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
            return Ok((client, events));
        }
    }
}

async fn mqtt(onset_bin: &Path, n: usize) -> anyhow::Result<BrokerRow> {
    use rumqttc::{Event, Packet, QoS};
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let config = dir.path().join("mosquitto.conf");
    // The default keeps 1000 queued messages per offline session; the benchmark queues n.
    std::fs::write(
        &config,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n"),
    )?;
    let _broker = spawn("mosquitto", &["-c", &config.display().to_string()], "MQTT")?;
    wait_port(port).await?;
    // Both persistent sessions exist before publishing, so the broker queues for both.
    for id in ["bench-ack-only", "bench-onset"] {
        let (client, mut events) = mqtt_subscribed(port, id).await?;
        client.disconnect().await?;
        while events.poll().await.is_ok() {}
    }
    let (publisher, mut events) = mqtt_client(port, "bench-publisher");
    let publishing = tokio::spawn(async move {
        for i in 0..n {
            publisher.publish("bench/messages", QoS::AtLeastOnce, false, body(i)).await?;
        }
        anyhow::Ok(publisher)
    });
    let mut acked = 0;
    while acked < n {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await? {
            acked += 1;
        }
    }
    publishing.await??.disconnect().await?;
    let (client, mut events) = mqtt_client(port, "bench-ack-only");
    // The event loop runs on its own (acks go through it), as a consumer must run it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let polling = tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event
                && tx.send(p).is_err()
            {
                break;
            }
        }
    });
    let mut meter = Meter::new(n);
    while !meter.done() {
        let p = rx.recv().await.context("the MQTT connection ended")?;
        client.ack(&p).await?;
        meter.tick();
    }
    polling.abort();
    let trigger = format!(
        "{{ type: mqtt, with: {{ url: \"mqtt://127.0.0.1:{port}\", topic: \"bench/#\", qos: 1, client_id: bench-onset, max_in_flight: 512 }} }}"
    );
    let ours = onset(onset_bin, &trigger, n).await?;
    Ok(BrokerRow { broker: "MQTT (mosquitto, QoS 1)", client: "rumqttc", ack_only: meter.rate(), onset: ours })
}

// ---- Kafka ----------------------------------------------------------------------------------

async fn kafka(onset_bin: &Path, n: usize) -> anyhow::Result<BrokerRow> {
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let cluster = rdkafka::mocking::MockCluster::new(1)?;
    cluster.create_topic("bench", 4, 1)?;
    let brokers = cluster.bootstrap_servers();
    let producer: FutureProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &brokers).set("linger.ms", "5").create()?;
    let mut pending = Vec::with_capacity(1024);
    for i in 0..n {
        let (key, payload) = (i.to_string(), body(i));
        let record = FutureRecord::to("bench").key(&key).payload(&payload).partition((i % 4) as i32);
        pending.push(producer.send_result(record).map_err(|(e, _)| e)?);
        if pending.len() == 1024 {
            for p in pending.drain(..) {
                p.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for p in pending {
        p.await?.map_err(|(e, _)| e)?;
    }
    // The topic keeps the records: each consumer group reads all of them.
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "ack-only")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false")
        .create()?;
    consumer.subscribe(&["bench"])?;
    let mut meter = Meter::new(n);
    while !meter.done() {
        let record = consumer.recv().await?;
        consumer.store_offset_from_message(&record)?;
        meter.tick();
    }
    drop(consumer);
    let trigger = format!("{{ type: kafka, with: {{ brokers: \"{brokers}\", topics: [bench], max_in_flight: 512 }} }}");
    let ours = onset(onset_bin, &trigger, n).await?;
    Ok(BrokerRow { broker: "Kafka (librdkafka mock cluster)", client: "rdkafka", ack_only: meter.rate(), onset: ours })
}

// ---- SQS ------------------------------------------------------------------------------------

async fn sqs(onset_bin: &Path, n: usize) -> anyhow::Result<BrokerRow> {
    use onset_sources::stream::sqs::{Client, SqsSettings};
    use serde_json::json;

    let port = free_port()?;
    let _moto =
        spawn("moto_server", &["-H", "127.0.0.1", "-p", &port.to_string()], "SQS (pip install 'moto[server]')")?;
    wait_port(port).await?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let client_for = |queue: &str| -> anyhow::Result<Client> {
        let settings: SqsSettings = serde_json::from_value(json!({
            "queue_url": format!("{endpoint}/123456789012/{queue}"), "region": "us-east-1", "endpoint": endpoint,
            "access_key_id": "bench", "secret_access_key": "bench",
        }))?;
        Client::new(&settings).map_err(|e| anyhow!(e))
    };
    let mut urls = Vec::new();
    for queue in ["bench-ack-only", "bench-onset"] {
        let client = client_for(queue)?;
        let created = client.call("CreateQueue", json!({ "QueueName": queue })).await.map_err(|e| anyhow!(e))?;
        urls.push(created["QueueUrl"].as_str().context("CreateQueue answers the URL")?.to_string());
        let batches: Vec<Vec<serde_json::Value>> = (0..n)
            .collect::<Vec<_>>()
            .chunks(10)
            .map(|c| c.iter().map(|&i| json!({ "Id": i.to_string(), "MessageBody": body(i) })).collect())
            .collect();
        let sends = futures_util::stream::iter(batches.into_iter().map(|entries| {
            let client = client.clone();
            async move { client.call("SendMessageBatch", json!({ "Entries": entries })).await }
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        for s in sends {
            s.map_err(|e| anyhow!(e))?;
        }
    }
    let client = client_for("bench-ack-only")?;
    let mut meter = Meter::new(n);
    while !meter.done() {
        let answer = client
            .call("ReceiveMessage", json!({ "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0 }))
            .await
            .map_err(|e| anyhow!(e))?;
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            continue;
        }
        let entries: Vec<serde_json::Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({ "Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"] }))
            .collect();
        client.call("DeleteMessageBatch", json!({ "Entries": entries })).await.map_err(|e| anyhow!(e))?;
        for _ in &messages {
            meter.tick();
        }
    }
    let trigger = format!(
        "{{ type: sqs, with: {{ queue_url: \"{}\", region: us-east-1, endpoint: \"{endpoint}\", wait_seconds: 0, max_in_flight: 512 }} }}",
        urls[1]
    );
    let ours = onset(onset_bin, &trigger, n).await?;
    Ok(BrokerRow { broker: "SQS (moto_server)", client: "own SigV4 client", ack_only: meter.rate(), onset: ours })
}
