//! `hmt record` end to end, as a user runs it: the real binary, real
//! upstreams (plain and TLS), real clients (curl, Python `requests`,
//! reqwest), and what ends up on disk, in Kafka and on stderr.
//!
//! Every recorder is started with `-p 0` and found through
//! `$HMT_HOME/record.json`; every child process is stopped when its test
//! ends, pass or fail.

mod common_record;

use common_record::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const GETS: [&str; 4] = ["/json", "/gzip", "/binary", "/cookies"];
const ECHO_BODY: &str = "hello upstream";

// ---- helpers -----------------------------------------------------------------------------

type Args = Box<dyn Fn(&str) -> Vec<String>>;

/// One way of reaching the upstreams' endpoints through hmt.
struct Case {
    name: String,
    /// curl arguments reaching an endpoint (`/json`) through the proxy.
    via: Args,
    /// curl arguments reaching the same endpoint directly.
    direct: Args,
    /// `%{http_version}` the client must have spoken.
    version: &'static str,
    /// The upstream URL the recording must name for an endpoint.
    recorded: Box<dyn Fn(&str) -> String>,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| (*a).to_owned()).collect()
}

/// `base` followed by the endpoint.
fn prefixed(base: String) -> Box<dyn Fn(&str) -> String> {
    Box::new(move |ep| format!("{base}{ep}"))
}

fn plain_flag(http2: bool) -> &'static str {
    if http2 {
        "--http2-prior-knowledge"
    } else {
        "--http1.1"
    }
}

fn tls_flag(http2: bool) -> &'static str {
    if http2 { "--http2" } else { "--http1.1" }
}

fn version(http2: bool) -> &'static str {
    if http2 { "2" } else { "1.1" }
}

/// Direct curl arguments to the plain upstream.
fn direct_plain(up: &Upstreams, http2: bool) -> Args {
    let base = up.plain_url("");
    Box::new(move |ep| s(&[plain_flag(http2), &format!("{base}{ep}")]))
}

/// Direct curl arguments to the TLS upstream, trusting its CA.
fn direct_tls(up: &Upstreams, http2: bool) -> Args {
    let base = up.tls_url("");
    let ca = up.ca_path.display().to_string();
    Box::new(move |ep| s(&["--cacert", &ca, tls_flag(http2), &format!("{base}{ep}")]))
}

/// Requests every endpoint through `case` and directly, checks the client
/// got the same bytes both ways, and notes the `(method, url)` hmt must
/// record.
fn check_case(dir: &Path, case: &Case, up: &Upstreams, expected: &mut Vec<(String, String)>) {
    let name = &case.name;
    for ep in GETS {
        let via = curl(dir, &(case.via)(ep));
        let direct = curl(dir, &(case.direct)(ep));
        assert_eq!(via.status, 200, "{name} {ep}: {via:?}");
        assert_eq!(direct.status, 200, "{name} {ep} direct");
        assert_eq!(via.version, case.version, "{name} {ep}: client protocol");
        assert!(
            via.body == direct.body,
            "{name} {ep}: {} bytes through hmt, {} direct",
            via.body.len(),
            direct.body.len()
        );
        match ep {
            "/json" => assert_eq!(via.body, JSON_BODY.as_bytes(), "{name}"),
            "/gzip" => {
                assert!(via.body == up.state.gzip, "{name}: gzip bytes changed");
                assert_eq!(via.header_values("content-encoding"), ["gzip"], "{name}");
            }
            "/binary" => assert!(via.body == up.state.binary, "{name}: binary changed"),
            "/cookies" => assert_eq!(
                via.header_values("set-cookie"),
                ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
                "{name}: both Set-Cookie headers, in order"
            ),
            _ => unreachable!(),
        }
        expected.push(("get".into(), (case.recorded)(ep)));
    }
    let post = |mut args: Vec<String>| {
        let url = args.pop().unwrap();
        args.extend(s(&["-d", ECHO_BODY, "-H", "x-test: kept", &url]));
        args
    };
    let via = curl(dir, &post((case.via)("/echo")));
    let direct = curl(dir, &post((case.direct)("/echo")));
    assert_eq!(via.status, 200, "{name} /echo: {via:?}");
    assert_eq!(
        String::from_utf8_lossy(&via.body),
        String::from_utf8_lossy(&direct.body),
        "{name} /echo: the upstream saw something else through hmt"
    );
    let echo: Value = serde_json::from_slice(&via.body).unwrap();
    assert_eq!(echo["body"], ECHO_BODY, "{name}");
    assert_eq!(echo["x-test"], "kept", "{name}");
    expected.push(("post".into(), (case.recorded)("/echo")));
}

/// Checks a host's recording: exactly the expected requests, one line each,
/// valid http-types, bodies decoded.
fn check_log(path: &Path, expected: &[(String, String)], up: &Upstreams) {
    let validator = http_types_validator();
    let lines = valid_lines(&validator, path);
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(
        multiset(&method_urls(&lines)),
        multiset(&expected),
        "{}: one line per request",
        path.display()
    );
    for (line, l) in &lines {
        let url = l["request"]["url"].as_str().unwrap();
        let scheme = &url[..url.find("://").unwrap()];
        assert_eq!(l["request"]["protocol"], scheme, "{line}");
        let response = &l["response"];
        assert_eq!(response["statusCode"], 200, "{line}");
        let endpoint = url.split('?').next().unwrap().rsplit('/').next().unwrap();
        let meta = &l["meta"];
        match endpoint {
            "json" => assert_eq!(response["body"], JSON_BODY, "{line}"),
            "gzip" => {
                assert_eq!(
                    response["body"],
                    gzip_text(),
                    "gzip recorded decoded: {line}"
                );
                assert_eq!(meta["responseContentEncoding"], "gzip", "{line}");
                let headers = response["headers"].as_object().unwrap();
                assert!(
                    !headers
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case("content-encoding")),
                    "a decoded body must not claim an encoding: {line}"
                );
            }
            "binary" => {
                assert_eq!(meta["responseBodyEncoding"], "base64", "{line}");
                assert_eq!(response["body"], base64(&up.state.binary), "{line}");
            }
            "cookies" => {
                assert_eq!(response["body"], COOKIES_BODY, "{line}");
                let cookies = response["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("set-cookie recorded: {line}"));
                assert_eq!(
                    cookies.as_array().map(Vec::len),
                    Some(2),
                    "both Set-Cookie headers recorded: {line}"
                );
            }
            "echo" => {
                assert_eq!(l["request"]["body"], ECHO_BODY, "{line}");
                let echo: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                assert_eq!(echo["body"], ECHO_BODY, "{line}");
            }
            other => panic!("unexpected endpoint {other}: {line}"),
        }
    }
}

/// The recording files in `dir`, by name.
/// Stops hmt and checks that it exited cleanly, proxied and recorded each
/// expected exchange, and wrote exactly these per-host logs with exactly
/// these lines.
fn stop_and_check_logs(
    hmt: RecordProcess,
    work: &Path,
    up: &Upstreams,
    expected: &[(String, &[(String, String)])],
) {
    let out = hmt.stop();
    assert_exit_0(&out);
    let n = expected.iter().map(|(_, lines)| lines.len()).sum();
    assert_summary(&out, n, n, 0);
    let logs = work.join("logs");
    let files: BTreeSet<String> = expected.iter().map(|(file, _)| file.clone()).collect();
    assert_eq!(file_names(&logs), files);
    for (file, lines) in expected {
        check_log(&logs.join(file), lines, up);
    }
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The summary line `hmt record: N exchanges proxied, R recorded, F filtered out, ...`.
fn assert_summary(out: &Outcome, proxied: usize, recorded: usize, filtered: usize) {
    let want = format!(
        "hmt record: {proxied} exchange{} proxied, {recorded} recorded, {filtered} filtered out, 0 sink errors",
        if proxied == 1 { "" } else { "s" }
    );
    assert!(
        out.summary().iter().any(|line| line.starts_with(&want)),
        "want {want:?} in the summary:\n{}",
        out.stderr
    );
}

fn assert_exit_0(out: &Outcome) {
    assert_eq!(out.code, Some(0), "hmt record failed:\n{}", out.stderr);
}

/// The path of hmt's CA certificate for `home`, as `hmt ca --path-only` prints it.
fn hmt_ca_path(cwd: &Path, home: &Path) -> String {
    let out = run_hmt(cwd, home, &["ca", "--path-only"], WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout.trim_end().to_owned()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn reqwest_client(http2: bool) -> reqwest::Client {
    install_crypto();
    let b = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30));
    if http2 {
        b.http2_prior_knowledge()
    } else {
        b.http1_only()
    }
    .build()
    .unwrap()
}

// ---- 2. every routing mode, HTTP/1.1 and HTTP/2, byte for byte ------------------------------

#[test]
fn path_forward_and_intercepted_routing_deliver_identical_bytes_and_record_one_line_each() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let upstream_ca = up.ca_path.display().to_string();
    let hmt = RecordProcess::start(work.path(), &["--upstream-ca", &upstream_ca]);
    let hmt_ca = hmt_ca_path(work.path(), &hmt.home);
    let proxy = hmt.url("");
    let (mut plain, mut tls) = (Vec::new(), Vec::new());
    for http2 in [false, true] {
        let (a, b) = (hmt.url(""), up.plain_url(""));
        check_case(
            curl_dir.path(),
            &Case {
                name: format!("path routing to http, http2={http2}"),
                via: Box::new(move |ep| s(&[plain_flag(http2), &format!("{a}/{b}{ep}")])),
                direct: direct_plain(&up, http2),
                version: version(http2),
                recorded: prefixed(up.plain_url("")),
            },
            &up,
            &mut plain,
        );
        let (a, b) = (hmt.url(""), up.tls_url(""));
        check_case(
            curl_dir.path(),
            &Case {
                name: format!("path routing to https, http2={http2}"),
                via: Box::new(move |ep| s(&[plain_flag(http2), &format!("{a}/{b}{ep}")])),
                direct: direct_tls(&up, http2),
                version: version(http2),
                recorded: prefixed(up.tls_url("")),
            },
            &up,
            &mut tls,
        );
        let (p, b, ca) = (proxy.clone(), up.tls_url(""), hmt_ca.clone());
        check_case(
            curl_dir.path(),
            &Case {
                name: format!("HTTPS interception, http2={http2}"),
                via: Box::new(move |ep| {
                    s(&[
                        "-x",
                        &p,
                        "--cacert",
                        &ca,
                        tls_flag(http2),
                        &format!("{b}{ep}"),
                    ])
                }),
                direct: direct_tls(&up, http2),
                version: version(http2),
                recorded: prefixed(up.tls_url("")),
            },
            &up,
            &mut tls,
        );
    }
    // Forward proxy: curl speaks HTTP/1.1 to an http:// proxy whatever it is
    // told, so HTTP/2 (h2c with an authority that is not the proxy) is
    // checked with reqwest.
    let (p, b) = (proxy.clone(), up.plain_url(""));
    check_case(
        curl_dir.path(),
        &Case {
            name: "forward proxy, HTTP/1.1".into(),
            via: Box::new(move |ep| s(&["-x", &p, "--http1.1", &format!("{b}{ep}")])),
            direct: direct_plain(&up, false),
            version: "1.1",
            recorded: prefixed(up.plain_url("")),
        },
        &up,
        &mut plain,
    );
    up.rt.block_on(async {
        install_crypto();
        let via = reqwest::Client::builder()
            .no_proxy()
            .proxy(reqwest::Proxy::http(&proxy).unwrap())
            .http2_prior_knowledge()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let direct = reqwest_client(true);
        for ep in ["/json", "/binary"] {
            let r = via.get(up.plain_url(ep)).send().await.unwrap();
            assert_eq!(r.version(), reqwest::Version::HTTP_2, "forward h2c {ep}");
            assert_eq!(r.status(), 200);
            let got = r.bytes().await.unwrap();
            let want = direct
                .get(up.plain_url(ep))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(got == want, "forward h2c {ep}: bytes differ");
            plain.push(("get".into(), up.plain_url(ep)));
        }
    });

    stop_and_check_logs(
        hmt,
        work.path(),
        &up,
        &[(up.plain_file(), &plain), (up.tls_file(), &tls)],
    );
}

#[test]
fn header_routing_delivers_identical_bytes_and_records_one_line_each() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let upstream_ca = up.ca_path.display().to_string();
    let hmt = RecordProcess::start(work.path(), &["-r", "--upstream-ca", &upstream_ca]);
    let (mut plain, mut tls) = (Vec::new(), Vec::new());
    for http2 in [false, true] {
        let a = hmt.url("");
        let host = format!("Host: {}", up.plain);
        let b = up.plain_url("");
        check_case(
            curl_dir.path(),
            &Case {
                name: format!("header routing to http, http2={http2}"),
                via: Box::new(move |ep| s(&[plain_flag(http2), "-H", &host, &format!("{a}{ep}")])),
                direct: direct_plain(&up, http2),
                version: version(http2),
                recorded: prefixed(b.clone()),
            },
            &up,
            &mut plain,
        );
        let a = hmt.url("");
        let host = format!("Host: localhost:{}", up.tls.port());
        let b = up.tls_url("");
        check_case(
            curl_dir.path(),
            &Case {
                name: format!("header routing to https, http2={http2}"),
                via: Box::new(move |ep| {
                    s(&[
                        plain_flag(http2),
                        "-H",
                        &host,
                        "-H",
                        "x-hmt-scheme: https",
                        &format!("{a}{ep}"),
                    ])
                }),
                direct: direct_tls(&up, http2),
                version: version(http2),
                recorded: prefixed(b.clone()),
            },
            &up,
            &mut tls,
        );
    }
    stop_and_check_logs(
        hmt,
        work.path(),
        &up,
        &[(up.plain_file(), &plain), (up.tls_file(), &tls)],
    );
}

#[test]
fn target_routing_delivers_identical_bytes_and_records_one_line_each() {
    require_curl();
    let up = Upstreams::start();
    let curl_dir = tempdir();
    let upstream_ca = up.ca_path.display().to_string();
    for tls in [false, true] {
        let work = tempdir();
        let target = if tls {
            up.tls_url("/base")
        } else {
            up.plain_url("/base")
        };
        let hmt = RecordProcess::start(
            work.path(),
            &["--target", &target, "--upstream-ca", &upstream_ca],
        );
        let mut expected = Vec::new();
        for http2 in [false, true] {
            let a = hmt.url("");
            let direct = if tls {
                direct_tls(&up, http2)
            } else {
                direct_plain(&up, http2)
            };
            let t = target.clone();
            check_case(
                curl_dir.path(),
                &Case {
                    name: format!("--target {target}, http2={http2}"),
                    via: Box::new(move |ep| s(&[plain_flag(http2), &format!("{a}{ep}")])),
                    direct: Box::new(move |ep| direct(&format!("/base{ep}"))),
                    version: version(http2),
                    recorded: prefixed(t.clone()),
                },
                &up,
                &mut expected,
            );
        }
        let file = if tls { up.tls_file() } else { up.plain_file() };
        stop_and_check_logs(hmt, work.path(), &up, &[(file, &expected)]);
    }
}

// ---- 3. Python requests through HTTPS_PROXY ---------------------------------------------------

const PY_FETCH: &str = r#"
import hashlib, sys, requests
for url in sys.argv[1:]:
    r = requests.get(url, timeout=20)
    print(r.status_code, hashlib.sha256(r.content).hexdigest(), ",".join(sorted(r.cookies.keys())) or "-")
"#;

fn python_fetch(python: &Path, env: &[(&str, &str)], urls: &[String]) -> Vec<String> {
    let mut cmd = std::process::Command::new(python);
    clean_env(&mut cmd).args(["-c", PY_FETCH]).args(urls);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python runs");
    assert!(
        out.status.success(),
        "python requests failed ({}) with {env:?}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn python_requests_through_https_proxy_gets_the_upstreams_bytes() {
    let python = require_python();
    let up = Upstreams::start();
    let work = tempdir();
    let upstream_ca = up.ca_path.display().to_string();
    let hmt = RecordProcess::start(work.path(), &["--upstream-ca", &upstream_ca]);
    let hmt_ca = hmt_ca_path(work.path(), &hmt.home);
    let urls: Vec<String> = GETS.iter().map(|ep| up.tls_url(ep)).collect();

    let proxy = hmt.url("");
    let via = python_fetch(
        &python,
        &[("HTTPS_PROXY", &proxy), ("REQUESTS_CA_BUNDLE", &hmt_ca)],
        &urls,
    );
    let direct = python_fetch(&python, &[("REQUESTS_CA_BUNDLE", &upstream_ca)], &urls);
    // requests decodes gzip: it sees the text.
    let want: Vec<String> = [
        (JSON_BODY.as_bytes().to_vec(), "-"),
        (gzip_text().into_bytes(), "-"),
        (up.state.binary.clone(), "-"),
        (COOKIES_BODY.as_bytes().to_vec(), "a,b"),
    ]
    .iter()
    .map(|(body, cookies)| format!("200 {} {cookies}", sha256_hex(body)))
    .collect();
    assert_eq!(direct, want, "direct");
    assert_eq!(via, want, "through hmt with HTTPS_PROXY");

    let expected: Vec<(String, String)> = urls.iter().map(|u| ("get".into(), u.clone())).collect();
    assert_eq!(expected.len(), 4);
    stop_and_check_logs(hmt, work.path(), &up, &[(up.tls_file(), &expected)]);
}

// ---- 4. SIGTERM under load ----------------------------------------------------------------------

#[test]
fn sigterm_under_load_keeps_exactly_the_completed_exchanges() {
    let up = Upstreams::start();
    let work = tempdir();
    let hmt = RecordProcess::start(work.path(), &[]);
    let url = hmt.path_url(&up.plain_url("/slow?ms=300"));
    let (completed, failures, in_flight) = up.rt.block_on(async {
        let h1 = reqwest_client(false);
        let h2 = reqwest_client(true);
        let started = Instant::now();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let client = if i % 2 == 0 { h1.clone() } else { h2.clone() };
                let url = url.clone();
                tokio::spawn(async move {
                    let response = client.get(url).send().await?;
                    let status = response.status().as_u16();
                    let body = response.text().await?;
                    Ok::<_, reqwest::Error>((status, body))
                })
            })
            .collect();
        // ~100 ms in, with requests at the upstream.
        loop {
            let in_flight = up
                .state
                .slow_in_flight
                .load(std::sync::atomic::Ordering::SeqCst);
            if started.elapsed() >= Duration::from_millis(100) && in_flight > 0 {
                break;
            }
            assert!(started.elapsed() < WAIT, "no request reached the upstream");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let in_flight = up
            .state
            .slow_in_flight
            .load(std::sync::atomic::Ordering::SeqCst);
        hmt.terminate();
        // It stops accepting at once, while the in-flight exchanges finish.
        let refusing = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(hmt.addr).await.is_ok() {
            assert!(
                Instant::now() < refusing,
                "still accepting connections after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut completed = 0usize;
        let mut failures = Vec::new();
        for task in tasks {
            match tokio::time::timeout(Duration::from_secs(40), task)
                .await
                .expect("every request ends")
                .unwrap()
            {
                Ok((200, body)) if body == "slow done" => completed += 1,
                Ok(other) => panic!("a request completed wrongly: {other:?}"),
                Err(error) => failures.push(error.to_string()),
            }
        }
        (completed, failures, in_flight)
    });
    let out = hmt.wait(Duration::from_secs(45));
    assert_exit_0(&out);
    eprintln!(
        "{completed} completed, {} failed, {in_flight} in flight at SIGTERM; failures: {:?}",
        failures.len(),
        failures.iter().collect::<BTreeSet<_>>()
    );
    assert!(
        completed >= in_flight && in_flight > 0,
        "requests in flight at SIGTERM must complete ({completed} completed, {in_flight} in flight)"
    );
    assert_eq!(completed + failures.len(), 200);
    let lines = valid_lines(
        &http_types_validator(),
        &work.path().join("logs").join(up.plain_file()),
    );
    assert_eq!(
        lines.len(),
        completed,
        "one line per completed response, no more, no less"
    );
    for (line, l) in &lines {
        assert_eq!(l["request"]["url"], up.plain_url("/slow?ms=300"), "{line}");
        assert_eq!(l["response"]["statusCode"], 200, "{line}");
        assert_eq!(l["response"]["body"], "slow done", "{line}");
        assert!(l["meta"].get("responseIncomplete").is_none(), "{line}");
    }
    assert_summary(&out, completed, completed, 0);
    assert!(
        out.summary()
            .contains(&format!("hmt record: logs: {completed} delivered").as_str()),
        "{}",
        out.stderr
    );
}

// ---- 5. redaction ----------------------------------------------------------------------------------

#[test]
fn secrets_never_reach_any_output_file_and_get_stable_placeholders() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let out_dir = work.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let output = out_dir.join("all.jsonl");
    let logs = out_dir.join("logs");
    let hmt = RecordProcess::start(
        work.path(),
        &[
            "--redact-query",
            "token",
            "--redact-json",
            "/user/password",
            "--output",
            output.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
        ],
    );
    // The proxy credentials curl sends as `Proxy-Authorization: Basic ...`.
    let proxy_basic = base64(b"proxyuser:pr0xy-s3cret");
    let secrets = [
        "s3cr3t-token",
        "k3y-v4lue",
        "q-s3cret",
        "pw-s3cret",
        "pr0xy-s3cret",
        &proxy_basic,
    ];
    let body = r#"{"user":{"password":"pw-s3cret","name":"ann"}}"#;
    let target = up.plain_url("/mirror?token=q-s3cret&page=2");
    let proxy = hmt.url("");
    // Twice by path routing, once as a forward proxy with proxy credentials.
    let routes = [
        vec![hmt.path_url(&target)],
        vec![hmt.path_url(&target)],
        s(&["-x", &proxy, "-U", "proxyuser:pr0xy-s3cret", &target]),
    ];
    for route in routes {
        let mut args = s(&[
            "-H",
            "Authorization: Bearer s3cr3t-token",
            "-H",
            "x-api-key: k3y-v4lue",
            "-H",
            "content-type: application/json",
            "-d",
            body,
        ]);
        args.extend(route);
        let got = curl(curl_dir.path(), &args);
        assert_eq!(got.status, 200);
        // Redaction is for recordings: the client gets the real thing.
        assert_eq!(got.body, body.as_bytes());
    }
    let out = hmt.stop();
    assert_exit_0(&out);
    assert_summary(&out, 3, 3, 0);

    // Nothing anywhere in the output (or on stderr) holds a secret.
    let files = files_under(&out_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {}:\n{text}",
                file.display()
            );
        }
    }
    for secret in secrets {
        assert!(!out.stderr.contains(secret), "{secret} on stderr");
    }

    let validator = http_types_validator();
    let lines = valid_lines(&validator, &output);
    assert_eq!(lines.len(), 3);
    let logged = valid_lines(&validator, &logs.join(up.plain_file()));
    assert_eq!(
        logged.iter().map(|(l, _)| l).collect::<Vec<_>>(),
        lines.iter().map(|(l, _)| l).collect::<Vec<_>>(),
        "--output and --log-dir hold the same lines"
    );
    let placeholders: Vec<[String; 5]> = lines
        .iter()
        .map(|(line, l)| {
            let request = &l["request"];
            let header = |name: &str| {
                request["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or_else(|| panic!("{name} recorded: {line}"))
                    .to_owned()
            };
            let request_body: Value =
                serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
            let response_body: Value =
                serde_json::from_str(l["response"]["body"].as_str().unwrap()).unwrap();
            assert_eq!(request_body["user"]["name"], "ann", "{line}");
            assert_eq!(request["query"]["page"], "2", "{line}");
            let found = [
                header("authorization"),
                header("x-api-key"),
                request["query"]["token"].as_str().unwrap().to_owned(),
                request_body["user"]["password"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                response_body["user"]["password"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ];
            let [auth, key, token, pw, response_pw] = &found;
            let is_placeholder = |p: &str| {
                p.strip_prefix("hmt-redacted-")
                    .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            };
            assert!(
                auth.strip_prefix("Bearer ").is_some_and(is_placeholder),
                "{auth}"
            );
            for p in [key, token, pw] {
                assert!(is_placeholder(p), "{p}: {line}");
            }
            assert_eq!(pw, response_pw, "the same secret, the same placeholder");
            let path = request["path"].as_str().unwrap();
            assert_eq!(path, format!("/mirror?token={token}&page=2"), "{line}");
            let redacted: BTreeSet<&str> = l["meta"]["redacted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            for location in [
                "request.headers.authorization",
                "request.headers.x-api-key",
                "request.query.token",
                "request.body#/user/password",
                "response.body#/user/password",
            ] {
                assert!(redacted.contains(location), "{location} in {redacted:?}");
            }
            found
        })
        .collect();
    assert_eq!(
        placeholders[0], placeholders[1],
        "the same secrets sent twice get the same placeholders"
    );
    assert_eq!(
        placeholders[0], placeholders[2],
        "the same secrets get the same placeholders whatever the routing"
    );
    let forwarded = &lines[2].1;
    let proxy_auth = forwarded["request"]["headers"]["proxy-authorization"]
        .as_str()
        .expect("proxy-authorization recorded, redacted");
    assert!(proxy_auth.contains("hmt-redacted-"), "{proxy_auth}");
}

// ---- 6. filters --------------------------------------------------------------------------------------

#[test]
fn filters_record_only_matching_exchanges_and_count_the_rest() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let hmt = RecordProcess::start(
        work.path(),
        &[
            "--exclude-path",
            "/health*",
            "--method",
            "get",
            "--status",
            "2xx",
        ],
    );
    let get = |path: &str| curl(curl_dir.path(), &[hmt.path_url(&up.plain_url(path))]);
    assert_eq!(get("/health").status, 200);
    assert_eq!(get("/healthz").status, 200);
    assert_eq!(get("/json").status, 200);
    assert_eq!(get("/json?page=2").status, 200);
    assert_eq!(get("/cookies").status, 200);
    assert_eq!(get("/nope").status, 404);
    let post = curl(
        curl_dir.path(),
        &["-d", "x", &hmt.path_url(&up.plain_url("/echo"))],
    );
    assert_eq!(post.status, 200);

    let out = hmt.stop();
    assert_exit_0(&out);
    assert_summary(&out, 7, 3, 4);
    let lines = valid_lines(
        &http_types_validator(),
        &work.path().join("logs").join(up.plain_file()),
    );
    let mut want = vec![
        ("get".to_owned(), up.plain_url("/cookies")),
        ("get".to_owned(), up.plain_url("/json")),
        ("get".to_owned(), up.plain_url("/json?page=2")),
    ];
    want.sort();
    assert_eq!(method_urls(&lines), want);
}

// ---- 7. Kafka --------------------------------------------------------------------------------------------
// (cargo feature `kafka`: `cargo test --no-default-features` leaves these out)

#[cfg(feature = "kafka")]
type Cluster = hmt_kafka::rdkafka::mocking::MockCluster<
    'static,
    hmt_kafka::rdkafka::producer::DefaultProducerContext,
>;

#[cfg(feature = "kafka")]
/// A mock cluster with topic `rec`, and `kafka://<bootstrap>/rec`.
fn mock_cluster() -> (Cluster, String) {
    let cluster = Cluster::new(1).expect("librdkafka mock cluster");
    cluster.create_topic("rec", 1, 1).unwrap();
    let url = format!("kafka://{}/rec", cluster.bootstrap_servers());
    (cluster, url)
}

#[cfg(feature = "kafka")]
/// Records `n` requests (sequentially, so the file and the topic have the
/// same order) with `--sink URL --log-dir rec-logs`; returns the outcome and
/// the host file.
fn record_to_kafka(
    up: &Upstreams,
    work: &Path,
    sink: &str,
    n: usize,
) -> (Outcome, std::path::PathBuf) {
    let hmt = RecordProcess::start(work, &["--sink", sink, "--log-dir", "rec-logs"]);
    up.rt.block_on(async {
        let client = reqwest_client(false);
        for i in 0..n {
            let url = hmt.path_url(&up.plain_url(&format!("/json?i={i}")));
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap(), JSON_BODY.as_bytes());
        }
    });
    let out = hmt.stop();
    (out, work.join("rec-logs").join(up.plain_file()))
}

#[cfg(feature = "kafka")]
fn read_kafka(url: &str) -> Vec<Vec<u8>> {
    let url = hmt_kafka::KafkaUrl::parse(url).unwrap();
    let mut values = Vec::new();
    hmt_kafka::read_topic(&url, None, &[], WAIT, |_, value| {
        values.push(value.to_vec());
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("the topic reads back");
    values
}

#[cfg(feature = "kafka")]
#[test]
fn kafka_sink_delivers_every_line_of_the_log_file() {
    let (_cluster, sink) = mock_cluster();
    let up = Upstreams::start();
    let work = tempdir();
    let (out, file) = record_to_kafka(&up, work.path(), &sink, 50);
    assert_exit_0(&out);
    assert_summary(&out, 50, 50, 0);
    let summary = out.summary();
    assert!(
        summary.contains(&format!("hmt record: {sink}: 50 delivered").as_str()),
        "{}",
        out.stderr
    );
    assert!(
        summary.contains(&"hmt record: rec-logs: 50 delivered"),
        "{}",
        out.stderr
    );
    let lines = valid_lines(&http_types_validator(), &file);
    assert_eq!(lines.len(), 50);
    let mut from_file: Vec<Vec<u8>> = lines.into_iter().map(|(l, _)| l.into_bytes()).collect();
    let mut from_kafka = read_kafka(&sink);
    assert_eq!(from_kafka.len(), 50);
    from_file.sort();
    from_kafka.sort();
    assert!(
        from_file == from_kafka,
        "Kafka holds the log file's lines, byte for byte"
    );
    assert!(!work.path().join("rec-logs/kafka-spill.jsonl").exists());
}

#[cfg(feature = "kafka")]
#[test]
fn hmt_build_from_the_kafka_topic_equals_hmt_build_from_the_log_file() {
    let (_cluster, sink) = mock_cluster();
    let up = Upstreams::start();
    let work = tempdir();
    let (out, file) = record_to_kafka(&up, work.path(), &sink, 50);
    assert_exit_0(&out);
    let home = work.path().join("home");
    let a = work.path().join("A");
    let b = work.path().join("B");
    let from_kafka = run_hmt(
        work.path(),
        &home,
        &["build", "-i", &sink, "-o", a.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(from_kafka.code, Some(0), "{}", from_kafka.stderr);
    let from_file = run_hmt(
        work.path(),
        &home,
        &[
            "build",
            "-i",
            file.to_str().unwrap(),
            "-o",
            b.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
    assert_eq!(file_names(&a), file_names(&b));
    assert!(!file_names(&a).is_empty());
    for name in file_names(&a) {
        assert!(
            std::fs::read(a.join(&name)).unwrap() == std::fs::read(b.join(&name)).unwrap(),
            "{name} differs between the Kafka and the file build"
        );
    }
}

#[cfg(feature = "kafka")]
#[test]
fn kafka_down_spills_every_record_without_blocking_traffic() {
    let up = Upstreams::start();
    let work = tempdir();
    let sink = format!("kafka://127.0.0.1:{}/rec", closed_port());
    let hmt = RecordProcess::start(
        work.path(),
        &[
            "--sink",
            &sink,
            "--kafka-option",
            "message.timeout.ms=2000",
            "--log-dir",
            "d",
        ],
    );
    let slowest = up.rt.block_on(async {
        let client = reqwest_client(false);
        let mut slowest = Duration::ZERO;
        for i in 0..20 {
            let started = Instant::now();
            let url = hmt.path_url(&up.plain_url(&format!("/json?i={i}")));
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.bytes().await.unwrap(), JSON_BODY.as_bytes());
            slowest = slowest.max(started.elapsed());
        }
        slowest
    });
    assert!(
        slowest < Duration::from_secs(2),
        "a request took {slowest:?} with Kafka down: traffic must never wait for Kafka"
    );
    let out = hmt.stop();
    assert_exit_0(&out);
    assert_summary(&out, 20, 20, 0);
    let spill = work.path().join("d/kafka-spill.jsonl");
    let want = format!(
        "hmt record: {sink}: 0 delivered, 20 spilled to {}",
        Path::new("d").join("kafka-spill.jsonl").display()
    );
    assert!(
        out.summary().contains(&want.as_str()),
        "want {want:?}:\n{}",
        out.stderr
    );
    let validator = http_types_validator();
    let mut spilled: Vec<String> = valid_lines(&validator, &spill)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    let mut logged: Vec<String> =
        valid_lines(&validator, &work.path().join("d").join(up.plain_file()))
            .into_iter()
            .map(|(l, _)| l)
            .collect();
    assert_eq!(spilled.len(), 20);
    spilled.sort();
    logged.sort();
    assert_eq!(spilled, logged, "the spill file holds every record");
}

// ---- 8. daemon ------------------------------------------------------------------------------------------

#[test]
fn daemon_starts_reports_status_and_stops() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let home = work.path().join("home");
    let started = Instant::now();
    let out = run_hmt(work.path(), &home, &["record", "-d", "-p", "0"], WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "hmt record -d took {:?}",
        started.elapsed()
    );
    let state = read_state(&home).expect("record.json while the daemon runs");
    let pid = state["pid"].as_u64().unwrap() as u32;
    let _guard = PidGuard(pid);
    let addr = state["address"].as_str().unwrap().to_owned();
    assert!(
        out.stdout.contains(&format!("pid {pid}")) && out.stdout.contains(&addr),
        "hmt record -d prints the pid and the address: {:?}",
        out.stdout
    );

    let twice = run_hmt(work.path(), &home, &["record", "-d", "-p", "0"], WAIT);
    assert_eq!(twice.code, Some(1), "a second daemon is refused");
    assert!(
        twice.stderr.contains(&format!(
            "a recorder is already running (pid {pid}, {addr})"
        )),
        "{}",
        twice.stderr
    );

    let got = curl(
        curl_dir.path(),
        &[format!("http://{addr}/{}", up.plain_url("/json"))],
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, JSON_BODY.as_bytes());

    // The state file is rewritten every second: wait (bounded) for the count.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = run_hmt(work.path(), &home, &["record", "status"], WAIT);
        assert_eq!(status.code, Some(0), "{}", status.stderr);
        if status.stdout.contains("recorded: 1 exchange,") || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.stdout.contains(&format!("address:  {addr}")),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("recorded: 1 exchange,"),
        "status shows the count: {}",
        status.stdout
    );

    let stop = run_hmt(
        work.path(),
        &home,
        &["record", "stop"],
        Duration::from_secs(30),
    );
    assert_eq!(stop.code, Some(0), "{}", stop.stderr);
    assert!(
        stop.stdout.contains(&format!("stopped (pid {pid})")),
        "{}",
        stop.stdout
    );
    assert!(!home.join("record.json").exists(), "state file removed");
    assert!(!signal(pid, "0"), "the recorder is gone");
    let lines = valid_lines(
        &http_types_validator(),
        &work.path().join("logs").join(up.plain_file()),
    );
    assert_eq!(lines.len(), 1, "the daemon recorded into ./logs");

    for verb in ["stop", "status"] {
        let again = run_hmt(work.path(), &home, &["record", verb], WAIT);
        assert_eq!(again.code, Some(1), "hmt record {verb} with none running");
        assert!(
            again
                .stderr
                .starts_with("hmt: error: no recorder is running"),
            "a clear message for {verb}: {}",
            again.stderr
        );
    }
}

// ---- 9. unreachable upstream ---------------------------------------------------------------------------

#[test]
fn unreachable_upstream_is_a_recorded_502_problem_naming_the_target() {
    require_curl();
    let work = tempdir();
    let curl_dir = tempdir();
    let port = closed_port();
    let hmt = RecordProcess::start(work.path(), &[]);
    let hmt_ca = hmt_ca_path(work.path(), &hmt.home);
    let proxy = hmt.url("");
    let plain = format!("http://127.0.0.1:{port}/users?x=1");
    let tls = format!("https://localhost:{port}/users");
    let cases: [(&str, Vec<String>, &str); 3] = [
        ("path routing", vec![hmt.path_url(&plain)], &plain),
        ("forward proxy", s(&["-x", &proxy, &plain]), &plain),
        (
            "HTTPS interception",
            s(&["-x", &proxy, "--cacert", &hmt_ca, &tls]),
            &tls,
        ),
    ];
    let mut bodies = Vec::new();
    for (name, args, target) in &cases {
        let got = curl(curl_dir.path(), args);
        assert_eq!(got.status, 502, "{name}");
        assert_eq!(
            got.header_values("content-type"),
            ["application/problem+json"],
            "{name}"
        );
        let problem: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(problem["status"], 502, "{name}");
        assert_eq!(problem["title"], "Bad Gateway", "{name}");
        assert_eq!(problem["target"], *target, "{name}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("refused"),
            "{name}: {problem}"
        );
        bodies.push(((*target).to_owned(), got.body));
    }

    let out = hmt.stop();
    assert_exit_0(&out);
    assert_summary(&out, 3, 3, 0);
    // The proxy's own answers are counted as upstream errors, not sink errors.
    assert!(
        out.summary()
            .iter()
            .any(|l| l.ends_with(", 0 sink errors, 3 upstream errors")),
        "{}",
        out.stderr
    );
    let validator = http_types_validator();
    let logs = work.path().join("logs");
    let mut recorded = valid_lines(
        &validator,
        &logs.join(format!("127.0.0.1_{port}-recordings.jsonl")),
    );
    recorded.extend(valid_lines(
        &validator,
        &logs.join(format!("localhost_{port}-recordings.jsonl")),
    ));
    assert_eq!(recorded.len(), 3);
    for (target, body) in &bodies {
        let hit = recorded
            .iter()
            .filter(|(_, l)| l["request"]["url"] == target.as_str())
            .count();
        assert_eq!(hit, if target.starts_with("http:") { 2 } else { 1 });
        assert!(
            recorded.iter().any(|(_, l)| {
                l["request"]["url"] == target.as_str()
                    && l["response"]["statusCode"] == 502
                    && l["response"]["body"].as_str().map(str::as_bytes) == Some(&body[..])
            }),
            "the 502 the client got for {target} is what was recorded"
        );
    }
}

// ---- 10. hmt ca ----------------------------------------------------------------------------------------------

#[test]
fn hmt_ca_prints_the_certificate_path_and_how_to_trust_it() {
    let work = tempdir();
    let home = work.path().join("home");
    let out = run_hmt(work.path(), &home, &["ca"], WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let cert = home.join("ca").join("hmt-ca.pem");
    let cert_text = cert.display().to_string();
    assert!(out.stdout.contains(&cert_text), "{}", out.stdout);
    for how in [
        format!("curl --cacert {cert_text}"),
        format!("REQUESTS_CA_BUNDLE={cert_text}"),
        format!("NODE_EXTRA_CA_CERTS={cert_text}"),
    ] {
        assert!(out.stdout.contains(&how), "{how} in:\n{}", out.stdout);
    }

    let path_only = run_hmt(work.path(), &home, &["ca", "--path-only"], WAIT);
    assert_eq!(path_only.code, Some(0), "{}", path_only.stderr);
    assert_eq!(path_only.stdout, format!("{cert_text}\n"));
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n")
            && pem.trim_end().ends_with("-----END CERTIFICATE-----")
            && pem.matches("BEGIN").count() == 1,
        "a single PEM certificate:\n{pem}"
    );
    assert!(!pem.contains("PRIVATE KEY"));

    let other = work.path().join("elsewhere");
    let moved = run_hmt(
        work.path(),
        &home,
        &["ca", "--path-only", "--ca-dir", other.to_str().unwrap()],
        WAIT,
    );
    assert_eq!(moved.code, Some(0), "{}", moved.stderr);
    assert_eq!(
        moved.stdout,
        format!("{}\n", other.join("hmt-ca.pem").display())
    );
}

// ---- found while writing these --------------------------------------------------------------------------

#[test]
fn stderr_is_plain_text_when_not_a_terminal() {
    let work = tempdir();
    let hmt = RecordProcess::start(work.path(), &[]);
    let out = hmt.stop();
    assert_exit_0(&out);
    assert!(
        !out.stderr.contains('\u{1b}'),
        "escape codes in redirected stderr:\n{:?}",
        out.stderr
    );
}

#[test]
fn daemon_flag_combined_with_other_short_flags_starts_one_recorder() {
    let work = tempdir();
    let home = work.path().join("home");
    let _guard = HomeGuard(home.clone());
    let out = run_hmt(work.path(), &home, &["record", "-dp", "0"], WAIT);
    let running = pids_with_home(&home);
    assert_eq!(
        out.code,
        Some(0),
        "hmt record -dp 0 failed with {} hmt processes running for its HMT_HOME:\n{}{}",
        running.len(),
        out.stdout,
        out.stderr
    );
    let state = read_state(&home).expect("record.json while the daemon runs");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        pids_with_home(&home),
        [state["pid"].as_u64().unwrap() as u32],
        "exactly one recorder process"
    );
}
