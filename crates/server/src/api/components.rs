//! `/api/v1/components`: what is active where; pause, resume, undeploy, replay dead letters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json};
use onset_store::{NewRun, PendingRun};
use serde_json::json;

use super::doc::Op;
use super::types::{
    Component, DeadReplay, EnvironmentQuery, Handler, Page, PauseState, RetryPolicy, Skipped, Undeployed,
};
use super::{Q, Table, environment};
use crate::app::{App, new_id, now_ms};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::scheduler::Job;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/api/v1/components", "listComponents", "Components active in any environment")
            .tag("components")
            .answers::<Page<Component>>(200, "Every active component"),
        get(list),
    )
    .add(
        Op::get(
            "/api/v1/components/{name}",
            "getComponent",
            "One component in one environment, with its trigger's health",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<Component>(200, "The component")
        .errors(&[400, 404]),
        get(one),
    )
    .add(
        Op::delete(
            "/api/v1/components/{name}",
            "undeployComponent",
            "Remove a component from an environment (and its provider registration)",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<Undeployed>(200, "Removed")
        .errors(&[400, 403, 404, 502]),
        axum::routing::delete(undeploy),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/pause",
            "pauseComponent",
            "Keep accepting events but run none until resumed",
        )
        .tag("components")
        .query::<EnvironmentQuery>()
        .answers::<PauseState>(200, "Paused")
        .errors(&[400, 403, 404]),
        post(pause),
    )
    .add(
        Op::post("/api/v1/components/{name}/resume", "resumeComponent", "Run again, starting with what waited")
            .tag("components")
            .query::<EnvironmentQuery>()
            .answers::<PauseState>(200, "Resumed")
            .errors(&[400, 403, 404]),
        post(resume),
    )
    .add(
        Op::post(
            "/api/v1/components/{name}/dead/replay",
            "replayDeadRuns",
            "Run every dead-lettered run again on the active deployment",
        )
        .tag("runs")
        .query::<EnvironmentQuery>()
        .answers::<DeadReplay>(202, "Queued")
        .errors(&[400, 403, 404]),
        post(replay_dead),
    )
}

/// One active component as the API shows it.
fn component(app: &App, d: &crate::deploy::Deployed) -> Component {
    Component {
        name: d.name().to_string(),
        description: d.component.description.clone(),
        environment: d.environment.clone(),
        deployment_id: d.id.clone(),
        trigger: d.component.trigger.kind.clone(),
        paused: app.scheduler.is_paused(d.name(), &d.environment),
        ingress: format!("/hooks/{}/{}", d.environment, d.name()),
        handlers: d
            .component
            .handler_list()
            .map(|(channel, event, spec)| Handler {
                name: d.handler_name(channel, event),
                channel: channel.to_string(),
                event: event.to_string(),
                concurrency: spec.concurrency,
                retry: spec.retry.map(|r| RetryPolicy {
                    attempts: r.attempts,
                    initial: r.initial.to_string(),
                    max: r.max.to_string(),
                }),
            })
            .collect(),
        health: app.source_health.get(&d.environment, d.name()).map(Into::into),
    }
}

async fn list(State(app): State<Arc<App>>) -> Json<Page<Component>> {
    Json(Page::all(app.active_all().iter().map(|d| component(&app, d)).collect()))
}

async fn one(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<Component>, ApiError> {
    let environment = environment(&app, q.environment.as_deref(), "query environment")?;
    let d = app.active(&environment, &name).ok_or_else(|| ApiError::not_deployed(&name, &environment))?;
    Ok(Json(component(&app, &d)))
}

/// Pauses or resumes a component in an environment, audited.
async fn set_paused(
    app: &App,
    who: &Principal,
    name: String,
    q: EnvironmentQuery,
    paused: bool,
) -> Result<Json<PauseState>, ApiError> {
    let environment = environment(app, q.environment.as_deref(), "query environment")?;
    who.may_change(&environment)?;
    if !app.store.set_paused(name.clone(), environment.clone(), paused).await? {
        return Err(ApiError::not_deployed(&name, &environment));
    }
    app.scheduler.set_paused(&name, &environment, paused);
    if !paused {
        crate::worker::reload(app, Some((name.clone(), environment.clone()))).await;
    }
    let action = if paused { "component.pause" } else { "component.resume" };
    auth::audit(app, who, action, &format!("{environment}/{name}"), json!({})).await;
    Ok(Json(PauseState { component: name, environment, paused }))
}

async fn pause(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&app, &who, name, q, true).await
}

async fn resume(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&app, &who, name, q, false).await
}

async fn undeploy(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<Json<Undeployed>, ApiError> {
    let environment = environment(&app, q.environment.as_deref(), "query environment")?;
    who.may_change(&environment)?;
    match app.undeploy(&environment, &name).await {
        Ok(true) => {
            auth::audit(&app, &who, "component.undeploy", &format!("{environment}/{name}"), json!({})).await;
            Ok(Json(Undeployed { component: name, environment, deployed: false }))
        }
        Ok(false) => Err(ApiError::not_deployed(&name, &environment)),
        Err(e) => {
            // The provider's or the store's own words go to the log, not to the client.
            tracing::warn!(component = %name, environment = %environment, error = %e, "undeploy failed");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "unregister_failed",
                "the component could not be unregistered from its provider; the server log has the detail",
            ))
        }
    }
}

/// Queues runs just created by a replay.
pub(super) fn enqueue_new(
    app: &App,
    event_id: &str,
    component: &str,
    environment: &str,
    runs: &[NewRun],
    created: &[String],
) {
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

async fn replay_dead(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Q(q): Q<EnvironmentQuery>,
) -> Result<(StatusCode, Json<DeadReplay>), ApiError> {
    let environment = environment(&app, q.environment.as_deref(), "query environment")?;
    who.may_change(&environment)?;
    let deployed = app.active(&environment, &name).ok_or_else(|| ApiError::not_deployed(&name, &environment))?;
    let dead = app.store.dead_runs(name.clone(), environment.clone()).await?;
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    for (old_id, event_id, channel, event) in dead {
        let Some(handler) = deployed.compiled.handler(&channel, &event) else {
            skipped.push(Skipped {
                reason: format!("no handler for {channel} {event} in the active deployment"),
                run: old_id,
            });
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
    Ok((StatusCode::ACCEPTED, Json(DeadReplay { replayed: replayed.len(), runs: replayed, skipped })))
}
