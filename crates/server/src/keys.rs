//! API keys at the ingress: what a key may call, looked up in the store and kept for a few
//! seconds. A change made on this node (new keys, a deleted application, a subscription) clears
//! what is kept, so it takes effect on the next request here; other nodes see it within
//! [`KEPT_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use onset_store::StoreError;

use crate::app::App;
use crate::auth::PRODUCTION;

/// How long a lookup is kept (the bound for changes made on other nodes).
pub const KEPT_FOR: Duration = Duration::from_secs(5);
/// Lookups kept at most; beyond, the expired ones are swept out and then everything.
const KEEP_AT_MOST: usize = 10_000;

/// What a key may do with one API in one environment.
#[derive(Debug, Clone)]
pub enum Access {
    /// No such key, or it was revoked.
    Unknown,
    /// A sandbox key on production, or a production key elsewhere.
    WrongEnvironment { kind: String },
    /// The application is not subscribed to this API here.
    NotSubscribed { application: String },
    /// Subscribed: the subscription's plan limit, if it has one.
    Allowed { quota: Option<Arc<onset_gateway::Quota>> },
}

type Key = (String, String, String);

#[derive(Debug, Default)]
pub struct KeyCache {
    kept: Mutex<HashMap<Key, (Instant, Access)>>,
}

impl KeyCache {
    /// Forgets every lookup (a key, application or subscription changed on this node).
    pub fn forget_all(&self) {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// What `key` may do with `component` in `environment`.
    pub async fn access(app: &App, key: &str, environment: &str, component: &str) -> Result<Access, StoreError> {
        let hash = crate::auth::hash(key);
        let id = (hash, environment.to_string(), component.to_string());
        let now = Instant::now();
        if let Some((at, access)) = app.keys.kept.lock().unwrap_or_else(PoisonError::into_inner).get(&id)
            && now.duration_since(*at) < KEPT_FOR
        {
            return Ok(access.clone());
        }
        let access = lookup(app, &id).await?;
        let mut kept = app.keys.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEEP_AT_MOST {
            kept.retain(|_, (at, _)| now.duration_since(*at) < KEPT_FOR);
            if kept.len() >= KEEP_AT_MOST {
                kept.clear();
            }
        }
        kept.insert(id, (now, access.clone()));
        Ok(access)
    }
}

async fn lookup(app: &App, (hash, environment, component): &Key) -> Result<Access, StoreError> {
    let Some((key, application)) = app.store.key_by_hash(hash.clone()).await? else {
        return Ok(Access::Unknown);
    };
    let fits = if key.kind == "production" { environment == PRODUCTION } else { environment != PRODUCTION };
    if !fits {
        return Ok(Access::WrongEnvironment { kind: key.kind });
    }
    let subs =
        app.store.subscriptions(Some(application.id.clone()), Some((component.clone(), environment.clone()))).await?;
    let Some(sub) = subs.into_iter().next() else {
        return Ok(Access::NotSubscribed { application: application.name });
    };
    let rate = app
        .store
        .plans()
        .await?
        .into_iter()
        .find(|p| p.name == sub.plan)
        .and_then(|p| p.rate_limit)
        .and_then(|r| r.parse::<onset_model::Rate>().ok());
    let quota = rate.map(|r| {
        Arc::new(onset_gateway::Quota {
            key: format!("subscription {}", sub.id).into(),
            policy: "plan",
            limit: r.limit,
            window: Duration::from_secs(r.window_secs),
        })
    });
    Ok(Access::Allowed { quota })
}
