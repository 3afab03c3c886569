//! Liveness, readiness, Prometheus metrics and the OpenAPI document: no token needed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Table;
use super::doc::Op;
use super::types::{Liveness, Readiness};
use crate::app::App;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get("/livez", "getLiveness", "200 while the process runs")
            .tag("health")
            .public()
            .answers::<Liveness>(200, "Alive"),
        get(livez),
    )
    .add(
        Op::get("/readyz", "getReadiness", "Whether the server takes events: store, workers and disk")
            .tag("health")
            .public()
            .answers::<Readiness>(200, "Ready")
            .errors(&[503]),
        get(readyz),
    )
    .add(
        Op::get("/metrics", "getMetrics", "Prometheus metrics").tag("health").public().answers_text(
            200,
            "Prometheus text format 0.0.4",
            "text/plain",
        ),
        get(metrics),
    )
    .add(
        Op::get("/api/v1/openapi.json", "getOpenApi", "This document (OpenAPI 3.1)")
            .tag("health")
            .public()
            .answers::<serde_json::Map<String, serde_json::Value>>(200, "The OpenAPI document"),
        get(openapi),
    )
}

async fn livez() -> Json<Liveness> {
    Json(Liveness { status: "ok".into() })
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let store = app.store.ping().await.is_ok();
    let workers = !app.config.role.runs() || app.dispatcher_alive();
    let disk_full = app.store.disk_full();
    let body = Json(Readiness {
        store,
        workers,
        disk_full,
        node: app.node_id.clone(),
        role: app.config.role.as_str().to_string(),
    });
    if store && workers && !disk_full {
        (StatusCode::OK, body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// Prometheus text. The queue depth counts every waiting run in the store (memory holds only
/// part of a large or paused backlog). In a cluster it is the whole cluster's, so one node
/// reports it (the holder of a lease), not every node: a sum over nodes stays right.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let depth = if app.hold("metrics:queue-depth").await {
        match app.store.queue_counts().await {
            Ok(c) => Some(usize::try_from(c.queued + c.retrying).unwrap_or(usize::MAX)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot count waiting runs for /metrics");
                Some(app.scheduler.depth())
            }
        }
    } else {
        None
    };
    if let Some(tracer) = &app.tracer {
        app.metrics.spans_dropped(tracer.dropped());
    }
    let text = app.metrics.render(depth);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi())
}
