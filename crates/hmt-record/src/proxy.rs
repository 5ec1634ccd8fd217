//! The recording proxy: one listener, HTTP/1.1 and HTTP/2, every request
//! forwarded unchanged and captured on the way.
//!
//! A request's way, top to bottom in this file:
//!
//! 1. [`Proxy::serve`] accepts a connection and gives it to the HTTP/1.1
//!    fast path (`relay`), which relays plain HTTP/1.1 exchanges with
//!    plain-HTTP upstreams itself and hands the connection over to
//!    `serve_connection` at the first request it does not handle. That
//!    serves HTTP with hyper, HTTP/1.1 or HTTP/2 as the client speaks, and
//!    is what the rest of this list describes.
//! 2. `handle` takes each request. `CONNECT` goes to `connect`, which
//!    either terminates TLS with a leaf from the local CA and serves the
//!    requests inside like any other (`intercept`), or copies bytes both
//!    ways untouched (`tunnel`). Everything else is routed
//!    (`route::resolve`) to its upstream URL.
//! 3. `forward` sends it there: hop-by-hop headers dropped, `Host` set to
//!    the upstream, the body streamed through a `RequestTap` that keeps a
//!    bounded copy.
//! 4. `respond` streams the upstream's response back through a
//!    `ResponseTap`, which, once the body has been delivered (or the client
//!    went away), hands the captured exchange to the [`OnExchange`] handler.
//!    When the upstream gave no response, the client gets a 502 or 504
//!    problem document, and the handler gets that exchange too.
//! 5. When `shutdown` resolves, the listener closes, connections finish
//!    their requests, and `serve` returns what happened.

use crate::ca::CertificateAuthority;
use crate::capture::{AbandonGuard, Arrival, OnExchange, Pending, RequestTap, ResponseTap, fields};
use crate::destination::{Destinations, connect_tcp};
use crate::framing::{Refusal, RequestFraming};
use crate::gate::{self, Gated};
use crate::hop;
use crate::relay;
use crate::route::{self, Origin, Routing, SCHEME_HEADER, Target};
use crate::shutdown::{Lifecycle, Phase, Watch};
use crate::stall::Stalling;
use crate::upstream::{Reuse, Upstream, UpstreamBody, UpstreamError, Upstreams};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderValue, VIA};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// How the proxy routes, intercepts and forwards.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// How non-proxy requests find their upstream.
    pub routing: Routing,
    /// `Some`: CONNECT is intercepted (TLS terminated with a leaf from this
    /// CA, requests inside recorded); `None`: CONNECT is tunnelled.
    pub ca: Option<Arc<CertificateAuthority>>,
    /// Hosts (exact, or `*.example.com` for any subdomain) tunnelled
    /// untouched even with a CA.
    pub no_intercept: Vec<String>,
    /// Don't verify upstream TLS certificates.
    pub insecure: bool,
    /// Extra PEM CA files to trust for upstreams.
    pub upstream_ca: Vec<PathBuf>,
    /// Limit on connecting to an upstream (TCP).
    pub connect_timeout: Duration,
    /// Limit from sending a request to receiving the response headers.
    pub response_timeout: Duration,
    /// How long a client connection may sit idle between requests, or take
    /// to send a request head, before it is closed.
    pub idle_timeout: Duration,
    /// How long a request or response body may go without a byte before
    /// the exchange is cut off (recorded `responseIncomplete`).
    pub body_timeout: Duration,
    /// Capture cap per body; never limits forwarding.
    pub max_body_bytes: usize,
    /// Add `Via: <version> hmt` to forwarded requests and responses.
    pub add_via: bool,
    /// Globs of the hosts requests may go to (`host` or `host:port`);
    /// empty allows every host.
    pub allow_hosts: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            routing: Routing::Path,
            ca: None,
            no_intercept: Vec::new(),
            insecure: false,
            upstream_ca: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
            add_via: false,
            allow_hosts: Vec::new(),
        }
    }
}

/// What a [`Proxy::serve`] run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServeReport {
    /// Exchanges handed to the handler.
    pub exchanges: u64,
    /// Requests the proxy answered with an error itself (400 unroutable,
    /// 502 upstream failed, 504 upstream too slow), and CONNECTs whose
    /// tunnel or TLS handshake failed.
    pub errors: u64,
    /// Work was still in flight when the grace period ran out, and was cut
    /// off.
    pub timed_out: bool,
}

/// Why the proxy could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// An `upstream_ca` file could not be used.
    #[error("{path}: {message}")]
    UpstreamCa {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The TLS client could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listener failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Response bodies going to the client.
type ProxyBody = UpstreamBody;

/// The recording proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    lifecycle: Lifecycle,
}

/// What every connection shares.
pub(crate) struct Shared {
    pub config: ProxyConfig,
    upstream: Upstream,
    pub handler: Arc<dyn OnExchange>,
    server: auto::Builder<TokioExecutor>,
    pub exchanges: Arc<AtomicU64>,
    pub errors: AtomicU64,
    /// Where requests may go (`--allow-host`, the loop guard).
    pub destinations: Arc<Destinations>,
}

/// What a request needs to know about its connection.
struct Conn {
    origin: Origin,
    watch: Watch,
    /// Its upstream connections, run by its task.
    upstreams: Upstreams,
}

impl Proxy {
    /// A proxy with `config`, handing every captured exchange to `handler`.
    pub fn new(config: ProxyConfig, handler: Arc<dyn OnExchange>) -> Result<Proxy, ProxyError> {
        // The process-wide default matters to other rustls users (clients
        // built without a provider); it may already be installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Routing::Target(base) = &config.routing {
            route::check_base(base).map_err(ProxyError::Config)?;
        }
        let destinations =
            Arc::new(Destinations::new(&config.allow_hosts).map_err(ProxyError::Config)?);
        let upstream = Upstream::new(
            &config,
            Arc::new(rustls::crypto::ring::default_provider()),
            destinations.clone(),
        )?;
        let mut server = auto::Builder::new(TokioExecutor::new());
        server
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.idle_timeout)
            .preserve_header_case(true)
            .auto_date_header(false);
        server
            .http2()
            .timer(TokioTimer::new())
            .auto_date_header(false);
        Ok(Proxy {
            shared: Arc::new(Shared {
                config,
                upstream,
                handler,
                server,
                exchanges: Arc::new(AtomicU64::new(0)),
                errors: AtomicU64::new(0),
                destinations,
            }),
            lifecycle: Lifecycle::new(),
        })
    }

    /// Serve until `shutdown` resolves; then stop accepting, let in-flight
    /// exchanges finish for up to `grace`, return counts.
    ///
    /// On shutdown the listener is closed at once (new connections are
    /// refused), idle connections close, busy ones finish their current
    /// exchanges (HTTP/2 gets a GOAWAY) and the handler has been called for
    /// each before this returns. Blind CONNECT tunnels cannot be asked to
    /// finish, so they run until they end or `grace` is over. Whatever is
    /// still running then is cut off; its exchanges are handed over marked
    /// `responseIncomplete`, and the report says `timed_out`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<ServeReport, ProxyError> {
        let Proxy { shared, lifecycle } = self;
        let listen_addr = listener.local_addr()?;
        shared.destinations.listening_on(listen_addr);
        tokio::pin!(shutdown);
        // A spell of failing accepts (out of file handles), logged when it
        // starts and when it is over, not for each failure: retrying every
        // few milliseconds would flood the log. At the limit, accepts
        // alternate between failing and working as connections close, so
        // the spell is over only once none has failed for `ACCEPT_CALM`.
        struct Refusing {
            since: tokio::time::Instant,
            last: tokio::time::Instant,
            failures: u64,
        }
        const ACCEPT_RETRY: Duration = Duration::from_millis(50);
        const ACCEPT_CALM: Duration = Duration::from_secs(1);
        let mut refusing: Option<Refusing> = None;
        loop {
            let calm = async {
                match &refusing {
                    Some(r) => tokio::time::sleep_until(r.last + ACCEPT_CALM).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = calm => if let Some(r) = refusing.take() {
                    tracing::info!(
                        "accepting connections again, after {} failed accept{} over {:.1?}",
                        r.failures,
                        if r.failures == 1 { "" } else { "s" },
                        r.last.duration_since(r.since)
                    );
                },
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let origin = Origin {
                            local_addr: stream.local_addr().unwrap_or(listen_addr),
                            intercepted: None,
                        };
                        let watch = lifecycle.watch();
                        tokio::spawn(relay::serve(shared.clone(), stream, origin, watch));
                    }
                    Err(e) => {
                        // Out of file handles (EMFILE, ENFILE) and the
                        // like: the connections already accepted are still
                        // served, and as they close, handles free up. The
                        // waiting client stays in the listen queue, so
                        // retry, without spinning.
                        let now = tokio::time::Instant::now();
                        match &mut refusing {
                            Some(r) => {
                                r.failures += 1;
                                r.last = now;
                            }
                            None => {
                                tracing::warn!(
                                    "cannot accept connections: {e} (the connections already \
                                     open are still served; retrying every {ACCEPT_RETRY:?})"
                                );
                                refusing = Some(Refusing { since: now, last: now, failures: 1 });
                            }
                        }
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                },
            }
        }
        drop(listener);
        let finished = lifecycle.drain(grace).await;
        Ok(ServeReport {
            exchanges: shared.exchanges.load(Ordering::Relaxed),
            errors: shared.errors.load(Ordering::Relaxed),
            timed_out: !finished,
        })
    }
}

/// Serves HTTP/1.1 or HTTP/2 on one connection (a TCP stream, or the TLS
/// stream inside an intercepted CONNECT) until it closes or the proxy stops.
pub(crate) async fn serve_connection<I>(
    shared: Arc<Shared>,
    io: I,
    origin: Origin,
    mut watch: Watch,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (upstreams, driver) = Upstreams::new();
    let conn = Arc::new(Conn {
        origin,
        watch: watch.clone(),
        upstreams,
    });
    let service_shared = shared.clone();
    let service = service_fn(move |request| {
        let shared = service_shared.clone();
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(handle(shared, conn, request).await) }
    });
    let connection = shared
        .server
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    let serve = async {
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            () = watch.reached(Phase::Draining) => {
                connection.as_mut().graceful_shutdown();
                tokio::select! {
                    result = connection.as_mut() => result,
                    () = watch.reached(Phase::Abort) => Ok(()),
                }
            }
        }
    };
    // The upstream connections run alongside, in this task, and close with
    // the client connection.
    let result = driver.run(serve).await;
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// One request: CONNECT, or routed and forwarded.
///
/// Boxed with its `Send` bound spelled out: an intercepted CONNECT serves
/// connections that call this again, and the compiler cannot see through
/// that cycle of opaque futures.
fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    request: Request<Incoming>,
) -> Pin<Box<dyn Future<Output = Response<ProxyBody>> + Send>> {
    Box::pin(async move {
        let arrival = Arrival::now();
        if let Some(refusal) = gate::refusal_of(request.headers()) {
            return refused(&shared, &refusal).0;
        }
        if request.method() == Method::CONNECT {
            return connect(&shared, &conn, request).await;
        }
        if let Err(refusal) = check_framing(&request) {
            return refused(&shared, &refusal).0;
        }
        let routed = route::resolve(
            &shared.config.routing,
            &conn.origin,
            request.version(),
            request.uri(),
            request.headers(),
        );
        match routed {
            Ok(target) => forward(&shared, &conn, request, target, arrival).await,
            Err(e) => routing_failed(&shared, &e.0),
        }
    })
}

/// The framing checks of the relay (`framing.rs`), on a request hyper has
/// parsed. hyper re-frames every body it forwards, so this path cannot be
/// made to smuggle; the checks make both paths refuse the same requests.
fn check_framing(request: &Request<Incoming>) -> Result<(), Refusal> {
    let mut framing = RequestFraming::default();
    for (name, value) in request.headers() {
        framing.field(name.as_str().as_bytes(), value.as_bytes())?;
    }
    framing.finish(request.version()).map(drop)
}

/// The answer to a request refused for its framing (`framing.rs`), and its
/// body; it closes the connection, since where the request ends is unknown.
pub(crate) fn refused(shared: &Shared, refusal: &Refusal) -> (Response<ProxyBody>, Bytes) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    tracing::debug!("refused: {}", refusal.detail);
    let (mut response, body) = problem(refusal.status, "framing", &refusal.detail, None);
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    (response, body)
}

/// Sends the request upstream and answers with what came back.
async fn forward(
    shared: &Shared,
    conn: &Conn,
    request: Request<Incoming>,
    target: Target,
    arrival: Arrival,
) -> Response<ProxyBody> {
    let config = &shared.config;
    let (parts, body) = request.into_parts();
    let authority = target.authority();
    let recorded = hmt_types::Method::parse(parts.method.as_str()).map(|method| {
        Pending::request(
            method,
            &target,
            &authority,
            crate::capture::head_fields(&parts),
            arrival,
        )
    });
    let body = Stalling::new(body, config.body_timeout);
    let (body, request_copy) = RequestTap::new(body, config.max_body_bytes);

    let mut headers = parts.headers;
    hop::strip(&mut headers);
    headers.remove(SCHEME_HEADER);
    let uri = match (HeaderValue::from_str(&authority), target.uri()) {
        (Ok(host), Ok(uri)) => {
            headers.insert(HOST, host);
            uri
        }
        (_, Err(e)) => return routing_failed(shared, &e.0),
        (Err(e), _) => return routing_failed(shared, &format!("bad host {authority:?}: {e}")),
    };
    if config.add_via {
        headers.append(VIA, via(parts.version));
    }
    let mut upstream_request = Request::new(body.boxed());
    *upstream_request.method_mut() = parts.method;
    *upstream_request.uri_mut() = uri;
    *upstream_request.headers_mut() = headers;
    // Keeps hyper's record of header-name case, so HTTP/1 names go out as
    // they came in.
    *upstream_request.extensions_mut() = parts.extensions;

    // Built before the upstream call: if the client goes away while we
    // wait, hyper drops this future and the guard still records the request.
    let mut guard = AbandonGuard(recorded.map(|request| Pending {
        request,
        request_body: request_copy,
        status: 0,
        response_headers: Default::default(),
        latency: Duration::ZERO,
        target_host: authority,
        handler: shared.handler.clone(),
        delivered: shared.exchanges.clone(),
        in_flight: conn.watch.token(),
    }));
    let result = conn
        .upstreams
        .send(&shared.upstream, &target, upstream_request)
        .await;
    let pending = guard.0.take().map(|mut pending| {
        pending.latency = arrival.instant.elapsed();
        pending
    });
    match result {
        Ok((response, reuse)) => respond(config, response, pending, reuse),
        Err(e) => upstream_failed(shared, &target, &e, pending).0,
    }
}

/// The problem response, and its body, for an upstream that gave no
/// response; the exchange is handed over as the proxy answered it.
pub(crate) fn upstream_failed(
    shared: &Shared,
    target: &Target,
    error: &UpstreamError,
    pending: Option<Pending>,
) -> (Response<ProxyBody>, Bytes) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    let url = target.url();
    tracing::debug!("{} {url}: {}", error.status, error.detail);
    let (response, body) = problem(error.status, "upstream", &error.detail, Some(&url));
    if let Some(pending) = pending {
        pending.answered_by_proxy(&response, &body);
    }
    (response, body)
}

/// The upstream's response, on its way to the client; the exchange is
/// handed over when its body has gone through.
fn respond(
    config: &ProxyConfig,
    response: Response<Incoming>,
    pending: Option<Pending>,
    reuse: Option<Reuse>,
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    let pending = pending.map(|mut p| {
        p.status = parts.status.as_u16();
        p.response_headers = fields(&parts.headers);
        p
    });
    hop::strip(&mut parts.headers);
    if config.add_via {
        parts.headers.append(VIA, via(parts.version));
    }
    parts.version = Version::HTTP_11;
    let body = Stalling::new(body, config.body_timeout);
    let body = ResponseTap::new(body, config.max_body_bytes, pending, reuse);
    Response::from_parts(parts, body.boxed())
}

/// `CONNECT host:port`: intercepted with the CA, or tunnelled.
async fn connect(
    shared: &Arc<Shared>,
    conn: &Conn,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let Some(authority) = request.uri().authority() else {
        return routing_failed(shared, "CONNECT needs host:port");
    };
    let host = authority.host().to_ascii_lowercase();
    let port = authority.port_u16().unwrap_or(443);
    let config = &shared.config;

    if let Some(ca) = config
        .ca
        .as_ref()
        .filter(|_| !no_intercept(&config.no_intercept, &host))
    {
        let tls = match ca.server_config(&host) {
            Ok(tls) => tls,
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                let detail = e.to_string();
                return problem(
                    StatusCode::BAD_GATEWAY,
                    "intercept",
                    &detail,
                    Some(&format!("{host}:{port}")),
                )
                .0;
            }
        };
        let origin = Origin {
            local_addr: conn.origin.local_addr,
            intercepted: Some((host, port)),
        };
        tokio::spawn(intercept(
            shared.clone(),
            hyper::upgrade::on(request),
            tls,
            origin,
            conn.watch.clone(),
        ));
        return Response::new(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed(),
        );
    }

    let upstream =
        match connect_tcp(&host, port, config.connect_timeout, &shared.destinations).await {
            Ok(stream) => stream,
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                let target = format!("{host}:{port}");
                return problem(e.status, "upstream", &e.detail, Some(&target)).0;
            }
        };
    tokio::spawn(tunnel(
        hyper::upgrade::on(request),
        upstream,
        conn.watch.clone(),
    ));
    Response::new(
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed(),
    )
}

/// Terminates the client's TLS inside a CONNECT and serves the requests in
/// it, each going to the CONNECT target.
async fn intercept(
    shared: Arc<Shared>,
    upgrade: hyper::upgrade::OnUpgrade,
    tls: Arc<rustls::ServerConfig>,
    origin: Origin,
    mut watch: Watch,
) {
    let handshake = async {
        let upgraded = upgrade.await.map_err(|e| e.to_string())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        tokio::time::timeout(
            shared.config.connect_timeout,
            acceptor.accept(TokioIo::new(upgraded)),
        )
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| e.to_string())
    };
    let stream = tokio::select! {
        stream = handshake => stream,
        () = watch.reached(Phase::Abort) => return,
    };
    match stream {
        Ok(stream) => serve_connection(shared, Gated::new(stream, &[]), origin, watch).await,
        Err(e) => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            let (host, port) = origin.intercepted.unwrap_or_default();
            tracing::warn!(
                "TLS with the client for {host}:{port} failed: {e} \
                 (does the client trust the hmt CA certificate?)"
            );
        }
    }
}

/// Copies bytes both ways between the client and the CONNECT target.
async fn tunnel(upgrade: hyper::upgrade::OnUpgrade, mut upstream: TcpStream, mut watch: Watch) {
    let copy = async {
        let mut client = TokioIo::new(upgrade.await.map_err(std::io::Error::other)?);
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await
    };
    tokio::select! {
        result = copy => if let Err(e) = result {
            tracing::debug!("tunnel ended: {e}");
        },
        () = watch.reached(Phase::Abort) => {}
    }
}

/// `host` matches an entry exactly, or a `*.example.com` entry as a
/// subdomain.
fn no_intercept(patterns: &[String], host: &str) -> bool {
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == pattern,
        }
    })
}

fn via(version: Version) -> HeaderValue {
    HeaderValue::from_static(if version == Version::HTTP_2 {
        "2 hmt"
    } else if version == Version::HTTP_10 {
        "1.0 hmt"
    } else {
        "1.1 hmt"
    })
}

fn routing_failed(shared: &Shared, detail: &str) -> Response<ProxyBody> {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    problem(StatusCode::BAD_REQUEST, "routing", detail, None).0
}

/// An `application/problem+json` response (RFC 9457), and its body.
fn problem(
    status: StatusCode,
    kind: &str,
    detail: &str,
    target: Option<&str>,
) -> (Response<ProxyBody>, Bytes) {
    let mut document = serde_json::json!({
        "type": format!("urn:hmt:problem:{kind}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(target) = target {
        document["target"] = target.into();
    }
    let body = Bytes::from(document.to_string());
    let mut response = Response::new(
        Full::new(body.clone())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    (response, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_intercept_matches_exact_hosts_and_subdomains() {
        let p = vec!["pinned.example.com".to_owned(), "*.bank.test".to_owned()];
        assert!(no_intercept(&p, "pinned.example.com"));
        assert!(!no_intercept(&p, "other.example.com"));
        assert!(no_intercept(&p, "www.bank.test"));
        assert!(no_intercept(&p, "a.b.bank.test"));
        assert!(!no_intercept(&p, "bank.test"));
        assert!(!no_intercept(&p, "evilbank.test"));
    }
}
