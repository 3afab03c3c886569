//! Environments and per-environment config values: sealed at rest, typed by the component's
//! schema when a build resolves them, and re-applied to an active build when they change.

use std::sync::Arc;

use onset_model::Component;
use onset_store::{SealedValue, StoreError};
use serde_json::{Map, Value};

use crate::app::{App, now_ms};
use crate::deploy::typed;
use crate::service::deployments::Failure;

impl App {
    /// Loads the environments from the store (at start and after a change).
    pub async fn load_environments(&self) -> Result<(), StoreError> {
        let list = self.store.environments().await?;
        *self.environments.write().unwrap_or_else(std::sync::PoisonError::into_inner) = list;
        Ok(())
    }

    pub fn environment_list(&self) -> Vec<String> {
        self.environments.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The master keys this node holds.
    pub fn keyring(&self) -> Arc<crate::secrets::Keyring> {
        self.keyring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The ids of the master keys this node holds, newest first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keyring().ids()
    }

    /// Seals new values with the key `id` from now on (another node rotated to it).
    pub fn seal_with(&self, id: &str) -> Result<(), String> {
        let ring = self.keyring();
        if ring.sealing().id == id {
            return Ok(());
        }
        let next = ring.sealing_with(id).ok_or_else(|| {
            format!(
                "config values are now sealed with master key {id}, which this node does not hold (it holds {}); \
                 add it to this node's --master-key-file",
                ring.ids().join(", ")
            )
        })?;
        *self.keyring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// The values set for a component in an environment, as text, opened.
    /// A value that cannot be opened (sealed under a key this server does not have) is refused
    /// with its name: the operator can set it again.
    pub async fn config_texts(
        &self,
        component: &str,
        environment: &str,
    ) -> Result<Vec<(String, String, i64)>, Failure> {
        let ring = self.keyring();
        let rows = self.store.config_values(Some((component.to_string(), environment.to_string()))).await?;
        rows.into_iter()
            .map(|r| {
                let text = ring.open(&r).map_err(|e| Failure::from(vec![e]))?;
                Ok((r.key.clone(), text, r.updated_at))
            })
            .collect()
    }

    /// The values set for the environment, typed by the component's schema (keys it does not
    /// declare are left out); a value of the wrong type is an error naming it.
    pub async fn config_values(&self, component: &Component, environment: &str) -> Result<Map<String, Value>, Failure> {
        let name = component.component.as_str();
        let texts = self.config_texts(name, environment).await?;
        let mut values = Map::new();
        let mut errors = Vec::new();
        for (key, text, _) in texts {
            let Some((_, spec)) = component.config.iter().find(|(k, _)| k.as_str() == key) else { continue };
            match typed(spec.kind, &text) {
                Ok(v) => {
                    values.insert(key, v);
                }
                Err(why) => errors.push(format!(
                    "component `{name}`: config `{key}` set for `{environment}` {why}; set it again with onset config set"
                )),
            }
        }
        if errors.is_empty() { Ok(values) } else { Err(errors.into()) }
    }

    /// Required keys of `component` that have no value in `environment` from any source:
    /// `(key, description, secret)`, for a deploy to ask for.
    pub async fn missing_config(
        &self,
        component: &Component,
        environment: &str,
    ) -> Vec<(String, Option<String>, bool)> {
        let name = component.component.as_str();
        let set = self.config_texts(name, environment).await.unwrap_or_default();
        component
            .config
            .iter()
            .filter(|(key, spec)| {
                spec.is_required()
                    && !set.iter().any(|(k, _, _)| k == key.as_str())
                    && !self.config.config_env.contains_key(&crate::deploy::config_env_name(name, key.as_str()))
            })
            .map(|(key, spec)| {
                (key.to_string(), spec.description.clone(), spec.kind == onset_model::ConfigType::Secret)
            })
            .collect()
    }

    /// Seals and stores values for a component in an environment. When the component is active
    /// there, its build is activated again with the new values (same deployment id); values
    /// that do not fit its schema are refused before anything is stored.
    pub async fn set_config(
        &self,
        component: &str,
        environment: &str,
        pairs: &[(String, String)],
    ) -> Result<bool, Failure> {
        let active = self.active(environment, component);
        if let Some(d) = &active {
            let mut errors = Vec::new();
            for (key, text) in pairs {
                match d.component.config.iter().find(|(k, _)| k.as_str() == key) {
                    Some((_, spec)) => {
                        if let Err(why) = typed(spec.kind, text) {
                            errors.push(format!("config `{key}` {why}"));
                        }
                    }
                    None => {
                        let declared: Vec<_> = d.component.config.keys().map(ToString::to_string).collect();
                        errors
                            .push(format!("`{component}` declares no config `{key}`; it has: {}", declared.join(", ")));
                    }
                }
            }
            if !errors.is_empty() {
                return Err(errors.into());
            }
        }
        let ring = self.keyring();
        let key = ring.sealing();
        let now = now_ms();
        let mut rows = Vec::with_capacity(pairs.len());
        for (k, text) in pairs {
            rows.push(SealedValue {
                component: component.to_string(),
                environment: environment.to_string(),
                key: k.clone(),
                sealed: key.seal(component, environment, k, text).map_err(Failure::Internal)?,
                key_id: key.id.clone(),
                updated_at: now,
            });
        }
        self.store.set_config_values(rows).await?;
        let Some(current) = active else { return Ok(false) };
        self.rebuild(&current).await?;
        Ok(true)
    }

    /// Builds an active deployment again with the config values stored now (same id) and
    /// installs it.
    pub(crate) async fn rebuild(&self, current: &crate::deploy::Deployed) -> Result<(), Failure> {
        let file = onset_model::SourceFile {
            path: std::path::PathBuf::from(format!("deployment {}", current.id)),
            text: current.source.clone(),
            files: current.files.clone(),
        };
        let rebuilt =
            self.build_parsed(current.id.clone(), &current.environment, current.component.clone(), &file).await?;
        self.install(Arc::new(rebuilt));
        Ok(())
    }

    /// Re-seals every config value under `target` and makes it the key new values are sealed
    /// with, here and (through the store) on every node.
    pub async fn rotate_key(&self, target: Arc<crate::secrets::MasterKey>) -> Result<usize, String> {
        let ring = self.keyring();
        let ring = if ring.get(&target.id).is_some() { (*ring).clone() } else { ring.with_newest(target.clone()) };
        let rows = self.store.config_values(None).await.map_err(|e| e.to_string())?;
        let mut resealed = Vec::with_capacity(rows.len());
        for r in rows {
            let plain = ring.open(&r)?;
            let sealed = target.seal(&r.component, &r.environment, &r.key, &plain)?;
            resealed.push(SealedValue { sealed, key_id: target.id.clone(), ..r });
        }
        let n = resealed.len();
        self.store.set_sealing_key(target.id.clone(), resealed).await.map_err(|e| e.to_string())?;
        let next = ring.sealing_with(&target.id).ok_or("the new key is in the ring")?;
        *self.keyring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(n)
    }
}

// ---- The operations of the control plane ----

use onset_model::ConfigType;
use serde_json::json;

use crate::api::types::{
    ConfigItem, ConfigList, ConfigSet, CreatedEnvironment, Environment, NewEnvironment, Page, Rotate, Rotated,
};
use crate::auth::{self, Principal};
use crate::service::{ServiceError, environment};

/// Environments in promotion order.
pub fn environments(app: &App) -> Page<Environment> {
    Page::all(
        app.environment_list().into_iter().enumerate().map(|(i, name)| Environment { name, position: i + 1 }).collect(),
    )
}

/// Adds an environment after another (admin).
pub async fn create_environment(
    app: &App,
    who: &Principal,
    req: NewEnvironment,
) -> crate::service::Result<CreatedEnvironment> {
    who.admin()?;
    let valid = !req.name.is_empty()
        && req.name.len() <= 63
        && req.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ServiceError::invalid(
            "invalid_name",
            "an environment name is lower-case letters, digits and `-`",
            "body name",
        ));
    }
    if app.knows_environment(&req.name) {
        return Err(ServiceError::Conflict {
            code: "environment_exists",
            message: format!("`{}` exists already", req.name),
            at: Some("body name"),
        });
    }
    if !app.store.create_environment(req.name.clone(), req.after.clone(), now_ms()).await? {
        return Err(ServiceError::UnknownEnvironment {
            name: req.after,
            known: app.environment_list(),
            at: "body after",
        });
    }
    app.load_environments().await?;
    auth::audit(app, who, "environment.create", &req.name, json!({ "after": req.after })).await;
    Ok(CreatedEnvironment { name: req.name, environments: app.environment_list() })
}

/// Sets values (text; numbers and booleans are taken as such) for a component in an
/// environment, before or after it is deployed there. The audit names the keys, never the
/// values.
pub async fn set(
    app: &App,
    who: &Principal,
    component: String,
    env: Option<&str>,
    values: Map<String, Value>,
) -> crate::service::Result<ConfigSet> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    if values.is_empty() {
        return Err(ServiceError::invalid("no_values", "give at least one key=value", "body values"));
    }
    let pairs: Vec<(String, String)> = values
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    let reactivated = app.set_config(&component, &environment, &pairs).await.map_err(|f| {
        f.into_service(|_, errors| ServiceError::invalid("invalid_config", errors.join("; "), "body values"))
    })?;
    let keys: Vec<String> = pairs.into_iter().map(|(k, _)| k).collect();
    auth::audit(app, who, "config.set", &format!("{environment}/{component}"), json!({ "keys": keys })).await;
    Ok(ConfigSet { component, environment, keys, reactivated })
}

/// What a deploy would use for each key: the value set here, the environment variable, the
/// default, or nothing. Secrets (and every value of a component not deployed here, whose types
/// are unknown) are masked.
pub async fn list(app: &App, component: String, env: Option<&str>) -> crate::service::Result<ConfigList> {
    let environment = environment(app, env, "query environment")?;
    // A value that cannot be opened is the server's own failure here (its key is missing).
    let set = app
        .config_texts(&component, &environment)
        .await
        .map_err(|f| f.into_service(|_, errors| ServiceError::Internal(errors.join("; "))))?;
    let active = app.active(&environment, &component);
    let mut items = Vec::new();
    match &active {
        Some(d) => {
            for (key, spec) in &d.component.config {
                let secret = spec.kind == ConfigType::Secret;
                let show = |v: Value| if secret { Value::String(onset_model::REDACTED.into()) } else { v };
                let var = crate::deploy::config_env_name(&component, key.as_str());
                let (source, value) = if let Some((_, text, _)) = set.iter().find(|(k, _, _)| k == key.as_str()) {
                    ("set", show(Value::String(text.clone())))
                } else if let Some(text) = app.config.config_env.get(&var) {
                    ("environment variable", show(Value::String(text.clone())))
                } else if let Some(d) = &spec.default {
                    ("default", show(d.clone()))
                } else {
                    ("missing", Value::Null)
                };
                items.push(ConfigItem {
                    key: key.to_string(),
                    kind: serde_json::to_value(spec.kind).ok().and_then(|v| v.as_str().map(str::to_string)),
                    secret: Some(secret),
                    source: source.into(),
                    value,
                    required: Some(spec.is_required()),
                    description: spec.description.clone(),
                });
            }
        }
        None => {
            for (key, _, _) in &set {
                items.push(ConfigItem {
                    key: key.clone(),
                    kind: None,
                    secret: None,
                    source: "set".into(),
                    value: Value::String(onset_model::REDACTED.into()),
                    required: None,
                    description: None,
                });
            }
        }
    }
    Ok(ConfigList { component, environment, deployed: active.is_some(), items })
}

/// Re-seals every config value under a new master key (admin): the one given, or with a key
/// file, a new random one.
pub async fn rotate(app: &App, who: &Principal, req: Rotate) -> crate::service::Result<Rotated> {
    use crate::secrets::{KeySource, MasterKey, decode_key, random_key};
    who.admin()?;
    let ring = app.keyring();
    let (target, new_bytes) = match &req.new_key {
        Some(text) => {
            let bytes = decode_key(text).map_err(|e| ServiceError::invalid("invalid_key", e, "body new_key"))?;
            (Arc::new(MasterKey::from_bytes(&bytes).map_err(ServiceError::Internal)?), Some(bytes))
        }
        // The operator added a key (first in --master-key-file) on every node: rotate to it.
        None if ring.newest().id != ring.sealing().id => (ring.newest().clone(), None),
        None if ring.source == KeySource::File => {
            let bytes = random_key().map_err(ServiceError::Internal)?;
            (Arc::new(MasterKey::from_bytes(&bytes).map_err(ServiceError::Internal)?), Some(bytes))
        }
        None => {
            return Err(ServiceError::invalid(
                "new_key_needed",
                format!(
                    "the master keys come from {}: add the new key first in --master-key-file on every node and restart \
                     them (or give it here as new_key, base64 of 32 bytes), then rotate",
                    if ring.source == KeySource::Environment { "ONSET_MASTER_KEY" } else { "--master-key-file" }
                ),
                "body new_key",
            ));
        }
    };
    if app.store.shared() {
        // Every live node must be able to open what the new key seals.
        let since = now_ms() - crate::cluster::GONE_AFTER.as_millis() as i64;
        let nodes = app.store.nodes(since).await?;
        let lacking: Vec<String> = nodes
            .iter()
            .filter(|n| n.id != app.node_id && !n.key_ids.contains(&target.id))
            .map(|n| format!("{} ({})", n.id, n.role))
            .collect();
        if !lacking.is_empty() {
            return Err(ServiceError::Conflict {
                code: "key_missing_on_nodes",
                message: format!(
                    "{} live node(s) do not hold master key {} yet: {}; add it first in their --master-key-file, restart \
                     them, then rotate again",
                    lacking.len(),
                    target.id,
                    lacking.join(", ")
                ),
                at: None,
            });
        }
    }
    let id = target.id.clone();
    let n = crate::secrets::rotate(app, target, new_bytes.as_deref()).await.map_err(ServiceError::Internal)?;
    auth::audit(app, who, "keys.rotate", &id, json!({ "values": n })).await;
    Ok(Rotated { key_id: id, resealed: n, source: ring.source.as_str().into() })
}
