//! Canonical JSONL output: one compact line per exchange, fixed key order.
//!
//! Key order is `request` (method, protocol, host, url, path, query,
//! headers, body, timestamp), `response` (statusCode, headers, body,
//! timestamp), then `meta`. Empty headers, query and meta are left out.
//! `path` carries the query string as recorded; `query` repeats it parsed,
//! for readers that want it structured.

use crate::Exchange;
use crate::raw::OutExchange;
use std::io::{self, Write};

impl Exchange {
    /// The exchange as one compact JSON line, without the newline.
    pub fn to_json_line(&self) -> String {
        // Serialising owned strings and maps into memory cannot fail.
        serde_json::to_string(&OutExchange::new(self)).unwrap_or_default()
    }

    /// Appends the JSON line and a newline to `buf`.
    pub fn write_json_line(&self, buf: &mut Vec<u8>) {
        if serde_json::to_writer(&mut *buf, &OutExchange::new(self)).is_ok() {
            buf.push(b'\n');
        }
    }
}

/// Writes exchanges as JSONL.
///
/// Each line is formatted in memory and handed to the underlying writer in
/// one `write_all`, so lines from one writer are never torn; share a
/// writer between threads behind a lock, not by cloning file handles.
///
/// ```
/// use hmt_types::{Exchange, JsonlWriter, Method, Request, Response};
/// let exchange = Exchange {
///     request: Request::new(Method::Post, "/upload"),
///     response: Some(Response { body: Some(vec![0xff, 0x00]), ..Response::new(201) }),
///     meta: Default::default(),
/// };
/// let mut out = JsonlWriter::new(Vec::new());
/// out.write(&exchange).unwrap();
/// assert_eq!(
///     String::from_utf8(out.into_inner()).unwrap(),
///     "{\"request\":{\"method\":\"post\",\"path\":\"/upload\"},\"response\":{\"statusCode\":201,\"body\":\"/wA=\"},\"meta\":{\"responseBodyEncoding\":\"base64\"}}\n"
/// );
/// ```
pub struct JsonlWriter<W> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer into `inner`.
    pub fn new(inner: W) -> JsonlWriter<W> {
        JsonlWriter {
            inner,
            line: Vec::with_capacity(4096),
        }
    }

    /// Writes one exchange as one line.
    pub fn write(&mut self, exchange: &Exchange) -> io::Result<()> {
        self.line.clear();
        exchange.write_json_line(&mut self.line);
        self.inner.write_all(&self.line)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}
