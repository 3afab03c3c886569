//! Deploying a build to an environment, promoting it to the next, rolling back, with a
//! timestamped log of each stage and a `failed` record (and nothing activated) when a stage
//! fails. A build is a component's source and files; its id is their SHA-256.

use std::sync::Arc;

use onset_model::SourceFile;
use onset_store::{NewDeployment, StoreError};
use serde_json::{Value, json};

use crate::app::{App, files_json, new_id, now_ms, parse, sha256_hex};
use crate::deploy::Deployed;

/// Where a deployment comes from and who asks for it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub meta: Value,
    pub actor: Option<String>,
}

/// Why a build did not become active.
#[derive(Debug)]
pub enum Failure {
    /// The component (or its provider) refused: every reason, and the failed deployment's id
    /// when one was recorded. These are the user's to read.
    Refused { deployment_id: Option<String>, errors: Vec<String> },
    /// The store failed; its words are for the log.
    Store(StoreError),
    /// The server itself failed (no randomness to seal a value); for the log.
    Internal(String),
}

impl From<Vec<String>> for Failure {
    fn from(errors: Vec<String>) -> Self {
        Failure::Refused { deployment_id: None, errors }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { errors, .. } => f.write_str(&errors.join("; ")),
            Failure::Store(e) => write!(f, "{e}"),
            Failure::Internal(e) => f.write_str(e),
        }
    }
}

impl Failure {
    /// As what an operation answers: a refusal as `refused` makes it (from the failed
    /// deployment's id and the reasons), store and internal failures as themselves.
    pub(crate) fn into_service(
        self,
        refused: impl FnOnce(Option<String>, Vec<String>) -> ServiceError,
    ) -> ServiceError {
        match self {
            Failure::Refused { deployment_id, errors } => refused(deployment_id, errors),
            Failure::Store(e) => ServiceError::Store(e),
            Failure::Internal(e) => ServiceError::Internal(e),
        }
    }

    /// The reasons as lines (a store failure is one line), for the process's own log.
    pub fn lines(self) -> Vec<String> {
        match self {
            Failure::Refused { errors, .. } => errors,
            Failure::Store(e) => vec![e.to_string()],
            Failure::Internal(e) => vec![e],
        }
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
        self.deploy_from(environment, file, Origin::default()).await.map_err(Failure::lines)
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
                self.store.activate(record).await?;
                self.install(deployed.clone());
                stages.note("activated");
                tracing::info!(component = %name, environment, deployment = %id, "deployed");
                self.write_log(&id, &name, environment, stages).await;
                Ok(deployed)
            }
            Err(Failure::Refused { errors, .. }) => {
                stages.note(format!("failed: {}", errors.join("; ")));
                let record = self.record(&id, &name, environment, file, &build, &origin);
                if let Err(e) = self.store.record_failed_deployment(record, errors.join("\n")).await {
                    tracing::error!(error = %e, "the failed deployment was not recorded");
                }
                self.write_log(&id, &name, environment, stages).await;
                Err(Failure::Refused { deployment_id: Some(id), errors })
            }
            Err(other) => Err(other),
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
    ) -> Result<Arc<Deployed>, Failure> {
        let deployed = Arc::new(self.build_parsed(id.to_string(), environment, component, file).await?);
        stages.note("config resolved and handlers compiled");
        // Accounts named by config exist here and are of the type the config says.
        let mut errors = crate::service::accounts::check_config(self, &deployed).await;
        // Scripts compile now, so a syntax error stops the deploy instead of the first run.
        for (handler, source) in deployed.compiled.scripts() {
            if let Err(e) = onset_engine::Connectors::check_script(&self.connectors, source).await {
                errors.push(format!("component `{}`, handler `{handler}`: script: {}", deployed.name(), e.message));
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        for line in crate::registration::register(self, &deployed).await.map_err(|e| Failure::from(vec![e]))? {
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
        let history = self.store.deployments(Some(component.to_string()), Some(environment.to_string()), 500).await?;
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
        let (_, source, files) =
            self.store.deployment_source(target.id.clone()).await?.ok_or_else(|| {
                Failure::Store(StoreError::Corrupt(format!("deployment {} has no source", target.id)))
            })?;
        let files = serde_json::from_str(&files)
            .map_err(|e| Failure::Store(StoreError::Corrupt(format!("deployment {}: stored files: {e}", target.id))))?;
        let file =
            SourceFile { path: std::path::PathBuf::from(format!("deployment {}", target.id)), text: source, files };
        let component_spec = parse(&file)?;
        let deployed = Arc::new(self.build_parsed(target.id.clone(), environment, component_spec, &file).await?);
        let log = crate::registration::register(self, &deployed).await.map_err(|e| Failure::from(vec![e]))?;
        self.store.reactivate(component.to_string(), environment.to_string(), target.id.clone()).await?;
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

// ---- The operations of the control plane ----

use crate::api::types::{
    DeployFailure, DeployResult, Deployment, DeploymentDetail, DeploymentQuery, LogLine, MissingConfig,
    NewDeployment as DeployRequest, Page, Promote, Rollback,
};
use crate::auth::{self, Principal};
use crate::service::{Kind, ServiceError, environment, environment_filter, limit};

fn log_lines(lines: Vec<(i64, String)>) -> Vec<LogLine> {
    lines.into_iter().map(|(at, message)| LogLine { at: onset_store::time::rfc3339(at), message }).collect()
}

/// A refused build as the caller sees it: every reason, the failed deployment's id when one was
/// recorded, and the config keys that have no value (so a CLI can ask for them). A store
/// failure stays a store failure.
fn refused(f: Failure, missing: Vec<(String, Option<String>, bool)>) -> ServiceError {
    f.into_service(|deployment_id, errors| {
        ServiceError::DeployFailed(Box::new(DeployFailure {
            code: "deploy_failed".into(),
            message: errors.join("\n"),
            errors,
            deployment_id,
            missing_config: missing
                .into_iter()
                .map(|(key, description, secret)| MissingConfig { key, description, secret })
                .collect(),
        }))
    })
}

/// The deployment record and log of what was activated. The activation stands when they
/// cannot be read (the answer then leaves them out; the log says why).
async fn result(app: &App, d: &Deployed) -> DeployResult {
    let row = app.store.deployment(d.id.clone()).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, deployment = %d.id, "the activated deployment's record cannot be read");
        None
    });
    let log = app.store.deployment_logs(d.id.clone()).await.unwrap_or_default();
    DeployResult { deployment: row.map(Into::into), log: log_lines(log) }
}

/// Validates, builds, registers and activates one component. `Ok((result, false))` when the
/// same content was active already (nothing changed, nothing audited).
pub async fn deploy(app: &App, who: &Principal, req: DeployRequest) -> crate::service::Result<(DeployResult, bool)> {
    let environment = environment(app, req.environment.as_deref(), "body environment")?;
    who.may_change(&environment)?;
    let path = std::path::PathBuf::from(req.path.unwrap_or_else(|| "component.yaml".into()));
    // The same one-pass check as `onset validate`, at file:line:column.
    let problems = crate::validation::validate_source(&path, &req.source, &req.files);
    if !problems.is_empty() {
        return Err(refused(problems.iter().map(ToString::to_string).collect::<Vec<_>>().into(), Vec::new()));
    }
    let file = SourceFile { path, text: req.source, files: req.files };
    let parsed = parse(&file).ok();
    let before = parsed.as_ref().and_then(|c| app.active(&environment, c.component.as_str()));
    let meta = req.meta.map_or_else(|| json!({}), Value::Object);
    let origin = Origin { meta, actor: Some(who.name.clone()) };
    match app.deploy_from(&environment, &file, origin).await {
        Ok(d) => {
            let changed = before.is_none_or(|b| b.id != d.id);
            if changed {
                let detail = json!({ "deployment": d.id, "build": build_id(&file) });
                auth::audit(app, who, "deploy", &format!("{environment}/{}", d.name()), detail).await;
            }
            Ok((result(app, &d).await, changed))
        }
        Err(f) => {
            let missing = match &parsed {
                Some(c) => app.missing_config(c, &environment).await,
                None => Vec::new(),
            };
            Err(refused(f, missing))
        }
    }
}

/// Deploys the build active in `from` (default development) to `to` (default the next
/// environment), with the target's config.
pub async fn promote(app: &App, who: &Principal, name: &str, req: Promote) -> crate::service::Result<DeployResult> {
    let from = environment(app, req.from.as_deref(), "body from")?;
    let to = match req.to {
        Some(t) => environment(app, Some(&t), "body to")?,
        None => {
            let order = app.environment_list();
            let i = order.iter().position(|e| *e == from).unwrap_or(0);
            order.get(i + 1).cloned().ok_or_else(|| {
                ServiceError::invalid(
                    "no_next_environment",
                    format!("`{from}` is the last environment; name `to`"),
                    "body to",
                )
            })?
        }
    };
    who.may_promote(&to)?;
    match app.promote(name, &from, &to, Some(who.name.clone())).await {
        Ok(d) => {
            auth::audit(app, who, "promote", &format!("{to}/{name}"), json!({ "from": from, "deployment": d.id }))
                .await;
            Ok(result(app, &d).await)
        }
        Err(f) => {
            let missing = match app.active(&from, name) {
                Some(d) => app.missing_config(&d.component, &to).await,
                None => Vec::new(),
            };
            Err(refused(f, missing))
        }
    }
}

/// Makes an earlier deployment active again (`to`, or the one before the active one).
pub async fn rollback(app: &App, who: &Principal, name: &str, req: Rollback) -> crate::service::Result<DeployResult> {
    let environment = environment(app, Some(&req.environment), "body environment")?;
    who.may_change(&environment)?;
    match app.rollback(name, &environment, req.to.as_deref(), &who.name).await {
        Ok(d) => {
            auth::audit(app, who, "rollback", &format!("{environment}/{name}"), json!({ "deployment": d.id })).await;
            Ok(result(app, &d).await)
        }
        Err(f) => Err(refused(f, Vec::new())),
    }
}

/// Deployments, newest first.
pub async fn list(app: &App, q: DeploymentQuery) -> crate::service::Result<Page<Deployment>> {
    let environment = environment_filter(app, q.environment.as_deref())?;
    let rows = app.store.deployments(q.component, environment, limit(q.limit)?).await?;
    Ok(Page::all(rows.into_iter().map(Into::into).collect()))
}

/// One deployment with its log.
pub async fn get(app: &App, id: String) -> crate::service::Result<DeploymentDetail> {
    let row = app.store.deployment(id.clone()).await?.ok_or_else(|| ServiceError::not_found(Kind::Deployment, &id))?;
    let log = app.store.deployment_logs(id.clone()).await?;
    let (source, files) = match app.store.deployment_source(id).await? {
        Some((_, source, files)) => (source, serde_json::from_str(&files).unwrap_or_default()),
        None => (String::new(), Default::default()),
    };
    Ok(DeploymentDetail { deployment: row.into(), log: log_lines(log), source, files })
}

/// What a deployment did, timestamped.
pub async fn logs(app: &App, id: String) -> crate::service::Result<Page<LogLine>> {
    if app.store.deployment(id.clone()).await?.is_none() {
        return Err(ServiceError::not_found(Kind::Deployment, id));
    }
    Ok(Page::all(log_lines(app.store.deployment_logs(id).await?)))
}
