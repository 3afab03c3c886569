//! Request verification for `trigger.with.verify` (DESIGN §5): `hmac`, `standard-webhooks`,
//! `token` and `basic`. Every comparison runs in constant time over the raw body bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use onset_model::Duration;
use serde::Deserialize;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// One secret or several (several while a secret is being rotated).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Secrets {
    One(Secret),
    Many(Vec<Secret>),
}

impl Secrets {
    fn list(&self) -> Vec<&Secret> {
        match self {
            Secrets::One(s) => vec![s],
            Secrets::Many(v) => v.iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// `trigger.with.verify` as written (after config templates are rendered).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum VerifySpec {
    None,
    Hmac {
        header: String,
        #[serde(default)]
        algorithm: Algorithm,
        #[serde(default)]
        encoding: Encoding,
        #[serde(default)]
        prefix: Option<String>,
        secret: Secrets,
        #[serde(default)]
        timestamp_header: Option<String>,
        #[serde(default)]
        tolerance: Option<Duration>,
        #[serde(default)]
        signed: Option<String>,
    },
    StandardWebhooks {
        secret: Secrets,
    },
    Token {
        header: String,
        secret: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifierBuildError(pub String);

/// Why a request was refused: a stable code, a message and where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    pub code: &'static str,
    pub message: String,
    pub location: String,
}

impl VerifyError {
    fn new(code: &'static str, header: &str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), location: format!("header {header}") }
    }
}

#[derive(Debug, Clone)]
enum SignedPart {
    Text(Vec<u8>),
    Timestamp,
    Body,
}

#[derive(Debug, Clone)]
enum Scheme {
    None,
    Hmac {
        header: String,
        algorithm: Algorithm,
        encoding: Encoding,
        prefix: String,
        keys: Vec<Vec<u8>>,
        timestamp_header: Option<String>,
        tolerance_secs: i64,
        signed: Vec<SignedPart>,
    },
    StandardWebhooks {
        keys: Vec<Vec<u8>>,
    },
    Token {
        header: String,
        digest: [u8; 32],
    },
    Basic {
        digest: [u8; 32],
    },
}

/// A ready-to-use verifier: secrets decoded and templates parsed once, at activation.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: Scheme,
}

const STANDARD_TOLERANCE_SECS: i64 = 5 * 60;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

fn parse_signed(template: &str) -> Result<Vec<SignedPart>, VerifierBuildError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        if start > 0 {
            parts.push(SignedPart::Text(rest.as_bytes()[..start].to_vec()));
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| VerifierBuildError(format!("verify.signed `{template}` has an unclosed `{{`")))?
            + start;
        parts.push(match &rest[start + 1..end] {
            "timestamp" => SignedPart::Timestamp,
            "body" => SignedPart::Body,
            other => {
                return Err(VerifierBuildError(format!(
                    "verify.signed `{template}`: unknown placeholder `{{{other}}}`; use `{{timestamp}}` and `{{body}}`"
                )));
            }
        });
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(SignedPart::Text(rest.as_bytes().to_vec()));
    }
    Ok(parts)
}

/// `whsec_<base64>` (or bare base64) → key bytes, as the reference libraries read it.
fn standard_key(secret: &Secret) -> Result<Vec<u8>, VerifierBuildError> {
    let text = secret.expose();
    let b64 = text.strip_prefix("whsec_").unwrap_or(text);
    B64.decode(b64.trim()).map_err(|_| {
        VerifierBuildError(
            "verify.secret for standard-webhooks must be `whsec_` followed by base64 (as the sender shows it)".into(),
        )
    })
}

impl Verifier {
    /// Accepts every request.
    pub fn none() -> Self {
        Self { scheme: Scheme::None }
    }

    /// Builds from the rendered `with.verify` value (absent = no verification).
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<Self, VerifierBuildError> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(Self { scheme: Scheme::None }),
            Some(v) => {
                let spec: VerifySpec = serde_json::from_value(v.clone())
                    .map_err(|e| VerifierBuildError(format!("trigger.with.verify: {e}")))?;
                Self::new(spec)
            }
        }
    }

    pub fn new(spec: VerifySpec) -> Result<Self, VerifierBuildError> {
        let scheme = match spec {
            VerifySpec::None => Scheme::None,
            VerifySpec::Hmac { header, algorithm, encoding, prefix, secret, timestamp_header, tolerance, signed } => {
                let default_signed = if timestamp_header.is_some() { "{timestamp}.{body}" } else { "{body}" };
                let signed = parse_signed(signed.as_deref().unwrap_or(default_signed))?;
                if timestamp_header.is_none() && signed.iter().any(|p| matches!(p, SignedPart::Timestamp)) {
                    return Err(VerifierBuildError(
                        "verify.signed uses `{timestamp}` but no `timestamp_header` says where it comes from".into(),
                    ));
                }
                let keys: Vec<Vec<u8>> = secret.list().iter().map(|s| s.expose().as_bytes().to_vec()).collect();
                if keys.is_empty() || keys.iter().any(Vec::is_empty) {
                    return Err(VerifierBuildError("verify.secret is empty".into()));
                }
                Scheme::Hmac {
                    header: header.to_ascii_lowercase(),
                    algorithm,
                    encoding,
                    prefix: prefix.unwrap_or_default(),
                    keys,
                    timestamp_header: timestamp_header.map(|h| h.to_ascii_lowercase()),
                    tolerance_secs: tolerance
                        .map_or(STANDARD_TOLERANCE_SECS, |d| i64::try_from(d.as_std().as_secs()).unwrap_or(i64::MAX)),
                    signed,
                }
            }
            VerifySpec::StandardWebhooks { secret } => {
                let keys = secret.list().into_iter().map(standard_key).collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    return Err(VerifierBuildError("verify.secret lists no secret".into()));
                }
                Scheme::StandardWebhooks { keys }
            }
            VerifySpec::Token { header, secret } => {
                if secret.expose().is_empty() {
                    return Err(VerifierBuildError("verify.secret is empty".into()));
                }
                Scheme::Token { header: header.to_ascii_lowercase(), digest: sha256(secret.expose().as_bytes()) }
            }
            VerifySpec::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                Scheme::Basic { digest: sha256(pair.as_bytes()) }
            }
        };
        Ok(Self { scheme })
    }

    /// The scheme's own delivery id header, if it has one (`webhook-id`).
    pub fn delivery_id_header(&self) -> Option<&'static str> {
        match self.scheme {
            Scheme::StandardWebhooks { .. } => Some("webhook-id"),
            _ => None,
        }
    }

    /// Checks a request. `now` is unix seconds.
    pub fn verify(&self, headers: &http::HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        match &self.scheme {
            Scheme::None => Ok(()),
            Scheme::Hmac { header, algorithm, encoding, prefix, keys, timestamp_header, tolerance_secs, signed } => {
                let given = header_str(headers, header)?;
                let given = given.trim();
                let given = given.strip_prefix(prefix.as_str()).ok_or_else(|| {
                    VerifyError::new(
                        "signature_mismatch",
                        header,
                        format!("the signature does not start with `{prefix}`"),
                    )
                })?;
                let given = match encoding {
                    Encoding::Hex => hex::decode(given.trim().to_ascii_lowercase()),
                    Encoding::Base64 => B64.decode(given.trim()).map_err(|_| hex::FromHexError::InvalidStringLength),
                }
                .map_err(|_| {
                    VerifyError::new("signature_mismatch", header, format!("the signature is not {encoding:?} encoded"))
                })?;
                let timestamp = match timestamp_header {
                    Some(ts_header) => {
                        let ts = header_str(headers, ts_header)?.trim();
                        check_timestamp(ts, ts_header, now, *tolerance_secs)?;
                        Some(ts)
                    }
                    None => None,
                };
                let ok = keys.iter().any(|key| {
                    let mut mac = HmacAny::new(*algorithm, key);
                    for part in signed {
                        match part {
                            SignedPart::Text(t) => mac.update(t),
                            SignedPart::Timestamp => mac.update(timestamp.unwrap_or("").as_bytes()),
                            SignedPart::Body => mac.update(body),
                        }
                    }
                    mac.verify(&given)
                });
                if ok {
                    Ok(())
                } else {
                    Err(VerifyError::new("signature_mismatch", header, "the signature does not match the body"))
                }
            }
            Scheme::StandardWebhooks { keys } => {
                let id = header_str(headers, "webhook-id")?;
                let ts = header_str(headers, "webhook-timestamp")?.trim();
                let signatures = header_str(headers, "webhook-signature")?;
                check_timestamp(ts, "webhook-timestamp", now, STANDARD_TOLERANCE_SECS)?;
                let candidates: Vec<Vec<u8>> = signatures
                    .split(' ')
                    .filter_map(|entry| entry.strip_prefix("v1,"))
                    .filter_map(|sig| B64.decode(sig.trim()).ok())
                    .collect();
                let ok = keys.iter().any(|key| {
                    let mut mac = HmacAny::new(Algorithm::Sha256, key);
                    mac.update(id.as_bytes());
                    mac.update(b".");
                    mac.update(ts.as_bytes());
                    mac.update(b".");
                    mac.update(body);
                    let expected = mac.finish();
                    candidates.iter().any(|c| bool::from(c.as_slice().ct_eq(&expected)))
                });
                if ok {
                    Ok(())
                } else {
                    Err(VerifyError::new(
                        "signature_mismatch",
                        "webhook-signature",
                        "no v1 signature matches the body for any configured secret",
                    ))
                }
            }
            Scheme::Token { header, digest } => {
                let given = header_str(headers, header)?;
                if bool::from(sha256(given.as_bytes()).ct_eq(digest)) {
                    Ok(())
                } else {
                    Err(VerifyError::new("token_mismatch", header, "the token does not match"))
                }
            }
            Scheme::Basic { digest } => {
                let given = header_str(headers, "authorization")?;
                let pair = given
                    .strip_prefix("Basic ")
                    .or_else(|| given.strip_prefix("basic "))
                    .and_then(|b| B64.decode(b.trim()).ok())
                    .ok_or_else(|| {
                        VerifyError::new("unauthorized", "authorization", "expected `Authorization: Basic <base64>`")
                    })?;
                if bool::from(sha256(&pair).ct_eq(digest)) {
                    Ok(())
                } else {
                    Err(VerifyError::new("unauthorized", "authorization", "the username or password is wrong"))
                }
            }
        }
    }
}

fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<&'a str, VerifyError> {
    let value = headers.get(name).ok_or_else(|| {
        let code = if name == "authorization" { "unauthorized" } else { "signature_missing" };
        VerifyError::new(code, name, format!("the request has no `{name}` header"))
    })?;
    value.to_str().map_err(|_| VerifyError::new("signature_mismatch", name, format!("`{name}` is not text")))
}

fn check_timestamp(ts: &str, header: &str, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    let ts: i64 = ts
        .parse()
        .map_err(|_| VerifyError::new("timestamp_invalid", header, "the timestamp is not whole unix seconds"))?;
    if (now - ts).abs() > tolerance {
        let which = if ts < now { "too old" } else { "too far in the future" };
        return Err(VerifyError::new(
            "timestamp_out_of_tolerance",
            header,
            format!("the timestamp is {which} (tolerance {tolerance}s); check the sender's clock or replay protection"),
        ));
    }
    Ok(())
}

enum HmacAny {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl HmacAny {
    fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Hmac::new_from_slice(key).expect("hmac takes any key length")),
            Algorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(key).expect("hmac takes any key length")),
            Algorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(key).expect("hmac takes any key length")),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(m) => m.update(data),
            Self::Sha256(m) => m.update(data),
            Self::Sha512(m) => m.update(data),
        }
    }
    fn verify(self, tag: &[u8]) -> bool {
        match self {
            Self::Sha1(m) => m.verify_slice(tag).is_ok(),
            Self::Sha256(m) => m.verify_slice(tag).is_ok(),
            Self::Sha512(m) => m.verify_slice(tag).is_ok(),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(m) => m.finalize().into_bytes().to_vec(),
            Self::Sha256(m) => m.finalize().into_bytes().to_vec(),
            Self::Sha512(m) => m.finalize().into_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert!(v.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS).is_ok());
        // Several signatures: any matching v1 entry is enough; unknown versions are ignored.
        let several = format!("v1a,abcd v1,AAAA {SW_SIG}");
        assert!(v.verify(&sw_headers(&several), SW_BODY, SW_TS + 10).is_ok());
        let err = v.verify(&sw_headers(SW_SIG), br#"{"test": 2432232315}"#, SW_TS).unwrap_err();
        assert_eq!(err.code, "signature_mismatch");
        assert_eq!(err.location, "header webhook-signature");
    }

    #[test]
    fn standard_webhooks_window_and_rotation() {
        let v =
            verifier(json!({ "scheme": "standard-webhooks", "secret": ["whsec_b2xkb2xkb2xkb2xkb2xkb2xk", SW_SECRET] }));
        assert!(v.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS + 299).is_ok());
        let err = v.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS + 301).unwrap_err();
        assert_eq!(err.code, "timestamp_out_of_tolerance");
        let err = v.verify(&sw_headers(SW_SIG), SW_BODY, SW_TS - 301).unwrap_err();
        assert!(err.message.contains("future"));
        let err = v.verify(&headers(&[("webhook-id", SW_ID)]), SW_BODY, SW_TS).unwrap_err();
        assert_eq!((err.code, err.location.as_str()), ("signature_missing", "header webhook-timestamp"));
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
        assert!(v.verify(&headers(&[("x-hub-signature-256", sig)]), b"Hello, World!", 0).is_ok());
        assert!(v.verify(&headers(&[("x-hub-signature-256", sig)]), b"Hello, World?", 0).is_err());
        let err = v.verify(&headers(&[]), b"Hello, World!", 0).unwrap_err();
        assert_eq!(err.code, "signature_missing");
        let err = v.verify(&headers(&[("x-hub-signature-256", &sig[7..])]), b"Hello, World!", 0).unwrap_err();
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
        assert!(v.verify(&h, body, 1059).is_ok());
        assert_eq!(v.verify(&h, body, 1061).unwrap_err().code, "timestamp_out_of_tolerance");
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
        assert!(v.verify(&headers(&[("x-sig", &sig)]), b"body", 0).is_ok());
    }

    #[test]
    fn token_and_basic() {
        let v = verifier(json!({ "scheme": "token", "header": "X-Gitlab-Token", "secret": "tok" }));
        assert!(v.verify(&headers(&[("x-gitlab-token", "tok")]), b"", 0).is_ok());
        assert_eq!(v.verify(&headers(&[("x-gitlab-token", "tok2")]), b"", 0).unwrap_err().code, "token_mismatch");
        let v = verifier(json!({ "scheme": "basic", "username": "u", "password": "p" }));
        let good = format!("Basic {}", B64.encode("u:p"));
        let bad = format!("Basic {}", B64.encode("u:q"));
        assert!(v.verify(&headers(&[("authorization", &good)]), b"", 0).is_ok());
        assert_eq!(v.verify(&headers(&[("authorization", &bad)]), b"", 0).unwrap_err().code, "unauthorized");
        assert_eq!(v.verify(&headers(&[]), b"", 0).unwrap_err().code, "unauthorized");
    }

    #[test]
    fn unknown_settings_are_named() {
        let err = Verifier::from_json(Some(&json!({ "scheme": "hmac", "header": "x", "secret": "s", "algo": "md5" })))
            .unwrap_err();
        assert!(err.0.contains("unknown field `algo`"), "{err}");
        let err = Verifier::from_json(Some(&json!({ "scheme": "rot13" }))).unwrap_err();
        assert!(err.0.contains("unknown variant"), "{err}");
    }
}
