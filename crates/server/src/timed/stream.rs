//! Stream triggers: a broker consumer (in `onset_sources::stream`) hands messages over a
//! bounded channel; each is stored as an event (`<channel>.onMessage`) and only then
//! acknowledged to the broker. A full write queue makes this loop wait, so the consumer stops
//! pulling: backpressure reaches the broker instead of dropping.

use std::sync::Arc;

use onset_model::catalog::EventName;
use onset_sources::stream::{Backlog, Incoming, Status};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::deploy::Deployed;
use onset_sources::triggers::StreamCommon;

/// Messages stored together at most.
const MAX_BATCH: usize = 256;

pub async fn run(app: Arc<App>, deployed: Arc<Deployed>, token: CancellationToken) {
    let (component, environment) = (deployed.name().to_string(), deployed.environment.clone());
    let Some(stream) = deployed.trigger.stream() else { return };
    let common = stream.common.clone();
    let (tx, mut rx) = mpsc::channel::<Incoming>(common.max_in_flight);
    let (status_tx, mut status_rx) = watch::channel(Status::Connecting);
    let consumer = token.child_token();
    let backlog = Backlog::default();
    // The durable consumer / consumer tag names this component in this environment.
    let name = format!("onset-{component}-{environment}");
    stream.spawn(name, backlog.clone(), tx, status_tx, consumer.clone());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(first) = msg else { return };
                // Everything already waiting goes to the store at once: the writer commits
                // concurrent ingests together (group commit) instead of one commit per message.
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
                            () = token.cancelled() => break,
                        }
                    }
                }
                let results = if common.batch_size > 1 {
                    let batches = by_channel(waiting, common.batch_size);
                    futures_util::future::join_all(
                        batches.into_iter().map(|b| store_batch_and_ack(&app, &deployed, &common, b, &token)),
                    )
                    .await
                } else {
                    futures_util::future::join_all(
                        waiting.into_iter().map(|m| store_and_ack(&app, &deployed, &common, m, &token)),
                    )
                    .await
                };
                if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                    app.source_failed(&environment, &component, e, None);
                }
            }
            changed = status_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let status = status_rx.borrow_and_update().clone();
                match status {
                    Status::Connected => app.source_ok(&environment, &component, None),
                    Status::Failed(e) => app.source_failed(&environment, &component, e, None),
                    Status::Connecting => {}
                }
            }
            _ = tick.tick() => {
                if let Some(n) = backlog.get() {
                    app.source_backlog(&environment, &component, n);
                }
            }
            () = token.cancelled() => {
                consumer.cancel();
                return;
            }
        }
    }
}

/// The message's delivery id: `external_id` evaluated over it, else the broker's own id.
fn delivery_id(deployed: &Deployed, common: &StreamCommon, msg: &Incoming) -> Result<Option<String>, String> {
    let Some(program) = &common.external_id else { return Ok(msg.delivery_id.clone()) };
    let event: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
    let scope = onset_expr::from_json(&json!({
        "config": deployed.config, "event": event, "message": msg.message, "headers": msg.headers,
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

async fn store_and_ack(
    app: &Arc<App>,
    deployed: &Deployed,
    common: &StreamCommon,
    msg: Incoming,
    token: &CancellationToken,
) -> Result<(), String> {
    let delivery_id = delivery_id(deployed, common, &msg)?;
    let name = EventName::new(msg.channel.clone(), "onMessage");
    crate::ingress::store_delivery(app, deployed, &name, delivery_id, msg.payload.clone(), extra(&msg), token).await?;
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

async fn store_batch_and_ack(
    app: &Arc<App>,
    deployed: &Deployed,
    common: &StreamCommon,
    batch: Vec<Incoming>,
    token: &CancellationToken,
) -> Result<(), String> {
    let name = EventName::new(batch[0].channel.clone(), "onMessage");
    let mut members = Vec::with_capacity(batch.len());
    for m in &batch {
        members.push((delivery_id(deployed, common, m)?, m.payload.clone(), extra(m)));
    }
    crate::ingress::store_batch(app, deployed, &name, members, token).await?;
    for m in batch {
        m.ack.ack().await?;
    }
    Ok(())
}
