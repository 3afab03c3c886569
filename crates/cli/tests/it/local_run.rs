//! `onset run` on the example project: the table, JSON, exit codes and errors a user sees.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use axum::Router;
use axum::routing::post;
use serde_json::Value;

fn shop() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

fn onset_run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onset"))
        .arg("run")
        .args(args)
        .current_dir(shop())
        .env_remove("ONSET_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_run_prints_each_step_and_calls_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = format!("sink=http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, Router::new().route("/", post(|| async { "ok" }))).await });

    let out = tokio::task::spawn_blocking(move || {
        onset_run(
            &[
                "orders",
                "--event",
                "POST /",
                "--payload",
                "samples/order.json",
                "--config",
                "secret=whsec_x",
                "--config",
                &sink,
            ],
            None,
        )
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.starts_with("orders · POST / · succeeded"), "{stdout}");
    assert!(stdout.contains(r#"{"order":"o-1001","total":42.5}"#), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("2.then.0") && l.contains("call") && l.contains("succeeded")),
        "{stdout}"
    );
    assert!(text(&out.stderr).is_empty(), "log steps are in the table, not on stderr: {}", text(&out.stderr));
}

#[test]
fn a_failing_run_exits_1_naming_the_step() {
    let out = onset_run(
        &["orders", "--event", "POST /", "--payload", "-", "--config", "secret=x"],
        Some(r#"{"id": "o-2", "items": []}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the run failed at step 2.else.0: order o-2 has no priced items"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn json_output_has_status_error_and_steps() {
    let out = onset_run(
        &["orders", "--event", "PUT /orders/o-7", "--payload", "-", "--config", "secret=x", "--json"],
        Some(r#"{"status": "shipped"}"#),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "succeeded");
    assert_eq!(doc["channel"], "/orders/{id}");
    assert_eq!(doc["steps"][1]["output"], "order o-7 updated with status shipped");
}

#[test]
fn mistakes_are_explained() {
    let out = onset_run(&["nope", "--event", "POST /", "--payload", "samples/order.json"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no component `nope`") && text(&out.stderr).contains("audit, orders"));

    let out =
        onset_run(&["orders", "--event", "GET /", "--payload", "samples/order.json", "--config", "secret=x"], None);
    assert!(text(&out.stderr).contains("handlers for POST, not GET"), "{}", text(&out.stderr));

    let out =
        onset_run(&["orders", "--event", "POST /", "--payload", "samples/order.json", "--config", "colour=red"], None);
    assert!(
        text(&out.stderr).contains("--config colour: `orders` declares no such key; it has: secret, sink"),
        "{}",
        text(&out.stderr)
    );

    // The trigger's secret is not needed to run a handler locally; config a step uses is.
    let out = onset_run(&["orders", "--event", "POST /", "--payload", "samples/order.json"], None);
    assert!(!text(&out.stderr).contains("config `secret`"), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onset.yaml"), "name: t\n").unwrap();
    std::fs::create_dir(dir.path().join("components")).unwrap();
    std::fs::write(
        dir.path().join("components/notify.yaml"),
        "component: notify\ntrigger: { type: http }\nconfig:\n  channel: { type: string }\nhandlers:\n  /: { POST: { steps: [ { log: \"{{ config.channel }}\" } ] } }\n",
    )
    .unwrap();
    let project = dir.path().to_str().unwrap();
    let out = onset_run(&["notify", "--project", project, "--event", "POST /", "--payload", "-"], Some("{}"));
    let err = text(&out.stderr);
    assert!(
        err.contains("config `channel`")
            && err.contains("pass --config KEY=VALUE or set ONSET_CONFIG__NOTIFY__CHANNEL"),
        "{err}"
    );

    let out = onset_run(&["orders", "--event", "POST /", "--payload", "missing.json", "--config", "secret=x"], None);
    assert!(text(&out.stderr).contains("--payload missing.json: cannot read"), "{}", text(&out.stderr));
}

#[test]
fn validate_reports_every_problem_and_exits_1() {
    let ok = Command::new(env!("CARGO_BIN_EXE_onset")).args(["validate", "--project"]).arg(shop()).output().unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).starts_with("ok: 2 component file(s)"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onset.yaml"), "name: broken\n").unwrap();
    std::fs::create_dir_all(dir.path().join("components")).unwrap();
    std::fs::write(
        dir.path().join("components/a.yaml"),
        "component: a\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - lgo: x\n        - log: \"{{ steps.nope.output }}\"\n",
    )
    .unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_onset")).args(["validate", "--project"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("a.yaml:7:11: unknown step key `lgo`"), "{stdout}");
    assert!(stdout.contains("a.yaml:8:16: `steps.nope` is not a step defined before this one"), "{stdout}");
    assert!(text(&out.stderr).contains("3 problem(s)"), "{}", text(&out.stderr));
}
