//! `/api/v1/metrics/series`: counts per bucket from the stored roll-ups.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use super::doc::Op;
use super::types::{Percentiles, Series, SeriesBucket, SeriesQuery, SeriesStep};
use super::{Q, Table, environment_filter};
use crate::app::{App, now_ms};
use crate::error::ApiError;
use crate::series::{DURATION_BOUNDS_MS, HOUR, MINUTE, quantile};

/// At most this many buckets in one answer.
const MAX_BUCKETS: i64 = 1_500;

pub(super) fn routes(t: Table) -> Table {
    t.add(
        Op::get(
            "/api/v1/metrics/series",
            "getMetricSeries",
            "Events, rejections, runs, durations and queue per time bucket, aligned, empty buckets as zeros",
        )
        .tag("metrics")
        .query::<SeriesQuery>()
        .answers::<Series>(200, "The series")
        .errors(&[400, 404]),
        get(series),
    )
}

fn time(text: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        t.parse::<jiff::Timestamp>().map(|ts| ts.as_millisecond()).map_err(|e| {
            ApiError::bad_request(
                "invalid_time",
                format!("`{name}` is an RFC 3339 time such as 2026-12-02T10:00:00Z: {e}"),
            )
            .at(format!("query {name}"))
        })
    })
    .transpose()
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_f64).map_or(0, |n| n.max(0.0) as u64)
}

async fn series(State(app): State<Arc<App>>, Q(q): Q<SeriesQuery>) -> Result<Json<Series>, ApiError> {
    let step = q.step.unwrap_or(SeriesStep::OneMinute);
    let (width, resolution) = match step {
        SeriesStep::OneMinute => (MINUTE, MINUTE),
        SeriesStep::FiveMinutes => (5 * MINUTE, MINUTE),
        SeriesStep::OneHour => (HOUR, HOUR),
    };
    let to = time(q.to.as_deref(), "to")?.unwrap_or_else(now_ms);
    let from = time(q.from.as_deref(), "from")?.unwrap_or(to - HOUR);
    if from >= to {
        return Err(ApiError::bad_request("invalid_range", "`from` is before `to`").at("query from"));
    }
    let from = from - from.rem_euclid(width);
    let to = to - to.rem_euclid(width) + if to.rem_euclid(width) == 0 { 0 } else { width };
    let n = (to - from) / width;
    if n > MAX_BUCKETS {
        return Err(ApiError::bad_request(
            "too_many_buckets",
            format!("{n} buckets asked for; at most {MAX_BUCKETS}: a shorter range or a longer step"),
        )
        .at("query step"));
    }
    let environment = environment_filter(&app, q.environment.as_deref())?;
    let rows = app.store.rollups(resolution, q.component.clone(), environment, from, to).await?;

    let mut buckets: Vec<SeriesBucket> = (0..n)
        .map(|i| SeriesBucket { start: onset_store::time::rfc3339(from + i * width), ..SeriesBucket::default() })
        .collect();
    let mut histograms = vec![vec![0u64; DURATION_BOUNDS_MS.len() + 1]; n as usize];
    // Queue gauges: the most seen per component within a bucket, then added across components.
    let mut queue: HashMap<(usize, &str, &str), (u64, u64)> = HashMap::new();
    for row in &rows {
        let i = ((row.start - from) / width) as usize;
        let Some(b) = buckets.get_mut(i) else { continue };
        let c = &row.counts;
        b.received += count(c, "received");
        b.accepted += count(c, "accepted");
        b.duplicates += count(c, "duplicates");
        if let Some(rejected) = c.get("rejected").and_then(Value::as_object) {
            for (code, n) in rejected {
                *b.rejected.entry(code.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        if let Some(max) = c.get("max") {
            let entry = queue.entry((i, &row.component, &row.environment)).or_default();
            entry.0 = entry.0.max(count(max, "queue_depth"));
            entry.1 = entry.1.max(count(max, "oldest_wait_ms"));
        }
        if q.handler.as_ref().is_some_and(|h| *h != row.handler) {
            continue;
        }
        b.runs.succeeded += count(c, "succeeded");
        b.runs.failed += count(c, "failed");
        b.runs.retried += count(c, "retried");
        b.runs.dead += count(c, "dead");
        if let Some(h) = c.get("duration").and_then(Value::as_array) {
            for (slot, n) in histograms[i].iter_mut().zip(h) {
                *slot += n.as_u64().unwrap_or(0);
            }
        }
    }
    for ((i, _, _), (depth, wait)) in queue {
        buckets[i].queue_depth += depth;
        buckets[i].oldest_wait_ms = buckets[i].oldest_wait_ms.max(wait);
    }
    for (b, h) in buckets.iter_mut().zip(&histograms) {
        b.duration_ms = Percentiles { p50: quantile(h, 0.5), p95: quantile(h, 0.95), p99: quantile(h, 0.99) };
    }
    Ok(Json(Series { step, from: onset_store::time::rfc3339(from), to: onset_store::time::rfc3339(to), buckets }))
}
