//! Request verification for `trigger.with.verify` (DESIGN §5): presets by provider name
//! (`preset: stripe`), the generic `signature` scheme they are written in, and `hmac`,
//! `standard-webhooks`, `token` and `basic`. Every comparison runs in constant time over the raw
//! body bytes; the signed string is fed to the MAC piece by piece.

mod handshake;
mod keys;
mod sign;
mod spec;
pub(crate) mod template;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use onset_model::Duration;
use serde_json::Value;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

pub use handshake::{Handshake, HandshakeAnswer};
pub use keys::{PublicAlgorithm, PublicKey, SecretEncoding};
pub use sign::CannotSign;
pub use spec::{
    Algorithm, Encoding, ListFormat, Locator, Secrets, SignatureAlgorithm, SignatureLocator, SignatureSpec,
    TimestampFormat, TimestampLocator, VerifySpec,
};
use template::{Fields, Part, Scope};

use crate::secret::Secret;

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

    fn at_field(code: &'static str, path: &[String], message: impl Into<String>) -> Self {
        Self { code, message: message.into(), location: format!("body field {}", path.join(".")) }
    }
}

/// The request as verification sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path and query as received.
    pub path: &'a str,
    /// The public URL the provider called (`--public-url` followed by path and query).
    pub url: Option<&'a str>,
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A `POST /` with these headers and body.
    pub fn new(headers: &'a http::HeaderMap, body: &'a [u8]) -> Self {
        Self { method: "POST", path: "/", url: None, query: "", headers, body }
    }

    /// The URL the provider called: the public URL when the server knows it, else rebuilt from
    /// the `Host` header.
    pub fn public_url(&self) -> Cow<'a, str> {
        match self.url {
            Some(url) => Cow::Borrowed(url),
            None => {
                let host = self.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
                Cow::Owned(format!("http://{host}{}", self.path))
            }
        }
    }

    /// The path (and query) of the public URL.
    pub fn public_path(&self) -> Cow<'a, str> {
        match self.url {
            Some(url) => {
                let after_scheme = url.find("://").map_or(0, |i| i + 3);
                Cow::Borrowed(url[after_scheme..].find('/').map_or("/", |i| &url[after_scheme + i..]))
            }
            None => Cow::Borrowed(self.path),
        }
    }
}

#[derive(Debug, Clone)]
enum Place {
    Header(String),
    Field(Vec<String>),
}

impl Place {
    fn from_locator(what: &str, l: &Locator) -> Result<Self, VerifierBuildError> {
        match (&l.header, &l.field) {
            (Some(h), None) => Ok(Place::Header(h.to_ascii_lowercase())),
            (None, Some(f)) => {
                Ok(Place::Field(template::field_path(f).map_err(|e| VerifierBuildError(format!("{what}.field: {e}")))?))
            }
            _ => Err(VerifierBuildError(format!("{what} takes either `header` or `field`"))),
        }
    }

    fn read<'r>(&self, req: &'r Request<'_>, fields: &'r Fields<'_>) -> Result<Cow<'r, str>, VerifyError> {
        match self {
            Place::Header(h) => header_str(req.headers, h).map(Cow::Borrowed),
            Place::Field(path) => fields
                .get(path)
                .ok_or_else(|| VerifyError::at_field("signature_missing", path, "the body has no such field")),
        }
    }
}

#[derive(Debug, Clone)]
enum SignatureSource {
    Headers(Vec<String>),
    Field(Vec<String>),
}

#[derive(Debug, Clone)]
struct SignaturePlace {
    source: SignatureSource,
    prefix: String,
    encoding: Encoding,
    list: Option<ListFormat>,
}

#[derive(Debug, Clone)]
enum TimestampSource {
    Place(Place),
    ListKey(String),
}

#[derive(Debug, Clone)]
struct TimestampPlace {
    source: TimestampSource,
    format: TimestampFormat,
    tolerance_secs: i64,
}

#[derive(Debug, Clone)]
enum Keys {
    Hmac(Algorithm, Vec<Vec<u8>>),
    Public(Vec<PublicKey>),
}

#[derive(Debug, Clone)]
struct Signed {
    keys: Keys,
    signature: SignaturePlace,
    timestamp: Option<TimestampPlace>,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Scheme {
    None,
    Signed(Box<Signed>),
    Token { header: String, digest: [u8; 32] },
    Basic { digest: [u8; 32] },
}

/// A ready-to-use verifier: secrets decoded and templates parsed once, at activation.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: Scheme,
    id: Option<Place>,
    handshake: Option<Handshake>,
    /// Secrets a handshake handed over (Asana's `X-Hook-Secret`), shared by clones.
    learned: Arc<RwLock<Vec<Vec<u8>>>>,
    /// The `hub.verify_token` a `hub` handshake must carry.
    hub_token: Option<Secret>,
}

const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

fn tolerance_secs(d: Option<Duration>) -> i64 {
    d.map_or(DEFAULT_TOLERANCE_SECS, |d| i64::try_from(d.as_std().as_secs()).unwrap_or(i64::MAX))
}

fn hmac_keys(secret: Option<&Secrets>, encoding: SecretEncoding) -> Result<Vec<Vec<u8>>, VerifierBuildError> {
    let Some(secret) = secret else { return Ok(Vec::new()) };
    let keys =
        secret.list().into_iter().map(|s| keys::secret_bytes(s.expose(), encoding)).collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(VerifierBuildError("verify.secret lists no secret".into()));
    }
    Ok(keys)
}

impl Signed {
    fn build(spec: SignatureSpec, learns: bool) -> Result<Self, VerifierBuildError> {
        let keys = match spec.algorithm {
            SignatureAlgorithm::HmacSha1 | SignatureAlgorithm::HmacSha256 | SignatureAlgorithm::HmacSha512 => {
                if spec.public_key.is_some() {
                    return Err(VerifierBuildError(
                        "verify.public_key is for ed25519, ecdsa-p256-sha256 and rsa-sha256; HMAC takes `secret`"
                            .into(),
                    ));
                }
                let keys = hmac_keys(spec.secret.as_ref(), spec.secret_encoding)?;
                if keys.is_empty() && !learns {
                    return Err(VerifierBuildError(
                        "verify needs `secret`: the signing secret the sender shows".into(),
                    ));
                }
                let algorithm = match spec.algorithm {
                    SignatureAlgorithm::HmacSha1 => Algorithm::Sha1,
                    SignatureAlgorithm::HmacSha512 => Algorithm::Sha512,
                    _ => Algorithm::Sha256,
                };
                Keys::Hmac(algorithm, keys)
            }
            public => {
                if spec.secret.is_some() {
                    return Err(VerifierBuildError(
                        "this scheme checks signatures with the sender's `public_key`, not a `secret`".into(),
                    ));
                }
                let algorithm = match public {
                    SignatureAlgorithm::Ed25519 => PublicAlgorithm::Ed25519,
                    SignatureAlgorithm::EcdsaP256Sha256 => PublicAlgorithm::EcdsaP256Sha256,
                    _ => PublicAlgorithm::RsaSha256,
                };
                let given = spec.public_key.as_ref().ok_or_else(|| {
                    VerifierBuildError("verify needs `public_key`: the sender's public key (hex, base64 or PEM)".into())
                })?;
                Keys::Public(
                    given
                        .list()
                        .into_iter()
                        .map(|k| PublicKey::parse(k.expose(), algorithm))
                        .collect::<Result<_, _>>()?,
                )
            }
        };
        let s = spec.signature;
        let source = match (s.header, s.headers, s.field) {
            (Some(h), None, None) => SignatureSource::Headers(vec![h.to_ascii_lowercase()]),
            (None, Some(hs), None) if !hs.is_empty() => {
                SignatureSource::Headers(hs.iter().map(|h| h.to_ascii_lowercase()).collect())
            }
            (None, None, Some(f)) => SignatureSource::Field(
                template::field_path(&f).map_err(|e| VerifierBuildError(format!("verify.signature.field: {e}")))?,
            ),
            _ => return Err(VerifierBuildError("verify.signature takes one of `header`, `headers` or `field`".into())),
        };
        if let Some(list) = &s.list
            && (list.separator.is_empty() || list.assign.is_empty() || list.key.is_empty())
        {
            return Err(VerifierBuildError("verify.signature.list: separator, assign and key are not empty".into()));
        }
        let timestamp = match spec.timestamp {
            None => None,
            Some(t) => {
                let source = match (&t.header, &t.field, t.list_key) {
                    (_, _, Some(key)) if t.header.is_none() && t.field.is_none() => {
                        if s.list.is_none() {
                            return Err(VerifierBuildError(
                                "verify.timestamp.list_key reads the signature list, but verify.signature has no `list`".into(),
                            ));
                        }
                        TimestampSource::ListKey(key)
                    }
                    (_, _, None) => TimestampSource::Place(Place::from_locator(
                        "verify.timestamp",
                        &Locator { header: t.header.clone(), field: t.field.clone() },
                    )?),
                    _ => {
                        return Err(VerifierBuildError(
                            "verify.timestamp takes one of `header`, `field` or `list_key`".into(),
                        ));
                    }
                };
                Some(TimestampPlace { source, format: t.format, tolerance_secs: tolerance_secs(t.tolerance) })
            }
        };
        let parts = template::parse(spec.signed.as_deref().unwrap_or("{body}"))?;
        if timestamp.is_none() && parts.contains(&Part::Timestamp) {
            return Err(VerifierBuildError(
                "verify.signed uses `{timestamp}` but no `timestamp` says where it comes from".into(),
            ));
        }
        Ok(Self {
            keys,
            signature: SignaturePlace {
                source,
                prefix: s.prefix.unwrap_or_default(),
                encoding: s.encoding,
                list: s.list,
            },
            timestamp,
            parts,
        })
    }
}

fn bad(e: impl std::fmt::Display) -> VerifierBuildError {
    VerifierBuildError(format!("trigger.with.verify: {e}"))
}

impl Verifier {
    fn with_scheme(scheme: Scheme) -> Self {
        Self { scheme, id: None, handshake: None, learned: Arc::default(), hub_token: None }
    }

    /// Accepts every request.
    pub fn none() -> Self {
        Self::with_scheme(Scheme::None)
    }

    /// Builds from the rendered `with.verify` value (absent = no verification).
    pub fn from_json(value: Option<&Value>) -> Result<Self, VerifierBuildError> {
        let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(Self::none()) };
        let mut map =
            value.as_object().cloned().ok_or_else(|| bad("expected a mapping (e.g. { preset: stripe, secret: … })"))?;
        let mut id = map
            .remove("id")
            .map(|v| serde_json::from_value::<Locator>(v).map_err(|e| bad(format!("id: {e}"))))
            .transpose()?;
        let mut handshake = map
            .remove("handshake")
            .map(|v| serde_json::from_value::<Handshake>(v).map_err(|e| bad(format!("handshake: {e}"))))
            .transpose()?;
        let verify_token = map
            .remove("verify_token")
            .map(|v| serde_json::from_value::<Secret>(v).map_err(|e| bad(format!("verify_token: {e}"))))
            .transpose()?;
        let spec = match map.remove("preset") {
            Some(name) => {
                let name = name.as_str().ok_or_else(|| bad("preset is a provider name (e.g. stripe)"))?.to_string();
                let expanded = crate::presets::expand(&name, map, verify_token.is_some())?;
                id = id.or(expanded.id);
                handshake = handshake.or(expanded.handshake);
                expanded.spec
            }
            None => Value::Object(map),
        };
        let spec: VerifySpec = serde_json::from_value(spec).map_err(bad)?;
        let mut verifier = Self::build(spec, handshake.is_some_and(|h| h.hands_over_secret()))?;
        if let Some(l) = &id {
            verifier.id = Some(Place::from_locator("verify.id", l)?);
        }
        if verify_token.is_some() && handshake != Some(Handshake::Hub) {
            return Err(bad("verify_token is for the `hub` handshake (Meta, WebSub)"));
        }
        verifier.handshake = handshake;
        verifier.hub_token = verify_token;
        Ok(verifier)
    }

    pub fn new(spec: VerifySpec) -> Result<Self, VerifierBuildError> {
        Self::build(spec, false)
    }

    fn build(spec: VerifySpec, learns: bool) -> Result<Self, VerifierBuildError> {
        let scheme = match spec {
            VerifySpec::None => Scheme::None,
            VerifySpec::Hmac { header, algorithm, encoding, prefix, secret, timestamp_header, tolerance, signed } => {
                let default_signed = if timestamp_header.is_some() { "{timestamp}.{body}" } else { "{body}" };
                let spec = SignatureSpec {
                    algorithm: match algorithm {
                        Algorithm::Sha1 => SignatureAlgorithm::HmacSha1,
                        Algorithm::Sha256 => SignatureAlgorithm::HmacSha256,
                        Algorithm::Sha512 => SignatureAlgorithm::HmacSha512,
                    },
                    secret: Some(secret),
                    secret_encoding: SecretEncoding::Text,
                    public_key: None,
                    signature: SignatureLocator {
                        header: Some(header),
                        headers: None,
                        field: None,
                        prefix,
                        encoding,
                        list: None,
                    },
                    timestamp: timestamp_header.map(|h| TimestampLocator {
                        header: Some(h),
                        field: None,
                        list_key: None,
                        format: TimestampFormat::Seconds,
                        tolerance,
                    }),
                    signed: Some(signed.unwrap_or_else(|| default_signed.into())),
                };
                Scheme::Signed(Box::new(Signed::build(spec, learns)?))
            }
            VerifySpec::StandardWebhooks { secret, public_key } => {
                let mut map = serde_json::Map::new();
                if let Some(s) = secret {
                    map.insert("secret".into(), secrets_json(&s));
                }
                if let Some(k) = public_key {
                    map.insert("public_key".into(), secrets_json(&k));
                }
                let expanded = crate::presets::expand("standard-webhooks", map, false)?;
                let mut v = Self::from_json(Some(&expanded.spec))?;
                v.id = expanded.id.as_ref().map(|l| Place::from_locator("verify.id", l)).transpose()?;
                return Ok(v);
            }
            VerifySpec::Signature(spec) => Scheme::Signed(Box::new(Signed::build(*spec, learns)?)),
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
        Ok(Self::with_scheme(scheme))
    }

    /// The handshake this trigger answers, if any.
    pub fn handshake(&self) -> Option<Handshake> {
        self.handshake
    }

    /// Takes the secret a handshake handed over: it verifies what follows (shared by clones).
    pub fn learn(&self, secret: &[u8]) {
        let mut learned = self.learned.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *learned = vec![secret.to_vec()];
    }

    /// Whether a handshake already handed over a secret.
    pub fn has_learned(&self) -> bool {
        !self.learned.read().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty()
    }

    /// The delivery id (`verify.id` or the preset's): a header or a body field.
    pub fn delivery_id(&self, req: &Request<'_>) -> Option<String> {
        let place = self.id.as_ref()?;
        let fields = Fields::new(req);
        place.read(req, &fields).ok().map(Cow::into_owned).filter(|s| !s.is_empty())
    }

    /// The first HMAC secret (handshakes that answer with a MAC use it).
    fn first_hmac_key(&self) -> Option<Vec<u8>> {
        match &self.scheme {
            Scheme::Signed(s) => match &s.keys {
                Keys::Hmac(_, keys) => keys.first().cloned(),
                Keys::Public(_) => None,
            },
            _ => None,
        }
    }

    /// Checks a request. `now` is unix seconds.
    pub fn verify(&self, req: &Request<'_>, now: i64) -> Result<(), VerifyError> {
        match &self.scheme {
            Scheme::None => Ok(()),
            Scheme::Signed(s) => self.verify_signed(s, req, now),
            Scheme::Token { header, digest } => {
                let given = header_str(req.headers, header)?;
                if bool::from(sha256(given.as_bytes()).ct_eq(digest)) {
                    Ok(())
                } else {
                    Err(VerifyError::new("token_mismatch", header, "the token does not match"))
                }
            }
            Scheme::Basic { digest } => {
                let given = header_str(req.headers, "authorization")?;
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

    fn verify_signed(&self, s: &Signed, req: &Request<'_>, now: i64) -> Result<(), VerifyError> {
        let fields = Fields::new(req);
        let place = &s.signature;
        let (raws, location): (Vec<Cow<'_, str>>, String) = match &place.source {
            SignatureSource::Headers(names) => {
                let mut raws = Vec::with_capacity(1);
                for name in names {
                    if let Some(value) = req.headers.get(name) {
                        let text = value.to_str().map_err(|_| {
                            VerifyError::new("signature_mismatch", name, format!("`{name}` is not text"))
                        })?;
                        raws.push(Cow::Borrowed(text));
                    }
                }
                if raws.is_empty() {
                    return Err(VerifyError::new(
                        "signature_missing",
                        &names[0],
                        format!("the request has no `{}` header", names[0]),
                    ));
                }
                (raws, format!("header {}", names[0]))
            }
            SignatureSource::Field(path) => {
                let value = fields.get(path).ok_or_else(|| {
                    VerifyError::at_field("signature_missing", path, "the body has no signature field")
                })?;
                (vec![value], format!("body field {}", path.join(".")))
            }
        };
        let refuse = |code: &'static str, message: String| VerifyError { code, message, location: location.clone() };
        let list_ts_key = match s.timestamp.as_ref().map(|t| &t.source) {
            Some(TimestampSource::ListKey(k)) => Some(k.as_str()),
            _ => None,
        };
        let mut texts: Vec<&str> = Vec::with_capacity(2);
        let mut list_ts: Option<&str> = None;
        for raw in &raws {
            match &place.list {
                None => texts.push(raw.trim()),
                Some(list) => {
                    for entry in raw.split(list.separator.as_str()) {
                        if let Some((k, v)) = entry.trim().split_once(list.assign.as_str()) {
                            if k.trim() == list.key {
                                texts.push(v.trim());
                            } else if Some(k.trim()) == list_ts_key {
                                list_ts = Some(v.trim());
                            }
                        }
                    }
                }
            }
        }
        if texts.is_empty() {
            let key = place.list.as_ref().map_or("", |l| l.key.as_str());
            return Err(refuse("signature_missing", format!("the signature has no `{key}` entry")));
        }
        let mut candidates: Vec<Vec<u8>> = Vec::with_capacity(texts.len());
        let mut prefixed = false;
        for text in texts {
            let Some(text) = text.strip_prefix(place.prefix.as_str()) else { continue };
            prefixed = true;
            let decoded = match place.encoding {
                Encoding::Hex => hex::decode(text.trim().to_ascii_lowercase()).ok(),
                Encoding::Base64 => B64.decode(text.trim()).ok(),
            };
            candidates.extend(decoded);
        }
        if !prefixed {
            return Err(refuse("signature_mismatch", format!("the signature does not start with `{}`", place.prefix)));
        }
        if candidates.is_empty() {
            return Err(refuse("signature_mismatch", format!("the signature is not {:?} encoded", place.encoding)));
        }
        let timestamp: Option<Cow<'_, str>> = match &s.timestamp {
            None => None,
            Some(t) => {
                let (text, where_) = match &t.source {
                    TimestampSource::ListKey(key) => (
                        list_ts.map(Cow::Borrowed).ok_or_else(|| {
                            refuse("signature_missing", format!("the signature has no `{key}` (timestamp) entry"))
                        })?,
                        location.clone(),
                    ),
                    TimestampSource::Place(p) => (p.read(req, &fields)?, p.describe()),
                };
                check_timestamp(&text, t.format, now, t.tolerance_secs).map_err(|(code, message)| VerifyError {
                    code,
                    message,
                    location: where_,
                })?;
                Some(text)
            }
        };
        let id = if s.parts.contains(&Part::Id) {
            let place = self.id.as_ref().ok_or_else(|| {
                refuse(
                    "signature_missing",
                    "the signed string uses {id}, but verify.id says nowhere where it is".into(),
                )
            })?;
            Some(place.read(req, &fields)?)
        } else {
            None
        };
        let scope = Scope { req, fields: &fields, id: id.as_deref(), timestamp: timestamp.as_deref() };
        let ok = match &s.keys {
            Keys::Hmac(algorithm, keys) => {
                let learned = self.learned.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.is_empty() && learned.is_empty() {
                    return Err(refuse(
                        "signature_mismatch",
                        "no secret yet: the sender's handshake has not happened (or set verify.secret)".into(),
                    ));
                }
                let mut ok = false;
                for key in keys.iter().chain(learned.iter()) {
                    let mut mac = HmacAny::new(*algorithm, key);
                    template::render(&s.parts, &scope, &mut |b| mac.update(b))?;
                    let tag = mac.finish();
                    ok |= candidates.iter().any(|c| bool::from(c.as_slice().ct_eq(&tag)));
                }
                ok
            }
            Keys::Public(keys) => {
                let mut message = Vec::with_capacity(req.body.len() + 64);
                template::render(&s.parts, &scope, &mut |b| message.extend_from_slice(b))?;
                keys.iter().any(|k| candidates.iter().any(|c| k.verifies(&message, c)))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(refuse("signature_mismatch", "no signature matches the request for any configured key".into()))
        }
    }
}

impl Place {
    fn describe(&self) -> String {
        match self {
            Place::Header(h) => format!("header {h}"),
            Place::Field(p) => format!("body field {}", p.join(".")),
        }
    }
}

fn secrets_json(s: &Secrets) -> Value {
    match s {
        Secrets::One(s) => Value::String(s.expose().to_string()),
        Secrets::Many(v) => Value::Array(v.iter().map(|s| Value::String(s.expose().to_string())).collect()),
    }
}

pub(crate) fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<&'a str, VerifyError> {
    let value = headers.get(name).ok_or_else(|| {
        let code = if name == "authorization" { "unauthorized" } else { "signature_missing" };
        VerifyError::new(code, name, format!("the request has no `{name}` header"))
    })?;
    value.to_str().map_err(|_| VerifyError::new("signature_mismatch", name, format!("`{name}` is not text")))
}

/// Unix seconds of a timestamp written in `format`.
fn parse_timestamp(text: &str, format: TimestampFormat) -> Option<i64> {
    let text = text.trim();
    match format {
        TimestampFormat::Seconds => text.parse().ok(),
        TimestampFormat::Milliseconds => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
        TimestampFormat::Rfc3339 => text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second()),
    }
}

fn check_timestamp(
    text: &str,
    format: TimestampFormat,
    now: i64,
    tolerance: i64,
) -> Result<(), (&'static str, String)> {
    let ts = parse_timestamp(text, format).ok_or_else(|| {
        let expected = match format {
            TimestampFormat::Seconds => "whole unix seconds",
            TimestampFormat::Milliseconds => "unix milliseconds",
            TimestampFormat::Rfc3339 => "an RFC 3339 time",
        };
        ("timestamp_invalid", format!("the timestamp is not {expected}"))
    })?;
    if now.saturating_sub(ts).saturating_abs() > tolerance {
        let which = if ts < now { "too old" } else { "too far in the future" };
        return Err((
            "timestamp_out_of_tolerance",
            format!("the timestamp is {which} (tolerance {tolerance}s); check the sender's clock or replay protection"),
        ));
    }
    Ok(())
}

pub(crate) enum HmacAny {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl HmacAny {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Hmac::new_from_slice(key).expect("hmac takes any key length")),
            Algorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(key).expect("hmac takes any key length")),
            Algorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(key).expect("hmac takes any key length")),
        }
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(m) => m.update(data),
            Self::Sha256(m) => m.update(data),
            Self::Sha512(m) => m.update(data),
        }
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(m) => m.finalize().into_bytes().to_vec(),
            Self::Sha256(m) => m.finalize().into_bytes().to_vec(),
            Self::Sha512(m) => m.finalize().into_bytes().to_vec(),
        }
    }
}
