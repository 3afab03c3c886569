//! Who may call an API (`trigger.with.security`): `{ scheme: none }` or
//! `{ scheme: api_key, in: header|query, name: x-api-key }`.

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
}

impl Security {
    /// Reads `trigger.with.security`; each error names the setting and how to fix it.
    pub fn parse(value: Option<&Value>) -> Result<Security, String> {
        let Some(v) = value.filter(|v| !v.is_null()) else { return Ok(Security::None) };
        let map = v
            .as_object()
            .ok_or("trigger.with.security is a mapping: { scheme: api_key, in: header, name: x-api-key }")?;
        for key in map.keys() {
            if !["scheme", "in", "name"].contains(&key.as_str()) {
                return Err(format!("trigger.with.security: unknown key `{key}`; expected scheme, in, name"));
            }
        }
        match map.get("scheme").and_then(Value::as_str) {
            Some("none") => Ok(Security::None),
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
            Some(other) => Err(format!("trigger.with.security.scheme is `none` or `api_key`, not `{other}`")),
            None => Err("trigger.with.security needs `scheme:` (`none` or `api_key`)".into()),
        }
    }
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
        for (bad, says) in [
            (json!("api_key"), "is a mapping"),
            (json!({ "scheme": "basic" }), "`none` or `api_key`"),
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
