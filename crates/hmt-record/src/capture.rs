//! Capture: bounded copies of bodies as they stream past, and the
//! [`Captured`] exchange handed to the recorder once the response has been
//! delivered.
//!
//! Bodies are never buffered for forwarding. `RequestTap` and
//! `ResponseTap` wrap the streaming bodies, pass every frame through
//! untouched and copy data into a buffer until `max_body_bytes`; past the
//! cap they only count. When the response body ends, fails, or is dropped
//! because the client went away, the `ResponseTap` assembles the
//! exchange and calls [`OnExchange::on_exchange`], exactly once.

use crate::route::Target;
use crate::shutdown::InFlight;
use crate::upstream::{BoxError, Reuse};
use bytes::Bytes;
use hmt_types::clock;
use hmt_types::sync::lock;
use hmt_types::{Exchange, Fields, Method, Protocol, Request, Response};
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Map, Value};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

/// One captured exchange, handed to the recorder when the response body has
/// been fully delivered (or the client went away).
#[derive(Clone, Debug)]
pub struct Captured {
    /// The request as the client sent it, seen from the upstream: `url`,
    /// `protocol`, `host` and path are the upstream's, headers as received
    /// (names lower-case) but with `Host` naming the upstream; bodies as on
    /// the wire (still content-encoded), each capped at `max_body_bytes`.
    /// `meta` holds `latencyMs` and, when they apply,
    /// `requestBodyTruncated`, `requestBodyIncomplete` (the body was not
    /// read to its end), `responseBodyTruncated` and `responseIncomplete`.
    pub exchange: Exchange,
    /// The upstream's `host[:port]`, the port omitted when it is the
    /// scheme's default.
    pub target_host: String,
    /// Whether the proxy itself answered (a 502 or 504 problem because the
    /// upstream failed) rather than relaying the upstream's response.
    pub answered_by_proxy: bool,
}

/// Receives every captured exchange.
///
/// Called on the proxy's worker threads as each response completes; it must
/// return quickly (hand the exchange to a queue, as the
/// [`Recorder`](crate::recorder::Recorder) does, or to a fast sink).
pub trait OnExchange: Send + Sync + 'static {
    /// Takes one exchange.
    fn on_exchange(&self, captured: Captured);
}

impl<F: Fn(Captured) + Send + Sync + 'static> OnExchange for F {
    fn on_exchange(&self, captured: Captured) {
        self(captured)
    }
}

/// When a request arrived, by both clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub wall: SystemTime,
    pub instant: Instant,
}

impl Arrival {
    pub(crate) fn now() -> Arrival {
        Arrival {
            wall: SystemTime::now(),
            instant: Instant::now(),
        }
    }
}

/// A bounded copy of a body.
#[derive(Debug, Default)]
pub(crate) struct BodyCopy {
    bytes: Vec<u8>,
    truncated: bool,
    /// The body was not read to its end when the exchange was handed over:
    /// an upstream that answered before reading it (`Expect:
    /// 100-continue`, an early 401 or 413), or a client that left mid-way.
    /// Recorded as `meta.requestBodyIncomplete`, so an empty or short body
    /// is never mistaken for what the client meant to send.
    pub(crate) unfinished: bool,
}

impl BodyCopy {
    pub(crate) fn push(&mut self, data: &[u8], max: usize) {
        let room = max.saturating_sub(self.bytes.len());
        if data.len() > room {
            self.truncated = true;
        }
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }
}

#[cfg(test)]
impl BodyCopy {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The request body on its way upstream, copied as it goes.
pub(crate) struct RequestTap<B> {
    inner: B,
    copy: Arc<Mutex<BodyCopy>>,
    max: usize,
}

impl<B> RequestTap<B> {
    pub(crate) fn new(inner: B, max: usize) -> (RequestTap<B>, Arc<Mutex<BodyCopy>>)
    where
        B: Body,
    {
        let copy = Arc::new(Mutex::new(BodyCopy {
            unfinished: !inner.is_end_stream(),
            ..BodyCopy::default()
        }));
        let tap = RequestTap {
            inner,
            copy: copy.clone(),
            max,
        };
        (tap, copy)
    }
}

impl<B> Body for RequestTap<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        let mut copy = lock(&this.copy);
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    copy.push(data, this.max);
                }
                if this.inner.is_end_stream() {
                    copy.unfinished = false;
                }
            }
            Some(Err(_)) => {}
            None => copy.unfinished = false,
        }
        Poll::Ready(frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Everything known about an exchange before its response body streams.
pub(crate) struct Pending {
    pub request: Request,
    pub request_body: Arc<Mutex<BodyCopy>>,
    pub status: u16,
    pub response_headers: Fields,
    pub latency: Duration,
    pub target_host: String,
    pub handler: Arc<dyn OnExchange>,
    pub delivered: Arc<AtomicU64>,
    /// Keeps graceful shutdown waiting until the handler has been called.
    pub in_flight: InFlight,
}

impl Pending {
    /// The request half of an exchange, seen from the upstream: `headers`
    /// as received, except that `Host` names the upstream (`authority`, as
    /// [`Target::authority`] gives it).
    pub(crate) fn request(
        method: Method,
        target: &Target,
        authority: &str,
        headers: Fields,
        arrival: Arrival,
    ) -> Request {
        let mut request = Request::new(method, &target.path_and_query);
        request.protocol = Some(if target.https {
            Protocol::Https
        } else {
            Protocol::Http
        });
        request.url = Some(target.url_with(authority));
        request.headers = headers;
        if !request.headers.get_all_ignore_case("host").is_empty() {
            request.headers.set_ignore_case("host", authority);
        }
        request.host = Some(authority.to_owned());
        request.timestamp = Some(clock::rfc3339_millis(arrival.wall));
        request
    }

    /// Sets the captured request body (when it was not captured by a
    /// [`RequestTap`]).
    pub(crate) fn set_request_body(&self, copy: BodyCopy) {
        *lock(&self.request_body) = copy;
    }

    /// Hands over the exchange with its response body.
    pub(crate) fn complete(self, body: BodyCopy, incomplete: bool) {
        self.finish(body, incomplete, false);
    }

    /// Hands the exchange over with the response body captured so far.
    fn finish(self, body: BodyCopy, incomplete: bool, answered_by_proxy: bool) {
        let mut meta = Map::new();
        meta.insert(
            "latencyMs".into(),
            Value::from(self.latency.as_micros() as f64 / 1000.0),
        );
        let mut request = self.request;
        let request_body = std::mem::take(&mut *lock(&self.request_body));
        if request_body.truncated {
            meta.insert("requestBodyTruncated".into(), Value::Bool(true));
        }
        if request_body.unfinished {
            meta.insert("requestBodyIncomplete".into(), Value::Bool(true));
        }
        request.body = non_empty(request_body.bytes);
        if body.truncated {
            meta.insert("responseBodyTruncated".into(), Value::Bool(true));
        }
        if incomplete {
            meta.insert("responseIncomplete".into(), Value::Bool(true));
        }
        // Status 0: the client went away before the upstream answered. The
        // upstream may still have acted on the request, so it is recorded,
        // without a response.
        let response = if self.status == 0 {
            meta.insert("clientAborted".into(), Value::Bool(true));
            None
        } else {
            Some(Response {
                status: self.status,
                headers: self.response_headers,
                body: non_empty(body.bytes),
                timestamp: Some(clock::rfc3339_millis(SystemTime::now())),
            })
        };
        let captured = Captured {
            exchange: Exchange {
                request,
                response,
                meta,
            },
            target_host: self.target_host,
            answered_by_proxy,
        };
        let handler = self.handler;
        // A panicking recorder must not take the connection down with it
        // (this may run inside a Drop).
        let handed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.on_exchange(captured)
        }));
        match handed {
            Ok(()) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => tracing::error!("the exchange handler panicked; exchange not recorded"),
        }
        drop(self.in_flight);
    }

    /// Hands over an exchange whose client went away before any response.
    pub(crate) fn abandon(mut self) {
        self.status = 0;
        self.finish(BodyCopy::default(), false, false);
    }

    /// Hands over an exchange whose response the proxy made itself.
    pub(crate) fn answered_by_proxy<B>(mut self, response: &http::Response<B>, body: &[u8]) {
        self.status = response.status().as_u16();
        self.response_headers = fields(response.headers());
        let mut copy = BodyCopy::default();
        copy.push(body, usize::MAX);
        self.finish(copy, false, true);
    }
}

/// The response body on its way to the client, copied as it goes; hands
/// the exchange over when it ends.
pub(crate) struct ResponseTap<B: Body> {
    inner: B,
    copy: BodyCopy,
    max: usize,
    pending: Option<Pending>,
    ended: bool,
    /// The upstream connection the body came on, given back for the next
    /// request once the body has been read to its end.
    reuse: Option<Reuse>,
}

impl<B: Body> ResponseTap<B> {
    pub(crate) fn new(
        inner: B,
        max: usize,
        pending: Option<Pending>,
        reuse: Option<Reuse>,
    ) -> ResponseTap<B> {
        ResponseTap {
            inner,
            copy: BodyCopy::default(),
            max,
            pending,
            ended: false,
            reuse,
        }
    }

    fn finish(&mut self, incomplete: bool) {
        if !incomplete && let Some(reuse) = self.reuse.take() {
            reuse.release();
        }
        if let Some(pending) = self.pending.take() {
            pending.finish(std::mem::take(&mut self.copy), incomplete, false);
        }
    }
}

impl<B> Body for ResponseTap<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.copy.push(data, this.max);
                }
                if this.inner.is_end_stream() {
                    this.ended = true;
                    this.finish(false);
                }
            }
            Some(Err(_)) => {
                // The connection failed mid-body: no use for another request.
                this.reuse = None;
                this.finish(true);
            }
            None => {
                this.ended = true;
                this.finish(false);
            }
        }
        Poll::Ready(frame.map(|f| f.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for ResponseTap<B> {
    fn drop(&mut self) {
        // Bodies that are empty by definition (HEAD, 204, 304) are dropped
        // unpolled; only a body with more to come is cut short.
        let incomplete = !self.ended && !self.inner.is_end_stream();
        self.finish(incomplete);
    }
}

/// Header fields in received order, repeated names kept together in order.
pub(crate) fn fields(headers: &HeaderMap) -> Fields {
    let mut fields = Fields::default();
    for (name, value) in headers {
        fields.append(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    fields
}

/// The header fields of a request head as recorded: [`fields`], with the
/// authority the client named in the request target as a leading `host`
/// field when it sent no `Host`.
///
/// HTTP/2 (and HTTP/3) carry the authority in the `:authority`
/// pseudo-header, which hyper puts in the URI rather than in the header
/// map; without this, the same request would be recorded with a `host`
/// over HTTP/1.1 and without one over HTTP/2, and the two would build and
/// replay differently. [`Pending::request`] then rewrites it to the
/// upstream's authority, as it does an HTTP/1 `Host`.
pub(crate) fn head_fields(head: &http::request::Parts) -> Fields {
    let headers = &head.headers;
    let Some(authority) = head
        .uri
        .authority()
        .filter(|_| !headers.contains_key(http::header::HOST))
    else {
        return fields(headers);
    };
    let mut fields = Fields::default();
    fields.append("host", authority.as_str().to_owned());
    for (name, value) in headers {
        fields.append(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    fields
}

fn non_empty(bytes: Vec<u8>) -> Option<Vec<u8>> {
    (!bytes.is_empty()).then_some(bytes)
}

/// Records the request if the future forwarding it is dropped (the client
/// went away) before the upstream answered.
pub(crate) struct AbandonGuard(pub Option<Pending>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_stands_in_for_a_missing_host() {
        let head = |uri: &str, host: Option<&str>| {
            let mut request = http::Request::builder().uri(uri);
            if let Some(host) = host {
                request = request.header("host", host);
            }
            request
                .header("accept", "*/*")
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let h2 = head_fields(&head("https://api.test:8443/a?b=1", None));
        let recorded: Vec<(&str, &[String])> = h2.iter().collect();
        assert_eq!(
            recorded,
            [
                ("host", &["api.test:8443".to_owned()][..]),
                ("accept", &["*/*".to_owned()][..])
            ]
        );
        // A Host sent is what was sent; an origin-form target adds nothing.
        let with_host = head("https://api.test:8443/a", Some("other.test"));
        assert_eq!(head_fields(&with_host), fields(&with_host.headers));
        let origin_form = head("/a", None);
        assert_eq!(head_fields(&origin_form), fields(&origin_form.headers));
    }

    #[test]
    fn copies_up_to_the_cap_and_flags_the_rest() {
        let mut c = BodyCopy::default();
        c.push(b"abc", 5);
        c.push(b"def", 5);
        c.push(b"g", 5);
        assert_eq!(c.bytes, b"abcde");
        assert!(c.truncated);
        let mut c = BodyCopy::default();
        c.push(b"abcde", 5);
        assert!(!c.truncated);
    }
}
