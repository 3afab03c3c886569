//! Actions that `call:` steps perform. This build has `http.request`.

mod http;
mod network;

pub use http::{HttpConnector, HttpConnectorOptions};
pub use network::NetworkPolicy;

use onset_engine::CallFuture;
use onset_engine::{CallError, Connectors};

/// Makes ring the process's TLS provider (idempotent). Call before building any HTTP client.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every connector of this build, by operation name.
#[derive(Debug, Clone)]
pub struct Registry {
    http: HttpConnector,
}

impl Registry {
    pub fn new(http: HttpConnector) -> Self {
        Self { http }
    }
}

impl Connectors for Registry {
    fn knows(&self, operation: &str) -> bool {
        operation == "http.request"
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
}
