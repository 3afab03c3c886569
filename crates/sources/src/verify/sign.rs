//! Signing a request as the provider would, with the trigger's own secret: the signing service
//! (`POST /api/v1/components/{name}/sign`) and `onset curl` answer these headers. Schemes whose
//! private key only the provider holds, and schemes whose "signature" is the secret itself
//! (`token`, `basic`), cannot be signed here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::template::{self, Fields, Part, Scope};
use super::{Encoding, Keys, Place, Request, Scheme, SignatureSource, TimestampFormat, TimestampSource, Verifier};

/// Why a request cannot be signed here (answered as 422 `cannot_sign`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CannotSign(pub String);

fn format_timestamp(now: i64, format: TimestampFormat) -> String {
    match format {
        TimestampFormat::Seconds => now.to_string(),
        TimestampFormat::Milliseconds => (now * 1000).to_string(),
        TimestampFormat::Rfc3339 => jiff::Timestamp::from_second(now).map(|t| t.to_string()).unwrap_or_default(),
    }
}

impl Verifier {
    /// The headers a sender adds to `req` to be accepted at `now`; `id` names the delivery
    /// when the scheme carries one in a header.
    pub fn sign(&self, req: &Request<'_>, now: i64, id: &str) -> Result<Vec<(String, String)>, CannotSign> {
        let s = match &self.scheme {
            Scheme::None => return Ok(Vec::new()),
            Scheme::Token { .. } | Scheme::Basic { .. } => {
                return Err(CannotSign(
                    "this trigger checks a shared token or password, not a signature: the value is the secret itself, \
                     so send it from your own configuration"
                        .into(),
                ));
            }
            Scheme::Signed(s) => s,
        };
        let key = match &s.keys {
            Keys::Public(_) => {
                return Err(CannotSign(
                    "this scheme is signed with the provider's private key (Ed25519, ECDSA or RSA); only the provider \
                     can sign it"
                        .into(),
                ));
            }
            Keys::Hmac(algorithm, keys) => {
                let learned = self.learned.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let key = keys.first().or(learned.first()).cloned().ok_or_else(|| {
                    CannotSign("the trigger holds no secret yet (its handshake has not happened)".into())
                })?;
                (*algorithm, key)
            }
        };
        let SignatureSource::Headers(sig_headers) = &s.signature.source else {
            return Err(CannotSign(
                "this provider puts its signature in the body; send a body the provider signed".into(),
            ));
        };
        let mut added: Vec<(String, String)> = Vec::new();
        let mut headers = req.headers.clone();
        let put = |headers: &mut http::HeaderMap, added: &mut Vec<(String, String)>, name: &str, value: String| {
            if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&value))
            {
                headers.insert(n, v);
            }
            added.push((name.to_string(), value));
        };
        let fields_req = Request { headers: req.headers, ..*req };
        let fields = Fields::new(&fields_req);
        let id_value = match &self.id {
            Some(Place::Header(h)) => {
                let value =
                    req.headers.get(h).and_then(|v| v.to_str().ok()).map_or_else(|| id.to_string(), str::to_string);
                if req.headers.get(h).is_none() {
                    put(&mut headers, &mut added, h, value.clone());
                }
                Some(value)
            }
            Some(Place::Field(path)) => fields.get(path).map(|v| v.into_owned()),
            _ => None,
        };
        if s.parts.contains(&Part::Id) && id_value.is_none() {
            return Err(CannotSign("the signed string needs the delivery id, which the body does not carry".into()));
        }
        let timestamp = match &s.timestamp {
            None => None,
            Some(t) => {
                let text = match &t.source {
                    TimestampSource::Place(Place::Field(path)) => fields
                        .get(path)
                        .map(|v| v.into_owned())
                        .ok_or_else(|| CannotSign(format!("the body needs the timestamp field {}", path.join("."))))?,
                    TimestampSource::Place(Place::Header(h)) => {
                        let text = format_timestamp(now, t.format);
                        put(&mut headers, &mut added, h, text.clone());
                        text
                    }
                    TimestampSource::ListKey(_) => format_timestamp(now, t.format),
                };
                Some(text)
            }
        };
        for part in &s.parts {
            if let Part::HeaderList(list) = part
                && headers.get(list).is_none()
            {
                let mut names: Vec<String> = vec![list.clone()];
                if let Some(TimestampSource::Place(Place::Header(h))) = s.timestamp.as_ref().map(|t| &t.source) {
                    names.push(h.clone());
                }
                names.sort();
                put(&mut headers, &mut added, list, names.join(","));
            }
        }
        let signing = Request { headers: &headers, ..*req };
        let scope = Scope { req: &signing, fields: &fields, id: id_value.as_deref(), timestamp: timestamp.as_deref() };
        let mut mac = super::HmacAny::new(key.0, &key.1);
        template::render(&s.parts, &scope, &mut |b| mac.update(b))
            .map_err(|e| CannotSign(format!("{} ({})", e.message, e.location)))?;
        let tag = mac.finish();
        let encoded = match s.signature.encoding {
            Encoding::Hex => hex::encode(tag),
            Encoding::Base64 => B64.encode(tag),
        };
        let signature = format!("{}{encoded}", s.signature.prefix);
        let value = match &s.signature.list {
            None => signature,
            Some(list) => {
                let entry = format!("{}{}{signature}", list.key, list.assign);
                match s.timestamp.as_ref().map(|t| &t.source) {
                    Some(TimestampSource::ListKey(k)) => format!(
                        "{k}{}{}{}{entry}",
                        list.assign,
                        timestamp.as_deref().unwrap_or_default(),
                        list.separator
                    ),
                    _ => entry,
                }
            }
        };
        put(&mut headers, &mut added, &sig_headers[0], value);
        Ok(added)
    }
}
