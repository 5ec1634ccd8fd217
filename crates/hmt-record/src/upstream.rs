//! The client side: sends a request to its upstream and says, as an HTTP
//! status, what went wrong when it could not.
//!
//! Upstream connections belong to the client connection whose requests
//! they carry ([`Upstreams`]), not to a process-wide pool. A client
//! connection over HTTP/1 sends its requests one after another, so one
//! upstream connection per (scheme, host, port) serves all of them, and
//! nothing is shared between connections: no pool lock to contend, no pool
//! bookkeeping per request. HTTP/2 client connections carry concurrent
//! streams and open a few HTTP/1 upstream connections as needed (an HTTP/2
//! upstream multiplexes them over one).
//!
//! The upstream connections' futures run inside the client connection's own
//! task ([`Driver::run`]) rather than in tasks of their own: a request then
//! goes out and its response comes back without waking another task, which
//! is most of what a hop costs at the rates a proxy sees.
//!
//! HTTP/1.1 or HTTP/2 is chosen by TLS ALPN (plain-HTTP upstreams get
//! HTTP/1.1). TLS is verified by [`UpstreamVerifier`] (the system's roots,
//! the bundled webpki roots, and the CA or server certificates the user
//! gives), or not at all with `insecure`.

use crate::destination::{Destinations, connect_tcp};
use crate::proxy::{ProxyConfig, ProxyError};
use crate::route::Target;
use crate::trust::{self, UpstreamVerifier};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hmt_types::sync::lock;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Sleep;

/// Errors carried by bodies in flight.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// A request body on its way upstream.
pub(crate) type UpstreamBody = BoxBody<Bytes, BoxError>;

/// How long an unused upstream connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle HTTP/1 upstream connections kept per upstream and client
/// connection; more than this are only ever needed by an HTTP/2 client
/// with that many concurrent requests, and are closed after use.
const MAX_IDLE_PER_UPSTREAM: usize = 16;

/// Why an upstream gave no response.
#[derive(Debug)]
pub(crate) struct UpstreamError {
    /// 502 when it could not be reached or failed, 504 when it was too slow.
    pub status: StatusCode,
    /// The cause, for the problem document.
    pub detail: String,
}

/// How to reach upstreams; shared by every connection.
pub(crate) struct Upstream {
    tls: tokio_rustls::TlsConnector,
    /// The same TLS settings offering only HTTP/1.1: a protocol switch
    /// (`Upgrade`) exists only there.
    tls_http1: tokio_rustls::TlsConnector,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    connect_timeout: Duration,
    response_timeout: Duration,
    destinations: Arc<Destinations>,
}

impl Upstream {
    pub(crate) fn new(
        config: &ProxyConfig,
        provider: Arc<CryptoProvider>,
        destinations: Arc<Destinations>,
    ) -> Result<Upstream, ProxyError> {
        let mut tls = tls_config(config, provider)?;
        let mut tls_http1 = tls.clone();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tls_http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut http1 = http1::Builder::new();
        // Header names go out in the case they came in (the request's
        // extensions carry hyper's record of it); `Host` is set by the
        // proxy, never by hyper.
        http1.preserve_header_case(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2.timer(TokioTimer::new());
        Ok(Upstream {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            tls_http1: tokio_rustls::TlsConnector::from(Arc::new(tls_http1)),
            http1,
            http2,
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            destinations,
        })
    }

    /// Sends a request that asks to switch protocols (`Upgrade`) on a new
    /// HTTP/1.1 connection of its own, and waits for the response head. If
    /// the upstream answers `101`, the connection is handed over through
    /// `hyper::upgrade::on(&mut response)`; it never goes to a pool.
    pub(crate) async fn upgrade(
        &self,
        target: &Target,
        request: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let attempt = async {
            let tcp = connect_tcp(
                &target.host,
                target.port,
                self.connect_timeout,
                &self.destinations,
            )
            .await?;
            let (mut sender, conn) = if target.https {
                let tls = self.tls_handshake(&self.tls_http1, target, tcp).await?;
                self.upgradable(TokioIo::new(tls)).await?
            } else {
                self.upgradable(TokioIo::new(tcp)).await?
            };
            // Its own task: after a 101 the connection outlives the request.
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("upgrade connection ended: {e}");
                }
            });
            let mut request = request;
            // HTTP/1 wants the path alone on the request line.
            if let Some(path) = request.uri().path_and_query().cloned() {
                *request.uri_mut() = Uri::from(path);
            }
            sender.send_request(request).await.map_err(|e| classify(&e))
        };
        match tokio::time::timeout(self.response_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError {
                status: StatusCode::GATEWAY_TIMEOUT,
                detail: format!(
                    "no response headers within {} ms",
                    self.response_timeout.as_millis()
                ),
            }),
        }
    }

    /// TLS over `tcp` to `target`'s host, with `connector` (ALPN offering
    /// h2 or only HTTP/1.1); a refusal says why in words.
    async fn tls_handshake(
        &self,
        connector: &tokio_rustls::TlsConnector,
        target: &Target,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, UpstreamError> {
        let host = target.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host)
            .map_err(|e| UpstreamError {
                status: StatusCode::BAD_GATEWAY,
                detail: format!("invalid TLS server name {host:?}: {e}"),
            })?
            .to_owned();
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| match trust::refusal(&e) {
                // The verifier's reason is the whole story; rustls' own
                // wrapping of it would only add variant names.
                Some(why) => UpstreamError {
                    status: StatusCode::BAD_GATEWAY,
                    detail: format!("TLS handshake: {why}"),
                },
                None => classify(&Cause("TLS handshake", e)),
            })
    }

    /// An HTTP/1.1 connection over `io` that can switch protocols.
    async fn upgradable<T>(
        &self,
        io: T,
    ) -> Result<(http1::SendRequest<UpstreamBody>, UpgradeConn), UpstreamError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = self
            .http1
            .handshake::<_, UpstreamBody>(io)
            .await
            .map_err(|e| classify(&e))?;
        Ok((sender, Box::pin(async move { conn.with_upgrades().await })))
    }

    /// Opens a connection to `target`: TCP (within the connect timeout),
    /// TLS for https, then HTTP/2 if ALPN chose it, else HTTP/1.1. The
    /// connection's future goes to `driver`.
    async fn connect(
        &self,
        target: &Target,
        driver: &mpsc::UnboundedSender<ConnFuture>,
    ) -> Result<Sender, UpstreamError> {
        let tcp = connect_tcp(
            &target.host,
            target.port,
            self.connect_timeout,
            &self.destinations,
        )
        .await?;
        if !target.https {
            return self.http1(TokioIo::new(tcp), driver).await;
        }
        let tls = self.tls_handshake(&self.tls, target, tcp).await?;
        if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
            let (sender, conn) = self
                .http2
                .handshake(TokioIo::new(tls))
                .await
                .map_err(|e| classify(&e))?;
            drive(
                driver,
                Box::pin(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("upstream connection ended: {e}");
                    }
                }),
            );
            Ok(Sender::H2(sender))
        } else {
            self.http1(TokioIo::new(tls), driver).await
        }
    }

    async fn http1<T>(
        &self,
        io: T,
        driver: &mpsc::UnboundedSender<ConnFuture>,
    ) -> Result<Sender, UpstreamError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = self.http1.handshake(io).await.map_err(|e| classify(&e))?;
        drive(
            driver,
            Box::pin(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("upstream connection ended: {e}");
                }
            }),
        );
        Ok(Sender::H1(sender))
    }
}

/// An HTTP/1 connection that may switch protocols, run by its own task.
type UpgradeConn = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// An upstream connection's future, run by a [`Driver`].
type ConnFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Hands a connection's future to the client connection's driver; should
/// that be gone already (its connection is closing while an HTTP/2 stream
/// still runs), to a task of its own.
fn drive(driver: &mpsc::UnboundedSender<ConnFuture>, conn: ConnFuture) {
    if let Err(mpsc::error::SendError(conn)) = driver.send(conn) {
        tokio::spawn(conn);
    }
}

/// A way to send requests on one upstream connection.
enum Sender {
    H1(http1::SendRequest<UpstreamBody>),
    H2(http2::SendRequest<UpstreamBody>),
}

/// What became of one attempt to send a request.
enum Attempt {
    Sent(Response<Incoming>, Option<Reuse>),
    /// The connection was closed before the request went out; here it is
    /// back, to try on another.
    Unsent(Request<UpstreamBody>),
    Failed(UpstreamError),
}

impl Sender {
    async fn send(
        self,
        mut request: Request<UpstreamBody>,
        pool: &Arc<Mutex<Pool>>,
        slot: usize,
    ) -> Attempt {
        match self {
            Sender::H1(mut sender) => {
                if sender.ready().await.is_err() {
                    return Attempt::Unsent(request);
                }
                // HTTP/1 wants the origin form (`/path?query`).
                if let Some(origin) = request.uri().path_and_query().cloned() {
                    *request.uri_mut() = Uri::from(origin);
                }
                match sender.try_send_request(request).await {
                    Ok(response) => Attempt::Sent(
                        response,
                        Some(Reuse {
                            sender,
                            pool: pool.clone(),
                            slot,
                        }),
                    ),
                    Err(mut e) => match e.take_message() {
                        Some(request) => Attempt::Unsent(request),
                        None => Attempt::Failed(classify(e.error())),
                    },
                }
            }
            // HTTP/2 keeps the absolute URI: it becomes :scheme and
            // :authority.
            Sender::H2(mut sender) => {
                if sender.ready().await.is_err() {
                    return Attempt::Unsent(request);
                }
                match sender.try_send_request(request).await {
                    Ok(response) => Attempt::Sent(response, None),
                    Err(mut e) => match e.take_message() {
                        Some(request) => Attempt::Unsent(request),
                        None => Attempt::Failed(classify(e.error())),
                    },
                }
            }
        }
    }
}

/// The idle upstream connections of one client connection.
#[derive(Default)]
pub(crate) struct Pool {
    /// One per upstream this client connection has used; never removed
    /// while the connection lasts (a [`Reuse`] names its slot by index),
    /// and few: one, usually.
    slots: Vec<Slot>,
}

struct Slot {
    https: bool,
    host: String,
    port: u16,
    /// HTTP/1 connections whose last response has been read through, with
    /// the time they became idle.
    idle: Vec<(http1::SendRequest<UpstreamBody>, Instant)>,
    /// The HTTP/2 connection, shared by every request, and when it was last
    /// used.
    h2: Option<(http2::SendRequest<UpstreamBody>, Instant)>,
}

impl Pool {
    /// The slot for `target`, and a connection from it if one is open.
    fn checkout(&mut self, target: &Target) -> (usize, Option<Sender>) {
        let found = self.slots.iter().position(|s| {
            s.https == target.https && s.port == target.port && s.host == target.host
        });
        let Some(index) = found else {
            self.slots.push(Slot {
                https: target.https,
                host: target.host.clone(),
                port: target.port,
                idle: Vec::new(),
                h2: None,
            });
            return (self.slots.len() - 1, None);
        };
        let slot = &mut self.slots[index];
        if let Some((sender, used)) = &mut slot.h2 {
            if !sender.is_closed() {
                *used = Instant::now();
                return (index, Some(Sender::H2(sender.clone())));
            }
            slot.h2 = None;
        }
        while let Some((sender, _)) = slot.idle.pop() {
            if !sender.is_closed() {
                return (index, Some(Sender::H1(sender)));
            }
        }
        (index, None)
    }

    /// Keeps a new connection for later requests (an HTTP/1 one comes back
    /// through [`Reuse`] instead, once its response has been read).
    fn keep(&mut self, slot: usize, sender: &Sender) {
        if let (Sender::H2(sender), Some(slot)) = (sender, self.slots.get_mut(slot))
            && slot.h2.as_ref().is_none_or(|(s, _)| s.is_closed())
        {
            slot.h2 = Some((sender.clone(), Instant::now()));
        }
    }

    /// Closes (drops) connections idle since before `now - IDLE_TIMEOUT`;
    /// returns when the next of the others will have been idle that long.
    fn evict(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut keep = |since: Instant| {
            let alive = now.saturating_duration_since(since) < IDLE_TIMEOUT;
            if alive {
                let due = since + IDLE_TIMEOUT;
                next = Some(next.map_or(due, |n| n.min(due)));
            }
            alive
        };
        for slot in &mut self.slots {
            slot.idle
                .retain(|(sender, since)| !sender.is_closed() && keep(*since));
            if slot
                .h2
                .as_ref()
                .is_some_and(|(sender, used)| sender.is_closed() || !keep(*used))
            {
                slot.h2 = None;
            }
        }
        next
    }
}

/// An HTTP/1 upstream connection lent to one exchange; given back to its
/// pool when the response body has been read to the end (a connection
/// whose response was cut short cannot carry another, and is dropped).
pub(crate) struct Reuse {
    sender: http1::SendRequest<UpstreamBody>,
    pool: Arc<Mutex<Pool>>,
    slot: usize,
}

impl Reuse {
    pub(crate) fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        let mut pool = lock(&self.pool);
        if let Some(slot) = pool.slots.get_mut(self.slot)
            && slot.idle.len() < MAX_IDLE_PER_UPSTREAM
        {
            slot.idle.push((self.sender, Instant::now()));
        }
    }
}

/// The upstream side of one client connection: its connections, pooled for
/// its next requests.
pub(crate) struct Upstreams {
    pool: Arc<Mutex<Pool>>,
    driver: mpsc::UnboundedSender<ConnFuture>,
}

/// Runs a client connection's upstream connections in its own task, and
/// closes the ones idle for [`IDLE_TIMEOUT`].
pub(crate) struct Driver {
    new: mpsc::UnboundedReceiver<ConnFuture>,
    conns: FuturesUnordered<ConnFuture>,
    pool: Arc<Mutex<Pool>>,
    idle_check: Option<Pin<Box<Sleep>>>,
}

impl Upstreams {
    pub(crate) fn new() -> (Upstreams, Driver) {
        let pool = Arc::new(Mutex::new(Pool::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Upstreams {
                pool: pool.clone(),
                driver: tx,
            },
            Driver {
                new: rx,
                conns: FuturesUnordered::new(),
                pool,
                idle_check: None,
            },
        )
    }

    /// Sends `request` (absolute URI) to `target` and waits for the
    /// response headers, on a pooled connection when one is open, else on
    /// a new one. A pooled connection that turns out to have been closed
    /// (by the upstream, while idle) before the request went out is
    /// replaced once by a new one. The [`Reuse`] is to be released when the
    /// response body has been read through.
    pub(crate) async fn send(
        &self,
        upstream: &Upstream,
        target: &Target,
        request: Request<UpstreamBody>,
    ) -> Result<(Response<Incoming>, Option<Reuse>), UpstreamError> {
        let attempt = async {
            let (slot, pooled) = lock(&self.pool).checkout(target);
            let mut request = request;
            if let Some(sender) = pooled {
                match sender.send(request, &self.pool, slot).await {
                    Attempt::Sent(response, reuse) => return Ok((response, reuse)),
                    Attempt::Failed(e) => return Err(e),
                    Attempt::Unsent(unsent) => request = unsent,
                }
                // Back to the absolute URI an HTTP/2 connection needs.
                if let Ok(uri) = target.uri() {
                    *request.uri_mut() = uri;
                }
            }
            let sender = upstream.connect(target, &self.driver).await?;
            lock(&self.pool).keep(slot, &sender);
            match sender.send(request, &self.pool, slot).await {
                Attempt::Sent(response, reuse) => Ok((response, reuse)),
                Attempt::Failed(e) => Err(e),
                Attempt::Unsent(_) => Err(UpstreamError {
                    status: StatusCode::BAD_GATEWAY,
                    detail: "the upstream closed the connection before the request was sent".into(),
                }),
            }
        };
        match tokio::time::timeout(upstream.response_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError {
                status: StatusCode::GATEWAY_TIMEOUT,
                detail: format!(
                    "no response headers within {} ms",
                    upstream.response_timeout.as_millis()
                ),
            }),
        }
    }
}

impl Driver {
    /// Runs `serve` (the client connection) to its end, and the upstream
    /// connections alongside; they are closed when it ends.
    pub(crate) async fn run<F: Future>(mut self, serve: F) -> F::Output {
        let mut serve = pin!(serve);
        poll_fn(|cx| {
            // Responses first, so that `serve` sees them in this same poll;
            // then once more after it, to write the requests it just sent.
            self.poll_conns(cx);
            if let Poll::Ready(output) = serve.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            self.poll_conns(cx);
            self.poll_idle(cx);
            Poll::Pending
        })
        .await
    }

    fn poll_conns(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(conn)) = self.new.poll_recv(cx) {
            self.conns.push(conn);
        }
        while let Poll::Ready(Some(())) = self.conns.poll_next_unpin(cx) {}
    }

    /// Arms a timer while there are upstream connections; when it fires,
    /// closes the idle ones that have had their time.
    fn poll_idle(&mut self, cx: &mut Context<'_>) {
        loop {
            match &mut self.idle_check {
                None if self.conns.is_empty() => return,
                None => {
                    let due = tokio::time::Instant::now() + IDLE_TIMEOUT;
                    self.idle_check = Some(Box::pin(tokio::time::sleep_until(due)));
                }
                Some(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return;
                    }
                    let next = lock(&self.pool).evict(Instant::now());
                    self.idle_check = None;
                    if let Some(next) = next {
                        let due = tokio::time::Instant::from_std(next);
                        self.idle_check = Some(Box::pin(tokio::time::sleep_until(due)));
                    }
                }
            }
        }
    }
}

/// An error with what was being done when it happened.
#[derive(Debug)]
pub(crate) struct Cause(pub &'static str, pub std::io::Error);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Cause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.1)
    }
}

/// 504 for a timeout anywhere in the chain (the connect timeout), 502 for
/// everything else; the detail is the whole chain of causes.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> UpstreamError {
    let mut detail = String::new();
    let mut timed_out = false;
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        let message = e.to_string();
        if !detail.contains(&message) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&message);
        }
        cause = e.source();
    }
    UpstreamError {
        status: if timed_out {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::BAD_GATEWAY
        },
        detail,
    }
}

fn tls_config(
    config: &ProxyConfig,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ClientConfig, ProxyError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Tls(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = if config.insecure {
        Arc::new(AcceptAnyCert(provider))
    } else {
        Arc::new(UpstreamVerifier::new(&config.upstream_ca, provider)?)
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `insecure`: any certificate, any name, any signature.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
