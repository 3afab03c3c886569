//! A JavaScript step after warm-up: one call with a realistic ctx (a 20-item event plus vars and
//! step outputs), next to a call of an empty function measured in the same run.
//!
//! `cargo bench -p onset-script --bench script`

use std::sync::Arc;
use std::time::{Duration, Instant};

use onset_script::{Limits, ScriptPool};
use serde_json::json;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let pool = ScriptPool::new(1).expect("pool");
    let ctx = json!({
        "event": { "issue": { "title": "Found a bug in the widget", "labels": [{ "name": "bug" }], "body": "x".repeat(8000) },
                   "items": (0..20).map(|i| json!({ "sku": format!("SKU-{i}"), "price": 2.5, "qty": i })).collect::<Vec<_>>() },
        "meta": { "channel": "/", "event": "POST" }, "config": {}, "vars": { "priority": "high" },
        "steps": { "issue": { "output": { "number": 1347 } } },
    });
    let step: Arc<str> = Arc::from(
        "export default (ctx) => ({ words: ctx.event.issue.title.split(' ').length, \
         total: ctx.event.items.reduce((a, i) => a + i.price * i.qty, 0), bug: ctx.event.issue.labels.some(l => l.name === 'bug') })",
    );
    let empty: Arc<str> = Arc::from("export default () => null");
    let measure = |src: &Arc<str>, ctx: &serde_json::Value| -> Duration {
        rt.block_on(async {
            for _ in 0..200 {
                pool.run(src.clone(), ctx, Limits::default()).await.expect("warm-up");
            }
            let runs = 2_000;
            let started = Instant::now();
            for _ in 0..runs {
                pool.run(src.clone(), ctx, Limits::default()).await.expect("run");
            }
            started.elapsed() / runs
        })
    };
    let base = measure(&empty, &json!({}));
    let full = measure(&step, &ctx);
    println!("empty script, empty ctx (baseline): {:7.1} µs per call", base.as_secs_f64() * 1e6);
    println!(
        "step script, realistic ctx:         {:7.1} µs per call ({:.1}× the baseline)",
        full.as_secs_f64() * 1e6,
        full.as_secs_f64() / base.as_secs_f64()
    );
}
