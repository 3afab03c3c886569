//! NATS: with `stream`, a JetStream durable pull consumer (explicit acks: at-least-once, the
//! stream sequence is the delivery id); without, a core NATS subscription (at-most-once).

use async_nats::jetstream;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Ack, Backlog, Incoming, Status, decode_body};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    pub url: String,
    pub subject: String,
    /// A JetStream stream: the messages are consumed durably from it.
    #[serde(default)]
    pub stream: Option<String>,
    /// The durable consumer's name (default `onset-<component>-<environment>`).
    #[serde(default)]
    pub durable: Option<String>,
    /// How long JetStream waits for an acknowledgement before delivering again.
    #[serde(default)]
    pub ack_wait: Option<onset_model::Duration>,
    /// How many times JetStream delivers a message at most.
    #[serde(default)]
    pub max_deliver: Option<i64>,
}

fn headers_of(h: Option<&async_nats::HeaderMap>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(h) = h {
        for (name, values) in h.iter() {
            let v: Vec<Value> = values.iter().map(|v| Value::String(v.to_string())).collect();
            let v = if v.len() == 1 { v.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(v) };
            out.insert(name.to_string().to_ascii_lowercase(), v);
        }
    }
    out
}

/// Consumes until `stop`, reconnecting with backoff; sends each message to `tx` (waiting when
/// the server is busy: backpressure reaches the broker).
pub async fn run(
    settings: NatsSettings,
    default_durable: String,
    backlog: Backlog,
    tx: mpsc::Sender<Incoming>,
    status: watch::Sender<Status>,
    stop: CancellationToken,
) {
    let what = format!("nats {} {}", settings.url, settings.subject);
    super::reconnecting(&what, &tx, &status, &stop, || consume(&settings, &default_durable, &backlog, &tx, &status))
        .await;
}

async fn consume(
    s: &NatsSettings,
    default_durable: &str,
    backlog: &Backlog,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(s.url.as_str())
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", s.url))?;
    let Some(stream_name) = &s.stream else {
        let mut sub = client.subscribe(s.subject.clone()).await.map_err(|e| e.to_string())?;
        let _ = status.send(Status::Connected);
        while let Some(msg) = sub.next().await {
            let incoming = Incoming {
                channel: s.subject.clone(),
                payload: decode_body(&msg.payload),
                headers: headers_of(msg.headers.as_ref()),
                message: Map::from_iter([("subject".to_string(), json!(msg.subject.as_str()))]),
                delivery_id: None,
                ack: Ack::none(),
            };
            if tx.send(incoming).await.is_err() {
                return Ok(());
            }
        }
        return Err("the connection closed".into());
    };
    let js = jetstream::new(client);
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| format!("JetStream stream `{stream_name}`: {e} (create it, e.g. nats stream add)"))?;
    let durable = s.durable.clone().unwrap_or_else(|| default_durable.to_string());
    let mut config = jetstream::consumer::pull::Config {
        durable_name: Some(durable.clone()),
        filter_subject: s.subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    if let Some(w) = s.ack_wait {
        config.ack_wait = w.as_std();
    }
    if let Some(m) = s.max_deliver {
        config.max_deliver = m;
    }
    let consumer = stream
        .get_or_create_consumer(&durable, config)
        .await
        .map_err(|e| format!("JetStream consumer `{durable}`: {e}"))?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let _ = status.send(Status::Connected);
    // JetStream counts the messages of the stream this consumer has not been handed yet.
    let _backlog = super::report_backlog(backlog, move || {
        let consumer = consumer.clone();
        async move { consumer.get_info().await.ok().map(|i| i.num_pending) }
    });
    while let Some(next) = messages.next().await {
        let msg = next.map_err(|e| e.to_string())?;
        let info = msg.info().map_err(|e| e.to_string())?;
        let (sequence, delivered) = (info.stream_sequence, info.delivered);
        let mut message = Map::new();
        message.insert("subject".into(), json!(msg.subject.as_str()));
        message.insert("stream".into(), json!(stream_name));
        message.insert("sequence".into(), json!(sequence));
        message.insert("delivered".into(), json!(delivered));
        let incoming = Incoming {
            channel: s.subject.clone(),
            payload: decode_body(&msg.payload),
            headers: headers_of(msg.headers.as_ref()),
            message,
            delivery_id: Some(format!("{stream_name}:{sequence}")),
            ack: Ack::new(move || Box::pin(async move { msg.ack().await.map_err(|e| e.to_string()) })),
        };
        if tx.send(incoming).await.is_err() {
            return Ok(());
        }
    }
    Err("the JetStream message stream ended".into())
}
