//! Environments and per-environment config values: sealed at rest, typed by the component's
//! schema when a build resolves them, and re-applied to an active build when they change.

use std::sync::Arc;

use onset_model::Component;
use onset_store::SealedValue;
use serde_json::{Map, Value};

use crate::app::{App, now_ms};
use crate::deploy::typed;

impl App {
    /// Loads the environments from the store (at start and after a change).
    pub async fn load_environments(&self) -> Result<(), String> {
        let list = self.store.environments().await.map_err(|e| e.to_string())?;
        *self.environments.write().unwrap_or_else(std::sync::PoisonError::into_inner) = list;
        Ok(())
    }

    pub fn environment_list(&self) -> Vec<String> {
        self.environments.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn key(&self) -> Arc<crate::secrets::MasterKey> {
        self.master_key.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The values set for a component in an environment, as text, opened.
    pub async fn config_texts(&self, component: &str, environment: &str) -> Result<Vec<(String, String, i64)>, String> {
        let key = self.key();
        let rows = self
            .store
            .config_values(Some((component.to_string(), environment.to_string())))
            .await
            .map_err(|e| e.to_string())?;
        rows.into_iter()
            .map(|r| Ok((r.key.clone(), key.open(&r.component, &r.environment, &r.key, &r.sealed)?, r.updated_at)))
            .collect()
    }

    /// The values set for the environment, typed by the component's schema (keys it does not
    /// declare are left out); a value of the wrong type is an error naming it.
    pub async fn config_values(
        &self,
        component: &Component,
        environment: &str,
    ) -> Result<Map<String, Value>, Vec<String>> {
        let name = component.component.as_str();
        let texts = self.config_texts(name, environment).await.map_err(|e| vec![e])?;
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
        if errors.is_empty() { Ok(values) } else { Err(errors) }
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
    ) -> Result<bool, Vec<String>> {
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
                return Err(errors);
            }
        }
        let key = self.key();
        let now = now_ms();
        let mut rows = Vec::with_capacity(pairs.len());
        for (k, text) in pairs {
            rows.push(SealedValue {
                component: component.to_string(),
                environment: environment.to_string(),
                key: k.clone(),
                sealed: key.seal(component, environment, k, text).map_err(|e| vec![e])?,
                key_id: key.id.clone(),
                updated_at: now,
            });
        }
        self.store.set_config_values(rows).await.map_err(|e| vec![e.to_string()])?;
        let Some(current) = active else { return Ok(false) };
        let file = onset_model::SourceFile {
            path: std::path::PathBuf::from(format!("deployment {}", current.id)),
            text: current.source.clone(),
            files: current.files.clone(),
        };
        let rebuilt = self.build_parsed(current.id.clone(), environment, current.component.clone(), &file).await?;
        self.install(Arc::new(rebuilt));
        Ok(true)
    }

    /// Re-seals every config value under a new key, then makes it the key in use.
    pub async fn rotate_key(&self, new: crate::secrets::MasterKey) -> Result<usize, String> {
        let old = self.key();
        let rows = self.store.config_values(None).await.map_err(|e| e.to_string())?;
        let mut resealed = Vec::with_capacity(rows.len());
        for r in rows {
            let plain = old.open(&r.component, &r.environment, &r.key, &r.sealed)?;
            let sealed = new.seal(&r.component, &r.environment, &r.key, &plain)?;
            resealed.push(SealedValue { sealed, key_id: new.id.clone(), ..r });
        }
        let n = resealed.len();
        self.store.set_config_values(resealed).await.map_err(|e| e.to_string())?;
        *self.master_key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new);
        Ok(n)
    }
}
