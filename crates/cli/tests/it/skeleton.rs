//! `onset new` writes a component that validates and runs on its own samples at once;
//! `onset catalog` lists what each trigger type offers.

use std::process::{Command, Output};

use serde_json::Value;

fn onset(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onset")).args(args).current_dir(dir).env_remove("ONSET_LOG").output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn new_writes_a_handler_per_event_with_samples_that_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onset.yaml"), "name: t\n").unwrap();
    let out = ok(&onset(dir.path(), &["new", "pulls", "--trigger", "github", "--channel", "PullRequestService"]));
    assert!(out.contains("wrote"), "{out}");
    let yaml = std::fs::read_to_string(dir.path().join("components/pulls.yaml")).unwrap();
    for event in ["onOpened", "onClosed", "onReviewRequested", "onSynchronize"] {
        assert!(yaml.contains(&format!("    {event}:")), "{event} in\n{yaml}");
    }
    ok(&onset(dir.path(), &["validate"]));
    let sample = "samples/pulls/PullRequestService.onOpened.json";
    let run = ok(&onset(
        dir.path(),
        &[
            "run",
            "pulls",
            "--event",
            "PullRequestService.onOpened",
            "--payload",
            sample,
            "--config",
            "webhook_secret=dev",
            "--json",
        ],
    ));
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    let line = run["steps"][0]["output"].as_str().unwrap();
    assert!(line.starts_with("action=opened"), "{line}");

    // Slack and Google skeletons validate too; an unknown channel is named with the choices.
    ok(&onset(dir.path(), &["new", "mentions", "--trigger", "slack", "--channel", "AppService"]));
    ok(&onset(dir.path(), &["new", "meetings", "--trigger", "google-calendar", "--channel", "CalendarService"]));
    ok(&onset(dir.path(), &["new", "nightly", "--trigger", "schedule", "--channel", "ScheduleService"]));
    ok(&onset(dir.path(), &["new", "feed", "--trigger", "poll", "--channel", "PollService"]));
    ok(&onset(dir.path(), &["validate"]));
    let bad = onset(dir.path(), &["new", "x", "--trigger", "github", "--channel", "IssueService"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has no channel `IssueService`"));
}

#[test]
fn catalog_lists_types_and_details_one_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&onset(dir.path(), &["catalog"]));
    for kind in ["http", "github", "slack", "google-calendar"] {
        assert!(out.contains(kind), "{out}");
    }
    let json: Value = serde_json::from_str(&ok(&onset(dir.path(), &["catalog", "google-calendar", "--json"]))).unwrap();
    let events = json["channels"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["sample"].is_object() && e["schema"].is_object()));
}

#[test]
fn catalog_lists_connector_operations_and_validate_checks_calls_against_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&onset(dir.path(), &["catalog", "connectors"]));
    assert!(out.contains("http.request  [account: http, optional]"), "{out}");
    assert!(out.contains("with: url (string, required), method (string)"), "{out}");
    let json: Value = serde_json::from_str(&ok(&onset(dir.path(), &["catalog", "connectors", "--json"]))).unwrap();
    let http = json.as_array().unwrap().iter().find(|o| o["name"] == "http.request").unwrap();
    assert!(http["input"]["properties"]["url"].is_object() && http["output"]["properties"]["body"].is_object());

    std::fs::write(dir.path().join("onset.yaml"), "name: calls\n").unwrap();
    std::fs::create_dir_all(dir.path().join("components")).unwrap();
    std::fs::write(
        dir.path().join("components/c.yaml"),
        "component: c\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - call: http.request\n          with: { ur: \"https://example.com\", timeout: 5 }\n",
    )
    .unwrap();
    let out = onset(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("c.yaml:8:17: `with` of `http.request` needs `url`; it takes url (string, required)"),
        "{stdout}"
    );
    assert!(stdout.contains("c.yaml:8:19: `ur` is not an input of `http.request` (did you mean `url`?)"), "{stdout}");
    assert!(
        stdout.contains("c.yaml:8:55: `with.timeout` of `http.request` is a number, expected a string"),
        "{stdout}"
    );
}

#[test]
fn catalog_lists_the_webhook_presets() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&onset(dir.path(), &["catalog", "http", "--presets"]));
    let stripe = out.lines().find(|l| l.starts_with("stripe ")).unwrap_or_else(|| panic!("{out}"));
    assert!(stripe.contains("secret") && stripe.contains("Stripe-Signature") && stripe.contains("5m"), "{stripe}");
    let meta = out.lines().find(|l| l.starts_with("meta ")).unwrap();
    assert!(meta.contains("verify_token") && meta.contains("hub"), "{meta}");
    assert!(out.lines().count() > 35, "{out}");
    let json: Value =
        serde_json::from_str(&ok(&onset(dir.path(), &["catalog", "http", "--presets", "--json"]))).unwrap();
    let discord = json.as_array().unwrap().iter().find(|p| p["name"] == "discord").unwrap();
    assert_eq!(discord["needs"], serde_json::json!(["public_key"]));
    assert_eq!(discord["handshake"], "discord");
    // The http type's detail carries them too, with the providers' samples.
    let detail: Value = serde_json::from_str(&ok(&onset(dir.path(), &["catalog", "http", "--json"]))).unwrap();
    let stripe = detail["presets"].as_array().unwrap().iter().find(|p| p["name"] == "stripe").unwrap();
    assert_eq!(stripe["sample"]["object"], "event");
    let bad = onset(dir.path(), &["catalog", "github", "--presets"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("onset catalog http --presets"));
}

#[test]
fn connector_import_keeps_the_document_and_validate_knows_its_operations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("onset.yaml"), "name: t\n").unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../connectors/testdata/petstore.yaml");
    let out = ok(&onset(dir.path(), &["connector", "import", spec, "--name", "petstore"]));
    assert!(out.contains("3 operations") && out.contains("petstore.showPetById"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("connectors/petstore.yaml")).unwrap(),
        std::fs::read_to_string(spec).unwrap()
    );
    std::fs::create_dir_all(dir.path().join("components")).unwrap();
    let component = "component: shop\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - call: petstore.showPetById\n          with: { pet: 1 }\n";
    std::fs::write(dir.path().join("components/shop.yaml"), component).unwrap();
    // `onset validate` checks the step against the imported operation's input.
    let out = onset(dir.path(), &["validate"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("components/shop.yaml:8") && text.contains("petId"), "{text}");
    std::fs::write(dir.path().join("components/shop.yaml"), component.replace("pet: 1", "petId: 1")).unwrap();
    ok(&onset(dir.path(), &["validate"]));
    // A name a built-in connector has is refused.
    let out = onset(dir.path(), &["connector", "import", spec, "--name", "http"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("built-in connector"));
}
