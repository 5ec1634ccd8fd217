//! The request-smuggling differential test: every request shape in the
//! table goes through a real proxy to an upstream that logs every byte it
//! reads and parses them with hyper, an HTTP implementation hmt did not
//! write. Whatever the shape, the upstream must have seen exactly the
//! requests that were recorded, in order, with the same bodies: a request
//! the upstream saw but the proxy did not record is a smuggled one. Shapes
//! whose framing can be read two ways must be refused with a 4xx/5xx before
//! a single byte reaches the upstream.

use bytes::Bytes;
use hmt_record::{Captured, OnExchange, Proxy, ProxyConfig, Routing};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A request as one side saw it: method, path, body.
type Seen = (String, String, Vec<u8>);

/// What a shape must come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Answered with this status, nothing sent upstream, nothing recorded.
    Refused(u16),
    /// Forwarded as this many requests, each answered 200 and recorded.
    Relayed(usize),
    /// This many relayed, then one refused with this status (on hyper's
    /// path, which the connection has been handed to).
    RelayedThenRefused(usize, u16),
}
use Expect::{Refused, Relayed, RelayedThenRefused};

/// An upstream served by hyper over connections whose bytes are logged.
struct Upstream {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Seen>>>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

struct LoggedIo {
    inner: TcpStream,
    log: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for LoggedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled()[before..].to_vec();
        self.log.lock().unwrap().extend_from_slice(&read);
        poll
    }
}

impl AsyncWrite for LoggedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (seen, log) = (requests.clone(), bytes.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let io = LoggedIo {
                    inner: stream,
                    log: log.clone(),
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_owned();
                            // A body cut short still counts: the upstream
                            // saw the request.
                            let body = match req.into_body().collect().await {
                                Ok(body) => body.to_bytes().to_vec(),
                                Err(_) => b"<body cut short>".to_vec(),
                            };
                            seen.lock().unwrap().push((method, path, body));
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            requests,
            bytes,
        }
    }
}

#[derive(Default)]
struct Recorded(Mutex<Vec<Captured>>);

impl OnExchange for Recorded {
    fn on_exchange(&self, captured: Captured) {
        self.0.lock().unwrap().push(captured);
    }
}

/// Sends `bytes` to a fresh proxy in front of a fresh upstream, closes the
/// sending side, and returns what came back with what each side saw.
async fn send_shape(bytes: &[u8]) -> (String, Vec<Seen>, Vec<Seen>, usize) {
    let upstream = Upstream::start().await;
    let recorded = Arc::new(Recorded::default());
    let config = ProxyConfig {
        routing: Routing::Target(format!("http://{}", upstream.addr).parse().unwrap()),
        ..ProxyConfig::default()
    };
    let proxy = Proxy::new(config, recorded.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(proxy.serve(
        listener,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(2),
    ));

    // The sending side stays open (hyper, serving some shapes, drops a
    // connection whose client half-closes); reading ends when the proxy
    // closes or has been quiet for a while.
    let mut client = TcpStream::connect(proxy_addr).await.unwrap();
    client.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let quiet = tokio::time::Instant::now() + Duration::from_millis(400);
        match tokio::time::timeout_at(quiet.min(deadline), client.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    drop(client);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    // The upstream finishes reading what it was sent.
    tokio::time::sleep(Duration::from_millis(20)).await;

    let recorded: Vec<Seen> = recorded
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|c| {
            let r = &c.exchange.request;
            (
                r.method.as_str().to_ascii_uppercase(),
                r.pathname.clone(),
                r.body.clone().unwrap_or_default(),
            )
        })
        .collect();
    let seen = upstream.requests.lock().unwrap().clone();
    let upstream_bytes = upstream.bytes.lock().unwrap().len();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        seen,
        recorded,
        upstream_bytes,
    )
}

const H: &str = "Host: hmt.test\r\n";

fn shapes() -> Vec<(&'static str, String, Expect)> {
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: hmt.test\r\n\r\n";
    let len = smuggled.len();
    // An HTTP/1.0 request hands the connection over to hyper's path.
    let ten = "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    vec![
        // The probe's finding: Connection cannot take the length away.
        (
            "Connection lists Content-Length",
            format!(
                "POST /a HTTP/1.1\r\n{H}Connection: Content-Length\r\nContent-Length: {len}\r\n\r\n{smuggled}"
            ),
            Relayed(1),
        ),
        (
            "Connection lists content-length among others",
            format!(
                "POST /a HTTP/1.1\r\n{H}Connection: keep-alive, x-a, content-length\r\nContent-Length: {len}\r\n\r\n{smuggled}"
            ),
            Relayed(1),
        ),
        (
            "Connection lists Transfer-Encoding",
            format!(
                "POST /a HTTP/1.1\r\n{H}Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n{len:x}\r\n{smuggled}\r\n0\r\n\r\n"
            ),
            Relayed(1),
        ),
        (
            "Connection lists Host",
            format!("GET /a HTTP/1.1\r\n{H}Connection: Host\r\n\r\n"),
            Relayed(1),
        ),
        (
            "Content-Length then Transfer-Encoding",
            format!(
                "POST /a HTTP/1.1\r\n{H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Refused(400),
        ),
        (
            "Transfer-Encoding then Content-Length",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nContent-Length: {len}\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            Refused(400),
        ),
        (
            "Transfer-Encoding listed in Connection with Content-Length",
            format!(
                "POST /a HTTP/1.1\r\n{H}Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST /a HTTP/1.1\r\n{H}Content-Length: 0\r\nContent-Length: {len}\r\n\r\n{smuggled}"
            ),
            Refused(400),
        ),
        (
            "two equal Content-Lengths",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "Content-Length as a list",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 5, 5\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "Content-Length with a sign",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: +5\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "negative Content-Length",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: -1\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "hex Content-Length",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 0x5\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "Content-Length with a space inside",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 1 2\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "Content-Length that overflows",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 18446744073709551621\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "empty Content-Length",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length:\r\n\r\nhello"),
            Refused(400),
        ),
        (
            "chunked not last",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "chunked twice in one field",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "Transfer-Encoding in two fields",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "xchunked",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "chunked with a vertical tab",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "empty Transfer-Encoding",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding:\r\nContent-Length: 0\r\n\r\n"),
            Refused(400),
        ),
        (
            "gzip then chunked",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            Refused(501),
        ),
        (
            "Transfer-Encoding on HTTP/1.0",
            format!("POST /a HTTP/1.0\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "space before the colon",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "obs-fold",
            format!("GET /a HTTP/1.1\r\n{H}X-A: a\r\n b\r\n\r\n"),
            Refused(400),
        ),
        (
            "obs-fold of Transfer-Encoding",
            format!("POST /a HTTP/1.1\r\n{H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
            Refused(400),
        ),
        (
            "bare LF everywhere",
            "GET /a HTTP/1.1\nHost: hmt.test\n\n".to_owned(),
            Refused(400),
        ),
        (
            "bare LF hiding a Content-Length",
            format!("POST /a HTTP/1.1\r\nHost: hmt.test\nContent-Length: {len}\r\n\r\n{smuggled}"),
            Refused(400),
        ),
        (
            "bare LF ending the head",
            format!("GET /a HTTP/1.1\r\n{H}\n"),
            Refused(400),
        ),
        (
            "no Host on HTTP/1.1",
            "GET /a HTTP/1.1\r\n\r\n".to_owned(),
            Refused(400),
        ),
        (
            "two Hosts",
            format!("GET /a HTTP/1.1\r\n{H}{H}\r\n"),
            Refused(400),
        ),
        (
            "NUL in a field value",
            format!("GET /a HTTP/1.1\r\n{H}X-A: a\0b\r\n\r\n"),
            Refused(400),
        ),
        (
            "two spaces in the request line",
            format!("GET  /a HTTP/1.1\r\n{H}\r\n"),
            Refused(400),
        ),
        (
            "chunk size that overflows",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "chunk size ended by a bare LF",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "bare LF in a chunk extension",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "chunk data longer than its size",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "space before the chunk size",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "junk after the chunk size",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "negative chunk size",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "bare LF in a trailer",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\nContent-Length: 5\r\n\r\n"
            ),
            Refused(400),
        ),
        (
            "a head larger than 64 KiB",
            format!(
                "GET /a HTTP/1.1\r\n{H}X-Big: {}\r\n\r\n",
                "a".repeat(70_000)
            ),
            Refused(431),
        ),
        // Well-formed shapes are relayed, each request exactly once.
        (
            "plain GET",
            format!("GET /a HTTP/1.1\r\n{H}\r\n"),
            Relayed(1),
        ),
        (
            "Content-Length body",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nhello"),
            Relayed(1),
        ),
        (
            "Content-Length: 0",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 0\r\n\r\n"),
            Relayed(1),
        ),
        (
            "Content-Length body then a pipelined request",
            format!("POST /a HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nhello{smuggled}"),
            Relayed(2),
        ),
        (
            "chunked body then a pipelined request",
            format!(
                "POST /a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5;x=\"y\"\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
            Relayed(2),
        ),
        (
            "chunked with trailers and leading zeros",
            format!(
                "POST /a HTTP/1.1\r\n{H}transfer-encoding: Chunked\r\n\r\n0005\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
            ),
            Relayed(1),
        ),
        (
            "three pipelined requests",
            format!(
                "GET /a HTTP/1.1\r\n{H}\r\nGET /b HTTP/1.1\r\n{H}\r\nGET /c HTTP/1.1\r\n{H}\r\n"
            ),
            Relayed(3),
        ),
        (
            "HTTP/1.0 with a body (handed to hyper)",
            "POST /a HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello".to_owned(),
            Relayed(1),
        ),
        (
            "Expect: 100-continue (handed to hyper)",
            format!(
                "POST /a HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
            ),
            Relayed(1),
        ),
        (
            "HTTP/1.0, then both lengths (hyper's path)",
            format!(
                "{ten}POST /b HTTP/1.1\r\n{H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            RelayedThenRefused(1, 400),
        ),
        (
            "HTTP/1.0, then a bare LF (hyper's path)",
            format!(
                "{ten}POST /b HTTP/1.1\r\nHost: hmt.test\nContent-Length: {len}\r\n\r\n{smuggled}"
            ),
            RelayedThenRefused(1, 400),
        ),
        (
            "HTTP/1.0, then two Content-Lengths (hyper's path)",
            format!("{ten}POST /b HTTP/1.1\r\n{H}Content-Length: 0\r\nContent-Length: 0\r\n\r\n"),
            RelayedThenRefused(1, 400),
        ),
        (
            "HTTP/1.0, then a chunk size that overflows (hyper's path)",
            format!(
                "{ten}POST /b HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"
            ),
            RelayedThenRefused(1, 400),
        ),
        (
            "HTTP/1.0, then no Host (hyper's path)",
            format!("{ten}GET /b HTTP/1.1\r\n\r\n"),
            RelayedThenRefused(1, 400),
        ),
        (
            "HTTP/1.0, then Connection lists Content-Length (hyper's path)",
            format!(
                "{ten}POST /b HTTP/1.1\r\n{H}Connection: content-length\r\nContent-Length: {len}\r\n\r\n{smuggled}"
            ),
            Relayed(2),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_sees_exactly_the_recorded_requests_whatever_the_framing() {
    let shapes = shapes();
    assert!(shapes.len() >= 40, "{} shapes", shapes.len());
    // Each shape has its own proxy and upstream, so they run side by side.
    let runs = futures_util::future::join_all(
        shapes
            .iter()
            .map(|(_, bytes, _)| send_shape(bytes.as_bytes())),
    )
    .await;
    let mut failures = Vec::new();
    for ((name, _, expect), (answer, seen, recorded, upstream_bytes)) in shapes.iter().zip(runs) {
        let statuses: Vec<&str> = answer
            .match_indices("HTTP/1.")
            .filter_map(|(i, _)| answer.get(i + 9..i + 12))
            .collect();
        let mut problems = Vec::new();
        // The invariant for every shape: nothing smuggled, nothing lost.
        if seen != recorded {
            problems.push(format!("upstream saw {seen:?}, recorded {recorded:?}"));
        }
        match *expect {
            Refused(status) => {
                if statuses.first().copied() != Some(status.to_string().as_str()) {
                    problems.push(format!("answered {statuses:?}, expected {status}"));
                }
                if upstream_bytes != 0 || !recorded.is_empty() {
                    problems.push(format!(
                        "{upstream_bytes} bytes reached the upstream, {} recorded",
                        recorded.len()
                    ));
                }
            }
            RelayedThenRefused(n, status) => {
                let refused = statuses.get(n).copied();
                if seen.len() != n || refused != Some(status.to_string().as_str()) {
                    problems.push(format!(
                        "expected {n} relayed then {status}; upstream saw {}, answers {statuses:?}",
                        seen.len()
                    ));
                }
            }
            Relayed(n) => {
                if seen.len() != n || statuses.iter().filter(|s| **s == "200").count() != n {
                    problems.push(format!(
                        "expected {n} requests relayed; upstream saw {}, answers {statuses:?}",
                        seen.len()
                    ));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
