//! What `call:` steps can do: a registry of typed operations. Each connector describes its
//! operations as data (`operations/<connector>.json`: name, description, account type, whether a
//! failure may be retried, input and output JSON Schemas) and performs them behind the
//! [`Connector`] trait; the registry checks every input against its schema before the call, and
//! `onset validate`, `onset catalog connectors` and `GET /api/v1/catalog/connectors` read the
//! same descriptions. JavaScript steps are not connectors: the registry only carries their runner.

mod catalog;
mod http;
mod network;

pub use catalog::{AccountNeed, Catalog, Operation, catalog, operation};
pub use http::{HttpConnector, HttpConnectorOptions};
pub use network::NetworkPolicy;

use std::collections::HashMap;
use std::sync::Arc;

use onset_engine::{CallError, CallFuture, Connectors, OperationInfo};
use serde_json::Value;

/// Makes ring the process's TLS provider (idempotent). Call before building any HTTP client.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One connector: performs the operations its description lists.
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// The operations it performs (names from its `operations/*.json`).
    fn operations(&self) -> &'static [Operation];
    /// Performs `operation` with an input that already matches its schema.
    fn call<'a>(&'a self, operation: &'static Operation, input: Value, account: Option<Value>) -> CallFuture<'a>;
}

/// Every connector of this build, by operation name, and the script runner.
#[derive(Debug, Clone)]
pub struct Registry {
    connectors: Vec<Arc<dyn Connector>>,
    by_name: HashMap<&'static str, (&'static Operation, usize)>,
    #[cfg(feature = "js")]
    scripts: Option<(onset_script::ScriptPool, onset_script::Limits)>,
}

impl Registry {
    /// The built-in connectors; `http` is the client `http.request` uses.
    pub fn new(http: HttpConnector) -> Self {
        Self {
            connectors: Vec::new(),
            by_name: HashMap::new(),
            #[cfg(feature = "js")]
            scripts: None,
        }
        .with(Arc::new(http))
    }

    /// Adds a connector; its operations replace any of the same name.
    pub fn with(mut self, connector: Arc<dyn Connector>) -> Self {
        let index = self.connectors.len();
        for op in connector.operations() {
            self.by_name.insert(op.name.as_str(), (op, index));
        }
        self.connectors.push(connector);
        self
    }

    /// Lets `script:` steps run on `pool`, each call under `limits`.
    #[cfg(feature = "js")]
    pub fn with_scripts(mut self, pool: onset_script::ScriptPool, limits: onset_script::Limits) -> Self {
        self.scripts = Some((pool, limits));
        self
    }
}

impl Connectors for Registry {
    fn knows(&self, operation: &str) -> bool {
        self.by_name.contains_key(operation)
    }

    fn operation(&self, operation: &str) -> Option<OperationInfo<'_>> {
        self.by_name.get(operation).map(|(op, _)| op.info())
    }

    fn operation_names(&self) -> Vec<&str> {
        self.by_name.keys().copied().collect()
    }

    fn call<'a>(&'a self, operation: &'a str, input: Value, account: Option<Value>) -> CallFuture<'a> {
        Box::pin(async move {
            let Some(&(op, index)) = self.by_name.get(operation) else {
                return Err(CallError { message: format!("no connector provides `{operation}`"), retryable: false });
            };
            // The rendered input: a template may have produced anything.
            onset_engine::shape::check(&op.input, &input, "with")
                .map_err(|problem| CallError { message: format!("{operation}: {problem}"), retryable: false })?;
            self.connectors[index].call(op, input, account).await.map_err(|mut e| {
                // An operation that must not run twice never asks for another attempt.
                e.retryable &= op.retryable;
                e
            })
        })
    }

    #[cfg(feature = "js")]
    fn check_script<'a>(&'a self, source: std::sync::Arc<str>) -> CallFuture<'a> {
        Box::pin(async move {
            match &self.scripts {
                Some((pool, _)) => pool
                    .check(source)
                    .await
                    .map(|()| serde_json::Value::Null)
                    .map_err(|e| CallError { message: e.to_string(), retryable: false }),
                None => Ok(serde_json::Value::Null),
            }
        })
    }

    #[cfg(feature = "js")]
    fn runs_scripts(&self) -> bool {
        self.scripts.is_some()
    }

    #[cfg(feature = "js")]
    fn script<'a>(&'a self, source: std::sync::Arc<str>, ctx: String) -> onset_engine::ScriptFuture<'a> {
        Box::pin(async move {
            let Some((pool, limits)) = &self.scripts else {
                return Err(CallError { message: "no script runner is configured".into(), retryable: false });
            };
            // Script failures are the script's: running it again would fail the same way.
            pool.run_json(source, ctx, *limits)
                .await
                .map(|out| (out.value, out.logs))
                .map_err(|e| CallError { message: e.to_string(), retryable: false })
        })
    }
}
