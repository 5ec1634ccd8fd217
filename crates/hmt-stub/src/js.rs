//! The few JavaScript value rules mountebank's matching depends on.
//!
//! mountebank compares requests with JavaScript's loose rules: a number
//! equals its text (`5` and `"5"`), an empty string is "falsy", arrays are
//! sorted with a comparator that orders objects by their stable JSON text.
//! Clients rely on these outcomes, so they are reproduced here, over
//! `serde_json::Value`, with `None` standing for JavaScript's `undefined`.

use serde_json::Value;
use std::cmp::Ordering;

/// `String(value)` for the values a predicate can compare; `None` for
/// `null`, which has no `toString` in JavaScript and so compares as itself.
pub(crate) fn to_js_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number_text(number)),
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| match item {
                    Value::Null => String::new(),
                    other => to_js_string(other).unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => Some("[object Object]".to_string()),
    }
}

/// A number as JavaScript prints it: integral values without a fraction.
pub(crate) fn number_text(number: &serde_json::Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 1e21 => format!("{float:.0}"),
        Some(float) => float.to_string(),
        None => number.to_string(),
    }
}

/// JavaScript truthiness; `None` is `undefined`.
pub(crate) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// `typeof value === 'object' && value !== null`: objects and arrays.
pub(crate) fn is_object(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

/// `value[key]` for objects and arrays (an array is indexed by the key's number).
pub(crate) fn index<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|at| items.get(at)),
        _ => None,
    }
}

/// Keys of an object, or the indexes of an array, as `Object.keys` gives them.
pub(crate) fn keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => (0..items.len()).map(|at| at.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// JSON text with object keys sorted at every level: `safe-stable-stringify`,
/// which mountebank uses to compare `deepEquals` values and to sort objects.
pub(crate) fn stable_stringify(value: &Value) -> String {
    let mut out = String::new();
    write_stable(value, &mut out);
    out
}

fn write_stable(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (at, (key, item)) in entries.into_iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_stable(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                write_stable(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// mountebank's array order: objects by their stable text, strings and
/// numbers by value, anything else by its text. Sorting both sides makes
/// `deepEquals` on arrays (repeated query keys, xpath selections) ignore order.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        _ => stable_stringify(a).cmp(&stable_stringify(b)),
    }
}

/// `forceStrings`: every leaf as its text, `null` as `"null"`.
pub(crate) fn force_strings(value: &Value) -> Value {
    match value {
        Value::Null => Value::String("null".into()),
        Value::Array(items) => Value::Array(items.iter().map(force_strings).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), force_strings(item)))
                .collect(),
        ),
        other => Value::String(to_js_string(other).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_as_javascript_prints_them() {
        let cases = [
            (json!(5), Some("5")),
            (json!(5.0), Some("5")),
            (json!(1.5), Some("1.5")),
            (json!(true), Some("true")),
            (json!(null), None),
            (json!("x"), Some("x")),
            (json!([1, "a", null]), Some("1,a,")),
            (json!({"a": 1}), Some("[object Object]")),
        ];
        for (value, expected) in cases {
            assert_eq!(to_js_string(&value).as_deref(), expected, "{value}");
        }
    }

    #[test]
    fn stable_text_sorts_keys_at_every_level() {
        assert_eq!(
            stable_stringify(&json!({"b": [{"d": 1, "c": 2}], "a": "x"})),
            r#"{"a":"x","b":[{"c":2,"d":1}]}"#
        );
    }

    #[test]
    fn truthiness() {
        for (value, expected) in [
            (None, false),
            (Some(json!("")), false),
            (Some(json!(0)), false),
            (Some(json!(null)), false),
            (Some(json!("0")), true),
            (Some(json!({})), true),
            (Some(json!([])), true),
        ] {
            assert_eq!(truthy(value.as_ref()), expected, "{value:?}");
        }
    }
}
