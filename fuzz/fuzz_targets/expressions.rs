//! Any text as a template or expression: compiling and evaluating it against a small scope ends
//! in a value or an error (fuel bounds the work), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if src.len() > 4096 {
        return;
    }
    let scope = onset_expr::from_json(&serde_json::json!({
        "event": { "a": 1, "list": [1, 2, 3], "s": "text", "nested": { "x": [ { "y": null } ] } },
        "vars": {}, "steps": {}, "config": { "k": "v" },
    }));
    let mut c = onset_expr::Compiler::new();
    let template = c.string(src);
    let expression = c.expression(src);
    if let Ok(program) = c.finish() {
        if let Ok(t) = template {
            let _ = program.eval(&t, &scope);
        }
        if let Ok(e) = expression {
            let _ = program.eval_expr(e, &scope);
        }
    }
    let _ = onset_expr::names(src, true);
    let _ = onset_expr::names(src, false);
});
