//! The control plane under `/api/v1`, plus health and metrics.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use onset_store::{ListFilter, NewRun, Page, PendingRun, RunStatus};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::{App, DEVELOPMENT, new_id, now_ms};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::scheduler::Job;

type Params = Query<HashMap<String, String>>;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

fn list_filter(q: &HashMap<String, String>, statuses: bool) -> Result<ListFilter, ApiError> {
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_limit",
                    format!("limit is a whole number from 1 to {MAX_LIMIT}"),
                )
                .at("query limit"));
            }
        },
    };
    let status = q.get("status").cloned();
    if let Some(s) = &status
        && (!statuses || RunStatus::parse(s).is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_status",
            format!("status is one of queued, running, succeeded, retrying, failed, dead; not `{s}`"),
        )
        .at("query status"));
    }
    Ok(ListFilter {
        component: q.get("component").cloned(),
        environment: q.get("environment").cloned(),
        status,
        before: q.get("cursor").cloned(),
        limit,
    })
}

fn page_json<T: Serialize>(page: Page<T>) -> Json<Value> {
    Json(json!({ "items": page.items, "next_cursor": page.next_cursor }))
}

/// One active component as the API shows it.
fn component_json(app: &App, d: &crate::deploy::Deployed) -> Value {
    let handlers: Vec<Value> = d
        .component
        .handler_list()
        .map(|(channel, event, spec)| {
            json!({
                "name": d.handler_name(channel, event), "channel": channel, "event": event,
                "concurrency": spec.concurrency,
                "retry": spec.retry.map(|r| json!({
                    "attempts": r.attempts, "initial": r.initial.to_string(), "max": r.max.to_string()
                })),
            })
        })
        .collect();
    json!({
        "name": d.name(),
        "description": d.component.description,
        "environment": d.environment,
        "deployment_id": d.id,
        "trigger": d.component.trigger.kind,
        "paused": app.scheduler.is_paused(d.name(), &d.environment),
        "ingress": format!("/hooks/{}/{}", d.environment, d.name()),
        "handlers": handlers,
        "health": app.source_health.get(&d.environment, d.name()),
    })
}

pub async fn components(State(app): State<Arc<App>>) -> Json<Value> {
    let items: Vec<Value> = app.active_all().iter().map(|d| component_json(&app, d)).collect();
    Json(json!({ "items": items, "next_cursor": null }))
}

/// One component in one environment (default development), with its trigger's health.
pub async fn component(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&q);
    let d = app.active(&environment, &name).ok_or_else(|| ApiError::not_deployed(&name, &environment))?;
    Ok(Json(component_json(&app, &d)))
}

pub async fn events(State(app): State<Arc<App>>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    Ok(page_json(app.store.events(list_filter(&q, false)?).await?))
}

pub async fn event(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let event = app
        .store
        .event(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_event", format!("no event `{id}`")))?;
    Ok(Json(serde_json::to_value(event).map_err(ApiError::internal)?))
}

pub async fn runs(State(app): State<Arc<App>>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    Ok(page_json(app.store.runs(list_filter(&q, true)?).await?))
}

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let run =
        app.store.run(id.clone()).await?.ok_or_else(|| ApiError::not_found("unknown_run", format!("no run `{id}`")))?;
    Ok(Json(serde_json::to_value(run).map_err(ApiError::internal)?))
}

/// Queues runs created by a replay.
fn enqueue_new(app: &App, event_id: &str, component: &str, environment: &str, runs: &[NewRun], created: &[String]) {
    let now = now_ms();
    for run in runs.iter().filter(|r| created.contains(&r.id)) {
        app.scheduler.enqueue(
            Job::stored(PendingRun {
                id: run.id.clone(),
                event_id: event_id.to_string(),
                component: component.to_string(),
                environment: environment.to_string(),
                channel: run.channel.clone(),
                event: run.event.clone(),
                deployment_id: run.deployment_id.clone(),
                attempt: 1,
                max_attempts: run.max_attempts,
                run_at: now,
            }),
            now,
        );
    }
}

/// Runs the event again on the active deployment: one new run per matching handler.
pub async fn replay_event(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let event = app
        .store
        .event(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_event", format!("no event `{id}`")))?;
    who.may_change(&event.environment)?;
    let deployed = app.active(&event.environment, &event.component).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_deployed",
            format!("component `{}` is not deployed to `{}`", event.component, event.environment),
        )
    })?;
    let handler = deployed.compiled.handler(&event.channel, &event.event).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_handler",
            format!("the active deployment has no handler for {} {}", event.channel, event.event),
        )
    })?;
    let run = NewRun {
        id: new_id(),
        channel: event.channel.clone(),
        event: event.event.clone(),
        handler: deployed.handler_name(&event.channel, &event.event),
        deployment_id: deployed.id.clone(),
        max_attempts: handler.retry.attempts,
    };
    let runs = vec![run];
    let created = app.store.add_runs(id.clone(), runs.iter().cloned().map(|r| (r, None)).collect(), now_ms()).await?;
    enqueue_new(&app, &id, &event.component, &event.environment, &runs, &created);
    auth::audit(&app, &who, "event.replay", &id, json!({ "runs": created })).await;
    Ok((StatusCode::ACCEPTED, Json(json!({ "event_id": id, "runs": created }))).into_response())
}

fn environment_of(q: &HashMap<String, String>) -> String {
    q.get("environment").cloned().unwrap_or_else(|| DEVELOPMENT.to_string())
}

async fn set_paused(app: &App, name: &str, environment: String, paused: bool) -> Result<Json<Value>, ApiError> {
    if !app.store.set_paused(name.to_string(), environment.clone(), paused).await? {
        return Err(ApiError::not_deployed(name, &environment));
    }
    app.scheduler.set_paused(name, &environment, paused);
    if !paused {
        crate::worker::reload(app, Some((name.to_string(), environment.clone()))).await;
    }
    Ok(Json(json!({ "component": name, "environment": environment, "paused": paused })))
}

pub async fn pause(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&q);
    who.may_change(&environment)?;
    let answer = set_paused(&app, &name, environment.clone(), true).await?;
    auth::audit(&app, &who, "component.pause", &format!("{environment}/{name}"), json!({})).await;
    Ok(answer)
}

pub async fn resume(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&q);
    who.may_change(&environment)?;
    let answer = set_paused(&app, &name, environment.clone(), false).await?;
    auth::audit(&app, &who, "component.resume", &format!("{environment}/{name}"), json!({})).await;
    Ok(answer)
}

/// Every trigger type with its settings, channels and events; `/catalog/{type}` adds each
/// event's sample payload and JSON Schema.
pub async fn catalog() -> Json<Value> {
    let items: Vec<Value> = onset_model::catalog::triggers()
        .into_iter()
        .map(|t| {
            let mut v = serde_json::to_value(&t).unwrap_or(Value::Null);
            v["href"] = Value::String(format!("/api/v1/catalog/{}", t.kind));
            v
        })
        .collect();
    Json(json!({ "items": items, "next_cursor": null }))
}

pub async fn catalog_type(Path(kind): Path<String>) -> Result<Json<Value>, ApiError> {
    onset_model::catalog::detail(&kind).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "unknown_trigger_type",
            format!("there is no trigger type `{kind}`; types: {}", onset_model::TRIGGER_TYPES.join(", ")),
        )
    })
}

/// Removes a component from an environment, unregistering it from its provider.
pub async fn undeploy(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let environment = environment_of(&q);
    who.may_change(&environment)?;
    match app.undeploy(&environment, &name).await {
        Ok(true) => {
            auth::audit(&app, &who, "component.undeploy", &format!("{environment}/{name}"), json!({})).await;
            Ok(Json(json!({ "component": name, "environment": environment, "deployed": false })))
        }
        Ok(false) => Err(ApiError::not_deployed(&name, &environment)),
        Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "unregister_failed", e)),
    }
}

/// What a deployment did beyond activating its build: `{items: [{at, message}]}`.
pub async fn deployment_logs(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let lines = app.store.deployment_logs(id).await?;
    let items: Vec<Value> = lines
        .into_iter()
        .map(|(at, message)| json!({ "at": onset_store::time::rfc3339(at), "message": message }))
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// Replays every dead-lettered run of a component on its active deployment.
pub async fn replay_dead(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let environment = environment_of(&q);
    who.may_change(&environment)?;
    let deployed = app.active(&environment, &name).ok_or_else(|| ApiError::not_deployed(&name, &environment))?;
    let dead = app.store.dead_runs(name.clone(), environment.clone()).await?;
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    for (old_id, event_id, channel, event) in dead {
        let Some(handler) = deployed.compiled.handler(&channel, &event) else {
            skipped.push(json!({ "run": old_id, "reason": format!("no handler for {channel} {event} in the active deployment") }));
            continue;
        };
        let run = NewRun {
            id: new_id(),
            handler: deployed.handler_name(&channel, &event),
            channel,
            event,
            deployment_id: deployed.id.clone(),
            max_attempts: handler.retry.attempts,
        };
        let created = app.store.add_runs(event_id.clone(), vec![(run.clone(), Some(old_id))], now_ms()).await?;
        enqueue_new(&app, &event_id, &name, &environment, std::slice::from_ref(&run), &created);
        replayed.extend(created);
    }
    auth::audit(&app, &who, "component.replay_dead", &format!("{environment}/{name}"), json!({ "runs": replayed }))
        .await;
    Ok((StatusCode::ACCEPTED, Json(json!({ "replayed": replayed.len(), "runs": replayed, "skipped": skipped })))
        .into_response())
}

pub async fn livez() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let store = app.store.ping().await.is_ok();
    let workers = app.dispatcher_alive();
    let disk_full = app.store.disk_full();
    let body = Json(json!({ "store": store, "workers": workers, "disk_full": disk_full }));
    if store && workers && !disk_full {
        (StatusCode::OK, body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// Prometheus text. The queue depth counts every waiting run in the store (memory holds only
/// part of a large or paused backlog).
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let depth = match app.store.queue_counts().await {
        Ok(c) => usize::try_from(c.queued + c.retrying).unwrap_or(usize::MAX),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count waiting runs for /metrics");
            app.scheduler.depth()
        }
    };
    let text = app.metrics.render(depth);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}
