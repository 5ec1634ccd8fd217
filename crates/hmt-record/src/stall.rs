//! A body that fails when it stalls: no frame for longer than a limit.
//!
//! Why: a body whose sender stops sending, without closing, holds the
//! client connection, the upstream connection and the exchange's buffers
//! forever. hyper has no per-body timeout, so the general path wraps each
//! body it relays in [`Stalling`]; the relay (`relay.rs`) times its reads
//! itself. A stalled response is then recorded as `responseIncomplete`,
//! like any response cut short.

use crate::upstream::BoxError;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// `inner`, failing with an error when no frame comes for `limit`.
pub(crate) struct Stalling<B> {
    inner: B,
    limit: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl<B> Stalling<B> {
    pub(crate) fn new(inner: B, limit: Duration) -> Stalling<B> {
        Stalling {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the body stalled: no data for {0} ms")]
pub(crate) struct Stalled(u128);

impl<B> Body for Stalling<B>
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep.as_mut().reset(Instant::now() + this.limit);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(Box::new(Stalled(this.limit.as_millis())))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_sending_fails_after_the_limit() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let mut body = Stalling::new(StreamBody::new(Box::pin(stream)), Duration::from_secs(5));
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        tokio::time::sleep(Duration::from_secs(4)).await;
        tx.send(Ok(Frame::data(Bytes::from_static(b"b"))))
            .await
            .unwrap();
        // Four seconds of quiet, then data: the limit starts again.
        assert!(body.frame().await.unwrap().is_ok());
        let started = Instant::now();
        let error = body.frame().await.unwrap().unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(error.to_string(), "the body stalled: no data for 5000 ms");
        drop(tx);
    }
}
