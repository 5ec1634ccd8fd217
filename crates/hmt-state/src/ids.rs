//! Ids and field paths in stored objects, repeatable UUIDs, and the
//! concrete paths that key collections.

use serde_json::{Map, Value};

/// The value at a field path.
pub(crate) fn get_path<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut value = value;
    for segment in path {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}

/// Writes `new` at a field path, making the objects on the way. A field
/// that was not there goes first in its object, where readers look for an
/// id. Fails, naming the field, when something on the way is not an
/// object.
pub(crate) fn set_path(value: &mut Value, path: &[String], new: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("the id field path is empty".to_owned());
    };
    let mut at = value;
    for (i, segment) in parents.iter().enumerate() {
        let Value::Object(map) = at else {
            return Err(not_an_object(&path[..i]));
        };
        let child = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        at = child;
    }
    let Value::Object(map) = at else {
        return Err(not_an_object(parents));
    };
    match map.get_mut(last) {
        Some(slot) => *slot = new,
        None => {
            let rest = std::mem::take(map);
            map.insert(last.clone(), new);
            map.extend(rest);
        }
    }
    Ok(())
}

fn not_an_object(path: &[String]) -> String {
    if path.is_empty() {
        "the body is not a JSON object".to_owned()
    } else {
        format!("cannot write the id: `{}` is not an object", path.join("."))
    }
}

/// The key an id value is stored under: strings as they are, numbers as
/// JSON writes them; `None` for anything else.
pub(crate) fn id_key(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_4D47_6D1C_E4E5);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `n`th UUID of the store: random-looking, version 4 and RFC 4122
/// variant bits set, and the same for the same `n` on every run.
pub(crate) fn uuid(n: u64) -> String {
    let high = splitmix64(n.wrapping_mul(2));
    let low = splitmix64(n.wrapping_mul(2).wrapping_add(1));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    hmt_types::format::uuid_v4(bytes)
}

/// A path segment with the bytes that would change its meaning in a path
/// percent-encoded (`/`, `%`, `?`, `#`, spaces, non-ASCII).
pub(crate) fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The template with its `{parameters}` replaced by `values` in order.
pub(crate) fn concrete(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut values = values.iter();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        match values.next() {
            Some(value) => out.push_str(&encode_segment(value)),
            None => out.push_str(&rest[open..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let trimmed = out.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uuids_are_version_4_and_repeatable() {
        let first = uuid(1);
        assert_eq!(first, uuid(1));
        assert_ne!(first, uuid(2));
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "4");
        assert!(matches!(&first[19..20], "8" | "9" | "a" | "b"), "{first}");
    }

    #[test]
    fn ids_are_written_first_and_through_missing_objects() {
        let mut pet = json!({"name": "Rex"});
        set_path(&mut pet, &["id".to_owned()], json!(1)).unwrap();
        assert_eq!(
            serde_json::to_string(&pet).unwrap(),
            r#"{"id":1,"name":"Rex"}"#
        );
        let mut pod = json!({"kind": "Pod"});
        let path = ["metadata".to_owned(), "name".to_owned()];
        set_path(&mut pod, &path, json!("web")).unwrap();
        assert_eq!(pod, json!({"kind": "Pod", "metadata": {"name": "web"}}));
        let mut bad = json!({"metadata": 3});
        assert_eq!(
            set_path(&mut bad, &path, json!("x")).unwrap_err(),
            "cannot write the id: `metadata` is not an object"
        );
    }

    #[test]
    fn concrete_paths_encode_what_would_split_them() {
        assert_eq!(
            concrete("/users/{userId}/orders", &["a/b c"]),
            "/users/a%2Fb%20c/orders"
        );
        assert_eq!(concrete("/pets", &[]), "/pets");
    }
}
