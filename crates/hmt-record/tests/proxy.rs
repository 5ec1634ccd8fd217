//! End-to-end tests of the recording proxy: real upstreams (plain and TLS),
//! real clients (reqwest), every routing mode over HTTP/1.1 and HTTP/2.

use bytes::Bytes;
use hmt_record::{
    Captured, CertificateAuthority, OnExchange, Proxy, ProxyConfig, Routing, ServeReport,
};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TestBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

const BIG: usize = 32 * 1024 * 1024;
const CAPTURE_CAP: usize = 1024 * 1024;
const SSE_ONE: &str = "data: one\n\n";
const SSE_TWO: &str = "data: two\n\n";
const WAIT: Duration = Duration::from_secs(10);

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn big_body() -> &'static Bytes {
    static BIG_BODY: OnceLock<Bytes> = OnceLock::new();
    BIG_BODY.get_or_init(|| (0..BIG).map(|i| (i % 251) as u8).collect::<Vec<_>>().into())
}

fn gzip_body() -> &'static Bytes {
    static GZIP: OnceLock<Bytes> = OnceLock::new();
    GZIP.get_or_init(|| {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all("hello gzip world, ".repeat(200).as_bytes())
            .unwrap();
        enc.finish().unwrap().into()
    })
}

// ---------------------------------------------------------------- upstream

/// A test upstream: plain or TLS, HTTP/1.1 and HTTP/2.
struct Upstream {
    addr: SocketAddr,
    tls: Option<TlsIdentity>,
    state: Arc<UpstreamState>,
}

#[derive(Default)]
struct UpstreamState {
    /// Lets the SSE endpoint send its second event.
    release: Notify,
    /// Slow requests currently being served.
    slow_in_flight: AtomicUsize,
}

#[derive(Clone)]
struct TlsIdentity {
    cert_pem: String,
    cert_path: PathBuf,
    _dir: Arc<tempfile::TempDir>,
}

impl Upstream {
    async fn plain() -> Upstream {
        Upstream::start(None).await
    }

    async fn tls() -> Upstream {
        install_crypto();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("upstream.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let identity = TlsIdentity {
            cert_pem: cert.pem(),
            cert_path,
            _dir: Arc::new(dir),
        };
        Upstream::start(Some((identity, Arc::new(config)))).await
    }

    async fn start(tls: Option<(TlsIdentity, Arc<rustls::ServerConfig>)>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(UpstreamState::default());
        let acceptor = tls
            .as_ref()
            .map(|(_, config)| tokio_rustls::TlsAcceptor::from(config.clone()));
        let serve_state = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = serve_state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(upstream_handle(state, req).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
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
        Upstream {
            addr,
            tls: tls.map(|(identity, _)| identity),
            state,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `127.0.0.1:port`
    fn authority(&self) -> String {
        self.addr.to_string()
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme(), self.authority())
    }
}

fn full(body: impl Into<Bytes>) -> TestBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Endpoints are matched on the last path segment, so a target base path
/// in front of them does not matter.
async fn upstream_handle(state: Arc<UpstreamState>, req: Request<Incoming>) -> Response<TestBody> {
    let endpoint = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    match endpoint.as_str() {
        "json" => Response::builder()
            .header("content-type", "application/json")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/")
            .header("x-upstream", "yes")
            .body(full(r#"{"ok":true,"items":[1,2,3]}"#))
            .unwrap(),
        "gzip" => Response::builder()
            .header("content-type", "text/plain")
            .header("content-encoding", "gzip")
            .body(full(gzip_body().clone()))
            .unwrap(),
        "big" => {
            let chunks: Vec<Result<Frame<Bytes>, BoxError>> = (0..BIG)
                .step_by(256 * 1024)
                .map(|start| {
                    Ok(Frame::data(
                        big_body().slice(start..(start + 256 * 1024).min(BIG)),
                    ))
                })
                .collect();
            Response::builder()
                .header("content-type", "application/octet-stream")
                .body(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
                .unwrap()
        }
        "sse" => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(SSE_ONE.as_bytes())).await;
                state.release.notified().await;
                let _ = tx.send(Bytes::from_static(SSE_TWO.as_bytes())).await;
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, BoxError>(Frame::data(b)), rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
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
                .map(|h| h.to_str().unwrap().to_owned())
                .or_else(|| req.uri().authority().map(|a| a.to_string()));
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                .collect();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let doc = json!({
                "method": method,
                "path": path,
                "host": host,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(full(doc.to_string()))
                .unwrap()
        }
        "slow" => {
            let ms: u64 = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            state.slow_in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            state.slow_in_flight.fetch_sub(1, Ordering::SeqCst);
            Response::new(full("slow done"))
        }
        _ => Response::builder()
            .status(404)
            .body(full("no such endpoint"))
            .unwrap(),
    }
}

// ------------------------------------------------------------------- proxy

#[derive(Default)]
struct Recorder(Mutex<Vec<Captured>>);

impl OnExchange for Recorder {
    fn on_exchange(&self, captured: Captured) {
        self.0.lock().unwrap().push(captured);
    }
}

impl Recorder {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (bounded) until there are `n` captures, and returns them.
    async fn wait_for(&self, n: usize) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = self.0.lock().unwrap().clone();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct RunningProxy {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<ServeReport, hmt_record::ProxyError>>,
}

impl RunningProxy {
    async fn start(config: ProxyConfig) -> RunningProxy {
        RunningProxy::start_with_grace(config, Duration::from_secs(5)).await
    }

    async fn start_with_grace(config: ProxyConfig, grace: Duration) -> RunningProxy {
        install_crypto();
        let recorder = Arc::new(Recorder::default());
        let proxy = Proxy::new(config, recorder.clone()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(proxy.serve(
            listener,
            async move {
                let _ = stopped.await;
            },
            grace,
        ));
        RunningProxy {
            addr,
            recorder,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn shutdown(mut self) -> ServeReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("serve returns")
            .unwrap()
            .unwrap()
    }
}

fn config_for(upstream: &Upstream) -> ProxyConfig {
    ProxyConfig {
        upstream_ca: upstream.tls.iter().map(|t| t.cert_path.clone()).collect(),
        max_body_bytes: CAPTURE_CAP,
        ..ProxyConfig::default()
    }
}

// ----------------------------------------------------------------- clients

#[derive(Clone, Copy, Debug, PartialEq)]
enum Http {
    One,
    Two,
}

fn client(
    http: Http,
    configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Client {
    install_crypto();
    let builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30));
    let builder = configure(builder);
    let builder = match http {
        Http::One => builder.http1_only(),
        Http::Two => builder,
    };
    builder.build().unwrap()
}

/// HTTP/2 without TLS needs prior knowledge; over TLS ALPN picks it.
fn plain_client(
    http: Http,
    configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Client {
    client(http, |b| {
        let b = configure(b);
        if http == Http::Two {
            b.http2_prior_knowledge()
        } else {
            b
        }
    })
}

fn trusting(pem: &str) -> impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder + '_ {
    move |b| b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
}

fn expected_version(http: Http) -> reqwest::Version {
    match http {
        Http::One => reqwest::Version::HTTP_11,
        Http::Two => reqwest::Version::HTTP_2,
    }
}

/// Status, headers (without `date`) and body of a response.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

async fn seen(response: reqwest::Response) -> Seen {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    Seen {
        status,
        headers,
        body: response.bytes().await.unwrap(),
    }
}

// ---------------------------------------------------------------- scenario

/// How one routing mode reaches the upstream.
struct Via<'a> {
    client: reqwest::Client,
    http: Http,
    /// The URL the client requests for an endpoint path like `/json`.
    url: Box<dyn Fn(&str) -> String + 'a>,
    /// Extra request headers (header routing).
    headers: Vec<(&'static str, String)>,
    /// The upstream URL the proxy should have called for `/json`.
    upstream_url: Box<dyn Fn(&str) -> String + 'a>,
    /// The client without the proxy, for byte-for-byte comparison.
    direct: reqwest::Client,
    direct_url: Box<dyn Fn(&str) -> String + 'a>,
    /// Whether exchanges are recorded (not for blind tunnels).
    recorded: bool,
    /// The upstream's `host:port` as the proxy names it.
    authority: String,
}

impl Via<'_> {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.client.get((self.url)(path));
        for (k, v) in &self.headers {
            request = request.header(*k, v);
        }
        request
    }
}

/// Runs every endpoint through `via` and checks what the client got and
/// what was captured.
async fn check_endpoints(via: &Via<'_>, upstream: &Upstream, recorder: &Recorder, big: bool) {
    let mut expected_captures = recorder.len();

    // JSON with two Set-Cookie headers: identical to a direct request.
    let proxied = via.get("/json").send().await.unwrap();
    assert_eq!(
        proxied.version(),
        expected_version(via.http),
        "client protocol"
    );
    let proxied = seen(proxied).await;
    let direct = seen(
        via.direct
            .get((via.direct_url)("/json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(proxied, direct);
    let cookies: Vec<_> = proxied
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    if via.recorded {
        expected_captures += 1;
        let c = last_capture(recorder, expected_captures).await;
        check_capture(&c, via, upstream, &(via.upstream_url)("/json"), 200);
        let response = c.exchange.response.as_ref().unwrap();
        assert_eq!(response.body.as_deref(), Some(&proxied.body[..]));
        assert_eq!(
            response.headers.get_all_ignore_case("set-cookie"),
            ["a=1; Path=/", "b=2; Path=/"]
        );
        assert!(c.exchange.meta["latencyMs"].as_f64().unwrap() >= 0.0);
        assert!(!c.exchange.meta.contains_key("responseBodyTruncated"));
        assert!(!c.exchange.meta.contains_key("responseIncomplete"));
    }

    // gzip passes through still compressed, byte for byte.
    let proxied = seen(via.get("/gzip").send().await.unwrap()).await;
    let direct = seen(
        via.direct
            .get((via.direct_url)("/gzip"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(proxied, direct);
    assert_eq!(proxied.body, *gzip_body());
    if via.recorded {
        expected_captures += 1;
        let c = last_capture(recorder, expected_captures).await;
        check_capture(&c, via, upstream, &(via.upstream_url)("/gzip"), 200);
        let response = c.exchange.response.as_ref().unwrap();
        assert_eq!(response.body.as_deref(), Some(&gzip_body()[..]));
        assert_eq!(
            response.headers.get_ignore_case("content-encoding"),
            Some("gzip")
        );
    }

    // Echo: what the upstream saw.
    let mut request = via
        .client
        .post((via.url)("/echo?x=1"))
        .header("x-custom", "kept")
        .header("x-hmt-scheme", upstream.scheme())
        .body("hello upstream");
    for (k, v) in &via.headers {
        request = request.header(*k, v);
    }
    if via.http == Http::One {
        request = request
            .header("connection", "keep-alive, x-drop-me")
            .header("x-drop-me", "secret")
            .header("keep-alive", "timeout=5")
            .header("proxy-connection", "keep-alive");
    }
    let echo: Value =
        serde_json::from_slice(&request.send().await.unwrap().bytes().await.unwrap()).unwrap();
    let upstream_path = (via.upstream_url)("/echo?x=1");
    let upstream_path = &upstream_path[upstream_path.find("://").unwrap() + 3..];
    let upstream_path = &upstream_path[upstream_path.find('/').unwrap()..];
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], upstream_path);
    assert_eq!(echo["host"], via.authority.as_str());
    assert_eq!(echo["body"], "hello upstream");
    let names: Vec<&str> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(names.contains(&"x-custom"), "{names:?}");
    // A blind tunnel carries the client's bytes untouched, hop-by-hop
    // headers included; everything else drops them.
    let hops: &[&str] = if via.recorded {
        &[
            "connection",
            "keep-alive",
            "x-drop-me",
            "proxy-connection",
            "x-hmt-scheme",
            "via",
            "transfer-encoding",
            "upgrade",
        ]
    } else {
        &[]
    };
    for hop in hops {
        assert!(
            !names.contains(hop),
            "{hop} reached the upstream: {names:?}"
        );
    }
    if via.recorded {
        expected_captures += 1;
        let c = last_capture(recorder, expected_captures).await;
        check_capture(&c, via, upstream, &(via.upstream_url)("/echo?x=1"), 200);
        let request = &c.exchange.request;
        assert_eq!(request.method, hmt_types::Method::Post);
        assert_eq!(request.body.as_deref(), Some(&b"hello upstream"[..]));
        assert_eq!(request.query.get("x"), Some("1"));
        assert_eq!(request.headers.get_ignore_case("x-custom"), Some("kept"));
    }

    // SSE: the first event arrives before the second is even sent.
    let mut sse = via.get("/sse").send().await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, async {
        while !got.ends_with(SSE_ONE.as_bytes()) {
            let chunk = sse
                .chunk()
                .await
                .unwrap()
                .expect("first event before the end");
            got.extend_from_slice(&chunk);
        }
    })
    .await
    .expect("the first event is streamed through before the second is released");
    assert_eq!(got, SSE_ONE.as_bytes());
    upstream.state.release.notify_one();
    tokio::time::timeout(WAIT, async {
        while let Some(chunk) = sse.chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
    })
    .await
    .unwrap();
    assert_eq!(got, format!("{SSE_ONE}{SSE_TWO}").as_bytes());
    if via.recorded {
        expected_captures += 1;
        let c = last_capture(recorder, expected_captures).await;
        check_capture(&c, via, upstream, &(via.upstream_url)("/sse"), 200);
        let response = c.exchange.response.as_ref().unwrap();
        assert_eq!(response.body.as_deref(), Some(got.as_slice()));
    }

    // 32 MiB: all of it delivered, 1 MiB of it captured.
    if big {
        let proxied = via.get("/big").send().await.unwrap();
        let body = proxied.bytes().await.unwrap();
        assert_eq!(body.len(), BIG);
        assert!(body == *big_body(), "32 MiB body differs");
        if via.recorded {
            expected_captures += 1;
            let c = last_capture(recorder, expected_captures).await;
            check_capture(&c, via, upstream, &(via.upstream_url)("/big"), 200);
            let response = c.exchange.response.as_ref().unwrap();
            assert_eq!(response.body.as_deref(), Some(&big_body()[..CAPTURE_CAP]));
            assert_eq!(c.exchange.meta["responseBodyTruncated"], true);
            assert!(!c.exchange.meta.contains_key("responseIncomplete"));
        }
    }

    // Nothing else was captured (and nothing at all through a tunnel).
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(recorder.len(), expected_captures);
}

/// Waits for capture number `n` and returns it.
async fn last_capture(recorder: &Recorder, n: usize) -> Captured {
    let all = recorder.wait_for(n).await;
    assert_eq!(all.len(), n, "exactly one capture per exchange");
    all[n - 1].clone()
}

fn check_capture(c: &Captured, via: &Via<'_>, upstream: &Upstream, url: &str, status: u16) {
    let request = &c.exchange.request;
    assert_eq!(request.url.as_deref(), Some(url));
    assert_eq!(request.host.as_deref(), Some(via.authority.as_str()));
    assert_eq!(c.target_host, via.authority);
    let path = &url[url.find("://").unwrap() + 3..];
    let path = &path[path.find('/').unwrap()..];
    assert_eq!(request.path(), path);
    assert_eq!(
        request.protocol.map(|p| p.as_str()),
        Some(upstream.scheme())
    );
    if let Some(host) = request.headers.get_ignore_case("host") {
        assert_eq!(host, via.authority);
    }
    let response = c.exchange.response.as_ref().unwrap();
    assert_eq!(response.status, status);
    for ts in [request.timestamp.as_deref(), response.timestamp.as_deref()] {
        let ts = ts.expect("timestamp");
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(
            ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
    }
}

// ------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_routing() {
    let plain = Upstream::plain().await;
    let tls = Upstream::tls().await;
    for upstream in [&plain, &tls] {
        let proxy = RunningProxy::start(config_for(upstream)).await;
        for http in [Http::One, Http::Two] {
            let direct = match &upstream.tls {
                Some(t) => client(http, trusting(&t.cert_pem)),
                None => plain_client(http, |b| b),
            };
            let via = Via {
                client: plain_client(http, |b| b),
                http,
                url: Box::new(|p| proxy.url(&format!("/{}", upstream.url(p)))),
                headers: vec![],
                upstream_url: Box::new(|p| upstream.url(p)),
                direct,
                direct_url: Box::new(|p| upstream.url(p)),
                recorded: true,
                authority: upstream.authority(),
            };
            check_endpoints(&via, upstream, &proxy.recorder, upstream.tls.is_none()).await;
        }
        let report = proxy.shutdown().await;
        assert_eq!(
            report.exchanges,
            if upstream.tls.is_none() { 10 } else { 8 }
        );
        assert_eq!(report.errors, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_routing_explains_unroutable_paths() {
    let proxy = RunningProxy::start(ProxyConfig::default()).await;
    let response = plain_client(Http::One, |b| b)
        .get(proxy.url("/api.example.com/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(problem["status"], 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("/https://"),
        "{problem}"
    );
    let report = proxy.shutdown().await;
    assert_eq!(report.errors, 1);
    assert_eq!(report.exchanges, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_routing() {
    let plain = Upstream::plain().await;
    let tls = Upstream::tls().await;
    for upstream in [&plain, &tls] {
        let config = ProxyConfig {
            routing: Routing::Header,
            ..config_for(upstream)
        };
        let proxy = RunningProxy::start(config).await;
        for http in [Http::One, Http::Two] {
            let direct = match &upstream.tls {
                Some(t) => client(http, trusting(&t.cert_pem)),
                None => plain_client(http, |b| b),
            };
            let via = Via {
                client: plain_client(http, |b| b),
                http,
                url: Box::new(|p| proxy.url(p)),
                headers: vec![
                    ("host", upstream.authority()),
                    ("X-Hmt-Scheme", upstream.scheme().to_owned()),
                ],
                upstream_url: Box::new(|p| upstream.url(p)),
                direct,
                direct_url: Box::new(|p| upstream.url(p)),
                recorded: true,
                authority: upstream.authority(),
            };
            check_endpoints(&via, upstream, &proxy.recorder, false).await;
        }
        proxy.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_routing() {
    let plain = Upstream::plain().await;
    let tls = Upstream::tls().await;
    for upstream in [&plain, &tls] {
        let config = ProxyConfig {
            routing: Routing::Target(upstream.url("/api/").parse().unwrap()),
            ..config_for(upstream)
        };
        let proxy = RunningProxy::start(config).await;
        for http in [Http::One, Http::Two] {
            let direct = match &upstream.tls {
                Some(t) => client(http, trusting(&t.cert_pem)),
                None => plain_client(http, |b| b),
            };
            let via = Via {
                client: plain_client(http, |b| b),
                http,
                url: Box::new(|p| proxy.url(p)),
                headers: vec![],
                upstream_url: Box::new(|p| upstream.url(&format!("/api{p}"))),
                direct,
                direct_url: Box::new(|p| upstream.url(p)),
                recorded: true,
                authority: upstream.authority(),
            };
            check_endpoints(&via, upstream, &proxy.recorder, false).await;
        }
        proxy.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_proxy_absolute_form() {
    let upstream = Upstream::plain().await;
    let proxy = RunningProxy::start(config_for(&upstream)).await;
    for http in [Http::One, Http::Two] {
        let via = Via {
            client: plain_client(http, |b| {
                b.proxy(reqwest::Proxy::http(proxy.url("")).unwrap())
            }),
            http,
            url: Box::new(|p| upstream.url(p)),
            headers: vec![],
            upstream_url: Box::new(|p| upstream.url(p)),
            direct: plain_client(http, |b| b),
            direct_url: Box::new(|p| upstream.url(p)),
            recorded: true,
            authority: upstream.authority(),
        };
        check_endpoints(&via, &upstream, &proxy.recorder, false).await;
    }
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_intercepted_with_the_hmt_ca() {
    let upstream = Upstream::tls().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertificateAuthority::load_or_create(ca_dir.path()).unwrap());
    let ca_pem = std::fs::read_to_string(ca.cert_path()).unwrap();
    let config = ProxyConfig {
        ca: Some(ca),
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    // Through a DNS name, so the leaf's SAN is a name; the direct client
    // trusts the upstream's own certificate.
    let localhost = |p: &str| format!("https://localhost:{}{p}", upstream.addr.port());
    for http in [Http::One, Http::Two] {
        let via = Via {
            client: client(http, |b| {
                trusting(&ca_pem)(b).proxy(reqwest::Proxy::all(proxy.url("")).unwrap())
            }),
            http,
            url: Box::new(localhost),
            headers: vec![],
            upstream_url: Box::new(localhost),
            direct: client(http, trusting(&upstream.tls.as_ref().unwrap().cert_pem)),
            direct_url: Box::new(localhost),
            recorded: true,
            authority: format!("localhost:{}", upstream.addr.port()),
        };
        check_endpoints(&via, &upstream, &proxy.recorder, true).await;
    }
    let report = proxy.shutdown().await;
    assert_eq!(report.exchanges, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tunnelled_for_no_intercept_hosts() {
    let upstream = Upstream::tls().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(CertificateAuthority::load_or_create(ca_dir.path()).unwrap());
    let config = ProxyConfig {
        ca: Some(ca),
        no_intercept: vec!["127.0.0.1".to_owned()],
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    let upstream_pem = upstream.tls.as_ref().unwrap().cert_pem.clone();
    for http in [Http::One, Http::Two] {
        let via = Via {
            // Trusts only the upstream's own certificate: the TLS is the
            // upstream's, end to end.
            client: client(http, |b| {
                trusting(&upstream_pem)(b).proxy(reqwest::Proxy::all(proxy.url("")).unwrap())
            }),
            http,
            url: Box::new(|p| upstream.url(p)),
            headers: vec![],
            upstream_url: Box::new(|p| upstream.url(p)),
            direct: client(http, trusting(&upstream_pem)),
            direct_url: Box::new(|p| upstream.url(p)),
            recorded: false,
            authority: upstream.authority(),
        };
        check_endpoints(&via, &upstream, &proxy.recorder, false).await;
    }
    let report = proxy.shutdown().await;
    assert_eq!(report.exchanges, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_502_and_recorded() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = RunningProxy::start(ProxyConfig::default()).await;
    let target = format!("http://{closed}/users?x=1");
    let response = plain_client(Http::One, |b| b)
        .get(proxy.url(&format!("/{target}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response.bytes().await.unwrap();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "urn:hmt:problem:upstream");
    assert_eq!(problem["title"], "Bad Gateway");
    assert_eq!(problem["status"], 502);
    assert_eq!(problem["target"], target);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{problem}"
    );
    let captured = proxy.recorder.wait_for(1).await;
    assert_eq!(captured.len(), 1);
    let exchange = &captured[0].exchange;
    assert_eq!(exchange.request.url.as_deref(), Some(target.as_str()));
    let recorded = exchange.response.as_ref().unwrap();
    assert_eq!(recorded.status, 502);
    assert_eq!(recorded.body.as_deref(), Some(&body[..]));
    let report = proxy.shutdown().await;
    assert_eq!((report.exchanges, report.errors), (1, 1));
}

/// However the proxy's own address is spelled, a request to it is refused
/// with 508 and recorded once, instead of looping: the check is made on
/// the resolved address, on the relay (plain HTTP), the general path
/// (HTTP/2, https) and for CONNECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_the_proxy_itself_are_refused_as_a_loop_whatever_the_spelling() {
    let proxy = RunningProxy::start(ProxyConfig::default()).await;
    let port = proxy.addr.port();
    let spellings = [
        "127.0.0.1",
        "localhost",
        "0x7f.1",
        "0",
        "2130706433",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::1]",
    ];
    for (i, host) in spellings.iter().enumerate() {
        for http in [Http::One, Http::Two] {
            let response = plain_client(http, |b| b)
                .get(proxy.url(&format!("/http://{host}:{port}/loop")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 508, "{host} {http:?}");
            let problem: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("is this proxy itself"),
                "{problem}"
            );
        }
        // One recorded exchange per request sent: no loop.
        let captured = proxy.recorder.wait_for(2 * (i + 1)).await;
        assert_eq!(captured.len(), 2 * (i + 1), "{host}");
    }
    for c in proxy.recorder.wait_for(2 * spellings.len()).await {
        assert_eq!(c.exchange.response.as_ref().unwrap().status, 508);
        assert!(c.answered_by_proxy);
    }
    // Absolute form and CONNECT reach the same check.
    let raw = raw_exchange(
        proxy.addr,
        format!("GET http://0x7f.1:{port}/x HTTP/1.1\r\nHost: 0x7f.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 508 "), "{raw}");
    let raw = raw_exchange(
        proxy.addr,
        format!("CONNECT 2130706433:{port} HTTP/1.1\r\nHost: 2130706433:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 508 "), "{raw}");
    proxy.shutdown().await;
}

/// `--allow-host`: only matching hosts are reached; others get 403,
/// recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_host_limits_where_requests_go() {
    let upstream = Upstream::plain().await;
    let config = ProxyConfig {
        allow_hosts: vec!["127.0.0.1".into()],
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    let port = upstream.addr.port();
    let allowed = plain_client(Http::One, |b| b)
        .get(proxy.url(&format!("/http://127.0.0.1:{port}/json")))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let refused = plain_client(Http::One, |b| b)
        .get(proxy.url(&format!("/http://localhost:{port}/json")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let problem: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("--allow-host"),
        "{problem}"
    );
    let captured = proxy.recorder.wait_for(2).await;
    let statuses: Vec<u16> = captured
        .iter()
        .map(|c| c.exchange.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [200, 403]);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_is_504_and_recorded() {
    let upstream = Upstream::plain().await;
    let config = ProxyConfig {
        response_timeout: Duration::from_millis(200),
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    let target = upstream.url("/slow?ms=3000");
    let response = plain_client(Http::Two, |b| b)
        .get(proxy.url(&format!("/{target}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    let problem: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(problem["title"], "Gateway Timeout");
    assert_eq!(problem["status"], 504);
    assert_eq!(problem["target"], target);
    let captured = proxy.recorder.wait_for(1).await;
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].exchange.response.as_ref().unwrap().status, 504);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_exchanges() {
    let upstream = Upstream::plain().await;
    let proxy =
        RunningProxy::start_with_grace(config_for(&upstream), Duration::from_secs(10)).await;
    let proxy_addr = proxy.addr;
    let url = proxy.url(&format!("/{}", upstream.url("/slow?ms=1500")));
    let http1 = plain_client(Http::One, |b| b);
    let http2 = plain_client(Http::Two, |b| b);
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let client = if i % 2 == 0 {
                http1.clone()
            } else {
                http2.clone()
            };
            let url = url.clone();
            tokio::spawn(async move {
                let response = client.get(url).send().await?;
                let status = response.status();
                let body = response.text().await?;
                Ok::<_, reqwest::Error>((status, body))
            })
        })
        .collect();
    // Bounded wait until all 50 are at the upstream.
    let deadline = tokio::time::Instant::now() + WAIT;
    while upstream.state.slow_in_flight.load(Ordering::SeqCst) < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "requests did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recorder = proxy.recorder.clone();
    let report = proxy.shutdown().await;
    for request in requests {
        let (status, body) = request.await.unwrap().expect("in-flight request completes");
        assert_eq!(status, 200);
        assert_eq!(body, "slow done");
    }
    assert_eq!(report.exchanges, 50);
    assert!(!report.timed_out);
    assert_eq!(recorder.len(), 50);
    assert!(
        tokio::net::TcpStream::connect(proxy_addr).await.is_err(),
        "new connections are refused"
    );
}

/// Responses that go out while the proxy stops say `Connection: close`, on
/// the relay (a plain upstream) and on hyper's path (an https upstream), so
/// a keep-alive client does not send its next request into a closing
/// connection; the connection then ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_sent_while_stopping_close_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for upstream in [Upstream::plain().await, Upstream::tls().await] {
        let proxy =
            RunningProxy::start_with_grace(config_for(&upstream), Duration::from_secs(10)).await;
        let mut client = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        let request = format!(
            "GET /{} HTTP/1.1\r\nHost: proxy\r\n\r\n",
            upstream.url("/slow?ms=800")
        );
        client.write_all(request.as_bytes()).await.unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while upstream.state.slow_in_flight.load(Ordering::SeqCst) < 1 {
            assert!(tokio::time::Instant::now() < deadline, "no request arrived");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(proxy.shutdown());
        let mut received = Vec::new();
        tokio::time::timeout(WAIT, client.read_to_end(&mut received))
            .await
            .expect("the proxy closes the connection after the response")
            .unwrap();
        let received = String::from_utf8(received).unwrap().to_ascii_lowercase();
        let head = &received[..received.find("\r\n\r\n").unwrap()];
        assert!(head.starts_with("http/1.1 200"), "{received}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(received.ends_with("slow done"), "{received}");
        assert_eq!(stopping.await.unwrap().exchanges, 1);
    }
}

/// A response body that stops sending (the upstream holds it open) is cut
/// off after the body timeout, on the relay and on hyper's path, and
/// recorded as incomplete with what had arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_response_body_is_cut_off_and_recorded_incomplete() {
    for upstream in [Upstream::plain().await, Upstream::tls().await] {
        let config = ProxyConfig {
            body_timeout: Duration::from_millis(300),
            ..config_for(&upstream)
        };
        let proxy = RunningProxy::start(config).await;
        let started = std::time::Instant::now();
        let mut sse = plain_client(Http::One, |b| b)
            .get(proxy.url(&format!("/{}", upstream.url("/sse"))))
            .send()
            .await
            .unwrap();
        let mut got = Vec::new();
        let ended = tokio::time::timeout(WAIT, async {
            loop {
                match sse.chunk().await {
                    Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                    Ok(None) => return "end",
                    Err(_) => return "error",
                }
            }
        })
        .await
        .expect("the stalled body is cut off");
        // Cut short: the client sees an error, never a clean end.
        assert_eq!(ended, "error");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(got, SSE_ONE.as_bytes());
        let c = &proxy.recorder.wait_for(1).await[0];
        assert_eq!(
            c.exchange.meta.get("responseIncomplete"),
            Some(&json!(true))
        );
        let response = c.exchange.response.as_ref().unwrap();
        assert_eq!(response.body.as_deref(), Some(SSE_ONE.as_bytes()));
        proxy.shutdown().await;
    }
}

/// A client connection that sends nothing is closed after the idle
/// timeout, on a fresh connection and between requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_client_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = Upstream::plain().await;
    let config = ProxyConfig {
        idle_timeout: Duration::from_millis(300),
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    let mut silent = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), silent.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "a silent connection is closed");
    let mut after_one = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let request = format!(
        "GET /{} HTTP/1.1\r\nHost: proxy\r\n\r\n",
        upstream.url("/json")
    );
    after_one.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(3), after_one.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "an idle keep-alive connection is closed");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    proxy.shutdown().await;
}

/// A chunked upload with `Expect: 100-continue` is recorded whole when the
/// upstream reads it; when the upstream answers before reading it, the
/// recording says the body was not received (`requestBodyIncomplete`)
/// instead of passing an empty body off as what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_uploads_are_recorded_whole_or_marked_incomplete() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = Upstream::plain().await;
    let proxy = RunningProxy::start(config_for(&upstream)).await;
    let upload = |target: String| async move {
        let mut client = tokio::net::TcpStream::connect(proxy_addr_of(&target))
            .await
            .unwrap();
        let path = target.split_once(' ').unwrap().1.to_owned();
        let head = format!(
            "POST /{path} HTTP/1.1\r\nHost: proxy\r\nExpect: 100-continue\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        client.write_all(head.as_bytes()).await.unwrap();
        let mut first = [0u8; 256];
        let n = tokio::time::timeout(WAIT, client.read(&mut first))
            .await
            .unwrap()
            .unwrap();
        let first = String::from_utf8_lossy(&first[..n]).into_owned();
        if first.starts_with("HTTP/1.1 100") {
            let _ = client.write_all(b"5\r\nhello\r\n0\r\n\r\n").await;
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(WAIT, client.read_to_end(&mut rest)).await;
        format!("{first}{}", String::from_utf8_lossy(&rest))
    };
    fn proxy_addr_of(target: &str) -> String {
        target.split_once(' ').unwrap().0.to_owned()
    }

    // Read by the upstream: recorded whole.
    let answer = upload(format!("{} {}", proxy.addr, upstream.url("/echo"))).await;
    assert!(answer.contains("HTTP/1.1 200"), "{answer}");
    let c = &proxy.recorder.wait_for(1).await[0];
    assert_eq!(c.exchange.request.body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(c.exchange.meta.get("requestBodyIncomplete"), None);

    // Answered before reading: marked.
    let early = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let early_addr = early.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = early.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = stream.read(&mut head).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let answer = upload(format!("{} http://{early_addr}/upload", proxy.addr)).await;
    assert!(answer.contains("413"), "{answer}");
    let captured = proxy.recorder.wait_for(2).await;
    let c = &captured[1];
    assert_eq!(c.exchange.response.as_ref().unwrap().status, 413);
    assert_eq!(
        c.exchange.meta.get("requestBodyIncomplete"),
        Some(&json!(true)),
        "{:?}",
        c.exchange
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn ca_is_created_private_and_reloaded() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("nested").join("ca");
    let ca = CertificateAuthority::load_or_create(&ca_dir).unwrap();
    assert_eq!(ca.cert_path(), ca_dir.join("hmt-ca.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ca_dir.join("hmt-ca-key.pem")), 0o600);
        assert_eq!(mode(&ca_dir), 0o700);
    }
    let first = std::fs::read(ca.cert_path()).unwrap();
    let again = CertificateAuthority::load_or_create(&ca_dir).unwrap();
    assert_eq!(std::fs::read(again.cert_path()).unwrap(), first);
    assert_eq!(again.cert_der(), ca.cert_der());

    let a = again.server_config("api.example.com").unwrap();
    let b = again.server_config("API.example.com").unwrap();
    assert!(Arc::ptr_eq(&a, &b), "leaf configs are cached per host");
    assert_eq!(a.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    let ip = again.server_config("127.0.0.1").unwrap();
    assert!(!Arc::ptr_eq(&a, &ip));

    // A key that is not the certificate's is refused, and so is a CA
    // directory with only one of the two files.
    let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(ca_dir.join("hmt-ca-key.pem"), other_key).unwrap();
    let err = CertificateAuthority::load_or_create(&ca_dir).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    std::fs::remove_file(ca_dir.join("hmt-ca-key.pem")).unwrap();
    assert!(CertificateAuthority::load_or_create(&ca_dir).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_going_away_marks_the_response_incomplete() {
    let upstream = Upstream::plain().await;
    let proxy = RunningProxy::start(config_for(&upstream)).await;
    let url = proxy.url(&format!("/{}", upstream.url("/big")));
    for (n, http) in [Http::One, Http::Two].into_iter().enumerate() {
        let mut response = plain_client(http, |b| b).get(&url).send().await.unwrap();
        assert!(response.chunk().await.unwrap().is_some());
        drop(response);
        let captured = proxy.recorder.wait_for(n + 1).await;
        assert_eq!(captured.len(), n + 1, "{http:?}");
        let meta = &captured[n].exchange.meta;
        assert_eq!(meta["responseIncomplete"], true, "{http:?}: {meta:?}");
    }
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_responses_are_complete_and_via_is_added_on_request() {
    let upstream = Upstream::plain().await;
    let config = ProxyConfig {
        add_via: true,
        ..config_for(&upstream)
    };
    let proxy = RunningProxy::start(config).await;
    for (http, via) in [(Http::One, "1.1 hmt"), (Http::Two, "2 hmt")] {
        let client = plain_client(http, |b| b);
        let echo = client
            .get(proxy.url(&format!("/{}", upstream.url("/echo"))))
            .send()
            .await
            .unwrap();
        assert_eq!(
            echo.headers()["via"],
            "1.1 hmt",
            "the upstream spoke HTTP/1.1"
        );
        let echo: Value = serde_json::from_slice(&echo.bytes().await.unwrap()).unwrap();
        let vias: Vec<&str> = echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0] == "via")
            .map(|h| h[1].as_str().unwrap())
            .collect();
        assert_eq!(vias, [via]);

        let head = client
            .head(proxy.url(&format!("/{}", upstream.url("/json"))))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert!(head.bytes().await.unwrap().is_empty());
    }
    let captured = proxy.recorder.wait_for(4).await;
    assert_eq!(captured.len(), 4);
    for c in &captured {
        assert!(
            !c.exchange.meta.contains_key("responseIncomplete"),
            "{:?}",
            c.exchange.meta
        );
    }
    assert_eq!(captured[1].exchange.request.method, hmt_types::Method::Head);
    assert_eq!(captured[1].exchange.response.as_ref().unwrap().body, None);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_is_verified_unless_insecure() {
    let upstream = Upstream::tls().await;
    let path = format!("/{}", upstream.url("/json"));
    let strict = RunningProxy::start(ProxyConfig::default()).await;
    let response = plain_client(Http::One, |b| b)
        .get(strict.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let problem: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("certificate"),
        "{problem}"
    );
    strict.shutdown().await;

    let insecure = RunningProxy::start(ProxyConfig {
        insecure: true,
        ..ProxyConfig::default()
    })
    .await;
    let response = plain_client(Http::One, |b| b)
        .get(insecure.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    insecure.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_period_cuts_off_streams_that_do_not_end() {
    let upstream = Upstream::plain().await;
    let proxy =
        RunningProxy::start_with_grace(config_for(&upstream), Duration::from_millis(300)).await;
    let url = proxy.url(&format!("/{}", upstream.url("/sse")));
    let mut streams = Vec::new();
    for http in [Http::One, Http::Two] {
        let mut response = plain_client(http, |b| b).get(&url).send().await.unwrap();
        let first = tokio::time::timeout(WAIT, response.chunk())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.as_deref(), Some(SSE_ONE.as_bytes()));
        streams.push(response);
    }
    let recorder = proxy.recorder.clone();
    let report = proxy.shutdown().await;
    assert!(report.timed_out);
    let captured = recorder.wait_for(2).await;
    assert_eq!(captured.len(), 2);
    for c in &captured {
        assert_eq!(c.exchange.meta["responseIncomplete"], true);
        assert_eq!(
            c.exchange.response.as_ref().unwrap().body.as_deref(),
            Some(SSE_ONE.as_bytes())
        );
    }
    assert_eq!(report.exchanges, 2);
    drop(streams);
}

// ------------------------------------------------- raw HTTP/1.1 on the wire

/// Sends `bytes` on one connection to the proxy, then reads until the proxy
/// closes it (bounded).
async fn raw_exchange(proxy: SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the proxy closes the connection")
        .unwrap();
    String::from_utf8(received).unwrap()
}

/// Requests sent back to back on one connection are answered in order:
/// a chunked request body is forwarded and recorded decoded, repeated
/// response fields keep their case, and an HTTP/1.0 request in the middle
/// of the connection (handed over to the general path) is answered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_recorded() {
    let upstream = Upstream::plain().await;
    let proxy = RunningProxy::start(config_for(&upstream)).await;
    let up = upstream.url("");
    let requests = format!(
        "POST /{up}/echo HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\nX-Case: Kept\r\n\r\n\
         5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n\
         GET /{up}/json HTTP/1.1\r\nHost: proxy\r\n\r\n\
         GET /{up}/json HTTP/1.0\r\nHost: proxy\r\n\r\n"
    );
    let received = raw_exchange(proxy.addr, requests.as_bytes()).await;
    assert_eq!(
        received.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "{received}"
    );
    // hyper answers HTTP/1.0 in kind, and closes.
    assert_eq!(
        received.matches("HTTP/1.0 200 OK\r\n").count(),
        1,
        "{received}"
    );
    let echo_end = received.find("\r\n\r\n").unwrap();
    let echo = &received[echo_end + 4..];
    let echo: Value = serde_json::from_str(&echo[..echo.find('}').unwrap() + 1]).unwrap();
    assert_eq!(echo["body"], "hello world");
    assert_eq!(echo["host"], upstream.authority());
    assert!(
        echo["headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["x-case", "Kept"])),
        "{echo}"
    );
    assert_eq!(received.matches("set-cookie: a=1; Path=/").count(), 2);

    let captured = proxy.recorder.wait_for(3).await;
    assert_eq!(captured.len(), 3);
    let paths: Vec<_> = captured
        .iter()
        .map(|c| c.exchange.request.path().to_owned())
        .collect();
    assert_eq!(paths, ["/echo", "/json", "/json"]);
    assert_eq!(
        captured[0].exchange.request.body.as_deref(),
        Some(&b"hello world"[..])
    );
    for c in &captured {
        assert!(c.exchange.meta.get("responseIncomplete").is_none(), "{c:?}");
    }
    proxy.shutdown().await;
}

/// An upstream that answers each request with a fixed script, by path,
/// and counts its connections.
async fn scripted_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let mut chunk = [0; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end);
                    let path = head.split(' ').nth(1).unwrap_or_default();
                    if path == "/ws" {
                        // Switches only when asked as a client would ask.
                        if !head.contains("\r\nUpgrade: websocket\r\n")
                            || !head.contains("\r\nConnection: upgrade\r\n")
                        {
                            let _ = stream
                                .write_all(
                                    b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
                                )
                                .await;
                            continue;
                        }
                        let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                                       Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhi";
                        if stream.write_all(switch).await.is_err() {
                            return;
                        }
                        // Then echoes whatever comes, upper-cased.
                        let (mut rx, mut tx) = stream.split();
                        let _ = tx.write_all(&buf.to_ascii_uppercase()).await;
                        let mut chunk = [0; 4096];
                        while let Ok(n @ 1..) = rx.read(&mut chunk).await {
                            if tx
                                .write_all(&chunk[..n].to_ascii_uppercase())
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                        return;
                    }
                    if path == "/hang" {
                        // Never answers; waits for the proxy to give up.
                        let _ = stream.read(&mut [0; 1]).await;
                        return;
                    }
                    let (reply, close): (&[u8], bool) = match path {
                        "/close" => (
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
                            true,
                        ),
                        "/early" => (
                            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                              HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                            false,
                        ),
                        "/trailers" => (
                            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                              3\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 1\r\n\r\n",
                            false,
                        ),
                        _ => (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkeep", false),
                    };
                    if stream.write_all(reply).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

/// A proxy with `--target` the scripted upstream, and the count of the
/// upstream's connections.
async fn proxy_to_scripted_upstream() -> (RunningProxy, Arc<AtomicUsize>) {
    let (upstream, connections) = scripted_upstream().await;
    let proxy = RunningProxy::start(ProxyConfig {
        routing: Routing::Target(format!("http://{upstream}").parse().unwrap()),
        ..ProxyConfig::default()
    })
    .await;
    (proxy, connections)
}

/// Responses that end when the upstream closes, interim 1xx responses and
/// chunked bodies with trailers reach the client whole and are recorded
/// complete; one upstream connection carries a client connection's
/// requests while the upstream keeps it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delimited_interim_and_chunked_responses_are_relayed_whole() {
    let (proxy, connections) = proxy_to_scripted_upstream().await;
    let requests = "GET /keep HTTP/1.1\r\nHost: p\r\n\r\n\
                    GET /trailers HTTP/1.1\r\nHost: p\r\n\r\n\
                    GET /early HTTP/1.1\r\nHost: p\r\n\r\n\
                    GET /keep HTTP/1.1\r\nHost: p\r\n\r\n\
                    GET /close HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n";
    let received = raw_exchange(proxy.addr, requests.as_bytes()).await;
    assert_eq!(
        received,
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkeep\
         HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 1\r\n\r\n\
         HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\
         HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkeep\
         HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         d\r\nuntil the end\r\n0\r\n\r\n"
    );
    // All five went over one upstream connection (the upstream closed it
    // after the last).
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    let captured = proxy.recorder.wait_for(5).await;
    let bodies: Vec<_> = captured
        .iter()
        .map(|c| {
            assert!(c.exchange.meta.get("responseIncomplete").is_none(), "{c:?}");
            let response = c.exchange.response.as_ref().unwrap();
            String::from_utf8_lossy(response.body.as_deref().unwrap_or_default()).into_owned()
        })
        .collect();
    assert_eq!(bodies, ["keep", "abcde", "ok", "keep", "until the end"]);
    proxy.shutdown().await;
}

/// A client that leaves while the upstream is still working is recorded
/// as such: the request, no response, `meta.clientAborted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_before_the_response_is_recorded_as_aborted() {
    use tokio::io::AsyncWriteExt;
    let (proxy, _) = proxy_to_scripted_upstream().await;
    let mut client = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    client
        .write_all(b"POST /hang HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.recorder.len(), 0, "recorded before the client left");
    drop(client);
    let captured = proxy.recorder.wait_for(1).await;
    assert_eq!(captured.len(), 1);
    let exchange = &captured[0].exchange;
    assert_eq!(exchange.meta["clientAborted"], true, "{exchange:?}");
    assert!(exchange.response.is_none());
    assert_eq!(exchange.request.body.as_deref(), Some(&b"hello"[..]));
    proxy.shutdown().await;
}

/// A WebSocket handshake goes through with its `Upgrade` and `Connection`
/// fields; after the upstream's `101` the bytes flow both ways untouched,
/// and the handshake is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_switch_the_connection_to_a_tunnel_after_101() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (proxy, _) = proxy_to_scripted_upstream().await;
    let mut client = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    client
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: p\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhi";
    let mut received = vec![0; expected.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut received))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&received), expected);
    for message in ["frame one", "frame two"] {
        client.write_all(message.as_bytes()).await.unwrap();
        let mut echo = vec![0; message.len()];
        tokio::time::timeout(WAIT, client.read_exact(&mut echo))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echo, message.to_ascii_uppercase().as_bytes());
    }
    let captured = proxy.recorder.wait_for(1).await;
    assert_eq!(captured.len(), 1);
    let exchange = &captured[0].exchange;
    assert_eq!(exchange.response.as_ref().unwrap().status, 101);
    assert_eq!(
        exchange.request.headers.get_all_ignore_case("upgrade"),
        ["websocket"]
    );
    drop(client);
    proxy.shutdown().await;
}
