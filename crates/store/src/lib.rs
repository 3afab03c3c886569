//! Durable state: events, runs (which are also the job queue), step records, deployments.
//!
//! The SQLite implementation writes through one thread that commits everything queued while
//! the previous commit ran (group commit); reads use a separate pool of connections.

mod rows;
mod sqlite;
pub mod time;

pub use rows::*;
pub use sqlite::{
    AlertRow, AuditRow, Durability, EventForRun, PruneCandidate, Rollup, SealedValue, Store, StoreOptions, SyncBatch,
    TokenRow, merge_counts,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write queue is full: the caller should answer 503 and let the sender retry.
    #[error("the write queue is full")]
    Busy,
    #[error("the store is shut down")]
    Closed,
    #[error("another onset process uses {0}; stop it or choose another --data-dir")]
    Locked(String),
    /// The data directory's disk has no room: nothing was written; try again once space is back.
    #[error("the disk of the data directory is full")]
    DiskFull,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The batch this write was part of did not commit (the log has the reason).
    #[error("the write was not committed")]
    CommitFailed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if is_disk_full(&e) { StoreError::DiskFull } else { StoreError::Sqlite(e) }
    }
}

/// SQLite's "database or disk is full" (its unix VFS reports ENOSPC so).
pub(crate) fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}
