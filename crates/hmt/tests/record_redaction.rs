//! `hmt record` keeps secrets out of recordings on every path a request
//! can take through the proxy, with no redaction flag given: the HTTP/1.1
//! byte relay, the hyper path (HTTP/1.0, an https upstream), an
//! intercepted CONNECT (TLS with hmt's CA, HTTP/1.1 and HTTP/2), and
//! HTTP/2 without TLS. Also: HTTP/2 requests are recorded with a `host`
//! like HTTP/1.1 ones, so both record the same line, and `hmt build` makes
//! of the recording a spec that treats the same names as secrets.
//!
//! Real processes and sockets only: the `hmt` binary, an upstream serving
//! plain HTTP (HTTP/1.1 and h2c) and TLS on 127.0.0.1, and reqwest or raw
//! TCP as the client.

mod common_record;

use bytes::Bytes;
use common_record::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The four secrets every request and response carries, one per place a
/// secret travels: a header, the query, a nested JSON request member and a
/// JSON response member.
const AUTH_TOKEN: &str = "xat-9f8e7d-SECRET";
const API_KEY: &str = "ak-31337-SECRET";
const PASSWORD: &str = "pw-hunter2-SECRET";
const ACCESS_TOKEN: &str = "at-eyJhbGciOi-SECRET";

/// Where those secrets are, as `meta.redacted` lists them.
const LOCATIONS: [&str; 4] = [
    "request.body#/user/credentials/password",
    "request.headers.x-auth-token",
    "request.query.api_key",
    "response.body#/access_token",
];

fn login_body() -> String {
    json!({"user": {"name": "ada", "credentials": {"password": PASSWORD}}, "remember": true})
        .to_string()
}

// ---- upstream ----------------------------------------------------------------------------

/// A login endpoint on 127.0.0.1, plain (HTTP/1.1 and h2c) and TLS (ALPN
/// h2 and http/1.1, a self-signed certificate for `localhost`). It answers
/// 200 with an access token only when it got every secret intact, so a
/// client's 200 also proves that redaction never touched what was
/// forwarded.
struct Upstream {
    rt: tokio::runtime::Runtime,
    plain: SocketAddr,
    tls: SocketAddr,
    cert_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Upstream {
    fn start() -> Upstream {
        install_crypto();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("upstream.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (plain, tls) = rt.block_on(async { (serve(None).await, serve(Some(acceptor)).await) });
        Upstream {
            rt,
            plain,
            tls,
            cert_path,
            _dir: dir,
        }
    }

    fn plain_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.plain)
    }

    fn tls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls.port())
    }
}

async fn serve(acceptor: Option<tokio_rustls::TlsAcceptor>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req| async {
                    Ok::<_, Infallible>(login(req).await)
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

async fn login(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header_ok = req
        .headers()
        .get("x-auth-token")
        .is_some_and(|v| v == AUTH_TOKEN);
    let query_ok = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == format!("api_key={API_KEY}"))
    });
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let body_ok = serde_json::from_slice::<Value>(&body)
        .is_ok_and(|v| v["user"]["credentials"]["password"] == PASSWORD);
    let (status, body) = if header_ok && query_ok && body_ok {
        let token =
            json!({"token_type": "bearer", "access_token": ACCESS_TOKEN, "expires_in": 3600});
        (200, token.to_string())
    } else {
        let missing = json!({"header": header_ok, "query": query_ok, "body": body_ok});
        (400, missing.to_string())
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

// ---- clients -----------------------------------------------------------------------------

/// One raw HTTP/1.x exchange over TCP (the request closes the connection);
/// the whole response as text.
fn raw_http(proxy: SocketAddr, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(proxy).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// A login request as raw HTTP/1.x, path-routed to `upstream_url`; header
/// names in the case people write them.
fn raw_login(version: &str, proxy: SocketAddr, upstream_url: &str) -> Vec<u8> {
    let body = login_body();
    format!(
        "POST /{upstream_url}?api_key={API_KEY}&page=2 {version}\r\n\
         Host: {proxy}\r\n\
         X-Auth-Token: {AUTH_TOKEN}\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

fn assert_raw_login_ok(response: &str) {
    let status = response.split("\r\n").next().unwrap_or_default();
    assert!(status.ends_with(" 200 OK"), "{response}");
    assert!(response.contains(ACCESS_TOKEN), "{response}");
}

enum Http {
    One,
    Two,
}

fn reqwest_client(
    http: Http,
    configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Client {
    install_crypto();
    let builder = configure(reqwest::Client::builder().no_proxy().timeout(WAIT));
    match http {
        Http::One => builder.http1_only(),
        Http::Two => builder,
    }
    .build()
    .unwrap()
}

/// Logs in with `client` at `url` (the query is added here); returns the
/// HTTP version the client spoke.
async fn reqwest_login(client: &reqwest::Client, url: &str) -> reqwest::Version {
    let response = client
        .post(format!("{url}?api_key={API_KEY}&page=2"))
        .header("X-Auth-Token", AUTH_TOKEN)
        .header("content-type", "application/json")
        .body(login_body())
        .send()
        .await
        .unwrap();
    let version = response.version();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{url}: {text}");
    assert!(text.contains(ACCESS_TOKEN), "{url}: {text}");
    version
}

// ---- recordings --------------------------------------------------------------------------

/// `hmt record` writing every line to `out/all.jsonl`, trusting the
/// upstream's certificate; with the path of hmt's CA certificate.
fn start_recorder(work: &Path, up: &Upstream) -> (RecordProcess, PathBuf, String) {
    let output = work.join("all.jsonl");
    let hmt = RecordProcess::start(
        work,
        &[
            "--output",
            output.to_str().unwrap(),
            "--upstream-ca",
            up.cert_path.to_str().unwrap(),
        ],
    );
    let ca = run_hmt(work, &hmt.home, &["ca", "--path-only"], WAIT);
    assert_eq!(ca.code, Some(0), "{}", ca.stderr);
    let ca_pem = std::fs::read_to_string(ca.stdout.trim_end()).unwrap();
    (hmt, output, ca_pem)
}

/// Stops `hmt`, checks it exited cleanly, and returns the recorded lines
/// (each valid http-types).
fn stop_and_read(hmt: RecordProcess, output: &Path) -> Vec<(String, Value)> {
    let out = hmt.stop();
    assert_eq!(out.code, Some(0), "hmt record failed:\n{}", out.stderr);
    valid_lines(&http_types_validator(), output)
}

/// The value of a header (name in any case) of a recorded message.
fn header<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    message["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn is_placeholder(value: &str) -> bool {
    value.strip_prefix("hmt-redacted-").is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The placeholders in one recorded login line, in [`LOCATIONS`] order,
/// after checking that the line holds no secret, that everything else of
/// the exchange is intact, and that `meta.redacted` lists exactly the four
/// locations.
fn placeholders_of(name: &str, line: &str, exchange: &Value) -> [String; 4] {
    for secret in [AUTH_TOKEN, API_KEY, PASSWORD, ACCESS_TOKEN] {
        assert!(!line.contains(secret), "{name}: {secret} recorded:\n{line}");
    }
    assert_eq!(
        exchange["meta"]["redacted"],
        json!(LOCATIONS),
        "{name}:\n{line}"
    );
    let request = &exchange["request"];
    let response = &exchange["response"];
    let body = |message: &Value| -> Value {
        serde_json::from_str(message["body"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}):\n{line}"))
    };
    let request_body = body(request);
    let response_body = body(response);
    let found = [
        request_body["user"]["credentials"]["password"].as_str(),
        header(request, "x-auth-token"),
        request["query"]["api_key"].as_str(),
        response_body["access_token"].as_str(),
    ]
    .map(|v| v.unwrap_or_default().to_owned());
    for (location, value) in LOCATIONS.iter().zip(&found) {
        assert!(
            is_placeholder(value),
            "{name}: {location} is {value:?}:\n{line}"
        );
    }
    // Only the secrets changed.
    assert_eq!(request_body["user"]["name"], "ada", "{name}");
    assert_eq!(request_body["remember"], true, "{name}");
    assert_eq!(request["query"]["page"], "2", "{name}");
    assert!(
        request["path"]
            .as_str()
            .is_some_and(|p| p.ends_with(&format!("?api_key={}&page=2", found[2]))),
        "{name}: the path keeps its query, with the placeholder:\n{line}"
    );
    assert_eq!(response["statusCode"], 200, "{name}");
    assert_eq!(response_body["token_type"], "bearer", "{name}");
    assert_eq!(response_body["expires_in"], 3600, "{name}");
    found
}

fn line_for<'a>(lines: &'a [(String, Value)], pathname: &str) -> &'a (String, Value) {
    let matching: Vec<&(String, Value)> = lines
        .iter()
        .filter(|(_, v)| {
            v["request"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("{pathname}?")))
        })
        .collect();
    assert_eq!(matching.len(), 1, "one line for {pathname}: {lines:#?}");
    matching[0]
}

// ---- tests -------------------------------------------------------------------------------

#[test]
fn secrets_are_redacted_by_default_on_every_path_through_the_proxy() {
    let up = Upstream::start();
    let work = tempfile::tempdir().unwrap();
    let (hmt, output, hmt_ca) = start_recorder(work.path(), &up);

    // HTTP/1.1 to a plain upstream: the byte relay. (It hands every
    // request below over to hyper, the first HTTP/1.0, HTTP/2 and CONNECT
    // bytes included: relay.rs says so, and a trace in its hand-over
    // showed each of them and not this one.)
    assert_raw_login_ok(&raw_http(
        hmt.addr,
        &raw_login("HTTP/1.1", hmt.addr, &up.plain_url("/login/relay")),
    ));
    // HTTP/1.0: handed over to hyper.
    assert_raw_login_ok(&raw_http(
        hmt.addr,
        &raw_login("HTTP/1.0", hmt.addr, &up.plain_url("/login/http10")),
    ));
    up.rt.block_on(async {
        // An https upstream: hyper, with TLS to the upstream.
        let h1 = reqwest_client(Http::One, |b| b);
        let path_url = |upstream: String| format!("http://{}/{upstream}", hmt.addr);
        reqwest_login(&h1, &path_url(up.tls_url("/login/https-upstream"))).await;
        // HTTP/2 without TLS (prior knowledge), to a plain upstream.
        let h2c = reqwest_client(Http::Two, |b| b.http2_prior_knowledge());
        let version = reqwest_login(&h2c, &path_url(up.plain_url("/login/h2c"))).await;
        assert_eq!(version, reqwest::Version::HTTP_2);
        // An intercepted CONNECT: TLS with hmt's CA, HTTP/1.1 and HTTP/2.
        let through_connect = |b: reqwest::ClientBuilder| {
            b.tls_certs_only([reqwest::Certificate::from_pem(hmt_ca.as_bytes()).unwrap()])
                .proxy(reqwest::Proxy::all(format!("http://{}", hmt.addr)).unwrap())
        };
        let tls_h1 = reqwest_client(Http::One, through_connect);
        let version = reqwest_login(&tls_h1, &up.tls_url("/login/connect-h1")).await;
        assert_eq!(version, reqwest::Version::HTTP_11);
        let tls_h2 = reqwest_client(Http::Two, through_connect);
        let version = reqwest_login(&tls_h2, &up.tls_url("/login/connect-h2")).await;
        assert_eq!(version, reqwest::Version::HTTP_2);
    });

    let lines = stop_and_read(hmt, &output);
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let mut placeholders = Vec::new();
    for (pathname, protocol) in [
        ("/login/relay", "http"),
        ("/login/http10", "http"),
        ("/login/https-upstream", "https"),
        ("/login/h2c", "http"),
        ("/login/connect-h1", "https"),
        ("/login/connect-h2", "https"),
    ] {
        let (line, exchange) = line_for(&lines, pathname);
        assert_eq!(exchange["request"]["protocol"], protocol, "{line}");
        placeholders.push(placeholders_of(pathname, line, exchange));
    }
    // The same secret has the same placeholder whichever way it came, so
    // the recordings still match up when mocks are built from them.
    assert!(
        placeholders.windows(2).all(|w| w[0] == w[1]),
        "{placeholders:#?}"
    );
}

/// A recorded line without what differs between two recordings of the
/// same exchange in one run: the times, and the upstream's `date`. Header
/// names are lower-cased, as HTTP/2 carries them.
fn comparable(exchange: &Value) -> Value {
    let mut exchange = exchange.clone();
    let lower_names = |headers: &mut Value| {
        if let Some(map) = headers.as_object_mut() {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .filter(|(k, _)| k != "date")
                .collect();
        }
    };
    for side in ["request", "response"] {
        if let Some(message) = exchange[side].as_object_mut() {
            message.remove("timestamp");
            lower_names(message.get_mut("headers").unwrap_or(&mut Value::Null));
        }
    }
    if let Some(meta) = exchange["meta"].as_object_mut() {
        meta.remove("latencyMs");
    }
    exchange
}

#[test]
fn http2_requests_are_recorded_with_a_host_like_http1_ones_and_build_alike() {
    let up = Upstream::start();
    let work = tempfile::tempdir().unwrap();
    let (hmt, output, hmt_ca) = start_recorder(work.path(), &up);
    up.rt.block_on(async {
        let path_url = format!("http://{}/{}", hmt.addr, up.plain_url("/login/same"));
        let h1 = reqwest_client(Http::One, |b| b);
        assert_eq!(
            reqwest_login(&h1, &path_url).await,
            reqwest::Version::HTTP_11
        );
        let h2c = reqwest_client(Http::Two, |b| b.http2_prior_knowledge());
        assert_eq!(
            reqwest_login(&h2c, &path_url).await,
            reqwest::Version::HTTP_2
        );
        let through_connect = |b: reqwest::ClientBuilder| {
            b.tls_certs_only([reqwest::Certificate::from_pem(hmt_ca.as_bytes()).unwrap()])
                .proxy(reqwest::Proxy::all(format!("http://{}", hmt.addr)).unwrap())
        };
        for (http, version) in [
            (Http::One, reqwest::Version::HTTP_11),
            (Http::Two, reqwest::Version::HTTP_2),
        ] {
            let client = reqwest_client(http, through_connect);
            assert_eq!(
                reqwest_login(&client, &up.tls_url("/login/same-tls")).await,
                version
            );
        }
    });
    let lines = stop_and_read(hmt, &output);
    assert_eq!(lines.len(), 4, "{lines:#?}");

    // Path routing: the client named the proxy; like HTTP/1.1's Host, the
    // recorded host is the upstream the request went to.
    let by_path = |pathname: &str| -> Vec<&Value> {
        lines
            .iter()
            .map(|(_, v)| v)
            .filter(|v| {
                v["request"]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("{pathname}?")))
            })
            .collect()
    };
    for (pathname, authority) in [
        ("/login/same", up.plain.to_string()),
        ("/login/same-tls", format!("localhost:{}", up.tls.port())),
    ] {
        let pair = by_path(pathname);
        assert_eq!(pair.len(), 2, "{pathname}: {lines:#?}");
        for exchange in &pair {
            assert_eq!(
                header(&exchange["request"], "host"),
                Some(authority.as_str()),
                "{pathname}: {exchange}"
            );
            assert_eq!(exchange["request"]["host"], authority.as_str());
        }
        assert_eq!(
            comparable(pair[0]),
            comparable(pair[1]),
            "{pathname}: HTTP/1.1 and HTTP/2 recorded differently"
        );
    }

    // `hmt build` agrees on what is secret: the redacted header and query
    // parameter become security schemes, not parameters, and no
    // placeholder of the recording reaches the spec.
    let out = work.path().join("spec");
    let built = run_hmt(
        work.path(),
        &work.path().join("home"),
        &[
            "build",
            "-i",
            output.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-m",
            "gen",
        ],
        WAIT,
    );
    assert_eq!(built.code, Some(0), "hmt build failed:\n{}", built.stderr);
    let specs = files_under(&out);
    assert_eq!(specs.len(), 2, "one spec per upstream host: {specs:?}");
    for file in specs {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("hmt-redacted-"),
            "{}:\n{text}",
            file.display()
        );
        let spec: Value = serde_json::from_str(&text).unwrap();
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(
            schemes["xAuthTokenHeader"],
            json!({"type": "apiKey", "in": "header", "name": "x-auth-token"}),
            "{}:\n{text}",
            file.display()
        );
        assert_eq!(
            schemes["apiKeyQuery"],
            json!({"type": "apiKey", "in": "query", "name": "api_key"}),
            "{}:\n{text}",
            file.display()
        );
        let operation = &spec["paths"]
            .as_object()
            .and_then(|paths| paths.values().next())
            .unwrap_or(&Value::Null)["post"];
        let parameters: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(parameters, ["page"], "{}:\n{text}", file.display());
    }
}
