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
//! Every head is read strictly (`framing.rs`): a request whose framing
//! could be read two ways is refused with a 4xx/501 and the connection
//! closed, before a byte of it reaches the upstream.
//!
//! What it does not do, it hands over: a request it does not handle is
//! given, with the connection and every byte read so far, to the general
//! path in `proxy.rs`, which serves the rest of the connection behind the
//! same strict rules (`gate.rs`). That covers
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
use crate::destination::connect_tcp;
use crate::framing::{
    BadFraming, BodyLength, Chunked, Framing, Refusal, RequestFraming, check_line_endings,
    frames_the_message, parse_length,
};
use crate::gate::Gated;
use crate::hop::{is_hop_by_hop, tokens};
use crate::proxy::{Shared, refused, serve_connection, upstream_failed};
use crate::route::{self, Origin, Routing, SCHEME_HEADER, Target};
use crate::shutdown::{Phase, Watch};
use crate::upstream::UpstreamError;
use bytes::{Buf, BytesMut};
use hmt_types::{Fields, Method};
use http::header::{HOST, HeaderValue};
use http::{HeaderMap, StatusCode, Uri, Version};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request or response head read; a bigger request is
/// refused with 431, a bigger response is a 502.
const MAX_HEAD: usize = 64 * 1024;

/// Header fields parsed per head; a request with more is handed over.
const MAX_HEADERS: usize = 128;

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
            Err(NotRelayed::HandOver) => return relay.hand_over().await,
            Err(NotRelayed::Refuse(refusal)) => return relay.refuse(&refusal).await,
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

fn head_too_large() -> Refusal {
    Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        detail: format!("the request head is larger than {MAX_HEAD} bytes"),
    }
}

/// `io` within `limit`. Most reads and writes of a busy connection are
/// ready at once: those are done without reading the clock or arming a
/// timer, which `tokio::time::timeout` does for every call.
async fn within<F: std::future::Future>(
    limit: Duration,
    io: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut io = std::pin::pin!(io);
    if let std::task::Poll::Ready(done) = futures_util::poll!(io.as_mut()) {
        return Ok(done);
    }
    tokio::time::timeout(limit, io).await
}

/// Why the relay does not relay a request.
enum NotRelayed {
    /// It is for the general path.
    HandOver,
    /// Its framing is ambiguous or broken: it is answered and the
    /// connection closed, and nothing reaches the upstream.
    Refuse(Refusal),
}

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
    async fn next_request(&mut self) -> Result<Option<Plan>, NotRelayed> {
        loop {
            if !self.buf.is_empty() {
                if let Some(plan) = self.plan()? {
                    return Ok(Some(plan));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(NotRelayed::Refuse(head_too_large()));
                }
            } else if self.watch.phase() >= Phase::Draining {
                return Ok(None);
            }
            let idle = self.buf.is_empty();
            self.buf.reserve(READ_SIZE);
            let limit = self.shared.config.idle_timeout;
            let read = tokio::time::timeout(limit, self.client.read_buf(&mut self.buf));
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
    fn plan(&mut self) -> Result<Option<Plan>, NotRelayed> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let head_len = match request.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            // The HTTP/2 preface (`PRI * HTTP/2.0`) and other versions are
            // hyper's to serve or refuse; hyper also takes more fields, and
            // answers for itself if there are too many.
            Err(httparse::Error::Version | httparse::Error::TooManyHeaders) => {
                return Err(NotRelayed::HandOver);
            }
            Err(e) => {
                return Err(NotRelayed::Refuse(Refusal {
                    status: StatusCode::BAD_REQUEST,
                    detail: format!("the request head does not parse: {e}"),
                }));
            }
        };
        if head_len > MAX_HEAD {
            return Err(NotRelayed::Refuse(head_too_large()));
        }
        let arrival = Arrival::now();
        check_line_endings(&self.buf[..head_len]).map_err(NotRelayed::Refuse)?;
        let (Some(method), Some(path), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Err(NotRelayed::HandOver);
        };
        let version = if minor == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let head = RequestHead::read(request.headers, version)?;
        let Some(recorded_method) = Method::parse(method).filter(|_| method != "CONNECT") else {
            return Err(NotRelayed::HandOver);
        };
        let uri = Uri::try_from(path).map_err(|_| NotRelayed::HandOver)?;
        // Only header routing reads fields; the others need no map built.
        let routing = &self.shared.config.routing;
        let mut routing_headers = HeaderMap::new();
        if *routing == Routing::Header {
            if let Some(host) = head.host {
                let host = HeaderValue::from_bytes(host).map_err(|_| NotRelayed::HandOver)?;
                routing_headers.insert(HOST, host);
            }
            if let Some(scheme) = head.scheme {
                let scheme = HeaderValue::from_bytes(scheme).map_err(|_| NotRelayed::HandOver)?;
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
        .map_err(|_| NotRelayed::HandOver)?;
        if target.https {
            return Err(NotRelayed::HandOver);
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
            Err(Failure::BadBody { reached_upstream }) => {
                if !reached_upstream {
                    // Nothing was forwarded: nothing to record.
                    drop(guard.pending.take());
                }
                let refusal = Refusal {
                    status: StatusCode::BAD_REQUEST,
                    detail: "the request's chunked body is malformed".into(),
                };
                let (response, body) = refused(&self.shared, &refusal);
                write_response(&mut self.out, &response, &body, true);
                let _ = self.client.write_all(&self.out).await;
                return Next::Close;
            }
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
            .map_err(|BadFraming| Failure::BadBody {
                reached_upstream: false,
            })?;
        self.buf.advance(used);
        guard.request.unfinished = !request_done;
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
                    Ok(done) => {
                        request_done = done;
                        guard.request.unfinished = !done;
                    }
                    Err(Stream::ClientGone) => return Err(Failure::ClientGone),
                    Err(Stream::BadBody) => {
                        return Err(Failure::BadBody {
                            reached_upstream: true,
                        });
                    }
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
        // A proxy that is stopping says so, or a keep-alive client would
        // send its next request into a connection about to close.
        let stopping = self.watch.phase() >= Phase::Draining;
        let close = (client_close || stopping) && !response.switching;
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
            // A client that stops reading, or an upstream that stops
            // sending, for longer than the body timeout ends the exchange.
            let stall = self.shared.config.body_timeout;
            match within(stall, self.client.write_all(&self.out)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
            if done {
                return true;
            }
            self.out.clear();
            upstream.buf.clear();
            upstream.buf.reserve(READ_SIZE);
            ended = match within(stall, upstream.io.read_buf(&mut upstream.buf)).await {
                Ok(Ok(n)) => n == 0,
                Ok(Err(_)) => return false,
                Err(_) => {
                    tracing::debug!("the upstream's response body stalled for {stall:?}");
                    return false;
                }
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
        // A client that stops sending its body, or an upstream that stops
        // taking it, for longer than the body timeout ends the exchange.
        let stall = self.shared.config.body_timeout;
        self.buf.reserve(READ_SIZE);
        match within(stall, self.client.read_buf(&mut self.buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return Err(Stream::ClientGone),
            Ok(Ok(_)) => {}
        }
        self.out.clear();
        let (used, done) = body
            .take(&self.buf, &mut self.out, copy, max)
            .map_err(|BadFraming| Stream::BadBody)?;
        self.buf.advance(used);
        match within(stall, upstream.io.write_all(&self.out)).await {
            Ok(result) => result.map_err(Stream::Upstream)?,
            Err(_) => {
                let stalled =
                    io::Error::new(io::ErrorKind::TimedOut, "the upstream stopped reading");
                return Err(Stream::Upstream(stalled));
            }
        }
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
            &self.shared.destinations,
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
        let close = close || self.watch.phase() >= Phase::Draining;
        write_response(&mut self.out, &response, &body, close);
        if self.client.write_all(&self.out).await.is_err() || close {
            Next::Close
        } else {
            Next::Continue
        }
    }

    /// Answers a request that is not forwarded because of its framing, and
    /// closes the connection: where its message ends is unknown, so no
    /// byte after it can be trusted as the next request.
    async fn refuse(mut self, refusal: &Refusal) {
        let (response, body) = refused(&self.shared, refusal);
        write_response(&mut self.out, &response, &body, true);
        let _ = self.client.write_all(&self.out).await;
        let _ = self.client.shutdown().await;
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
        serve_connection(shared, Gated::new(client, &buf), origin, watch).await;
    }
}

/// Why an exchange got no response from the upstream.
enum Failure {
    /// The client went away.
    ClientGone,
    /// The client's body framing broke; the upstream got the part before.
    BadBody { reached_upstream: bool },
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
    /// The body's framing broke (a malformed chunk).
    BadBody,
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
    /// Reads the fields of a request head. A request whose framing is
    /// ambiguous is refused (see `framing.rs`) before anything else is
    /// decided, also when it would be handed over, so that no path ever
    /// forwards it.
    fn read(
        headers: &[httparse::Header<'a>],
        version: Version,
    ) -> Result<RequestHead<'a>, NotRelayed> {
        let mut head = RequestHead {
            upgrade: false,
            host: None,
            scheme: None,
            body: Framing::Empty,
            close: false,
            te_trailers: false,
            listed: Vec::new(),
        };
        let mut framing = RequestFraming::default();
        let mut expect = false;
        for h in headers {
            let name = h.name;
            framing
                .field(name.as_bytes(), h.value)
                .map_err(NotRelayed::Refuse)?;
            if name.eq_ignore_ascii_case("host") {
                head.host = Some(h.value);
            } else if name.eq_ignore_ascii_case(SCHEME_HEADER) {
                head.scheme = Some(h.value);
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(h.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        head.close = true;
                    } else if !token.eq_ignore_ascii_case(b"keep-alive")
                        && !frames_the_message(token)
                    {
                        head.listed.push(token);
                    }
                }
            } else if name.eq_ignore_ascii_case("te") {
                head.te_trailers |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"trailers"));
            } else if name.eq_ignore_ascii_case("upgrade") {
                head.upgrade = true;
            } else if name.eq_ignore_ascii_case("expect") {
                expect = true;
            }
        }
        let length = framing.finish(version).map_err(NotRelayed::Refuse)?;
        // HTTP/1.0, `Expect` and a body before switching protocols are the
        // general path's job.
        let body_before_upgrade = head.upgrade && length != BodyLength::Empty;
        if version == Version::HTTP_10 || expect || body_before_upgrade {
            return Err(NotRelayed::HandOver);
        }
        head.body = length.into();
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

/// Writes a whole response the proxy made (a problem document) into
/// `out`, replacing what was there.
fn write_response<B>(out: &mut Vec<u8>, response: &http::Response<B>, body: &[u8], close: bool) {
    let status = response.status();
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        write_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    write_field(out, b"content-length", body.len().to_string().as_bytes());
    if close {
        write_field(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

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
