//! Generated values checked by an independent validator: the `jsonschema` crate, draft
//! 2020-12, with format checking on, against real specs and hand-written schemas.

use std::path::{Path, PathBuf};

use hmt_mock::dialect::normalise_document;
use hmt_mock::generate::{Direction, Generator};
use jsonschema::{Draft, Registry, Validator};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

const BASE: &str = "https://hmt.invalid/spec.json";
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn hmt_specs() -> PathBuf {
    // The original HMT's specs, copied into fixtures/hmt (see its README).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hmt/hmt/tests/serve/mock/schemas")
}

fn own_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/mock")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut doc: Value = yaml_serde::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    normalise_document(&mut doc);
    doc
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A JSON pointer token, escaped, and percent-encoded for a URI fragment.
fn token(raw: &str) -> String {
    let escaped = raw.replace('~', "~0").replace('/', "~1");
    let mut out = String::new();
    for byte in escaped.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn pointer_of(reference: &str) -> Option<String> {
    reference.strip_prefix('#').map(str::to_owned)
}

fn get<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    let decoded = pointer.replace("%7B", "{").replace("%7D", "}");
    doc.pointer(&decoded).or_else(|| doc.pointer(pointer))
}

/// Every request body and response schema of a document: (pointer, direction).
fn operation_schemas(doc: &Value) -> Vec<(String, Direction)> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let base = format!("/paths/{}/{method}", token(path));
            let mut holders = Vec::new();
            if let Some(body) = operation.get("requestBody") {
                holders.push((body, format!("{base}/requestBody"), Direction::Request));
            }
            for (status, response) in operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let at = format!("{base}/responses/{}", token(status));
                holders.push((response, at, Direction::Response));
            }
            for (holder, at, direction) in holders {
                let (holder, at) = match holder.get("$ref").and_then(Value::as_str) {
                    Some(reference) => {
                        let at = pointer_of(reference).expect("local reference");
                        (get(doc, &at).expect("resolvable reference"), at)
                    }
                    None => (holder, at),
                };
                for (media, content) in holder
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if content.get("schema").is_some() {
                        out.push((format!("{at}/content/{}/schema", token(media)), direction));
                    }
                }
            }
        }
    }
    out
}

fn registry(doc: &Value) -> Registry<'_> {
    Registry::new()
        .draft(Draft::Draft202012)
        .add(BASE, doc)
        .expect("document registers")
        .prepare()
        .expect("registry prepares")
}

fn validator(registry: &Registry<'_>, pointer: &str) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_registry(registry)
        .build(&json!({"$ref": format!("{BASE}#{pointer}")}))
        .unwrap_or_else(|e| panic!("validator for {pointer}: {e}"))
}

fn assert_valid(validator: &Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: invalid value {}\n{errors:#?}",
        serde_json::to_string(value).unwrap_or_default()
    );
}

/// Generates `seeds` values for every `step`-th operation schema and validates them all.
/// Returns how many values were checked.
fn check_spec(doc: &Value, seeds: u64, step: usize) -> usize {
    let registry = registry(doc);
    let schemas = operation_schemas(doc);
    assert!(!schemas.is_empty(), "the spec has operations with schemas");
    let mut checked = 0;
    for (pointer, direction) in schemas.iter().step_by(step) {
        let schema = get(doc, pointer).expect("schema pointer resolves");
        let validator = validator(&registry, pointer);
        let generator = Generator::new(doc).direction(*direction);
        for seed in 0..seeds {
            let value = generator.generate(schema, &mut rng(seed));
            if *direction == Direction::Response || !has_read_only(doc, schema) {
                assert_valid(&validator, &value, &format!("{pointer} seed {seed}"));
                checked += 1;
            }
        }
    }
    checked
}

/// Request values leave `readOnly` properties out even when required, as OpenAPI says, which
/// a plain JSON Schema validator does not know: such schemas are not checked.
fn has_read_only(doc: &Value, schema: &Value) -> bool {
    let mut seen: Vec<String> = Vec::new();
    let mut todo = vec![schema];
    while let Some(next) = todo.pop() {
        let text = serde_json::to_string(next).unwrap_or_default();
        if text.contains("\"readOnly\":true") {
            return true;
        }
        let mut refs = Vec::new();
        collect_refs(next, &mut refs);
        for reference in refs {
            if !seen.contains(&reference) {
                if let Some(target) = pointer_of(&reference).and_then(|p| get(doc, &p)) {
                    todo.push(target);
                }
                seen.push(reference);
            }
        }
    }
    false
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn petstore_values_are_valid() {
    let doc = load(&hmt_specs().join("petstore/index.yaml"));
    assert!(check_spec(&doc, 50, 1) >= 150);
}

#[test]
fn nordea_values_are_valid() {
    let doc = load(&hmt_specs().join("nordea/ais-v4.json"));
    assert!(check_spec(&doc, 50, 1) >= 500);
}

#[test]
fn error_only_spec_values_are_valid() {
    let doc = load(&hmt_specs().join("fails/index.yaml"));
    assert_eq!(check_spec(&doc, 50, 1), 50);
}

#[test]
fn stripe_values_are_valid() {
    let doc = load(&hmt_specs().join("stripe/index.yaml"));
    // Every third operation schema, to keep the test quick in debug builds.
    assert!(check_spec(&doc, 20, 3) >= 1000);
}

#[test]
fn own_fixture_values_are_valid() {
    let doc = load(&own_fixtures().join("catalogue.yaml"));
    assert!(check_spec(&doc, 50, 1) >= 300);
}

// ---------------------------------------------------------------------------------------------
// Hand-written schemas

/// Generates values for `schema` inside a document with `components`, validating each.
fn generate_valid(components: Value, schema: Value, seeds: u64) -> Vec<Value> {
    let doc = json!({
        "openapi": "3.1.0",
        "components": {"schemas": components},
        "x-subject": schema
    });
    let registry = registry(&doc);
    let validator = validator(&registry, "/x-subject");
    let generator = Generator::new(&doc);
    (0..seeds)
        .map(|seed| {
            let value = generator.generate(&doc["x-subject"], &mut rng(seed));
            assert_valid(&validator, &value, &format!("seed {seed}"));
            value
        })
        .collect()
}

fn values(schema: Value) -> Vec<Value> {
    generate_valid(json!({}), schema, 50)
}

fn strings(schema: Value) -> Vec<String> {
    values(schema)
        .into_iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn distinct(values: &[Value]) -> usize {
    let mut seen: Vec<String> = values.iter().map(Value::to_string).collect();
    seen.sort();
    seen.dedup();
    seen.len()
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_other_seeds_other_values() {
    let doc = load(&hmt_specs().join("petstore/index.yaml"));
    let schema = &doc["components"]["schemas"]["Pets"];
    let generator = Generator::new(&doc);
    let bytes = |seed| serde_json::to_string(&generator.generate(schema, &mut rng(seed))).unwrap();
    assert_eq!(bytes(3), bytes(3));
    let all: Vec<String> = (0..10).map(bytes).collect();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "{all:#?}");
}

#[test]
fn patterns_are_matched() {
    let pattern = regex::Regex::new(r"^[A-Z]{3}-[0-9]{4}$").unwrap();
    let codes = strings(json!({"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}));
    assert!(codes.iter().all(|c| pattern.is_match(c)), "{codes:?}");
    assert!(codes.len() > 1 && codes[0] != codes[1]);
    // Unanchored, with a length: the match may be anywhere but the length holds.
    let short = strings(json!({"type": "string", "pattern": "[a-z]+", "maxLength": 4}));
    assert!(short.iter().all(|s| (1..=4).contains(&s.chars().count())));
    // `.` and `\w` give readable text, not random Unicode.
    let words = strings(json!({"type": "string", "pattern": "^\\w{5}\\.\\S+$"}));
    assert!(words.iter().all(|s| s.is_ascii()), "{words:?}");
}

#[test]
fn formats_are_well_formed() {
    for format in [
        "date-time",
        "date",
        "time",
        "email",
        "uri",
        "uuid",
        "hostname",
        "ipv4",
        "ipv6",
        "duration",
        "json-pointer",
        "uri-reference",
    ] {
        let all = strings(json!({"type": "string", "format": format}));
        assert!(
            distinct(&all.iter().map(|s| json!(s)).collect::<Vec<_>>()) > 1,
            "{format}"
        );
    }
    let uuid =
        regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    assert!(
        strings(json!({"type": "string", "format": "uuid"}))
            .iter()
            .all(|u| uuid.is_match(u))
    );
    let date_time = regex::Regex::new(r"^20[2-9]\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$").unwrap();
    let stamps = strings(json!({"type": "string", "format": "date-time"}));
    assert!(stamps.iter().all(|s| date_time.is_match(s)), "{stamps:?}");
    let patterns = strings(json!({"type": "string", "format": "regex"}));
    assert!(patterns.iter().all(|p| regex::Regex::new(p).is_ok()));
    let url = strings(json!({"type": "string", "format": "url"}));
    assert!(url.iter().all(|u| u.starts_with("https://")), "{url:?}");
    let bytes = strings(json!({"type": "string", "format": "byte"}));
    let base64 = regex::Regex::new(r"^[A-Za-z0-9+/]+=*$").unwrap();
    assert!(
        bytes.iter().all(|b| base64.is_match(b) && b.len() % 4 == 0),
        "{bytes:?}"
    );
    let password = strings(json!({"type": "string", "format": "password", "minLength": 8}));
    assert!(password.iter().all(|p| p.len() >= 8));
    // Unknown formats are free-form strings.
    assert_eq!(
        strings(json!({"type": "string", "format": "x-shoe-size"})).len(),
        50
    );
    let int32 = values(json!({"type": "integer", "format": "int32", "minimum": 2147483000}));
    assert!(
        int32
            .iter()
            .all(|v| v.as_i64().is_some_and(|i| i <= i64::from(i32::MAX)))
    );
}

#[test]
fn emails_and_names_look_real() {
    let people = values(json!({
        "type": "object",
        "required": ["email", "firstName", "last_name", "username", "city", "country", "phone",
                     "website", "avatar", "zip", "street", "company", "description", "currency",
                     "color", "title"],
        "properties": {
            "email": {"type": "string"},
            "firstName": {"type": "string"},
            "last_name": {"type": "string"},
            "username": {"type": "string"},
            "city": {"type": "string"},
            "country": {"type": "string"},
            "phone": {"type": "string"},
            "website": {"type": "string"},
            "avatar": {"type": "string"},
            "zip": {"type": "string"},
            "street": {"type": "string"},
            "company": {"type": "string"},
            "description": {"type": "string"},
            "currency": {"type": "string"},
            "color": {"type": "string"},
            "title": {"type": "string"}
        }
    }));
    let currency = regex::Regex::new("^[A-Z]{3}$").unwrap();
    let color = regex::Regex::new("^#[0-9a-f]{6}$").unwrap();
    for person in &people {
        let text = |key: &str| person[key].as_str().unwrap_or_default().to_owned();
        assert!(
            text("email").contains('@') && text("email").contains('.'),
            "{person}"
        );
        assert!(
            text("firstName")
                .chars()
                .next()
                .is_some_and(char::is_uppercase),
            "{person}"
        );
        assert!(text("website").starts_with("https://"), "{person}");
        assert!(text("avatar").starts_with("https://"), "{person}");
        assert!(text("zip").chars().any(|c| c.is_ascii_digit()), "{person}");
        assert!(text("street").split(' ').count() >= 3, "{person}");
        assert!(text("description").ends_with('.'), "{person}");
        assert!(currency.is_match(&text("currency")), "{person}");
        assert!(color.is_match(&text("color")), "{person}");
    }
    let cities: Vec<Value> = people.iter().map(|p| p["city"].clone()).collect();
    assert!(distinct(&cities) > 10);
}

#[test]
fn names_only_apply_when_the_schema_allows_them() {
    // An email cannot fit in 3 characters, a city must match the pattern: plain values then.
    let all = values(json!({
        "type": "object",
        "required": ["email", "city", "status"],
        "properties": {
            "email": {"type": "string", "maxLength": 3},
            "city": {"type": "string", "pattern": "^[0-9]{2}$"},
            "status": {"type": "string", "enum": ["open", "closed"]}
        }
    }));
    for value in &all {
        assert!(
            value["email"]
                .as_str()
                .is_some_and(|e| e.chars().count() <= 3)
        );
        assert!(value["status"] == "open" || value["status"] == "closed");
    }
}

#[test]
fn ids_dates_money_and_coordinates_are_plausible() {
    let all = values(json!({
        "type": "object",
        "required": ["id", "order_id", "ref_id", "created_at", "price", "amount", "latitude", "lng"],
        "properties": {
            "id": {"type": "integer"},
            "order_id": {"type": "string"},
            "ref_id": {"type": "string", "format": "uuid"},
            "created_at": {"type": "string"},
            "price": {"type": "number", "minimum": 5, "maximum": 20},
            "amount": {"type": "number"},
            "latitude": {"type": "number"},
            "lng": {"type": "number"}
        }
    }));
    for value in &all {
        assert!(value["id"].as_i64().is_some_and(|id| id >= 1), "{value}");
        assert_eq!(
            value["order_id"].as_str().map(str::len),
            Some(36),
            "{value}"
        );
        assert!(
            value["created_at"]
                .as_str()
                .is_some_and(|d| d.ends_with('Z') && d.len() == 20)
        );
        let price = value["price"].as_f64().unwrap_or(-1.0);
        assert!((5.0..=20.0).contains(&price), "{value}");
        assert!(
            ((price * 100.0).round() - price * 100.0).abs() < 1e-6,
            "2 decimals: {price}"
        );
        assert!((-90.0..=90.0).contains(&value["latitude"].as_f64().unwrap_or(99.0)));
        assert!((-180.0..=180.0).contains(&value["lng"].as_f64().unwrap_or(999.0)));
    }
}

#[test]
fn enums_and_consts_are_respected() {
    let colours = values(json!({"type": "string", "enum": ["red", "green", "blue"]}));
    assert!(
        colours
            .iter()
            .all(|c| ["red", "green", "blue"].contains(&c.as_str().unwrap_or("")))
    );
    assert_eq!(distinct(&colours), 3);
    let constant = values(json!({"const": {"a": [1, 2]}}));
    assert!(constant.iter().all(|c| c == &json!({"a": [1, 2]})));
    // `allOf` narrows an enum.
    let narrowed =
        values(json!({"allOf": [{"enum": [1, 2, 3]}, {"enum": [2, 3, 4]}, {"not": {"const": 3}}]}));
    assert!(narrowed.iter().all(|v| v == &json!(2)), "{narrowed:?}");
}

#[test]
fn numbers_stay_within_bounds_and_steps() {
    let small = values(json!({"type": "integer"}));
    assert!(
        small
            .iter()
            .all(|v| v.as_i64().is_some_and(|i| (1..=100).contains(&i)))
    );
    let exclusive =
        values(json!({"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 13}));
    assert!(exclusive.iter().all(|v| v == &json!(11) || v == &json!(12)));
    assert_eq!(distinct(&exclusive), 2);
    let stepped =
        values(json!({"type": "integer", "multipleOf": 7, "minimum": -50, "maximum": -1}));
    assert!(
        stepped
            .iter()
            .all(|v| v.as_i64().is_some_and(|i| i % 7 == 0 && i < 0))
    );
    let cents = values(json!({"type": "number", "multipleOf": 0.01, "minimum": 0.5, "maximum": 3}));
    assert!(
        cents
            .iter()
            .all(|v| v.as_f64().is_some_and(|f| (0.5..=3.0).contains(&f)))
    );
    let halves = values(json!({"type": "number", "multipleOf": 0.5, "exclusiveMaximum": 0}));
    assert!(halves.iter().all(|v| {
        v.as_f64()
            .is_some_and(|f| f < 0.0 && (f * 2.0).fract() == 0.0)
    }));
    assert!(distinct(&halves) > 5);
    // OpenAPI 3.0 boolean exclusives, not normalised.
    let doc = json!({});
    let schema = json!({"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": true, "exclusiveMaximum": true});
    for seed in 0..50 {
        let v = Generator::new(&doc).generate(&schema, &mut rng(seed));
        assert!(v.as_f64().is_some_and(|f| f > 0.0 && f < 1.0), "{v}");
    }
    let floats =
        values(json!({"type": "number", "format": "double", "minimum": -1.5, "maximum": -1.25}));
    assert!(
        floats
            .iter()
            .all(|v| v.as_f64().is_some_and(|f| (-1.5..=-1.25).contains(&f)))
    );
}

#[test]
fn string_lengths_are_respected() {
    let fixed = strings(json!({"type": "string", "minLength": 12, "maxLength": 12}));
    assert!(fixed.iter().all(|s| s.chars().count() == 12), "{fixed:?}");
    let long = strings(json!({"type": "string", "minLength": 300}));
    assert!(long.iter().all(|s| s.chars().count() >= 300));
    let short = strings(json!({"type": "string", "maxLength": 2}));
    assert!(short.iter().all(|s| s.chars().count() <= 2));
}

#[test]
fn arrays_have_sensible_sizes_and_unique_items() {
    let lists = values(json!({"type": "array", "items": {"type": "integer"}}));
    assert!(
        lists
            .iter()
            .all(|l| l.as_array().is_some_and(|l| (1..=5).contains(&l.len())))
    );
    let bounded = values(
        json!({"type": "array", "minItems": 7, "maxItems": 9, "items": {"type": "boolean", "enum": [true, false, null]}, "uniqueItems": false}),
    );
    assert!(
        bounded
            .iter()
            .all(|l| l.as_array().is_some_and(|l| (7..=9).contains(&l.len())))
    );
    let unique = values(
        json!({"type": "array", "minItems": 3, "uniqueItems": true, "items": {"type": "integer", "minimum": 1, "maximum": 4}}),
    );
    assert!(
        unique
            .iter()
            .all(|l| l.as_array().is_some_and(|l| l.len() >= 3))
    );
    let tuples = values(
        json!({"type": "array", "prefixItems": [{"type": "string", "format": "date"}, {"type": "integer"}], "items": false, "minItems": 2}),
    );
    assert!(tuples.iter().all(|t| t[0].is_string() && t[1].is_i64()));
    let empty = values(json!({"type": "array", "maxItems": 0}));
    assert!(empty.iter().all(|l| l == &json!([])));
    let contains = values(
        json!({"type": "array", "contains": {"const": "needle"}, "items": {"type": "string"}}),
    );
    assert!(contains.iter().all(|l| l[0] == "needle"));
}

#[test]
fn objects_respect_required_additional_and_property_counts() {
    let closed = values(json!({
        "type": "object", "additionalProperties": false, "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}
    }));
    assert!(closed.iter().all(|o| o["a"].is_string()));
    assert!(closed.iter().all(|o| {
        o.as_object()
            .is_some_and(|o| o.keys().all(|k| k == "a" || k == "b"))
    }));
    assert!(
        closed.iter().any(|o| o.get("b").is_none()),
        "optional properties are sometimes left out"
    );
    assert!(
        closed.iter().any(|o| o.get("b").is_some()),
        "and sometimes present"
    );
    let map = values(
        json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 5}}),
    );
    assert!(map.iter().all(|m| {
        m.as_object()
            .is_some_and(|m| !m.is_empty() && m.values().all(|v| v.as_i64() >= Some(5)))
    }));
    let counted = values(
        json!({"type": "object", "minProperties": 4, "maxProperties": 4,
        "properties": {"a": {"type": "string"}}}),
    );
    assert!(
        counted
            .iter()
            .all(|m| m.as_object().is_some_and(|m| m.len() == 4))
    );
    let at_most = values(json!({"type": "object", "maxProperties": 1,
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}}}));
    assert!(
        at_most
            .iter()
            .all(|m| m.as_object().is_some_and(|m| m.len() <= 1))
    );
    let patterned = values(json!({"type": "object", "minProperties": 2,
        "patternProperties": {"^x-[a-z]{3}$": {"type": "boolean"}}, "additionalProperties": false}));
    assert!(patterned.iter().all(|m| {
        m.as_object()
            .is_some_and(|m| m.len() >= 2 && m.values().all(Value::is_boolean))
    }));
    // Required properties without a schema still appear.
    let bare = values(json!({"type": "object", "required": ["anything"]}));
    assert!(bare.iter().all(|m| m.get("anything").is_some()));
}

#[test]
fn all_of_merges_members() {
    let components = json!({
        "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 10}}},
        "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 5}}}
    });
    let schema = json!({"allOf": [
        {"$ref": "#/components/schemas/Base"},
        {"$ref": "#/components/schemas/Named"},
        {"properties": {"id": {"maximum": 12}}}
    ]});
    for value in generate_valid(components, schema, 50) {
        assert!(
            value["id"]
                .as_i64()
                .is_some_and(|id| (10..=12).contains(&id)),
            "{value}"
        );
        assert!(
            value["name"]
                .as_str()
                .is_some_and(|n| n.chars().count() <= 5),
            "{value}"
        );
    }
}

fn pets() -> Value {
    json!({
        "Cat": {"type": "object", "required": ["petType", "meows"], "properties": {
            "petType": {"type": "string"}, "meows": {"type": "boolean"}}},
        "Dog": {"type": "object", "required": ["petType", "barks"], "properties": {
            "petType": {"type": "string"}, "barks": {"type": "integer", "minimum": 0}}},
        "Lizard": {"type": "object", "required": ["petType", "scales"], "properties": {
            "petType": {"type": "string"}, "scales": {"type": "string"}}},
    })
}

#[test]
fn one_of_with_a_discriminator_names_the_branch() {
    let schema = json!({
        "oneOf": [
            {"$ref": "#/components/schemas/Cat"},
            {"$ref": "#/components/schemas/Dog"},
            {"$ref": "#/components/schemas/Lizard"}
        ],
        "discriminator": {"propertyName": "petType", "mapping": {"dog": "#/components/schemas/Dog"}}
    });
    let all = generate_valid(pets(), schema, 50);
    for pet in &all {
        let kind = pet["petType"].as_str().unwrap_or_default();
        match kind {
            "Cat" => assert!(pet["meows"].is_boolean()),
            "dog" => assert!(pet["barks"].is_u64()),
            "Lizard" => assert!(pet.get("meows").is_none() && pet.get("barks").is_none()),
            other => panic!("unexpected petType {other}: {pet}"),
        }
    }
    let kinds: Vec<Value> = all.iter().map(|p| p["petType"].clone()).collect();
    assert_eq!(distinct(&kinds), 3);
}

#[test]
fn a_base_schema_discriminator_names_the_subschema() {
    let components = json!({
        "Pet": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}},
                "discriminator": {"propertyName": "kind"}},
        "Hamster": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                              {"type": "object", "properties": {"wheel": {"type": "boolean"}}}]}
    });
    let all = generate_valid(
        components,
        json!({"$ref": "#/components/schemas/Hamster"}),
        20,
    );
    assert!(all.iter().all(|h| h["kind"] == "Hamster"), "{all:?}");
}

#[test]
fn one_of_values_match_exactly_one_branch() {
    // Without a discriminator, only the types or required properties tell branches apart.
    let by_type = values(
        json!({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0.5}, {"type": "string", "format": "date"}]}),
    );
    assert!(by_type.iter().any(Value::is_string) && by_type.iter().any(Value::is_number));
    let by_required = values(json!({"oneOf": [
        {"type": "object", "required": ["card"], "properties": {"card": {"type": "string"}}},
        {"type": "object", "required": ["iban"], "properties": {"iban": {"type": "string"}}, "not": {"required": ["card"]}}
    ]}));
    assert!(by_required.iter().any(|v| v.get("card").is_some()));
    assert!(by_required.iter().any(|v| v.get("iban").is_some()));
}

#[test]
fn any_of_picks_branches() {
    let all = values(
        json!({"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string", "format": "email"}}]}),
    );
    assert!(all.iter().any(Value::is_boolean) && all.iter().any(Value::is_array));
}

#[test]
fn nullable_values_are_sometimes_null() {
    let doc = json!({});
    let schema = json!({"type": "string", "nullable": true, "minLength": 2});
    let all: Vec<Value> = (0..100)
        .map(|seed| Generator::new(&doc).generate(&schema, &mut rng(seed)))
        .collect();
    assert!(all.iter().any(Value::is_null) && all.iter().any(Value::is_string));
    assert!(
        all.iter().filter(|v| v.is_null()).count() < 40,
        "mostly not null"
    );
    let typed = values(json!({"type": ["integer", "null"]}));
    assert!(typed.iter().any(Value::is_null) && typed.iter().any(Value::is_i64));
    let only_null = values(json!({"type": "null"}));
    assert!(only_null.iter().all(Value::is_null));
}

#[test]
fn read_only_and_write_only_depend_on_the_direction() {
    let doc = json!({});
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer", "readOnly": true},
        "password": {"type": "string", "writeOnly": true},
        "name": {"type": "string"}
    }, "required": ["name"]});
    for seed in 0..30 {
        let response = Generator::new(&doc).generate(&schema, &mut rng(seed));
        assert!(response.get("password").is_none(), "{response}");
        let request = Generator::new(&doc)
            .direction(Direction::Request)
            .generate(&schema, &mut rng(seed));
        assert!(request.get("id").is_none(), "{request}");
    }
}

#[test]
fn recursive_schemas_terminate() {
    let components = json!({
        "Node": {"type": "object", "required": ["name", "children"], "properties": {
            "name": {"type": "string"},
            "parent": {"$ref": "#/components/schemas/Node"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
        }},
        "Loop": {"$ref": "#/components/schemas/Loop"},
        "Required": {"type": "object", "required": ["next"], "properties": {
            "next": {"$ref": "#/components/schemas/Required"}}}
    });
    let trees = generate_valid(
        components.clone(),
        json!({"$ref": "#/components/schemas/Node"}),
        30,
    );
    assert!(
        trees
            .iter()
            .any(|t| t["children"].as_array().is_some_and(|c| !c.is_empty()))
    );
    assert!(
        trees
            .iter()
            .all(|t| serde_json::to_string(t).unwrap().len() < 200_000)
    );
    // Unsatisfiable recursion: no valid value exists, but generation still ends.
    let doc = json!({"components": {"schemas": components}});
    for name in ["Loop", "Required"] {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        let _ = Generator::new(&doc).generate(&schema, &mut rng(1));
    }
}

#[test]
fn examples_and_defaults_are_used_only_when_valid() {
    let good = values(json!({"type": "string", "example": "Rex the dog", "maxLength": 20}));
    assert!(good.iter().any(|v| v == "Rex the dog"));
    assert!(
        good.iter().any(|v| v != "Rex the dog"),
        "examples are not the only values"
    );
    let defaults = values(json!({"type": "integer", "default": 42, "examples": [7]}));
    assert!(defaults.iter().any(|v| v == 42) && defaults.iter().any(|v| v == 7));
    let bad = values(json!({"type": "string", "format": "date", "example": "yesterday"}));
    assert!(bad.iter().all(|v| v != "yesterday"));
}

#[test]
fn escaped_and_percent_encoded_references_resolve() {
    let components =
        json!({"a/b": {"type": "integer", "const": 1}, "c~d": {"const": 2}, "e f": {"const": 3}});
    let schema = json!({"type": "array", "prefixItems": [
        {"$ref": "#/components/schemas/a~1b"},
        {"$ref": "#/components/schemas/c~0d"},
        {"$ref": "#/components/schemas/e%20f"}
    ], "minItems": 3, "maxItems": 3});
    let all = generate_valid(components, schema, 5);
    assert!(all.iter().all(|v| v == &json!([1, 2, 3])), "{all:?}");
}

#[test]
fn impossible_schemas_give_a_best_effort_value_without_panicking() {
    let doc = json!({"components": {"schemas": {
        "Doubling": {"allOf": [{"$ref": "#/components/schemas/Doubling"}, {"$ref": "#/components/schemas/Doubling"}],
                     "anyOf": [{"$ref": "#/components/schemas/Doubling"}, {"$ref": "#/components/schemas/Doubling"}]}
    }}});
    let generator = Generator::new(&doc);
    for schema in [
        json!({"$ref": "#/components/schemas/Missing"}),
        json!({"$ref": "https://example.com/elsewhere.json"}),
        json!({"type": "integer", "minimum": 10, "maximum": 1}),
        json!({"type": "string", "minLength": 5, "maxLength": 2}),
        json!({"type": "string", "pattern": "(unclosed"}),
        json!({"type": "string", "pattern": "^(?=lookahead)x$"}),
        json!({"type": "number", "multipleOf": 0.0}),
        json!({"type": "integer", "multipleOf": 1e300}),
        json!({"type": "array", "minItems": 1_000_000_000u64, "items": {"type": "integer"}}),
        json!({"allOf": [{"type": "string"}, {"type": "integer"}]}),
        json!({"oneOf": []}),
        json!({"enum": []}),
        json!(false),
        json!("not a schema"),
        json!({"type": "string", "format": "no-such-format"}),
        json!({"properties": {"x": {"$ref": 12}}}),
        json!({"$ref": "#/components/schemas/Doubling"}),
        json!({"oneOf": [{"$ref": "#/components/schemas/Doubling"}, {"$ref": "#/components/schemas/Doubling"}]}),
        json!({"type": "string", "format": "date", "example": "2024-0é-1"}),
        json!({"type": "string", "format": "time", "example": "12:00:00+0é"}),
    ] {
        let _ = generator.generate(&schema, &mut rng(0));
    }
    let value = generator.generate(
        &json!({"type": "integer", "minimum": 10, "maximum": 1}),
        &mut rng(0),
    );
    assert!(
        value.is_i64(),
        "contradicting bounds still give an integer: {value}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Arbitrary schema-shaped JSON: keywords with plausible and implausible values.
    fn schema() -> impl Strategy<Value = Value> {
        let keyword = prop_oneof![
            Just("type"),
            Just("enum"),
            Just("const"),
            Just("minimum"),
            Just("maximum"),
            Just("exclusiveMinimum"),
            Just("exclusiveMaximum"),
            Just("multipleOf"),
            Just("minLength"),
            Just("maxLength"),
            Just("pattern"),
            Just("format"),
            Just("minItems"),
            Just("maxItems"),
            Just("uniqueItems"),
            Just("required"),
            Just("minProperties"),
            Just("maxProperties"),
            Just("nullable"),
            Just("$ref"),
            Just("additionalProperties"),
            Just("readOnly"),
            Just("writeOnly"),
            Just("example"),
        ];
        let scalar = prop_oneof![
            Just(json!("string")),
            Just(json!("integer")),
            Just(json!("number")),
            Just(json!("object")),
            Just(json!("array")),
            Just(json!("null")),
            Just(json!(["string", "null"])),
            Just(json!("date-time")),
            Just(json!("email")),
            Just(json!("#/components/schemas/S")),
            Just(json!("#/nowhere")),
            Just(json!("^[a-z]{2,4}$")),
            Just(json!("[")),
            Just(json!(["a", "b"])),
            any::<bool>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            (-1.0e3f64..1.0e3).prop_map(Value::from),
            Just(json!(0.01)),
            Just(json!(null)),
            Just(json!([])),
        ];
        let leaf = proptest::collection::vec((keyword, scalar), 0..5).prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        });
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|s| json!({"allOf": s})),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|s| json!({"oneOf": s})),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|s| json!({"anyOf": s})),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| json!({"type": "object", "properties": {"a": a, "b": b}, "required": ["a"]})),
                inner.clone().prop_map(|s| json!({"type": "array", "items": s})),
                inner.clone().prop_map(|s| json!({"not": s})),
                inner.prop_map(|s| json!({"additionalProperties": s, "minProperties": 2})),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_schema_generates_without_panicking(s in schema(), seed in any::<u64>()) {
            let doc = json!({"components": {"schemas": {"S": s.clone()}}});
            let generator = Generator::new(&doc);
            let first = generator.generate(&s, &mut rng(seed));
            let again = generator.generate(&s, &mut rng(seed));
            prop_assert_eq!(&first, &again);
            // Whatever it made is valid by its own check when the schema is satisfiable and
            // checkable: at least, the check itself never panics.
            let _ = generator.is_valid(&s, &first);
        }
    }
}

#[test]
fn the_validator_used_here_checks_formats_and_references() {
    // Guards the other tests: a validator that accepted anything would make them pass.
    let doc = json!({"components": {"schemas": {"Mail": {"type": "string", "format": "email"}}},
                     "x-subject": {"$ref": "#/components/schemas/Mail"}});
    let registry = registry(&doc);
    let validator = validator(&registry, "/x-subject");
    assert!(validator.is_valid(&json!("ann@example.com")));
    assert!(!validator.is_valid(&json!("not an email")));
    assert!(!validator.is_valid(&json!(12)));
}
