//! Connections broken on purpose: a TCP reset, or bytes that are not HTTP
//! and then a close (mountebank's `fault`, and hmt's `Prefer: fault=...`).
//!
//! A service cannot break the connection it answers on: hyper owns the
//! socket and only takes a response. So the service arms a [`Switch`]
//! shared with the connection's stream ([`Breakable`]), and the stream,
//! on hyper's next write (the response it was going to send), commits the
//! fault instead. Faults that break a body (cut short, dribbled) need no
//! socket and are a body's delivery (`crate::body`).

use hmt_stub::Fault;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A stream with a TCP connection under it (plain, or under TLS).
pub trait Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The TCP connection.
    fn tcp(&self) -> &TcpStream;
}

impl Tcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Tcp for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// Breaks `tcp` as `fault` says; the error is what the write that was
/// replaced returns.
pub fn commit(fault: Fault, tcp: &TcpStream) -> io::Error {
    match fault {
        Fault::ConnectionResetByPeer => {
            // A zero linger makes the close send RST instead of FIN.
            let _ = tcp.set_zero_linger();
            io::Error::new(io::ErrorKind::ConnectionReset, "fault: connection reset")
        }
        Fault::RandomDataThenClose => {
            // Bytes that cannot start an HTTP response, written straight
            // to the socket, best effort.
            let mut junk = [0u8; 64];
            rand::fill(&mut junk[..]);
            junk[0] = b'\x01';
            let _ = tcp.try_write(&junk);
            io::Error::new(io::ErrorKind::BrokenPipe, "fault: random data then close")
        }
    }
}

/// Shared by a connection's stream and its service: a fault to commit.
/// An atomic, since every write of every connection reads it.
#[derive(Default)]
pub struct Switch(AtomicU8);

impl Switch {
    /// Arms `fault`: the connection's next write commits it.
    pub fn arm(&self, fault: Fault) {
        let code = match fault {
            Fault::ConnectionResetByPeer => 1,
            Fault::RandomDataThenClose => 2,
        };
        self.0.store(code, Ordering::Release);
    }

    fn take(&self) -> Option<Fault> {
        if self.0.load(Ordering::Acquire) == 0 {
            return None;
        }
        match self.0.swap(0, Ordering::AcqRel) {
            1 => Some(Fault::ConnectionResetByPeer),
            2 => Some(Fault::RandomDataThenClose),
            _ => None,
        }
    }
}

/// A connection's stream that commits the fault its [`Switch`] holds.
pub struct Breakable<S> {
    inner: S,
    switch: Arc<Switch>,
    broken: bool,
}

impl<S: Tcp> Breakable<S> {
    /// `inner`, broken when `switch` is armed.
    pub fn new(inner: S, switch: Arc<Switch>) -> Breakable<S> {
        Breakable {
            inner,
            switch,
            broken: false,
        }
    }
}

impl<S: Tcp> AsyncRead for Breakable<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: Tcp> AsyncWrite for Breakable<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        match this.switch.take() {
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
            Some(fault) => {
                this.broken = true;
                Poll::Ready(Err(commit(fault, this.inner.tcp())))
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        match this.switch.take() {
            None => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
            Some(fault) => {
                this.broken = true;
                Poll::Ready(Err(commit(fault, this.inner.tcp())))
            }
        }
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
