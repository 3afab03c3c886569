//! The writer thread: takes every operation queued while the previous commit ran, applies them
//! in one transaction (each in its own savepoint, so one failing operation does not undo the
//! others), commits, then answers each caller.

use rusqlite::{Connection, Transaction};
use tokio::sync::mpsc;

use crate::StoreError;

/// Runs inside the batch transaction; returns what to do once the commit's fate is known.
pub(crate) type Op = Box<dyn FnOnce(&Transaction<'_>) -> Reply + Send>;
/// Called with `true` when the batch committed.
pub(crate) type Reply = Box<dyn FnOnce(bool) + Send>;

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
}

/// At most this many operations go in one transaction (bounds commit latency).
const MAX_BATCH: usize = 1024;

impl Writer {
    pub fn start(conn: Connection, capacity: usize) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Op>(capacity.max(1));
        std::thread::Builder::new().name("onset-sqlite-writer".into()).spawn(move || run(conn, rx))?;
        Ok(Self { tx })
    }

    /// Queues without waiting; `Busy` when the queue is full.
    pub fn try_submit(&self, op: Op) -> Result<(), StoreError> {
        self.tx.try_send(op).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Busy,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })
    }

    /// Queues, waiting for room.
    pub async fn submit(&self, op: Op) -> Result<(), StoreError> {
        self.tx.send(op).await.map_err(|_| StoreError::Closed)
    }

    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let committed = match conn.transaction() {
            Ok(tx) => {
                for op in batch.drain(..) {
                    replies.push(op(&tx));
                }
                match tx.commit() {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "commit failed; the batch is answered with an error");
                        false
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot begin a transaction");
                batch.clear();
                false
            }
        };
        for reply in replies.drain(..) {
            reply(committed);
        }
    }
    if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
}
