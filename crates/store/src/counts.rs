//! Counters of metric roll-ups as JSON objects, and how two of them add up.

use serde_json::Value;

/// Adds `delta` into `into`: numbers add, arrays add element by element, objects merge key by
/// key, and numbers under a `"max"` key keep the larger value.
pub fn merge_counts(into: &mut Value, delta: &Value) {
    merge(into, delta, false);
}

fn merge(into: &mut Value, delta: &Value, keep_max: bool) {
    match (into, delta) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let max = keep_max || k == "max";
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v, max),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() < b.len() {
                a.resize(b.len(), Value::from(0));
            }
            for (x, y) in a.iter_mut().zip(b) {
                merge(x, y, keep_max);
            }
        }
        (into @ Value::Number(_), Value::Number(d)) => {
            let (x, y) = (into.as_f64().unwrap_or(0.0), d.as_f64().unwrap_or(0.0));
            let v = if keep_max { x.max(y) } else { x + y };
            *into = if v.fract() == 0.0 && v.abs() < 9e15 { Value::from(v as i64) } else { Value::from(v) };
        }
        (into, delta) => *into = delta.clone(),
    }
}
