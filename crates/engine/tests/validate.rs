//! Golden test of `onset validate`'s findings on a file with many kinds of error.

use std::path::Path;

struct Ops;

impl onset_engine::Connectors for Ops {
    fn knows(&self, op: &str) -> bool {
        op == "http.request"
    }
    fn call<'a>(
        &'a self,
        _: &'a str,
        _: serde_json::Value,
        _: Option<serde_json::Value>,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async { Ok(serde_json::Value::Null) })
    }
    fn runs_scripts(&self) -> bool {
        true
    }
}

#[test]
fn every_problem_in_one_pass() {
    let path = Path::new("tests/golden/many_errors.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let found: Vec<String> =
        onset_engine::validate_component(path, &text, &Ops).iter().map(ToString::to_string).collect();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/many_errors.txt");
    if std::env::var_os("ONSET_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, found.join("\n") + "\n").unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        found.join("\n") + "\n",
        expected,
        "regenerate with ONSET_UPDATE_GOLDEN=1 after checking the new output"
    );
}

#[test]
fn the_example_components_are_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/components");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let problems = onset_engine::validate_component(&path, &text, &Ops);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
}
