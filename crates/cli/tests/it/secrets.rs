//! A secret config value never leaves the process in plaintext: not in its log (text or JSON),
//! not in the data directory, not in any answer of the control plane, whatever a handler does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{onset, serve};

/// From the environment (never stored).
const API_KEY: &str = "sk_live_4f9a1c2e7b3d";
/// Set with `onset config set` (sealed in the data directory).
const TOKEN: &str = "xoxb-secret-\"quoted\"-token";

const COMPONENT: &str = r#"
component: leaky
trigger: { type: http }
config:
  api_key: { type: secret }
  token: { type: secret }
  sink: { type: string }
handlers:
  "/":
    POST:
      retry: { attempts: 2, initial: 10ms, max: 20ms }
      steps:
        - log: "key is {{ config.api_key }} and the token is {{ config.token }}"
        - log: "as an error: {{ config.api_key }}"
          level: error
        - id: shaped
          map: { key: "{{ config.api_key }}", nested: { token: "{{ config.token }}" } }
        - set: { k: "{{ config.api_key }}" }
        - call: http.request
          with:
            method: POST
            url: "{{ config.sink }}"
            headers: { x-key: "{{ config.api_key }}" }
            body: "{{ steps.shaped.output }}"
        - script: |
            export default (ctx) => { console.log("js sees " + ctx.config.api_key); return { k: ctx.config.token } }
        - fail: "failing with {{ config.api_key }} / {{ vars.k }} / {{ config.token }}"
"#;

/// A sink that answers 200 to anything (the handler's call must succeed to reach later steps)
/// and keeps every body: it is the OTLP receiver too.
async fn sink() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let app = axum::Router::new().fallback(axum::routing::any(move |body: axum::body::Bytes| {
        let keep = keep.clone();
        async move {
            keep.lock().unwrap().extend_from_slice(&body);
            "ok"
        }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files_under(&path, out) } else { out.push(path) }
    }
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [API_KEY, TOKEN, r#"xoxb-secret-\"quoted\"-token"#] {
        assert!(!text.contains(secret), "{what} contains a secret value:\n{}", &text[..text.len().min(4000)]);
    }
}

async fn secrets_stay_out(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("components")).unwrap();
    std::fs::write(project.join("onset.yaml"), "name: secrets\n").unwrap();
    std::fs::write(project.join("components/leaky.yaml"), COMPONENT).unwrap();
    let (receiver, received) = sink().await;
    let (sink, _) = sink().await;
    let otlp = format!("http://{receiver}");

    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (server, base) = serve(dir.path(), &["--no-watch", "--log-format", format, "--otlp-endpoint", &otlp], |c| {
        c.env("ONSET_LOG", "debug")
            .env("ONSET_CONFIG__LEAKY__API_KEY", API_KEY)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
    });

    let sink_url = format!("sink=http://{sink}/");
    let token_arg = format!("token={TOKEN}");
    let out = onset(
        dir.path(),
        &["config", "set", "leaky", &token_arg, &sink_url, "--env", "development", "--server", &base],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let project_arg = project.to_string_lossy().into_owned();
    let out = onset(dir.path(), &["deploy", "--project", &project_arg, "--server", &base]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_clean("onset deploy's output", &[out.stdout, out.stderr].concat());

    onset_server::install_crypto_provider();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/hooks/development/leaky"))
        .json(&serde_json::json!({"hi": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();

    let admin = std::fs::read_to_string(dir.path().join(".onset/admin-token")).unwrap();
    let api = |path: String| {
        let client = client.clone();
        let (admin, base) = (admin.clone(), base.clone());
        async move {
            let r = client.get(format!("{base}{path}")).bearer_auth(admin.trim()).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.text().await.unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let run_id = loop {
        let event: Value = serde_json::from_str(&api(format!("/api/v1/events/{event_id}")).await).unwrap();
        if let Some(run) = event["runs"].as_array().and_then(|r| r.first())
            && run["status"] == "failed"
        {
            break run["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the run did not fail: {event}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let run = api(format!("/api/v1/runs/{run_id}")).await;
    assert!(run.contains("[redacted]"), "the run record shows where secrets were: {run}");
    let mut answers = run;
    for path in [
        format!("/api/v1/events/{event_id}"),
        "/api/v1/events".into(),
        "/api/v1/runs".into(),
        "/api/v1/components".into(),
        "/api/v1/components/leaky?environment=development".into(),
        "/api/v1/config/leaky?environment=development".into(),
        "/api/v1/deployments".into(),
        "/api/v1/audit".into(),
    ] {
        answers.push_str(&api(path).await);
    }
    assert_clean("the control plane's answers", answers.as_bytes());

    // Stop it the usual way, so everything it writes is written.
    let _ = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status();
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let log = std::fs::read(&log_path).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("key is [redacted] and the token is [redacted]"), "the log step's line is there:\n{text}");
    assert!(text.contains("as an error: [redacted]"), "{text}");
    if format == "json" {
        let line = text.lines().find(|l| l.contains("key is [redacted]")).unwrap();
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["span"]["component"], "leaky", "{line}");
    }
    assert_clean("the server's stdout and stderr", &log);
    let spans = received.lock().unwrap().clone();
    assert!(String::from_utf8_lossy(&spans).contains("onset.run_id"), "the run's spans were exported");
    assert_clean("the exported spans", &spans);

    let mut files = Vec::new();
    files_under(&dir.path().join(".onset"), &mut files);
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "db" || e == "sqlite")), "{files:?}");
    for file in files {
        assert_clean(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
}

#[tokio::test]
async fn secrets_stay_out_of_text_logs_the_data_directory_and_the_api() {
    secrets_stay_out("text").await;
}

#[tokio::test]
async fn secrets_stay_out_of_json_logs() {
    secrets_stay_out("json").await;
}
