//! End-to-end tests of `hmt build`: run the binary on real recordings (the
//! HMT 0.3.2 fixtures, the project's copies and a generated shop API) and
//! check what a user sees — the spec files, their validity (through
//! openapi-spec-validator), their content, stderr and exit codes.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const MODES: [&str; 3] = ["gen", "replay", "mixed"];
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const OPBANK_API_KEY: &str = "ZoStul8nNuwq1SYCzSrLcO1wAj4Tyf7x";
const OPBANK_TOKEN: &str = "6c18c234b1b18b1d97c7043e2e41135c293d0da9";

fn tempdir() -> TempDir {
    tempfile::tempdir().expect("create a temp dir")
}

/// Builds `input` in gen mode into a fresh dir and returns the single spec.
fn build_gen(input: &Path, extra: &[&str]) -> Value {
    let out = tempdir();
    build_into(input, out.path(), "gen", extra);
    read_json(&out.path().join("openapi.json"))
}

/// The files one build writes: `openapi.EXT`, or `<host>.openapi.EXT` per
/// host when the input holds several.
fn expected_spec_files(hosts: &BTreeSet<String>, ext: &str) -> BTreeSet<String> {
    if hosts.len() == 1 {
        BTreeSet::from([format!("openapi.{ext}")])
    } else {
        hosts
            .iter()
            .map(|h| format!("{}.openapi.{ext}", host_file_stem(h)))
            .collect()
    }
}

/// Fails unless `a` and `b` hold the same files with the same bytes.
fn assert_same_files(what: &str, a: &Path, b: &Path) {
    assert_eq!(file_names(a), file_names(b), "{what}: different files");
    for name in file_names(a) {
        let (left, right) = (
            std::fs::read(a.join(&name)).expect("read spec"),
            std::fs::read(b.join(&name)).expect("read spec"),
        );
        if left != right {
            let (left, right) = (
                String::from_utf8_lossy(&left),
                String::from_utf8_lossy(&right),
            );
            let line = left
                .lines()
                .zip(right.lines())
                .position(|(l, r)| l != r)
                .map_or(0, |i| i + 1);
            panic!("{what}: {name} differs (first at line {line})");
        }
    }
}

/// `-i INPUT -o OUT EXTRA...` as arguments.
fn io_args(input: &Path, out: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-i".into(), input.into(), "-o".into(), out.into()];
    args.extend(extra.iter().map(OsString::from));
    args
}

/// A recording of `lines` written to `dir/name`.
fn write_recording(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write recording");
    path
}

const GOOD_LINE: &str = r#"{"request":{"method":"get","protocol":"https","host":"api.example.com","path":"/items/1"},"response":{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\"id\":1}"}}"#;

// ---- 1. every recording builds valid specs ------------------------------------------

#[test]
fn every_recording_builds_valid_specs_in_every_mode_version_and_format() {
    let mut recordings = hmt_recordings();
    assert!(
        recordings
            .iter()
            .any(|r| r.ends_with("hmt/tests/serve/mock/recordings/github/recordings.jsonl")),
        "the legacy req/res recording must be among the inputs"
    );
    assert!(
        recordings.len() >= 8,
        "HMT fixtures incomplete: {recordings:?}"
    );
    recordings.push(shop_recording().to_owned());

    let out = tempdir();
    let variants: [(&str, &str, &[&str], &str); 5] = [
        ("gen", "gen", &[], "json"),
        ("replay", "replay", &[], "json"),
        ("mixed", "mixed", &[], "json"),
        ("gen-3.1", "gen", &["--openapi", "3.1"], "json"),
        ("mixed-yaml", "mixed", &["--format", "yaml"], "yaml"),
    ];
    let mut specs = Vec::new();
    for (i, recording) in recordings.iter().enumerate() {
        let hosts = hosts_of(recording);
        for (variant, mode, extra, ext) in variants {
            let dir = out.path().join(format!("{i}-{variant}"));
            build_into(recording, &dir, mode, extra);
            assert_eq!(
                file_names(&dir),
                expected_spec_files(&hosts, ext),
                "{} ({variant})",
                recording.display()
            );
            specs.extend(files_in(&dir));
        }
        for name in expected_spec_files(&hosts, "json") {
            let gen_30 = read_json(&out.path().join(format!("{i}-gen/{name}")));
            let gen_31 = read_json(&out.path().join(format!("{i}-gen-3.1/{name}")));
            assert_eq!(gen_30["openapi"], "3.0.3", "{name}");
            assert_eq!(gen_31["openapi"], "3.1.0", "{name}");
            // The YAML output is the same document as the JSON output.
            let mixed = read_json(&out.path().join(format!("{i}-mixed/{name}")));
            let yaml_path = out
                .path()
                .join(format!("{i}-mixed-yaml/{}", name.replace(".json", ".yaml")));
            let yaml: Value =
                yaml_serde::from_str(&std::fs::read_to_string(&yaml_path).expect("read yaml"))
                    .unwrap_or_else(|e| panic!("{} is not YAML: {e}", yaml_path.display()));
            assert!(
                yaml == mixed,
                "{}: YAML and JSON outputs differ",
                recording.display()
            );
        }
    }
    assert_valid_openapi(&specs);
}

// ---- 2. determinism --------------------------------------------------------------------

#[test]
fn same_input_gives_byte_identical_specs_in_every_mode() {
    let out = tempdir();
    for input in [
        recording("pokeapi"),
        recording("github"),
        shop_recording().to_owned(),
    ] {
        for mode in MODES {
            let (a, b) = (out.path().join("a"), out.path().join("b"));
            build_into(&input, &a, mode, &[]);
            build_into(&input, &b, mode, &[]);
            assert_same_files(&format!("{} -m {mode}", input.display()), &a, &b);
            std::fs::remove_dir_all(&a).expect("clean");
            std::fs::remove_dir_all(&b).expect("clean");
        }
    }
}

#[test]
fn stdin_and_gzip_inputs_give_the_same_bytes_as_the_file() {
    let out = tempdir();
    let input = recording("pokeapi");
    let gz = out.path().join("pokeapi.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("create gz"),
        flate2::Compression::default(),
    );
    encoder
        .write_all(&std::fs::read(&input).expect("read recording"))
        .expect("compress");
    encoder.finish().expect("finish gz");

    for mode in MODES {
        let (from_file, from_stdin, from_gz) = (
            out.path().join(format!("{mode}-file")),
            out.path().join(format!("{mode}-stdin")),
            out.path().join(format!("{mode}-gz")),
        );
        build_into(&input, &from_file, mode, &[]);
        build_into(&gz, &from_gz, mode, &[]);
        let stdin_args = [
            "-i".as_ref(),
            "-".as_ref(),
            "-o".as_ref(),
            from_stdin.as_os_str(),
            "-m".as_ref(),
            mode.as_ref(),
        ];
        let run = run_build(&stdin_args, Some(&input));
        assert_eq!(run.code, Some(0), "stdin build failed:\n{}", run.stderr);
        assert_same_files(&format!("stdin, -m {mode}"), &from_file, &from_stdin);
        assert_same_files(&format!(".jsonl.gz, -m {mode}"), &from_file, &from_gz);
    }
}

// ---- 3. pokeapi -------------------------------------------------------------------------

#[test]
fn pokeapi_gen_templates_paths_with_named_typed_parameters() {
    let spec = build_gen(&recording("pokeapi"), &[]);
    assert_eq!(spec["servers"], json!([{"url": "https://pokeapi.co/v2"}]));
    assert_eq!(
        keys(&spec["paths"]),
        BTreeSet::from([
            "/ability/{abilityId}/",
            "/pokemon/",
            "/pokemon/{pokemonId}/",
            "/type/{typeId}/",
        ])
    );
    for (template, name, ty) in [
        ("/ability/{abilityId}/", "abilityId", "integer"),
        ("/pokemon/{pokemonId}/", "pokemonId", "string"),
        ("/type/{typeId}/", "typeId", "integer"),
    ] {
        let params = path_params(&spec, template);
        assert_eq!(params.len(), 1, "{template}: {params:?}");
        assert_eq!(params[0]["name"], name, "{template}");
        assert_eq!(params[0]["required"], true, "{template}");
        assert_eq!(params[0]["schema"]["type"], ty, "{template}");
        // Every templated path recorded one miss: a plain-text 404.
        let not_found = &spec["paths"][template]["get"]["responses"]["404"]["content"];
        assert_eq!(
            keys(not_found),
            BTreeSet::from(["text/plain"]),
            "{template}"
        );
    }
}

#[test]
fn pokeapi_parameter_names_were_random_in_hmt_0_3_2() {
    // Only to document what changed: HMT 0.3.2 named parameters with 8 random letters.
    let old = read_json(&hmt_fixtures().join("generated-by-hmt-0.3.2/pokeapi_gen/openapi.json"));
    let old_names: Vec<&str> = keys(&old["paths"])
        .into_iter()
        .flat_map(|t| t.split('/'))
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    assert_eq!(old_names.len(), 3, "{old_names:?}");
    assert!(
        old_names
            .iter()
            .all(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_lowercase())),
        "{old_names:?}"
    );
    let spec = build_gen(&recording("pokeapi"), &[]);
    let names: BTreeSet<String> = keys(&spec["paths"])
        .into_iter()
        .flat_map(|t| path_params(&spec, t))
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["abilityId".into(), "pokemonId".into(), "typeId".into()])
    );
}

#[test]
fn pokeapi_replay_keeps_one_path_per_recorded_path() {
    let input = recording("pokeapi");
    let out = tempdir();
    build_into(&input, out.path(), "replay", &[]);
    let spec = read_json(&out.path().join("openapi.json"));
    assert_eq!(spec["servers"], json!([{"url": "https://pokeapi.co/v2"}]));
    let recorded: BTreeSet<String> = exchanges(&input)
        .iter()
        .map(|e| {
            pathname_of(e)
                .strip_prefix("/v2")
                .expect("under /v2")
                .to_owned()
        })
        .collect();
    assert_eq!(recorded.len(), 14);
    let paths: BTreeSet<String> = keys(&spec["paths"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(paths, recorded);
}

// ---- 4. opbank ----------------------------------------------------------------------------

#[test]
fn opbank_gen_keeps_initiate_and_confirm_apart() {
    let spec = build_gen(&recording("opbank"), &[]);
    assert_eq!(
        keys(&spec["paths"]),
        BTreeSet::from([
            "/accounts/v3/accounts",
            "/v1/payments/confirm",
            "/v1/payments/initiate",
        ])
    );
}

#[test]
fn opbank_replay_and_mixed_keep_both_confirm_responses_in_order() {
    for mode in ["replay", "mixed"] {
        let out = tempdir();
        build_into(&recording("opbank"), out.path(), mode, &[]);
        let spec = read_json(&out.path().join("openapi.json"));
        let replay = &spec["paths"]["/v1/payments/confirm"]["post"]["x-hmt-replay"];
        let entries = replay
            .as_array()
            .unwrap_or_else(|| panic!("-m {mode}: no x-hmt-replay on confirm"));
        assert_eq!(entries.len(), 1, "-m {mode}: {replay}");
        assert_eq!(entries[0]["request"]["path"], "/v1/payments/confirm");
        let responses = entries[0]["responses"].as_array().expect("responses");
        let summary: Vec<(Value, Value)> = responses
            .iter()
            .map(|r| (r["statusCode"].clone(), r["body"].clone()))
            .collect();
        let expected = (json!(201), json!(r#"{"paymentId":"foo"}"#));
        assert_eq!(
            summary,
            vec![expected.clone(), expected],
            "-m {mode}: {replay}"
        );
    }
}

#[test]
fn opbank_secrets_never_reach_any_output() {
    let input = recording("opbank");
    let recorded = std::fs::read_to_string(&input).expect("read recording");
    assert!(recorded.contains(OPBANK_API_KEY) && recorded.contains(OPBANK_TOKEN));
    let out = tempdir();
    let runs: [(&str, &[&str]); 5] = [
        ("gen", &[]),
        ("replay", &[]),
        ("mixed", &[]),
        ("mixed", &["--openapi", "3.1"]),
        ("mixed", &["--format", "yaml"]),
    ];
    for (i, (mode, extra)) in runs.into_iter().enumerate() {
        let dir = out.path().join(i.to_string());
        build_into(&input, &dir, mode, extra);
        for file in files_in(&dir) {
            let text = std::fs::read_to_string(&file).expect("read spec");
            for secret in [OPBANK_API_KEY, OPBANK_TOKEN] {
                assert!(
                    !text.contains(secret),
                    "{} (-m {mode} {extra:?}) leaks {secret}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn opbank_credentials_become_security_schemes() {
    let spec = build_gen(&recording("opbank"), &[]);
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    assert!(
        schemes
            .values()
            .any(|s| s["type"] == "http" && s["scheme"] == "bearer"),
        "no bearer scheme: {schemes:?}"
    );
    let api_key_headers: BTreeSet<&str> = schemes
        .values()
        .filter(|s| s["type"] == "apiKey" && s["in"] == "header")
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        api_key_headers,
        BTreeSet::from(["x-api-key", "x-authorization"])
    );
    // Every operation asks for schemes that exist.
    for (template, item) in spec["paths"].as_object().expect("paths") {
        let operations = item.as_object().expect("path item").iter();
        for (method, op) in operations.filter(|(k, _)| HTTP_METHODS.contains(&k.as_str())) {
            let requirements = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {template} has no security"));
            for name in requirements.iter().flat_map(keys) {
                assert!(
                    schemes.contains_key(name),
                    "{method} {template}: unknown scheme {name}"
                );
            }
        }
    }
}

// ---- 5. github ------------------------------------------------------------------------------

#[test]
fn github_has_one_path_with_200_and_403() {
    let spec = build_gen(&recording("github"), &[]);
    assert_eq!(keys(&spec["paths"]), BTreeSet::from(["/user/repos"]));
    let item = &spec["paths"]["/user/repos"];
    assert_eq!(keys(item), BTreeSet::from(["get"]));
    assert_eq!(
        keys(&item["get"]["responses"]),
        BTreeSet::from(["200", "403"])
    );
}

#[test]

fn github_owner_type_is_an_enum() {
    let spec = build_gen(&recording("github"), &[]);
    let content = &spec["paths"]["/user/repos"]["get"]["responses"]["200"]["content"];
    let schemas: Vec<&Value> = content
        .as_object()
        .expect("200 has content")
        .values()
        .map(|media| &media["schema"])
        .collect();
    let owner_type = schemas
        .iter()
        .map(|s| &s["items"]["properties"]["owner"]["properties"]["type"])
        .find(|t| !t.is_null())
        .unwrap_or_else(|| panic!("no items.owner.type in the 200 schemas: {schemas:?}"));
    assert_eq!(owner_type["enum"], json!(["Organization", "User"]));
}

// ---- 6. recorded bodies validate against the inferred schemas ------------------------------

/// Builds `input` in gen mode as OpenAPI 3.0 and 3.1 and checks every
/// recorded JSON response body against the schema inferred for it.
fn assert_bodies_match_in_3_0_and_3_1(input: &Path) {
    let recorded = exchanges(input);
    for version in ["3.0", "3.1"] {
        let spec = build_gen(input, &["--openapi", version]);
        let label = format!("{} (OpenAPI {version})", input.display());
        let checked = assert_bodies_match_schemas(&label, &recorded, &spec);
        assert!(checked > 0, "{label}: no JSON body checked");
    }
}

#[test]
fn pokeapi_bodies_match_inferred_schemas() {
    assert_bodies_match_in_3_0_and_3_1(&recording("pokeapi"));
}

#[test]

fn github_bodies_match_inferred_schemas() {
    assert_bodies_match_in_3_0_and_3_1(&recording("github"));
}

#[test]
fn opbank_bodies_match_inferred_schemas() {
    assert_bodies_match_in_3_0_and_3_1(&recording("opbank"));
}

#[test]
fn shop_bodies_match_inferred_schemas() {
    assert_bodies_match_in_3_0_and_3_1(shop_recording());
}

// ---- 7. merging into an initial spec -------------------------------------------------------

#[test]
fn petstore_merge_keeps_the_initial_spec_and_splits_other_hosts() {
    let fixtures = hmt_fixtures();
    let input = fixtures.join("generated-by-hmt-0.3.2/pet_merged/input-pet.jsonl");
    let initial = fixtures.join("hmt/tests/build/schemas/petstore/index.yaml");
    let out = tempdir();
    build_into(
        &input,
        out.path(),
        "gen",
        &["-a", initial.to_str().expect("utf-8 path")],
    );
    assert_eq!(
        file_names(out.path()),
        BTreeSet::from([
            "openapi.json".to_owned(),
            "other.io.openapi.json".to_owned()
        ])
    );
    assert_valid_openapi(&files_in(out.path()));

    let spec = read_json(&out.path().join("openapi.json"));
    assert_eq!(
        spec["servers"],
        json!([{"url": "http://petstore.swagger.io/v1"}])
    );
    assert_eq!(
        keys(&spec["paths"]),
        BTreeSet::from(["/pets", "/pets/{petId}"])
    );
    let params = path_params(&spec, "/pets/{petId}");
    assert_eq!(params.len(), 1, "{params:?}");
    assert_eq!(params[0]["name"], "petId");
    let show = &spec["paths"]["/pets/{petId}"]["get"];
    assert_eq!(show["summary"], "Info for a specific pet");
    assert_eq!(show["operationId"], "showPetById");
    assert_eq!(
        show["responses"]["200"]["description"],
        "Expected response to a valid request"
    );
    assert_eq!(
        show["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Pet"})
    );
    let pet = &spec["components"]["schemas"]["Pet"];
    assert_eq!(pet["properties"]["extra"], json!({"type": "boolean"}));
    assert_eq!(pet["required"], json!(["id", "name"]));
    assert_eq!(
        spec["paths"]["/pets"]["get"]["parameters"][0]["description"],
        "How many items to return at one time (max 100)"
    );
    // The recorded petstore bodies fit the merged schemas ($refs resolved).
    let petstore: Vec<Value> = exchanges(&input)
        .into_iter()
        .filter(|e| request_of(e)["host"] == "petstore.swagger.io")
        .collect();
    assert_eq!(
        assert_bodies_match_schemas("petstore merge", &petstore, &spec),
        2
    );

    let other = read_json(&out.path().join("other.io.openapi.json"));
    assert_eq!(other["servers"], json!([{"url": "https://other.io"}]));
    assert_eq!(keys(&other["paths"]), BTreeSet::from(["/things/{thingId}"]));
}

// ---- 8. errors and exit codes ----------------------------------------------------------------

#[test]
fn a_bad_line_stops_the_build_naming_file_line_and_pointer() {
    let dir = tempdir();
    let cases = [
        (
            "unknown field",
            r#"{"request":{"method":"get","path":"/x","bogus":1},"response":{"statusCode":200}}"#,
            "at /request/bogus: unknown field `bogus`",
        ),
        (
            "bad JSON",
            r#"{"request":{"method":"get","path":"/x"},"response":{"statusCode":200,}}"#,
            "at /response",
        ),
        (
            "bad method",
            r#"{"request":{"method":"fetch","path":"/x"},"response":{"statusCode":200}}"#,
            "at /request/method: unknown method \"fetch\"",
        ),
    ];
    for (i, (what, bad, pointer)) in cases.into_iter().enumerate() {
        let input = write_recording(dir.path(), &format!("{i}.jsonl"), &[GOOD_LINE, bad]);
        let out = dir.path().join(format!("out-{i}"));
        let run = run_build(&io_args(&input, &out, &[]), None);
        assert_eq!(run.code, Some(1), "{what}: {}", run.stderr);
        let location = format!("{}:2: ", input.display());
        assert!(
            run.stderr.contains(&location) && run.stderr.contains(pointer),
            "{what}: stderr should name {location:?} and {pointer:?}:\n{}",
            run.stderr
        );
        assert!(
            !out.join("openapi.json").exists(),
            "{what}: a spec was written"
        );
        assert!(run.summary_lines().is_empty(), "{what}: {}", run.stderr);
    }
}

#[test]

fn a_truncated_line_is_reported_at_its_real_column() {
    let dir = tempdir();
    let input = write_recording(
        dir.path(),
        "cut.jsonl",
        &[GOOD_LINE, r#"{"request":{"method":"get","#],
    );
    let run = run_build(&io_args(&input, &dir.path().join("out"), &[]), None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{}:2: ", input.display())),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("(column 0)"),
        "the error is at the end of the line, not column 0:\n{}",
        run.stderr
    );
}

#[test]
fn skip_invalid_counts_and_names_every_skipped_line() {
    let dir = tempdir();
    let input = write_recording(
        dir.path(),
        "mixed-bag.jsonl",
        &[
            GOOD_LINE,
            r#"{"request":{"method":"get","path":"/x","bogus":1}}"#,
            GOOD_LINE,
            "not json",
            r#"{"request":{"method":"fetch","path":"/x"}}"#,
        ],
    );
    let out = dir.path().join("out");
    let run = run_build(&io_args(&input, &out, &["--skip-invalid"]), None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for line in [2, 4, 5] {
        let named = format!("hmt: skipped {}:{line}: ", input.display());
        assert!(
            run.stderr.contains(&named),
            "no {named:?} in:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        run.stderr.matches("hmt: skipped ").count(),
        3,
        "{}",
        run.stderr
    );
    let summary = run.summary_lines();
    assert_eq!(summary.len(), 1, "{}", run.stderr);
    assert!(
        summary[0].starts_with("hmt build: 2 exchanges read, 3 skipped, "),
        "{}",
        summary[0]
    );
    assert!(out.join("openapi.json").is_file());
}

#[test]
fn skip_invalid_names_twenty_lines_then_counts_the_rest() {
    let dir = tempdir();
    let mut lines = vec![GOOD_LINE];
    lines.extend(std::iter::repeat_n("{}x", 25));
    let input = write_recording(dir.path(), "many-bad.jsonl", &lines);
    let out = dir.path().join("out");
    let run = run_build(&io_args(&input, &out, &["--skip-invalid"]), None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("hmt: skipped ").count(),
        20,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("hmt: skipped {}:21: ", input.display()))
    );
    assert!(!run.stderr.contains(&format!("{}:22: ", input.display())));
    assert!(
        run.stderr.contains("hmt: 5 more invalid lines skipped"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(", 25 skipped, "), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let input = recording("opbank");
    let out = tempdir();
    let cases: [&[&str]; 4] = [
        &["--bogus"],
        &["-m", "fast"],
        &["--format", "xml"],
        &["--openapi", "2.0"],
    ];
    for extra in cases {
        let run = run_build(&io_args(&input, out.path(), extra), None);
        assert_eq!(run.code, Some(2), "{extra:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(extra[extra.len() - 1]),
            "{extra:?}: {}",
            run.stderr
        );
        assert!(file_names(out.path()).is_empty(), "{extra:?} wrote files");
    }
    // No input at all is a usage error too.
    let run = run_build(&["-o", out.path().to_str().expect("utf-8")], None);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn mode_names_ignore_case() {
    let out = tempdir();
    build_into(&recording("opbank"), out.path(), "REPLAY", &[]);
    let spec = read_json(&out.path().join("openapi.json"));
    assert!(
        spec["paths"]["/v1/payments/confirm"]["post"]["x-hmt-replay"].is_array(),
        "-m REPLAY did not build in replay mode"
    );
}

#[test]
fn an_invalid_initial_spec_is_reported_with_file_and_location() {
    let dir = tempdir();
    let head = "openapi: 3.0.0\ninfo:\n  title: x\n  version: \"1\"\npaths:\n";
    let cases = [
        ("syntax.yaml", "  /a: {get: [1, 2}\n  /b: {}\n", ":6:"),
        (
            "structure.yaml",
            "  /a:\n    get:\n      responses: 5\n",
            "/paths/~1a/get/responses",
        ),
    ];
    for (name, tail, location) in cases {
        let spec = dir.path().join(name);
        std::fs::write(&spec, format!("{head}{tail}")).expect("write spec");
        let out = dir.path().join(format!("out-{name}"));
        let spec_arg = spec.to_str().expect("utf-8 path");
        let run = run_build(
            &io_args(&recording("opbank"), &out, &["-a", spec_arg]),
            None,
        );
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&spec.display().to_string()) && run.stderr.contains(location),
            "{name}: stderr should name the file and {location:?}:\n{}",
            run.stderr
        );
        assert!(!out.exists(), "{name}: output written");
    }
}

#[test]
fn a_missing_input_file_is_named() {
    let dir = tempdir();
    let missing = dir.path().join("no-such-recording.jsonl");
    let out = dir.path().join("out");
    let run = run_build(&io_args(&missing, &out, &[]), None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "output written");
}

#[test]
fn the_summary_line_reports_what_was_built() {
    let out = tempdir();
    let run = build_into(&recording("opbank"), out.path(), "gen", &[]);
    let expected = format!(
        "hmt build: 4 exchanges read, 0 skipped, 1 host, 3 paths, 3 operations -> {}\n",
        out.path().join("openapi.json").display()
    );
    assert_eq!(run.stderr, expected);
    assert_eq!(run.stdout, "");
}

// ---- 9, 10. output files ---------------------------------------------------------------------

#[test]
fn several_hosts_get_one_file_each() {
    let dir = tempdir();
    let both = dir.path().join("both.jsonl");
    let mut text = std::fs::read_to_string(recording("pokeapi")).expect("read");
    text.push('\n');
    text.push_str(&std::fs::read_to_string(recording("opbank")).expect("read"));
    std::fs::write(&both, text).expect("write");
    let out = dir.path().join("out");
    build_into(&both, &out, "gen", &[]);
    assert_eq!(
        file_names(&out),
        BTreeSet::from([
            "pokeapi.co.openapi.json".to_owned(),
            "sandbox.apis.op-palvelut.fi.openapi.json".to_owned(),
        ])
    );
    assert_valid_openapi(&files_in(&out));
    let pokeapi = read_json(&out.join("pokeapi.co.openapi.json"));
    assert_eq!(pokeapi["servers"][0]["url"], "https://pokeapi.co/v2");
    let opbank = read_json(&out.join("sandbox.apis.op-palvelut.fi.openapi.json"));
    assert!(opbank["paths"]["/v1/payments/confirm"].is_object());
}

#[test]
fn missing_output_parents_are_created() {
    let dir = tempdir();
    let out = dir.path().join("a/b/c");
    build_into(&recording("opbank"), &out, "gen", &[]);
    assert_eq!(
        file_names(&out),
        BTreeSet::from(["openapi.json".to_owned()])
    );
}

// ---- the harness itself ------------------------------------------------------------------

#[test]
fn the_body_check_rejects_a_body_that_does_not_fit() {
    let input = recording("pokeapi");
    let mut spec = build_gen(&input, &[]);
    let schema = &mut spec["paths"]["/type/{typeId}/"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(schema["properties"]["id"]["type"], "integer");
    schema["properties"]["id"]["type"] = json!("string");
    let recorded = exchanges(&input);
    let result =
        std::panic::catch_unwind(|| assert_bodies_match_schemas("sabotaged", &recorded, &spec));
    assert!(result.is_err(), "a wrong schema went unnoticed");
}

#[test]
fn nullable_openapi_3_0_schemas_convert_to_json_schema() {
    let converted = openapi30_to_json_schema(&json!({
        "type": "object",
        "properties": {"s": {"type": "string", "nullable": true, "enum": ["a", null]}},
        "items": {"oneOf": [{"type": "integer", "nullable": true}, {"type": "string"}]},
    }));
    assert_eq!(
        converted,
        json!({
            "type": "object",
            "properties": {"s": {"type": ["string", "null"], "enum": ["a", null]}},
            "items": {"oneOf": [{"type": ["integer", "null"]}, {"type": "string"}]},
        })
    );
}

/// Every value of a secret-named field (`password`, `accessToken`, ...) in
/// the recording's bodies: JSON fields and form fields.
fn body_secrets(path: &Path) -> BTreeSet<String> {
    fn collect(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        Value::String(s) if hmt_build::secrets::is_secret_field(key) => {
                            out.insert(s.clone());
                        }
                        _ => collect(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut secrets = BTreeSet::new();
    for exchange in exchanges(path) {
        let bodies = [
            request_of(&exchange).get("body"),
            response_of(&exchange).and_then(|r| r.get("body")),
        ];
        for body in bodies.into_iter().flatten().filter_map(Value::as_str) {
            if let Ok(json) = serde_json::from_str::<Value>(body) {
                collect(&json, &mut secrets);
            } else {
                for pair in body.split('&') {
                    if let Some((name, value)) = pair.split_once('=')
                        && hmt_build::secrets::is_secret_field(name)
                    {
                        secrets.insert(value.to_owned());
                    }
                }
            }
        }
    }
    secrets
}

#[test]
fn passwords_and_tokens_in_bodies_never_reach_any_output() {
    let input = shop_recording();
    let secrets = body_secrets(input);
    assert!(
        secrets.len() > 10,
        "the shop recording should hold secrets: {secrets:?}"
    );
    let out = tempdir();
    for mode in ["gen", "replay", "mixed"] {
        let dir = out.path().join(mode);
        build_into(input, &dir, mode, &[]);
        for file in files_in(&dir) {
            let text = std::fs::read_to_string(&file).expect("read spec");
            assert!(
                text.contains("hmt-redacted"),
                "{} shows no placeholder",
                file.display()
            );
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{} (-m {mode}) leaks {secret}",
                    file.display()
                );
            }
        }
    }
}
