//! Filters and functions integration users need that minijinja lacks.
//!
//! | name | use | result |
//! |---|---|---|
//! | `fromjson` | `"{\"a\": 1}" \| fromjson` | the parsed value |
//! | `b64encode` / `b64decode` | `"hi" \| b64encode` | standard base64 with padding / the decoded text |
//! | `sha256` | `"hi" \| sha256` | lower-case hex digest |
//! | `datetimeformat` | `meta.received_at \| datetimeformat("%Y-%m-%d")` | strftime over an RFC 3339 time or unix seconds, in UTC |
//! | `timestamp` | `"2026-01-02T03:04:05Z" \| timestamp` | unix seconds |
//! | `now()` | | the current time, RFC 3339 UTC |
//! | `uuid()` | | a new UUIDv7 |
//!
//! (`tojson` is minijinja's own.)

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minijinja::{Environment, Error, ErrorKind, Value};
use sha2::Digest as _;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn fromjson(text: &str) -> Result<Value, Error> {
    serde_json::from_str::<Value>(text).map_err(|e| invalid(format!("fromjson: not JSON ({e})")))
}

fn b64encode(text: &str) -> String {
    B64.encode(text.as_bytes())
}

fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = B64.decode(text.trim()).map_err(|e| invalid(format!("b64decode: not base64 ({e})")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not text"))
}

fn sha256(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// An RFC 3339 string or unix seconds (integer or float).
fn instant(value: &Value) -> Result<jiff::Timestamp, Error> {
    if let Some(text) = value.as_str() {
        return text.parse::<jiff::Timestamp>().map_err(|e| invalid(format!("`{text}` is not an RFC 3339 time ({e})")));
    }
    if let Ok(secs) = f64::try_from(value.clone()) {
        let nanos = (secs * 1e9) as i128;
        return jiff::Timestamp::from_nanosecond(nanos).map_err(|e| invalid(format!("{secs} is out of range ({e})")));
    }
    Err(invalid(format!("expected an RFC 3339 time or unix seconds, got {value}")))
}

fn datetimeformat(value: Value, format: Option<String>) -> Result<String, Error> {
    let t = instant(&value)?;
    let format = format.as_deref().unwrap_or("%Y-%m-%dT%H:%M:%SZ");
    Ok(t.to_zoned(jiff::tz::TimeZone::UTC).strftime(format).to_string())
}

fn timestamp(value: Value) -> Result<i64, Error> {
    Ok(instant(&value)?.as_second())
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("fromjson", fromjson);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
    env.add_filter("datetimeformat", datetimeformat);
    env.add_filter("timestamp", timestamp);
    env.add_function("now", now);
    env.add_function("uuid", uuid);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Compiler, from_json, to_json};

    fn eval(src: &str) -> Result<serde_json::Value, crate::ExprError> {
        let mut c = Compiler::new();
        let compiled = c.string(src)?;
        let p = c.finish()?;
        p.eval(&compiled, &from_json(&json!({ "t": "2026-01-02T03:04:05Z", "n": 1767323045 }))).map(|v| to_json(&v))
    }

    #[test]
    fn the_integration_filters() {
        assert_eq!(eval(r#"{{ '{"a": [1, 2]}' | fromjson }}"#).unwrap(), json!({ "a": [1, 2] }));
        assert_eq!(eval("{{ 'hello' | b64encode }}").unwrap(), json!("aGVsbG8="));
        assert_eq!(eval("{{ 'aGVsbG8=' | b64decode }}").unwrap(), json!("hello"));
        assert_eq!(
            eval("{{ 'abc' | sha256 }}").unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(eval("{{ t | datetimeformat('%Y-%m-%d') }}").unwrap(), json!("2026-01-02"));
        assert_eq!(eval("{{ n | datetimeformat }}").unwrap(), json!("2026-01-02T03:04:05Z"));
        assert_eq!(eval("{{ t | timestamp }}").unwrap(), json!(1767323045));
        assert_eq!(eval("{{ {'a': 1} | tojson }}").unwrap(), json!(r#"{"a": 1}"#));
        assert_eq!(eval("{{ uuid() | length }}").unwrap(), json!(36));
        assert!(eval("{{ now() }}").unwrap().as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_filter() {
        assert!(eval("{{ 'nope' | fromjson }}").unwrap_err().message.contains("fromjson"));
        assert!(eval("{{ '!!' | b64decode }}").unwrap_err().message.contains("b64decode"));
        assert!(eval("{{ 'yesterday' | timestamp }}").unwrap_err().message.contains("RFC 3339"));
    }
}
