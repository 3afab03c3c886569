//! Metric roll-ups: deltas added into per-bucket rows through the writer (one operation per
//! flush, never one per event), read back by time range, pruned by age.

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use super::Store;
use super::write::{answer, op};
use crate::StoreError;

/// One bucket's counters for a component, environment and handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Bucket width in ms (60,000 or 3,600,000).
    pub resolution: i64,
    /// Bucket start, unix ms, a multiple of `resolution`.
    pub start: i64,
    pub component: String,
    pub environment: String,
    /// `""` for counters of the component as a whole.
    pub handler: String,
    /// A JSON object of counters (see [`merge_counts`]).
    pub counts: Value,
}

/// Adds `delta` into `into`: numbers add, arrays add element by element, objects merge key by
/// key, and numbers under a `"max"` key keep the larger value.
pub fn merge_counts(into: &mut Value, delta: &Value) {
    merge(into, delta, false);
}

fn merge(into: &mut Value, delta: &Value, keep_max: bool) {
    match (into, delta) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let max = keep_max || k == "max";
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v, max),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() < b.len() {
                a.resize(b.len(), Value::from(0));
            }
            for (x, y) in a.iter_mut().zip(b) {
                merge(x, y, keep_max);
            }
        }
        (into @ Value::Number(_), Value::Number(d)) => {
            let (x, y) = (into.as_f64().unwrap_or(0.0), d.as_f64().unwrap_or(0.0));
            let v = if keep_max { x.max(y) } else { x + y };
            *into = if v.fract() == 0.0 && v.abs() < 9e15 { Value::from(v as i64) } else { Value::from(v) };
        }
        (into, delta) => *into = delta.clone(),
    }
}

impl Store {
    /// Adds each roll-up's counts into its bucket, in one transaction.
    pub async fn add_rollups(&self, rollups: Vec<Rollup>) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            for r in &rollups {
                let existing: Option<String> = t
                    .prepare_cached(
                        "SELECT counts FROM rollups WHERE resolution = ?1 AND component = ?2 AND environment = ?3
                           AND handler = ?4 AND start = ?5",
                    )?
                    .query_row(params![r.resolution, r.component, r.environment, r.handler, r.start], |row| row.get(0))
                    .optional()?;
                let mut counts = match existing {
                    Some(text) => serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(Map::new())),
                    None => Value::Object(Map::new()),
                };
                merge_counts(&mut counts, &r.counts);
                t.prepare_cached(
                    "INSERT OR REPLACE INTO rollups (resolution, start, component, environment, handler, counts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    r.resolution,
                    r.start,
                    r.component,
                    r.environment,
                    r.handler,
                    counts.to_string()
                ])?;
            }
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Roll-ups of one resolution with `from <= start < to`, optionally of one component and
    /// environment, in time order.
    pub async fn rollups(
        &self,
        resolution: i64,
        component: Option<String>,
        environment: Option<String>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Rollup>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT start, component, environment, handler, counts FROM rollups
                 WHERE resolution = ?1 AND start >= ?2 AND start < ?3
                   AND (?4 IS NULL OR component = ?4) AND (?5 IS NULL OR environment = ?5)
                 ORDER BY start",
            )?;
            let rows = stmt.query_map(params![resolution, from, to, component, environment], |r| {
                let text: String = r.get(4)?;
                Ok(Rollup {
                    resolution,
                    start: r.get(0)?,
                    component: r.get(1)?,
                    environment: r.get(2)?,
                    handler: r.get(3)?,
                    counts: serde_json::from_str(&text).unwrap_or(Value::Null),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Runs waiting per component and environment: how many, and the earliest time one of them
    /// was due, among those due by `now` (queued or retrying).
    pub async fn waiting_by_component(&self, now: i64) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT component, environment, COUNT(*), MIN(CASE WHEN run_at <= ?1 THEN run_at END) FROM runs
                 WHERE status IN ('queued', 'retrying') GROUP BY component, environment",
            )?;
            let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Deletes roll-ups of `resolution` that start before `before`; returns how many.
    pub async fn prune_rollups(&self, resolution: i64, before: i64) -> Result<usize, StoreError> {
        let (op, rx) = op(move |t| {
            Ok(t.prepare_cached("DELETE FROM rollups WHERE resolution = ?1 AND start < ?2")?
                .execute(params![resolution, before])?)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_counts;

    #[test]
    fn counts_add_and_maxima_keep_the_larger() {
        let mut a = json!({ "received": 2, "rejected": { "signature_mismatch": 1 }, "duration": [1, 0, 2],
                            "max": { "queue_depth": 5 } });
        merge_counts(
            &mut a,
            &json!({ "received": 3, "rejected": { "signature_mismatch": 1, "body_too_large": 4 },
                                      "duration": [0, 1, 1, 1], "max": { "queue_depth": 3, "oldest_wait_ms": 10 } }),
        );
        assert_eq!(
            a,
            json!({ "received": 5, "rejected": { "signature_mismatch": 2, "body_too_large": 4 }, "duration": [1, 1, 3, 1],
                    "max": { "queue_depth": 5, "oldest_wait_ms": 10 } })
        );
    }
}
