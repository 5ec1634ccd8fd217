//! What a built document should accept beyond the recording it came from.
//!
//! A spec built from one day of traffic is used on the next day's: other
//! names, other ids, fields null that were always set. Schema inference
//! ([`crate::schema`]) already prefers the general where one schema's own
//! samples are thin (no `minimum`/`maximum` on numbers, enums only from
//! repeated values). This pass adds what only the whole document shows:
//!
//! - **Nullability by property name.** A property that is nullable in one
//!   object schema of the document is made nullable wherever a property of
//!   the same name and type appears (a user's `name` seen null in
//!   `GET /users/{userId}` is nullable in `GET /user` too, where the few
//!   samples happened to have one). Objects of one API reuse field names
//!   for the same things, and a validator that rejects a null there would
//!   reject the next day's traffic for a value the API is known to send.
//! - **No enums of names.** An `enum` listing a word that the recording also
//!   used as a path parameter value (`/buckets/{bucketId}` with `assets`,
//!   and a list of buckets whose `name`s were always the same four) lists
//!   resource names, which grow; it is dropped, keeping the type.
//!
//! Both rules only ever widen a schema: every recorded body that validated
//! before still validates.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Applies the rules above to a generated document. `path_words` are the
/// words folded into the document's path parameters.
pub(crate) fn generalise(document: &mut Value, path_words: &BTreeSet<String>) {
    let openapi30 = document
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3.0"));
    let mut nullable: BTreeSet<(String, String)> = BTreeSet::new();
    visit_document(document, &mut |schema| {
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                if let (true, Some(ty)) = (is_nullable(property), base_type(property)) {
                    nullable.insert((name.clone(), ty.to_owned()));
                }
            }
        }
    });
    visit_document(document, &mut |schema| {
        let names_an_enum = schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| {
                values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| path_words.contains(s)))
            });
        if names_an_enum {
            schema.remove("enum");
        }
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                if is_nullable(property) {
                    continue;
                }
                let Some(ty) = base_type(property) else {
                    continue;
                };
                if nullable.contains(&(name.clone(), ty.to_owned())) {
                    make_nullable(property, openapi30);
                }
            }
        }
    });
}

/// Calls `f` on every Schema Object of the document, parents before
/// children; examples and extensions are not schemas and are skipped.
fn visit_document(value: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "schema" => visit_schema(child, f),
                    "schemas" => {
                        if let Value::Object(schemas) = child {
                            for schema in schemas.values_mut() {
                                visit_schema(schema, f);
                            }
                        }
                    }
                    "example" | "examples" => {}
                    _ if key.starts_with("x-") => {}
                    _ => visit_document(child, f),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_document(item, f);
            }
        }
        _ => {}
    }
}

fn visit_schema(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Value::Object(map) = schema else {
        return;
    };
    f(map);
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" => {
                if let Value::Object(properties) = child {
                    for property in properties.values_mut() {
                        visit_schema(property, f);
                    }
                }
            }
            "items" | "additionalProperties" | "not" => visit_schema(child, f),
            "oneOf" | "anyOf" | "allOf" => {
                if let Value::Array(branches) = child {
                    for branch in branches {
                        visit_schema(branch, f);
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
        || schema
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "null"))
}

/// The one non-null type of a schema, if it has exactly one.
fn base_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(ty) => Some(ty),
        Value::Array(types) => {
            let mut others = types.iter().filter(|t| *t != "null");
            match (others.next(), others.next()) {
                (Some(ty), None) => ty.as_str(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Lets `schema` accept null: `nullable: true` right after `type` and
/// `format` in 3.0 (the builder's key order), `type: [T, "null"]` in 3.1;
/// an enum gets `null` appended, as schema inference does.
fn make_nullable(schema: &mut Value, openapi30: bool) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.push(Value::Null);
    }
    if openapi30 {
        let old = std::mem::take(map);
        let mut placed = false;
        for (key, value) in old {
            if !placed && !matches!(key.as_str(), "type" | "format") {
                map.insert("nullable".into(), Value::Bool(true));
                placed = true;
            }
            map.insert(key, value);
        }
        if !placed {
            map.insert("nullable".into(), Value::Bool(true));
        }
    } else if let Some(Value::String(ty)) = map.get("type") {
        let ty = ty.clone();
        map.insert("type".into(), Value::Array(vec![ty.into(), "null".into()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(openapi: &str, a: Value, b: Value) -> Value {
        json!({
            "openapi": openapi,
            "paths": {"/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": a}}}}}},
                      "/b": {"get": {"responses": {"200": {"content": {"application/json": {
                          "schema": b, "example": {"name": "x"}}}}}}}}
        })
    }

    #[test]
    fn nullable_spreads_by_name_and_type() {
        let a =
            json!({"type": "object", "properties": {"name": {"type": "string", "nullable": true}}});
        let b = json!({"type": "object", "properties": {
            "name": {"type": "string", "format": "email", "enum": ["a@b.co", "c@d.co"]},
            "other": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "integer"}}}}
        }});
        let mut d = doc("3.0.3", a, b);
        generalise(&mut d, &BTreeSet::new());
        let b =
            &d["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(
            b["properties"]["name"],
            json!({"type": "string", "format": "email", "nullable": true, "enum": ["a@b.co", "c@d.co", null]})
        );
        let keys: Vec<&String> = b["properties"]["name"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["type", "format", "nullable", "enum"]);
        assert_eq!(b["properties"]["other"], json!({"type": "string"}));
        // Another type under the same name is another field.
        assert_eq!(
            b["properties"]["list"]["items"]["properties"]["name"],
            json!({"type": "integer"})
        );

        let a = json!({"type": "object", "properties": {"name": {"type": ["string", "null"]}}});
        let b = json!({"type": "object", "properties": {"name": {"type": "string"}}});
        let mut d = doc("3.1.0", a, b);
        generalise(&mut d, &BTreeSet::new());
        let b =
            &d["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(b["properties"]["name"], json!({"type": ["string", "null"]}));
        // Examples are data, not schemas.
        assert_eq!(
            d["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["example"],
            json!({"name": "x"})
        );
    }

    #[test]
    fn enums_of_path_words_are_dropped() {
        let a = json!({"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string", "enum": ["assets", "logs"]},
            "kind": {"type": "string", "enum": ["hot", "cold"]}
        }}});
        let mut d = doc("3.0.3", a, json!({}));
        generalise(&mut d, &BTreeSet::from(["logs".to_owned()]));
        let a =
            &d["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(a["items"]["properties"]["name"], json!({"type": "string"}));
        assert_eq!(
            a["items"]["properties"]["kind"]["enum"],
            json!(["hot", "cold"])
        );
    }
}
