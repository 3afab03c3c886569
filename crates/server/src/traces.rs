//! Traces over OTLP/HTTP (JSON encoding), off unless `--otlp-endpoint` is set: one trace per
//! event, with spans for its ingest (verify, store), each run, and each step (calls as client
//! spans, whose outbound requests carry the step's `traceparent`). An incoming W3C `traceparent`
//! becomes the parent and decides sampling; otherwise `--otlp-sample-ratio` does. Spans go to a
//! bounded queue and are exported in batches by a task of their own: when the collector is slow
//! or down, spans are dropped (and counted), never the events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

const QUEUE: usize = 8_192;
const BATCH: usize = 512;

/// SPAN_KIND values of OTLP.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// A W3C trace context: `00-<trace id>-<span id>-<flags>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub trace_id: String,
    pub span_id: String,
}

impl Context {
    /// A valid, sampled `traceparent`; `None` for anything else (a malformed one starts a new trace).
    pub fn parse(text: &str) -> Option<(Context, bool)> {
        let mut parts = text.trim().split('-');
        let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex =
            |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if version != "00" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
            return None;
        }
        if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
            return None;
        }
        let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
        Some((Context { trace_id: trace.into(), span_id: span.into() }, sampled))
    }
}

fn new_trace_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(1..), fastrand::u64(..))
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: Kind,
    /// Unix nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(&'static str, String)>,
    /// Set when the span's work failed.
    pub error: Option<String>,
}

/// Unix nanoseconds of a unix-millisecond time plus a fraction.
pub fn ns(ms: f64) -> u64 {
    (ms * 1_000_000.0).max(0.0) as u64
}

/// Unix nanoseconds now.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

pub struct Tracer {
    tx: mpsc::Sender<Span>,
    ratio: f64,
    dropped: AtomicU64,
}

impl Tracer {
    /// Starts the exporter task, which ends when `stop` is cancelled (after a last export).
    pub fn start(endpoint: &str, ratio: f64, stop: tokio_util::sync::CancellationToken) -> Result<Arc<Tracer>, String> {
        let url = if endpoint.trim_end_matches('/').ends_with("/v1/traces") {
            endpoint.to_string()
        } else {
            format!("{}/v1/traces", endpoint.trim_end_matches('/'))
        };
        reqwest::Url::parse(&url).map_err(|e| format!("--otlp-endpoint `{endpoint}` is not a URL: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the OTLP client: {e}"))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(export(client, url, rx, stop));
        Ok(Arc::new(Tracer { tx, ratio: ratio.clamp(0.0, 1.0), dropped: AtomicU64::new(0) }))
    }

    /// Whether to trace an event and under which context: an incoming `traceparent` decides
    /// (its trace, its sampling), else the sample ratio starts a new trace. `Some((trace id,
    /// parent span id))` when traced.
    pub fn sample(&self, incoming: Option<&str>) -> Option<(String, Option<String>)> {
        match incoming.and_then(Context::parse) {
            Some((ctx, true)) => Some((ctx.trace_id, Some(ctx.span_id))),
            Some((_, false)) => None,
            None => (self.ratio >= 1.0 || fastrand::f64() < self.ratio).then(|| (new_trace_id(), None)),
        }
    }

    pub fn record(&self, span: Span) {
        if self.tx.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped because the export queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn span_json(s: &Span) -> Value {
    let mut v = json!({
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": s.kind as u8,
        "startTimeUnixNano": s.start_ns.to_string(),
        "endTimeUnixNano": s.end_ns.max(s.start_ns).to_string(),
        "attributes": s.attributes.iter().map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } })).collect::<Vec<_>>(),
        "status": match &s.error {
            Some(e) => json!({ "code": 2, "message": e }),
            None => json!({ "code": 1 }),
        },
    });
    if let Some(p) = &s.parent_span_id {
        v["parentSpanId"] = Value::String(p.clone());
    }
    v
}

/// The OTLP/JSON export request of `spans`.
pub fn export_body(spans: &[Span]) -> Value {
    json!({ "resourceSpans": [{
        "resource": { "attributes": [
            { "key": "service.name", "value": { "stringValue": "onset" } },
            { "key": "service.version", "value": { "stringValue": env!("CARGO_PKG_VERSION") } },
        ] },
        "scopeSpans": [{ "scope": { "name": "onset" }, "spans": spans.iter().map(span_json).collect::<Vec<_>>() }],
    }] })
}

async fn export(
    client: reqwest::Client,
    url: String,
    mut rx: mpsc::Receiver<Span>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut failing = false;
    loop {
        let done = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n == 0,
            () = tokio::time::sleep(Duration::from_secs(1)), if !batch.is_empty() => false,
            () = stop.cancelled() => true,
        };
        // Gather what else is queued, up to a batch, before sending.
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let body = export_body(&batch).to_string();
            let sent = client.post(&url).header("content-type", "application/json").body(body).send().await;
            match sent {
                Ok(r) if r.status().is_success() => failing = false,
                Ok(r) if !failing => {
                    tracing::warn!(status = %r.status(), spans = batch.len(), "the OTLP endpoint refused spans; dropped");
                    failing = true;
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, spans = batch.len(), "cannot reach the OTLP endpoint; spans dropped");
                    failing = true;
                }
                _ => {}
            }
            batch.clear();
        }
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_strictly() {
        let (ctx, sampled) = Context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert!(sampled);
        assert_eq!(
            (ctx.trace_id.as_str(), ctx.span_id.as_str()),
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
        );
        assert!(!Context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap().1);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902-01",
        ] {
            assert!(Context::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(new_trace_id().len(), 32);
    }
}
