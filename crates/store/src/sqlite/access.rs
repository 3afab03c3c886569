//! Control-plane tokens (hashes only) and the audit log.

use rusqlite::{OptionalExtension as _, params};

use super::SqliteStore;
use super::write::{answer, op};
use crate::StoreError;
use crate::{AuditRow, TokenRow};

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        hash: r.get(2)?,
        role: r.get(3)?,
        can_promote: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const TOKEN_COLUMNS: &str = "id, name, hash, role, can_promote, created_at, revoked_at";

impl SqliteStore {
    pub(super) async fn create_token(&self, t: TokenRow) -> Result<(), StoreError> {
        let (op, rx) = op(move |tx| {
            tx.execute(
                "INSERT INTO tokens (id, name, hash, role, can_promote, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![t.id, t.name, t.hash, t.role, t.can_promote, t.created_at],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Every token, revoked ones included, oldest first.
    pub(super) async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"))?;
            let rows = stmt.query_map([], token_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The token with this hash, if it exists and is not revoked.
    pub(super) async fn token_by_hash(&self, hash: String) -> Result<Option<TokenRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL"),
                [hash],
                token_row,
            )
            .optional()?)
        })
        .await
    }

    /// `false` when there is no such token or it was revoked already.
    pub(super) async fn revoke_token(&self, id: String, at: i64) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n =
                t.execute("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, at])?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    pub(super) async fn add_audit(&self, row: AuditRow) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "INSERT INTO audit (id, at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![row.id, row.at, row.actor, row.action, row.target, row.detail.to_string()],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Audit entries, newest first, before the id `before` when given.
    pub(super) async fn audit(&self, limit: u32, before: Option<String>) -> Result<Vec<AuditRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, at, actor, action, target, detail FROM audit
                 WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![before, limit], |r| {
                let detail: String = r.get(5)?;
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
