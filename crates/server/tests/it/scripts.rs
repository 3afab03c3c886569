//! JavaScript steps in a running server, on the real sandbox.

use serde_json::{Value, json};

use crate::support::*;

const SCRIPTED: &str = r#"
component: scripted
trigger: { type: http }
handlers:
  /:
    POST:
      retry: { attempts: 1 }
      steps:
        - id: shaped
          map: { title: "{{ event.title }}" }
        - id: summary
          script: |
            export default async (ctx) => {
              console.log('summarising', ctx.steps.shaped.output.title);
              const words = ctx.steps.shaped.output.title.split(' ');
              if (ctx.event.spin) { while (true) {} }
              return { words: words.length, first: words[0], env: ctx.meta.environment };
            }
        - map: "{{ steps.summary.output.words * 10 }}"
"#;

async fn send(s: &TestServer, body: Value) -> String {
    let r = s.post_json("/hooks/development/scripted", &body).await;
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_script_step_runs_in_the_sandbox_and_its_console_is_recorded() {
    let s = start(&[("scripted.yaml", SCRIPTED)]).await;
    let id = send(&s, json!({ "title": "found a bug today" })).await;
    let run = s.wait_run_status(&id, "succeeded").await;
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[1]["type"], "script");
    assert_eq!(steps[1]["output"], json!({ "words": 4, "first": "found", "env": "development" }));
    assert_eq!(steps[1]["logs"], json!(["summarising found a bug today"]));
    assert_eq!(steps[2]["output"], 40);

    // A runaway script fails its run with a clear error, and the next event's script still runs.
    let spin = send(&s, json!({ "title": "x", "spin": true })).await;
    let run = s.wait_run_status(&spin, "failed").await;
    assert!(run["error"].as_str().unwrap().contains("time limit of 2s"), "{}", run["error"]);
    let again = send(&s, json!({ "title": "still works" })).await;
    let run = s.wait_run_status(&again, "succeeded").await;
    assert_eq!(run["steps"][1]["output"]["words"], 2);
}

#[tokio::test]
async fn script_files_travel_with_the_build() {
    const USES_FILE: &str = "component: fromfile\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - script_file: scripts/double.js\n";
    let mut options = Options::new(&[("fromfile.yaml", USES_FILE)]);
    options.files.push(("scripts/double.js".into(), "export default (ctx) => ctx.event.n * 2\n".into()));
    let s = start_with(options.clone_for_restart()).await;
    let r = s.post_json("/hooks/development/fromfile", &json!({ "n": 21 })).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let first = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(first["steps"][0]["output"], 42);

    // The same files keep the deployment; a changed script makes a new one.
    let s = s.restart(&options).await;
    let components = s.get("/api/v1/components").await;
    assert_eq!(components["items"][0]["deployment_id"], first["deployment_id"]);
    std::fs::write(s.project_dir().join("components/scripts/double.js"), "export default (ctx) => ctx.event.n * 3\n")
        .unwrap();
    let s = s.restart(&options).await;
    let r = s.post_json("/hooks/development/fromfile", &json!({ "n": 21 })).await;
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let second = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(second["steps"][0]["output"], 63);
    assert_ne!(second["deployment_id"], first["deployment_id"]);
}

#[tokio::test]
async fn a_script_that_does_not_compile_stops_the_deploy() {
    let broken = "component: broken\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - if: \"true\"\n          then:\n            - script: \"export default (ctx => ctx\"\n";
    let err = deploy_error(&[("broken.yaml", broken)]).await;
    assert!(err.contains("component `broken`, handler `/ POST`: script: SyntaxError"), "{err}");
    let no_default = "component: nodefault\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - script: \"export const x = 1\"\n";
    let err = deploy_error(&[("nodefault.yaml", no_default)]).await;
    assert!(err.contains("must `export default` a function"), "{err}");
}
