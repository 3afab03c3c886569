//! Any bytes as a GitHub or Slack request body (JSON or form) with any event header: naming,
//! verifying and normalising end in a delivery or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 || data.len() > 65536 {
        return;
    }
    let form = data[0] & 1 == 1;
    let split = (data[1] as usize).min(data.len() - 2);
    let (event, body) = data[2..].split_at(split);
    let content_type = if form { "application/x-www-form-urlencoded" } else { "application/json" };
    let body = bytes::Bytes::copy_from_slice(body);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(event) {
        headers.insert("x-github-event", v.clone());
        headers.insert("x-hub-signature-256", v.clone());
        headers.insert("x-slack-signature", v);
    }
    headers.insert("x-slack-request-timestamp", http::HeaderValue::from_static("1531420618"));
    let _ = onset_sources::github::classify(&headers, Some(content_type), body.clone());
    let _ = onset_sources::slack::classify(Some(content_type), body.clone());
    let _ = onset_sources::slack::is_ssl_check(Some(content_type), &body);
    if let Ok(v) = onset_sources::github::verifier(Some(onset_sources::Secret::new("secret"))) {
        let _ = v.verify(&onset_sources::Request::new(&headers, &body), 1531420618);
    }
    if let Ok(v) = onset_sources::slack::verifier(onset_sources::Secret::new("secret")) {
        let _ = v.verify(&onset_sources::Request::new(&headers, &body), 1531420618);
    }
});
