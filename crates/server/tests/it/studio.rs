//! What the web UI uses: the session cookie with CSRF, validation, trial runs, previews,
//! drafts, project files, replays of many runs and skeletons.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::*;

const HOOK: &str = "component: hook\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: \"got {{ event.n }}\" } ] }\n";

/// Signs in with `token`: the `Cookie` header value to send and the CSRF token.
async fn sign_in(s: &TestServer, token: &str) -> (String, String, Value) {
    let r = s.client.post(s.url("/api/v1/session")).json(&json!({ "token": token })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookies: Vec<String> =
        r.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session = cookies.iter().find(|c| c.starts_with("onset_session=")).expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("onset_csrf=")).expect("a CSRF cookie");
    assert!(!csrf_cookie.contains("HttpOnly"), "the page reads the CSRF cookie: {csrf_cookie}");
    let body: Value = r.json().await.unwrap();
    let pair = |c: &String| c.split(';').next().unwrap().to_string();
    (format!("{}; {}", pair(session), pair(csrf_cookie)), body["csrf_token"].as_str().unwrap().to_string(), body)
}

#[tokio::test]
async fn a_session_cookie_signs_in_and_writes_need_its_csrf_token() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let (cookie, csrf, body) = sign_in(&s, &s.admin_token).await;
    assert_eq!(
        (body["name"].as_str(), body["role"].as_str(), body["mode"].as_str()),
        (Some("admin"), Some("admin"), Some("project"))
    );
    assert_eq!(body["environments"], json!(["development", "production"]));
    // The token itself is nowhere in the cookies.
    assert!(!cookie.contains(&s.admin_token));

    let who = s.client.get(s.url("/api/v1/session")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(who.status(), 200);
    assert_eq!(who.json::<Value>().await.unwrap()["csrf_token"], json!(csrf));
    assert_eq!(s.client.get(s.url("/api/v1/events")).header(COOKIE, &cookie).send().await.unwrap().status(), 200);

    // A change with the cookie alone (what a cross-site form would send) is refused.
    let pause = |csrf: Option<&str>| {
        let mut r = s.client.post(s.url("/api/v1/components/hook/pause")).header(COOKIE, &cookie);
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    let r = pause(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf_failed");
    assert_eq!(pause(Some("not-the-token")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(s.get("/api/v1/components/hook").await["paused"] != json!(true), "nothing was paused");
    assert_eq!(pause(Some(&csrf)).await.unwrap().status(), 200);
    assert_eq!(s.get("/api/v1/components/hook").await["paused"], json!(true));

    // A tampered cookie, an unknown token, and signing out.
    let tampered = cookie.replacen("onset_session=", "onset_session=00", 1);
    let r = s.client.get(s.url("/api/v1/events")).header(COOKIE, tampered).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "session_expired");
    let r = s.client.post(s.url("/api/v1/session")).json(&json!({ "token": "onset_wrong" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let out = s.client.delete(s.url("/api/v1/session")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<_> = out.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2, "{cleared:?}");
}

#[tokio::test]
async fn a_viewer_session_reads_and_a_revoked_token_ends_its_sessions() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let r = s.post_json("/api/v1/tokens", &json!({ "name": "wall", "role": "viewer" })).await;
    let created: Value = r.json().await.unwrap();
    let (cookie, csrf, body) = sign_in(&s, created["token"].as_str().unwrap()).await;
    assert_eq!(body["role"], "viewer");
    assert_eq!(s.client.get(s.url("/api/v1/runs")).header(COOKIE, &cookie).send().await.unwrap().status(), 200);
    let r = s
        .client
        .put(s.url("/api/v1/drafts/hook"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "text": "component: hook\n" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a viewer changes nothing");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");
    let id = created["id"].as_str().unwrap();
    assert_eq!(s.api.delete(s.url(&format!("/api/v1/tokens/{id}"))).send().await.unwrap().status(), 200);
    let r = s.client.get(s.url("/api/v1/runs")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "revoking the token ends the session");
}

const ISSUES: &str = r#"# triage: kept through every edit
component: triage
trigger:
  type: github
  with: { secret: "{{ config.webhook_secret }}" }
config:
  webhook_secret: { type: secret }
  threshold: { type: integer, default: 3 }
handlers:
  IssuesService:
    onOpened:
      steps:
        - id: title
          set: { title: "{{ event.issue.title }}" }
        - if: "event.issue.number > config.threshold"
          then:
            - log: "big #{{ event.issue.number }}"
          else:
            - fail: "small #{{ event.issue.number }}"
"#;

#[tokio::test]
async fn validate_and_try_a_source_that_is_not_deployed() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let r = s.post_json("/api/v1/validate", &json!({ "source": ISSUES })).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "problems": [] }));
    let broken = ISSUES.replace("onOpened:", "onOpenned:");
    let v: Value = s.post_json("/api/v1/validate", &json!({ "source": broken })).await.json().await.unwrap();
    let p = &v["problems"][0];
    assert_eq!((p["file"].as_str(), p["line"].as_u64()), (Some("components/triage.yaml"), Some(11)), "{v}");
    assert!(p["message"].as_str().unwrap().contains("onOpened"), "the fix is named: {v}");

    let try_it = |number: i64| {
        s.api
            .post(s.url("/api/v1/try"))
            .json(&json!({
                "source": ISSUES, "event": "IssuesService.onOpened",
                "payload": { "issue": { "number": number, "title": "Crash" } },
                "config": { "threshold": "5" },
            }))
            .send()
    };
    let r: Value = try_it(7).await.unwrap().json().await.unwrap();
    assert_eq!(
        (r["status"].as_str(), r["handler"].as_str()),
        (Some("succeeded"), Some("IssuesService.onOpened")),
        "{r}"
    );
    let paths: Vec<_> = r["steps"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["0", "1", "1.then.0"], "{r}");
    assert_eq!(r["steps"][0]["output"], json!({ "title": "Crash" }));
    assert_eq!(r["steps"][2]["output"], json!("big #7"), "{r}");
    let r: Value = try_it(2).await.unwrap().json().await.unwrap();
    assert_eq!((r["status"].as_str(), r["error_step"].as_str()), (Some("failed"), Some("1.else.0")), "{r}");
    assert!(r["error"].as_str().unwrap().contains("small #2"));
    // Nothing was stored.
    assert_eq!(s.get("/api/v1/events").await["items"], json!([]));
    assert_eq!(s.get("/api/v1/runs").await["items"], json!([]));

    let r = s.post_json("/api/v1/try", &json!({ "source": broken, "event": "IssuesService.onOpened" })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = s.post_json("/api/v1/try", &json!({ "source": ISSUES, "event": "IssuesService.onClosed" })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("no handler"));

    let v: Value = s
        .post_json(
            "/api/v1/expressions/preview",
            &json!({ "text": "#{{ event.issue.number }}: {{ event.issue.title | upper }}", "event": { "issue": { "number": 7, "title": "Crash" } } }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({ "value": "#7: CRASH", "error": null }));
}

#[tokio::test]
async fn drafts_keep_the_text_and_refuse_a_stale_save() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let r = s.api.get(s.url("/api/v1/drafts/triage")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "no_draft");
    let put = |text: &str, base: Option<i64>| {
        s.api.put(s.url("/api/v1/drafts/triage")).json(&json!({ "text": text, "base_revision": base })).send()
    };
    let r: Value = put(ISSUES, Some(0)).await.unwrap().json().await.unwrap();
    assert_eq!((r["revision"].as_i64(), r["updated_by"].as_str()), (Some(1), Some("admin")));
    let half_typed = format!("{ISSUES}        - log: [unclosed\n");
    assert_eq!(put(&half_typed, Some(1)).await.unwrap().status(), 200, "work in progress is kept, valid or not");
    let r = put("component: triage\n", Some(1)).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "draft_changed");
    let got = s.get("/api/v1/drafts/triage").await;
    assert_eq!((got["text"].as_str(), got["revision"].as_i64()), (Some(half_typed.as_str()), Some(2)));
    assert_eq!(s.api.get(s.url("/api/v1/drafts/Not%20a%20name")).send().await.unwrap().status(), 400);
    let list = s.get("/api/v1/drafts").await;
    assert_eq!(list["items"][0]["component"], "triage");
    assert_eq!(list["items"][0]["revision"], 2);
    assert!(list["items"][0].get("text").is_none());
}

#[tokio::test]
async fn project_files_are_read_and_written_inside_the_project_only() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let list = s.get("/api/v1/project/files").await;
    let paths: Vec<_> = list["items"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["components/hook.yaml", "onset.yaml"]);
    let file = s.get("/api/v1/project/files/components/hook.yaml").await;
    assert_eq!(file["text"], HOOK);
    let sha = file["sha256"].as_str().unwrap().to_string();

    let edited = format!("# a comment kept\n{HOOK}");
    let put = |path: &str, body: Value| s.api.put(s.url(&format!("/api/v1/project/files/{path}"))).json(&body).send();
    let r = put("components/hook.yaml", json!({ "text": edited, "base_sha256": sha })).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(std::fs::read_to_string(s.project_dir().join("components/hook.yaml")).unwrap(), edited);
    let r = put("components/hook.yaml", json!({ "text": "x", "base_sha256": sha })).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "it changed since that version");
    assert_eq!(std::fs::read_to_string(s.project_dir().join("components/hook.yaml")).unwrap(), edited);
    let r = put("scripts/new.js", json!({ "text": "return 1;\n" })).await.unwrap();
    assert_eq!(r.status(), 200, "new files and directories are made");
    assert!(s.project_dir().join("scripts/new.js").is_file());

    for bad in ["..%2Fescape.yaml", ".git/config", "components/..%2F..%2Fx"] {
        let r = put(bad, json!({ "text": "x" })).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_path", "{bad}");
    }
    assert!(!s.project_dir().parent().unwrap().join("escape.yaml").exists());
    let r = s.api.get(s.url("/api/v1/project/files/components/none.yaml")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_a_project_files_are_refused_and_drafts_are_the_place() {
    let mut options = Options::new(&[]);
    options.tune = Some(|c| c.project = None);
    let s = start_with(options).await;
    let r = s.api.get(s.url("/api/v1/project/files")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "no_project");
    assert_eq!(s.get("/api/v1/session").await["mode"], "server");
}

#[tokio::test]
async fn many_runs_are_replayed_by_run_or_event_id() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let mut ids = Vec::new();
    let mut mid = jiff::Timestamp::now();
    for n in 0..2 {
        let r: Value = s
            .client
            .post(s.url("/hooks/development/hook"))
            .json(&json!({ "n": n }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["event_id"].as_str().unwrap().to_string();
        s.wait_run_status(&id, "succeeded").await;
        ids.push(id);
        if n == 0 {
            // A moment between the first event's run and everything after it.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            mid = jiff::Timestamp::now();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let first_run = s.get(&format!("/api/v1/events/{}", ids[0])).await["runs"][0]["id"].as_str().unwrap().to_string();
    let r = s.post_json("/api/v1/runs/replay", &json!({ "ids": [first_run, ids[0], ids[1], "nope"] })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    let replayed: Vec<_> = v["replayed"].as_array().unwrap().iter().map(|r| r["event_id"].as_str().unwrap()).collect();
    assert_eq!(replayed, [ids[0].as_str(), ids[1].as_str()], "a run and its event replay it once: {v}");
    assert_eq!(v["skipped"], json!([{ "id": "nope", "code": "unknown_id", "message": "no run or event `nope`" }]));
    for id in &ids {
        s.wait_event(id, |e| e["runs"].as_array().unwrap().len() == 2).await;
    }
    // A time window (ids are UUIDv7, so it is an id range): only the first run is before `mid`.
    let s = &s;
    let count = |q: String| async move { s.get(&format!("/api/v1/runs?{q}")).await["items"].as_array().unwrap().len() };
    assert_eq!(count("from=2000-01-01T00:00:00Z".into()).await, 4);
    assert_eq!(count("to=2000-01-01T00:00:00Z".into()).await, 0);
    assert_eq!(count("from=2999-01-01T00:00:00Z".into()).await, 0);
    assert_eq!(count(format!("from={mid}")).await, 3, "all but the first run");
    assert_eq!(count(format!("to={mid}&component=hook")).await, 1, "only the first");
    let r = s.api.get(s.url("/api/v1/runs?from=yesterday")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_time");

    let r = s.post_json("/api/v1/runs/replay", &json!({ "ids": [] })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_skeleton_is_what_onset_new_writes() {
    let s = start(&[("hook.yaml", HOOK)]).await;
    let v = s.get("/api/v1/catalog/github/skeleton?name=triage&channel=IssuesService").await;
    assert_eq!(v["path"], "components/triage.yaml");
    let source = v["source"].as_str().unwrap();
    assert!(source.starts_with("# Made by `onset new triage --trigger github --channel IssuesService`"), "{source}");
    assert!(source.contains("    onOpened:\n      steps:\n"), "{source}");
    assert!(v["samples"]["IssuesService.onOpened"]["issue"]["number"].is_number());
    let r: Value = s.post_json("/api/v1/validate", &json!({ "source": source })).await.json().await.unwrap();
    assert_eq!(r["problems"], json!([]), "a skeleton is valid as it is");
    let r = s.api.get(s.url("/api/v1/catalog/github/skeleton?name=triage&channel=Nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("has no channel `Nope`"));
}
