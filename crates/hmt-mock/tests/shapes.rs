//! The mock answers in the spec's own shapes: refusals as the operation
//! documents them, the same bytes for the same request, XML and CSV bodies
//! with content negotiation, Prism's query overrides, strict examples; and
//! its bounds: generation that cannot be satisfied, the journal's bytes.

use bytes::Bytes;
use hmt_mock::{ErrorStyle, Loaded, Mock, MockConfig};
use http::Response;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

fn spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "pets", "version": "1"},
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "integer"}, "message": {"type": "string"}
                }},
                "Pet": {
                    "type": "object",
                    "required": ["id", "name", "kind", "tags"],
                    "xml": {"name": "pet"},
                    "properties": {
                        "id": {"type": "integer", "xml": {"attribute": true}},
                        "name": {"type": "string", "example": "Rex"},
                        "kind": {"type": "string", "example": "dog"},
                        "tags": {"type": "array", "xml": {"wrapped": true}, "items": {"type": "string", "xml": {"name": "tag"}}}
                    }
                }
            }
        },
        "paths": {
            "/pets/{id}": {
                "get": {
                    "operationId": "getPet",
                    "security": [{"key": []}],
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}}
                    ],
                    "responses": {
                        "200": {"description": "a pet", "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}},
                            "application/xml": {"schema": {"$ref": "#/components/schemas/Pet"}},
                            "text/csv": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}
                        }},
                        "400": {"description": "bad", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"},
                            "example": {"code": 400, "message": "bad request"}
                        }}},
                        "401": {"description": "who", "headers": {"x-request-id": {"schema": {"type": "string"}, "example": "req-1"}},
                            "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"},
                            "example": {"code": 401, "message": "no key"}
                        }}},
                        "404": {"description": "none", "content": {"application/vnd.pets.error+json": {
                            "schema": {"$ref": "#/components/schemas/Error"}
                        }}}
                    }
                }
            },
            "/notes": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "201": {"description": "made", "content": {"text/plain": {"schema": {"type": "string"}, "example": "ok"}}},
                        "4XX": {"description": "client error", "content": {"application/json": {
                            "schema": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "example": "nope"}}}
                        }}}
                    }
                },
                "get": {
                    "responses": {"200": {"description": "notes", "content": {"application/json": {
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "example": ["a", 2]
                    }}}}
                }
            },
            "/plain": {
                "put": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"204": {"description": "done"}}
                }
            },
            "/codes": {
                "get": {"responses": {"200": {"description": "a code", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["code"], "properties": {
                        "code": {"type": "string", "pattern": "^a{1000000000}$"}
                    }}
                }}}}}
            }
        }
    })
}

fn mock_of(document: Value, config: MockConfig) -> Mock {
    let loaded = hmt_mock::load::load_document(
        std::path::Path::new("pets.json"),
        document,
        &mut Default::default(),
    )
    .unwrap();
    Mock::new(
        config,
        Loaded::new(vec![hmt_mock::compile(loaded).unwrap()]),
    )
    .unwrap()
}

fn mock(config: MockConfig) -> Mock {
    mock_of(spec(), config)
}

async fn send(
    mock: &Mock,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response<hmt_mock::body::Body> {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    mock.answer(parts, Bytes::copy_from_slice(body), SystemTime::now())
        .await
}

async fn get(mock: &Mock, uri: &str, headers: &[(&str, &str)]) -> Response<hmt_mock::body::Body> {
    send(mock, "GET", uri, headers, b"").await
}

fn text(response: &Response<hmt_mock::body::Body>) -> String {
    String::from_utf8(response.body().bytes().unwrap().to_vec()).unwrap()
}

fn json_of(response: &Response<hmt_mock::body::Body>) -> Value {
    serde_json::from_str(&text(response)).unwrap_or_else(|e| panic!("{e}: {}", text(response)))
}

fn header<'a>(response: &'a Response<hmt_mock::body::Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

const KEY: (&str, &str) = ("x-api-key", "k");

#[tokio::test]
async fn refusals_are_answered_as_the_operation_documents_them() {
    let mock = mock(MockConfig::default());
    // 400: the documented example, hmt's reason in one header line.
    let bad = get(&mock, "/pets/abc", &[KEY]).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(header(&bad, "content-type"), "application/json");
    assert_eq!(
        json_of(&bad),
        json!({"code": 400, "message": "bad request"})
    );
    let reason = header(&bad, "x-hmt-problem");
    assert!(reason.starts_with("validation: "), "{reason}");
    assert!(reason.contains("id"), "{reason}");
    // 401: the documented body and header, WWW-Authenticate kept.
    let unauthorized = get(&mock, "/pets/1", &[]).await;
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        json_of(&unauthorized),
        json!({"code": 401, "message": "no key"})
    );
    assert_eq!(header(&unauthorized, "x-request-id"), "req-1");
    assert!(!header(&unauthorized, "www-authenticate").is_empty());
    assert!(header(&unauthorized, "x-hmt-problem").starts_with("unauthorized"));
    // 406 with only 2xx and 4XX documented... here 404/400/401 are: a 406
    // has nothing documented, so it stays hmt's problem document.
    let refused = get(&mock, "/pets/1", &[KEY, ("accept", "image/png")]).await;
    assert_eq!(refused.status(), 406);
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    // A 4XX range documents every client error: 415 and 406 take its shape.
    let unsupported = send(
        &mock,
        "POST",
        "/notes",
        &[("content-type", "text/plain")],
        b"hi",
    )
    .await;
    assert_eq!(unsupported.status(), 415);
    assert_eq!(json_of(&unsupported), json!({"error": "nope"}));
    assert!(header(&unsupported, "x-hmt-problem").starts_with("media-type: "));
    let unacceptable = send(
        &mock,
        "POST",
        "/notes",
        &[
            ("content-type", "application/json"),
            ("accept", "image/png"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(unacceptable.status(), 406);
    assert_eq!(header(&unacceptable, "content-type"), "application/json");
    // Nothing documented: hmt's problem document, as before.
    let plain = send(
        &mock,
        "PUT",
        "/plain",
        &[("content-type", "text/plain")],
        b"x",
    )
    .await;
    assert_eq!(plain.status(), 415);
    assert_eq!(header(&plain, "content-type"), "application/problem+json");
    assert_eq!(header(&plain, "x-hmt-problem"), "");
    // The journal keeps what was sent, and the whole problem in meta.
    let journal = mock.journal();
    let first = &journal[0];
    let response = first.response.as_ref().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(response.body.as_deref().unwrap()).unwrap(),
        json!({"code": 400, "message": "bad request"})
    );
    let problem = &first.meta["problem"];
    assert_eq!(problem["type"], "urn:hmt:problem:validation");
    assert_eq!(problem["status"], 400);
    assert!(problem["errors"].as_array().is_some_and(|e| !e.is_empty()));
    assert!(journal[2].meta.get("problem").is_none());
    assert!(
        journal[4].meta["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("Accept")
    );
}

#[tokio::test]
async fn errors_problem_keeps_hmts_own_documents() {
    let mock = mock(MockConfig {
        errors: ErrorStyle::Problem,
        ..MockConfig::default()
    });
    for (uri, headers, status) in [("/pets/abc", &[KEY][..], 400), ("/pets/1", &[][..], 401)] {
        let response = get(&mock, uri, headers).await;
        assert_eq!(response.status(), status);
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
        assert_eq!(json_of(&response)["status"], status);
        assert_eq!(header(&response, "x-hmt-problem"), "");
    }
}

#[tokio::test]
async fn query_overrides_are_aliases_of_prefer() {
    let mock = mock(MockConfig::default());
    let response = get(&mock, "/pets/1?__code=400", &[KEY]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_of(&response),
        json!({"code": 400, "message": "bad request"})
    );
    // Documented without an example: generated, valid, in its own type.
    let missing = get(&mock, "/pets/1?limit=3&__code=404", &[KEY]).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        header(&missing, "content-type"),
        "application/vnd.pets.error+json"
    );
    let body = json_of(&missing);
    assert!(
        body["code"].is_i64() && body["message"].is_string(),
        "{body}"
    );
    // `__dynamic` and `__example` are read too; the query wins over Prefer.
    let dynamic: Vec<String> = futures_join(&mock, "/pets/1?__dynamic=true").await;
    assert!(
        dynamic.windows(2).any(|w| w[0] != w[1]),
        "dynamic data varies: {dynamic:?}"
    );
    let named = get(
        &mock,
        "/pets/1?__example=nothing",
        &[KEY, ("prefer", "example=other")],
    )
    .await;
    // A `Prefer` the operation cannot meet is about the mock, not the
    // API: hmt's own problem, although the operation documents a 404.
    assert_eq!(named.status(), 404);
    assert_eq!(header(&named, "content-type"), "application/problem+json");
    let detail = json_of(&named)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("no example named \"nothing\""), "{detail}");
}

async fn futures_join(mock: &Mock, uri: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..8 {
        bodies.push(text(&get(mock, uri, &[KEY]).await));
    }
    bodies
}

#[tokio::test]
async fn static_answers_are_the_same_bytes_every_time_and_every_run() {
    let first = mock(MockConfig::default());
    let second = mock(MockConfig::default());
    let mut bodies = Vec::new();
    for mock in [&first, &second, &first] {
        let response = get(mock, "/pets/1", &[KEY]).await;
        assert_eq!(response.status(), 200);
        bodies.push(text(&response));
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    // Property-level examples are used every time, not some of the time.
    let pet: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(pet["name"], "Rex", "{pet}");
    assert_eq!(first.journal()[0].meta["answeredBy"], "generated");
    // A different seed does not change static data; it seeds dynamic data.
    let seeded = mock(MockConfig {
        seed: Some(99),
        ..MockConfig::default()
    });
    assert_eq!(text(&get(&seeded, "/pets/1", &[KEY]).await), bodies[0]);
    let again = mock(MockConfig {
        seed: Some(99),
        ..MockConfig::default()
    });
    assert_eq!(dynamic(&seeded).await, dynamic(&again).await);
}

async fn dynamic(mock: &Mock) -> String {
    text(&get(mock, "/pets/1", &[KEY, ("prefer", "dynamic=true")]).await)
}

#[tokio::test]
async fn xml_csv_and_negotiation_with_q_values() {
    let mock = mock(MockConfig::default());
    let xml = get(
        &mock,
        "/pets/1",
        &[
            KEY,
            ("accept", "application/xml;q=0.9, application/json;q=0.5"),
        ],
    )
    .await;
    assert_eq!(header(&xml, "content-type"), "application/xml");
    let body = text(&xml);
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pet id=\""),
        "{body}"
    );
    assert!(body.contains("<name>Rex</name>"), "{body}");
    assert!(
        body.contains("<tags><tag>") || body.contains("<tags/>") || body.contains("<tags></tags>"),
        "{body}"
    );
    assert!(body.ends_with("</pet>"), "{body}");
    let json = get(
        &mock,
        "/pets/1",
        &[
            KEY,
            ("accept", "application/xml;q=0.4, application/*;q=0.5"),
        ],
    )
    .await;
    assert_eq!(header(&json, "content-type"), "application/json");
    let any = get(&mock, "/pets/1", &[KEY, ("accept", "*/*")]).await;
    assert_eq!(header(&any, "content-type"), "application/json");
    let refused_xml = get(
        &mock,
        "/pets/1",
        &[KEY, ("accept", "application/xml;q=0, application/*;q=0.5")],
    )
    .await;
    assert_eq!(header(&refused_xml, "content-type"), "application/json");
    let csv = get(&mock, "/pets/1", &[KEY, ("accept", "text/csv")]).await;
    assert_eq!(header(&csv, "content-type"), "text/csv");
    let body = text(&csv);
    let mut lines = body.split("\r\n");
    assert_eq!(lines.next(), Some("id,name,kind,tags"), "{body}");
    assert!(
        lines.next().is_some_and(|row| row.contains(",Rex,dog,")),
        "{body}"
    );
    let none = get(&mock, "/pets/1", &[KEY, ("accept", "text/html, image/*")]).await;
    assert_eq!(none.status(), 406);
    let text_plain = send(
        &mock,
        "POST",
        "/notes",
        &[("content-type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(
        (
            header(&text_plain, "content-type"),
            text(&text_plain).as_str()
        ),
        ("text/plain", "ok")
    );
}

#[tokio::test]
async fn invalid_examples_are_found_once_and_strict_examples_replace_them() {
    let lenient = mock(MockConfig::default());
    assert_eq!(lenient.check_examples().join().unwrap(), 1);
    let served = get(&lenient, "/notes", &[]).await;
    assert_eq!(json_of(&served), json!(["a", 2]));
    let strict = mock(MockConfig {
        strict_examples: true,
        ..MockConfig::default()
    });
    let first = get(&strict, "/notes", &[]).await;
    let body = json_of(&first);
    assert!(
        body.as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        "{body}"
    );
    assert_eq!(strict.journal()[0].meta["answeredBy"], "generated");
    assert_eq!(text(&get(&strict, "/notes", &[]).await), text(&first));
}

#[tokio::test]
async fn a_pattern_past_the_bounds_answers_500_at_once() {
    let mock = mock(MockConfig::default());
    let started = Instant::now();
    let response = get(&mock, "/codes", &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(response.status(), 500);
    let problem = json_of(&response);
    assert_eq!(problem["type"], "urn:hmt:problem:unsatisfiable-schema");
    assert_eq!(
        problem["pointer"],
        "/paths/~1codes/get/responses/200/content/application~1json/schema"
    );
    assert_eq!(problem["at"], "/code");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("at least 1000000000 characters"),
        "{detail}"
    );
    // Dynamic data is bounded the same way.
    let dynamic = get(&mock, "/codes", &[("prefer", "dynamic=true")]).await;
    assert_eq!(dynamic.status(), 500);
}

/// The resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn the_journal_stays_under_its_byte_bound() {
    let bound = 8 * 1024 * 1024;
    let mock = mock(MockConfig {
        journal_bytes: bound,
        journal_body_bytes: 512 * 1024,
        ..MockConfig::default()
    });
    let before = resident_kib();
    let body = vec![b'x'; 3 * 1024 * 1024];
    for _ in 0..100 {
        let response = send(
            &mock,
            "POST",
            "/notes",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        assert_eq!(response.status(), 400);
        assert!(mock.journal_bytes() <= bound, "{}", mock.journal_bytes());
    }
    let journal = mock.journal();
    // 100 requests of 3 MiB: 300 MiB sent, at most 8 MiB kept.
    assert!(
        journal.len() < 100 && journal.len() >= 10,
        "{}",
        journal.len()
    );
    let last = journal.last().unwrap();
    assert_eq!(last.meta["requestBodyTruncated"], 3 * 1024 * 1024);
    assert_eq!(last.request.body.as_ref().unwrap().len(), 512 * 1024);
    let grown = resident_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
}

#[test]
fn static_generation_always_takes_property_examples() {
    let document = spec();
    let schema = json!({"$ref": "#/components/schemas/Pet"});
    let generator = hmt_mock::generate::Generator::new(&document).dynamic(false);
    for seed in 0..32 {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let pet = generator.generate(&schema, &mut rng);
        assert_eq!(
            (&pet["name"], &pet["kind"]),
            (&json!("Rex"), &json!("dog")),
            "seed {seed}: {pet}"
        );
    }
}
