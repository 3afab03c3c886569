//! Verification presets by provider name (`verify: { preset: stripe, secret: … }`): pure data in
//! `presets/presets.json`, each entry written in the generic `signature` scheme (or `token`,
//! `basic`) with its delivery id and handshake. Adding a provider is adding an entry.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::verify::Locator;
use crate::verify::{Handshake, VerifierBuildError};

/// One provider's verification, as the catalog lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub title: String,
    /// The provider's page on verifying its requests.
    pub docs: String,
    /// Settings the preset needs; `a|b` is either of them.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Settings the preset takes when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<String>,
    /// Where the delivery id is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Locator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<Handshake>,
    /// The scheme the preset stands for.
    #[serde(default)]
    pub verify: Value,
    /// Merged into `verify` when a `public_key` is given (Standard Webhooks `v1a`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_variant: Option<Value>,
    /// A payload the provider publishes as an example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Value>,
    /// Another preset this one sends through (Clerk and Resend send through Svix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

impl Preset {
    /// How long a timestamp may be off, when the scheme has one.
    pub fn tolerance(&self) -> Option<&str> {
        self.verify.pointer("/timestamp/tolerance").and_then(Value::as_str)
    }

    /// The algorithm, in words (`hmac-sha256`, `ed25519`, `token`, `basic`).
    pub fn algorithm(&self) -> &str {
        self.verify
            .get("algorithm")
            .and_then(Value::as_str)
            .or_else(|| self.verify.get("scheme").and_then(Value::as_str))
            .unwrap_or("")
    }

    /// The header (or body field) the signature is read from.
    pub fn signature_place(&self) -> String {
        let sig = self.verify.get("signature");
        if let Some(h) = sig.and_then(|s| s.get("header")).and_then(Value::as_str) {
            h.to_string()
        } else if let Some(hs) = sig.and_then(|s| s.get("headers")).and_then(Value::as_array) {
            hs.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
        } else if let Some(f) = sig.and_then(|s| s.get("field")).and_then(Value::as_str) {
            format!("body field {f}")
        } else if let Some(h) = self.verify.get("header").and_then(Value::as_str) {
            h.to_string()
        } else {
            "Authorization".to_string()
        }
    }
}

static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    let mut presets: Vec<Preset> =
        serde_json::from_str(include_str!("../presets/presets.json")).expect("presets.json is checked by tests");
    // An entry that sends through another takes its scheme, id and handshake.
    let resolved: Vec<Preset> = presets.clone();
    for p in &mut presets {
        if let Some(target) = &p.same_as
            && let Some(t) = resolved.iter().find(|t| &t.name == target)
        {
            p.needs = t.needs.clone();
            p.accepts = t.accepts.clone();
            p.id = t.id.clone();
            p.handshake = t.handshake;
            p.verify = t.verify.clone();
            p.public_key_variant = t.public_key_variant.clone();
        }
    }
    presets
});

/// Every preset, in the order of the data file.
pub fn presets() -> &'static [Preset] {
    &PRESETS
}

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// A preset applied to what the user wrote.
pub(crate) struct Expanded {
    pub spec: Value,
    pub id: Option<Locator>,
    pub handshake: Option<Handshake>,
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub(crate) fn expand(
    name: &str,
    given: Map<String, Value>,
    verify_token: bool,
) -> Result<Expanded, VerifierBuildError> {
    let preset = preset(name).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name.as_str()).collect();
        VerifierBuildError(format!(
            "trigger.with.verify.preset `{name}` is not a preset; known presets: {} (`onset catalog http --presets`)",
            names.join(", ")
        ))
    })?;
    let takes: Vec<&str> = preset
        .needs
        .iter()
        .flat_map(|n| n.split('|'))
        .chain(preset.accepts.iter().map(String::as_str))
        .filter(|n| *n != "verify_token")
        .collect();
    let mut spec = preset.verify.clone();
    if given.contains_key("public_key")
        && let Some(variant) = &preset.public_key_variant
    {
        merge(&mut spec, variant);
    }
    for (key, value) in given {
        if key == "tolerance" {
            let Some(timestamp) = spec.get_mut("timestamp").and_then(Value::as_object_mut) else {
                return Err(VerifierBuildError(format!(
                    "trigger.with.verify.tolerance: preset `{name}` signs no timestamp, so there is nothing to tolerate"
                )));
            };
            timestamp.insert(key, value);
        } else if takes.contains(&key.as_str()) {
            spec.as_object_mut().expect("a preset's verify is a mapping").insert(key, value);
        } else {
            let mut listed = takes.clone();
            listed.push("tolerance");
            return Err(VerifierBuildError(format!(
                "trigger.with.verify: preset `{name}` takes {}; `{key}` is not one of them",
                listed.join(", ")
            )));
        }
    }
    for need in &preset.needs {
        let present = need.split('|').any(|n| if n == "verify_token" { verify_token } else { spec.get(n).is_some() });
        if !present {
            return Err(VerifierBuildError(format!(
                "trigger.with.verify: preset `{name}` needs `{}` (e.g. {}: \"{{{{ config.{}_{} }}}}\")",
                need.replace('|', "` or `"),
                need.split('|').next().unwrap_or_default(),
                name.replace('-', "_"),
                need.split('|').next().unwrap_or_default()
            )));
        }
    }
    Ok(Expanded { spec, id: preset.id.clone(), handshake: preset.handshake })
}

/// The presets as a Markdown table (docs/triggers.md holds it between markers; a test keeps it
/// current).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| preset | provider | needs | signature | algorithm | tolerance | delivery id | handshake |\n|---|---|---|---|---|---|---|---|\n",
    );
    for p in presets() {
        let needs: Vec<String> = p
            .needs
            .iter()
            .map(|n| n.split('|').map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" or "))
            .chain(p.accepts.iter().map(|a| format!("`{a}` (optional)")))
            .collect();
        let id = match &p.id {
            Some(Locator { header: Some(h), .. }) => format!("`{h}`"),
            Some(Locator { field: Some(f), .. }) => format!("body `{f}`"),
            _ => "—".into(),
        };
        let title = match &p.same_as {
            Some(via) => format!("[{}]({}) (as `{via}`)", p.title, p.docs),
            None => format!("[{}]({})", p.title, p.docs),
        };
        out.push_str(&format!(
            "| `{}` | {title} | {} | `{}` | {} | {} | {id} | {} |\n",
            p.name,
            needs.join(", "),
            p.signature_place(),
            p.algorithm(),
            p.tolerance().unwrap_or("—"),
            p.handshake.map_or_else(|| "—".to_string(), |h| format!("`{}`", h.name())),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verifier;
    use serde_json::json;

    #[test]
    fn every_preset_builds_and_names_are_unique() {
        assert!(presets().len() >= 30, "{} presets", presets().len());
        let mut names: Vec<&str> = presets().iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), presets().len(), "duplicate preset names");
        for p in presets() {
            assert!(p.docs.starts_with("https://"), "{}", p.name);
            assert!(!p.verify.is_null(), "{} has no scheme (same_as unresolved?)", p.name);
            let mut given = json!({ "preset": p.name });
            for need in &p.needs {
                let key = need.split('|').next().unwrap();
                let value = match key {
                    "public_key" => json!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
                    _ => json!("whsec_c2VjcmV0"),
                };
                given[key] = value;
            }
            if p.algorithm() == "ecdsa-p256-sha256" {
                given["public_key"] = json!(
                    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwHM0WzVKdA=="
                );
            }
            Verifier::from_json(Some(&given)).unwrap_or_else(|e| panic!("preset {}: {e}", p.name));
        }
    }

    /// Samples are payloads as the provider sends them: where the delivery id is a body field,
    /// the sample carries it.
    #[test]
    fn samples_carry_their_delivery_ids() {
        let with_samples: Vec<&Preset> = presets().iter().filter(|p| p.sample.is_some()).collect();
        assert!(with_samples.len() >= 8, "{} presets have samples", with_samples.len());
        for p in with_samples {
            let sample = p.sample.as_ref().unwrap();
            assert!(sample.is_object(), "{}", p.name);
            if let Some(Locator { field: Some(path), .. }) = &p.id {
                let pointer = format!("/{}", path.replace('.', "/"));
                assert!(sample.pointer(&pointer).is_some(), "{}: sample has no {path}", p.name);
            }
        }
    }

    #[test]
    fn bad_preset_settings_are_named() {
        let err = Verifier::from_json(Some(&json!({ "preset": "strip", "secret": "s" }))).unwrap_err().0;
        assert!(err.contains("`strip` is not a preset") && err.contains("stripe"), "{err}");
        let err = Verifier::from_json(Some(&json!({ "preset": "stripe" }))).unwrap_err().0;
        assert!(err.contains("needs `secret`"), "{err}");
        let err =
            Verifier::from_json(Some(&json!({ "preset": "stripe", "secret": "s", "algorithm": "x" }))).unwrap_err().0;
        assert!(err.contains("takes secret, tolerance; `algorithm`"), "{err}");
        let err =
            Verifier::from_json(Some(&json!({ "preset": "github", "secret": "s", "tolerance": "1m" }))).unwrap_err().0;
        assert!(err.contains("signs no timestamp"), "{err}");
        let err = Verifier::from_json(Some(&json!({ "preset": "meta", "secret": "s" }))).unwrap_err().0;
        assert!(err.contains("needs `verify_token`"), "{err}");
        let err = Verifier::from_json(Some(&json!({ "preset": "stripe", "secret": "s", "verify_token": "t" })))
            .unwrap_err()
            .0;
        assert!(err.contains("verify_token is for the `hub` handshake"), "{err}");
        assert!(
            Verifier::from_json(Some(&json!({ "preset": "standard-webhooks" })))
                .unwrap_err()
                .0
                .contains("`secret` or `public_key`")
        );
    }

    fn request_for<'a>(p: &Preset, headers: &'a mut http::HeaderMap, body: &'a [u8]) -> crate::Request<'a> {
        if p.name == "twilio" {
            headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        }
        headers.insert("host", "hooks.example.com".parse().unwrap());
        let mut req = crate::Request::new(headers, body);
        req.path = "/hooks/production/shop?x=1";
        req.url = Some("https://hooks.example.com/hooks/production/shop?x=1");
        req
    }

    /// Every HMAC preset signs and verifies its own requests; a changed body, another secret and
    /// (where the scheme has one) an old timestamp are refused.
    #[test]
    fn hmac_presets_round_trip() {
        let now = 1_780_000_000;
        let mut covered = 0;
        for p in presets() {
            if !p.algorithm().starts_with("hmac") || p.signature_place().starts_with("body") {
                continue;
            }
            let verifier = |secret: &str| {
                let mut given = json!({ "preset": p.name, "secret": secret });
                if p.needs.iter().any(|n| n == "verify_token") {
                    given["verify_token"] = json!("t");
                }
                Verifier::from_json(Some(&given)).unwrap()
            };
            let (good, other) = (verifier("whsec_c2VjcmV0LWtleQ=="), verifier("whsec_b3RoZXI="));
            let body: &[u8] = if p.name == "twilio" {
                b"CallSid=CA1&From=%2B15005550006&To=%2B15005550001"
            } else {
                br#"{"id":"evt_1","event_id":"e1","event":{"id":"p1"},"eventId":"o1","webhookTimestamp":1780000000000}"#
            };
            let mut headers = http::HeaderMap::new();
            let req = request_for(p, &mut headers, body);
            let signed = good.sign(&req, now, "msg_1").unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let mut h = req.headers.clone();
            for (k, v) in &signed {
                h.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
            }
            let ok = crate::Request { headers: &h, ..req };
            good.verify(&ok, now).unwrap_or_else(|e| panic!("{}: {e} at {} ({signed:?})", p.name, e.location));
            assert!(other.verify(&ok, now).is_err(), "{}: another secret", p.name);
            let mut tampered = body.to_vec();
            tampered[body.len() - 2] ^= 1;
            let bad = crate::Request { body: &tampered, ..ok };
            assert!(good.verify(&bad, now).is_err(), "{}: tampered body", p.name);
            if p.tolerance().is_some() && p.verify.pointer("/timestamp/field").is_none() {
                let err = good.verify(&ok, now + 3600).unwrap_err();
                assert_eq!(err.code, "timestamp_out_of_tolerance", "{}", p.name);
            }
            covered += 1;
        }
        assert!(covered >= 25, "{covered} presets round-tripped");
    }

    #[test]
    fn cannot_sign_what_only_the_provider_can() {
        let v = Verifier::from_json(Some(&json!({ "preset": "discord", "public_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" }))).unwrap();
        let h = http::HeaderMap::new();
        assert!(v.sign(&crate::Request::new(&h, b"{}"), 0, "x").unwrap_err().0.contains("private key"));
        let v = Verifier::from_json(Some(&json!({ "preset": "gitlab", "secret": "t" }))).unwrap();
        assert!(v.sign(&crate::Request::new(&h, b"{}"), 0, "x").unwrap_err().0.contains("secret itself"));
    }

    /// docs/triggers.md carries the table generated from the data (ONSET_UPDATE_DOCS=1 rewrites it).
    #[test]
    fn the_docs_table_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/triggers.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let (begin, end) =
            ("<!-- presets:begin (generated from crates/sources/presets/presets.json) -->\n", "<!-- presets:end -->");
        let start = text.find(begin).expect("docs/triggers.md has the presets markers") + begin.len();
        let stop = text.find(end).expect("docs/triggers.md has the presets end marker");
        let current = markdown_table();
        if std::env::var_os("ONSET_UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{current}{}", &text[..start], &text[stop..])).unwrap();
            return;
        }
        assert!(
            text[start..stop] == current,
            "the presets table in docs/triggers.md is stale: ONSET_UPDATE_DOCS=1 cargo test -p onset-sources presets"
        );
    }
}
