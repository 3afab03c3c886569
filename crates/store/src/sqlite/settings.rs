//! Environments (in promotion order) and sealed config values.

use rusqlite::params;

use super::SqliteStore;
use super::write::{answer, op};
use crate::SealedValue;
use crate::StoreError;

impl SqliteStore {
    /// Environment names in promotion order.
    pub(super) async fn environments(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name FROM environments ORDER BY position")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Adds an environment right after `after`. `Ok(false)` when `after` does not exist.
    pub(super) async fn create_environment(&self, name: String, after: String, now: i64) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let Some(pos): Option<i64> = rusqlite::OptionalExtension::optional(t.query_row(
                "SELECT position FROM environments WHERE name = ?1",
                [&after],
                |r| r.get(0),
            ))?
            else {
                return Ok(false);
            };
            // Two steps, so the shifted positions never collide.
            t.execute("UPDATE environments SET position = -(position + 1) WHERE position > ?1", [pos])?;
            t.execute("UPDATE environments SET position = -position WHERE position < 0", [])?;
            t.execute(
                "INSERT INTO environments (name, position, created_at) VALUES (?1, ?2, ?3)",
                params![name, pos + 1, now],
            )?;
            Ok(true)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn sealing_key(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT value FROM settings WHERE name = 'sealing_key'",
                [],
                |r| r.get(0),
            ))?)
        })
        .await
    }

    pub(super) async fn set_sealing_key(&self, key_id: String, values: Vec<SealedValue>) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            put_values(t, &values)?;
            t.execute(
                "INSERT INTO settings (name, value) VALUES ('sealing_key', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [&key_id],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn set_config_values(&self, values: Vec<SealedValue>) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| put_values(t, &values));
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn delete_config_value(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t
                .prepare_cached("DELETE FROM config_values WHERE component = ?1 AND environment = ?2 AND key = ?3")?
                .execute(params![component, environment, key])?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Values of one component in one environment, or every value (for key rotation).
    pub(super) async fn config_values(&self, scope: Option<(String, String)>) -> Result<Vec<SealedValue>, StoreError> {
        self.read(move |c| {
            let (component, environment) = scope.unzip();
            let mut stmt = c.prepare(
                "SELECT component, environment, key, sealed, key_id, updated_at FROM config_values
                 WHERE (?1 IS NULL OR component = ?1) AND (?2 IS NULL OR environment = ?2)
                 ORDER BY component, environment, key",
            )?;
            let rows = stmt.query_map(params![component, environment], |r| {
                Ok(SealedValue {
                    component: r.get(0)?,
                    environment: r.get(1)?,
                    key: r.get(2)?,
                    sealed: r.get(3)?,
                    key_id: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

/// Inserts or replaces sealed values.
fn put_values(t: &rusqlite::Transaction<'_>, values: &[SealedValue]) -> Result<(), StoreError> {
    for v in values {
        t.prepare_cached(
            "INSERT INTO config_values (component, environment, key, sealed, key_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (component, environment, key)
             DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at",
        )?
        .execute(params![v.component, v.environment, v.key, v.sealed, v.key_id, v.updated_at])?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn draft(&self, component: String) -> Result<Option<crate::DraftRow>, StoreError> {
        self.read(move |c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT component, text, revision, updated_at, updated_by FROM drafts WHERE component = ?1",
                [component],
                |r| {
                    Ok(crate::DraftRow {
                        component: r.get(0)?,
                        text: r.get(1)?,
                        revision: r.get(2)?,
                        updated_at: r.get(3)?,
                        updated_by: r.get(4)?,
                    })
                },
            ))?)
        })
        .await
    }

    pub(super) async fn drafts(&self) -> Result<Vec<crate::DraftRow>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT component, revision, updated_at, updated_by FROM drafts ORDER BY component")?;
            let rows = stmt.query_map([], |r| {
                Ok(crate::DraftRow {
                    component: r.get(0)?,
                    text: String::new(),
                    revision: r.get(1)?,
                    updated_at: r.get(2)?,
                    updated_by: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(super) async fn put_draft(
        &self,
        component: String,
        text: String,
        updated_by: String,
        now: i64,
        base: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        let (op, rx) = op(move |t| {
            let current: i64 = rusqlite::OptionalExtension::optional(t.query_row(
                "SELECT revision FROM drafts WHERE component = ?1",
                [&component],
                |r| r.get(0),
            ))?
            .unwrap_or(0);
            if base.is_some_and(|b| b != current) {
                return Ok(None);
            }
            t.execute(
                "INSERT INTO drafts (component, text, revision, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (component) DO UPDATE SET text = excluded.text, revision = excluded.revision,
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                params![component, text, current + 1, now, updated_by],
            )?;
            Ok(Some(current + 1))
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }
}
