//! Environments, sealed config, tokens and the audit log, alerts, and metric roll-ups.

use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::{PgStore, small};
use crate::*;

#[async_trait::async_trait]
impl Settings for PgStore {
    async fn environments(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM environments ORDER BY position").fetch_all(&self.pool).await?)
    }

    async fn create_environment(&self, name: String, after: String, now: i64) -> Result<bool, StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            // Environments change one at a time, so positions stay distinct.
            sqlx::query("LOCK TABLE environments IN EXCLUSIVE MODE").execute(&mut *tx).await?;
            let Some(pos): Option<i64> = sqlx::query_scalar("SELECT position FROM environments WHERE name = $1")
                .bind(&after)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(false);
            };
            sqlx::query("UPDATE environments SET position = position + 1 WHERE position > $1")
                .bind(pos)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO environments (name, position, created_at) VALUES ($1, $2, $3)")
                .bind(&name)
                .bind(pos + 1)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        self.wrote(result)
    }

    async fn set_config_values(&self, values: Vec<SealedValue>) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            put_values(&mut tx, &values).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.wrote(result)
    }

    async fn delete_config_value(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM config_values WHERE component = $1 AND environment = $2 AND key = $3")
            .bind(&component)
            .bind(&environment)
            .bind(&key)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected() > 0)
            .map_err(StoreError::from);
        self.wrote(result)
    }

    async fn sealing_key(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = 'sealing_key'")
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_sealing_key(&self, key_id: String, values: Vec<SealedValue>) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            put_values(&mut tx, &values).await?;
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('sealing_key', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(&key_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.wrote(result)
    }

    async fn draft(&self, component: String) -> Result<Option<DraftRow>, StoreError> {
        let row =
            sqlx::query("SELECT component, text, revision, updated_at, updated_by FROM drafts WHERE component = $1")
                .bind(&component)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| DraftRow {
            component: r.get(0),
            text: r.get(1),
            revision: r.get(2),
            updated_at: r.get(3),
            updated_by: r.get(4),
        }))
    }

    async fn drafts(&self) -> Result<Vec<DraftRow>, StoreError> {
        let rows = sqlx::query("SELECT component, revision, updated_at, updated_by FROM drafts ORDER BY component")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| DraftRow {
                component: r.get(0),
                text: String::new(),
                revision: r.get(1),
                updated_at: r.get(2),
                updated_by: r.get(3),
            })
            .collect())
    }

    async fn put_draft(
        &self,
        component: String,
        text: String,
        updated_by: String,
        now: i64,
        base: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        // One statement each, so two saves on the same base never both win.
        let sql = match base {
            None => {
                "INSERT INTO drafts (component, text, revision, updated_at, updated_by) VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (component) DO UPDATE SET text = excluded.text, revision = drafts.revision + 1,
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by
                 RETURNING revision"
            }
            Some(0) => {
                "INSERT INTO drafts (component, text, revision, updated_at, updated_by) VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (component) DO NOTHING RETURNING revision"
            }
            Some(_) => {
                "UPDATE drafts SET text = $2, revision = revision + 1, updated_at = $3, updated_by = $4
                 WHERE component = $1 AND revision = $5 RETURNING revision"
            }
        };
        let result = sqlx::query_scalar(sql)
            .bind(&component)
            .bind(&text)
            .bind(now)
            .bind(&updated_by)
            .bind(base.unwrap_or(0))
            .fetch_optional(&self.pool)
            .await;
        self.wrote_db(result)
    }

    async fn config_values(&self, scope: Option<(String, String)>) -> Result<Vec<SealedValue>, StoreError> {
        let (component, environment) = scope.map_or((None, None), |(c, e)| (Some(c), Some(e)));
        let rows = sqlx::query(
            "SELECT component, environment, key, sealed, key_id, updated_at FROM config_values
             WHERE ($1::text IS NULL OR component = $1) AND ($2::text IS NULL OR environment = $2)
             ORDER BY component, environment, key",
        )
        .bind(component)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedValue {
                    component: r.try_get(0)?,
                    environment: r.try_get(1)?,
                    key: r.try_get(2)?,
                    sealed: r.try_get(3)?,
                    key_id: r.try_get(4)?,
                    updated_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}

const TOKEN_COLUMNS: &str = "id, name, hash, role, can_promote, created_at, revoked_at";

fn token_row(r: &PgRow) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        hash: r.try_get(2)?,
        role: r.try_get(3)?,
        can_promote: r.try_get(4)?,
        created_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

#[async_trait::async_trait]
impl Access for PgStore {
    async fn create_token(&self, t: TokenRow) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO tokens (id, name, hash, role, can_promote, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(&t.role)
        .bind(t.can_promote)
        .bind(t.created_at)
        .bind(t.revoked_at)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id")))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(token_row).collect()
    }

    async fn token_by_hash(&self, hash: String) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1 AND revoked_at IS NULL"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn revoke_token(&self, id: String, at: i64) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|r| r.rows_affected() > 0))
    }

    async fn add_audit(&self, row: AuditRow) -> Result<(), StoreError> {
        let result =
            sqlx::query("INSERT INTO audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&row.id)
                .bind(row.at)
                .bind(&row.actor)
                .bind(&row.action)
                .bind(&row.target)
                .bind(row.detail.to_string())
                .execute(&self.pool)
                .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn audit(&self, limit: u32, before: Option<String>) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit
             WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get(5)?;
                Ok(AuditRow {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    target: r.try_get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                })
            })
            .collect()
    }
}

const ALERT_COLUMNS: &str = "id, kind, key, component, environment, message, detail, raised_at, resolved_at,
     delivered_at, attempts, next_attempt_at, last_error";

fn alert_row(r: &PgRow) -> Result<AlertRow, StoreError> {
    Ok(AlertRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        key: r.try_get(2)?,
        component: r.try_get(3)?,
        environment: r.try_get(4)?,
        message: r.try_get(5)?,
        detail: r.try_get(6)?,
        raised_at: r.try_get(7)?,
        resolved_at: r.try_get(8)?,
        delivered_at: r.try_get(9)?,
        attempts: small(r.try_get(10)?),
        next_attempt_at: r.try_get(11)?,
        last_error: r.try_get(12)?,
    })
}

#[async_trait::async_trait]
impl Alerts for PgStore {
    async fn raise_alert(&self, alert: AlertRow) -> Result<bool, StoreError> {
        let result = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $12)
             ON CONFLICT (key) WHERE resolved_at IS NULL DO NOTHING"
        )))
        .bind(&alert.id)
        .bind(&alert.kind)
        .bind(&alert.key)
        .bind(&alert.component)
        .bind(&alert.environment)
        .bind(&alert.message)
        .bind(&alert.detail)
        .bind(alert.raised_at)
        .bind(alert.delivered_at)
        .bind(i64::from(alert.attempts))
        .bind(alert.next_attempt_at)
        .bind(&alert.last_error)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|r| r.rows_affected() == 1))
    }

    async fn resolve_alert(&self, key: String, at: i64) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE alerts SET resolved_at = $2 WHERE key = $1 AND resolved_at IS NULL")
            .bind(key)
            .bind(at)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|r| r.rows_affected() > 0))
    }

    async fn open_alert_keys(&self, kind: String) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT key FROM alerts WHERE kind = $1 AND resolved_at IS NULL ORDER BY key")
            .bind(kind)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn alerts(&self, all: bool, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE $1 OR resolved_at IS NULL ORDER BY raised_at DESC, id DESC LIMIT $2"
        )))
        .bind(all)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_row).collect()
    }

    async fn alerts_to_deliver(&self, now: i64, max_attempts: u32) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND attempts < $2
             ORDER BY raised_at LIMIT 100"
        )))
        .bind(now)
        .bind(i64::from(max_attempts))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_row).collect()
    }

    async fn alert_attempt(
        &self,
        id: String,
        delivered_at: Option<i64>,
        error: Option<String>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE alerts SET attempts = attempts + 1, delivered_at = $2, last_error = $3, next_attempt_at = $4
             WHERE id = $1",
        )
        .bind(id)
        .bind(delivered_at)
        .bind(error)
        .bind(next_attempt_at)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|_| ()))
    }
}

#[async_trait::async_trait]
impl Rollups for PgStore {
    async fn add_rollups(&self, rollups: Vec<Rollup>) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            for r in &rollups {
                // The row exists (perhaps just now, perhaps made by another node), then is
                // locked, merged and written back.
                sqlx::query(
                    "INSERT INTO rollups (resolution, start, component, environment, handler, counts)
                     VALUES ($1, $2, $3, $4, $5, '{}') ON CONFLICT DO NOTHING",
                )
                .bind(r.resolution)
                .bind(r.start)
                .bind(&r.component)
                .bind(&r.environment)
                .bind(&r.handler)
                .execute(&mut *tx)
                .await?;
                let text: String = sqlx::query_scalar(
                    "SELECT counts FROM rollups WHERE resolution = $1 AND start = $2 AND component = $3
                       AND environment = $4 AND handler = $5 FOR UPDATE",
                )
                .bind(r.resolution)
                .bind(r.start)
                .bind(&r.component)
                .bind(&r.environment)
                .bind(&r.handler)
                .fetch_one(&mut *tx)
                .await?;
                let mut counts = serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(Map::new()));
                merge_counts(&mut counts, &r.counts);
                sqlx::query(
                    "UPDATE rollups SET counts = $6 WHERE resolution = $1 AND start = $2 AND component = $3
                       AND environment = $4 AND handler = $5",
                )
                .bind(r.resolution)
                .bind(r.start)
                .bind(&r.component)
                .bind(&r.environment)
                .bind(&r.handler)
                .bind(counts.to_string())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.wrote(result)
    }

    async fn rollups(
        &self,
        resolution: i64,
        component: Option<String>,
        environment: Option<String>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Rollup>, StoreError> {
        let rows = sqlx::query(
            "SELECT start, component, environment, handler, counts FROM rollups
             WHERE resolution = $1 AND start >= $2 AND start < $3
               AND ($4::text IS NULL OR component = $4) AND ($5::text IS NULL OR environment = $5)
             ORDER BY start, component, environment, handler",
        )
        .bind(resolution)
        .bind(from)
        .bind(to)
        .bind(component)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(4)?;
                Ok(Rollup {
                    resolution,
                    start: r.try_get(0)?,
                    component: r.try_get(1)?,
                    environment: r.try_get(2)?,
                    handler: r.try_get(3)?,
                    counts: serde_json::from_str(&text).unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    async fn waiting_by_component(&self, now: i64) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT component, environment, COUNT(*), MIN(CASE WHEN run_at <= $1 THEN run_at END) FROM runs
             WHERE status IN ('queued', 'retrying') GROUP BY component, environment",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
    }

    async fn prune_rollups(&self, resolution: i64, before: i64) -> Result<usize, StoreError> {
        let result = sqlx::query("DELETE FROM rollups WHERE resolution = $1 AND start < $2")
            .bind(resolution)
            .bind(before)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|r| r.rows_affected() as usize))
    }
}

/// Inserts or replaces sealed values.
async fn put_values(tx: &mut sqlx::PgConnection, values: &[SealedValue]) -> Result<(), StoreError> {
    for v in values {
        sqlx::query(
            "INSERT INTO config_values (component, environment, key, sealed, key_id, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (component, environment, key)
             DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at",
        )
        .bind(&v.component)
        .bind(&v.environment)
        .bind(&v.key)
        .bind(&v.sealed)
        .bind(&v.key_id)
        .bind(v.updated_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
