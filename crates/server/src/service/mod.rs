//! The operations the control-plane API, the CLI (through the API) and the web UI share:
//! deploy, promote, rollback, undeploy, pause and resume, replays, config, environments,
//! tokens, the audit log and the queries of events and runs.
//!
//! Each is a typed function over [`App`] that checks the caller's rights, does the work and
//! writes the audit entry. Each fails with a [`ServiceError`]; `crate::error` turns that into
//! the `{code, message, location}` body in one place, so no store text, file path or internal
//! message reaches a client (the log has them).

pub mod access;
pub mod accounts;
pub mod components;
pub mod config;
pub mod deployments;
pub mod events;
pub mod gateway;
pub mod studio;

use onset_store::StoreError;

use crate::api::types::DeployFailure;
use crate::app::{App, DEVELOPMENT};

/// Things a request can name that may not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Event,
    Run,
    Deployment,
    Token,
    Account,
    Draft,
    File,
    Application,
    Subscription,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Run => "run",
            Kind::Deployment => "deployment",
            Kind::Token => "token",
            Kind::Account => "account",
            Kind::Draft => "draft of component",
            Kind::File => "project file",
            Kind::Application => "application",
            Kind::Subscription => "subscription",
        }
    }
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An environment that does not exist, named at `at` (`query environment`, `body to`…).
    #[error("there is no environment `{name}`; environments: {}", known.join(", "))]
    UnknownEnvironment { name: String, known: Vec<String>, at: &'static str },
    /// The component is not active in that environment.
    #[error("no component `{component}` is deployed to `{environment}`")]
    NotDeployed { component: String, environment: String },
    /// An event, run, deployment or token id that does not exist.
    #[error("no {} `{id}`", kind.as_str())]
    NotFound { kind: Kind, id: String },
    /// The caller's token may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is wrong: `code` names the rule, `at` the place.
    #[error("{message}")]
    Invalid { code: &'static str, message: String, at: &'static str },
    /// The request conflicts with the present state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String, at: Option<&'static str> },
    /// The request is well formed but cannot be done (signing a scheme only the provider can sign).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A deploy, promotion or rollback was refused; nothing was activated.
    #[error("{}", .0.errors.join("; "))]
    DeployFailed(Box<DeployFailure>),
    /// The provider refused to remove a registration; its words go to the log only.
    #[error("unregistering failed: {0}")]
    Unregister(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of the server itself; the detail goes to the log only.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>, at: &'static str) -> Self {
        ServiceError::Invalid { code, message: message.into(), at }
    }

    pub(crate) fn not_found(kind: Kind, id: impl Into<String>) -> Self {
        ServiceError::NotFound { kind, id: id.into() }
    }

    pub(crate) fn not_deployed(component: &str, environment: &str) -> Self {
        ServiceError::NotDeployed { component: component.to_string(), environment: environment.to_string() }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Conflict { code, message: message.into(), at: None }
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;

/// The one rule for an environment named by a request: none means `development`; an unknown
/// name is [`ServiceError::UnknownEnvironment`] at `at`.
pub fn environment(app: &App, given: Option<&str>, at: &'static str) -> Result<String> {
    let env = given.unwrap_or(DEVELOPMENT);
    if app.knows_environment(env) {
        return Ok(env.to_string());
    }
    Err(ServiceError::UnknownEnvironment { name: env.to_string(), known: app.environment_list(), at })
}

/// A list filter's environment: none, or a known one.
pub fn environment_filter(app: &App, given: Option<&str>) -> Result<Option<String>> {
    given.map(|e| environment(app, Some(e), "query environment")).transpose()
}

/// The page size of lists when none is asked for, and the largest one may ask for.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

pub fn limit(given: Option<u32>) -> Result<u32> {
    match given {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ServiceError::invalid(
            "invalid_limit",
            format!("limit is a whole number from 1 to {MAX_LIMIT}"),
            "query limit",
        )),
    }
}
