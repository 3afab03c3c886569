//! GitHub deliveries: `X-GitHub-Event` and the payload's `action` name the event; the body is
//! JSON or a form with one `payload` field; `X-GitHub-Delivery` is the dedup key.

use bytes::Bytes;
use http::HeaderMap;
use onset_model::catalog::github::name_of;
use serde::Deserialize;

use crate::delivery::{Answer, Delivery, essence, form_field, malformed};
use crate::{PayloadError, Verifier, VerifySpec};

/// HMAC-SHA256 of the raw body in `X-Hub-Signature-256` (`sha256=` hex); none without a secret.
pub fn verifier(secret: Option<crate::Secret>) -> Result<Verifier, crate::VerifierBuildError> {
    match secret {
        None => Ok(Verifier::none()),
        Some(secret) => Verifier::new(VerifySpec::Hmac {
            header: "x-hub-signature-256".into(),
            algorithm: crate::verify::Algorithm::Sha256,
            encoding: crate::verify::Encoding::Hex,
            prefix: Some("sha256=".into()),
            secret: crate::verify::Secrets::One(secret),
            timestamp_header: None,
            tolerance: None,
            signed: None,
        }),
    }
}

#[derive(Deserialize)]
struct Action<'a> {
    #[serde(borrow, default)]
    action: Option<std::borrow::Cow<'a, str>>,
}

/// Names a verified delivery. The payload is the JSON GitHub sent, byte for byte.
pub fn classify(headers: &HeaderMap, content_type: Option<&str>, body: Bytes) -> Result<Delivery, PayloadError> {
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed("the request has no X-GitHub-Event header; is this a GitHub webhook delivery?"))?;
    let payload = match essence(content_type).as_str() {
        "application/x-www-form-urlencoded" => Bytes::from(
            form_field(&body, "payload")
                .ok_or_else(|| malformed("a form-encoded GitHub delivery carries its JSON in the `payload` field"))?,
        ),
        _ => body,
    };
    crate::check_json(&payload).map_err(|e| malformed(format!("the GitHub payload is not valid JSON ({e})")))?;
    let action: Action<'_> = serde_json::from_slice(&payload)
        .map_err(|e| malformed(format!("the GitHub payload is not a JSON object ({e})")))?;
    let name = name_of(event, action.action.as_deref());
    let delivery_id = headers.get("x-github-delivery").and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(Delivery { name, delivery_id, payload, answer: Answer::Accepted })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(event: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-github-event", event.parse().unwrap());
        h.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
        h
    }

    #[test]
    fn json_and_form_bodies_name_the_event() {
        let d = classify(&headers("issues"), Some("application/json"), Bytes::from_static(br#"{"action":"opened"}"#))
            .unwrap();
        assert_eq!((d.name.channel.as_str(), d.name.event.as_str()), ("IssuesService", "onOpened"));
        assert_eq!(d.delivery_id.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        let form =
            Bytes::from_static(b"payload=%7B%22zen%22%3A%22Keep+it+logically+awesome.%22%2C%22hook_id%22%3A1%7D");
        let d = classify(&headers("ping"), Some("application/x-www-form-urlencoded"), form).unwrap();
        assert_eq!((d.name.channel.as_str(), d.name.event.as_str()), ("PingService", "onPing"));
        assert_eq!(&d.payload[..], br#"{"zen":"Keep it logically awesome.","hook_id":1}"#);
    }

    #[test]
    fn the_hmac_vector_from_githubs_docs() {
        let v = verifier(Some(crate::Secret::new("It's a Secret to Everybody"))).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
        );
        assert!(v.verify(&crate::Request::new(&h, b"Hello, World!"), 0).is_ok());
        assert!(v.verify(&crate::Request::new(&h, b"Hello, World?"), 0).is_err());
        assert_eq!(
            v.verify(&crate::Request::new(&HeaderMap::new(), b"Hello, World!"), 0).unwrap_err().code,
            "signature_missing"
        );
    }

    #[test]
    fn missing_event_header_or_bad_json_is_malformed() {
        assert!(classify(&HeaderMap::new(), Some("application/json"), Bytes::from_static(b"{}")).is_err());
        assert!(classify(&headers("push"), Some("application/json"), Bytes::from_static(b"[")).is_err());
    }
}
