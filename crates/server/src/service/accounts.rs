//! Accounts: named, typed credential sets per environment. Each is kept through the `Store`
//! trait as one sealed value (type and fields as JSON) in the config values under the reserved
//! owner `@accounts` (no component can have that name), so both backends, key rotation and the
//! cluster's change stamps cover accounts as they cover config. Runs find them through
//! [`StoreAccounts`], cached per node and dropped when they change here or on another node.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, Weak};

use onset_connectors::accounts::{ACCOUNT_TYPES, AccountFuture, check_fields};
use onset_connectors::{Account, AccountSource};
use onset_store::SealedValue;
use serde_json::{Value, json};

use crate::api::types::{
    AccountDeleted, AccountItem, AccountTested, AccountTypeField, AccountTypeInfo, Page, SetAccount,
};
use crate::app::{App, now_ms};
use crate::auth::{self, Principal};
use crate::service::{Kind, ServiceError, environment};

/// The owner name accounts are kept under among the sealed values.
pub const SCOPE: &str = "@accounts";

/// Opened accounts by environment, then name (a lookup builds no key).
#[derive(Debug, Default)]
pub struct Cache(RwLock<HashMap<String, HashMap<String, Arc<Account>>>>);

impl Cache {
    fn get(&self, environment: &str, name: &str) -> Option<Arc<Account>> {
        let map = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(environment)?.get(name).cloned()
    }

    fn put(&self, environment: &str, account: Arc<Account>) {
        let mut map = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(environment.to_string()).or_default().insert(account.name.clone(), account);
    }

    /// Drops every account of `environment` (one changed here or on another node).
    pub fn forget(&self, environment: &str) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(environment);
    }
}

/// Where runs find accounts: this node's store, through the cache.
pub struct StoreAccounts(pub Weak<App>);

impl AccountSource for StoreAccounts {
    fn account<'a>(&'a self, environment: &'a str, name: &'a str) -> AccountFuture<'a> {
        Box::pin(async move {
            let Some(app) = self.0.upgrade() else { return Err("the server is stopping".to_string()) };
            find(&app, environment, name).await
        })
    }
}

/// An access token for a Google trigger's credentials, from the token cache Google steps use:
/// a `google` account of `environment` by name (`Ok(None)` when there is none), or an inline
/// OAuth2 client with its refresh token.
pub async fn google_token(
    app: &App,
    environment: &str,
    component: &str,
    credentials: onset_sources::triggers::GoogleCredentials<'_>,
) -> Result<Option<String>, String> {
    use onset_sources::triggers::GoogleCredentials;
    let account = match credentials {
        // An access token is never a valid account name, so no account is looked up for one.
        GoogleCredentials::Account(name) if !valid_name(name) => return Ok(None),
        GoogleCredentials::Account(name) => match find(app, environment, name).await? {
            None => return Ok(None),
            Some(a) if a.kind == "google" => a,
            Some(a) => {
                return Err(format!(
                    "account `{name}` is a `{}` account; the google-calendar trigger needs a `google` one",
                    a.kind
                ));
            }
        },
        GoogleCredentials::Refresh { token_url, client_id, client_secret, refresh_token } => Arc::new(Account {
            environment: environment.to_string(),
            name: format!("{component} (google-calendar trigger)"),
            kind: "google".into(),
            fields: [
                ("token_url", token_url),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("refresh_token", refresh_token),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }),
    };
    app.connectors.google_token(&account).await.map(Some)
}

/// An account by name, from this node's cache or the store.
async fn find(app: &App, environment: &str, name: &str) -> Result<Option<Arc<Account>>, String> {
    if let Some(a) = app.accounts.get(environment, name) {
        return Ok(Some(a));
    }
    let found = load(app, environment, name).await?;
    if let Some(a) = &found {
        app.accounts.put(environment, a.clone());
    }
    Ok(found)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn open(app: &App, row: &SealedValue) -> Result<Account, String> {
    let plain = app.keyring().open(row)?;
    let v: Value = serde_json::from_str(&plain).map_err(|e| format!("account `{}` is unreadable: {e}", row.key))?;
    let kind = v["type"].as_str().unwrap_or_default().to_string();
    let fields = v["fields"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    Ok(Account { environment: row.environment.clone(), name: row.key.clone(), kind, fields })
}

async fn rows(app: &App, environment: &str) -> Result<Vec<SealedValue>, String> {
    app.store.config_values(Some((SCOPE.to_string(), environment.to_string()))).await.map_err(|e| e.to_string())
}

async fn load(app: &App, environment: &str, name: &str) -> Result<Option<Arc<Account>>, String> {
    let rows = rows(app, environment).await?;
    rows.iter().find(|r| r.key == name).map(|r| open(app, r).map(Arc::new)).transpose()
}

fn shown(a: &Account, environment: &str, updated_at: i64) -> AccountItem {
    AccountItem {
        name: a.name.clone(),
        kind: a.kind.clone(),
        environment: environment.to_string(),
        fields: a
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), if a.is_secret(k) { onset_model::REDACTED.to_string() } else { v.clone() }))
            .collect(),
        updated_at: onset_store::time::rfc3339(updated_at),
    }
}

fn unknown(name: &str, environment: &str) -> ServiceError {
    ServiceError::not_found(Kind::Account, format!("{name}` in environment `{environment}"))
}

/// Creates an account or changes some of its fields (an empty value removes one); the type's
/// rules are checked on the result before anything is stored. The audit names the fields, never
/// their values.
pub async fn set(
    app: &App,
    who: &Principal,
    name: String,
    env: Option<&str>,
    req: SetAccount,
) -> crate::service::Result<AccountItem> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    if !valid_name(&name) {
        return Err(ServiceError::invalid(
            "invalid_account_name",
            format!("`{name}` is not an account name: lower-case letters, digits, `-`, `_` and `.`, at most 63"),
            "path name",
        ));
    }
    let existing = load(app, &environment, &name).await.map_err(ServiceError::Internal)?;
    let mut fields: BTreeMap<String, String> = match &existing {
        Some(a) if a.kind == req.kind => a.fields.clone(),
        _ => BTreeMap::new(),
    };
    let changed: Vec<String> = req.fields.keys().cloned().collect();
    for (k, v) in req.fields {
        let text = match v {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if text.is_empty() {
            fields.remove(&k);
        } else {
            fields.insert(k, text);
        }
    }
    check_fields(&req.kind, &fields)
        .map_err(|errors| ServiceError::invalid("invalid_account", errors.join("; "), "body fields"))?;
    let account = Account { environment: environment.clone(), name: name.clone(), kind: req.kind, fields };
    let now = save(app, &account).await.map_err(ServiceError::Internal)?;
    let detail = json!({ "type": account.kind, "fields": changed });
    auth::audit(app, who, "account.set", &format!("{environment}/{name}"), detail).await;
    Ok(shown(&account, &environment, now))
}

/// A provider rotated a field of an account (its refresh token): the new value is sealed and
/// kept at once, since the old one no longer works; the audit log says so, without the value.
pub async fn rotate(app: &App, account: &Account, field: &'static str, value: String) {
    // One rotation kept at a time, and always the newest: two grants in a row rotate twice, and
    // their tasks may run in either order.
    static KEEPING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = KEEPING.lock().await;
    let value = app.connectors.tokens().field(account, field).unwrap_or(value);
    let (environment, name) = (&account.environment, &account.name);
    let current = match load(app, environment, name).await {
        Ok(Some(a)) if a.kind == account.kind => a,
        // Deleted or replaced meanwhile: nothing to keep it in.
        Ok(_) => return,
        Err(e) => {
            tracing::error!(environment = %environment, account = %name, error = %e, "a rotated refresh token could not be kept");
            return;
        }
    };
    if current.get(field) == Some(value.as_str()) {
        return;
    }
    let mut fields = current.fields.clone();
    fields.insert(field.to_string(), value);
    let rotated = Account { fields, ..(*current).clone() };
    if let Err(e) = save(app, &rotated).await {
        tracing::error!(environment = %environment, account = %name, error = %e, "a rotated refresh token could not be kept");
        return;
    }
    let system =
        auth::Principal { token_id: String::new(), name: "onset".into(), role: auth::Role::Admin, can_promote: false };
    auth::audit(app, &system, "account.rotate", &format!("{environment}/{name}"), json!({ "fields": [field] })).await;
}

/// Seals and stores an account, and drops this node's cached accounts of its environment.
async fn save(app: &App, account: &Account) -> Result<i64, String> {
    let plain = json!({ "type": account.kind, "fields": account.fields }).to_string();
    let ring = app.keyring();
    let key = ring.sealing();
    let now = now_ms();
    let (environment, name) = (&account.environment, &account.name);
    let row = SealedValue {
        component: SCOPE.to_string(),
        environment: environment.clone(),
        key: name.clone(),
        sealed: key.seal(SCOPE, environment, name, &plain)?,
        key_id: key.id.clone(),
        updated_at: now,
    };
    app.store.set_config_values(vec![row]).await.map_err(|e| e.to_string())?;
    app.accounts.forget(environment);
    Ok(now)
}

/// The accounts of an environment, by name, secrets masked.
pub async fn list(app: &App, env: Option<&str>) -> crate::service::Result<Page<AccountItem>> {
    let environment = environment(app, env, "query environment")?;
    let mut items = Vec::new();
    for row in rows(app, &environment).await.map_err(ServiceError::Internal)? {
        let a = open(app, &row).map_err(ServiceError::Internal)?;
        items.push(shown(&a, &environment, row.updated_at));
    }
    Ok(Page::all(items))
}

pub async fn delete(
    app: &App,
    who: &Principal,
    name: String,
    env: Option<&str>,
) -> crate::service::Result<AccountDeleted> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    if !app.store.delete_config_value(SCOPE.to_string(), environment.clone(), name.clone()).await? {
        return Err(unknown(&name, &environment));
    }
    app.accounts.forget(&environment);
    auth::audit(app, who, "account.delete", &format!("{environment}/{name}"), json!({})).await;
    Ok(AccountDeleted { name, environment })
}

/// A cheap real call with the account (what a run would send), by its type's connector.
pub async fn test(
    app: &App,
    who: &Principal,
    name: String,
    env: Option<&str>,
) -> crate::service::Result<AccountTested> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    let account = load(app, &environment, &name)
        .await
        .map_err(ServiceError::Internal)?
        .ok_or_else(|| unknown(&name, &environment))?;
    let detail = app.connectors.test_account(&account).await.map_err(|why| ServiceError::Unprocessable {
        code: "account_test_failed",
        message: format!("account `{name}` in `{environment}`: {why}"),
    })?;
    auth::audit(app, who, "account.test", &format!("{environment}/{name}"), json!({})).await;
    Ok(AccountTested { name, environment, detail })
}

/// Every account type of this build with its fields.
pub fn types() -> Page<AccountTypeInfo> {
    Page::all(
        ACCOUNT_TYPES
            .iter()
            .map(|t| AccountTypeInfo {
                kind: t.kind.to_string(),
                description: t.description.to_string(),
                fields: t
                    .fields
                    .iter()
                    .map(|f| AccountTypeField {
                        name: f.name.to_string(),
                        description: f.description.to_string(),
                        secret: f.secret,
                        choices: f.choices.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// Every config value of type `account` in a deployment: the account must exist in its
/// environment and be of the type its `connector` names. Answers the problems, each with its fix.
pub async fn check_config(app: &App, deployed: &crate::deploy::Deployed) -> Vec<String> {
    let mut errors = Vec::new();
    let environment = &deployed.environment;
    for (key, spec) in &deployed.component.config {
        if spec.kind != onset_model::ConfigType::Account {
            continue;
        }
        let Some(name) = deployed.config.get(key.as_str()).and_then(Value::as_str).filter(|n| !n.is_empty()) else {
            continue;
        };
        let kind = spec.connector.as_deref();
        let component = deployed.name();
        match find(app, environment, name).await {
            Ok(Some(a)) if kind.is_none_or(|k| k == a.kind) => {}
            Ok(Some(a)) => errors.push(format!(
                "component `{component}`: config `{key}` names account `{name}`, a `{}` account; it needs a `{}` one",
                a.kind,
                kind.unwrap_or_default()
            )),
            Ok(None) => errors.push(format!(
                "component `{component}`: config `{key}` names account `{name}`, which does not exist in \
                 `{environment}`; create it: `onset account set {name} --type {} --env {environment} FIELD=VALUE…`",
                kind.unwrap_or("TYPE")
            )),
            Err(e) => errors.push(format!("component `{component}`: config `{key}`: {e}")),
        }
    }
    errors
}

/// A token fetch for an account went one way or the other: a failure raises the
/// `account_refresh_failed` alert for it (once while it lasts), a success resolves it.
pub async fn token_outcome(app: &App, environment: &str, name: &str, outcome: Result<(), String>) {
    let key = format!("account_refresh_failed:{environment}/{name}");
    match outcome {
        Ok(()) => crate::alerts::resolve(app, &key).await,
        Err(why) => {
            let subject = crate::alerts::Subject { component: None, environment: Some(environment) };
            let message = format!("account `{name}` in `{environment}` cannot get an access token: {why}");
            let detail = json!({ "account": name, "environment": environment, "error": why });
            crate::alerts::raise(app, crate::alerts::Kind::AccountRefreshFailed, key, subject, message, detail).await;
        }
    }
}
