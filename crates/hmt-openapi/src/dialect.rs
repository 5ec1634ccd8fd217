//! OpenAPI 3.0 Schema Objects rewritten as the JSON Schema 2020-12 that OpenAPI 3.1 uses.
//!
//! hmt validates requests, responses and generated data with the `jsonschema` crate, which
//! only knows real JSON Schema. OpenAPI 3.0 Schema Objects are a dialect of draft 4/5 with two
//! keywords that change what validates: `nullable` (ignored by a JSON Schema validator, so `null`
//! would be rejected) and the boolean `exclusiveMinimum`/`exclusiveMaximum` (invalid in 2020-12,
//! where they are numbers). Rewriting those once, in place, lets one validator and one generator
//! serve both OpenAPI versions. Everything else — `example`, `x-*` extensions, `$ref` pointers
//! into the whole document — is kept as is, so a 3.1 schema passes through unchanged and the
//! rewrite is idempotent.

use serde_json::{Map, Value, json};

/// Keywords whose value is a single subschema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalProperties",
    "additionalItems",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];

/// Keywords whose value is an array of subschemas.
const SCHEMA_ARRAY_KEYWORDS: &[&str] = &["allOf", "oneOf", "anyOf", "prefixItems"];

/// Keywords whose value maps names to subschemas.
const SCHEMA_MAP_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// Keywords whose value must be a number.
const NUMBER_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];

/// Keywords that can reject `null`; the others only constrain values of their own type.
const NULL_REJECTING: &[&str] = &["$ref", "allOf", "anyOf", "oneOf", "not", "enum", "const"];

/// Rewrites an OpenAPI 3.0 Schema Object, and every subschema in it, into JSON Schema 2020-12.
///
/// - `nullable: true` adds `"null"` to `type` (and to `enum` when there is one). Without a
///   `type`, the keywords that would still reject `null` (`$ref`, `anyOf`, ...) are wrapped in
///   `anyOf: [{"type": "null"}, {...}]`, which is how specs such as Stripe's use it on
///   expandable fields. `nullable` itself is removed, so a second pass changes nothing.
/// - `exclusiveMinimum: true` with `minimum: m` becomes `exclusiveMinimum: m` (same for the
///   maximum); `false` is dropped.
/// - A numeric bound (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
///   `multipleOf`) that YAML read as text because it is past `f64` (`1e400`) becomes a number,
///   clamped to ±`f64::MAX`.
///
/// ```
/// use hmt_openapi::dialect::normalise_schema;
/// use serde_json::json;
///
/// let mut schema = json!({"type": "integer", "nullable": true, "minimum": 0, "exclusiveMinimum": true});
/// normalise_schema(&mut schema);
/// assert_eq!(schema, json!({"type": ["integer", "null"], "exclusiveMinimum": 0}));
/// ```
pub fn normalise_schema(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    for keyword in SCHEMA_KEYWORDS {
        match map.get_mut(*keyword) {
            // Draft 4 style tuple `items`.
            Some(Value::Array(items)) => items.iter_mut().for_each(normalise_schema),
            Some(sub) => normalise_schema(sub),
            None => {}
        }
    }
    for keyword in SCHEMA_ARRAY_KEYWORDS {
        if let Some(Value::Array(subs)) = map.get_mut(*keyword) {
            subs.iter_mut().for_each(normalise_schema);
        }
    }
    for keyword in SCHEMA_MAP_KEYWORDS {
        if let Some(Value::Object(subs)) = map.get_mut(*keyword) {
            subs.values_mut().for_each(normalise_schema);
        }
    }
    for keyword in NUMBER_KEYWORDS {
        if let Some(value) = map.get_mut(*keyword) {
            number_from_text(value);
        }
    }
    normalise_exclusive(map, "exclusiveMinimum", "minimum");
    normalise_exclusive(map, "exclusiveMaximum", "maximum");
    normalise_nullable(map);
}

/// Normalises every Schema Object of a whole OpenAPI document: `components.schemas` and every
/// `schema` of parameters, headers and media types, wherever they are.
///
/// Examples are data, not schemas, and are left alone.
///
/// ```
/// use hmt_openapi::dialect::normalise_document;
/// use serde_json::json;
///
/// let mut doc = json!({"openapi": "3.0.3", "components": {"schemas": {
///     "Name": {"type": "string", "nullable": true}
/// }}});
/// normalise_document(&mut doc);
/// assert_eq!(doc["components"]["schemas"]["Name"], json!({"type": ["string", "null"]}));
/// ```
pub fn normalise_document(doc: &mut Value) {
    if let Some(Value::Object(schemas)) = doc
        .get_mut("components")
        .and_then(|components| components.get_mut("schemas"))
    {
        schemas.values_mut().for_each(normalise_schema);
    }
    normalise_schema_fields(doc, true);
}

/// Walks a document outside the schemas and normalises the value of every `schema` field.
fn normalise_schema_fields(value: &mut Value, top: bool) {
    match value {
        Value::Object(map) => {
            for (key, sub) in map.iter_mut() {
                match key.as_str() {
                    "schema" => normalise_schema(sub),
                    "example" | "examples" | "default" => {}
                    // Done by `normalise_document` already; twice would be harmless, but slow.
                    "schemas" if !top => {}
                    _ => normalise_schema_fields(sub, false),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| normalise_schema_fields(item, false)),
        _ => {}
    }
}

/// A bound YAML read as text because it is past `f64` (`maximum: 1e400`) is
/// the number it spells, clamped to ±`f64::MAX` as [`crate::parse`] reads
/// such numbers in JSON. Other text is left for the validator to report.
fn number_from_text(value: &mut Value) {
    let Value::String(text) = value else {
        return;
    };
    let numeric = text
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if let Some(number) = numeric
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .and_then(crate::parse::finite)
        .and_then(serde_json::Number::from_f64)
    {
        *value = Value::Number(number);
    }
}

fn normalise_exclusive(map: &mut Map<String, Value>, exclusive: &str, bound: &str) {
    match map.get(exclusive) {
        Some(Value::Bool(true)) => {
            match map.shift_remove(bound) {
                Some(limit @ Value::Number(_)) => {
                    map.insert(exclusive.to_owned(), limit);
                }
                // `exclusiveMinimum: true` without a minimum says nothing.
                _ => {
                    map.shift_remove(exclusive);
                }
            }
        }
        Some(Value::Bool(false)) => {
            map.shift_remove(exclusive);
        }
        _ => {}
    }
}

fn normalise_nullable(map: &mut Map<String, Value>) {
    let Some(nullable) = map.shift_remove("nullable") else {
        return;
    };
    if nullable != Value::Bool(true) {
        return;
    }
    if let Some(types) = map.get_mut("type") {
        add_null_type(types);
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            add_null_value(values);
        }
        return;
    }
    let rejecting: Vec<&str> = NULL_REJECTING
        .iter()
        .copied()
        .filter(|keyword| map.contains_key(*keyword))
        .collect();
    match rejecting.as_slice() {
        [] => {}
        ["enum"] => {
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                add_null_value(values);
            }
        }
        [keyword @ ("anyOf" | "oneOf")] => {
            if let Some(Value::Array(branches)) = map.get_mut(*keyword) {
                let null = json!({"type": "null"});
                if !branches.contains(&null) {
                    branches.insert(0, null);
                }
            }
        }
        _ => {
            let mut inner = Map::new();
            for keyword in rejecting {
                if let Some(value) = map.shift_remove(keyword) {
                    inner.insert(keyword.to_owned(), value);
                }
            }
            map.insert(
                "anyOf".to_owned(),
                Value::Array(vec![json!({"type": "null"}), Value::Object(inner)]),
            );
        }
    }
}

fn add_null_type(types: &mut Value) {
    match types {
        Value::String(name) if name != "null" => {
            *types = json!([name.as_str(), "null"]);
        }
        Value::Array(names) if !names.iter().any(|name| name == "null") => {
            names.push(Value::from("null"));
        }
        _ => {}
    }
}

fn add_null_value(values: &mut Vec<Value>) {
    if !values.contains(&Value::Null) {
        values.push(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(mut schema: Value) -> Value {
        normalise_schema(&mut schema);
        schema
    }

    #[test]
    fn nullable_adds_null_to_type_and_enum() {
        assert_eq!(
            normalised(json!({"type": "string", "enum": ["a", "b"], "nullable": true})),
            json!({"type": ["string", "null"], "enum": ["a", "b", null]})
        );
    }

    #[test]
    fn nullable_false_is_dropped() {
        assert_eq!(
            normalised(json!({"type": "string", "nullable": false})),
            json!({"type": "string"})
        );
    }

    #[test]
    fn nullable_any_of_gets_a_null_branch() {
        assert_eq!(
            normalised(json!({"anyOf": [{"type": "string"}, {"$ref": "#/x"}], "nullable": true})),
            json!({"anyOf": [{"type": "null"}, {"type": "string"}, {"$ref": "#/x"}]})
        );
    }

    #[test]
    fn nullable_ref_is_wrapped_and_annotations_stay_outside() {
        assert_eq!(
            normalised(json!({"allOf": [{"$ref": "#/a"}], "description": "d", "nullable": true})),
            json!({"description": "d", "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/a"}]}]})
        );
    }

    #[test]
    fn boolean_exclusives_become_numbers() {
        assert_eq!(
            normalised(json!({
                "type": "number", "minimum": 1, "exclusiveMinimum": true,
                "maximum": 9, "exclusiveMaximum": false
            })),
            json!({"type": "number", "exclusiveMinimum": 1, "maximum": 9})
        );
    }

    #[test]
    fn recurses_into_every_subschema_but_not_into_examples() {
        let schema = normalised(json!({
            "type": "object",
            "properties": {"a": {"type": "string", "nullable": true}},
            "additionalProperties": {"type": "integer", "nullable": true},
            "patternProperties": {"^x": {"type": "boolean", "nullable": true}},
            "items": {"type": "number", "nullable": true},
            "prefixItems": [{"type": "number", "nullable": true}],
            "allOf": [{"type": "object", "nullable": true}],
            "oneOf": [{"type": "object", "nullable": true}],
            "anyOf": [{"type": "object", "nullable": true}],
            "not": {"type": "string", "nullable": true},
            "example": {"nullable": true},
            "x-extra": {"nullable": true}
        }));
        assert_eq!(schema["properties"]["a"]["type"], json!(["string", "null"]));
        assert_eq!(
            schema["additionalProperties"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(
            schema["patternProperties"]["^x"]["type"],
            json!(["boolean", "null"])
        );
        assert_eq!(schema["items"]["type"], json!(["number", "null"]));
        assert_eq!(schema["prefixItems"][0]["type"], json!(["number", "null"]));
        for keyword in ["allOf", "oneOf", "anyOf"] {
            assert_eq!(schema[keyword][0]["type"], json!(["object", "null"]));
        }
        assert_eq!(schema["not"]["type"], json!(["string", "null"]));
        assert_eq!(schema["example"], json!({"nullable": true}));
        assert_eq!(schema["x-extra"], json!({"nullable": true}));
    }

    #[test]
    fn openapi_3_1_schemas_pass_through_unchanged_and_it_is_idempotent() {
        let schema = json!({
            "type": ["string", "null"], "exclusiveMinimum": 3, "const": "x",
            "$ref": "#/components/schemas/A", "example": "x", "examples": ["x"],
            "x-internal": true, "prefixItems": [{"type": "integer"}]
        });
        assert_eq!(normalised(schema.clone()), schema);
        let once = normalised(json!({"anyOf": [{"$ref": "#/a"}], "enum": [1], "nullable": true}));
        assert_eq!(normalised(once.clone()), once);
    }

    #[test]
    fn documents_normalise_parameters_and_media_types() {
        let mut doc = json!({
            "paths": {"/a": {"get": {
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "nullable": true}}],
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"type": "integer", "nullable": true},
                    "example": {"schema": {"nullable": true}}
                }}}}
            }}}
        });
        normalise_document(&mut doc);
        let get = &doc["paths"]["/a"]["get"];
        assert_eq!(
            get["parameters"][0]["schema"]["type"],
            json!(["string", "null"])
        );
        let media = &get["responses"]["200"]["content"]["application/json"];
        assert_eq!(media["schema"]["type"], json!(["integer", "null"]));
        assert_eq!(media["example"], json!({"schema": {"nullable": true}}));
    }
}
