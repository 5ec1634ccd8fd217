//! Helpers for the `hmt` end-to-end tests: where the fixtures are, running
//! the binary, the OpenAPI validator, and checking recorded bodies against
//! the schemas a spec inferred for them.

#![allow(dead_code)]
// Shared by several test binaries through `mod common;`: its items are
// `pub` so that each test file can use them, which rustc, seeing one
// binary at a time, calls unreachable.
#![allow(unreachable_pub)]

use assert_cmd::Command;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---- running servers ---------------------------------------------------------

/// The mock's and the admin API's addresses (`http://HOST:PORT`) from
/// `hmt mock`'s start-up line (`hmt mock: ... on http://A, admin API on
/// http://B ...`); `None` for any other line.
pub fn mock_banner(line: &str) -> Option<(String, String)> {
    let (_, addresses) = line.strip_prefix("hmt mock: ")?.split_once(" on http://")?;
    let (base, admin) = addresses.split_once(", admin API on http://")?;
    let admin = admin.split_whitespace().next().unwrap_or_default();
    Some((format!("http://{base}"), format!("http://{admin}")))
}

/// Takes a spawned server's stderr (it must have been piped) and reads it on a
/// thread of its own, line by line, so that the server never blocks on a
/// full pipe and the test can wait for a line with a timeout.
pub fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits up to `limit` for a spawned program (stdout and stderr piped) to
/// exit, reading both pipes meanwhile so that a full one never stalls it.
/// Its status (`None`: still running at the limit, then killed), stdout
/// and stderr.
pub fn finish_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> (Option<std::process::ExitStatus>, String, String) {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout is piped")));
    let err = read(Box::new(child.stderr.take().expect("stderr is piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the program's status") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

/// Waits up to `limit` for the first line of a server's stderr (`lines`,
/// from [`stderr_lines`]) that `found` accepts, and returns what `found`
/// made of it with the lines printed before it. A server that exits first
/// is an `Err` with its status and everything it printed; one still silent
/// at the deadline is killed and fails the test with what it printed.
pub fn wait_for_line<T>(
    child: &mut std::process::Child,
    lines: &std::sync::mpsc::Receiver<String>,
    limit: std::time::Duration,
    mut found: impl FnMut(&str) -> Option<T>,
) -> Result<(T, Vec<String>), String> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => match found(&line) {
                Some(value) => return Ok((value, seen)),
                None => seen.push(line),
            },
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    // What it printed as it exited.
                    while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
                        seen.push(line);
                    }
                    return Err(format!("exited with {status}: {}", seen.join("\n")));
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the server printed nothing awaited within {limit:?}: {}",
        seen.join("\n")
    );
}

/// [`wait_for_line`] for `hmt mock`'s start-up line: the mock's and the
/// admin API's addresses, the line itself, and the lines before it.
/// A mock that exits first fails the test.
pub fn wait_for_mock_banner(
    child: &mut std::process::Child,
    lines: &std::sync::mpsc::Receiver<String>,
    limit: std::time::Duration,
) -> ((String, String, String), Vec<String>) {
    wait_for_line(child, lines, limit, |line| {
        mock_banner(line).map(|(base, admin)| (base, admin, line.to_owned()))
    })
    .unwrap_or_else(|failed| panic!("hmt mock {failed}"))
}

// ---- where things are -------------------------------------------------------

/// The workspace root.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", root.display()))
}

/// The fixtures copied from HMT 0.3.2 (`<root>/fixtures/hmt`).
/// Missing fixtures fail the test: they are never a reason to skip.
pub fn hmt_fixtures() -> PathBuf {
    let dir = repo_root().join("fixtures/hmt");
    assert!(
        dir.join("README.md").is_file(),
        "HMT fixtures not found at {} (expected <repo>/fixtures/hmt)",
        dir.display()
    );
    dir
}

/// One of the project's own recordings: `pokeapi`, `github` or `opbank`.
pub fn recording(name: &str) -> PathBuf {
    let path = repo_root().join(format!("fixtures/recordings/{name}.jsonl"));
    assert!(path.is_file(), "recording {} is missing", path.display());
    path
}

/// Every `*.jsonl` under the HMT fixtures, sorted.
pub fn hmt_recordings() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("fixture dir is readable") {
            let path = entry.expect("fixture dir entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension() == Some(OsStr::new("jsonl")) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&hmt_fixtures(), &mut found);
    found.sort();
    found
}

/// 400 exchanges of a synthetic shop API from `scripts/gen_recordings.py`
/// (deterministic seed), generated once per test process.
pub fn shop_recording() -> &'static Path {
    static SHOP: OnceLock<PathBuf> = OnceLock::new();
    SHOP.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build_cli");
        std::fs::create_dir_all(&dir).expect("create target tmp dir");
        let path = dir.join("shop-400.jsonl");
        // Written beside and renamed, so concurrent test runs never read half a file.
        let tmp = dir.join(format!("shop-400.{}.tmp", std::process::id()));
        let output = std::process::Command::new("python3")
            .arg(repo_root().join("scripts/gen_recordings.py"))
            .args(["--lines", "400", "--out"])
            .arg(&tmp)
            .output()
            .expect("python3 is needed to run scripts/gen_recordings.py");
        assert!(
            output.status.success(),
            "gen_recordings.py failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&tmp, &path).expect("move generated recording into place");
        path
    })
}

// ---- running hmt -------------------------------------------------------------

/// What a run of `hmt` showed the user.
pub struct Outcome {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The stderr lines starting with `hmt build: ` (the summary).
    pub fn summary_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("hmt build: "))
            .collect()
    }
}

/// Runs `hmt build ARGS`, with stdin from `stdin` when given.
pub fn run_build<S: AsRef<OsStr>>(args: &[S], stdin: Option<&Path>) -> Outcome {
    let mut cmd = Command::cargo_bin("hmt").expect("the hmt binary is built by cargo test");
    cmd.arg("build").args(args);
    if let Some(file) = stdin {
        cmd.pipe_stdin(file).expect("stdin file is readable");
    }
    let output = cmd.output().expect("hmt runs");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `hmt build ARGS` and fails the test unless it exits 0.
pub fn build_ok<S: AsRef<OsStr>>(args: &[S]) -> Outcome {
    let outcome = run_build(args, None);
    assert_eq!(
        outcome.code,
        Some(0),
        "hmt build {:?} failed:\n{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        outcome.stderr
    );
    outcome
}

/// `hmt build -i INPUT -o OUT -m MODE [EXTRA...]`, expected to succeed.
pub fn build_into(input: &Path, out: &Path, mode: &str, extra: &[&str]) -> Outcome {
    let mut args: Vec<&OsStr> = vec![
        "-i".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "-m".as_ref(),
        mode.as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    build_ok(&args)
}

// ---- files ----------------------------------------------------------------------

/// A JSON file's value.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The names of the files in `dir`.
pub fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The files in `dir`, with their directory.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    file_names(dir).iter().map(|name| dir.join(name)).collect()
}

/// A host as `hmt build` names its file: `127.0.0.1:8080` → `127.0.0.1_8080`
/// (the rule is hmt-types', doctested there).
pub fn host_file_stem(host: &str) -> String {
    hmt_types::file_safe_host(host)
}

// ---- the OpenAPI validator -------------------------------------------------------

/// Runs `scripts/validate_openapi.py` (openapi-spec-validator) once over all
/// `files` and fails the test unless every one is valid.
pub fn assert_valid_openapi(files: &[PathBuf]) {
    assert!(!files.is_empty(), "no spec files to validate");
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-python.sh (make test does)",
        python.display()
    );
    let output = std::process::Command::new(&python)
        .arg(root.join("scripts/validate_openapi.py"))
        .args(files)
        .output()
        .expect("the OpenAPI validator runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let invalid: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(
        output.status.success() && invalid.is_empty(),
        "invalid OpenAPI:\n{}\n{}",
        invalid.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    for file in files {
        let ok = format!("ok {}", file.display());
        assert!(
            stdout.lines().any(|l| l == ok),
            "validator did not report {}",
            file.display()
        );
    }
}

// ---- recordings ------------------------------------------------------------------

/// The exchanges of a JSONL recording, as JSON.
pub fn exchanges(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("recording line is JSON"))
        .collect()
}

/// The request of an exchange (current `request` or legacy `req` key).
pub fn request_of(exchange: &Value) -> &Value {
    exchange
        .get("request")
        .or_else(|| exchange.get("req"))
        .expect("exchange has a request")
}

/// The response of an exchange (current `response` or legacy `res` key).
pub fn response_of(exchange: &Value) -> Option<&Value> {
    exchange.get("response").or_else(|| exchange.get("res"))
}

/// The request path without query string.
pub fn pathname_of(exchange: &Value) -> String {
    let request = request_of(exchange);
    match request.get("pathname").and_then(Value::as_str) {
        Some(pathname) => pathname.to_owned(),
        None => {
            let path = request["path"].as_str().expect("request has a path");
            path.split(['?', '#']).next().unwrap_or("").to_owned()
        }
    }
}

/// The distinct hosts of a recording, lower-cased.
pub fn hosts_of(path: &Path) -> BTreeSet<String> {
    exchanges(path)
        .iter()
        .map(|e| {
            request_of(e)
                .get("host")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .collect()
}

/// A header's first value, by name in any case (values are strings or arrays).
fn header<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    let (_, value) = message
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    match value {
        Value::String(s) => Some(s),
        Value::Array(values) => values.first()?.as_str(),
        _ => None,
    }
}

/// A response body that is JSON, with the media type it was recorded under:
/// declared JSON (`application/json`, `*+json`), undeclared but parsing
/// (sniffed as `application/json`), or an object or array under another
/// declared type (JSON mislabelled, e.g. `text/html`).
pub fn recorded_json_body(response: &Value) -> Option<(String, Value)> {
    let body = response.get("body")?.as_str().filter(|b| !b.is_empty())?;
    let parsed = serde_json::from_str::<Value>(body).ok()?;
    let media = header(response, "content-type")
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| m.contains('/'));
    match media {
        None => Some(("application/json".to_owned(), parsed)),
        Some(m) if m == "application/json" || m.ends_with("+json") || m == "text/json" => {
            Some((m, parsed))
        }
        Some(m) if parsed.is_object() || parsed.is_array() => Some((m, parsed)),
        Some(_) => None,
    }
}

// ---- routing a recorded path to a spec's template -----------------------------

/// A spec's path templates, matched the way a router that prefers literal
/// segments over parameters does, after stripping the server's base path.
/// A trailing slash does not matter (the builder folds `/a/` and `/a`).
pub struct Routes<'s> {
    base: String,
    templates: Vec<(&'s str, Vec<&'s str>)>,
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl<'s> Routes<'s> {
    pub fn new(spec: &'s Value) -> Routes<'s> {
        let url = spec["servers"][0]["url"].as_str().unwrap_or("");
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => url,
        };
        let templates = spec["paths"]
            .as_object()
            .map(|paths| paths.keys().map(|t| (t.as_str(), segments(t))).collect())
            .unwrap_or_default();
        Routes {
            base: path.trim_end_matches('/').to_owned(),
            templates,
        }
    }

    /// The template a recorded path lands on.
    pub fn route(&self, pathname: &str) -> Option<&'s str> {
        let relative = pathname.strip_prefix(self.base.as_str())?;
        if !(relative.is_empty() || relative.starts_with('/')) {
            return None;
        }
        let wanted = segments(relative);
        self.templates
            .iter()
            .filter(|(_, segs)| {
                segs.len() == wanted.len()
                    && segs
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
            })
            // Literal-first: compare literal-ness segment by segment.
            .max_by_key(|(_, segs)| segs.iter().map(|s| !s.starts_with('{')).collect::<Vec<_>>())
            .map(|(template, _)| *template)
    }
}

// ---- recorded bodies against inferred schemas -----------------------------------

/// An OpenAPI 3.0 Schema Object as JSON Schema: `nullable: true` with
/// `type: T` becomes `type: [T, "null"]`. An `enum` is kept as is: in 3.0.3
/// a nullable enum admits null only when it lists it, and the builder
/// appends `null` itself.
pub fn openapi30_to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let nullable = map.get("nullable") == Some(&Value::Bool(true));
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match (key.as_str(), value) {
            ("nullable", _) => continue,
            ("type", Value::String(ty)) if nullable => json!([ty, "null"]),
            ("items" | "additionalProperties" | "not", _) => openapi30_to_json_schema(value),
            ("properties", Value::Object(props)) => Value::Object(
                props
                    .iter()
                    .map(|(name, s)| (name.clone(), openapi30_to_json_schema(s)))
                    .collect(),
            ),
            ("oneOf" | "anyOf" | "allOf", Value::Array(branches)) => {
                branches.iter().map(openapi30_to_json_schema).collect()
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

/// A validator for one response schema of `spec`, with `#/components/...`
/// references resolvable. Both 3.0 (converted) and 3.1 schemas are checked
/// as draft 2020-12, which asserts every format the builder emits
/// (draft 4 would not check `uuid`).
fn schema_validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let is_30 = spec["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.0"));
    let convert = |s: &Value| {
        if is_30 {
            openapi30_to_json_schema(s)
        } else {
            s.clone()
        }
    };
    let components: Map<String, Value> = spec["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .map(|(k, s)| (k.clone(), convert(s)))
                .collect()
        })
        .unwrap_or_default();
    let root = json!({
        "allOf": [convert(schema)],
        "components": {"schemas": components},
    });
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema}"))
}

/// Validates every recorded JSON response body in `exchanges` against the
/// schema `spec` gives for its (template, method, status, media type), and
/// returns how many bodies were checked.
pub fn assert_bodies_match_schemas(label: &str, exchanges: &[Value], spec: &Value) -> usize {
    let routes = Routes::new(spec);
    let mut validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut errors = Vec::new();
    let mut checked = 0;
    for (index, exchange) in exchanges.iter().enumerate() {
        let Some(response) = response_of(exchange) else {
            continue;
        };
        let Some((media, body)) = recorded_json_body(response) else {
            continue;
        };
        let pathname = pathname_of(exchange);
        let method = request_of(exchange)["method"]
            .as_str()
            .expect("method")
            .to_ascii_lowercase();
        let status = response["statusCode"].as_u64().expect("statusCode");
        let Some(template) = routes.route(&pathname) else {
            errors.push(format!("exchange {index}: no template for {pathname}"));
            continue;
        };
        let content = &spec["paths"][template][&method]["responses"][status.to_string()]["content"];
        let media = if content.get(&media).is_some() {
            media
        } else {
            "application/json".to_owned()
        };
        let Some(schema) = content.get(&media).and_then(|c| c.get("schema")) else {
            errors.push(format!(
                "exchange {index}: no schema for {method} {template} {status} {media}"
            ));
            continue;
        };
        let key = format!("{method} {template} {status} {media}");
        let validator = validators
            .entry(key.clone())
            .or_insert_with(|| schema_validator(spec, schema));
        checked += 1;
        for error in validator.iter_errors(&body) {
            errors.push(format!(
                "exchange {index} ({pathname}) vs {key}: at '{}': {}",
                error.instance_path(),
                truncate(&error.masked().to_string(), 300)
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "{label}: {} recorded bodies do not match their inferred schema; first ones:\n{}",
        errors.len(),
        errors[..errors.len().min(10)].join("\n")
    );
    checked
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

// ---- reading specs ------------------------------------------------------------------

/// The path parameters of a path item (path-level and per operation).
pub fn path_params<'a>(spec: &'a Value, template: &str) -> Vec<&'a Value> {
    let item = &spec["paths"][template];
    let mut found: Vec<&Value> = Vec::new();
    let lists = std::iter::once(&item["parameters"]).chain(
        item.as_object()
            .into_iter()
            .flat_map(|ops| ops.values())
            .map(|op| &op["parameters"]),
    );
    for list in lists {
        for param in list.as_array().into_iter().flatten() {
            if param["in"] == "path" {
                found.push(param);
            }
        }
    }
    found
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}
