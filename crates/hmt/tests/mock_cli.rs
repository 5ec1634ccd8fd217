//! `hmt mock` end to end: the real binary serving HMT's mock fixtures and
//! hmt's own builds and recordings, called over loopback by a real client.

mod common;
mod common_record;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `hmt mock`, killed when dropped.
struct MockServer {
    child: Child,
    base: String,
    admin: String,
    /// What it printed on start.
    banner: String,
    /// What it prints after that, line by line.
    stderr: std::sync::mpsc::Receiver<String>,
}

impl MockServer {
    /// Waits (at most 10 s) for a line of stderr containing `text`.
    fn wait_for_stderr(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(100)) {
                if line.contains(text) {
                    return line;
                }
                seen.push(line);
            }
        }
        panic!("no {text:?} on stderr within 10 s; saw: {seen:?}");
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mock_fixture(path: &str) -> PathBuf {
    common::hmt_fixtures()
        .join("hmt/tests/serve/mock")
        .join(path)
}

/// Starts `hmt mock -p 0 -a 0 ARGS` and waits for its banner.
fn start(args: &[&str]) -> MockServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("mock")
        .args(["-p", "0", "-a", "0"])
        .args(args)
        .env("HMT_HOME", std::env::temp_dir().join("hmt-mock-test-home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hmt mock");
    let rx = common::stderr_lines(&mut child);
    let ((base, admin, banner), _) =
        common::wait_for_mock_banner(&mut child, &rx, Duration::from_secs(20));
    MockServer {
        base,
        admin,
        banner,
        child,
        stderr: rx,
    }
}

/// Runs `hmt mock ARGS` expecting it to fail at start; returns stderr.
fn start_fails(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("mock")
        .args(["-p", "0", "-a", "0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hmt mock");
    assert!(
        !output.status.success(),
        "hmt mock started: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider: this workspace has one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    runtime().block_on(async {
        let mut request = client().request(method.parse().unwrap(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body.to_vec());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    })
}

fn get(url: &str) -> Reply {
    call("GET", url, &[], None)
}

#[test]
fn petstore_lists_and_shows_pets_valid_against_the_spec() {
    let mock = start(&[mock_fixture("schemas/petstore/index.yaml")
        .to_str()
        .unwrap()]);
    let list = get(&format!("{}/https://petstore.swagger.io/pets", mock.base));
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), "application/json");
    let pets = list.json();
    let pets = pets.as_array().expect("an array of pets");
    assert!(!pets.is_empty() && pets.len() <= 100, "{pets:?}");
    for pet in pets {
        assert!(pet["id"].is_i64() && pet["name"].is_string(), "{pet}");
    }
    // Plain routing: the same operation without naming the host.
    let one = get(&format!("{}/pets/7", mock.base));
    assert_eq!(one.status, 200);
    let pet = one.json();
    assert!(pet["id"].is_i64() && pet["name"].is_string(), "{pet}");
    // Request validation: limit must be an integer.
    let bad = get(&format!("{}/pets?limit=ten", mock.base));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), "application/problem+json");
    assert!(
        bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("the query parameter limit: \"ten\" is not of type \"integer\""),
        "{}",
        bad.json()
    );
    // Unknown route: 404 naming the closest operations; wrong method: 405 with Allow.
    let missing = get(&format!("{}/pets/7/photos", mock.base));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["closest"][0], "GET /pets/{petId}");
    let wrong = call("DELETE", &format!("{}/pets", mock.base), &[], None);
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), "GET, POST");
}

#[test]
fn seeds_make_generated_data_reproducible() {
    // `--seed` seeds dynamic data (`Prefer: dynamic=true`); static data is
    // the same whatever the seed (see static_answers_are_byte_identical_*).
    let spec = mock_fixture("schemas/petstore/index.yaml");
    let a = start(&["--seed", "42", spec.to_str().unwrap()]);
    let b = start(&["--seed", "42", spec.to_str().unwrap()]);
    let c = start(&["--seed", "43", spec.to_str().unwrap()]);
    let dynamic = [("prefer", "dynamic=true")];
    let pets = |mock: &MockServer| call("GET", &format!("{}/pets", mock.base), &dynamic, None).body;
    let first = pets(&a);
    assert_eq!(first, pets(&a), "same seed, same request, same body");
    assert_eq!(first, pets(&b), "same seed in another process");
    assert_ne!(first, pets(&c), "another seed");
    let unseeded = start(&[spec.to_str().unwrap()]);
    let bodies: std::collections::BTreeSet<Vec<u8>> = (0..5).map(|_| pets(&unseeded)).collect();
    assert!(
        bodies.len() > 1,
        "without a seed, dynamic data varies per request"
    );
    let plain = get(&format!("{}/pets", unseeded.base)).body;
    assert_eq!(plain, get(&format!("{}/pets", c.base)).body, "static data");
}

#[test]
fn fails_spec_answers_400_for_default_only_and_404_for_unknown_paths() {
    let mock = start(&[mock_fixture("schemas/fails/index.yaml").to_str().unwrap()]);
    let reply = get(&format!("{}/http://bad.api.io/", mock.base));
    assert_eq!(reply.status, 400);
    let error = reply.json();
    assert!(
        error["code"].is_i64() && error["message"].is_string(),
        "{error}"
    );
    let unknown = get(&format!("{}/http://bad.api.io/nothing/here", mock.base));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("content-type"), "application/problem+json");
    assert!(
        unknown.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("no operation matches GET /nothing/here")
    );
}

#[test]
fn nordea_oauth_redirects_with_code_and_state_and_accounts_need_a_token() {
    let mock = start(&[mock_fixture("schemas/nordea/ais-v4.json").to_str().unwrap()]);
    let url = format!(
        "{}/https://api.nordeaopenbanking.com/v4/authorize?client_id=me&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&state=xyz%201",
        mock.base
    );
    let reply = get(&url);
    assert_eq!(reply.status, 302);
    let location = reply.header("location");
    assert!(
        location.starts_with("https://client.example/cb?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz%201"), "{location}");

    let accounts = format!(
        "{}/https://api.nordeaopenbanking.com/personal/v4/accounts",
        mock.base
    );
    let refused = get(&accounts);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("www-authenticate"), "Bearer");
    // With a token, the spec's required headers are checked next.
    let token = ("authorization", "Bearer token-from-the-redirect");
    let incomplete = call("GET", &accounts, &[token], None);
    assert_eq!(incomplete.status, 400);
    // The spec documents its 400: hmt's reason is in x-hmt-problem.
    let detail = incomplete.header("x-hmt-problem").to_owned();
    assert!(
        detail.contains("the header parameter x-ibm-client-secret is required"),
        "{detail}"
    );
    let headers = [
        token,
        ("x-ibm-client-id", "client"),
        ("x-ibm-client-secret", "secret"),
        ("x-nordea-originating-date", "Thu, 01 Dec 1994 16:00:00 GMT"),
        ("x-nordea-originating-host", "client.example"),
        ("signature", "keyId=\"k\",signature=\"s\""),
    ];
    let ok = call("GET", &accounts, &headers, None);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    // AccountListResponse requires `group_header` and `response`; the
    // account list inside is optional, so it is only checked when there.
    let body = ok.json();
    assert!(body["group_header"].is_object(), "{body}");
    assert!(body["response"].is_object(), "{body}");
    let accounts = &body["response"]["accounts"];
    assert!(accounts.is_null() || accounts.is_array(), "{body}");
}

#[test]
fn stripe_is_ready_at_once_and_answers_customers() {
    let started = Instant::now();
    let mock = start(&[mock_fixture("schemas/stripe/index.yaml").to_str().unwrap()]);
    let ready = started.elapsed();
    let customers = call(
        "GET",
        &format!("{}/https://api.stripe.com/v1/customers", mock.base),
        &[("authorization", "Bearer sk_test_123")],
        None,
    );
    assert_eq!(
        customers.status,
        200,
        "{}",
        String::from_utf8_lossy(&customers.body)
    );
    let body = customers.json();
    assert!(body.is_object(), "{body}");
    assert_eq!(body["object"], "list");
    // Not a timing test: the banner reports load time, shown on failure.
    assert!(ready < Duration::from_secs(15), "{}", mock.banner);
}

#[test]
fn prefer_headers_choose_code_example_and_dynamic_data() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.json");
    std::fs::write(
        &spec,
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/users/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "ok", "headers": {"X-Rate-Limit": {"schema": {"type": "integer"}, "example": 100}},
                            "content": {"application/json": {
                                "schema": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "format": "email"}}},
                                "examples": {"ann": {"value": {"email": "ann@example.com"}}, "bob": {"value": {"email": "bob@example.com"}}}}}},
                    "404": {"description": "missing", "content": {"application/json": {"example": {"error": "no such user"}}}}
                }
            }}}
        })
        .to_string(),
    )
    .unwrap();
    let mock = start(&[spec.to_str().unwrap()]);
    let url = format!("{}/users/1", mock.base);
    let first = get(&url);
    assert_eq!(
        (first.status, first.json()),
        (200, json!({"email": "ann@example.com"}))
    );
    assert_eq!(first.header("x-rate-limit"), "100");
    assert_eq!(first.header("content-length"), "27");
    let bob = call("GET", &url, &[("prefer", "example=bob")], None);
    assert_eq!(bob.json(), json!({"email": "bob@example.com"}));
    let missing = call("GET", &url, &[("prefer", "code=404")], None);
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"error": "no such user"}))
    );
    let dynamic = call("GET", &url, &[("prefer", "dynamic=true")], None).json();
    let email = dynamic["email"].as_str().unwrap();
    assert!(
        email.contains('@') && email != "ann@example.com",
        "{dynamic}"
    );
    let undocumented = call("GET", &url, &[("prefer", "code=500")], None);
    assert_eq!(undocumented.status, 404);
    assert!(
        undocumented.json()["detail"]
            .as_str()
            .unwrap()
            .contains("documented: 200, 404")
    );
    let xml = call("GET", &url, &[("accept", "application/xml")], None);
    assert_eq!(xml.status, 406);
}

#[test]
fn bad_specs_fail_at_start_naming_file_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '2000': {description: x}\n").unwrap();
    let stderr = start_fails(&[spec.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "{}: at /paths/~1a/get/responses/2000: \"2000\" is not a status code",
            spec.display()
        )),
        "{stderr}"
    );
    let stderr = start_fails(&[dir.path().join("absent.yaml").to_str().unwrap()]);
    assert!(stderr.contains("absent.yaml: No such file"), "{stderr}");
    let recordings = dir.path().join("bad.jsonl");
    std::fs::write(
        &recordings,
        "{\"request\":{\"method\":\"get\",\"path\":\"/a\",\"host\":\"x.io\"},\"response\":{\"statusCode\":200}}\n{\"request\": 5}\n",
    )
    .unwrap();
    let stderr = start_fails(&["--recordings", recordings.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "{}:2: at /request: invalid type: integer `5`, expected a request object",
            recordings.display()
        )),
        "{stderr}"
    );
}

/// Builds `recordings` in `mode` into a temporary directory.
fn built_specs(recordings: &Path, mode: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
    let out = tempfile::tempdir().unwrap();
    common::build_into(recordings, out.path(), mode, &[]);
    let files = common::files_in(out.path());
    (out, files)
}

/// Every recorded exchange, replayed against `base`, comes back with the
/// same status and the same body bytes (in recorded order per request).
fn assert_replays(base: &str, recordings: &Path) -> usize {
    let mut checked = 0;
    let input = hmt_types::Input::open(&recordings.display().to_string()).unwrap();
    for exchange in input.exchanges() {
        let exchange = exchange.unwrap();
        let request = &exchange.request;
        let Some(response) = &exchange.response else {
            continue;
        };
        let protocol = request.protocol.map_or("http", |p| p.as_str());
        let host = request.host.as_deref().unwrap();
        let url = format!("{base}/{protocol}://{host}{}", request.path());
        let skipped = [
            "host",
            "content-length",
            "connection",
            "transfer-encoding",
            "accept-encoding",
        ];
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .filter(|(name, _)| !skipped.contains(&name.to_ascii_lowercase().as_str()))
            .flat_map(|(name, values)| values.iter().map(move |v| (name, v.as_str())))
            .collect();
        let method = request.method.as_str().to_ascii_uppercase();
        let reply = call(&method, &url, &headers, request.body.as_deref());
        assert_eq!(
            reply.status,
            response.status,
            "{method} {url}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        if let Some(expected) = &response.body {
            assert!(
                &reply.body == expected,
                "{method} {url}: body differs:\n got {}\nwant {}",
                String::from_utf8_lossy(&reply.body),
                String::from_utf8_lossy(expected)
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn replay_specs_from_hmt_build_give_back_recorded_bodies() {
    let recordings = common::recording("opbank");
    let (_dir, files) = built_specs(&recordings, "replay");
    let mock = start(
        &files
            .iter()
            .map(|f| f.to_str().unwrap())
            .collect::<Vec<_>>(),
    );
    assert_eq!(assert_replays(&mock.base, &recordings), 4);
}

#[test]
fn mixed_specs_replay_known_requests_and_generate_for_others() {
    let recordings = common::recording("pokeapi");
    let (_dir, files) = built_specs(&recordings, "mixed");
    let mock = start(
        &files
            .iter()
            .map(|f| f.to_str().unwrap())
            .collect::<Vec<_>>(),
    );
    assert_eq!(assert_replays(&mock.base, &recordings), 14);
    let other = get(&format!(
        "{}/https://pokeapi.co/v2/pokemon/bulbasaur/",
        mock.base
    ));
    assert_eq!(other.status, 200);
    assert!(other.json().is_object());
}

#[test]
fn recordings_serve_directly_and_misses_say_what_differs() {
    for name in ["pokeapi", "github", "opbank"] {
        let recordings = common::recording(name);
        let mock = start(&["--recordings", recordings.to_str().unwrap()]);
        assert!(assert_replays(&mock.base, &recordings) > 0, "{name}");
    }
    let recordings = common::recording("pokeapi");
    let mock = start(&["--recordings", recordings.to_str().unwrap()]);
    let miss = get(&format!(
        "{}/https://pokeapi.co/v2/pokemon/bulbasaur/",
        mock.base
    ));
    assert_eq!(miss.status, 404);
    let detail = miss.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with(
            "no recorded request matches GET /pokemon/bulbasaur/; the nearest is GET /pokemon/"
        ),
        "{detail}"
    );
    assert!(
        detail.contains("path is /pokemon/bulbasaur/ (recorded /pokemon/"),
        "{detail}"
    );
}

#[test]
fn admin_api_shows_specs_and_the_journal_and_resets() {
    let log_dir = tempfile::tempdir().unwrap();
    let mock = start(&[
        "-l",
        log_dir.path().to_str().unwrap(),
        mock_fixture("schemas/petstore/index.yaml")
            .to_str()
            .unwrap(),
    ]);
    let health = get(&format!("{}/admin/health", mock.admin)).json();
    assert_eq!(health, json!({"status": "ok", "specs": 1, "operations": 3}));
    let specs = get(&format!("{}/admin/specs", mock.admin)).json();
    assert_eq!(specs[0]["title"], "Swagger Petstore");
    assert_eq!(
        specs[0]["operations"][0],
        json!({"method": "GET", "path": "/pets", "operationId": "listPets", "recorded": 0})
    );

    get(&format!(
        "{}/https://petstore.swagger.io/pets?limit=2",
        mock.base
    ));
    // The petstore documents no request body for POST /pets: none is sent
    // (one would be a 415).
    call("POST", &format!("{}/pets", mock.base), &[], None);
    let journal = get(&format!("{}/admin/requests", mock.admin)).json();
    let journal = journal.as_array().unwrap();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0]["request"]["method"], "get");
    assert_eq!(journal[0]["request"]["host"], "petstore.swagger.io");
    assert_eq!(journal[0]["request"]["query"]["limit"], "2");
    assert_eq!(journal[1]["response"]["statusCode"], 201);
    // The latest only, as the admin page reads it.
    let last = get(&format!("{}/admin/requests?last=1", mock.admin)).json();
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0], journal[1]);
    let bad = get(&format!("{}/admin/requests?last=all", mock.admin));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["detail"],
        "GET /admin/requests?last=all: last must be a whole number of requests"
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo_root().join("fixtures/http-types/http-types-schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for exchange in journal {
        assert!(validator.is_valid(exchange), "{exchange}");
    }
    assert_eq!(
        call(
            "DELETE",
            &format!("{}/admin/requests", mock.admin),
            &[],
            None
        )
        .status,
        204
    );
    assert_eq!(
        get(&format!("{}/admin/requests", mock.admin)).json(),
        json!([])
    );

    // The log holds the same exchanges as http-types lines, one file per host.
    let logged = common::file_names(log_dir.path());
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert!(
        logged.contains("petstore.swagger.io-mock.jsonl"),
        "{logged:?}"
    );
    let lines = common::exchanges(&log_dir.path().join("petstore.swagger.io-mock.jsonl"));
    assert_eq!(lines.len(), 1);
    assert!(validator.is_valid(&lines[0]));
}

#[test]
fn opbank_balances_move_with_a_callback_script() {
    let spec = mock_fixture("end-to-end/opbank/schemas/index.yml");
    let scripts = common::repo_root().join("fixtures/mock/callbacks/opbank");
    // HMT built this spec from recordings without request bodies, and the
    // payments carry one: validation (which answers 415 to a body an
    // operation does not document) is off, as HMT's mock never validated.
    let mock = start(&[
        "-r",
        "--no-validate",
        "-c",
        scripts.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    assert!(
        mock.banner.contains(", 3 callbacks on http://"),
        "{}",
        mock.banner
    );
    let headers = [
        ("host", "sandbox.apis.op-palvelut.fi"),
        ("x-api-key", "ZoStul8nNuwq1SYCzSrLcO1wAj4Tyf7x"),
        ("x-session-id", "12345"),
        ("x-request-id", "12345"),
        (
            "x-authorization",
            "6c18c234b1b18b1d97c7043e2e41135c293d0da9",
        ),
        (
            "authorization",
            "Bearer 6c18c234b1b18b1d97c7043e2e41135c293d0da9",
        ),
        ("content-type", "application/json"),
    ];
    let balances = || {
        let reply = call(
            "GET",
            &format!("{}/accounts/v3/accounts", mock.base),
            &headers,
            None,
        );
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["balance"].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(balances(), ["2215.81", "0"]);
    let initiated = call(
        "POST",
        &format!("{}/v1/payments/initiate", mock.base),
        &headers,
        Some(br#"{"amount": 5, "payerIban": "FI3959986920207073", "receiverIban": "FI2350009421535899"}"#),
    );
    assert_eq!(
        initiated.status,
        201,
        "{}",
        String::from_utf8_lossy(&initiated.body)
    );
    let id = initiated.json()["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        balances(),
        ["2215.81", "0"],
        "nothing moves before confirmation"
    );
    let confirm = format!(r#"{{"paymentId": "{id}"}}"#);
    let confirmed = call(
        "POST",
        &format!("{}/v1/payments/confirm", mock.base),
        &headers,
        Some(confirm.as_bytes()),
    );
    assert_eq!(
        (confirmed.status, confirmed.json()["paymentId"].as_str()),
        (201, Some(id.as_str()))
    );
    assert_eq!(balances(), ["2210.81", "5"]);
    let again = call(
        "POST",
        &format!("{}/v1/payments/confirm", mock.base),
        &headers,
        Some(confirm.as_bytes()),
    );
    assert_eq!(again.status, 404, "a payment is confirmed once");
    assert_eq!(balances(), ["2210.81", "5"]);
    // The admin API empties storage: the scenario starts over.
    assert_eq!(
        call(
            "DELETE",
            &format!("{}/admin/storage", mock.admin),
            &[],
            None
        )
        .status,
        204
    );
    assert_eq!(balances(), ["2215.81", "0"]);
}

#[test]
fn watch_reloads_good_edits_and_keeps_serving_through_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.yaml");
    let write = |greeting: &str| {
        let text = format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\npaths:\n  /hello:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              example: {{greeting: {greeting}}}\n"
        );
        std::fs::write(&spec, text).unwrap();
    };
    write("hi");
    let mock = start(&["--watch", dir.path().to_str().unwrap()]);
    let url = format!("{}/hello", mock.base);
    assert_eq!(get(&url).json(), json!({"greeting": "hi"}));
    write("hello");
    mock.wait_for_stderr("hmt mock: reloaded");
    assert_eq!(get(&url).json(), json!({"greeting": "hello"}));
    std::fs::write(&spec, "openapi: 3.1.0\npaths:\n  /hello: [\n").unwrap();
    let refused = mock.wait_for_stderr("hmt mock: not reloaded");
    assert!(refused.contains("api.yaml"), "{refused}");
    assert_eq!(
        get(&url).json(),
        json!({"greeting": "hello"}),
        "the last good spec is still served"
    );
}

/// A one-route HTTP server on a thread: answers every POST with `answer`
/// and hands each request body it got to the returned receiver.
fn webhook(answer: Value) -> (String, std::sync::mpsc::Receiver<Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
            let answer = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn pregen_webhooks_rewrite_schemas_before_generation() {
    let mock = start(&[mock_fixture("schemas/petstore/index.yaml")
        .to_str()
        .unwrap()]);
    let schema = json!({"type": "object", "required": ["rewritten"], "properties": {"rewritten": {"const": true}}});
    let (url, received) = webhook(json!({"schemas": {"200": {"application/json": schema}}}));
    let pregen = format!("{}/admin/middleware/rest/pregen", mock.admin);
    let added = call("POST", &format!("{pregen}/{url}"), &[], None);
    assert_eq!((added.status, added.json()), (201, json!([url])));
    assert_eq!(get(&pregen).json(), json!([url]));

    let reply = get(&format!("{}/pets?limit=3", mock.base));
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"rewritten": true}))
    );
    let sent = received
        .recv_timeout(Duration::from_secs(5))
        .expect("the webhook was called");
    assert_eq!(sent["request"]["path"], "/pets?limit=3");
    assert_eq!(sent["request"]["query"]["limit"], "3");
    assert_eq!(
        sent["schemas"]["200"]["application/json"]["$ref"],
        "#/components/schemas/Pets"
    );

    assert_eq!(
        call("DELETE", &format!("{pregen}/{url}"), &[], None).status,
        204
    );
    assert_eq!(get(&pregen).json(), json!([]));
    let unchanged = get(&format!("{}/pets", mock.base)).json();
    assert!(
        unchanged.is_array(),
        "without webhooks the spec's schema is used: {unchanged}"
    );
}

#[test]
fn daemon_mode_starts_reports_and_stops() {
    let home = tempfile::tempdir().unwrap();
    let hmt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hmt"))
            .arg("mock")
            .args(args)
            .env("HMT_HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .expect("run hmt mock")
    };
    let spec = mock_fixture("schemas/petstore/index.yaml");
    let started = hmt(&["-d", "-p", "0", "-a", "0", spec.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&started.stdout).into_owned();
    assert!(
        started.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let address = stdout
        .split(" on ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_owned();
    assert!(
        stdout.starts_with("hmt mock: running in the background (pid "),
        "{stdout}"
    );

    let pets = get(&format!("http://{address}/pets/1"));
    assert_eq!(pets.status, 200);
    let again = hmt(&["-d", "-p", "0", "-a", "0", spec.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("a mock is already running"),
        "{:?}",
        again
    );

    let status = hmt(&["-s"]);
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status_text.contains(&format!("address:    http://{address}")),
        "{status_text}"
    );
    assert!(status_text.contains("operations: 3"), "{status_text}");

    let stopped = hmt(&["-k"]);
    assert!(
        String::from_utf8_lossy(&stopped.stdout).starts_with("hmt mock: stopped (pid "),
        "{stopped:?}"
    );
    let gone = hmt(&["-s"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("no mock is running"),
        "{gone:?}"
    );
}

/// A path template filled in from its parameters' examples (or `1`).
fn filled_path(template: &str, parameters: &[Value]) -> String {
    let mut path = template.to_owned();
    for parameter in parameters.iter().filter(|p| p["in"] == "path") {
        let name = parameter["name"].as_str().unwrap();
        let example = parameter
            .get("example")
            .or(parameter["schema"].get("example"))
            .cloned()
            .unwrap_or(json!(1));
        let text = match example {
            Value::String(s) => s,
            other => other.to_string(),
        };
        path = path.replace(&format!("{{{name}}}"), &text);
    }
    path
}

#[test]
fn gen_specs_from_hmt_build_serve_every_operation_with_valid_bodies() {
    let out = tempfile::tempdir().unwrap();
    for name in ["shop", "pokeapi", "github", "opbank"] {
        let path = if name == "shop" {
            common::shop_recording().to_owned()
        } else {
            common::recording(name)
        };
        common::build_into(&path, &out.path().join(name), "gen", &[]);
    }
    let specs: Vec<PathBuf> = ["shop", "pokeapi", "github", "opbank"]
        .iter()
        .flat_map(|n| common::files_in(&out.path().join(n)))
        .collect();
    let args: Vec<&str> = std::iter::once("--no-auth")
        .chain(specs.iter().map(|p| p.to_str().unwrap()))
        .collect();
    let mock = start(&args);
    let checked = check_every_operation(&[&mock], &specs, &[]);
    assert!(
        checked >= 20,
        "only {checked} operations had JSON bodies to check"
    );
}

#[test]
fn petstore_and_stripe_generate_valid_bodies_for_every_operation_and_seed() {
    let petstore = mock_fixture("schemas/petstore/index.yaml");
    let stripe = mock_fixture("schemas/stripe/index.yaml");
    let specs = [petstore.to_str().unwrap(), stripe.to_str().unwrap()];
    let mocks: Vec<MockServer> = ["1", "2", "3"]
        .iter()
        .map(|seed| start(&[&["--seed", seed, "--no-validate"][..], &specs[..]].concat()))
        .collect();
    let checked = check_every_operation(
        &mocks.iter().collect::<Vec<_>>(),
        &[petstore.clone(), stripe.clone()],
        &[
            ("authorization", "Bearer sk_test_123"),
            ("prefer", "dynamic=true"),
        ],
    );
    assert!(checked >= 3 * 300, "only {checked} bodies checked");
}

/// Calls every operation of `specs` on `mock` (path parameters from their
/// examples, required query parameters too, the first documented request
/// body as its example or generated data) and checks that each answers its
/// lowest documented 2xx with a body valid against the documented schema,
/// formats included. Returns how many bodies were checked.
fn check_every_operation(
    mocks: &[&MockServer],
    specs: &[PathBuf],
    extra_headers: &[(&str, &str)],
) -> usize {
    let mut checked = 0;
    for file in specs {
        let loaded = hmt_mock::load_specs(std::slice::from_ref(file))
            .unwrap()
            .pop()
            .unwrap();
        let mut document = loaded.document;
        hmt_mock::dialect::normalise_document(&mut document);
        let registry = jsonschema::Registry::new()
            .add("urn:spec", document.clone())
            .unwrap()
            .prepare()
            .unwrap();
        let server = document["servers"][0]["url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let generator = hmt_mock::generate::Generator::new(&document);
        for (template, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let mut parameters: Vec<Value> =
                    item["parameters"].as_array().cloned().unwrap_or_default();
                parameters.extend(
                    operation["parameters"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
                let mut url = format!("/{server}{}", filled_path(template, &parameters));
                let required_query: Vec<String> = parameters
                    .iter()
                    .filter(|p| p["in"] == "query" && p["required"] == true)
                    .map(|p| {
                        format!(
                            "{}={}",
                            p["name"].as_str().unwrap(),
                            p["example"]
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| p["example"].to_string())
                        )
                    })
                    .collect();
                if !required_query.is_empty() {
                    url = format!("{url}?{}", required_query.join("&"));
                }
                // The first documented body: its example, or generated data.
                let body = operation
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                    .and_then(|c| c.iter().next())
                    .map(|(media_type, media)| {
                        let value = media.get("example").cloned().unwrap_or_else(|| {
                            let mut rng =
                                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
                            generator.generate(&media["schema"], &mut rng)
                        });
                        let bytes = if media_type == "application/x-www-form-urlencoded" {
                            let fields: Vec<String> = value
                                .as_object()
                                .unwrap()
                                .iter()
                                .map(|(k, v)| {
                                    format!(
                                        "{k}={}",
                                        v.as_str()
                                            .map(str::to_owned)
                                            .unwrap_or_else(|| v.to_string())
                                    )
                                })
                                .collect();
                            fields.join("&").into_bytes()
                        } else {
                            serde_json::to_vec(&value).unwrap()
                        };
                        (media_type.clone(), bytes)
                    });
                let content_type;
                let mut headers: Vec<(&str, &str)> = extra_headers.to_vec();
                if let Some((media_type, _)) = &body {
                    content_type = media_type.clone();
                    headers.push(("content-type", content_type.as_str()));
                }
                let body = body.as_ref().map(|(_, bytes)| bytes.as_slice());
                let lowest_2xx = operation["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| k.starts_with('2'))
                    .min()
                    .cloned();
                let Some(expected) = lowest_2xx else { continue };
                let schema_at = format!(
                    "/paths/{}/{method}/responses/{expected}/content/application~1json/schema",
                    template.replace('~', "~0").replace('/', "~1")
                );
                let validator = document.pointer(&schema_at).map(|_| {
                    let reference = json!({"$ref": format!("urn:spec#{}", schema_at.replace('{', "%7B").replace('}', "%7D"))});
                    jsonschema::options()
                        .with_registry(&registry)
                        .should_validate_formats(true)
                        .build(&reference)
                        .unwrap()
                });
                for mock in mocks {
                    let url = format!("{}{url}", mock.base);
                    let reply = call(&method.to_ascii_uppercase(), &url, &headers, body);
                    assert_eq!(
                        reply.status.to_string(),
                        expected,
                        "{method} {url}: {}",
                        String::from_utf8_lossy(&reply.body)
                    );
                    if let Some(validator) = &validator {
                        let body = reply.json();
                        let errors: Vec<String> = validator
                            .iter_errors(&body)
                            .map(|e| format!("{} at {}", e, e.instance_path()))
                            .collect();
                        assert!(errors.is_empty(), "{method} {url}: {errors:?}\n{body}");
                        checked += 1;
                    }
                }
            }
        }
    }
    checked
}

#[test]
fn traffic_recorded_by_hmt_record_replays_byte_identical() {
    let upstreams = common_record::Upstreams::start();
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("rec.jsonl");
    let target = upstreams.plain_url("");
    let record = common_record::RecordProcess::start(
        dir.path(),
        &["--target", &target, "--output", recording.to_str().unwrap()],
    );
    let mut sent = Vec::new();
    for (method, path, body) in [
        ("GET", "/api/json", None),
        ("GET", "/api/gzip", None),
        ("GET", "/api/binary", None),
        ("GET", "/api/cookies", None),
        (
            "POST",
            "/api/mirror?x=1",
            Some(&br#"{"a":[1,2,{"b":null}]}"#[..]),
        ),
        ("POST", "/api/echo", Some(&b"plain text"[..])),
        ("GET", "/api/missing", None),
    ] {
        let reply = call(method, &record.url(path), &[("x-test", "round trip")], body);
        sent.push((method, path, reply.status));
    }
    record.stop();
    let mock = start(&["--recordings", recording.to_str().unwrap()]);
    assert_eq!(
        assert_replays(&mock.base, &recording),
        sent.len(),
        "{sent:?}"
    );
    // Recorded headers come back (Set-Cookie not: it is redacted when
    // recorded, and a spec never carries credentials).
    let host = target.trim_start_matches("http://").trim_end_matches('/');
    let same = [("x-test", "round trip")];
    let binary = call(
        "GET",
        &format!("{}/http://{host}/api/binary", mock.base),
        &same,
        None,
    );
    assert_eq!(binary.header("content-type"), "application/octet-stream");
    let cookies = call(
        "GET",
        &format!("{}/http://{host}/api/cookies", mock.base),
        &same,
        None,
    );
    assert_eq!(cookies.status, 200);
    assert_eq!(cookies.headers.get_all("set-cookie").iter().count(), 0);
}

#[test]
fn cors_preflights_are_answered_and_origins_allowed() {
    let spec = mock_fixture("schemas/petstore/index.yaml");
    let mock = start(&["--cors", spec.to_str().unwrap()]);
    let preflight = call(
        "OPTIONS",
        &format!("{}/pets", mock.base),
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, x-trace"),
        ],
        None,
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(preflight.header("access-control-allow-methods"), "POST");
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        "content-type, x-trace"
    );
    let list = call(
        "GET",
        &format!("{}/pets", mock.base),
        &[("origin", "https://app.example")],
        None,
    );
    assert_eq!(list.status, 200);
    assert_eq!(
        list.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(list.header("vary"), "Origin");
    // Without --cors, OPTIONS is just an undocumented method.
    let plain = start(&[spec.to_str().unwrap()]);
    let refused = call(
        "OPTIONS",
        &format!("{}/pets", plain.base),
        &[("access-control-request-method", "POST")],
        None,
    );
    assert_eq!(refused.status, 405);
}

#[test]
fn delays_and_faults_from_the_command_line_reach_the_client() {
    let spec = mock_fixture("schemas/petstore/index.yaml");
    let slow = start(&[spec.to_str().unwrap(), "--delay", "150-200"]);
    let started = Instant::now();
    assert_eq!(get(&format!("{}/pets/7", slow.base)).status, 200);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    drop(slow);
    let broken = start(&[spec.to_str().unwrap(), "--fault", "reset"]);
    // curl, a client hmt did not write: exit 56 is "failure receiving
    // network data" (the reset); then a request preferring a body cut
    // short gets exit 18, "partial file".
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "10"])
            .args(extra)
            .arg(format!("{}/pets/7", broken.base))
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(curl(&[]), Some(56));
    assert_eq!(curl(&["-H", "Prefer: fault=cut-short"]), Some(18));
    let bad = start_fails(&[spec.to_str().unwrap(), "--fault", "explode"]);
    assert!(
        bad.contains("unknown fault \"explode\"; one of reset, random-data, cut-short, dribble"),
        "{bad}"
    );
}

#[test]
fn stateful_mock_state_is_read_and_reset_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("notes.json");
    std::fs::write(
        &spec,
        serde_json::to_string(&json!({
            "openapi": "3.0.3",
            "info": {"title": "notes", "version": "1"},
            "paths": {
                "/notes": {"post": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}}}},
                    "responses": {"201": {"description": "created"}}
                }},
                "/notes/{id}": {"get": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "a note"}, "404": {"description": "none"}}
                }}
            }
        }))
        .unwrap(),
    )
    .unwrap();
    let mock = start(&[spec.to_str().unwrap(), "--stateful"]);
    let created = call(
        "POST",
        &format!("{}/notes", mock.base),
        &[("content-type", "application/json")],
        Some(br#"{"text": "remember"}"#),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.json(), json!({"id": 1, "text": "remember"}));
    assert_eq!(
        get(&format!("{}/notes/1", mock.base)).json()["text"],
        "remember"
    );
    assert_eq!(
        get(&format!("{}/admin/state", mock.admin)).json(),
        json!({"notes": {"/notes": [{"id": 1, "text": "remember"}]}})
    );
    assert_eq!(
        call("DELETE", &format!("{}/admin/state", mock.admin), &[], None).status,
        204
    );
    assert_eq!(get(&format!("{}/notes/1", mock.base)).status, 404);
}

#[test]
fn static_answers_are_byte_identical_across_requests_and_runs_of_stripe() {
    let spec = mock_fixture("schemas/stripe/index.yaml");
    let runs = [
        start(&[spec.to_str().unwrap()]),
        start(&[spec.to_str().unwrap()]),
    ];
    let auth = [("authorization", "Bearer sk_test_123")];
    for path in [
        "/v1/customers",
        "/v1/charges",
        "/v1/balance",
        "/v1/products",
        "/v1/customers/cus_123",
    ] {
        let bodies: Vec<Vec<u8>> = runs
            .iter()
            .flat_map(|mock| {
                let url = format!("{}/https://api.stripe.com{path}", mock.base);
                (0..2).map(move |_| {
                    let reply = call("GET", &url, &auth, None);
                    assert_eq!(
                        reply.status,
                        200,
                        "{path}: {}",
                        String::from_utf8_lossy(&reply.body)
                    );
                    reply.body
                })
            })
            .collect();
        assert!(bodies[0].len() > 2, "{path}");
        for (i, body) in bodies.iter().enumerate() {
            assert!(
                *body == bodies[0],
                "{path}: answer {i} differs:\n{}\n{}",
                String::from_utf8_lossy(&bodies[0]),
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn invalid_examples_are_reported_and_refusals_take_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("items.json");
    std::fs::write(
        &spec,
        json!({
            "openapi": "3.1.0",
            "info": {"title": "items", "version": "1"},
            "paths": {"/items": {"get": {
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {
                        "schema": {"type": "array", "items": {"type": "integer"}},
                        "example": [1, "two"]
                    }}},
                    "400": {"description": "bad", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                        "example": {"error": "bad limit"}
                    }}}
                }
            }}}
        })
        .to_string(),
    )
    .unwrap();
    let lenient = start(&[spec.to_str().unwrap()]);
    let warning = lenient.wait_for_stderr("does not validate against its schema");
    assert!(
        warning.contains("/paths/~1items/get/responses/200/content/application~1json/example"),
        "{warning}"
    );
    let url = format!("{}/items", lenient.base);
    assert_eq!(get(&url).json(), json!([1, "two"]));
    let refused = get(&format!("{url}?limit=many"));
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json(), json!({"error": "bad limit"}));
    assert!(
        refused.header("x-hmt-problem").starts_with("validation: ")
            && refused.header("x-hmt-problem").contains("limit"),
        "{}",
        refused.header("x-hmt-problem")
    );
    let journal: Value =
        serde_json::from_slice(&get(&format!("{}/admin/requests", lenient.admin)).body).unwrap();
    let text = journal.to_string();
    assert!(text.contains("urn:hmt:problem:validation"), "{text}");
    let query = call("GET", &format!("{url}?__code=400"), &[], None);
    assert_eq!(
        (query.status, query.json()),
        (400, json!({"error": "bad limit"}))
    );

    let strict = start(&[
        "--strict-examples",
        "--errors",
        "problem",
        spec.to_str().unwrap(),
    ]);
    let url = format!("{}/items", strict.base);
    let generated = get(&url).json();
    assert!(
        generated
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_i64)),
        "{generated}"
    );
    assert_eq!(get(&url).json(), generated, "the same bytes every time");
    let refused = get(&format!("{url}?limit=many"));
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("content-type"), "application/problem+json");
    assert_eq!(refused.header("x-hmt-problem"), "");
}
