//! The writer thread: takes every operation queued while the previous commit ran, applies them
//! in one transaction (each in its own savepoint, so one failing operation does not undo the
//! others), commits, then answers each caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, Transaction};
use tokio::sync::mpsc;

use crate::StoreError;

/// Runs inside the batch transaction; returns what to do once the commit's fate is known.
pub(crate) type Op = Box<dyn FnOnce(&Transaction<'_>) -> Reply + Send>;

/// What an operation says once the commit's fate is known.
pub(crate) struct Reply {
    /// Called with how the commit went.
    pub send: Box<dyn FnOnce(Commit) + Send>,
    /// The operation itself failed for want of disk space.
    pub disk_full: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    Done,
    Failed,
    DiskFull,
}

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
    disk_full: Arc<AtomicBool>,
}

/// At most this many operations go in one transaction (bounds commit latency).
const MAX_BATCH: usize = 1024;

impl Writer {
    /// `wal_frames` is the WAL's size in frames as the checkpointer last saw it.
    pub fn start(conn: Connection, capacity: usize, wal_frames: Arc<AtomicI64>) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Op>(capacity.max(1));
        let disk_full = Arc::new(AtomicBool::new(false));
        let full = disk_full.clone();
        std::thread::Builder::new()
            .name("onset-sqlite-writer".into())
            .spawn(move || run(conn, rx, wal_frames, &full))?;
        Ok(Self { tx, disk_full })
    }

    /// True from a write that failed for want of disk space until a commit succeeds again.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
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
}

/// WAL frames (pages) beyond which the writer checkpoints itself: 16 MiB at 4 KiB pages.
const RESET_WAL_FRAMES: i64 = 4_096;

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, wal_frames: Arc<AtomicI64>, disk_full: &AtomicBool) {
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
        let started = std::time::Instant::now();
        let ops = batch.len();
        let committed = match conn.transaction() {
            Ok(tx) => {
                for op in batch.drain(..) {
                    replies.push(op(&tx));
                }
                match tx.commit() {
                    Ok(()) => Commit::Done,
                    Err(e) if super::is_disk_full(&e) => Commit::DiskFull,
                    Err(e) => {
                        tracing::error!(error = %e, "commit failed; the batch is answered with an error");
                        Commit::Failed
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot begin a transaction");
                batch.clear();
                if super::is_disk_full(&e) { Commit::DiskFull } else { Commit::Failed }
            }
        };
        let full = committed == Commit::DiskFull || replies.iter().any(|r| r.disk_full);
        note_disk(disk_full, full, committed == Commit::Done);
        for reply in replies.drain(..) {
            (reply.send)(committed);
        }
        // The checkpointer copies the WAL in the background; when the WAL has grown large
        // anyway (it cannot reset while commits keep coming), one short checkpoint here, between
        // transactions, lets the next transaction start the WAL over.
        if wal_frames.load(Ordering::Relaxed) > RESET_WAL_FRAMES {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "checkpoint failed");
            }
            wal_frames.store(0, Ordering::Relaxed);
        }
        let took = started.elapsed();
        if took > std::time::Duration::from_millis(250) {
            tracing::warn!(operations = ops, ?took, "a database commit was slow");
        }
    }
    if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
}

/// Keeps the disk-full flag and says in the log when it changes: set by a write that failed for
/// want of space, cleared by the next commit that wrote without that failure.
fn note_disk(flag: &AtomicBool, full: bool, committed: bool) {
    if full {
        if !flag.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "disk full: the data directory's disk has no room; new events are refused with 503 and \
                 /readyz is not ready until a write succeeds again (nothing already accepted is lost)"
            );
        }
    } else if committed && flag.swap(false, Ordering::Relaxed) {
        tracing::warn!("disk space is back: writes succeed again");
    }
}

/// Copies WAL pages into the database every 100 ms on its own connection, so commits on the
/// writer do not stall on checkpoints. Ends when `stop` is dropped.
pub(crate) fn checkpoint_in_background(
    path: std::path::PathBuf,
    wal_frames: Arc<AtomicI64>,
    stop: std::sync::mpsc::Receiver<()>,
) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    std::thread::Builder::new().name("onset-sqlite-checkpoint".into()).spawn(move || {
        let mut failing = false;
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(Duration::from_millis(100)) {
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(frames) => {
                    wal_frames.store(frames, Ordering::Relaxed);
                    failing = false;
                }
                // Said once, not ten times a second (a full disk fails every checkpoint).
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "background checkpoint failed");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    })?;
    Ok(())
}
