//! Undocumented fields: properties of a body that its schema does not
//! describe, although it allows them.
//!
//! JSON Schema allows any property not listed in `properties` unless the
//! schema says `additionalProperties: false`, so a validator passes them.
//! For drift they matter anyway: a field the spec does not mention is one
//! its readers do not know about (this is what Optic reports). The rule:
//!
//! - A property is **documented** when one of the schemas that apply to
//!   its object lists it in `properties`, matches it with a
//!   `patternProperties` pattern, or gives `additionalProperties` a schema
//!   (a map: every key is documented by that schema).
//! - The schemas that apply are the object's schema with `$ref`s followed
//!   and the branches of `allOf`, `anyOf` and `oneOf` taken together
//!   (without working out which branch matched): a property listed by any
//!   branch is documented. This may miss drift in specs with unions; it
//!   never reports a property a branch describes.
//! - An object whose schemas list no `properties` and no
//!   `patternProperties` (`{type: object}`, `{}`) is free-form: its keys
//!   are not reported.
//! - A property not documented where a schema says
//!   `additionalProperties: false` (or `unevaluatedProperties: false`) is
//!   not an undocumented field but a schema violation, which the validator
//!   reports.
//! - Inside an undocumented property nothing more is reported: the
//!   property is the drift.
//!
//! Array items are walked with `items` (and `prefixItems`); one finding is
//! made per place, array indices aside (see [`crate::report`]).

use hmt_types::pointer::escape;
use hmt_types::pointer::resolve_ref as resolve_pointer;
use serde_json::Value;

/// How deep `$ref`s and combinators are followed, and bodies walked.
const MAX_DEPTH: usize = 64;

/// A property found undocumented.
#[derive(Debug, PartialEq, Eq)]
pub struct Undocumented {
    /// JSON pointer to the property in the body.
    pub pointer: String,
    /// The property's name.
    pub name: String,
    /// JSON pointer (`#/...`) to the schema that lists the object's
    /// properties, without this one.
    pub schema_pointer: String,
}

/// Finds the undocumented properties of `value` against the schema at
/// `schema_pointer` (a JSON pointer without `#`) in `root`.
pub fn undocumented(root: &Value, schema_pointer: &str, value: &Value) -> Vec<Undocumented> {
    let Some(schema) = root.pointer(schema_pointer) else {
        return Vec::new();
    };
    let mut walker = Walker {
        root,
        found: Vec::new(),
    };
    let start = vec![(schema_pointer.to_owned(), schema)];
    walker.walk(&start, value, &mut String::new(), 0);
    walker.found
}

struct Walker<'a> {
    root: &'a Value,
    found: Vec<Undocumented>,
}

impl<'a> Walker<'a> {
    fn walk(
        &mut self,
        schemas: &[(String, &'a Value)],
        value: &Value,
        pointer: &mut String,
        depth: usize,
    ) {
        if depth > MAX_DEPTH || schemas.is_empty() {
            return;
        }
        let mut applying = Vec::new();
        for (at, schema) in schemas {
            expand(self.root, at, schema, &mut applying, 0);
        }
        match value {
            Value::Object(map) => self.walk_object(&applying, map, pointer, depth),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let mut children = Vec::new();
                    for (at, schema) in &applying {
                        if let Some(prefix) = schema.get("prefixItems").and_then(Value::as_array)
                            && let Some(child) = prefix.get(index)
                        {
                            children.push((format!("{at}/prefixItems/{index}"), child));
                        } else if let Some(child) = schema.get("items").filter(|i| i.is_object()) {
                            children.push((format!("{at}/items"), child));
                        }
                    }
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    self.walk(&children, item, pointer, depth + 1);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }

    fn walk_object(
        &mut self,
        applying: &[(String, &'a Value)],
        map: &serde_json::Map<String, Value>,
        pointer: &mut String,
        depth: usize,
    ) {
        let listing: Vec<&(String, &Value)> = applying
            .iter()
            .filter(|(_, s)| s.get("properties").is_some() || s.get("patternProperties").is_some())
            .collect();
        let free_form = listing.is_empty();
        for (key, child) in map {
            let mut children: Vec<(String, &'a Value)> = Vec::new();
            let mut documented = false;
            let mut closed = false;
            for (at, schema) in applying {
                if let Some(property) = schema.get("properties").and_then(|p| p.get(key)) {
                    documented = true;
                    children.push((format!("{at}/properties/{}", escape(key)), property));
                    continue;
                }
                if let Some(patterns) = schema.get("patternProperties").and_then(Value::as_object) {
                    for (pattern, property) in patterns {
                        // A pattern the regex crate cannot read documents
                        // the key: never report what may be described.
                        let matches = regex::Regex::new(pattern)
                            .map(|r| r.is_match(key))
                            .unwrap_or(true);
                        if matches {
                            documented = true;
                            children.push((
                                format!("{at}/patternProperties/{}", escape(pattern)),
                                property,
                            ));
                        }
                    }
                }
            }
            if !documented {
                for (at, schema) in applying {
                    match schema.get("additionalProperties") {
                        Some(additional @ Value::Object(_)) => {
                            documented = true;
                            children.push((format!("{at}/additionalProperties"), additional));
                        }
                        Some(Value::Bool(false)) => closed = true,
                        _ => {}
                    }
                    if schema.get("unevaluatedProperties") == Some(&Value::Bool(false)) {
                        closed = true;
                    }
                }
            }
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(key));
            if documented {
                self.walk(&children, child, pointer, depth + 1);
            } else if !closed && !free_form {
                self.found.push(Undocumented {
                    pointer: pointer.clone(),
                    name: key.clone(),
                    schema_pointer: format!("#{}", listing[0].0),
                });
            }
            pointer.truncate(len);
        }
    }
}

/// The schemas that apply to a value of `schema`: itself with `$ref`s
/// followed, and the branches of `allOf`, `anyOf` and `oneOf`.
fn expand<'a>(
    root: &'a Value,
    at: &str,
    schema: &'a Value,
    out: &mut Vec<(String, &'a Value)>,
    depth: usize,
) {
    if depth > MAX_DEPTH || !schema.is_object() {
        return;
    }
    // 2020-12 allows keywords beside `$ref`; they apply too, so the schema
    // itself is kept as well as its target.
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str)
        && let Some(target) = resolve_pointer(root, reference)
    {
        let target_at = reference.trim_start_matches('#');
        if !out.iter().any(|(p, _)| p == target_at) {
            expand(root, target_at, target, out, depth + 1);
        }
    }
    out.push((at.to_owned(), schema));
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                expand(root, &format!("{at}/{keyword}/{i}"), branch, out, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(schema: Value, value: Value) -> Vec<(String, String)> {
        let root = json!({"s": schema, "components": {"schemas": {
            "Pet": {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}},
            "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
            "Closed": {"type": "object", "additionalProperties": false, "properties": {"a": {}}}
        }}});
        undocumented(&root, "/s", &value)
            .into_iter()
            .map(|u| (u.pointer, u.schema_pointer))
            .collect()
    }

    #[test]
    fn properties_absent_from_the_schema_are_found_with_where_they_are_missing() {
        assert_eq!(
            names(
                json!({"$ref": "#/components/schemas/Pet"}),
                json!({"name": "x", "age": 3, "tags": [{"label": "a"}, {"label": "b", "colour": "red"}]})
            ),
            [
                ("/age".to_owned(), "#/components/schemas/Pet".to_owned()),
                (
                    "/tags/1/colour".to_owned(),
                    "#/components/schemas/Tag".to_owned()
                )
            ]
        );
    }

    #[test]
    fn free_form_maps_closed_objects_and_unions() {
        // Free-form objects and maps document every key.
        assert!(names(json!({"type": "object"}), json!({"a": 1})).is_empty());
        assert!(
            names(
                json!({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}),
                json!({"a": 1, "b": 2})
            )
            .is_empty()
        );
        // additionalProperties: false is the validator's to report.
        assert!(
            names(
                json!({"$ref": "#/components/schemas/Closed"}),
                json!({"b": 1})
            )
            .is_empty()
        );
        // A property any branch lists is documented.
        let union = json!({"anyOf": [{"type": "null"}, {"properties": {"a": {}}}, {"properties": {"b": {}}}]});
        assert!(names(union.clone(), json!({"a": 1, "b": 2})).is_empty());
        assert_eq!(names(union, json!({"c": 1})).len(), 1);
        // allOf merges; pattern properties document matching keys.
        let all = json!({"allOf": [{"$ref": "#/components/schemas/Pet"}, {"properties": {"age": {}}}], "patternProperties": {"^x-": {}}});
        assert!(names(all, json!({"name": "a", "age": 1, "x-b": 2})).is_empty());
    }
}
