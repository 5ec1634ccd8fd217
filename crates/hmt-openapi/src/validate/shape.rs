//! What types a schema lets a text value be read as.
//!
//! Parameters and form fields arrive as text; before the validator sees
//! them they are read as JSON values. A [`Shape`] is the part of a schema
//! that reading needs: the JSON types the value may have (the union over
//! `anyOf`/`oneOf`/`allOf` branches and `type` arrays), and the shapes of
//! array items and object properties. It is computed once per parameter
//! and body, not per request. It only proposes readings: the validator,
//! with the whole schema, decides which one is valid.

use hmt_types::pointer::deref;
use serde_json::Value;

/// JSON types, as bits.
pub(crate) const STRING: u8 = 1;
pub(crate) const INTEGER: u8 = 2;
pub(crate) const NUMBER: u8 = 4;
pub(crate) const BOOLEAN: u8 = 8;
pub(crate) const NULL: u8 = 16;
pub(crate) const ARRAY: u8 = 32;
pub(crate) const OBJECT: u8 = 64;

/// How deep into nested schemas shapes are followed; deeper values are
/// read as any type (recursive schemas end here).
const MAX_DEPTH: usize = 8;

/// The types a value may be read as, and the shapes of its parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Shape {
    /// `STRING | INTEGER | ...`; 0 when the schema does not say (any).
    pub kinds: u8,
    /// The shape of array items.
    pub items: Option<Box<Shape>>,
    /// The shapes of named properties.
    pub properties: Vec<(String, Shape)>,
    /// The shape of other properties, when the schema gives one.
    pub additional: Option<Box<Shape>>,
    /// Whether properties other than the named ones may be present
    /// (`additionalProperties` is not `false`).
    pub open: bool,
}

impl Shape {
    /// Any value.
    pub(super) fn any() -> Shape {
        Shape {
            open: true,
            ..Shape::default()
        }
    }

    /// The shape of `schema` (a schema of the document `root`).
    pub(super) fn of(root: &Value, schema: &Value) -> Shape {
        shape(root, schema, 0)
    }

    /// Whether only scalar types are allowed (no array or object), so that
    /// a value is one text.
    #[inline]
    pub(super) fn is_scalar(&self) -> bool {
        self.kinds != 0 && self.kinds & (ARRAY | OBJECT) == 0
    }

    /// The shape of property `name`.
    pub(super) fn property(&self, name: &str) -> Option<&Shape> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
            .or(self.additional.as_deref())
    }

    /// The shape of array items (any when not given).
    pub(super) fn item(&self) -> &Shape {
        static ANY: std::sync::OnceLock<Shape> = std::sync::OnceLock::new();
        self.items
            .as_deref()
            .unwrap_or_else(|| ANY.get_or_init(Shape::any))
    }

    fn merge(&mut self, other: Shape) {
        self.kinds |= other.kinds;
        match (&mut self.items, other.items) {
            (Some(mine), Some(theirs)) => mine.merge(*theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        for (name, theirs) in other.properties {
            match self.properties.iter_mut().find(|(n, _)| *n == name) {
                Some((_, mine)) => mine.merge(theirs),
                None => self.properties.push((name, theirs)),
            }
        }
        match (&mut self.additional, other.additional) {
            (Some(mine), Some(theirs)) => mine.merge(*theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        self.open |= other.open;
    }
}

fn kind_named(name: &str) -> u8 {
    match name {
        "string" => STRING,
        "integer" => INTEGER,
        "number" => NUMBER,
        "boolean" => BOOLEAN,
        "null" => NULL,
        "array" => ARRAY,
        "object" => OBJECT,
        _ => 0,
    }
}

fn kind_of(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Number(n) if n.is_i64() || n.is_u64() => INTEGER,
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
        Value::Array(_) => ARRAY,
        Value::Object(_) => OBJECT,
    }
}

fn shape(root: &Value, schema: &Value, depth: usize) -> Shape {
    if depth > MAX_DEPTH {
        return Shape::any();
    }
    let Some(schema) = deref(root, schema) else {
        return Shape::any();
    };
    let Some(map) = schema.as_object() else {
        // `true`, `false`, or not a schema.
        return Shape::any();
    };
    let mut out = Shape {
        open: !matches!(map.get("additionalProperties"), Some(Value::Bool(false))),
        ..Shape::default()
    };
    match map.get("type") {
        Some(Value::String(t)) => out.kinds = kind_named(t),
        Some(Value::Array(ts)) => {
            out.kinds = ts
                .iter()
                .filter_map(Value::as_str)
                .fold(0, |k, t| k | kind_named(t))
        }
        _ => {}
    }
    if out.kinds == 0 {
        if let Some(Value::Array(values)) = map.get("enum") {
            out.kinds = values.iter().fold(0, |k, v| k | kind_of(v));
        } else if let Some(value) = map.get("const") {
            out.kinds = kind_of(value);
        }
    }
    if let Some(items) = map.get("items") {
        out.items = Some(Box::new(shape(root, items, depth + 1)));
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        out.properties = properties
            .iter()
            .map(|(name, s)| (name.clone(), shape(root, s, depth + 1)))
            .collect();
    }
    if let Some(additional @ Value::Object(_)) = map.get("additionalProperties") {
        out.additional = Some(Box::new(shape(root, additional, depth + 1)));
    }
    if out.kinds == 0 {
        if map.contains_key("properties")
            || map.contains_key("additionalProperties")
            || map.contains_key("required")
        {
            out.kinds |= OBJECT;
        }
        if map.contains_key("items") {
            out.kinds |= ARRAY;
        }
    }
    // Branches: their types are what the value may be when the schema
    // itself names none; their items and properties always help reading.
    let mut branches = Shape::default();
    let mut any_branch = false;
    for keyword in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(subs)) = map.get(keyword) {
            for sub in subs {
                branches.merge(shape(root, sub, depth + 1));
                any_branch = true;
            }
        }
    }
    if any_branch {
        let own = out.kinds;
        let open = out.open;
        out.merge(branches);
        out.kinds = if own != 0 { own } else { out.kinds };
        out.open = open && out.open;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn branches_and_type_arrays_union_their_types() {
        let root = json!({"components": {"schemas": {"Range": {"type": "object", "properties": {"gte": {"type": "integer"}}}}}});
        let s = Shape::of(
            &root,
            &json!({"anyOf": [{"$ref": "#/components/schemas/Range"}, {"type": "integer"}]}),
        );
        assert_eq!(s.kinds, OBJECT | INTEGER);
        assert_eq!(s.property("gte").map(|p| p.kinds), Some(INTEGER));
        assert_eq!(
            Shape::of(&root, &json!({"type": ["string", "null"]})).kinds,
            STRING | NULL
        );
        assert_eq!(
            Shape::of(&root, &json!({"enum": ["a", 1]})).kinds,
            STRING | INTEGER
        );
        assert_eq!(Shape::of(&root, &json!({})).kinds, 0);
        let cyclic = json!({"a": {"type": "object", "properties": {"next": {"$ref": "#/a"}}}});
        assert_eq!(Shape::of(&cyclic, &cyclic["a"]).kinds, OBJECT);
    }
}
