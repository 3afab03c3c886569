//! Deploying a build to an environment, promoting it to the next, rolling back, with a
//! timestamped log of each stage and a `failed` record (and nothing activated) when a stage
//! fails. A build is a component's source and files; its id is their SHA-256.

use std::sync::Arc;

use onset_model::SourceFile;
use onset_store::NewDeployment;
use serde_json::{Value, json};

use crate::app::{App, files_json, new_id, now_ms, parse, sha256_hex};
use crate::deploy::Deployed;

/// Where a deployment comes from and who asks for it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub meta: Value,
    pub actor: Option<String>,
}

/// A deployment that did not become active: its id (when one was recorded) and every reason.
#[derive(Debug, Clone)]
pub struct Failure {
    pub deployment_id: Option<String>,
    pub errors: Vec<String>,
}

impl From<Vec<String>> for Failure {
    fn from(errors: Vec<String>) -> Self {
        Failure { deployment_id: None, errors }
    }
}

/// The build id of a component's content.
pub fn build_id(file: &SourceFile) -> String {
    sha256_hex(&format!("{}{}", file.text, files_json(&file.files)))
}

/// Timestamped stage lines, written to the deployment log at the end.
struct Stages(Vec<(i64, String)>);

impl Stages {
    fn note(&mut self, line: impl Into<String>) {
        self.0.push((now_ms(), line.into()));
    }
}

impl App {
    /// Deploys one component to an environment and activates it. The same content as the
    /// active deployment keeps that deployment (and its id).
    pub async fn deploy(&self, environment: &str, file: &SourceFile) -> Result<Arc<Deployed>, Vec<String>> {
        self.deploy_from(environment, file, Origin::default()).await.map_err(|f| f.errors)
    }

    pub async fn deploy_from(
        &self,
        environment: &str,
        file: &SourceFile,
        origin: Origin,
    ) -> Result<Arc<Deployed>, Failure> {
        let component = parse(file)?;
        let name = component.component.to_string();
        if let Some(current) = self.active(environment, &name)
            && current.source == file.text
            && current.files == file.files
        {
            return Ok(current);
        }
        let id = new_id();
        let build = build_id(file);
        let mut stages = Stages(Vec::new());
        stages.note(format!("build {} of `{name}` for `{environment}`", &build[..12]));
        match self.stages(&id, environment, component, file, &mut stages).await {
            Ok(deployed) => {
                let record = self.record(&id, &name, environment, file, &build, &origin);
                match self.store.activate(record).await {
                    Ok(()) => {
                        self.install(deployed.clone());
                        stages.note("activated");
                        tracing::info!(component = %name, environment, deployment = %id, "deployed");
                        self.write_log(&id, &name, environment, stages).await;
                        Ok(deployed)
                    }
                    Err(e) => {
                        Err(Failure { deployment_id: None, errors: vec![format!("cannot record the deployment: {e}")] })
                    }
                }
            }
            Err(errors) => {
                stages.note(format!("failed: {}", errors.join("; ")));
                let record = self.record(&id, &name, environment, file, &build, &origin);
                if let Err(e) = self.store.record_failed_deployment(record, errors.join("\n")).await {
                    tracing::error!(error = %e, "the failed deployment was not recorded");
                }
                self.write_log(&id, &name, environment, stages).await;
                Err(Failure { deployment_id: Some(id), errors })
            }
        }
    }

    fn record(
        &self,
        id: &str,
        name: &str,
        environment: &str,
        file: &SourceFile,
        build: &str,
        origin: &Origin,
    ) -> NewDeployment {
        NewDeployment {
            id: id.to_string(),
            component: name.to_string(),
            environment: environment.to_string(),
            build: build.to_string(),
            source: file.text.clone(),
            files: files_json(&file.files),
            created_at: now_ms(),
            meta: origin.meta.to_string(),
            created_by: origin.actor.clone(),
        }
    }

    /// Config, compilation, scripts and registration, each noted; the first failing stage ends it.
    async fn stages(
        &self,
        id: &str,
        environment: &str,
        component: onset_model::Component,
        file: &SourceFile,
        stages: &mut Stages,
    ) -> Result<Arc<Deployed>, Vec<String>> {
        let deployed = Arc::new(self.build_parsed(id.to_string(), environment, component, file).await?);
        stages.note("config resolved and handlers compiled");
        // Scripts compile now, so a syntax error stops the deploy instead of the first run.
        let mut errors = Vec::new();
        for (handler, source) in deployed.compiled.scripts() {
            if let Err(e) = onset_engine::Connectors::check_script(&self.connectors, source).await {
                errors.push(format!("component `{}`, handler `{handler}`: script: {}", deployed.name(), e.message));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for line in crate::registration::register(self, &deployed).await.map_err(|e| vec![e])? {
            stages.note(line);
        }
        Ok(deployed)
    }

    async fn write_log(&self, id: &str, component: &str, environment: &str, stages: Stages) {
        for (at, line) in stages.0 {
            tracing::info!(component, environment, deployment = id, "{line}");
            if let Err(e) = self.store.add_deployment_log(id.to_string(), at, line).await {
                tracing::warn!(error = %e, "a deployment log line was not stored");
            }
        }
    }

    /// Records what a deployment did after the fact (undeploy, rollback).
    pub(crate) async fn deployment_log(&self, id: &str, component: &str, environment: &str, lines: Vec<String>) {
        let stages = Stages(lines.into_iter().map(|l| (now_ms(), l)).collect());
        self.write_log(id, component, environment, stages).await;
    }

    /// Deploys the build active in `from` to `to`, with `to`'s config.
    pub async fn promote(
        &self,
        component: &str,
        from: &str,
        to: &str,
        actor: Option<String>,
    ) -> Result<Arc<Deployed>, Failure> {
        let current = self
            .active(from, component)
            .ok_or_else(|| Failure::from(vec![format!("component `{component}` is not deployed to `{from}`")]))?;
        let file = SourceFile {
            path: std::path::PathBuf::from(format!("deployment {}", current.id)),
            text: current.source.clone(),
            files: current.files.clone(),
        };
        let meta = self.store.deployment(current.id.clone()).await.ok().flatten().map_or(Value::Null, |d| d.meta);
        let origin = Origin {
            meta: json!({ "promoted_from": { "environment": from, "deployment": current.id }, "source": meta }),
            actor,
        };
        self.deploy_from(to, &file, origin).await
    }

    /// Makes an earlier successful deployment of the component active again: `to`, or the one
    /// before the active one.
    pub async fn rollback(
        &self,
        component: &str,
        environment: &str,
        to: Option<&str>,
        actor: &str,
    ) -> Result<Arc<Deployed>, Failure> {
        let current = self.active(environment, component);
        let history = self
            .store
            .deployments(Some(component.to_string()), Some(environment.to_string()), 500)
            .await
            .map_err(|e| Failure::from(vec![e.to_string()]))?;
        let target = match to {
            Some(id) => history.iter().find(|d| d.id == id).ok_or_else(|| {
                Failure::from(vec![format!(
                    "deployment `{id}` is not a deployment of `{component}` in `{environment}`"
                )])
            })?,
            None => {
                let current_id = current.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                let position = history.iter().position(|d| d.id == current_id).map_or(0, |p| p + 1);
                history[position..].iter().find(|d| d.status == "active" && d.id != current_id).ok_or_else(|| {
                    Failure::from(vec![format!(
                        "`{component}` has no earlier deployment in `{environment}` to roll back to"
                    )])
                })?
            }
        };
        if target.status != "active" {
            return Err(Failure::from(vec![format!("deployment `{}` failed; it cannot be rolled back to", target.id)]));
        }
        // Rebuilt with today's config values for the environment.
        let (_, source, files) = self
            .store
            .deployment_source(target.id.clone())
            .await
            .map_err(|e| Failure::from(vec![e.to_string()]))?
            .ok_or_else(|| Failure::from(vec![format!("deployment {} is not in the store", target.id)]))?;
        let files = serde_json::from_str(&files).map_err(|e| Failure::from(vec![e.to_string()]))?;
        let file =
            SourceFile { path: std::path::PathBuf::from(format!("deployment {}", target.id)), text: source, files };
        let component_spec = parse(&file)?;
        let deployed = Arc::new(self.build_parsed(target.id.clone(), environment, component_spec, &file).await?);
        let log = crate::registration::register(self, &deployed).await.map_err(|e| Failure::from(vec![e]))?;
        self.store
            .reactivate(component.to_string(), environment.to_string(), target.id.clone())
            .await
            .map_err(|e| Failure::from(vec![e.to_string()]))?;
        self.install(deployed.clone());
        let mut lines = vec![format!(
            "rolled back to by {actor}{}",
            current.map(|c| format!(" (was {})", c.id)).unwrap_or_default()
        )];
        lines.extend(log);
        self.deployment_log(&target.id, component, environment, lines).await;
        Ok(deployed)
    }
}
