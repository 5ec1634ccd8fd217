//! `hmt mock --stateful` driven with curl: the store exported through the
//! admin API as http-types seeds another mock with `--recordings`, a reset
//! goes back to that seed, and recorded objects the spec refuses are
//! reported with their line and JSON pointer.

mod common;
mod common_mock;

use common_mock::{CurlReply, curl, start};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Swagger's petstore as HMT's fixtures have it: `POST /pets`,
/// `GET /pets`, `GET /pets/{petId}`; a `Pet` needs an integer `id` and a
/// string `name`.
fn petstore() -> PathBuf {
    common::hmt_fixtures().join("hmt/tests/serve/mock/schemas/petstore/index.yaml")
}

fn post_json(url: &str, body: &Value) -> CurlReply {
    curl(
        &[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data-binary",
            &body.to_string(),
        ],
        url,
    )
}

fn delete(url: &str) -> CurlReply {
    curl(&["-X", "DELETE"], url)
}

/// [`petstore`] whose `POST /pets` takes the pet as its JSON body (the
/// fixture's takes no body), written in `dir`.
fn petstore_that_creates(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(petstore()).unwrap();
    let creates = text.replace(
        "      operationId: createPets\n",
        "      operationId: createPets\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema:\n              $ref: \"#/components/schemas/Pet\"\n",
    );
    assert_ne!(creates, text);
    let file = dir.join("petstore.yaml");
    std::fs::write(&file, creates).unwrap();
    file
}

#[test]
fn the_exported_store_seeds_another_mock_and_reset_goes_back_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = petstore_that_creates(dir.path());
    let spec = spec.to_str().unwrap();
    let first = start(&[spec, "--stateful"]);
    for pet in [
        json!({"id": 10, "name": "Ten"}),
        json!({"id": 2, "name": "Two", "tag": "dog"}),
    ] {
        assert_eq!(post_json(&format!("{}/pets", first.base), &pet).status, 201);
    }
    let export_url = format!("{}/admin/state?format=http-types", first.admin);
    let exported = curl(&[], &export_url);
    assert_eq!(exported.status, 200);
    assert_eq!(
        exported.header_values("content-type"),
        ["application/jsonl"]
    );
    let lines: Vec<Value> = exported
        .body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // One POST per pet, by id (2 before 10), answered 201 with the pet.
    assert_eq!(lines.len(), 2, "{}", exported.body);
    assert_eq!(lines[0]["request"]["method"], "post");
    assert_eq!(lines[0]["request"]["host"], "petstore.swagger.io");
    assert_eq!(lines[0]["request"]["path"], "/pets");
    assert_eq!(
        lines[0]["request"]["body"],
        r#"{"id":2,"name":"Two","tag":"dog"}"#
    );
    assert_eq!(lines[0]["response"]["statusCode"], 201);
    assert_eq!(lines[0]["response"]["body"], lines[0]["request"]["body"]);
    assert_eq!(lines[1]["request"]["body"], r#"{"id":10,"name":"Ten"}"#);

    let saved = dir.path().join("state.jsonl");
    std::fs::write(&saved, &exported.body).unwrap();
    let second = start(&[spec, "--stateful", "--recordings", saved.to_str().unwrap()]);
    assert!(second.log.is_empty(), "{:?}", second.log);
    for id in [2, 10] {
        let path = format!("/pets/{id}");
        let original = curl(&[], &format!("{}{path}", first.base));
        let copy = curl(&[], &format!("{}{path}", second.base));
        assert_eq!((copy.status, copy.json()), (200, original.json()));
    }
    // The same store exports the same bytes.
    assert_eq!(
        curl(
            &[],
            &format!("{}/admin/state?format=http-types", second.admin)
        )
        .body,
        exported.body
    );

    // A reset goes back to the seed; ?empty=true empties.
    let pets = format!("{}/pets", second.base);
    let state = format!("{}/admin/state", second.admin);
    assert_eq!(
        post_json(&pets, &json!({"id": 3, "name": "Three"})).status,
        201
    );
    assert_eq!(delete(&state).status, 204);
    assert_eq!(curl(&[], &format!("{pets}/3")).status, 404);
    assert_eq!(curl(&[], &format!("{pets}/2")).status, 200);
    assert_eq!(delete(&format!("{state}?empty=true")).status, 204);
    assert_eq!(curl(&[], &pets).json(), json!([]));
    assert_eq!(delete(&state).status, 204);
    assert_eq!(curl(&[], &format!("{pets}/10")).json()["name"], "Ten");

    let refused = delete(&format!("{state}?empty=yes"));
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json()["detail"],
        "DELETE /admin/state?empty=yes: empty is true or false"
    );
    assert_eq!(
        curl(&[], &format!("{state}?format=yaml")).json()["detail"],
        "GET /admin/state?format=yaml: the formats are json (the default) and http-types"
    );
}

#[test]
fn recorded_objects_the_spec_refuses_are_reported_with_line_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("upstream.jsonl");
    let exchange = |body: Value| {
        json!({
            "request": {"method": "post", "host": "petstore.swagger.io", "path": "/pets"},
            "response": {"statusCode": 201, "body": body.to_string()}
        })
        .to_string()
    };
    std::fs::write(
        &recorded,
        [
            exchange(json!({"id": 1, "name": "Kept"})),
            exchange(json!({"id": 2, "name": {"first": "Not", "last": "Text"}})),
            exchange(json!({"id": 3})),
        ]
        .join("\n"),
    )
    .unwrap();
    let spec = petstore();
    let mock = start(&[
        spec.to_str().unwrap(),
        "--stateful",
        "--recordings",
        recorded.to_str().unwrap(),
    ]);
    let warnings: Vec<&String> = mock
        .log
        .iter()
        .filter(|line| line.contains("not stored"))
        .collect();
    let file = recorded.display();
    assert_eq!(warnings.len(), 2, "{:?}", mock.log);
    assert!(
        warnings[0].contains(&format!(
            "{file}:2: POST /pets: not stored: at /name: {{\"first\":\"Not\",\"last\":\"Text\"}} is not of type \"string\" (the schema at {}#/components/schemas/Pet)",
            spec.display()
        )),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains(&format!(
            "{file}:3: POST /pets: not stored: at /: \"name\" is a required property"
        )),
        "{}",
        warnings[1]
    );
    assert_eq!(
        curl(&[], &format!("{}/admin/state", mock.admin)).json()["Swagger Petstore"],
        json!({"/pets": [{"id": 1, "name": "Kept"}]})
    );
}
