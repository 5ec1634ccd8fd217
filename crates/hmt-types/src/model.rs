//! The exchange model: one request and its response.

use crate::Fields;
use serde_json::{Map, Value};
use std::fmt;

/// An HTTP method, as http-types spells it (lower-case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `get`
    Get,
    /// `put`
    Put,
    /// `post`
    Post,
    /// `patch`
    Patch,
    /// `delete`
    Delete,
    /// `options`
    Options,
    /// `trace`
    Trace,
    /// `head`
    Head,
    /// `connect`
    Connect,
}

impl Method {
    /// Every method, in http-types' order.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Patch,
        Method::Delete,
        Method::Options,
        Method::Trace,
        Method::Head,
        Method::Connect,
    ];

    /// The lower-case name, as written in http-types and OpenAPI path items.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Options => "options",
            Method::Trace => "trace",
            Method::Head => "head",
            Method::Connect => "connect",
        }
    }

    /// Parses a method name in any case.
    ///
    /// ```
    /// use hmt_types::Method;
    /// assert_eq!(Method::parse("POST"), Some(Method::Post));
    /// assert_eq!(Method::parse("fetch"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scheme a request was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// Plain `http`.
    Http,
    /// TLS-encrypted `https`.
    Https,
}

impl Protocol {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }

    /// Parses `http` or `https` in any case.
    pub fn parse(name: &str) -> Option<Protocol> {
        if name.eq_ignore_ascii_case("http") {
            Some(Protocol::Http)
        } else if name.eq_ignore_ascii_case("https") {
            Some(Protocol::Https)
        } else {
            None
        }
    }
}

/// An HTTP request as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// `http` or `https`, when known.
    pub protocol: Option<Protocol>,
    /// Host name and optional port, `api.example.com:8443`.
    pub host: Option<String>,
    /// The whole URL as the client sent it, when recorded.
    pub url: Option<String>,
    /// The path without its query, `/users/42`. Always present.
    pub pathname: String,
    /// The query string as recorded, without the `?`; `None` when the
    /// recording carried only a parsed `query` object.
    pub query_string: Option<String>,
    /// Query parameters, decoded.
    pub query: Fields,
    /// Request headers.
    pub headers: Fields,
    /// The body bytes, when there was a body field.
    pub body: Option<Vec<u8>>,
    /// When the request started, ISO 8601.
    pub timestamp: Option<String>,
}

impl Request {
    /// A request with only a method and a path (which may carry a query).
    ///
    /// ```
    /// use hmt_types::{Method, Request};
    /// let r = Request::new(Method::Get, "/search?q=rust");
    /// assert_eq!(r.pathname, "/search");
    /// assert_eq!(r.query.get("q"), Some("rust"));
    /// ```
    pub fn new(method: Method, path: &str) -> Request {
        let (pathname, query_string) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (path, None),
        };
        Request {
            method,
            protocol: None,
            host: None,
            url: None,
            pathname: pathname.to_owned(),
            query: query_string
                .as_deref()
                .map(Fields::parse_query)
                .unwrap_or_default(),
            query_string,
            headers: Fields::default(),
            body: None,
            timestamp: None,
        }
    }

    /// Path and query as sent on the request line, `/users?page=2`.
    pub fn path(&self) -> String {
        match &self.query_string {
            Some(q) => format!("{}?{}", self.pathname, q),
            None if !self.query.is_empty() => {
                format!("{}?{}", self.pathname, encode_query(&self.query))
            }
            None => self.pathname.clone(),
        }
    }

    /// The body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        self.body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// An HTTP response as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Fields,
    /// The body bytes, when there was a body field.
    pub body: Option<Vec<u8>>,
    /// When the response completed, ISO 8601.
    pub timestamp: Option<String>,
}

impl Response {
    /// A response with a status and nothing else.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Fields::default(),
            body: None,
            timestamp: None,
        }
    }

    /// The body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        self.body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// One request and, when it got one, its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The request.
    pub request: Request,
    /// The response; http-types allows an exchange without one.
    pub response: Option<Response>,
    /// Free-form metadata, in recorded key order. hmt's own keys are
    /// described in the README; the body-encoding markers are not kept
    /// here but applied to the bodies on read and re-created on write.
    pub meta: Map<String, Value>,
}

/// How a body is carried in the `body` string of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    /// UTF-8 text, as is.
    Text,
    /// Bytes that are not UTF-8, base64-encoded (standard alphabet, padded),
    /// marked in `meta`.
    Base64,
}

impl BodyEncoding {
    /// The `meta` key marking an encoded request body.
    pub const REQUEST_META_KEY: &'static str = "requestBodyEncoding";
    /// The `meta` key marking an encoded response body.
    pub const RESPONSE_META_KEY: &'static str = "responseBodyEncoding";
    /// The marker's value for base64.
    pub const BASE64: &'static str = "base64";

    /// The encoding a body needs to be written.
    pub fn for_body(body: &[u8]) -> BodyEncoding {
        if std::str::from_utf8(body).is_ok() {
            BodyEncoding::Text
        } else {
            BodyEncoding::Base64
        }
    }
}

/// The usual reason phrase of a status code (`404` → `Not Found`), for the
/// codes that have one.
///
/// ```
/// assert_eq!(hmt_types::reason_phrase(201), Some("Created"));
/// assert_eq!(hmt_types::reason_phrase(299), None);
/// ```
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        425 => "Too Early",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// Percent-encodes query fields as `application/x-www-form-urlencoded`.
pub(crate) fn encode_query(query: &Fields) -> String {
    let mut out = String::new();
    for (name, values) in query.iter() {
        for value in values {
            if !out.is_empty() {
                out.push('&');
            }
            encode_component(name, &mut out);
            out.push('=');
            encode_component(value, &mut out);
        }
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    // Form encoding: a space is `+`, so a literal `+` must be escaped.
    out.push_str(&crate::percent_encode(s, b" ").replace(' ', "+"));
}
