//! API keys at the ingress: what a key may call, looked up in the store and kept for a few
//! seconds. A change made on this node (new keys, a deleted application, a subscription) clears
//! what is kept, so it takes effect on the next request here; on PostgreSQL the other nodes
//! clear theirs when the database announces the change, and every second regardless
//! (`cluster::follow`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use onset_store::StoreError;

use crate::app::App;
use crate::auth::PRODUCTION;

/// How long a lookup is kept on a node of its own.
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
    /// Subscribed: the subscription's plan limit and quotas, if it has them.
    Allowed {
        quota: Option<Arc<onset_gateway::Quota>>,
        subscription: Arc<str>,
        daily: Option<u64>,
        monthly: Option<u64>,
    },
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
        Self::kept_or_looked_up(app, (hash, environment.to_string(), component.to_string())).await
    }

    /// What the application of an OAuth2 `client_id` may do with `component` in `environment`:
    /// its token says who it is, its subscription what it may call here.
    pub async fn client_access(
        app: &App,
        client_id: &str,
        environment: &str,
        component: &str,
    ) -> Result<Access, StoreError> {
        Self::kept_or_looked_up(app, (format!("{CLIENT}{client_id}"), environment.to_string(), component.to_string()))
            .await
    }

    async fn kept_or_looked_up(app: &App, id: Key) -> Result<Access, StoreError> {
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

/// Marks a lookup by client id (a key hash is hex, so never starts with it).
const CLIENT: &str = "client:";

async fn lookup(app: &App, (id, environment, component): &Key) -> Result<Access, StoreError> {
    let application = if let Some(client_id) = id.strip_prefix(CLIENT) {
        match app.store.application_by_client_id(client_id.to_string()).await? {
            Some(a) => a,
            None => return Ok(Access::Unknown),
        }
    } else {
        let Some((key, application)) = app.store.key_by_hash(id.clone()).await? else {
            return Ok(Access::Unknown);
        };
        let fits = if key.kind == "production" { environment == PRODUCTION } else { environment != PRODUCTION };
        if !fits {
            return Ok(Access::WrongEnvironment { kind: key.kind });
        }
        application
    };
    let subs =
        app.store.subscriptions(Some(application.id.clone()), Some((component.clone(), environment.clone()))).await?;
    let Some(sub) = subs.into_iter().next() else {
        return Ok(Access::NotSubscribed { application: application.name });
    };
    let plan = app.store.plans().await?.into_iter().find(|p| p.name == sub.plan);
    let rate = plan.as_ref().and_then(|p| p.rate_limit.as_deref()).and_then(|r| r.parse::<onset_model::Rate>().ok());
    let daily = plan.as_ref().and_then(|p| p.daily_quota).and_then(|q| u64::try_from(q).ok());
    let monthly = plan.as_ref().and_then(|p| p.monthly_quota).and_then(|q| u64::try_from(q).ok());
    let quota = rate.map(|r| {
        Arc::new(onset_gateway::Quota {
            key: format!("subscription {}", sub.id).into(),
            policy: "plan",
            limit: r.limit,
            window: Duration::from_secs(r.window_secs),
            ends_in: None,
        })
    });
    Ok(Access::Allowed { quota, subscription: sub.id.into(), daily, monthly })
}

/// A subscription's daily and monthly quotas for the calendar day and month (UTC) of `now`:
/// each counted under a key naming its period, its window ending with the period.
pub fn period_quotas(
    subscription: &str,
    daily: Option<u64>,
    monthly: Option<u64>,
    now: jiff::Timestamp,
) -> Vec<onset_gateway::Quota> {
    let mut out = Vec::new();
    let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let left = |end: Option<jiff::civil::Date>| {
        end.and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp().as_millisecond() - now.as_millisecond())
            .and_then(|ms| u64::try_from(ms).ok())
            .map(Duration::from_millis)
    };
    if let Some(limit) = daily {
        out.push(onset_gateway::Quota {
            key: format!("subscription {subscription} day {date}").into(),
            policy: "daily",
            limit,
            window: Duration::from_secs(86_400),
            ends_in: left(date.tomorrow().ok()),
        });
    }
    if let Some(limit) = monthly {
        let first = date.first_of_month();
        let next = first.last_of_month().tomorrow().ok();
        let days = u64::try_from(date.days_in_month()).unwrap_or(30);
        out.push(onset_gateway::Quota {
            key: format!("subscription {subscription} month {}", first.strftime("%Y-%m")).into(),
            policy: "monthly",
            limit,
            window: Duration::from_secs(days * 86_400),
            ends_in: left(next),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_end_with_their_calendar_period() {
        let now: jiff::Timestamp = "2026-02-27T23:59:50Z".parse().unwrap();
        let q = period_quotas("s1", Some(100), Some(1000), now);
        assert_eq!(&*q[0].key, "subscription s1 day 2026-02-27");
        assert_eq!(q[0].ends_in, Some(Duration::from_secs(10)));
        assert_eq!(&*q[1].key, "subscription s1 month 2026-02");
        assert_eq!(q[1].window, Duration::from_secs(28 * 86_400));
        assert_eq!(q[1].ends_in, Some(Duration::from_secs(86_400 + 10)), "March begins a day and 10 s later");
        assert!(period_quotas("s1", None, None, now).is_empty());
    }
}
