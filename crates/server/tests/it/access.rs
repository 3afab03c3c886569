//! Control-plane access: tokens, roles, revocation and the audit log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const COMPONENT: &str =
    "component: hook\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";

async fn token(s: &TestServer, name: &str, role: &str, permissions: &[&str]) -> (String, String) {
    let r = s.post_json("/api/v1/tokens", &json!({ "name": name, "role": role, "permissions": permissions })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    (v["id"].as_str().unwrap().to_string(), v["token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_first_start_writes_a_private_admin_token() {
    let s = start(&[("hook.yaml", COMPONENT)]).await;
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(s.data_dir().join("admin-token")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(s.admin_token.starts_with("onset_") && s.admin_token.len() > 60);
    // Only its hash is stored.
    let db = std::fs::read(s.data_dir().join("onset.db")).unwrap_or_default();
    let wal = std::fs::read(s.data_dir().join("onset.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(s.admin_token.len()).any(|w| w == s.admin_token.as_bytes()));
    }
}

#[tokio::test]
async fn no_token_bad_token_viewer_developer_and_revoked() {
    let s = start(&[("hook.yaml", COMPONENT)]).await;
    // No token, a wrong one: 401, and ingress stays open without tokens.
    let r = s.client.get(s.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "token_missing");
    let r = bearer_client("onset_nope").get(s.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.client.post(s.url("/hooks/development/hook")).body("{}").send().await.unwrap().status(), 202);
    assert_eq!(s.client.get(s.url("/readyz")).send().await.unwrap().status(), 200);

    // A viewer reads but changes nothing.
    let (_, viewer) = token(&s, "dashboard", "viewer", &[]).await;
    let viewer = bearer_client(&viewer);
    assert_eq!(viewer.get(s.url("/api/v1/events")).send().await.unwrap().status(), 200);
    let r = viewer.post(s.url("/api/v1/components/hook/pause")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("viewer"));
    assert_eq!(viewer.get(s.url("/api/v1/tokens")).send().await.unwrap().status(), 403);

    // A developer changes development, not production.
    let (dev_id, dev) = token(&s, "ci", "developer", &[]).await;
    let dev = bearer_client(&dev);
    assert_eq!(dev.post(s.url("/api/v1/components/hook/pause")).send().await.unwrap().status(), 200);
    assert_eq!(dev.post(s.url("/api/v1/components/hook/resume")).send().await.unwrap().status(), 200);
    let r = dev.post(s.url("/api/v1/components/hook/pause?environment=production")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = dev.post(s.url("/api/v1/tokens")).json(&json!({ "name": "x", "role": "admin" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "only admins make tokens");

    // Revoked: 401 from then on.
    let r = s.api.delete(s.url(&format!("/api/v1/tokens/{dev_id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = dev.get(s.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "token_invalid");
    let list = s.get("/api/v1/tokens").await;
    let names: Vec<_> = list["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "dashboard", "ci"]);
    assert!(list["items"].as_array().unwrap().iter().all(|t| t.get("hash").is_none() && t.get("token").is_none()));

    // Every allowed change is in the audit log, newest first, with who made it.
    let audit = s.get("/api/v1/audit").await;
    let entries: Vec<(String, String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("actor"), s("action"), s("target"))
        })
        .collect();
    let expected = [
        ("admin", "token.revoke", dev_id.as_str()),
        ("ci", "component.resume", "development/hook"),
        ("ci", "component.pause", "development/hook"),
    ];
    for (i, (actor, action, target)) in expected.iter().enumerate() {
        assert_eq!(
            (entries[i].0.as_str(), entries[i].1.as_str(), entries[i].2.as_str()),
            (*actor, *action, *target),
            "{entries:#?}"
        );
    }
    assert_eq!(entries.iter().filter(|e| e.1 == "token.create").count(), 2);
    assert!(entries.iter().all(|e| e.1 != "component.pause" || e.0 != "dashboard"), "refused changes are not audited");
}

#[tokio::test]
async fn token_requests_are_checked() {
    let s = start(&[]).await;
    let r = s.post_json("/api/v1/tokens", &json!({ "name": "x", "role": "owner" })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["location"], "body role");
    let r =
        s.post_json("/api/v1/tokens", &json!({ "name": "x", "role": "developer", "permissions": ["deploy"] })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s.api.delete(s.url("/api/v1/tokens/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// `ONSET_ADMIN_TOKEN` is the first admin token of a new store, and only of a new one.
#[tokio::test]
async fn the_first_admin_token_can_be_given_and_is_given_once() {
    let given = "a".repeat(40);
    let mut o = Options::new(&[]);
    let seed = given.clone();
    o.tune_with = Some(std::sync::Arc::new(move |c| c.admin_token = Some(seed.clone())));
    let s = start_with(o).await;
    assert_eq!(s.admin_token, given, "the given token is written to the data directory");
    let r = bearer_client(&given).get(s.url("/api/v1/tokens")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A later start with another value keeps the tokens the store has.
    let mut later = Options::new(&[]);
    later.tune_with = Some(std::sync::Arc::new(|c| c.admin_token = Some("b".repeat(40))));
    let (data, project) = s.stop().await;
    let s = restart_from(data, project, &later).await;
    assert_eq!(bearer_client(&given).get(s.url("/api/v1/tokens")).send().await.unwrap().status(), 200);
    let other = bearer_client(&"b".repeat(40)).get(s.url("/api/v1/tokens")).send().await.unwrap();
    assert_eq!(other.status(), 401, "the variable seeds a new store only");
}

#[tokio::test]
async fn a_short_admin_token_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let mut config = onset_server::ServerConfig::new(data.path().to_path_buf());
    config.admin_token = Some("short".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = onset_server::run(config, listener, tokio_util::sync::CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().contains("ONSET_ADMIN_TOKEN has 5 characters"), "{err}");
}
