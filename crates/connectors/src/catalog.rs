//! The operations' descriptions, as data: one JSON file per connector under `operations/`,
//! compiled in with the connector's feature.

use std::sync::LazyLock;

use onset_engine::{AccountUse, CallError, CallFuture, Connectors, OperationInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One operation a `call:` step can name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// `connector.operation`, e.g. `slack.postMessage`.
    pub name: String,
    /// One line.
    pub description: String,
    /// The account type it uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountNeed>,
    /// Whether a failure that may be transient (network, 5xx, 429) is worth another attempt;
    /// false for operations that must not run twice.
    pub retryable: bool,
    /// JSON Schema of `with:`.
    pub input: Value,
    /// JSON Schema of `steps.<id>.output`.
    pub output: Value,
}

/// The account an operation uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountNeed {
    /// Account type (`slack`, `http`, `postgres`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether a step must name one.
    pub required: bool,
}

impl Operation {
    pub fn info(&'static self) -> OperationInfo<'static> {
        let account = match &self.account {
            None => AccountUse::None,
            Some(a) if a.required => AccountUse::Required(a.kind.as_str()),
            Some(a) => AccountUse::Optional(a.kind.as_str()),
        };
        OperationInfo { input: &self.input, account }
    }
}

fn parse(connector: &str, text: &str) -> Vec<Operation> {
    // The files are compiled in and checked by this crate's tests: a bad one is a build defect.
    serde_json::from_str(text).unwrap_or_else(|e| panic!("operations/{connector}.json: {e}"))
}

pub(crate) static HTTP: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("http", include_str!("../operations/http.json")));

#[cfg(feature = "github")]
pub(crate) static GITHUB: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("github", include_str!("../operations/github.json")));

#[cfg(feature = "sql")]
pub(crate) static SQL: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("sql", include_str!("../operations/sql.json")));

#[cfg(feature = "email")]
pub(crate) static EMAIL: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("email", include_str!("../operations/email.json")));

#[cfg(feature = "google")]
pub(crate) static GOOGLE: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("google", include_str!("../operations/google.json")));

/// The broker operations this build has a client for.
#[cfg(feature = "publish")]
pub(crate) static PUBLISH: LazyLock<Vec<Operation>> = LazyLock::new(|| {
    let mut all = parse("publish", include_str!("../operations/publish.json"));
    all.retain(|op| match op.name.as_str() {
        "publish.rabbitmq" => cfg!(feature = "publish-rabbitmq"),
        "publish.kafka" => cfg!(feature = "publish-kafka"),
        "publish.sqs" => cfg!(feature = "publish-sqs"),
        "publish.nats" => cfg!(feature = "publish-nats"),
        "publish.mqtt" => cfg!(feature = "publish-mqtt"),
        _ => true,
    });
    all
});

#[cfg(feature = "slack")]
pub(crate) static SLACK: LazyLock<Vec<Operation>> =
    LazyLock::new(|| parse("slack", include_str!("../operations/slack.json")));

static ALL: LazyLock<Vec<&'static Operation>> = LazyLock::new(|| {
    let mut all: Vec<&'static Operation> = HTTP.iter().collect();
    #[cfg(feature = "slack")]
    all.extend(SLACK.iter());
    #[cfg(feature = "github")]
    all.extend(GITHUB.iter());
    #[cfg(feature = "sql")]
    all.extend(SQL.iter());
    #[cfg(feature = "email")]
    all.extend(EMAIL.iter());
    #[cfg(feature = "google")]
    all.extend(GOOGLE.iter());
    #[cfg(feature = "publish")]
    all.extend(PUBLISH.iter());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
});

/// Every operation of this build, sorted by name.
pub fn catalog() -> Vec<&'static Operation> {
    ALL.clone()
}

/// One operation by name.
pub fn operation(name: &str) -> Option<&'static Operation> {
    ALL.binary_search_by(|op| op.name.as_str().cmp(name)).ok().map(|i| ALL[i])
}

/// The operations of this build without their clients: what `onset validate` checks against.
#[derive(Debug, Default, Clone, Copy)]
pub struct Catalog {
    /// Whether `script:` steps count as runnable (a build with the `js` feature).
    pub scripts: bool,
}

impl Connectors for Catalog {
    fn knows(&self, name: &str) -> bool {
        operation(name).is_some()
    }
    fn operation(&self, name: &str) -> Option<OperationInfo<'_>> {
        operation(name).map(Operation::info)
    }
    fn operation_names(&self) -> Vec<&str> {
        ALL.iter().map(|op| op.name.as_str()).collect()
    }
    fn account_types(&self) -> Vec<&str> {
        crate::accounts::ACCOUNT_TYPES.iter().map(|t| t.kind).collect()
    }
    fn call<'a>(&'a self, _: &'a str, _: Value, _: Option<Value>) -> CallFuture<'a> {
        Box::pin(async {
            Err(CallError { message: "validation calls nothing".into(), retryable: false, retry_after: None })
        })
    }
    fn runs_scripts(&self) -> bool {
        self.scripts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_description_is_well_formed() {
        let all = catalog();
        assert!(!all.is_empty());
        let mut names = std::collections::HashSet::new();
        for op in &all {
            assert!(names.insert(op.name.as_str()), "{} twice", op.name);
            let (prefix, rest) = op.name.split_once('.').unwrap_or_else(|| panic!("{}: connector.operation", op.name));
            assert!(!prefix.is_empty() && !rest.is_empty(), "{}", op.name);
            assert!(!op.description.is_empty() && !op.description.contains('\n'), "{}: one line", op.name);
            assert_eq!(op.input["type"], "object", "{}: the input is a mapping", op.name);
            // Every required input is a declared property.
            for r in onset_engine::shape::required(&op.input) {
                assert!(op.input["properties"].get(r).is_some(), "{}: required `{r}` is not a property", op.name);
            }
        }
    }
}
