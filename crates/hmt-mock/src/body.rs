//! The body of every response the mock sends: bytes in memory, or a
//! stream produced over time (chunks at intervals, a Rust `Stream`, a body
//! dribbled or cut short on purpose).
//!
//! One type for both, rather than a boxed trait object everywhere, because
//! nearly every response is whole: those stay a plain [`Full`] with its
//! exact length (so hyper sends `Content-Length`), and only a streamed
//! reply pays for a box. The journal needs the bytes that were sent, so a
//! body knows them when they are known ([`Body::bytes`]).

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, stream};
use hmt_stub::{Chunk, Delivery};
use http_body_util::Full;
use hyper::body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

type Frames = Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, io::Error>> + Send>>;

/// A response body.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Whole(Full<Bytes>),
    /// Produced over time; `sent` is what it will have sent, when known.
    Streamed {
        frames: Frames,
        sent: Option<Bytes>,
    },
}

impl Body {
    /// A body of these bytes.
    pub fn new(bytes: impl Into<Bytes>) -> Body {
        Body {
            kind: Kind::Whole(Full::new(bytes.into())),
        }
    }

    /// No body.
    pub fn empty() -> Body {
        Body::new(Bytes::new())
    }

    /// `body` sent as `delivery` says. `body` is what chunked deliveries
    /// replace, and what the others send slowly or in part.
    pub fn delivered(body: Bytes, delivery: Delivery) -> Body {
        match delivery {
            Delivery::Whole => Body::new(body),
            Delivery::Chunks(chunks) => {
                let mut sent = BytesMut::new();
                for chunk in &chunks {
                    sent.extend_from_slice(&chunk.data);
                }
                Body::timed(chunks, Some(sent.freeze()), false)
            }
            Delivery::Stream(stream) => match stream.take() {
                Some(stream) => Body {
                    kind: Kind::Streamed {
                        frames: Box::pin(stream.map(|data| Ok(Frame::data(data)))),
                        sent: None,
                    },
                },
                // A stream can be read once; a second send has nothing.
                None => Body::empty(),
            },
            Delivery::CutShort => {
                let half = body.slice(..body.len() / 2);
                let chunks = vec![Chunk {
                    delay: Duration::ZERO,
                    data: half.clone(),
                }];
                Body::timed(chunks, Some(half), true)
            }
            Delivery::Dribble { bytes, interval } => {
                let bytes = bytes.max(1);
                let chunks = (0..body.len())
                    .step_by(bytes)
                    .map(|start| Chunk {
                        delay: if start == 0 { Duration::ZERO } else { interval },
                        data: body.slice(start..(start + bytes).min(body.len())),
                    })
                    .collect();
                Body::timed(chunks, Some(body), false)
            }
        }
    }

    /// Chunks, each after its delay; with `then_fail`, an error after the
    /// last one, which makes hyper close the connection mid-body.
    fn timed(chunks: Vec<Chunk>, sent: Option<Bytes>, then_fail: bool) -> Body {
        let pieces = stream::iter(chunks).then(|chunk| async move {
            if !chunk.delay.is_zero() {
                tokio::time::sleep(chunk.delay).await;
            }
            Ok(Frame::data(chunk.data))
        });
        let frames: Frames = if then_fail {
            Box::pin(pieces.chain(stream::once(async {
                // A pause first, so that the server flushes what was sent
                // before the error closes the connection.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "fault: response cut short",
                ))
            })))
        } else {
            Box::pin(pieces)
        };
        Body {
            kind: Kind::Streamed { frames, sent },
        }
    }

    /// The bytes this body sends (or sent), when they are known: always
    /// for a whole body, not for one read from a Rust stream.
    pub fn bytes(&self) -> Option<Bytes> {
        match &self.kind {
            Kind::Whole(full) => Some(whole_bytes(full)),
            Kind::Streamed { sent, .. } => sent.clone(),
        }
    }

    /// Whether it is sent over time rather than at once.
    pub fn is_streamed(&self) -> bool {
        matches!(self.kind, Kind::Streamed { .. })
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::new(bytes)
    }
}

impl From<Full<Bytes>> for Body {
    fn from(full: Full<Bytes>) -> Body {
        Body {
            kind: Kind::Whole(full),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Whole(full) => f.debug_tuple("Body").field(&whole_bytes(full)).finish(),
            Kind::Streamed { .. } => f.write_str("Body(streamed)"),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Whole(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Kind::Streamed { frames, .. } => frames.as_mut().poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Whole(full) => full.is_end_stream(),
            Kind::Streamed { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Whole(full) => full.size_hint(),
            Kind::Streamed { .. } => SizeHint::default(),
        }
    }
}

/// The bytes of a whole body, read without consuming it (`Full` yields
/// its one frame at once).
fn whole_bytes(full: &Full<Bytes>) -> Bytes {
    use hyper::body::Body as _;
    let mut full = full.clone();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match Pin::new(&mut full).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn frames(body: Body) -> Vec<Result<Bytes, String>> {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            out.push(
                frame
                    .map(|f| f.into_data().unwrap_or_default())
                    .map_err(|e| e.to_string()),
            );
        }
        out
    }

    #[tokio::test]
    async fn deliveries_send_what_they_say() {
        let body = Bytes::from_static(b"abcdefg");
        // (delivery, frames the client reads, what the journal keeps)
        type Case = (
            Delivery,
            Vec<Result<&'static str, &'static str>>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (Delivery::Whole, vec![Ok("abcdefg")], Some("abcdefg")),
            (
                Delivery::Dribble {
                    bytes: 3,
                    interval: Duration::from_millis(1),
                },
                vec![Ok("abc"), Ok("def"), Ok("g")],
                Some("abcdefg"),
            ),
            (
                Delivery::CutShort,
                vec![Ok("abc"), Err("fault: response cut short")],
                Some("abc"),
            ),
            (
                Delivery::Chunks(vec![
                    Chunk {
                        delay: Duration::ZERO,
                        data: Bytes::from_static(b"data: 1\n\n"),
                    },
                    Chunk {
                        delay: Duration::from_millis(1),
                        data: Bytes::from_static(b"data: 2\n\n"),
                    },
                ]),
                vec![Ok("data: 1\n\n"), Ok("data: 2\n\n")],
                Some("data: 1\n\ndata: 2\n\n"),
            ),
        ];
        for (delivery, expected, sent) in cases {
            let name = format!("{delivery:?}");
            let body = Body::delivered(body.clone(), delivery);
            assert_eq!(
                body.bytes().as_deref(),
                sent.map(str::as_bytes),
                "{name}: journal"
            );
            let got = frames(body).await;
            let expected: Vec<Result<Bytes, String>> = expected
                .into_iter()
                .map(|e| {
                    e.map(|s| Bytes::from(s.to_string()))
                        .map_err(str::to_string)
                })
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[tokio::test]
    async fn a_stream_is_sent_once() {
        let delivery = Delivery::Stream(hmt_stub::BodyStream::new(stream::iter([
            Bytes::from_static(b"x"),
            Bytes::from_static(b"y"),
        ])));
        let first = Body::delivered(Bytes::new(), delivery.clone());
        assert!(first.bytes().is_none());
        assert_eq!(
            frames(first).await,
            vec![Ok(Bytes::from_static(b"x")), Ok(Bytes::from_static(b"y"))]
        );
        let second = Body::delivered(Bytes::new(), delivery);
        assert_eq!(second.bytes().as_deref(), Some(&b""[..]));
    }
}
