//! The http-types JSON Schema (`hmt_types::schema`) against the reader it
//! describes: on every recording in the repository they must agree line by
//! line, and every line in a table of bad ones must be refused by both.

use hmt_types::Exchange;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// HMT's fixtures, the repository's copy.
fn hmt_fixtures() -> PathBuf {
    let dir = repo_root().join("fixtures/hmt");
    assert!(dir.is_dir(), "HMT fixtures not found at {}", dir.display());
    dir
}

fn validator() -> jsonschema::Validator {
    let schema = serde_json::to_value(hmt_types::schema::http_types()).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// What the schema says is wrong with `value`; empty when it passes.
fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Files under `dir` whose names end with `suffix`, sorted, recursively.
fn files_ending(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_ending(&path, suffix, out);
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
}

/// Every http-types JSONL file the repository and HMT's fixtures hold.
fn recordings() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_ending(&repo_root().join("fixtures"), ".jsonl", &mut files);
    for crate_dir in std::fs::read_dir(repo_root().join("crates")).expect("crates/") {
        let tests = crate_dir.expect("entry").path().join("tests");
        if tests.is_dir() {
            files_ending(&tests, ".jsonl", &mut files);
        }
    }
    files_ending(&hmt_fixtures(), ".jsonl", &mut files);
    files.sort();
    files.dedup();
    files
}

#[test]
fn every_recorded_line_passes_the_schema_and_the_reader() {
    let validator = validator();
    let files = recordings();
    assert!(files.len() >= 15, "found only {files:?}");
    let mut lines = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", file.display(), index + 1);
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            let errors = schema_errors(&validator, &value);
            assert!(errors.is_empty(), "{at}: the schema refuses it: {errors:?}");
            Exchange::from_json_line(line)
                .unwrap_or_else(|e| panic!("{at}: the reader refuses it: {e}"));
            lines += 1;
        }
    }
    assert!(lines > 400, "read only {lines} lines");
}

#[test]
fn the_http_types_samples_pass_the_schema_and_the_reader() {
    let validator = validator();
    let mut samples = Vec::new();
    files_ending(
        &hmt_fixtures().join("http-types/valid"),
        ".json",
        &mut samples,
    );
    assert!(!samples.is_empty(), "no samples");
    for file in samples {
        let text = std::fs::read_to_string(&file).expect("readable");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let errors = schema_errors(&validator, &value);
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        Exchange::from_json_line(&value.to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// Lines the reader takes in its lenient corners, which the schema must
/// take too.
#[test]
fn the_lenient_shapes_pass_both() {
    let validator = validator();
    for line in [
        json!({"request": {"method": "GET", "protocol": "HTTPS", "url": "https://a.example/x?y=1"}}),
        json!({"req": {"method": "post", "pathname": "/a", "bodyAsJson": {"a": [1]}}, "res": {"statusCode": 201.0}}),
        json!({"request": {"method": "options", "path": "*"}, "response": null, "meta": null}),
        json!({"request": {"method": "get", "path": "/", "host": null, "query": {"a": ["1", "2"]}}}),
        json!({"request": {"method": "get", "path": "/", "body": "/w=="}, "meta": {"requestBodyEncoding": "base64", "mine": [1]}}),
    ] {
        let errors = schema_errors(&validator, &line);
        assert!(errors.is_empty(), "{line}: {errors:?}");
        Exchange::from_json_line(&line.to_string()).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

/// Each line here is refused by the reader, and must be by the schema.
#[test]
fn lines_the_reader_refuses_the_schema_refuses() {
    let validator = validator();
    let table = [
        ("no request", json!({"response": {"statusCode": 200}})),
        (
            "unknown top-level field",
            json!({"request": {"method": "get", "path": "/"}, "extra": 1}),
        ),
        (
            "unknown request field",
            json!({"request": {"method": "get", "path": "/", "verb": "get"}}),
        ),
        (
            "unknown response field",
            json!({"request": {"method": "get", "path": "/"}, "response": {"statusCode": 200, "status": 200}}),
        ),
        ("no method", json!({"request": {"path": "/"}})),
        (
            "unknown method",
            json!({"request": {"method": "fetch", "path": "/"}}),
        ),
        (
            "method not a string",
            json!({"request": {"method": 1, "path": "/"}}),
        ),
        (
            "unknown protocol",
            json!({"request": {"method": "get", "protocol": "ftp", "path": "/"}}),
        ),
        (
            "none of path, pathname, url",
            json!({"request": {"method": "get", "host": "a"}}),
        ),
        (
            "path without a slash",
            json!({"request": {"method": "get", "path": "users"}}),
        ),
        (
            "status code too small",
            json!({"request": {"method": "get", "path": "/"}, "response": {"statusCode": 99}}),
        ),
        (
            "status code a string",
            json!({"request": {"method": "get", "path": "/"}, "response": {"statusCode": "200"}}),
        ),
        (
            "status code a fraction",
            json!({"request": {"method": "get", "path": "/"}, "response": {"statusCode": 200.5}}),
        ),
        (
            "header value a number",
            json!({"request": {"method": "get", "path": "/", "headers": {"a": 1}}}),
        ),
        (
            "query not an object",
            json!({"request": {"method": "get", "path": "/", "query": "a=1"}}),
        ),
        (
            "body not a string",
            json!({"request": {"method": "get", "path": "/", "body": {"a": 1}}}),
        ),
        (
            "unknown body encoding",
            json!({"request": {"method": "get", "path": "/"}, "meta": {"requestBodyEncoding": "hex"}}),
        ),
        (
            "null body encoding",
            json!({"request": {"method": "get", "path": "/"}, "meta": {"responseBodyEncoding": null}}),
        ),
        (
            "meta not an object",
            json!({"request": {"method": "get", "path": "/"}, "meta": []}),
        ),
        ("not an object", json!([1, 2])),
    ];
    let mut wrong = Vec::new();
    for (what, line) in table {
        if Exchange::from_json_line(&line.to_string()).is_ok() {
            wrong.push(format!("{what}: the reader takes {line}"));
        }
        if validator.is_valid(&line) {
            wrong.push(format!(
                "{what}: the schema takes {line}, which the reader refuses"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
