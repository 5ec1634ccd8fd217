//! Made-up JSON values that are valid against a schema, for mocking responses nothing was
//! recorded for (and request bodies for tests).
//!
//! The generator walks a schema once per value: `$ref`s and `allOf`s are first *flattened* into
//! one set of constraints (a `Flat`), with one branch of each `oneOf`/`anyOf` picked and merged
//! in, and a value is then built from those constraints. Flattening before building is what
//! lets `allOf: [{$ref: Pet}, {required: [...]}]` and friends produce one coherent object
//! instead of a guess per member.
//!
//! What flattening cannot prove (a `oneOf` value must match *exactly one* branch, `not`, a
//! schema's `example` actually being valid, a made-up email fitting a `maxLength`) is checked
//! afterwards by a small validator in this module that reads both OpenAPI 3.0 (`nullable`,
//! boolean exclusives) and 3.1 schemas, so the generator works on documents that were not
//! [normalised](crate::dialect) first. When a check fails, the generator retries a few times
//! and otherwise falls back to plain values; it never panics and always terminates: recursion
//! becomes *minimal* (only required properties, fewest items, `null` where allowed, the
//! cheapest `anyOf` branch) past a depth or a size budget, and stops outright at a hard depth.
//!
//! Static and dynamic data: a [`Generator`] is dynamic by default (a schema's `example`,
//! `examples` and `default` are used for about half of the values, other values made up); a
//! static one ([`Generator::dynamic`]`(false)`, what the mock serves without
//! `Prefer: dynamic=true`) uses the first valid one every time, so that the same seed always
//! gives the documented value where there is one.
//!
//! Bounds: strings are at most [`MAX_SIZE`] characters, arrays at most [`MAX_SIZE`] items,
//! objects at most [`MAX_SIZE`] properties, and a `pattern`'s bounded repetitions
//! (`a{1,1000000}`) give at most [`PATTERN_REPEAT`] more repetitions than their minimum. A
//! schema that demands more (`minLength: 1e9`, `pattern: a{1000000000}`, `minItems` past the
//! value budget) is not satisfied: [`Generator::try_generate`] says where and why, and the
//! mock answers 500 instead of sending a value that breaks the schema.
//!
//! Values are realistic where a property's name says what it holds (`email`, `city`,
//! `created_at`, `price`, ...), using the `fake` crate, but only when the result still
//! satisfies the schema. The output only depends on the schema and the RNG: the same seed gives
//! the same bytes (object keys keep schema order).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fake::Fake;
use fake::faker::{address::en as address, company::en as company, currency::en as currency};
use fake::faker::{internet::en as internet, lorem::en as lorem, name::en as name};
use fake::faker::{job::en as job, phone_number::en as phone};
use hmt_types::format::{
    is_date, is_date_time, is_email, is_hostname, is_ipv4, is_ipv6, is_json_pointer, is_time,
    is_uri, is_uri_reference, is_uuid,
};
use rand::distr::Distribution;
use rand::{Rng, RngExt};
use regex_syntax::hir::{self, Hir, HirKind};
use serde_json::{Map, Number, Value};

/// Below this nesting depth values are generated in full; from it on, minimally.
const SOFT_DEPTH: usize = 4;
/// No value is generated below this depth, whatever the schema requires.
const HARD_DEPTH: usize = 24;
/// After this many generated values, the rest of the value is generated minimally, so that
/// wide schemas with many nested objects (Stripe's) stay a readable size.
const NODE_BUDGET: usize = 300;
/// After this many generated values, nothing more is generated (only placeholders): schemas
/// can demand sizes that multiply (`minItems: 1000` four levels deep).
const MAX_NODES: usize = 20_000;
/// How many schema nodes one value's flattening may visit, and how many a single validity
/// check may: `allOf: [{$ref: A}, {$ref: A}]` inside `A` doubles with every step.
const MAX_VISITS: usize = 5_000;
/// How many `$ref`s may be followed in a row (a `$ref` to itself would otherwise loop).
const MAX_REF_CHAIN: usize = 32;
/// How many times a value is regenerated when it matches a `not` or a second `oneOf` branch.
const ATTEMPTS: usize = 6;
/// The validator does not look deeper than this (it then assumes valid).
const MAX_CHECK_DEPTH: usize = 48;
/// Upper bound for the sizes a schema can demand: string length in characters, array items
/// and object properties (`minItems: 1e9` is not satisfiable here rather than exhausting
/// memory).
pub const MAX_SIZE: u64 = 10_000;
/// Extra repetitions `x*` / `x+` / `x{2,1000000}` may produce beyond their minimum in
/// strings made from a `pattern`.
pub const PATTERN_REPEAT: u32 = 8;

/// Which side of an exchange values are generated for: it decides whether `readOnly` or
/// `writeOnly` properties are left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Response bodies: `writeOnly` properties (passwords, ...) are omitted, even when
    /// required, as OpenAPI says `required` then only applies to requests.
    #[default]
    Response,
    /// Request bodies: `readOnly` properties (ids, timestamps, ...) are omitted, even when
    /// required.
    Request,
}

/// Generates values valid against schemas of one OpenAPI document.
///
/// `root` is the whole document, so that local references such as
/// `#/components/schemas/Pet` resolve. It may be OpenAPI 3.0 or 3.1.
///
/// ```
/// use hmt_mock::generate::Generator;
/// use rand::SeedableRng;
/// use serde_json::json;
///
/// let doc = json!({"components": {"schemas": {"Pet": {
///     "type": "object",
///     "required": ["id", "name"],
///     "properties": {"id": {"type": "integer", "minimum": 1}, "name": {"type": "string"}}
/// }}}});
/// let generator = Generator::new(&doc);
/// let schema = json!({"$ref": "#/components/schemas/Pet"});
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let pet = generator.generate(&schema, &mut rng);
/// assert!(pet["id"].as_i64().is_some_and(|id| id >= 1));
/// assert!(pet["name"].is_string());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Generator<'a> {
    root: &'a Value,
    direction: Direction,
    dynamic: bool,
}

/// Why no valid value was generated: a schema demands more than the bounds allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsatisfied {
    /// Where in the value (a JSON pointer, `""` for the value itself).
    pub at: String,
    /// What the schema demands, and the bound it breaks.
    pub reason: String,
}

impl std::fmt::Display for Unsatisfied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "at {}: {}", self.at, self.reason)
        }
    }
}

impl<'a> Generator<'a> {
    /// A generator of response values for schemas of the document `root`.
    pub fn new(root: &'a Value) -> Self {
        Generator {
            root,
            direction: Direction::Response,
            dynamic: true,
        }
    }

    /// The same generator, dynamic (schema examples used for some values only, the default)
    /// or static (the first valid `example`/`examples`/`default` used every time).
    ///
    /// ```
    /// use hmt_mock::generate::Generator;
    /// use rand::SeedableRng;
    /// use serde_json::json;
    ///
    /// let doc = json!({});
    /// let schema = json!({"type": "object", "required": ["name"],
    ///     "properties": {"name": {"type": "string", "example": "Rex"}}});
    /// let generator = Generator::new(&doc).dynamic(false);
    /// for seed in 0..20 {
    ///     let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    ///     assert_eq!(generator.generate(&schema, &mut rng), json!({"name": "Rex"}));
    /// }
    /// ```
    #[must_use]
    pub fn dynamic(self, dynamic: bool) -> Self {
        Generator { dynamic, ..self }
    }

    /// The same generator, for the given side of the exchange.
    ///
    /// ```
    /// use hmt_mock::generate::{Direction, Generator};
    /// use rand::SeedableRng;
    /// use serde_json::json;
    ///
    /// let doc = json!({});
    /// let schema = json!({"type": "object", "required": ["id", "password"], "properties": {
    ///     "id": {"type": "integer", "readOnly": true},
    ///     "password": {"type": "string", "writeOnly": true}
    /// }});
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let request = Generator::new(&doc).direction(Direction::Request).generate(&schema, &mut rng);
    /// assert!(request.get("id").is_none() && request["password"].is_string());
    /// ```
    #[must_use]
    pub fn direction(self, direction: Direction) -> Self {
        Generator { direction, ..self }
    }

    /// A value valid against `schema` (a Schema Object of the document, or any schema whose
    /// `$ref`s point into it), or the closest this generator gets when the schema cannot be
    /// satisfied (contradicting constraints, unresolvable references).
    ///
    /// Deterministic: the same schema and the same RNG state give the same value.
    pub fn generate<R: Rng + ?Sized>(&self, schema: &Value, rng: &mut R) -> Value {
        let mut run = Run::new(self.root, self.direction, rng);
        run.dynamic = self.dynamic;
        run.node(&[schema], None, 0)
    }

    /// A value valid against `schema` as [`generate`](Self::generate) makes it, or where and
    /// why the schema demands more than the bounds ([`MAX_SIZE`], [`PATTERN_REPEAT`]) allow.
    ///
    /// ```
    /// use hmt_mock::generate::Generator;
    /// use rand::SeedableRng;
    /// use serde_json::json;
    ///
    /// let doc = json!({});
    /// let schema = json!({"type": "object", "required": ["code"],
    ///     "properties": {"code": {"type": "string", "pattern": "^a{1000000000}$"}}});
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    /// let error = Generator::new(&doc).try_generate(&schema, &mut rng).unwrap_err();
    /// assert_eq!(error.at, "/code");
    /// assert!(error.reason.contains("at least 1000000000 characters"), "{error}");
    /// ```
    pub fn try_generate<R: Rng + ?Sized>(
        &self,
        schema: &Value,
        rng: &mut R,
    ) -> Result<Value, Unsatisfied> {
        let mut run = Run::new(self.root, self.direction, rng);
        run.dynamic = self.dynamic;
        let value = run.node(&[schema], None, 0);
        match run.failure {
            Some(failure) => Err(failure),
            None => Ok(value),
        }
    }

    /// Whether `value` is valid against `schema`, as far as this module's small validator
    /// knows; the generator uses it to check candidates (examples, made-up names).
    ///
    /// It understands both OpenAPI 3.0 and 3.1 schemas. Formats it cannot check are
    /// treated as invalid when JSON Schema defines them and as valid otherwise.
    ///
    /// ```
    /// use hmt_mock::generate::Generator;
    /// use serde_json::json;
    ///
    /// let doc = json!({});
    /// let generator = Generator::new(&doc);
    /// let schema = json!({"type": "string", "nullable": true, "maxLength": 3});
    /// assert!(generator.is_valid(&schema, &json!(null)));
    /// assert!(!generator.is_valid(&schema, &json!("four")));
    /// ```
    pub fn is_valid(&self, schema: &Value, value: &Value) -> bool {
        let mut rng = rand::rngs::StdRng::from_seed([0; 32]);
        let mut run = Run::new(self.root, self.direction, &mut rng);
        run.check(schema, value)
    }
}

use rand::SeedableRng as _;

/// The JSON types, as the `type` keyword names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Ty {
    fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "string" => Ty::String,
            "array" => Ty::Array,
            "object" => Ty::Object,
            _ => return None,
        })
    }

    fn of(value: &Value) -> Ty {
        match value {
            Value::Null => Ty::Null,
            Value::Bool(_) => Ty::Boolean,
            Value::Number(n) if is_integer(n) => Ty::Integer,
            Value::Number(_) => Ty::Number,
            Value::String(_) => Ty::String,
            Value::Array(_) => Ty::Array,
            Value::Object(_) => Ty::Object,
        }
    }

    /// Whether a value of type `self` is accepted by `allowed`.
    fn accepted_by(self, allowed: Ty) -> bool {
        self == allowed || (self == Ty::Integer && allowed == Ty::Number)
    }
}

/// The types a schema node's `type` (and 3.0 `nullable`) allow, or `None` when unconstrained.
fn node_types(map: &Map<String, Value>) -> Option<Vec<Ty>> {
    let mut types: Vec<Ty> = match map.get("type")? {
        Value::String(name) => Ty::parse(name).into_iter().collect(),
        Value::Array(names) => names
            .iter()
            .filter_map(|name| name.as_str().and_then(Ty::parse))
            .collect(),
        _ => return None,
    };
    if is_nullable(map) && !types.contains(&Ty::Null) {
        types.push(Ty::Null);
    }
    Some(types)
}

fn is_nullable(map: &Map<String, Value>) -> bool {
    map.get("nullable") == Some(&Value::Bool(true))
}

fn intersect_types(old: &[Ty], new: &[Ty]) -> Vec<Ty> {
    let mut out = Vec::new();
    for &a in old {
        for &b in new {
            let both = if a.accepted_by(b) {
                Some(a)
            } else if b.accepted_by(a) {
                Some(b)
            } else {
                None
            };
            if let Some(t) = both.filter(|t| !out.contains(t)) {
                out.push(t);
            }
        }
    }
    out
}

/// A numeric bound: the limit and whether it is exclusive.
type Bound = (f64, bool);

/// The constraints of a schema with its `$ref`s, `allOf`s and chosen `oneOf`/`anyOf` branches
/// merged in. References point into the schemas (`'s`), nothing is copied.
#[derive(Default)]
struct Flat<'s> {
    /// A `false` schema was met: nothing is valid.
    impossible: bool,
    types: Option<Vec<Ty>>,
    /// 3.0 `nullable: true` on a node without `type`.
    nullable: bool,
    enumeration: Option<Vec<&'s Value>>,
    constant: Option<&'s Value>,
    lower: Option<Bound>,
    upper: Option<Bound>,
    multiple_of: Vec<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    patterns: Vec<&'s str>,
    format: Option<&'s str>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    items: Vec<&'s Value>,
    no_more_items: bool,
    prefix_items: Option<&'s [Value]>,
    contains: Option<&'s Value>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    required: Vec<&'s str>,
    properties: Vec<(&'s str, Vec<&'s Value>)>,
    additional: Vec<&'s Value>,
    /// The only property names allowed, from `additionalProperties: false` members.
    allowed: Option<Vec<&'s str>>,
    pattern_properties: Vec<(&'s str, &'s Value)>,
    /// `example`, `examples` and `default` values, to be used when valid.
    examples: Vec<&'s Value>,
    /// Schemas the value must not match: `not`, and the other branches of a `oneOf`.
    must_not: Vec<&'s Value>,
    /// Property values fixed by a discriminator.
    forced: Vec<(&'s str, String)>,
    /// The first `$ref` followed, which names the schema for discriminators.
    origin: Option<&'s str>,
    /// The `oneOf`/`anyOf` branches picked: (address of the branch list, index).
    picks: Vec<(usize, usize)>,
}

fn tighter_lower(old: Option<Bound>, new: Bound) -> Option<Bound> {
    match old {
        Some(o) if o.0 > new.0 || (o.0 == new.0 && o.1) => Some(o),
        _ => Some(new),
    }
}

fn tighter_upper(old: Option<Bound>, new: Bound) -> Option<Bound> {
    match old {
        Some(o) if o.0 < new.0 || (o.0 == new.0 && o.1) => Some(o),
        _ => Some(new),
    }
}

fn max_opt(old: Option<u64>, new: Option<u64>) -> Option<u64> {
    match (old, new) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_opt(old: Option<u64>, new: Option<u64>) -> Option<u64> {
    match (old, new) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn as_size(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f.ceil() as u64)
    })
}

/// One value generation (or validation): the document, the RNG and caches.
struct Run<'s, 'r, R: ?Sized> {
    root: &'s Value,
    direction: Direction,
    rng: &'r mut R,
    /// Values generated so far, against [`NODE_BUDGET`].
    nodes: usize,
    /// Compiled `pattern`s for checking, `None` when the pattern does not compile.
    matchers: HashMap<String, Option<regex::Regex>>,
    /// Compiled `pattern`s for generating.
    samplers: HashMap<String, Option<rand_regex::Regex>>,
    /// Branches that gave an invalid value in an earlier attempt, as in [`Flat::picks`].
    avoid: Vec<(usize, usize)>,
    /// Schema nodes visited by the current flattening or check, against [`MAX_VISITS`].
    visits: usize,
    /// Whether schema examples are used for some values only (else always, when valid).
    dynamic: bool,
    /// Where generation is, in the value (JSON pointer tokens).
    path: Vec<String>,
    /// The first bound a schema demanded more than.
    failure: Option<Unsatisfied>,
}

impl<'s, 'r, R: Rng + ?Sized> Run<'s, 'r, R> {
    fn new(root: &'s Value, direction: Direction, rng: &'r mut R) -> Self {
        Run {
            root,
            direction,
            rng,
            nodes: 0,
            matchers: HashMap::new(),
            samplers: HashMap::new(),
            avoid: Vec::new(),
            visits: 0,
            dynamic: true,
            path: Vec::new(),
            failure: None,
        }
    }

    /// Records that the schema demands more than a bound allows, here (the first one only).
    fn unsatisfied(&mut self, reason: String) {
        if self.failure.is_none() {
            let at = self
                .path
                .iter()
                .map(String::as_str)
                .map(|token| format!("/{}", hmt_types::pointer::escape(token)))
                .collect();
            self.failure = Some(Unsatisfied { at, reason });
        }
    }

    // ---------------------------------------------------------------------------------------
    // References

    /// The value a local reference (`#/a/b~1c`, percent-encoded or not) points to.
    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        hmt_types::pointer::resolve_ref(self.root, reference)
    }

    /// Follows `$ref`s (not their siblings) to the node that holds the keywords.
    fn deref(&self, mut schema: &'s Value) -> &'s Value {
        for _ in 0..MAX_REF_CHAIN {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => match self.resolve(reference) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    /// Whether a boolean annotation (`readOnly`, `writeOnly`) is set on a schema, its `$ref`
    /// target or an `allOf` member.
    fn flag(&self, schema: &'s Value, keyword: &str, depth: usize) -> bool {
        let Value::Object(map) = schema else {
            return false;
        };
        if depth > 8 {
            return false;
        }
        map.iter().any(|(key, value)| match key.as_str() {
            "$ref" => value
                .as_str()
                .and_then(|r| self.resolve(r))
                .is_some_and(|target| self.flag(target, keyword, depth + 1)),
            "allOf" => value
                .as_array()
                .is_some_and(|all| all.iter().any(|s| self.flag(s, keyword, depth + 1))),
            key => key == keyword && value == &Value::Bool(true),
        })
    }

    // ---------------------------------------------------------------------------------------
    // Flattening

    fn flatten(&mut self, schema: &'s Value, flat: &mut Flat<'s>, minimal: bool, chain: usize) {
        let map = match schema {
            Value::Bool(false) => {
                flat.impossible = true;
                return;
            }
            Value::Object(map) => map,
            _ => return,
        };
        self.visits += 1;
        if chain > MAX_REF_CHAIN || self.visits > MAX_VISITS {
            return;
        }
        // One pass over the keywords present: real schemas hold a handful of the ~40 keywords
        // read here, and looking each one up would dominate generation time.
        let nullable = is_nullable(map);
        let mut discriminator = None;
        let mut branch_lists: Vec<(bool, &'s [Value])> = Vec::new();
        let mut members: Option<&'s [Value]> = None;
        for (keyword, value) in map {
            match keyword.as_str() {
                "$ref" => {
                    if let Some(reference) = value.as_str() {
                        flat.origin.get_or_insert(reference);
                        if let Some(target) = self.resolve(reference) {
                            self.flatten(target, flat, minimal, chain + 1);
                        }
                    }
                }
                "type" => {
                    if let Some(types) = node_types(map) {
                        flat.types = Some(match &flat.types {
                            Some(old) => {
                                let both = intersect_types(old, &types);
                                // Contradicting types: keep the newer, more specific one.
                                if both.is_empty() { types } else { both }
                            }
                            None => types,
                        });
                    }
                }
                "enum" => {
                    if let Value::Array(values) = value {
                        self.flatten_enum(values, nullable, flat);
                    }
                }
                "const" => {
                    flat.constant.get_or_insert(value);
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    flatten_bound(map, keyword, value, flat);
                }
                "multipleOf" => {
                    if let Some(m) = value.as_f64().filter(|m| *m > 0.0 && m.is_finite()) {
                        flat.multiple_of.push(m);
                    }
                }
                "minLength" => flat.min_length = max_opt(flat.min_length, as_size(Some(value))),
                "maxLength" => flat.max_length = min_opt(flat.max_length, as_size(Some(value))),
                "pattern" => {
                    if let Some(pattern) = value.as_str() {
                        flat.patterns.push(pattern);
                    }
                }
                "format" => {
                    if let Some(format) = value.as_str() {
                        flat.format.get_or_insert(format);
                    }
                }
                "minItems" => flat.min_items = max_opt(flat.min_items, as_size(Some(value))),
                "maxItems" => flat.max_items = min_opt(flat.max_items, as_size(Some(value))),
                "uniqueItems" => flat.unique_items |= value == &Value::Bool(true),
                "prefixItems" => {
                    if let Value::Array(prefix) = value {
                        flat.prefix_items.get_or_insert(prefix);
                    }
                }
                "items" => match value {
                    Value::Bool(false) => flat.no_more_items = true,
                    // Draft 4 style tuples.
                    Value::Array(prefix) => {
                        flat.prefix_items.get_or_insert(prefix);
                    }
                    items => flat.items.push(items),
                },
                "contains" => {
                    flat.contains.get_or_insert(value);
                }
                "minProperties" => {
                    flat.min_properties = max_opt(flat.min_properties, as_size(Some(value)));
                }
                "maxProperties" => {
                    flat.max_properties = min_opt(flat.max_properties, as_size(Some(value)));
                }
                "required" => {
                    for name in value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !flat.required.contains(&name) {
                            flat.required.push(name);
                        }
                    }
                }
                "properties" => {
                    for (name, schema) in value.as_object().into_iter().flatten() {
                        match flat.properties.iter_mut().find(|(n, _)| n == name) {
                            Some((_, schemas)) => schemas.push(schema),
                            None => flat.properties.push((name.as_str(), vec![schema])),
                        }
                    }
                }
                "patternProperties" => {
                    for (pattern, schema) in value.as_object().into_iter().flatten() {
                        flat.pattern_properties.push((pattern.as_str(), schema));
                    }
                }
                "additionalProperties" => match value {
                    Value::Bool(false) => {
                        let own: Vec<&'s str> = map
                            .get("properties")
                            .and_then(Value::as_object)
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        flat.allowed = Some(match flat.allowed.take() {
                            Some(old) => old.into_iter().filter(|n| own.contains(n)).collect(),
                            None => own,
                        });
                    }
                    Value::Object(_) => flat.additional.push(value),
                    _ => {}
                },
                "example" | "default" => flat.examples.push(value),
                "examples" => {
                    if let Value::Array(examples) = value {
                        flat.examples.extend(examples);
                    }
                }
                "not" => flat.must_not.push(value),
                "allOf" => members = value.as_array().map(Vec::as_slice),
                "oneOf" | "anyOf" => {
                    if let Value::Array(branches) = value {
                        branch_lists.push((keyword == "oneOf", branches));
                    }
                }
                "discriminator" => discriminator = Some(value),
                _ => {}
            }
        }
        if nullable && !map.contains_key("type") {
            flat.nullable = true;
        }
        for member in members.unwrap_or(&[]) {
            self.flatten(member, flat, minimal, chain + 1);
        }
        let branched = !branch_lists.is_empty();
        for (one_of, branches) in branch_lists {
            let Some(index) = self.pick_branch(branches, minimal) else {
                flat.impossible = true;
                continue;
            };
            flat.picks.push((branches.as_ptr() as usize, index));
            let branch = &branches[index];
            if one_of {
                flat.must_not.extend(
                    branches
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != index)
                        .map(|(_, other)| other),
                );
            }
            if let Some(discriminator) = discriminator {
                let reference = branch.get("$ref").and_then(Value::as_str);
                self.discriminate(discriminator, reference, flat);
            }
            self.flatten(branch, flat, minimal, chain + 1);
        }
        if let (Some(discriminator), false) = (discriminator, branched) {
            // A base schema (`Pet`) reached from a subschema (`allOf: [{$ref: Pet}]`): the
            // discriminator names the schema generation started from.
            let origin = flat.origin;
            self.discriminate(discriminator, origin, flat);
        }
    }

    fn flatten_enum(&mut self, values: &'s [Value], nullable: bool, flat: &mut Flat<'s>) {
        let mut values: Vec<&'s Value> = values.iter().collect();
        if nullable && !values.iter().any(|v| v.is_null()) {
            values.push(&Value::Null);
        }
        flat.enumeration = Some(match flat.enumeration.take() {
            Some(old) => {
                let both: Vec<&'s Value> = old
                    .iter()
                    .copied()
                    .filter(|a| values.iter().any(|b| json_eq(a, b)))
                    .collect();
                if both.is_empty() { values } else { both }
            }
            None => values,
        });
    }

    /// Records the property value a discriminator demands for the branch named by `reference`.
    fn discriminate(
        &self,
        discriminator: &'s Value,
        reference: Option<&'s str>,
        flat: &mut Flat<'s>,
    ) {
        let (Some(property), Some(reference)) = (
            discriminator.get("propertyName").and_then(Value::as_str),
            reference,
        ) else {
            return;
        };
        let mapped = discriminator
            .get("mapping")
            .and_then(Value::as_object)
            .and_then(|mapping| {
                mapping.iter().find_map(|(key, target)| {
                    let target = target.as_str()?;
                    let same = target == reference
                        || (!target.contains('/') && reference.ends_with(&format!("/{target}")));
                    same.then(|| key.clone())
                })
            });
        let value = match mapped {
            Some(key) => key,
            None => match reference.rsplit('/').next() {
                Some(name) if !name.is_empty() => hmt_types::percent_decode(name).into_owned(),
                _ => return,
            },
        };
        if !flat.forced.iter().any(|(p, _)| *p == property) {
            flat.forced.push((property, value));
        }
    }

    /// Picks a `oneOf`/`anyOf` branch: any at random, or the cheapest when minimal.
    fn pick_branch(&mut self, branches: &'s [Value], minimal: bool) -> Option<usize> {
        let mut viable: Vec<usize> = (0..branches.len())
            .filter(|&i| branches[i] != Value::Bool(false))
            .collect();
        if viable.is_empty() {
            return None;
        }
        let address = branches.as_ptr() as usize;
        let fresh: Vec<usize> = viable
            .iter()
            .copied()
            .filter(|i| !self.avoid.contains(&(address, *i)))
            .collect();
        if !fresh.is_empty() {
            viable = fresh;
        }
        if minimal {
            return viable
                .iter()
                .copied()
                .min_by_key(|&i| self.cost(&branches[i]));
        }
        Some(viable[self.rng.random_range(0..viable.len())])
    }

    /// How big a value of this schema tends to be, to prefer small branches when deep.
    fn cost(&self, schema: &'s Value) -> u8 {
        let target = self.deref(schema);
        let Value::Object(map) = target else {
            return 1;
        };
        if map.contains_key("const") || map.contains_key("enum") {
            return 1;
        }
        match node_types(map) {
            Some(types) if types.contains(&Ty::Null) => 0,
            Some(types) if types.contains(&Ty::Array) => 2,
            Some(types) if types.contains(&Ty::Object) => 3,
            Some(types) if !types.is_empty() => 1,
            _ => 3,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Generation

    /// A value valid against all of `schemas`, for a property called `name` if any.
    fn node(&mut self, schemas: &[&'s Value], name: Option<&str>, depth: usize) -> Value {
        self.nodes += 1;
        let minimal = depth >= SOFT_DEPTH || self.nodes > NODE_BUDGET;
        let mut last = Value::Null;
        let avoided = self.avoid.len();
        for _ in 0..ATTEMPTS {
            let mut flat = Flat::default();
            self.visits = 0;
            for schema in schemas {
                self.flatten(schema, &mut flat, minimal, 0);
            }
            let value = if depth >= HARD_DEPTH || self.nodes > MAX_NODES {
                placeholder(&flat)
            } else {
                self.build(&flat, schemas, name, depth, minimal)
            };
            let must_not = std::mem::take(&mut flat.must_not);
            if must_not.iter().all(|other| !self.check(other, &value)) {
                self.avoid.truncate(avoided);
                return value;
            }
            // Another attempt, with other branches where there are any.
            self.avoid.extend(flat.picks.iter().copied());
            last = value;
        }
        self.avoid.truncate(avoided);
        last
    }

    fn build(
        &mut self,
        flat: &Flat<'s>,
        schemas: &[&'s Value],
        name: Option<&str>,
        depth: usize,
        minimal: bool,
    ) -> Value {
        if flat.impossible {
            return Value::Null;
        }
        if let Some(constant) = flat.constant {
            return constant.clone();
        }
        if let Some(values) = &flat.enumeration {
            let valid: Vec<&Value> = values
                .iter()
                .copied()
                .filter(|value| self.valid_all(schemas, value))
                .collect();
            let pool = if valid.is_empty() { values } else { &valid };
            return match pool.len() {
                0 => Value::Null,
                n => pool[self.rng.random_range(0..n)].clone(),
            };
        }
        // Static data always takes the first valid example (not a coin toss, so that the
        // documented value is what is served); dynamic data takes one half of the time.
        if !minimal && !flat.examples.is_empty() && (!self.dynamic || self.rng.random_bool(0.5)) {
            if !self.dynamic {
                for &example in &flat.examples {
                    if self.valid_all(schemas, example) {
                        return example.clone();
                    }
                }
            } else {
                let valid: Vec<&Value> = flat
                    .examples
                    .iter()
                    .copied()
                    .filter(|example| self.valid_all(schemas, example))
                    .collect();
                if !valid.is_empty() {
                    return valid[self.rng.random_range(0..valid.len())].clone();
                }
            }
        }
        let null_ok = match &flat.types {
            Some(types) => types.contains(&Ty::Null),
            None => flat.nullable,
        };
        let types: Vec<Ty> = match &flat.types {
            Some(types) => types.iter().copied().filter(|t| *t != Ty::Null).collect(),
            None => vec![infer_type(flat, name)],
        };
        if null_ok && (types.is_empty() || minimal || self.rng.random_bool(0.1)) {
            return Value::Null;
        }
        let ty = match types.len() {
            0 => return Value::Null,
            n => types[self.rng.random_range(0..n)],
        };
        match ty {
            Ty::Null => Value::Null,
            Ty::Boolean => Value::Bool(self.rng.random_bool(0.5)),
            Ty::Integer | Ty::Number => self.number(flat, schemas, ty == Ty::Integer, name),
            Ty::String => Value::String(self.string(flat, schemas, name)),
            Ty::Array => self.array(flat, depth, minimal),
            Ty::Object => self.object(flat, depth, minimal),
        }
    }

    fn valid_all(&mut self, schemas: &[&'s Value], value: &Value) -> bool {
        schemas.iter().all(|schema| self.check(schema, value))
    }

    /// Whether `value` is valid against `schema`; `false` when that takes too long to tell.
    fn check(&mut self, schema: &'s Value, value: &Value) -> bool {
        self.visits = 0;
        self.valid(schema, value, 0)
    }

    // Numbers ---------------------------------------------------------------------------------

    fn number(
        &mut self,
        flat: &Flat<'s>,
        schemas: &[&'s Value],
        integer: bool,
        name: Option<&str>,
    ) -> Value {
        let hint = name.map(snake_case).unwrap_or_default();
        let (lower, upper) = (flat.lower, flat.upper);
        // A window of "nice" values the name suggests, used when the bounds allow it.
        let preferred: Option<(f64, f64, u32)> = match hint.as_str() {
            "lat" | "latitude" => Some((-90.0, 90.0, 6)),
            "lon" | "lng" | "long" | "longitude" => Some((-180.0, 180.0, 6)),
            "age" => Some((18.0, 90.0, 0)),
            "quantity" | "count" | "qty" => Some((1.0, 10.0, 0)),
            h if is_money(h) => {
                if integer {
                    Some((100.0, 100_000.0, 0))
                } else {
                    Some((1.0, 1000.0, 2))
                }
            }
            h if integer && is_timestamp_name(h) => Some((1_577_836_800.0, 1_798_761_600.0, 0)),
            h if integer && is_id(h) => Some((1.0, 10_000.0, 0)),
            _ => None,
        };
        let preferred = preferred.or(match flat.format {
            Some("unix-time") if integer => Some((1_577_836_800.0, 1_798_761_600.0, 0)),
            _ => None,
        });
        if let Some((lo, hi, decimals)) = preferred
            && flat.multiple_of.is_empty()
        {
            let value = if integer || decimals == 0 {
                Value::from(self.rng.random_range(lo as i64..=hi as i64))
            } else {
                float_value(round_to(self.rng.random_range(lo..=hi), decimals))
            };
            if self.valid_all(schemas, &value) {
                return value;
            }
        }
        let format_range = match flat.format {
            Some("int32") => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
            Some("int64") => Some((-9.0e15, 9.0e15)),
            _ => None,
        };
        let mut lower = lower;
        let mut upper = upper;
        if let Some((lo, hi)) = format_range {
            lower = tighter_lower(lower, (lo, false));
            upper = tighter_upper(upper, (hi, false));
        }
        if integer {
            return self.integer(lower, upper, &flat.multiple_of);
        }
        self.float(lower, upper, &flat.multiple_of)
    }

    fn integer(&mut self, lower: Option<Bound>, upper: Option<Bound>, multiples: &[f64]) -> Value {
        let lo = lower.map(|(v, excl)| if excl { v.floor() + 1.0 } else { v.ceil() });
        let hi = upper.map(|(v, excl)| if excl { v.ceil() - 1.0 } else { v.floor() });
        let clamp = |v: f64| v.clamp(-9.0e15, 9.0e15) as i64;
        let (lo, hi) = (lo.map(clamp), hi.map(clamp));
        let (window_lo, window_hi) = window_i(lo, hi);
        let step = lcm_of(multiples);
        match step {
            Some(step) => {
                let pick = |rng: &mut R, lo: i64, hi: i64| -> Option<i64> {
                    let k_lo = lo.div_euclid(step) + i64::from(lo.rem_euclid(step) != 0);
                    let k_hi = hi.div_euclid(step);
                    (k_lo <= k_hi).then(|| rng.random_range(k_lo..=k_hi).saturating_mul(step))
                };
                let full = (lo.unwrap_or(i64::MIN / 4), hi.unwrap_or(i64::MAX / 4));
                pick(self.rng, window_lo, window_hi)
                    .or_else(|| pick(self.rng, full.0, full.1))
                    .map(Value::from)
                    .unwrap_or_else(|| Value::from(window_lo))
            }
            None if window_lo <= window_hi => {
                Value::from(self.rng.random_range(window_lo..=window_hi))
            }
            None => Value::from(window_lo),
        }
    }

    fn float(&mut self, lower: Option<Bound>, upper: Option<Bound>, multiples: &[f64]) -> Value {
        let lo = lower.map(|b| b.0).unwrap_or(f64::MIN).max(-1.0e15);
        let hi = upper.map(|b| b.0).unwrap_or(f64::MAX).min(1.0e15);
        let inside = |v: f64| {
            lower.is_none_or(|(l, excl)| if excl { v > l } else { v >= l })
                && upper.is_none_or(|(u, excl)| if excl { v < u } else { v <= u })
                && multiples.iter().all(|m| is_multiple_of(v, *m))
        };
        let (window_lo, window_hi) = window_f(lower.map(|b| b.0), upper.map(|b| b.0));
        if let Some(&step) = multiples.first() {
            let (k_lo, k_hi) = ((window_lo / step).ceil(), (window_hi / step).floor());
            let mut candidates = Vec::new();
            let decimals = decimal_parts(step).map_or(0, |(_, d)| d.min(15));
            if k_lo <= k_hi && (k_hi - k_lo) < 1.0e15 {
                for _ in 0..8 {
                    let k = self.rng.random_range(k_lo..=k_hi).round();
                    // `12.340000000000002` is `12.34` meant: print it with the step's decimals.
                    candidates.push(round_to(k * step, decimals));
                    candidates.push(k * step);
                }
            }
            // Steps that `round_to` cannot help (long decimals): powers of two times the step
            // are exact multiples of it.
            let mut power = 1.0f64;
            for _ in 0..64 {
                candidates.push(power * step);
                candidates.push(-power * step);
                power *= 2.0;
            }
            candidates.push(0.0);
            if let Some(v) = candidates.into_iter().find(|v| v.is_finite() && inside(*v)) {
                return float_value(v);
            }
            return float_value(step);
        }
        for _ in 0..8 {
            let raw = if window_lo < window_hi {
                self.rng.random_range(window_lo..window_hi)
            } else {
                window_lo
            };
            for v in [round_to(raw, 2), raw] {
                if inside(v) {
                    return float_value(v);
                }
            }
        }
        let mid = lo / 2.0 + hi / 2.0;
        if inside(mid) {
            return float_value(mid);
        }
        float_value(if lo.is_finite() { lo } else { 0.0 })
    }

    // Strings ---------------------------------------------------------------------------------

    fn string(&mut self, flat: &Flat<'s>, schemas: &[&'s Value], name: Option<&str>) -> String {
        if let Some(min) = flat.min_length.filter(|min| *min > MAX_SIZE) {
            self.unsatisfied(format!(
                "minLength {min} is over the bound of {MAX_SIZE} characters"
            ));
        }
        let min = flat.min_length.unwrap_or(0).min(MAX_SIZE) as usize;
        let max = flat.max_length.map(|m| m.min(MAX_SIZE) as usize);
        let fits = |s: &str| {
            let n = s.chars().count();
            n >= min && max.is_none_or(|max| n <= max)
        };
        if let Some(&pattern) = flat.patterns.first() {
            for _ in 0..16 {
                let Some(candidate) = self.sample_pattern(pattern) else {
                    break;
                };
                if fits(&candidate) && flat.patterns.iter().all(|p| self.matches(p, &candidate)) {
                    return candidate;
                }
            }
        }
        let value = |s: &String| Value::String(s.clone());
        if let Some(format) = flat.format {
            for _ in 0..4 {
                match self.formatted(format, max) {
                    Some(candidate) if self.valid_all(schemas, &value(&candidate)) => {
                        return candidate;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
        if let Some(name) = name {
            for _ in 0..4 {
                match self.named_string(name, flat) {
                    Some(candidate) if self.valid_all(schemas, &value(&candidate)) => {
                        return candidate;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
        let words: Vec<String> = lorem::Words(1..4).fake_with_rng(self.rng);
        let mut text = words.join(" ");
        if text.is_empty() {
            text.push_str("text");
        }
        if let Some(max) = max {
            text = text.chars().take(max).collect();
        }
        while text.chars().count() < min {
            text.push(char::from(b'a' + self.rng.random_range(0..26u8)));
        }
        text
    }

    /// A string in the given `format`, or `None` for formats this module does not know.
    fn formatted(&mut self, format: &str, max: Option<usize>) -> Option<String> {
        let rng = &mut *self.rng;
        Some(match format {
            "date-time" => date_time(rng),
            "date" => date_time(rng)[..10].to_owned(),
            "time" => date_time(rng)[11..].to_owned(),
            "duration" => format!("P{}D", rng.random_range(1..=30)),
            "email" | "idn-email" => internet::SafeEmail().fake_with_rng(rng),
            "uri" | "url" | "iri" => url(rng, max),
            "uri-reference" | "iri-reference" => {
                format!("/{}", lorem::Word().fake_with_rng::<String, _>(rng))
            }
            "uri-template" => "https://example.com/items/{id}".to_owned(),
            "uuid" => uuid(rng),
            "hostname" | "idn-hostname" => {
                format!(
                    "{}.example.com",
                    lorem::Word().fake_with_rng::<String, _>(rng)
                )
            }
            "ipv4" => Ipv4Addr::from(rng.random::<u32>()).to_string(),
            "ipv6" => Ipv6Addr::from(rng.random::<u128>()).to_string(),
            "byte" => {
                let bytes: Vec<u8> = (0..rng.random_range(4..=12))
                    .map(|_| rng.random())
                    .collect();
                BASE64.encode(&bytes)
            }
            "binary" | "password" => alphanumeric(rng, 12),
            "regex" => ["^[a-z]+$", "^\\d{3}$", "^[A-Z][a-z]*$", "^(yes|no)$"]
                [rng.random_range(0..4)]
            .to_owned(),
            "json-pointer" => format!("/{}", lorem::Word().fake_with_rng::<String, _>(rng)),
            "relative-json-pointer" => "0/id".to_owned(),
            "int32" | "int64" | "unix-time" => rng.random_range(1..=100_000).to_string(),
            "decimal" | "float" | "double" => format!("{:.2}", rng.random_range(1.0..1000.0)),
            _ => return None,
        })
    }

    /// A realistic string for a property called `name`, when its name says what it holds.
    fn named_string(&mut self, name: &str, flat: &Flat<'s>) -> Option<String> {
        let name = snake_case(name);
        let rng = &mut *self.rng;
        let last = name.rsplit('_').next().unwrap_or(&name);
        Some(match name.as_str() {
            n if n == "email" || n.ends_with("_email") || n == "email_address" => {
                internet::SafeEmail().fake_with_rng(rng)
            }
            "first_name" | "firstname" | "given_name" | "forename" => {
                name::FirstName().fake_with_rng(rng)
            }
            "last_name" | "lastname" | "surname" | "family_name" => {
                name::LastName().fake_with_rng(rng)
            }
            "username" | "user_name" | "login" | "handle" | "nickname" => {
                internet::Username().fake_with_rng(rng)
            }
            "name" | "full_name" | "fullname" | "display_name" | "contact_name" | "owner_name"
            | "customer_name" | "author" => name::Name().fake_with_rng(rng),
            "company" | "company_name" | "organization" | "organisation" | "business_name"
            | "bank_name" | "employer" => company::CompanyName().fake_with_rng(rng),
            "job_title" | "position" | "occupation" => job::Title().fake_with_rng(rng),
            "city" | "town" => address::CityName().fake_with_rng(rng),
            "country_code" => address::CountryCode().fake_with_rng(rng),
            "country" if flat.max_length.is_some_and(|m| m < 4) => {
                address::CountryCode().fake_with_rng(rng)
            }
            "country" => address::CountryName().fake_with_rng(rng),
            "state" | "region" | "province" => address::StateName().fake_with_rng(rng),
            "street" | "address" | "street_address" | "address_line1" | "address1" | "line1" => {
                format!(
                    "{} {} {}",
                    address::BuildingNumber().fake_with_rng::<String, _>(rng),
                    address::StreetName().fake_with_rng::<String, _>(rng),
                    address::StreetSuffix().fake_with_rng::<String, _>(rng)
                )
            }
            "zip" | "zipcode" | "zip_code" | "postcode" | "post_code" | "postal_code" => {
                address::ZipCode().fake_with_rng(rng)
            }
            "phone" | "phone_number" | "mobile" | "telephone" | "tel" | "cell" => {
                phone::PhoneNumber().fake_with_rng(rng)
            }
            n if n == "currency" || n.ends_with("_currency") || n == "currency_code" => {
                currency::CurrencyCode().fake_with_rng(rng)
            }
            "color" | "colour" => format!("#{:06x}", rng.random_range(0..0x100_0000)),
            "status" => ["active", "pending", "inactive"][rng.random_range(0..3)].to_owned(),
            "password" => alphanumeric(rng, 12),
            "description" | "summary" | "text" | "comment" | "message" | "note" | "notes"
            | "bio" | "body" | "details" => lorem::Sentence(4..10).fake_with_rng(rng),
            "title" | "subject" | "caption" | "headline" | "label" => {
                let words: Vec<String> = lorem::Words(2..5).fake_with_rng(rng);
                capitalise(&words.join(" "))
            }
            "avatar" | "image" | "photo" | "picture" | "icon" | "logo" | "thumbnail" => {
                image_url(rng)
            }
            n if n.ends_with("_image") || n.ends_with("_avatar") || n.ends_with("_photo") => {
                image_url(rng)
            }
            "url" | "website" | "homepage" | "link" | "href" | "uri" => url(rng, None),
            n if n.ends_with("_url") || n.ends_with("_uri") => url(rng, None),
            n if is_id(n) => uuid(rng),
            n if is_timestamp_name(n) || n == "date" || n.ends_with("_date") => date_time(rng),
            _ if last == "name" => name::Name().fake_with_rng(rng),
            _ => return None,
        })
    }

    /// A string matching `pattern`, `None` when the pattern cannot be generated from.
    fn sample_pattern(&mut self, pattern: &str) -> Option<String> {
        if !self.samplers.contains_key(pattern) {
            let hir = regex_syntax::Parser::new().parse(pattern).ok();
            let shortest = hir.as_ref().and_then(|hir| hir.properties().minimum_len());
            let sampler = match (hir, shortest) {
                // `a{1000000000}`: no string that long is made (nor the repetition expanded).
                (Some(_), Some(shortest)) if shortest as u64 > MAX_SIZE => None,
                (Some(hir), _) => rand_regex::Regex::with_hir(printable(hir), PATTERN_REPEAT).ok(),
                (None, _) => None,
            };
            self.samplers.insert(pattern.to_owned(), sampler);
        }
        let sampler = match self.samplers.get(pattern) {
            Some(Some(sampler)) => sampler,
            _ => {
                let shortest = regex_syntax::Parser::new()
                    .parse(pattern)
                    .ok()
                    .and_then(|hir| hir.properties().minimum_len())
                    .filter(|shortest| *shortest as u64 > MAX_SIZE);
                if let Some(shortest) = shortest {
                    self.unsatisfied(format!(
                        "pattern {pattern:?} matches only strings of at least {shortest} characters; strings are bounded to {MAX_SIZE}"
                    ));
                }
                return None;
            }
        };
        let sample: Result<String, _> = sampler.sample(self.rng);
        let sample = sample.ok()?;
        self.matches(pattern, &sample).then_some(sample)
    }

    // Arrays and objects --------------------------------------------------------------------

    fn array(&mut self, flat: &Flat<'s>, depth: usize, minimal: bool) -> Value {
        if let Some(min) = flat.min_items.filter(|min| *min > MAX_SIZE) {
            self.unsatisfied(format!(
                "minItems {min} is over the bound of {MAX_SIZE} items"
            ));
        }
        let min = flat.min_items.unwrap_or(0).min(MAX_SIZE) as usize;
        let max = flat.max_items.map(|m| m.min(MAX_SIZE) as usize);
        let prefix = flat.prefix_items.unwrap_or(&[]);
        let mut max = max.unwrap_or(usize::MAX);
        // A tuple with nothing said about further items is generated as the
        // tuple: that is what it describes, and extra items would be made
        // up from an empty schema.
        if flat.no_more_items || (!prefix.is_empty() && flat.items.is_empty()) {
            max = max.min(prefix.len().max(min));
        }
        let count = if minimal {
            min
        } else {
            let lo = min.max(1).max(prefix.len()).min(max);
            let hi = 5.max(lo).min(max);
            if lo <= hi {
                self.rng.random_range(lo..=hi)
            } else {
                min
            }
        };
        let mut items: Vec<Value> = Vec::with_capacity(count);
        let mut tries = 0;
        while items.len() < count && tries < count * 4 + 8 && self.nodes <= MAX_NODES {
            tries += 1;
            let index = items.len();
            self.path.push(index.to_string());
            let item = if let Some(schema) = prefix.get(index) {
                self.node(&[schema], None, depth + 1)
            } else if let (0, Some(contains)) = (index, flat.contains) {
                let mut schemas = flat.items.clone();
                schemas.push(contains);
                self.node(&schemas, None, depth + 1)
            } else if flat.items.is_empty() {
                self.node(&[&Value::Bool(true)], None, depth + 1)
            } else {
                self.node(&flat.items, None, depth + 1)
            };
            self.path.pop();
            if flat.unique_items && items.iter().any(|other| json_eq(other, &item)) {
                continue;
            }
            items.push(item);
        }
        if items.len() < min {
            let why = if self.nodes > MAX_NODES {
                format!("the bound of {MAX_NODES} generated values")
            } else {
                "the distinct items the schema allows".to_owned()
            };
            self.unsatisfied(format!(
                "minItems {min}: only {} items within {why}",
                items.len()
            ));
        }
        Value::Array(items)
    }

    fn object(&mut self, flat: &Flat<'s>, depth: usize, minimal: bool) -> Value {
        let skip = match self.direction {
            Direction::Response => "writeOnly",
            Direction::Request => "readOnly",
        };
        let allowed = |name: &str| flat.allowed.as_ref().is_none_or(|a| a.contains(&name));
        let mut object = Map::new();
        let mut optional: Vec<(&'s str, &Vec<&'s Value>)> = Vec::new();
        for (name, schemas) in &flat.properties {
            let required =
                flat.required.contains(name) || flat.forced.iter().any(|(p, _)| p == name);
            if schemas.iter().any(|s| self.flag(s, skip, 0)) {
                continue;
            }
            if !required {
                if allowed(name) {
                    optional.push((name, schemas));
                }
                if minimal || !allowed(name) || !self.rng.random_bool(0.8) {
                    continue;
                }
            }
            let value = self.property(name, schemas, flat, depth);
            object.insert((*name).to_owned(), value);
        }
        for name in &flat.required {
            if !object.contains_key(*name) && !flat.properties.iter().any(|(n, _)| n == name) {
                let value = self.property(name, &Vec::new(), flat, depth);
                object.insert((*name).to_owned(), value);
            }
        }
        for (property, value) in &flat.forced {
            object.insert((*property).to_owned(), Value::String(value.clone()));
        }
        // Closed objects still take names that match a `patternProperties` pattern.
        let open = flat.allowed.is_none() || !flat.pattern_properties.is_empty();
        let mut extra: usize = 0;
        if open && !minimal && !flat.additional.is_empty() && flat.properties.is_empty() {
            extra = self.rng.random_range(1..=3);
        }
        if let Some(min) = flat.min_properties.filter(|min| *min > MAX_SIZE) {
            self.unsatisfied(format!(
                "minProperties {min} is over the bound of {MAX_SIZE} properties"
            ));
        }
        let min = flat.min_properties.unwrap_or(0).min(MAX_SIZE) as usize;
        // Optional properties first, then made-up ones, until `minProperties` is met.
        for (name, schemas) in optional {
            if object.len() >= min {
                break;
            }
            if !object.contains_key(name) {
                let value = self.property(name, schemas, flat, depth);
                object.insert(name.to_owned(), value);
            }
        }
        let mut attempts = 0;
        while open
            && (object.len() < min || extra > 0)
            && attempts < min + 16
            && self.nodes <= MAX_NODES
        {
            attempts += 1;
            extra = extra.saturating_sub(1);
            let key = self.extra_key(flat, object.len());
            if object.contains_key(&key) {
                continue;
            }
            let value = self.property(&key, &Vec::new(), flat, depth);
            object.insert(key, value);
        }
        if let Some(max) = flat.max_properties {
            let max = max.min(MAX_SIZE) as usize;
            let removable: Vec<String> = object
                .keys()
                .filter(|k| !flat.required.contains(&k.as_str()))
                .cloned()
                .collect();
            for key in removable.into_iter().rev() {
                if object.len() <= max {
                    break;
                }
                object.shift_remove(&key);
            }
        }
        if object.len() < min {
            self.unsatisfied(format!(
                "minProperties {min}: only {} properties could be made",
                object.len()
            ));
        }
        Value::Object(object)
    }

    /// The value of property `name`: valid against its own schemas and against the
    /// `patternProperties` and `additionalProperties` that apply to it.
    fn property(
        &mut self,
        name: &str,
        schemas: &[&'s Value],
        flat: &Flat<'s>,
        depth: usize,
    ) -> Value {
        let mut all: Vec<&'s Value> = schemas.to_vec();
        for &(pattern, schema) in &flat.pattern_properties {
            if self.matches(pattern, name) {
                all.push(schema);
            }
        }
        if schemas.is_empty() && all.is_empty() {
            all.extend(flat.additional.iter().copied());
        }
        if all.is_empty() {
            all.push(&Value::Bool(true));
        }
        self.path.push(name.to_owned());
        let value = self.node(&all, Some(name), depth + 1);
        self.path.pop();
        value
    }

    /// A new property name, from a `patternProperties` pattern when there is one.
    fn extra_key(&mut self, flat: &Flat<'s>, index: usize) -> String {
        if let Some(&(pattern, _)) = flat.pattern_properties.first()
            && let Some(key) = self.sample_pattern(pattern)
        {
            return key;
        }
        let word: String = lorem::Word().fake_with_rng(self.rng);
        if index == 0 {
            word
        } else {
            format!("{word}_{index}")
        }
    }

    // ---------------------------------------------------------------------------------------
    // Validation

    /// Whether `pattern` (ECMA 262, unanchored) matches `text`; unknown syntax counts as a match.
    fn matches(&mut self, pattern: &str, text: &str) -> bool {
        if !self.matchers.contains_key(pattern) {
            let matcher = regex::Regex::new(&ecma_to_rust(pattern)).ok();
            self.matchers.insert(pattern.to_owned(), matcher);
        }
        match self.matchers.get(pattern) {
            Some(Some(matcher)) => matcher.is_match(text),
            _ => true,
        }
    }

    fn valid(&mut self, schema: &'s Value, value: &Value, depth: usize) -> bool {
        let map = match schema {
            Value::Bool(b) => return *b,
            Value::Object(map) => map,
            _ => return true,
        };
        if depth > MAX_CHECK_DEPTH {
            return true;
        }
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return false;
        }
        // One pass over the keywords present, as in `flatten`.
        let null_by_nullable = value.is_null() && is_nullable(map);
        for (keyword, rule) in map {
            let ok = match keyword.as_str() {
                "$ref" => match rule.as_str().map(|r| self.resolve(r)) {
                    Some(Some(target)) => self.valid(target, value, depth + 1),
                    Some(None) => false,
                    None => true,
                },
                "type" => node_types(map).is_none_or(|types| {
                    let ty = Ty::of(value);
                    types.iter().any(|t| ty.accepted_by(*t))
                }),
                "enum" => {
                    null_by_nullable
                        || rule
                            .as_array()
                            .is_none_or(|values| values.iter().any(|v| json_eq(v, value)))
                }
                "const" => json_eq(rule, value),
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
                    value
                        .as_f64()
                        .is_none_or(|n| valid_bound(map, keyword, rule, n))
                }
                "minLength" | "maxLength" | "pattern" | "format" => match value {
                    Value::String(s) => self.valid_string(keyword, rule, s),
                    _ => true,
                },
                "minItems" | "maxItems" | "uniqueItems" | "contains" | "items" | "prefixItems" => {
                    match value {
                        Value::Array(items) => self.valid_array(map, keyword, rule, items, depth),
                        _ => true,
                    }
                }
                "minProperties"
                | "maxProperties"
                | "required"
                | "properties"
                | "patternProperties"
                | "additionalProperties"
                | "propertyNames" => match value {
                    Value::Object(object) => self.valid_object(map, keyword, rule, object, depth),
                    _ => true,
                },
                "allOf" => rule
                    .as_array()
                    .is_none_or(|all| all.iter().all(|s| self.valid(s, value, depth + 1))),
                "anyOf" => {
                    null_by_nullable
                        || rule
                            .as_array()
                            .is_none_or(|any| any.iter().any(|s| self.valid(s, value, depth + 1)))
                }
                "oneOf" => {
                    null_by_nullable
                        || rule.as_array().is_none_or(|one| {
                            let mut matching = 0;
                            for s in one {
                                if self.valid(s, value, depth + 1) {
                                    matching += 1;
                                    if matching > 1 {
                                        break;
                                    }
                                }
                            }
                            matching == 1
                        })
                }
                "not" => !self.valid(rule, value, depth + 1),
                "if" => {
                    let branch = if self.valid(rule, value, depth + 1) {
                        map.get("then")
                    } else {
                        map.get("else")
                    };
                    branch.is_none_or(|branch| self.valid(branch, value, depth + 1))
                }
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn valid_string(&mut self, keyword: &str, rule: &'s Value, s: &str) -> bool {
        match keyword {
            "minLength" => as_size(Some(rule)).is_none_or(|min| s.chars().count() as u64 >= min),
            "maxLength" => as_size(Some(rule)).is_none_or(|max| s.chars().count() as u64 <= max),
            "pattern" => rule.as_str().is_none_or(|pattern| self.matches(pattern, s)),
            "format" => rule
                .as_str()
                .is_none_or(|format| self.valid_format(format, s)),
            _ => true,
        }
    }

    fn valid_array(
        &mut self,
        map: &'s Map<String, Value>,
        keyword: &str,
        rule: &'s Value,
        items: &[Value],
        depth: usize,
    ) -> bool {
        let count = items.len() as u64;
        match (keyword, rule) {
            ("minItems", _) => as_size(Some(rule)).is_none_or(|min| count >= min),
            ("maxItems", _) => as_size(Some(rule)).is_none_or(|max| count <= max),
            ("prefixItems" | "items", Value::Array(prefix)) => prefix
                .iter()
                .zip(items)
                .all(|(schema, item)| self.valid(schema, item, depth + 1)),
            ("items", schema) => {
                let skip = map
                    .get("prefixItems")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                items
                    .iter()
                    .skip(skip)
                    .all(|item| self.valid(schema, item, depth + 1))
            }
            ("uniqueItems", Value::Bool(true)) => items
                .iter()
                .enumerate()
                .all(|(i, a)| !items[i + 1..].iter().any(|b| json_eq(a, b))),
            ("contains", schema) => {
                let min = as_size(map.get("minContains")).unwrap_or(1);
                let found = items
                    .iter()
                    .filter(|item| self.valid(schema, item, depth + 1))
                    .count() as u64;
                found >= min
            }
            _ => true,
        }
    }

    fn valid_object(
        &mut self,
        map: &'s Map<String, Value>,
        keyword: &str,
        rule: &'s Value,
        object: &Map<String, Value>,
        depth: usize,
    ) -> bool {
        let count = object.len() as u64;
        match (keyword, rule) {
            ("minProperties", _) => as_size(Some(rule)).is_none_or(|min| count >= min),
            ("maxProperties", _) => as_size(Some(rule)).is_none_or(|max| count <= max),
            ("required", Value::Array(required)) => required
                .iter()
                .filter_map(Value::as_str)
                .all(|name| object.contains_key(name)),
            ("properties", Value::Object(properties)) => object.iter().all(|(key, value)| {
                properties
                    .get(key)
                    .is_none_or(|schema| self.valid(schema, value, depth + 1))
            }),
            ("patternProperties", Value::Object(patterns)) => object.iter().all(|(key, value)| {
                patterns.iter().all(|(pattern, schema)| {
                    !self.matches(pattern, key) || self.valid(schema, value, depth + 1)
                })
            }),
            ("additionalProperties", additional) => {
                let properties = map.get("properties").and_then(Value::as_object);
                let patterns = map.get("patternProperties").and_then(Value::as_object);
                object.iter().all(|(key, value)| {
                    let known = properties.is_some_and(|p| p.contains_key(key))
                        || patterns
                            .into_iter()
                            .flatten()
                            .any(|(pattern, _)| self.matches(pattern, key));
                    known || self.valid(additional, value, depth + 1)
                })
            }
            ("propertyNames", names) => object
                .keys()
                .all(|key| self.valid(names, &Value::String(key.clone()), depth + 1)),
            _ => true,
        }
    }

    /// Formats as JSON Schema 2020-12 (and the `jsonschema` crate) check them.
    fn valid_format(&mut self, format: &str, s: &str) -> bool {
        match format {
            "date" => is_date(s),
            "time" => is_time(s),
            "date-time" => is_date_time(s),
            "email" => is_email(s),
            "hostname" => is_hostname(s),
            "uuid" => is_uuid(s),
            "ipv4" => is_ipv4(s),
            "ipv6" => is_ipv6(s),
            "uri" => is_uri(s),
            "uri-reference" => is_uri_reference(s),
            "json-pointer" => is_json_pointer(s),
            "regex" => regex_syntax::Parser::new().parse(s).is_ok(),
            "duration" => {
                self.matches(
                    r"^P(?:\d+W|(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)$",
                    s,
                ) && s.len() > 1
                    && !s.ends_with('T')
            }
            // Known to JSON Schema but not checked here: not provably valid.
            "iri"
            | "iri-reference"
            | "idn-email"
            | "idn-hostname"
            | "uri-template"
            | "relative-json-pointer" => false,
            _ => true,
        }
    }
}

/// Tightens the numeric bounds of `flat` by one of `minimum`, `maximum` and the exclusives, in
/// their OpenAPI 3.0 (boolean) or 3.1 (numeric) form.
fn flatten_bound<'s>(
    map: &'s Map<String, Value>,
    keyword: &str,
    value: &'s Value,
    flat: &mut Flat<'s>,
) {
    let exclusive_flag = |name: &str| map.get(name) == Some(&Value::Bool(true));
    match (keyword, value.as_f64()) {
        ("minimum", Some(m)) => {
            flat.lower = tighter_lower(flat.lower, (m, exclusive_flag("exclusiveMinimum")));
        }
        ("maximum", Some(m)) => {
            flat.upper = tighter_upper(flat.upper, (m, exclusive_flag("exclusiveMaximum")));
        }
        ("exclusiveMinimum", Some(m)) => flat.lower = tighter_lower(flat.lower, (m, true)),
        ("exclusiveMaximum", Some(m)) => flat.upper = tighter_upper(flat.upper, (m, true)),
        _ => {}
    }
}

/// A value of the right type for when nothing deeper may be generated.
fn placeholder(flat: &Flat<'_>) -> Value {
    let types = flat.types.as_deref().unwrap_or(&[]);
    if types.is_empty() || types.contains(&Ty::Null) || flat.nullable {
        return Value::Null;
    }
    match types[0] {
        Ty::Null => Value::Null,
        Ty::Boolean => Value::Bool(false),
        Ty::Integer | Ty::Number => Value::from(0),
        Ty::String => Value::String(String::new()),
        Ty::Array => Value::Array(Vec::new()),
        Ty::Object => Value::Object(Map::new()),
    }
}

/// The type a schema without `type` most likely means, from its keywords or property name.
fn infer_type(flat: &Flat<'_>, name: Option<&str>) -> Ty {
    if !flat.properties.is_empty()
        || !flat.required.is_empty()
        || !flat.additional.is_empty()
        || !flat.pattern_properties.is_empty()
        || flat.min_properties.is_some()
        || flat.max_properties.is_some()
        || flat.allowed.is_some()
    {
        return Ty::Object;
    }
    if !flat.items.is_empty()
        || flat.prefix_items.is_some()
        || flat.min_items.is_some()
        || flat.max_items.is_some()
        || flat.contains.is_some()
    {
        return Ty::Array;
    }
    if flat.lower.is_some() || flat.upper.is_some() || !flat.multiple_of.is_empty() {
        return match flat.format {
            Some("int32" | "int64") => Ty::Integer,
            _ => Ty::Number,
        };
    }
    if matches!(flat.format, Some("int32" | "int64" | "unix-time")) {
        return Ty::Integer;
    }
    if matches!(flat.format, Some("float" | "double")) {
        return Ty::Number;
    }
    match name.map(snake_case).as_deref() {
        Some(h) if is_money(h) => Ty::Number,
        _ => Ty::String,
    }
}

/// An integer window of small, positive-if-possible values within the bounds.
fn window_i(lo: Option<i64>, hi: Option<i64>) -> (i64, i64) {
    match (lo, hi) {
        (None, None) => (1, 100),
        (Some(lo), None) if lo <= 1 => (1, 100),
        (Some(lo), None) => (lo, lo.saturating_add(99)),
        (None, Some(hi)) if hi >= 1 => (1, hi.min(100)),
        (None, Some(hi)) => (hi.saturating_sub(99), hi),
        (Some(lo), Some(hi)) if lo <= 1 && hi >= 1 => (1, hi.min(100)),
        (Some(lo), Some(hi)) if lo > 1 => (lo, hi.min(lo.saturating_add(99))),
        (Some(lo), Some(hi)) => (lo.max(hi.saturating_sub(99)), hi),
    }
}

fn window_f(lo: Option<f64>, hi: Option<f64>) -> (f64, f64) {
    let clamp = |v: f64| v.clamp(-1.0e15, 1.0e15);
    match (lo.map(clamp), hi.map(clamp)) {
        (None, None) => (1.0, 100.0),
        (Some(lo), None) if lo <= 1.0 => (1.0, 100.0),
        (Some(lo), None) => (lo, lo + 100.0),
        (None, Some(hi)) if hi >= 100.0 => (1.0, 100.0),
        (None, Some(hi)) if hi >= 1.0 => (1.0, hi),
        (None, Some(hi)) => (hi - 100.0, hi),
        (Some(lo), Some(hi)) if lo <= 1.0 && hi >= 100.0 => (lo.max(1.0), 100.0),
        (Some(lo), Some(hi)) => (lo, hi.min(lo + 100.0)),
    }
}

/// The least common multiple of integral `multipleOf`s; `None` when there are none or one is
/// fractional.
fn lcm_of(multiples: &[f64]) -> Option<i64> {
    let mut out: Option<i64> = None;
    for &m in multiples {
        if m.fract() != 0.0 || !(1.0..=1.0e12).contains(&m) {
            return None;
        }
        let m = m as i64;
        out = Some(match out {
            None => m,
            Some(a) => {
                let g = gcd(a, m);
                (a / g).saturating_mul(m)
            }
        });
    }
    out
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

/// `value / multiple` is an integer. Like the `jsonschema` crate, this reads both numbers as
/// the shortest decimals that print them, so `19.99` is a multiple of `0.01` although their
/// binary values are not; numbers too long for that are divided exactly in binary.
fn is_multiple_of(value: f64, multiple: f64) -> bool {
    if value == 0.0 {
        return true;
    }
    if !value.is_finite() || !multiple.is_finite() || multiple <= 0.0 {
        return false;
    }
    if let (Some((a, a_decimals)), Some((b, b_decimals))) =
        (decimal_parts(value), decimal_parts(multiple))
    {
        let shared = a_decimals.min(b_decimals);
        let scaled = |mantissa: i128, decimals: u32| {
            mantissa.checked_mul(10_i128.checked_pow(decimals - shared)?)
        };
        if let (Some(a), Some(b)) = (scaled(a, b_decimals), scaled(b, a_decimals))
            && b != 0
        {
            return a % b == 0;
        }
    }
    let (a, p) = odd_mantissa(value.abs());
    let (b, q) = odd_mantissa(multiple);
    a % b == 0 && p >= q
}

/// `|x|` as `mantissa / 10^decimals`, from its shortest round-trip decimal form.
fn decimal_parts(x: f64) -> Option<(i128, u32)> {
    let text = format!("{}", x.abs());
    if text.len() > 36 {
        return None;
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = format!("{whole}{fraction}");
    Some((digits.parse().ok()?, u32::try_from(fraction.len()).ok()?))
}

/// `x = mantissa * 2^exponent` with an odd mantissa.
fn odd_mantissa(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mut mantissa, mut exponent) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    if mantissa == 0 {
        return (0, 0);
    }
    let zeros = mantissa.trailing_zeros();
    mantissa >>= zeros;
    exponent += zeros as i32;
    (mantissa, exponent)
}

fn valid_bound(map: &Map<String, Value>, keyword: &str, rule: &Value, n: f64) -> bool {
    let exclusive_flag = |name: &str| map.get(name) == Some(&Value::Bool(true));
    match (keyword, rule.as_f64()) {
        ("minimum", Some(m)) => n > m || (n == m && !exclusive_flag("exclusiveMinimum")),
        ("maximum", Some(m)) => n < m || (n == m && !exclusive_flag("exclusiveMaximum")),
        ("exclusiveMinimum", Some(m)) => n > m,
        ("exclusiveMaximum", Some(m)) => n < m,
        ("multipleOf", Some(m)) if m > 0.0 => is_multiple_of(n, m),
        _ => true,
    }
}

fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// JSON equality where `1` and `1.0` are the same number, as JSON Schema defines it.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn float_value(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        return Value::from(v as i64);
    }
    Number::from_f64(v).map_or(Value::from(0), Value::Number)
}

fn round_to(v: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (v * scale).round() / scale
}

/// `firstName`, `first-name` and `First Name` all become `first_name`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            previous_lower = true;
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    out.trim_end_matches('_').to_owned()
}

fn is_id(name: &str) -> bool {
    matches!(name, "id" | "uuid" | "guid") || name.ends_with("_id") || name.ends_with("_uuid")
}

fn is_timestamp_name(name: &str) -> bool {
    matches!(
        name,
        "created" | "updated" | "timestamp" | "deleted_at" | "expires"
    ) || name.ends_with("_at")
        || name.ends_with("_time")
        || name.ends_with("_timestamp")
}

fn is_money(name: &str) -> bool {
    let last = name.rsplit('_').next().unwrap_or(name);
    matches!(
        last,
        "price" | "amount" | "cost" | "total" | "subtotal" | "fee" | "balance"
    )
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A UTC date-time between 2020 and 2026, RFC 3339 (`2024-03-05T14:07:09Z`).
fn date_time<R: Rng + ?Sized>(rng: &mut R) -> String {
    let seconds: i64 = rng.random_range(1_577_836_800..1_798_761_600);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = hmt_types::clock::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

fn uuid<R: Rng + ?Sized>(rng: &mut R) -> String {
    hmt_types::format::uuid_v4(rng.random())
}

fn url<R: Rng + ?Sized>(rng: &mut R, max: Option<usize>) -> String {
    let host: String = lorem::Word().fake_with_rng(rng);
    let path: String = lorem::Word().fake_with_rng(rng);
    let full = format!("https://www.{host}.com/{path}");
    match max {
        Some(max) if full.len() > max => format!("https://{host}.io"),
        _ => full,
    }
}

fn image_url<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!(
        "https://picsum.photos/seed/{}/200/200",
        rng.random_range(1..10_000)
    )
}

fn alphanumeric<R: Rng + ?Sized>(rng: &mut R, length: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// ECMA 262 classes as Rust regex classes: `\d` and `\w` are ASCII in ECMA, Unicode-aware
/// in Rust. (`\s` is Unicode-aware in both, close enough for checking made-up strings.)
fn ecma_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some('w') => out.push_str(if in_class {
                    "A-Za-z0-9_"
                } else {
                    "[A-Za-z0-9_]"
                }),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Rewrites a parsed pattern for generation: anchors and word boundaries become empty (the
/// whole generated string is the match, so `^...$` hold), and classes are narrowed to
/// printable ASCII where that leaves anything, so `.` and `\w` give readable text and `\d`
/// gives ASCII digits as ECMA 262 means it.
fn printable(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Class(hir::Class::Unicode(mut class)) => {
            let original = class.clone();
            class.intersect(&hir::ClassUnicode::new([hir::ClassUnicodeRange::new(
                ' ', '~',
            )]));
            if class.ranges().is_empty() {
                Hir::class(hir::Class::Unicode(original))
            } else {
                Hir::class(hir::Class::Unicode(class))
            }
        }
        HirKind::Class(class) => Hir::class(class),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(hir::Literal(bytes)) => Hir::literal(bytes),
        // Bounded repetitions get at most `PATTERN_REPEAT` more than their minimum, as
        // unbounded ones do: `\d{1,1000000}` gives short numbers, not a megabyte.
        HirKind::Repetition(rep) => Hir::repetition(hir::Repetition {
            max: rep
                .max
                .map(|max| max.min(rep.min.saturating_add(PATTERN_REPEAT))),
            sub: Box::new(printable(*rep.sub)),
            ..rep
        }),
        HirKind::Capture(capture) => Hir::capture(hir::Capture {
            sub: Box::new(printable(*capture.sub)),
            ..capture
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(printable).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(printable).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    #[test]
    fn tuples_are_generated_whole_and_alone() {
        let root = json!({});
        let schema = json!({"type": "array", "items": [{"const": 1}, {"const": "two"}]});
        for seed in 0..20 {
            let value = Generator::new(&root).generate(&schema, &mut StdRng::seed_from_u64(seed));
            assert_eq!(value, json!([1, "two"]));
        }
        let open =
            json!({"type": "array", "prefixItems": [{"const": 1}], "items": {"type": "integer"}});
        let value = Generator::new(&root).generate(&open, &mut StdRng::seed_from_u64(3));
        assert_eq!(value[0], json!(1));
    }

    #[test]
    fn multiples_are_read_as_decimals() {
        assert!(is_multiple_of(19.99, 0.01) && is_multiple_of(0.3, 0.1));
        assert!(!is_multiple_of(0.005, 0.01) && !is_multiple_of(1_070_468.145, 0.01));
        assert!(is_multiple_of(5.35, 2.675));
        assert!(is_multiple_of(12.0, 3.0) && !is_multiple_of(13.0, 3.0));
        assert!(is_multiple_of(-1.5, 0.5) && is_multiple_of(0.0, 0.7));
        assert!(!is_multiple_of(0.25, 0.5));
    }

    #[test]
    fn property_names_are_snake_cased() {
        assert_eq!(snake_case("firstName"), "first_name");
        assert_eq!(snake_case("created-at"), "created_at");
        assert_eq!(snake_case("Zip Code"), "zip_code");
        assert_eq!(snake_case("avatarURL"), "avatar_url");
    }

    #[test]
    fn references_are_unescaped_and_percent_decoded() {
        assert_eq!(hmt_types::percent_decode("a%20b%7Bc%7d"), "a b{c}");
        assert_eq!(hmt_types::percent_decode("100%"), "100%");
        let doc = serde_json::json!({"a/b": {"c~d": [1, {"e": 2}]}});
        let mut rng = rand::rngs::StdRng::from_seed([0; 32]);
        let run = Run::new(&doc, Direction::Response, &mut rng);
        assert_eq!(run.resolve("#/a~1b/c~0d/1/e"), Some(&serde_json::json!(2)));
        assert_eq!(run.resolve("#"), Some(&doc));
        assert_eq!(run.resolve("#/a~1b/missing"), None);
        assert_eq!(run.resolve("other.json#/a"), None);
    }

    #[test]
    fn ecma_classes_are_ascii() {
        assert_eq!(ecma_to_rust(r"^\d+[\w-]$"), "^[0-9]+[A-Za-z0-9_-]$");
        assert_eq!(ecma_to_rust(r"\\d"), r"\\d");
    }

    #[test]
    fn bytes_are_padded_standard_base64() {
        let doc = Value::Null;
        let mut rng = rand::rngs::StdRng::from_seed([5; 32]);
        let mut run = Run::new(&doc, Direction::Response, &mut rng);
        let mut lengths = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let value = run.formatted("byte", None).unwrap_or_default();
            assert_eq!(value.len() % 4, 0, "{value}");
            let bytes = BASE64.decode(&value).expect("standard padded base64");
            assert_eq!(BASE64.encode(&bytes), value);
            lengths.insert(bytes.len() % 3);
        }
        assert_eq!(lengths.len(), 3, "no padding, `=` and `==` all covered");
    }

    /// The predicates themselves are tested in `hmt_types::format`; this checks that each
    /// format name reaches the right one.
    #[test]
    fn format_checks_accept_what_rfcs_accept() {
        let doc = Value::Null;
        let mut rng = rand::rngs::StdRng::from_seed([0; 32]);
        let mut run = Run::new(&doc, Direction::Response, &mut rng);
        let cases: &[(&str, &str, bool)] = &[
            ("date", "2024-02-29", true),
            ("date", "2023-02-29", false),
            ("date", "2024-13-01", false),
            ("time", "23:59:59.5+01:00", true),
            ("time", "00:00:00Z", true),
            ("time", "24:00:00Z", false),
            ("time", "12:00:00", false), // JSON Schema times need an offset
            ("date-time", "2024-02-29T23:59:59.5+01:00", true),
            ("date-time", "2024-02-29T12:00:00", false),
            ("email", "ann.lee@example.com", true),
            ("email", "ann@@x", false),
            ("email", ".a@x.io", false),
            ("hostname", "api.example.com", true),
            ("hostname", "-bad.example", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "::1", false),
            ("ipv6", "::1", true),
            ("ipv6", "10.0.0.1", false),
            ("uri", "https://x.io/a?b=c#d", true),
            ("uri", "/relative", false),
            ("uri-reference", "/relative", true),
            ("uri-reference", "has space", false),
            ("json-pointer", "/a/~1b", true),
            ("json-pointer", "/a~2", false),
        ];
        for (format, s, valid) in cases {
            assert_eq!(run.valid_format(format, s), *valid, "{format}: {s}");
        }
    }

    #[test]
    fn generated_formats_pass_the_format_checks() {
        let doc = Value::Null;
        let mut rng = rand::rngs::StdRng::from_seed([7; 32]);
        let mut run = Run::new(&doc, Direction::Response, &mut rng);
        for format in [
            "date-time",
            "date",
            "time",
            "duration",
            "email",
            "uri",
            "uri-reference",
            "uuid",
            "hostname",
            "ipv4",
            "ipv6",
            "regex",
            "json-pointer",
        ] {
            for _ in 0..20 {
                let value = run.formatted(format, None).unwrap_or_default();
                assert!(run.valid_format(format, &value), "{format}: {value}");
            }
        }
    }

    #[test]
    fn patterns_generate_printable_matching_strings() {
        let doc = Value::Null;
        let mut rng = rand::rngs::StdRng::from_seed([3; 32]);
        let mut run = Run::new(&doc, Direction::Response, &mut rng);
        for pattern in [r"^[A-Z]{2}\d{2}$", r"\bword\b", r"^.+@.+$", "(a|b)*c"] {
            for _ in 0..20 {
                let sample = run.sample_pattern(pattern).unwrap_or_default();
                assert!(run.matches(pattern, &sample), "{pattern}: {sample}");
                assert!(sample.chars().all(|c| (' '..='~').contains(&c)), "{sample}");
            }
        }
        assert_eq!(run.sample_pattern("(unclosed"), None);
    }
}
