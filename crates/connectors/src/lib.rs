//! Actions that `call:` steps perform. This build has `http.request`.

mod http;
mod network;

pub use http::{HttpConnector, HttpConnectorOptions};
pub use network::NetworkPolicy;

use onset_engine::CallFuture;
use onset_engine::{CallError, Connectors};

/// The operations `call:` steps can name in this build.
pub const OPERATIONS: &[&str] = &["http.request"];

/// Makes ring the process's TLS provider (idempotent). Call before building any HTTP client.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every connector of this build, by operation name, and the script runner.
#[derive(Debug, Clone)]
pub struct Registry {
    http: HttpConnector,
    #[cfg(feature = "js")]
    scripts: Option<(onset_script::ScriptPool, onset_script::Limits)>,
}

impl Registry {
    pub fn new(http: HttpConnector) -> Self {
        Self {
            http,
            #[cfg(feature = "js")]
            scripts: None,
        }
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
        OPERATIONS.contains(&operation)
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        input: serde_json::Value,
        _account: Option<serde_json::Value>,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            match operation {
                "http.request" => self.http.request(input).await,
                other => Err(CallError { message: format!("no connector provides `{other}`"), retryable: false }),
            }
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
