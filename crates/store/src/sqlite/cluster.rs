//! Leases on singletons and the node registry. One process uses a SQLite store, so a lease is
//! only ever contended by its own tasks; the tables keep the same answers as on PostgreSQL.

use rusqlite::params;

use super::SqliteStore;
use super::write::{answer, op};
use crate::{LeaseRow, NodeRow, StoreError};

impl SqliteStore {
    pub(super) async fn acquire_lease(
        &self,
        name: String,
        holder: String,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t
                .prepare_cached(
                    "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                     WHERE leases.holder = excluded.holder OR leases.until < ?4",
                )?
                .execute(params![name, holder, until, now])?;
            Ok(n == 1)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn release_lease(&self, name: String, holder: String) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?.execute(params![name, holder])?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name, holder, until FROM leases ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok(LeaseRow { name: r.get(0)?, holder: r.get(1)?, until: r.get(2)? }))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(super) async fn heartbeat(&self, node: NodeRow) -> Result<(), StoreError> {
        let keys = serde_json::to_string(&node.key_ids).unwrap_or_else(|_| "[]".into());
        let (op, rx) = op(move |t| {
            t.prepare_cached(
                "INSERT INTO nodes (id, role, version, key_ids, started_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET role = excluded.role, version = excluded.version,
                    key_ids = excluded.key_ids, seen_at = excluded.seen_at",
            )?
            .execute(params![node.id, node.role, node.version, keys, node.started_at, node.seen_at])?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn nodes(&self, seen_since: i64) -> Result<Vec<NodeRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, role, version, key_ids, started_at, seen_at FROM nodes WHERE seen_at >= ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([seen_since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?, r.get(5)?))
            })?;
            rows.map(|r| {
                let (id, role, version, keys, started_at, seen_at) = r?;
                Ok(NodeRow { id, role, version, key_ids: crate::rows::key_ids(&keys)?, started_at, seen_at })
            })
            .collect()
        })
        .await
    }
}
