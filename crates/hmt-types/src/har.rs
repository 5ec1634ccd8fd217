//! HAR 1.2 (HTTP Archive) in and out.
//!
//! # Reading
//!
//! [`HarReader`] turns every entry of `log.entries` into one [`Exchange`],
//! as browsers (Chrome, Firefox), proxies (mitmproxy, Charles) and test
//! tools (Playwright) write them:
//!
//! - the request's method, scheme, host, path and query come from
//!   `request.method` and the absolute `request.url` (user info and the
//!   fragment dropped; `ws`/`wss` read as `http`/`https`); `queryString` is
//!   only used when the URL has no query;
//! - headers keep their order and duplicates; HTTP/2 pseudo-headers
//!   (`:authority`, `:path`, ...) are left out, since they are not headers;
//! - the request body is `postData.text`, or, without text, `postData.params`
//!   encoded as the `mimeType` says (form-urlencoded, or multipart with the
//!   boundary the type names); the response body is `content.text`;
//!   `"encoding": "base64"` (and hmt's `_encoding` on `postData`) is decoded;
//!   a missing text is no body;
//! - `response.status` 0 (a request that got no response, as Chrome writes
//!   blocked or failed requests) is an exchange without a response;
//! - `startedDateTime` is the request's timestamp;
//! - everything else is ignored: sizes (missing, `-1` or real), timings,
//!   cookies (they are in the headers too), `httpVersion` (`HTTP/1.1`, `h2`,
//!   `http/2.0`, `HTTP/3`, or none), `comment`s, pages, and every custom
//!   `_`-prefixed field but hmt's own `_hmt`.
//!
//! A HAR file is one JSON document, but it is read as a stream: a thread
//! parses it and hands over one exchange at a time, through a queue of
//! [`QUEUE`] exchanges, so memory holds a few entries, never the document.
//! An entry that is not a valid exchange is an error naming the entry's
//! JSON pointer (`session.har: at /log/entries/17/request/url: ...`), and
//! reading goes on with the next entry; a document that is not JSON or not
//! HAR stops reading with an error naming where. A file that ends inside
//! its entries (a recorder killed mid-write) yields every complete entry
//! and a [warning](HarReader::warnings).
//!
//! # Writing
//!
//! [`HarWriter`] (and [`Exchange::write_har_entry`]) write valid HAR 1.2,
//! with every field the format requires, that other tools import; and
//! exactly what HAR cannot carry natively goes into the entry's custom
//! `_hmt` object, so that reading the entry back gives the same exchange:
//! `meta`, a request without scheme or host, the recorded `url`, a query
//! string or parsed query that do not follow from each other, header names
//! HAR readers drop, timestamps that are not RFC 3339, the response's
//! timestamp. A body that is not UTF-8 is written base64 (`content.encoding`,
//! and `postData._encoding`, since HAR 1.2 has no encoding for request
//! bodies). JSONL to HAR and back is lossless, byte for byte.
//!
//! The document is written as a header, one entry per line, and a trailer
//! ([`HEADER`], [`SEPARATOR`], [`TRAILER`]); the same input always gives
//! the same bytes.

use crate::model::encode_query;
use crate::reader::json_pointer;
use crate::{Exchange, Fields, Method, Protocol, ReadError, Request, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The start of every HAR document hmt writes, up to the entries' `[`.
pub const HEADER: &str = concat!(
    r#"{"log":{"version":"1.2","creator":{"name":"hmt","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""},"entries":["#
);

/// Before the first entry.
pub const FIRST_SEPARATOR: &str = "\n";

/// Before every other entry.
pub const SEPARATOR: &str = ",\n";

/// After the last entry: the end of the document.
pub const TRAILER: &str = "\n]}}\n";

/// How many read exchanges may wait for the consumer of a [`HarReader`].
pub const QUEUE: usize = 16;

/// The host written into the URL of an exchange that has none (or one
/// that cannot stand in a URL); the real value goes into `_hmt`.
const PLACEHOLDER_HOST: &str = "localhost";

/// `startedDateTime` of an exchange without an RFC 3339 timestamp.
const PLACEHOLDER_TIME: &str = "1970-01-01T00:00:00.000Z";

// ---- the request line, shared by reading and writing ---------------------------------

/// What an absolute request URL says.
#[derive(Debug, PartialEq, Eq)]
struct UrlView {
    protocol: Protocol,
    host: String,
    pathname: String,
    query_string: Option<String>,
}

/// Splits an absolute `http(s)://` (or `ws(s)://`) URL.
fn parse_url(url: &str) -> Result<UrlView, String> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(format!("{url:?} is not an absolute URL"));
    };
    let protocol = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Protocol::Http,
        "https" | "wss" => Protocol::Https,
        _ => {
            return Err(format!(
                "{url:?} is not an http or https URL (scheme {scheme:?})"
            ));
        }
    };
    let parts = crate::raw::split_url(url);
    let authority = parts.host.unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(UrlView {
        protocol,
        host: host.to_owned(),
        pathname: parts.pathname.to_owned(),
        query_string: parts.query.map(str::to_owned),
    })
}

/// The query string and parsed query a request has: from the URL when it
/// has a query, else from the `queryString` pairs.
fn native_query<'a>(
    query_string: Option<String>,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> (Option<String>, Fields) {
    match query_string {
        Some(qs) => {
            let query = Fields::parse_query(&qs);
            (Some(qs), query)
        }
        None => {
            let query = native_fields(pairs, false);
            if query.is_empty() {
                (None, query)
            } else {
                (Some(encode_query(&query)), query)
            }
        }
    }
}

/// Name/value pairs as fields, in order; for headers, without HTTP/2
/// pseudo-headers.
fn native_fields<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, headers: bool) -> Fields {
    Fields::from_entries(
        pairs
            .filter(|(name, _)| !(headers && name.starts_with(':')))
            .map(|(name, value)| (name.to_owned(), vec![value.to_owned()])),
    )
}

/// Every value of `fields` as a name/value pair, in order.
fn pairs(fields: &Fields) -> impl Iterator<Item = (&str, &str)> {
    fields
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |v| (name, v.as_str())))
}

// ---- writing -----------------------------------------------------------------------

#[derive(Serialize)]
struct OutEntry<'a> {
    #[serde(rename = "startedDateTime")]
    started: &'a str,
    time: Value,
    request: OutRequest<'a>,
    response: OutResponse<'a>,
    cache: Empty,
    timings: OutTimings,
    #[serde(rename = "_hmt", skip_serializing_if = "Overrides::is_empty")]
    hmt: Overrides<'a>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct OutTimings {
    send: u8,
    wait: Value,
    receive: u8,
}

#[derive(Serialize)]
struct Pair<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct OutRequest<'a> {
    method: &'static str,
    url: &'a str,
    #[serde(rename = "httpVersion")]
    http_version: &'static str,
    cookies: [Empty; 0],
    headers: Vec<Pair<'a>>,
    #[serde(rename = "queryString")]
    query_string: Vec<Pair<'a>>,
    #[serde(rename = "postData", skip_serializing_if = "Option::is_none")]
    post_data: Option<OutPostData<'a>>,
    #[serde(rename = "headersSize")]
    headers_size: i8,
    #[serde(rename = "bodySize")]
    body_size: usize,
}

#[derive(Serialize)]
struct OutPostData<'a> {
    #[serde(rename = "mimeType")]
    mime_type: &'a str,
    text: Cow<'a, str>,
    #[serde(rename = "_encoding", skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

#[derive(Serialize)]
struct OutResponse<'a> {
    status: u16,
    #[serde(rename = "statusText")]
    status_text: &'static str,
    #[serde(rename = "httpVersion")]
    http_version: &'static str,
    cookies: [Empty; 0],
    headers: Vec<Pair<'a>>,
    content: OutContent<'a>,
    #[serde(rename = "redirectURL")]
    redirect_url: &'a str,
    #[serde(rename = "headersSize")]
    headers_size: i8,
    #[serde(rename = "bodySize")]
    body_size: i64,
}

#[derive(Serialize)]
struct OutContent<'a> {
    size: usize,
    #[serde(rename = "mimeType")]
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
}

/// What a HAR entry cannot say natively, in the entry's `_hmt` object: a
/// key is present exactly when reading the entry without it would give
/// something else (`null` for an absent value).
#[derive(Serialize, Default)]
struct Overrides<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<Option<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pathname: Option<&'a str>,
    #[serde(rename = "queryString", skip_serializing_if = "Option::is_none")]
    query_string: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a Fields>,
    #[serde(rename = "requestHeaders", skip_serializing_if = "Option::is_none")]
    request_headers: Option<&'a Fields>,
    #[serde(rename = "requestTimestamp", skip_serializing_if = "Option::is_none")]
    request_timestamp: Option<Option<&'a str>>,
    #[serde(rename = "responseHeaders", skip_serializing_if = "Option::is_none")]
    response_headers: Option<&'a Fields>,
    #[serde(rename = "responseTimestamp", skip_serializing_if = "Option::is_none")]
    response_timestamp: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a Map<String, Value>>,
}

impl Overrides<'_> {
    fn is_empty(&self) -> bool {
        self.protocol.is_none()
            && self.host.is_none()
            && self.url.is_none()
            && self.pathname.is_none()
            && self.query_string.is_none()
            && self.query.is_none()
            && self.request_headers.is_none()
            && self.request_timestamp.is_none()
            && self.response_headers.is_none()
            && self.response_timestamp.is_none()
            && self.meta.is_none()
    }
}

/// A body as HAR text: as is when UTF-8, else base64 and the encoding.
fn body_text(body: &[u8]) -> (Cow<'_, str>, Option<&'static str>) {
    match std::str::from_utf8(body) {
        Ok(text) => (Cow::Borrowed(text), None),
        Err(_) => (Cow::Owned(BASE64.encode(body)), Some("base64")),
    }
}

/// Whether `host` can stand in a URL's authority as it is.
fn url_safe_host(host: &str) -> bool {
    !host.is_empty()
        && !host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"/?#@\\".contains(&b))
}

/// The `Content-Type` of `headers`, or `""` (HAR's `mimeType` is required).
fn content_type(headers: &Fields) -> &str {
    headers.get_ignore_case("content-type").unwrap_or("")
}

impl Exchange {
    /// Appends this exchange as one compact HAR 1.2 entry (a JSON object,
    /// no newline); see the [module docs](crate::har) for the mapping.
    pub fn write_har_entry(&self, buf: &mut Vec<u8>) {
        let r = &self.request;
        let mut hmt = Overrides::default();

        // The request line, and what reading it back would say.
        let scheme = r.protocol.unwrap_or(Protocol::Http);
        let host = r
            .host
            .as_deref()
            .filter(|h| url_safe_host(h))
            .unwrap_or(PLACEHOLDER_HOST);
        // An origin-form path; anything else (`OPTIONS *`) goes into `_hmt`.
        let path = if r.pathname.starts_with('/') {
            r.path()
        } else {
            "/".to_owned()
        };
        let url = format!("{}://{host}{path}", scheme.as_str());
        let (native_protocol, native_host, native_pathname, native_qs) = match parse_url(&url) {
            Ok(view) => (
                Some(view.protocol),
                Some(view.host),
                Some(view.pathname),
                view.query_string,
            ),
            // Cannot happen for the URLs built above; if it did, every part
            // is carried in `_hmt`.
            Err(_) => (None, None, None, None),
        };
        if native_protocol != r.protocol {
            hmt.protocol = Some(r.protocol.map(Protocol::as_str));
        }
        if native_host.as_deref() != r.host.as_deref() {
            hmt.host = Some(r.host.as_deref());
        }
        if native_pathname.as_deref() != Some(r.pathname.as_str()) {
            hmt.pathname = Some(&r.pathname);
        }
        let (native_qs, native_query) = native_query(native_qs, pairs(&r.query));
        if native_qs != r.query_string {
            hmt.query_string = Some(r.query_string.as_deref());
        }
        if native_query != r.query {
            hmt.query = Some(&r.query);
        }
        if r.url.is_some() {
            hmt.url = Some(r.url.as_deref());
        }
        if native_fields(pairs(&r.headers), true) != r.headers {
            hmt.request_headers = Some(&r.headers);
        }
        let started = r
            .timestamp
            .as_deref()
            .filter(|t| crate::format::is_date_time(t))
            .unwrap_or(PLACEHOLDER_TIME);
        if r.timestamp.as_deref() != Some(started) {
            hmt.request_timestamp = Some(r.timestamp.as_deref());
        }
        if !self.meta.is_empty() {
            hmt.meta = Some(&self.meta);
        }

        let post_data = r.body.as_deref().map(|body| {
            let (text, encoding) = body_text(body);
            OutPostData {
                mime_type: content_type(&r.headers),
                text,
                encoding,
            }
        });
        let request = OutRequest {
            method: method_upper(r.method),
            url: &url,
            http_version: "HTTP/1.1",
            cookies: [],
            headers: pairs(&r.headers)
                .map(|(name, value)| Pair { name, value })
                .collect(),
            query_string: pairs(&r.query)
                .map(|(name, value)| Pair { name, value })
                .collect(),
            post_data,
            headers_size: -1,
            body_size: r.body.as_ref().map_or(0, Vec::len),
        };

        let response = match &self.response {
            Some(res) => {
                if native_fields(pairs(&res.headers), true) != res.headers {
                    hmt.response_headers = Some(&res.headers);
                }
                if res.timestamp.is_some() {
                    hmt.response_timestamp = Some(res.timestamp.as_deref());
                }
                let (text, encoding) = match res.body.as_deref().map(body_text) {
                    Some((text, encoding)) => (Some(text), encoding),
                    None => (None, None),
                };
                OutResponse {
                    status: res.status,
                    status_text: crate::reason_phrase(res.status).unwrap_or(""),
                    http_version: "HTTP/1.1",
                    cookies: [],
                    headers: pairs(&res.headers)
                        .map(|(name, value)| Pair { name, value })
                        .collect(),
                    content: OutContent {
                        size: res.body.as_ref().map_or(0, Vec::len),
                        mime_type: content_type(&res.headers),
                        text,
                        encoding,
                    },
                    redirect_url: res.headers.get_ignore_case("location").unwrap_or(""),
                    headers_size: -1,
                    body_size: res
                        .body
                        .as_ref()
                        .map_or(-1, |b| i64::try_from(b.len()).unwrap_or(i64::MAX)),
                }
            }
            // HAR requires a response; status 0 is how browsers write none.
            None => OutResponse {
                status: 0,
                status_text: "",
                http_version: "",
                cookies: [],
                headers: Vec::new(),
                content: OutContent {
                    size: 0,
                    mime_type: "",
                    text: None,
                    encoding: None,
                },
                redirect_url: "",
                headers_size: -1,
                body_size: -1,
            },
        };

        // hmt record's latency is the closest HAR has to `time`.
        let time = match self.meta.get("latencyMs") {
            Some(Value::Number(n)) if n.as_f64().is_some_and(|ms| ms >= 0.0) => {
                Value::Number(n.clone())
            }
            _ => Value::from(0),
        };
        let entry = OutEntry {
            started,
            time: time.clone(),
            request,
            response,
            cache: Empty {},
            timings: OutTimings {
                send: 0,
                wait: time,
                receive: 0,
            },
            hmt,
        };
        // Serialising borrowed strings and maps into memory cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &entry);
    }

    /// This exchange as one compact HAR 1.2 entry; see
    /// [`write_har_entry`](Exchange::write_har_entry).
    pub fn to_har_entry(&self) -> String {
        let mut buf = Vec::with_capacity(1024);
        self.write_har_entry(&mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

fn method_upper(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Head => "HEAD",
        Method::Connect => "CONNECT",
    }
}

/// Writes exchanges as one HAR 1.2 document: [`HEADER`] when created, one
/// entry per line, [`TRAILER`] on [`finish`](HarWriter::finish).
///
/// ```
/// use hmt_types::{Exchange, HarReader, HarWriter, Method, Request, Response};
/// let exchange = Exchange {
///     request: Request::new(Method::Get, "/users?page=2"),
///     response: Some(Response { body: Some(b"[]".to_vec()), ..Response::new(200) }),
///     meta: Default::default(),
/// };
/// let mut har = HarWriter::new(Vec::new()).unwrap();
/// har.write(&exchange).unwrap();
/// let bytes = har.finish().unwrap();
/// let read: Vec<_> = HarReader::new(std::io::Cursor::new(bytes), "x.har").collect();
/// assert_eq!(read.len(), 1);
/// assert_eq!(read[0].as_ref().unwrap(), &exchange);
/// ```
pub struct HarWriter<W: Write> {
    inner: W,
    entries: u64,
    buf: Vec<u8>,
}

impl<W: Write> HarWriter<W> {
    /// Writes the document's [`HEADER`] into `inner`.
    pub fn new(mut inner: W) -> io::Result<HarWriter<W>> {
        inner.write_all(HEADER.as_bytes())?;
        Ok(HarWriter {
            inner,
            entries: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Writes one exchange as one entry, on a line of its own.
    pub fn write(&mut self, exchange: &Exchange) -> io::Result<()> {
        self.buf.clear();
        let separator = if self.entries == 0 {
            FIRST_SEPARATOR
        } else {
            SEPARATOR
        };
        self.buf.extend_from_slice(separator.as_bytes());
        exchange.write_har_entry(&mut self.buf);
        self.inner.write_all(&self.buf)?;
        self.entries += 1;
        Ok(())
    }

    /// Closes the document, flushes, and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(TRAILER.as_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

// ---- reading: one entry ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(expecting = "a HAR entry object")]
struct InEntry {
    #[serde(rename = "startedDateTime", default)]
    started: Option<String>,
    request: InRequest,
    #[serde(default)]
    response: Option<InResponse>,
    #[serde(rename = "_hmt", default)]
    hmt: Option<InOverrides>,
}

#[derive(Deserialize)]
#[serde(expecting = "a HAR request object")]
struct InRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Option<Vec<InPair>>,
    #[serde(rename = "queryString", default)]
    query_string: Option<Vec<InPair>>,
    #[serde(rename = "postData", default)]
    post_data: Option<InPostData>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object with a name and a value")]
struct InPair {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct InPostData {
    #[serde(rename = "mimeType", default)]
    mime_type: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    params: Option<Vec<InParam>>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(rename = "_encoding", default)]
    hmt_encoding: Option<String>,
}

#[derive(Deserialize)]
struct InParam {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(rename = "fileName", default)]
    file_name: Option<String>,
    #[serde(rename = "contentType", default)]
    content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a HAR response object")]
struct InResponse {
    status: Value,
    #[serde(default)]
    headers: Option<Vec<InPair>>,
    #[serde(default)]
    content: Option<InContent>,
}

#[derive(Deserialize)]
struct InContent {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// hmt's `_hmt` object; see [`Overrides`]. Keys this version does not know
/// are ignored, so newer files still read.
#[derive(Deserialize)]
struct InOverrides {
    #[serde(default, deserialize_with = "present")]
    protocol: Option<Option<Protocol>>,
    #[serde(default, deserialize_with = "present")]
    host: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    url: Option<Option<String>>,
    #[serde(default)]
    pathname: Option<String>,
    #[serde(rename = "queryString", default, deserialize_with = "present")]
    query_string: Option<Option<String>>,
    #[serde(default)]
    query: Option<Fields>,
    #[serde(rename = "requestHeaders", default)]
    request_headers: Option<Fields>,
    #[serde(rename = "requestTimestamp", default, deserialize_with = "present")]
    request_timestamp: Option<Option<String>>,
    #[serde(rename = "responseHeaders", default)]
    response_headers: Option<Fields>,
    #[serde(rename = "responseTimestamp", default, deserialize_with = "present")]
    response_timestamp: Option<Option<String>>,
    #[serde(default)]
    meta: Option<Map<String, Value>>,
}

/// A key that is present, with `null` as `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A problem in an entry: the JSON pointer within the entry, and what.
type Invalid = crate::reader::InvalidExchange;

fn invalid(pointer: &str, message: impl Into<String>) -> Invalid {
    Invalid::new(pointer, message)
}

/// Whether an `encoding` field says base64 (`None` or `""`: text).
fn is_base64(encoding: Option<&str>, pointer: &str) -> Result<bool, Invalid> {
    match encoding {
        None | Some("") => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("base64") => Ok(true),
        Some(other) => Err(invalid(
            pointer,
            format!("unknown encoding {other:?}, expected \"base64\""),
        )),
    }
}

/// The bytes of a body text.
fn decode_text(text: String, base64: bool, pointer: &str) -> Result<Vec<u8>, Invalid> {
    if !base64 {
        return Ok(text.into_bytes());
    }
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // Lenient about padding and line breaks, as exporters differ on both.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        LENIENT.decode(compact)
    } else {
        LENIENT.decode(text.as_bytes())
    };
    decoded.map_err(|e| {
        invalid(
            pointer,
            format!("the text is marked base64 but does not decode: {e}"),
        )
    })
}

/// A request body from `postData`.
fn post_body(post: InPostData) -> Result<Option<Vec<u8>>, Invalid> {
    let (encoding, pointer) = match &post.hmt_encoding {
        Some(e) => (Some(e.as_str()), "/request/postData/_encoding"),
        None => (post.encoding.as_deref(), "/request/postData/encoding"),
    };
    let base64 = is_base64(encoding, pointer)?;
    let params = post.params.unwrap_or_default();
    match post.text {
        Some(text) if !text.is_empty() || params.is_empty() => {
            decode_text(text, base64, "/request/postData/text").map(Some)
        }
        _ if params.is_empty() => Ok(None),
        _ => Ok(Some(form_body(
            post.mime_type.as_deref().unwrap_or(""),
            params,
        ))),
    }
}

/// `postData.params` as the body they were sent as: multipart when the
/// type says so (with its boundary), else form-urlencoded.
fn form_body(mime_type: &str, params: Vec<InParam>) -> Vec<u8> {
    let is_multipart = mime_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data");
    if !is_multipart {
        let fields = Fields::from_entries(
            params
                .into_iter()
                .map(|p| (p.name, vec![p.value.unwrap_or_default()])),
        );
        return encode_query(&fields).into_bytes();
    }
    let boundary = mime_type
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|b| !b.is_empty())
        .unwrap_or("hmt-form-boundary");
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut body = String::new();
    for param in params {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            quoted(&param.name)
        ));
        if let Some(file) = &param.file_name {
            body.push_str(&format!("; filename=\"{}\"", quoted(file)));
        }
        body.push_str("\r\n");
        if let Some(content_type) = &param.content_type {
            body.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        body.push_str("\r\n");
        body.push_str(param.value.as_deref().unwrap_or(""));
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

/// `response.status`: a status code, or 0 for none.
fn status(value: &Value) -> Result<Option<u16>, Invalid> {
    let code = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    match code {
        Some(0) => Ok(None),
        Some(code @ 100..=999) => Ok(Some(code as u16)),
        _ => Err(invalid(
            "/response/status",
            format!("status {value} is not a whole number from 100 to 999 (or 0 for no response)"),
        )),
    }
}

fn in_pairs(pairs: &[InPair]) -> impl Iterator<Item = (&str, &str)> {
    pairs
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_deref().unwrap_or("")))
}

impl Exchange {
    /// Reads one HAR entry (an element of `log.entries`); see the
    /// [module docs](crate::har) for the mapping.
    ///
    /// On error, tells the JSON pointer within the entry (`/request/url`)
    /// and what is wrong.
    pub fn from_har_entry(entry: Value) -> Result<Exchange, crate::InvalidExchange> {
        if !entry.is_object() {
            // (serde would read an array as the struct's fields in order.)
            return Err(invalid(
                "",
                format!("expected a HAR entry object, found {}", kind(&entry)),
            ));
        }
        let entry: InEntry = serde_path_to_error::deserialize(entry).map_err(|e| {
            let pointer = json_pointer(e.path());
            invalid(&pointer, e.into_inner().to_string())
        })?;
        let r = entry.request;
        let method = Method::parse(&r.method).ok_or_else(|| {
            invalid(
                "/request/method",
                format!(
                    "unknown method {:?}, expected one of GET, PUT, POST, PATCH, DELETE, OPTIONS, TRACE, HEAD, CONNECT",
                    r.method
                ),
            )
        })?;
        let view = parse_url(&r.url).map_err(|m| invalid("/request/url", m))?;
        let (query_string, query) = native_query(
            view.query_string,
            in_pairs(r.query_string.as_deref().unwrap_or_default()),
        );
        let body = r.post_data.map(post_body).transpose()?.flatten();
        let mut request = Request {
            method,
            protocol: Some(view.protocol),
            host: Some(view.host),
            url: None,
            pathname: view.pathname,
            query_string,
            query,
            headers: native_fields(in_pairs(r.headers.as_deref().unwrap_or_default()), true),
            body,
            timestamp: entry.started,
        };
        let mut response = match entry.response {
            None => None,
            Some(res) => match status(&res.status)? {
                None => None,
                Some(status) => {
                    let body = match res.content {
                        Some(InContent {
                            text: Some(text),
                            encoding,
                        }) => {
                            let base64 =
                                is_base64(encoding.as_deref(), "/response/content/encoding")?;
                            Some(decode_text(text, base64, "/response/content/text")?)
                        }
                        _ => None,
                    };
                    Some(Response {
                        status,
                        headers: native_fields(
                            in_pairs(res.headers.as_deref().unwrap_or_default()),
                            true,
                        ),
                        body,
                        timestamp: None,
                    })
                }
            },
        };
        let mut meta = Map::new();
        if let Some(o) = entry.hmt {
            apply(o, &mut request, response.as_mut(), &mut meta);
        }
        Ok(Exchange {
            request,
            response,
            meta,
        })
    }
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Puts back what `_hmt` carries.
fn apply(
    o: InOverrides,
    request: &mut Request,
    response: Option<&mut Response>,
    meta: &mut Map<String, Value>,
) {
    if let Some(protocol) = o.protocol {
        request.protocol = protocol;
    }
    if let Some(host) = o.host {
        request.host = host;
    }
    if let Some(url) = o.url {
        request.url = url;
    }
    if let Some(pathname) = o.pathname {
        request.pathname = pathname;
    }
    if let Some(query_string) = o.query_string {
        request.query_string = query_string;
    }
    if let Some(query) = o.query {
        request.query = query;
    }
    if let Some(headers) = o.request_headers {
        request.headers = headers;
    }
    if let Some(timestamp) = o.request_timestamp {
        request.timestamp = timestamp;
    }
    if let Some(response) = response {
        if let Some(headers) = o.response_headers {
            response.headers = headers;
        }
        if let Some(timestamp) = o.response_timestamp {
            response.timestamp = timestamp;
        }
    }
    if let Some(m) = o.meta {
        *meta = m;
    }
}

// ---- reading: the document -------------------------------------------------------------

/// What the parsing thread hands over (boxed: an exchange is large, a
/// warning small).
enum Message {
    Exchange(Box<Result<Exchange, ReadError>>),
    Warning(String),
}

impl Message {
    fn error(error: ReadError) -> Message {
        Message::Exchange(Box::new(Err(error)))
    }
}

/// Reads the exchanges of a HAR document, one entry at a time; see the
/// [module docs](crate::har).
///
/// ```
/// use hmt_types::HarReader;
/// let har = r#"{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": [
///   {"startedDateTime": "2024-05-01T10:00:00.000Z", "time": 12,
///    "request": {"method": "GET", "url": "https://api.example.com/users?page=2", "httpVersion": "h2",
///                "headers": [{"name": ":authority", "value": "api.example.com"}, {"name": "accept", "value": "*/*"}],
///                "cookies": [], "queryString": [], "headersSize": -1, "bodySize": 0},
///    "response": {"status": 200, "statusText": "", "httpVersion": "h2", "headers": [], "cookies": [],
///                 "content": {"size": 2, "mimeType": "application/json", "text": "W10=", "encoding": "base64"},
///                 "redirectURL": "", "headersSize": -1, "bodySize": -1, "_transferSize": 120},
///    "cache": {}, "timings": {"send": 0, "wait": 12, "receive": 0}},
///   {"request": {"method": "FETCH", "url": "https://api.example.com/"}}
/// ]}}"#;
/// let mut reader = HarReader::new(har.as_bytes(), "session.har");
/// let exchange = reader.next().unwrap().unwrap();
/// assert_eq!(exchange.request.host.as_deref(), Some("api.example.com"));
/// assert_eq!(exchange.request.query.get("page"), Some("2"));
/// assert_eq!(exchange.request.headers.len(), 1, "no pseudo-headers");
/// assert_eq!(exchange.response.unwrap().body.unwrap(), b"[]");
/// let error = reader.next().unwrap().unwrap_err();
/// assert!(error.to_string().starts_with("session.har: at /log/entries/1/request/method: unknown method \"FETCH\""));
/// assert!(reader.next().is_none());
/// ```
pub struct HarReader {
    source_name: String,
    messages: Receiver<Message>,
    warnings: Vec<String>,
    /// Entries yielded so far.
    yielded: u64,
}

impl HarReader {
    /// Starts reading `reader` on a thread of its own; `source_name` names
    /// it in errors. Dropping the reader stops the thread at its next entry.
    pub fn new(reader: impl Read + Send + 'static, source_name: impl Into<String>) -> HarReader {
        let source_name = source_name.into();
        let (sender, messages) = sync_channel(QUEUE);
        let name = source_name.clone();
        let spawned = std::thread::Builder::new()
            .name("hmt-har-reader".into())
            .spawn(move || read_document(reader, name, sender));
        if let Err(error) = spawned {
            // The sender went with the closure; report through a new channel.
            let (sender, messages) = sync_channel(1);
            let _ = sender.send(Message::error(ReadError::Io {
                source_name: source_name.clone(),
                error,
            }));
            return HarReader {
                source_name,
                messages,
                warnings: Vec::new(),
                yielded: 0,
            };
        }
        HarReader {
            source_name,
            messages,
            warnings: Vec::new(),
            yielded: 0,
        }
    }

    /// The name used in errors.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// What the user should know about the document, such as that it was
    /// cut short; complete once the iterator has ended.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The JSON pointer of the entry last yielded (`/log/entries/17`).
    pub fn pointer(&self) -> String {
        format!("/log/entries/{}", self.yielded.saturating_sub(1))
    }
}

impl Iterator for HarReader {
    type Item = Result<Exchange, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.messages.recv() {
                Ok(Message::Exchange(item)) => {
                    self.yielded += 1;
                    return Some(*item);
                }
                Ok(Message::Warning(warning)) => self.warnings.push(warning),
                Err(_) => return None,
            }
        }
    }
}

/// Where the parser is in the document, for errors.
#[derive(Default)]
struct Progress {
    saw_log: bool,
    in_log: bool,
    at_entries: bool,
    in_entries: bool,
    entries_done: bool,
    /// Entries read so far; the index of the one being read.
    entries: u64,
    /// The consumer is gone.
    stopped: bool,
}

impl Progress {
    fn pointer(&self) -> String {
        if self.in_entries && !self.entries_done {
            format!("/log/entries/{}", self.entries)
        } else if self.at_entries && !self.entries_done {
            "/log/entries".into()
        } else if self.in_log {
            "/log".into()
        } else {
            String::new()
        }
    }
}

struct Parse<'a> {
    name: &'a str,
    sender: &'a SyncSender<Message>,
    progress: &'a mut Progress,
}

/// The parsing thread: the document's entries, then how it ended.
fn read_document(reader: impl Read, name: String, sender: SyncSender<Message>) {
    let mut progress = Progress::default();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = Document(Parse {
        name: &name,
        sender: &sender,
        progress: &mut progress,
    })
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let message = match parsed {
        Ok(()) if !progress.saw_log => Message::error(ReadError::InvalidDocument {
            source_name: name,
            pointer: String::new(),
            message: "not a HAR document: the object has no `log` member".into(),
        }),
        Ok(()) => return,
        Err(_) if progress.stopped => return,
        Err(error) if error.is_io() => Message::error(ReadError::Io {
            source_name: name,
            error: error.into(),
        }),
        Err(error) if error.is_eof() && progress.in_entries => {
            let read = progress.entries;
            Message::Warning(if progress.entries_done {
                format!(
                    "{name}: the file ends before the document does (cut short, as by a crash); \
                     all {read} entries were read"
                )
            } else {
                format!(
                    "{name}: the file ends inside /log/entries/{read} (cut short, as by a crash); \
                     the {read} complete entries before it were read"
                )
            })
        }
        Err(error) => Message::error(ReadError::InvalidDocument {
            source_name: name,
            pointer: progress.pointer(),
            message: error.to_string(),
        }),
    };
    let _ = sender.send(message);
}

/// The top level: an object with a `log`.
struct Document<'a>(Parse<'a>);

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a HAR document, an object with a `log` member")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" && !self.0.progress.saw_log {
                self.0.progress.saw_log = true;
                self.0.progress.in_log = true;
                map.next_value_seed(Log(self.0.reborrow()))?;
                self.0.progress.in_log = false;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl Parse<'_> {
    fn reborrow(&mut self) -> Parse<'_> {
        Parse {
            name: self.name,
            sender: self.sender,
            progress: self.progress,
        }
    }
}

/// `log`: an object with `entries`.
struct Log<'a>(Parse<'a>);

impl<'de> DeserializeSeed<'de> for Log<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the `log` object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "entries" && !self.0.progress.at_entries {
                self.0.progress.at_entries = true;
                map.next_value_seed(Entries(self.0.reborrow()))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `log.entries`: each element read, converted and sent on its own.
struct Entries<'a>(Parse<'a>);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Parse {
            name,
            sender,
            progress,
        } = self.0;
        progress.in_entries = true;
        while let Some(entry) = seq.next_element::<Value>()? {
            let index = progress.entries;
            progress.entries += 1;
            let item = Exchange::from_har_entry(entry).map_err(|Invalid { pointer, message }| {
                ReadError::InvalidEntry {
                    source_name: name.to_owned(),
                    pointer: format!("/log/entries/{index}{pointer}"),
                    message,
                }
            });
            if sender.send(Message::Exchange(Box::new(item))).is_err() {
                progress.stopped = true;
                return Err(de::Error::custom("the reader was dropped"));
            }
        }
        progress.entries_done = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal entry as exporters write it, with `request` and `response`
    /// patched by `f`.
    fn entry(f: impl FnOnce(&mut Value)) -> Value {
        let mut entry = json!({
            "startedDateTime": "2024-05-01T10:00:00.000Z",
            "time": 12.5,
            "request": {
                "method": "GET", "url": "https://api.example.com/v1/pets?limit=2",
                "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                "queryString": [{"name": "limit", "value": "2"}],
                "headersSize": -1, "bodySize": 0
            },
            "response": {
                "status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                "cookies": [], "headers": [{"name": "content-type", "value": "application/json"}],
                "content": {"size": 2, "mimeType": "application/json", "text": "[]"},
                "redirectURL": "", "headersSize": -1, "bodySize": -1
            },
            "cache": {},
            "timings": {"send": 0, "wait": 12.5, "receive": 0}
        });
        f(&mut entry);
        entry
    }

    fn read(entry: Value) -> Exchange {
        Exchange::from_har_entry(entry).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn request_body(x: &Exchange) -> Option<&[u8]> {
        x.request.body.as_deref()
    }

    fn response_body(x: &Exchange) -> Option<&[u8]> {
        x.response.as_ref().and_then(|r| r.body.as_deref())
    }

    #[test]
    fn what_real_exporters_write_reads_as_one_exchange() {
        type Check = fn(&Exchange);
        let cases: Vec<(&str, Value, Check)> = vec![
            ("the plain entry", entry(|_| {}), |x| {
                assert_eq!(x.request.method, Method::Get);
                assert_eq!(x.request.protocol, Some(Protocol::Https));
                assert_eq!(x.request.host.as_deref(), Some("api.example.com"));
                assert_eq!(x.request.pathname, "/v1/pets");
                assert_eq!(x.request.query_string.as_deref(), Some("limit=2"));
                assert_eq!(x.request.query.get("limit"), Some("2"));
                assert_eq!(
                    x.request.timestamp.as_deref(),
                    Some("2024-05-01T10:00:00.000Z")
                );
                assert_eq!(request_body(x), None);
                let res = x.response.as_ref().unwrap();
                assert_eq!(res.status, 200);
                assert_eq!(res.headers.get("content-type"), Some("application/json"));
                assert_eq!(res.body.as_deref(), Some(&b"[]"[..]));
                assert_eq!(res.timestamp, None);
                assert!(x.meta.is_empty());
            }),
            (
                "a base64 response body (Chrome, mitmproxy)",
                entry(
                    |e| e["response"]["content"] = json!({"size": 4, "mimeType": "image/png", "text": "iVBO/w==", "encoding": "base64"}),
                ),
                |x| assert_eq!(response_body(x), Some(&[0x89, 0x50, 0x4e, 0xff][..])),
            ),
            (
                "base64 wrapped over lines, without padding",
                entry(
                    |e| e["response"]["content"] = json!({"size": 4, "mimeType": "x", "text": "iVBO\r\n/w", "encoding": "BASE64"}),
                ),
                |x| assert_eq!(response_body(x), Some(&[0x89, 0x50, 0x4e, 0xff][..])),
            ),
            (
                "form fields without text (postData.params)",
                entry(|e| {
                    e["request"]["method"] = json!("POST");
                    e["request"]["postData"] = json!({"mimeType": "application/x-www-form-urlencoded",
                        "params": [{"name": "user", "value": "ann lee"}, {"name": "pw", "value": "a&b=c"}, {"name": "flag"}]});
                }),
                |x| {
                    assert_eq!(
                        request_body(x),
                        Some(&b"user=ann+lee&pw=a%26b%3Dc&flag="[..])
                    )
                },
            ),
            (
                "an empty text beside params",
                entry(|e| {
                    e["request"]["postData"] =
                        json!({"mimeType": "", "text": "", "params": [{"name": "a", "value": "1"}]})
                }),
                |x| assert_eq!(request_body(x), Some(&b"a=1"[..])),
            ),
            (
                "multipart params, with the boundary of the mime type",
                entry(|e| {
                    e["request"]["postData"] = json!({"mimeType": "multipart/form-data; boundary=\"XyZ\"",
                        "params": [{"name": "caption", "value": "hi"}, {"name": "file", "value": "PNG", "fileName": "a.png", "contentType": "image/png"}]});
                }),
                |x| {
                    assert_eq!(
                        std::str::from_utf8(request_body(x).unwrap()).unwrap(),
                        "--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--XyZ--\r\n"
                    )
                },
            ),
            (
                "text wins over params (Firefox writes both)",
                entry(|e| {
                    e["request"]["postData"] = json!({"mimeType": "application/x-www-form-urlencoded",
                        "text": "a=%31", "params": [{"name": "a", "value": "1"}]})
                }),
                |x| assert_eq!(request_body(x), Some(&b"a=%31"[..])),
            ),
            (
                "a base64 request body (postData.encoding or hmt's _encoding)",
                entry(|e| {
                    e["request"]["postData"] =
                        json!({"mimeType": "", "text": "/w==", "_encoding": "base64"})
                }),
                |x| assert_eq!(request_body(x), Some(&[0xff][..])),
            ),
            (
                "postData.encoding",
                entry(|e| {
                    e["request"]["postData"] =
                        json!({"mimeType": "", "text": "/w==", "encoding": "base64"})
                }),
                |x| assert_eq!(request_body(x), Some(&[0xff][..])),
            ),
            (
                "sizes missing, -1, or fractional; comments; vendor fields everywhere",
                entry(|e| {
                    for part in ["request", "response"] {
                        let o = e[part].as_object_mut().unwrap();
                        o.remove("headersSize");
                        o.insert("bodySize".into(), json!(-1));
                        o.insert("comment".into(), json!("a comment"));
                        o.insert("_transferSize".into(), json!(-1));
                    }
                    e["response"]["content"]["size"] = json!(-1);
                    e["response"]["content"]["comment"] = json!("");
                    e["response"]["content"]["_file"] = json!("body.json");
                    e["time"] = json!(12.75);
                    e["comment"] = json!("");
                    e["_initiator"] = json!({"type": "script", "stack": {"callFrames": []}});
                    e["_priority"] = json!("High");
                    e["_webSocketMessages"] =
                        json!([{"type": "send", "time": 1.5, "opcode": 1, "data": "x"}]);
                    e["request"]["headers"] =
                        json!([{"name": "accept", "value": "*/*", "comment": "", "_x": 1}]);
                    e["timings"] = json!({"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0.1, "wait": -1, "receive": 0.2, "_blocked_queueing": 0.9});
                    e.as_object_mut().unwrap().remove("cache");
                }),
                |x| {
                    assert_eq!(x.request.headers.get("accept"), Some("*/*"));
                    assert_eq!(response_body(x), Some(&b"[]"[..]));
                },
            ),
            (
                "no startedDateTime, no headers, no queryString, no content",
                entry(|e| {
                    let o = e.as_object_mut().unwrap();
                    o.remove("startedDateTime");
                    let request = e["request"].as_object_mut().unwrap();
                    request.remove("headers");
                    request.remove("queryString");
                    request.remove("httpVersion");
                    request.remove("cookies");
                    let response = e["response"].as_object_mut().unwrap();
                    response.remove("content");
                    response.insert("headers".into(), Value::Null);
                }),
                |x| {
                    assert_eq!(x.request.timestamp, None);
                    assert!(x.request.headers.is_empty());
                    let res = x.response.as_ref().unwrap();
                    assert!(res.headers.is_empty());
                    assert_eq!(res.body, None);
                },
            ),
            (
                "an empty text is an empty body, not none",
                entry(|e| e["response"]["content"]["text"] = json!("")),
                |x| assert_eq!(response_body(x), Some(&b""[..])),
            ),
            (
                "user info, port and fragment in the URL",
                entry(|e| {
                    e["request"]["url"] =
                        json!("HTTPS://ann:pw@api.example.com:8443/a/b?x=1&x=2#top")
                }),
                |x| {
                    assert_eq!(x.request.protocol, Some(Protocol::Https));
                    assert_eq!(x.request.host.as_deref(), Some("api.example.com:8443"));
                    assert_eq!(x.request.pathname, "/a/b");
                    assert_eq!(x.request.query.get_all("x"), &["1", "2"]);
                },
            ),
            (
                "a URL without a path",
                entry(|e| e["request"]["url"] = json!("http://api.example.com")),
                |x| {
                    assert_eq!(x.request.protocol, Some(Protocol::Http));
                    assert_eq!(x.request.pathname, "/");
                    // The URL's (absent) query wins over queryString's pairs.
                    assert_eq!(x.request.query.get("limit"), Some("2"));
                },
            ),
            (
                "a WebSocket upgrade (Chrome's wss:// entries)",
                entry(|e| {
                    e["request"]["url"] = json!("wss://api.example.com/socket");
                    e["response"]["status"] = json!(101);
                }),
                |x| {
                    assert_eq!(x.request.protocol, Some(Protocol::Https));
                    assert_eq!(x.response.as_ref().unwrap().status, 101);
                },
            ),
            (
                "queryString alone, the URL without a query",
                entry(|e| {
                    e["request"]["url"] = json!("https://api.example.com/search");
                    e["request"]["queryString"] = json!([{"name": "q", "value": "a b"}, {"name": "tag", "value": "x"}, {"name": "tag", "value": "y"}]);
                }),
                |x| {
                    assert_eq!(x.request.query_string.as_deref(), Some("q=a+b&tag=x&tag=y"));
                    assert_eq!(x.request.query.get_all("tag"), &["x", "y"]);
                },
            ),
            (
                "HTTP/2 pseudo-headers left out, duplicates kept in order",
                entry(|e| {
                    e["request"]["httpVersion"] = json!("h2");
                    e["request"]["headers"] = json!([
                        {"name": ":authority", "value": "api.example.com"}, {"name": ":method", "value": "GET"},
                        {"name": ":path", "value": "/v1/pets?limit=2"}, {"name": ":scheme", "value": "https"},
                        {"name": "accept", "value": "a"}, {"name": "x-b", "value": "1"}, {"name": "accept", "value": "b"},
                        {"name": "x-null", "value": null}, {"name": "x-none"}
                    ]);
                    e["response"]["headers"] = json!([{"name": ":status", "value": "200"},
                        {"name": "set-cookie", "value": "a=1"}, {"name": "set-cookie", "value": "b=2"}]);
                }),
                |x| {
                    let names: Vec<_> = x.request.headers.iter().map(|(n, _)| n).collect();
                    assert_eq!(names, ["accept", "x-b", "x-null", "x-none"]);
                    assert_eq!(x.request.headers.get_all("accept"), &["a", "b"]);
                    assert_eq!(x.request.headers.get("x-null"), Some(""));
                    let res = x.response.as_ref().unwrap();
                    assert_eq!(res.headers.len(), 1);
                    assert_eq!(res.headers.get_all("set-cookie"), &["a=1", "b=2"]);
                },
            ),
            (
                "httpVersion in any spelling, or not a string",
                entry(|e| {
                    e["request"]["httpVersion"] = json!("http/2.0");
                    e["response"]["httpVersion"] = json!(3);
                }),
                |x| assert_eq!(x.response.as_ref().unwrap().status, 200),
            ),
            (
                "status 0: blocked or failed, no response (Chrome)",
                entry(|e| {
                    e["response"] = json!({"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                        "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                        "bodySize": -1, "_error": "net::ERR_BLOCKED_BY_CLIENT"});
                }),
                |x| assert_eq!(x.response, None),
            ),
            (
                "no response at all",
                entry(|e| {
                    e.as_object_mut().unwrap().remove("response");
                }),
                |x| assert_eq!(x.response, None),
            ),
            (
                "a status written as 200.0",
                entry(|e| e["response"]["status"] = json!(200.0)),
                |x| assert_eq!(x.response.as_ref().unwrap().status, 200),
            ),
            (
                "a lower-case method",
                entry(|e| e["request"]["method"] = json!("patch")),
                |x| assert_eq!(x.request.method, Method::Patch),
            ),
        ];
        for (name, entry, check) in cases {
            let exchange =
                Exchange::from_har_entry(entry).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let caught = std::panic::catch_unwind(|| check(&exchange));
            assert!(caught.is_ok(), "case {name:?} failed: {exchange:?}");
        }
    }

    #[test]
    fn an_invalid_entry_names_the_pointer_within_it() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                entry(|e| e["request"]["url"] = json!("/v1/pets")),
                "/request/url",
                "\"/v1/pets\" is not an absolute URL",
            ),
            (
                entry(|e| e["request"]["url"] = json!("ftp://h/x")),
                "/request/url",
                "not an http or https URL",
            ),
            (
                entry(|e| e["request"]["url"] = json!("https:///x")),
                "/request/url",
                "has no host",
            ),
            (
                entry(|e| e["request"]["url"] = json!(5)),
                "/request/url",
                "invalid type: integer `5`",
            ),
            (
                entry(|e| e["request"]["method"] = json!("FETCH")),
                "/request/method",
                "unknown method \"FETCH\"",
            ),
            (
                entry(|e| {
                    e["request"].as_object_mut().unwrap().remove("url");
                }),
                "/request",
                "missing field `url`",
            ),
            (
                entry(|e| {
                    e.as_object_mut().unwrap().remove("request");
                }),
                "",
                "missing field `request`",
            ),
            (
                entry(|e| e["request"]["headers"] = json!([{"value": "x"}])),
                "/request/headers/0",
                "missing field `name`",
            ),
            (
                entry(|e| e["request"]["headers"] = json!({"a": "b"})),
                "/request/headers",
                "invalid type: map",
            ),
            (
                entry(|e| e["response"]["status"] = json!("200")),
                "/response/status",
                "status \"200\" is not a whole number",
            ),
            (
                entry(|e| e["response"]["status"] = json!(1000)),
                "/response/status",
                "status 1000",
            ),
            (
                entry(|e| e["response"]["status"] = json!(-1)),
                "/response/status",
                "status -1",
            ),
            (
                entry(|e| {
                    e["response"]["content"]["text"] = json!("**");
                    e["response"]["content"]["encoding"] = json!("base64");
                }),
                "/response/content/text",
                "marked base64 but does not decode",
            ),
            (
                entry(|e| e["response"]["content"]["encoding"] = json!("gzip")),
                "/response/content/encoding",
                "unknown encoding \"gzip\"",
            ),
            (
                entry(|e| e["request"]["postData"] = json!({"text": "x", "_encoding": "hex"})),
                "/request/postData/_encoding",
                "unknown encoding",
            ),
            (
                entry(|e| e["request"]["postData"] = json!({"text": "%%", "encoding": "base64"})),
                "/request/postData/text",
                "does not decode",
            ),
            (
                entry(|e| e["_hmt"] = json!({"query": "a=1"})),
                "/_hmt/query",
                "invalid type: string",
            ),
            (
                json!([1, 2]),
                "",
                "expected a HAR entry object, found an array",
            ),
        ];
        for (entry, pointer, message) in cases {
            let Invalid {
                pointer: at,
                message: what,
            } = Exchange::from_har_entry(entry).expect_err(message);
            assert_eq!(at, pointer, "{what}");
            assert!(what.contains(message), "{what:?} should say {message:?}");
        }
    }

    fn document(entries: &[Value]) -> String {
        let entries: Vec<String> = entries.iter().map(Value::to_string).collect();
        format!(
            "{{\"log\": {{\"version\": \"1.2\", \"creator\": {{\"name\": \"t\", \"version\": \"1\"}}, \"entries\": [\n{}\n], \"comment\": \"\"}}}}\n",
            entries.join(",\n")
        )
    }

    fn read_all(text: impl Into<Vec<u8>>) -> (Vec<Result<Exchange, String>>, Vec<String>) {
        let mut reader = HarReader::new(io::Cursor::new(text.into()), "s.har");
        let items = reader
            .by_ref()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        (items, reader.warnings().to_vec())
    }

    #[test]
    fn a_bad_entry_is_skippable_and_the_next_ones_are_read() {
        let bad = entry(|e| e["request"]["url"] = json!("/relative"));
        let (items, warnings) = read_all(document(&[entry(|_| {}), bad, entry(|_| {})]));
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[2].is_ok());
        assert_eq!(
            items[1].as_ref().unwrap_err(),
            "s.har: at /log/entries/1/request/url: \"/relative\" is not an absolute URL"
        );
        assert!(warnings.is_empty());
        let mut reader = HarReader::new(
            io::Cursor::new(document(&[entry(|e| e["request"]["method"] = json!(1))])),
            "s.har",
        );
        let error = reader.next().unwrap().unwrap_err();
        assert!(error.is_invalid_line(), "{error}");
    }

    #[test]
    fn a_document_that_is_not_har_stops_with_where_and_what() {
        let good = entry(|_| {});
        let cases: Vec<(String, usize, &str)> = vec![
            (
                "not json".into(),
                0,
                "s.har: expected ident at line 1 column 2",
            ),
            (
                "[1]".into(),
                0,
                "s.har: invalid type: sequence, expected a HAR document",
            ),
            (
                "{\"other\": 1}".into(),
                0,
                "s.har: not a HAR document: the object has no `log` member",
            ),
            (
                "{\"log\": 5}".into(),
                0,
                "s.har: at /log: invalid type: integer `5`, expected the `log` object",
            ),
            (
                "{\"log\": {\"entries\": {}}}".into(),
                0,
                "s.har: at /log/entries: invalid type: map, expected an array of entries",
            ),
            (
                format!("{{\"log\": {{\"entries\": [{good}, {{\"request\": }}]}}}}"),
                1,
                "s.har: at /log/entries/1: expected value at line 1",
            ),
            (
                format!("{} trailing", document(std::slice::from_ref(&good))),
                1,
                "s.har: trailing characters at line 4",
            ),
            (
                "{\"log\": {\"version\": \"1.".into(),
                0,
                "s.har: at /log: EOF while parsing a string",
            ),
        ];
        for (text, read, message) in cases {
            let (items, _) = read_all(text.clone());
            assert_eq!(items.len(), read + 1, "{text}: {items:?}");
            assert!(items[..read].iter().all(Result::is_ok), "{text}");
            let error = items[read].as_ref().unwrap_err();
            assert!(
                error.starts_with(message),
                "{error:?} should start {message:?}"
            );
        }
        let mut reader = HarReader::new(io::Cursor::new("[]"), "s.har");
        assert!(!reader.next().unwrap().unwrap_err().is_invalid_line());
    }

    #[test]
    fn a_file_cut_short_yields_its_complete_entries_and_a_warning() {
        let whole = document(&[entry(|_| {}), entry(|_| {}), entry(|_| {})]);
        let second_ends = whole.match_indices("\"timings\"").nth(1).unwrap().0;
        // Cut inside the third entry, inside the second, right after the
        // array, and right after the header.
        let third = whole
            .find("},\n{")
            .map(|_| whole.rfind(",\n{").unwrap() + 10)
            .unwrap();
        let after_array = whole.rfind(']').unwrap() + 1;
        let header = whole.find('[').unwrap() + 1;
        for (cut, read, warning) in [
            (
                third,
                2,
                "s.har: the file ends inside /log/entries/2 (cut short, as by a crash); the 2 complete entries before it were read",
            ),
            (second_ends, 1, "s.har: the file ends inside /log/entries/1"),
            (
                after_array,
                3,
                "s.har: the file ends before the document does (cut short, as by a crash); all 3 entries were read",
            ),
            (header, 0, "s.har: the file ends inside /log/entries/0"),
        ] {
            let (items, warnings) = read_all(&whole.as_bytes()[..cut]);
            assert_eq!(items.len(), read, "cut at {cut}: {items:?}");
            assert!(items.iter().all(Result::is_ok));
            assert_eq!(warnings.len(), 1, "cut at {cut}");
            assert!(warnings[0].starts_with(warning), "{:?}", warnings[0]);
        }
        let (items, warnings) = read_all(whole.clone());
        assert_eq!((items.len(), warnings.len()), (3, 0));
    }

    #[test]
    fn dropping_the_reader_stops_its_thread() {
        let many: Vec<Value> = (0..(QUEUE * 8)).map(|_| entry(|_| {})).collect();
        let mut reader = HarReader::new(io::Cursor::new(document(&many)), "s.har");
        assert!(reader.next().unwrap().is_ok());
        drop(reader); // would hang a join, or leak a blocked thread, if not stopped
    }

    #[test]
    fn written_entries_read_back_equal_with_hmt_only_where_needed() {
        let plain = read(entry(|_| {}));
        let mut no_scheme_no_host = plain.clone();
        no_scheme_no_host.request.protocol = None;
        no_scheme_no_host.request.host = None;
        let mut odd_host = plain.clone();
        odd_host.request.host = Some("a b/c".into());
        let mut url_and_query = plain.clone();
        url_and_query.request.url = Some("/v1/pets?limit=2".into());
        url_and_query.request.query = Fields::parse_query("limit=3");
        let mut pseudo = plain.clone();
        pseudo.request.headers.append(":odd", "1");
        pseudo.request.headers = Fields::from_entries(
            pseudo
                .request
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .chain([("empty".to_owned(), Vec::new())]),
        );
        let mut binary = plain.clone();
        binary.request.body = Some(vec![0xff, 0, 1]);
        binary.response.as_mut().unwrap().body = Some(vec![0xfe]);
        let mut timestamps = plain.clone();
        timestamps.request.timestamp = Some("yesterday".into());
        timestamps.response.as_mut().unwrap().timestamp = Some("2024-05-01T10:00:00.050Z".into());
        let mut no_response = plain.clone();
        no_response.response = None;
        no_response.request.timestamp = None;
        let mut meta = plain.clone();
        meta.meta.insert("latencyMs".into(), json!(12));
        meta.meta
            .insert("redacted".into(), json!(["header:authorization"]));
        let mut options_star = plain.clone();
        options_star.request = Request::new(Method::Options, "*");
        let mut built = plain.clone();
        built.request.query_string = None;
        built.request.query = Fields::parse_query("a=1&b=2");
        let mut empty_bodies = plain.clone();
        empty_bodies.request.body = Some(Vec::new());
        empty_bodies.response.as_mut().unwrap().body = Some(Vec::new());

        for (name, exchange, hmt_keys) in [
            ("plain", &plain, vec![]),
            (
                "no scheme, no host",
                &no_scheme_no_host,
                vec!["protocol", "host"],
            ),
            ("a host no URL can hold", &odd_host, vec!["host"]),
            (
                "url recorded, query apart",
                &url_and_query,
                vec!["url", "query"],
            ),
            ("headers HAR readers drop", &pseudo, vec!["requestHeaders"]),
            ("binary bodies", &binary, vec![]),
            (
                "timestamps",
                &timestamps,
                vec!["requestTimestamp", "responseTimestamp"],
            ),
            ("no response", &no_response, vec!["requestTimestamp"]),
            ("meta", &meta, vec!["meta"]),
            (
                "OPTIONS *",
                &options_star,
                vec!["protocol", "host", "pathname", "requestTimestamp"],
            ),
            ("query without query string", &built, vec!["queryString"]),
            ("empty bodies", &empty_bodies, vec![]),
        ] {
            let text = exchange.to_har_entry();
            let value: Value = serde_json::from_str(&text).unwrap();
            let keys: Vec<&str> = value
                .get("_hmt")
                .and_then(Value::as_object)
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            assert_eq!(keys, hmt_keys, "{name}: {text}");
            assert_eq!(&read(value), exchange, "{name}: {text}");
            assert_eq!(exchange.to_har_entry(), text, "{name}: deterministic");
        }
        let text = binary.to_har_entry();
        assert!(
            text.contains(r#""postData":{"mimeType":"","text":"/wAB","_encoding":"base64"}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""text":"/g==","encoding":"base64""#),
            "{text}"
        );
        let text = meta.to_har_entry();
        assert!(
            text.contains(r#""time":12,"#) && text.contains(r#""wait":12,"#),
            "{text}"
        );
    }
}
