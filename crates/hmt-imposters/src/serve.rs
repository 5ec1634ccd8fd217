//! An imposter's server: its listener, its connections, and the path of
//! each request through named stages.
//!
//! `read` the request (body bounded, gzip and brotli inflated as
//! mountebank does) → `remember` it (count, and save with
//! `recordRequests`) → `answer` from the stubs (or the default response)
//! → `act`: send the reply after its `wait`, break the connection for a
//! fault, or forward a proxy → add CORS headers to a preflight when
//! `allowCORS` is on.

use crate::imposter::{Imposter, Protocol};
use crate::proxy;
use crate::wire::{Socket, Tap, Wire};
use bytes::Bytes;
use hmt_mock::body::Body;
use hmt_mock::listen::IdleWatch;
use hmt_stub::{Action, Reply, Request};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The largest request body an imposter reads (mountebank has none; a
/// test double that holds every body in memory needs one).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Where injected JavaScript runs: off the async I/O threads, since a
/// script may take up to its time limit (5 s) and must not hold up the
/// other imposters' connections meanwhile. One pool for the process,
/// bounded like the mock's (see `hmt_mock::offload`).
static SCRIPTS: std::sync::LazyLock<hmt_mock::offload::Offload> =
    std::sync::LazyLock::new(|| hmt_mock::offload::Offload::new(Default::default()));

/// Accepts connections until `stop` turns true, then drops the listener
/// and every open connection. A connection idle for `idle` is closed, as
/// on the mock's own ports (see [`hmt_mock::listen`]): one that sends
/// nothing (not even a TLS handshake), a keep-alive connection left open,
/// headers that take longer than that to arrive.
pub(crate) async fn run(
    listener: TcpListener,
    imposter: Arc<Imposter>,
    stop: watch::Receiver<bool>,
    idle: Duration,
) {
    let tls = imposter
        .definition
        .tls
        .as_ref()
        .and_then(|tls| tls.server_config().ok())
        .map(tokio_rustls::TlsAcceptor::from);
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            biased;
            () = stopping(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let imposter = imposter.clone();
                    let stop = stop.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match (imposter.definition.protocol, tls) {
                            (Protocol::Https, Some(acceptor)) => match tokio::time::timeout(idle, acceptor.accept(stream)).await {
                                Ok(Ok(stream)) => connection(stream, peer, imposter, stop, idle).await,
                                Ok(Err(error)) => tracing::debug!("TLS handshake with {peer} failed: {error}"),
                                Err(_) => tracing::debug!("TLS handshake with {peer} not done within {} ms; closing", idle.as_millis()),
                            },
                            _ => connection(stream, peer, imposter, stop, idle).await,
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!("imposter {}: accept failed: {error}", imposter.port);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Resolves when the imposter is told to stop (or its registry is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Serves one connection until it ends, is idle for `idle`, or the
/// imposter stops.
async fn connection<S: Socket>(
    stream: S,
    peer: SocketAddr,
    imposter: Arc<Imposter>,
    mut stop: watch::Receiver<bool>,
    idle: Duration,
) {
    let tap = Arc::new(Tap::default());
    let watch = IdleWatch::new(idle);
    let service = {
        let (tap, watch) = (tap.clone(), watch.clone());
        service_fn(move |request| {
            let imposter = imposter.clone();
            let tap = tap.clone();
            // Answered until its body is sent: a reply delivered slowly
            // (`_behaviors`, a proxy's wait) is not idle.
            let answering = watch.answering();
            async move {
                let response = handle(&imposter, &tap, peer, request).await;
                Ok::<_, Infallible>(answering.until_sent(response))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(idle)
        .title_case_headers(true);
    let connection =
        builder.serve_connection(TokioIo::new(watch.stream(Wire::new(stream, tap))), service);
    tokio::select! {
        ended = watch.drive(connection, peer) => if let Some(Err(error)) = ended {
            tracing::debug!("imposter connection from {peer} ended: {error}");
        },
        () = stopping(&mut stop) => {}
    }
}

/// Answers one request (the stages above).
async fn handle(
    imposter: &Imposter,
    tap: &Tap,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Response<Body> {
    let request = match read(tap, peer, request).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    imposter.remember(
        &request,
        hmt_types::clock::rfc3339_millis(SystemTime::now()),
    );
    let answered =
        if imposter.options.scripts.is_some() {
            match SCRIPTS.run(|| answer(imposter, &request)).await {
                Ok(answered) => answered,
                Err(busy) => {
                    return render(Reply::new(503).with_header("retry-after", "1").with_body(
                        format!("too busy to run this imposter's JavaScript now: {busy}"),
                    ));
                }
            }
        } else {
            answer(imposter, &request)
        };
    let (stub, action) = match answered {
        Ok(found) => found,
        Err(fallback) => match &imposter.mock {
            Some(mock) => (usize::MAX, Action::Reply(from_spec(mock, &request).await)),
            None => (usize::MAX, Action::Reply(fallback)),
        },
    };
    let proxied = matches!(action, Action::Proxy(_));
    let reply = match action {
        Action::Reply(reply) => reply,
        Action::Fault(fault) => {
            tap.arm(fault);
            Reply::new(500)
        }
        Action::Proxy(config) => proxy::forward(imposter, &request, stub, &config).await,
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let reply = if imposter.definition.allow_cors {
        cors(reply, &request)
    } else {
        reply
    };
    if imposter.debug && !proxied {
        imposter.remember_match(stub, &request, &reply);
    }
    render(reply)
}

/// The request as stubs see it.
async fn read(
    tap: &Tap,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Result<Request, Response<Body>> {
    let (parts, body) = request.into_parts();
    let target = parts.uri.to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let headers = tap
        .headers(parts.method.as_str(), &target)
        .unwrap_or_else(|| {
            parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect()
        });
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            let too_large = error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, message) = if too_large {
                (
                    413,
                    format!(
                        "the request body is larger than {} MiB",
                        MAX_BODY / (1024 * 1024)
                    ),
                )
            } else {
                (400, format!("the request body could not be read: {error}"))
            };
            return Err(render(
                Reply::new(status)
                    .with_header("Content-Type", "text/plain; charset=utf-8")
                    .with_header("Connection", "close")
                    .with_body(message),
            ));
        }
    };
    let encoding = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-encoding"))
        .map(|(_, value)| value.trim().to_ascii_lowercase());
    let body = inflate(encoding.as_deref(), body);
    let mut request = Request::new(parts.method.as_str(), path_and_query).with_body(body);
    request.headers = headers;
    Ok(request.with_client(&peer.to_string(), &peer.ip().to_string()))
}

/// The body as text; a gzip or brotli body inflated when it inflates
/// (mountebank keeps the raw bytes when it does not).
fn inflate(encoding: Option<&str>, body: Bytes) -> String {
    let mut inflated = Vec::new();
    let ok = match encoding {
        Some("gzip") => flate2::read::MultiGzDecoder::new(&body[..])
            .take(MAX_BODY as u64)
            .read_to_end(&mut inflated)
            .is_ok(),
        Some("br") => brotli::Decompressor::new(&body[..], 4096)
            .take(MAX_BODY as u64)
            .read_to_end(&mut inflated)
            .is_ok(),
        _ => false,
    };
    let bytes = if ok { &inflated[..] } else { &body[..] };
    String::from_utf8_lossy(bytes).into_owned()
}

/// The matching stub's index and action; when none matches, the miss is
/// kept (with the nearest stub and why it refused) and the default
/// response is the answer unless a spec or recordings stand behind the stubs.
fn answer(imposter: &Imposter, request: &Request) -> Result<(usize, Action), Reply> {
    let stubs = hmt_types::sync::read(&imposter.stubs);
    match stubs.answer(request) {
        Some(answer) => Ok((answer.stub, answer.action)),
        None => {
            imposter.remember_miss(request, &stubs);
            Err(stubs.fallback())
        }
    }
}

/// The answer of the spec or recordings behind the stubs (hmt's extension):
/// the mock's validation, replay and documented responses.
async fn from_spec(mock: &hmt_mock::Mock, request: &Request) -> Reply {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.target());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let parts = match builder.body(()) {
        Ok(built) => built.into_parts().0,
        Err(error) => {
            return Reply::new(400)
                .with_header("Content-Type", "text/plain; charset=utf-8")
                .with_body(format!("the request cannot be given to the spec: {error}"));
        }
    };
    let response = mock
        .answer(parts, Bytes::from(request.body.clone()), SystemTime::now())
        .await;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let mut reply = Reply::new(parts.status.as_u16()).with_body(body.to_vec());
    for (name, value) in &parts.headers {
        reply.headers.push((
            name.as_str().to_string(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }
    reply
}

/// mountebank's CORS: a preflight (`OPTIONS` with `Origin` and both
/// `Access-Control-Request-*` headers) gets the matching `Allow` headers.
fn cors(mut reply: Reply, request: &Request) -> Reply {
    let (Some(origin), Some(headers), Some(method)) = (
        request.header("origin"),
        request.header("access-control-request-headers"),
        request.header("access-control-request-method"),
    ) else {
        return reply;
    };
    if request.method != "OPTIONS" {
        return reply;
    }
    for (name, value) in [
        ("Access-Control-Allow-Headers", headers),
        ("Access-Control-Allow-Methods", method),
        ("Access-Control-Allow-Origin", origin),
    ] {
        reply
            .headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        reply.headers.push((name.to_string(), value.to_string()));
    }
    reply
}

/// A [`Reply`] as hyper's response. A header hyper cannot send (a name or
/// value with forbidden bytes) makes a 500 that names it, rather than a
/// response silently missing it.
pub(crate) fn render(reply: Reply) -> Response<Body> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::delivered(Bytes::from(reply.body), reply.delivery));
    *response.status_mut() = status;
    for (name, value) in &reply.headers {
        // hyper writes the length of the body it is given.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                return render(
                    Reply::new(500)
                        .with_header("Content-Type", "text/plain; charset=utf-8")
                        .with_header("Connection", "close")
                        .with_body(format!(
                            "the stub's header {name:?}: {value:?} cannot be sent in HTTP"
                        )),
                );
            }
        }
    }
    response
}
