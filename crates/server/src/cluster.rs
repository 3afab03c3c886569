//! Several nodes on one PostgreSQL database: each follows the shared state (deployments, pause
//! flags, environments, config values) that any node changes, and reports itself alive.
//!
//! A change is announced by the database (triggers, `NOTIFY`), so other nodes apply it at
//! once; they also re-read every second, so a missed announcement costs at most that. Tokens
//! need nothing here: every request looks its token up in the store, so a revocation holds
//! everywhere at once. What a node keeps of API-key and OAuth2-client lookups is dropped at every
//! announcement and every second, so a replaced key or a removed subscription holds as fast.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Duration;

use onset_store::NodeRow;

use crate::app::{App, now_ms};

/// How often a node re-reads shared state without an announcement, and reports itself.
const EVERY: Duration = Duration::from_secs(1);

/// What this node last saw of the config values: a stamp per (environment, component).
type Stamps = HashMap<(String, String), u64>;

/// Applies what other nodes change, until shutdown.
pub async fn follow(app: Arc<App>) {
    let signals = app.store.signals();
    let mut stamps = match config_stamps(&app).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read config values to follow them");
            Stamps::new()
        }
    };
    loop {
        let announced = async {
            match &signals {
                Some(s) => s.state.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = announced => {}
            () = tokio::time::sleep(EVERY) => {}
            () = app.shutdown.cancelled() => break,
        }
        // Key and client lookups are dropped on every announcement (keys, applications,
        // subscriptions and plans announce theirs) and at least every second otherwise.
        app.keys.forget_all();
        if let Err(e) = sync(&app, &mut stamps).await {
            tracing::warn!(error = %e, "cannot follow the shared state; trying again in 1 s");
        }
    }
}

/// A stamp of each component's sealed values (the store lists them in key order): sealing takes a
/// fresh nonce, so a value set again (even to the same text) changes it.
async fn config_stamps(app: &App) -> Result<Stamps, onset_store::StoreError> {
    let mut stamps = Stamps::new();
    for v in app.store.config_values(None).await? {
        let key = (v.environment.clone(), v.component.clone());
        let mut h = std::collections::hash_map::DefaultHasher::new();
        stamps.get(&key).copied().unwrap_or(0).hash(&mut h);
        (v.key, v.sealed).hash(&mut h);
        stamps.insert(key, h.finish());
    }
    Ok(stamps)
}

/// Brings this node's environments, active deployments, pause flags and config in line with
/// the store.
pub async fn sync(app: &App, stamps: &mut Stamps) -> Result<(), String> {
    app.load_environments().await.map_err(|e| e.to_string())?;
    app.lifecycle.load(app.store.as_ref()).await.map_err(|e| e.to_string())?;
    if let Some(id) = app.store.sealing_key().await.map_err(|e| e.to_string())? {
        // Another node rotated the master key: seal with it here too.
        app.seal_with(&id)?;
    }
    let activations = app.store.activations().await.map_err(|e| e.to_string())?;
    let fresh = config_stamps(app).await.map_err(|e| e.to_string())?;
    // Accounts set or removed on another node: runs here read them again.
    for key in fresh.keys().chain(stamps.keys()) {
        if key.1 == crate::service::accounts::SCOPE && fresh.get(key) != stamps.get(key) {
            app.accounts.forget(&key.0);
        }
    }
    let mut live = HashSet::new();
    let mut resumed = false;
    for a in &activations {
        let key = (a.environment.clone(), a.component.clone());
        live.insert(key.clone());
        if app.scheduler.is_paused(&a.component, &a.environment) != a.paused {
            app.scheduler.set_paused(&a.component, &a.environment, a.paused);
            resumed |= !a.paused;
            tracing::info!(component = %a.component, environment = %a.environment, paused = a.paused,
                "pause flag changed on another node");
        }
        let current = app.active(&a.environment, &a.component);
        let config_changed = fresh.get(&key) != stamps.get(&key);
        match current {
            Some(d) if d.id == a.deployment_id => {
                if config_changed {
                    app.forget_build(&d.id);
                    match app.rebuild(&d).await {
                        Ok(()) => tracing::info!(component = %a.component, environment = %a.environment,
                            "config changed on another node; rebuilt"),
                        Err(e) => tracing::error!(component = %a.component, environment = %a.environment,
                            error = %e, "config changed on another node and the component cannot be rebuilt with it"),
                    }
                }
            }
            _ => {
                if config_changed {
                    app.forget_build(&a.deployment_id);
                }
                match app.build_by_id(&a.deployment_id).await {
                    Ok(d) => {
                        tracing::info!(component = %a.component, environment = %a.environment,
                            deployment = %a.deployment_id, "deployed on another node; activated here");
                        app.install(d);
                    }
                    Err(e) => tracing::error!(component = %a.component, environment = %a.environment, error = %e,
                        "a deployment made on another node cannot be built here"),
                }
            }
        }
    }
    for d in app.active_all() {
        if !live.contains(&(d.environment.clone(), d.name().to_string())) {
            tracing::info!(component = %d.name(), environment = %d.environment, "undeployed on another node");
            app.deactivate(&d.environment, d.name());
        }
    }
    *stamps = fresh;
    if resumed {
        // Runs of a resumed component are claimed now rather than at the next poll.
        if let Some(s) = app.store.signals() {
            s.runs.notify_one();
        }
    }
    Ok(())
}

fn report(app: &App, seen_at: i64) -> NodeRow {
    NodeRow {
        id: app.node_id.clone(),
        role: app.config.role.as_str().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        key_ids: app.key_ids(),
        started_at: app.started_at,
        seen_at,
    }
}

/// Reports this node alive every second (role, version, the master keys it holds).
pub async fn heartbeat(app: Arc<App>) {
    loop {
        if let Err(e) = app.store.heartbeat(report(&app, now_ms())).await {
            tracing::warn!(error = %e, "cannot report this node alive");
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = app.shutdown.cancelled() => break,
        }
    }
}

/// At a graceful stop: this node is gone at once, not only once unseen for [`GONE_AFTER`].
pub async fn leave(app: &App) {
    if let Err(e) = app.store.heartbeat(report(app, 0)).await {
        tracing::debug!(error = %e, "cannot report this node gone");
    }
}

/// A node not seen for this long is taken for gone.
pub const GONE_AFTER: Duration = Duration::from_secs(10);
