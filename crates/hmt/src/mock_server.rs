//! A mock server started by a test: [`MockServer`] and its [`Builder`].
//!
//! The server runs on a thread of its own with its own runtime, as
//! wiremock-rs's does, for two reasons: a test's runtime may be
//! single-threaded (`#[tokio::test]`) or absent (a plain `#[test]`), and
//! dropping the server must close its port before `drop` returns, which
//! needs a thread to join rather than a task to hope about.

use crate::sources::Sources;
use anyhow::{Context, Result};
use bytes::Bytes;
use hmt_mock::body::Body;
use hmt_mock::{Mock, MockConfig};
use hmt_stub::{CompileOptions, Stub, Stubs};
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A mock server on 127.0.0.1 and a free port, stopped when dropped.
///
/// Stubs added with [`MockServer::register`] answer first; then recorded
/// exchanges; then the specs' documented responses. Stubs given an
/// expectation ([`Stub::expect`]) are checked by [`MockServer::verify`]
/// and when the server is dropped.
pub struct MockServer {
    mock: Arc<Mock>,
    address: SocketAddr,
    scheme: &'static str,
    ca_pem: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Keeps the CA's directory while the server runs.
    _ca_dir: Option<tempfile::TempDir>,
}

/// What a [`MockServer`] serves and how; [`Builder::start`] starts it.
#[derive(Default)]
pub struct Builder {
    sources: Sources,
    imposters: Vec<Value>,
    config: MockConfig,
    https: bool,
    intercept: bool,
    seeds: Vec<(String, Vec<Value>)>,
}

impl Builder {
    /// Serves this OpenAPI spec: a file or a directory searched for specs.
    pub fn spec(mut self, path: impl Into<PathBuf>) -> Builder {
        self.sources.specs.push(path.into());
        self
    }

    /// Serves a spec given as text (JSON or YAML).
    pub fn spec_text(mut self, text: &str) -> Builder {
        let name = format!("<spec {}>", self.sources.spec_texts.len() + 1);
        self.sources.spec_texts.push((name, text.to_string()));
        self
    }

    /// Replays these recordings (http-types JSONL or HAR) exactly. With
    /// [`Builder::stateful`], they also seed the store with what they show
    /// the upstream held at their end (see the README's "Stateful mocks").
    pub fn recordings(mut self, path: impl Into<PathBuf>) -> Builder {
        self.sources.recordings.push(path.into());
        self
    }

    /// Runs the callback scripts of this directory (Rhai).
    pub fn callbacks(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.sources.callbacks = Some(dir.into());
        self
    }

    /// Adds the stubs of a mountebank imposter (`{"stubs": [...],
    /// "defaultResponse": {...}}`), as data.
    pub fn imposter(mut self, imposter: Value) -> Builder {
        self.imposters.push(imposter);
        self
    }

    /// Generated data from this seed: the same request gets the same bytes.
    pub fn seed(mut self, seed: u64) -> Builder {
        self.config.seed = Some(seed);
        self
    }

    /// Waits before every answer: `"300"` ms, or `"100-500"` for a random time.
    ///
    /// # Panics
    /// When `delay` does not parse.
    pub fn delay(mut self, delay: &str) -> Builder {
        match hmt_mock::faults::DelayRange::parse(delay) {
            Ok(range) => self.config.delay = Some(range),
            Err(error) => panic!("MockServer::builder().delay: {error}"),
        }
        self
    }

    /// Serves the specs as a stateful emulator: a `POST` to a collection
    /// stores its body, `GET`, `PUT`, `PATCH` and `DELETE` on an item act
    /// on what is stored (see the README's "Stateful mocks").
    pub fn stateful(mut self) -> Builder {
        self.sources.stateful = true;
        self
    }

    /// Objects the stateful store starts with, in a collection such as
    /// `/pets` or `/users/1/orders`. Implies [`Builder::stateful`]. They
    /// are part of the seed that [`MockServer::reset_state`] restores,
    /// with the specs' list examples and the recordings.
    pub fn state(mut self, collection: &str, objects: Vec<Value>) -> Builder {
        self.sources.stateful = true;
        self.seeds.push((collection.to_string(), objects));
        self
    }

    /// Replays recorded responses after the latency they were recorded
    /// with.
    pub fn recorded_latency(mut self) -> Builder {
        self.config.recorded_latency = true;
        self
    }

    /// Any other setting of the mock (validation, security, CORS...).
    pub fn config(mut self, change: impl FnOnce(&mut MockConfig)) -> Builder {
        change(&mut self.config);
        self
    }

    /// Serves HTTPS with a certificate for 127.0.0.1 from a CA of its
    /// own; hand [`MockServer::ca_pem`] to the client.
    pub fn https(mut self) -> Builder {
        self.https = true;
        self
    }

    /// Also acts as the target of `HTTPS_PROXY`: a `CONNECT` tunnel is
    /// answered with a certificate for the host it names, from the
    /// server's CA (hand [`MockServer::ca_pem`] to the client), and the
    /// requests inside it are served like any other, so a client that
    /// cannot change its base URL reaches the mock for any hostname.
    /// (`HTTP_PROXY` needs nothing: plain proxied requests are served
    /// anyway.) Stubs can match the host with [`crate::matchers::host`].
    pub fn intercept_https(mut self) -> Builder {
        self.intercept = true;
        self
    }

    /// Starts the server.
    ///
    /// # Errors
    /// When a spec, recording, callback or imposter cannot be loaded, or
    /// no port can be opened; the message says which and where.
    pub async fn start(self) -> Result<MockServer> {
        self.start_blocking()
    }

    /// [`Builder::start`] for tests without a runtime.
    ///
    /// # Errors
    /// As [`Builder::start`].
    pub fn start_blocking(self) -> Result<MockServer> {
        let loaded = self.sources.load()?;
        for (collection, objects) in self.seeds {
            seed(&loaded, &collection, objects)?;
        }
        let mock = Arc::new(Mock::new(self.config, loaded)?);
        for (index, imposter) in self.imposters.iter().enumerate() {
            let defaults = imposter
                .get("defaultResponse")
                .cloned()
                .unwrap_or(Value::Object(Default::default()));
            let stubs = imposter.get("stubs").unwrap_or(&Value::Null);
            let compiled =
                Stubs::from_json(stubs, defaults, &CompileOptions::default()).map_err(|error| {
                    anyhow::anyhow!("imposter {index}: at {}: {}", error.pointer, error.message)
                })?;
            mock.with_stubs(|all| all.append(compiled));
        }
        let (ca, ca_pem, ca_dir) = if self.https || self.intercept {
            let dir = tempfile::tempdir().context("cannot create a directory for the CA")?;
            let ca = hmt_record::CertificateAuthority::load_or_create(dir.path())?;
            let pem = std::fs::read_to_string(ca.cert_path())?;
            (Some(Arc::new(ca)), Some(pem), Some(dir))
        } else {
            (None, None, None)
        };
        let tls = match (&ca, self.https) {
            (Some(ca), true) => Some(tokio_rustls::TlsAcceptor::from(
                ca.server_config("127.0.0.1")?,
            )),
            _ => None,
        };
        let tunnels = if self.intercept { ca } else { None };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot open a port on 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let served = mock.clone();
        let thread = std::thread::Builder::new()
            .name(format!("hmt-mock-{}", address.port()))
            .spawn(move || {
                // One worker per CPU the process may use (taskset limits it).
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => {
                            let _ = ready.send(Err(error));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    let stopped = async move {
                        let _ = stopped.await;
                    };
                    serve_with(
                        listener,
                        served,
                        tls,
                        tunnels,
                        stopped,
                        Duration::from_secs(1),
                    )
                    .await;
                });
            })?;
        is_ready
            .recv()
            .context("the server thread ended before it was ready")??;
        Ok(MockServer {
            mock,
            address,
            scheme: if self.https { "https" } else { "http" },
            ca_pem,
            stop: Some(stop),
            thread: Some(thread),
            _ca_dir: ca_dir,
        })
    }
}

/// Puts `objects` in the store that has `collection`.
fn seed(loaded: &hmt_mock::Loaded, collection: &str, objects: Vec<Value>) -> Result<()> {
    let mut refusals = Vec::new();
    for (spec, store) in loaded.stores() {
        match store.seed(collection, objects.clone()) {
            Ok(_) => return Ok(()),
            Err(error) => refusals.push(format!("{}: {error}", spec.title)),
        }
    }
    anyhow::bail!("cannot seed {collection}: {}", refusals.join("; "))
}

/// Serves `mock` on `listener` until `shutdown`, then lets open
/// connections finish for up to `grace`: what a [`MockServer`] runs on its
/// thread, and what `hmt mock` runs on its port, so that both serve the
/// same way. Connections idle for the mock's
/// [`idle_timeout`](MockConfig::idle_timeout) are closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mock: Arc<Mock>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    serve_with(listener, mock, None, None, shutdown, grace).await;
}

/// [`serve`], through TLS when `tls` is given, and answering `CONNECT`
/// with certificates from `tunnels` when it is given.
async fn serve_with(
    listener: tokio::net::TcpListener,
    mock: Arc<Mock>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tunnels: Option<Arc<hmt_record::CertificateAuthority>>,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let idle = mock.config().idle_timeout;
    let handler = Arc::new(move |request: http::Request<hyper::body::Incoming>| {
        let mock = mock.clone();
        let tunnels = tunnels.clone();
        async move {
            match tunnels {
                Some(ca) if request.method() == http::Method::CONNECT => tunnel(request, ca, mock),
                _ => mock.handle(request).await,
            }
        }
    });
    match tls {
        None => hmt_mock::listen::serve(listener, handler, shutdown, grace, idle).await,
        Some(acceptor) => {
            let accept: hmt_mock::listen::Accept<
                tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
            > = Arc::new(move |stream| {
                let acceptor = acceptor.clone();
                Box::pin(async move {
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                        .ok()?
                        .ok()
                })
            });
            hmt_mock::listen::serve_with(listener, accept, handler, shutdown, grace, idle).await;
        }
    }
}

/// Answers a `CONNECT`: 200, then TLS with a certificate for the host it
/// names, and the mock serving what comes through.
fn tunnel(
    request: http::Request<hyper::body::Incoming>,
    ca: Arc<hmt_record::CertificateAuthority>,
    mock: Arc<Mock>,
) -> http::Response<Body> {
    let Some(host) = request.uri().host().map(str::to_owned) else {
        let mut response = http::Response::new(Body::new("CONNECT needs host:port"));
        *response.status_mut() = http::StatusCode::BAD_REQUEST;
        return response;
    };
    let config = match ca.server_config(&host) {
        Ok(config) => config,
        Err(error) => {
            let mut response =
                http::Response::new(Body::new(format!("no certificate for {host}: {error}")));
            *response.status_mut() = http::StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    // Faults answered inside the tunnel break the client's TCP connection
    // under it, as they would a plain one; the tunnel's connection is
    // closed when idle, as the port's are.
    let faults = request
        .extensions()
        .get::<hmt_mock::listen::ConnectionFaults>()
        .cloned();
    let peer = request
        .extensions()
        .get::<hmt_mock::listen::Peer>()
        .copied();
    let idle = mock.config().idle_timeout;
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!("CONNECT to {host} not upgraded: {error}"),
        };
        let accepted = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_rustls::TlsAcceptor::from(config).accept(hyper_util::rt::TokioIo::new(upgraded)),
        )
        .await;
        let Ok(Ok(stream)) = accepted else {
            return tracing::debug!("TLS inside the CONNECT to {host} failed");
        };
        let watch = hmt_mock::listen::IdleWatch::new(idle);
        let service = {
            let watch = watch.clone();
            hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                let (mock, faults) = (mock.clone(), faults.clone());
                if let Some(peer) = peer {
                    request.extensions_mut().insert(peer);
                }
                let answering = watch.answering();
                async move {
                    let response = mock.handle(request).await;
                    if let (Some(fault), Some(faults)) =
                        (response.extensions().get::<hmt_stub::Fault>(), &faults)
                    {
                        faults.0.arm(*fault);
                    }
                    Ok::<_, std::convert::Infallible>(answering.until_sent(response))
                }
            })
        };
        let mut server =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        server
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(idle);
        let connection =
            server.serve_connection(hyper_util::rt::TokioIo::new(watch.stream(stream)), service);
        let client = peer.map_or_else(
            || std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            |hmt_mock::listen::Peer(address)| address,
        );
        if let Some(Err(error)) = watch.drive(connection, client).await {
            tracing::debug!("tunnel to {host} ended: {error}");
        }
    });
    http::Response::new(Body::empty())
}

/// The report of [`MockServer::check`]: the stubs whose expected number of
/// requests was not met, each with the requests that came nearest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} of the mock server's expectations {} not met:\n\n{}",
    failures.len(),
    if failures.len() == 1 { "was" } else { "were" },
    failures.join("\n")
)]
pub struct UnmetExpectations {
    /// One paragraph per unmet expectation, in stub order.
    pub failures: Vec<String>,
}

impl MockServer {
    /// A server with nothing but the stubs the test adds: every request no
    /// stub answers gets a 404.
    ///
    /// # Panics
    /// When no port can be opened on 127.0.0.1.
    pub async fn start() -> MockServer {
        MockServer::start_blocking()
    }

    /// [`MockServer::start`] for tests without a runtime.
    ///
    /// # Panics
    /// When no port can be opened on 127.0.0.1.
    pub fn start_blocking() -> MockServer {
        match Builder::default().start_blocking() {
            Ok(server) => server,
            Err(error) => panic!("cannot start a mock server: {error:#}"),
        }
    }

    /// A server serving specs, recordings or imposters: see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT` (or `https://`).
    pub fn uri(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The PEM of the CA that signed an HTTPS server's certificate, for
    /// the client to trust; `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Adds a stub; stubs are tried in the order they were added.
    pub fn register(&self, stub: Stub) {
        self.mock.with_stubs(|stubs| stubs.push(stub));
    }

    /// Removes every stub, forgets every request received, and puts the
    /// stateful store back to its seed.
    pub fn reset(&self) {
        self.mock.with_stubs(|stubs| stubs.retain(|_| false));
        self.mock.clear_journal();
        self.mock.reset();
    }

    /// The requests received (with what was answered), oldest first, as
    /// http-types exchanges.
    pub fn received_requests(&self) -> Vec<hmt_types::Exchange> {
        self.mock.journal()
    }

    /// What the stateful store holds, by spec title then collection
    /// (`{}` when the server is not stateful).
    pub fn state(&self) -> Value {
        Value::Object(
            self.mock
                .loaded()
                .stores()
                .map(|(spec, store)| (spec.title.clone(), store.to_json()))
                .collect(),
        )
    }

    /// Puts the stateful store back to its seed: the specs' list
    /// examples, the recordings and [`Builder::state`], with id sequences
    /// as they were after start-up. Stubs and the journal are kept.
    pub fn reset_state(&self) {
        self.mock.loaded().reset_state();
    }

    /// Empties the stateful store; [`MockServer::reset_state`] still
    /// restores the seed afterwards.
    pub fn empty_state(&self) {
        self.mock.loaded().clear_state();
    }

    /// What the stateful store holds as http-types exchanges, one `POST`
    /// of each object to its collection answered 201 with it, by
    /// collection then id: write them with
    /// [`hmt_types::Exchange::to_json_line`] and hand the file to
    /// [`Builder::recordings`] of a stateful server to start from the same
    /// objects.
    pub fn state_http_types(&self) -> Vec<hmt_types::Exchange> {
        self.mock.loaded().state_http_types()
    }

    /// Checks every stub's expectation.
    ///
    /// # Panics
    /// With a report of each stub that was not called as often as it
    /// expected, and for each the received requests that came closest and
    /// why each missed.
    pub fn verify(&self) {
        if let Err(report) = self.check() {
            panic!("{report}");
        }
    }

    /// What [`MockServer::verify`] checks: `Err` holds its report.
    ///
    /// # Errors
    /// The report, when an expectation is not met.
    pub fn check(&self) -> std::result::Result<(), UnmetExpectations> {
        let received: Vec<hmt_stub::Request> = self
            .received_requests()
            .iter()
            .map(|exchange| stub_request(&exchange.request))
            .collect();
        let failures = self.mock.with_stubs(|stubs| {
            stubs
                .iter()
                .enumerate()
                .filter_map(|(index, stub)| {
                    let expected = stub.expected()?;
                    let hits = stub.hits();
                    (!expected.contains(hits)).then(|| failure(index, stub, hits, &received))
                })
                .collect::<Vec<String>>()
        });
        if failures.is_empty() {
            Ok(())
        } else {
            Err(UnmetExpectations { failures })
        }
    }

    /// Answers `request` as the server would, without a socket: the mock's
    /// whole request path, journal included.
    pub async fn call(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let (parts, body) = request.into_parts();
        let response = self.mock.answer(parts, body, SystemTime::now()).await;
        let (parts, body) = response.into_parts();
        let bytes = collect(body).await;
        http::Response::from_parts(parts, bytes)
    }

    /// Stops the server now (as dropping it does) and checks expectations.
    ///
    /// # Panics
    /// As [`MockServer::verify`].
    pub fn stop(mut self) {
        self.shut_down();
        self.verify();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shut_down();
        // A test that already fails says so itself; a second panic would
        // abort the process.
        if !std::thread::panicking()
            && let Err(report) = self.check()
        {
            panic!("{report}");
        }
    }
}

async fn collect(body: Body) -> Bytes {
    match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

/// A journal request as stubs see it.
fn stub_request(request: &hmt_types::Request) -> hmt_stub::Request {
    let mut stub = hmt_stub::Request::new(request.method.as_str(), &request.path());
    for (name, values) in request.headers.iter() {
        for value in values {
            stub = stub.with_header(name, value);
        }
    }
    match &request.body {
        Some(body) => stub.with_body(String::from_utf8_lossy(body).into_owned()),
        None => stub,
    }
}

/// One unmet expectation: the stub, how often it answered, and the
/// received requests nearest to it with why each missed.
fn failure(index: usize, stub: &Stub, hits: u64, received: &[hmt_stub::Request]) -> String {
    let name = match stub.name() {
        Some(name) => format!("stub {index} ({name})"),
        None => format!("stub {index}"),
    };
    let expected = stub.expected().map(|t| t.to_string()).unwrap_or_default();
    let mut report = format!(
        "- {name} expected {expected} request{}, got {hits}.\n",
        if expected.ends_with(" 1") { "" } else { "s" }
    );
    let mut nearest: Vec<(usize, &hmt_stub::Request, Vec<String>)> = received
        .iter()
        .enumerate()
        .map(|(at, request)| {
            let why: Vec<String> = stub
                .explain(request)
                .into_iter()
                .map(|(_, why)| why)
                .collect();
            (at, request, why)
        })
        .filter(|(_, _, why)| !why.is_empty())
        .collect();
    nearest.sort_by_key(|(at, _, why)| (why.len(), *at));
    if received.is_empty() {
        report.push_str("  The server received no requests.\n");
    } else if nearest.is_empty() {
        report.push_str("  Every request it received matched it.\n");
    } else {
        report.push_str("  Nearest requests received:\n");
        for (_, request, why) in nearest.iter().take(3) {
            report.push_str(&format!(
                "    {} {}: {}\n",
                request.method,
                request.target(),
                why.join("; ")
            ));
        }
    }
    report
}
