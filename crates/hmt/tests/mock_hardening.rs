//! `hmt mock` cannot be turned against its host (issue 12): the real
//! binary over loopback, each bound or refusal shown holding. Where the
//! bound is about resources, the test reads the mock process's file
//! descriptors and resident memory from /proc.

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How often hmt reports a log file that keeps failing.
const LOG_FAILURE_INTERVAL: Duration = Duration::from_secs(10);

/// A running `hmt mock`, killed when dropped.
struct Mock {
    child: Child,
    /// `http://127.0.0.1:PORT` of the mock port.
    base: String,
    /// `host:port` the admin API listens on, as the banner says.
    admin_listen: String,
    /// `http://127.0.0.1:PORT` of the admin API.
    admin: String,
    stderr: Receiver<String>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mock {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The mock port's `127.0.0.1:PORT`.
    fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The admin port's `127.0.0.1:PORT`.
    fn admin_address(&self) -> &str {
        self.admin.trim_start_matches("http://")
    }

    /// Waits (at most 10 s) for a line of stderr containing every one of
    /// `texts`.
    fn wait_for_stderr(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(100)) {
                if texts.iter().all(|text| line.contains(text)) {
                    return line;
                }
                seen.push(line);
            }
        }
        panic!("no line with {texts:?} on stderr within 10 s; saw: {seen:#?}");
    }

    /// Every line of stderr that arrives within `window`.
    fn stderr_within(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut lines = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(line) = self.stderr.recv_timeout(left) {
                lines.push(line);
            }
        }
        lines
    }

    /// How many file descriptors the mock process has open.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/PID/fd")
            .count()
    }

    /// The mock process's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

fn petstore() -> PathBuf {
    common::hmt_fixtures().join("hmt/tests/serve/mock/schemas/petstore/index.yaml")
}

/// Starts `hmt mock -p 0 -a 0 ARGS` and waits for its banner.
fn start(args: &[&str]) -> Mock {
    start_with_env(args, &[])
}

/// [`start`] with these environment variables set.
fn start_with_env(args: &[&str], env: &[(&str, &Path)]) -> Mock {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .envs(env.iter().copied())
        .arg("mock")
        .args(["-p", "0", "-a", "0"])
        .args(args)
        .env(
            "HMT_HOME",
            std::env::temp_dir().join("hmt-mock-hardening-home"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hmt mock");
    let stderr = common::stderr_lines(&mut child);
    let ((base, admin, _), _) =
        common::wait_for_mock_banner(&mut child, &stderr, Duration::from_secs(20));
    let admin_listen = admin.trim_start_matches("http://").to_owned();
    let admin_port = admin_listen.rsplit_once(':').unwrap().1;
    Mock {
        base,
        admin: format!("http://127.0.0.1:{admin_port}"),
        admin_listen,
        child,
        stderr,
    }
}

/// Runs `hmt mock -p 0 -a 0 ARGS` expecting it to fail at start; returns
/// stderr.
fn start_fails(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("mock")
        .args(["-p", "0", "-a", "0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hmt mock");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "hmt mock started: {stderr}");
    stderr
}

/// What curl got: status and body.
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `curl -X METHOD URL -H HEADER...`: a real client, as users drive the
/// admin API.
fn curl(method: &str, url: &str, headers: &[&str], body: Option<&str>) -> Reply {
    let mut command = Command::new("curl");
    command.args([
        "-sS",
        "--max-time",
        "10",
        "-X",
        method,
        url,
        "-w",
        "\n%{http_code}",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(body) = body {
        command.args([
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
        ]);
    }
    let output = command.output().expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl {method} {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, status) = text.rsplit_once('\n').expect("curl wrote the status");
    Reply {
        status: status.trim().parse().expect("a status code"),
        body: body.to_owned(),
    }
}

/// One HTTP/1.1 request on `stream` and its response (status, body): the
/// connection stays open for the next.
fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> (u16, String) {
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"));
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Reads until the server closes `stream` (or at most `limit`); how long
/// that took. Panics when it stays open.
/// A slowloris client trickles a request's headers to `address`, a byte
/// every 100 ms: the connection must be closed within `limit`.
fn trickled_headers_are_cut_off(
    address: impl std::net::ToSocketAddrs,
    path: &str,
    limit: Duration,
) {
    let mut trickle = TcpStream::connect(address).unwrap();
    let started = Instant::now();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    let mut closed = false;
    for byte in head.bytes().chain([b'a'; 64]) {
        if trickle.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > limit {
            break;
        }
    }
    if !closed {
        closed_within(&mut trickle, limit);
    }
    assert!(
        started.elapsed() < limit,
        "the trickling client was kept {:?}",
        started.elapsed()
    );
}

/// Fifty connections opened to `address` and left idle hold fifty of the
/// mock's descriptors, then, within `limit`, none beyond `baseline`.
fn fifty_idle_connections_are_closed(
    mock: &Mock,
    address: impl std::net::ToSocketAddrs + Copy,
    baseline: usize,
    limit: Duration,
) {
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    while mock.open_fds() < baseline + 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        mock.open_fds() >= baseline + 50,
        "the connections were accepted"
    );
    let deadline = Instant::now() + limit;
    while mock.open_fds() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        mock.open_fds() <= baseline,
        "{} descriptors open, {baseline} before",
        mock.open_fds()
    );
    drop(idle);
}

fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            // An answer to what was sent (hyper's 408 to half a request)
            // is fine; the close must follow.
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return started.elapsed();
            }
            Err(error) => panic!(
                "still open after {} ms: {error}",
                started.elapsed().as_millis()
            ),
        }
    }
}

// ---- 1, 2: the admin port -----------------------------------------------------

#[test]
fn the_admin_api_refuses_other_hosts_on_loopback_and_other_origins_always() {
    let mock = start(&[petstore().to_str().unwrap()]);
    assert!(
        mock.admin_listen.starts_with("127.0.0.1:"),
        "{}",
        mock.admin_listen
    );
    let port = mock.admin_address().rsplit_once(':').unwrap().1.to_owned();

    // Loopback names pass, on hmt's /admin and on mountebank's /imposters.
    for host in [
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("127.0.0.1:{port}"),
        format!("127.3.2.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let header = format!("Host: {host}");
        assert_eq!(
            curl(
                "GET",
                &format!("{}/admin/health", mock.admin),
                &[&header],
                None
            )
            .status,
            200,
            "{host}"
        );
        assert_eq!(
            curl(
                "GET",
                &format!("{}/imposters", mock.admin),
                &[&header],
                None
            )
            .status,
            200,
            "{host}"
        );
    }
    // A name an attacker's DNS points at 127.0.0.1 does not.
    for path in ["/admin/health", "/admin/requests", "/imposters", "/config"] {
        let refused = curl(
            "GET",
            &format!("{}{path}", mock.admin),
            &[&format!("Host: rebound.attacker.example:{port}")],
            None,
        );
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("rebound.attacker.example") && detail.contains("--admin-bind"),
            "{detail}"
        );
    }

    // State changes: without Origin (curl, mountebank's clients) they pass;
    // from the admin port's own origin too; from any other, refused.
    let imposter = json!({"protocol": "http", "port": 0}).to_string();
    assert_eq!(
        curl(
            "POST",
            &format!("{}/admin/storage/reset", mock.admin),
            &[],
            None
        )
        .status,
        204
    );
    let own = format!("Origin: http://127.0.0.1:{port}");
    assert_eq!(
        curl(
            "POST",
            &format!("{}/admin/storage/reset", mock.admin),
            &[&own],
            None
        )
        .status,
        204
    );
    for origin in ["https://attacker.example", "http://localhost:3000", "null"] {
        let header = format!("Origin: {origin}");
        for (method, path, body) in [
            ("POST", "/admin/storage/reset", None),
            ("DELETE", "/admin/requests", None),
            (
                "POST",
                "/admin/middleware/rest/pregen/http%3A%2F%2F127.0.0.1%3A9%2Fhook",
                None,
            ),
            ("POST", "/imposters", Some(imposter.as_str())),
            ("PUT", "/imposters", Some(r#"{"imposters": []}"#)),
            ("DELETE", "/imposters", None),
        ] {
            let refused = curl(method, &format!("{}{path}", mock.admin), &[&header], body);
            assert_eq!(
                refused.status, 403,
                "{method} {path} from {origin}: {}",
                refused.body
            );
            assert!(
                refused.json()["detail"].as_str().unwrap().contains(origin),
                "{}",
                refused.body
            );
        }
        // Reading is not refused: a browser keeps another site from
        // seeing the answer.
        assert_eq!(
            curl(
                "GET",
                &format!("{}/admin/health", mock.admin),
                &[&header],
                None
            )
            .status,
            200
        );
    }
    // Nothing refused took effect.
    assert_eq!(
        curl(
            "GET",
            &format!("{}/admin/middleware/rest/pregen", mock.admin),
            &[],
            None
        )
        .json(),
        json!([])
    );
    // mountebank's clients send no Origin and keep working.
    let created = curl(
        "POST",
        &format!("{}/imposters", mock.admin),
        &[],
        Some(&imposter),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        curl("DELETE", &format!("{}/imposters", mock.admin), &[], None).status,
        200
    );
}

#[test]
fn admin_bind_opens_the_admin_api_on_every_address() {
    let mock = start(&["--admin-bind", "0.0.0.0", petstore().to_str().unwrap()]);
    let port: u16 = mock
        .admin_listen
        .strip_prefix("0.0.0.0:")
        .expect("the banner shows 0.0.0.0")
        .parse()
        .unwrap();
    // The kernel says so too: a listening socket on 0.0.0.0:PORT.
    let tcp = std::fs::read_to_string(format!("/proc/{}/net/tcp", mock.pid())).unwrap();
    let listening = format!("00000000:{port:04X} 00000000:0000 0A");
    assert!(
        tcp.contains(&listening),
        "no {listening} in /proc/PID/net/tcp:\n{tcp}"
    );
    // Not on loopback, the admin API answers whatever Host a container's
    // network gives it; other sites' Origins are still refused.
    assert_eq!(
        curl(
            "GET",
            &format!("{}/admin/health", mock.admin),
            &["Host: mock.svc.cluster.local:8888"],
            None
        )
        .status,
        200
    );
    assert_eq!(
        curl(
            "DELETE",
            &format!("{}/imposters", mock.admin),
            &[
                "Host: mock.svc.cluster.local:8888",
                "Origin: https://attacker.example"
            ],
            None
        )
        .status,
        403
    );
}

// ---- 3: pregen webhooks --------------------------------------------------------

/// What a webhook server received: the head and the JSON body of each
/// request.
type Received = Receiver<(String, Value)>;

/// A webhook on a thread that records what it got and answers `answer`
/// (at most 16 requests); over TLS with `tls`.
fn webhook(answer: Value, tls: Option<Arc<rustls::ServerConfig>>) -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = match tls {
        Some(_) => format!("https://localhost:{port}/hook"),
        None => format!("http://127.0.0.1:{port}/hook"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            match &tls {
                Some(config) => {
                    let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                        return;
                    };
                    hook_exchange(rustls::StreamOwned::new(connection, stream), &answer, &tx);
                }
                None => hook_exchange(stream, &answer, &tx),
            }
        }
    });
    (url, rx)
}

/// Reads one request from `stream`, hands its head and JSON body to `tx`
/// and answers `answer`.
fn hook_exchange<S: Read + Write>(
    stream: S,
    answer: &Value,
    tx: &std::sync::mpsc::Sender<(String, Value)>,
) {
    let mut reader = BufReader::new(stream);
    let (mut head, mut length) = (String::new(), 0usize);
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
        head.push_str(&line);
    }
    if head.is_empty() {
        // A handshake the client gave up on: nothing to answer.
        return;
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let _ = tx.send((head, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    let answer = answer.to_string();
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}

#[test]
fn webhooks_only_on_loopback_unless_allowed_and_never_get_credentials() {
    let mock = start(&[petstore().to_str().unwrap()]);
    let pregen = format!("{}/admin/middleware/rest/pregen", mock.admin);
    for url in [
        "http://hooks.example.com/x",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1:8080/x",
    ] {
        let refused = curl("POST", &format!("{pregen}/{url}"), &[], None);
        assert_eq!(refused.status, 400, "{url}: {}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("--allow-webhook") && detail.contains(url),
            "{detail}"
        );
    }
    assert_eq!(curl("GET", &pregen, &[], None).json(), json!([]));

    // A real loopback webhook sees the request without its credentials.
    let schema = json!({"type": "object", "required": ["rewritten"], "properties": {"rewritten": {"const": true}}});
    let (url, received) = webhook(
        json!({"schemas": {"200": {"application/json": schema}}}),
        None,
    );
    assert_eq!(
        curl("POST", &format!("{pregen}/{url}"), &[], None).status,
        201
    );
    let reply = curl(
        "GET",
        &format!("{}/pets?limit=2", mock.base),
        &[
            "Authorization: Bearer secret-token",
            "Proxy-Authorization: Basic c2VjcmV0",
            "Cookie: session=secret-cookie",
            "X-Trace: kept",
        ],
        None,
    );
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"rewritten": true}))
    );
    let (head, sent) = received
        .recv_timeout(Duration::from_secs(5))
        .expect("the webhook was called");
    let headers = sent["request"]["headers"]
        .as_object()
        .expect("request headers");
    assert_eq!(headers.get("x-trace"), Some(&json!("kept")), "{sent}");
    for credential in ["authorization", "proxy-authorization", "cookie"] {
        assert!(
            !headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case(credential)),
            "{credential} sent: {sent}"
        );
    }
    let everything = format!("{head}{sent}");
    for secret in ["secret-token", "c2VjcmV0", "secret-cookie"] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the webhook: {everything}"
        );
    }

    // A webhook that fails is logged with its URL, and the mock answers.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", listener.local_addr().unwrap())
    };
    assert_eq!(curl("DELETE", &pregen, &[], None).status, 204);
    assert_eq!(
        curl("POST", &format!("{pregen}/{dead}"), &[], None).status,
        201
    );
    assert_eq!(
        curl("GET", &format!("{}/pets", mock.base), &[], None).status,
        200
    );
    mock.wait_for_stderr(&["WARN", &dead]);
}

#[test]
fn https_webhooks_are_called_with_verified_certificates() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("webhook-ca.pem");
    std::fs::write(&trusted, cert.pem()).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let schema =
        json!({"type": "object", "required": ["tls"], "properties": {"tls": {"const": true}}});
    let (url, received) = webhook(
        json!({"200": {"application/json": schema}}),
        Some(Arc::new(tls)),
    );

    // Trusted through the system's CA store (SSL_CERT_FILE): called.
    let mock = start_with_env(
        &[petstore().to_str().unwrap()],
        &[("SSL_CERT_FILE", &trusted)],
    );
    let pregen = format!("{}/admin/middleware/rest/pregen", mock.admin);
    assert_eq!(
        curl("POST", &format!("{pregen}/{url}"), &[], None).status,
        201
    );
    let reply = curl("GET", &format!("{}/pets", mock.base), &[], None);
    assert_eq!((reply.status, reply.json()), (200, json!({"tls": true})));
    let (head, _) = received
        .recv_timeout(Duration::from_secs(5))
        .expect("the webhook was called");
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    drop(mock);

    // Not trusted: the certificate is refused, logged with the URL, and
    // the spec's own schema answers.
    let empty = dir.path().join("no-ca.pem");
    std::fs::write(&empty, "").unwrap();
    let mock = start_with_env(
        &[petstore().to_str().unwrap()],
        &[("SSL_CERT_FILE", &empty)],
    );
    let pregen = format!("{}/admin/middleware/rest/pregen", mock.admin);
    assert_eq!(
        curl("POST", &format!("{pregen}/{url}"), &[], None).status,
        201
    );
    let reply = curl("GET", &format!("{}/pets", mock.base), &[], None);
    assert!(
        reply.status == 200 && reply.json().is_array(),
        "{}",
        reply.body
    );
    mock.wait_for_stderr(&["WARN", &url]);
    assert!(
        received.try_recv().is_err(),
        "an untrusted webhook got the request"
    );
}

#[test]
fn allow_webhook_names_another_host() {
    let mock = start(&[
        "--allow-webhook",
        "hooks.example.com",
        petstore().to_str().unwrap(),
    ]);
    let pregen = format!("{}/admin/middleware/rest/pregen", mock.admin);
    assert_eq!(
        curl(
            "POST",
            &format!("{pregen}/http://hooks.example.com:8080/x"),
            &[],
            None
        )
        .status,
        201
    );
    assert_eq!(
        curl(
            "POST",
            &format!("{pregen}/http://other.example.com/x"),
            &[],
            None
        )
        .status,
        400
    );
    assert_eq!(
        curl("GET", &pregen, &[], None).json(),
        json!(["http://hooks.example.com:8080/x"])
    );
}

// ---- 4: callbacks ----------------------------------------------------------------

#[test]
fn callback_storage_stays_within_its_bound_and_memory_with_it() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(
        scripts.path().join("hoard.rhai"),
        r#"
        // Every request stores another MiB under a new key.
        callback("get", "/pets", |request, response, storage| {
            let n = storage.count ?? 0;
            storage.count = n + 1;
            let big = "xxxxxxxx";
            for i in 0..17 { big += big; }
            storage["big" + n] = big;
            #{stored: n + 1}
        });
        // Registering at request time is refused.
        callback("get", "/pets/{petId}", |request, response, storage| {
            callback("get", "/late", |a, b, c| 1);
            1
        });
        "#,
    )
    .unwrap();
    let mock = start(&[
        "--callback-dir",
        scripts.path().to_str().unwrap(),
        "--callback-storage-bytes",
        "8MiB",
        petstore().to_str().unwrap(),
    ]);
    let late = curl("GET", &format!("{}/pets/1", mock.base), &[], None);
    assert_eq!(late.status, 500, "{}", late.body);
    assert!(
        late.json()["detail"]
            .as_str()
            .unwrap()
            .contains("only while its script loads"),
        "{}",
        late.body
    );

    let mut stream = BufReader::new(TcpStream::connect(mock.address()).unwrap());
    let request = "GET /pets HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(exchange(&mut stream, request));
    }
    let before = mock.rss_kib();
    for _ in 0..190 {
        answers.push(exchange(&mut stream, request));
    }
    let after = mock.rss_kib();
    // 190 more MiB offered; resident memory grows by far less.
    assert!(
        after < before + 48 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over 190 requests"
    );
    // 8 MiB hold seven 1 MiB values; every later request is refused.
    let stored = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(stored, 7, "{:?}", &answers[..9]);
    let (status, body) = &answers[199];
    assert_eq!(*status, 500);
    assert!(
        body.contains("callback storage is full") && body.contains("--callback-storage-bytes"),
        "{body}"
    );
    mock.wait_for_stderr(&["callback failed", "hoard.rhai", "callback storage is full"]);

    // The admin API empties it: the script can store again.
    assert_eq!(
        curl(
            "DELETE",
            &format!("{}/admin/storage", mock.admin),
            &[],
            None
        )
        .status,
        204
    );
    assert_eq!(exchange(&mut stream, request).0, 200);
}

// ---- 5: log files ----------------------------------------------------------------

#[test]
fn many_hosts_keep_few_log_files_open_and_every_line_lands() {
    let logs = tempfile::tempdir().unwrap();
    // A host whose log file cannot be opened: its name is a directory.
    std::fs::create_dir(logs.path().join("blocked.example-mock.jsonl")).unwrap();
    let mock = start(&[
        "--log-dir",
        logs.path().to_str().unwrap(),
        petstore().to_str().unwrap(),
    ]);
    let mut stream = BufReader::new(TcpStream::connect(mock.address()).unwrap());
    let baseline = mock.open_fds();
    let mut most = baseline;
    let hosts: Vec<String> = (0..300).map(|n| format!("h{n}.example")).collect();
    for round in 0..2 {
        for (n, host) in hosts.iter().enumerate() {
            let request = format!("GET /pets?round={round} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(exchange(&mut stream, &request).0, 200, "{host}");
            if n % 25 == 0 {
                most = most.max(mock.open_fds());
            }
        }
    }
    assert!(
        most <= baseline + 64 + 4,
        "{most} file descriptors open with 300 hosts logged (from {baseline})"
    );
    for host in &hosts {
        let file = logs.path().join(format!("{host}-mock.jsonl"));
        let lines = common::exchanges(&file);
        let seen: Vec<(String, String)> = lines
            .iter()
            .map(|line| {
                (
                    line["request"]["host"].as_str().unwrap().to_owned(),
                    line["request"]["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (host.clone(), "/pets?round=0".to_owned()),
                (host.clone(), "/pets?round=1".to_owned())
            ],
            "{}",
            file.display()
        );
    }

    // A log that cannot be written is reported, and the client answered.
    let request = "GET /pets HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
    assert_eq!(exchange(&mut stream, request).0, 200);
    mock.wait_for_stderr(&["ERROR", "blocked.example-mock.jsonl"]);
    assert_eq!(
        exchange(
            &mut stream,
            "GET /pets HTTP/1.1\r\nHost: h1.example\r\n\r\n"
        )
        .0,
        200
    );
}

#[test]
fn a_log_file_that_keeps_failing_is_reported_once_per_ten_seconds_with_a_count() {
    let logs = tempfile::tempdir().unwrap();
    // Cannot be opened: its name is a directory.
    let unopenable = logs.path().join("dir.example-mock.jsonl");
    std::fs::create_dir(&unopenable).unwrap();
    // Opens, but every write fails: the full device.
    std::os::unix::fs::symlink("/dev/full", logs.path().join("full.example-mock.jsonl")).unwrap();
    let mock = start(&[
        "--log-dir",
        logs.path().to_str().unwrap(),
        petstore().to_str().unwrap(),
    ]);
    let mut stream = BufReader::new(TcpStream::connect(mock.address()).unwrap());
    let mut get = |host: &str| {
        let request = format!("GET /pets HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(exchange(&mut stream, &request).0, 200, "{host}");
    };
    let started = Instant::now();
    for _ in 0..50 {
        get("dir.example");
        get("full.example");
        get("fine.example");
    }
    let lines = mock.stderr_within(Duration::from_secs(1));
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the requests took {:?}: too slow to tell one report from two",
        started.elapsed()
    );
    let about =
        |file: &str| -> Vec<&String> { lines.iter().filter(|line| line.contains(file)).collect() };
    let opened = about("dir.example-mock.jsonl");
    assert!(
        opened.len() == 1
            && opened[0].contains("ERROR")
            && opened[0].contains("cannot open the mock log"),
        "50 failures to open, reported: {opened:#?}"
    );
    let written = about("full.example-mock.jsonl");
    assert!(
        written.len() == 1
            && written[0].contains("ERROR")
            && written[0].contains("cannot write the mock log")
            && written[0].contains("No space left on device"),
        "50 failures to write, reported: {written:#?}"
    );
    assert_eq!(about("fine.example").len(), 0, "{lines:#?}");
    assert_eq!(
        common::exchanges(&logs.path().join("fine.example-mock.jsonl")).len(),
        50
    );

    // Ten seconds on, the next failure is reported with the 49 held back.
    std::thread::sleep(
        (started + LOG_FAILURE_INTERVAL + Duration::from_millis(500))
            .saturating_duration_since(Instant::now()),
    );
    get("dir.example");
    get("full.example");
    let lines = mock.stderr_within(Duration::from_secs(1));
    for file in ["dir.example-mock.jsonl", "full.example-mock.jsonl"] {
        let reported: Vec<&String> = lines.iter().filter(|line| line.contains(file)).collect();
        assert!(
            reported.len() == 1
                && reported[0].contains(
                    "49 more failures of this log since its last report were not reported"
                ),
            "{file}: {reported:#?}"
        );
    }

    // Held back again, then the log works: the recovery says how many
    // were not reported.
    for _ in 0..5 {
        get("dir.example");
    }
    std::fs::remove_dir(&unopenable).unwrap();
    get("dir.example");
    let recovered = mock.wait_for_stderr(&["dir.example-mock.jsonl", "is written again"]);
    assert!(
        recovered.contains("5 failures to log into it since its last report were not reported"),
        "{recovered}"
    );
    assert_eq!(common::exchanges(&unopenable).len(), 1);
}

// ---- 6: idle connections -------------------------------------------------------

#[test]
fn idle_and_slow_connections_are_closed_and_their_descriptors_freed() {
    let mock = start(&["--idle-timeout", "1", petstore().to_str().unwrap()]);
    let limit = Duration::from_secs(5);

    // Connects and sends nothing, on the mock port and the admin port.
    for address in [mock.address(), mock.admin_address()] {
        let mut silent = TcpStream::connect(address).unwrap();
        let took = closed_within(&mut silent, limit);
        assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    }

    // HTTP/2 (prior knowledge): the preface and settings, then nothing.
    let mut h2 = TcpStream::connect(mock.address()).unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    let took = closed_within(&mut h2, limit);
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");

    // One request, then nothing.
    let mut kept = BufReader::new(TcpStream::connect(mock.address()).unwrap());
    assert_eq!(
        exchange(&mut kept, "GET /pets HTTP/1.1\r\nHost: localhost\r\n\r\n").0,
        200
    );
    closed_within(kept.get_mut(), limit);

    // Slowloris: half a request line, then a stall.
    let mut half = TcpStream::connect(mock.address()).unwrap();
    half.write_all(b"GET /pets HT").unwrap();
    closed_within(&mut half, limit);

    // Slowloris trickling its headers a byte at a time: the headers must
    // all arrive within the timeout.
    trickled_headers_are_cut_off(mock.address(), "/pets", limit);

    // A request answered slower than the timeout is not cut.
    let mut slow = BufReader::new(TcpStream::connect(mock.address()).unwrap());
    let (status, _) = exchange(
        &mut slow,
        "GET /pets HTTP/1.1\r\nHost: localhost\r\nPrefer: delay=2500\r\n\r\n",
    );
    assert_eq!(status, 200);

    // Fifty idle connections hold fifty descriptors, then none.
    let baseline = mock.open_fds();
    fifty_idle_connections_are_closed(&mock, mock.address(), baseline, limit);
}

/// Through the library: a streamed body that pauses longer than the idle
/// timeout is still being answered, and is sent whole.
#[test]
fn a_streamed_body_pausing_past_the_idle_timeout_is_not_cut() {
    use hmt::matchers::path;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = hmt::MockServer::builder()
        .config(|config| config.idle_timeout = Duration::from_secs(1))
        .start_blocking()
        .unwrap();
    server.register(hmt::Stub::given(path("/events")).respond_with(
        hmt::Reply::new(200).with_chunks([
            (Duration::ZERO, bytes::Bytes::from_static(b"first;")),
            (
                Duration::from_millis(2500),
                bytes::Bytes::from_static(b"second;"),
            ),
        ]),
    ));
    let address = server.uri().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.contains("first;")
            && response.contains("second;")
            && response.ends_with("0\r\n\r\n"),
        "after {:?}: {response}",
        started.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_millis(2400));
    // And once it is sent, the connection is idle like any other.
    let mut idle = TcpStream::connect(&address).unwrap();
    closed_within(&mut idle, Duration::from_secs(5));
}

/// Through the library: a `CONNECT` tunnel left idle after an answer is
/// closed like any other connection, and an answer inside it is not cut.
#[test]
fn an_idle_https_tunnel_is_closed_after_the_idle_timeout() {
    use hmt::matchers::path;
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = hmt::MockServer::builder()
        .intercept_https()
        .config(|config| config.idle_timeout = Duration::from_secs(1))
        .start_blocking()
        .unwrap();
    server.register(hmt::Stub::given(path("/fine")).respond_with(
        hmt::Reply::new(200).with_chunks([
            (Duration::ZERO, bytes::Bytes::from_static(b"first;")),
            (
                Duration::from_millis(1500),
                bytes::Bytes::from_static(b"last;"),
            ),
        ]),
    ));
    let address = server.uri().trim_start_matches("http://").to_owned();
    let mut tcp = TcpStream::connect(&address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).unwrap(), 1, "{head:?}");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem().unwrap().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connection = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("api.example.com").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    tls.write_all(b"GET /fine HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.ends_with(b"0\r\n\r\n") {
        let read = tls.read(&mut buffer).unwrap();
        assert!(read > 0, "{}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("first;") && answer.contains("last;"),
        "{answer}"
    );
    // The tunnel now sits idle, kept alive: the mock closes it.
    let (_, mut tcp) = tls.into_parts();
    let closed = closed_within(&mut tcp, Duration::from_secs(5));
    assert!(closed < Duration::from_secs(4), "closed after {closed:?}");
}

/// Creates an imposter through the admin API with curl; its `127.0.0.1:PORT`.
fn imposter(mock: &Mock, definition: Value) -> String {
    // From a file: a definition can be longer than a command line.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), definition.to_string()).unwrap();
    let created = curl(
        "POST",
        &format!("{}/imposters", mock.admin),
        &[],
        Some(&format!("@{}", file.path().display())),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let port = created.json()["port"]
        .as_u64()
        .expect("the imposter's port");
    format!("127.0.0.1:{port}")
}

#[test]
fn imposter_ports_close_idle_and_slow_connections_but_not_slow_answers() {
    // More than the loopback's socket buffers hold.
    const BIG: usize = 48 << 20;
    let mock = start(&["--idle-timeout", "1", petstore().to_str().unwrap()]);
    let limit = Duration::from_secs(5);
    let address = imposter(
        &mock,
        json!({
            "protocol": "http",
            "stubs": [
                {
                    "predicates": [{"equals": {"path": "/stream"}}],
                    "responses": [{"is": {"statusCode": 200, "chunks": [
                        {"data": "first;"},
                        {"data": "second;", "waitMs": 2500}
                    ]}}]
                },
                {
                    "predicates": [{"equals": {"path": "/big"}}],
                    "responses": [{"is": {"statusCode": 200, "body": "x".repeat(BIG)}}]
                },
                {
                    "predicates": [{"equals": {"path": "/slow"}}],
                    "responses": [{"is": {"statusCode": 200, "body": "late"}, "behaviors": [{"wait": 2500}]}]
                },
                {"responses": [{"is": {"statusCode": 200, "headers": {"Connection": "keep-alive"}, "body": "ok"}}]}
            ]
        }),
    );
    let https = imposter(&mock, json!({"protocol": "https"}));

    // Connects and sends nothing (on an https imposter: no handshake).
    for address in [&address, &https] {
        let mut silent = TcpStream::connect(address).unwrap();
        let took = closed_within(&mut silent, limit);
        assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    }

    // One request on a keep-alive connection, then nothing.
    let mut kept = BufReader::new(TcpStream::connect(&address).unwrap());
    assert_eq!(
        exchange(&mut kept, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        (200, "ok".to_owned())
    );
    let took = closed_within(kept.get_mut(), limit);
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");

    // Slowloris: half a request line, then a stall.
    let mut half = TcpStream::connect(&address).unwrap();
    half.write_all(b"GET /ok HT").unwrap();
    closed_within(&mut half, limit);

    // Headers trickled a byte every 100 ms: they must all arrive within
    // the timeout.
    trickled_headers_are_cut_off(&address, "/ok", limit);

    // A client that asks for a large answer and stops reading it: once
    // nothing moves for the timeout, the connection is closed, the rest
    // of the answer unsent.
    let mut stalled = TcpStream::connect(&address).unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    stalled.set_read_timeout(Some(limit)).unwrap();
    let mut received = 0;
    let mut buffer = vec![0u8; 1 << 16];
    let ended = loop {
        match stalled.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(n) => received += n,
            Err(error) => break Err(error),
        }
    };
    assert!(
        received < BIG,
        "the whole answer ({received} bytes) was sent to a client that did not read for 3 s ({ended:?})"
    );

    // An answer that waits longer than the timeout is not cut...
    let mut slow = BufReader::new(TcpStream::connect(&address).unwrap());
    let started = Instant::now();
    assert_eq!(
        exchange(&mut slow, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        (200, "late".to_owned())
    );
    assert!(started.elapsed() >= Duration::from_millis(2400));

    // ...nor a streamed body that pauses longer than it.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.contains("first;") && response.contains("second;"),
        "after {:?}: {response}",
        started.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_millis(2400));

    // Fifty idle connections hold fifty descriptors, then none (counted
    // from when the connections above are all gone: the last closes as
    // its client reads the end).
    let mut baseline = mock.open_fds();
    for _ in 0..25 {
        std::thread::sleep(Duration::from_millis(200));
        let now = mock.open_fds();
        if now == baseline {
            break;
        }
        baseline = now;
    }
    fifty_idle_connections_are_closed(&mock, &address, baseline, limit);
}

// ---- 7: $refs outside the spec's directory ------------------------------------------

#[test]
fn refs_outside_the_spec_directory_need_allow_ref_outside() {
    let root = tempfile::tempdir().unwrap();
    let (api, outside) = (root.path().join("api"), root.path().join("outside"));
    std::fs::create_dir_all(&api).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("pet.yaml"),
        "type: object\nrequired: [name]\nproperties:\n  name: {type: string, example: Rex}\n",
    )
    .unwrap();
    let spec = api.join("openapi.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: {title: pets, version: '1'}\npaths:\n  /pet:\n    get:\n      responses:\n        '200':\n          description: a pet\n          content:\n            application/json:\n              schema: {$ref: '../outside/pet.yaml'}\n",
    )
    .unwrap();
    let refused = start_fails(&[spec.to_str().unwrap()]);
    assert!(
        refused.contains("openapi.yaml")
            && refused.contains("/paths/~1pet/get/responses/200/content/application~1json/schema")
            && refused.contains("pet.yaml"),
        "{refused}"
    );
    let mock = start(&[
        "--allow-ref-outside",
        outside.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let pet = curl("GET", &format!("{}/pet", mock.base), &[], None);
    assert_eq!(
        (pet.status, pet.json()["name"].is_string()),
        (200, true),
        "{}",
        pet.body
    );
}

// ---- 8: the journal ---------------------------------------------------------------------

fn journal_paths(mock: &Mock) -> Vec<String> {
    let journal = curl("GET", &format!("{}/admin/requests", mock.admin), &[], None).json();
    journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn journal_flags_bound_what_admin_requests_keeps() {
    let mock = start(&["--journal-requests", "3", petstore().to_str().unwrap()]);
    for n in 0..5 {
        assert_eq!(
            curl("GET", &format!("{}/pets?n={n}", mock.base), &[], None).status,
            200
        );
    }
    assert_eq!(
        journal_paths(&mock),
        ["/pets?n=2", "/pets?n=3", "/pets?n=4"]
    );

    let mock = start(&["--journal-bytes", "64KiB", petstore().to_str().unwrap()]);
    let body = json!({"id": 1, "name": "x".repeat(20 * 1024)}).to_string();
    for n in 0..6 {
        curl(
            "POST",
            &format!("{}/pets?n={n}", mock.base),
            &[],
            Some(&body),
        );
    }
    // 64 KiB hold three 20 KiB requests (and their answers), the newest.
    assert_eq!(
        journal_paths(&mock),
        ["/pets?n=3", "/pets?n=4", "/pets?n=5"]
    );
}

/// The flags are in `hmt mock --help`, each with its help text.
#[test]
fn hardening_flags_are_documented_in_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .args(["mock", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--admin-bind <ADDR>",
        "--allow-webhook <HOST>",
        "--callback-storage-bytes <BYTES>",
        "--idle-timeout <SECS>",
        "--journal-requests <N>",
        "--journal-bytes <BYTES>",
        "--allow-ref-outside <DIR>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
