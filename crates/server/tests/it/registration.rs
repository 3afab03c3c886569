//! Registration with providers at deploy and undeploy, against local fakes of their APIs.

use serde_json::{Value, json};

use crate::fakes;
use crate::support::*;

fn github_component(api: &str, handlers: &str) -> String {
    format!(
        "component: gh\ntrigger:\n  type: github\n  with:\n    secret: \"{{{{ config.secret }}}}\"\n    repository: acme/widgets\n    token: \"{{{{ config.token }}}}\"\n    api_url: {api}\nconfig:\n  secret: {{ type: secret }}\n  token: {{ type: secret }}\nhandlers:\n{handlers}"
    )
}

const ISSUES_AND_PUSH: &str = "  IssuesService:\n    onOpened: { steps: [ { log: x } ] }\n  PushService:\n    onPush: { steps: [ { log: x } ] }\n";

#[tokio::test]
async fn github_webhook_is_created_updated_and_deleted() {
    let api = fakes::github().await;
    let options = Options::new(&[("gh.yaml", &github_component(&api.base, ISSUES_AND_PUSH))])
        .env("ONSET_CONFIG__GH__SECRET", "hook-secret")
        .env("ONSET_CONFIG__GH__TOKEN", "ghp_token");
    let options = Options { public_url: Some("https://hooks.example.com/".into()), ..options };
    let s = start_with(options.clone_for_restart()).await;

    let seen = api.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let create = &seen[0];
    assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", "/repos/acme/widgets/hooks"));
    assert_eq!(create.headers["authorization"], "Bearer ghp_token");
    assert_eq!(create.headers["accept"], "application/vnd.github+json");
    assert_eq!(create.headers["x-github-api-version"], "2022-11-28");
    assert_eq!(
        create.body,
        json!({ "name": "web", "active": true, "events": ["issues", "push"],
            "config": { "url": "https://hooks.example.com/hooks/development/gh", "content_type": "json",
                "secret": "hook-secret", "insecure_ssl": "0" } })
    );
    let components = s.get("/api/v1/components").await;
    let deployment = components["items"][0]["deployment_id"].as_str().unwrap().to_string();
    let log = s.get(&format!("/api/v1/deployments/{deployment}/logs")).await;
    let lines: Vec<&str> = log["items"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert!(lines.iter().any(|l| l.contains("GitHub webhook 12345679 created on acme/widgets")), "{lines:?}");

    // A restart with the same source registers nothing; a changed component updates the hook.
    let s = s.restart(&options).await;
    assert!(api.take().is_empty());
    let more = format!("{ISSUES_AND_PUSH}  PullRequestService:\n    onClosed: {{ steps: [ {{ log: x }} ] }}\n");
    std::fs::write(s.project_dir().join("components/gh.yaml"), github_component(&api.base, &more)).unwrap();
    let s = s.restart(&options).await;
    let seen = api.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("PATCH", "/repos/acme/widgets/hooks/12345679"));
    assert_eq!(seen[0].body["events"], json!(["issues", "pull_request", "push"]));
    assert_eq!(seen[0].body["config"]["url"], "https://hooks.example.com/hooks/development/gh");

    // Undeploy deletes it; the component's events are refused from then on.
    let r = s.api.delete(s.url("/api/v1/components/gh")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = api.take();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("DELETE", "/repos/acme/widgets/hooks/12345679"));
    let r = s.client.post(s.url("/hooks/development/gh")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_existing_hook_for_the_same_url_is_adopted() {
    onset_server::install_crypto_provider();
    let api = fakes::github().await;
    // Someone created the hook by hand before: GitHub answers 422 and Onset adopts it.
    let r = reqwest::Client::new()
        .post(format!("{}/repos/acme/widgets/hooks", api.base))
        .json(&json!({ "name": "web", "active": true, "events": ["push"],
            "config": { "url": "https://hooks.example.com/hooks/development/gh", "content_type": "json" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    api.take();
    let options = Options::new(&[("gh.yaml", &github_component(&api.base, ISSUES_AND_PUSH))])
        .env("ONSET_CONFIG__GH__SECRET", "hook-secret")
        .env("ONSET_CONFIG__GH__TOKEN", "ghp_token");
    let _s = start_with(Options { public_url: Some("https://hooks.example.com".into()), ..options }).await;
    let calls: Vec<(String, String)> = api.seen().iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(
        calls,
        [
            ("POST".to_string(), "/repos/acme/widgets/hooks".to_string()),
            ("GET".to_string(), "/repos/acme/widgets/hooks".to_string()),
            ("PATCH".to_string(), "/repos/acme/widgets/hooks/12345679".to_string()),
        ]
    );
    assert_eq!(api.seen()[2].body["secret"], Value::Null, "the secret goes inside config");
    assert_eq!(api.seen()[2].body["config"]["secret"], "hook-secret");
}

#[tokio::test]
async fn registration_without_a_public_url_fails_clearly() {
    let api = fakes::github().await;
    let yaml = format!(
        "component: gh\ntrigger:\n  type: github\n  with: {{ secret: s, repository: acme/widgets, token: t, api_url: {} }}\nhandlers:\n{ISSUES_AND_PUSH}",
        api.base
    );
    let err = deploy_error(&[("gh.yaml", &yaml)]).await;
    assert!(err.contains("component `gh`: registering the GitHub webhook needs the address"), "{err}");
    assert!(err.contains("--public-url"), "{err}");
    assert!(api.seen().is_empty());
}
