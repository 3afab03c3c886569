//! Operational alerts: one open alert per key (raising it again changes nothing), resolved when
//! the condition ends, and their delivery to the alert webhook.

use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::write::{answer, op};
use crate::AlertRow;
use crate::StoreError;

const COLUMNS: &str = "id, kind, key, component, environment, message, detail, raised_at, resolved_at, delivered_at,
     attempts, next_attempt_at, last_error";

fn row(r: &Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        key: r.get(2)?,
        component: r.get(3)?,
        environment: r.get(4)?,
        message: r.get(5)?,
        detail: r.get(6)?,
        raised_at: r.get(7)?,
        resolved_at: r.get(8)?,
        delivered_at: r.get(9)?,
        attempts: r.get(10)?,
        next_attempt_at: r.get(11)?,
        last_error: r.get(12)?,
    })
}

impl SqliteStore {
    /// Stores the alert unless one with its key is open; `true` when it is new.
    pub(super) async fn raise_alert(&self, alert: AlertRow) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let open: Option<String> = t
                .prepare_cached("SELECT id FROM alerts WHERE key = ?1 AND resolved_at IS NULL")?
                .query_row([&alert.key], |r| r.get(0))
                .optional()?;
            if open.is_some() {
                return Ok(false);
            }
            t.prepare_cached(&format!(
                "INSERT INTO alerts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                alert.id,
                alert.kind,
                alert.key,
                alert.component,
                alert.environment,
                alert.message,
                alert.detail,
                alert.raised_at,
                alert.delivered_at,
                alert.attempts,
                alert.next_attempt_at,
                alert.last_error
            ])?;
            Ok(true)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Resolves the open alert with this key, if any; `true` when there was one.
    pub(super) async fn resolve_alert(&self, key: String, at: i64) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            Ok(t.prepare_cached("UPDATE alerts SET resolved_at = ?2 WHERE key = ?1 AND resolved_at IS NULL")?
                .execute(params![key, at])?
                > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Keys of the open alerts of a kind.
    pub(super) async fn open_alert_keys(&self, kind: String) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached("SELECT key FROM alerts WHERE kind = ?1 AND resolved_at IS NULL")?;
            let keys = stmt.query_map([kind], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(keys)
        })
        .await
    }

    /// Newest first; only open ones unless `all`.
    pub(super) async fn alerts(&self, all: bool, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM alerts {} ORDER BY raised_at DESC, id DESC LIMIT ?1",
                if all { "" } else { "WHERE resolved_at IS NULL" }
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Alerts not yet delivered whose next attempt is due, oldest first.
    pub(super) async fn alerts_to_deliver(&self, now: i64, max_attempts: u32) -> Result<Vec<AlertRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= ?1 AND attempts < ?2
                 ORDER BY raised_at LIMIT 100"
            ))?;
            let rows = stmt.query_map(params![now, max_attempts], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records a delivery attempt: delivered, or the error and when to try again.
    pub(super) async fn alert_attempt(
        &self,
        id: String,
        delivered_at: Option<i64>,
        error: Option<String>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.prepare_cached(
                "UPDATE alerts SET attempts = attempts + 1, delivered_at = ?2, last_error = ?3, next_attempt_at = ?4
                 WHERE id = ?1",
            )?
            .execute(params![id, delivered_at, error, next_attempt_at])?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }
}
