//! End-to-end tests of the drift gate, `hmt build --check SPEC`, through the
//! binary: specs built from recordings fit those recordings, a published
//! spec (the Petstore) against traffic that drifts in every way, the JSON
//! report, exit codes and errors.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temp dir")
}

/// `hmt build --check SPEC -i INPUT EXTRA...`.
fn check(spec: &Path, input: &Path, extra: &[&str]) -> Outcome {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--check".as_ref(),
        spec.as_os_str(),
        "-i".as_ref(),
        input.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run_build(&args, None)
}

fn json_report(outcome: &Outcome) -> Value {
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}", outcome.stdout))
}

/// The Petstore spec of the OpenAPI examples, as HMT's tests have it.
fn petstore() -> PathBuf {
    hmt_fixtures().join("hmt/tests/build/schemas/petstore/index.yaml")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn lines(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

/// Petstore traffic: four exchanges that fit, then one of each drift the
/// Petstore can show.
fn petstore_traffic() -> Vec<Value> {
    let pet = |path: &str, status: u16, content_type: &str, body: &str| {
        json!({"request": {"method": "get", "host": "petstore.swagger.io", "path": path,
                           "headers": {"accept": "application/json", "user-agent": "curl/8.5"}},
               "response": {"statusCode": status, "headers": {"content-type": content_type}, "body": body}})
    };
    vec![
        // 1-4 fit
        pet(
            "/v1/pets?limit=10",
            200,
            "application/json",
            r#"[{"id":1,"name":"Rex","tag":"dog"}]"#,
        ),
        pet(
            "/v1/pets/1",
            200,
            "application/json",
            r#"{"id":1,"name":"Rex"}"#,
        ),
        json!({"request": {"method": "post", "host": "petstore.swagger.io", "path": "/v1/pets"}, "response": {"statusCode": 201}}),
        pet(
            "/v1/pets/2",
            404,
            "application/json",
            r#"{"code":404,"message":"no pet 2"}"#,
        ),
        // 5 undocumented path
        pet("/v1/stores/7", 200, "application/json", "{}"),
        // 6 undocumented operation
        json!({"request": {"method": "delete", "host": "petstore.swagger.io", "path": "/v1/pets/1"}, "response": {"statusCode": 204}}),
        // 7 undocumented media type, query parameter and header; limit not an integer
        json!({"request": {"method": "get", "host": "petstore.swagger.io", "path": "/v1/pets?limit=ten&sort=name", "headers": {"x-tenant": "acme"}},
               "response": {"statusCode": 200, "headers": {"content-type": "text/csv"}, "body": "id,name"}}),
        // 8 id of the wrong type; an undocumented field
        pet(
            "/v1/pets/3",
            200,
            "application/json",
            r#"{"id":"three","name":"Tom","colour":"grey"}"#,
        ),
        // 9 a pet without its required name
        pet(
            "/v1/pets",
            200,
            "application/json",
            r#"[{"id":1,"name":"Rex"},{"id":3}]"#,
        ),
    ]
}

#[test]
fn specs_built_from_recordings_fit_those_recordings() {
    let mut inputs: Vec<PathBuf> = ["pokeapi", "github", "opbank", "shop"]
        .iter()
        .map(|name| recording(name))
        .collect();
    inputs.push(shop_recording().to_owned());
    for input in &inputs {
        for mode in ["gen", "mixed"] {
            for version in ["3.0", "3.1"] {
                let out = tempdir();
                build_into(input, out.path(), mode, &["--openapi", version]);
                let outcome = check(
                    &out.path().join("openapi.json"),
                    input,
                    &["--report", "json"],
                );
                let report = json_report(&outcome);
                assert_eq!(
                    (outcome.code, &report["findings"]),
                    (Some(0), &json!([])),
                    "{} ({mode}, {version}) does not fit the spec built from it",
                    input.display()
                );
                assert_eq!(report["drift"], false);
                assert!(report["exchanges"].as_u64().unwrap() > 0);
            }
        }
    }
}

#[test]
fn petstore_traffic_that_fits_exits_0() {
    let dir = tempdir();
    let traffic = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()[..4]));
    let outcome = check(&petstore(), &traffic, &[]);
    assert_eq!(
        outcome.code,
        Some(0),
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert_eq!(
        outcome.stdout,
        format!("no drift: 4 exchanges fit {}\n", petstore().display())
    );
    assert_eq!(outcome.stderr, "");

    // Nothing is written: the working directory stays empty.
    let cwd = tempdir();
    let output = assert_cmd::Command::cargo_bin("hmt")
        .expect("the hmt binary")
        .current_dir(cwd.path())
        .args(["build", "--check"])
        .arg(petstore())
        .arg("-i")
        .arg(&traffic)
        .output()
        .expect("hmt runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(file_names(cwd.path()).len(), 0, "--check wrote files");
}

#[test]
fn petstore_traffic_that_drifts_exits_1_with_every_finding_located() {
    let dir = tempdir();
    let traffic = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()));
    let outcome = check(&petstore(), &traffic, &["--report", "json"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = json_report(&outcome);
    assert_eq!(report["exchanges"], 9);
    assert_eq!(report["exchangesWithDrift"], 5);
    assert_eq!(
        report["counts"],
        json!({"undocumented-path": 1, "undocumented-operation": 1, "undocumented-status": 0,
               "undocumented-media-type": 1, "undocumented-parameter": 2, "missing-parameter": 0,
               "undocumented-field": 1, "schema-violation": 3})
    );
    let file = traffic.display().to_string();
    let found: Vec<(String, u64, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["location"]["file"], file.as_str());
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
                f["operation"].as_str().unwrap_or("-").to_owned(),
                f["specPointer"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("undocumented-path", 5, "-", "#/paths"),
        (
            "undocumented-operation",
            6,
            "DELETE /pets/{petId}",
            "#/paths/~1pets~1{petId}",
        ),
        (
            "undocumented-parameter",
            7,
            "GET /pets",
            "#/paths/~1pets/get/parameters",
        ),
        (
            "undocumented-parameter",
            7,
            "GET /pets",
            "#/paths/~1pets/get/parameters",
        ),
        (
            "schema-violation",
            7,
            "GET /pets",
            "#/paths/~1pets/get/parameters/0/schema",
        ),
        (
            "undocumented-media-type",
            7,
            "GET /pets",
            "#/paths/~1pets/get/responses/200/content",
        ),
        (
            "schema-violation",
            8,
            "GET /pets/{petId}",
            "#/components/schemas/Pet/properties/id/type",
        ),
        (
            "undocumented-field",
            8,
            "GET /pets/{petId}",
            "#/components/schemas/Pet",
        ),
        (
            "schema-violation",
            9,
            "GET /pets",
            "#/components/schemas/Pet/required",
        ),
    ];
    let expected: Vec<(String, u64, String, String)> = expected
        .iter()
        .map(|(k, l, o, p)| (k.to_string(), *l, o.to_string(), p.to_string()))
        .collect();
    assert_eq!(found, expected);

    // The same findings for people, grouped, ending with the verdict.
    let text = check(&petstore(), &traffic, &[]);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout
            .starts_with("undocumented paths (1)\n  GET /v1/stores/7\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("    at {file}:8\n")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.ends_with(&format!(
            "drift: 5 of 9 exchanges do not fit {} (9 findings)\n",
            petstore().display()
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn the_report_is_the_same_bytes_on_every_run_and_from_stdin() {
    let dir = tempdir();
    let traffic = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()));
    for report in ["json", "text"] {
        let first = check(&petstore(), &traffic, &["--report", report]);
        let second = check(&petstore(), &traffic, &["--report", report]);
        assert_eq!(first.stdout, second.stdout);
        let args: Vec<std::ffi::OsString> = vec![
            "--check".into(),
            petstore().into_os_string(),
            "-i".into(),
            "-".into(),
            "--report".into(),
            report.into(),
        ];
        let piped = run_build(&args, Some(&traffic));
        assert_eq!(piped.code, Some(1));
        assert_eq!(
            piped.stdout,
            first
                .stdout
                .replace(&traffic.display().to_string(), "<stdin>")
        );
    }
}

#[test]
fn unreadable_specs_and_traffic_exit_2_saying_where() {
    let dir = tempdir();
    let traffic = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()[..2]));
    let expect_2 = |outcome: Outcome, wanted: &str| {
        assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
        assert!(
            outcome.stderr.contains(wanted),
            "{wanted:?} not in {:?}",
            outcome.stderr
        );
        assert_eq!(outcome.stdout, "");
    };

    let broken = write(
        dir.path(),
        "broken.yaml",
        "openapi: 3.0.0\npaths:\n  /a: [\n",
    );
    expect_2(
        check(&broken, &traffic, &[]),
        &format!("hmt: error: {}: ", broken.display()),
    );
    expect_2(check(&broken, &traffic, &[]), "line");

    let bad_status = write(
        dir.path(),
        "bad.yaml",
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        20x: {description: x}\n",
    );
    expect_2(
        check(&bad_status, &traffic, &[]),
        "bad.yaml: at /paths/~1a/get/responses/20x: \"20x\" is not a status code",
    );
    expect_2(
        check(&dir.path().join("none.yaml"), &traffic, &[]),
        "none.yaml",
    );

    let bad_line = write(
        dir.path(),
        "bad.jsonl",
        &format!(
            "{}\n{{\"request\":{{\"method\":\"fetch\",\"path\":\"/\"}}}}\n",
            petstore_traffic()[0]
        ),
    );
    expect_2(
        check(&petstore(), &bad_line, &[]),
        &format!(
            "{}:2: at /request/method: unknown method \"fetch\"",
            bad_line.display()
        ),
    );
    expect_2(
        check(&petstore(), &dir.path().join("none.jsonl"), &[]),
        "cannot open",
    );
    expect_2(
        check(&petstore(), Path::new("kafka://localhost:9092/t"), &[]),
        "--check reads files and stdin",
    );

    // With --skip-invalid the bad line is skipped and the rest checked.
    let skipped = check(&petstore(), &bad_line, &["--skip-invalid"]);
    assert_eq!(skipped.code, Some(0), "{}", skipped.stderr);
    assert!(
        skipped.stderr.contains("1 invalid line skipped"),
        "{}",
        skipped.stderr
    );
}

#[test]
fn check_options_that_make_no_sense_are_usage_errors() {
    let dir = tempdir();
    let traffic = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()[..1]));
    let spec = petstore();
    for extra in [
        &["--format", "yaml"][..],
        &["-o", "out"],
        &["-m", "replay"],
        &["--report", "xml"],
    ] {
        let outcome = check(&spec, &traffic, extra);
        assert_eq!(outcome.code, Some(2), "{extra:?}: {}", outcome.stderr);
    }
    let outcome = run_build(
        &[
            "-i".as_ref(),
            traffic.as_os_str(),
            "--report".as_ref(),
            "json".as_ref(),
        ],
        None,
    );
    assert_eq!(
        outcome.code,
        Some(2),
        "--report without --check: {}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("--check"), "{}", outcome.stderr);
}

#[test]
fn stripe_spec_forms_brackets_and_unions() {
    let dir = tempdir();
    let traffic = write(
        dir.path(),
        "stripe.jsonl",
        &lines(&[
            json!({"request": {"method": "get", "host": "api.stripe.com", "path": "/v1/customers/cus_123?expand[]=default_source",
                               "headers": {"authorization": "Bearer sk_test_x"}},
                   "response": {"statusCode": 200, "headers": {"content-type": "application/json"},
                                "body": r#"{"id":"cus_123","object":"customer","nickname":"x"}"#}}),
            json!({"request": {"method": "post", "host": "api.stripe.com", "path": "/v1/customers",
                               "headers": {"content-type": "application/x-www-form-urlencoded"}, "body": "email=a%40b.c&balance=ten"},
                   "response": {"statusCode": 402, "headers": {"content-type": "application/json"}, "body": r#"{"error":{"type":"card_error"}}"#}}),
        ]),
    );
    let spec = hmt_fixtures().join("hmt/tests/serve/mock/schemas/stripe/index.yaml");
    let outcome = check(&spec, &traffic, &["--report", "json"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = json_report(&outcome);
    let found: Vec<(String, u64, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().chars().take(60).collect(),
            )
        })
        .collect();
    // `expand[]` is Stripe's declared `expand`; the customer is one branch
    // of an anyOf (so missing fields break it), `nickname` is no field of
    // it; the form's `balance` is read as the integer its schema says.
    assert_eq!(
        found,
        [
            (
                "schema-violation".to_owned(),
                1,
                "the response body at /: {\"id\":\"cus_123\",\"object\":\"customer\",".to_owned()
            ),
            (
                "undocumented-field".to_owned(),
                1,
                "property \"nickname\" is not in the schema (#/components/schem".to_owned()
            ),
            (
                "schema-violation".to_owned(),
                2,
                "the request body at /balance: \"ten\" is not of type \"integer\"".to_owned()
            ),
        ]
    );
}

#[test]
fn har_traffic_is_checked_and_findings_name_the_entry() {
    let dir = tempdir();
    let jsonl = write(dir.path(), "t.jsonl", &lines(&petstore_traffic()));
    let har = dir.path().join("t.har");
    let converted = std::process::Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("convert")
        .arg(&jsonl)
        .arg(&har)
        .output()
        .expect("run hmt convert");
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let outcome = check(&petstore(), &har, &["--report", "json"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let report = json_report(&outcome);
    let from_jsonl = json_report(&check(&petstore(), &jsonl, &["--report", "json"]));
    assert_eq!(report["counts"], from_jsonl["counts"]);
    // Line 5 of the JSONL is entry 4 of the HAR.
    let undocumented = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["kind"] == "undocumented-path")
        .expect("the undocumented path");
    assert_eq!(
        undocumented["location"],
        json!({"file": har.display().to_string(), "pointer": "/log/entries/4"})
    );
}
