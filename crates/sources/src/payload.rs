//! Body → payload: JSON must parse, forms become objects, other bodies strings, empty is null.

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    pub message: String,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

fn is_form(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// The payload as JSON text. A JSON body is kept byte for byte (it is only checked), so the
/// hot path neither re-serialises nor copies it.
pub fn normalize_payload(content_type: Option<&str>, body: Bytes) -> Result<Bytes, PayloadError> {
    let ct = content_type.unwrap_or("");
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"null"));
    }
    if is_json(ct) {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            Ok(_) => Ok(body),
            Err(e) => Err(PayloadError {
                message: format!("the body is not valid JSON ({e}); send JSON or change the content-type header"),
            }),
        };
    }
    let value = if is_form(ct) {
        let mut map = serde_json::Map::new();
        for (k, v) in form_urlencoded::parse(&body) {
            match map.get_mut(k.as_ref()) {
                // A repeated field collects its values in a list.
                Some(serde_json::Value::Array(list)) => list.push(v.into_owned().into()),
                Some(existing) => {
                    let first = existing.take();
                    *existing = serde_json::Value::Array(vec![first, v.into_owned().into()]);
                }
                None => {
                    map.insert(k.into_owned(), v.into_owned().into());
                }
            }
        }
        serde_json::Value::Object(map)
    } else {
        serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
    };
    Ok(Bytes::from(serde_json::to_vec(&value).unwrap_or_else(|_| b"null".to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(ct: Option<&str>, body: &str) -> Result<String, PayloadError> {
        normalize_payload(ct, Bytes::from(body.to_string())).map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn bodies_by_content_type() {
        assert_eq!(norm(Some("application/json"), r#"{"a": 1}"#).unwrap(), r#"{"a": 1}"#);
        assert_eq!(norm(Some("application/cloudevents+json; charset=utf-8"), "[1]").unwrap(), "[1]");
        assert!(norm(Some("application/json"), "{nope").unwrap_err().message.contains("not valid JSON"));
        assert_eq!(
            norm(Some("application/x-www-form-urlencoded"), "a=1&b=x+y&a=2").unwrap(),
            r#"{"a":["1","2"],"b":"x y"}"#
        );
        assert_eq!(norm(Some("text/plain"), "hi").unwrap(), r#""hi""#);
        assert_eq!(norm(None, "hi").unwrap(), r#""hi""#);
        assert_eq!(norm(Some("application/json"), "").unwrap(), "null");
    }
}
