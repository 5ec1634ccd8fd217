//! Numbers of any size in specs load (OpenAI's and DigitalOcean's specs
//! carry int64 and uint64 bounds and larger), and values are still
//! validated against them.

use hmt_openapi::model::Spec;
use hmt_openapi::validate::SpecValidators;
use serde_json::{Value, json};

const YAML: &str = r##"
openapi: 3.1.0
info: {title: numbers, version: "1"}
paths:
  /items:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Bounds"}
components:
  schemas:
    Bounds:
      type: object
      properties:
        int64:
          type: integer
          format: int64
          minimum: -9223372036854775808
          maximum: 9223372036854775807
        uint64:
          type: integer
          minimum: 0
          maximum: 18446744073709551615
        past64:
          type: integer
          maximum: 18446744073709551616
        huge:
          type: number
          minimum: -1e400
          maximum: 1e400
"##;

fn load(name: &str, text: &str) -> Spec {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    hmt_openapi::load(&[file])
        .unwrap_or_else(|e| panic!("{name} loads: {e}"))
        .remove(0)
}

/// The same document as JSON, numbers spelled as in the YAML.
const JSON: &str = r##"{"openapi": "3.1.0", "info": {"title": "numbers", "version": "1"},
    "paths": {"/items": {"get": {"responses": {"200": {"description": "ok",
      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Bounds"}}}}}}}},
    "components": {"schemas": {"Bounds": {"type": "object", "properties": {
      "int64": {"type": "integer", "format": "int64", "minimum": -9223372036854775808, "maximum": 9223372036854775807},
      "uint64": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
      "past64": {"type": "integer", "maximum": 18446744073709551616},
      "huge": {"type": "number", "minimum": -1e400, "maximum": 1e400}}}}}}"##;

/// `text` read as JSON the way a request body is.
fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn check(spec: &Spec) {
    let bounds = &spec.document["components"]["schemas"]["Bounds"]["properties"];
    // Bounds that fit 64 bits are exact.
    assert_eq!(bounds["int64"]["minimum"].as_i64(), Some(i64::MIN));
    assert_eq!(bounds["int64"]["maximum"].as_i64(), Some(i64::MAX));
    assert_eq!(bounds["uint64"]["maximum"].as_u64(), Some(u64::MAX));
    // Past f64 is f64's largest.
    assert_eq!(bounds["huge"]["maximum"], json!(f64::MAX));
    assert_eq!(bounds["huge"]["minimum"], json!(f64::MIN));

    let validator = SpecValidators::new(spec)
        .validator(spec, "/components/schemas/Bounds")
        .expect("the schema compiles");
    for value in [
        json!({"int64": i64::MIN, "uint64": u64::MAX}),
        json!({"int64": i64::MAX, "uint64": 0}),
        json!({"huge": 1e300, "past64": 18446744073709551615u64}),
        json!({"huge": -1e300}),
    ] {
        assert!(validator.is_valid(&value), "{value} is valid");
    }
    // Past each bound is refused. A body's number past 64 bits is an f64,
    // as serde_json reads it: -9223372036854775809 would be -2^63 exactly,
    // so the next f64 below is used.
    for text in [
        r#"{"int64": -9223372036854777856}"#,
        r#"{"int64": 9223372036854775808}"#,
        r#"{"uint64": 18446744073709551616}"#,
        r#"{"uint64": -1}"#,
        r#"{"past64": 1e20}"#,
        r#"{"int64": "1"}"#,
    ] {
        assert!(!validator.is_valid(&body(text)), "{text} is invalid");
    }
    assert_eq!(spec.operations.len(), 1);
}

#[test]
fn yaml_bounds_of_any_size_load_and_validate() {
    check(&load("numbers.yaml", YAML));
}

#[test]
fn json_bounds_of_any_size_load_and_validate() {
    check(&load("numbers.json", JSON));
}
