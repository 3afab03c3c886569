//! Accounts: a named credential set per environment (`ops-slack` in production), typed, its
//! secret fields sealed by the server like config values and never shown back. A step names one
//! (`account: "{{ config.slack }}"`, a config value of type `account`); the registry resolves the
//! name in the run's environment through an [`AccountSource`] and hands the account to the
//! connector. Access tokens obtained from an account (OAuth2) live in [`Tokens`].

mod tokens;
mod types;

pub use tokens::Tokens;
pub use types::{ACCOUNT_TYPES, AccountField, AccountType, account_type, check_fields};

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One account, opened: every field in plain text. Its `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The environment it belongs to (empty outside a server).
    pub environment: String,
    pub name: String,
    /// Its type (`http`, `slack`…).
    pub kind: String,
    pub fields: BTreeMap<String, String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), if self.is_secret(k) { onset_engine::REDACTED } else { v.as_str() }))
            .collect();
        f.debug_struct("Account")
            .field("environment", &self.environment)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("fields", &shown)
            .finish()
    }
}

impl Account {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A field the type marks secret (unknown fields count as secret).
    pub fn is_secret(&self, field: &str) -> bool {
        account_type(&self.kind).and_then(|t| t.fields.iter().find(|f| f.name == field)).is_none_or(|f| f.secret)
    }

    /// Identifies these exact credentials: a token obtained with older ones is not reused.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.kind, &self.fields).hash(&mut h);
        format!("{}/{}/{:016x}", self.environment, self.name, h.finish())
    }
}

pub type AccountFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Arc<Account>>, String>> + Send + 'a>>;

/// Where the registry finds accounts by name: the server's sealed store.
pub trait AccountSource: Send + Sync {
    fn account<'a>(&'a self, environment: &'a str, name: &'a str) -> AccountFuture<'a>;
}
