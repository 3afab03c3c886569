//! What is active where: listing, pause and resume, undeploy, and replaying dead letters.

use onset_store::{NewRun, PendingRun};
use serde_json::json;

use crate::api::types::{Component, DeadReplay, Handler, Page, PauseState, RetryPolicy, Skipped, Undeployed};
use crate::app::{App, new_id, now_ms};
use crate::auth::{self, Principal};
use crate::deploy::Deployed;
use crate::scheduler::Job;
use crate::service::{Result, ServiceError, environment};

/// One active component as the API shows it.
fn view(app: &App, d: &Deployed) -> Component {
    Component {
        name: d.name().to_string(),
        description: d.component.description.clone(),
        environment: d.environment.clone(),
        deployment_id: d.id.clone(),
        trigger: d.component.trigger.kind.clone(),
        paused: app.scheduler.is_paused(d.name(), &d.environment),
        ingress: format!("/hooks/{}/{}", d.environment, d.name()),
        lifecycle: app.lifecycle.get(&d.environment, d.name()).api(),
        handlers: d
            .component
            .handler_list()
            .map(|(channel, event, spec)| Handler {
                name: d.handler_name(channel, event),
                channel: channel.to_string(),
                event: event.to_string(),
                concurrency: spec.concurrency,
                retry: spec.retry.map(|r| RetryPolicy {
                    attempts: r.attempts,
                    initial: r.initial.to_string(),
                    max: r.max.to_string(),
                }),
            })
            .collect(),
        health: app.source_health.get(&d.environment, d.name()).map(Into::into),
    }
}

/// Every component active in any environment.
pub fn list(app: &App) -> Page<Component> {
    Page::all(app.active_all().iter().map(|d| view(app, d)).collect())
}

/// One component in one environment.
pub fn get(app: &App, name: &str, env: Option<&str>) -> Result<Component> {
    let environment = environment(app, env, "query environment")?;
    let d = app.active(&environment, name).ok_or_else(|| ServiceError::not_deployed(name, &environment))?;
    Ok(view(app, &d))
}

/// Pauses (events are still accepted, none runs) or resumes a component in an environment.
pub async fn set_paused(
    app: &App,
    who: &Principal,
    name: String,
    env: Option<&str>,
    paused: bool,
) -> Result<PauseState> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    if !app.store.set_paused(name.clone(), environment.clone(), paused).await? {
        return Err(ServiceError::not_deployed(&name, &environment));
    }
    app.scheduler.set_paused(&name, &environment, paused);
    if !paused {
        crate::worker::reload(app, Some((name.clone(), environment.clone()))).await;
    }
    let action = if paused { "component.pause" } else { "component.resume" };
    auth::audit(app, who, action, &format!("{environment}/{name}"), json!({})).await;
    Ok(PauseState { component: name, environment, paused })
}

/// Removes a component from an environment: unregisters it from its provider, then stops
/// taking its events.
pub async fn undeploy(app: &App, who: &Principal, name: String, env: Option<&str>) -> Result<Undeployed> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    let Some(deployed) = app.active(&environment, &name) else {
        return Err(ServiceError::not_deployed(&name, &environment));
    };
    let log = crate::registration::unregister(app, &deployed).await.map_err(ServiceError::Unregister)?;
    app.store.deactivate(name.clone(), environment.clone()).await?;
    app.deactivate(&environment, &name);
    tracing::info!(component = %name, environment = %environment, deployment = %deployed.id, "undeployed");
    app.deployment_log(&deployed.id, deployed.name(), &environment, log).await;
    auth::audit(app, who, "component.undeploy", &format!("{environment}/{name}"), json!({})).await;
    Ok(Undeployed { component: name, environment, deployed: false })
}

/// Queues runs just created by a replay.
pub(crate) fn enqueue_new(
    app: &App,
    event_id: &str,
    component: &str,
    environment: &str,
    runs: &[NewRun],
    created: &[String],
) {
    let now = now_ms();
    for run in runs.iter().filter(|r| created.contains(&r.id)) {
        app.scheduler.enqueue(
            Job::stored(PendingRun {
                id: run.id.clone(),
                event_id: event_id.to_string(),
                component: component.to_string(),
                environment: environment.to_string(),
                channel: run.channel.clone(),
                event: run.event.clone(),
                deployment_id: run.deployment_id.clone(),
                attempt: 1,
                max_attempts: run.max_attempts,
                run_at: now,
            }),
            now,
        );
    }
}

/// Runs every dead-lettered run of a component again, on its active deployment; runs whose
/// handler that deployment no longer has are skipped, with the reason.
pub async fn replay_dead(app: &App, who: &Principal, name: String, env: Option<&str>) -> Result<DeadReplay> {
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    let deployed = app.active(&environment, &name).ok_or_else(|| ServiceError::not_deployed(&name, &environment))?;
    let dead = app.store.dead_runs(name.clone(), environment.clone()).await?;
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    for (old_id, event_id, channel, event) in dead {
        let Some(handler) = deployed.compiled.handler(&channel, &event) else {
            skipped.push(Skipped {
                reason: format!("no handler for {channel} {event} in the active deployment"),
                run: old_id,
            });
            continue;
        };
        let run = NewRun {
            id: new_id(),
            handler: deployed.handler_name(&channel, &event),
            channel,
            event,
            deployment_id: deployed.id.clone(),
            max_attempts: handler.retry.attempts,
        };
        let created = app.store.add_runs(event_id.clone(), vec![(run.clone(), Some(old_id))], now_ms()).await?;
        enqueue_new(app, &event_id, &name, &environment, std::slice::from_ref(&run), &created);
        replayed.extend(created);
    }
    auth::audit(app, who, "component.replay_dead", &format!("{environment}/{name}"), json!({ "runs": replayed })).await;
    Ok(DeadReplay { replayed: replayed.len(), runs: replayed, skipped })
}

/// Publishes, deprecates or retires the component's API in an environment.
pub async fn set_lifecycle(
    app: &App,
    who: &Principal,
    name: &str,
    env: Option<&str>,
    state: crate::api::types::LifecycleState,
) -> Result<crate::api::types::Lifecycle> {
    use crate::api::types::LifecycleState as L;
    use crate::lifecycle::State;
    let environment = environment(app, env, "query environment")?;
    who.may_change(&environment)?;
    onset_model::ComponentName::parse(name)
        .map_err(|e| ServiceError::invalid("invalid_name", format!("component name `{name}`: {e}"), "path name"))?;
    let current = app.lifecycle.get(&environment, name);
    let next = match state {
        L::Published => State::Published,
        // Deprecated again keeps the first date.
        L::Deprecated => match current {
            State::Deprecated(since) => State::Deprecated(since),
            _ => State::Deprecated(now_ms()),
        },
        L::Retired => State::Retired,
    };
    app.lifecycle.set(app.store.as_ref(), &environment, name, next).await?;
    auth::audit(app, who, "component.lifecycle", &format!("{environment}/{name}"), json!({ "state": state })).await;
    Ok(crate::api::types::Lifecycle {
        component: name.to_string(),
        environment,
        state,
        deprecated_at: match next {
            State::Deprecated(since) => Some(onset_store::time::rfc3339(since)),
            _ => None,
        },
    })
}

/// The base URL of the ingress: `--public-url`, else the address the request reached.
pub(crate) fn ingress_base(app: &App, host: Option<&str>) -> String {
    match &app.config.public_url {
        Some(p) => p.trim_end_matches('/').to_string(),
        None => format!("http://{}", host.unwrap_or("127.0.0.1:8080")),
    }
}

/// Whether the component serves an API of its own resources and methods (the `http` trigger and
/// any other whose intake is resources).
fn serves_api(component: &onset_model::Component) -> bool {
    onset_sources::triggers::source(&component.trigger.kind)
        .is_some_and(|t| t.intake() == onset_sources::triggers::Intake::Resources)
}

/// Whether the developer portal shows the component's API in `environment` (and consumers may
/// subscribe to it): deployed there, serving an API, not retired.
pub fn in_portal(app: &App, environment: &str, name: &str) -> bool {
    app.active(environment, name).is_some_and(|d| serves_api(&d.component))
        && app.lifecycle.get(environment, name) != crate::lifecycle::State::Retired
}

/// The OpenAPI document of the component's API as deployed to `env`.
pub fn openapi(app: &App, name: &str, env: Option<&str>, host: Option<&str>) -> Result<serde_json::Value> {
    let environment = environment(app, env, "query environment")?;
    let d = app.active(&environment, name).ok_or_else(|| ServiceError::not_deployed(name, &environment))?;
    let server_url = format!("{}/hooks/{environment}/{name}", ingress_base(app, host));
    let deprecated = matches!(app.lifecycle.get(&environment, name), crate::lifecycle::State::Deprecated(_));
    let target = onset_gateway::openapi::Target {
        server_url: &server_url,
        environment: &environment,
        version: &d.id,
        deprecated,
        docs_file: d.component.docs_file().and_then(|f| d.files.get(f)).map(String::as_str),
    };
    Ok(onset_gateway::openapi::document(&d.component, &target))
}

/// Signs a request as the component's provider would, with the environment's secret: the
/// headers to send (`onset curl` and the web UI's test events use them). Nothing is sent and no
/// secret leaves the server; schemes only the provider can sign answer `cannot_sign`.
pub async fn sign(
    app: &App,
    who: &Principal,
    name: &str,
    env: Option<&str>,
    request: crate::api::types::SignRequest,
    host: Option<&str>,
) -> Result<crate::api::types::SignedRequest> {
    let environment = environment(app, env, "query environment")?;
    // A signed request is an event the provider would have sent: the same right as changing
    // what runs in that environment.
    who.may_change(&environment)?;
    let d = app.active(&environment, name).ok_or_else(|| ServiceError::not_deployed(name, &environment))?;
    let method = request.method.as_deref().unwrap_or("POST").to_ascii_uppercase();
    if axum::http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(ServiceError::invalid(
            "invalid_method",
            format!("`{method}` is not an HTTP method"),
            "body method",
        ));
    }
    let resource = request.path.as_deref().unwrap_or("/");
    if !resource.starts_with('/') {
        return Err(ServiceError::invalid("invalid_path", "path starts with `/` (e.g. /orders)", "body path"));
    }
    let mut path = format!("/hooks/{environment}/{name}{}", if resource == "/" { "" } else { resource });
    if let Some(q) = request.query.as_deref().filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(q);
    }
    let base = ingress_base(app, host);
    let url = format!("{base}{path}");
    let mut given = request.headers;
    if !given.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
        given.insert("content-type".into(), "application/json".into());
    }
    let mut headers = axum::http::HeaderMap::new();
    for (k, v) in &given {
        let (Ok(n), Ok(v)) = (axum::http::HeaderName::from_bytes(k.as_bytes()), axum::http::HeaderValue::from_str(v))
        else {
            return Err(ServiceError::invalid(
                "invalid_header",
                format!("header `{k}` is not a valid header"),
                "body headers",
            ));
        };
        headers.insert(n, v);
    }
    if let Some(h) = host.filter(|_| app.config.public_url.is_none()) {
        headers.insert(
            axum::http::header::HOST,
            axum::http::HeaderValue::from_str(h).map_err(|_| ServiceError::Internal("bad host".into()))?,
        );
    }
    let public_url = app.config.public_url.as_ref().map(|_| url.clone());
    let req = onset_sources::Request {
        method: &method,
        path: &path,
        url: public_url.as_deref(),
        query: request.query.as_deref().unwrap_or(""),
        headers: &headers,
        body: request.body.as_bytes(),
    };
    let id = format!("msg_{}", new_id());
    let added = d.verifier.sign(&req, now_ms() / 1000, &id).map_err(|e| ServiceError::Unprocessable {
        code: "cannot_sign",
        message: format!("`{name}` in `{environment}`: {e}"),
    })?;
    let signed: Vec<String> = added.iter().map(|(k, _)| k.clone()).collect();
    for (k, v) in added {
        given.retain(|existing, _| !existing.eq_ignore_ascii_case(&k));
        given.insert(k, v);
    }
    auth::audit(
        app,
        who,
        "component.sign",
        &format!("{environment}/{name}"),
        json!({ "method": method, "path": path }),
    )
    .await;
    Ok(crate::api::types::SignedRequest { method, url, headers: given, signed })
}
