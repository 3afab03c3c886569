//! Pruning what retention lets go: events whose runs are all finished and older than their
//! ages, with their runs and step records. The candidates are read on the reader pool in id
//! (= time) order; each deletion batch is one small writer operation that checks again that no
//! run of the event is still open (a replay may have queued one meanwhile).

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::write::{answer, op};
use crate::PruneCandidate;
use crate::StoreError;

impl SqliteStore {
    /// Up to `limit` events after `after` (an event id) in id order, oldest first.
    pub(super) async fn prune_candidates(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<PruneCandidate>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.id, e.component, e.environment, e.received_at,
                    (SELECT COUNT(*) FROM runs r WHERE r.event_id = e.id
                        AND r.status NOT IN ('succeeded', 'failed', 'dead')),
                    (SELECT MAX(r.finished_at) FROM runs r WHERE r.event_id = e.id AND r.status = 'succeeded'),
                    (SELECT MAX(r.finished_at) FROM runs r WHERE r.event_id = e.id AND r.status IN ('failed', 'dead'))
                 FROM events e WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after.unwrap_or_default(), limit as i64], |r| {
                Ok(PruneCandidate {
                    id: r.get(0)?,
                    component: r.get(1)?,
                    environment: r.get(2)?,
                    received_at: r.get(3)?,
                    open_runs: r.get(4)?,
                    succeeded_at: r.get(5)?,
                    failed_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Deletes these events with their runs and step records, each only if none of its runs is
    /// open; their delivery ids are forgotten with them. Returns how many were deleted.
    pub(super) async fn prune_events(&self, ids: Vec<String>) -> Result<usize, StoreError> {
        let (op, rx) = op(move |t| {
            let mut deleted = 0;
            for id in &ids {
                let open: Option<i64> = t
                    .prepare_cached(
                        "SELECT 1 FROM runs WHERE event_id = ?1 AND status NOT IN ('succeeded', 'failed', 'dead') LIMIT 1",
                    )?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                if open.is_some() {
                    continue;
                }
                t.prepare_cached("DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE event_id = ?1)")?
                    .execute([id])?;
                t.prepare_cached("DELETE FROM runs WHERE event_id = ?1")?.execute([id])?;
                deleted += t.prepare_cached("DELETE FROM events WHERE id = ?1")?.execute([id])?;
            }
            Ok(deleted)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// The database file's size in bytes and the bytes of its free pages (space SQLite reuses
    /// before it grows the file).
    pub(super) async fn file_usage(&self) -> Result<(u64, u64), StoreError> {
        self.read(|c| {
            let page_size: i64 = c.pragma_query_value(None, "page_size", |r| r.get(0))?;
            let pages: i64 = c.pragma_query_value(None, "page_count", |r| r.get(0))?;
            let free: i64 = c.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            Ok(((page_size * pages) as u64, (page_size * free) as u64))
        })
        .await
    }
}
