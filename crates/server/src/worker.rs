//! Executing runs: the dispatcher hands ready runs to tasks; each task runs the handler on its
//! deployment, records the attempt, and schedules a retry or dead-letters it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use minijinja::Value;
use onset_engine::{RunInput, StepRecord, backoff};
use onset_store::{Completion, EventForRun, NewStep, PendingRun, RunStatus};

use crate::app::{App, now_ms};
use crate::scheduler::Job;

/// Loads waiting runs from the store into the scheduler: those of one component and
/// environment (after a resume), or of every running component (at start, and when memory has
/// room again after an overflow). More than one batch marks the overflow for the next round.
pub async fn reload(app: &App, scope: Option<(String, String)>) {
    let limit = app.scheduler.reload_batch();
    match app.store.pending_runs(scope, limit).await {
        Ok(runs) => {
            let full = runs.len() == limit;
            let now = now_ms();
            for run in runs {
                app.scheduler.enqueue(Job::stored(run), now);
            }
            if full {
                app.scheduler.set_overflow();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot load waiting runs; trying again shortly");
            app.scheduler.set_overflow();
        }
    }
}

/// Claims up to the scheduler's room from a shared store; `Some(true)` when the claim was full
/// (more may be waiting), `None` when there was no room to claim anything (whatever waits is
/// still to be claimed once runs end).
async fn claim(app: &App) -> Option<bool> {
    let room = app.scheduler.room();
    if room == 0 {
        return None;
    }
    let now = now_ms();
    let token = crate::app::new_id();
    match app.store.claim(token.clone(), room, now, now + app.config.lease.as_millis() as i64).await {
        Ok(runs) => {
            let full = runs.len() == room;
            for run in runs {
                app.scheduler.enqueue(Job::claimed(run, token.clone()), now);
            }
            Some(full)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim waiting runs; trying again shortly");
            Some(false)
        }
    }
}

/// Takes ready runs and starts them until shutdown. On a shared store it also claims runs any
/// node stored (woken by their announcements, and at least every second).
pub async fn dispatch(app: Arc<App>) {
    let shared = app.store.shared();
    let signals = app.store.signals();
    let mut claim_now = shared;
    let mut last_claim = 0;
    loop {
        let now = now_ms();
        app.dispatcher_beat.store(now, Ordering::Relaxed);
        if app.shutdown.is_cancelled() {
            break;
        }
        if shared {
            if (claim_now || now - last_claim >= 1_000)
                && let Some(full) = claim(&app).await
            {
                claim_now = full;
                last_claim = now;
            }
        } else if app.scheduler.take_reload() {
            reload(&app, None).await;
        }
        let jobs = app.scheduler.take(now);
        if !jobs.is_empty() {
            start(&app, jobs, now).await;
        }
        let wait = app.scheduler.next_due_in(now_ms()).map_or(1_000, |ms| ms.min(1_000));
        let announced = async {
            match &signals {
                Some(s) => s.runs.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = app.scheduler.wake.notified() => {}
            () = announced => claim_now = true,
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = app.shutdown.cancelled() => {}
        }
    }
}

/// Marks runs taken from memory as running (claimed ones are already) and starts them; on a
/// shared store a run another node took meanwhile is let go.
async fn start(app: &Arc<App>, jobs: Vec<Job>, now: i64) {
    let fresh: Vec<(String, String)> =
        jobs.iter().filter(|j| !j.claimed).map(|j| (j.run.id.clone(), j.lease.clone())).collect();
    let lease_until = now + app.config.lease.as_millis() as i64;
    // Only a shared store can have given a run to someone else: its answer says which are ours.
    let taken: Option<std::collections::HashSet<String>> = if fresh.is_empty() {
        None
    } else {
        match app.store.mark_running(fresh, now, lease_until).await {
            Ok(ids) if app.store.shared() => Some(ids.into_iter().collect()),
            Ok(_) => None,
            Err(e) => {
                // On a store only this process uses the runs go ahead (nothing else can take
                // them); on a shared one they wait for a claim.
                tracing::warn!(error = %e, "cannot mark runs as running");
                app.store.shared().then(std::collections::HashSet::new)
            }
        }
    };
    for job in jobs {
        if !job.claimed && taken.as_ref().is_some_and(|t| !t.contains(&job.run.id)) {
            tracing::debug!(run = %job.run.id, "another node took the run first");
            app.scheduler.done(&job.run);
            continue;
        }
        let app = app.clone();
        tokio::spawn(async move {
            let run = job.run.clone();
            let retry = execute(&app, job).await;
            app.scheduler.done(&run);
            if let Some(retry) = retry {
                app.scheduler.enqueue(Job::stored(retry), now_ms());
            }
        });
    }
}

/// Extends the leases of runs in flight, so a long run is not taken for a crashed one.
pub async fn keep_leases(app: Arc<App>) {
    let every = app.config.lease / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = app.shutdown.cancelled() => break,
        }
        let leases = app.scheduler.running_leases();
        if !leases.is_empty() {
            let until = now_ms() + app.config.lease.as_millis() as i64;
            if let Err(e) = app.store.extend_leases(leases, until).await {
                tracing::warn!(error = %e, "cannot extend leases");
            }
        }
        // Runs whose worker stopped extending its lease (it died or stalled) are taken again.
        match app.store.reclaim_expired(now_ms()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(runs = ids.len(), "re-queued runs whose lease expired");
                app.scheduler.set_overflow();
                app.scheduler.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot reclaim expired leases"),
        }
    }
}

fn json_value(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or(Value::UNDEFINED)
}

fn meta(app_kind: &str, run: &PendingRun, ev: &EventForRun) -> Value {
    let mut m = indexmap::IndexMap::with_capacity(10);
    let mut put = |k: &str, v: Value| {
        m.insert(Value::from(k), v);
    };
    put("trigger", Value::from(app_kind));
    put("component", Value::from(run.component.as_str()));
    put("environment", Value::from(run.environment.as_str()));
    put("channel", Value::from(run.channel.as_str()));
    put("event", Value::from(run.event.as_str()));
    put("delivery_id", Value::from(ev.delivery_id.clone()));
    put(
        "received_at",
        Value::from(jiff::Timestamp::from_millisecond(ev.received_at).map(|t| t.to_string()).unwrap_or_default()),
    );
    put("headers", json_value(&ev.headers));
    put("query", json_value(&ev.query));
    put("params", json_value(&ev.params));
    if onset_sources::triggers::source(app_kind).is_some_and(|t| t.message_meta()) {
        // A broker message's own fields (subject, stream, sequence, delivery count…).
        put("message", json_value(&ev.params));
    }
    put("run_id", Value::from(run.id.as_str()));
    put("event_id", Value::from(run.event_id.as_str()));
    put("attempt", Value::from(run.attempt));
    Value::from(m)
}

fn step_rows(records: Vec<StepRecord>) -> Vec<NewStep> {
    records
        .into_iter()
        .map(|r| NewStep {
            logs: (!r.logs.is_empty()).then(|| serde_json::Value::from(r.logs).to_string()),
            path: r.path,
            id: r.id,
            name: r.name,
            kind: r.kind,
            status: r.status.as_str(),
            input: r.input,
            output: r.output,
            error: r.error,
            started_at: r.started_at,
            duration_ms: r.duration_ms,
        })
        .collect()
}

/// Ends a run that cannot start (its build or event is gone): recorded as `failed`.
async fn fail_early(app: &App, run: &PendingRun, lease: &str, message: String) {
    tracing::error!(run = %run.id, error = %message, "run cannot start");
    let completion = Completion {
        run_id: run.id.clone(),
        lease: Some(lease.to_string()),
        attempt: run.attempt,
        status: RunStatus::Failed,
        finished_at: now_ms(),
        error: Some(message),
        error_step: None,
        next_run_at: None,
        steps: Vec::new(),
    };
    match app.store.complete(completion).await {
        Err(onset_store::StoreError::LeaseLost) => {
            lease_lost(app, run);
            return;
        }
        Err(e) => tracing::error!(run = %run.id, error = %e, "cannot record the failure"),
        Ok(()) => {}
    }
    app.metrics.run_finished(&run.component, &run.environment, "failed", 0.0);
    app.series.run(&run.component, &run.environment, "", "failed", 0.0);
}

/// An attempt ended after its lease was lost (the run was taken again): its result is dropped,
/// the newer attempt's counts.
fn lease_lost(app: &App, run: &PendingRun) {
    tracing::warn!(run = %run.id, attempt = run.attempt,
        "the run's lease was lost before it ended; this attempt's result is dropped and the run is taken again");
    app.metrics.lease_lost();
}

/// A completion waiting for the batch it is written in, with whom to tell how it went.
pub type Pending = (Completion, tokio::sync::oneshot::Sender<Result<(), onset_store::StoreError>>);

/// Completions queued for [`complete_batches`] at most; beyond, workers wait to queue theirs.
pub const COMPLETION_QUEUE: usize = 4096;
/// Completions written in one transaction at most.
const COMPLETION_BATCH: usize = 512;

/// On a shared store, writes completions in batches: all that arrived while the previous batch
/// was being written go in one transaction (each still fenced by its own lease). One round trip
/// for many runs instead of several per run.
pub async fn complete_batches(app: Arc<App>, mut queue: tokio::sync::mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(COMPLETION_BATCH);
    while queue.recv_many(&mut batch, COMPLETION_BATCH).await > 0 {
        let (completions, answers): (Vec<Completion>, Vec<_>) = batch.drain(..).unzip();
        match app.store.complete_batch(completions).await {
            Ok(recorded) => {
                // Only a completion under a lease can go unrecorded: its lease was lost.
                for (answer, recorded) in answers.into_iter().zip(recorded) {
                    let _ = answer.send(if recorded { Ok(()) } else { Err(onset_store::StoreError::LeaseLost) });
                }
            }
            Err(e) => {
                let disk_full = matches!(e, onset_store::StoreError::DiskFull);
                let text = e.to_string();
                for answer in answers {
                    let _ = answer.send(Err(if disk_full {
                        onset_store::StoreError::DiskFull
                    } else {
                        onset_store::StoreError::Database(text.clone().into())
                    }));
                }
            }
        }
    }
}

/// Records the end of an attempt (through the batch writer on a shared store); while the disk is
/// full it waits for room rather than leave the run to the next restart.
async fn record_completion(app: &App, completion: Completion) -> Result<(), onset_store::StoreError> {
    let mut failures = 0u32;
    loop {
        let result = match &app.completions {
            Some(queue) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if queue.send((completion.clone(), tx)).await.is_err() {
                    return Err(onset_store::StoreError::Closed);
                }
                rx.await.unwrap_or(Err(onset_store::StoreError::Closed))
            }
            None => app.store.complete(completion.clone()).await,
        };
        match result {
            // A transient failure (a lost connection, a conflict): the result is worth a retry
            // before the run is left to its lease.
            Err(onset_store::StoreError::Database(e)) if failures < 3 => {
                failures += 1;
                tracing::warn!(run = %completion.run_id, error = %e, attempt = failures, "cannot record the run's end; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
            }
            Err(onset_store::StoreError::DiskFull) if !app.shutdown.is_cancelled() => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = app.shutdown.cancelled() => {}
                }
            }
            other => return other,
        }
    }
}

/// While the disk is full, tries a small write every second, so readiness comes back once there
/// is room even when no event arrives to try.
pub async fn probe_disk(app: Arc<App>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = app.shutdown.cancelled() => break,
        }
        if app.store.disk_full() {
            let _ = app.store.probe_disk(now_ms()).await;
        }
    }
}

/// A step as its span needs it.
struct StepSpan {
    span_id: String,
    path: String,
    kind: &'static str,
    started_at: i64,
    duration_ms: f64,
    error: Option<String>,
}

/// How an attempt ended, for its span.
struct RunEnd<'a> {
    status: &'a str,
    error: Option<&'a str>,
    handler: &'a str,
}

/// The run's span (child of its event's ingest span) and one span per step under it; a `call`
/// step is a client span, the one whose `traceparent` its request carried.
fn record_run_spans(
    tracer: &crate::traces::Tracer,
    run: &PendingRun,
    (trace_id, parent, span_id): (crate::traces::TraceId, crate::traces::SpanId, crate::traces::SpanId),
    (start_ns, end_ns): (u64, u64),
    end: &RunEnd<'_>,
    steps: &[StepSpan],
) {
    use crate::traces::{Attr, Kind, Span, from_hex, ns};
    let attributes = vec![
        ("onset.event_id", Attr::from(run.event_id.as_str())),
        ("onset.run_id", Attr::from(run.id.as_str())),
        ("onset.component", Attr::from(run.component.as_str())),
        ("onset.environment", Attr::from(run.environment.as_str())),
        ("onset.handler", Attr::from(end.handler)),
        ("onset.attempt", Attr::Int(i64::from(run.attempt))),
        ("onset.status", Attr::from(end.status)),
    ];
    let mut spans = Vec::with_capacity(steps.len() + 1);
    // Steps carry only what is theirs: the run's attributes are on their parent.
    for step in steps {
        let Some(step_id) = from_hex::<8>(&step.span_id) else { continue };
        spans.push(Span {
            trace_id,
            span_id: step_id,
            parent_span_id: Some(span_id),
            name: format!("step {} {}", step.path, step.kind).into(),
            kind: if step.kind == "call" { Kind::Client } else { Kind::Internal },
            start_ns: ns(step.started_at as f64),
            end_ns: ns(step.started_at as f64 + step.duration_ms),
            attributes: vec![
                ("onset.step.path", Attr::from(step.path.as_str())),
                ("onset.step.type", Attr::from(step.kind)),
            ],
            error: step.error.clone(),
        });
    }
    spans.push(Span {
        trace_id,
        span_id,
        parent_span_id: Some(parent),
        name: format!("run {}", end.handler).into(),
        kind: Kind::Internal,
        start_ns,
        end_ns,
        attributes,
        error: end.error.map(str::to_string),
    });
    tracer.record(spans);
}

/// Runs one attempt and records it; returns the next attempt when one is due later.
async fn execute(app: &Arc<App>, job: Job) -> Option<PendingRun> {
    let run = job.run;
    let lease = job.lease;
    let deployed = match app.build_by_id(&run.deployment_id).await {
        Ok(d) => d,
        Err(e) => {
            fail_early(app, &run, &lease, format!("the build {} cannot be loaded: {e}", run.deployment_id)).await;
            return None;
        }
    };
    let Some(handler) = deployed.compiled.handler(&run.channel, &run.event) else {
        let message = format!("deployment {} has no handler for {} {}", deployed.id, run.channel, run.event);
        fail_early(app, &run, &lease, message).await;
        return None;
    };
    let ev = match job.event {
        Some(ev) => ev,
        None => match app.store.run_input(run.id.clone()).await {
            Ok(Some((_, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Dead))) => {
                // Loaded from the store before it finished elsewhere in this process.
                return None;
            }
            Ok(Some((ev, _))) => ev,
            Ok(None) => {
                fail_early(app, &run, &lease, format!("event {} is not in the store", run.event_id)).await;
                return None;
            }
            Err(e) => {
                // The store is unreachable: leave the run to recovery rather than lose it.
                tracing::error!(run = %run.id, error = %e, "cannot load the event; the run stays queued");
                return None;
            }
        },
    };
    let event = match serde_json::from_slice::<Value>(&ev.payload) {
        Ok(v) => v,
        Err(e) => {
            fail_early(app, &run, &lease, format!("the stored payload is not JSON: {e}")).await;
            return None;
        }
    };
    // The run joins its event's trace (when the event was traced and a tracer is on).
    let run_trace =
        app.tracer.as_ref().and(ev.trace.as_deref()).and_then(crate::traces::Context::parse).map(|(parent, _)| {
            let span_id = crate::traces::new_span_id();
            let ids = (parent.trace_id, parent.span_id, span_id);
            let trace = onset_engine::trace::RunTrace {
                trace_id: crate::traces::hex(&parent.trace_id),
                span_id: crate::traces::hex(&span_id),
            };
            (ids, trace)
        });
    let input = RunInput {
        event,
        meta: meta(&deployed.component.trigger.kind, &run, &ev),
        attempt: run.attempt,
        responder: job.responder.clone(),
        trace: run_trace.as_ref().map(|(_, t)| t.clone()),
    };
    let run_start_ns = crate::traces::now_ns();
    let started = Instant::now();
    // Lines a run's steps log carry the run they belong to.
    let span = tracing::info_span!("run", run = %run.id, component = %run.component, environment = %run.environment);
    let outcome = tracing::Instrument::instrument(
        deployed.compiled.run(handler, input, &app.connectors.in_deployment(&run.environment, &deployed.imported)),
        span,
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    app.metrics.steps(&outcome.steps);
    if let Some(responder) = &job.responder
        && responder.is_pending()
    {
        // No `respond` step answered: the attempt's outcome does.
        responder.respond(match &outcome.result {
            Ok(()) => serde_json::json!({ "status": 200, "headers": {}, "body": outcome.output }),
            Err(f) => serde_json::json!({ "status": 500, "headers": {}, "body": {
                "code": "run_failed", "message": f.message, "location": format!("step {}", f.step),
                "event_id": run.event_id, "run_id": run.id,
            }}),
        });
    }

    let now = now_ms();
    let (status, error, error_step, next_run_at) = match &outcome.result {
        Ok(()) => (RunStatus::Succeeded, None, None, None),
        Err(f) if f.retryable && run.attempt < run.max_attempts => {
            // Never sooner than the provider asked (`Retry-After` on a 429 or 503).
            let wait = backoff(&handler.retry, run.attempt).max(f.retry_after.unwrap_or_default());
            (RunStatus::Retrying, Some(f.message.clone()), Some(f.step.clone()), Some(now + wait.as_millis() as i64))
        }
        Err(f) if f.retryable => (RunStatus::Dead, Some(f.message.clone()), Some(f.step.clone()), None),
        Err(f) => (RunStatus::Failed, Some(f.message.clone()), Some(f.step.clone()), None),
    };
    if let Some(e) = &error {
        tracing::info!(run = %run.id, component = %run.component, status = status.as_str(), attempt = run.attempt, error = %e, "run did not succeed");
    }
    let (error_text, failed_step) = (error.clone(), error_step.clone());
    // What the trace needs of the steps, before the records go to the store.
    let steps_for_trace: Vec<StepSpan> = if run_trace.is_some() {
        outcome
            .steps
            .iter()
            .filter_map(|r| {
                Some(StepSpan {
                    span_id: r.span_id.clone()?,
                    path: r.path.clone(),
                    kind: r.kind,
                    started_at: r.started_at,
                    duration_ms: r.duration_ms,
                    error: r.error.clone(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let completion = Completion {
        run_id: run.id.clone(),
        lease: Some(lease.clone()),
        attempt: run.attempt,
        status,
        finished_at: now,
        error,
        error_step,
        next_run_at,
        steps: step_rows(outcome.steps),
    };
    match record_completion(app, completion).await {
        Ok(()) => {}
        Err(onset_store::StoreError::LeaseLost) => {
            lease_lost(app, &run);
            return None;
        }
        Err(e) => {
            // Not recorded: the run stays `running` in the store; its lease expires and it runs again.
            tracing::error!(run = %run.id, error = %e, "cannot record the run's end");
            return None;
        }
    }
    app.metrics.run_finished(&run.component, &run.environment, status.as_str(), seconds);
    let handler_name = deployed.handler_name(&run.channel, &run.event);
    if let (Some(tracer), Some((ids, _))) = (&app.tracer, &run_trace) {
        let ended = RunEnd { status: status.as_str(), error: error_text.as_deref(), handler: &handler_name };
        record_run_spans(tracer, &run, *ids, (run_start_ns, crate::traces::now_ns()), &ended, &steps_for_trace);
    }
    app.series.run(&run.component, &run.environment, &handler_name, status.as_str(), seconds * 1000.0);
    if status == RunStatus::Dead {
        let message = format!(
            "run {} of `{}` in `{}` ({handler_name}) is dead after {} attempts: {}",
            run.id,
            run.component,
            run.environment,
            run.attempt,
            error_text.as_deref().unwrap_or("")
        );
        let detail = serde_json::json!({ "run_id": run.id, "event_id": run.event_id, "handler": handler_name,
            "attempts": run.attempt, "error": error_text, "error_step": failed_step });
        let subject = crate::alerts::Subject { component: Some(&run.component), environment: Some(&run.environment) };
        crate::alerts::raise(
            app,
            crate::alerts::Kind::RunDead,
            format!("run_dead:{}", run.id),
            subject,
            message,
            detail,
        )
        .await;
    }
    next_run_at.map(|at| PendingRun { attempt: run.attempt + 1, run_at: at, ..run })
}
