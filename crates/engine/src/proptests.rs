//! Property tests: whatever expressions and step trees a user writes, compiling and running
//! them ends in a result or an error, never a panic or a hang.

use proptest::prelude::*;
use serde_json::{Value as Json, json};

use crate::{CompiledComponent, NoConnectors, RunInput, from_json};

/// Pieces of the expression language, combined at random (most combinations are invalid).
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "event",
        "vars",
        "steps",
        "meta",
        "config",
        "item",
        "loop",
        ".",
        "[",
        "]",
        "(",
        ")",
        "0",
        "1",
        "-3",
        "2.5",
        "'a'",
        "\"b\"",
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "**",
        "~",
        "==",
        "!=",
        "<",
        ">",
        "and",
        "or",
        "not",
        "in",
        "is",
        "defined",
        "none",
        "true",
        "|",
        "length",
        "upper",
        "map",
        "attribute='x'",
        "sum",
        "join",
        "list",
        "tojson",
        "fromjson",
        "b64decode",
        "sha256",
        "items",
        "range",
        "if",
        "else",
        ",",
        ":",
        "{",
        "}",
        "x",
        "items",
        "n",
        "output",
        "  ",
    ])
}

fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..14).prop_map(|t| t.join(" "))
}

/// Grammatical expressions over the scope's names: they compile, and then succeed or fail at run
/// time (undefined names, type errors, division by zero) — the paths a run must survive.
fn grammatical() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "x",
        "n",
        "items",
        "s",
        "1",
        "0",
        "'a'",
        "vars.a",
        "event.x",
        "n[0]",
        "items[1].x",
        "none",
        "true",
        "steps",
        "item",
        "loop.index",
        "meta",
    ])
    .prop_map(str::to_string);
    atom.prop_recursive(4, 32, 3, |inner| {
        let op = prop::sample::select(vec!["+", "-", "*", "/", "==", "!=", "<", ">", "and", "or", "in", "~", "%"]);
        let filter = prop::sample::select(vec![
            "length",
            "upper",
            "list",
            "sum",
            "tojson",
            "first",
            "join(',')",
            "map(attribute='x')",
            "fromjson",
            "b64encode",
            "int",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            (inner.clone(), filter).prop_map(|(a, f)| format!("({a}) | {f}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("[{a}, 1]")),
        ]
    })
}

fn scope() -> Json {
    json!({ "x": 1, "n": [1, 2, 3], "items": [{ "x": 1 }, { "x": "two" }], "s": "text" })
}

/// A template string: literal text, an expression in `{{ }}`, or both (mostly grammatical, now
/// and then token soup).
fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => grammatical().prop_map(|e| format!("{{{{ {e} }}}}")),
        2 => (grammatical(), "[a-z ]{0,8}").prop_map(|(e, t)| format!("{t}{{{{ {e} }}}}")),
        1 => expression().prop_map(|e| format!("{{{{ {e} }}}}")),
        1 => "[a-z ]{0,12}",
    ]
}

/// A random step tree as JSON (the YAML data model), nested a few levels.
fn steps() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        template().prop_map(|t| json!({ "log": t })),
        (template(), template()).prop_map(|(a, b)| json!({ "set": { "a": a, "b": b } })),
        template().prop_map(|t| json!({ "map": { "k": t, "list": [t, 1] } })),
        template().prop_map(|t| json!({ "fail": t })),
        (template(), any::<bool>())
            .prop_map(|(t, cont)| json!({ "map": t, "on_error": if cont { "continue" } else { "fail" } })),
    ];
    let step = leaf.prop_recursive(3, 24, 4, |inner| {
        let list = prop::collection::vec(inner, 0..4).prop_map(Json::Array);
        prop_oneof![
            (grammatical(), list.clone(), list.clone()).prop_map(|(c, t, e)| json!({ "if": c, "then": t, "else": e })),
            (template(), list.clone()).prop_map(|(items, body)| json!({ "for_each": items, "as": "item", "do": body })),
            (grammatical(), list.clone(), list.clone())
                .prop_map(|(v, a, d)| json!({ "switch": v, "cases": { "1": a, "text": d.clone() }, "default": d })),
            (template(), list).prop_map(|(t, handler)| json!({ "map": t, "on_error": handler })),
        ]
    });
    prop::collection::vec(step, 1..5).prop_map(Json::Array)
}

fn run_steps(steps: Json, event: Json) {
    let doc = json!({
        "component": "p", "trigger": { "type": "http" },
        "handlers": { "/": { "POST": { "steps": steps } } },
    });
    let Ok(component) = serde_json::from_value::<onset_model::Component>(doc) else { return };
    let Ok(compiled) = CompiledComponent::compile(&component, &json!({ "x": 1 }), &NoConnectors) else { return };
    let handler = compiled.handler("/", "POST").expect("the handler was compiled");
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let input =
        RunInput { event: from_json(&event), meta: from_json(&json!({})), attempt: 1, responder: None, trace: None };
    let outcome = rt.block_on(compiled.run(handler, input, &NoConnectors));
    // Whatever happened is recorded: every step has a path and a status.
    for record in &outcome.steps {
        assert!(!record.path.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn expressions_never_panic(src in expression()) {
        let mut c = onset_expr::Compiler::new();
        if let Ok(id) = c.expression(&src)
            && let Ok(program) = c.finish()
        {
            let _ = program.eval_expr(id, &from_json(&scope()));
        }
    }

    #[test]
    fn templates_never_panic(src in template()) {
        let mut c = onset_expr::Compiler::new();
        if let Ok(compiled) = c.string(&src)
            && let Ok(program) = c.finish()
        {
            let _ = program.eval(&compiled, &from_json(&scope()));
        }
    }

    #[test]
    fn grammatical_expressions_never_panic(src in grammatical()) {
        let mut c = onset_expr::Compiler::new();
        let id = c.expression(&src).expect("grammatical expressions compile");
        let program = c.finish().expect("and finish");
        let _ = program.eval_expr(id, &from_json(&scope()));
    }

    #[test]
    fn step_trees_never_panic(tree in steps()) {
        run_steps(tree, scope());
    }
}
