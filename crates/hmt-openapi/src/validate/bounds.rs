//! Integer parameters checked exactly against their bounds, whatever their
//! size.
//!
//! `serde_json` (without its global `arbitrary_precision` switch) holds an
//! integer past `u64` only as the nearest `f64`, so the validator sees
//! `18446744073709551617` as `2^64` and would let it under a `maximum` of
//! `18446744073709551616`. The parameter's text is still exact, so its
//! bounds are compared here as big integers (`num-bigint`, already in the
//! build through `jsonschema`): `minimum`, `maximum` and the exclusive
//! ones, where every value must meet them (the schema itself, its `$ref`
//! and `allOf`), and the ranges the integer formats of the OpenAPI format
//! registry name (`int8` to `int64`, `uint8` to `uint64`), which
//! `jsonschema` does not know.

use hmt_types::pointer::deref;
use num_bigint::BigInt;
use num_traits::FromPrimitive;
use serde_json::{Number, Value};
use std::cmp::Ordering;

/// One limit an integer must respect.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bound {
    /// What sets it: `maximum`, `exclusiveMinimum`, `format uint64`...
    pub keyword: String,
    /// The limit as the spec wrote it (an `f64` past 64 bits).
    pub limit: Number,
    /// Whether the value must be below (`true`) or above the limit.
    pub upper: bool,
    /// Whether the limit itself is out.
    pub exclusive: bool,
}

/// The bounds every integer value of `schema` must meet.
pub(crate) fn of(root: &Value, schema: &Value) -> Vec<Bound> {
    let mut out = Vec::new();
    collect(root, schema, 0, &mut out);
    out
}

fn collect(root: &Value, schema: &Value, depth: usize, out: &mut Vec<Bound>) {
    // References nest at most as deep as the document; 32 is far past any
    // real spec and keeps a cycle of `allOf`s from recursing forever.
    if depth > 32 {
        return;
    }
    let Some(schema) = deref(root, schema) else {
        return;
    };
    for (keyword, upper, exclusive) in [
        ("minimum", false, false),
        ("maximum", true, false),
        ("exclusiveMinimum", false, true),
        ("exclusiveMaximum", true, true),
    ] {
        if let Some(Value::Number(limit)) = schema.get(keyword) {
            out.push(Bound {
                keyword: keyword.to_owned(),
                limit: limit.clone(),
                upper,
                exclusive,
            });
        }
    }
    if let Some((low, high)) = schema
        .get("format")
        .and_then(Value::as_str)
        .and_then(format_range)
    {
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        for (limit, upper) in [(low, false), (high, true)] {
            out.push(Bound {
                keyword: format!("format {format}"),
                limit,
                upper,
                exclusive: false,
            });
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for branch in all {
            collect(root, branch, depth + 1, out);
        }
    }
}

/// The range of an integer format of the OpenAPI format registry.
fn format_range(format: &str) -> Option<(Number, Number)> {
    Some(match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0.into(), u8::MAX.into()),
        "uint16" => (0.into(), u16::MAX.into()),
        "uint32" => (0.into(), u32::MAX.into()),
        "uint64" => (0.into(), u64::MAX.into()),
        _ => return None,
    })
}

/// `text` as an exact integer, when it is one (`-`? digits).
pub(crate) fn integer(text: &str) -> Option<BigInt> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The first bound `value` breaks, as the words a refusal says
/// (`is greater than the maximum of 18446744073709551615`).
pub(crate) fn broken(value: &BigInt, bounds: &[Bound]) -> Option<String> {
    bounds.iter().find_map(|bound| {
        let order = compare(value, &bound.limit)?;
        let fine = match (bound.upper, bound.exclusive) {
            (true, false) => order != Ordering::Greater,
            (true, true) => order == Ordering::Less,
            (false, false) => order != Ordering::Less,
            (false, true) => order == Ordering::Greater,
        };
        (!fine).then(|| {
            let relation = match (bound.upper, bound.exclusive) {
                (true, false) => "greater than",
                (true, true) => "greater than or equal to",
                (false, false) => "less than",
                (false, true) => "less than or equal to",
            };
            let what = if bound.keyword.starts_with("format") {
                format!(
                    "the {} of {}",
                    if bound.upper { "largest" } else { "smallest" },
                    bound.keyword
                )
            } else {
                format!("the {}", bound.keyword)
            };
            format!("{value} is {relation} {what}, {}", limit_text(&bound.limit))
        })
    })
}

/// A limit as a person writes it: an integral `f64` as its exact digits
/// (`18446744073709551616`, not `1.8446744073709552e19`).
fn limit_text(limit: &Number) -> String {
    match limit.as_f64() {
        Some(f) if limit.is_f64() && f.fract() == 0.0 => {
            BigInt::from_f64(f).map_or_else(|| limit.to_string(), |n| n.to_string())
        }
        _ => limit.to_string(),
    }
}

/// How the integer `value` compares with `limit`, exactly: an integral
/// `f64` is an exact integer, and an integer is never equal to a limit
/// with a fraction (it is below it when it is at most its floor).
fn compare(value: &BigInt, limit: &Number) -> Option<Ordering> {
    if let Some(n) = limit.as_i64() {
        return Some(value.cmp(&BigInt::from(n)));
    }
    if let Some(n) = limit.as_u64() {
        return Some(value.cmp(&BigInt::from(n)));
    }
    let f = limit.as_f64()?;
    if f.fract() == 0.0 {
        return Some(value.cmp(&BigInt::from_f64(f)?));
    }
    Some(if *value <= BigInt::from_f64(f.floor())? {
        Ordering::Less
    } else {
        Ordering::Greater
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounds_compare_exactly_past_64_bits() {
        let big = |t: &str| integer(t).unwrap();
        let two64 = json!(18446744073709551616.0_f64);
        let Value::Number(two64) = two64 else {
            panic!()
        };
        assert_eq!(
            compare(&big("18446744073709551616"), &two64),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&big("18446744073709551617"), &two64),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&big("18446744073709551615"), &two64),
            Some(Ordering::Less)
        );
        let half = Number::from_f64(2.5).unwrap();
        assert_eq!(compare(&big("2"), &half), Some(Ordering::Less));
        assert_eq!(compare(&big("3"), &half), Some(Ordering::Greater));
        let max = Number::from(u64::MAX);
        assert_eq!(
            compare(&big("18446744073709551616"), &max),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&big("-1"), &Number::from(0)), Some(Ordering::Less));
        assert_eq!(integer("12a"), None);
        assert_eq!(integer("-"), None);
        assert_eq!(integer("+1"), None);
    }

    #[test]
    fn formats_and_all_of_add_bounds() {
        let root = json!({"components": {"schemas": {"Small": {"maximum": 10}}}});
        let schema = json!({"type": "integer", "format": "uint64",
            "allOf": [{"$ref": "#/components/schemas/Small"}], "exclusiveMinimum": 2});
        let bounds = of(&root, &schema);
        let check = |t: &str| broken(&integer(t).unwrap(), &bounds);
        assert_eq!(check("5"), None);
        assert_eq!(check("10"), None);
        assert_eq!(
            check("11").as_deref(),
            Some("11 is greater than the maximum, 10")
        );
        assert_eq!(
            check("2").as_deref(),
            Some("2 is less than or equal to the exclusiveMinimum, 2")
        );
        let uint64 = of(&root, &json!({"format": "uint64"}));
        assert_eq!(
            broken(&integer("18446744073709551616").unwrap(), &uint64).as_deref(),
            Some(
                "18446744073709551616 is greater than the largest of format uint64, 18446744073709551615"
            )
        );
        assert_eq!(
            broken(&integer("-1").unwrap(), &uint64).as_deref(),
            Some("-1 is less than the smallest of format uint64, 0")
        );
        assert_eq!(
            broken(&integer("18446744073709551615").unwrap(), &uint64),
            None
        );
    }
}
