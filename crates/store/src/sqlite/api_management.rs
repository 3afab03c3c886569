//! Plans, applications with their keys, and subscriptions.

use rusqlite::{OptionalExtension as _, params};

use super::SqliteStore;
use super::write::{answer, op};
use crate::{
    ApiKeyRow, ApiManagement, ApplicationRow, ConsumerRow, PlanRow, SigningKeyRow, StoreError, SubscriptionRow,
};

const APP_COLUMNS: &str = "id, name, owner, client_id, secret_hash, created_at";
const KEY_COLUMNS: &str = "hash, application_id, kind, prefix, created_at, revoked_at";
const SUB_COLUMNS: &str = "id, application_id, component, environment, plan, created_at";

fn app_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        owner: r.get(at + 2)?,
        client_id: r.get(at + 3)?,
        secret_hash: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
    })
}

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        hash: r.get(0)?,
        application_id: r.get(1)?,
        kind: r.get(2)?,
        prefix: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

fn sub_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        id: r.get(0)?,
        application_id: r.get(1)?,
        component: r.get(2)?,
        environment: r.get(3)?,
        plan: r.get(4)?,
        created_at: r.get(5)?,
    })
}

#[async_trait::async_trait]
impl ApiManagement for SqliteStore {
    async fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT name, rate_limit, daily_quota, monthly_quota, created_at FROM plans ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(PlanRow {
                    name: r.get(0)?,
                    rate_limit: r.get(1)?,
                    daily_quota: r.get(2)?,
                    monthly_quota: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn create_plan(&self, p: PlanRow) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t.execute(
                "INSERT INTO plans (name, rate_limit, daily_quota, monthly_quota, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                params![p.name, p.rate_limit, p.daily_quota, p.monthly_quota, p.created_at],
            )?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn create_application(&self, a: ApplicationRow) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                &format!("INSERT INTO applications ({APP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![a.id, a.name, a.owner, a.client_id, a.secret_hash, a.created_at],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn applications(&self, owner: Option<String>) -> Result<Vec<ApplicationRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {APP_COLUMNS} FROM applications WHERE (?1 IS NULL OR owner = ?1) ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([owner], |r| app_row(r, 0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn application(&self, id: String) -> Result<Option<ApplicationRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(&format!("SELECT {APP_COLUMNS} FROM applications WHERE id = ?1"), [id], |r| app_row(r, 0))
                .optional()?)
        })
        .await
    }

    async fn delete_application(&self, id: String) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| Ok(t.execute("DELETE FROM applications WHERE id = ?1", [id])? > 0));
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn replace_key(&self, k: ApiKeyRow) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "UPDATE api_keys SET revoked_at = ?3 WHERE application_id = ?1 AND kind = ?2 AND revoked_at IS NULL",
                params![k.application_id, k.kind, k.created_at],
            )?;
            t.execute(
                &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"),
                params![k.hash, k.application_id, k.kind, k.prefix, k.created_at],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn key_by_hash(&self, hash: String) -> Result<Option<(ApiKeyRow, ApplicationRow)>, StoreError> {
        self.read(move |c| {
            let columns = KEY_COLUMNS.split(", ").map(|k| format!("k.{k}")).collect::<Vec<_>>().join(", ");
            let app = APP_COLUMNS.split(", ").map(|k| format!("a.{k}")).collect::<Vec<_>>().join(", ");
            Ok(c.query_row(
                &format!(
                    "SELECT {columns}, {app} FROM api_keys k JOIN applications a ON a.id = k.application_id
                     WHERE k.hash = ?1 AND k.revoked_at IS NULL"
                ),
                [hash],
                |r| Ok((key_row(r)?, app_row(r, 6)?)),
            )
            .optional()?)
        })
        .await
    }

    async fn keys(&self, application_id: String) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE application_id = ?1 AND revoked_at IS NULL ORDER BY kind"
            ))?;
            let rows = stmt.query_map([application_id], key_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn subscribe(&self, s: SubscriptionRow) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t.execute(
                &format!(
                    "INSERT INTO subscriptions ({SUB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (application_id, component, environment) DO NOTHING"
                ),
                params![s.id, s.application_id, s.component, s.environment, s.plan, s.created_at],
            )?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn subscriptions(
        &self,
        application_id: Option<String>,
        api: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let (component, environment) = api.map_or((None, None), |(c, e)| (Some(c), Some(e)));
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SUB_COLUMNS} FROM subscriptions
                 WHERE (?1 IS NULL OR application_id = ?1) AND (?2 IS NULL OR component = ?2) AND (?3 IS NULL OR environment = ?3)
                 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map(params![application_id, component, environment], sub_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn unsubscribe(&self, id: String) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| Ok(t.execute("DELETE FROM subscriptions WHERE id = ?1", [id])? > 0));
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn application_by_client_id(&self, client_id: String) -> Result<Option<ApplicationRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(&format!("SELECT {APP_COLUMNS} FROM applications WHERE client_id = ?1"), [client_id], |r| {
                app_row(r, 0)
            })
            .optional()?)
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT kid, public_jwk, sealed, key_id, created_at FROM signing_keys ORDER BY created_at DESC, kid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(SigningKeyRow {
                    kid: r.get(0)?,
                    public_jwk: r.get(1)?,
                    sealed: r.get(2)?,
                    key_id: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn take_quota(
        &self,
        key: String,
        window_start: i64,
        want: u64,
        limit: u64,
        expires_at: i64,
    ) -> Result<u64, StoreError> {
        let (want, limit) = (i64::try_from(want).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX));
        let (op, rx) = op(move |t| {
            t.execute(
                "INSERT INTO quota_counts (key, window_start, taken, expires_at) VALUES (?1, ?2, 0, ?3)
                 ON CONFLICT (key, window_start) DO NOTHING",
                params![key, window_start, expires_at],
            )?;
            let taken: i64 = t.query_row(
                "SELECT taken FROM quota_counts WHERE key = ?1 AND window_start = ?2",
                params![key, window_start],
                |r| r.get(0),
            )?;
            let granted = want.min(limit - taken).max(0);
            if granted > 0 {
                t.execute(
                    "UPDATE quota_counts SET taken = taken + ?3 WHERE key = ?1 AND window_start = ?2",
                    params![key, window_start, granted],
                )?;
            }
            Ok(u64::try_from(granted).unwrap_or(0))
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn create_consumer(&self, c: ConsumerRow) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t.execute(
                "INSERT INTO consumers (id, email, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (email) DO NOTHING",
                params![c.id, c.email, c.name, c.password_hash, c.created_at],
            )?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn consumer(&self, email_or_id: String) -> Result<Option<ConsumerRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, email, name, password_hash, created_at FROM consumers WHERE email = ?1 OR id = ?1",
                [email_or_id],
                |r| {
                    Ok(ConsumerRow {
                        id: r.get(0)?,
                        email: r.get(1)?,
                        name: r.get(2)?,
                        password_hash: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn prune_quotas(&self, before: i64) -> Result<u64, StoreError> {
        let (op, rx) =
            op(move |t| Ok(t.execute("DELETE FROM quota_counts WHERE expires_at < ?1", [before]).map(|n| n as u64)?));
        self.writer.submit(op).await?;
        answer(rx).await
    }

    async fn add_signing_key(&self, k: SigningKeyRow, drop_before: i64) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "INSERT INTO signing_keys (kid, public_jwk, sealed, key_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kid) DO NOTHING",
                params![k.kid, k.public_jwk, k.sealed, k.key_id, k.created_at],
            )?;
            t.execute("DELETE FROM signing_keys WHERE created_at < ?1 AND kid <> ?2", params![drop_before, k.kid])?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }
}
