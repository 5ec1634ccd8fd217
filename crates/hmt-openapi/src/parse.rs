//! Spec text (JSON or YAML) to one `serde_json::Value`, as specs in the wild
//! need it read.
//!
//! Both formats are read through [`SpecValue`], a visitor that differs from
//! `serde_json::Value`'s own in three ways:
//!
//! - **Integers of any size load.** `serde_json` without its global
//!   `arbitrary_precision` switch (which would change number handling in
//!   every crate of the build) refuses YAML integers past `u64`/`i64` with
//!   "JSON number out of range". Integers that fit `i64` or `u64` stay exact
//!   (so `minimum: -9223372036854775808` and `maximum: 18446744073709551615`
//!   are exact bounds); larger ones become the nearest `f64`, as `serde_json`
//!   already does for such JSON numbers.
//! - **Numbers past `f64` load.** `1e400` (and `.inf` in YAML) becomes
//!   ±`f64::MAX`, the largest number a request body can carry anyway: as a
//!   `maximum` or `minimum` it admits every value it admitted before.
//!   `serde_json`'s lexer refuses such a number before any visitor sees it,
//!   so a JSON text it refuses for that reason is read again with those
//!   numbers written as ±`f64::MAX` ([`clamp_huge_json_numbers`]). YAML reads
//!   `1e400` as the string `"1e400"`; [`crate::dialect`] reads such strings
//!   back as numbers where a schema keyword needs one.
//! - **A key twice in one object is an error** instead of the last one
//!   silently winning: in YAML with the path to the mapping and the line
//!   where the mapping starts, in JSON with the line of the second key.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::fmt;

/// The largest finite `f64`, as JSON text; what `1e400` is read as.
const MAX_TEXT: &str = "1.7976931348623157e308";

/// Parses JSON text.
pub fn json(text: &str) -> Result<Value, serde_json::Error> {
    match json_strict(text) {
        Err(error) if is_out_of_range(&error) => json_strict(&clamp_huge_json_numbers(text)),
        other => other,
    }
}

/// Parses YAML text (one document).
pub fn yaml(text: &str) -> Result<Value, yaml_serde::Error> {
    SpecValue.deserialize(yaml_serde::Deserializer::from_str(text))
}

fn json_strict(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = SpecValue.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

fn is_out_of_range(error: &serde_json::Error) -> bool {
    error.classify() == serde_json::error::Category::Syntax
        && error.to_string().starts_with("number out of range")
}

/// `text` with every number outside strings that overflows `f64` written as
/// ±`f64::MAX`. Only called on JSON that `serde_json` refused for such a
/// number, so the common path pays nothing; no JSON crate offers this
/// without switching on `arbitrary_precision` for the whole build.
pub fn clamp_huge_json_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let token = &text[start..i];
                if let Ok(number) = token.parse::<f64>()
                    && number.is_infinite()
                {
                    out.push_str(&text[copied..start]);
                    if number < 0.0 {
                        out.push('-');
                    }
                    out.push_str(MAX_TEXT);
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// A finite `f64` for `value`, infinities clamped to ±`f64::MAX`; `None`
/// for NaN.
pub fn finite(value: f64) -> Option<f64> {
    if value.is_nan() {
        None
    } else {
        Some(value.clamp(f64::MIN, f64::MAX))
    }
}

/// Builds a `serde_json::Value` from JSON or YAML, as the module docs say.
#[derive(Clone, Copy)]
pub struct SpecValue;

impl<'de> DeserializeSeed<'de> for SpecValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SpecValue {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON or YAML value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_i128<E>(self, value: i128) -> Result<Value, E> {
        Ok(match i64::try_from(value) {
            Ok(small) => Value::Number(small.into()),
            Err(_) => float(value as f64),
        })
    }

    fn visit_u128<E>(self, value: u128) -> Result<Value, E> {
        Ok(match u64::try_from(value) {
            Ok(small) => Value::Number(small.into()),
            Err(_) => float(value as f64),
        })
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Occupied(entry) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate key {:?}",
                        entry.key()
                    )));
                }
                Entry::Vacant(entry) => {
                    entry.insert(access.next_value_seed(self)?);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// A number for `value`, infinities clamped; NaN (YAML `.nan`) is `null`,
/// as `serde_json` reads it.
fn float(value: f64) -> Value {
    finite(value)
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_of_any_size_load_exact_where_they_fit_64_bits() {
        let value = yaml(
            "min: -9223372036854775808\nmax: 18446744073709551615\nbig: 18446744073709551616\nneg: -9223372036854775809\n",
        )
        .unwrap();
        assert_eq!(value["min"].as_i64(), Some(i64::MIN));
        assert_eq!(value["max"].as_u64(), Some(u64::MAX));
        assert_eq!(value["big"].as_f64(), Some(18446744073709551616.0));
        assert_eq!(value["neg"].as_f64(), Some(-9223372036854775809.0));
        let value = json(r#"{"min": -9223372036854775808, "max": 18446744073709551615}"#).unwrap();
        assert_eq!(value["min"].as_i64(), Some(i64::MIN));
        assert_eq!(value["max"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn numbers_past_f64_are_its_largest() {
        let value =
            json(r#"{"a": 1e400, "b": -1e400, "s": "1e400 \" 2e999", "c": [1.5, 10E+999]}"#)
                .unwrap();
        assert_eq!(
            value,
            json!({"a": f64::MAX, "b": f64::MIN, "s": "1e400 \" 2e999", "c": [1.5, f64::MAX]})
        );
        let value = yaml("a: .inf\nb: -.inf\n").unwrap();
        assert_eq!(value, json!({"a": f64::MAX, "b": f64::MIN}));
        // Other syntax errors stay what they were.
        let error = json(r#"{"a": 1e400, }"#).unwrap_err().to_string();
        assert!(error.contains("trailing comma at line 1"), "{error}");
    }

    #[test]
    fn a_key_twice_is_an_error_with_its_line() {
        let error = yaml("paths:\n  /a:\n    get: {}\n    get: {}\n")
            .unwrap_err()
            .to_string();
        // YAML names the path to the mapping and the line where it starts.
        assert_eq!(error, "paths./a: duplicate key \"get\" at line 3 column 5");
        let error = json("{\"a\": 1,\n \"a\": 2}").unwrap_err().to_string();
        assert!(error.contains("duplicate key \"a\" at line 2"), "{error}");
    }

    #[test]
    fn yaml_keys_that_are_not_strings_read_as_their_text() {
        let value = yaml("responses:\n  200: {description: ok}\n  default: {}\n").unwrap();
        assert_eq!(
            value,
            json!({"responses": {"200": {"description": "ok"}, "default": {}}})
        );
    }
}
