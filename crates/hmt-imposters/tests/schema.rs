//! The imposter JSON Schemas (`hmt_imposters::schema`) against the reader
//! they describe. Every imposter under `fixtures/imposters/` must pass the
//! schema, be read by `Definition::parse` and its stubs compiled, and be
//! created over real HTTP by the imposters API (one by one with `POST
//! /imposters`, all together with `PUT /imposters`); a table of imposters
//! the reader refuses must be refused by the schema too.

use hmt_imposters::{Api, Definition, Imposters, ImpostersConfig};
use hmt_stub::CompileOptions;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imposters")
}

/// Every imposter fixture, by file name, sorted.
fn fixtures() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/imposters")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "found only {files:?}");
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            )
        })
        .collect()
}

fn validator(schema: schemars::Schema) -> jsonschema::Validator {
    let schema = serde_json::to_value(schema).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// What the API does with an imposter's JSON before it serves it: read the
/// definition and compile its stubs, JavaScript allowed.
fn read(imposter: &Value) -> Result<(), String> {
    let options = CompileOptions {
        scripts: Some(Arc::new(
            hmt_js::Engine::new(hmt_js::Limits::default()).expect("a JavaScript engine"),
        )),
    };
    let definition = Definition::parse(imposter, "").map_err(|e| e.message)?;
    definition
        .compile(&options, "")
        .map(drop)
        .map_err(|e| e.message)
}

#[test]
fn every_imposter_fixture_passes_the_schema_and_the_reader() {
    let validator = validator(hmt_imposters::schema::imposter());
    for (name, imposter) in fixtures() {
        let errors = schema_errors(&validator, &imposter);
        assert!(
            errors.is_empty(),
            "{name}: the schema refuses it: {errors:?}"
        );
        read(&imposter).unwrap_or_else(|e| panic!("{name}: the reader refuses it: {e}"));
    }
}

/// The admin API on loopback, JavaScript allowed.
async fn start_admin() -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ImpostersConfig {
        allow_injection: true,
        ..ImpostersConfig::default()
    };
    let api = Arc::new(Api::new(Imposters::new(config), port));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.serve(request).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// The fixtures the API can create here: `sources.json` names specs that
/// need the command line's loader, which `hmt mock` gives.
fn servable_fixtures() -> Vec<(String, Value)> {
    fixtures()
        .into_iter()
        .filter(|(_, imposter)| imposter.get("hmt").is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_imposters_api_creates_every_fixture() {
    let url = start_admin().await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for (name, imposter) in servable_fixtures() {
        let response = client
            .post(format!("{url}/imposters"))
            .body(imposter.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(status, 201, "{name}: {body}");
        let port = body["port"].as_u64().expect("a port");
        let deleted = client
            .delete(format!("{url}/imposters/{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 200, "{name}");
    }
    let all: Vec<Value> = servable_fixtures().into_iter().map(|(_, v)| v).collect();
    let document = json!({"imposters": all});
    let errors = schema_errors(&validator(hmt_imposters::schema::imposters()), &document);
    assert!(
        errors.is_empty(),
        "the imposters schema refuses them: {errors:?}"
    );
    let replaced = client
        .put(format!("{url}/imposters"))
        .body(document.to_string())
        .send()
        .await
        .unwrap();
    let status = replaced.status().as_u16();
    let body: Value = serde_json::from_str(&replaced.text().await.unwrap()).unwrap();
    assert_eq!(status, 200, "PUT /imposters: {body}");
    assert_eq!(body["imposters"].as_array().map(Vec::len), Some(all.len()));
    let cleared = client
        .delete(format!("{url}/imposters"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
}

/// Each imposter here is refused by the reader, and must be by the schema.
#[test]
fn imposters_the_reader_refuses_the_schema_refuses() {
    let validator = validator(hmt_imposters::schema::imposter());
    let with_stub = |stub: Value| json!({"protocol": "http", "stubs": [stub]});
    let with_response = |response: Value| with_stub(json!({"responses": [response]}));
    let with_predicate = |predicate: Value| with_stub(json!({"predicates": [predicate]}));
    let with_behavior = |behavior: Value| with_response(json!({"is": {}, "behaviors": [behavior]}));
    let copy =
        json!({"from": "path", "into": "${P}", "using": {"method": "regex", "selector": ".*"}});
    let table = [
        ("not an object", json!(["http"])),
        ("no protocol", json!({"port": 4545})),
        ("unsupported protocol", json!({"protocol": "tcp"})),
        ("protocol not a string", json!({"protocol": 1})),
        ("port too large", json!({"protocol": "http", "port": 70000})),
        ("port negative", json!({"protocol": "http", "port": -1})),
        (
            "port not a number",
            json!({"protocol": "http", "port": "http"}),
        ),
        (
            "recordRequests a string",
            json!({"protocol": "http", "recordRequests": "yes"}),
        ),
        (
            "allowCORS a number",
            json!({"protocol": "http", "allowCORS": 1}),
        ),
        (
            "defaultResponse an array",
            json!({"protocol": "http", "defaultResponse": []}),
        ),
        ("stubs an object", json!({"protocol": "http", "stubs": {}})),
        ("stubs null", json!({"protocol": "http", "stubs": null})),
        ("stub not an object", with_stub(json!("stub"))),
        (
            "https key a number",
            json!({"protocol": "https", "key": 5, "cert": "x"}),
        ),
        (
            "hmt not an object",
            json!({"protocol": "http", "hmt": ["api.yaml"]}),
        ),
        (
            "hmt unknown field",
            json!({"protocol": "http", "hmt": {"spec": ["api.yaml"]}}),
        ),
        (
            "hmt specs a string",
            json!({"protocol": "http", "hmt": {"specs": "api.yaml"}}),
        ),
        (
            "hmt recordings of numbers",
            json!({"protocol": "http", "hmt": {"recordings": [1]}}),
        ),
        (
            "predicates an object",
            with_stub(json!({"predicates": {"equals": {"path": "/"}}})),
        ),
        (
            "unknown predicate operator",
            with_predicate(json!({"equal": {"path": "/"}})),
        ),
        ("empty predicate", with_predicate(json!({}))),
        (
            "operator on a string",
            with_predicate(json!({"equals": "/"})),
        ),
        (
            "or of an object",
            with_predicate(json!({"or": {"equals": {"path": "/"}}})),
        ),
        ("not of a string", with_predicate(json!({"not": "equals"}))),
        ("inject a number", with_predicate(json!({"inject": 5}))),
        (
            "caseSensitive a string",
            with_predicate(json!({"equals": {"path": "/"}, "caseSensitive": "yes"})),
        ),
        (
            "except a number",
            with_predicate(json!({"equals": {"path": "/"}, "except": 1})),
        ),
        (
            "jsonpath without selector",
            with_predicate(json!({"equals": {"body": "1"}, "jsonpath": {}})),
        ),
        (
            "xpath ns of numbers",
            with_predicate(
                json!({"equals": {"body": "1"}, "xpath": {"selector": "//a", "ns": {"a": 1}}}),
            ),
        ),
        (
            "responses an object",
            with_stub(json!({"responses": {"is": {}}})),
        ),
        ("response not an object", with_response(json!("is"))),
        (
            "two response types",
            with_response(json!({"is": {}, "fault": "CONNECTION_RESET_BY_PEER"})),
        ),
        ("is a string", with_response(json!({"is": "hello"}))),
        (
            "proxy without to",
            with_response(json!({"proxy": {"mode": "proxyOnce"}})),
        ),
        (
            "proxy to a number",
            with_response(json!({"proxy": {"to": 8080}})),
        ),
        (
            "inject response a number",
            with_response(json!({"inject": 1})),
        ),
        ("repeat 0", with_response(json!({"is": {}, "repeat": 0}))),
        (
            "repeat a string",
            with_response(json!({"is": {}, "repeat": "2"})),
        ),
        (
            "chunks an object",
            with_response(json!({"is": {"chunks": {"data": "a"}}})),
        ),
        (
            "chunk data a number",
            with_response(json!({"is": {"chunks": [{"data": 1}]}})),
        ),
        (
            "chunk without data",
            with_response(json!({"is": {"chunks": [{"waitMs": 5}]}})),
        ),
        (
            "chunk wait too long",
            with_response(json!({"is": {"chunks": [{"data": "a", "waitMs": 700000}]}})),
        ),
        (
            "behaviors an object",
            with_response(json!({"is": {}, "behaviors": {"wait": 5}})),
        ),
        ("unknown behavior", with_behavior(json!({"delay": 5}))),
        ("repeat as a behavior", with_behavior(json!({"repeat": 2}))),
        ("wait negative", with_behavior(json!({"wait": -1}))),
        ("wait a boolean", with_behavior(json!({"wait": true}))),
        (
            "copy without using",
            with_behavior(json!({"copy": {"from": "path", "into": "${P}"}})),
        ),
        (
            "copy without into",
            with_behavior(json!({"copy": {"from": "path", "using": copy["using"]}})),
        ),
        (
            "copy into empty",
            with_behavior(json!({"copy": {"from": "path", "into": "", "using": copy["using"]}})),
        ),
        (
            "copy from two fields",
            with_behavior(
                json!({"copy": {"from": {"query": "a", "headers": "b"}, "into": "${P}", "using": copy["using"]}}),
            ),
        ),
        (
            "copy using an unknown method",
            with_behavior(
                json!({"copy": {"from": "path", "into": "${P}", "using": {"method": "glob", "selector": "*"}}}),
            ),
        ),
        (
            "copy selector a number",
            with_behavior(
                json!({"copy": {"from": "path", "into": "${P}", "using": {"method": "regex", "selector": 1}}}),
            ),
        ),
        (
            "lookup without key",
            with_behavior(
                json!({"lookup": {"fromDataSource": {"csv": {"path": "a.csv", "keyColumn": "id"}}, "into": "${R}"}}),
            ),
        ),
        (
            "lookup without csv",
            with_behavior(
                json!({"lookup": {"key": copy.clone(), "fromDataSource": {}, "into": "${R}"}}),
            ),
        ),
        (
            "lookup delimiter of two",
            with_behavior(
                json!({"lookup": {"key": copy.clone(), "fromDataSource": {"csv": {"path": "a.csv", "keyColumn": "id", "delimiter": ";;"}}, "into": "${R}"}}),
            ),
        ),
        (
            "shellTransform a number",
            with_behavior(json!({"shellTransform": 5})),
        ),
        ("decorate a number", with_behavior(json!({"decorate": 5}))),
    ];
    let mut wrong = Vec::new();
    for (what, imposter) in table {
        if read(&imposter).is_ok() {
            wrong.push(format!("{what}: the reader takes {imposter}"));
        }
        if validator.is_valid(&imposter) {
            wrong.push(format!(
                "{what}: the schema takes {imposter}, which the reader refuses"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
