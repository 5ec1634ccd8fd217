//! Helpers for the `hmt record` end-to-end tests: test upstreams (plain
//! HTTP/1.1 + h2c, and TLS with its own CA), running `hmt record` as a child
//! process that is always stopped, curl and Python `requests` as clients,
//! and reading what ended up on disk.

#![allow(dead_code)]
// Shared by several test binaries through `mod common;`: its items are
// `pub` so that each test file can use them, which rustc, seeing one
// binary at a time, calls unreachable.
#![allow(unreachable_pub)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

pub const JSON_BODY: &str = r#"{"ok":true,"items":[1,2,3],"name":"hmt"}"#;
pub const COOKIES_BODY: &str = "cookies set";

/// The plain text the `/gzip` endpoint sends gzip-encoded.
pub fn gzip_text() -> String {
    "hello gzip world, ".repeat(200)
}

// ---- where things are ------------------------------------------------------------

/// The workspace root.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", root.display()))
}

pub fn hmt_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hmt"))
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// ---- tools the tests need: missing is a failure, never a skip -----------------------

/// `curl`, which must be installed.
pub fn require_curl() {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "curl is missing: install the Debian package `curl` (apt-get install curl); \
         `make test` expects it"
    );
}

/// `.venv/bin/python`, with `requests` importable.
pub fn require_python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make test` (scripts/setup-python.sh installs it with requests)",
        python.display()
    );
    let ok = Command::new(&python)
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import requests: run `make test` (scripts/setup-python.sh installs it)",
        python.display()
    );
    python
}

/// Removes what would send a child's traffic somewhere else or make it
/// trust other certificates.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HMT_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

// ---- upstreams -----------------------------------------------------------------------

/// What the upstreams share: the random binary body and the slow endpoint's
/// in-flight count.
pub struct UpstreamState {
    pub binary: Vec<u8>,
    pub gzip: Vec<u8>,
    pub slow_in_flight: AtomicUsize,
}

/// A plain (HTTP/1.1 + h2c) and a TLS (HTTP/1.1 + h2 by ALPN) upstream on
/// their own runtime, serving:
///
/// - `/json`: a JSON body;
/// - `/gzip`: `gzip_text()` with `content-encoding: gzip`;
/// - `/binary`: random bytes (not UTF-8);
/// - `/cookies`: two `Set-Cookie` headers;
/// - `/echo`: what the upstream received (method, path, host, body, `x-test`);
/// - `/mirror`: the request body back, as JSON;
/// - `/slow?ms=N`: answers after N ms;
/// - `/health`, `/healthz`: `ok`; anything else is 404.
///
/// Endpoints are matched on the last path segment, so a base path in front
/// does not matter. The TLS certificate names `localhost` and `127.0.0.1`
/// and is signed by a test CA whose PEM is at `ca_path`.
pub struct Upstreams {
    pub rt: tokio::runtime::Runtime,
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    pub ca_path: PathBuf,
    pub ca_pem: String,
    pub state: Arc<UpstreamState>,
    _dir: tempfile::TempDir,
}

impl Upstreams {
    pub fn start() -> Upstreams {
        install_crypto();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut binary = vec![0xff, 0xfe, 0x00, 0x80];
        let mut random = vec![0u8; 4096];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random).unwrap();
        binary.extend_from_slice(&random);
        assert!(std::str::from_utf8(&binary).is_err());
        let gzip = {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(gzip_text().as_bytes()).unwrap();
            enc.finish().unwrap()
        };
        let state = Arc::new(UpstreamState {
            binary,
            gzip,
            slow_in_flight: AtomicUsize::new(0),
        });

        // A CA, and a leaf for localhost + 127.0.0.1 signed by it.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hmt test upstream CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("upstream-ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let (plain, tls) = rt.block_on(async {
            let plain = serve(None, state.clone()).await;
            let tls = serve(Some(acceptor), state.clone()).await;
            (plain, tls)
        });
        Upstreams {
            rt,
            plain,
            tls,
            ca_path,
            ca_pem: ca.pem(),
            state,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:P{path}`
    pub fn plain_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.plain)
    }

    /// `https://localhost:T{path}`
    pub fn tls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls.port())
    }

    /// The recording file name of the plain upstream (`127.0.0.1_P`).
    pub fn plain_file(&self) -> String {
        format!("127.0.0.1_{}-recordings.jsonl", self.plain.port())
    }

    /// The recording file name of the TLS upstream reached as `localhost`.
    pub fn tls_file(&self) -> String {
        format!("localhost_{}-recordings.jsonl", self.tls.port())
    }
}

async fn serve(
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<UpstreamState>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    });
    addr
}

async fn handle(state: Arc<UpstreamState>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let endpoint = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let ok = |content_type: &str, body: Bytes| {
        Response::builder()
            .header("content-type", content_type)
            .body(Full::new(body))
            .unwrap()
    };
    match endpoint.as_str() {
        "json" => ok("application/json", Bytes::from_static(JSON_BODY.as_bytes())),
        "gzip" => Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .header("content-encoding", "gzip")
            .body(Full::new(Bytes::from(state.gzip.clone())))
            .unwrap(),
        "binary" => ok(
            "application/octet-stream",
            Bytes::from(state.binary.clone()),
        ),
        "cookies" => Response::builder()
            .header("content-type", "text/plain")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/; HttpOnly")
            .body(Full::new(Bytes::from_static(COOKIES_BODY.as_bytes())))
            .unwrap(),
        "echo" => {
            let method = req.method().to_string();
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let host = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| req.uri().authority().map(|a| a.to_string()));
            let x_test = req
                .headers()
                .get("x-test")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned);
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let doc = json!({
                "method": method,
                "path": path,
                "host": host,
                "x-test": x_test,
                "body": String::from_utf8_lossy(&body),
            });
            ok("application/json", Bytes::from(doc.to_string()))
        }
        "mirror" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            ok("application/json", body)
        }
        "slow" => {
            let ms: u64 = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(300);
            state.slow_in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            state.slow_in_flight.fetch_sub(1, Ordering::SeqCst);
            ok("text/plain", Bytes::from_static(b"slow done"))
        }
        "health" | "healthz" => ok("text/plain", Bytes::from_static(b"ok")),
        _ => Response::builder()
            .status(404)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"no such endpoint")))
            .unwrap(),
    }
}

// ---- processes -----------------------------------------------------------------------

/// What a finished `hmt` run showed the user.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The stderr lines starting with `hmt record: ` (the summary).
    pub fn summary(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("hmt record: "))
            .collect()
    }
}

/// Sends `signal` (`TERM`, `KILL`, `0`) to `pid`; whether it was delivered.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills a process that is not our child (the daemon) when dropped:
/// SIGTERM, then SIGKILL after 3 s.
pub struct PidGuard(pub u32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if !signal(self.0, "0") {
            return;
        }
        signal(self.0, "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !signal(self.0, "0") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(self.0, "KILL");
    }
}

/// A running `hmt record -p 0 ...`, stopped with SIGTERM (then SIGKILL) if
/// the test ends without [`RecordProcess::stop`].
pub struct RecordProcess {
    child: Option<Child>,
    pub pid: u32,
    /// The address from `$HMT_HOME/record.json`.
    pub addr: SocketAddr,
    /// `$HMT_HOME`.
    pub home: PathBuf,
    /// The working directory (where the default `logs/` goes).
    pub cwd: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl RecordProcess {
    /// Starts `hmt record -p 0 ARGS` in `cwd`, with `HMT_HOME=cwd/home`,
    /// and waits (up to 10 s) until `record.json` names its address.
    pub fn start(cwd: &Path, args: &[&str]) -> RecordProcess {
        let home = cwd.join("home");
        let stdout = cwd.join(format!("hmt-record-{}.stdout", unique()));
        let stderr = cwd.join(format!("hmt-record-{}.stderr", unique()));
        let mut cmd = Command::new(hmt_bin());
        clean_env(&mut cmd)
            .arg("record")
            .args(["-p", "0"])
            .args(args)
            .env("HMT_HOME", &home)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().expect("hmt record starts");
        let pid = child.id();
        let mut process = RecordProcess {
            child: Some(child),
            pid,
            addr: "0.0.0.0:0".parse().unwrap(),
            home: home.clone(),
            cwd: cwd.to_path_buf(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(state) = read_state(&home)
                && state["pid"] == pid
            {
                process.addr = state["address"]
                    .as_str()
                    .expect("record.json has an address")
                    .parse()
                    .expect("record.json's address is host:port");
                return process;
            }
            if let Some(status) = process.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "hmt record {args:?} exited at start ({status}):\n{}",
                    process.stderr_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "hmt record {args:?} did not write {}/record.json in {WAIT:?}:\n{}",
                home.display(),
                process.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://ADDR{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://ADDR/{upstream_url}` (path routing).
    pub fn path_url(&self, upstream_url: &str) -> String {
        format!("http://{}/{upstream_url}", self.addr)
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr).unwrap_or_default()).into_owned()
    }

    /// Sends SIGTERM now, without waiting.
    pub fn terminate(&self) {
        assert!(signal(self.pid, "TERM"), "SIGTERM to hmt record failed");
    }

    /// Waits (up to `limit`) for the process to exit after [`terminate`](Self::terminate).
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let mut child = self.child.take().unwrap();
        let Some(status) = wait_or_kill(&mut child, limit) else {
            panic!(
                "hmt record did not exit within {limit:?} of SIGTERM:\n{}",
                self.stderr_text()
            );
        };
        Outcome {
            code: status.code(),
            stdout: String::from_utf8_lossy(&std::fs::read(&self.stdout).unwrap()).into_owned(),
            stderr: self.stderr_text(),
        }
    }

    /// SIGTERM, and what the user saw once it exited (up to 45 s).
    pub fn stop(self) -> Outcome {
        self.terminate();
        self.wait(Duration::from_secs(45))
    }
}

impl Drop for RecordProcess {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        signal(self.pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `$home/record.json`, when it exists and parses.
pub fn read_state(home: &Path) -> Option<Value> {
    let text = std::fs::read(home.join("record.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Runs `hmt ARGS` to completion (bounded by `timeout`) with `HMT_HOME=home` in `cwd`.
pub fn run_hmt(cwd: &Path, home: &Path, args: &[&str], timeout: Duration) -> Outcome {
    let stdout = cwd.join(format!("hmt-{}.stdout", unique()));
    let stderr = cwd.join(format!("hmt-{}.stderr", unique()));
    let mut cmd = Command::new(hmt_bin());
    clean_env(&mut cmd)
        .args(args)
        .env("HMT_HOME", home)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().expect("hmt starts");
    let Some(status) = wait_or_kill(&mut child, timeout) else {
        panic!("hmt {args:?} did not finish within {timeout:?}");
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Outcome {
        code: status.code(),
        stdout: read(&stdout),
        stderr: read(&stderr),
    }
}

/// The child's exit status once it exits within `limit`; past that it is
/// killed (and reaped) and the answer is `None`.
fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn unique() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

// ---- curl ------------------------------------------------------------------------------

/// What curl received.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub status: u16,
    /// `1.1` or `2`, as curl's `%{http_version}`.
    pub version: String,
    /// The raw header blocks (`-D`), proxy CONNECT responses included.
    pub headers: String,
    pub body: Vec<u8>,
}

impl Fetched {
    /// Values of a response header (case-insensitive), over all header blocks.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// Runs `curl -q -sS ARGS`, writing the body and headers to files in `dir`;
/// content-encodings are never decoded (no `--compressed`).
pub fn curl<S: AsRef<str>>(dir: &Path, args: &[S]) -> Fetched {
    let n = unique();
    let body = dir.join(format!("curl-{n}.body"));
    let headers = dir.join(format!("curl-{n}.headers"));
    let mut cmd = Command::new("curl");
    clean_env(&mut cmd)
        .args(["-q", "-sS", "--max-time", "20", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args.iter().map(|a| a.as_ref()));
    let output = cmd.output().unwrap_or_else(|e| {
        require_curl();
        panic!("cannot run curl: {e}")
    });
    let argv: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    assert!(
        output.status.success(),
        "curl {argv:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let out = String::from_utf8(output.stdout).unwrap();
    let (status, version) = out.split_once(' ').unwrap();
    let fetched = Fetched {
        status: status.parse().unwrap(),
        version: version.to_owned(),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(body);
    let _ = std::fs::remove_file(headers);
    fetched
}

// ---- recordings --------------------------------------------------------------------------

/// The http-types JSON Schema validator.
pub fn http_types_validator() -> jsonschema::Validator {
    let path = repo_root().join("fixtures/http-types/http-types-schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// The lines of a JSONL file (each with its `\n`), every one valid
/// http-types; with their parsed values.
pub fn valid_lines(validator: &jsonschema::Validator, path: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in a partial line",
        path.display()
    );
    text.split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {line}", path.display(), i + 1));
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}:{}: not valid http-types: {errors:?}\n{line}",
                path.display(),
                i + 1
            );
            (line.to_owned(), value)
        })
        .collect()
}

/// `(method, url)` of every line, sorted.
pub fn method_urls(lines: &[(String, Value)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = lines
        .iter()
        .map(|(_, l)| {
            (
                l["request"]["method"].as_str().unwrap_or("?").to_owned(),
                l["request"]["url"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Counts of each distinct item.
pub fn multiset<T: Ord + Clone>(items: &[T]) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.clone()).or_insert(0) += 1;
    }
    m
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Pids of the processes whose environment holds `HMT_HOME=home` (Linux
/// `/proc`): the `hmt` processes a test started with that home.
pub fn pids_with_home(home: &Path) -> Vec<u32> {
    let needle = format!("HMT_HOME={}", home.display()).into_bytes();
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(environ) = std::fs::read(entry.path().join("environ"))
            && environ.split(|b| *b == 0).any(|var| var == needle)
        {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Stops every `hmt` process started with `HMT_HOME=home` when dropped,
/// including a chain of processes that keep starting each other: a live
/// recorder named by `record.json` is stopped (SIGTERM, then SIGKILL), then
/// a `record.json` naming this test process makes any further
/// `hmt record -d` refuse to start, and what is left is killed by pid
/// (bounded to 20 s).
pub struct HomeGuard(pub PathBuf);

impl Drop for HomeGuard {
    fn drop(&mut self) {
        let home = &self.0;
        if let Some(state) = read_state(home)
            && let Some(pid) = state["pid"].as_u64()
            && pid as u32 != std::process::id()
        {
            drop(PidGuard(pid as u32));
        }
        let stopper = json!({
            "pid": std::process::id(),
            "address": "127.0.0.1:1",
            "mode": "test cleanup",
            "sinks": [],
            "counts": {"recorded": 0, "filtered": 0, "bytes": 0, "sink_errors": 0, "upstream_errors": 0},
        });
        let _ = std::fs::create_dir_all(home);
        let tmp = home.join("record.json.guard");
        if std::fs::write(&tmp, stopper.to_string()).is_ok() {
            let _ = std::fs::rename(&tmp, home.join("record.json"));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut quiet_rounds = 0;
        while quiet_rounds < 5 && Instant::now() < deadline {
            let pids = pids_with_home(home);
            if pids.is_empty() {
                quiet_rounds += 1;
            } else {
                quiet_rounds = 0;
                for pid in pids {
                    signal(pid, "KILL");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(home.join("record.json"));
    }
}
