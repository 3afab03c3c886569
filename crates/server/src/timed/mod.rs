//! Triggers that run inside the server instead of receiving requests ([`Intake::Task`]:
//! `schedule`, `poll` and the broker triggers). Each type's task lives with the type in
//! `onset_sources::triggers`; the server hosts it ([`host::SourceHost`]).
//! A supervisor keeps one task per active deployment of such a trigger, started when it is
//! activated, stopped when it is replaced or undeployed.

pub(crate) mod host;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::app::{App, now_ms};
use onset_sources::triggers::Intake;

/// What a running source last did, for `GET /api/v1/components`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// `running`, or `failing` after an error (it keeps trying).
    pub state: &'static str,
    #[serde(serialize_with = "onset_store::time::ser_opt")]
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "onset_store::time::ser_opt", skip_serializing_if = "Option::is_none")]
    pub next_at: Option<i64>,
    /// Stream triggers: messages waiting in the broker, where the broker reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
    /// Since when it has been failing without a success in between (for alerts).
    #[serde(skip)]
    pub failing_since: Option<i64>,
}

/// Health per (environment, component).
#[derive(Default)]
pub struct HealthBoard(Mutex<HashMap<(String, String), Health>>);

impl HealthBoard {
    pub fn get(&self, environment: &str, component: &str) -> Option<Health> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(environment.to_string(), component.to_string())).cloned()
    }

    /// Every source's health, by (environment, component).
    pub fn all(&self) -> Vec<((String, String), Health)> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn update(&self, environment: &str, component: &str, f: impl FnOnce(&mut Health)) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = map
            .entry((environment.to_string(), component.to_string()))
            .or_insert_with(|| Health { state: "running", ..Health::default() });
        f(h);
    }

    /// `next_at` is `None` for sources without due times (streams).
    pub fn ok(&self, environment: &str, component: &str, next_at: Option<i64>) {
        self.update(environment, component, |h| {
            h.state = "running";
            h.last_success_at = Some(now_ms());
            h.next_at = next_at;
            h.failing_since = None;
        });
    }

    pub fn failed(&self, environment: &str, component: &str, error: String, next_at: Option<i64>) {
        self.update(environment, component, |h| {
            h.state = "failing";
            h.last_error = Some(error);
            h.next_at = next_at;
            h.failing_since.get_or_insert_with(now_ms);
        });
    }

    fn backlog(&self, environment: &str, component: &str, backlog: u64) {
        self.update(environment, component, |h| h.backlog = Some(backlog));
    }

    fn remove(&self, environment: &str, component: &str) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&(environment.to_string(), component.to_string()));
    }
}

impl App {
    /// A source worked: health and the `onset_source_up` gauge say so.
    pub fn source_ok(&self, environment: &str, component: &str, next_at: Option<i64>) {
        self.source_health.ok(environment, component, next_at);
        self.metrics.source(component, environment, true);
    }

    /// A source failed; it keeps trying.
    pub fn source_failed(&self, environment: &str, component: &str, error: String, next_at: Option<i64>) {
        self.source_health.failed(environment, component, error, next_at);
        self.metrics.source(component, environment, false);
    }

    /// What the broker last reported waiting for a stream trigger.
    pub fn source_backlog(&self, environment: &str, component: &str, backlog: u64) {
        self.source_health.backlog(environment, component, backlog);
        self.metrics.source_backlog(component, environment, backlog);
    }
}

/// The lease a single-node source is run under in a cluster.
fn lease_name(environment: &str, component: &str) -> String {
    format!("source:{environment}/{component}")
}

/// Keeps exactly one task per active schedule, poll or stream deployment. In a cluster a source
/// that must run once ([`Source::single`]) runs on the node holding its lease, renewed every
/// round; when that node dies another takes the lease over once it ends.
pub async fn supervise(app: Arc<App>) {
    let mut running: HashMap<(String, String), (String, CancellationToken)> = HashMap::new();
    loop {
        let mut wanted = HashMap::new();
        for d in app.active_all() {
            if d.intake == Intake::Task {
                let key = (d.environment.clone(), d.name().to_string());
                if d.trigger.single() && !app.hold(&lease_name(&key.0, &key.1)).await {
                    continue;
                }
                wanted.insert(key, d);
            }
        }
        let mut stopped = Vec::new();
        running.retain(|key, (id, token)| {
            let keep = wanted.get(key).is_some_and(|d| d.id == *id);
            if !keep {
                token.cancel();
                app.source_health.remove(&key.0, &key.1);
                stopped.push(key.clone());
            }
            keep
        });
        for (environment, component) in stopped {
            if !wanted.contains_key(&(environment.clone(), component.clone())) {
                app.let_go(&lease_name(&environment, &component)).await;
            }
        }
        for (key, d) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let token = app.shutdown.child_token();
            running.insert(key, (d.id.clone(), token.clone()));
            let host = Arc::new(host::SourceHost { app: app.clone(), deployed: d.clone(), stop: token.clone() });
            if let Some(task) = d.trigger.run(host, token) {
                tokio::spawn(task);
            }
        }
        tokio::select! {
            () = app.sources_changed.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            () = app.shutdown.cancelled() => break,
        }
    }
    // Another node takes over at once instead of after the lease.
    for (environment, component) in running.keys() {
        app.let_go(&lease_name(environment, component)).await;
    }
}
