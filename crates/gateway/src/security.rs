//! Who may call an API (`trigger.with.security`): `{ scheme: none }`,
//! `{ scheme: api_key, in: header|query, name: x-api-key }` or
//! `{ scheme: oauth2, scopes: { "/orders": { POST: [orders:write] } } }` with Onset's own tokens,
//! or an external issuer's with `issuer`, `jwks_url` and `audience`.

use serde_json::Value;

/// Where an API key travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyIn {
    /// A request header (its name lower-case).
    Header(String),
    /// A query parameter.
    Query(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Security {
    /// Anyone may call (the default).
    #[default]
    None,
    /// A subscribed application's key: sandbox keys call development (and every environment but
    /// production), production keys production.
    ApiKey(KeyIn),
    /// A bearer JWT, from Onset's authorization server or an external issuer.
    OAuth2(OAuth2),
}

/// `scheme: oauth2`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuth2 {
    /// Scopes a token needs per resource and method (every one listed), in the order written.
    pub scopes: Vec<ScopeRule>,
    /// `None`: Onset's own authorization server.
    pub external: Option<External>,
}

/// Tokens of another authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Where its public keys are published.
    pub jwks_url: String,
    /// The `aud` its tokens carry for this API; `None`: the API's base URL.
    pub audience: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRule {
    /// A handler's resource path as written (`/orders/{id}`).
    pub path: String,
    /// An upper-case method, or `*` for every method.
    pub method: String,
    pub scopes: Vec<String>,
}

impl OAuth2 {
    /// The scopes a request to `path` (the handler's pattern) with `method` needs.
    pub fn required(&self, path: &str, method: &str) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .filter(move |r| r.path == path && (r.method == method || r.method == "*"))
            .flat_map(|r| r.scopes.iter().map(String::as_str))
    }

    /// Every scope named, once, in the order written.
    pub fn all_scopes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.scopes.iter().flat_map(|r| r.scopes.iter()) {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }
}

impl Security {
    /// Reads `trigger.with.security`; each error names the setting and how to fix it.
    pub fn parse(value: Option<&Value>) -> Result<Security, String> {
        let Some(v) = value.filter(|v| !v.is_null()) else { return Ok(Security::None) };
        let map = v
            .as_object()
            .ok_or("trigger.with.security is a mapping: { scheme: api_key, in: header, name: x-api-key }")?;
        let scheme = map.get("scheme").and_then(Value::as_str);
        let known: &[&str] = match scheme {
            Some("oauth2") => &["scheme", "scopes", "issuer", "jwks_url", "audience"],
            _ => &["scheme", "in", "name"],
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(format!("trigger.with.security: unknown key `{key}`; expected {}", known.join(", ")));
            }
        }
        match scheme {
            Some("none") => Ok(Security::None),
            Some("oauth2") => oauth2(map).map(Security::OAuth2),
            Some("api_key") => {
                let name = match map.get("name") {
                    None => "x-api-key".to_string(),
                    Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
                    Some(_) => return Err("trigger.with.security.name is the header or query parameter's name".into()),
                };
                match map.get("in").and_then(Value::as_str).unwrap_or("header") {
                    "header" => {
                        if http_name(&name).is_none() {
                            return Err(format!("trigger.with.security.name `{name}` is not a header name"));
                        }
                        Ok(Security::ApiKey(KeyIn::Header(name.to_ascii_lowercase())))
                    }
                    "query" => Ok(Security::ApiKey(KeyIn::Query(name))),
                    other => Err(format!("trigger.with.security.in is `header` or `query`, not `{other}`")),
                }
            }
            Some(other) => Err(format!("trigger.with.security.scheme is `none`, `api_key` or `oauth2`, not `{other}`")),
            None => Err("trigger.with.security needs `scheme:` (`none`, `api_key` or `oauth2`)".into()),
        }
    }
}

fn oauth2(map: &serde_json::Map<String, Value>) -> Result<OAuth2, String> {
    const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"];
    let mut scopes = Vec::new();
    match map.get("scopes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(paths)) => {
            for (path, methods) in paths {
                if !path.starts_with('/') {
                    return Err(format!("trigger.with.security.scopes: `{path}` is a handler's path, starting with /"));
                }
                let methods = methods.as_object().ok_or_else(|| {
                    format!("trigger.with.security.scopes.{path} maps methods to scopes: {{ POST: [orders:write] }}")
                })?;
                for (method, list) in methods {
                    let upper = method.to_ascii_uppercase();
                    if !METHODS.contains(&upper.as_str()) {
                        return Err(format!(
                            "trigger.with.security.scopes.{path}: `{method}` is not a method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or *)"
                        ));
                    }
                    let names: Vec<String> = match list {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(items) => items
                            .iter()
                            .map(|v| v.as_str().map(str::to_string).ok_or(()))
                            .collect::<Result<_, _>>()
                            .map_err(|()| {
                                format!("trigger.with.security.scopes.{path}.{method} is a list of scope names")
                            })?,
                        _ => {
                            return Err(format!(
                                "trigger.with.security.scopes.{path}.{method} is a list of scope names"
                            ));
                        }
                    };
                    if let Some(bad) = names.iter().find(|n| n.is_empty() || !n.bytes().all(scope_char)) {
                        return Err(format!(
                            "trigger.with.security.scopes.{path}.{method}: `{bad}` is not a scope name (printable, no spaces, quotes or backslashes)"
                        ));
                    }
                    scopes.push(ScopeRule { path: path.clone(), method: upper, scopes: names });
                }
            }
        }
        Some(_) => {
            return Err("trigger.with.security.scopes maps paths to methods to scopes: { \"/orders\": { POST: [orders:write] } }".into());
        }
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(format!("trigger.with.security.{key} is a URL")),
        }
    };
    let external = match (text("issuer")?, text("jwks_url")?, text("audience")?) {
        (None, None, None) => None,
        (Some(issuer), Some(jwks_url), audience) => {
            if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
                return Err(format!("trigger.with.security.jwks_url `{jwks_url}` is an http(s) URL"));
            }
            Some(External { issuer, jwks_url, audience })
        }
        (None, _, _) => {
            return Err(
                "trigger.with.security: tokens of an external issuer need `issuer` (its `iss`) and `jwks_url`".into()
            );
        }
        (Some(_), None, _) => {
            return Err("trigger.with.security: `issuer` needs `jwks_url`, where the issuer publishes its keys".into());
        }
    };
    Ok(OAuth2 { scopes, external })
}

/// RFC 6749 §3.3: a scope token is printable ASCII but space, `"` and `\`.
fn scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

/// A token as HTTP allows header names: letters, digits and `!#$%&'*+-.^_`|~`.
fn http_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn schemes_are_read_with_their_place() {
        assert_eq!(Security::parse(None).unwrap(), Security::None);
        assert_eq!(Security::parse(Some(&json!({ "scheme": "none" }))).unwrap(), Security::None);
        assert_eq!(
            Security::parse(Some(&json!({ "scheme": "api_key" }))).unwrap(),
            Security::ApiKey(KeyIn::Header("x-api-key".into()))
        );
        assert_eq!(
            Security::parse(Some(&json!({ "scheme": "api_key", "in": "header", "name": "X-Key" }))).unwrap(),
            Security::ApiKey(KeyIn::Header("x-key".into()))
        );
        assert_eq!(
            Security::parse(Some(&json!({ "scheme": "api_key", "in": "query", "name": "key" }))).unwrap(),
            Security::ApiKey(KeyIn::Query("key".into()))
        );
        let o = Security::parse(Some(&json!({
            "scheme": "oauth2",
            "scopes": { "/orders": { "post": ["orders:write"], "*": "orders:any" }, "/orders/{id}": { "GET": ["orders:read"] } }
        })))
        .unwrap();
        let Security::OAuth2(o) = o else { panic!("{o:?}") };
        assert_eq!(o.external, None);
        assert_eq!(o.required("/orders", "POST").collect::<Vec<_>>(), ["orders:write", "orders:any"]);
        assert_eq!(o.required("/orders", "GET").collect::<Vec<_>>(), ["orders:any"]);
        assert_eq!(o.required("/orders/{id}", "GET").collect::<Vec<_>>(), ["orders:read"]);
        assert_eq!(o.required("/other", "GET").count(), 0);
        assert_eq!(o.all_scopes(), ["orders:write", "orders:any", "orders:read"]);
        let e = Security::parse(Some(&json!({
            "scheme": "oauth2", "issuer": "https://id.test/", "jwks_url": "http://127.0.0.1:9/jwks.json", "audience": "api://orders"
        })))
        .unwrap();
        assert_eq!(
            e,
            Security::OAuth2(OAuth2 {
                scopes: vec![],
                external: Some(External {
                    issuer: "https://id.test/".into(),
                    jwks_url: "http://127.0.0.1:9/jwks.json".into(),
                    audience: Some("api://orders".into())
                })
            })
        );
        for (bad, says) in [
            (json!("api_key"), "is a mapping"),
            (json!({ "scheme": "basic" }), "`none`, `api_key` or `oauth2`"),
            (json!({ "scheme": "oauth2", "name": "x" }), "unknown key `name`"),
            (json!({ "scheme": "oauth2", "scopes": { "orders": { "POST": ["a"] } } }), "starting with /"),
            (json!({ "scheme": "oauth2", "scopes": { "/orders": { "FETCH": ["a"] } } }), "not a method"),
            (json!({ "scheme": "oauth2", "scopes": { "/orders": { "POST": ["a b"] } } }), "not a scope name"),
            (json!({ "scheme": "oauth2", "scopes": { "/orders": ["a"] } }), "maps methods to scopes"),
            (json!({ "scheme": "oauth2", "jwks_url": "https://x/jwks" }), "need `issuer`"),
            (json!({ "scheme": "oauth2", "issuer": "https://x" }), "needs `jwks_url`"),
            (json!({ "scheme": "oauth2", "issuer": "https://x", "jwks_url": "ftp://x" }), "http(s) URL"),
            (json!({ "scheme": "api_key", "in": "cookie" }), "`header` or `query`"),
            (json!({ "scheme": "api_key", "name": "bad name" }), "not a header name"),
            (json!({ "scheme": "api_key", "where": "header" }), "unknown key `where`"),
            (json!({}), "needs `scheme:`"),
        ] {
            let err = Security::parse(Some(&bad)).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
