//! The server as the host of a running trigger (`onset_sources::triggers::Host`): events go
//! through the ingest pipeline (dedup, runs queued), state is the store's trigger state, calls
//! go to the connectors, health to the board and metrics.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use onset_model::catalog::EventName;
use onset_sources::triggers::{GoogleCredentials, Host, Member, SyncChanges};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::deploy::Deployed;

/// A running trigger's host (`Arc`s, for tasks that outlive the call that starts them) or a
/// registration's (borrowed, at deploy and undeploy).
pub struct SourceHost<A, D> {
    pub app: A,
    pub deployed: D,
    /// Stops waiting for a busy store when the source is stopped.
    pub stop: CancellationToken,
}

/// The host of a registration, for as long as the deploy or undeploy that makes it.
pub type RegistrationHost<'a> = SourceHost<&'a App, &'a Deployed>;

impl<'a> RegistrationHost<'a> {
    pub fn borrowed(app: &'a App, deployed: &'a Deployed) -> Self {
        SourceHost { app, deployed, stop: app.shutdown.child_token() }
    }
}

#[async_trait::async_trait]
impl<A, D> Host for SourceHost<A, D>
where
    A: Deref<Target = App> + Send + Sync,
    D: Deref<Target = Deployed> + Send + Sync,
{
    fn component(&self) -> &str {
        self.deployed.name()
    }

    fn environment(&self) -> &str {
        &self.deployed.environment
    }

    fn config(&self) -> &Value {
        &self.deployed.config
    }

    fn public_url(&self) -> Option<&str> {
        self.app.config.public_url.as_deref()
    }

    fn handlers(&self) -> Vec<(String, String)> {
        self.deployed.component.handler_list().map(|(c, e, _)| (c.to_string(), e.to_string())).collect()
    }

    async fn store(
        &self,
        name: &EventName,
        delivery_id: Option<String>,
        payload: Bytes,
        extra: (String, String),
    ) -> Result<bool, String> {
        let outcome =
            crate::ingress::store_delivery(&self.app, &self.deployed, name, delivery_id, payload, extra, &self.stop)
                .await?;
        Ok(matches!(outcome, onset_store::IngestOutcome::Stored))
    }

    async fn store_batch(&self, name: &EventName, members: Vec<Member>) -> Result<(), String> {
        crate::ingress::store_batch(&self.app, &self.deployed, name, members, &self.stop).await
    }

    async fn state(&self, key: &str) -> Result<Option<String>, String> {
        self.app
            .store
            .trigger_state(self.component().to_string(), self.environment().to_string(), key.to_string())
            .await
            .map_err(|e| e.to_string())
    }

    async fn set_state(&self, key: &str, value: Option<String>) -> Result<(), String> {
        self.app
            .store
            .set_trigger_state(self.component().to_string(), self.environment().to_string(), key.to_string(), value)
            .await
            .map_err(|e| e.to_string())
    }

    async fn known_items(&self) -> Result<std::collections::HashMap<String, String>, String> {
        self.app
            .store
            .calendar_items(self.component().to_string(), self.environment().to_string())
            .await
            .map_err(|e| e.to_string())
    }

    async fn clear_items(&self) -> Result<(), String> {
        self.app
            .store
            .clear_calendar_items(self.component().to_string(), self.environment().to_string())
            .await
            .map_err(|e| e.to_string())
    }

    async fn apply_sync(&self, changes: SyncChanges) -> Result<(), String> {
        apply_sync(&self.app, &self.deployed, changes).await
    }

    fn renew_before(&self) -> std::time::Duration {
        self.app.config.channel_renewal
    }

    async fn google_token(&self, credentials: GoogleCredentials<'_>) -> Result<Option<String>, String> {
        crate::service::accounts::google_token(&self.app, self.environment(), self.component(), credentials).await
    }

    async fn call(&self, operation: &str, input: Value) -> Result<Value, String> {
        onset_engine::Connectors::call(&self.app.connectors, operation, input, None).await.map_err(|e| e.message)
    }

    fn healthy(&self, next_at: Option<i64>) {
        self.app.source_ok(self.environment(), self.component(), next_at);
    }

    fn failed(&self, error: String, next_at: Option<i64>) {
        self.app.source_failed(self.environment(), self.component(), error, next_at);
    }

    fn backlog(&self, waiting: u64) {
        self.app.source_backlog(self.environment(), self.component(), waiting);
    }
}

/// Stores a sync's events with its item changes and state in one transaction, then queues the
/// runs of the events that were new.
async fn apply_sync(app: &App, deployed: &Deployed, changes: SyncChanges) -> Result<(), String> {
    let received_at = crate::app::now_ms();
    let events: Vec<onset_store::NewEvent> = changes
        .events
        .into_iter()
        .map(|(name, delivery_id, payload)| onset_store::NewEvent {
            id: crate::app::new_id(),
            component: deployed.name().to_string(),
            environment: deployed.environment.clone(),
            channel: name.channel.clone(),
            event: name.event.clone(),
            delivery_id: Some(delivery_id),
            received_at,
            headers: changes.headers.clone(),
            query: "{}".into(),
            params: "{}".into(),
            payload: Bytes::from(payload.to_string()),
            runs: crate::ingress::runs_for(deployed, &name),
            trace: None,
        })
        .collect();
    let batch = onset_store::SyncBatch {
        component: deployed.name().to_string(),
        environment: deployed.environment.clone(),
        events: events.clone(),
        upserts: changes.upserts,
        deletes: changes.deletes,
        state: changes.state,
    };
    let outcomes = app.store.apply_sync(batch).await.map_err(|e| e.to_string())?;
    for (event, outcome) in events.iter().zip(outcomes) {
        if matches!(outcome, onset_store::IngestOutcome::Stored) {
            app.metrics.event_received(deployed.name(), &deployed.environment, "accepted");
            crate::ingress::enqueue_runs(app, event);
        }
    }
    Ok(())
}

/// Renews what triggers registered (watch channels) before it expires, until shutdown; in a
/// cluster one node renews at a time. A renewal that fails raises an alert, resolved by the
/// next one that works.
pub async fn renew_loop(app: Arc<App>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(app.config.renewal_check) => {}
            () = app.shutdown.cancelled() => break,
        }
        if !app.hold("trigger-renewal").await {
            continue;
        }
        for deployed in app.active_all() {
            let host = RegistrationHost::borrowed(&app, &deployed);
            let Some(renewing) = deployed.trigger.renew(&host) else { continue };
            let (component, environment) = (deployed.name(), deployed.environment.as_str());
            let key = format!("renewal_failed:{environment}/{component}");
            match renewing.await {
                Ok(lines) => {
                    for line in &lines {
                        tracing::info!(component, environment, "renewal: {line}");
                    }
                    if !lines.is_empty() {
                        crate::alerts::resolve(&app, &key).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(component, environment, error = %e, "a registration was not renewed; retrying");
                    let subject = crate::alerts::Subject { component: Some(component), environment: Some(environment) };
                    let message = format!("the registration of `{component}` in `{environment}` was not renewed: {e}");
                    crate::alerts::raise(
                        &app,
                        crate::alerts::Kind::RenewalFailed,
                        key,
                        subject,
                        message,
                        serde_json::json!({ "error": e }),
                    )
                    .await;
                }
            }
        }
    }
}
