//! The JSON Schema of a component file, generated from the types that parse it, in draft-07
//! (what VS Code's YAML extension understands). `onset_sources::schema` adds what the trigger
//! sources know (the `http` type's verification presets); `onset schema` prints that, and the
//! checked-in `schema/component.schema.json` must equal it (a test there fails when it is stale).

/// The schema as pretty-printed JSON, ending with a newline.
pub fn component_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<crate::Component>();
    schema.insert("title".into(), "Onset component".into());
    schema.insert("$id".into(), "https://onset.dev/schema/component.schema.json".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks documents against the schema with Python's `jsonschema` (Draft7Validator): an
    /// implementation that is not ours. Returns one line per invalid document.
    fn python_validate(docs: &[(String, serde_json::Value)]) -> Vec<String> {
        let script = r#"
import json, sys
from jsonschema import Draft7Validator
schema, docs = json.loads(sys.stdin.read())
Draft7Validator.check_schema(schema)
v = Draft7Validator(schema)
for name, doc in docs:
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        print(name + ": " + "; ".join(e.message for e in errors))
"#;
        let input = serde_json::json!([serde_json::from_str::<serde_json::Value>(&component_schema()).unwrap(), docs]);
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the independent schema check");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "pip install jsonschema: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    }

    #[test]
    fn the_examples_validate_and_typos_do_not() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/components");
        let mut docs = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            docs.push((path.display().to_string(), yaml_serde::from_str::<serde_json::Value>(&text).unwrap()));
        }
        assert!(docs.len() >= 2);
        assert_eq!(python_validate(&docs), Vec::<String>::new());

        let typo: serde_json::Value = yaml_serde::from_str(
            "component: x\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps: [ { lgo: hi } ]\n      retry: { attempts: 0, initial: 5 }\n",
        )
        .unwrap();
        let errors = python_validate(&[("typo".into(), typo)]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("'lgo' was unexpected"), "{errors:?}");
        assert!(errors[0].contains("{'attempts': 0, 'initial': 5} is not valid"), "{errors:?}");
    }

    #[test]
    fn only_draft_07_keywords() {
        let schema: serde_json::Value = serde_json::from_str(&component_schema()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        let text = schema.to_string();
        for newer in ["$defs", "prefixItems", "unevaluatedProperties", "dependentRequired", "$dynamicRef"] {
            assert!(!text.contains(newer), "draft-07 has no `{newer}`");
        }
        // Steps reject unknown keys, so editors flag typos.
        assert_eq!(schema["definitions"]["Step"]["additionalProperties"], false);
    }
}
