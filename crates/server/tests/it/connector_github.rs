//! The github connector against a local GitHub (tests/fakes/github.py) that @octokit/rest and
//! @octokit/auth-app accept: each operation's request, a token and a GitHub App (its RS256 JWT
//! verified by PyJWT in the fake, one installation token for 50 concurrent runs), putFile creating
//! then updating, GitHub's errors as step errors, and the rate limit's reset waited for.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const PAT: &str = "ghp_onsetTestToken0000000000000000000000";
const APP_ID: &str = "12345";

fn key_file() -> String {
    format!("{}/crates/connectors/testdata/github-app-test-key.pem", repo_root())
}

fn private_key() -> String {
    std::fs::read_to_string(key_file()).unwrap()
}

/// The GitHub fake, given the app's public key (derived here with `cryptography`).
fn fake_github(dir: &tempfile::TempDir) -> PyFake {
    let public = dir.path().join("app.pub.pem");
    let script = "import sys\nfrom cryptography.hazmat.primitives import serialization\n\
        key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
        open(sys.argv[2], 'wb').write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))\n";
    let out = Command::new("python3").args(["-c", script, &key_file()]).arg(&public).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    py_fake("github.py", &[public.as_os_str(), std::ffi::OsStr::new(APP_ID)])
}

async fn fake_get(fake: &PyFake, path: &str) -> Value {
    reqwest::get(format!("{}{path}", fake.base)).await.unwrap().json().await.unwrap()
}

const TRIAGE: &str = r#"component: triage
trigger: { type: http }
config:
  gh: { type: account, connector: github }
handlers:
  /:
    POST:
      retry: { attempts: 3, initial: 10ms, max: 20ms }
      steps:
        - id: issue
          call: github.createIssue
          account: "{{ config.gh }}"
          with: { owner: acme, repo: "{{ event.repo }}", title: "{{ event.title }}", labels: [bug] }
        - call: github.createComment
          account: "{{ config.gh }}"
          with: { owner: acme, repo: "{{ event.repo }}", issue_number: "{{ steps.issue.output.number }}", body: Thanks! }
        - call: github.addLabels
          account: "{{ config.gh }}"
          with: { owner: acme, repo: "{{ event.repo }}", issue_number: "{{ steps.issue.output.number }}", labels: [triage] }
        - call: github.createCommitStatus
          account: "{{ config.gh }}"
          with: { owner: acme, repo: "{{ event.repo }}", sha: "{{ event.sha }}", state: success, context: onset/triage }
        - id: file
          call: github.putFile
          account: "{{ config.gh }}"
          with: { owner: acme, repo: "{{ event.repo }}", path: "reports/{{ event.title }}.md", message: "report", content: "{{ event.title }}" }
"#;

async fn send(s: &TestServer, repo: &str, title: &str) -> String {
    let body = json!({ "repo": repo, "title": title, "sha": "0123456789abcdef0123456789abcdef01234567" });
    let r = s.post_json("/hooks/development/triage", &body).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

async fn set_account(s: &TestServer, name: &str, fields: Value) {
    let r = s
        .api
        .put(s.url(&format!("/api/v1/accounts/{name}?environment=development")))
        .json(&json!({ "type": "github", "fields": fields }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn use_account(s: &TestServer, name: &str) {
    let r = s
        .api
        .put(s.url("/api/v1/config/triage?environment=development"))
        .json(&json!({ "values": { "gh": name } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn github_operations_with_a_token_and_an_app_send_githubs_requests() {
    let keys = tempfile::tempdir().unwrap();
    let sdk_fake = fake_github(&keys);
    let out = Command::new("node")
        .arg(format!("{}/tests/npm/octokit_drives.mjs", repo_root()))
        .args([&sdk_fake.base, &key_file(), APP_ID])
        .output()
        .unwrap();
    assert!(out.status.success(), "octokit refuses the fake: {}", String::from_utf8_lossy(&out.stderr));

    let fake = fake_github(&keys);
    let s = start(&[]).await;
    set_account(&s, "gh-token", json!({ "token": PAT, "base_url": fake.base })).await;
    set_account(
        &s,
        "gh-app",
        json!({ "app_id": APP_ID, "private_key": private_key(), "installation_id": "42", "base_url": fake.base }),
    )
    .await;
    let listed = s.get("/api/v1/accounts?environment=development").await.to_string();
    assert!(!listed.contains(PAT) && !listed.contains("BEGIN RSA"), "{listed}");
    use_account(&s, "gh-token").await;
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": TRIAGE, "path": "components/triage.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    // With the token: each operation's request as GitHub documents it.
    let run = s.wait_run_status(&send(&s, "widgets", "first").await, "succeeded").await;
    assert_eq!(run["steps"][4]["output"]["created"], true, "{run}");
    let seen = fake_get(&fake, "/_seen").await;
    let calls: Vec<(String, String)> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].as_str().unwrap().to_string(), r["path"].as_str().unwrap().to_string()))
        .collect();
    let number = run["steps"][0]["output"]["number"].as_i64().unwrap();
    let expected: Vec<(String, String)> = [
        ("POST", "/repos/acme/widgets/issues".to_string()),
        ("POST", format!("/repos/acme/widgets/issues/{number}/comments")),
        ("POST", format!("/repos/acme/widgets/issues/{number}/labels")),
        ("POST", "/repos/acme/widgets/statuses/0123456789abcdef0123456789abcdef01234567".to_string()),
        ("GET", "/repos/acme/widgets/contents/reports/first.md".to_string()),
        ("PUT", "/repos/acme/widgets/contents/reports/first.md".to_string()),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p))
    .collect();
    assert_eq!(calls, expected);
    for r in seen.as_array().unwrap() {
        assert_eq!(r["headers"]["authorization"], format!("Bearer {PAT}"), "{r}");
        assert_eq!(r["headers"]["accept"], "application/vnd.github+json");
        assert_eq!(r["headers"]["x-github-api-version"], "2022-11-28");
    }
    assert_eq!(seen[0]["body"], json!({ "title": "first", "labels": ["bug"] }));
    assert_eq!(seen[1]["body"], json!({ "body": "Thanks!" }));
    assert_eq!(seen[2]["body"], json!({ "labels": ["triage"] }));
    assert_eq!(seen[3]["body"], json!({ "state": "success", "context": "onset/triage" }));
    assert_eq!(seen[5]["body"], json!({ "message": "report", "content": "Zmlyc3Q=" }));
    assert_eq!(run["steps"][2]["output"]["labels"][0]["name"], "triage");

    // The same file again: its sha is looked up and sent, and GitHub updates it.
    let run = s.wait_run_status(&send(&s, "widgets", "first").await, "succeeded").await;
    assert_eq!(run["steps"][4]["output"]["created"], false, "{run}");
    let seen = fake_get(&fake, "/_seen").await;
    let put = seen.as_array().unwrap().iter().rev().find(|r| r["method"] == "PUT").unwrap();
    assert_eq!(put["body"]["sha"].as_str().map(str::len), Some(40), "{put}");

    // GitHub's errors: a 404 fails for good with its message and a fix; the rate limit's reset is
    // waited for (about 2 s, not the handler's 10 ms).
    let run = s.wait_run_status(&send(&s, "missing", "x").await, "failed").await;
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("github.createIssue: GitHub answered HTTP 404: Not Found (no such repository"), "{run}");
    assert_eq!(run["attempt"], 1);
    let run = s.wait_run_status(&send(&s, "busy", "y").await, "succeeded").await;
    assert_eq!(run["attempt"], 2, "{run}");
    let seen = fake_get(&fake, "/_seen").await;
    let busy: Vec<f64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/repos/acme/busy/issues")
        .map(|r| r["at"].as_f64().unwrap())
        .collect();
    assert!(busy.len() == 2 && busy[1] - busy[0] >= 0.9, "{busy:?}");

    // As the GitHub App: 50 concurrent runs share one installation token.
    use_account(&s, "gh-app").await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(send(&s, "widgets", &format!("app-{n}")).await);
    }
    for id in &ids {
        s.wait_run_status(id, "succeeded").await;
    }
    assert_eq!(fake_get(&fake, "/_stats").await["installation_tokens"], 1);
    let seen = fake_get(&fake, "/_seen").await;
    let last = seen.as_array().unwrap().last().unwrap();
    assert!(last["headers"]["authorization"].as_str().unwrap().starts_with("Bearer ghs_"), "{last}");

    // Account tests: GET /user with the token; an installation token for the app.
    let tested = |name: &'static str| {
        let s = &s;
        async move {
            let r = s.api.post(s.url(&format!("/api/v1/accounts/{name}/test?environment=development"))).send().await;
            r.unwrap().json::<Value>().await.unwrap()["detail"].clone()
        }
    };
    assert_eq!(tested("gh-token").await, "GET /user: GitHub takes the token: `onset-bot`");
    assert_eq!(tested("gh-app").await, "GitHub issued an installation token for the app");
}
