//! XML bodies from JSON values (a documented example or generated data), as
//! the schema's OpenAPI `xml` object describes them: `name`, `attribute`,
//! `wrapped` arrays, `namespace` and `prefix`.
//!
//! The root element is named by the schema's `xml.name`, else by the
//! component its `$ref` names (`#/components/schemas/Pet` gives `<Pet>`),
//! else `root`. An array is one element per item, named by the items'
//! `xml.name` or the property's name; `wrapped: true` puts them inside an
//! element named by the array's `xml.name` or the property's name (an array
//! at the root is always wrapped: XML has one root). Scalars are text,
//! `null` an empty element; properties no schema describes keep their name,
//! made a valid XML name.
//!
//! ```
//! use hmt_mock::xml::to_xml;
//! use serde_json::json;
//!
//! let document = json!({"components": {"schemas": {"Pet": {
//!     "type": "object",
//!     "xml": {"namespace": "https://example.com/pets", "prefix": "p"},
//!     "properties": {
//!         "id": {"type": "integer", "xml": {"attribute": true}},
//!         "tags": {"type": "array", "xml": {"wrapped": true}, "items": {"type": "string", "xml": {"name": "tag"}}}
//!     }
//! }}}});
//! let schema = json!({"$ref": "#/components/schemas/Pet"});
//! let xml = to_xml(&json!({"id": 7, "tags": ["a<b", "c"]}), Some(&schema), &document);
//! assert_eq!(
//!     String::from_utf8(xml).unwrap(),
//!     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
//!      <p:Pet xmlns:p=\"https://example.com/pets\" id=\"7\"><tags><tag>a&lt;b</tag><tag>c</tag></tags></p:Pet>"
//! );
//! ```

use serde_json::{Map, Value};

/// How deep values are written; deeper ones are left out (values the mock
/// sends are far shallower).
const MAX_DEPTH: usize = 64;
/// How many `$ref`s are followed in a row.
const MAX_REFS: usize = 32;

/// `value` as an XML document shaped by `schema` (whose `$ref`s point into
/// `document`).
pub fn to_xml(value: &Value, schema: Option<&Value>, document: &Value) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let writer = Writer { document };
    let schema = schema.unwrap_or(&Value::Bool(true));
    let name = writer
        .xml(schema, "name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| writer.ref_name(schema))
        .unwrap_or_else(|| "root".to_owned());
    match value {
        Value::Array(items) => writer.wrapped(&mut out, &name, schema, items, &name, 0),
        _ => writer.element(&mut out, &name, value, schema, 0),
    }
    out.into_bytes()
}

struct Writer<'d> {
    document: &'d Value,
}

impl<'d> Writer<'d> {
    /// The schema a `$ref` chain ends at.
    fn deref<'a>(&self, mut schema: &'a Value) -> &'a Value
    where
        'd: 'a,
    {
        for _ in 0..MAX_REFS {
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| hmt_types::pointer::resolve_ref(self.document, reference))
            {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// The last name of the component `schema` refers to.
    fn ref_name(&self, schema: &Value) -> Option<String> {
        let reference = schema.get("$ref")?.as_str()?;
        let name = reference.rsplit('/').next()?;
        (!name.is_empty()).then(|| hmt_types::pointer::unescape(name).into_owned())
    }

    /// `key` of the schema's `xml` object: its own first, then along its
    /// `$ref`s.
    fn xml<'a>(&self, schema: &'a Value, key: &str) -> Option<&'a Value>
    where
        'd: 'a,
    {
        let mut schema = schema;
        for _ in 0..MAX_REFS {
            if let Some(found) = schema.get("xml").and_then(|x| x.get(key)) {
                return Some(found);
            }
            let next = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| hmt_types::pointer::resolve_ref(self.document, reference))?;
            schema = next;
        }
        None
    }

    /// The schema of property `name`: in `properties`, then in `allOf`,
    /// `oneOf` and `anyOf` members, then `additionalProperties`.
    fn property<'a>(&self, schema: &'a Value, name: &str, depth: usize) -> Option<&'a Value>
    where
        'd: 'a,
    {
        if depth > MAX_REFS {
            return None;
        }
        let schema = self.deref(schema);
        if let Some(found) = schema.get("properties").and_then(|p| p.get(name)) {
            return Some(found);
        }
        for keyword in ["allOf", "oneOf", "anyOf"] {
            for member in schema
                .get(keyword)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(found) = self.property(member, name, depth + 1) {
                    return Some(found);
                }
            }
        }
        schema.get("additionalProperties").filter(|a| a.is_object())
    }

    /// The items schema of an array schema.
    fn items<'a>(&self, schema: &'a Value) -> &'a Value
    where
        'd: 'a,
    {
        let schema = self.deref(schema);
        let own = schema.get("items").filter(|i| i.is_object());
        own.or_else(|| {
            ["allOf", "oneOf", "anyOf"].iter().find_map(|keyword| {
                schema
                    .get(*keyword)?
                    .as_array()?
                    .iter()
                    .find_map(|m| self.deref(m).get("items").filter(|i| i.is_object()))
            })
        })
        .unwrap_or(&Value::Bool(true))
    }

    /// The element name with its prefix, and the namespace declaration.
    fn qualified(&self, name: &str, schema: &Value) -> (String, Option<String>) {
        let name = xml_name(name);
        let prefix = self.xml(schema, "prefix").and_then(Value::as_str);
        let qualified = match prefix {
            Some(prefix) if !prefix.is_empty() => format!("{}:{name}", xml_name(prefix)),
            _ => name,
        };
        let namespace =
            self.xml(schema, "namespace")
                .and_then(Value::as_str)
                .map(|ns| match prefix {
                    Some(prefix) if !prefix.is_empty() => {
                        format!(" xmlns:{}=\"{}\"", xml_name(prefix), escape(ns, true))
                    }
                    _ => format!(" xmlns=\"{}\"", escape(ns, true)),
                });
        (qualified, namespace)
    }

    /// One element named `name` (unless the schema names it) holding `value`.
    fn element(&self, out: &mut String, name: &str, value: &Value, schema: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let name = self
            .xml(schema, "name")
            .and_then(Value::as_str)
            .unwrap_or(name);
        let (tag, namespace) = self.qualified(name, schema);
        out.push('<');
        out.push_str(&tag);
        if let Some(namespace) = &namespace {
            out.push_str(namespace);
        }
        match value {
            Value::Object(map) => {
                let children = self.attributes(out, map, schema);
                if children.is_empty() {
                    out.push_str("/>");
                    return;
                }
                out.push('>');
                for (key, child, child_schema) in children {
                    self.child(out, key, child, child_schema, depth + 1);
                }
            }
            Value::Array(items) => {
                // An array inside an array: its items, each as an element.
                out.push('>');
                let items_schema = self.items(schema);
                let item_name = self.item_name(items_schema, "item");
                for item in items {
                    self.element(out, &item_name, item, items_schema, depth + 1);
                }
            }
            Value::Null => {
                out.push_str("/>");
                return;
            }
            scalar => {
                out.push('>');
                out.push_str(&escape(&text(scalar), false));
            }
        }
        out.push_str("</");
        out.push_str(&tag);
        out.push('>');
    }

    /// Writes the attributes of an object's element; returns its other
    /// members, with their schemas, as children.
    fn attributes<'v>(
        &self,
        out: &mut String,
        map: &'v Map<String, Value>,
        schema: &'v Value,
    ) -> Vec<(&'v str, &'v Value, &'v Value)>
    where
        'd: 'v,
    {
        let mut children = Vec::with_capacity(map.len());
        for (key, value) in map {
            let property = self.property(schema, key, 0).unwrap_or(&Value::Bool(true));
            let attribute = self.xml(property, "attribute") == Some(&Value::Bool(true));
            if attribute && !value.is_object() && !value.is_array() {
                let name = self
                    .xml(property, "name")
                    .and_then(Value::as_str)
                    .unwrap_or(key);
                let (name, _) = self.qualified(name, property);
                out.push(' ');
                out.push_str(&name);
                out.push_str("=\"");
                if !value.is_null() {
                    out.push_str(&escape(&text(value), true));
                }
                out.push('"');
            } else {
                children.push((key.as_str(), value, property));
            }
        }
        children
    }

    /// A member of an object: an element, or for arrays one element per
    /// item (inside a wrapper when `xml.wrapped`).
    fn child(&self, out: &mut String, key: &str, value: &Value, schema: &Value, depth: usize) {
        let Value::Array(items) = value else {
            self.element(out, key, value, schema, depth);
            return;
        };
        let wrapped = self.xml(schema, "wrapped") == Some(&Value::Bool(true));
        if wrapped {
            let name = self
                .xml(schema, "name")
                .and_then(Value::as_str)
                .unwrap_or(key);
            self.wrapped(out, name, schema, items, key, depth);
        } else {
            let items_schema = self.items(schema);
            // Unwrapped, the items carry the property's name unless they
            // name themselves.
            let item_name = self
                .xml(items_schema, "name")
                .and_then(Value::as_str)
                .or_else(|| self.xml(schema, "name").and_then(Value::as_str))
                .unwrap_or(key);
            for item in items {
                self.element(out, item_name, item, items_schema, depth);
            }
        }
    }

    /// A wrapper element named `name` around one element per item.
    fn wrapped(
        &self,
        out: &mut String,
        name: &str,
        schema: &Value,
        items: &[Value],
        default_item: &str,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let (tag, namespace) = self.qualified(name, schema);
        out.push('<');
        out.push_str(&tag);
        if let Some(namespace) = &namespace {
            out.push_str(namespace);
        }
        out.push('>');
        let items_schema = self.items(schema);
        let item_name = self.item_name(items_schema, default_item);
        for item in items {
            self.element(out, &item_name, item, items_schema, depth + 1);
        }
        out.push_str("</");
        out.push_str(&tag);
        out.push('>');
    }

    /// Items are named by their own `xml.name`, their component, or
    /// `default`.
    fn item_name(&self, items_schema: &Value, default: &str) -> String {
        self.xml(items_schema, "name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.ref_name(items_schema))
            .unwrap_or_else(|| default.to_owned())
    }
}

/// A scalar's text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `name` as a valid XML name: characters outside names become `_`, and a
/// name that cannot start one gets a `_` first.
fn xml_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if i == 0 && !(c.is_alphabetic() || c == '_') {
            out.push('_');
        }
        out.push(if ok { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Text escaped for element content, or for a double-quoted attribute;
/// characters XML 1.0 cannot carry are dropped.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn xml(value: Value, schema: Value, document: Value) -> String {
        let bytes = to_xml(&value, Some(&schema), &document);
        let text = String::from_utf8(bytes).unwrap();
        text.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn arrays_are_repeated_elements_unless_wrapped() {
        let schema = json!({"type": "object", "xml": {"name": "order"}, "properties": {
            "lines": {"type": "array", "items": {"type": "integer", "xml": {"name": "line"}}},
            "notes": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "xml": {"name": "labels", "wrapped": true}, "items": {"type": "string", "xml": {"name": "label"}}}
        }});
        assert_eq!(
            xml(
                json!({"lines": [1, 2], "notes": ["x"], "tags": ["t"], "extra field": null}),
                schema,
                json!({})
            ),
            "<order><line>1</line><line>2</line><notes>x</notes><labels><label>t</label></labels><extra_field/></order>"
        );
    }

    #[test]
    fn a_root_array_is_wrapped_and_items_take_their_component_name() {
        let document = json!({"components": {"schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}}});
        let schema = json!({"type": "array", "xml": {"name": "pets"}, "items": {"$ref": "#/components/schemas/Pet"}});
        assert_eq!(
            xml(
                json!([{"name": "Rex"}, {"name": "Tom & Jerry"}]),
                schema,
                document
            ),
            "<pets><Pet><name>Rex</name></Pet><Pet><name>Tom &amp; Jerry</name></Pet></pets>"
        );
    }

    #[test]
    fn allof_properties_and_default_namespace() {
        let document = json!({"components": {"schemas": {"Base": {"properties": {"id": {"type": "integer", "xml": {"attribute": true, "name": "ID"}}}}}}});
        let schema = json!({"xml": {"name": "item", "namespace": "urn:x"}, "allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"note": {"type": "string"}}}]});
        assert_eq!(
            xml(json!({"id": 3, "note": "\"q\""}), schema, document),
            "<item xmlns=\"urn:x\" ID=\"3\"><note>\"q\"</note></item>"
        );
        assert_eq!(xml(json!("x"), json!({}), json!({})), "<root>x</root>");
        assert_eq!(xml_name("1st"), "_1st");
    }
}
