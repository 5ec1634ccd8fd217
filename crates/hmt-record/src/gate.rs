//! The framing gate in front of hyper: the general path refuses what the
//! relay refuses.
//!
//! hyper parses requests its own way: it accepts a bare LF as a line end
//! and, given both `Content-Length` and `Transfer-Encoding`, quietly drops
//! the length. Because hyper re-frames every body it forwards, the upstream
//! still gets one request per recorded exchange, but a client that the relay
//! would refuse could get through by first sending an HTTP/1.0 request (or
//! by going through an intercepted CONNECT). So the bytes hyper reads pass
//! through [`RequestGate`] first, which reads each HTTP/1 request head with
//! the relay's strict rules (`framing.rs`) and follows its body to find the
//! next head. A request the rules refuse never reaches hyper as it was
//! sent: hyper reads a stand-in request instead, which carries the refusal
//! in fields only this process can write (a random token), and the proxy
//! answers it with the refusal (`proxy::handle`). The connection then
//! closes, since where the refused request ends is unknown.
//!
//! The gate steps aside (passes bytes untouched) for HTTP/2, whose framing
//! hyper checks strictly, and after a `CONNECT` or an `Upgrade`, after
//! which the bytes are no longer HTTP/1 requests.

use crate::capture::BodyCopy;
use crate::framing::{Framing, Refusal, RequestFraming, check_line_endings};
use http::{HeaderMap, StatusCode, Version};
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest request head the gate waits for (the relay's limit).
const MAX_HEAD: usize = 64 * 1024;

/// Header fields parsed per head; more go to hyper, which refuses them.
const MAX_HEADERS: usize = 128;

/// The fields of the stand-in request that carry a refusal.
const TOKEN_FIELD: &str = "x-hmt-refusal-token";
const STATUS_FIELD: &str = "x-hmt-refusal-status";
const DETAIL_FIELD: &str = "x-hmt-refusal-detail";

/// This process's token: a client cannot know it, so it cannot make the
/// proxy answer a refusal it did not earn.
fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut bytes = [0u8; 16];
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
            // No randomness: a token no header value can equal (field
            // values cannot hold a newline).
            return "\n".to_owned();
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// The refusal a stand-in request carries, if this is one.
pub(crate) fn refusal_of(headers: &HeaderMap) -> Option<Refusal> {
    if headers.get(TOKEN_FIELD)?.as_bytes() != token().as_bytes() {
        return None;
    }
    let status = headers
        .get(STATUS_FIELD)
        .and_then(|v| StatusCode::from_bytes(v.as_bytes()).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let detail = headers
        .get(DETAIL_FIELD)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(Refusal { status, detail })
}

/// Where the gate is in the client's byte stream.
#[derive(Debug)]
enum State {
    /// Reading a request head (kept in `head` until it is whole).
    Head,
    /// Passing a body; then `Head`, or `Open` after CONNECT and Upgrade.
    Body { framing: Framing, then_open: bool },
    /// Not HTTP/1 requests (any more): bytes pass untouched.
    Open,
    /// A request was refused: what follows is dropped.
    Refused,
}

/// Reads the client's bytes as HTTP/1 requests and lets through what the
/// strict rules allow.
#[derive(Debug)]
pub(crate) struct RequestGate {
    state: State,
    head: Vec<u8>,
}

/// The body's framing broke after its head went through: the connection
/// must end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Broken;

impl RequestGate {
    pub(crate) fn new() -> RequestGate {
        RequestGate {
            state: State::Head,
            head: Vec::new(),
        }
    }

    fn is_open(&self) -> bool {
        matches!(self.state, State::Open) && self.head.is_empty()
    }

    fn is_refused(&self) -> bool {
        matches!(self.state, State::Refused)
    }

    /// Takes bytes read from the client; appends to `ready` what hyper may
    /// read.
    pub(crate) fn admit(&mut self, input: &[u8], ready: &mut Vec<u8>) -> Result<(), Broken> {
        let mut head_at = None;
        match self.admit_from(input, ready, &mut head_at) {
            // The broken body's head has not reached hyper yet (it came in
            // this same read): refuse the request whole instead.
            Err(Broken) if head_at.is_some() => {
                ready.truncate(head_at.unwrap_or_default());
                self.state = State::Refused;
                stand_in(
                    &Refusal {
                        status: StatusCode::BAD_REQUEST,
                        detail: "the request's chunked body is malformed".into(),
                    },
                    ready,
                );
                Ok(())
            }
            result => result,
        }
    }

    /// [`RequestGate::admit`]; `head_at` is where in `ready` the head of the
    /// request being read starts, when it was admitted by this call.
    fn admit_from(
        &mut self,
        mut input: &[u8],
        ready: &mut Vec<u8>,
        head_at: &mut Option<usize>,
    ) -> Result<(), Broken> {
        loop {
            match &mut self.state {
                State::Open => {
                    ready.append(&mut self.head);
                    ready.extend_from_slice(input);
                    return Ok(());
                }
                State::Refused => return Ok(()),
                State::Body { framing, then_open } => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let (used, done) = framing
                        .take(input, ready, &mut BodyCopy::default(), 0)
                        .map_err(|_| Broken)?;
                    input = &input[used..];
                    if done {
                        self.state = if *then_open { State::Open } else { State::Head };
                    }
                }
                State::Head => {
                    self.head.extend_from_slice(input);
                    if self.head.is_empty() {
                        return Ok(());
                    }
                    match self.read_head() {
                        Ok(None) => return Ok(()),
                        Ok(Some((len, state))) => {
                            *head_at = Some(ready.len());
                            ready.extend_from_slice(&self.head[..len]);
                            let rest = self.head.split_off(len);
                            self.head.clear();
                            self.state = state;
                            // The rest is read in the new state; it is
                            // copied once, only when a head ends mid-read.
                            return self.admit_from(&rest, ready, head_at);
                        }
                        Err(refusal) => {
                            self.head.clear();
                            self.state = State::Refused;
                            stand_in(&refusal, ready);
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// The head at the start of `self.head`, checked: its length and the
    /// state after it; `None` while it is not whole.
    fn read_head(&mut self) -> Result<Option<(usize, State)>, Refusal> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let len = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if self.head.len() > MAX_HEAD => {
                return Err(head_too_large());
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            // HTTP/2's preface, other versions, too many fields: hyper's.
            Err(httparse::Error::Version | httparse::Error::TooManyHeaders) => {
                return Ok(Some((self.head.len(), State::Open)));
            }
            Err(e) => {
                return Err(Refusal {
                    status: StatusCode::BAD_REQUEST,
                    detail: format!("the request head does not parse: {e}"),
                });
            }
        };
        if len > MAX_HEAD {
            return Err(head_too_large());
        }
        check_line_endings(&self.head[..len])?;
        let version = if request.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let mut framing = RequestFraming::default();
        let mut upgrade = false;
        for h in request.headers.iter() {
            framing.field(h.name.as_bytes(), h.value)?;
            upgrade |= h.name.eq_ignore_ascii_case("upgrade");
        }
        let body: Framing = framing.finish(version)?.into();
        let then_open = upgrade || request.method == Some("CONNECT");
        let state = match body {
            Framing::Empty if then_open => State::Open,
            Framing::Empty => State::Head,
            framing => State::Body { framing, then_open },
        };
        Ok(Some((len, state)))
    }
}

fn head_too_large() -> Refusal {
    Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        detail: format!("the request head is larger than {MAX_HEAD} bytes"),
    }
}

/// The request hyper reads in place of a refused one.
fn stand_in(refusal: &Refusal, ready: &mut Vec<u8>) {
    // The detail is hmt's own text; anything but printable ASCII goes.
    let detail: String = refusal
        .detail
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    ready.extend_from_slice(
        format!(
            "GET / HTTP/1.1\r\nhost: hmt.invalid\r\nconnection: close\r\n\
             {TOKEN_FIELD}: {}\r\n{STATUS_FIELD}: {}\r\n{DETAIL_FIELD}: {detail}\r\n\r\n",
            token(),
            refusal.status.as_u16()
        )
        .as_bytes(),
    );
}

/// A client connection read through a [`RequestGate`].
pub(crate) struct Gated<I> {
    inner: I,
    gate: RequestGate,
    /// Admitted and not read by hyper yet.
    ready: Vec<u8>,
    /// Where hyper's next read starts in `ready`.
    at: usize,
    /// A body broke: hyper reads what came before, then an error.
    broken: bool,
}

impl<I> Gated<I> {
    /// `inner`, of which `read` has been read already (the relay hands a
    /// connection over mid-way): those bytes are read first.
    pub(crate) fn new(inner: I, read: &[u8]) -> Gated<I> {
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        let broken = gate.admit(read, &mut ready).is_err();
        Gated {
            inner,
            gate,
            ready,
            at: 0,
            broken,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Gated<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.at < this.ready.len() {
                let n = (this.ready.len() - this.at).min(buf.remaining());
                buf.put_slice(&this.ready[this.at..this.at + n]);
                this.at += n;
                if this.at == this.ready.len() {
                    this.ready.clear();
                    this.at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.broken {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the request's chunked body is malformed",
                )));
            }
            if this.gate.is_open() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            if this.gate.is_refused() {
                continue;
            }
            this.broken = this.gate.admit(read.filled(), &mut this.ready).is_err();
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Gated<I> {
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

    /// Feeds `input` split at every position; returns what hyper reads.
    fn through(input: &[u8]) -> Vec<Vec<u8>> {
        (0..=input.len())
            .map(|split| {
                let mut gate = RequestGate::new();
                let mut ready = Vec::new();
                gate.admit(&input[..split], &mut ready).unwrap();
                gate.admit(&input[split..], &mut ready).unwrap();
                ready
            })
            .collect()
    }

    #[test]
    fn well_framed_requests_pass_unchanged_however_they_are_split() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.0\r\n\r\n";
        for ready in through(input) {
            assert_eq!(ready, input);
        }
    }

    #[test]
    fn a_refused_request_becomes_a_stand_in_and_nothing_after_it_passes() {
        let first = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let mut input = first.clone();
        input.extend_from_slice(
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        for ready in through(&input) {
            assert!(ready.starts_with(&first));
            let rest = String::from_utf8(ready[first.len()..].to_vec()).unwrap();
            assert!(rest.starts_with("GET / HTTP/1.1\r\n"), "{rest}");
            assert!(rest.contains(token()), "{rest}");
            assert!(rest.contains("x-hmt-refusal-status: 400"), "{rest}");
            assert!(!rest.contains("smuggled"), "{rest}");
        }
    }

    #[test]
    fn a_body_that_breaks_with_its_head_in_the_same_read_is_refused_whole() {
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        gate.admit(
            b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            &mut ready,
        )
        .unwrap();
        let ready = String::from_utf8(ready).unwrap();
        assert!(ready.starts_with("GET / HTTP/1.1\r\n"), "{ready}");
        assert!(!ready.contains("POST"), "{ready}");
        // Once the head has gone to hyper, only an error can stop it.
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        gate.admit(
            b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            &mut ready,
        )
        .unwrap();
        assert_eq!(gate.admit(b"zz\r\n", &mut ready), Err(Broken));
    }

    #[test]
    fn bare_lf_is_refused_on_this_path_too() {
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        gate.admit(b"GET / HTTP/1.1\nHost: x\n\n", &mut ready)
            .unwrap();
        assert!(gate.is_refused());
    }

    #[test]
    fn http2_and_upgrades_open_the_gate() {
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        gate.admit(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0", &mut ready)
            .unwrap();
        assert!(gate.is_open());
        let mut gate = RequestGate::new();
        let mut ready = Vec::new();
        let upgrade = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello\n";
        gate.admit(upgrade, &mut ready).unwrap();
        assert!(gate.is_open());
        assert_eq!(ready, upgrade);
    }

    #[test]
    fn the_stand_in_token_cannot_be_forged() {
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_FIELD, "guess".parse().unwrap());
        assert_eq!(refusal_of(&headers), None);
        headers.insert(TOKEN_FIELD, token().parse().unwrap());
        headers.insert(STATUS_FIELD, "431".parse().unwrap());
        assert_eq!(
            refusal_of(&headers).unwrap().status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Any bytes, read in any two pieces: no panic, and hyper is
            /// shown the same bytes whichever way they were split (a
            /// stand-in for a refused request counts as the same).
            #[test]
            fn the_gate_decides_the_same_however_the_bytes_are_split(
                prefix in prop_oneof![
                    Just(&b"GET / HTTP/1.1\r\nHost: x\r\n"[..]),
                    Just(&b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"[..]),
                    Just(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"[..]),
                    Just(&b""[..]),
                ],
                rest in proptest::collection::vec(
                    prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'5'), Just(b':'), Just(b' '), any::<u8>()],
                    0..120,
                ),
                split in any::<usize>(),
            ) {
                let mut input = prefix.to_vec();
                input.extend_from_slice(&rest);
                let split = split % (input.len() + 1);
                let run = |pieces: &[&[u8]]| {
                    let mut gate = RequestGate::new();
                    let mut ready = Vec::new();
                    let mut broken = false;
                    for piece in pieces {
                        if gate.admit(piece, &mut ready).is_err() {
                            broken = true;
                            break;
                        }
                    }
                    (ready, broken)
                };
                let (whole, whole_broken) = run(&[&input]);
                let (parts, parts_broken) = run(&[&input[..split], &input[split..]]);
                // Read at once, a body that breaks is caught with its head:
                // a stand-in, never an error.
                prop_assert!(!whole_broken);
                if parts_broken {
                    // Split after its head, it can only end the connection;
                    // read whole, the same request was refused.
                    let token = token().as_bytes();
                    prop_assert!(whole.windows(token.len()).any(|w| w == token));
                } else {
                    prop_assert_eq!(whole, parts);
                }
            }
        }
    }
}
