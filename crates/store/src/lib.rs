//! Durable state: events, runs (which are also the job queue), step records, deployments,
//! behind the [`Store`] trait.
//!
//! The SQLite implementation ([`SqliteStore`]) writes through one thread that commits everything
//! queued while the previous commit ran (group commit); reads use a separate pool of connections.

#[cfg(test)]
pub(crate) mod conformance;
mod counts;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;
mod store;
pub mod time;

pub use counts::merge_counts;
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, PgStore};
pub use rows::*;
pub use sqlite::{Durability, SqliteStore, StoreOptions};
pub use store::{
    Access, Alerts, ApiManagement, Cluster, Deployments, Events, Queue, Retention, Rollups, Settings, Store,
    TriggerState,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write queue is full: the caller should answer 503 and let the sender retry.
    #[error("the write queue is full")]
    Busy,
    #[error("the store is shut down")]
    Closed,
    #[error("another onset process uses {0}")]
    Locked(String),
    /// The data directory's disk has no room: nothing was written; try again once space is back.
    #[error("the disk of the data directory is full")]
    DiskFull,
    /// The database refused or failed an operation; the text is for the log, never a client.
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The run's lease was lost (it expired and the run was taken again): what this attempt
    /// did is not recorded, the newer attempt's will be.
    #[error("the run's lease was lost; another attempt holds it")]
    LeaseLost,
    /// The batch this write was part of did not commit (the log has the reason).
    #[error("the write was not committed")]
    CommitFailed,
}
