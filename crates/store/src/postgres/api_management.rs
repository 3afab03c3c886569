//! Plans, applications with their keys, and subscriptions.

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PgStore;
use crate::{
    ApiKeyRow, ApiManagement, ApplicationRow, ConsumerRow, PlanRow, SigningKeyRow, StoreError, SubscriptionRow,
};

const APP_COLUMNS: &str = "id, name, owner, client_id, secret_hash, created_at";
const KEY_COLUMNS: &str = "hash, application_id, kind, prefix, created_at, revoked_at";
const SUB_COLUMNS: &str = "id, application_id, component, environment, plan, created_at";

fn app_row(r: &PgRow, at: usize) -> ApplicationRow {
    ApplicationRow {
        id: r.get(at),
        name: r.get(at + 1),
        owner: r.get(at + 2),
        client_id: r.get(at + 3),
        secret_hash: r.get(at + 4),
        created_at: r.get(at + 5),
    }
}

fn key_row(r: &PgRow) -> ApiKeyRow {
    ApiKeyRow {
        hash: r.get(0),
        application_id: r.get(1),
        kind: r.get(2),
        prefix: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
    }
}

fn sub_row(r: &PgRow) -> SubscriptionRow {
    SubscriptionRow {
        id: r.get(0),
        application_id: r.get(1),
        component: r.get(2),
        environment: r.get(3),
        plan: r.get(4),
        created_at: r.get(5),
    }
}

#[async_trait::async_trait]
impl ApiManagement for PgStore {
    async fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        let rows =
            sqlx::query("SELECT name, rate_limit, daily_quota, monthly_quota, created_at FROM plans ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| PlanRow {
                name: r.get(0),
                rate_limit: r.get(1),
                daily_quota: r.get(2),
                monthly_quota: r.get(3),
                created_at: r.get(4),
            })
            .collect())
    }

    async fn create_plan(&self, p: PlanRow) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO plans (name, rate_limit, daily_quota, monthly_quota, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&p.name)
        .bind(&p.rate_limit)
        .bind(p.daily_quota)
        .bind(p.monthly_quota)
        .bind(p.created_at)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected() > 0);
        self.wrote_db(result)
    }

    async fn create_application(&self, a: ApplicationRow) -> Result<(), StoreError> {
        let result = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO applications ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        )))
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.owner)
        .bind(&a.client_id)
        .bind(&a.secret_hash)
        .bind(a.created_at)
        .execute(&self.pool)
        .await
        .map(|_| ());
        self.wrote_db(result)
    }

    async fn applications(&self, owner: Option<String>) -> Result<Vec<ApplicationRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE ($1::text IS NULL OR owner = $1) ORDER BY created_at, id"
        )))
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| app_row(r, 0)).collect())
    }

    async fn application(&self, id: String) -> Result<Option<ApplicationRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM applications WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| app_row(&r, 0)))
    }

    async fn delete_application(&self, id: String) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM applications WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected() > 0);
        self.wrote_db(result)
    }

    async fn replace_key(&self, k: ApiKeyRow) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $3 WHERE application_id = $1 AND kind = $2 AND revoked_at IS NULL",
            )
            .bind(&k.application_id)
            .bind(&k.kind)
            .bind(k.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)"
            )))
            .bind(&k.hash)
            .bind(&k.application_id)
            .bind(&k.kind)
            .bind(&k.prefix)
            .bind(k.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        self.wrote_db(result)
    }

    async fn key_by_hash(&self, hash: String) -> Result<Option<(ApiKeyRow, ApplicationRow)>, StoreError> {
        let columns = KEY_COLUMNS.split(", ").map(|k| format!("k.{k}")).collect::<Vec<_>>().join(", ");
        let app = APP_COLUMNS.split(", ").map(|k| format!("a.{k}")).collect::<Vec<_>>().join(", ");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns}, {app} FROM api_keys k JOIN applications a ON a.id = k.application_id
             WHERE k.hash = $1 AND k.revoked_at IS NULL"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (key_row(&r), app_row(&r, 6))))
    }

    async fn keys(&self, application_id: String) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE application_id = $1 AND revoked_at IS NULL ORDER BY kind"
        )))
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_row).collect())
    }

    async fn subscribe(&self, s: SubscriptionRow) -> Result<bool, StoreError> {
        let result = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriptions ({SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (application_id, component, environment) DO NOTHING"
        )))
        .bind(&s.id)
        .bind(&s.application_id)
        .bind(&s.component)
        .bind(&s.environment)
        .bind(&s.plan)
        .bind(s.created_at)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected() > 0);
        self.wrote_db(result)
    }

    async fn subscriptions(
        &self,
        application_id: Option<String>,
        api: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let (component, environment) = api.map_or((None, None), |(c, e)| (Some(c), Some(e)));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUB_COLUMNS} FROM subscriptions
             WHERE ($1::text IS NULL OR application_id = $1) AND ($2::text IS NULL OR component = $2)
               AND ($3::text IS NULL OR environment = $3)
             ORDER BY created_at, id"
        )))
        .bind(application_id)
        .bind(component)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(sub_row).collect())
    }

    async fn unsubscribe(&self, id: String) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected() > 0);
        self.wrote_db(result)
    }

    async fn application_by_client_id(&self, client_id: String) -> Result<Option<ApplicationRow>, StoreError> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM applications WHERE client_id = $1")))
                .bind(&client_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| app_row(&r, 0)))
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, public_jwk, sealed, key_id, created_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SigningKeyRow {
                kid: r.get(0),
                public_jwk: r.get(1),
                sealed: r.get(2),
                key_id: r.get(3),
                created_at: r.get(4),
            })
            .collect())
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
        let result = async {
            sqlx::query(
                "INSERT INTO quota_counts (key, window_start, taken, expires_at) VALUES ($1, $2, 0, $3)
                 ON CONFLICT (key, window_start) DO NOTHING",
            )
            .bind(&key)
            .bind(window_start)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            // The row is locked while it is read, so nodes taking at once each see the others'.
            let granted: Option<i64> = sqlx::query_scalar(
                "WITH old AS (
                     SELECT taken FROM quota_counts WHERE key = $1 AND window_start = $2 FOR UPDATE
                 )
                 UPDATE quota_counts q SET taken = q.taken + LEAST($3, $4 - old.taken) FROM old
                 WHERE q.key = $1 AND q.window_start = $2 AND old.taken < $4
                 RETURNING LEAST($3, $4 - old.taken)",
            )
            .bind(&key)
            .bind(window_start)
            .bind(want)
            .bind(limit)
            .fetch_optional(&self.pool)
            .await?;
            Ok(u64::try_from(granted.unwrap_or(0)).unwrap_or(0))
        }
        .await;
        self.wrote_db(result)
    }

    async fn create_consumer(&self, c: ConsumerRow) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO consumers (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&c.id)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.password_hash)
        .bind(c.created_at)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected() > 0);
        self.wrote_db(result)
    }

    async fn consumer(&self, email_or_id: String) -> Result<Option<ConsumerRow>, StoreError> {
        let row =
            sqlx::query("SELECT id, email, name, password_hash, created_at FROM consumers WHERE email = $1 OR id = $1")
                .bind(&email_or_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| ConsumerRow {
            id: r.get(0),
            email: r.get(1),
            name: r.get(2),
            password_hash: r.get(3),
            created_at: r.get(4),
        }))
    }

    async fn prune_quotas(&self, before: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM quota_counts WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected());
        self.wrote_db(result)
    }

    async fn add_signing_key(&self, k: SigningKeyRow, drop_before: i64) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, public_jwk, sealed, key_id, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kid) DO NOTHING",
            )
            .bind(&k.kid)
            .bind(&k.public_jwk)
            .bind(&k.sealed)
            .bind(&k.key_id)
            .bind(k.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM signing_keys WHERE created_at < $1 AND kid <> $2")
                .bind(drop_before)
                .bind(&k.kid)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        self.wrote_db(result)
    }
}
