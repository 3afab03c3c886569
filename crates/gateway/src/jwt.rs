//! JSON Web Tokens as OAuth2 access tokens (RFC 9068 shape): Onset's own, signed with Ed25519
//! (`EdDSA`), and an external issuer's, signed with `EdDSA`, `RS256` or `ES256` by a key of its
//! JWKS. Nothing else is accepted: no `none`, no shared-secret `HS*` (whose key a JWKS would
//! publish), and a token's `alg` must match its key's type, so one kind of key is never used as
//! another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::signature::{self, KeyPair as _};
use serde_json::{Map, Value, json};

/// Why a token is refused: a stable `code` for clients and a message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub code: &'static str,
    pub message: String,
}

impl TokenError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new("token_invalid", message)
    }
}

/// The signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDSA,
    RS256,
    ES256,
}

impl Alg {
    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "EdDSA" => Some(Alg::EdDSA),
            "RS256" => Some(Alg::RS256),
            "ES256" => Some(Alg::ES256),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// 32 bytes.
    Ed25519(Vec<u8>),
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    P256(Vec<u8>),
}

/// A public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: Alg,
    material: Material,
}

impl VerifyingKey {
    /// An Ed25519 public key of 32 bytes.
    pub fn ed25519(kid: &str, public: &[u8]) -> VerifyingKey {
        VerifyingKey { kid: Some(kid.to_string()), alg: Alg::EdDSA, material: Material::Ed25519(public.to_vec()) }
    }

    /// Reads one JWK (RFC 7517): `OKP`/`Ed25519`, `RSA` or `EC`/`P-256`. `None` for keys of
    /// other types or uses (encryption keys), which a JWKS may hold beside signing keys.
    pub fn from_jwk(jwk: &Value) -> Result<Option<VerifyingKey>, String> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("use").is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let text =
                field(name).ok_or_else(|| format!("a JWK of type {} has no `{name}`", field("kty").unwrap_or("?")))?;
            B64URL.decode(text.trim_end_matches('=')).map_err(|_| format!("the JWK's `{name}` is not base64url"))
        };
        let kid = field("kid").map(str::to_string);
        let (alg, material) = match (field("kty"), field("crv")) {
            (Some("OKP"), Some("Ed25519")) => {
                let x = bytes("x")?;
                if x.len() != 32 {
                    return Err("an Ed25519 JWK's `x` is 32 bytes".into());
                }
                (Alg::EdDSA, Material::Ed25519(x))
            }
            (Some("RSA"), _) => {
                let strip = |mut v: Vec<u8>| {
                    let zeros = v.iter().take_while(|b| **b == 0).count();
                    v.drain(..zeros);
                    v
                };
                (Alg::RS256, Material::Rsa { n: strip(bytes("n")?), e: strip(bytes("e")?) })
            }
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 JWK's `x` and `y` are 32 bytes each".into());
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (Alg::ES256, Material::P256(point))
            }
            _ => return Ok(None),
        };
        // A key that names an algorithm is used with that one only.
        if let Some(named) = field("alg")
            && Alg::parse(named) != Some(alg)
        {
            return Ok(None);
        }
        Ok(Some(VerifyingKey { kid, alg, material }))
    }

    /// The key as a JWK for `/.well-known/jwks.json` (Ed25519 keys only are made here).
    pub fn to_jwk(&self) -> Value {
        let mut jwk = match &self.material {
            Material::Ed25519(x) => json!({ "kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(x) }),
            Material::Rsa { n, e } => json!({ "kty": "RSA", "n": B64URL.encode(n), "e": B64URL.encode(e) }),
            Material::P256(point) => {
                json!({ "kty": "EC", "crv": "P-256", "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..]) })
            }
        };
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(self.alg.name());
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            Material::Ed25519(x) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig).is_ok()
            }
            Material::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            Material::P256(point) => signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// The signing keys of a JWKS document.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("the JWKS has no `keys` list")?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        if let Some(key) = VerifyingKey::from_jwk(k)? {
            out.push(key);
        }
    }
    Ok(out)
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Splits a compact JWS and decodes its header and claims.
pub fn decode(token: &str) -> Result<Unverified<'_>, TokenError> {
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::invalid("the access token is not a JWT (three base64url parts joined by dots)"));
    };
    let part = |text: &str, what: &str| {
        B64URL.decode(text).map_err(|_| TokenError::invalid(format!("the token's {what} is not base64url")))
    };
    let header: Map<String, Value> = serde_json::from_slice(&part(h, "header")?)
        .map_err(|_| TokenError::invalid("the token's header is not a JSON object"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&part(c, "claims")?)
        .map_err(|_| TokenError::invalid("the token's claims are not a JSON object"))?;
    let named = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let alg = Alg::parse(named).ok_or_else(|| {
        TokenError::invalid(format!("the token's alg `{named}` is not accepted: EdDSA, RS256 or ES256"))
    })?;
    if header.get("crit").is_some() {
        return Err(TokenError::invalid("the token names critical header extensions, which are not understood"));
    }
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_string);
    Ok(Unverified {
        alg,
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature: part(s, "signature")?,
    })
}

impl Unverified<'_> {
    /// The key of `keys` this token names (by `kid`, else the only key of its algorithm), if any.
    pub fn key_in<'k>(&self, keys: &'k [VerifyingKey]) -> Option<&'k VerifyingKey> {
        match &self.kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None => {
                let mut of_alg = keys.iter().filter(|k| k.alg == self.alg);
                let first = of_alg.next()?;
                of_alg.next().is_none().then_some(first)
            }
        }
    }

    /// Checks the signature with `key`, whose algorithm must be the token's.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), TokenError> {
        if key.alg != self.alg {
            return Err(TokenError::invalid(format!(
                "the token says {} but its key is for {}",
                self.alg.name(),
                key.alg.name()
            )));
        }
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(TokenError::invalid("the token's signature does not match its issuer's key"))
        }
    }
}

/// What a token must say to be accepted here.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    pub leeway: i64,
}

/// The claims a handler and the gateway use, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subject: Option<String>,
    /// `client_id` (RFC 9068), else `azp`, else the subject.
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub expires: i64,
}

/// Checks `iss`, `aud`, `exp` and `nbf`; reads `scope` (space-separated, RFC 9068) or `scp` (a list).
pub fn check_claims(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<Claims, TokenError> {
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err(TokenError::invalid("the token has no `exp` (expiry) claim"));
    };
    if expect.now >= exp + expect.leeway {
        return Err(TokenError::new(
            "token_expired",
            format!("the token expired {} s ago; get a new one", expect.now - exp),
        ));
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && expect.now + expect.leeway < nbf
    {
        return Err(TokenError::new(
            "token_not_yet_valid",
            format!("the token is valid from {nbf} (in {} s)", nbf - expect.now),
        ));
    }
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != expect.issuer {
        return Err(TokenError::new(
            "token_issuer",
            format!("the token was issued by `{iss}`; this API takes tokens of `{}`", expect.issuer),
        ));
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(a)) => a == expect.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expect.audience)),
        _ => false,
    };
    if !for_us {
        return Err(TokenError::new(
            "token_audience",
            format!("the token is not for this API: its `aud` must name `{}`", expect.audience),
        ));
    }
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split_ascii_whitespace().map(str::to_string).collect(),
        (_, Some(Value::Array(list))) => list.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
        (_, Some(Value::String(s))) => s.split_ascii_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    let subject = text("sub");
    let client_id = text("client_id").or_else(|| text("azp")).or_else(|| subject.clone());
    Ok(Claims { subject, client_id, scopes, expires: exp })
}

/// One of Onset's own Ed25519 signing keys.
pub struct SigningKey {
    pub kid: String,
    pair: signature::Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key and its PKCS#8 document (to be kept sealed).
    pub fn generate() -> Result<(SigningKey, Vec<u8>), String> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "no randomness for a signing key")?;
        let pkcs8 = pkcs8.as_ref().to_vec();
        Ok((SigningKey::from_pkcs8(&pkcs8)?, pkcs8))
    }

    /// A key from its PKCS#8 document; its `kid` is the RFC 7638 thumbprint of its public JWK.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, String> {
        let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|_| "a stored signing key is not an Ed25519 PKCS#8 document".to_string())?;
        let kid = thumbprint(pair.public_key().as_ref());
        Ok(SigningKey { kid, pair })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::ed25519(&self.kid, self.pair.public_key().as_ref())
    }

    /// A compact JWS of `claims` (`typ: at+jwt`, RFC 9068).
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": self.kid });
        let mut out = B64URL.encode(header.to_string());
        out.push('.');
        out.push_str(&B64URL.encode(claims.to_string()));
        let sig = self.pair.sign(out.as_bytes());
        out.push('.');
        out.push_str(&B64URL.encode(sig.as_ref()));
        out
    }
}

/// RFC 7638: SHA-256 of the required members in lexical order, base64url.
fn thumbprint(x: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64URL.encode(x));
    B64URL.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(now: i64) -> Expect<'static> {
        Expect { issuer: "https://onset.test", audience: "https://onset.test/hooks/development/orders", now, leeway: 0 }
    }

    fn claims(now: i64) -> Value {
        json!({
            "iss": "https://onset.test", "aud": "https://onset.test/hooks/development/orders", "sub": "app1",
            "client_id": "app1", "exp": now + 60, "nbf": now, "iat": now, "scope": "orders:write orders:read"
        })
    }

    #[test]
    fn own_tokens_are_signed_verified_and_checked() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(key.kid, again.kid);
        let now = 1_800_000_000;
        let token = key.sign(&claims(now));
        let t = decode(&token).unwrap();
        assert_eq!((t.alg, t.kid.as_deref()), (Alg::EdDSA, Some(key.kid.as_str())));
        let keys = vec![again.verifying_key()];
        t.verify(t.key_in(&keys).unwrap()).unwrap();
        let c = check_claims(&t.claims, &expect(now)).unwrap();
        assert_eq!(c.scopes, ["orders:write", "orders:read"]);
        assert_eq!(c.client_id.as_deref(), Some("app1"));

        // The JWK round-trips through the JWKS reader.
        let jwks = json!({ "keys": [key.verifying_key().to_jwk(), { "kty": "oct", "k": "c2VjcmV0" }] });
        let read = parse_jwks(jwks.to_string().as_bytes()).unwrap();
        assert_eq!(read, keys);
    }

    #[test]
    fn tampered_foreign_and_confused_tokens_are_refused() {
        let (key, _) = SigningKey::generate().unwrap();
        let (other, _) = SigningKey::generate().unwrap();
        let now = 1_800_000_000;
        let token = key.sign(&claims(now));
        // Claims changed after signing.
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(now);
        forged["scope"] = json!("admin");
        let forged_claims = B64URL.encode(forged.to_string());
        parts[1] = &forged_claims;
        let tampered = parts.join(".");
        let t = decode(&tampered).unwrap();
        assert_eq!(t.verify(&key.verifying_key()).unwrap_err().code, "token_invalid");
        // Another key.
        let t = decode(&token).unwrap();
        assert!(t.verify(&other.verifying_key()).is_err());
        assert!(t.key_in(&[other.verifying_key()]).is_none());
        // alg none and HS256 are never read.
        for alg in ["none", "HS256"] {
            let h = B64URL.encode(json!({ "alg": alg }).to_string());
            let c = B64URL.encode(claims(now).to_string());
            let err = decode(&format!("{h}.{c}.")).unwrap_err();
            assert!(err.message.contains("not accepted"), "{err:?}");
        }
        // A token whose alg differs from its key's.
        let h = B64URL.encode(json!({ "alg": "RS256", "kid": key.kid }).to_string());
        let c = B64URL.encode(claims(now).to_string());
        let confused = format!("{h}.{c}.{}", token.rsplit('.').next().unwrap());
        let t = decode(&confused).unwrap();
        assert!(t.verify(&key.verifying_key()).unwrap_err().message.contains("its key is for EdDSA"));
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.x"] {
            assert_eq!(decode(bad).unwrap_err().code, "token_invalid", "{bad}");
        }
    }

    #[test]
    fn time_issuer_audience_and_scopes_are_checked() {
        let now = 1_800_000_000;
        let c = claims(now);
        let map = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(check_claims(&map(c.clone()), &expect(now + 60)).unwrap_err().code, "token_expired");
        assert!(check_claims(&map(c.clone()), &Expect { leeway: 5, ..expect(now + 60) }).is_ok());
        assert_eq!(check_claims(&map(c.clone()), &expect(now - 1)).unwrap_err().code, "token_not_yet_valid");
        let mut other = c.clone();
        other["iss"] = json!("https://evil.test");
        assert_eq!(check_claims(&map(other), &expect(now)).unwrap_err().code, "token_issuer");
        let mut other = c.clone();
        other["aud"] = json!(["https://onset.test/hooks/production/orders"]);
        assert_eq!(check_claims(&map(other.clone()), &expect(now)).unwrap_err().code, "token_audience");
        other["aud"] = json!(["x", "https://onset.test/hooks/development/orders"]);
        assert!(check_claims(&map(other), &expect(now)).is_ok());
        let mut other = c.clone();
        other.as_object_mut().unwrap().remove("exp");
        assert_eq!(check_claims(&map(other), &expect(now)).unwrap_err().code, "token_invalid");
        let mut other = c;
        other.as_object_mut().unwrap().remove("scope");
        other["scp"] = json!(["a", "b"]);
        other.as_object_mut().unwrap().remove("client_id");
        other["azp"] = json!("web");
        let read = check_claims(&map(other), &expect(now)).unwrap();
        assert_eq!((read.scopes, read.client_id.as_deref()), (vec!["a".to_string(), "b".to_string()], Some("web")));
    }

    #[test]
    fn jwks_keys_of_every_accepted_type_are_read() {
        let jwks = json!({ "keys": [
            { "kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB" },
            { "kty": "EC", "kid": "e1", "crv": "P-256", "x": B64URL.encode([1u8; 32]), "y": B64URL.encode([2u8; 32]) },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB" },
            { "kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA" }
        ]});
        let keys = parse_jwks(jwks.to_string().as_bytes()).unwrap();
        let kinds: Vec<(Option<&str>, Alg)> = keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
        assert_eq!(kinds, [(Some("r1"), Alg::RS256), (Some("e1"), Alg::ES256)]);
        assert!(parse_jwks(b"{}").unwrap_err().contains("no `keys`"));
        assert!(parse_jwks(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#).unwrap_err().contains("32 bytes"));
    }
}
