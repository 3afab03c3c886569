//! The server as the host of a running trigger (`onset_sources::triggers::Host`): events go
//! through the ingest pipeline (dedup, runs queued), state is the store's trigger state, calls
//! go to the connectors, health to the board and metrics.

use std::sync::Arc;

use bytes::Bytes;
use onset_model::catalog::EventName;
use onset_sources::triggers::{Host, Member};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::deploy::Deployed;

pub struct SourceHost {
    pub app: Arc<App>,
    pub deployed: Arc<Deployed>,
    /// Stops waiting for a busy store when the source is stopped.
    pub stop: CancellationToken,
}

#[async_trait::async_trait]
impl Host for SourceHost {
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
        state(&self.app, &self.deployed, key).await
    }

    async fn set_state(&self, key: &str, value: Option<String>) -> Result<(), String> {
        set_state(&self.app, &self.deployed, key, value).await
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

/// The server as the host of a registration (deploy, undeploy): everything but storing events.
pub struct RegistrationHost<'a> {
    pub app: &'a App,
    pub deployed: &'a Deployed,
}

#[async_trait::async_trait]
impl Host for RegistrationHost<'_> {
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

    async fn store(&self, _: &EventName, _: Option<String>, _: Bytes, _: (String, String)) -> Result<bool, String> {
        Err("a registration stores no events".into())
    }

    async fn store_batch(&self, _: &EventName, _: Vec<Member>) -> Result<(), String> {
        Err("a registration stores no events".into())
    }

    async fn state(&self, key: &str) -> Result<Option<String>, String> {
        state(self.app, self.deployed, key).await
    }

    async fn set_state(&self, key: &str, value: Option<String>) -> Result<(), String> {
        set_state(self.app, self.deployed, key, value).await
    }

    async fn call(&self, operation: &str, input: Value) -> Result<Value, String> {
        onset_engine::Connectors::call(&self.app.connectors, operation, input, None).await.map_err(|e| e.message)
    }

    fn healthy(&self, _: Option<i64>) {}

    fn failed(&self, _: String, _: Option<i64>) {}

    fn backlog(&self, _: u64) {}
}

async fn state(app: &App, deployed: &Deployed, key: &str) -> Result<Option<String>, String> {
    app.store
        .trigger_state(deployed.name().to_string(), deployed.environment.clone(), key.to_string())
        .await
        .map_err(|e| e.to_string())
}

async fn set_state(app: &App, deployed: &Deployed, key: &str, value: Option<String>) -> Result<(), String> {
    app.store
        .set_trigger_state(deployed.name().to_string(), deployed.environment.clone(), key.to_string(), value)
        .await
        .map_err(|e| e.to_string())
}
