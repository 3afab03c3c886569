//! Announcements between nodes on one schema, over `LISTEN`/`NOTIFY`: runs waiting for a claim
//! (sent by this process, coalesced) and changes of shared state (sent by triggers on the
//! tables, see migration 0002). Notifications are a hint: a node that missed some (its
//! listening connection dropped) is woken on both and re-reads; it also polls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use crate::{Signals, StoreError};

pub(super) struct Channels {
    pub signals: Arc<Signals>,
    /// Set by [`Channels::announce_runs`], cleared by the task that sends the notification.
    pending: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Channels {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A channel name of at most 63 bytes (PostgreSQL's limit) for this schema.
fn channel(prefix: &str, schema: &str) -> String {
    let mut name = format!("{prefix}{schema}");
    name.truncate(63);
    name
}

impl Channels {
    pub async fn start(pool: &PgPool) -> Result<Arc<Channels>, StoreError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(pool).await?;
        let runs = channel("onset_runs_", &schema);
        let state = channel("onset_state_", &schema);
        let node = uuid::Uuid::new_v4().simple().to_string();
        let signals = Arc::new(Signals::default());
        let pending = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());

        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([runs.as_str(), state.as_str()]).await?;
        let listen = tokio::spawn(listen(listener, signals.clone(), node.clone(), runs.clone()));
        let send = tokio::spawn(send(pool.clone(), runs, node, pending.clone(), wake.clone()));
        Ok(Arc::new(Channels { signals, pending, wake, tasks: vec![listen, send] }))
    }

    pub fn announce_runs(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }
}

async fn listen(mut listener: PgListener, signals: Arc<Signals>, node: String, runs: String) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) if n.channel() == runs => {
                if n.payload() != node {
                    signals.runs.notify_one();
                }
            }
            Ok(Some(_)) => signals.state.notify_one(),
            Ok(None) => {
                // The connection was lost: whatever was announced meanwhile is unknown.
                tracing::warn!("the PostgreSQL connection listening for other nodes was lost; reconnecting");
                signals.runs.notify_one();
                signals.state.notify_one();
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes; trying again in 1 s (polling meanwhile)");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Sends one runs announcement for every burst of [`Channels::announce_runs`] calls.
async fn send(pool: PgPool, runs: String, node: String, pending: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        while pending.swap(false, Ordering::AcqRel) {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(&runs).bind(&node).execute(&pool).await {
                tracing::warn!(error = %e, "cannot announce waiting runs to other nodes (they poll)");
            }
        }
    }
}
