//! GitHub deliveries end to end: every example payload of `@octokit/webhooks-examples`, signed by
//! `@octokit/webhooks-methods`, reaches the handler the naming rule gives.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

const SECRET: &str = "It's a Secret to Everybody";

/// The rule, written out independently of the server's: PascalCase over `_ . - /`.
fn pascal(s: &str) -> String {
    s.split(['_', '.', '-', '/'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

fn rule(event: &str, action: Option<&str>) -> (String, String) {
    (format!("{}Service", pascal(event)), format!("on{}", pascal(action.unwrap_or(event))))
}

pub struct Signed {
    pub event: String,
    pub action: Option<String>,
    pub body: String,
    pub signature: String,
}

/// Every example, signed by GitHub's own library (`tests/npm`, installed by `scripts/test`).
pub fn octokit_examples(secret: &str) -> Vec<Signed> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/npm");
    let out = std::process::Command::new("node")
        .current_dir(dir)
        .args(["sign-github-examples.mjs", secret])
        .output()
        .expect("node runs the octokit signer");
    assert!(
        out.status.success(),
        "tests/npm needs its packages (npm ci --prefix tests/npm, done by scripts/test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Signed {
                event: v["event"].as_str().unwrap().to_string(),
                action: v["action"].as_str().map(str::to_string),
                body: v["body"].as_str().unwrap().to_string(),
                signature: v["signature"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn component(handlers: &BTreeMap<String, Vec<String>>) -> String {
    let mut yaml = String::from(
        "component: gh\ntrigger:\n  type: github\n  with:\n    secret: \"{{ config.secret }}\"\nconfig:\n  secret: { type: secret }\nhandlers:\n",
    );
    for (channel, events) in handlers {
        yaml.push_str(&format!("  {channel}:\n"));
        for e in events {
            yaml.push_str(&format!("    {e}: {{ steps: [ {{ log: \"{{{{ meta.event }}}}\" }} ] }}\n"));
        }
    }
    yaml
}

async fn deliver(
    s: &TestServer,
    path: &str,
    event: &str,
    id: &str,
    body: &str,
    sig: Option<&str>,
) -> reqwest::Response {
    let mut r = s
        .client
        .post(s.url(path))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("user-agent", "GitHub-Hookshot/044aadd");
    if let Some(sig) = sig {
        r = r.header("x-hub-signature-256", sig);
    }
    r.body(body.to_string()).send().await.unwrap()
}

#[tokio::test]
async fn every_octokit_example_is_accepted_and_routed_by_the_rule() {
    let examples = octokit_examples(SECRET);
    assert!(examples.len() > 300, "the examples package has every event: {}", examples.len());
    let mut handlers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ex in &examples {
        let (c, e) = rule(&ex.event, ex.action.as_deref());
        let list = handlers.entry(c).or_default();
        if !list.contains(&e) {
            list.push(e);
        }
    }
    let s =
        start_with(Options::new(&[("gh.yaml", &component(&handlers))]).env("ONSET_CONFIG__GH__SECRET", SECRET)).await;
    let mut ids = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        let r = deliver(&s, "/hooks/development/gh", &ex.event, &format!("d-{i}"), &ex.body, Some(&ex.signature)).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{} {:?}", ex.event, ex.action);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["duplicate"], false);
        ids.push(v["event_id"].as_str().unwrap().to_string());
    }
    for (ex, id) in examples.iter().zip(&ids) {
        let (c, e) = rule(&ex.event, ex.action.as_deref());
        let event = s.wait_run_status(id, "succeeded").await;
        assert_eq!(event["handler"], format!("{c}.{e}"), "{} {:?}", ex.event, ex.action);
        let stored = s.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!((stored["channel"].as_str(), stored["event"].as_str()), (Some(c.as_str()), Some(e.as_str())));
        assert_eq!(stored["status"], "handled");
    }
}

#[tokio::test]
async fn signatures_duplicates_forms_ping_and_aliases() {
    let examples = octokit_examples(SECRET);
    let yaml = "component: gh\ntrigger:\n  type: github\n  with: { secret: \"{{ config.secret }}\" }\nconfig:\n  secret: { type: secret }\nhandlers:\n  IssuesService:\n    onOpened: { steps: [ { log: \"#{{ event.issue.number }}\" } ] }\n  ReleaseService:\n    onPreReleased: { steps: [ { log: \"{{ event.release.tag_name }}\" } ] }\n";
    let s = start_with(Options::new(&[("gh.yaml", yaml)]).env("ONSET_CONFIG__GH__SECRET", SECRET)).await;
    let path = "/hooks/development/gh";
    let opened = examples.iter().find(|e| e.event == "issues" && e.action.as_deref() == Some("opened")).unwrap();

    // Tampered, unsigned and wrongly keyed deliveries are refused and nothing is stored.
    let tampered = opened.body.replacen("opened", "closed", 1);
    let r = deliver(&s, path, "issues", "x1", &tampered, Some(&opened.signature)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "signature_mismatch");
    let r = deliver(&s, path, "issues", "x2", &opened.body, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["location"], "header x-hub-signature-256");
    let other = octokit_examples("another secret");
    let wrong = other.iter().find(|e| e.body == opened.body).unwrap();
    assert_eq!(deliver(&s, path, "issues", "x3", &opened.body, Some(&wrong.signature)).await.status(), 401);
    assert!(s.events().await.is_empty());

    // Accepted once; GitHub's redelivery (same X-GitHub-Delivery) is acknowledged, not run again.
    let r = deliver(&s, path, "issues", "dup-1", &opened.body, Some(&opened.signature)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let first = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let r = deliver(&s, path, "issues", "dup-1", &opened.body, Some(&opened.signature)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!((again["event_id"].as_str(), again["duplicate"].as_bool()), (Some(first.as_str()), Some(true)));
    let run = s.wait_run_status(&first, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], format!("#{}", 1));

    // Ballerina's spelling receives `prereleased`; the stored name is the rule's.
    let pre = examples.iter().find(|e| e.event == "release" && e.action.as_deref() == Some("prereleased")).unwrap();
    let r = deliver(&s, path, "release", "rel-1", &pre.body, Some(&pre.signature)).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["handler"], "ReleaseService.onPreReleased");
    let stored = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(stored["event"], "onPrereleased");

    // A form-encoded ping, signed over the raw form bytes: answered, recorded, nothing run.
    let ping = examples.iter().find(|e| e.event == "ping").unwrap();
    let form = format!("payload={}", form_urlencoded::byte_serialize(ping.body.as_bytes()).collect::<String>());
    let sig = octokit_sign(SECRET, &form);
    let r = s
        .client
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "ping")
        .header("x-github-delivery", "ping-1")
        .header("x-hub-signature-256", sig)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let stored = s.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!((stored["channel"].as_str(), stored["event"].as_str()), (Some("PingService"), Some("onPing")));
    assert_eq!(stored["status"], "unhandled");
    assert_eq!(stored["runs"], serde_json::json!([]));
    assert_eq!(stored["payload"]["hook_id"], serde_json::from_str::<Value>(&ping.body).unwrap()["hook_id"]);

    // Only POST at the component's own path.
    assert_eq!(s.client.get(s.url(path)).send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(deliver(&s, "/hooks/development/gh/x", "ping", "p", "{}", None).await.status(), StatusCode::NOT_FOUND);
}

/// `sha256=…` from `@octokit/webhooks-methods` for any body.
pub fn octokit_sign(secret: &str, body: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/npm");
    let script = "import { sign } from '@octokit/webhooks-methods'; \
        let b = ''; process.stdin.on('data', d => b += d); \
        process.stdin.on('end', async () => console.log(await sign(process.argv[1], b)));";
    piped("node", &["--input-type=module", "-e", script, secret], Some(dir), body).trim().to_string()
}
