//! Rate limits and quotas that hold across the nodes of one database (`Store::shared`): each
//! node takes chunks of a window from the store and spends them locally (see
//! `onset_gateway::shared`). A node that cannot reach the database counts on its own meanwhile.

use onset_gateway::shared::{Allowances, chunk, refusal, window};
use onset_gateway::{Quota, Refusal};

use crate::app::{App, now_ms};

#[derive(Debug, Default)]
pub struct Shared {
    held: Allowances,
    /// One node takes from the store for one request at a time; the others find it taken.
    taking: tokio::sync::Mutex<()>,
}

/// Takes one request from every quota across the cluster, or from none.
pub async fn acquire(app: &App, quotas: &[&Quota]) -> Result<(), Refusal> {
    let shared = &app.shared_limits;
    let now = now_ms();
    if shared.held.spend(quotas, now).is_ok() {
        return Ok(());
    }
    let _one = shared.taking.lock().await;
    let mut lacking = match shared.held.spend(quotas, now) {
        Ok(()) => return Ok(()),
        Err(lacking) => lacking,
    };
    // Two rounds: a window can turn over between taking and spending.
    for _ in 0..2 {
        for i in &lacking {
            let q = quotas[*i];
            let (start, end) = window(q, now);
            match app.store.take_quota(q.key.to_string(), start, chunk(q.limit), q.limit, end).await {
                Ok(0) => return Err(refusal(q, now)),
                Ok(granted) => shared.held.add(q, now, granted),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take from a shared rate limit; counting on this node");
                    return app.limiter.acquire(quotas, std::time::Instant::now());
                }
            }
        }
        match shared.held.spend(quotas, now) {
            Ok(()) => return Ok(()),
            Err(l) => lacking = l,
        }
    }
    Err(refusal(quotas[lacking[0]], now))
}

/// Removes the counts of windows that ended a minute ago or more.
pub async fn prune(app: &App) -> Result<u64, onset_store::StoreError> {
    app.store.prune_quotas(now_ms() - 60_000).await
}
