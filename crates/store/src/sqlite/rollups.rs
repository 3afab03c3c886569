//! Metric roll-ups: deltas added into per-bucket rows through the writer (one operation per
//! flush, never one per event), read back by time range, pruned by age.

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use super::SqliteStore;
use super::write::{answer, op};
use crate::Rollup;
use crate::{StoreError, merge_counts};

impl SqliteStore {
    /// Adds each roll-up's counts into its bucket, in one transaction.
    pub(super) async fn add_rollups(&self, rollups: Vec<Rollup>) -> Result<(), StoreError> {
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
    pub(super) async fn rollups(
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
    pub(super) async fn waiting_by_component(
        &self,
        now: i64,
    ) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError> {
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
    pub(super) async fn prune_rollups(&self, resolution: i64, before: i64) -> Result<usize, StoreError> {
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

    use crate::merge_counts;

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
