//! Reading just enough of a spec's document and schemas to infer resources:
//! following `$ref`s, walking `allOf`/`anyOf`/`oneOf` for properties, and
//! telling arrays from objects. Every walk is bounded, so a recursive
//! schema costs a few steps and never loops.

use hmt_types::pointer::{deref, unescape};
use serde_json::Value;

/// How deep `allOf`/`anyOf`/`oneOf` nesting is followed.
const MAX_DEPTH: usize = 16;

/// The value at a JSON pointer into `root`, following a `$ref` at every
/// step (path items and bodies may be references).
pub(crate) fn walk<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut value = deref(root, root)?;
    if pointer.is_empty() {
        return Some(value);
    }
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = unescape(token);
        value = match value {
            Value::Object(map) => map.get(&*token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
        value = deref(root, value)?;
    }
    Some(value)
}

/// `schema` with its `$ref`s followed (itself when a reference dangles).
pub(crate) fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    deref(root, schema).unwrap_or(schema)
}

/// Whether the schema allows type `name` (`type` as a string or array).
pub(crate) fn has_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// The schema of property `name`, looked for in `properties` and through
/// `allOf`, `anyOf` and `oneOf`.
pub(crate) fn property<'a>(root: &'a Value, schema: &'a Value, name: &str) -> Option<&'a Value> {
    property_at(root, schema, name, 0)
}

fn property_at<'a>(
    root: &'a Value,
    schema: &'a Value,
    name: &str,
    depth: usize,
) -> Option<&'a Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let schema = resolve(root, schema);
    if let Some(found) = schema.get("properties").and_then(|p| p.get(name)) {
        return Some(resolve(root, found));
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for sub in schema
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(found) = property_at(root, sub, name, depth + 1) {
                return Some(found);
            }
        }
    }
    None
}

/// Every property name the schema declares, in document order, through
/// `allOf`, `anyOf` and `oneOf`.
pub(crate) fn property_names(root: &Value, schema: &Value) -> Vec<String> {
    let mut names = Vec::new();
    collect_names(root, schema, 0, &mut names);
    names
}

fn collect_names(root: &Value, schema: &Value, depth: usize, names: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(root, schema);
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for name in properties.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for sub in schema
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_names(root, sub, depth + 1, names);
        }
    }
}

/// The schema at a dotted field path (`metadata.name`), if every step is
/// a declared property.
pub(crate) fn field<'a>(root: &'a Value, schema: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut schema = resolve(root, schema);
    for segment in path {
        schema = property(root, schema, segment)?;
    }
    Some(schema)
}

/// Whether the schema describes an array.
pub(crate) fn is_array(root: &Value, schema: &Value) -> bool {
    let schema = resolve(root, schema);
    has_type(schema, "array")
        || (schema.get("type").is_none()
            && schema.get("items").is_some()
            && schema.get("properties").is_none())
}
