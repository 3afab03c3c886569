//! RabbitMQ (AMQP 0-9-1): a queue (optionally declared durable, with bindings), a prefetch
//! window, manual acks after storing. The AMQP `message_id`, when the publisher sets it, is the
//! delivery id.

use futures_util::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Ack, Backlog, Incoming, Status, decode_body};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub exchange: String,
    #[serde(default)]
    pub routing_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitSettings {
    /// `amqp://user:password@host:5672/vhost` (`%2f` for the default vhost).
    pub url: String,
    pub queue: String,
    /// Declare the queue (durable) if it does not exist.
    #[serde(default)]
    pub declare: bool,
    /// Bind the queue to these exchanges (declared elsewhere).
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Unacknowledged deliveries at most (default: max_in_flight).
    #[serde(default)]
    pub prefetch: Option<u16>,
}

fn amqp_json(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(n) => json!(n),
        AMQPValue::Double(n) => json!(n),
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_json).collect()),
        AMQPValue::FieldTable(t) => Value::Object(table_json(t)),
        AMQPValue::ByteArray(b) => json!(String::from_utf8_lossy(b.as_slice())),
        _ => Value::Null,
    }
}

fn table_json(t: &FieldTable) -> Map<String, Value> {
    t.inner().iter().map(|(k, v)| (k.as_str().to_ascii_lowercase(), amqp_json(v))).collect()
}

pub async fn run(
    settings: RabbitSettings,
    consumer_tag: String,
    prefetch: u16,
    backlog: Backlog,
    tx: mpsc::Sender<Incoming>,
    status: watch::Sender<Status>,
    stop: CancellationToken,
) {
    let what = format!("rabbitmq queue {}", settings.queue);
    super::reconnecting(&what, &tx, &status, &stop, || {
        consume(&settings, &consumer_tag, prefetch, &backlog, &tx, &status)
    })
    .await;
}

async fn consume(
    s: &RabbitSettings,
    tag: &str,
    prefetch: u16,
    backlog: &Backlog,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    let conn = Connection::connect(&s.url, ConnectionProperties::default())
        .await
        .map_err(|e| format!("cannot connect to RabbitMQ: {e}"))?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    if s.declare {
        channel
            .queue_declare(s.queue.as_str().into(), QueueDeclareOptions::durable(), FieldTable::default())
            .await
            .map_err(|e| format!("declaring queue `{}`: {e}", s.queue))?;
    }
    for b in &s.bindings {
        channel
            .queue_bind(
                s.queue.as_str().into(),
                b.exchange.as_str().into(),
                b.routing_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("binding `{}` to `{}`: {e}", s.queue, b.exchange))?;
    }
    channel.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(|e| e.to_string())?;
    let mut consumer = channel
        .basic_consume(s.queue.as_str().into(), tag.into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(|e| format!("consuming queue `{}`: {e} (declare it, or set declare: true)", s.queue))?;
    let _ = status.send(Status::Connected);
    // A passive declare answers the messages ready in the queue (on a channel of its own: a
    // failing declare closes its channel).
    let probe = conn.create_channel().await.map_err(|e| e.to_string())?;
    let queue = s.queue.clone();
    let _backlog = super::report_backlog(backlog, move || {
        let (probe, queue) = (probe.clone(), queue.clone());
        async move {
            let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
            let q = probe.queue_declare(queue.as_str().into(), options, FieldTable::default()).await.ok()?;
            Some(u64::from(q.message_count()))
        }
    });
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery.map_err(|e| e.to_string())?;
        let props = &delivery.properties;
        let headers = props.headers().as_ref().map(table_json).unwrap_or_default();
        let message_id = props.message_id().as_ref().map(|m| m.as_str().to_string());
        let mut message = Map::new();
        message.insert("queue".into(), json!(s.queue));
        message.insert("exchange".into(), json!(delivery.exchange.as_str()));
        message.insert("routing_key".into(), json!(delivery.routing_key.as_str()));
        message.insert("redelivered".into(), json!(delivery.redelivered));
        message.insert("message_id".into(), json!(message_id));
        if let Some(ct) = props.content_type() {
            message.insert("content_type".into(), json!(ct.as_str()));
        }
        let acker = delivery.acker.clone();
        let incoming = Incoming {
            channel: s.queue.clone(),
            payload: decode_body(&delivery.data),
            headers,
            message,
            delivery_id: message_id,
            ack: Ack::new(move || {
                Box::pin(
                    async move { acker.ack(BasicAckOptions::default()).await.map(|_| ()).map_err(|e| e.to_string()) },
                )
            }),
        };
        if tx.send(incoming).await.is_err() {
            return Ok(());
        }
    }
    Err("the delivery stream ended (connection lost)".into())
}
