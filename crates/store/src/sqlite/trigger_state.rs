//! State a trigger keeps per (component, environment) across deployments, the calendar items a
//! google-calendar trigger has seen, and deployment logs.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, params};

use super::SqliteStore;
use super::write::{answer, insert_event, op};
use crate::SyncBatch;
use crate::{IngestOutcome, StoreError};

impl SqliteStore {
    pub(super) async fn trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT value FROM trigger_state WHERE component = ?1 AND environment = ?2 AND key = ?3",
                params![component, environment, key],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    /// Sets (or with `None` removes) one state value.
    pub(super) async fn set_trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            put_state(t, &component, &environment, &key, value.as_deref())?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Every `(component, environment, value)` stored under `key`.
    pub(super) async fn trigger_states(&self, key: String) -> Result<Vec<(String, String, String)>, StoreError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare("SELECT component, environment, value FROM trigger_state WHERE key = ?1 ORDER BY 1, 2")?;
            let rows = stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Calendar item id → etag.
    pub(super) async fn calendar_items(
        &self,
        component: String,
        environment: String,
    ) -> Result<HashMap<String, String>, StoreError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT item_id, etag FROM calendar_items WHERE component = ?1 AND environment = ?2")?;
            let rows = stmt.query_map(params![component, environment], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<HashMap<_, _>, _>>()?)
        })
        .await
    }

    /// Applies a calendar sync in one transaction; answers each event's outcome, in order.
    pub(super) async fn apply_sync(&self, batch: SyncBatch) -> Result<Vec<IngestOutcome>, StoreError> {
        let (op, rx) = op(move |t| {
            let mut outcomes = Vec::with_capacity(batch.events.len());
            for e in &batch.events {
                outcomes.push(insert_event(t, e)?);
            }
            for (id, etag) in &batch.upserts {
                t.prepare_cached(
                    "INSERT INTO calendar_items (component, environment, item_id, etag) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (component, environment, item_id) DO UPDATE SET etag = excluded.etag",
                )?
                .execute(params![batch.component, batch.environment, id, etag])?;
            }
            for id in &batch.deletes {
                t.prepare_cached(
                    "DELETE FROM calendar_items WHERE component = ?1 AND environment = ?2 AND item_id = ?3",
                )?
                .execute(params![batch.component, batch.environment, id])?;
            }
            for (key, value) in &batch.state {
                put_state(t, &batch.component, &batch.environment, key, value.as_deref())?;
            }
            Ok(outcomes)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Forgets every calendar item of a component in an environment (its channel was stopped).
    pub(super) async fn clear_calendar_items(&self, component: String, environment: String) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "DELETE FROM calendar_items WHERE component = ?1 AND environment = ?2",
                params![component, environment],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn add_deployment_log(
        &self,
        deployment_id: String,
        at: i64,
        message: String,
    ) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "INSERT INTO deployment_logs (deployment_id, at, message) VALUES (?1, ?2, ?3)",
                params![deployment_id, at, message],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// `(at, message)` in order.
    pub(super) async fn deployment_logs(&self, deployment_id: String) -> Result<Vec<(i64, String)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, message FROM deployment_logs WHERE deployment_id = ?1 ORDER BY at, rowid",
            )?;
            let rows = stmt.query_map([deployment_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

fn put_state(
    t: &rusqlite::Transaction<'_>,
    component: &str,
    environment: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => t
            .prepare_cached(
                "INSERT INTO trigger_state (component, environment, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (component, environment, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![component, environment, key, v])?,
        None => t
            .prepare_cached("DELETE FROM trigger_state WHERE component = ?1 AND environment = ?2 AND key = ?3")?
            .execute(params![component, environment, key])?,
    };
    Ok(())
}
