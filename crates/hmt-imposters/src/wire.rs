//! What hyper does not give an imposter: the header names exactly as the
//! client wrote them, and a way to break a connection on purpose.
//!
//! mountebank shows recorded requests with their headers' original case
//! (clients assert on `headers["Content-Type"]`), but hyper lower-cases
//! names and keeps no public record of how they were written. So each
//! connection's stream is wrapped in [`Wire`], which keeps the bytes the
//! client sent since the last request head was found (bounded), and
//! [`Tap::headers`] finds the head that starts with this request's line and
//! reads its names with httparse. When the bytes are gone (a head bigger
//! than the bound) the names stay lower-case, which is never wrong HTTP.
//!
//! A fault (`CONNECTION_RESET_BY_PEER`, `RANDOM_DATA_THEN_CLOSE`) is armed
//! by the service on the tap and carried out by the mock's
//! [`Breakable`] stream under the wire, as for `hmt mock`.

use hmt_mock::fault::{Breakable, Switch};
use hmt_stub::Fault;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many bytes of a connection are kept to find header names in; a
/// request head longer than this keeps lower-case names.
const KEPT: usize = 256 * 1024;

/// A stream whose TCP socket can be broken on purpose.
pub(crate) use hmt_mock::fault::Tcp as Socket;

/// Shared between a connection's stream and its service.
#[derive(Default)]
pub(crate) struct Tap {
    state: Mutex<TapState>,
    switch: Arc<Switch>,
}

#[derive(Default)]
struct TapState {
    /// Bytes read and not yet matched to a request head.
    unread: Vec<u8>,
}

impl Tap {
    fn lock(&self) -> std::sync::MutexGuard<'_, TapState> {
        hmt_types::sync::lock(&self.state)
    }

    /// Arms a fault: the next write breaks the connection instead.
    pub(crate) fn arm(&self, fault: Fault) {
        self.switch.arm(fault);
    }

    /// The headers of the request whose line is `method target`, in order,
    /// names as the client wrote them; `None` when its head is not kept.
    pub(crate) fn headers(&self, method: &str, target: &str) -> Option<Vec<(String, String)>> {
        let mut state = self.lock();
        let line = format!("{method} {target} ");
        let start = find(&state.unread, line.as_bytes())?;
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut request = httparse::Request::new(&mut headers);
        let end = match request.parse(&state.unread[start..]) {
            Ok(httparse::Status::Complete(length)) => start + length,
            _ => return None,
        };
        let headers = request
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_string(),
                    String::from_utf8_lossy(header.value).into_owned(),
                )
            })
            .collect();
        state.unread.drain(..end);
        Some(headers)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A connection's stream, watched by its [`Tap`].
pub(crate) struct Wire<S> {
    inner: Breakable<S>,
    tap: Arc<Tap>,
}

impl<S: Socket> Wire<S> {
    pub(crate) fn new(inner: S, tap: Arc<Tap>) -> Wire<S> {
        Wire {
            inner: Breakable::new(inner, tap.switch.clone()),
            tap,
        }
    }
}

impl<S: Socket> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                let mut state = this.tap.lock();
                state.unread.extend_from_slice(fresh);
                if state.unread.len() > KEPT {
                    // Keep the tail: a head being read now is at the end.
                    let excess = state.unread.len() - KEPT;
                    state.unread.drain(..excess);
                }
            }
        }
        poll
    }
}

impl<S: Socket> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap_with(bytes: &[u8]) -> Tap {
        let tap = Tap::default();
        tap.lock().unread.extend_from_slice(bytes);
        tap
    }

    #[test]
    fn names_keep_the_case_the_client_wrote() {
        let tap = tap_with(b"POST /a HTTP/1.1\r\nHost: x\r\nX-MiXeD: 1\r\ncontent-length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHOST: x\r\n\r\n");
        let names = |headers: Vec<(String, String)>| {
            headers
                .into_iter()
                .map(|(name, _)| name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(tap.headers("POST", "/a").unwrap()),
            ["Host", "X-MiXeD", "content-length"]
        );
        // The body is skipped by looking for the next request's line.
        assert_eq!(
            tap.headers("GET", "/b").unwrap(),
            [("HOST".to_string(), "x".to_string())]
        );
        assert_eq!(tap.headers("GET", "/b"), None);
    }

    #[test]
    fn an_incomplete_head_gives_no_names() {
        let tap = tap_with(b"GET /a HTTP/1.1\r\nHost: x\r\n");
        assert_eq!(tap.headers("GET", "/a"), None);
    }
}
