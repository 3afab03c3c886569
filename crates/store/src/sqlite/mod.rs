//! SQLite: WAL, one writer thread with group commit, a pool of readers.

mod access;
mod alerts;
mod api_management;
mod cluster;
mod read;
mod retention;
mod rollups;
mod settings;
mod store;
mod trigger_state;
mod write;
mod writer;

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::StoreError;
use writer::Writer;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if is_disk_full(&e) { StoreError::DiskFull } else { StoreError::Database(Box::new(e)) }
    }
}

/// SQLite's "database or disk is full" (its unix VFS reports ENOSPC so).
pub(crate) fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

/// How far a commit goes before the sender is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a crash of the process, not a power cut.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk before the acknowledgement.
    Full,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub data_dir: PathBuf,
    pub durability: Durability,
    /// Writes waiting for the writer beyond this are refused with [`StoreError::Busy`].
    pub queue_capacity: usize,
}

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_step_logs.sql")),
    (3, include_str!("../../migrations/sqlite/0003_deployment_files.sql")),
    (4, include_str!("../../migrations/sqlite/0004_trigger_state.sql")),
    (5, include_str!("../../migrations/sqlite/0005_access.sql")),
    (6, include_str!("../../migrations/sqlite/0006_environments_config.sql")),
    (7, include_str!("../../migrations/sqlite/0007_deployment_status.sql")),
    (8, include_str!("../../migrations/sqlite/0008_disk_probe.sql")),
    (9, include_str!("../../migrations/sqlite/0009_rollups.sql")),
    (10, include_str!("../../migrations/sqlite/0010_alerts.sql")),
    (11, include_str!("../../migrations/sqlite/0011_event_trace.sql")),
    (12, include_str!("../../migrations/sqlite/0012_lease_token.sql")),
    (13, include_str!("../../migrations/sqlite/0013_cluster.sql")),
    (14, include_str!("../../migrations/sqlite/0014_drafts.sql")),
    (15, include_str!("../../migrations/sqlite/0015_api_management.sql")),
    (16, include_str!("../../migrations/sqlite/0016_signing_keys.sql")),
    (17, include_str!("../../migrations/sqlite/0017_quota_counts.sql")),
    (18, include_str!("../../migrations/sqlite/0018_consumers.sql")),
];

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.idle.lock().map_err(|_| StoreError::Closed)?.pop() {
            return Ok(c);
        }
        let c = Connection::open(&self.path)?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        c.pragma_update(None, "query_only", true)?;
        Ok(c)
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 8
        {
            idle.push(c);
        }
    }
}

/// The SQLite store. Cheap to clone; every clone talks to the same writer and readers.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    /// Held for the life of the store: one process per data directory.
    _lock: Arc<File>,
    /// Dropped with the last clone: stops the checkpointer.
    _checkpointer: Arc<std::sync::mpsc::Sender<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.readers.path).finish_non_exhaustive()
    }
}

fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Checkpoints run on their own thread (see `writer::checkpoint_in_background`).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.pragma_update(None, "cache_size", -8_000)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir`, takes the directory lock, and
    /// applies migrations.
    pub fn open(options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(&options.data_dir)?;
        let lock_path = options.data_dir.join("onset.lock");
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path)?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(format!(
                "{}; stop it or choose another --data-dir",
                options.data_dir.display()
            )));
        }
        let path = options.data_dir.join("onset.db");
        let mut conn = Connection::open(&path)?;
        configure(&conn, options.durability)?;
        migrate(&mut conn)?;
        let wal_frames = Arc::new(AtomicI64::new(0));
        let writer = Writer::start(conn, options.queue_capacity, wal_frames.clone())?;
        let (stop, stopped) = std::sync::mpsc::channel();
        writer::checkpoint_in_background(path.clone(), wal_frames, stopped)?;
        Ok(SqliteStore {
            writer,
            readers: Arc::new(Readers { path, idle: Mutex::new(Vec::new()) }),
            _lock: Arc::new(lock),
            _checkpointer: Arc::new(stop),
        })
    }

    /// Runs a read on a pooled connection, off the async runtime.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let out = f(&conn);
            readers.give_back(conn);
            out
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests;
