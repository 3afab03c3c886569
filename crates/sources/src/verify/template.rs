//! The signed-string templates of `trigger.with.verify.signed`: literal text and placeholders
//! over the request, rendered piece by piece into a MAC (no copy of the body) or a buffer.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::{Request, VerifierBuildError, VerifyError};

/// Every placeholder a template may use, for messages and the docs.
pub const PLACEHOLDERS: &str = "{id}, {timestamp}, {body}, {method}, {path}, {url}, {header:NAME}, \
     {field:JSON.PATH}, {form_sorted}, {header_list:NAME}";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(Vec<u8>),
    Id,
    Timestamp,
    Body,
    Method,
    Path,
    Url,
    Header(String),
    Field(Vec<String>),
    /// Twilio: form parameters sorted by name, each name followed by its value.
    FormSorted,
    /// Contentful: the headers a header names (comma-separated), as `name:value` joined by `;`.
    HeaderList(String),
}

/// `a.b.0.c` → its segments.
pub(crate) fn field_path(path: &str) -> Result<Vec<String>, VerifierBuildError> {
    let parts: Vec<String> = path.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(VerifierBuildError(format!("`{path}` is not a field path (names joined by dots, e.g. data.id)")));
    }
    Ok(parts)
}

pub(crate) fn parse(template: &str) -> Result<Vec<Part>, VerifierBuildError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        if start > 0 {
            parts.push(Part::Text(rest.as_bytes()[..start].to_vec()));
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| VerifierBuildError(format!("verify.signed `{template}` has an unclosed `{{`")))?
            + start;
        let inner = &rest[start + 1..end];
        let unknown = || {
            VerifierBuildError(format!(
                "verify.signed `{template}`: unknown placeholder `{{{inner}}}`; use {PLACEHOLDERS}"
            ))
        };
        parts.push(match inner.split_once(':') {
            None => match inner {
                "id" => Part::Id,
                "timestamp" => Part::Timestamp,
                "body" => Part::Body,
                "method" => Part::Method,
                "path" => Part::Path,
                "url" => Part::Url,
                "form_sorted" => Part::FormSorted,
                _ => return Err(unknown()),
            },
            Some(("header", name)) if !name.is_empty() => Part::Header(name.to_ascii_lowercase()),
            Some(("header_list", name)) if !name.is_empty() => Part::HeaderList(name.to_ascii_lowercase()),
            Some(("field", path)) => Part::Field(field_path(path)?),
            _ => return Err(unknown()),
        });
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.as_bytes().to_vec()));
    }
    Ok(parts)
}

/// The body read as JSON or as a form, once, when a template or a locator first needs a field.
pub(crate) struct Fields<'a> {
    raw: &'a [u8],
    form: bool,
    parsed: OnceLock<Parsed>,
}

enum Parsed {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    Neither,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(req: &Request<'a>) -> Self {
        let form =
            req.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
            });
        Self { raw: req.body, form, parsed: OnceLock::new() }
    }

    fn parsed(&self) -> &Parsed {
        self.parsed.get_or_init(|| {
            if self.form {
                Parsed::Form(form_urlencoded::parse(self.raw).into_owned().collect())
            } else {
                serde_json::from_slice(self.raw).map_or(Parsed::Neither, Parsed::Json)
            }
        })
    }

    /// A field's text: strings as they are, other values as JSON.
    pub(crate) fn get(&self, path: &[String]) -> Option<Cow<'_, str>> {
        match self.parsed() {
            Parsed::Json(root) => {
                let mut at = root;
                for segment in path {
                    at = match at {
                        serde_json::Value::Object(map) => map.get(segment)?,
                        serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                match at {
                    serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
                    serde_json::Value::Null => None,
                    other => Some(Cow::Owned(other.to_string())),
                }
            }
            Parsed::Form(pairs) => {
                let name = path.join(".");
                pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| Cow::Borrowed(v.as_str()))
            }
            Parsed::Neither => None,
        }
    }

    fn form_sorted(&self) -> Option<Vec<u8>> {
        let Parsed::Form(pairs) = self.parsed() else { return None };
        let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
        sorted.sort();
        let mut out = Vec::new();
        for (k, v) in sorted {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        Some(out)
    }
}

/// What a template is rendered over.
pub(crate) struct Scope<'r, 'a> {
    pub req: &'r Request<'a>,
    pub fields: &'r Fields<'a>,
    pub id: Option<&'r str>,
    pub timestamp: Option<&'r str>,
}

/// Feeds each piece of the signed string to `sink`, in order.
pub(crate) fn render(parts: &[Part], scope: &Scope<'_, '_>, sink: &mut dyn FnMut(&[u8])) -> Result<(), VerifyError> {
    for part in parts {
        match part {
            Part::Text(t) => sink(t),
            Part::Body => sink(scope.req.body),
            Part::Id => sink(scope.id.unwrap_or_default().as_bytes()),
            Part::Timestamp => sink(scope.timestamp.unwrap_or_default().as_bytes()),
            Part::Method => sink(scope.req.method.as_bytes()),
            Part::Path => sink(scope.req.public_path().as_bytes()),
            Part::Url => sink(scope.req.public_url().as_bytes()),
            Part::Header(name) => sink(super::header_str(scope.req.headers, name)?.as_bytes()),
            Part::Field(path) => {
                let value = scope.fields.get(path).ok_or_else(|| {
                    VerifyError::at_field(
                        "signature_missing",
                        path,
                        "the body has no such field to check the signature",
                    )
                })?;
                sink(value.as_bytes());
            }
            Part::FormSorted => {
                let sorted = scope.fields.form_sorted().ok_or_else(|| {
                    VerifyError::new(
                        "signature_mismatch",
                        "content-type",
                        "this signature covers form parameters, but the body is not application/x-www-form-urlencoded",
                    )
                })?;
                sink(&sorted);
            }
            Part::HeaderList(list) => {
                let names = super::header_str(scope.req.headers, list)?;
                for (i, name) in names.split(',').map(|n| n.trim().to_ascii_lowercase()).enumerate() {
                    if i > 0 {
                        sink(b";");
                    }
                    let value = super::header_str(scope.req.headers, &name)?;
                    sink(name.as_bytes());
                    sink(b":");
                    sink(value.trim().as_bytes());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_placeholder() {
        let parts =
            parse("v0:{timestamp}:{body}|{id}{method}{path}{url}{header:X-A}{field:a.b}{form_sorted}{header_list:S}")
                .unwrap();
        assert_eq!(parts[0], Part::Text(b"v0:".to_vec()));
        assert!(parts.contains(&Part::Header("x-a".into())));
        assert!(parts.contains(&Part::Field(vec!["a".into(), "b".into()])));
        assert!(parts.contains(&Part::HeaderList("s".into())));
        let err = parse("{nonce}.{body}").unwrap_err().0;
        assert!(err.contains("unknown placeholder `{nonce}`") && err.contains("{form_sorted}"), "{err}");
        assert!(parse("{body").unwrap_err().0.contains("unclosed"));
        assert!(parse("{field:a..b}").is_err());
        assert!(parse("{header:}").is_err());
    }

    #[test]
    fn fields_from_json_and_forms() {
        let headers = http::HeaderMap::new();
        let body = br#"{"signature":{"timestamp":"17","token":"t"},"n":[1,{"x":true}]}"#;
        let req = Request::new(&headers, body);
        let fields = Fields::new(&req);
        assert_eq!(fields.get(&field_path("signature.token").unwrap()).unwrap(), "t");
        assert_eq!(fields.get(&field_path("n.1.x").unwrap()).unwrap(), "true");
        assert!(fields.get(&field_path("n.7").unwrap()).is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        let req = Request::new(&headers, b"To=%2B1&From=a&Body=hi+there");
        let fields = Fields::new(&req);
        assert_eq!(fields.form_sorted().unwrap(), b"Bodyhi thereFromaTo+1");
        assert_eq!(fields.get(&field_path("From").unwrap()).unwrap(), "a");
    }
}
