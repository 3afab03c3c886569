//! PostgreSQL (sqlx): a pool of connections, one transaction per write, migrations applied at
//! connect under an advisory lock so several nodes may start at once.

mod api_management;
mod cluster;
mod deployments;
mod events;
mod notify;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::value::RawValue;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::StoreError;

/// Migrations in order; each runs once, recorded in `onset_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_cluster.sql")),
    (3, include_str!("../../migrations/postgres/0003_drafts.sql")),
    (4, include_str!("../../migrations/postgres/0004_api_management.sql")),
    (5, include_str!("../../migrations/postgres/0005_signing_keys.sql")),
    (6, include_str!("../../migrations/postgres/0006_quota_counts.sql")),
    (7, include_str!("../../migrations/postgres/0007_consumers.sql")),
    (8, include_str!("../../migrations/postgres/0008_api_management_signals.sql")),
];

/// An arbitrary constant naming the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6f6e_7365_745f_6d67;

#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/database`.
    pub url: String,
    /// Connections in the pool; a write waiting longer than `acquire_timeout` for one is
    /// refused with [`StoreError::Busy`].
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Tables live in this schema (created if missing) instead of the connection's default.
    pub schema: Option<String>,
    /// Hold a lock that keeps any other exclusive store off the same database schema: this
    /// process is the only one using it (no announcements are listened for).
    pub exclusive: bool,
    /// Runs this node stores are reserved for it this long: other nodes' claims leave them alone
    /// unless this node has not started them by then (it is busy or gone). `None` for a node
    /// that runs nothing itself (ingress only), whose runs are announced to the others at once.
    pub reserve: Option<Duration>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
            exclusive: false,
            reserve: None,
        }
    }
}

/// The PostgreSQL store. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Set when a write failed for want of disk space, cleared by the next that succeeds.
    disk_full: Arc<AtomicBool>,
    /// The session holding the exclusive lock, for as long as the store lives.
    _lock: Option<Arc<tokio::sync::Mutex<sqlx::PgConnection>>>,
    /// How long runs stored here are reserved for this node, in ms.
    reserve_ms: Option<i64>,
    /// Announcements between nodes; `None` when exclusive.
    cluster: Option<Arc<notify::Channels>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            sqlx::Error::PoolClosed => StoreError::Closed,
            // SQLSTATE 53100: disk_full.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("53100") => StoreError::DiskFull,
            _ => StoreError::Database(Box::new(e)),
        }
    }
}

/// Keeps `schema` to lower-case letters, digits and `_`, so it can be named in SQL.
fn checked_schema(schema: &str) -> Result<&str, StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok { Ok(schema) } else { Err(StoreError::Corrupt(format!("`{schema}` is not a schema name (a-z, 0-9, _)"))) }
}

impl PgStore {
    /// Connects, creates the schema if asked for one, and applies what migrations are missing
    /// (one node at a time).
    pub async fn connect(options: &PgOptions) -> Result<PgStore, StoreError> {
        use sqlx::Connection as _;
        let mut connect: PgConnectOptions =
            options.url.parse().map_err(|e: sqlx::Error| StoreError::Database(Box::new(e)))?;
        // One connection first: its error says why the database cannot be reached (a pool would
        // only time out), and it creates the schema before the pool uses it.
        let unreachable = |e: sqlx::Error| {
            StoreError::Database(
                format!("cannot connect to PostgreSQL at {}:{}: {e}", connect.get_host(), connect.get_port()).into(),
            )
        };
        let mut first = sqlx::PgConnection::connect_with(&connect).await.map_err(unreachable)?;
        if let Some(schema) = &options.schema {
            let schema = checked_schema(schema)?;
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut first)
                .await?;
            if !exists {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
                    .execute(&mut first)
                    .await?;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}"))).execute(&mut first).await?;
            connect = connect.options([("search_path", schema)]);
        }
        let lock = if options.exclusive {
            let got: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('onset-node:' || current_schema()))")
                    .fetch_one(&mut first)
                    .await?;
            if !got {
                let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&mut first).await?;
                return Err(StoreError::Locked(format!(
                    "the PostgreSQL schema `{schema}`: one node per database for now; stop the other node or give this one \
                     --database-schema of its own"
                )));
            }
            Some(Arc::new(tokio::sync::Mutex::new(first)))
        } else {
            let _ = first.close().await;
            None
        };
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        migrate(&pool).await?;
        let cluster = if options.exclusive { None } else { Some(notify::Channels::start(&pool).await?) };
        Ok(PgStore {
            pool,
            disk_full: Arc::new(AtomicBool::new(false)),
            _lock: lock,
            reserve_ms: options.reserve.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            cluster,
        })
    }

    /// Until when runs stored now are reserved for this node.
    fn reserved_until(&self) -> Option<i64> {
        self.reserve_ms.map(|ms| crate::time::now_ms().saturating_add(ms))
    }

    /// Runs were stored: without a reservation, other nodes hear of them at once.
    fn stored_runs(&self) {
        if self.reserve_ms.is_none() {
            self.announce_runs();
        }
    }

    /// Tells other nodes that runs are waiting for a claim (coalesced; never waits).
    fn announce_runs(&self) {
        if let Some(c) = &self.cluster {
            c.announce_runs();
        }
    }

    /// Notes how a write went for [`PgStore::disk_full`].
    fn wrote<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.disk_full.store(false, Ordering::Relaxed),
            Err(StoreError::DiskFull) => self.disk_full.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        result
    }
}

impl PgStore {
    /// [`PgStore::wrote`] for one statement's own result.
    fn wrote_db<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        self.wrote(result.map_err(Into::into))
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    let result = async {
        let known: bool =
            sqlx::query_scalar("SELECT to_regclass('onset_migrations') IS NOT NULL").fetch_one(&mut *conn).await?;
        if !known {
            sqlx::raw_sql("CREATE TABLE onset_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
        }
        let done: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM onset_migrations").fetch_one(&mut *conn).await?;
        for (version, sql) in MIGRATIONS {
            if *version > done.unwrap_or(0) {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO onset_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(version)
                    .bind(crate::time::now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok::<(), StoreError>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    result
}

/// JSON text as it was stored, for rows that hand it on unparsed.
fn raw(text: Option<String>) -> Result<Option<Box<RawValue>>, StoreError> {
    text.map(|t| RawValue::from_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
}

fn status(s: &str) -> Result<crate::RunStatus, StoreError> {
    crate::RunStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("run status `{s}`")))
}

/// A `u32` read from a `BIGINT` column.
fn small(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
pub(crate) mod tests;
