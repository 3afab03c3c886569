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

/// Checks that `body` is JSON a run can read: the same parser and limits as the worker's
/// `serde_json::Value`, so whatever the door accepts the run can load. That is nesting at most
/// 127 levels deep, strings of valid UTF-8 without lone surrogate escapes, and numbers within the
/// range of a 64-bit float. Nothing is built: strings are borrowed, values dropped as they pass.
pub fn check_json(body: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<Checked>(body).map(|_| ())
}

/// A JSON value seen whole and kept nowhere.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// The payload as JSON text. A JSON body is kept byte for byte (it is only checked), so the
/// hot path neither re-serialises nor copies it.
pub fn normalize_payload(content_type: Option<&str>, body: Bytes) -> Result<Bytes, PayloadError> {
    let ct = content_type.unwrap_or("");
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"null"));
    }
    if is_json(ct) {
        return match check_json(&body) {
            Ok(()) => Ok(body),
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

    /// Whatever `check_json` accepts, the worker's `Value` parse reads, and the other way round.
    #[test]
    fn the_door_and_the_run_agree_on_json() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
            (deep(100_000).into_bytes(), Some("recursion limit")),
            (deep(127).into_bytes(), None),
            (deep(128).into_bytes(), Some("recursion limit")),
            (b"{\"a\": \"\xff\xfe\"}".to_vec(), Some("invalid unicode")),
            (br#"{"a": "\ud800"}"#.to_vec(), Some("escape")),
            (br#"{"\ud800": 1}"#.to_vec(), Some("escape")),
            (format!("[{}]", "9".repeat(5000)).into_bytes(), Some("out of range")),
            (b"[1e400]".to_vec(), Some("out of range")),
            (br#"{"a": [1, -2.5e10, 18446744073709551615, true, null, "\u00e9\ud83d\ude00"]}"#.to_vec(), None),
        ];
        for (body, refused) in cases {
            let checked = check_json(&body);
            let parsed = serde_json::from_slice::<serde_json::Value>(&body);
            assert_eq!(checked.is_ok(), parsed.is_ok(), "{}", String::from_utf8_lossy(&body[..body.len().min(60)]));
            match refused {
                None => assert!(checked.is_ok(), "{checked:?}"),
                Some(why) => {
                    let message = normalize_payload(Some("application/json"), Bytes::from(body)).unwrap_err().message;
                    assert!(message.contains(why), "{message}");
                }
            }
        }
    }
}
