//! `onset run`: prints a local run as a table (or JSON) and exits 1 when it failed.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;

use onset_server::{LocalRunRequest, run_local};
use serde_json::{Value, json};

const OUTPUT_WIDTH: usize = 72;

fn read_payload(path: &PathBuf) -> Result<Value, String> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("--payload -: cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("--payload {}: cannot read: {e}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| format!("--payload {}: not JSON: {e}", path.display()))
}

fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= OUTPUT_WIDTH {
        one_line
    } else {
        one_line.chars().take(OUTPUT_WIDTH - 1).collect::<String>() + "…"
    }
}

pub async fn run(
    component: String,
    project: PathBuf,
    event: String,
    payload: PathBuf,
    config: Vec<String>,
    as_json: bool,
) -> Result<(), String> {
    let payload = read_payload(&payload)?;
    let mut pairs = Vec::new();
    for item in config {
        let (k, v) = item.split_once('=').ok_or_else(|| format!("--config {item}: write key=value"))?;
        pairs.push((k.trim().to_string(), v.to_string()));
    }
    let config_env: HashMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("ONSET_CONFIG__")).collect();
    let request = LocalRunRequest { component, event, payload, config: pairs, config_env };
    let run = run_local(&project, request).await.map_err(|errs| errs.join("\n"))?;

    let failure = run.outcome.result.as_ref().err();
    if as_json {
        let steps: Vec<Value> = run
            .outcome
            .steps
            .iter()
            .map(|s| {
                let parse = |t: &Option<String>| t.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
                json!({
                    "path": s.path, "id": s.id, "name": s.name, "type": s.kind, "status": s.status.as_str(),
                    "input": parse(&s.input), "output": parse(&s.output), "error": s.error, "duration_ms": s.duration_ms,
                })
            })
            .collect();
        let doc = json!({
            "component": run.component, "channel": run.channel, "event": run.event,
            "status": if failure.is_some() { "failed" } else { "succeeded" },
            "error": failure.map(|f| json!({ "step": f.step, "message": f.message, "retryable": f.retryable })),
            "duration_ms": run.duration_ms, "steps": steps,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let status = if failure.is_some() { "failed" } else { "succeeded" };
        println!("{} · {} · {status} in {:.2} ms", run.component, run.handler, run.duration_ms);
        let width = run.outcome.steps.iter().map(|s| s.path.len()).max().unwrap_or(4).max(4);
        println!("{:<width$}  {:<8}  {:<9}  {:>8}  OUTPUT", "STEP", "TYPE", "STATUS", "MS");
        for s in &run.outcome.steps {
            let shown = match (&s.error, &s.output) {
                (Some(e), _) => format!("error: {e}"),
                (None, Some(o)) => o.clone(),
                (None, None) => String::new(),
            };
            println!(
                "{:<width$}  {:<8}  {:<9}  {:>8.2}  {}",
                s.path,
                s.kind,
                s.status.as_str(),
                s.duration_ms,
                short(&shown)
            );
        }
    }
    match failure {
        Some(f) => Err(format!("the run failed at step {}: {}", f.step, f.message)),
        None => Ok(()),
    }
}
