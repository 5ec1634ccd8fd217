//! The `x-hmt-id-path` JSON Schema against the store that reads the
//! extension: a value the store uses passes the schema, and a value it
//! passes over (falling back to guessing the id) is refused by it.

mod common;

use common::Api;
use hmt_state::IdSource;
use serde_json::{Value, json};

/// How the store reads `/widgets` items' ids when the collection's path
/// item carries `x-hmt-id-path: value`.
fn id_source(value: &Value) -> (String, IdSource) {
    let document = json!({
        "openapi": "3.1.0", "info": {"title": "x", "version": "1"},
        "paths": {
            "/widgets": {"x-hmt-id-path": value, "post": {"responses": {"201": {"description": "ok"}}}},
            "/widgets/{serial}": {"get": {"responses": {"200": {"description": "ok"}}}}
        }
    });
    let api = Api::new(document);
    let resource = &api.store.resources()[0];
    (resource.id_field.clone(), resource.id_source)
}

fn validator() -> jsonschema::Validator {
    let schema = serde_json::to_value(hmt_state::id_path_schema::x_hmt_id_path()).expect("JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

#[test]
fn values_the_store_uses_pass_and_values_it_passes_over_are_refused() {
    let validator = validator();
    let mut wrong = Vec::new();
    for value in [json!("spec.serial"), json!("id"), json!(".metadata..name")] {
        let (field, source) = id_source(&value);
        if source != IdSource::Extension {
            wrong.push(format!(
                "{value}: the store did not use it ({field}, {source:?})"
            ));
        }
        if !validator.is_valid(&value) {
            wrong.push(format!(
                "{value}: the schema refuses a value the store uses"
            ));
        }
    }
    for value in [
        json!(7),
        json!(""),
        json!("..."),
        json!(["id"]),
        json!(null),
    ] {
        let (field, source) = id_source(&value);
        if source == IdSource::Extension {
            wrong.push(format!("{value}: the store used it as {field}"));
        }
        if validator.is_valid(&value) {
            wrong.push(format!(
                "{value}: the schema takes a value the store passes over"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
