//! What a stub answers: a [`Reply`] to send, a [`Fault`] to commit on the
//! connection, or a proxy for the server to carry out.

use bytes::Bytes;
use futures_core::Stream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers in order; a name may repeat (`Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// How long to wait before sending (mountebank's `wait` behavior).
    pub delay: Duration,
    /// How the body goes out: whole, in timed chunks, from a stream, or
    /// broken on purpose.
    pub delivery: Delivery,
}

/// How a reply's body is sent.
///
/// A body is data first (`body`); delivery says how it reaches the client,
/// so the same reply can be sent whole, slowly or cut short, and the
/// journal still knows what was meant to be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Delivery {
    /// All at once (the usual case).
    #[default]
    Whole,
    /// These pieces instead of `body`, each sent after its delay:
    /// server-sent events, progress of a long job.
    Chunks(Vec<Chunk>),
    /// What a Rust stream yields, sent as it yields, instead of `body`.
    Stream(BodyStream),
    /// `Content-Length` announces the whole body, the first half is sent,
    /// then the connection closes: the client sees a truncated response.
    CutShort,
    /// The body `bytes` at a time, `interval` apart: a slow network.
    Dribble {
        /// Bytes per write (at least one).
        bytes: usize,
        /// Pause between writes.
        interval: Duration,
    },
}

/// One piece of a body sent in chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Wait this long before sending it.
    pub delay: Duration,
    /// Its bytes.
    pub data: Bytes,
}

/// A body produced by a stream. A stream can be read once, so the first
/// send takes it; a stub that streams on every request makes a new one
/// per request (a closure responder).
#[derive(Clone)]
pub struct BodyStream(Arc<Mutex<Option<BoxedStream>>>);

/// The stream type a [`BodyStream`] holds.
pub(crate) type BoxedStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

impl BodyStream {
    /// Wraps a stream of body pieces.
    pub fn new(stream: impl Stream<Item = Bytes> + Send + 'static) -> BodyStream {
        BodyStream(Arc::new(Mutex::new(Some(Box::pin(stream)))))
    }

    /// The stream, the first time; `None` after.
    pub fn take(&self) -> Option<BoxedStream> {
        hmt_types::sync::lock(&self.0).take()
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

impl PartialEq for BodyStream {
    fn eq(&self, other: &BodyStream) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for BodyStream {}

impl Reply {
    /// A reply with a status, no headers and no body.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            delivery: Delivery::Whole,
        }
    }

    /// A JSON body, with `Content-Type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Reply {
        self.with_header("Content-Type", "application/json")
            .with_body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// Sends the body in these pieces, each after its delay, instead of
    /// `body`.
    pub fn with_chunks(mut self, chunks: impl IntoIterator<Item = (Duration, Bytes)>) -> Reply {
        self.delivery = Delivery::Chunks(
            chunks
                .into_iter()
                .map(|(delay, data)| Chunk { delay, data })
                .collect(),
        );
        self
    }

    /// Sends what `stream` yields, as it yields it, instead of `body`.
    pub fn with_stream(mut self, stream: impl Stream<Item = Bytes> + Send + 'static) -> Reply {
        self.delivery = Delivery::Stream(BodyStream::new(stream));
        self
    }

    /// Sets how the body is sent.
    pub fn with_delivery(mut self, delivery: Delivery) -> Reply {
        self.delivery = delivery;
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Sets the delay before the reply is sent.
    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// The first value of a header, its name compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

/// The first value of `name` in a header list, compared without case.
pub(crate) fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A broken connection instead of a response (mountebank's `fault`);
/// faults that break a response's body are a [`Delivery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close with a TCP reset: the client sees `ECONNRESET`.
    ConnectionResetByPeer,
    /// Send bytes that are not HTTP, then close.
    RandomDataThenClose,
}

/// What the engine decided for a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this response.
    Reply(Reply),
    /// Break the connection.
    Fault(Fault),
    /// Forward to an origin: mountebank's `proxy` response, as it was
    /// defined. The server carries it out, since it needs the network, and
    /// may record what comes back as a new stub.
    Proxy(serde_json::Value),
}

impl From<Reply> for Action {
    fn from(reply: Reply) -> Action {
        Action::Reply(reply)
    }
}

impl From<Fault> for Action {
    fn from(fault: Fault) -> Action {
        Action::Fault(fault)
    }
}
