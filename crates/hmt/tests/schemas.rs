//! `hmt schema`: what it prints is what `schemas/*.json` holds (so the
//! files editors point at never go stale), the same bytes every run, and
//! the `x-hmt-replay` schema agrees with the reader on every extension
//! `hmt build` writes for the bundled recordings and on a table of bad
//! ones.

mod common;

use assert_cmd::Command;
use common::{build_into, files_in, read_json, repo_root};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// `hmt schema ARGS`: its exit code, stdout and stderr.
fn hmt_schema(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("hmt")
        .expect("the hmt binary is built by cargo test")
        .arg("schema")
        .args(args)
        .output()
        .expect("hmt runs");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The names `hmt schema` lists.
fn schema_names() -> Vec<String> {
    let (code, stdout, stderr) = hmt_schema(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    stdout
        .lines()
        .map(|line| line.split_whitespace().next().expect("a name").to_owned())
        .collect()
}

fn printed_schema(name: &str) -> String {
    let (code, stdout, stderr) = hmt_schema(&[name]);
    assert_eq!(code, Some(0), "hmt schema {name}: {stderr}");
    stdout
}

#[test]
fn hmt_schema_lists_every_format_and_refuses_an_unknown_name() {
    let names = schema_names();
    assert_eq!(
        names,
        [
            "http-types",
            "imposter",
            "imposters",
            "x-hmt-replay",
            "x-hmt-id-path"
        ],
        "the formats listed"
    );
    let (code, stdout, stderr) = hmt_schema(&["http-type"]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no schema named \"http-type\"")
            && stderr.contains("http-types, imposter, imposters, x-hmt-replay, x-hmt-id-path"),
        "{stderr}"
    );
}

#[test]
fn the_committed_schemas_are_what_hmt_schema_prints() {
    let dir = repo_root().join("schemas");
    let names = schema_names();
    for name in &names {
        let printed = printed_schema(name);
        assert_eq!(
            printed,
            printed_schema(name),
            "{name}: not the same bytes twice"
        );
        let file = dir.join(format!("{name}.json"));
        let committed = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("{}: {e}; run `make schemas` and commit it", file.display())
        });
        assert!(
            committed == printed,
            "{} differs from `hmt schema {name}`: run `make schemas` and commit the result",
            file.display()
        );
        let schema: Value = serde_json::from_str(&printed).expect("JSON");
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{name}: not a valid JSON Schema: {e}"));
    }
    let mut files: Vec<String> = files_in(&dir)
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = names.iter().map(|n| format!("{n}.json")).collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "schemas/ holds a file hmt schema does not print"
    );
}

fn replay_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&printed_schema("x-hmt-replay")).expect("JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// Every `x-hmt-replay` in a spec, with the JSON pointer of its operation.
fn replay_extensions(spec: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if let Some(replay) = operation.get("x-hmt-replay") {
                let path = path.replace('~', "~0").replace('/', "~1");
                found.push((format!("/paths/{path}/{method}"), replay));
            }
        }
    }
    found
}

/// The `*.jsonl` files in `dir`, sorted.
fn jsonl_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = files_in(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// The project's own recordings.
fn recordings() -> Vec<PathBuf> {
    let files = jsonl_in(&repo_root().join("fixtures/recordings"));
    assert!(files.len() >= 4, "found only {files:?}");
    files
}

/// HMT's fixtures, the repository's copy.
fn hmt_fixtures() -> PathBuf {
    let dir = repo_root().join("fixtures/hmt");
    assert!(dir.is_dir(), "HMT fixtures not found at {}", dir.display());
    dir
}

/// Every recording among HMT's fixtures, sorted.
fn hmt_recordings() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for path in files_in(dir) {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&hmt_fixtures(), &mut found);
    found.sort();
    assert!(found.len() >= 7, "found only {found:?}");
    found
}

#[test]
fn every_x_hmt_replay_hmt_build_writes_passes_the_schema_and_the_reader() {
    let validator = replay_validator();
    let mut checked = 0;
    for recording in recordings().into_iter().chain(hmt_recordings()) {
        for mode in ["replay", "mixed"] {
            let out = tempfile::tempdir().expect("temp dir");
            build_into(&recording, out.path(), mode, &[]);
            for spec_file in files_in(out.path()) {
                let spec = read_json(&spec_file);
                for (at, replay) in replay_extensions(&spec) {
                    let where_ = format!("{} ({mode}) {at}", recording.display());
                    let errors: Vec<String> = validator
                        .iter_errors(replay)
                        .map(|e| format!("{e} at {}", e.instance_path()))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{where_}: the schema refuses it: {errors:?}"
                    );
                    hmt_openapi::replay::parse_entries(replay).unwrap_or_else(|e| {
                        panic!(
                            "{where_}: the reader refuses it at {}: {}",
                            e.pointer, e.message
                        )
                    });
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "checked only {checked} operations");
}

/// Each extension here is refused by the reader, and must be by the
/// schema.
#[test]
fn extensions_the_reader_refuses_the_schema_refuses() {
    let validator = replay_validator();
    let ok_response = json!({"statusCode": 200});
    let table = [
        ("not an array", json!({"request": {"path": "/"}})),
        (
            "entry without request",
            json!([{"responses": [ok_response]}]),
        ),
        (
            "request without path",
            json!([{"request": {}, "responses": [ok_response]}]),
        ),
        (
            "path a number",
            json!([{"request": {"path": 1}, "responses": [ok_response]}]),
        ),
        ("no responses", json!([{"request": {"path": "/"}}])),
        (
            "empty responses",
            json!([{"request": {"path": "/"}, "responses": []}]),
        ),
        (
            "query not an object",
            json!([{"request": {"path": "/", "query": "a=1"}, "responses": [ok_response]}]),
        ),
        (
            "header value a number",
            json!([{"request": {"path": "/", "headers": {"a": 1}}, "responses": [ok_response]}]),
        ),
        (
            "header values not strings",
            json!([{"request": {"path": "/", "headers": {"a": [1]}}, "responses": [ok_response]}]),
        ),
        (
            "status code missing",
            json!([{"request": {"path": "/"}, "responses": [{"body": "x"}]}]),
        ),
        (
            "status code a string",
            json!([{"request": {"path": "/"}, "responses": [{"statusCode": "200"}]}]),
        ),
        (
            "status code 600",
            json!([{"request": {"path": "/"}, "responses": [{"statusCode": 600}]}]),
        ),
        (
            "negative latency",
            json!([{"request": {"path": "/"}, "responses": [{"statusCode": 200, "latencyMs": -1}]}]),
        ),
        (
            "latency over an hour",
            json!([{"request": {"path": "/"}, "responses": [{"statusCode": 200, "latencyMs": 3600001}]}]),
        ),
        (
            "response headers null",
            json!([{"request": {"path": "/"}, "responses": [{"statusCode": 200, "headers": null}]}]),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, extension) in table {
        if hmt_openapi::replay::parse_entries(&extension).is_ok() {
            wrong.push(format!("{what}: the reader takes {extension}"));
        }
        if validator.is_valid(&extension) {
            wrong.push(format!(
                "{what}: the schema takes {extension}, which the reader refuses"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Editors find the schemas through the README's links.
#[test]
fn the_readme_points_editors_at_every_committed_schema() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    for name in schema_names() {
        let link = format!("schemas/{name}.json");
        assert!(readme.contains(&link), "README does not link {link}");
        assert!(
            Path::new(&repo_root().join(&link)).is_file(),
            "{link} missing"
        );
    }
}

/// `scripts/check_schema.py`: Python's `jsonschema` package, an
/// implementation hmt does not share, reading the committed files.
fn python_check(schema: &str, files: &[PathBuf]) -> (Option<i32>, String) {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-python.sh (make test does)",
        python.display()
    );
    let output = std::process::Command::new(python)
        .arg(root.join("scripts/check_schema.py"))
        .arg(root.join("schemas").join(schema))
        .args(files)
        .output()
        .expect("python runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn python_jsonschema_takes_the_fixtures_and_names_the_line_of_a_bad_one() {
    let mut recordings = recordings();
    recordings.extend(jsonl_in(&repo_root().join("fixtures/har")));
    recordings.extend(hmt_recordings());
    let (code, output) = python_check("http-types.json", &recordings);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(output.lines().count(), recordings.len(), "{output}");

    let imposters: Vec<PathBuf> = files_in(&repo_root().join("fixtures/imposters"));
    let (code, output) = python_check("imposter.json", &imposters);
    assert_eq!(code, Some(0), "{output}");

    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"request\":{\"method\":\"get\",\"path\":\"/\"}}\n\n{\"request\":{\"method\":\"get\",\"path\":\"/\"},\"response\":{\"statusCode\":99}}\n",
    )
    .expect("write");
    let (code, output) = python_check("http-types.json", std::slice::from_ref(&bad));
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains(&format!("{}:3: at /response", bad.display())),
        "{output}"
    );
}
