use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::*;

fn pool() -> ScriptPool {
    ScriptPool::new(1).unwrap()
}

async fn run(pool: &ScriptPool, src: &str, ctx: serde_json::Value) -> Result<ScriptOutput, ScriptError> {
    pool.run(Arc::from(src), &ctx, Limits::default()).await
}

#[tokio::test]
async fn a_script_reads_ctx_and_returns_json() {
    let p = pool();
    let out = run(
        &p,
        "export default (ctx) => ({ words: ctx.event.title.split(' ').length, n: ctx.vars.n + 1 })",
        json!({ "event": { "title": "a b c" }, "vars": { "n": 41 } }),
    )
    .await
    .unwrap();
    assert_eq!(out.value, json!({ "words": 3, "n": 42 }));
    // Promises are awaited; undefined is null; console goes to the logs.
    let out = run(&p, "export default async (ctx) => { console.log('hi', 1, true); console.warn('careful'); await null; return ctx.x * 2 }",
        json!({ "x": 21 })).await.unwrap();
    assert_eq!(out.value, json!(42));
    assert_eq!(out.logs, ["hi 1 true", "warn: careful"]);
    assert_eq!(run(&p, "export default () => undefined", json!({})).await.unwrap().value, json!(null));
}

#[tokio::test]
async fn ctx_is_frozen_and_errors_are_clear() {
    let p = pool();
    let err = run(&p, "'use strict'; export default (ctx) => { ctx.event.x = 1; return 1 }", json!({ "event": {} }))
        .await
        .unwrap_err();
    assert!(matches!(&err, ScriptError::Thrown(m) if m.starts_with("TypeError")), "{err}");
    let err = run(&p, "export default () => { throw new Error('nope') }", json!({})).await.unwrap_err();
    assert_eq!(err, ScriptError::Thrown("Error: nope".into()));
    let err = run(&p, "export default (", json!({})).await.unwrap_err();
    assert!(matches!(&err, ScriptError::Thrown(m) if m.starts_with("SyntaxError")), "{err}");
    assert_eq!(run(&p, "export const x = 1", json!({})).await.unwrap_err(), ScriptError::NoDefaultExport);
    assert!(p.check(Arc::from("export default (ctx) => ctx")).await.is_ok());
    assert!(p.check(Arc::from("export default (")).await.is_err());
}

#[tokio::test]
async fn runaway_scripts_are_stopped_and_the_runtime_keeps_serving() {
    let p = pool();
    let started = Instant::now();
    let err = p
        .run(
            Arc::from("export default () => { while (true) {} }"),
            &json!({}),
            Limits { time: Duration::from_millis(200), ..Limits::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(err, ScriptError::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(2));

    let err = p
        .run(
            Arc::from("export default () => { const a = []; while (true) a.push('x'.repeat(1 << 16)); }"),
            &json!({}),
            Limits { memory_bytes: 16 << 20, time: Duration::from_secs(10) },
        )
        .await
        .unwrap_err();
    assert_eq!(err, ScriptError::Memory(16 << 20));

    // The next script runs normally.
    assert_eq!(run(&p, "export default () => 'ok'", json!({})).await.unwrap().value, json!("ok"));
}

#[tokio::test]
async fn no_file_system_network_or_process() {
    let p = pool();
    for probe in [
        "require('fs')",
        "fetch('http://127.0.0.1/')",
        "std.loadFile('/etc/passwd')",
        "os.exec(['ls'])",
        "process.exit(1)",
    ] {
        let src = format!("export default () => {probe}");
        let err = run(&p, &src, json!({})).await.unwrap_err();
        assert!(matches!(&err, ScriptError::Thrown(m) if m.starts_with("ReferenceError")), "{probe}: {err}");
    }
    let err = run(&p, "import * as std from 'std'; export default () => 1", json!({})).await.unwrap_err();
    assert!(matches!(err, ScriptError::Thrown(_)), "modules cannot be imported");
}

#[tokio::test]
async fn a_warm_call_is_well_under_a_millisecond() {
    let p = pool();
    let src: Arc<str> = Arc::from("export default (ctx) => ({ total: ctx.items.reduce((a, i) => a + i.price, 0) })");
    let ctx = json!({ "items": (0..20).map(|i| json!({ "price": i })).collect::<Vec<_>>() });
    for _ in 0..50 {
        p.run(src.clone(), &ctx, Limits::default()).await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..200 {
        assert_eq!(p.run(src.clone(), &ctx, Limits::default()).await.unwrap().value, json!({ "total": 190 }));
    }
    let per_call = started.elapsed() / 200;
    // Generous bound for a debug build on a busy machine; the benchmark reports the real figure.
    assert!(per_call < Duration::from_millis(5), "{per_call:?}");
}
