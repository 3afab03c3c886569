//! Every verification preset against requests signed by the providers' own libraries
//! (tests/presets/cases.py): signed requests are stored; a changed body, another key and a stale
//! timestamp are refused with 401 and store nothing; each handshake is answered as the provider
//! documents and stores nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;

const PUBLIC_URL: &str = "https://hooks.example.com";

fn component_yaml(c: &Value) -> String {
    let name = c["name"].as_str().unwrap();
    let config = if c["config"].get("secret").is_some() { "config:\n  secret: { type: secret }\n" } else { "" };
    format!(
        "component: {name}\ntrigger:\n  type: http\n  with:\n    verify: {}\n{config}handlers:\n  /:\n    POST: {{ steps: [ {{ log: ok }} ] }}\n",
        c["verify"]
    )
}

#[tokio::test]
async fn every_preset_accepts_its_provider_and_refuses_forgeries() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/tests/presets/cases.py"))
        .arg(PUBLIC_URL)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "cases.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let cases: Value = serde_json::from_slice(&out.stdout).unwrap();
    let components = cases["components"].as_array().unwrap();
    let files: Vec<(String, String)> =
        components.iter().map(|c| (format!("{}.yaml", c["name"].as_str().unwrap()), component_yaml(c))).collect();
    let file_refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let mut options = Options::new(&file_refs);
    options.public_url = Some(PUBLIC_URL.into());
    for c in components {
        if let Some(secret) = c["config"]["secret"].as_str() {
            let name = c["name"].as_str().unwrap();
            options = options.env(&format!("ONSET_CONFIG__{}__SECRET", name.to_uppercase().replace('-', "_")), secret);
        }
    }
    let s = start_with(options).await;
    let deployed = s.get("/api/v1/components").await;
    assert_eq!(
        deployed["items"].as_array().map(Vec::len),
        Some(components.len()),
        "every preset component deploys: {deployed}"
    );

    let mut failures = Vec::new();
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let mut presets_seen = std::collections::BTreeSet::new();
    for r in cases["requests"].as_array().unwrap() {
        let name = r["component"].as_str().unwrap();
        presets_seen.insert(name.to_string());
        let method = reqwest::Method::from_bytes(r["method"].as_str().unwrap().as_bytes()).unwrap();
        let query = r["query"].as_str().unwrap();
        let url = s.url(&format!("/hooks/development/{name}{}{query}", if query.is_empty() { "" } else { "?" }));
        let mut req = s.client.request(method, url);
        for (k, v) in r["headers"].as_object().unwrap() {
            req = req.header(k, v.as_str().unwrap());
        }
        let body = r["body"].as_str().unwrap().to_string();
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let label = format!("{name}: {}", r["label"].as_str().unwrap());
        if u64::from(status) != r["expect"].as_u64().unwrap() {
            failures.push(format!("{label}: {status} (expected {}) {text}", r["expect"]));
            continue;
        }
        if status == 202 {
            *accepted.entry(name.to_string()).or_default() += 1;
        }
        match &r["expect_body"] {
            Value::Null => {}
            Value::String(expected) if &text != expected => {
                failures.push(format!("{label}: answered {text:?}, expected {expected:?}"))
            }
            Value::Object(_) if serde_json::from_str::<Value>(&text).ok().as_ref() != Some(&r["expect_body"]) => {
                failures.push(format!("{label}: answered {text}, expected {}", r["expect_body"]));
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{} of the requests went wrong:\n{}", failures.len(), failures.join("\n"));
    assert!(presets_seen.len() >= 40, "{} components exercised", presets_seen.len());
    // Only what was accepted is stored: no refused request and no handshake became an event.
    let events = s.events().await;
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *stored.entry(e["component"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(stored, accepted);
    // The preset names the delivery: Stripe's event id, Svix's header.
    let stripe = events.iter().find(|e| e["component"] == "p-stripe").unwrap();
    assert!(stripe["delivery_id"].as_str().unwrap().starts_with("evt_"), "{stripe}");
    let svix = events.iter().find(|e| e["component"] == "p-svix").unwrap();
    assert!(svix["delivery_id"].as_str().unwrap().starts_with("msg_"), "{svix}");
}
