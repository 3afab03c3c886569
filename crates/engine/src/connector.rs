//! The seam between steps and the outside world.

use std::future::Future;
use std::pin::Pin;

/// A connector operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    pub message: String,
    /// Worth trying again later (network errors, 5xx, 408, 429).
    pub retryable: bool,
    /// Not before this long: the provider said so (`Retry-After` on a 429 or 503).
    pub retry_after: Option<std::time::Duration>,
}

impl CallError {
    /// A failure that another attempt would repeat.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false, retry_after: None }
    }

    /// A failure that may pass on another attempt.
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: true, retry_after: None }
    }
}

pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<serde_json::Value, CallError>> + Send + 'a>>;

/// A script's value and what it wrote with `console`.
pub type ScriptFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(serde_json::Value, Vec<String>), CallError>> + Send + 'a>>;

/// Whether an operation's step names an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountUse {
    /// It takes none: `account:` on its step is a mistake.
    None,
    /// It may take one of this type (`http.request` without one calls anonymously).
    Optional(&'static str),
    /// It needs one of this type.
    Required(&'static str),
}

/// What `onset validate` checks a `call` step against.
#[derive(Debug, Clone, Copy)]
pub struct OperationInfo<'a> {
    /// JSON Schema of `with:` (the subset of [`crate::shape`]).
    pub input: &'a serde_json::Value,
    pub account: AccountUse,
}

/// The operations `call:` steps can reach, such as `http.request`.
pub trait Connectors: Send + Sync {
    /// Whether `operation` exists; unknown operations are refused when a component is compiled.
    fn knows(&self, operation: &str) -> bool;

    /// Credentials the connectors have put on the wire (access tokens obtained at run time,
    /// accounts' keys): a run's records show none of them, even when an API echoes one back.
    fn live_credentials(&self) -> Option<std::sync::Arc<Vec<String>>> {
        None
    }

    /// The operation's input schema and account, when the connectors describe it.
    fn operation(&self, _operation: &str) -> Option<OperationInfo<'_>> {
        None
    }

    /// Operation names, for "did you mean" hints.
    fn operation_names(&self) -> Vec<&str> {
        Vec::new()
    }

    /// The account types `config: { type: account, connector: … }` may name (empty: unchecked).
    fn account_types(&self) -> Vec<&str> {
        Vec::new()
    }
    /// Performs `operation` with its rendered `with:` input.
    fn call<'a>(
        &'a self,
        operation: &'a str,
        input: serde_json::Value,
        account: Option<serde_json::Value>,
    ) -> CallFuture<'a>;

    /// Whether `script:` steps can run; without it they are refused when a component is compiled.
    fn runs_scripts(&self) -> bool {
        false
    }

    /// Checks that a JavaScript step's source compiles and has a default export.
    fn check_script<'a>(&'a self, _source: std::sync::Arc<str>) -> CallFuture<'a> {
        Box::pin(async { Ok(serde_json::Value::Null) })
    }

    /// Runs a JavaScript step's source on `ctx` (JSON text).
    fn script<'a>(&'a self, _source: std::sync::Arc<str>, _ctx: String) -> ScriptFuture<'a> {
        Box::pin(async {
            Err(CallError {
                message: "JavaScript steps are not available in this build".into(),
                retryable: false,
                retry_after: None,
            })
        })
    }
}

/// No operations at all: for components that make no calls, and for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoConnectors;

impl Connectors for NoConnectors {
    fn knows(&self, _: &str) -> bool {
        false
    }
    fn call<'a>(&'a self, operation: &'a str, _: serde_json::Value, _: Option<serde_json::Value>) -> CallFuture<'a> {
        Box::pin(async move { Err(CallError::fatal(format!("no connector provides `{operation}`"))) })
    }
}
