//! Broker consumers ("stream" triggers). Each runs until stopped, reconnecting with backoff,
//! and hands every message to the server over a bounded channel together with how to
//! acknowledge it: the server acknowledges only after the event is stored, so a crash before
//! that means the broker delivers again (at-least-once wherever the broker offers it).

#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(feature = "sqs")]
pub mod sqs;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde_json::{Map, Value};

pub type AckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// How to settle one message with its broker.
pub struct Ack(Option<Box<dyn FnOnce() -> AckFuture + Send>>);

impl Ack {
    pub fn new(f: impl FnOnce() -> AckFuture + Send + 'static) -> Ack {
        Ack(Some(Box::new(f)))
    }

    /// Nothing to acknowledge (at-most-once sources: core NATS, MQTT QoS 0).
    pub fn none() -> Ack {
        Ack(None)
    }

    pub async fn ack(self) -> Result<(), String> {
        match self.0 {
            Some(f) => f().await,
            None => Ok(()),
        }
    }
}

/// One message as the server receives it.
pub struct Incoming {
    /// The subject, queue or topic it came from.
    pub channel: String,
    /// JSON text: the body when it parses as JSON, else the body as a JSON string.
    pub payload: Bytes,
    /// Message headers (lower-case names), as a JSON object.
    pub headers: Map<String, Value>,
    /// The broker's own fields (subject, stream, sequence, delivery count…).
    pub message: Map<String, Value>,
    /// The broker's stable id for the message, when it has one.
    pub delivery_id: Option<String>,
    pub ack: Ack,
}

/// Messages waiting in the broker for this consumer, where the broker reports it (Kafka lag,
/// SQS approximate count); shared between the consumer and the server's health board.
#[derive(Debug, Clone)]
pub struct Backlog(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Default for Backlog {
    fn default() -> Self {
        Backlog(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)))
    }
}

impl Backlog {
    pub fn set(&self, n: i64) {
        self.0.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// `None` until the broker has told.
    pub fn get(&self) -> Option<u64> {
        u64::try_from(self.0.load(std::sync::atomic::Ordering::Relaxed)).ok()
    }
}

/// Asks the broker what waits for this consumer every 5 s while the connection lasts (the task
/// ends when the returned guard is dropped, with the connection).
#[cfg(any(feature = "nats", feature = "rabbitmq"))]
pub(crate) fn report_backlog<F, Fut>(backlog: &Backlog, mut ask: F) -> AbortOnDrop
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Option<u64>> + Send,
{
    let backlog = backlog.clone();
    AbortOnDrop(tokio::spawn(async move {
        loop {
            if let Some(n) = ask().await {
                backlog.set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    }))
}

#[cfg(any(feature = "nats", feature = "rabbitmq"))]
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

#[cfg(any(feature = "nats", feature = "rabbitmq"))]
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a consumer is doing, for health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    /// It keeps retrying; this is why the last attempt failed.
    Failed(String),
}

/// The payload of a message body: JSON kept as it is, anything else as a JSON string.
pub fn decode_body(body: &[u8]) -> Bytes {
    if crate::check_json(body).is_ok() {
        return Bytes::copy_from_slice(body);
    }
    let text = String::from_utf8_lossy(body);
    Bytes::from(Value::String(text.into_owned()).to_string())
}

/// Runs `consume` until `stop`, again after each failure with backoff, reporting the status;
/// returns when stopped or when the server side of `tx` is gone.
#[cfg(any(feature = "nats", feature = "rabbitmq", feature = "mqtt", feature = "kafka", feature = "sqs"))]
pub(crate) async fn reconnecting<F, Fut>(
    what: &str,
    tx: &tokio::sync::mpsc::Sender<Incoming>,
    status: &tokio::sync::watch::Sender<Status>,
    stop: &tokio_util::sync::CancellationToken,
    mut consume: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut attempt = 0;
    loop {
        let _ = status.send(Status::Connecting);
        let result = tokio::select! {
            r = consume() => r,
            () = stop.cancelled() => return,
        };
        if tx.is_closed() {
            return;
        }
        let why = result.err().unwrap_or_else(|| "the subscription ended".into());
        tracing::warn!(source = what, error = %why, "consumer stopped; reconnecting");
        let _ = status.send(Status::Failed(why));
        tokio::select! {
            () = tokio::time::sleep(backoff(attempt)) => {}
            () = stop.cancelled() => return,
        }
        attempt = attempt.saturating_add(1);
    }
}

/// The wait before the `attempt`-th reconnection: 0.5 s doubling to 30 s.
pub fn backoff(attempt: u32) -> std::time::Duration {
    let ms = 500u64.saturating_mul(1 << attempt.min(6));
    std::time::Duration::from_millis(ms.min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_as_json_or_text() {
        assert_eq!(&decode_body(br#"{"a":1}"#)[..], br#"{"a":1}"#);
        assert_eq!(&decode_body(b"hello")[..], br#""hello""#);
        assert_eq!(&decode_body(b"")[..], br#""""#);
        assert_eq!(backoff(0).as_millis(), 500);
        assert_eq!(backoff(10).as_secs(), 30);
    }
}
