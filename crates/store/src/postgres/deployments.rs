//! Deployments, activations and their logs; what trigger sources keep.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PgStore;
use super::events::insert_event;
use crate::*;

const DEPLOYMENT_COLUMNS: &str = "d.id, d.component, d.environment, d.build, d.status, d.error, d.meta, d.created_by,
     d.created_at, a.deployment_id IS NOT NULL";

fn deployment_row(r: &PgRow) -> Result<DeploymentRow, StoreError> {
    let meta: String = r.try_get(6)?;
    Ok(DeploymentRow {
        id: r.try_get(0)?,
        component: r.try_get(1)?,
        environment: r.try_get(2)?,
        build: r.try_get(3)?,
        status: r.try_get(4)?,
        error: r.try_get(5)?,
        meta: serde_json::from_str(&meta).unwrap_or(Value::Null),
        created_by: r.try_get(7)?,
        created_at: r.try_get(8)?,
        active: r.try_get(9)?,
    })
}

async fn insert_deployment(
    tx: &mut sqlx::PgConnection,
    d: &NewDeployment,
    status: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployments (id, component, environment, build, source, files, created_at, status, error, meta, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&d.id)
    .bind(&d.component)
    .bind(&d.environment)
    .bind(&d.build)
    .bind(&d.source)
    .bind(&d.files)
    .bind(d.created_at)
    .bind(status)
    .bind(error)
    .bind(&d.meta)
    .bind(&d.created_by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_active(
    tx: &mut sqlx::PgConnection,
    component: &str,
    environment: &str,
    deployment_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO activations (component, environment, deployment_id) VALUES ($1, $2, $3)
         ON CONFLICT (component, environment) DO UPDATE SET deployment_id = excluded.deployment_id",
    )
    .bind(component)
    .bind(environment)
    .bind(deployment_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Deployments for PgStore {
    async fn activate(&self, d: NewDeployment) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            insert_deployment(&mut tx, &d, "active", None).await?;
            set_active(&mut tx, &d.component, &d.environment, &d.id).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.wrote(result)
    }

    async fn record_failed_deployment(&self, d: NewDeployment, error: String) -> Result<(), StoreError> {
        let result = async {
            let mut conn = self.pool.acquire().await?;
            insert_deployment(&mut conn, &d, "failed", Some(&error)).await
        }
        .await;
        self.wrote(result)
    }

    async fn reactivate(
        &self,
        component: String,
        environment: String,
        deployment_id: String,
    ) -> Result<(), StoreError> {
        let result = async {
            let mut conn = self.pool.acquire().await?;
            set_active(&mut conn, &component, &environment, &deployment_id).await
        }
        .await;
        self.wrote(result)
    }

    async fn deactivate(&self, component: String, environment: String) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM activations WHERE component = $1 AND environment = $2")
            .bind(component)
            .bind(environment)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|r| r.rows_affected() > 0))
    }

    async fn set_paused(&self, component: String, environment: String, paused: bool) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE activations SET paused = $3 WHERE component = $1 AND environment = $2")
            .bind(component)
            .bind(environment)
            .bind(paused)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|r| r.rows_affected() > 0))
    }

    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        let rows = sqlx::query("SELECT component, environment, deployment_id, paused FROM activations")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Activation {
                    component: r.try_get(0)?,
                    environment: r.try_get(1)?,
                    deployment_id: r.try_get(2)?,
                    paused: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn deployment_source(&self, id: String) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query("SELECT environment, source, files FROM deployments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).transpose()
    }

    async fn deployments(
        &self,
        component: Option<String>,
        environment: Option<String>,
        limit: u32,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d LEFT JOIN activations a ON a.deployment_id = d.id
             WHERE ($1::text IS NULL OR d.component = $1) AND ($2::text IS NULL OR d.environment = $2)
             ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
        )))
        .bind(component)
        .bind(environment)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deployment_row).collect()
    }

    async fn deployment(&self, id: String) -> Result<Option<DeploymentRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d LEFT JOIN activations a ON a.deployment_id = d.id
             WHERE d.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(deployment_row).transpose()
    }

    async fn add_deployment_log(&self, deployment_id: String, at: i64, message: String) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO deployment_logs (deployment_id, at, message) VALUES ($1, $2, $3)")
            .bind(deployment_id)
            .bind(at)
            .bind(message)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn deployment_logs(&self, deployment_id: String) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT at, message FROM deployment_logs WHERE deployment_id = $1 ORDER BY at, seq")
            .bind(deployment_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}

async fn put_state(
    tx: &mut sqlx::PgConnection,
    (component, environment): (&str, &str),
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => {
            sqlx::query(
                "INSERT INTO trigger_state (component, environment, key, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (component, environment, key) DO UPDATE SET value = excluded.value",
            )
            .bind(component)
            .bind(environment)
            .bind(key)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM trigger_state WHERE component = $1 AND environment = $2 AND key = $3")
                .bind(component)
                .bind(environment)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl TriggerState for PgStore {
    async fn trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM trigger_state WHERE component = $1 AND environment = $2 AND key = $3")
            .bind(component)
            .bind(environment)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        let result = async {
            let mut conn = self.pool.acquire().await?;
            put_state(&mut conn, (&component, &environment), &key, value.as_deref()).await
        }
        .await;
        self.wrote(result)
    }

    async fn trigger_states(&self, key: String) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT component, environment, value FROM trigger_state WHERE key = $1 ORDER BY component, environment",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }

    async fn calendar_items(
        &self,
        component: String,
        environment: String,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT item_id, etag FROM calendar_items WHERE component = $1 AND environment = $2")
            .bind(component)
            .bind(environment)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn apply_sync(&self, batch: SyncBatch) -> Result<Vec<IngestOutcome>, StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            let mut outcomes = Vec::with_capacity(batch.events.len());
            for e in &batch.events {
                outcomes.push(insert_event(&mut tx, e, None, self.reserved_until()).await?);
            }
            for (item, etag) in &batch.upserts {
                sqlx::query(
                    "INSERT INTO calendar_items (component, environment, item_id, etag) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (component, environment, item_id) DO UPDATE SET etag = excluded.etag",
                )
                .bind(&batch.component)
                .bind(&batch.environment)
                .bind(item)
                .bind(etag)
                .execute(&mut *tx)
                .await?;
            }
            for item in &batch.deletes {
                sqlx::query("DELETE FROM calendar_items WHERE component = $1 AND environment = $2 AND item_id = $3")
                    .bind(&batch.component)
                    .bind(&batch.environment)
                    .bind(item)
                    .execute(&mut *tx)
                    .await?;
            }
            for (key, value) in &batch.state {
                put_state(&mut tx, (&batch.component, &batch.environment), key, value.as_deref()).await?;
            }
            tx.commit().await?;
            Ok(outcomes)
        }
        .await;
        if batch.events.iter().any(|e| !e.runs.is_empty()) {
            self.stored_runs();
        }
        self.wrote(result)
    }

    async fn clear_calendar_items(&self, component: String, environment: String) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM calendar_items WHERE component = $1 AND environment = $2")
            .bind(component)
            .bind(environment)
            .execute(&self.pool)
            .await;
        self.wrote_db(result.map(|_| ()))
    }
}
