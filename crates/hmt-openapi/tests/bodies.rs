//! Request bodies: forms field by field, multipart parts with their
//! encoding, media type parameters and ranges, and bodies sent where none
//! is documented.

use hmt_openapi::validate::{Refusal, RequestView, SpecValidators};
use hmt_openapi::{LoadedSpec, Spec, compile};
use serde_json::json;

fn spec() -> Spec {
    let charge = json!({"type": "object", "additionalProperties": false, "required": ["amount"],
    "properties": {
        "amount": {"type": "integer", "minimum": 1},
        "capture": {"type": "boolean"},
        "expand": {"type": "array", "items": {"type": "string"}},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "metadata": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "string", "enum": [""]}]},
        "items": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "string"}, "quantity": {"type": "integer"}}}}
    }});
    compile(LoadedSpec {
        file: "bodies.yaml".into(),
        document: json!({
            "openapi": "3.1.0",
            "info": {"title": "bodies", "version": "1"},
            "paths": {
                "/charges": {"post": {
                    "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {
                        "schema": charge,
                        "encoding": {"ids": {"style": "form", "explode": false}, "metadata": {"style": "deepObject", "explode": true}}
                    }}},
                    "responses": {"200": {"description": "ok"}}
                }},
                "/upload": {"post": {
                    "requestBody": {"content": {"multipart/form-data": {
                        "schema": {"type": "object", "required": ["meta", "count"], "properties": {
                            "meta": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
                            "count": {"type": "integer"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "file": {"type": "string", "format": "binary"}
                        }},
                        "encoding": {"meta": {"contentType": "application/json"}, "file": {"contentType": "image/png, image/jpeg"}}
                    }}},
                    "responses": {"200": {"description": "ok"}}
                }},
                "/patch": {"patch": {
                    "requestBody": {"content": {
                        "application/*+json": {"schema": {"type": "object", "required": ["op"]}},
                        "application/json": {"schema": {"type": "object", "required": ["full"]}}
                    }},
                    "responses": {"200": {"description": "ok"}}
                }},
                "/plain": {"get": {"responses": {"200": {"description": "ok"}}}}
            }
        }),
    })
    .unwrap()
}

fn check(operation: usize, content_type: Option<&str>, body: &[u8]) -> Result<(), Refusal> {
    let spec = spec();
    let validators = SpecValidators::new(&spec);
    let none = |_: &str| Vec::new();
    validators.check(
        &spec,
        operation,
        &RequestView {
            path_params: &[],
            query: &[],
            header: &none,
            cookie: &none,
            content_type,
            body,
        },
    )
}

fn issues(result: Result<(), Refusal>) -> Vec<(String, String)> {
    match result {
        Err(Refusal::Invalid(issues)) => {
            issues.into_iter().map(|i| (i.pointer, i.message)).collect()
        }
        other => panic!("expected issues, got {other:?}"),
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

#[test]
fn form_fields_are_read_as_their_properties_types() {
    let ok = check(
        0,
        FORM,
        b"amount=100&capture=false&expand[]=customer&expand[]=invoice&ids=1,2,3&metadata[order]=6735&items[0][price]=p_1&items[0][quantity]=2&items[1][price]=p_2",
    );
    assert!(ok.is_ok(), "{ok:?}");
    assert!(
        check(
            0,
            FORM,
            b"amount=1&expand=customer&expand=invoice&metadata="
        )
        .is_ok()
    );
    assert!(
        check(
            0,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"amount=1"
        )
        .is_ok()
    );
    let wrong = issues(check(
        0,
        FORM,
        b"amount=0&capture=maybe&ids=1,x&items[0][quantity]=two&extra=1",
    ));
    let pointers: Vec<&str> = wrong.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        ["/amount", "/capture", "/ids/1", "/items/0/quantity", ""],
        "{wrong:?}"
    );
    assert!(
        wrong[4]
            .1
            .contains("Additional properties are not allowed ('extra' was unexpected)"),
        "{wrong:?}"
    );
    assert!(
        wrong[0]
            .1
            .starts_with("the body at /amount: 0 is less than the minimum of 1"),
        "{wrong:?}"
    );
    assert_eq!(
        issues(check(0, FORM, b"capture=true"))[0].1,
        "the body at /: \"amount\" is a required property"
    );
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, content_type, value) in parts {
        body.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
        ));
        if let Some(t) = content_type {
            body.push_str(&format!("Content-Type: {t}\r\n"));
        }
        body.push_str(&format!("\r\n{value}\r\n"));
    }
    body.push_str("--XyZ--\r\n");
    body.into_bytes()
}

const MULTIPART: Option<&str> = Some("multipart/form-data; boundary=XyZ");

#[test]
fn multipart_parts_honour_their_encoding() {
    let body = multipart(&[
        ("meta", None, "{\"a\": 1}"),
        ("count", None, "3"),
        ("tags", None, "x"),
        ("tags", None, "y"),
        ("file", Some("image/png"), "PNG..."),
    ]);
    let ok = check(1, MULTIPART, &body);
    assert!(ok.is_ok(), "{ok:?}");
    let body = multipart(&[("meta", None, "{\"a\": \"one\"}"), ("count", None, "three")]);
    let wrong = issues(check(1, MULTIPART, &body));
    assert_eq!(
        wrong.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["/meta/a", "/count"],
        "{wrong:?}"
    );
    let body = multipart(&[("meta", None, "{a"), ("count", None, "1")]);
    let wrong = issues(check(1, MULTIPART, &body));
    assert_eq!(wrong[0].0, "/meta");
    assert!(
        wrong[0].1.starts_with("the part meta is not valid JSON"),
        "{wrong:?}"
    );
    let body = multipart(&[
        ("meta", None, "{\"a\":1}"),
        ("count", None, "1"),
        ("file", Some("text/plain"), "x"),
    ]);
    assert_eq!(
        issues(check(1, MULTIPART, &body)),
        [(
            "/file".to_owned(),
            "the part file is text/plain; its encoding documents image/png, image/jpeg".to_owned()
        )]
    );
    let wrong = issues(check(1, Some("multipart/form-data"), &multipart(&[])));
    assert_eq!(
        wrong[0].1,
        "the multipart body's Content-Type has no boundary parameter"
    );
}

#[test]
fn media_types_match_with_parameters_and_suffix_ranges() {
    // `+json` goes to the suffix range, plain JSON to its own schema.
    assert!(
        check(
            2,
            Some("application/merge-patch+json; charset=utf-8"),
            b"{\"op\":1}"
        )
        .is_ok()
    );
    assert!(check(2, Some("Application/JSON; charset=utf-8"), b"{\"full\":1}").is_ok());
    assert!(check(2, Some("application/json"), b"{\"op\":1}").is_err());
    match check(2, Some("application/xml"), b"<a/>") {
        Err(Refusal::UnsupportedMediaType { sent, accepted }) => {
            assert_eq!(sent, "application/xml");
            assert_eq!(accepted, ["application/*+json", "application/json"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_body_where_none_is_documented_is_an_unsupported_media_type() {
    match check(3, Some("application/json"), b"{}") {
        Err(Refusal::UnsupportedMediaType { sent, accepted }) => {
            assert_eq!(sent, "application/json");
            assert!(accepted.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(check(3, None, b"").is_ok());
}
