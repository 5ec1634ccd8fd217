//! The reader and writer against real recordings and the http-types JSON Schema.

use hmt_types::{Exchange, Fields, Input, JsonlReader, JsonlWriter, Method, Protocol, Request};
use proptest::prelude::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hmt_fixtures() -> PathBuf {
    let dir = repo_root().join("fixtures/hmt");
    assert!(
        dir.is_dir(),
        "HMT fixtures not found at {}: the repository's fixtures/hmt is missing",
        dir.display()
    );
    dir
}

fn schema_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo_root().join("fixtures/http-types/http-types-schema.json"))
            .expect("http-types schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            jsonl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

fn assert_valid_line(validator: &jsonschema::Validator, line: &str, context: &str) {
    let value: Value = serde_json::from_str(line).expect("writer emits JSON");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{context}: {errors:?}\n{line}");
}

#[test]
fn every_hmt_recording_parses_and_rewrites_as_valid_http_types() {
    let validator = schema_validator();
    let mut files = Vec::new();
    jsonl_files(&hmt_fixtures(), &mut files);
    assert!(files.len() >= 7, "found only {files:?}");
    let mut total = 0;
    for file in &files {
        let input = Input::open(file.to_str().expect("utf-8 path")).expect("open");
        for (i, exchange) in input.exchanges().enumerate() {
            let exchange = exchange.unwrap_or_else(|e| panic!("{e}"));
            let line = exchange.to_json_line();
            assert_valid_line(&validator, &line, &format!("{}:{}", file.display(), i + 1));
            let again = Exchange::from_json_line(&line).expect("re-reads");
            assert_eq!(again, exchange, "{}: round trip", file.display());
            total += 1;
        }
    }
    assert!(total > 190, "read {total} exchanges");
}

#[test]
fn reads_the_shapes_real_files_contain() {
    let input = Input::open(
        hmt_fixtures()
            .join("py-http-types/tests/resources/sample.jsonl")
            .to_str()
            .expect("path"),
    )
    .expect("open");
    let all: Vec<Exchange> = input.exchanges().map(|e| e.expect("valid")).collect();
    // pathname + query object
    assert_eq!(all[0].request.pathname, "/user/repos");
    assert_eq!(all[0].request.query.get("q"), Some("v"));
    assert_eq!(all[0].request.protocol, Some(Protocol::Http));
    // path with a query string, no query object: query derived
    assert_eq!(all[1].request.pathname, "/user/repos");
    assert_eq!(all[1].request.query.get("q"), Some("v"));
    assert_eq!(all[1].request.body_text(), Some("{\"a\":2}"));
    // meta kept
    assert_eq!(all[2].meta["hello"]["world"], Value::Bool(true));
}

#[test]
fn body_as_json_is_accepted_and_written_as_body() {
    let line = r#"{"request":{"method":"post","path":"/p"},"response":{"statusCode":201,"bodyAsJson":{"paymentId":"foo"}}}"#;
    let exchange = Exchange::from_json_line(line).expect("valid");
    let response = exchange.response.as_ref().expect("response");
    assert_eq!(response.body_text(), Some(r#"{"paymentId":"foo"}"#));
    assert_eq!(
        exchange.to_json_line(),
        r#"{"request":{"method":"post","path":"/p"},"response":{"statusCode":201,"body":"{\"paymentId\":\"foo\"}"}}"#
    );
}

#[test]
fn legacy_req_res_keys_are_read() {
    let line = r#"{"req":{"method":"get","path":"/a"},"res":{"statusCode":204}}"#;
    let exchange = Exchange::from_json_line(line).expect("valid");
    assert_eq!(exchange.response.map(|r| r.status), Some(204));
}

#[test]
fn url_alone_gives_host_protocol_path_and_query() {
    let line =
        r#"{"request":{"method":"GET","url":"https://api.example.com:8443/users/1?x=1&x=2#frag"}}"#;
    let r = Exchange::from_json_line(line).expect("valid").request;
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.protocol, Some(Protocol::Https));
    assert_eq!(r.host.as_deref(), Some("api.example.com:8443"));
    assert_eq!(r.pathname, "/users/1");
    assert_eq!(r.query.get_all("x"), &["1", "2"]);
}

fn read_error(jsonl: &str) -> String {
    let mut reader = JsonlReader::new(jsonl.as_bytes(), "rec.jsonl");
    loop {
        match reader.next() {
            Some(Ok(_)) => continue,
            Some(Err(e)) => return e.to_string(),
            None => panic!("no error in {jsonl}"),
        }
    }
}

#[test]
fn errors_name_the_line_the_pointer_and_the_problem() {
    let ok = r#"{"request":{"method":"get","path":"/"}}"#;
    assert_eq!(
        read_error(&format!(
            "{ok}\n{ok}\n{{\"request\":{{\"method\":\"get\",\"path\":\"/\",\"colour\":1}}}}\n"
        )),
        "rec.jsonl:3: at /request/colour: unknown field `colour`, expected one of `method`, `protocol`, `host`, `url`, `path`, `pathname`, `query`, `headers`, `body`, `bodyAsJson`, `timestamp` (column 46)"
    );
    assert_eq!(
        read_error(&format!(
            "{ok}\n{{\"request\":{{\"method\":\"get\",\"path\":\"/\",\"headers\":{{\"a\":1}}}}}}"
        )),
        "rec.jsonl:2: at /request/headers/a: invalid type: integer `1`, expected a string or an array of strings (column 54)"
    );
    assert_eq!(
        read_error(
            "{\"request\":{\"method\":\"get\",\"path\":\"/\"},\"response\":{\"statusCode\":42}}"
        ),
        "rec.jsonl:1: at /response/statusCode: status code 42 is not a whole number from 100 to 999 (column 66)"
    );
    assert_eq!(
        read_error("{\"request\":{\"method\":\"get\"}}"),
        "rec.jsonl:1: at /request: request has none of path, pathname or url"
    );
    assert!(
        read_error("{\"request\":{\"method\":\"get\",\"path\":\"/\"}")
            .starts_with("rec.jsonl:1: EOF while parsing an object"),
    );
    assert_eq!(
        read_error(
            "{\"request\":{\"method\":\"get\",\"path\":\"/\"},\"response\":{\"statusCode\":\"abc\"}}"
        ),
        "rec.jsonl:1: at /response/statusCode: invalid type: string \"abc\", expected a status code, a whole number from 100 to 999 (column 69)"
    );
    assert_eq!(
        read_error(
            "{\"request\":{\"method\":\"get\",\"path\":\"/\"},\"response\":{\"statusCode\":200,\"body\":\"x\"\n"
        ),
        "rec.jsonl:1: at /response: EOF while parsing an object (column 78)"
    );
    assert_eq!(
        read_error("not json"),
        "rec.jsonl:1: not a JSON object: the line starts \"not json\""
    );
    assert_eq!(
        read_error(
            r#"{"request":{"method":"get","path":"/","body":"%%%"},"meta":{"requestBodyEncoding":"base64"}}"#
        ),
        "rec.jsonl:1: at /request/body: body is marked base64 in meta but does not decode: Invalid symbol 37, offset 0."
    );
}

#[test]
fn reading_goes_on_after_a_bad_line() {
    let jsonl = "{\"request\":{\"method\":\"get\",\"path\":\"/a\"}}\n{oops\n{\"request\":{\"method\":\"get\",\"path\":\"/b\"}}\n";
    let results: Vec<_> = JsonlReader::new(jsonl.as_bytes(), "x").collect();
    assert_eq!(results.len(), 3);
    assert!(results[1].as_ref().is_err_and(|e| e.is_invalid_line()));
    assert_eq!(
        results[2]
            .as_ref()
            .map(|e| e.request.pathname.as_str())
            .ok(),
        Some("/b")
    );
}

#[test]
fn gzip_input_is_detected_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rec.jsonl.gz");
    let file = std::fs::File::create(&path).expect("create");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    for i in 0..1000 {
        writeln!(
            gz,
            "{{\"request\":{{\"method\":\"get\",\"path\":\"/items/{i}\"}}}}"
        )
        .expect("write");
    }
    gz.finish().expect("finish");
    let input = Input::open(path.to_str().expect("path")).expect("open");
    let paths: Vec<String> = input
        .exchanges()
        .map(|e| e.expect("valid").request.pathname)
        .collect();
    assert_eq!(paths.len(), 1000);
    assert_eq!(paths[999], "/items/999");
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _./-]{0,12}",
        any::<String>(),
        Just("{\"a\":[1,2.5,null]}".to_owned()),
    ]
}

fn arb_fields() -> impl Strategy<Value = Fields> {
    proptest::collection::vec(
        (
            "[a-zA-Z][a-zA-Z0-9-]{0,8}",
            proptest::collection::vec(arb_text(), 1..3),
        ),
        0..4,
    )
    .prop_map(Fields::from_entries)
}

prop_compose! {
    fn arb_exchange()(
        method in proptest::sample::select(Method::ALL.to_vec()),
        https in any::<bool>(),
        segments in proptest::collection::vec("[a-z0-9]{1,6}", 0..4),
        query in proptest::option::of("[a-z]=[a-z0-9%+]{0,4}(&[a-z]=[a-z0-9]{0,3}){0,2}"),
        headers in arb_fields(),
        request_body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        status in 100u16..600,
        response_headers in arb_fields(),
        response_body in proptest::option::of(prop_oneof![
            arb_text().prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]),
        has_response in any::<bool>(),
    ) -> Exchange {
        let path = format!("/{}{}", segments.join("/"), query.map(|q| format!("?{q}")).unwrap_or_default());
        let mut request = Request::new(method, &path);
        request.protocol = Some(if https { Protocol::Https } else { Protocol::Http });
        request.host = Some("api.example.com".into());
        request.headers = headers;
        request.body = request_body;
        let response = has_response.then(|| hmt_types::Response {
            status,
            headers: response_headers,
            body: response_body,
            timestamp: Some("2024-01-02T03:04:05Z".into()),
        });
        Exchange { request, response, meta: Default::default() }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn written_lines_are_valid_http_types_and_read_back_equal(exchange in arb_exchange()) {
        let validator = schema_validator();
        let mut writer = JsonlWriter::new(Vec::new());
        writer.write(&exchange).expect("write to memory");
        let bytes = writer.into_inner();
        prop_assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        let line = std::str::from_utf8(&bytes).expect("utf-8");
        assert_valid_line(&validator, line.trim_end(), "generated");
        let back = Exchange::from_json_line(line).expect("reads back");
        prop_assert_eq!(&back, &exchange);
        // Canonical: writing again gives the same bytes.
        prop_assert_eq!(back.to_json_line(), line.trim_end());
    }
}
