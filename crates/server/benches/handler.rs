//! The engine with the real script runner: a 10-step handler (map, set, if, for_each over 20
//! items, map, switch, script, log, set, map) run in-process, reporting µs per run, and per step
//! from the run's own step records: non-script steps and the JS step separately.
//!
//! `cargo bench -p onset-server --bench handler`

use std::time::Instant;

use onset_connectors::{HttpConnector, Registry};
use onset_engine::{CompiledComponent, RunInput, from_json};
use serde_json::json;

const HANDLER: &str = r##"
component: bench
trigger: { type: http }
handlers:
  /:
    POST:
      steps:
        - id: issue
          map: { number: "{{ event.issue.number }}", title: "{{ event.issue.title }}" }
        - set: { labels: "{{ event.issue.labels | map(attribute='name') | list }}" }
        - if: "'bug' in vars.labels"
          then: [ { set: { priority: high } } ]
          else: [ { set: { priority: normal } } ]
        - id: lines
          for_each: "{{ event.items }}"
          do:
            - map: { sku: "{{ item.sku }}", total: "{{ item.price * item.qty }}" }
        - id: total
          map: "{{ steps.lines.output | map(attribute='total') | sum }}"
        - switch: "vars.priority"
          cases: { high: [ { set: { channel: "#bugs" } } ] }
          default: [ { set: { channel: "#triage" } } ]
        - id: words
          script: |
            export default (ctx) => ({ words: ctx.steps.issue.output.title.split(' ').length, bug: ctx.vars.labels.includes('bug') })
        - log: "issue {{ steps.issue.output.number }} has {{ steps.words.output.words }} words"
          level: debug
        - set: { done: true }
        - map: { to: "{{ vars.channel }}", total: "{{ steps.total.output }}" }
"##;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let scripts = onset_script::ScriptPool::new(1).expect("script pool");
    let connectors = Registry::new(HttpConnector::new(Default::default()).expect("http"))
        .with_scripts(scripts, onset_script::Limits::default());
    let component: onset_model::Component = yaml_serde::from_str(HANDLER).expect("parses");
    let compiled = CompiledComponent::compile(&component, &json!({}), &connectors).expect("compiles");
    let handler = compiled.handler("/", "POST").expect("handler");
    let event = from_json(&json!({
        "issue": { "number": 1347, "title": "Found a bug in the widget", "labels": [{ "name": "bug" }], "body": "x".repeat(8000) },
        "items": (0..20).map(|i| json!({ "sku": format!("SKU-{i}"), "price": 2.5, "qty": i })).collect::<Vec<_>>(),
    }));
    let meta = from_json(&json!({ "channel": "/", "event": "POST" }));
    let run = || {
        let input = RunInput { event: event.clone(), meta: meta.clone(), attempt: 1, responder: None, trace: None };
        rt.block_on(compiled.run(handler, input, &connectors))
    };
    for _ in 0..300 {
        assert!(run().result.is_ok());
    }
    let runs = 3_000;
    let (mut script_ms, mut other_ms, mut other_steps, mut script_steps) = (0.0, 0.0, 0usize, 0usize);
    let started = Instant::now();
    for _ in 0..runs {
        let outcome = run();
        for s in &outcome.steps {
            // Containers (if, for_each, switch) include their children's time: count leaves only.
            if matches!(s.kind, "if" | "for_each" | "switch") {
                continue;
            }
            if s.kind == "script" {
                script_ms += s.duration_ms;
                script_steps += 1;
            } else {
                other_ms += s.duration_ms;
                other_steps += 1;
            }
        }
    }
    let per_run = started.elapsed().as_secs_f64() * 1e6 / runs as f64;
    println!("10-step handler with a JS step: {per_run:8.1} µs per run");
    println!(
        "  non-script steps: {:6.2} µs per step ({} per run)",
        other_ms * 1000.0 / other_steps as f64,
        other_steps / runs
    );
    println!("  JS step:          {:6.1} µs per step", script_ms * 1000.0 / script_steps as f64);
}
