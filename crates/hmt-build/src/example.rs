//! Examples of bounded size: a large JSON body shown in part.
//!
//! A body becomes an example as a [`Value`] tree, which costs ten to forty
//! times the body's text, and lands in the spec, where a 10 MB example helps
//! nobody. So a JSON body of at most [`EXAMPLE_MAX_BYTES`] is its own
//! example, parsed whole, and a larger one is parsed with a budget of that
//! many bytes: once the budget is spent, every array keeps its first element
//! only, and every object with more than 200 distinct keys keeps the keys it
//! has (an object that large is described by `additionalProperties`, see
//! [`crate::schema`]). Objects with fewer keys and strings are kept whole,
//! so the cut example still validates against the schema inferred from the
//! body: no schema hmt writes has `minItems`, `maxItems` or `required` on
//! such a map. The rest of the body is skipped without being built.
//!
//! Arrays and objects nested deeper than
//! [`MAX_SCHEMA_DEPTH`](crate::schema::MAX_SCHEMA_DEPTH) are shown empty:
//! their schema is `{}`, and the spec stays within the nesting JSON parsers
//! accept.

use crate::schema::{MAP_MODE_MAX_PROPERTIES, MAX_SCHEMA_DEPTH};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// A JSON body up to this size (in bytes) is its example in full; a larger
/// one is cut to about this much. Larger than every body of the bundled
/// recordings (the largest, a PokéAPI Pokémon, is 208 kB).
pub const EXAMPLE_MAX_BYTES: usize = 256 * 1024;

/// `json` as an example: whole when it is at most `EXAMPLE_MAX_BYTES`,
/// else cut as the module describes. `None` when it is not JSON.
pub(crate) fn json_example(json: &[u8]) -> Option<Value> {
    json_example_within(json, EXAMPLE_MAX_BYTES)
}

fn json_example_within(json: &[u8], max_bytes: usize) -> Option<Value> {
    let mut value = if json.len() <= max_bytes {
        serde_json::from_slice(json).ok()?
    } else {
        let mut budget = max_bytes;
        let mut de = serde_json::Deserializer::from_slice(json);
        let value = Bounded(&mut budget).deserialize(&mut de).ok()?;
        de.end().ok()?;
        value
    };
    empty_below(&mut value, MAX_SCHEMA_DEPTH + 1);
    Some(value)
}

/// Empties the arrays and objects nested `depth` or more levels below `value`.
fn empty_below(value: &mut Value, depth: usize) {
    match value {
        Value::Array(items) if depth == 0 => items.clear(),
        Value::Object(map) if depth == 0 => map.clear(),
        Value::Array(items) => items.iter_mut().for_each(|v| empty_below(v, depth - 1)),
        Value::Object(map) => map.values_mut().for_each(|v| empty_below(v, depth - 1)),
        _ => {}
    }
}

/// Builds a [`Value`] while charging what it keeps to the budget (bytes
/// left, about as many as the kept part takes as compact JSON).
struct Bounded<'b>(&'b mut usize);

impl Bounded<'_> {
    fn charge(&mut self, bytes: usize) {
        *self.0 = self.0.saturating_sub(bytes);
    }

    fn spent(&self) -> bool {
        *self.0 == 0
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<Value, E> {
        self.charge(4);
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<Value, E> {
        self.charge(5);
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<Value, E> {
        self.charge(8);
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<Value, E> {
        self.charge(8);
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<Value, E> {
        self.charge(8);
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<Value, E> {
        self.charge(v.len() + 2);
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<Value, E> {
        self.charge(v.len() + 2);
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(2);
        let mut items = Vec::new();
        loop {
            if self.spent() && !items.is_empty() {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            match seq.next_element_seed(Bounded(&mut *self.0))? {
                Some(item) => items.push(item),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        self.charge(2);
        let mut object = Map::new();
        loop {
            if self.spent() && object.len() > MAP_MODE_MAX_PROPERTIES {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                break;
            }
            let Some(key) = map.next_key::<String>()? else {
                break;
            };
            self.charge(key.len() + 3);
            let value = map.next_value_seed(Bounded(&mut *self.0))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_bodies_are_whole() {
        let body = br#"{"items":[1,2,3],"next":null}"#;
        assert_eq!(
            json_example(body),
            Some(json!({"items": [1, 2, 3], "next": null}))
        );
        assert_eq!(json_example(b"[1,"), None);
        assert_eq!(json_example(b"[1] x"), None);
    }

    #[test]
    fn large_arrays_are_cut_to_the_budget() {
        let items: Vec<Value> = (0..10_000)
            .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["a", "b"]}))
            .collect();
        let body = serde_json::to_vec(&json!({"items": items, "total": 10_000})).unwrap();
        let cut = json_example_within(&body, 4096).expect("parses");
        let kept = cut["items"].as_array().unwrap();
        assert!((10..200).contains(&kept.len()), "kept {} items", kept.len());
        assert_eq!(kept[..], items[..kept.len()]);
        assert_eq!(cut["total"], 10_000);
        let text = serde_json::to_vec(&cut).unwrap();
        assert!(text.len() < 3 * 4096, "{} bytes", text.len());
        // Invalid JSON after the cut is still an error.
        let mut broken = body.clone();
        broken.truncate(body.len() - 1);
        assert_eq!(json_example_within(&broken, 4096), None);
    }

    #[test]
    fn arrays_keep_a_first_element_and_small_objects_stay_whole() {
        let body = serde_json::to_vec(&json!([
            "x".repeat(100),
            {"a": [[1, 2], [3]], "b": {"c": [4, 5]}},
        ]))
        .unwrap();
        let cut = json_example_within(&body, 10).expect("parses");
        assert_eq!(cut, json!(["x".repeat(100)]));
        let body = serde_json::to_vec(&json!({"a": [[1, 2], [3]], "b": {"c": [4, 5]}})).unwrap();
        let cut = json_example_within(&body, 4).expect("parses");
        assert_eq!(cut, json!({"a": [[1]], "b": {"c": [4]}}));
    }

    #[test]
    fn deeply_nested_containers_are_shown_empty() {
        let mut deep = json!([1]);
        for _ in 0..60 {
            deep = json!({"a": deep, "n": 1});
        }
        let example = json_example(deep.to_string().as_bytes()).expect("parses");
        let mut at = &example;
        for _ in 0..MAX_SCHEMA_DEPTH {
            assert_eq!(at["n"], 1);
            at = &at["a"];
        }
        assert_eq!(at["n"], 1);
        assert_eq!(at["a"], json!({}));
    }

    #[test]
    fn only_maps_larger_than_the_map_threshold_lose_keys() {
        let wide: Map<String, Value> = (0..1000).map(|i| (format!("k{i}"), json!(i))).collect();
        let body = serde_json::to_vec(&Value::Object(wide)).unwrap();
        let cut = json_example_within(&body, 16).expect("parses");
        assert_eq!(cut.as_object().unwrap().len(), MAP_MODE_MAX_PROPERTIES + 1);
        let narrow: Map<String, Value> = (0..150).map(|i| (format!("k{i}"), json!(i))).collect();
        let body = serde_json::to_vec(&Value::Object(narrow.clone())).unwrap();
        assert_eq!(json_example_within(&body, 16), Some(Value::Object(narrow)));
    }
}
