//! What a stub answers: a [`Reply`] to send, a [`Fault`] to commit on the
//! connection, or a proxy for the server to carry out.

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
}

impl Reply {
    /// A reply with a status, no headers and no body.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
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

/// A broken connection instead of a response (mountebank's `fault`).
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
