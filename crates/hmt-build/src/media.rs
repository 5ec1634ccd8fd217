//! Bodies by media type: what a body is, and the summary of many of them.

use crate::example::json_example;
use crate::schema::{Dialect, Sketch};
use crate::secrets::redact_secrets;
use hmt_types::Fields;
use serde_json::{Value, json};

/// How a body is understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyClass {
    /// `application/json`, `*+json`: parsed, and summarised by a [`Sketch`].
    Json,
    /// `application/x-www-form-urlencoded`: fields, each a [`TextSketch`].
    Form,
    /// `text/*`, XML, JavaScript: a string.
    Text,
    /// Anything else: bytes.
    Binary,
}

/// The media type of a body (lower-case, without parameters) and its class.
///
/// With no `Content-Type`, the body is sniffed: JSON if it parses, text if
/// it is UTF-8, else `application/octet-stream`.
///
/// ```
/// use hmt_build::media::{classify, BodyClass};
/// assert_eq!(classify(Some("Application/JSON; charset=utf-8"), b"{}"), ("application/json".into(), BodyClass::Json));
/// assert_eq!(classify(Some("application/vnd.api+json"), b"{}").1, BodyClass::Json);
/// assert_eq!(classify(None, b"[1,2]"), ("application/json".into(), BodyClass::Json));
/// assert_eq!(classify(None, b"ok"), ("text/plain".into(), BodyClass::Text));
/// assert_eq!(classify(None, &[0xff, 0xd8]), ("application/octet-stream".into(), BodyClass::Binary));
/// ```
pub fn classify(content_type: Option<&str>, body: &[u8]) -> (String, BodyClass) {
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| e.contains('/'));
    match essence {
        Some(media) => {
            let class = if media == "application/json"
                || media.ends_with("+json")
                || media == "text/json"
            {
                BodyClass::Json
            } else if media == "application/x-www-form-urlencoded" {
                BodyClass::Form
            } else if media.starts_with("text/")
                || media.ends_with("+xml")
                || matches!(
                    media.as_str(),
                    "application/xml" | "application/javascript" | "application/x-ndjson"
                )
            {
                BodyClass::Text
            } else {
                BodyClass::Binary
            };
            (media, class)
        }
        None => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
                ("application/json".into(), BodyClass::Json)
            } else if std::str::from_utf8(body).is_ok() {
                ("text/plain".into(), BodyClass::Text)
            } else {
                ("application/octet-stream".into(), BodyClass::Binary)
            }
        }
    }
}

/// Summary of the bodies seen under one media type.
#[derive(Clone, Debug)]
pub struct BodyStats {
    class: BodyClass,
    /// Bodies folded in.
    pub count: u64,
    /// JSON bodies that did not parse; reported, and left out of the schema.
    pub unparsed: u64,
    /// Text bodies that were JSON objects or arrays (servers that send JSON
    /// as `text/html` or `text/plain`), and text bodies that were not.
    json_texts: u64,
    plain_texts: u64,
    json: Sketch,
    form_count: u64,
    form: std::collections::BTreeMap<String, crate::operation::ParamStats>,
    /// The first body seen, as an example.
    example: Option<Value>,
}

impl BodyStats {
    /// An empty summary for a class of body.
    pub fn new(class: BodyClass) -> BodyStats {
        BodyStats {
            class,
            count: 0,
            unparsed: 0,
            json_texts: 0,
            plain_texts: 0,
            json: Sketch::new(),
            form_count: 0,
            form: Default::default(),
            example: None,
        }
    }

    /// Folds one body in.
    pub fn observe(&mut self, body: &[u8]) {
        self.count += 1;
        match self.class {
            // Every body streams into the sketch; the first that parses is
            // also the example, cut to size (see `crate::example`).
            BodyClass::Json => {
                if self.json.observe_json(body).is_err() {
                    self.unparsed += 1;
                } else if self.example.is_none() {
                    self.example = json_example(body).map(|mut value| {
                        redact_secrets(&mut value);
                        value
                    });
                }
            }
            BodyClass::Form => match std::str::from_utf8(body) {
                Ok(text) => {
                    self.form_count += 1;
                    let fields = Fields::parse_query(text);
                    crate::operation::observe_fields(&mut self.form, &fields, |_| false);
                    if self.example.is_none() {
                        self.example = BodyStats::example_value(BodyClass::Form, body);
                    }
                }
                Err(_) => self.unparsed += 1,
            },
            BodyClass::Text => {
                if looks_like_json(body) && self.json.observe_json(body).is_ok() {
                    self.json_texts += 1;
                } else {
                    self.plain_texts += 1;
                }
                if self.example.is_none() {
                    self.example = std::str::from_utf8(body)
                        .ok()
                        .map(|t| Value::String(t.to_owned()));
                }
            }
            BodyClass::Binary => {}
        }
    }

    /// Folds another summary of the same media type in.
    pub fn merge(&mut self, other: BodyStats) {
        self.count += other.count;
        self.unparsed += other.unparsed;
        self.json_texts += other.json_texts;
        self.plain_texts += other.plain_texts;
        self.json.merge(other.json);
        self.form_count += other.form_count;
        crate::operation::merge_fields(&mut self.form, other.form);
        if self.example.is_none() {
            self.example = other.example;
        }
    }

    /// Top-level keys of JSON object bodies, for comparing resources.
    pub fn object_keys(&self) -> Vec<&str> {
        self.json.object_keys()
    }

    /// The keys of listed items: of the objects in a top-level array, or in
    /// the first array of objects inside an envelope object.
    pub fn listed_item_keys(&self) -> Option<Vec<&str>> {
        match self.array_item_keys() {
            Some(keys) => Some(keys),
            None => self.json.wrapped_item_keys(),
        }
    }

    /// Whether the JSON bodies included arrays, and the keys of the objects
    /// in them (see [`crate::schema::Sketch::item_keys`]).
    pub fn array_item_keys(&self) -> Option<Vec<&str>> {
        self.json.has_array().then(|| self.json.item_keys())
    }

    /// The schema of the bodies.
    pub fn schema(&self, dialect: Dialect) -> Value {
        match self.class {
            BodyClass::Json if self.json.samples() > 0 => self.json.to_schema(dialect),
            BodyClass::Text if self.is_json_text() => self.json.to_schema(dialect),
            BodyClass::Json | BodyClass::Text => json!({"type": "string"}),
            BodyClass::Form => {
                let mut properties = serde_json::Map::new();
                let mut required = Vec::new();
                for (name, stats) in &self.form {
                    properties.insert(name.clone(), stats.schema(dialect));
                    if stats.seen == self.form_count {
                        required.push(Value::String(name.clone()));
                    }
                }
                let mut schema = serde_json::Map::new();
                schema.insert("type".into(), "object".into());
                schema.insert("properties".into(), Value::Object(properties));
                if !required.is_empty() {
                    schema.insert("required".into(), Value::Array(required));
                }
                Value::Object(schema)
            }
            BodyClass::Binary => json!({"type": "string", "format": "binary"}),
        }
    }

    /// Whether a text media type only ever carried JSON objects or arrays,
    /// and so is described by their schema.
    fn is_json_text(&self) -> bool {
        self.json_texts > 0 && self.plain_texts == 0
    }

    /// The first body seen, when it can be shown in a spec, secrets
    /// replaced (see [`crate::secrets`]).
    pub fn example(&self) -> Option<Value> {
        let example = self.example.as_ref()?;
        match (self.class, example) {
            (BodyClass::Text, Value::String(text)) if self.is_json_text() => {
                let mut value = json_example(text.as_bytes())?;
                redact_secrets(&mut value);
                Some(value)
            }
            _ => Some(self.typed(example)),
        }
    }

    /// A recorded example as the schema sees it: form fields are text, and
    /// become numbers, booleans or one-item arrays where their schemas say
    /// so (as parameter examples do); other examples are unchanged.
    pub fn typed(&self, example: &Value) -> Value {
        match (self.class, example) {
            (BodyClass::Form, Value::Object(fields)) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| {
                        let typed = match (value, self.form.get(name)) {
                            (Value::String(text), Some(stats)) => crate::operation::typed_example(
                                text,
                                &stats.schema(Dialect::OpenApi30),
                            ),
                            _ => value.clone(),
                        };
                        (name.clone(), typed)
                    })
                    .collect(),
            ),
            _ => example.clone(),
        }
    }

    /// An example value for a body, as a spec's `examples` shows it: parsed
    /// JSON (cut to size, see [`crate::example`]), a form as an object, text
    /// as a string; `None` for binary.
    ///
    /// Secret fields are replaced (see [`crate::secrets`]); text that is a
    /// JSON object or array is shown parsed.
    pub fn example_value(class: BodyClass, body: &[u8]) -> Option<Value> {
        let mut value = match class {
            BodyClass::Json => json_example(body)?,
            BodyClass::Text if looks_like_json(body) => match json_example(body) {
                Some(value) => value,
                None => Value::String(std::str::from_utf8(body).ok()?.to_owned()),
            },
            BodyClass::Text => Value::String(std::str::from_utf8(body).ok()?.to_owned()),
            BodyClass::Form => {
                let mut map = serde_json::Map::new();
                for (name, values) in Fields::parse_query(std::str::from_utf8(body).ok()?).iter() {
                    map.insert(name.to_owned(), Value::String(values[0].clone()));
                }
                Value::Object(map)
            }
            BodyClass::Binary => return None,
        };
        redact_secrets(&mut value);
        Some(value)
    }

    /// The class of body summarised.
    pub fn class(&self) -> BodyClass {
        self.class
    }
}

/// Whether a body starts like a JSON object or array (after white space):
/// the cheap test before trying to parse text as JSON.
fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}
