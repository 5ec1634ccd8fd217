//! The HTTP/1.1 fast path: a plain-TCP client connection relayed to a
//! plain-HTTP upstream byte for byte, without hyper.
//!
//! Why it exists: in front of an HTTP/1.1 API, almost every exchange is a
//! request head, maybe a body, and a response head and body. Relaying them
//! through hyper's server and client means building a header map twice,
//! passing the request between tasks over channels and re-encoding both
//! heads; measured on one core, that cost as much CPU as the kernel's TCP
//! work and kept `hmt record` well behind nginx. Here the heads are parsed
//! in place (`httparse`), written on with the hop-by-hop headers left out,
//! and bodies are copied as they come, their framing checked as they go by
//! (so a message ends exactly where it ends, and a chunked body is recorded
//! decoded). Header names keep their case and order because they are never
//! rebuilt.
//!
//! What it does not do, it hands over: a request it does not handle is
//! given, with the connection and every byte read so far, to the general
//! path in `proxy.rs`, which serves the rest of the connection. That covers
//! HTTP/1.0, HTTP/2 (its preface does not parse as HTTP/1.1), `CONNECT`,
//! `Expect`, unusual framing, requests that cannot be routed (the general
//! path explains why) and https upstreams. The hand-over only happens
//! between exchanges, so nothing is ever half done.
//!
//! A request to switch protocols (`Upgrade`, as WebSocket and h2c do) is
//! forwarded with its `Upgrade` and `Connection` fields; if the upstream
//! answers `101`, that exchange is recorded and from then on the bytes are
//! copied both ways untouched, until either side closes.
//!
//! An exchange is recorded exactly as the general path records it: the
//! same [`Pending`] hands it over when the response has been delivered, the
//! client went away, the upstream failed, or the grace period ran out.

use crate::capture::{Arrival, BodyCopy, Pending};
use crate::hop::{is_hop_by_hop, tokens};
use crate::proxy::{Shared, serve_connection, upstream_failed};
use crate::route::{self, Origin, Routing, SCHEME_HEADER, Target};
use crate::shutdown::{Phase, Watch};
use crate::upstream::{UpstreamError, connect_tcp};
use bytes::{Buf, Bytes, BytesMut};
use hmt_types::{Fields, Method};
use http::header::{HOST, HeaderValue};
use http::{HeaderMap, StatusCode, Uri, Version};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The largest request or response head read; a bigger request is handed
/// over (hyper answers it), a bigger response is a 502.
const MAX_HEAD: usize = 64 * 1024;

/// Header fields parsed per head; a request with more is handed over.
const MAX_HEADERS: usize = 128;

/// How long a connection may take to send a request head, or stay idle
/// between requests (hyper's default, which the general path uses).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the upstream may take to answer before the relay starts
/// watching whether the client is still there.
const PATIENCE: Duration = Duration::from_millis(20);

/// Bytes read at a time.
const READ_SIZE: usize = 16 * 1024;

/// Serves a plain-TCP client connection: relays what it can, hands the
/// rest of the connection over to the general path.
pub(crate) async fn serve(shared: Arc<Shared>, client: TcpStream, origin: Origin, watch: Watch) {
    let mut relay = Relay {
        shared,
        origin,
        watch,
        client,
        buf: BytesMut::with_capacity(READ_SIZE),
        upstream: None,
        out: Vec::with_capacity(READ_SIZE),
    };
    let mut abort = relay.watch.clone();
    loop {
        let plan = match relay.next_request().await {
            Ok(Some(plan)) => plan,
            Ok(None) => return,
            Err(HandOver) => return relay.hand_over().await,
        };
        let next = tokio::select! {
            biased;
            next = relay.exchange(plan) => next,
            // The exchange is dropped, and its guard records it as cut off.
            () = abort.reached(Phase::Abort) => return,
        };
        if next == Next::Close || relay.watch.phase() >= Phase::Draining {
            let _ = relay.client.shutdown().await;
            return;
        }
    }
}

/// The request is for the general path.
struct HandOver;

/// What to do with the connection after an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

struct Relay {
    shared: Arc<Shared>,
    origin: Origin,
    watch: Watch,
    client: TcpStream,
    /// Read from the client and not used yet.
    buf: BytesMut,
    /// The upstream connection kept from the last exchange.
    upstream: Option<UpstreamConn>,
    /// What is written next; reused, so that writing allocates nothing.
    out: Vec<u8>,
}

struct UpstreamConn {
    host: String,
    port: u16,
    io: TcpStream,
    /// Read from the upstream and not used yet.
    buf: BytesMut,
    /// Whether it has carried an exchange already (and so may have been
    /// closed by the upstream while idle).
    reused: bool,
}

/// A request, read and checked, with its upstream head in `Relay::out`.
struct Plan {
    target: Target,
    arrival: Instant,
    method_is_head: bool,
    /// The client asks to switch protocols.
    upgrade: bool,
    body: Framing,
    /// The client asked to close after this exchange.
    client_close: bool,
    pending: Pending,
}

impl Relay {
    /// Reads the next request head. `None` when the connection closed, sat
    /// idle too long, or the proxy is stopping between requests.
    async fn next_request(&mut self) -> Result<Option<Plan>, HandOver> {
        loop {
            if !self.buf.is_empty() {
                if let Some(plan) = self.plan()? {
                    return Ok(Some(plan));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(HandOver);
                }
            } else if self.watch.phase() >= Phase::Draining {
                return Ok(None);
            }
            let idle = self.buf.is_empty();
            self.buf.reserve(READ_SIZE);
            let read = tokio::time::timeout(HEAD_TIMEOUT, self.client.read_buf(&mut self.buf));
            let read = tokio::select! {
                read = read => read,
                // Idle, it closes when the proxy starts to stop; in the
                // middle of a head, when the grace period is over.
                () = self.watch.reached(if idle { Phase::Draining } else { Phase::Abort }) => return Ok(None),
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }

    /// Parses the head at the start of `buf`; `None` if it is not all
    /// there yet. Routes it and writes the upstream head into `out`.
    fn plan(&mut self) -> Result<Option<Plan>, HandOver> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let head_len = match request.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(HandOver),
        };
        let arrival = Arrival::now();
        let (Some(method), Some(path), Some(1)) = (request.method, request.path, request.version)
        else {
            return Err(HandOver);
        };
        let Some(recorded_method) = Method::parse(method).filter(|_| method != "CONNECT") else {
            return Err(HandOver);
        };
        let head = RequestHead::read(request.headers)?;
        let uri = Uri::try_from(path).map_err(|_| HandOver)?;
        // Only header routing reads fields; the others need no map built.
        let routing = &self.shared.config.routing;
        let mut routing_headers = HeaderMap::new();
        if *routing == Routing::Header {
            if let Some(host) = head.host {
                let host = HeaderValue::from_bytes(host).map_err(|_| HandOver)?;
                routing_headers.insert(HOST, host);
            }
            if let Some(scheme) = head.scheme {
                let scheme = HeaderValue::from_bytes(scheme).map_err(|_| HandOver)?;
                routing_headers.insert(SCHEME_HEADER, scheme);
            }
        }
        let target = route::resolve(
            routing,
            &self.origin,
            Version::HTTP_11,
            &uri,
            &routing_headers,
        )
        .map_err(|_| HandOver)?;
        if target.https {
            return Err(HandOver);
        }
        let authority = target.authority();

        let mut fields = Fields::default();
        for h in request.headers.iter() {
            fields.append(
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            );
        }
        let recorded = Pending::request(recorded_method, &target, &authority, fields, arrival);

        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let mut host_written = false;
        for h in request.headers.iter() {
            if h.name.eq_ignore_ascii_case("host") {
                if !host_written {
                    write_field(out, h.name.as_bytes(), authority.as_bytes());
                    host_written = true;
                }
            } else if head.upgrade && h.name.eq_ignore_ascii_case("upgrade") {
                write_field(out, h.name.as_bytes(), h.value);
            } else if head.upgrade && h.name.eq_ignore_ascii_case("connection") {
                write_field(out, h.name.as_bytes(), b"upgrade");
            } else if !head.drops(h.name) && !h.name.eq_ignore_ascii_case(SCHEME_HEADER) {
                write_field(out, h.name.as_bytes(), h.value);
            }
        }
        if !host_written {
            write_field(out, b"host", authority.as_bytes());
        }
        if head.te_trailers {
            write_field(out, b"te", b"trailers");
        }
        if self.shared.config.add_via {
            write_field(out, b"via", b"1.1 hmt");
        }
        if matches!(head.body, Framing::Chunked(_)) {
            write_field(out, b"transfer-encoding", b"chunked");
        }
        out.extend_from_slice(b"\r\n");

        let pending = Pending {
            request: recorded,
            request_body: Default::default(),
            status: 0,
            response_headers: Fields::default(),
            latency: Duration::ZERO,
            target_host: authority,
            handler: self.shared.handler.clone(),
            delivered: self.shared.exchanges.clone(),
            in_flight: self.watch.token(),
        };
        let plan = Plan {
            target,
            arrival: arrival.instant,
            method_is_head: method == "HEAD",
            upgrade: head.upgrade,
            body: head.body,
            client_close: head.close,
            pending,
        };
        self.buf.advance(head_len);
        Ok(Some(plan))
    }

    /// Forwards one request and relays its response.
    async fn exchange(&mut self, plan: Plan) -> Next {
        let Plan {
            target,
            arrival,
            method_is_head,
            upgrade,
            body,
            client_close,
            pending,
        } = plan;
        let mut guard = Recording::new(pending, arrival);
        let (mut upstream, mut response) = match self
            .send(&target, body, method_is_head, upgrade, &mut guard)
            .await
        {
            Ok(sent) => sent,
            Err(Failure::ClientGone) => return Next::Close,
            Err(Failure::Upstream {
                error,
                request_done,
            }) => {
                let close = client_close || !request_done;
                return self.fail(&mut guard, &target, &error, close).await;
            }
        };
        guard.responded(&mut response);
        let complete = self
            .relay_response(&mut upstream, &mut response, &mut guard, client_close)
            .await;
        guard.finish(!complete);
        if !complete {
            return Next::Close;
        }
        if response.switching {
            self.tunnel(&mut upstream).await;
            return Next::Close;
        }
        if response.keep_alive && upstream.buf.is_empty() {
            upstream.reused = true;
            self.upstream = Some(upstream);
        }
        if client_close {
            Next::Close
        } else {
            Next::Continue
        }
    }

    /// Sends the request (its head is in `out`) with its body, and reads
    /// the response head.
    async fn send(
        &mut self,
        target: &Target,
        mut body: Framing,
        method_is_head: bool,
        upgrade: bool,
        guard: &mut Recording,
    ) -> Result<(UpstreamConn, ResponseHead), Failure> {
        let max = self.shared.config.max_body_bytes;
        // The head, and as much of the body as has arrived, in one write.
        let (used, mut request_done) = body
            .take(&self.buf, &mut self.out, &mut guard.request, max)
            .map_err(|_| Failure::ClientGone)?;
        self.buf.advance(used);
        let failed = |error, request_done| Failure::Upstream {
            error,
            request_done,
        };
        let mut upstream = match self.upstream.take() {
            Some(conn) if conn.host == target.host && conn.port == target.port => conn,
            _ => self
                .connect(target)
                .await
                .map_err(|e| failed(e, request_done))?,
        };
        // A kept connection the upstream closed while it sat idle fails the
        // write or ends before the response; then, once, a new one.
        let mut retry = upstream.reused && request_done;
        loop {
            let mut sent = upstream.io.write_all(&self.out).await;
            while sent.is_ok() && !request_done {
                match self
                    .stream_request_body(&mut upstream, &mut body, &mut guard.request, max)
                    .await
                {
                    Ok(done) => request_done = done,
                    Err(Stream::ClientGone) => return Err(Failure::ClientGone),
                    Err(Stream::Upstream(e)) => sent = Err(e),
                }
            }
            let head = match sent {
                Ok(()) => {
                    self.response_head(&mut upstream, method_is_head, upgrade)
                        .await
                }
                Err(e) => Err(ResponseError::Io(e)),
            };
            match head {
                Ok(head) => return Ok((upstream, head)),
                Err(ResponseError::Closed | ResponseError::Io(_)) if retry => {
                    retry = false;
                    upstream = self
                        .connect(target)
                        .await
                        .map_err(|e| failed(e, request_done))?;
                }
                Err(e) => {
                    let timeout = self.shared.config.response_timeout;
                    return Err(e.into_failure(timeout, request_done));
                }
            }
        }
    }

    /// After a `101`: copies bytes both ways, those already read first,
    /// until either side closes.
    async fn tunnel(&mut self, upstream: &mut UpstreamConn) {
        let early = async {
            self.client.write_all(&upstream.buf).await?;
            upstream.io.write_all(&self.buf).await
        };
        if early.await.is_err() {
            return;
        }
        upstream.buf.clear();
        self.buf.clear();
        if let Err(e) = tokio::io::copy_bidirectional(&mut self.client, &mut upstream.io).await {
            tracing::debug!("upgraded connection ended: {e}");
        }
    }

    /// Relays the response body to the client (the response head goes
    /// with its first bytes); whether it was delivered whole.
    async fn relay_response(
        &mut self,
        upstream: &mut UpstreamConn,
        response: &mut ResponseHead,
        guard: &mut Recording,
        client_close: bool,
    ) -> bool {
        let max = self.shared.config.max_body_bytes;
        // `out` holds the head so far (see `response_head`).
        let close = client_close && !response.switching;
        end_head(&mut self.out, self.shared.config.add_via, close);
        let mut ended = false;
        loop {
            let done = if ended {
                // Only a body that runs until the upstream closes may end so.
                if !response.body.ends_at_close() {
                    return false;
                }
                self.out.extend_from_slice(b"0\r\n\r\n");
                response.keep_alive = false;
                true
            } else {
                match response
                    .body
                    .take(&upstream.buf, &mut self.out, &mut guard.response, max)
                {
                    Ok((used, finished)) => {
                        upstream.buf.advance(used);
                        finished
                    }
                    Err(BadFraming) => return false,
                }
            };
            if self.client.write_all(&self.out).await.is_err() {
                return false;
            }
            if done {
                return true;
            }
            self.out.clear();
            upstream.buf.clear();
            upstream.buf.reserve(READ_SIZE);
            ended = match upstream.io.read_buf(&mut upstream.buf).await {
                Ok(n) => n == 0,
                Err(_) => return false,
            };
        }
    }

    /// Reads more of the request body from the client and sends it on;
    /// whether the body is complete.
    async fn stream_request_body(
        &mut self,
        upstream: &mut UpstreamConn,
        body: &mut Framing,
        copy: &mut BodyCopy,
        max: usize,
    ) -> Result<bool, Stream> {
        self.buf.reserve(READ_SIZE);
        match self.client.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => return Err(Stream::ClientGone),
            Ok(_) => {}
        }
        self.out.clear();
        let (used, done) = body
            .take(&self.buf, &mut self.out, copy, max)
            .map_err(|_| Stream::ClientGone)?;
        self.buf.advance(used);
        upstream
            .io
            .write_all(&self.out)
            .await
            .map_err(Stream::Upstream)?;
        Ok(done)
    }

    /// Reads the upstream's response head (interim 1xx responses are
    /// passed on to the client), within the response timeout. While the
    /// upstream takes its time, a client that closes its connection ends
    /// the wait: the exchange is recorded as abandoned.
    async fn response_head(
        &mut self,
        upstream: &mut UpstreamConn,
        method_is_head: bool,
        upgrade: bool,
    ) -> Result<ResponseHead, ResponseError> {
        let now = tokio::time::Instant::now();
        let deadline = now + self.shared.config.response_timeout;
        // Most responses come sooner; watching the client costs a read, so
        // it starts only then.
        let patience = now + PATIENCE;
        let mut watch_client = false;
        loop {
            if !upstream.buf.is_empty() {
                // A final head replaces the request in `out`: the request
                // is not sent again once a response has come.
                match ResponseHead::parse(&upstream.buf, method_is_head, upgrade, &mut self.out)? {
                    Some((head, len)) if head.interim => {
                        let interim = upstream.buf.split_to(len);
                        self.client
                            .write_all(&interim)
                            .await
                            .map_err(|_| ResponseError::ClientGone)?;
                        continue;
                    }
                    Some((head, len)) => {
                        upstream.buf.advance(len);
                        return Ok(head);
                    }
                    None if upstream.buf.len() > MAX_HEAD => {
                        return Err(ResponseError::Invalid("response head too large".into()));
                    }
                    None => {}
                }
            }
            let had = upstream.buf.len();
            upstream.buf.reserve(READ_SIZE);
            // What the client sends meanwhile (a pipelined request) is kept,
            // up to a head's worth.
            let room = self.buf.len() < MAX_HEAD;
            let read = tokio::select! {
                biased;
                read = upstream.io.read_buf(&mut upstream.buf) => read,
                () = tokio::time::sleep_until(deadline) => return Err(ResponseError::TimedOut),
                () = tokio::time::sleep_until(patience), if !watch_client => {
                    watch_client = true;
                    continue;
                }
                left = client_left(&self.client, &mut self.buf), if watch_client && room => {
                    if left {
                        return Err(ResponseError::ClientGone);
                    }
                    continue;
                }
            };
            match read {
                Err(e) => return Err(ResponseError::Io(e)),
                Ok(0) if had == 0 => return Err(ResponseError::Closed),
                Ok(0) => {
                    return Err(ResponseError::Invalid(
                        "the upstream closed the connection in the middle of the response head"
                            .into(),
                    ));
                }
                Ok(_) => {}
            }
        }
    }

    /// A new connection to `target`, within the connect timeout.
    async fn connect(&self, target: &Target) -> Result<UpstreamConn, UpstreamError> {
        let io = connect_tcp(
            &target.host,
            target.port,
            self.shared.config.connect_timeout,
        )
        .await?;
        Ok(UpstreamConn {
            host: target.host.clone(),
            port: target.port,
            io,
            buf: BytesMut::with_capacity(READ_SIZE),
            reused: false,
        })
    }

    /// Answers with a problem document (the upstream gave no response) and
    /// records that exchange, as the general path does.
    async fn fail(
        &mut self,
        guard: &mut Recording,
        target: &Target,
        error: &UpstreamError,
        close: bool,
    ) -> Next {
        let (response, body) = upstream_failed(&self.shared, target, error, guard.take());
        let status = error.status;
        self.out.clear();
        self.out.extend_from_slice(b"HTTP/1.1 ");
        self.out.extend_from_slice(status.as_str().as_bytes());
        self.out.push(b' ');
        self.out
            .extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
        self.out.extend_from_slice(b"\r\n");
        for (name, value) in response.headers() {
            write_field(&mut self.out, name.as_str().as_bytes(), value.as_bytes());
        }
        write_field(
            &mut self.out,
            b"content-length",
            body.len().to_string().as_bytes(),
        );
        if close {
            write_field(&mut self.out, b"connection", b"close");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&body);
        if self.client.write_all(&self.out).await.is_err() || close {
            Next::Close
        } else {
            Next::Continue
        }
    }

    /// Gives the connection, with what has been read from it, to the
    /// general path.
    async fn hand_over(self) {
        let Relay {
            shared,
            origin,
            watch,
            client,
            buf,
            ..
        } = self;
        let io = Rewind {
            read: buf.freeze(),
            inner: client,
        };
        serve_connection(shared, io, origin, watch).await;
    }
}

/// Why an exchange got no response from the upstream.
enum Failure {
    /// The client went away (or sent a body that cannot be read).
    ClientGone,
    /// The upstream could not be reached, failed or was too slow.
    Upstream {
        error: UpstreamError,
        /// The request body was read to its end (else the client
        /// connection cannot carry another request).
        request_done: bool,
    },
}

/// Waits for the client to send something or close; whether it closed.
/// Data is appended to `buf`.
async fn client_left(client: &TcpStream, buf: &mut BytesMut) -> bool {
    if client.readable().await.is_err() {
        return true;
    }
    buf.reserve(READ_SIZE);
    match client.try_read_buf(buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

/// Why streaming a request body stopped.
enum Stream {
    ClientGone,
    Upstream(io::Error),
}

/// Why there is no response head.
enum ResponseError {
    /// Closed before sending a byte.
    Closed,
    TimedOut,
    Io(io::Error),
    Invalid(String),
    ClientGone,
}

impl ResponseError {
    /// What the exchange comes to; `timeout` is the response timeout.
    fn into_failure(self, timeout: Duration, request_done: bool) -> Failure {
        let (status, detail) = match self {
            ResponseError::ClientGone => return Failure::ClientGone,
            ResponseError::Closed => (
                StatusCode::BAD_GATEWAY,
                "the upstream closed the connection without responding".into(),
            ),
            ResponseError::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                format!("no response headers within {} ms", timeout.as_millis()),
            ),
            ResponseError::Io(e) => (
                StatusCode::BAD_GATEWAY,
                format!("upstream connection error: {e}"),
            ),
            ResponseError::Invalid(detail) => (StatusCode::BAD_GATEWAY, detail),
        };
        Failure::Upstream {
            error: UpstreamError { status, detail },
            request_done,
        }
    }
}

/// Hands the exchange to the recorder exactly once: when it completes, or,
/// if the exchange is dropped first (the client went away, the grace
/// period ran out), as cut off.
struct Recording {
    pending: Option<Pending>,
    /// The request body captured so far.
    request: BodyCopy,
    /// The response body captured so far.
    response: BodyCopy,
    responded: bool,
    /// When the request head was read (latency is measured from there).
    arrival: Instant,
}

impl Recording {
    fn new(pending: Pending, arrival: Instant) -> Recording {
        Recording {
            pending: Some(pending),
            request: BodyCopy::default(),
            response: BodyCopy::default(),
            responded: false,
            arrival,
        }
    }

    /// The exchange to hand over, with its request body; `None` once
    /// handed over.
    fn take(&mut self) -> Option<Pending> {
        let pending = self.pending.take()?;
        pending.set_request_body(std::mem::take(&mut self.request));
        Some(pending)
    }

    fn responded(&mut self, head: &mut ResponseHead) {
        if let Some(pending) = &mut self.pending {
            pending.status = head.status;
            pending.response_headers = std::mem::take(&mut head.fields);
            pending.latency = self.arrival.elapsed();
        }
        self.responded = true;
    }

    fn finish(&mut self, incomplete: bool) {
        if let Some(pending) = self.take() {
            pending.complete(std::mem::take(&mut self.response), incomplete);
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(pending) = self.take() {
            if self.responded {
                pending.complete(std::mem::take(&mut self.response), true);
            } else {
                pending.abandon();
            }
        }
    }
}

/// What the relay needs from a request's header fields.
struct RequestHead<'a> {
    /// The client asks to switch protocols (`Upgrade`).
    upgrade: bool,
    host: Option<&'a [u8]>,
    scheme: Option<&'a [u8]>,
    body: Framing,
    close: bool,
    te_trailers: bool,
    /// Field names `Connection` lists: hop-by-hop too.
    listed: Vec<&'a [u8]>,
}

impl<'a> RequestHead<'a> {
    fn read(headers: &[httparse::Header<'a>]) -> Result<RequestHead<'a>, HandOver> {
        let mut head = RequestHead {
            upgrade: false,
            host: None,
            scheme: None,
            body: Framing::Empty,
            close: false,
            te_trailers: false,
            listed: Vec::new(),
        };
        let mut length = None;
        let mut chunked = false;
        for h in headers {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                if length.is_some() {
                    return Err(HandOver);
                }
                length = Some(parse_length(h.value).ok_or(HandOver)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if chunked || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    return Err(HandOver);
                }
                chunked = true;
            } else if name.eq_ignore_ascii_case("host") {
                if head.host.is_some() {
                    return Err(HandOver);
                }
                head.host = Some(h.value);
            } else if name.eq_ignore_ascii_case(SCHEME_HEADER) {
                head.scheme = Some(h.value);
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(h.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        head.close = true;
                    } else if !token.eq_ignore_ascii_case(b"keep-alive") {
                        head.listed.push(token);
                    }
                }
            } else if name.eq_ignore_ascii_case("te") {
                head.te_trailers |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"trailers"));
            } else if name.eq_ignore_ascii_case("upgrade") {
                head.upgrade = true;
            } else if name.eq_ignore_ascii_case("expect") {
                return Err(HandOver);
            }
        }
        head.body = match (length, chunked) {
            (Some(_), true) => return Err(HandOver),
            // A body before switching protocols: the general path's job.
            (Some(1..), _) | (_, true) if head.upgrade => return Err(HandOver),
            (Some(0), false) | (None, false) => Framing::Empty,
            (Some(n), false) => Framing::Length(n),
            (None, true) => Framing::Chunked(Chunked::default()),
        };
        Ok(head)
    }

    /// Whether a field is not forwarded: hop-by-hop (RFC 9110 §7.6.1), or
    /// re-written by the relay (`TE: trailers`, `Transfer-Encoding`).
    fn drops(&self, name: &str) -> bool {
        is_hop_by_hop(name)
            || self
                .listed
                .iter()
                .any(|l| l.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// What the relay needs from a response head.
struct ResponseHead {
    status: u16,
    /// 1xx other than 101: passed on, then the real response follows.
    interim: bool,
    /// 101 to a request that asked for it: the connection changes hands.
    switching: bool,
    body: Framing,
    /// The upstream connection can carry another exchange afterwards.
    keep_alive: bool,
    /// The fields as received, for the recording.
    fields: Fields,
}

impl ResponseHead {
    /// The head at the start of `buf` and its length; `None` if it is not
    /// all there yet. For a final (not interim) response, `out` is
    /// replaced by the head for the client, less its last fields (see
    /// [`end_head`]).
    fn parse(
        buf: &[u8],
        method_is_head: bool,
        upgrade: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => {
                return Err(ResponseError::Invalid(format!(
                    "invalid response head: {e}"
                )));
            }
        };
        let (Some(status), Some(version)) = (response.code, response.version) else {
            return Err(ResponseError::Invalid("invalid response head".into()));
        };
        let switching = status == 101;
        if switching && !upgrade {
            return Err(ResponseError::Invalid(
                "the upstream switched protocols without being asked to".into(),
            ));
        }
        let interim = (100..200).contains(&status) && !switching;
        let mut length: Option<u64> = None;
        let mut chunked = None;
        let mut close = version == 0;
        let mut listed: Vec<&[u8]> = Vec::new();
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = parse_length(h.value)
                    .ok_or_else(|| ResponseError::Invalid("invalid content-length".into()))?;
                if length.is_some_and(|l| l != n) {
                    return Err(ResponseError::Invalid("conflicting content-length".into()));
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                let last = tokens(h.value).last().unwrap_or_default();
                chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in tokens(h.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        close &= version != 0;
                    } else {
                        listed.push(token);
                    }
                }
            }
        }
        let bodiless = interim || switching || method_is_head || status == 204 || status == 304;
        let body = match (bodiless, chunked, length) {
            (true, _, _) => Framing::Empty,
            (false, Some(true), _) => Framing::Chunked(Chunked::default()),
            (false, Some(false), _) => Framing::UntilClose,
            (false, None, Some(0)) => Framing::Empty,
            (false, None, Some(n)) => Framing::Length(n),
            (false, None, None) => Framing::UntilClose,
        };
        // httparse reads exactly three digits, which is what this takes.
        let code = StatusCode::from_u16(status)
            .map_err(|_| ResponseError::Invalid(format!("invalid status {status}")))?;
        let reason = match response.reason {
            Some(reason) if !reason.is_empty() => reason,
            _ => code.canonical_reason().unwrap_or(""),
        };
        let keep_alive = !close && !switching && !matches!(body, Framing::UntilClose);
        let mut fields = Fields::default();
        if interim {
            // Passed on as it came; the final response is what is recorded.
            let head = ResponseHead {
                status,
                interim,
                switching,
                body,
                keep_alive,
                fields,
            };
            return Ok(Some((head, len)));
        }
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let chunked = matches!(body, Framing::Chunked(_));
        for h in response.headers.iter() {
            fields.append(
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            );
            let forwarded = if switching {
                // `Upgrade` and `Connection` say what the connection becomes.
                true
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // The chunked framing is relayed as it is.
                chunked
            } else if h.name.eq_ignore_ascii_case("content-length") {
                // Next to chunked it means nothing (RFC 9112 §6.3).
                !chunked
            } else {
                let name = h.name.as_bytes();
                !is_hop_by_hop(h.name) && !listed.iter().any(|l| l.eq_ignore_ascii_case(name))
            };
            if forwarded {
                write_field(out, h.name.as_bytes(), h.value);
            }
        }
        if matches!(body, Framing::UntilClose) {
            write_field(out, b"transfer-encoding", b"chunked");
        }
        let head = ResponseHead {
            status,
            interim,
            switching,
            body,
            keep_alive,
            fields,
        };
        Ok(Some((head, len)))
    }
}

/// Ends a response head for the client that [`ResponseHead::parse`] began:
/// `Via` if asked for, `Connection: close` if the connection ends here.
fn end_head(out: &mut Vec<u8>, via: bool, close: bool) {
    if via {
        write_field(out, b"via", b"1.1 hmt");
    }
    if close {
        write_field(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
}

/// How a message body is delimited, and how much of it is left.
#[derive(Debug)]
enum Framing {
    Empty,
    Length(u64),
    Chunked(Chunked),
    /// Until the upstream closes (responses only); re-chunked for the
    /// client, so the client connection stays usable.
    UntilClose,
}

/// The framing is broken: the connection cannot go on.
#[derive(Debug)]
struct BadFraming;

impl Framing {
    /// Takes from `input` the bytes that belong to this body, appends what
    /// is forwarded to `out` and the body's data to `copy`. Returns how
    /// many bytes were taken and whether the body is complete.
    fn take(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        copy: &mut BodyCopy,
        max: usize,
    ) -> Result<(usize, bool), BadFraming> {
        match self {
            Framing::Empty => Ok((0, true)),
            Framing::Length(left) => {
                let n = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                copy.push(&input[..n], max);
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            Framing::Chunked(chunked) => {
                let used = chunked.feed(input, copy, max)?;
                out.extend_from_slice(&input[..used]);
                Ok((used, chunked.done()))
            }
            Framing::UntilClose => {
                if !input.is_empty() {
                    out.extend_from_slice(format!("{:x}\r\n", input.len()).as_bytes());
                    out.extend_from_slice(input);
                    out.extend_from_slice(b"\r\n");
                    copy.push(input, max);
                }
                Ok((input.len(), false))
            }
        }
    }

    fn ends_at_close(&self) -> bool {
        matches!(self, Framing::UntilClose)
    }
}

/// Where a chunked body's reader is (RFC 9112 §7.1).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the chunk size; how many hex digits so far.
    #[default]
    Size,
    /// After the size: extensions, up to CR.
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

/// A chunked body's reader: finds where the body ends and its data.
#[derive(Debug, Default)]
struct Chunked {
    state: ChunkState,
    size: u64,
    digits: u8,
}

impl Chunked {
    fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Reads `input` up to the end of the body; returns how many bytes
    /// belong to it, with the data pushed to `copy`.
    fn feed(&mut self, input: &[u8], copy: &mut BodyCopy, max: usize) -> Result<usize, BadFraming> {
        let mut i = 0;
        while i < input.len() && self.state != ChunkState::Done {
            if self.state == ChunkState::Data {
                let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                copy.push(&input[i..i + n], max);
                self.size -= n as u64;
                i += n;
                if self.size == 0 {
                    self.state = ChunkState::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (ChunkState::Size, b) if b.is_ascii_hexdigit() => {
                    if self.digits == 15 {
                        return Err(BadFraming);
                    }
                    self.digits += 1;
                    self.size = self.size * 16 + u64::from(hex(b));
                    ChunkState::Size
                }
                (ChunkState::Size, b';' | b' ' | b'\t') if self.digits > 0 => ChunkState::Extension,
                (ChunkState::Size, b'\r') if self.digits > 0 => ChunkState::SizeLf,
                (ChunkState::Extension, b'\r') => ChunkState::SizeLf,
                (ChunkState::Extension, _) => ChunkState::Extension,
                (ChunkState::SizeLf, b'\n') => {
                    self.digits = 0;
                    if self.size == 0 {
                        ChunkState::TrailerStart
                    } else {
                        ChunkState::Data
                    }
                }
                (ChunkState::DataCr, b'\r') => ChunkState::DataLf,
                (ChunkState::DataLf, b'\n') => ChunkState::Size,
                (ChunkState::TrailerStart, b'\r') => ChunkState::EndLf,
                (ChunkState::TrailerStart, _) => ChunkState::TrailerLine,
                (ChunkState::TrailerLine, b'\r') => ChunkState::TrailerLf,
                (ChunkState::TrailerLine, _) => ChunkState::TrailerLine,
                (ChunkState::TrailerLf, b'\n') => ChunkState::TrailerStart,
                (ChunkState::EndLf, b'\n') => ChunkState::Done,
                _ => return Err(BadFraming),
            };
        }
        Ok(i)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A `Content-Length` value: digits only.
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// A connection whose first bytes were already read: they are read again
/// first. Lets the general path take over a connection mid-way.
struct Rewind {
    read: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dechunk(input: &[u8], split: usize) -> Result<(usize, Vec<u8>, bool), BadFraming> {
        let mut chunked = Chunked::default();
        let mut copy = BodyCopy::default();
        let first = chunked.feed(&input[..split], &mut copy, usize::MAX)?;
        let mut used = first;
        if !chunked.done() {
            used += chunked.feed(&input[split..], &mut copy, usize::MAX)?;
        }
        Ok((used, copy.into_bytes(), chunked.done()))
    }

    /// Wherever the reads split it, a chunked body ends exactly after its
    /// last CRLF, and its data is what the chunks carried.
    #[test]
    fn chunked_bodies_end_where_they_end_however_they_are_split() {
        let body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1";
        let end = body.len() - b"GET / HTTP/1.1".len();
        for split in 0..body.len() {
            let (used, data, done) = dechunk(body, split).unwrap();
            assert!(done, "split {split}");
            assert_eq!(used, end, "split {split}");
            assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.", "split {split}");
        }
    }

    #[test]
    fn broken_chunk_framing_is_an_error() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"4\r\nWikiXX",
            b"fffffffffffffffff\r\n",
            b"0\r\n\rX",
        ] {
            assert!(
                dechunk(bad, 0).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        let parse = |head: &str, head_request: bool| {
            ResponseHead::parse(head.as_bytes(), head_request, false, &mut Vec::new())
                .ok()
                .unwrap()
                .map(|(h, _)| (format!("{:?}", h.body), h.keep_alive))
                .unwrap()
        };
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false),
            ("Length(5)".into(), true)
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
            ("Empty".into(), true)
        );
        assert_eq!(
            parse(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                false
            )
            .0,
            "Chunked(Chunked { state: Size, size: 0, digits: 0 })"
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\n\r\n", false),
            ("UntilClose".into(), false)
        );
        assert_eq!(
            parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false),
            ("Length(1)".into(), false)
        );
        assert_eq!(
            parse(
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                false
            ),
            ("Length(1)".into(), true)
        );
        assert_eq!(
            parse("HTTP/1.1 204 No Content\r\n\r\n", false),
            ("Empty".into(), true)
        );
        assert_eq!(
            parse(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
                false
            ),
            ("Length(2)".into(), false)
        );
        assert!(
            ResponseHead::parse(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false,
                false,
                &mut Vec::new(),
            )
            .is_err()
        );
    }

    /// The client gets the upstream's fields in their order and case, less
    /// the hop-by-hop ones and those `Connection` names.
    #[test]
    fn client_head_keeps_case_and_order_and_drops_hop_by_hop_fields() {
        let mut out = b"the request, replaced".to_vec();
        let (head, _) = ResponseHead::parse(
            b"HTTP/1.1 200 Fine\r\nX-B: 1\r\nConnection: keep-alive, X-Private\r\nSet-Cookie: a=1\r\nX-Private: p\r\nKeep-Alive: timeout=5\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
            &mut out,
        )
        .ok()
        .unwrap()
        .unwrap();
        end_head(&mut out, true, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 Fine\r\nX-B: 1\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\nvia: 1.1 hmt\r\n\r\n"
        );
        assert_eq!(
            head.fields.get_all_ignore_case("set-cookie"),
            ["a=1", "b=2"]
        );
        assert_eq!(
            head.fields.get_all_ignore_case("connection"),
            ["keep-alive, X-Private"]
        );
    }
}
