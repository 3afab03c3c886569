//! Header redaction for stored events: credentials never reach the database.

use std::collections::HashSet;

pub use onset_model::REDACTED;

const ALWAYS: &[&str] = &["authorization", "cookie", "proxy-authorization", "x-goog-channel-token"];

/// Decides which headers are stored as [`REDACTED`].
#[derive(Debug, Clone)]
pub struct Redactor {
    extra: HashSet<String>,
}

impl Redactor {
    /// `extra` are the names from `with.redact_headers` (any case).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(extra: I) -> Self {
        Self { extra: extra.into_iter().map(|s| s.as_ref().to_ascii_lowercase()).collect() }
    }

    pub fn is_redacted(&self, lower_name: &str) -> bool {
        ALWAYS.contains(&lower_name) || self.extra.contains(lower_name)
    }

    /// Headers as a JSON object with lower-case names; repeated headers are joined with `, `.
    pub fn to_json(&self, headers: &http::HeaderMap) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::with_capacity(headers.keys_len());
        for name in headers.keys() {
            let key = name.as_str();
            let value = if self.is_redacted(key) {
                REDACTED.to_string()
            } else {
                let mut joined = String::new();
                for (i, v) in headers.get_all(name).iter().enumerate() {
                    if i > 0 {
                        joined.push_str(", ");
                    }
                    joined.push_str(&String::from_utf8_lossy(v.as_bytes()));
                }
                joined
            };
            out.insert(key.to_string(), serde_json::Value::String(value));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_listed_headers_are_redacted() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer x".parse().unwrap());
        h.insert("cookie", "a=b".parse().unwrap());
        h.insert("x-api-key", "k".parse().unwrap());
        h.append("x-tag", "a".parse().unwrap());
        h.append("x-tag", "b".parse().unwrap());
        let json = Redactor::new(["X-Api-Key"]).to_json(&h);
        assert_eq!(json["authorization"], REDACTED);
        assert_eq!(json["cookie"], REDACTED);
        assert_eq!(json["x-api-key"], REDACTED);
        assert_eq!(json["x-tag"], "a, b");
    }
}
