//! Storing what was accepted and queueing its runs: the events of sources inside the server
//! (schedules, polls, broker messages, one by one or in batches), the acknowledgement the caller
//! gets, and the runs an event starts.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use onset_model::catalog::EventName;
use onset_sources::Answer;
use onset_store::{EventForRun, IngestOutcome, NewEvent, NewRun, PendingRun, StoreError};
use serde_json::json;

use super::{Address, IngestTrace};
use crate::app::{App, new_id, now_ms};
use crate::deploy::Deployed;
use crate::scheduler::Job;
use crate::series::Outcome;

/// Stores an event a source inside the server produced (schedule, poll, a broker message) and
/// queues its runs; `headers` and `params` are JSON objects (a message's headers and broker
/// fields).
/// A full write queue is waited out, never a reason to drop the event; `Err` only when the
/// store fails or the source is stopped.
pub(crate) async fn store_delivery(
    app: &App,
    deployed: &Deployed,
    name: &EventName,
    delivery_id: Option<String>,
    payload: Bytes,
    (headers, params): (String, String),
    stop: &tokio_util::sync::CancellationToken,
) -> Result<IngestOutcome, String> {
    let event = NewEvent {
        id: new_id(),
        component: deployed.name().to_string(),
        environment: deployed.environment.clone(),
        channel: name.channel.clone(),
        event: name.event.clone(),
        delivery_id,
        received_at: now_ms(),
        headers,
        query: "{}".into(),
        params,
        payload,
        runs: runs_for(deployed, name),
        trace: None,
    };
    let mut trace = source_trace(app);
    let event = NewEvent { trace: trace.as_ref().map(IngestTrace::traceparent), ..event };
    let store_start = crate::traces::now_ns();
    let outcome = waiting_out_busy(stop, || app.store.ingest(event.clone())).await?;
    finish_source_trace(app, deployed, trace.take(), store_start, &event.id, &outcome);
    record_stored(app, deployed, &outcome);
    if matches!(outcome, IngestOutcome::Stored) {
        enqueue_runs(app, &event);
    }
    Ok(outcome)
}

/// A new trace for what an in-server source (broker, poller, schedule) receives, if sampled.
fn source_trace(app: &App) -> Option<IngestTrace> {
    let tracer = app.tracer.as_ref()?;
    tracer.sample(None).map(|(trace_id, parent)| IngestTrace::new(trace_id, parent))
}

/// Records the ingest and store spans of what an in-server source stored.
fn finish_source_trace(
    app: &App,
    deployed: &Deployed,
    trace: Option<IngestTrace>,
    store_start: u64,
    event_id: &str,
    outcome: &IngestOutcome,
) {
    let (Some(tracer), Some(mut t)) = (&app.tracer, trace) else { return };
    t.store = Some((store_start, crate::traces::now_ns()));
    t.event_id = Some(match outcome {
        IngestOutcome::Duplicate { event_id } => event_id.clone(),
        IngestOutcome::Stored => event_id.to_string(),
    });
    let to = Address { environment: &deployed.environment, component: deployed.name(), resource: "" };
    t.finish(tracer, to, 200, None);
}

/// Counts an event an in-server source stored (or found stored already).
fn record_stored(app: &App, deployed: &Deployed, outcome: &IngestOutcome) {
    let (name, series) = match outcome {
        IngestOutcome::Stored => ("accepted", Outcome::Accepted),
        IngestOutcome::Duplicate { .. } => ("duplicate", Outcome::Duplicate),
    };
    app.metrics.event_received(deployed.name(), &deployed.environment, name);
    app.series.event(deployed.name(), &deployed.environment, series);
}

/// Runs `write` again while the write queue or the disk is full (an in-server source never drops what it
/// received); `Err` when the store fails or `stop` comes first.
async fn waiting_out_busy<T, F, Fut>(stop: &tokio_util::sync::CancellationToken, mut write: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    loop {
        match write().await {
            Err(e @ (StoreError::Busy | StoreError::DiskFull)) => {
                // The broker keeps the message until it is acknowledged: wait for room.
                let wait = if matches!(e, StoreError::Busy) { 50 } else { 1_000 };
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                    () = stop.cancelled() => return Err("stopped".into()),
                }
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

/// Queues the runs of an event just stored.
pub(crate) fn enqueue_runs(app: &App, event: &NewEvent) {
    for run in &event.runs {
        let job = Job {
            lease: String::new(),
            claimed: false,
            responder: None,
            run: pending(run.clone(), &event.id, &event.component, &event.environment, event.received_at),
            event: Some(EventForRun {
                payload: event.payload.clone(),
                headers: event.headers.clone(),
                query: event.query.clone(),
                params: event.params.clone(),
                delivery_id: event.delivery_id.clone(),
                received_at: event.received_at,
                trace: event.trace.clone(),
            }),
        };
        app.scheduler.enqueue(job, now_ms());
    }
}

/// One message of a batch: its delivery id, payload, and (headers, params) as JSON objects.
pub(crate) type Member = (Option<String>, Bytes, (String, String));

/// Stores messages one run handles together (`batch_size` > 1): each is an event of its own,
/// deduplicated by its delivery id; the run receives the list of those never stored before
/// (none: no run). Waits out a full write queue; `Err` only when the store fails or the source
/// is stopped.
pub(crate) async fn store_batch(
    app: &App,
    deployed: &Deployed,
    name: &EventName,
    members: Vec<Member>,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    let received_at = now_ms();
    let event = |delivery_id, payload, (headers, params), runs| NewEvent {
        id: new_id(),
        component: deployed.name().to_string(),
        environment: deployed.environment.clone(),
        channel: name.channel.clone(),
        event: name.event.clone(),
        delivery_id,
        received_at,
        headers,
        query: "{}".into(),
        params,
        payload,
        runs,
        trace: None,
    };
    let events: Vec<NewEvent> =
        members.into_iter().map(|(id, payload, extra)| event(id, payload, extra, Vec::new())).collect();
    let batch = event(None, Bytes::new(), (String::new(), String::new()), runs_for(deployed, name));
    let trace = source_trace(app);
    let batch = NewEvent { trace: trace.as_ref().map(IngestTrace::traceparent), ..batch };
    let store_start = crate::traces::now_ns();
    let (outcomes, batch) = waiting_out_busy(stop, || app.store.ingest_batch(events.clone(), batch.clone())).await?;
    for outcome in outcomes {
        record_stored(app, deployed, &outcome);
    }
    if let Some(batch) = batch {
        finish_source_trace(app, deployed, trace, store_start, &batch.id, &IngestOutcome::Stored);
        enqueue_runs(app, &batch);
    }
    Ok(())
}

/// The sender's answer once the event is stored (or known from an earlier delivery).
pub(crate) fn acknowledge(answer: &Answer, event_id: &str, duplicate: bool) -> Response {
    match answer {
        Answer::Accepted => {
            let status = if duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
            (status, axum::Json(json!({ "event_id": event_id, "duplicate": duplicate }))).into_response()
        }
        Answer::Empty => StatusCode::OK.into_response(),
        Answer::Challenge(text) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.clone()).into_response()
        }
    }
}

/// One run for the first handler that takes the delivery (its own name, then aliases).
pub(crate) fn runs_for(deployed: &Deployed, name: &EventName) -> Vec<NewRun> {
    name.candidates()
        .find_map(|(c, e)| deployed.compiled.handler(c, e).map(|h| (c, e, h)))
        .map(|(channel, event, h)| NewRun {
            id: new_id(),
            channel: channel.to_string(),
            event: event.to_string(),
            handler: deployed.handler_name(channel, event),
            deployment_id: deployed.id.clone(),
            max_attempts: h.retry.attempts,
        })
        .into_iter()
        .collect()
}

pub(crate) fn pending(run: NewRun, event_id: &str, component: &str, environment: &str, run_at: i64) -> PendingRun {
    PendingRun {
        id: run.id,
        event_id: event_id.to_string(),
        component: component.to_string(),
        environment: environment.to_string(),
        channel: run.channel,
        event: run.event,
        deployment_id: run.deployment_id,
        attempt: 1,
        max_attempts: run.max_attempts,
        run_at,
    }
}
