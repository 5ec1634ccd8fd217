//! The mock's request path called in process, without a socket: which
//! source answers (programmed stubs, then replay, then the spec), and the
//! stages after the answer (delays, faults, the journal).

use bytes::Bytes;
use hmt_mock::{Loaded, Mock, MockConfig};
use hmt_stub::matchers::{method, path};
use hmt_stub::{Reply, Stub};
use http::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

fn spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "items", "version": "1"},
        "paths": {
            "/items/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "an item", "content": {"application/json": {
                        "schema": {"type": "object"},
                        "example": {"name": "example"}
                    }}}},
                    "x-hmt-replay": [{
                        "request": {"path": "/items/7", "query": {}, "headers": {}},
                        "responses": [{"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{\"name\": \"recorded\"}"}]
                    }]
                }
            }
        }
    })
}

fn mock(config: MockConfig) -> Mock {
    let loaded = hmt_mock::load::load_document(
        std::path::Path::new("items.json"),
        spec(),
        &mut Default::default(),
    )
    .unwrap();
    Mock::new(
        config,
        Loaded::new(vec![hmt_mock::compile(loaded).unwrap()]),
    )
    .unwrap()
}

async fn call(
    mock: &Mock,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Response<hmt_mock::body::Body> {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    mock.answer(parts, Bytes::new(), SystemTime::now()).await
}

fn text(response: &Response<hmt_mock::body::Body>) -> String {
    String::from_utf8(response.body().bytes().unwrap().to_vec()).unwrap()
}

fn answered_by(mock: &Mock) -> Vec<String> {
    mock.journal()
        .iter()
        .map(|e| {
            e.meta
                .get("answeredBy")
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn stubs_come_before_replay_and_replay_before_the_spec() {
    let mock = mock(MockConfig::default());
    mock.with_stubs(|stubs| {
        stubs.push(
            Stub::given(method("GET"))
                .and(path("/items/7"))
                .respond_with(Reply::new(200).with_body("stub")),
        )
    });
    assert_eq!(text(&call(&mock, "GET", "/items/7", &[]).await), "stub");
    assert_eq!(
        text(&call(&mock, "GET", "/items/8", &[]).await),
        r#"{"name":"example"}"#
    );
    mock.with_stubs(|stubs| stubs.remove(0));
    assert_eq!(
        text(&call(&mock, "GET", "/items/7", &[]).await),
        r#"{"name": "recorded"}"#
    );
    assert_eq!(answered_by(&mock), ["stub", "example", "replay"]);
    assert_eq!(mock.journal()[0].meta.get("stub"), Some(&json!(0)));
}

#[tokio::test]
async fn a_stub_answers_paths_the_spec_lacks_and_is_not_validated() {
    let mock = mock(MockConfig::default());
    assert_eq!(
        call(&mock, "POST", "/nowhere", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&mock, "GET", "/items/abc", &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    mock.with_stubs(|stubs| stubs.push(Stub::new().respond_with(Reply::new(202))));
    assert_eq!(
        call(&mock, "POST", "/nowhere", &[]).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        call(&mock, "GET", "/items/abc", &[]).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_cors_preflight_is_answered_before_any_stub() {
    let mock = mock(MockConfig {
        cors: true,
        ..MockConfig::default()
    });
    mock.with_stubs(|stubs| stubs.push(Stub::new().respond_with(Reply::new(418))));
    let response = call(
        &mock,
        "OPTIONS",
        "/items/1",
        &[
            ("origin", "http://app.test"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn delays_come_from_the_request_then_the_stub_then_the_flag() {
    let mock = mock(MockConfig {
        delay: Some(hmt_mock::faults::DelayRange::parse("150").unwrap()),
        ..MockConfig::default()
    });
    let timed = |started: Instant| started.elapsed();
    let started = Instant::now();
    call(&mock, "GET", "/items/1", &[]).await;
    let flag = timed(started);
    let started = Instant::now();
    call(&mock, "GET", "/items/1", &[("prefer", "delay=10")]).await;
    let preferred = timed(started);
    mock.with_stubs(|stubs| {
        stubs.push(Stub::new().respond_with(Reply::new(200).with_delay(Duration::from_millis(60))))
    });
    let started = Instant::now();
    call(&mock, "GET", "/items/1", &[]).await;
    let stub = timed(started);
    assert!(flag >= Duration::from_millis(150), "{flag:?}");
    assert!(
        preferred >= Duration::from_millis(10) && preferred < Duration::from_millis(140),
        "{preferred:?}"
    );
    assert!(
        stub >= Duration::from_millis(60) && stub < Duration::from_millis(140),
        "{stub:?}"
    );
}

#[tokio::test]
async fn faults_break_the_connection_or_the_body() {
    let mock = mock(MockConfig::default());
    let reset = call(&mock, "GET", "/items/1", &[("prefer", "fault=reset")]).await;
    assert_eq!(
        reset.extensions().get::<hmt_stub::Fault>(),
        Some(&hmt_stub::Fault::ConnectionResetByPeer)
    );
    let cut = call(&mock, "GET", "/items/1", &[("prefer", "fault=cut-short")]).await;
    assert_eq!(cut.headers()["content-length"], "18");
    assert!(cut.body().is_streamed());
    assert_eq!(text(&cut), r#"{"name":""#);
    let every = mock_with_fault("random-data");
    let response = call(&every, "GET", "/items/1", &[]).await;
    assert_eq!(
        response.extensions().get::<hmt_stub::Fault>(),
        Some(&hmt_stub::Fault::RandomDataThenClose)
    );
}

fn mock_with_fault(fault: &str) -> Mock {
    mock(MockConfig {
        fault: Some(hmt_mock::faults::FaultPlan::parse(fault).unwrap()),
        ..MockConfig::default()
    })
}

/// A stub written as mountebank JSON, for the journal's nearest-stub report.
fn json_stub(definition: Value) -> Stub {
    Stub::from_json(
        &definition,
        "/stubs/0",
        std::sync::Arc::new(json!({})),
        &hmt_stub::CompileOptions::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_request_nothing_answered_names_the_nearest_stub_and_why_in_the_journal() {
    let mock = mock(MockConfig {
        journal_body_bytes: 64,
        ..MockConfig::default()
    });
    mock.with_stubs(|stubs| {
        stubs.push(json_stub(json!({
            "predicates": [{"equals": {"method": "GET"}}, {"equals": {"path": "/orders"}}],
            "responses": [{"is": {"statusCode": 200}}]
        })));
        stubs.push(json_stub(json!({
            "predicates": [{"equals": {"method": "POST"}}, {"equals": {"body": "short"}}],
            "responses": [{"is": {"statusCode": 201}}]
        })));
    });
    assert_eq!(
        call(&mock, "GET", "/orders/9", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    // The spec answers: no stub was missed.
    assert_eq!(call(&mock, "GET", "/items/8", &[]).await.status(), 200);
    let (parts, ()) = http::Request::builder()
        .method("POST")
        .uri("/nowhere")
        .body(())
        .unwrap()
        .into_parts();
    let long = "x".repeat(1000);
    let refused = mock
        .answer(parts, Bytes::from(long.clone()), SystemTime::now())
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let journal = mock.journal();
    assert_eq!(
        journal[0].meta["nearestStub"],
        json!({"index": 0, "refused": [{
            "index": 1,
            "predicate": {"equals": {"path": "/orders"}},
            "why": r#"equals: path should equal "/orders"; the request has "/orders/9""#
        }]})
    );
    assert!(
        journal[1].meta.get("nearestStub").is_none(),
        "{:?}",
        journal[1].meta
    );
    // A reason quoting a body is kept as long as the journal keeps bodies.
    let why = journal[2].meta["nearestStub"]["refused"][0]["why"]
        .as_str()
        .unwrap();
    assert!(
        why.starts_with("equals: body should equal \"short\""),
        "{why}"
    );
    assert!(why.ends_with("bytes in all)"), "{why}");
    assert!(why.len() < 100, "{why}");
}
