//! `/api/v1/events` and `/api/v1/runs`: what arrived, what ran, and replays.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};
use onset_store::{ListFilter, NewRun};
use serde_json::json;

use super::doc::Op;
use super::types::{Event, EventQuery, EventReplay, Page, Run, RunQuery};
use super::{Q, Table, environment_filter, limit};
use crate::app::{App, new_id, now_ms};
use crate::auth::{self, Principal};
use crate::error::ApiError;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/events", "listEvents", "Events, newest first (without headers and payload)")
            .tag("events")
            .query::<EventQuery>()
            .answers::<Page<Event>>(200, "A page of events")
            .errors(&[400, 404]),
        get(list_events),
    )
    .add(
        Op::get("/api/v1/events/{id}", "getEvent", "One event with its headers, payload and runs")
            .tag("events")
            .answers::<Event>(200, "The event")
            .errors(&[404]),
        get(event),
    )
    .add(
        Op::post("/api/v1/events/{id}/replay", "replayEvent", "Run the event again on the active deployment")
            .tag("events")
            .answers::<EventReplay>(202, "A new run is queued")
            .errors(&[403, 404, 409]),
        post(replay_event),
    )
    .add(
        Op::get("/api/v1/runs", "listRuns", "Runs, newest first (without steps)")
            .tag("runs")
            .query::<RunQuery>()
            .answers::<Page<Run>>(200, "A page of runs")
            .errors(&[400, 404]),
        get(list_runs),
    )
    .add(
        Op::get("/api/v1/runs/{id}", "getRun", "One run with every step's input, output, error and duration")
            .tag("runs")
            .answers::<Run>(200, "The run")
            .errors(&[404]),
        get(run),
    )
}

async fn list_events(State(app): State<Arc<App>>, Q(q): Q<EventQuery>) -> Result<Json<Page<Event>>, ApiError> {
    let filter = ListFilter {
        component: q.component,
        environment: environment_filter(&app, q.environment.as_deref())?,
        status: q.status.map(|s| s.as_str().to_string()),
        before: q.cursor,
        limit: limit(q.limit)?,
    };
    let page = app.store.events(filter).await?;
    Ok(Json(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

async fn event(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Event>, ApiError> {
    let event = app
        .store
        .event(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_event", format!("no event `{id}`")).at("path id"))?;
    Ok(Json(event.into()))
}

async fn list_runs(State(app): State<Arc<App>>, Q(q): Q<RunQuery>) -> Result<Json<Page<Run>>, ApiError> {
    let filter = ListFilter {
        component: q.component,
        environment: environment_filter(&app, q.environment.as_deref())?,
        status: q.status.map(|s| s.as_str().to_string()),
        before: q.cursor,
        limit: limit(q.limit)?,
    };
    let page = app.store.runs(filter).await?;
    Ok(Json(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Run>, ApiError> {
    let run = app
        .store
        .run(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_run", format!("no run `{id}`")).at("path id"))?;
    Ok(Json(run.into()))
}

/// Runs the event again on the active deployment: one new run for its handler.
async fn replay_event(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EventReplay>), ApiError> {
    let event = app
        .store
        .event(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_event", format!("no event `{id}`")).at("path id"))?;
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
    let runs = vec![NewRun {
        id: new_id(),
        channel: event.channel.clone(),
        event: event.event.clone(),
        handler: deployed.handler_name(&event.channel, &event.event),
        deployment_id: deployed.id.clone(),
        max_attempts: handler.retry.attempts,
    }];
    let created = app.store.add_runs(id.clone(), runs.iter().cloned().map(|r| (r, None)).collect(), now_ms()).await?;
    super::components::enqueue_new(&app, &id, &event.component, &event.environment, &runs, &created);
    auth::audit(&app, &who, "event.replay", &id, json!({ "runs": created })).await;
    Ok((StatusCode::ACCEPTED, Json(EventReplay { event_id: id, runs: created })))
}
