//! The repository webhook: created at the first deploy, updated by later ones, deleted at
//! undeploy (`POST/PATCH/DELETE /repos/{owner}/{repo}/hooks`).

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::host::Host;
use super::providers::GitHub as GitHubSettings;
use super::registration::{client, hook_url, public_url};

const STATE_KEY: &str = "github.hook";

/// What is kept of a webhook Onset created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Hook {
    repository: String,
    api_url: String,
    id: u64,
}

/// The GitHub events the component's handlers take; all events (`*`) when it declares none.
fn events(host: &dyn Host) -> Vec<String> {
    let mut events: Vec<String> = host
        .handlers()
        .iter()
        .filter_map(|(c, h)| onset_model::catalog::github::source_of(c, h).map(|(e, _)| e))
        .collect();
    events.sort();
    events.dedup();
    if events.is_empty() { vec!["*".into()] } else { events }
}

struct Api<'a> {
    client: reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Value), String> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut req = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(self.token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

fn failure(action: &str, repo: &str, status: StatusCode, body: &Value) -> String {
    let message = body["message"].as_str().unwrap_or("");
    let hint = match status.as_u16() {
        401 => " (the token is not valid)",
        403 | 404 => " (the token needs the repository's Webhooks write permission, admin:repo_hook)",
        _ => "",
    };
    format!("GitHub webhook: {action} on {repo} failed: {status} {message}{hint}")
}

/// The webhook Onset created for this component in this environment, if any.
async fn known_hook(host: &dyn Host) -> Result<Option<Hook>, String> {
    Ok(host.state(STATE_KEY).await?.and_then(|v| serde_json::from_str(&v).ok()))
}

pub(super) async fn register(host: &dyn Host, s: &GitHubSettings) -> Result<Vec<String>, String> {
    let (Some(repo), Some(token), Some(secret)) = (&s.repository, &s.token, &s.secret) else {
        let where_ = host.public_url().map_or_else(
            || format!("<public address>/hooks/{}/{}", host.environment(), host.component()),
            |p| hook_url(p, host.environment(), host.component()),
        );
        return Ok(vec![format!(
            "GitHub webhook not registered (no trigger.with.repository): add {where_} as the Payload URL, \
             content type application/json"
        )]);
    };
    let public = public_url(host, "registering the GitHub webhook")?;
    let url = hook_url(public, host.environment(), host.component());
    let api = Api { client: client()?, base: &s.api_url, token: token.expose() };
    let events = events(host);
    let config = json!({ "url": url, "content_type": "json", "secret": secret.expose(), "insecure_ssl": "0" });
    let mut log = Vec::new();

    let known = known_hook(host).await?;
    let mut hook_id = None;
    if let Some(old) = &known {
        if old.repository == *repo && old.api_url == s.api_url {
            let body = json!({ "config": config, "events": events, "active": true });
            let (status, answer) =
                api.call(Method::PATCH, &format!("/repos/{repo}/hooks/{}", old.id), Some(&body)).await?;
            match status {
                StatusCode::OK => {
                    log.push(format!(
                        "GitHub webhook {} on {repo} updated: {url}, events {}",
                        old.id,
                        events.join(", ")
                    ));
                    hook_id = Some(old.id);
                }
                StatusCode::NOT_FOUND => {
                    log.push(format!("GitHub webhook {} on {repo} is gone; creating a new one", old.id))
                }
                _ => return Err(failure("update", repo, status, &answer)),
            }
        } else {
            delete(&api, old, &mut log).await?;
        }
    }
    let id = match hook_id {
        Some(id) => id,
        None => create(&api, repo, &url, &events, &config, &mut log).await?,
    };
    let state = Hook { repository: repo.clone(), api_url: s.api_url.clone(), id };
    if known.as_ref() != Some(&state) {
        let text = serde_json::to_string(&state).map_err(|e| e.to_string())?;
        host.set_state(STATE_KEY, Some(text)).await?;
    }
    Ok(log)
}

async fn create(
    api: &Api<'_>,
    repo: &str,
    url: &str,
    events: &[String],
    config: &Value,
    log: &mut Vec<String>,
) -> Result<u64, String> {
    let body = json!({ "name": "web", "active": true, "events": events, "config": config });
    let (status, answer) = api.call(Method::POST, &format!("/repos/{repo}/hooks"), Some(&body)).await?;
    match status {
        StatusCode::CREATED => {
            let id = answer["id"].as_u64().ok_or("GitHub created the webhook but answered without its id")?;
            log.push(format!("GitHub webhook {id} created on {repo}: {url}, events {}", events.join(", ")));
            Ok(id)
        }
        // "Hook already exists on this repository": adopt the one that posts to this URL.
        StatusCode::UNPROCESSABLE_ENTITY => {
            let (list_status, list) = api.call(Method::GET, &format!("/repos/{repo}/hooks?per_page=100"), None).await?;
            let found = list
                .as_array()
                .and_then(|hooks| hooks.iter().find(|h| h["config"]["url"] == url))
                .and_then(|h| h["id"].as_u64());
            let Some(id) = found else {
                return Err(failure("create", repo, status, &answer) + &format!(" (listing hooks: {list_status})"));
            };
            let patch = json!({ "config": config, "events": events, "active": true });
            let (status, answer) = api.call(Method::PATCH, &format!("/repos/{repo}/hooks/{id}"), Some(&patch)).await?;
            if status != StatusCode::OK {
                return Err(failure("update", repo, status, &answer));
            }
            log.push(format!("GitHub webhook {id} on {repo} already posted to {url}: adopted and updated"));
            Ok(id)
        }
        _ => Err(failure("create", repo, status, &answer)),
    }
}

async fn delete(api: &Api<'_>, hook: &Hook, log: &mut Vec<String>) -> Result<(), String> {
    let (status, answer) =
        api.call(Method::DELETE, &format!("/repos/{}/hooks/{}", hook.repository, hook.id), None).await?;
    match status {
        StatusCode::NO_CONTENT => log.push(format!("GitHub webhook {} on {} deleted", hook.id, hook.repository)),
        StatusCode::NOT_FOUND => {
            log.push(format!("GitHub webhook {} on {} was already gone", hook.id, hook.repository))
        }
        _ => return Err(failure("delete", &hook.repository, status, &answer)),
    }
    Ok(())
}

pub(super) async fn unregister(host: &dyn Host, s: &GitHubSettings) -> Result<Vec<String>, String> {
    let known = known_hook(host).await?;
    let Some(hook) = known else { return Ok(Vec::new()) };
    let Some(token) = &s.token else {
        return Err(format!(
            "GitHub webhook {} on {} cannot be deleted: the deployment has no trigger.with.token",
            hook.id, hook.repository
        ));
    };
    let api = Api { client: client()?, base: &hook.api_url, token: token.expose() };
    let mut log = Vec::new();
    delete(&api, &hook, &mut log).await?;
    host.set_state(STATE_KEY, None).await?;
    Ok(log)
}
