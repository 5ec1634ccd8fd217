//! JSON-schema inference from observed values.
//!
//! A [`Sketch`] is a summary of any number of JSON values that keeps only
//! what the schema needs: how often each JSON type was seen, the formats every
//! string satisfies, a small set of distinct strings, and one child sketch per
//! object property and per array position (all elements of all arrays share
//! one). It stores no sample, so its size depends on the shape of the data,
//! never on how many values were observed.
//!
//! Every piece of that state is a count (combined by adding), a set of formats
//! (combined by intersecting), a capped set of strings (combined by union and
//! then the same cap), or child sketches keyed by name (combined recursively).
//! These operations are associative and commutative, so sketches built over
//! parts of the traffic — per file, per thread — [`merge`](Sketch::merge) into
//! exactly the sketch of the whole, and produce the same schema.
//!
//! [`TextSketch`] is the plain-text counterpart for path, query and header
//! parameters and text bodies.
//!
//! # Rules and thresholds
//!
//! * **Types.** `integer` when every number sample is an integer (serde_json
//!   `as_i64`/`as_u64` succeed; `1.0` written as a float is not), else
//!   `number`. A mix of integers and floats is `number`, never `oneOf`.
//! * **Null.** Null plus one other type is `nullable: true` in OpenAPI 3.0
//!   and `type: [T, "null"]` in 3.1. Only nulls seen: `{}` (accepts anything;
//!   3.0 has no null type and `nullable` needs a `type`) in 3.0,
//!   `{"type": "null"}` in 3.1. When the schema has an `enum`, `null` is
//!   appended to it, since an enum would otherwise reject null.
//! * **Conflicting types** become a `oneOf` of one branch per type, in the
//!   order boolean, integer/number, string, array, object. The branches are
//!   disjoint, so every value matches exactly one. With null in the mix, 3.0
//!   marks only the first branch `nullable`, 3.1 appends a `{"type": "null"}`
//!   branch.
//! * **Objects.** `properties` from every sample; `required` lists the
//!   properties present in every object sample and is omitted when empty.
//! * **Id-keyed maps.** When at least 2 (`ID_MAP_MIN_KEYS`) distinct keys
//!   were seen and every one is an identifier ([`classify_id`]), the object
//!   is emitted as `additionalProperties: <schema of all values>`. Once an
//!   object sketch has seen more than 200 (`MAP_MODE_MAX_PROPERTIES`) distinct
//!   names it switches to that form for good, whatever the keys look like, and
//!   folds all property sketches into one value sketch (bounded memory).
//! * **Arrays.** `items` summarises every element of every array; arrays only
//!   ever seen empty get `items: {}`.
//! * **Strings.** `format` when every string sample satisfies it (the
//!   preferred one of [`FormatSet`]; non-ASCII strings satisfy none). Up to 16
//!   (`ENUM_TRACK_MAX`) distinct values of at most 64
//!   (`ENUM_VALUE_MAX_BYTES`) bytes are tracked; a longer value or a 17th
//!   distinct one stops tracking for good. A sorted `enum` is emitted when
//!   there are at least 10 (`ENUM_MIN_SAMPLES`) string samples, at least 2 and at most 8
//!   (`ENUM_MAX_VALUES`) distinct values, each seen at least 4
//!   (`ENUM_MIN_SAMPLES_PER_VALUE`) times on average
//!   (`distinct * 4 <= samples`), none seen only once (a value seen once
//!   says the set is still growing, so the next day's traffic would likely
//!   bring one the enum rejects), and no format was detected. Enums listing
//!   words that the recording also used as path parameter values (bucket or
//!   category names) are dropped when the spec is assembled: such names grow.
//! * **Numbers** carry no `minimum`/`maximum`: the output stays general and
//!   stable as more traffic arrives.
//! * **Depth.** Values nested more than 24 (`MAX_SCHEMA_DEPTH`) arrays and
//!   objects deep are described by `{}`, so that the spec stays within the
//!   nesting JSON parsers accept (serde_json's limit is 128, and one level of
//!   a value can take four levels of schema).
//!
//! Output key order is fixed — `type`, `format`, `nullable`, `enum`, `items`,
//! `properties`, `required`, `additionalProperties`, `oneOf` — and properties,
//! `required` and `enum` are sorted, so the same input always gives
//! byte-identical output.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde_json::{Map, Value};

use crate::ident::{FormatSet, classify_id};

/// At most this many distinct strings are tracked as enum candidates.
const ENUM_TRACK_MAX: usize = 16;
/// Strings longer than this (in bytes) stop enum tracking.
const ENUM_VALUE_MAX_BYTES: usize = 64;
/// An enum needs at least this many string samples.
const ENUM_MIN_SAMPLES: u64 = 10;
/// An enum has at most this many values.
const ENUM_MAX_VALUES: usize = 8;
/// An enum needs `distinct * ENUM_MIN_SAMPLES_PER_VALUE <= samples`.
const ENUM_MIN_SAMPLES_PER_VALUE: u64 = 4;
/// An object sketch with more distinct property names than this becomes a map.
pub(crate) const MAP_MODE_MAX_PROPERTIES: usize = 200;
/// Values nested deeper than this many arrays and objects are described by
/// `{}` (any value). A schema level takes up to four levels of the spec
/// document (`oneOf`, a branch, `properties`, the property), and a spec must
/// stay within the 128 levels JSON parsers (serde_json among them) accept.
pub const MAX_SCHEMA_DEPTH: usize = 24;
/// An object whose keys are all identifiers is a map once it has this many
/// distinct keys.
const ID_MAP_MIN_KEYS: usize = 2;

/// Which OpenAPI version's schema dialect to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAPI 3.0: `nullable: true`, no `null` type.
    OpenApi30,
    /// OpenAPI 3.1: JSON Schema 2020-12, `type: [T, "null"]`.
    OpenApi31,
}

/// Mergeable summary of many JSON values: what a schema is inferred from.
///
/// ```
/// use hmt_build::schema::{Dialect, Sketch};
/// use serde_json::json;
///
/// let mut a = Sketch::new();
/// a.observe(&json!({"id": 1, "name": "ada"}));
/// let mut b = Sketch::new();
/// b.observe(&json!({"id": 2, "name": null}));
/// a.merge(b);
///
/// assert_eq!(a.samples(), 2);
/// assert_eq!(a.object_keys(), ["id", "name"]);
/// assert_eq!(
///     a.to_schema(Dialect::OpenApi30),
///     json!({
///         "type": "object",
///         "properties": {
///             "id": {"type": "integer"},
///             "name": {"type": "string", "nullable": true}
///         },
///         "required": ["id", "name"]
///     })
/// );
/// assert_eq!(
///     a.to_schema(Dialect::OpenApi31)["properties"]["name"],
///     json!({"type": ["string", "null"]})
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct Sketch {
    samples: u64,
    nulls: u64,
    booleans: u64,
    integers: u64,
    floats: u64,
    strings: StringStats,
    array: Option<Box<ArraySketch>>,
    object: Option<Box<ObjectSketch>>,
}

impl Sketch {
    /// An empty sketch; its schema is `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value to the summary.
    pub fn observe(&mut self, value: &Value) {
        self.samples += 1;
        match value {
            Value::Null => self.nulls += 1,
            Value::Bool(_) => self.booleans += 1,
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    self.integers += 1;
                } else {
                    self.floats += 1;
                }
            }
            Value::String(s) => self.strings.observe(s),
            Value::Array(elements) => self
                .array
                .get_or_insert_with(Default::default)
                .observe(elements),
            Value::Object(map) => self
                .object
                .get_or_insert_with(Default::default)
                .observe(map),
        }
    }

    /// Adds one JSON document given as bytes, folding it into the summary
    /// as it is parsed, without building a [`Value`]: the same result as
    /// [`observe`](Sketch::observe) on the parsed value, several times
    /// faster on large bodies.
    ///
    /// The document is checked first, so invalid JSON is an error and
    /// leaves the sketch untouched.
    ///
    /// ```
    /// use hmt_build::schema::{Dialect, Sketch};
    /// let mut streamed = Sketch::new();
    /// streamed.observe_json(br#"{"id": 1, "tags": ["a", "b"]}"#).unwrap();
    /// let mut parsed = Sketch::new();
    /// parsed.observe(&serde_json::json!({"id": 1, "tags": ["a", "b"]}));
    /// assert_eq!(streamed.to_schema(Dialect::OpenApi30), parsed.to_schema(Dialect::OpenApi30));
    /// assert!(streamed.observe_json(b"{\"id\": ").is_err());
    /// assert_eq!(streamed.samples(), 1);
    /// ```
    pub fn observe_json(&mut self, json: &[u8]) -> Result<(), serde_json::Error> {
        serde_json::from_slice::<serde::de::IgnoredAny>(json)?;
        let mut de = serde_json::Deserializer::from_slice(json);
        serde::de::DeserializeSeed::deserialize(streaming::Seed(self), &mut de)?;
        de.end()
    }

    /// Folds another sketch in; the result equals observing both sample sets
    /// (same [`to_schema`](Sketch::to_schema) output).
    pub fn merge(&mut self, other: Sketch) {
        self.samples += other.samples;
        self.nulls += other.nulls;
        self.booleans += other.booleans;
        self.integers += other.integers;
        self.floats += other.floats;
        self.strings.merge(other.strings);
        if let Some(theirs) = other.array {
            match &mut self.array {
                Some(mine) => mine.merge(*theirs),
                None => self.array = Some(theirs),
            }
        }
        if let Some(theirs) = other.object {
            match &mut self.object {
                Some(mine) => mine.merge(*theirs),
                None => self.object = Some(theirs),
            }
        }
    }

    /// How many values were observed (nulls included).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Top-level property names seen in object samples, sorted.
    ///
    /// Empty when no object was seen, and once the object summary switched to
    /// map form after more than 200 distinct names (the names are no longer
    /// kept then).
    pub fn object_keys(&self) -> Vec<&str> {
        self.object
            .as_ref()
            .map(|o| o.props.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The item keys of the first array-of-objects property of an object
    /// (`{"files": [{...}], "next": ...}`): a list wrapped in an envelope.
    pub fn wrapped_item_keys(&self) -> Option<Vec<&str>> {
        let object = self.object.as_ref()?;
        object
            .props
            .values()
            .map(|prop| prop.sketch.item_keys())
            .find(|keys| !keys.is_empty())
    }

    /// Whether any array was observed (at the top level of this sketch).
    pub fn has_array(&self) -> bool {
        self.array.is_some()
    }

    /// The property names of the objects inside arrays: what a list of
    /// resources holds, for telling a list of repositories from a list of
    /// members.
    pub fn item_keys(&self) -> Vec<&str> {
        self.array
            .as_ref()
            .map(|a| a.items.object_keys())
            .unwrap_or_default()
    }

    /// An OpenAPI Schema Object for `dialect`, keys in the fixed order
    /// `type`, `format`, `nullable`, `enum`, `items`, `properties`,
    /// `required`, `additionalProperties`, `oneOf`.
    pub fn to_schema(&self, dialect: Dialect) -> Value {
        self.schema_at(dialect, 0)
    }

    /// The schema of values nested `depth` arrays and objects deep; `{}`
    /// past [`MAX_SCHEMA_DEPTH`].
    fn schema_at(&self, dialect: Dialect, depth: usize) -> Value {
        if depth > MAX_SCHEMA_DEPTH {
            return Value::Object(Map::new());
        }
        let mut branches: Vec<Parts> = Vec::new();
        if self.booleans > 0 {
            branches.push(Parts::typed("boolean"));
        }
        if self.floats > 0 {
            branches.push(Parts::typed("number"));
        } else if self.integers > 0 {
            branches.push(Parts::typed("integer"));
        }
        if self.strings.count > 0 {
            branches.push(self.strings.parts());
        }
        if let Some(array) = &self.array {
            branches.push(array.parts(dialect, depth));
        }
        if let Some(object) = &self.object {
            branches.push(object.parts(dialect, depth));
        }
        let nullable = self.nulls > 0;

        if branches.len() > 1 {
            if nullable {
                match dialect {
                    Dialect::OpenApi30 => {
                        if let Some(first) = branches.first_mut() {
                            first.add_null(dialect);
                        }
                    }
                    Dialect::OpenApi31 => branches.push(Parts::typed("null")),
                }
            }
            let one_of = branches.into_iter().map(Parts::into_value).collect();
            return Parts {
                one_of: Some(one_of),
                ..Parts::default()
            }
            .into_value();
        }
        match branches.pop() {
            Some(mut only) => {
                if nullable {
                    only.add_null(dialect);
                }
                only.into_value()
            }
            None if nullable && dialect == Dialect::OpenApi31 => Parts::typed("null").into_value(),
            None => Value::Object(Map::new()),
        }
    }
}

/// Sketch of plain-text values: path, query and header parameters, text
/// bodies. Infers integer / number / boolean / string (with format and enum).
///
/// Every sample parses as an `i64`: `integer`; else every sample parses as a
/// finite `f64`: `number`; else every sample is exactly `true` or `false`:
/// `boolean`; else `string`, with `format` and `enum` by the same rules as
/// [`Sketch`]. The empty text is a string. Both dialects give the same output.
///
/// ```
/// use hmt_build::schema::{Dialect, TextSketch};
/// use serde_json::json;
///
/// let mut page = TextSketch::new();
/// page.observe("1");
/// page.observe("20");
/// assert_eq!(page.to_schema(Dialect::OpenApi31), json!({"type": "integer"}));
/// page.observe("2.5");
/// assert_eq!(page.to_schema(Dialect::OpenApi31), json!({"type": "number"}));
/// page.observe("last");
/// assert_eq!(page.to_schema(Dialect::OpenApi31), json!({"type": "string"}));
/// ```
#[derive(Clone, Debug)]
pub struct TextSketch {
    samples: u64,
    all_integer: bool,
    all_number: bool,
    all_boolean: bool,
    strings: StringStats,
}

impl Default for TextSketch {
    fn default() -> Self {
        Self {
            samples: 0,
            all_integer: true,
            all_number: true,
            all_boolean: true,
            strings: StringStats::default(),
        }
    }
}

impl TextSketch {
    /// An empty sketch; its schema is `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one text value to the summary.
    pub fn observe(&mut self, text: &str) {
        self.samples += 1;
        if self.all_integer && text.parse::<i64>().is_err() {
            self.all_integer = false;
        }
        if self.all_number && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            self.all_number = false;
        }
        if self.all_boolean && text != "true" && text != "false" {
            self.all_boolean = false;
        }
        self.strings.observe(text);
    }

    /// Folds another sketch in; the result equals observing both sample sets.
    pub fn merge(&mut self, other: TextSketch) {
        self.samples += other.samples;
        self.all_integer &= other.all_integer;
        self.all_number &= other.all_number;
        self.all_boolean &= other.all_boolean;
        self.strings.merge(other.strings);
    }

    /// How many texts were observed.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// A Schema Object for the texts (`{}` when none was observed). Both
    /// dialects give the same output.
    pub fn to_schema(&self, dialect: Dialect) -> Value {
        // Plain text is never null, so the dialects agree.
        let _ = dialect;
        if self.samples == 0 {
            return Value::Object(Map::new());
        }
        let parts = if self.all_integer {
            Parts::typed("integer")
        } else if self.all_number {
            Parts::typed("number")
        } else if self.all_boolean {
            Parts::typed("boolean")
        } else {
            self.strings.parts()
        };
        parts.into_value()
    }
}

/// What string samples have in common.
#[derive(Clone, Debug)]
struct StringStats {
    count: u64,
    /// Formats every sample satisfies; [`FormatSet::ALL`] before any sample.
    formats: FormatSet,
    /// Distinct values and how often each was seen, while enum tracking is
    /// on; `None` once it is off.
    values: Option<BTreeMap<String, u64>>,
}

impl Default for StringStats {
    fn default() -> Self {
        Self {
            count: 0,
            formats: FormatSet::ALL,
            values: Some(BTreeMap::new()),
        }
    }
}

impl StringStats {
    fn observe(&mut self, s: &str) {
        self.count += 1;
        if self.formats != FormatSet::NONE {
            self.formats = self.formats.intersect(formats_of(s));
        }
        let keep = match &mut self.values {
            None => true,
            Some(_) if s.len() > ENUM_VALUE_MAX_BYTES => false,
            Some(values) => {
                let full = values.len() >= ENUM_TRACK_MAX;
                match values.get_mut(s) {
                    Some(seen) => {
                        *seen += 1;
                        true
                    }
                    None if full => false,
                    None => {
                        values.insert(s.to_owned(), 1);
                        true
                    }
                }
            }
        };
        if !keep {
            self.values = None;
        }
    }

    fn merge(&mut self, other: StringStats) {
        self.count += other.count;
        self.formats = self.formats.intersect(other.formats);
        self.values = match (self.values.take(), other.values) {
            (Some(mut a), Some(mut b)) => {
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                for (value, seen) in b {
                    *a.entry(value).or_default() += seen;
                }
                (a.len() <= ENUM_TRACK_MAX).then_some(a)
            }
            _ => None,
        };
    }

    fn enum_values(&self) -> Option<Vec<Value>> {
        let values = self.values.as_ref()?;
        let distinct = values.len() as u64;
        // A single value seen over and over is a constant of the sample,
        // not a documented set of choices: no one-value enums.
        let emit = self.count >= ENUM_MIN_SAMPLES
            && values.len() >= 2
            && values.len() <= ENUM_MAX_VALUES
            && distinct * ENUM_MIN_SAMPLES_PER_VALUE <= self.count
            // A value seen only once says the set is still growing: by
            // Good-Turing, the chance that the next sample is a new value
            // is about (values seen once) / samples. Only a set whose every
            // value came back is taken as closed.
            && values.values().all(|seen| *seen >= 2)
            && self.formats.best().is_none();
        emit.then(|| values.keys().map(|v| Value::String(v.clone())).collect())
    }

    fn parts(&self) -> Parts {
        Parts {
            ty: Some("string"),
            format: self.formats.best().map(|f| f.name()),
            enum_values: self.enum_values(),
            ..Parts::default()
        }
    }
}

/// The formats `s` satisfies.
///
/// Every detectable format is ASCII-only, so other strings skip the checks;
/// this also keeps [`FormatSet::of`] away from byte offsets that are not
/// character boundaries (it slices `s[..10]` for date-times).
fn formats_of(s: &str) -> FormatSet {
    if s.is_ascii() {
        FormatSet::of(s)
    } else {
        FormatSet::NONE
    }
}

#[derive(Clone, Debug, Default)]
struct ArraySketch {
    count: u64,
    items: Sketch,
}

impl ArraySketch {
    fn observe(&mut self, elements: &[Value]) {
        self.count += 1;
        for element in elements {
            self.items.observe(element);
        }
    }

    fn merge(&mut self, other: ArraySketch) {
        self.count += other.count;
        self.items.merge(other.items);
    }

    fn parts(&self, dialect: Dialect, depth: usize) -> Parts {
        Parts {
            ty: Some("array"),
            items: Some(self.items.schema_at(dialect, depth + 1)),
            ..Parts::default()
        }
    }
}

#[derive(Clone, Debug)]
struct Property {
    /// Object samples this property appeared in.
    count: u64,
    sketch: Sketch,
}

#[derive(Clone, Debug)]
struct ObjectSketch {
    count: u64,
    /// Per-property sketches; empty in map mode.
    props: BTreeMap<String, Property>,
    /// Whether every distinct key seen (in property mode) is an identifier.
    keys_all_ids: bool,
    /// Map mode: one sketch of all property values, names forgotten.
    map_values: Option<Sketch>,
}

impl Default for ObjectSketch {
    fn default() -> Self {
        Self {
            count: 0,
            props: BTreeMap::new(),
            keys_all_ids: true,
            map_values: None,
        }
    }
}

impl ObjectSketch {
    fn observe(&mut self, map: &Map<String, Value>) {
        self.count += 1;
        if let Some(values) = &mut self.map_values {
            for value in map.values() {
                values.observe(value);
            }
            return;
        }
        for (key, value) in map {
            if let Some(prop) = self.props.get_mut(key.as_str()) {
                prop.count += 1;
                prop.sketch.observe(value);
                continue;
            }
            if self.keys_all_ids && classify_id(key).is_none() {
                self.keys_all_ids = false;
            }
            let mut sketch = Sketch::new();
            sketch.observe(value);
            self.props
                .insert(key.clone(), Property { count: 1, sketch });
        }
        if self.props.len() > MAP_MODE_MAX_PROPERTIES {
            self.enter_map_mode();
        }
    }

    /// Folds every property sketch into one value sketch, for good.
    fn enter_map_mode(&mut self) {
        let mut values = self.map_values.take().unwrap_or_default();
        for prop in std::mem::take(&mut self.props).into_values() {
            values.merge(prop.sketch);
        }
        self.map_values = Some(values);
    }

    fn merge(&mut self, other: ObjectSketch) {
        self.count += other.count;
        self.keys_all_ids &= other.keys_all_ids;
        if other.map_values.is_some() && self.map_values.is_none() {
            self.enter_map_mode();
        }
        if let Some(values) = &mut self.map_values {
            if let Some(theirs) = other.map_values {
                values.merge(theirs);
            }
            for prop in other.props.into_values() {
                values.merge(prop.sketch);
            }
            return;
        }
        for (key, prop) in other.props {
            match self.props.entry(key) {
                Entry::Occupied(mut mine) => {
                    let mine = mine.get_mut();
                    mine.count += prop.count;
                    mine.sketch.merge(prop.sketch);
                }
                Entry::Vacant(slot) => {
                    slot.insert(prop);
                }
            }
        }
        if self.props.len() > MAP_MODE_MAX_PROPERTIES {
            self.enter_map_mode();
        }
    }

    fn parts(&self, dialect: Dialect, depth: usize) -> Parts {
        let mut parts = Parts::typed("object");
        if let Some(values) = &self.map_values {
            parts.additional = Some(values.schema_at(dialect, depth + 1));
        } else if self.keys_all_ids && self.props.len() >= ID_MAP_MIN_KEYS {
            let mut values = Sketch::new();
            for prop in self.props.values() {
                values.merge(prop.sketch.clone());
            }
            parts.additional = Some(values.schema_at(dialect, depth + 1));
        } else if !self.props.is_empty() {
            let properties = self
                .props
                .iter()
                .map(|(name, prop)| (name.clone(), prop.sketch.schema_at(dialect, depth + 1)))
                .collect();
            let required: Vec<Value> = self
                .props
                .iter()
                .filter(|(_, prop)| prop.count == self.count)
                .map(|(name, _)| Value::String(name.clone()))
                .collect();
            parts.properties = Some(properties);
            parts.required = (!required.is_empty()).then_some(required);
        }
        parts
    }
}

/// A Schema Object under construction; [`Parts::into_value`] writes the keys
/// in the documented order.
#[derive(Debug, Default)]
struct Parts {
    ty: Option<&'static str>,
    /// 3.1: `type` is `[ty, "null"]`.
    null_in_type: bool,
    format: Option<&'static str>,
    /// 3.0: `nullable: true`.
    nullable: bool,
    enum_values: Option<Vec<Value>>,
    items: Option<Value>,
    properties: Option<Map<String, Value>>,
    required: Option<Vec<Value>>,
    additional: Option<Value>,
    one_of: Option<Vec<Value>>,
}

impl Parts {
    fn typed(ty: &'static str) -> Self {
        Self {
            ty: Some(ty),
            ..Self::default()
        }
    }

    /// Lets the schema accept `null` as well.
    fn add_null(&mut self, dialect: Dialect) {
        match dialect {
            Dialect::OpenApi30 => self.nullable = true,
            Dialect::OpenApi31 => self.null_in_type = true,
        }
        if let Some(values) = &mut self.enum_values {
            values.push(Value::Null);
        }
    }

    fn into_value(self) -> Value {
        let mut map = Map::new();
        if let Some(ty) = self.ty {
            let ty = if self.null_in_type {
                Value::Array(vec![Value::from(ty), Value::from("null")])
            } else {
                Value::from(ty)
            };
            map.insert("type".to_owned(), ty);
        }
        if let Some(format) = self.format {
            map.insert("format".to_owned(), Value::from(format));
        }
        if self.nullable {
            map.insert("nullable".to_owned(), Value::Bool(true));
        }
        if let Some(values) = self.enum_values {
            map.insert("enum".to_owned(), Value::Array(values));
        }
        if let Some(items) = self.items {
            map.insert("items".to_owned(), items);
        }
        if let Some(properties) = self.properties {
            map.insert("properties".to_owned(), Value::Object(properties));
        }
        if let Some(required) = self.required {
            map.insert("required".to_owned(), Value::Array(required));
        }
        if let Some(additional) = self.additional {
            map.insert("additionalProperties".to_owned(), additional);
        }
        if let Some(one_of) = self.one_of {
            map.insert("oneOf".to_owned(), Value::Array(one_of));
        }
        Value::Object(map)
    }
}

/// Folding a JSON document into a [`Sketch`] while it is parsed: the same
/// steps as [`Sketch::observe`] and its helpers, driven by serde's visitor
/// instead of a [`Value`] tree, so no per-value allocation happens.
mod streaming {
    use super::{ArraySketch, MAP_MODE_MAX_PROPERTIES, ObjectSketch, Property, Sketch};
    use crate::ident::classify_id;
    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use std::fmt;

    pub(super) struct Seed<'a>(pub &'a mut Sketch);

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            self.0.samples += 1;
            self.0.nulls += 1;
            Ok(())
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            self.0.samples += 1;
            self.0.booleans += 1;
            Ok(())
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            self.0.samples += 1;
            self.0.integers += 1;
            Ok(())
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            self.0.samples += 1;
            self.0.integers += 1;
            Ok(())
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            self.0.samples += 1;
            self.0.floats += 1;
            Ok(())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
            self.0.samples += 1;
            self.0.strings.observe(v);
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            self.0.samples += 1;
            let array: &mut ArraySketch = self.0.array.get_or_insert_with(Default::default);
            array.count += 1;
            while seq.next_element_seed(Seed(&mut array.items))?.is_some() {}
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            self.0.samples += 1;
            let object: &mut ObjectSketch = self.0.object.get_or_insert_with(Default::default);
            object.count += 1;
            if let Some(values) = &mut object.map_values {
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value_seed(Seed(values))?;
                }
                return Ok(());
            }
            while let Some(key) = map.next_key_seed(KeySeed)? {
                let key = key.as_str();
                if let Some(prop) = object.props.get_mut(key) {
                    prop.count += 1;
                    map.next_value_seed(Seed(&mut prop.sketch))?;
                    continue;
                }
                if object.keys_all_ids && classify_id(key).is_none() {
                    object.keys_all_ids = false;
                }
                let mut sketch = Sketch::new();
                map.next_value_seed(Seed(&mut sketch))?;
                object
                    .props
                    .insert(key.to_owned(), Property { count: 1, sketch });
            }
            if object.props.len() > MAP_MODE_MAX_PROPERTIES {
                object.enter_map_mode();
            }
            Ok(())
        }
    }

    /// An object key, borrowed from the input unless it had escapes.
    enum Key<'de> {
        Borrowed(&'de str),
        Owned(String),
    }

    impl Key<'_> {
        fn as_str(&self) -> &str {
            match self {
                Key::Borrowed(s) => s,
                Key::Owned(s) => s,
            }
        }
    }

    struct KeySeed;

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Key<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed {
        type Value = Key<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
            Ok(Key::Borrowed(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
            Ok(Key::Owned(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
            Ok(Key::Owned(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const DIALECTS: [Dialect; 2] = [Dialect::OpenApi30, Dialect::OpenApi31];

    fn sketch_of(samples: &[Value]) -> Sketch {
        let mut sketch = Sketch::new();
        for sample in samples {
            sketch.observe(sample);
        }
        sketch
    }

    fn text_sketch_of(samples: &[&str]) -> TextSketch {
        let mut sketch = TextSketch::new();
        for sample in samples {
            sketch.observe(sample);
        }
        sketch
    }

    /// Serialised, so that key order is compared too (`Map` equality ignores it).
    fn text(schema: &Value) -> String {
        serde_json::to_string(schema).expect("schema serialises")
    }

    /// An OpenAPI 3.0 Schema Object as a JSON Schema (draft 4 style):
    /// `nullable: true` with `type: T` becomes `type: [T, "null"]`.
    fn openapi30_to_json_schema(schema: &Value) -> Value {
        let Value::Object(map) = schema else {
            return schema.clone();
        };
        let nullable = map.get("nullable") == Some(&Value::Bool(true));
        let mut out = Map::new();
        for (key, value) in map {
            let converted = match key.as_str() {
                "nullable" => continue,
                "type" if nullable => match value {
                    Value::String(ty) => json!([ty, "null"]),
                    other => other.clone(),
                },
                "items" | "additionalProperties" => openapi30_to_json_schema(value),
                "properties" => Value::Object(
                    value
                        .as_object()
                        .expect("properties is an object")
                        .iter()
                        .map(|(name, s)| (name.clone(), openapi30_to_json_schema(s)))
                        .collect(),
                ),
                "oneOf" => Value::Array(
                    value
                        .as_array()
                        .expect("oneOf is an array")
                        .iter()
                        .map(openapi30_to_json_schema)
                        .collect(),
                ),
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        Value::Object(out)
    }

    /// Validates every instance against `schema` with format assertion on.
    fn assert_all_valid(
        label: &str,
        validator: &jsonschema::Validator,
        schema: &Value,
        instances: &[Value],
    ) {
        for instance in instances {
            let errors: Vec<String> = validator
                .iter_errors(instance)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{label}: {instance} does not validate against {schema}: {errors:?}"
            );
        }
    }

    /// Both dialects' schemas are well-formed and accept every instance:
    /// 3.0 converted to JSON Schema (checked as draft 4 and as 2020-12, the
    /// latter for `uuid`), 3.1 as JSON Schema 2020-12.
    fn assert_schemas_accept(schema30: &Value, schema31: &Value, instances: &[Value]) {
        let json30 = openapi30_to_json_schema(schema30);
        if let Err(e) = jsonschema::draft4::meta::validate(&json30) {
            panic!("3.0 schema {json30} is not draft 4: {e}");
        }
        if let Err(e) = jsonschema::draft202012::meta::validate(schema31) {
            panic!("3.1 schema {schema31} is not 2020-12: {e}");
        }
        let draft4 = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&json30)
            .expect("3.0 schema compiles as draft 4");
        assert_all_valid("3.0 as draft 4", &draft4, &json30, instances);
        let modern30 = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&json30)
            .expect("3.0 schema compiles as 2020-12");
        assert_all_valid("3.0 as 2020-12", &modern30, &json30, instances);
        let modern31 = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(schema31)
            .expect("3.1 schema compiles as 2020-12");
        assert_all_valid("3.1 as 2020-12", &modern31, schema31, instances);
    }

    /// Observes `samples`, checks both emitted schemas exactly (key order
    /// included) and that every sample validates against them.
    fn check(samples: &[Value], want30: Value, want31: Value) {
        let sketch = sketch_of(samples);
        let got30 = sketch.to_schema(Dialect::OpenApi30);
        let got31 = sketch.to_schema(Dialect::OpenApi31);
        assert_eq!(text(&got30), text(&want30), "3.0 schema");
        assert_eq!(text(&got31), text(&want31), "3.1 schema");
        assert_schemas_accept(&got30, &got31, samples);
    }

    /// Like [`check`] for schemas with no null, where the dialects agree.
    fn check_both(samples: &[Value], want: Value) {
        check(samples, want.clone(), want);
    }

    fn repeat(values: &[Value], times: usize) -> Vec<Value> {
        values
            .iter()
            .cycle()
            .take(values.len() * times)
            .cloned()
            .collect()
    }

    // ---- types -------------------------------------------------------------

    #[test]
    fn empty_sketch_is_the_empty_schema() {
        let sketch = Sketch::new();
        assert_eq!(sketch.samples(), 0);
        assert!(sketch.object_keys().is_empty());
        for dialect in DIALECTS {
            assert_eq!(text(&sketch.to_schema(dialect)), "{}");
        }
    }

    #[test]
    fn scalar_types() {
        check_both(&[json!(true), json!(false)], json!({"type": "boolean"}));
        check_both(
            &[json!(1), json!(-7), json!(u64::MAX)],
            json!({"type": "integer"}),
        );
        check_both(&[json!(1.5), json!(-0.25)], json!({"type": "number"}));
        check_both(&[json!("a"), json!("")], json!({"type": "string"}));
    }

    #[test]
    fn integers_and_floats_mix_to_number() {
        check_both(&[json!(1), json!(2.5), json!(3)], json!({"type": "number"}));
        // 1.0 arrives as a float: number, not integer.
        check_both(&[json!(1.0)], json!({"type": "number"}));
    }

    // ---- null --------------------------------------------------------------

    #[test]
    fn null_and_one_type_is_nullable() {
        check(
            &[json!(1), json!(null)],
            json!({"type": "integer", "nullable": true}),
            json!({"type": ["integer", "null"]}),
        );
        check(
            &[json!(null), json!({"a": "x"})],
            json!({"type": "object", "nullable": true, "properties": {"a": {"type": "string"}}, "required": ["a"]}),
            json!({"type": ["object", "null"], "properties": {"a": {"type": "string"}}, "required": ["a"]}),
        );
    }

    #[test]
    fn only_null() {
        check(
            &[json!(null), json!(null)],
            json!({}),
            json!({"type": "null"}),
        );
        check(
            &[json!({"gone": null})],
            json!({"type": "object", "properties": {"gone": {}}, "required": ["gone"]}),
            json!({"type": "object", "properties": {"gone": {"type": "null"}}, "required": ["gone"]}),
        );
    }

    // ---- conflicting types -------------------------------------------------

    #[test]
    fn conflicting_types_are_one_of_in_fixed_order() {
        check_both(
            &[
                json!({"x": 1}),
                json!("a"),
                json!([true]),
                json!(2.5),
                json!(false),
            ],
            json!({"oneOf": [
                {"type": "boolean"},
                {"type": "number"},
                {"type": "string"},
                {"type": "array", "items": {"type": "boolean"}},
                {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
            ]}),
        );
    }

    #[test]
    fn conflicting_types_with_null() {
        check(
            &[json!("a"), json!(null), json!(3)],
            json!({"oneOf": [{"type": "integer", "nullable": true}, {"type": "string"}]}),
            json!({"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}),
        );
    }

    // ---- objects -----------------------------------------------------------

    #[test]
    fn object_properties_and_required() {
        check_both(
            &[
                json!({"id": 1, "name": "a", "tags": ["x"]}),
                json!({"id": 2, "meta": {"deep": true}}),
            ],
            json!({
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "meta": {"type": "object", "properties": {"deep": {"type": "boolean"}}, "required": ["deep"]},
                    "name": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["id"]
            }),
        );
    }

    #[test]
    fn required_is_omitted_when_empty() {
        check_both(
            &[json!({"a": 1}), json!({"b": 2})],
            json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}),
        );
    }

    #[test]
    fn empty_objects_only() {
        check_both(&[json!({}), json!({})], json!({"type": "object"}));
        // An empty object makes every property optional.
        check_both(
            &[json!({}), json!({"a": 1})],
            json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
        );
    }

    #[test]
    fn object_keys_are_sorted_top_level_names() {
        let sketch = sketch_of(&[json!({"b": {"z": 1}, "a": 1}), json!({"c": 2}), json!("x")]);
        assert_eq!(sketch.object_keys(), ["a", "b", "c"]);
        assert!(sketch_of(&[json!([1])]).object_keys().is_empty());
    }

    // ---- arrays ------------------------------------------------------------

    #[test]
    fn array_items_merge_every_element() {
        check(
            &[json!([1, 2]), json!([]), json!([3, null])],
            json!({"type": "array", "items": {"type": "integer", "nullable": true}}),
            json!({"type": "array", "items": {"type": ["integer", "null"]}}),
        );
        check_both(
            &[json!([[1], []]), json!([[2.5]])],
            json!({"type": "array", "items": {"type": "array", "items": {"type": "number"}}}),
        );
        check_both(
            &[json!([{"a": 1}, {"a": 2, "b": "x"}])],
            json!({"type": "array", "items": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                "required": ["a"]
            }}),
        );
    }

    #[test]
    fn empty_arrays_only() {
        check_both(
            &[json!([]), json!([])],
            json!({"type": "array", "items": {}}),
        );
    }

    // ---- strings: formats --------------------------------------------------

    #[test]
    fn string_formats() {
        let cases: &[(&str, &[&str])] = &[
            (
                "date-time",
                &["2020-01-31T13:34:15Z", "2018-11-13T20:20:39.123+02:00"],
            ),
            ("date", &["2020-02-29", "1999-12-31"]),
            (
                "uuid",
                &[
                    "123e4567-e89b-12d3-a456-426614174000",
                    "00000000-0000-0000-0000-000000000000",
                ],
            ),
            ("email", &["ada@example.com", "a.b+c@mail.example.org"]),
            (
                "uri",
                &[
                    "https://pokeapi.co/api/v2/ability/150/",
                    "http://[::1]:8080/x?y=%20",
                ],
            ),
            ("ipv4", &["10.0.0.255", "127.0.0.1"]),
            ("ipv6", &["2001:db8::1", "::1"]),
        ];
        for (format, samples) in cases {
            let samples: Vec<Value> = samples.iter().map(|s| json!(s)).collect();
            check_both(&samples, json!({"type": "string", "format": format}));
        }
    }

    #[test]
    fn format_needs_every_sample() {
        check_both(
            &[json!("2020-01-31T13:34:15Z"), json!("2020-01-31")],
            json!({"type": "string"}),
        );
        check_both(
            &[json!("10.0.0.1"), json!("n/a")],
            json!({"type": "string"}),
        );
    }

    // ---- strings: enums ----------------------------------------------------

    #[test]
    fn enum_for_low_cardinality_strings() {
        let samples = repeat(&[json!("open"), json!("closed")], 5);
        check_both(
            &samples,
            json!({"type": "string", "enum": ["closed", "open"]}),
        );
    }

    #[test]
    fn enum_needs_ten_samples() {
        let mut samples = repeat(&[json!("a")], 5);
        samples.extend(repeat(&[json!("b")], 4));
        check_both(&samples, json!({"type": "string"}));
        samples.push(json!("b"));
        check_both(&samples, json!({"type": "string", "enum": ["a", "b"]}));
        // One value, however often, is not an enum.
        check_both(&repeat(&[json!("a")], 50), json!({"type": "string"}));
    }

    #[test]
    fn enum_needs_four_samples_per_value() {
        // 3 distinct in 11 samples: 3 * 4 > 11.
        let mut samples = repeat(&[json!("a"), json!("b"), json!("c")], 3);
        samples.extend([json!("a"), json!("b")]);
        check_both(&samples, json!({"type": "string"}));
        samples.push(json!("c"));
        check_both(&samples, json!({"type": "string", "enum": ["a", "b", "c"]}));
    }

    #[test]
    fn no_enum_while_a_value_was_seen_once() {
        // 12 samples, 3 values, 4 per value on average, but `c` only once:
        // the set is still growing.
        let mut samples = repeat(&[json!("a")], 6);
        samples.extend(repeat(&[json!("b")], 5));
        samples.push(json!("c"));
        check_both(&samples, json!({"type": "string"}));
        // Across a merge the counts add up: `c` seen twice is a closed set.
        let (left, right) = samples.split_at(6);
        let mut sketch = sketch_of(left);
        sketch.merge(sketch_of(right));
        sketch.merge(sketch_of(&[json!("c")]));
        assert_eq!(
            sketch.to_schema(Dialect::OpenApi31),
            json!({"type": "string", "enum": ["a", "b", "c"]})
        );
    }

    #[test]
    fn enum_at_most_eight_values() {
        let eight: Vec<Value> = (0..8).map(|i| json!(format!("v{i}"))).collect();
        let want: Vec<Value> = (0..8).map(|i| json!(format!("v{i}"))).collect();
        check_both(&repeat(&eight, 4), json!({"type": "string", "enum": want}));
        let nine: Vec<Value> = (0..9).map(|i| json!(format!("v{i}"))).collect();
        check_both(&repeat(&nine, 10), json!({"type": "string"}));
    }

    #[test]
    fn enum_tracking_stops_for_good() {
        // A 17th distinct value: tracking is off even though later samples
        // would make the first two values dominate.
        let mut samples: Vec<Value> = (0..17).map(|i| json!(format!("w{i}"))).collect();
        samples.extend(repeat(&[json!("a"), json!("b")], 100));
        check_both(&samples, json!({"type": "string"}));
        // A value longer than 64 bytes.
        let mut samples = vec![json!("x".repeat(65))];
        samples.extend(repeat(&[json!("a")], 50));
        check_both(&samples, json!({"type": "string"}));
        // 64 bytes is still fine.
        let mut samples = repeat(&[json!("x".repeat(64))], 5);
        samples.extend(repeat(&[json!("a")], 5));
        check_both(
            &samples,
            json!({"type": "string", "enum": ["a", "x".repeat(64)]}),
        );
    }

    #[test]
    fn no_enum_when_a_format_is_detected() {
        let samples = repeat(&[json!("2020-01-01"), json!("2020-01-02")], 10);
        check_both(&samples, json!({"type": "string", "format": "date"}));
    }

    #[test]
    fn nullable_enum_includes_null() {
        let mut samples = repeat(&[json!("on"), json!("off")], 5);
        samples.push(json!(null));
        check(
            &samples,
            json!({"type": "string", "nullable": true, "enum": ["off", "on", null]}),
            json!({"type": ["string", "null"], "enum": ["off", "on", null]}),
        );
        // Only the first oneOf branch is nullable, so null joins no other enum.
        let mut samples = repeat(&[json!("on"), json!("off")], 5);
        samples.extend([json!(null), json!(true)]);
        check(
            &samples,
            json!({"oneOf": [{"type": "boolean", "nullable": true}, {"type": "string", "enum": ["off", "on"]}]}),
            json!({"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["off", "on"]}, {"type": "null"}]}),
        );
    }

    // ---- id-keyed maps -----------------------------------------------------

    #[test]
    fn id_keyed_objects_are_maps() {
        check_both(
            &[json!({
                "42": {"name": "a"},
                "cus_8Fq2hjk3Lm": {"name": "b", "vip": true}
            })],
            json!({"type": "object", "additionalProperties": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "vip": {"type": "boolean"}},
                "required": ["name"]
            }}),
        );
        // One id key per sample, two across samples.
        check_both(
            &[json!({"2024-05-01": 3}), json!({"2024-05-02": 4})],
            json!({"type": "object", "additionalProperties": {"type": "integer"}}),
        );
    }

    #[test]
    fn a_single_id_key_or_a_word_key_keeps_properties() {
        check_both(
            &[json!({"42": 1}), json!({"42": 2})],
            json!({"type": "object", "properties": {"42": {"type": "integer"}}, "required": ["42"]}),
        );
        check_both(
            &[json!({"42": 1, "43": 2, "total": 3})],
            json!({"type": "object", "properties": {
                "42": {"type": "integer"},
                "43": {"type": "integer"},
                "total": {"type": "integer"}
            }, "required": ["42", "43", "total"]}),
        );
    }

    /// `count` distinct letters-only names (never identifiers), from `start`.
    fn word_keys(start: usize, count: usize) -> Vec<String> {
        (start..start + count)
            .map(|i| {
                let letter = |n: usize| char::from(b'a' + u8::try_from(n % 26).expect("< 26"));
                format!("k{}{}{}", letter(i / 676), letter(i / 26), letter(i))
            })
            .collect()
    }

    fn object_with(keys: &[String], value: Value) -> Value {
        Value::Object(keys.iter().map(|k| (k.clone(), value.clone())).collect())
    }

    #[test]
    fn many_property_names_switch_to_map_mode() {
        let keys = word_keys(0, MAP_MODE_MAX_PROPERTIES);
        assert!(keys.iter().all(|k| classify_id(k).is_none()));
        let at_limit = sketch_of(&[object_with(&keys, json!(1))]);
        assert_eq!(at_limit.object_keys().len(), MAP_MODE_MAX_PROPERTIES);
        assert!(
            at_limit
                .to_schema(Dialect::OpenApi31)
                .get("properties")
                .is_some()
        );

        let over = [
            object_with(&word_keys(0, 150), json!(1)),
            object_with(&word_keys(150, 51), json!("x")),
            // After the switch, values keep feeding the one value sketch.
            object_with(&word_keys(500, 3), json!(null)),
        ];
        check(
            &over,
            json!({"type": "object", "additionalProperties": {"oneOf": [
                {"type": "integer", "nullable": true}, {"type": "string"}
            ]}}),
            json!({"type": "object", "additionalProperties": {"oneOf": [
                {"type": "integer"}, {"type": "string"}, {"type": "null"}
            ]}}),
        );
        assert!(sketch_of(&over).object_keys().is_empty());
    }

    #[test]
    fn map_mode_merges_with_property_mode_both_ways() {
        let big = object_with(&word_keys(0, 250), json!(1));
        let small = json!({"name": "x", "kaaa": 2.5});
        let all = sketch_of(&[big.clone(), small.clone()]);
        for dialect in DIALECTS {
            let mut a = sketch_of(std::slice::from_ref(&big));
            a.merge(sketch_of(std::slice::from_ref(&small)));
            let mut b = sketch_of(std::slice::from_ref(&small));
            b.merge(sketch_of(std::slice::from_ref(&big)));
            let want = text(&all.to_schema(dialect));
            assert_eq!(text(&a.to_schema(dialect)), want);
            assert_eq!(text(&b.to_schema(dialect)), want);
        }
        // Two property-mode halves whose union passes the limit.
        let left = object_with(&word_keys(0, 120), json!(true));
        let right = object_with(&word_keys(100, 120), json!(true));
        let mut merged = sketch_of(std::slice::from_ref(&left));
        merged.merge(sketch_of(std::slice::from_ref(&right)));
        let want = json!({"type": "object", "additionalProperties": {"type": "boolean"}});
        assert_eq!(text(&merged.to_schema(Dialect::OpenApi30)), text(&want));
        assert_eq!(
            text(&sketch_of(&[left, right]).to_schema(Dialect::OpenApi30)),
            text(&want)
        );
    }

    /// Strings that look like URIs but are not RFC 3986 (user info with a
    /// space or a bad escape, brackets outside the host, a second `#`) must
    /// not get `format: uri`, or they would fail their own schema.
    #[test]
    fn uri_format_only_for_valid_uris() {
        for sample in [
            "http://a b@example.com/",
            "http://a%zz@example.com/",
            "http://example.com/?q=[1]",
            "http://example.com/a#b#c",
        ] {
            let samples = [json!(sample)];
            let sketch = sketch_of(&samples);
            assert_schemas_accept(
                &sketch.to_schema(Dialect::OpenApi30),
                &sketch.to_schema(Dialect::OpenApi31),
                &samples,
            );
        }
    }

    // ---- output stability --------------------------------------------------

    #[test]
    fn key_order_is_fixed() {
        let mut samples = repeat(
            &[
                json!({"s": "a", "z": [1], "b": {"k": 1}}),
                json!({"s": "b", "z": [1], "b": {"k": 1}}),
            ],
            5,
        );
        samples.push(json!({"s": null, "z": [], "b": {"k": 2}}));
        let sketch = sketch_of(&samples);
        assert_eq!(
            text(&sketch.to_schema(Dialect::OpenApi30)),
            r#"{"type":"object","properties":{"b":{"type":"object","properties":{"k":{"type":"integer"}},"required":["k"]},"s":{"type":"string","nullable":true,"enum":["a","b",null]},"z":{"type":"array","items":{"type":"integer"}}},"required":["b","s","z"]}"#
        );
        assert_eq!(
            text(&sketch.to_schema(Dialect::OpenApi30)),
            text(&sketch_of(&samples).to_schema(Dialect::OpenApi30))
        );
    }

    // ---- TextSketch --------------------------------------------------------

    /// The JSON value a text parameter stands for under `schema`'s type.
    fn text_instance(schema: &Value, text: &str) -> Value {
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") => json!(text.parse::<i64>().expect("integer text")),
            Some("number") => json!(text.parse::<f64>().expect("number text")),
            Some("boolean") => json!(text == "true"),
            _ => json!(text),
        }
    }

    fn check_text(samples: &[&str], want: Value) {
        let sketch = text_sketch_of(samples);
        assert_eq!(sketch.samples(), samples.len() as u64);
        let s30 = sketch.to_schema(Dialect::OpenApi30);
        let s31 = sketch.to_schema(Dialect::OpenApi31);
        assert_eq!(text(&s30), text(&want));
        assert_eq!(text(&s31), text(&want));
        let instances: Vec<Value> = samples.iter().map(|s| text_instance(&s30, s)).collect();
        assert_schemas_accept(&s30, &s31, &instances);
    }

    #[test]
    fn text_types() {
        assert_eq!(text(&TextSketch::new().to_schema(Dialect::OpenApi30)), "{}");
        check_text(&["1", "-20", "+3"], json!({"type": "integer"}));
        check_text(&["1", "2.5", "1e3"], json!({"type": "number"}));
        check_text(&["true", "false"], json!({"type": "boolean"}));
        check_text(&["true", "1"], json!({"type": "string"}));
        check_text(&["True"], json!({"type": "string"}));
        check_text(&["NaN", "inf", "1e400"], json!({"type": "string"}));
        check_text(&[""], json!({"type": "string"}));
        check_text(&["5", ""], json!({"type": "string"}));
        check_text(&["99999999999999999999"], json!({"type": "number"}));
    }

    #[test]
    fn text_formats_and_enums() {
        check_text(
            &["123e4567-e89b-12d3-a456-426614174000"],
            json!({"type": "string", "format": "uuid"}),
        );
        check_text(
            &["2020-01-31T13:34:15Z"],
            json!({"type": "string", "format": "date-time"}),
        );
        let samples: Vec<&str> = ["asc", "desc"].iter().copied().cycle().take(10).collect();
        check_text(&samples, json!({"type": "string", "enum": ["asc", "desc"]}));
        // Numbers are not enumerated.
        let samples: Vec<&str> = ["1", "2"].iter().copied().cycle().take(10).collect();
        check_text(&samples, json!({"type": "integer"}));
    }

    #[test]
    fn text_merge() {
        let mut a = text_sketch_of(&["1", "2"]);
        a.merge(text_sketch_of(&["x"]));
        assert_eq!(a.samples(), 3);
        assert_eq!(
            text(&a.to_schema(Dialect::OpenApi31)),
            text(&json!({"type": "string"}))
        );
    }

    // ---- property tests ----------------------------------------------------

    fn format_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
            "[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,4})?([Zz]|[+-](0[0-9]|1[0-4]):[0-5][0-9])",
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            "[a-z0-9][a-z0-9.+_-]{0,6}[a-z0-9]@[a-z]{1,6}(-[a-z]{1,3})?\\.[a-z]{2,4}",
            "https?://[a-z]{1,6}(\\.[a-z]{2,3})?(:[0-9]{1,4})?(/[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,6}){0,3}(\\?[a-z0-9=&%]{0,6})?",
            "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}",
            prop::sample::select(vec![
                "::1",
                "2001:db8::1",
                "fe80::1:2:3:4",
                "::ffff:10.0.0.1",
                "2001:0db8:0000:0000:0000:ff00:0042:8329",
            ])
            .prop_map(String::from),
        ]
    }

    fn json_string() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec!["open", "closed", "pending", "", "Not Found"]).prop_map(String::from),
            2 => format_string(),
            1 => "[a-z ]{0,10}",
            1 => prop::sample::select(vec!["42", "cus_8Fq2hjk3Lm", "2024-05-01"]).prop_map(String::from),
            1 => "[a-z]{60,70}",
            1 => any::<String>(),
        ]
    }

    fn json_key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "id",
            "name",
            "status",
            "owner",
            "type",
            "tags",
            "nullable",
            "42",
            "43",
            "u_123",
            "cus_8Fq2hjk3Lm",
            "2024-05-01",
        ])
        .prop_map(String::from)
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            2 => (-5i64..100).prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => prop::sample::select(vec![0.5, -2.25, 2.0, 1e300, -0.0]).prop_map(Value::from),
            1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            4 => json_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(json_key(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Records shaped like API responses, so that required, nullable and
    /// enum rules fire.
    fn record() -> impl Strategy<Value = Value> {
        (
            prop::option::weighted(
                0.9,
                prop::sample::select(vec!["active", "suspended", "closed"]),
            ),
            prop::option::of(0u32..1000),
            prop::sample::select(vec!["User", "Organization"]),
            format_string(),
            prop::collection::vec(prop::sample::select(vec!["a", "b"]), 0..3),
        )
            .prop_map(|(status, id, kind, at, tags)| {
                let mut record =
                    json!({"status": status, "owner": {"type": kind}, "at": at, "tags": tags});
                if let Some(id) = id {
                    record["id"] = json!(id);
                }
                record
            })
    }

    /// Every sample validates and merging two halves (either way round)
    /// equals observing everything.
    fn check_sketch_properties(samples: &[Value], split: usize) {
        let all = sketch_of(samples);
        assert_eq!(all.samples(), samples.len() as u64);
        let (left, right) = samples.split_at(split);
        let mut merged = sketch_of(left);
        merged.merge(sketch_of(right));
        let mut reversed = sketch_of(right);
        reversed.merge(sketch_of(left));
        for dialect in DIALECTS {
            let want = text(&all.to_schema(dialect));
            assert_eq!(
                text(&merged.to_schema(dialect)),
                want,
                "left+right, {dialect:?}"
            );
            assert_eq!(
                text(&reversed.to_schema(dialect)),
                want,
                "right+left, {dialect:?}"
            );
        }
        assert_eq!(merged.object_keys(), all.object_keys());
        assert_schemas_accept(
            &all.to_schema(Dialect::OpenApi30),
            &all.to_schema(Dialect::OpenApi31),
            samples,
        );
    }

    // 256 cases each by default; `PROPTEST_CASES` raises it.
    proptest! {
        #[test]
        fn arbitrary_json_validates_and_merges(
            samples in prop::collection::vec(json_value(), 1..24),
            split in any::<prop::sample::Index>(),
        ) {
            check_sketch_properties(&samples, split.index(samples.len() + 1));
        }

        #[test]
        fn streaming_observation_equals_observing_parsed_values(
            samples in prop::collection::vec(prop_oneof![json_value(), record()], 1..24),
        ) {
            let mut parsed = Sketch::new();
            let mut streamed = Sketch::new();
            for sample in &samples {
                parsed.observe(sample);
                let bytes = serde_json::to_vec(sample).expect("serialises");
                streamed.observe_json(&bytes).expect("valid JSON");
            }
            for dialect in [Dialect::OpenApi30, Dialect::OpenApi31] {
                prop_assert_eq!(text(&streamed.to_schema(dialect)), text(&parsed.to_schema(dialect)));
            }
        }

        #[test]
        fn records_validate_and_merge(
            samples in prop::collection::vec(record(), 1..40),
            split in any::<prop::sample::Index>(),
        ) {
            check_sketch_properties(&samples, split.index(samples.len() + 1));
        }

        #[test]
        fn texts_validate_and_merge(
            samples in prop::collection::vec(prop_oneof![
                "-?[0-9]{1,5}",
                "-?[0-9]{1,3}\\.[0-9]{1,3}",
                prop::sample::select(vec!["true", "false", "1e5", "inf", ""]).prop_map(String::from),
                json_string(),
            ], 1..24),
            split in any::<prop::sample::Index>(),
        ) {
            let refs: Vec<&str> = samples.iter().map(String::as_str).collect();
            let all = text_sketch_of(&refs);
            let (left, right) = refs.split_at(split.index(refs.len() + 1));
            let mut merged = text_sketch_of(left);
            merged.merge(text_sketch_of(right));
            let s30 = all.to_schema(Dialect::OpenApi30);
            let s31 = all.to_schema(Dialect::OpenApi31);
            prop_assert_eq!(text(&merged.to_schema(Dialect::OpenApi30)), text(&s30));
            prop_assert_eq!(text(&merged.to_schema(Dialect::OpenApi31)), text(&s31));
            let instances: Vec<Value> = refs.iter().map(|s| text_instance(&s30, s)).collect();
            assert_schemas_accept(&s30, &s31, &instances);
        }
    }

    // ---- real traffic ------------------------------------------------------

    /// Recorded GitHub traffic, from HMT 0.3.2's fixtures (fixtures/hmt).
    fn github_fixture() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/hmt/hmt/resources/github.jsonl"
        );
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
    }

    #[test]
    fn github_fixture_bodies_validate() {
        let mut bodies = Vec::new();
        for line in github_fixture().lines().filter(|l| !l.trim().is_empty()) {
            let exchange: Value = serde_json::from_str(line).expect("fixture line is JSON");
            if exchange["response"]["statusCode"] != json!(200) {
                continue;
            }
            let body = exchange["response"]["body"]
                .as_str()
                .expect("body is a string");
            let body: Value = serde_json::from_str(body).expect("body is JSON");
            assert!(body.is_array(), "200 bodies are arrays");
            bodies.push(body);
        }
        assert_eq!(bodies.len(), 87);

        let sketch = sketch_of(&bodies);
        let s30 = sketch.to_schema(Dialect::OpenApi30);
        let s31 = sketch.to_schema(Dialect::OpenApi31);
        assert_schemas_accept(&s30, &s31, &bodies);

        // 267 repositories, each owned by a "User" or an "Organization".
        let item = &s30["items"];
        assert_eq!(item["type"], "object");
        assert_eq!(
            text(&item["properties"]["owner"]["properties"]["type"]),
            text(&json!({"type": "string", "enum": ["Organization", "User"]}))
        );
        assert!(
            item["properties"]["owner"]["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("type")))
        );
        assert_eq!(
            text(&item["properties"]["id"]),
            text(&json!({"type": "integer"}))
        );
        assert_eq!(
            text(&s31["items"]["properties"]["owner"]["properties"]["type"]),
            text(&item["properties"]["owner"]["properties"]["type"])
        );

        // Merging per-body sketches gives the same schema.
        let mut merged = Sketch::new();
        for body in &bodies {
            merged.merge(sketch_of(std::slice::from_ref(body)));
        }
        assert_eq!(text(&merged.to_schema(Dialect::OpenApi30)), text(&s30));
        assert_eq!(text(&merged.to_schema(Dialect::OpenApi31)), text(&s31));
    }
}
