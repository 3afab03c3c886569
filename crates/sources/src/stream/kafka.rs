//! Kafka: a consumer group member reading `topics` (librdkafka, built from its bundled sources).
//! Offsets are committed only up to records whose events are stored: each partition keeps the
//! offsets received and not yet stored, and the offset handed to librdkafka's auto-commit is the
//! first one still missing. `topic/partition/offset` is the delivery id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{ClientContext, Statistics};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Ack, Backlog, Incoming, Status, decode_body};

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Brokers {
    One(String),
    Many(Vec<String>),
}

impl Brokers {
    /// `host:port,host:port` as librdkafka takes it.
    pub fn joined(&self) -> String {
        match self {
            Brokers::One(s) => s.clone(),
            Brokers::Many(v) => v.join(","),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// A new group starts at the oldest record still kept: nothing published before the first
    /// deploy is missed.
    #[default]
    Earliest,
    /// A new group starts with the records published after it joined.
    Latest,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `host:9092` or a list of them.
    pub brokers: Brokers,
    pub topics: Vec<String>,
    /// The consumer group (default `onset-<component>-<environment>`).
    #[serde(default)]
    pub group: Option<String>,
    /// Where a group without committed offsets starts.
    #[serde(default)]
    pub start: Start,
    /// More librdkafka properties (`security.protocol`, `sasl.mechanism`, `sasl.username`…).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl KafkaSettings {
    /// What is wrong with these settings before anything connects.
    pub fn check(&self) -> Result<(), String> {
        if self.brokers.joined().trim().is_empty() {
            return Err("brokers is empty; give host:port of at least one broker".into());
        }
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err("topics needs at least one topic name, and no empty ones".into());
        }
        if let Some(reserved) = self.options.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return Err(format!("options.{reserved} is set by Onset itself; remove it"));
        }
        Ok(())
    }
}

/// Properties Onset's delivery guarantee depends on.
const RESERVED: &[&str] =
    &["group.id", "bootstrap.servers", "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset"];

/// librdkafka reports errors and lag through callbacks on its own threads.
struct Context {
    status: watch::Sender<Status>,
    backlog: Backlog,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka client error");
        let _ = self.status.send(Status::Failed(format!("{error}: {reason}")));
    }

    fn stats(&self, stats: Statistics) {
        // The sum over assigned partitions of (high watermark − committed position).
        let lag: i64 = stats
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
            .map(|p| p.consumer_lag)
            .sum();
        self.backlog.set(lag);
    }
}

impl ConsumerContext for Context {}

type Consumer_ = StreamConsumer<Context>;

/// Offsets received and not yet stored, per topic and partition.
#[derive(Default)]
struct Pending(Mutex<HashMap<(String, i32), BTreeMap<i64, bool>>>);

impl Pending {
    fn received(&self, topic: &str, partition: i32, offset: i64) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((topic.to_string(), partition)).or_default().insert(offset, false);
    }

    /// Marks `offset` stored; returns the highest offset below which everything is stored.
    fn stored(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let offsets = map.get_mut(&(topic.to_string(), partition))?;
        if let Some(done) = offsets.get_mut(&offset) {
            *done = true;
        }
        let mut last = None;
        while let Some(entry) = offsets.first_entry() {
            if !*entry.get() {
                break;
            }
            last = Some(*entry.key());
            entry.remove();
        }
        last
    }
}

pub async fn run(
    settings: KafkaSettings,
    default_group: String,
    backlog: Backlog,
    tx: mpsc::Sender<Incoming>,
    status: watch::Sender<Status>,
    stop: CancellationToken,
) {
    let what = format!("kafka {} {}", settings.brokers.joined(), settings.topics.join(","));
    let group = settings.group.clone().unwrap_or(default_group);
    super::reconnecting(&what, &tx, &status, &stop, || consume(&settings, &group, &backlog, &tx, &status)).await;
}

fn consumer(s: &KafkaSettings, group: &str, context: Context) -> Result<Consumer_, String> {
    let mut config = ClientConfig::new();
    for (k, v) in &s.options {
        config.set(k, v);
    }
    config
        .set("bootstrap.servers", s.brokers.joined())
        .set("group.id", group)
        // librdkafka commits in the background, but only offsets stored after the event is.
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", "1000")
        .set("auto.offset.reset", if s.start == Start::Latest { "latest" } else { "earliest" })
        .set("statistics.interval.ms", "5000");
    config.create_with_context(context).map_err(|e| format!("kafka consumer: {e}"))
}

async fn consume(
    s: &KafkaSettings,
    group: &str,
    backlog: &Backlog,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    let context = Context { status: status.clone(), backlog: backlog.clone() };
    let consumer = Arc::new(consumer(s, group, context)?);
    let topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(|e| format!("subscribing to {}: {e}", s.topics.join(", ")))?;
    // librdkafka connects lazily: ask for metadata so that a wrong address shows at once.
    let probe = consumer.clone();
    let first = topics[0].to_string();
    tokio::task::spawn_blocking(move || probe.fetch_metadata(Some(&first), Duration::from_secs(10)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot reach the brokers {}: {e}", s.brokers.joined()))?;
    let _ = status.send(Status::Connected);
    let pending = Arc::new(Pending::default());
    let result = receive(&consumer, &pending, tx, status).await;
    // Whatever is stored gets committed before the consumer leaves its group.
    let closing = consumer.clone();
    let _ = tokio::task::spawn_blocking(move || closing.commit_consumer_state(CommitMode::Sync)).await;
    result
}

async fn receive(
    consumer: &Arc<Consumer_>,
    pending: &Arc<Pending>,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    loop {
        let record = consumer.recv().await.map_err(|e| format!("kafka: {e}"))?;
        if !matches!(*status.borrow(), Status::Connected) {
            let _ = status.send(Status::Connected);
        }
        let (topic, partition, offset) = (record.topic().to_string(), record.partition(), record.offset());
        let mut headers = Map::new();
        if let Some(h) = record.headers() {
            for header in h.iter() {
                let value = header.value.map_or(Value::Null, |v| json!(String::from_utf8_lossy(v)));
                headers.insert(header.key.to_ascii_lowercase(), value);
            }
        }
        let mut message = Map::new();
        message.insert("topic".into(), json!(topic));
        message.insert("partition".into(), json!(partition));
        message.insert("offset".into(), json!(offset));
        message.insert("key".into(), json!(record.key().map(String::from_utf8_lossy)));
        message.insert("timestamp".into(), json!(record.timestamp().to_millis()));
        let payload = decode_body(record.payload().unwrap_or_default());
        drop(record);
        pending.received(&topic, partition, offset);
        let (consumer, pending) = (consumer.clone(), pending.clone());
        let incoming = Incoming {
            channel: topic.clone(),
            payload,
            headers,
            message,
            delivery_id: Some(format!("{topic}/{partition}/{offset}")),
            ack: Ack::new(move || {
                Box::pin(async move {
                    match pending.stored(&topic, partition, offset) {
                        // librdkafka commits the offset after this one.
                        Some(upto) => consumer.store_offset(&topic, partition, upto).map_err(|e| e.to_string()),
                        None => Ok(()),
                    }
                })
            }),
        };
        if tx.send(incoming).await.is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_released_only_when_everything_before_is_stored() {
        let p = Pending::default();
        for o in 10..14 {
            p.received("t", 0, o);
        }
        p.received("t", 1, 3);
        assert_eq!(p.stored("t", 0, 11), None, "10 is still being stored");
        assert_eq!(p.stored("t", 0, 12), None);
        assert_eq!(p.stored("t", 0, 10), Some(12), "10, 11 and 12 are all stored");
        assert_eq!(p.stored("t", 1, 3), Some(3), "partitions are independent");
        assert_eq!(p.stored("t", 0, 13), Some(13));
        assert_eq!(p.stored("t", 0, 13), None, "a second ack changes nothing");
    }

    #[test]
    fn settings_are_checked() {
        let s: KafkaSettings =
            serde_json::from_value(json!({"brokers": ["a:9092", "b:9092"], "topics": ["orders"]})).unwrap();
        assert_eq!(s.brokers.joined(), "a:9092,b:9092");
        assert_eq!(s.start, Start::Earliest);
        s.check().unwrap();
        let s: KafkaSettings =
            serde_json::from_value(json!({"brokers": "a:9092", "topics": [], "group": "g"})).unwrap();
        assert!(s.check().unwrap_err().contains("topics"));
        let s: KafkaSettings = serde_json::from_value(
            json!({"brokers": "a:9092", "topics": ["t"], "options": {"enable.auto.commit": "false"}}),
        )
        .unwrap();
        assert!(s.check().unwrap_err().contains("enable.auto.commit"));
    }
}
