//! What arrived and what ran: the queries of events and runs, and replaying one event.

use onset_store::{ListFilter, NewRun};
use serde_json::json;

use crate::api::types::{Event, EventQuery, EventReplay, Page, Run, RunQuery};
use crate::app::{App, new_id, now_ms};
use crate::auth::{self, Principal};
use crate::service::{Kind, Result, ServiceError, environment_filter, limit};

/// A list's filter: an environment that exists, a limit within bounds.
fn filter(
    app: &App,
    component: Option<String>,
    environment: Option<&str>,
    status: Option<&str>,
    (cursor, given_limit): (Option<String>, Option<u32>),
    (from, to): (Option<&str>, Option<&str>),
) -> Result<ListFilter> {
    let since = from.map(|t| time_bound(t, "query from")).transpose()?;
    let until = to.map(|t| time_bound(t, "query to")).transpose()?;
    // The earlier of the cursor and `to` bounds the page.
    let before = match (cursor, until) {
        (Some(c), Some(u)) => Some(c.min(u)),
        (c, u) => c.or(u),
    };
    Ok(ListFilter {
        component,
        environment: environment_filter(app, environment)?,
        status: status.map(str::to_string),
        before,
        since,
        limit: limit(given_limit)?,
    })
}

/// The smallest UUIDv7 of an instant: ids carry their creation time, so a time bound is an
/// id bound (no index besides the primary key is needed).
fn time_bound(text: &str, at: &'static str) -> Result<String> {
    let ms = text
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| ServiceError::invalid("invalid_time", format!("`{text}` is not an RFC 3339 time ({e})"), at))?;
    let ms = u64::try_from(ms.max(0)).unwrap_or(0) & 0xffff_ffff_ffff;
    Ok(format!("{:08x}-{:04x}-7000-8000-000000000000", ms >> 16, ms & 0xffff))
}

/// Events, newest first, without headers and payload.
pub async fn list_events(app: &App, q: EventQuery) -> Result<Page<Event>> {
    let status = q.status.map(|s| s.as_str());
    let filter = filter(
        app,
        q.component,
        q.environment.as_deref(),
        status,
        (q.cursor, q.limit),
        (q.from.as_deref(), q.to.as_deref()),
    )?;
    let page = app.store.events(filter).await?;
    Ok(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

/// One event with its headers, payload and runs.
pub async fn event(app: &App, id: String) -> Result<Event> {
    let event = app.store.event(id.clone()).await?.ok_or_else(|| ServiceError::not_found(Kind::Event, id))?;
    Ok(event.into())
}

/// Runs, newest first, without steps.
pub async fn list_runs(app: &App, q: RunQuery) -> Result<Page<Run>> {
    let status = q.status.map(|s| s.as_str());
    let filter = filter(
        app,
        q.component,
        q.environment.as_deref(),
        status,
        (q.cursor, q.limit),
        (q.from.as_deref(), q.to.as_deref()),
    )?;
    let page = app.store.runs(filter).await?;
    Ok(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

/// One run with every step.
pub async fn run(app: &App, id: String) -> Result<Run> {
    let run = app.store.run(id.clone()).await?.ok_or_else(|| ServiceError::not_found(Kind::Run, id))?;
    Ok(run.into())
}

/// Runs the event again on the active deployment: one new run for its handler.
pub async fn replay_event(app: &App, who: &Principal, id: String) -> Result<EventReplay> {
    let event = app.store.event(id.clone()).await?.ok_or_else(|| ServiceError::not_found(Kind::Event, &id))?;
    who.may_change(&event.environment)?;
    let deployed = app.active(&event.environment, &event.component).ok_or_else(|| {
        ServiceError::conflict(
            "not_deployed",
            format!("component `{}` is not deployed to `{}`", event.component, event.environment),
        )
    })?;
    let handler = deployed.compiled.handler(&event.channel, &event.event).ok_or_else(|| {
        ServiceError::conflict(
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
    super::components::enqueue_new(app, &id, &event.component, &event.environment, &runs, &created);
    auth::audit(app, who, "event.replay", &id, json!({ "runs": created })).await;
    Ok(EventReplay { event_id: id, runs: created })
}
