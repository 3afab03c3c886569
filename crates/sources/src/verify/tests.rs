//! The schemes against known vectors and refusals.
use super::*;
use serde_json::json;

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    h
}

fn verifier(v: serde_json::Value) -> Verifier {
    Verifier::from_json(Some(&v)).unwrap()
}

// Test vector from the Standard Webhooks reference libraries.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: i64 = 1614265330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn sw_headers(sig: &str) -> http::HeaderMap {
    headers(&[("webhook-id", SW_ID), ("webhook-timestamp", &SW_TS.to_string()), ("webhook-signature", sig)])
}

#[test]
fn standard_webhooks_spec_vector() {
    let v = verifier(json!({ "scheme": "standard-webhooks", "secret": SW_SECRET }));
    assert!(v.verify(&crate::Request::new(&sw_headers(SW_SIG), SW_BODY), SW_TS).is_ok());
    // Several signatures: any matching v1 entry is enough; unknown versions are ignored.
    let several = format!("v1a,abcd v1,AAAA {SW_SIG}");
    assert!(v.verify(&crate::Request::new(&sw_headers(&several), SW_BODY), SW_TS + 10).is_ok());
    let err = v.verify(&crate::Request::new(&sw_headers(SW_SIG), br#"{"test": 2432232315}"#), SW_TS).unwrap_err();
    assert_eq!(err.code, "signature_mismatch");
    assert_eq!(err.location, "header webhook-signature");
}

#[test]
fn standard_webhooks_window_and_rotation() {
    let v = verifier(json!({ "scheme": "standard-webhooks", "secret": ["whsec_b2xkb2xkb2xkb2xkb2xkb2xk", SW_SECRET] }));
    assert!(v.verify(&crate::Request::new(&sw_headers(SW_SIG), SW_BODY), SW_TS + 299).is_ok());
    let err = v.verify(&crate::Request::new(&sw_headers(SW_SIG), SW_BODY), SW_TS + 301).unwrap_err();
    assert_eq!(err.code, "timestamp_out_of_tolerance");
    let err = v.verify(&crate::Request::new(&sw_headers(SW_SIG), SW_BODY), SW_TS - 301).unwrap_err();
    assert!(err.message.contains("future"));
    let err = v.verify(&crate::Request::new(&headers(&[("webhook-id", SW_ID)]), SW_BODY), SW_TS).unwrap_err();
    assert_eq!((err.code, err.location.as_str()), ("signature_missing", "header webhook-signature"));
}

#[test]
fn standard_webhooks_rejects_bad_secrets_at_build() {
    assert!(Verifier::from_json(Some(&json!({ "scheme": "standard-webhooks", "secret": "whsec_!!" }))).is_err());
}

#[test]
fn hmac_github_style() {
    // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    let v = verifier(json!({
        "scheme": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256=",
        "secret": "It's a Secret to Everybody"
    }));
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(v.verify(&crate::Request::new(&headers(&[("x-hub-signature-256", sig)]), b"Hello, World!"), 0).is_ok());
    assert!(v.verify(&crate::Request::new(&headers(&[("x-hub-signature-256", sig)]), b"Hello, World?"), 0).is_err());
    let err = v.verify(&crate::Request::new(&headers(&[]), b"Hello, World!"), 0).unwrap_err();
    assert_eq!(err.code, "signature_missing");
    let err = v
        .verify(&crate::Request::new(&headers(&[("x-hub-signature-256", &sig[7..])]), b"Hello, World!"), 0)
        .unwrap_err();
    assert!(err.message.contains("does not start with `sha256=`"));
}

#[test]
fn hmac_with_timestamp_template_and_base64() {
    let secret = "s3cret";
    let body = b"{\"a\":1}";
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"v0:1000:");
    mac.update(body);
    let sig = B64.encode(mac.finalize().into_bytes());
    let v = verifier(json!({
        "scheme": "hmac", "header": "x-sig", "algorithm": "sha512", "encoding": "base64",
        "secret": ["old", secret], "timestamp_header": "x-ts", "tolerance": "1m",
        "signed": "v0:{timestamp}:{body}"
    }));
    let h = headers(&[("x-sig", &sig), ("x-ts", "1000")]);
    assert!(v.verify(&crate::Request::new(&h, body), 1059).is_ok());
    assert_eq!(v.verify(&crate::Request::new(&h, body), 1061).unwrap_err().code, "timestamp_out_of_tolerance");
    assert!(
        Verifier::from_json(Some(&json!({
            "scheme": "hmac", "header": "x", "secret": "s", "signed": "{nonce}.{body}"
        })))
        .unwrap_err()
        .0
        .contains("unknown placeholder")
    );
}

#[test]
fn hmac_sha1() {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"k").unwrap();
    mac.update(b"body");
    let sig = hex::encode(mac.finalize().into_bytes()).to_uppercase();
    let v = verifier(json!({ "scheme": "hmac", "header": "x-sig", "algorithm": "sha1", "secret": "k" }));
    assert!(v.verify(&crate::Request::new(&headers(&[("x-sig", &sig)]), b"body"), 0).is_ok());
}

#[test]
fn token_and_basic() {
    let v = verifier(json!({ "scheme": "token", "header": "X-Gitlab-Token", "secret": "tok" }));
    assert!(v.verify(&crate::Request::new(&headers(&[("x-gitlab-token", "tok")]), b""), 0).is_ok());
    assert_eq!(
        v.verify(&crate::Request::new(&headers(&[("x-gitlab-token", "tok2")]), b""), 0).unwrap_err().code,
        "token_mismatch"
    );
    let v = verifier(json!({ "scheme": "basic", "username": "u", "password": "p" }));
    let good = format!("Basic {}", B64.encode("u:p"));
    let bad = format!("Basic {}", B64.encode("u:q"));
    assert!(v.verify(&crate::Request::new(&headers(&[("authorization", &good)]), b""), 0).is_ok());
    assert_eq!(
        v.verify(&crate::Request::new(&headers(&[("authorization", &bad)]), b""), 0).unwrap_err().code,
        "unauthorized"
    );
    assert_eq!(v.verify(&crate::Request::new(&headers(&[]), b""), 0).unwrap_err().code, "unauthorized");
}

#[test]
fn unknown_settings_are_named() {
    let err = Verifier::from_json(Some(&json!({ "scheme": "hmac", "header": "x", "secret": "s", "algo": "md5" })))
        .unwrap_err();
    assert!(err.0.contains("unknown field `algo`"), "{err}");
    let err = Verifier::from_json(Some(&json!({ "scheme": "rot13" }))).unwrap_err();
    assert!(err.0.contains("unknown variant"), "{err}");
}
