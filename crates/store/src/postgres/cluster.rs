//! Leases on singletons and the node registry.

use sqlx::Row as _;

use super::PgStore;
use crate::*;

#[async_trait::async_trait]
impl Cluster for PgStore {
    fn shared(&self) -> bool {
        self.cluster.is_some()
    }

    fn signals(&self) -> Option<std::sync::Arc<Signals>> {
        self.cluster.as_ref().map(|c| c.signals.clone())
    }

    async fn acquire_lease(&self, name: String, holder: String, now: i64, until: i64) -> Result<bool, StoreError> {
        // One statement: concurrent takers serialise on the row, and only one of them sees it
        // free (or expired).
        let result = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE leases.holder = excluded.holder OR leases.until < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|r| r.rows_affected() == 1))
    }

    async fn release_lease(&self, name: String, holder: String) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows = sqlx::query("SELECT name, holder, until FROM leases ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(LeaseRow { name: r.try_get(0)?, holder: r.try_get(1)?, until: r.try_get(2)? })).collect()
    }

    async fn heartbeat(&self, node: NodeRow) -> Result<(), StoreError> {
        let keys = serde_json::to_string(&node.key_ids).unwrap_or_else(|_| "[]".into());
        let result = sqlx::query(
            "INSERT INTO nodes (id, role, version, key_ids, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET role = excluded.role, version = excluded.version,
                key_ids = excluded.key_ids, seen_at = excluded.seen_at",
        )
        .bind(&node.id)
        .bind(&node.role)
        .bind(&node.version)
        .bind(keys)
        .bind(node.started_at)
        .bind(node.seen_at)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn nodes(&self, seen_since: i64) -> Result<Vec<NodeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, version, key_ids, started_at, seen_at FROM nodes WHERE seen_at >= $1 ORDER BY id",
        )
        .bind(seen_since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NodeRow {
                    id: r.try_get(0)?,
                    role: r.try_get(1)?,
                    version: r.try_get(2)?,
                    key_ids: crate::rows::key_ids(&r.try_get::<String, _>(3)?)?,
                    started_at: r.try_get(4)?,
                    seen_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}
