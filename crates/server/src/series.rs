//! Metric series: what ingress and the workers count is added up in memory per minute,
//! component, environment and handler, and written as roll-ups every few seconds in one writer
//! operation (1-minute buckets kept 7 days, hourly buckets 400 days), so a series survives a
//! restart and costs no write per event. Run durations go into fixed histogram buckets, which
//! merge by addition and give p50/p95/p99 without scanning runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onset_store::Rollup;
use serde_json::{Value, json};

use crate::app::{App, now_ms};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
/// How long each resolution is kept.
pub const KEEP_MINUTES: i64 = 7 * 24 * HOUR;
pub const KEEP_HOURS: i64 = 400 * 24 * HOUR;

/// Upper bounds (ms) of the run-duration histogram buckets; one more bucket holds the rest.
pub const DURATION_BOUNDS_MS: [f64; 20] = [
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1_000.0,
    2_000.0,
    5_000.0,
    10_000.0,
    20_000.0,
    30_000.0,
    60_000.0,
    120_000.0,
    300_000.0,
    600_000.0,
    1_800_000.0,
];

/// `component \0 environment \0 handler`: one string, so a lookup borrows instead of allocating.
type Key = (i64, String);

fn key_text(component: &str, environment: &str, handler: &str) -> String {
    let mut k = String::with_capacity(component.len() + environment.len() + handler.len() + 2);
    k.push_str(component);
    k.push('\0');
    k.push_str(environment);
    k.push('\0');
    k.push_str(handler);
    k
}

/// Counters of one minute × component × environment × handler, kept typed until they are
/// written (no JSON on the hot path).
#[derive(Debug, Clone, Default)]
struct Counts {
    received: u64,
    accepted: u64,
    duplicates: u64,
    rejected: Vec<(&'static str, u64)>,
    succeeded: u64,
    failed: u64,
    retried: u64,
    dead: u64,
    duration: Option<Box<[u64; DURATION_BOUNDS_MS.len() + 1]>>,
    queue: Option<(i64, i64)>,
}

impl Counts {
    fn to_json(&self) -> Value {
        let mut v = serde_json::Map::new();
        let mut put = |k: &str, n: u64| {
            if n > 0 {
                v.insert(k.into(), Value::from(n));
            }
        };
        put("received", self.received);
        put("accepted", self.accepted);
        put("duplicates", self.duplicates);
        put("succeeded", self.succeeded);
        put("failed", self.failed);
        put("retried", self.retried);
        put("dead", self.dead);
        if !self.rejected.is_empty() {
            let map: serde_json::Map<String, Value> =
                self.rejected.iter().map(|(code, n)| ((*code).to_string(), Value::from(*n))).collect();
            v.insert("rejected".into(), Value::Object(map));
        }
        if let Some(h) = &self.duration {
            v.insert("duration".into(), Value::from(h.to_vec()));
        }
        if let Some((depth, wait)) = self.queue {
            v.insert("max".into(), json!({ "queue_depth": depth, "oldest_wait_ms": wait }));
        }
        Value::Object(v)
    }

    fn merge(&mut self, o: &Counts) {
        self.received += o.received;
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.retried += o.retried;
        self.dead += o.dead;
        for (code, n) in &o.rejected {
            self.reject(code, *n);
        }
        if let Some(h) = &o.duration {
            let mine = self.duration.get_or_insert_with(|| Box::new([0; DURATION_BOUNDS_MS.len() + 1]));
            for (a, b) in mine.iter_mut().zip(h.iter()) {
                *a += b;
            }
        }
        if let Some((d, w)) = o.queue {
            let q = self.queue.get_or_insert((0, 0));
            *q = (q.0.max(d), q.1.max(w));
        }
    }

    fn reject(&mut self, code: &'static str, n: u64) {
        match self.rejected.iter_mut().find(|(c, _)| *c == code) {
            Some((_, count)) => *count += n,
            None => self.rejected.push((code, n)),
        }
    }
}

/// Counts since the last flush.
pub struct Series {
    /// Off only to measure what the series cost (`--no-series`).
    enabled: bool,
    pending: Mutex<HashMap<i64, HashMap<String, Counts>>>,
}

impl Series {
    pub fn new(enabled: bool) -> Self {
        Series { enabled, pending: Mutex::new(HashMap::new()) }
    }
}

fn bucket_of(ms: f64) -> usize {
    DURATION_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(DURATION_BOUNDS_MS.len())
}

impl Series {
    /// Applies `f` to the counters of `at`'s minute for this component, environment and handler.
    fn update(&self, at: i64, component: &str, environment: &str, handler: &str, f: impl FnOnce(&mut Counts)) {
        if !self.enabled {
            return;
        }
        let minute = at - at.rem_euclid(MINUTE);
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = pending.entry(minute).or_default();
        let key = key_text(component, environment, handler);
        match keys.get_mut(key.as_str()) {
            Some(c) => f(c),
            None => {
                let mut c = Counts::default();
                f(&mut c);
                keys.insert(key, c);
            }
        }
    }

    /// An ingress answer for a deployed component: `accepted`, `duplicate`, or a rejection with
    /// its error code.
    pub fn event(&self, component: &str, environment: &str, outcome: Outcome) {
        self.update(now_ms(), component, environment, "", |c| {
            c.received += 1;
            match outcome {
                Outcome::Accepted => c.accepted += 1,
                Outcome::Duplicate => c.duplicates += 1,
                Outcome::Rejected(code) => c.reject(code, 1),
            }
        });
    }

    /// The end of a run attempt: `succeeded`, `failed`, `retrying` or `dead`, with its duration.
    pub fn run(&self, component: &str, environment: &str, handler: &str, status: &str, duration_ms: f64) {
        if !matches!(status, "succeeded" | "failed" | "retrying" | "dead") {
            return;
        }
        self.update(now_ms(), component, environment, handler, |c| {
            match status {
                "succeeded" => c.succeeded += 1,
                "failed" => c.failed += 1,
                "retrying" => c.retried += 1,
                _ => c.dead += 1,
            }
            c.duration.get_or_insert_with(|| Box::new([0; DURATION_BOUNDS_MS.len() + 1]))[bucket_of(duration_ms)] += 1;
        });
    }

    /// Runs waiting for a component now, and how long the oldest due one has waited.
    fn queue(&self, at: i64, component: &str, environment: &str, depth: i64, oldest_wait_ms: i64) {
        self.update(at, component, environment, "", |c| {
            let q = c.queue.get_or_insert((0, 0));
            *q = (q.0.max(depth), q.1.max(oldest_wait_ms));
        });
    }

    fn take(&self) -> Vec<(Key, Counts)> {
        let all = std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        all.into_iter().flat_map(|(minute, keys)| keys.into_iter().map(move |(k, c)| ((minute, k), c))).collect()
    }

    /// Puts counts back after a failed write, so nothing counted is lost.
    fn put_back(&self, counts: Vec<(Key, Counts)>) {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((minute, key), delta) in counts {
            let keys = pending.entry(minute).or_default();
            match keys.get_mut(key.as_str()) {
                Some(c) => c.merge(&delta),
                None => {
                    keys.insert(key, delta);
                }
            }
        }
    }
}

/// How an ingress request ended, for the series.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Accepted,
    Duplicate,
    /// The error code of the answer (`signature_mismatch`, `body_too_large`, …).
    Rejected(&'static str),
}

/// Samples the queue and writes what was counted every `every`, until shutdown (the server
/// writes the last counts itself once runs in flight are done).
pub async fn flush_loop(app: Arc<App>, every: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = app.shutdown.cancelled() => return,
        }
        sample_queue(&app).await;
        flush(&app).await;
    }
}

async fn sample_queue(app: &App) {
    let now = now_ms();
    match app.store.waiting_by_component(now).await {
        Ok(rows) => {
            for (component, environment, depth, oldest_due) in rows {
                let wait = oldest_due.map_or(0, |due| (now - due).max(0));
                app.series.queue(now, &component, &environment, depth, wait);
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot sample the queue for the series"),
    }
}

/// Writes the pending counts into minute and hour roll-ups in one operation.
pub async fn flush(app: &App) {
    let counts = app.series.take();
    if counts.is_empty() {
        return;
    }
    let mut rollups = Vec::with_capacity(counts.len() * 2);
    for ((minute, key), delta) in &counts {
        let mut parts = key.splitn(3, '\0');
        let (component, environment, handler) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let json = delta.to_json();
        for resolution in [MINUTE, HOUR] {
            rollups.push(Rollup {
                resolution,
                start: minute - minute.rem_euclid(resolution),
                component: component.to_string(),
                environment: environment.to_string(),
                handler: handler.to_string(),
                counts: json.clone(),
            });
        }
    }
    if let Err(e) = app.store.add_rollups(rollups).await {
        tracing::warn!(error = %e, "cannot write metric roll-ups; keeping them for the next try");
        app.series.put_back(counts);
    }
}

/// Deletes roll-ups past their resolution's age.
pub async fn prune(app: &App) -> Result<(), onset_store::StoreError> {
    let now = now_ms();
    app.store.prune_rollups(MINUTE, now - KEEP_MINUTES).await?;
    app.store.prune_rollups(HOUR, now - KEEP_HOURS).await?;
    Ok(())
}

/// The `q`-quantile (0..1) of a histogram, interpolated inside its bucket; 0 when empty.
pub fn quantile(histogram: &[u64], q: f64) -> f64 {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, n) in histogram.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let low = if i == 0 { 0.0 } else { DURATION_BOUNDS_MS[i - 1] };
            let high = DURATION_BOUNDS_MS.get(i).copied().unwrap_or(low * 2.0);
            let within = ((rank - seen as f64) / *n as f64).clamp(0.0, 1.0);
            return low + (high - low) * within;
        }
        seen += n;
    }
    DURATION_BOUNDS_MS[DURATION_BOUNDS_MS.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut h = vec![0u64; DURATION_BOUNDS_MS.len() + 1];
        assert_eq!(quantile(&h, 0.5), 0.0);
        // 90 runs of 3–5 ms, 10 of 150–200 ms.
        h[bucket_of(4.0)] = 90;
        h[bucket_of(180.0)] = 10;
        let p50 = quantile(&h, 0.5);
        assert!((2.0..=5.0).contains(&p50), "{p50}");
        let p95 = quantile(&h, 0.95);
        assert!((100.0..=200.0).contains(&p95), "{p95}");
        assert!(quantile(&h, 0.99) <= 200.0);
    }
}
