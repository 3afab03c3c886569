//! The engine alone: a 10-step handler (map, if, for_each over 20 items, set, switch, log…) run
//! in-process against a 12 KB-shaped event, next to a one-step handler measured in the same run
//! (the fixed cost of a run). Prints µs per run and per executed step.
//!
//! `cargo bench -p onset-engine --bench engine`

use std::hint::black_box;
use std::time::{Duration, Instant};

use onset_engine::{CompiledComponent, NoConnectors, RunInput, from_json};
use serde_json::json;

const TEN_STEPS: &str = r##"
component: bench
trigger: { type: http }
handlers:
  /:
    POST:
      steps:
        - id: issue
          map: { number: "{{ event.issue.number }}", title: "{{ event.issue.title }}", author: "{{ event.sender.login }}" }
        - set: { labels: "{{ event.issue.labels | map(attribute='name') | list }}" }
        - if: "'bug' in vars.labels"
          then:
            - set: { priority: high }
          else:
            - set: { priority: normal }
        - id: lines
          for_each: "{{ event.items }}"
          as: item
          do:
            - map: { sku: "{{ item.sku }}", total: "{{ item.price * item.qty }}" }
        - id: total
          map: "{{ steps.lines.output | map(attribute='total') | sum }}"
        - switch: "vars.priority"
          cases:
            high: [ { set: { channel: "#bugs" } } ]
          default: [ { set: { channel: "#triage" } } ]
        - log: "issue {{ steps.issue.output.number }} ({{ vars.priority }}) totals {{ steps.total.output }}"
          level: debug
        - id: summary
          map: { text: "#{{ steps.issue.output.number }} {{ steps.issue.output.title }}", to: "{{ vars.channel }}" }
        - set: { done: true }
        - map: "{{ steps.summary.output }}"
"##;

const ONE_STEP: &str = "component: one\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - set: { done: true }\n";

fn event() -> serde_json::Value {
    json!({
        "action": "opened",
        "issue": { "number": 1347, "title": "Found a bug", "labels": [{ "name": "bug" }, { "name": "ui" }],
                   "body": "x".repeat(8000) },
        "sender": { "login": "octocat" },
        "items": (0..20).map(|i| json!({ "sku": format!("SKU-{i}"), "price": 2.5, "qty": i })).collect::<Vec<_>>(),
    })
}

fn measure(rt: &tokio::runtime::Runtime, yaml: &str, runs: u32) -> (Duration, usize) {
    let component: onset_model::Component = yaml_serde::from_str(yaml).expect("bench component parses");
    let compiled = CompiledComponent::compile(&component, &json!({}), &NoConnectors).expect("bench component compiles");
    let handler = compiled.handler("/", "POST").expect("handler");
    let event = from_json(&event());
    let meta = from_json(&json!({ "channel": "/", "event": "POST" }));
    let mut steps = 0;
    rt.block_on(async {
        for _ in 0..200 {
            let input = RunInput { event: event.clone(), meta: meta.clone(), attempt: 1, responder: None, trace: None };
            black_box(compiled.run(handler, input, &NoConnectors).await);
        }
    });
    let started = Instant::now();
    rt.block_on(async {
        for _ in 0..runs {
            let input = RunInput { event: event.clone(), meta: meta.clone(), attempt: 1, responder: None, trace: None };
            let outcome = compiled.run(handler, input, &NoConnectors).await;
            assert!(outcome.result.is_ok(), "{:?}", outcome.result);
            steps = outcome.steps.len();
            black_box(outcome);
        }
    });
    (started.elapsed() / runs, steps)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let runs = 5_000;
    let (base, _) = measure(&rt, ONE_STEP, runs);
    let (full, steps) = measure(&rt, TEN_STEPS, runs);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("one-step handler (baseline):   {:8.2} µs per run", us(base));
    println!(
        "10-step handler, {steps} steps run: {:8.2} µs per run, {:.2} µs per step ({:.2} µs per step over the baseline), {:.1}× the baseline",
        us(full),
        us(full) / steps as f64,
        (us(full) - us(base)) / (steps as f64 - 1.0),
        us(full) / us(base)
    );
}
