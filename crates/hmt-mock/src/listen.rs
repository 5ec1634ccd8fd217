//! Accepting connections: HTTP/1.1 and HTTP/2 (cleartext, by prior
//! knowledge) on one listener, for the mock and for its admin API.
//!
//! Each request carries the client's address (a [`Peer`] extension), and
//! a response that carries a [`Fault`](hmt_stub::Fault) extension breaks
//! its connection instead of being sent (see [`crate::fault`]).

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
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The address of the client that sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// How a connection is taken on: as it is, or through TLS.
pub type Accept<S> = Arc<
    dyn Fn(tokio::net::TcpStream) -> std::pin::Pin<Box<dyn Future<Output = Option<S>> + Send>>
        + Send
        + Sync,
>;

/// Serves `handler` on `listener` until `shutdown` resolves, then lets
/// open connections finish their requests for up to `grace`.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let plain: Accept<tokio::net::TcpStream> =
        Arc::new(|stream| Box::pin(async move { Some(stream) }));
    serve_with(listener, plain, handler, shutdown, grace).await;
}

/// [`serve`], each connection taken on by `accept` first (a TLS
/// handshake); a connection it refuses is closed.
pub async fn serve_with<S, H, F, B>(
    listener: TcpListener,
    accept: Accept<S>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    S: Tcp,
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut server = auto::Builder::new(TokioExecutor::new());
    server.http1().timer(TokioTimer::new()).keep_alive(true);
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
                        let service = {
                            let switch = switch.clone();
                            service_fn(move |mut request: Request<Incoming>| {
                                request.extensions_mut().insert(Peer(peer));
                                let response = handler(request);
                                let switch = switch.clone();
                                async move {
                                    let response = response.await;
                                    if let Some(fault) = response.extensions().get::<hmt_stub::Fault>() {
                                        switch.arm(*fault);
                                    }
                                    Ok::<_, Infallible>(response)
                                }
                            })
                        };
                        let io = TokioIo::new(Breakable::new(stream, switch));
                        let connection = graceful.watch(server.serve_connection_with_upgrades(io, service).into_owned());
                        // The watch is registered; the shutdown below needs
                        // the only handle.
                        drop(graceful);
                        if let Err(error) = connection.await {
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
