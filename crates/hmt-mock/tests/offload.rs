//! Heavy work off the async I/O threads, through the mock's request path
//! in process: a slow generation does not hold up a cheap answer, and when
//! the heavy-work pool is full the answer is a 503 the client may retry.

use bytes::Bytes;
use hmt_mock::offload::OffloadLimits;
use hmt_mock::{Loaded, Mock, MockConfig};
use http::{Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `GET /items/{id}` answers its example; `GET /bulk` generates 400
/// strings of 1,000 characters, which takes a while (tenths of a second
/// in a debug build).
fn spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "heavy", "version": "1"},
        "paths": {
            "/items/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "an item", "content": {"application/json": {
                    "schema": {"type": "object"}, "example": {"name": "example"}
                }}}}
            }},
            "/bulk": {"get": {
                "responses": {"200": {"description": "a lot", "content": {"application/json": {
                    "schema": {"type": "array", "minItems": 400, "maxItems": 400,
                        "items": {"type": "string", "minLength": 1000, "maxLength": 1000}}
                }}}}
            }}
        }
    })
}

fn mock(offload: OffloadLimits) -> Arc<Mock> {
    let loaded = hmt_mock::load::load_document(
        std::path::Path::new("heavy.json"),
        spec(),
        &mut Default::default(),
    )
    .unwrap();
    let config = MockConfig {
        offload,
        ..MockConfig::default()
    };
    Arc::new(
        Mock::new(
            config,
            Loaded::new(vec![hmt_mock::compile(loaded).unwrap()]),
        )
        .unwrap(),
    )
}

async fn get(mock: &Mock, uri: &str) -> Response<hmt_mock::body::Body> {
    let mut request = http::Request::get(uri);
    if uri == "/bulk" {
        // Generated afresh every time, never from the cache.
        request = request.header("prefer", "dynamic=true");
    }
    let request = request.body(()).unwrap();
    let (parts, ()) = request.into_parts();
    mock.answer(parts, Bytes::new(), SystemTime::now()).await
}

/// With one worker thread, a cheap request made while a slow generation
/// runs is answered before the slow one finishes: the generation was
/// handed off the worker. (Order, not time, is asserted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_generation_does_not_hold_up_a_cheap_answer() {
    let mock = mock(OffloadLimits::default());
    let slow = {
        let mock = mock.clone();
        tokio::spawn(async move { get(&mock, "/bulk").await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cheap = get(&mock, "/items/1").await;
    assert_eq!(cheap.status(), StatusCode::OK);
    assert!(
        !slow.is_finished(),
        "the cheap answer came only after the slow generation finished"
    );
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), StatusCode::OK);
    assert!(slow.body().bytes().unwrap().len() > 400_000);
}

/// One worker and no queue: a second heavy request while the first runs
/// is refused at once with 503 and `Retry-After`; cheap ones still pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_answers_503_with_retry_after() {
    let mock = mock(OffloadLimits {
        workers: 1,
        queue: 0,
        deadline: Duration::from_secs(5),
    });
    let slow = {
        let mock = mock.clone();
        tokio::spawn(async move { get(&mock, "/bulk").await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let refused = get(&mock, "/bulk").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let text = String::from_utf8(refused.body().bytes().unwrap().to_vec()).unwrap();
    assert!(text.contains("too busy"), "{text}");
    assert_eq!(get(&mock, "/items/1").await.status(), StatusCode::OK);
    assert!(
        !slow.is_finished(),
        "the slow generation was too quick for this test"
    );
    assert_eq!(slow.await.unwrap().status(), StatusCode::OK);
    // The pool is free again.
    assert_eq!(get(&mock, "/bulk").await.status(), StatusCode::OK);
}
