//! Retention: events, runs and step records go once every run of the event is finished and the
//! longest age that applies to its runs has passed (`--retain-succeeded`, `--retain-failed`, or
//! the component's `retention:`). Nothing queued, running or retrying is ever pruned. Pruning runs
//! in small batches through the same writer as ingest, so it never holds ingest up for long; the
//! pages it frees are reused by SQLite, so under steady load the database file stops growing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use onset_store::PruneCandidate;

use crate::app::{App, now_ms};

/// Events read and deleted per batch.
const BATCH: usize = 256;

/// How long finished runs are kept, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    pub succeeded: i64,
    pub failed: i64,
}

impl Ages {
    fn of(succeeded: Duration, failed: Duration) -> Ages {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ages { succeeded: ms(succeeded), failed: ms(failed) }
    }
}

/// When a candidate may go, or `None` while one of its runs is open.
fn deadline(c: &PruneCandidate, ages: Ages) -> Option<i64> {
    if c.open_runs > 0 {
        return None;
    }
    Some(match (c.succeeded_at, c.failed_at) {
        // No run: an event no handler took (or a member of a batch, whose run is the batch's).
        (None, None) => c.received_at.saturating_add(ages.succeeded),
        (ok, bad) => {
            let ok = ok.map_or(i64::MIN, |t| t.saturating_add(ages.succeeded));
            let bad = bad.map_or(i64::MIN, |t| t.saturating_add(ages.failed));
            ok.max(bad)
        }
    })
}

/// Prunes every `app.config.prune_every` until shutdown.
pub async fn prune_loop(app: Arc<App>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(app.config.prune_every) => {}
            () = app.shutdown.cancelled() => return,
        }
        // In a cluster one node prunes at a time.
        if !app.hold("retention").await {
            continue;
        }
        match prune_once(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "pruned past retention"),
            Err(e) => tracing::warn!(error = %e, "pruning failed; trying again later"),
        }
        if let Err(e) = crate::quotas::prune(&app).await {
            tracing::warn!(error = %e, "pruning rate-limit counts failed; trying again later");
        }
        if let Err(e) = crate::series::prune(&app).await {
            tracing::warn!(error = %e, "pruning metric roll-ups failed; trying again later");
        }
    }
}

/// One pass over the oldest events; returns how many were deleted.
pub async fn prune_once(app: &App) -> Result<usize, onset_store::StoreError> {
    let defaults = Ages::of(app.config.retain_succeeded, app.config.retain_failed);
    let mut ages: HashMap<(String, String), Ages> = HashMap::new();
    for d in app.active_all() {
        if let Some(r) = d.component.retention {
            let own = Ages::of(
                r.succeeded.map_or(app.config.retain_succeeded, |d| d.as_std()),
                r.failed.map_or(app.config.retain_failed, |d| d.as_std()),
            );
            ages.insert((d.component.component.to_string(), d.environment.clone()), own);
        }
    }
    let youngest_age = ages.values().chain([&defaults]).map(|a| a.succeeded.min(a.failed)).min().unwrap_or(0);
    let now = now_ms();
    let mut after = None;
    let mut deleted = 0;
    loop {
        let batch = app.store.prune_candidates(after.clone(), BATCH).await?;
        let Some(last) = batch.last() else { break };
        let doomed: Vec<String> = batch
            .iter()
            .filter(|c| {
                let a = ages.get(&(c.component.clone(), c.environment.clone())).copied().unwrap_or(defaults);
                deadline(c, a).is_some_and(|d| d <= now)
            })
            .map(|c| c.id.clone())
            .collect();
        if !doomed.is_empty() {
            let n = app.store.prune_events(doomed).await?;
            deleted += n;
            app.metrics.pruned(n);
        }
        // Events are in time order: past here every event is younger than the shortest age.
        if batch.len() < BATCH || last.received_at.saturating_add(youngest_age) > now {
            break;
        }
        after = Some(last.id.clone());
        // Ingest shares the writer: give it the next commit.
        tokio::task::yield_now().await;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(open: i64, ok: Option<i64>, bad: Option<i64>) -> PruneCandidate {
        PruneCandidate {
            id: "e".into(),
            component: "c".into(),
            environment: "development".into(),
            received_at: 1_000,
            open_runs: open,
            succeeded_at: ok,
            failed_at: bad,
        }
    }

    #[test]
    fn the_longest_age_that_applies_decides_and_open_runs_keep_an_event() {
        let ages = Ages { succeeded: 100, failed: 1_000 };
        assert_eq!(deadline(&candidate(1, Some(2_000), None), ages), None);
        assert_eq!(deadline(&candidate(0, None, None), ages), Some(1_100), "unhandled: the succeeded age");
        assert_eq!(deadline(&candidate(0, Some(2_000), None), ages), Some(2_100));
        assert_eq!(
            deadline(&candidate(0, Some(2_000), Some(1_500)), ages),
            Some(2_500),
            "a failed run keeps it longer"
        );
        assert_eq!(deadline(&candidate(0, None, Some(1_500)), ages), Some(2_500));
    }
}
