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

#[test]
fn provider_handler_names_and_settings_are_checked() {
    let text = "component: gh
trigger:
  type: github
  with: { secret: s, repo: acme/widgets }
handlers:
  IssuesService:
    onOpened: { steps: [ { log: ok } ] }
    onOpend: { steps: [ { log: x } ] }
  IssueService:
    onOpened: { steps: [ { log: x } ] }
  ReleaseService:
    onPreReleased: { steps: [ { log: alias } ] }
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("gh.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("gh.yaml:4:") && found[0].contains("repo"), "{}", found[0]);
    assert!(found[1].starts_with("gh.yaml:8:5") && found[1].contains("has no event `onOpend`"), "{}", found[1]);
    assert!(found[2].starts_with("gh.yaml:9:3") || found[2].starts_with("gh.yaml:10:5"), "{}", found[2]);
    assert!(found[2].contains("no channel `IssueService`"), "{}", found[2]);
}

#[test]
fn retention_takes_durations_with_a_unit() {
    let text = "component: r
trigger: { type: http }
retention: { succeeded: 7d, failed: 30, kept: 1h }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("r.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("r.yaml:3:37: `retention.failed` needs a unit"), "{found:#?}");
    assert!(found[1].starts_with("r.yaml:3:41: unknown key `kept` in `retention`"), "{found:#?}");
}
