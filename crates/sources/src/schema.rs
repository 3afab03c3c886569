//! The component JSON Schema with what the sources know: the model's schema of a component
//! file, plus each trigger type's settings (the catalog's, whatever the build's features) (descriptions and required ones) and, for
//! `http` triggers, the `verify` settings with every preset name. `onset schema`
//! prints it; `schema/component.schema.json` must equal it (a test here fails when it is stale).

use serde_json::{Value, json};

use crate::presets::presets;

/// `trigger.with.verify` of an `http` trigger.
fn verify_schema() -> Value {
    let names: Vec<&str> = presets().iter().map(|p| p.name.as_str()).collect();
    let secrets = json!({ "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ] });
    let locator = json!({
        "type": "object",
        "properties": { "header": { "type": "string" }, "field": { "type": "string" } },
        "additionalProperties": false
    });
    let handshakes: Vec<&str> = crate::verify::Handshake::ALL.iter().map(|h| h.name()).collect();
    json!({
        "description": "How requests are verified: a provider preset (`onset catalog http --presets`) or a scheme.",
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "preset": { "description": "The provider whose signatures to check.", "enum": names },
                    "secret": secrets,
                    "public_key": secrets,
                    "username": { "type": "string" },
                    "password": { "type": "string" },
                    "verify_token": { "type": "string" },
                    "tolerance": { "type": "string" },
                    "id": locator,
                    "handshake": { "enum": handshakes }
                },
                "required": ["preset"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {
                    "scheme": { "enum": ["none", "hmac", "standard-webhooks", "token", "basic", "signature"] },
                    "id": locator,
                    "handshake": { "enum": handshakes },
                    "verify_token": { "type": "string" }
                },
                "required": ["scheme"]
            }
        ]
    })
}

/// The schema as pretty-printed JSON, ending with a newline.
pub fn component_schema() -> String {
    let mut schema: Value = serde_json::from_str(&onset_model::component_schema()).expect("the model's schema is JSON");
    // Per registered trigger type: its settings (from the catalog) with their descriptions, the
    // required ones, and for `http` the verification schema with every preset.
    let mut per_type = Vec::new();
    // Every type of the catalog, whatever this build's features: the schema describes the
    // component format.
    for kind in onset_model::TRIGGER_TYPES.iter().copied() {
        let Some(settings) = onset_model::catalog::settings(kind) else { continue };
        let mut properties = serde_json::Map::new();
        for s in &settings {
            let property = if kind == "http" && s.name == "verify" {
                verify_schema()
            } else {
                json!({ "description": s.description })
            };
            properties.insert(s.name.to_string(), property);
        }
        let required: Vec<&str> = settings.iter().filter(|s| s.required).map(|s| s.name).collect();
        let mut with = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            with["required"] = json!(required);
        }
        per_type.push(json!({
            "if": { "properties": { "type": { "const": kind } }, "required": ["type"] },
            "then": { "properties": { "with": with } }
        }));
    }
    if let Some(trigger) = schema.pointer_mut("/definitions/TriggerSpec").and_then(Value::as_object_mut) {
        if let Some(kind) = trigger.get_mut("properties").and_then(|p| p.get_mut("type")) {
            kind["description"] = json!(format!("The trigger type: {}", onset_model::TRIGGER_TYPES.join(", ")));
        }
        trigger.insert("allOf".into(), Value::Array(per_type));
    }
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/component.schema.json")
    }

    #[test]
    fn the_checked_in_schema_is_current() {
        let current = component_schema();
        let path = checked_in();
        if std::env::var_os("ONSET_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == current,
            "schema/component.schema.json is stale: regenerate it with `cargo run -p onset-cli -- schema > schema/component.schema.json` (or ONSET_UPDATE_SCHEMA=1 cargo test -p onset-sources schema)"
        );
    }

    /// An independent validator (Python's jsonschema) flags an unknown preset and accepts a known one.
    #[test]
    fn presets_are_checked_by_an_editor_s_validator() {
        let script = r#"
import json, sys
from jsonschema import Draft7Validator
schema, docs = json.loads(sys.stdin.read())
v = Draft7Validator(schema)
for doc in docs:
    print(len(list(v.iter_errors(doc))))
"#;
        let good = json!({ "component": "x", "trigger": { "type": "http", "with": { "verify": { "preset": "stripe", "secret": "s" } } }, "handlers": {} });
        let typo = json!({ "component": "x", "trigger": { "type": "http", "with": { "verify": { "preset": "strpie", "secret": "s" } } }, "handlers": {} });
        let other =
            json!({ "component": "x", "trigger": { "type": "github", "with": { "verify": 1 } }, "handlers": {} });
        let missing = json!({ "component": "x", "trigger": { "type": "slack", "with": {} }, "handlers": {} });
        let input = json!([serde_json::from_str::<Value>(&component_schema()).unwrap(), [good, typo, other, missing]]);
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().collect::<Vec<_>>(), ["0", "1", "0", "1"]);
    }

    /// Every component in the repository's examples and golden tests validates against the
    /// extended schema (Python's jsonschema reading the YAML files).
    #[test]
    fn the_repository_s_components_validate() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = r#"
import glob, json, sys, yaml
from jsonschema import Draft7Validator
root, schema = sys.argv[1], json.loads(sys.stdin.read())
v = Draft7Validator(schema)
# The golden files with errors in their names are wrong on purpose.
files = glob.glob(root + "/examples/*/components/*.yaml") + [
    f for f in glob.glob(root + "/crates/engine/tests/golden/*.yaml") if "error" not in f]
assert files, "no component files found"
for f in files:
    doc = yaml.safe_load(open(f))
    if not isinstance(doc, dict) or "component" not in doc:
        continue
    for e in v.iter_errors(doc):
        print(f + ": " + e.message)
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script, root.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(component_schema().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    }
}
