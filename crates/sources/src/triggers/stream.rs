//! Broker trigger types (`nats`, `rabbitmq`, `mqtt`, `kafka`, `sqs`), one per cargo feature:
//! their settings, and the consumer the server runs for a deployed one.
// A build without any broker feature registers no broker type.
#![cfg_attr(
    not(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs")),
    allow(dead_code, unused_imports)
)]

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Built, Intake, Trigger, TriggerSource, settings};
use crate::Verifier;

/// Settings every stream trigger takes.
#[derive(Clone)]
pub struct StreamCommon {
    /// Messages received but not yet stored at most.
    pub max_in_flight: usize,
    /// Messages one run receives at most (1: a run per message).
    pub batch_size: usize,
    /// How long a batch waits to fill once its first message is in.
    pub batch_wait: std::time::Duration,
    /// `external_id`: the dedup id of a message, over `event`, `message`, `headers`, `config`.
    pub external_id: Option<Arc<(onset_expr::Program, onset_expr::Compiled)>>,
}

impl std::fmt::Debug for StreamCommon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCommon")
            .field("max_in_flight", &self.max_in_flight)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// Stream settings left unrendered at deploy (evaluated per message).
const STREAM_TEMPLATES: &[&str] = &["external_id"];

fn stream_common(with: &mut Value, deferred: &Map<String, Value>) -> Result<StreamCommon, String> {
    let map = with.as_object_mut().ok_or("trigger.with is a mapping")?;
    let batch_size = match map.remove("batch_size") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=1000).contains(n))
            .ok_or("trigger.with.batch_size is a whole number from 1 to 1000")? as usize,
    };
    let batch_wait = match map.remove("batch_wait") {
        None | Some(Value::Null) => std::time::Duration::from_millis(500),
        Some(v) => {
            serde_json::from_value::<onset_model::Duration>(v)
                .map_err(|e| format!("trigger.with.batch_wait: {e} (e.g. 500ms or 2s)"))?
                .0
        }
    };
    if batch_wait > std::time::Duration::from_secs(60) {
        return Err("trigger.with.batch_wait is at most 60s".into());
    }
    let max_in_flight = match map.remove("max_in_flight") {
        // Room for a whole batch: a broker's prefetch follows this.
        None | Some(Value::Null) => batch_size.max(64),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or("trigger.with.max_in_flight is a whole number from 1 to 10000")? as usize,
    };
    let external_id = match deferred.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => {
            let mut c = onset_expr::Compiler::new();
            let compiled = c.string(t).map_err(|e| format!("trigger.with.external_id: {e}"))?;
            Some(Arc::new((c.finish().map_err(|e| e.to_string())?, compiled)))
        }
        Some(_) => return Err("trigger.with.external_id is a template string".into()),
    };
    Ok(StreamCommon { max_in_flight, batch_size, batch_wait, external_id })
}

/// The broker a stream trigger consumes from, with its settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Broker {
    #[cfg(feature = "nats")]
    Nats(crate::stream::nats::NatsSettings),
    #[cfg(feature = "rabbitmq")]
    Rabbitmq(crate::stream::rabbitmq::RabbitSettings),
    #[cfg(feature = "mqtt")]
    Mqtt(crate::stream::mqtt::MqttSettings),
    #[cfg(feature = "kafka")]
    Kafka(crate::stream::kafka::KafkaSettings),
    #[cfg(feature = "sqs")]
    Sqs(crate::stream::sqs::SqsSettings),
}

/// A deployed stream trigger.
#[derive(Debug, Clone)]
pub struct Stream {
    pub kind: &'static str,
    pub common: StreamCommon,
    pub broker: Broker,
}

impl Trigger for Stream {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn single(&self) -> bool {
        // MQTT (one session per client id) and core NATS (every subscriber gets every message)
        // run on one node; Kafka groups, SQS, RabbitMQ queues and JetStream durable consumers
        // share the work among consumers by themselves.
        match &self.broker {
            #[cfg(feature = "mqtt")]
            Broker::Mqtt(_) => true,
            #[cfg(feature = "nats")]
            Broker::Nats(s) => s.stream.is_none(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
    fn stream(&self) -> Option<&Stream> {
        Some(self)
    }
    #[cfg(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs"))]
    fn run(
        &self,
        host: Arc<dyn super::Host>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        Some(Box::pin(self.clone().consume(host, stop)))
    }
}

#[cfg(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs"))]
impl Stream {
    /// Starts the broker consumer; it hands messages over `tx` until `stop`. `name` names the
    /// durable consumer, consumer tag, client id or group.
    #[cfg_attr(
        not(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka")),
        allow(unused_variables)
    )]
    pub fn spawn(
        &self,
        name: String,
        backlog: crate::stream::Backlog,
        tx: tokio::sync::mpsc::Sender<crate::stream::Incoming>,
        status: tokio::sync::watch::Sender<crate::stream::Status>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        match &self.broker {
            #[cfg(feature = "nats")]
            Broker::Nats(s) => {
                tokio::spawn(crate::stream::nats::run(s.clone(), name, backlog, tx, status, stop));
            }
            #[cfg(feature = "mqtt")]
            Broker::Mqtt(s) => {
                tokio::spawn(crate::stream::mqtt::run(s.clone(), name, tx, status, stop));
            }
            #[cfg(feature = "rabbitmq")]
            Broker::Rabbitmq(s) => {
                let prefetch = s.prefetch.unwrap_or(u16::try_from(self.common.max_in_flight).unwrap_or(u16::MAX));
                tokio::spawn(crate::stream::rabbitmq::run(s.clone(), name, prefetch, backlog, tx, status, stop));
            }
            #[cfg(feature = "kafka")]
            Broker::Kafka(s) => {
                tokio::spawn(crate::stream::kafka::run(s.clone(), name, backlog, tx, status, stop));
            }
            #[cfg(feature = "sqs")]
            Broker::Sqs(s) => {
                let batch = self.common.max_in_flight.min(crate::stream::sqs::MAX_BATCH);
                tokio::spawn(crate::stream::sqs::run(s.clone(), batch, backlog, tx, status, stop));
            }
        }
    }
}

/// One broker trigger type: parses its own settings into a [`Broker`].
struct BrokerSource {
    kind: &'static str,
    parse: fn(&Value) -> Result<Broker, String>,
}

impl TriggerSource for BrokerSource {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn intake(&self) -> Intake {
        Intake::Task
    }
    fn deferred(&self) -> &'static [&'static str] {
        STREAM_TEMPLATES
    }
    fn message_meta(&self) -> bool {
        true
    }
    fn build(&self, with: &Value, deferred: &Map<String, Value>) -> Result<Built, String> {
        let mut own = with.clone();
        let common = stream_common(&mut own, deferred)?;
        let broker = (self.parse)(&own)?;
        Ok(Built { verifier: Verifier::none(), trigger: Box::new(Stream { kind: self.kind, common, broker }) })
    }
}

/// The broker types this build has.
pub(super) fn sources() -> Vec<Box<dyn TriggerSource>> {
    #[allow(unused_mut)]
    let mut all: Vec<Box<dyn TriggerSource>> = Vec::new();
    #[cfg(feature = "nats")]
    all.push(Box::new(BrokerSource { kind: "nats", parse: |w| Ok(Broker::Nats(settings("nats", w)?)) }));
    #[cfg(feature = "rabbitmq")]
    all.push(Box::new(BrokerSource { kind: "rabbitmq", parse: |w| Ok(Broker::Rabbitmq(settings("rabbitmq", w)?)) }));
    #[cfg(feature = "mqtt")]
    all.push(Box::new(BrokerSource {
        kind: "mqtt",
        parse: |w| {
            let s: crate::stream::mqtt::MqttSettings = settings("mqtt", w)?;
            crate::stream::mqtt::host_port(&s.url).map_err(|e| format!("trigger.with.url: {e}"))?;
            crate::stream::mqtt::qos(s.qos).map_err(|e| format!("trigger.with.{e}"))?;
            Ok(Broker::Mqtt(s))
        },
    }));
    #[cfg(feature = "kafka")]
    all.push(Box::new(BrokerSource {
        kind: "kafka",
        parse: |w| {
            let s: crate::stream::kafka::KafkaSettings = settings("kafka", w)?;
            s.check().map_err(|e| format!("trigger.with.{e}"))?;
            Ok(Broker::Kafka(s))
        },
    }));
    #[cfg(feature = "sqs")]
    all.push(Box::new(BrokerSource {
        kind: "sqs",
        parse: |w| {
            let s: crate::stream::sqs::SqsSettings = settings("sqs", w)?;
            s.check().map_err(|e| format!("trigger.with.{e}"))?;
            Ok(Broker::Sqs(s))
        },
    }));
    all
}

/// Messages stored together at most.
#[cfg(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs"))]
const MAX_BATCH: usize = 256;

#[cfg(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs"))]
mod consume {
    use std::sync::Arc;

    use onset_model::catalog::EventName;
    use serde_json::{Value, json};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    use super::{MAX_BATCH, Stream, StreamCommon};
    use crate::stream::{Backlog, Incoming, Status};
    use crate::triggers::host::Host;

    impl Stream {
        /// The broker consumer hands messages over a bounded channel; each is stored as an
        /// event (`<channel>.onMessage`) and only then acknowledged to the broker. A busy store
        /// makes this loop wait, so the consumer stops pulling: backpressure reaches the broker
        /// instead of dropping.
        pub(super) async fn consume(self, host: Arc<dyn Host>, stop: CancellationToken) {
            let common = self.common.clone();
            let (tx, mut rx) = mpsc::channel::<Incoming>(common.max_in_flight);
            let (status_tx, mut status_rx) = watch::channel(Status::Connecting);
            let consumer = stop.child_token();
            let backlog = Backlog::default();
            // The durable consumer / consumer tag names this component in this environment.
            let name = format!("onset-{}-{}", host.component(), host.environment());
            self.spawn(name, backlog.clone(), tx, status_tx, consumer.clone());
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
            loop {
                tokio::select! {
                    msg = rx.recv() => {
                        let Some(first) = msg else { return };
                        // Everything already waiting goes to the store at once: the writer
                        // commits concurrent ingests together instead of one commit per message.
                        let mut waiting = vec![first];
                        let most = MAX_BATCH.max(common.batch_size);
                        while waiting.len() < most {
                            match rx.try_recv() {
                                Ok(m) => waiting.push(m),
                                Err(_) => break,
                            }
                        }
                        if common.batch_size > 1 && waiting.len() < common.batch_size {
                            // A batch waits a little to fill.
                            let deadline = tokio::time::Instant::now() + common.batch_wait;
                            while waiting.len() < common.batch_size {
                                tokio::select! {
                                    m = tokio::time::timeout_at(deadline, rx.recv()) => match m {
                                        Ok(Some(m)) => waiting.push(m),
                                        _ => break,
                                    },
                                    () = stop.cancelled() => break,
                                }
                            }
                        }
                        let results = if common.batch_size > 1 {
                            let batches = by_channel(waiting, common.batch_size);
                            futures_util::future::join_all(
                                batches.into_iter().map(|b| store_batch_and_ack(&*host, &common, b)),
                            )
                            .await
                        } else {
                            futures_util::future::join_all(
                                waiting.into_iter().map(|m| store_and_ack(&*host, &common, m)),
                            )
                            .await
                        };
                        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                            host.failed(e, None);
                        }
                    }
                    changed = status_rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let status = status_rx.borrow_and_update().clone();
                        match status {
                            Status::Connected => host.healthy(None),
                            Status::Failed(e) => host.failed(e, None),
                            Status::Connecting => {}
                        }
                    }
                    _ = tick.tick() => {
                        if let Some(n) = backlog.get() {
                            host.backlog(n);
                        }
                    }
                    () = stop.cancelled() => {
                        consumer.cancel();
                        return;
                    }
                }
            }
        }
    }

    /// The message's delivery id: `external_id` evaluated over it, else the broker's own id.
    fn delivery_id(host: &dyn Host, common: &StreamCommon, msg: &Incoming) -> Result<Option<String>, String> {
        let Some(program) = &common.external_id else { return Ok(msg.delivery_id.clone()) };
        let event: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
        let scope = onset_expr::from_json(&json!({
            "config": host.config(), "event": event, "message": msg.message, "headers": msg.headers,
        }));
        let v = program.0.eval(&program.1, &scope).map_err(|e| format!("trigger.with.external_id: {e}"))?;
        Ok(v.as_str()
            .map_or_else(|| (!v.is_none()).then(|| onset_expr::to_json(&v).to_string()), |s| Some(s.to_string()))
            .filter(|s| !s.is_empty()))
    }

    /// The message's headers and broker fields as the JSON objects an event keeps.
    fn extra(msg: &Incoming) -> (String, String) {
        (Value::Object(msg.headers.clone()).to_string(), Value::Object(msg.message.clone()).to_string())
    }

    async fn store_and_ack(host: &dyn Host, common: &StreamCommon, msg: Incoming) -> Result<(), String> {
        let delivery_id = delivery_id(host, common, &msg)?;
        let name = EventName::new(msg.channel.clone(), "onMessage");
        host.store(&name, delivery_id, msg.payload.clone(), extra(&msg)).await?;
        // Stored (or known already): now the broker may forget it.
        msg.ack.ack().await
    }

    /// Splits messages into batches of one channel each, at most `size` long, in arrival order.
    fn by_channel(messages: Vec<Incoming>, size: usize) -> Vec<Vec<Incoming>> {
        let mut batches: Vec<Vec<Incoming>> = Vec::new();
        for m in messages {
            match batches.iter_mut().rev().find(|b| b[0].channel == m.channel && b.len() < size) {
                Some(b) => b.push(m),
                None => batches.push(vec![m]),
            }
        }
        batches
    }

    async fn store_batch_and_ack(host: &dyn Host, common: &StreamCommon, batch: Vec<Incoming>) -> Result<(), String> {
        let name = EventName::new(batch[0].channel.clone(), "onMessage");
        let mut members = Vec::with_capacity(batch.len());
        for m in &batch {
            members.push((delivery_id(host, common, m)?, m.payload.clone(), extra(m)));
        }
        host.store_batch(&name, members).await?;
        for m in batch {
            m.ack.ack().await?;
        }
        Ok(())
    }
}
