//! `/api/v1/events` and `/api/v1/runs`: what arrived, what ran, and replays.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};

use super::doc::Op;
use super::types::{Event, EventQuery, EventReplay, Page, Run, RunQuery};
use super::{Q, Table};
use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::events;

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
    Ok(Json(events::list_events(&app, q).await?))
}

async fn event(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Event>, ApiError> {
    Ok(Json(events::event(&app, id).await?))
}

async fn list_runs(State(app): State<Arc<App>>, Q(q): Q<RunQuery>) -> Result<Json<Page<Run>>, ApiError> {
    Ok(Json(events::list_runs(&app, q).await?))
}

async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Run>, ApiError> {
    Ok(Json(events::run(&app, id).await?))
}

async fn replay_event(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EventReplay>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(events::replay_event(&app, &who, id).await?)))
}
