//! Accepting connections: HTTP/1.1 and HTTP/2 (cleartext, by prior
//! knowledge) on one listener, for the mock and for its admin API.
//!
//! Each request carries the client's address (a [`Peer`] extension), and
//! a response that carries a [`Fault`](hmt_stub::Fault) extension breaks
//! its connection instead of being sent (see [`crate::fault`]).
//!
//! A connection costs a file descriptor and some memory for as long as it
//! is open, so a client cannot keep one for nothing: one on which nothing
//! is read or written for the idle timeout, with no request being
//! answered (its body included, however long a streamed one pauses), is
//! closed (a client that connects and sends nothing, a
//! keep-alive connection left open, a slowloris client that sends half a
//! request line and stalls), and a request's headers must arrive whole
//! within the same time (a client that trickles them byte by byte).
//! [`IdleWatch`] is that watchdog alone, for a server that runs its own
//! connections (the imposters' ports).

use crate::fault::{Breakable, Switch, Tcp};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// How long a connection may stay idle by default (`--idle-timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The address of the client that sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The fault switch of the connection a request came on, as a request
/// extension: for a service that goes on answering through that
/// connection after the request, a `CONNECT` tunnel's, whose faults must
/// break the client's TCP connection under the tunnel.
#[derive(Clone)]
pub struct ConnectionFaults(pub Arc<Switch>);

/// How a connection is taken on: as it is, or through TLS.
pub type Accept<S> = Arc<
    dyn Fn(tokio::net::TcpStream) -> std::pin::Pin<Box<dyn Future<Output = Option<S>> + Send>>
        + Send
        + Sync,
>;

/// Serves `handler` on `listener` until `shutdown` resolves, then lets
/// open connections finish their requests for up to `grace`; connections
/// idle for `idle` are closed.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    idle: Duration,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let plain: Accept<tokio::net::TcpStream> =
        Arc::new(|stream| Box::pin(async move { Some(stream) }));
    serve_with(listener, plain, handler, shutdown, grace, idle).await;
}

/// [`serve`], each connection taken on by `accept` first (a TLS
/// handshake); a connection it refuses is closed.
pub async fn serve_with<S, H, F, B>(
    listener: TcpListener,
    accept: Accept<S>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    idle: Duration,
) where
    S: Tcp,
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut server = auto::Builder::new(TokioExecutor::new());
    server
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(idle);
    server.http2().timer(TokioTimer::new());
    let server = Arc::new(server);
    let mut graceful = Arc::new(GracefulShutdown::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (handler, server, graceful, accept) =
                        (handler.clone(), server.clone(), graceful.clone(), accept.clone());
                    tokio::spawn(async move {
                        let Some(stream) = accept(stream).await else { return };
                        let switch = Arc::new(Switch::default());
                        let watch = IdleWatch::new(idle);
                        let service = {
                            let (switch, watch) = (switch.clone(), watch.clone());
                            service_fn(move |mut request: Request<Incoming>| {
                                request.extensions_mut().insert(Peer(peer));
                                request.extensions_mut().insert(ConnectionFaults(switch.clone()));
                                let answering = watch.answering();
                                let response = handler(request);
                                let switch = switch.clone();
                                async move {
                                    let response = response.await;
                                    if let Some(fault) = response.extensions().get::<hmt_stub::Fault>() {
                                        switch.arm(*fault);
                                    }
                                    Ok::<_, Infallible>(answering.until_sent(response))
                                }
                            })
                        };
                        let io = TokioIo::new(watch.stream(Breakable::new(stream, switch)));
                        let connection = graceful.watch(server.serve_connection_with_upgrades(io, service).into_owned());
                        // The watch is registered; the shutdown below needs
                        // the only handle.
                        drop(graceful);
                        if let Some(Err(error)) = watch.drive(connection, peer).await {
                            tracing::debug!("connection ended: {error}");
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: keep going,
                    // without spinning.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let deadline = tokio::time::Instant::now() + grace;
    let graceful = loop {
        // Connections still being taken on (a TLS handshake) hold a handle
        // for a moment.
        match Arc::try_unwrap(graceful) {
            Ok(graceful) => break graceful,
            Err(_) if tokio::time::Instant::now() >= deadline => return,
            Err(shared) => {
                graceful = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    if tokio::time::timeout_at(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {} ms; closing them",
            grace.as_millis()
        );
    }
}

/// One connection's idle watchdog: what closes a connection on which
/// nothing was read or written for the idle timeout while none of its
/// requests is being answered. [`serve_with`] runs one per connection;
/// a server that runs its own connections (an imposter's port) uses it
/// the same way:
///
/// 1. its stream goes through [`IdleWatch::stream`], so that every read and
///    write counts as activity;
/// 2. each request takes an [`IdleWatch::answering`] when it comes in and
///    puts it in its response with [`Answering::until_sent`], so that a
///    request is answered until its body is sent whole, however long a
///    streamed one pauses;
/// 3. the connection is driven by [`IdleWatch::drive`], which drops it
///    (closing it) once idle.
///
/// The headers' own bound is hyper's `header_read_timeout`, set to the
/// same timeout on the HTTP/1 builder.
#[derive(Clone)]
pub struct IdleWatch {
    activity: Arc<Activity>,
    idle: Duration,
}

impl IdleWatch {
    /// A watchdog for a connection opened now, idle after `idle`.
    pub fn new(idle: Duration) -> IdleWatch {
        IdleWatch {
            activity: Arc::new(Activity::new()),
            idle,
        }
    }

    /// `stream`, each of its reads and writes that moves bytes counted as
    /// activity.
    pub fn stream<S>(&self, stream: S) -> Watched<S> {
        Watched {
            inner: stream,
            activity: self.activity.clone(),
        }
    }

    /// A request being answered from now until the returned guard (or the
    /// response body it is put in) is dropped.
    pub fn answering(&self) -> Answering {
        Answering::new(self.activity.clone())
    }

    /// Drives `connection` (hyper's, serving the stream from
    /// [`IdleWatch::stream`]) until it ends, and returns how it ended; or
    /// drops it once idle, closing it, and returns `None`.
    pub async fn drive<C: Future>(&self, connection: C, peer: SocketAddr) -> Option<C::Output> {
        tokio::pin!(connection);
        loop {
            let quiet = self.activity.quiet_for(Instant::now());
            let answering = self.activity.answering();
            if quiet >= self.idle && answering == 0 {
                tracing::debug!(%peer, "closing a connection idle for {} ms", quiet.as_millis());
                return None;
            }
            // While a request is being answered, look again a whole
            // timeout later.
            let wait = if answering > 0 {
                self.idle
            } else {
                self.idle.saturating_sub(quiet)
            };
            tokio::select! {
                ended = &mut connection => return Some(ended),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// When a connection last read or wrote, and how many of its requests are
/// being answered: what decides that it is idle.
struct Activity {
    opened: Instant,
    /// Milliseconds from `opened` to the last read or write.
    last: AtomicU64,
    answering: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            answering: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// How long nothing was read or written, as of `now`.
    fn quiet_for(&self, now: Instant) -> Duration {
        let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }

    fn answering(&self) -> usize {
        self.answering.load(Ordering::Relaxed)
    }
}

/// One request being answered, counted by its [`IdleWatch`] until dropped
/// (answered, or abandoned by a client that went away).
pub struct Answering(Arc<Activity>);

impl Answering {
    fn new(activity: Arc<Activity>) -> Answering {
        activity.answering.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Answering(activity)
    }

    /// `response`, its request still being answered until its body is
    /// sent whole (or dropped).
    pub fn until_sent<B>(self, response: Response<B>) -> Response<Answered<B>> {
        response.map(|body| Answered {
            body: Box::pin(body),
            _answering: self,
        })
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.touch();
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as being answered
/// until it is sent whole (or dropped): a stream that pauses is not idle.
pub struct Answered<B> {
    body: Pin<Box<B>>,
    _answering: Answering,
}

impl<B: hyper::body::Body> hyper::body::Body for Answered<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        self.get_mut().body.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's stream whose every read and write that moves bytes is
/// activity for its [`IdleWatch`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
