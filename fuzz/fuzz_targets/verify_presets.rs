//! Any bytes as the signature, timestamp and id headers, the query and the body of a request to
//! every preset's verifier (and a generic one built from fuzzed settings): parsing `t=…,v1=…`
//! lists, decoding, templates, field paths, handshakes and signing end in an answer or an error,
//! never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use onset_sources::{Request, Verifier};
use serde_json::{Value, json};

/// Every header any preset reads, and the verifiers of every preset.
static SETUP: LazyLock<(Vec<http::HeaderName>, Vec<Verifier>)> = LazyLock::new(|| {
    let mut names = vec![
        "x-hook-secret".to_string(),
        "x-okta-verification-challenge".to_string(),
        "twitch-eventsub-message-type".to_string(),
        "content-type".to_string(),
    ];
    let mut verifiers = Vec::new();
    for p in onset_sources::presets::presets() {
        collect_headers(&p.verify, &mut names);
        if let Some(h) = p.id.as_ref().and_then(|l| l.header.clone()) {
            names.push(h.to_ascii_lowercase());
        }
        let mut given = json!({ "preset": p.name });
        for need in &p.needs {
            match need.split('|').next().unwrap() {
                "public_key" if p.algorithm() == "ecdsa-p256-sha256" => {
                    given["public_key"] = json!("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwHM0WzVKdA==")
                }
                "public_key" => given["public_key"] = json!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
                key => given[key] = json!("whsec_c2VjcmV0"),
            }
        }
        verifiers.push(Verifier::from_json(Some(&given)).expect("every preset builds"));
    }
    names.sort();
    names.dedup();
    (names.iter().filter_map(|n| http::HeaderName::from_bytes(n.as_bytes()).ok()).collect(), verifiers)
});

fn collect_headers(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("header", Value::String(h)) => out.push(h.to_ascii_lowercase()),
                    ("headers", Value::Array(hs)) => out.extend(hs.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase)),
                    _ => collect_headers(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_headers(i, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (names, verifiers) = &*SETUP;
    // Layout: [header len][query len][method][flags] header value, query, body.
    let header_len = (data[0] as usize).min(data.len() - 4);
    let rest = &data[4..];
    let (value, rest) = rest.split_at(header_len);
    let query_len = (data[1] as usize).min(rest.len());
    let (query, body) = rest.split_at(query_len);
    let method = ["POST", "GET", "HEAD", "PUT"][(data[2] & 3) as usize];
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(value) {
        for (i, name) in names.iter().enumerate() {
            if data[3] == 0 || (i as u8) % data[3].max(1) == 0 {
                headers.insert(name.clone(), v.clone());
            }
        }
    }
    if data[3] & 1 == 1 {
        headers.insert("content-type", http::HeaderValue::from_static("application/x-www-form-urlencoded"));
    }
    let query = String::from_utf8_lossy(query);
    let req = Request {
        method,
        path: "/hooks/development/x?y=1",
        url: (data[3] & 2 == 2).then_some("https://h.example/hooks/development/x?y=1"),
        query: &query,
        headers: &headers,
        body,
    };
    for v in verifiers {
        let _ = v.verify(&req, 1_700_000_000);
        let _ = v.delivery_id(&req);
        let _ = v.answer_handshake(&req, 1_700_000_000);
        let _ = v.sign(&req, 1_700_000_000, "id");
    }
    // The body as settings of a generic scheme.
    if let Ok(spec) = serde_json::from_slice::<Value>(body)
        && let Ok(v) = Verifier::from_json(Some(&spec))
    {
        let _ = v.verify(&req, 1_700_000_000);
        let _ = v.sign(&req, 1_700_000_000, "id");
    }
});
