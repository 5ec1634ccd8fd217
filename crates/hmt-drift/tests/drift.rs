//! The drift checker on hand-made traffic against a small spec: traffic
//! that fits, then one kind of drift at a time, then the report's shapes.

use hmt_drift::{Checker, Finding, Kind, Location, Report};
use hmt_types::Exchange;
use serde_json::{Value, json};
use std::sync::Arc;

/// A small API with a bit of everything: path-item parameters, a declared
/// header, an API-key scheme, `2XX`/`4XX`/`default` responses, `$ref`s,
/// a nullable field, an enum, a format and a closed request schema.
fn spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "users", "version": "1"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "security": [{"key": []}],
        "paths": {
            "/users/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "get": {
                    "parameters": [
                        {"name": "fields", "in": "query", "schema": {"type": "string"}},
                        {"name": "X-Tenant", "in": "header", "required": true, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
                        "4XX": {"$ref": "#/components/responses/Problem"}
                    }
                },
                "delete": {"responses": {"204": {"description": "gone"}, "default": {"description": "error"}}}
            },
            "/users": {
                "post": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewUser"}}}},
                    "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}}
                }
            }
        },
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "responses": {"Problem": {"description": "problem", "content": {"application/problem+json": {"schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}}},
            "schemas": {
                "User": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "email": {"type": "string", "format": "email", "nullable": true},
                        "role": {"type": "string", "enum": ["admin", "member"]},
                        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                        "metadata": {"type": "object"}
                    }
                },
                "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
                "NewUser": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}}
                }
            }
        }
    })
}

fn checker(document: Value) -> Checker {
    let spec = hmt_openapi::compile(hmt_openapi::LoadedSpec {
        file: "users.yaml".into(),
        document,
    })
    .expect("the test spec compiles");
    Checker::new(spec, "users.yaml")
}

/// Checks http-types `lines` (line N of `traffic.jsonl` is `lines[N-1]`).
fn check(lines: &[Value]) -> Report {
    check_against(spec(), lines)
}

fn check_against(document: Value, lines: &[Value]) -> Report {
    let mut checker = checker(document);
    let source: Arc<str> = Arc::from("traffic.jsonl");
    for (i, line) in lines.iter().enumerate() {
        let exchange = Exchange::from_json_line(&line.to_string()).expect("valid test line");
        checker.check(&exchange, Location::line(&source, i as u64 + 1));
    }
    checker.finish()
}

/// A GET of user 7 that fits, answered with `body`.
fn get_user(body: Value) -> Value {
    json!({
        "request": {"method": "get", "host": "api.example.com", "path": "/v1/users/7",
                    "headers": {"x-tenant": "acme", "x-api-key": "k"}},
        "response": {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": body.to_string()}
    })
}

/// A POST of `body` (JSON) to /users, answered 201 with a user.
fn post_user(body: &str) -> Value {
    json!({
        "request": {"method": "post", "host": "api.example.com", "path": "/v1/users",
                    "headers": {"content-type": "application/json"}, "body": body},
        "response": {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": "{\"id\":1,\"name\":\"a\"}"}
    })
}

fn only(report: &Report) -> &Finding {
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    &report.findings[0]
}

fn kinds(report: &Report) -> Vec<Kind> {
    report.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn traffic_that_fits_has_no_findings() {
    let report = check(&[
        get_user(
            json!({"id": 7, "name": "Ada", "email": null, "role": "admin", "tags": [{"label": "x"}], "metadata": {"any": 1}}),
        ),
        // Standard headers, a declared header in another case, a charset,
        // a documented query parameter, a path without its base path.
        json!({
            "request": {"method": "get", "path": "/users/8?fields=name",
                        "headers": {"X-TENANT": "acme", "Accept": "application/json", "User-Agent": "curl/8",
                                    "Accept-Language": "fi", "Sec-Fetch-Mode": "cors", "Cache-Control": "no-cache",
                                    "X-Request-Id": "r1", "Authorization": "Bearer t"}},
            "response": {"statusCode": 200, "headers": {"content-type": "application/json; charset=utf-8"},
                         "body": "{\"id\":8,\"name\":\"Bo\",\"email\":\"bo@example.com\"}"}
        }),
        // 404 through the 4XX range of a referenced response.
        json!({
            "request": {"method": "get", "path": "/v1/users/9", "headers": {"x-tenant": "a"}},
            "response": {"statusCode": 404, "headers": {"content-type": "application/problem+json"}, "body": "{\"title\":\"no\"}"}
        }),
        // default covers any status; no body, no media type needed.
        json!({"request": {"method": "delete", "path": "/v1/users/9"}, "response": {"statusCode": 500}}),
        json!({"request": {"method": "delete", "path": "/v1/users/9"}, "response": {"statusCode": 204}}),
        post_user("{\"name\":\"Cy\",\"email\":\"cy@example.com\"}"),
        // An exchange without a response is checked on its request only.
        json!({"request": {"method": "delete", "path": "/v1/users/1"}}),
    ]);
    assert!(!report.drifted(), "{:#?}", report.findings);
    assert_eq!(report.exchanges, 7);
    assert!(
        report
            .to_text()
            .ends_with("no drift: 7 exchanges fit users.yaml\n")
    );
}

#[test]
fn an_undocumented_path_is_reported_with_the_nearest_template() {
    let report = check(&[
        json!({"request": {"method": "get", "path": "/v1/users/7/orders"}, "response": {"statusCode": 200}}),
    ]);
    let finding = only(&report);
    assert_eq!(finding.kind, Kind::UndocumentedPath);
    assert_eq!(finding.location.to_string(), "traffic.jsonl:1");
    assert_eq!(finding.request, "GET /v1/users/7/orders");
    assert_eq!(finding.operation, None);
    assert_eq!(finding.spec_pointer.as_deref(), Some("#/paths"));
    assert_eq!(
        finding.message,
        "no path of the spec matches /v1/users/7/orders (the nearest is /users/{id})"
    );
}

#[test]
fn an_undocumented_operation_points_at_its_path_item() {
    let report = check(&[
        json!({"request": {"method": "patch", "path": "/v1/users/7"}, "response": {"statusCode": 200}}),
    ]);
    let finding = only(&report);
    assert_eq!(finding.kind, Kind::UndocumentedOperation);
    assert_eq!(finding.operation.as_deref(), Some("PATCH /users/{id}"));
    assert_eq!(
        finding.spec_pointer.as_deref(),
        Some("#/paths/~1users~1{id}")
    );
    assert_eq!(
        finding.message,
        "PATCH is not documented for this path (documented: GET, DELETE)"
    );
}

#[test]
fn an_undocumented_status_is_one_no_code_range_or_default_covers() {
    let report = check(&[
        json!({"request": {"method": "get", "path": "/v1/users/7", "headers": {"x-tenant": "a"}}, "response": {"statusCode": 503}}),
        // 4XX covers 409; default covers anything on DELETE.
        json!({"request": {"method": "get", "path": "/v1/users/7", "headers": {"x-tenant": "a"}}, "response": {"statusCode": 409}}),
        json!({"request": {"method": "delete", "path": "/v1/users/7"}, "response": {"statusCode": 418}}),
    ]);
    let finding = only(&report);
    assert_eq!(finding.kind, Kind::UndocumentedStatus);
    assert_eq!(finding.operation.as_deref(), Some("GET /users/{id}"));
    assert_eq!(finding.part, "response.status");
    assert_eq!(
        finding.spec_pointer.as_deref(),
        Some("#/paths/~1users~1{id}/get/responses")
    );
    assert_eq!(
        finding.message,
        "status 503 is not documented (documented: 200, 4XX)"
    );
}

#[test]
fn undocumented_media_types_of_requests_and_responses() {
    let mut csv = get_user(json!({}));
    csv["response"]["headers"]["content-type"] = json!("text/csv");
    csv["response"]["body"] = json!("id,name");
    let mut form = post_user("name=Ada");
    form["request"]["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    let body_on_delete = json!({"request": {"method": "delete", "path": "/v1/users/7", "headers": {"content-type": "application/json"}, "body": "{}"},
                                "response": {"statusCode": 204}});
    let body_on_204 = json!({"request": {"method": "delete", "path": "/v1/users/7"},
                             "response": {"statusCode": 204, "headers": {"content-type": "text/plain"}, "body": "bye"}});
    let report = check(&[csv, form, body_on_delete, body_on_204]);
    assert_eq!(
        report.count(Kind::UndocumentedMediaType),
        4,
        "{:#?}",
        report.findings
    );
    let messages: Vec<(&str, &str, Option<&str>)> = report
        .findings
        .iter()
        .map(|f| (f.part, f.message.as_str(), f.spec_pointer.as_deref()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "response.body",
                "the 200 response body is text/csv; the spec documents application/json",
                Some("#/paths/~1users~1{id}/get/responses/200/content")
            ),
            (
                "request.body",
                "the request body is application/x-www-form-urlencoded; the operation documents application/json",
                Some("#/paths/~1users/post/requestBody/content")
            ),
            (
                "request.body",
                "a request body (application/json) was sent; the operation documents none",
                Some("#/paths/~1users~1{id}/delete")
            ),
            (
                "response.body",
                "the 204 response has a body (text/plain); the spec documents none",
                Some("#/paths/~1users~1{id}/delete/responses/204")
            ),
        ]
    );
}

#[test]
fn undocumented_query_parameters_and_headers_but_not_standard_ones() {
    let mut line = get_user(json!({"id": 7, "name": "Ada"}));
    line["request"]["path"] = json!("/v1/users/7?fields=name&debug=1&api_key=s");
    line["request"]["headers"] = json!({
        "x-tenant": "acme", "X-Feature-Flag": "beta", "Accept": "*/*", "User-Agent": "x",
        "Origin": "https://app", "Referer": "https://app/", "traceparent": "00-1", "X-Api-Key": "k"
    });
    let report = check(&[line]);
    assert_eq!(kinds(&report), [Kind::UndocumentedParameter; 2]);
    let named: Vec<(&str, Option<&str>, &str)> = report
        .findings
        .iter()
        .map(|f| (f.part, f.name.as_deref(), f.message.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (
                "request.query",
                Some("debug"),
                "the query parameter debug is not documented"
            ),
            (
                "request.header",
                Some("x-feature-flag"),
                "the header x-feature-flag is not documented"
            ),
        ]
    );
    assert_eq!(
        report.findings[0].spec_pointer.as_deref(),
        Some("#/paths/~1users~1{id}/get/parameters")
    );
}

#[test]
fn missing_required_parameters() {
    let mut line = get_user(json!({"id": 7, "name": "Ada"}));
    line["request"]["headers"] = json!({});
    let report = check(&[line]);
    let finding = only(&report);
    assert_eq!(finding.kind, Kind::MissingParameter);
    assert_eq!(finding.part, "request.header");
    assert_eq!(finding.name.as_deref(), Some("x-tenant"));
    assert_eq!(finding.message, "the header parameter x-tenant is required");
}

#[test]
fn undocumented_fields_are_told_apart_from_fields_the_schema_forbids() {
    let report = check(&[
        // User does not list `nickname` but allows it; Tag the same with `colour`.
        get_user(
            json!({"id": 7, "name": "Ada", "nickname": "A", "tags": [{"label": "a"}, {"label": "b", "colour": "red"}, {"colour": "blue"}]}),
        ),
        // NewUser says additionalProperties: false.
        post_user("{\"name\":\"Ada\",\"admin\":true}"),
    ]);
    let found: Vec<(Kind, Option<&str>, Option<&str>, &str)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.pointer.as_deref(),
                f.spec_pointer.as_deref(),
                f.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                Kind::UndocumentedField,
                Some("/nickname"),
                Some("#/components/schemas/User"),
                "property \"nickname\" is not in the schema (#/components/schemas/User), which allows it"
            ),
            (
                Kind::UndocumentedField,
                Some("/tags/1/colour"),
                Some("#/components/schemas/Tag"),
                "property \"colour\" is not in the schema (#/components/schemas/Tag), which allows it (2 times in this body)"
            ),
            (
                Kind::SchemaViolation,
                Some("/admin"),
                Some("#/components/schemas/NewUser/additionalProperties"),
                "property \"admin\" is not allowed: the schema does not list it and allows no others"
            ),
        ]
    );
    // Free-form objects (`metadata: {type: object}`) document every key.
    assert!(
        !check(&[get_user(
            json!({"id": 7, "name": "Ada", "metadata": {"x": {"y": 1}}})
        )])
        .drifted()
    );
}

#[test]
fn schema_violations_point_into_the_body_and_the_spec() {
    let report = check(&[
        get_user(json!({"id": "seven", "name": null, "email": "not-an-email", "role": "owner"})),
        post_user("{\"email\":\"a@b.c\"}"),
        post_user("{\"name\":"),
        post_user(""),
    ]);
    let found: Vec<(u64, Option<&str>, Option<&str>)> = report
        .findings
        .iter()
        .map(|f| {
            assert_eq!(f.kind, Kind::SchemaViolation, "{f:#?}");
            let hmt_drift::Position::Line(line) = f.location.position else {
                unreachable!()
            };
            (line, f.pointer.as_deref(), f.spec_pointer.as_deref())
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                1,
                Some("/id"),
                Some("#/components/schemas/User/properties/id/type")
            ),
            (
                1,
                Some("/name"),
                Some("#/components/schemas/User/properties/name/type")
            ),
            (
                1,
                Some("/email"),
                Some("#/components/schemas/User/properties/email/format")
            ),
            (
                1,
                Some("/role"),
                Some("#/components/schemas/User/properties/role/enum")
            ),
            (2, Some(""), Some("#/components/schemas/NewUser/required")),
            (3, Some(""), Some("#/components/schemas/NewUser")),
            (4, None, Some("#/paths/~1users/post/requestBody")),
        ]
    );
    let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "the response body at /id: \"seven\" is not of type \"integer\""
    );
    assert_eq!(
        messages[1],
        "the response body at /name: null is not of type \"string\""
    );
    assert_eq!(
        messages[2],
        "the response body at /email: \"not-an-email\" is not a \"email\""
    );
    assert!(
        messages[3].starts_with("the response body at /role: \"owner\" is not one of"),
        "{}",
        messages[3]
    );
    assert_eq!(
        messages[4],
        "the request body at /: \"name\" is a required property"
    );
    assert!(
        messages[5].starts_with("the body is not valid JSON: EOF while parsing"),
        "{}",
        messages[5]
    );
    assert_eq!(messages[6], "a request body is required");
    // Parameter values are read as their schema's type.
    let mut bad_id = get_user(json!({"id": 7, "name": "Ada"}));
    bad_id["request"]["path"] = json!("/v1/users/seven");
    let finding = only(&check(&[bad_id])).clone();
    assert_eq!(finding.kind, Kind::SchemaViolation);
    assert_eq!(finding.part, "request.path");
    assert_eq!(
        finding.message,
        "the path parameter id: \"seven\" is not of type \"integer\""
    );
    assert_eq!(
        finding.spec_pointer.as_deref(),
        Some("/paths/~1users~1{id}/parameters/0/schema")
            .map(|p| format!("#{p}"))
            .as_deref()
    );
}

#[test]
fn inline_schemas_under_templated_paths_are_pointed_at_as_written() {
    let mut document = spec();
    document["paths"]["/users/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"type": "object", "properties": {"id": {"type": "integer"}}});
    let report = check_against(document, &[get_user(json!({"id": "x"}))]);
    assert_eq!(
        only(&report).spec_pointer.as_deref(),
        Some(
            "#/paths/~1users~1{id}/get/responses/200/content/application~1json/schema/properties/id/type"
        )
    );
}

#[test]
fn the_json_report_has_a_stable_shape() {
    let report = check(&[
        get_user(json!({"id": 7, "name": "Ada"})),
        json!({"request": {"method": "get", "path": "/v1/users/7/orders"}, "response": {"statusCode": 200}}),
    ]);
    assert_eq!(
        report.to_json(),
        json!({
            "reportVersion": 1,
            "spec": "users.yaml",
            "exchanges": 2,
            "exchangesWithDrift": 1,
            "drift": true,
            "counts": {
                "undocumented-path": 1, "undocumented-operation": 0, "undocumented-status": 0,
                "undocumented-media-type": 0, "undocumented-parameter": 0, "missing-parameter": 0,
                "undocumented-field": 0, "schema-violation": 0
            },
            "findings": [{
                "kind": "undocumented-path",
                "location": {"file": "traffic.jsonl", "line": 2},
                "request": "GET /v1/users/7/orders",
                "operation": null,
                "part": "request.path",
                "name": null,
                "pointer": null,
                "specPointer": "#/paths",
                "message": "no path of the spec matches /v1/users/7/orders (the nearest is /users/{id})"
            }],
            "omittedFindings": 0,
            "warnings": []
        })
    );
    // Key order is part of the shape.
    let keys: Vec<String> = report
        .to_json()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "reportVersion",
            "spec",
            "exchanges",
            "exchangesWithDrift",
            "drift",
            "counts",
            "findings",
            "omittedFindings",
            "warnings"
        ]
    );
}

#[test]
fn the_text_report_groups_by_kind_and_place_with_counts() {
    let undocumented = |n: u64| {
        json!({"request": {"method": "get", "path": format!("/v1/users/{n}?debug=1"), "headers": {"x-tenant": "a"}},
               "response": {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{\"id\":1,\"name\":\"a\"}"}})
    };
    let lines: Vec<Value> = (1..=7)
        .map(undocumented)
        .chain([json!({"request": {"method": "get", "path": "/nowhere"}})])
        .collect();
    let text = check(&lines).to_text();
    assert_eq!(
        text,
        "undocumented paths (1)
  GET /nowhere
    no path of the spec matches /nowhere (the nearest is /users/{id})
    spec: #/paths
    at traffic.jsonl:8

undocumented parameters (7)
  GET /users/{id} request.query debug [7 times]
    the query parameter debug is not documented
    spec: #/paths/~1users~1{id}/get/parameters
    at traffic.jsonl:1, traffic.jsonl:2, traffic.jsonl:3, traffic.jsonl:4, traffic.jsonl:5 and 2 more

drift: 8 of 8 exchanges do not fit users.yaml (8 findings)
"
    );
}

#[test]
fn repeats_at_one_place_are_counted_beyond_the_first_twenty() {
    let lines: Vec<Value> = (0..30)
        .map(|_| json!({"request": {"method": "get", "path": "/v1/users/1?debug=1", "headers": {"x-tenant": "a"}}}))
        .collect();
    let report = check(&lines);
    assert_eq!(report.count(Kind::UndocumentedParameter), 30);
    assert_eq!(report.findings.len(), hmt_drift::report::LISTED_PER_PLACE);
    assert_eq!(report.omitted(), 10);
    assert_eq!(report.to_json()["omittedFindings"], 10);
    assert!(report.to_text().contains("[30 times]"));
}

#[test]
fn a_schema_that_cannot_be_compiled_is_a_warning_not_a_silent_pass() {
    let mut document = spec();
    document["paths"]["/users/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Missing"});
    let report = check_against(
        document,
        &[get_user(json!({"id": 7})), get_user(json!({"id": 8}))],
    );
    assert!(!report.drifted());
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0]
            .starts_with("the schema at #/components/schemas/Missing cannot be compiled ("),
        "{}",
        report.warnings[0]
    );
    assert!(
        report
            .to_text()
            .starts_with("warning: the schema at #/components/schemas/Missing")
    );
}
