//! What `call:` steps can do: a registry of typed operations. Each connector describes its
//! operations as data (`operations/<connector>.json`: name, description, account type, whether a
//! failure may be retried, input and output JSON Schemas) and performs them behind the
//! [`Connector`] trait; the registry checks every input against its schema before the call, and
//! `onset validate`, `onset catalog connectors` and `GET /api/v1/catalog/connectors` read the
//! same descriptions. JavaScript steps are not connectors: the registry only carries their runner.

pub mod accounts;
mod catalog;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "github")]
mod github;
#[cfg(feature = "google")]
mod google;
mod http;
#[cfg(any(feature = "github", feature = "google"))]
mod jwt;
#[cfg(any(feature = "email", feature = "google"))]
mod mime;
mod network;
pub mod openapi;
#[cfg(feature = "publish")]
mod publish;
#[cfg(feature = "slack")]
mod slack;
#[cfg(feature = "sql")]
mod sql;

pub use accounts::{Account, AccountSource, Tokens};
pub use catalog::{AccountNeed, Catalog, Operation, catalog, operation};
#[cfg(feature = "github")]
pub use github::{GITHUB_API, GitHubConnector, app_jwt};
#[cfg(feature = "google")]
pub use google::{DEFAULT_SCOPES, GOOGLE_TOKEN_URL, GoogleConnector, service_account_assertion};
pub use http::{HttpConnector, HttpConnectorOptions};
pub use network::NetworkPolicy;
#[cfg(feature = "slack")]
pub use slack::{SLACK_API, SlackConnector};
#[cfg(feature = "sql")]
pub use sql::SqlConnector;

use std::collections::HashMap;
use std::sync::Arc;

use onset_engine::{AccountUse, CallError, CallFuture, Connectors, OperationInfo};
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
    /// Performs `operation` with an input that already matches its schema, as `account` (of the
    /// type the operation names) when it takes one.
    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        input: Value,
        account: Option<Arc<Account>>,
        tokens: &'a Tokens,
    ) -> CallFuture<'a>;

    /// A cheap real call with `account` (one of the types this connector uses), answering what
    /// it proved; `None` when the account is not of its types.
    fn test_account<'a>(&'a self, _account: &'a Account, _tokens: &'a Tokens) -> Option<TestFuture<'a>> {
        None
    }
}

/// The account the registry resolved for an operation that requires one.
pub(crate) fn required_account(op: &Operation, account: Option<Arc<Account>>) -> Result<Arc<Account>, CallError> {
    account.ok_or_else(|| {
        let kind = op.account.as_ref().map_or("", |a| a.kind.as_str());
        CallError::fatal(format!("{} needs a {kind} account", op.name))
    })
}

pub type TestFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>;

/// Every connector of this build, by operation name, and the script runner.
#[derive(Debug, Clone)]
pub struct Registry {
    connectors: Vec<Arc<dyn Connector>>,
    by_name: HashMap<&'static str, (&'static Operation, usize)>,
    /// Set once, when the server that owns the accounts exists.
    accounts: Arc<std::sync::OnceLock<Arc<dyn AccountSource>>>,
    tokens: Arc<Tokens>,
    /// The HTTP client every connector shares; imported OpenAPI operations call through it.
    http: HttpConnector,
    /// Google's token source, which the Google Calendar trigger shares.
    #[cfg(feature = "google")]
    google: Option<Arc<GoogleConnector>>,
    #[cfg(feature = "js")]
    scripts: Option<(onset_script::ScriptPool, onset_script::Limits)>,
}

impl std::fmt::Debug for dyn AccountSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountSource")
    }
}

impl Registry {
    /// The built-in connectors of this build; `http` is the client they all use (one network
    /// policy).
    pub fn new(http: HttpConnector) -> Self {
        #[cfg(feature = "slack")]
        let slack = SlackConnector::new(&http);
        #[cfg(feature = "github")]
        let github = GitHubConnector::new(&http);
        #[cfg(feature = "google")]
        let google = Arc::new(GoogleConnector::new(&http));
        let registry = Self {
            connectors: Vec::new(),
            by_name: HashMap::new(),
            accounts: Arc::default(),
            tokens: Arc::default(),
            http: http.clone(),
            #[cfg(feature = "google")]
            google: None,
            #[cfg(feature = "js")]
            scripts: None,
        }
        .with(Arc::new(http));
        #[cfg(feature = "slack")]
        let registry = registry.with(Arc::new(slack));
        #[cfg(feature = "github")]
        let registry = registry.with(Arc::new(github));
        #[cfg(feature = "sql")]
        let registry = registry.with(Arc::new(SqlConnector::default()));
        #[cfg(feature = "email")]
        let registry = registry.with(Arc::new(email::EmailConnector::default()));
        #[cfg(feature = "google")]
        let registry = Self { google: Some(google.clone()), ..registry.with(google) };
        #[cfg(feature = "publish")]
        let registry = registry.with(Arc::new(publish::PublishConnector::default()));
        registry
    }

    /// Lets steps name accounts, found in `source` by environment and name (once; later calls
    /// keep the first source).
    pub fn set_accounts(&self, source: Arc<dyn AccountSource>) {
        let _ = self.accounts.set(source);
    }

    /// The access tokens obtained from accounts.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// An access token for a `google` account, from the cache every Google operation shares
    /// (the Google Calendar trigger asks here too).
    #[cfg(feature = "google")]
    pub async fn google_token(&self, account: &Account) -> Result<String, String> {
        let google = self.google.as_ref().ok_or("this registry has no Google connector")?;
        google.access_token(account, &self.tokens).await.map_err(|e| e.message)
    }

    /// `onset account test`: a cheap real call with the account, by the connector of its type.
    pub async fn test_account(&self, account: &Account) -> Result<String, String> {
        for c in &self.connectors {
            if let Some(test) = c.test_account(account, &self.tokens) {
                return test.await;
            }
        }
        Err(format!("no connector of this build tests `{}` accounts", account.kind))
    }

    /// The operations as a run in `environment` sees them: accounts are that environment's.
    pub fn in_environment<'a>(&'a self, environment: &'a str) -> InEnvironment<'a> {
        InEnvironment { registry: self, environment, imported: &[] }
    }

    /// As [`Registry::in_environment`], with the operations of a deployment's imported OpenAPI
    /// documents too.
    pub fn in_deployment<'a>(&'a self, environment: &'a str, imported: &'a [openapi::Imported]) -> InEnvironment<'a> {
        InEnvironment { registry: self, environment, imported }
    }

    /// Finds the account a step names and checks it is of the type the operation uses.
    async fn account(
        &self,
        environment: Option<&str>,
        op: &Operation,
        need: AccountUse,
        named: Option<Value>,
    ) -> Result<Option<Arc<Account>>, CallError> {
        let refuse = |message: String| CallError { message, retryable: false, retry_after: None };
        let name = match (named, need) {
            (None, AccountUse::Required(kind)) => {
                return Err(refuse(format!("`{}` needs `account:` naming a `{kind}` account", op.name)));
            }
            (None, _) => return Ok(None),
            (Some(_), AccountUse::None) => return Err(refuse(format!("`{}` takes no account", op.name))),
            (Some(Value::String(name)), _) if !name.is_empty() => name,
            (Some(other), _) => {
                return Err(refuse(format!(
                    "`account` is an account's name (a config value of type account), not {other}"
                )));
            }
        };
        let kind = match need {
            AccountUse::Required(k) | AccountUse::Optional(k) => k,
            AccountUse::None => unreachable!("refused above"),
        };
        let (Some(source), Some(environment)) = (self.accounts.get(), environment) else {
            return Err(refuse(format!(
                "account `{name}`: accounts belong to an environment of a server; `onset run` has none \
                 (put the credentials in the step while trying it locally)"
            )));
        };
        match source.account(environment, &name).await {
            Ok(Some(a)) if kind.split('|').any(|k| k == a.kind) => Ok(Some(a)),
            Ok(Some(a)) => {
                Err(refuse(format!("account `{name}` is a `{}` account; `{}` needs a `{kind}` one", a.kind, op.name)))
            }
            Ok(None) => Err(refuse(format!(
                "there is no account `{name}` in environment `{environment}`; create it with \
                 `onset account set {name} --type {} --env {environment} FIELD=VALUE…`",
                kind.split('|').next().unwrap_or(kind)
            ))),
            // The store may be back in a moment.
            Err(e) => Err(CallError::transient(format!("account `{name}`: {e}"))),
        }
    }

    async fn perform(
        &self,
        environment: Option<&str>,
        operation: &str,
        input: Value,
        account: Option<Value>,
    ) -> Result<Value, CallError> {
        let Some(&(op, index)) = self.by_name.get(operation) else {
            return Err(CallError::fatal(format!("no connector provides `{operation}`")));
        };
        // The rendered input: a template may have produced anything.
        onset_engine::shape::check(&op.input, &input, "with")
            .map_err(|problem| CallError::fatal(format!("{operation}: {problem}")))?;
        let account = self.account(environment, op, op.info().account, account).await?;
        self.remember_secrets(account.as_deref());
        self.connectors[index].call(op, input, account, &self.tokens).await.map_err(|mut e| {
            // An operation that must not run twice never asks for another attempt.
            e.retryable &= op.retryable;
            e
        })
    }

    /// The account's own secrets join the credentials runs' records never show.
    fn remember_secrets(&self, account: Option<&Account>) {
        if let Some(a) = account
            && let Some(t) = accounts::account_type(&a.kind)
        {
            for field in t.fields.iter().filter(|f| f.secret) {
                if let Some(value) = a.get(field.name) {
                    self.tokens.remember(value);
                }
            }
        }
    }

    /// An operation of an imported OpenAPI document: its input checked, the step's `http`
    /// account found, and the request the document describes made with it.
    async fn perform_imported(
        &self,
        environment: Option<&str>,
        api: &openapi::Imported,
        index: usize,
        input: Value,
        account: Option<Value>,
    ) -> Result<Value, CallError> {
        let op = &api.operations[index];
        onset_engine::shape::check(&op.input, &input, "with")
            .map_err(|problem| CallError::fatal(format!("{}: {problem}", op.name)))?;
        let account = self.account(environment, op, openapi::account_use(op), account).await?;
        self.remember_secrets(account.as_deref());
        let request = api
            .http_input(index, &input, account.as_deref().and_then(|a| a.get("base_url")))
            .map_err(CallError::fatal)?;
        self.http.request_as(request, account.as_deref(), &self.tokens).await.map_err(|mut e| {
            e.message = format!("{}: {}", op.name, e.message);
            e.retryable &= op.retryable;
            e
        })
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

    fn account_types(&self) -> Vec<&str> {
        accounts::ACCOUNT_TYPES.iter().map(|t| t.kind).collect()
    }
    fn live_credentials(&self) -> Option<Arc<Vec<String>>> {
        Some(self.tokens.live())
    }

    fn call<'a>(&'a self, operation: &'a str, input: Value, account: Option<Value>) -> CallFuture<'a> {
        Box::pin(self.perform(None, operation, input, account))
    }

    #[cfg(feature = "js")]
    fn check_script<'a>(&'a self, source: std::sync::Arc<str>) -> CallFuture<'a> {
        Box::pin(async move {
            match &self.scripts {
                Some((pool, _)) => pool.check(source).await.map(|()| serde_json::Value::Null).map_err(|e| CallError {
                    message: e.to_string(),
                    retryable: false,
                    retry_after: None,
                }),
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
                return Err(CallError {
                    message: "no script runner is configured".into(),
                    retryable: false,
                    retry_after: None,
                });
            };
            // Script failures are the script's: running it again would fail the same way.
            pool.run_json(source, ctx, *limits).await.map(|out| (out.value, out.logs)).map_err(|e| CallError {
                message: e.to_string(),
                retryable: false,
                retry_after: None,
            })
        })
    }
}

/// The registry as a run in one environment sees it (see [`Registry::in_environment`]), with a
/// deployment's imported operations.
#[derive(Debug, Clone, Copy)]
pub struct InEnvironment<'a> {
    registry: &'a Registry,
    environment: &'a str,
    imported: &'a [openapi::Imported],
}

impl Connectors for InEnvironment<'_> {
    fn knows(&self, operation: &str) -> bool {
        openapi::find(self.imported, operation).is_some() || self.registry.knows(operation)
    }
    fn operation(&self, operation: &str) -> Option<OperationInfo<'_>> {
        match openapi::find(self.imported, operation) {
            Some((api, i)) => Some(openapi::info(&api.operations[i])),
            None => self.registry.operation(operation),
        }
    }
    fn operation_names(&self) -> Vec<&str> {
        let mut names = self.registry.operation_names();
        names.extend(self.imported.iter().flat_map(|api| api.operations.iter().map(|o| o.name.as_str())));
        names
    }
    fn account_types(&self) -> Vec<&str> {
        self.registry.account_types()
    }
    fn live_credentials(&self) -> Option<Arc<Vec<String>>> {
        Some(self.registry.tokens.live())
    }
    fn call<'a>(&'a self, operation: &'a str, input: Value, account: Option<Value>) -> CallFuture<'a> {
        match openapi::find(self.imported, operation) {
            Some((api, i)) => Box::pin(self.registry.perform_imported(Some(self.environment), api, i, input, account)),
            None => Box::pin(self.registry.perform(Some(self.environment), operation, input, account)),
        }
    }
    fn runs_scripts(&self) -> bool {
        self.registry.runs_scripts()
    }
    fn check_script<'a>(&'a self, source: Arc<str>) -> CallFuture<'a> {
        self.registry.check_script(source)
    }
    fn script<'a>(&'a self, source: Arc<str>, ctx: String) -> onset_engine::ScriptFuture<'a> {
        self.registry.script(source, ctx)
    }
}
