//! The JSON Schema subset connector operations describe their input with: `type` (one or a list),
//! `properties`, `required`, `additionalProperties` (false, or a schema for the values),
//! `items`, `enum`, `anyOf`/`oneOf`, `minimum`/`maximum`, `minLength`/`maxLength`,
//! `minItems`. Everything else (`description`, `format`, `default`, `examples`…) is
//! documentation. [`check`] is the run-time check of a rendered input; `onset validate` walks the
//! YAML with the same rules through [`expected_type`], [`fields`] and friends.

use serde_json::Value;

/// The JSON type names a schema allows (`type` as a string or a list); empty = anything.
pub fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The JSON type name of a value (`integer` for whole numbers).
pub fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a value of JSON type `found` satisfies the allowed `types` (an integer is a number).
pub fn type_allowed(types: &[&str], found: &str) -> bool {
    types.is_empty() || types.iter().any(|t| *t == found || (*t == "number" && found == "integer"))
}

/// `a string`, `an integer or null`… for messages.
pub fn expected_type(types: &[&str]) -> String {
    let named: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => "a list".to_string(),
            "object" => "a mapping".to_string(),
            "integer" => "an integer".to_string(),
            "null" => "null".to_string(),
            other => format!("a {other}"),
        })
        .collect();
    named.join(" or ")
}

/// The input fields, for messages: `channel (string, required), text (string), …`.
pub fn fields(schema: &Value) -> String {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return String::from("(no fields)");
    };
    let required = required(schema);
    props
        .iter()
        .map(|(name, prop)| {
            let t = types(prop);
            let mut what = if t.is_empty() { String::from("any") } else { t.join("|") };
            if required.contains(&name.as_str()) {
                what.push_str(", required");
            }
            format!("{name} ({what})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What an object's schema says of one of its properties.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Property<'s> {
    /// Declared (or covered by an `additionalProperties` schema).
    Schema(&'s Value),
    /// Not declared, and extra properties are allowed.
    Any,
    /// Not declared, and `additionalProperties: false`.
    Forbidden,
}

/// The schema of property `name`: its own, or `additionalProperties` when that is a schema.
pub fn property<'s>(schema: &'s Value, name: &str) -> Property<'s> {
    if let Some(p) = schema.get("properties").and_then(|p| p.get(name)) {
        return Property::Schema(p);
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) => Property::Forbidden,
        Some(extra @ Value::Object(_)) => Property::Schema(extra),
        _ => Property::Any,
    }
}

/// The alternatives of `anyOf`/`oneOf`, if any.
pub fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array)
}

/// Where in the input a check is: built into text only when it fails, so a passing check
/// allocates nothing.
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'a str),
    Field(&'a At<'a>, &'a str),
    Item(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Whether a value of JSON type `found` fits the schema's `type` (what [`type_allowed`] says of
/// [`types`], without collecting them).
fn allows(schema: &Value, found: &str) -> bool {
    let fits = |t: &str| t == found || (t == "number" && found == "integer");
    match schema.get("type") {
        Some(Value::String(t)) => fits(t),
        Some(Value::Array(list)) => {
            let mut named = list.iter().filter_map(Value::as_str).peekable();
            named.peek().is_none() || named.any(fits)
        }
        _ => true,
    }
}

/// The first way `value` breaks `schema`, naming where (`with.blocks[2].type`).
pub fn check(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    walk(schema, value, &At::Root(at))
}

fn walk(schema: &Value, value: &Value, at: &At<'_>) -> Result<(), String> {
    if let Some(alts) = alternatives(schema)
        && !alts.iter().any(|alt| walk(alt, value, at).is_ok())
    {
        // The closest alternative's complaint says the most: the first whose type fits.
        let fitting = alts.iter().find(|alt| type_allowed(&types(alt), type_of(value)));
        return match fitting {
            Some(alt) => walk(alt, value, at),
            None => Err(format!(
                "`{at}` is {}, expected {}",
                article(type_of(value)),
                alts.iter().map(|a| expected_type(&types(a))).collect::<Vec<_>>().join(" or ")
            )),
        };
    }
    let found = type_of(value);
    if !allows(schema, found) {
        return Err(format!("`{at}` is {}, expected {}", article(found), expected_type(&types(schema))));
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        return Err(format!("`{at}` is {value}, expected one of {}", list.join(", ")));
    }
    match value {
        Value::Object(map) => {
            let required = schema.get("required").and_then(Value::as_array).into_iter().flatten();
            for name in required.filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    return Err(format!("`{at}` needs `{name}`; it takes {}", fields(schema)));
                }
            }
            for (name, v) in map {
                match property(schema, name) {
                    Property::Forbidden => {
                        return Err(format!("`{at}.{name}` is not a field here; it takes {}", fields(schema)));
                    }
                    Property::Schema(sub) => walk(sub, v, &At::Field(at, name))?,
                    Property::Any => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                return Err(format!("`{at}` has {} items, expected at least {min}", items.len()));
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(item, v, &At::Item(at, i))?;
                }
            }
        }
        Value::String(s) => {
            let n = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && n < min
            {
                return Err(if min == 1 {
                    format!("`{at}` is empty")
                } else {
                    format!("`{at}` is shorter than {min}")
                });
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && n > max
            {
                return Err(format!("`{at}` is longer than {max} characters"));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                return Err(format!("`{at}` is {n}, expected at least {min}"));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                return Err(format!("`{at}` is {n}, expected at most {max}"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn article(t: &str) -> String {
    match t {
        "array" => "a list".into(),
        "object" => "a mapping".into(),
        "integer" => "an integer".into(),
        "null" => "null".into(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["channel"],
            "additionalProperties": false,
            "properties": {
                "channel": { "type": "string", "minLength": 1 },
                "text": { "type": "string" },
                "count": { "type": "integer", "minimum": 1, "maximum": 10 },
                "mode": { "enum": ["a", "b"] },
                "blocks": { "type": "array", "items": { "type": "object", "required": ["type"] } },
                "body": { "anyOf": [{ "type": "string" }, { "type": "object" }] },
                "headers": { "type": "object", "additionalProperties": { "type": ["string", "number"] } }
            }
        })
    }

    #[test]
    fn a_good_input_passes_and_each_fault_is_named_where_it_is() {
        let s = schema();
        assert_eq!(check(&s, &json!({"channel": "#x", "text": "hi", "count": 3}), "with"), Ok(()));
        let cases = [
            (json!({"text": "hi"}), "`with` needs `channel`; it takes channel (string, required), text (string)"),
            (json!({"channel": 5}), "`with.channel` is an integer, expected a string"),
            (json!({"channel": ""}), "`with.channel` is empty"),
            (json!({"channel": "c", "chanel": 1}), "`with.chanel` is not a field here"),
            (json!({"channel": "c", "count": 0}), "`with.count` is 0, expected at least 1"),
            (json!({"channel": "c", "count": 1.5}), "`with.count` is a number, expected an integer"),
            (json!({"channel": "c", "mode": "z"}), "`with.mode` is \"z\", expected one of \"a\", \"b\""),
            (json!({"channel": "c", "blocks": [{"type": "x"}, {}]}), "`with.blocks[1]` needs `type`"),
            (json!({"channel": "c", "body": 4}), "`with.body` is an integer, expected a string or a mapping"),
            (
                json!({"channel": "c", "headers": {"a": true}}),
                "`with.headers.a` is a boolean, expected a string or a number",
            ),
        ];
        for (input, expected) in cases {
            let err = check(&s, &input, "with").unwrap_err();
            assert!(err.starts_with(expected), "{input}: {err}");
        }
    }

    #[test]
    fn integers_are_numbers_and_untyped_schemas_take_anything() {
        assert!(type_allowed(&["number"], "integer"));
        assert!(!type_allowed(&["integer"], "number"));
        assert_eq!(check(&json!({}), &json!([1, "x"]), "with"), Ok(()));
    }
}
