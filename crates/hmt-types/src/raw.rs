//! The wire shape of a line, in and out, and its conversion to the model.
//!
//! Input structs accept every variant real recordings use; output structs
//! fix the canonical key order. Keeping both here means the JSON shape is
//! described in one place.

use crate::Fields;
use crate::model::{BodyEncoding, Exchange, Method, Protocol, Request, Response, encode_query};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an exchange object")]
pub(crate) struct RawExchange {
    #[serde(alias = "req")]
    request: RawRequest,
    #[serde(alias = "res", default)]
    response: Option<RawResponse>,
    #[serde(default)]
    meta: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a request object")]
struct RawRequest {
    method: Method,
    #[serde(default)]
    protocol: Option<Protocol>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    pathname: Option<String>,
    #[serde(default)]
    query: Option<Fields>,
    #[serde(default)]
    headers: Option<Fields>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "bodyAsJson")]
    body_as_json: Option<Value>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a response object")]
struct RawResponse {
    #[serde(rename = "statusCode", deserialize_with = "status_code")]
    status_code: u16,
    #[serde(default)]
    headers: Option<Fields>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "bodyAsJson")]
    body_as_json: Option<Value>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// A problem found after the JSON itself parsed: where (a JSON pointer) and what.
pub(crate) struct Invalid {
    pub pointer: &'static str,
    pub message: String,
}

impl RawExchange {
    pub(crate) fn into_exchange(self) -> Result<Exchange, Invalid> {
        let mut meta = self.meta.unwrap_or_default();
        let request_encoding = take_encoding(&mut meta, BodyEncoding::REQUEST_META_KEY)?;
        let response_encoding = take_encoding(&mut meta, BodyEncoding::RESPONSE_META_KEY)?;
        let request = self.request.into_request(request_encoding)?;
        let response = self
            .response
            .map(|r| r.into_response(response_encoding))
            .transpose()?;
        Ok(Exchange {
            request,
            response,
            meta,
        })
    }
}

fn take_encoding(meta: &mut Map<String, Value>, key: &'static str) -> Result<bool, Invalid> {
    match meta.remove(key) {
        None => Ok(false),
        Some(Value::String(s)) if s == BodyEncoding::BASE64 => Ok(true),
        Some(Value::String(s)) if s == "text" || s == "utf-8" => Ok(false),
        Some(other) => Err(Invalid {
            pointer: if key == BodyEncoding::REQUEST_META_KEY {
                "/meta/requestBodyEncoding"
            } else {
                "/meta/responseBodyEncoding"
            },
            message: format!("unknown body encoding {other}, expected \"base64\""),
        }),
    }
}

fn decode_body(
    body: Option<String>,
    as_json: Option<Value>,
    base64: bool,
    pointer: &'static str,
) -> Result<Option<Vec<u8>>, Invalid> {
    match (body, as_json) {
        (Some(body), _) if base64 => {
            BASE64
                .decode(body.as_bytes())
                .map(Some)
                .map_err(|e| Invalid {
                    pointer,
                    message: format!("body is marked base64 in meta but does not decode: {e}"),
                })
        }
        (Some(body), _) => Ok(Some(body.into_bytes())),
        (None, Some(json)) => Ok(Some(json.to_string().into_bytes())),
        (None, None) => Ok(None),
    }
}

impl RawRequest {
    fn into_request(self, base64_body: bool) -> Result<Request, Invalid> {
        let url_parts = self.url.as_deref().map(split_url);
        let (pathname, query_string) = match (self.pathname, self.path) {
            (Some(pathname), path) => {
                let qs = path.and_then(|p| p.split_once('?').map(|(_, q)| q.to_owned()));
                (pathname, qs)
            }
            (None, Some(path)) => match path.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (path, None),
            },
            (None, None) => match &url_parts {
                Some(parts) => (parts.pathname.to_owned(), parts.query.map(str::to_owned)),
                None => {
                    return Err(Invalid {
                        pointer: "/request",
                        message: "request has none of path, pathname or url".into(),
                    });
                }
            },
        };
        if !pathname.starts_with('/') && pathname != "*" {
            return Err(Invalid {
                pointer: "/request/pathname",
                message: format!("path {pathname:?} does not start with '/'"),
            });
        }
        let query = match self.query {
            Some(q) => q,
            None => query_string
                .as_deref()
                .map(Fields::parse_query)
                .unwrap_or_default(),
        };
        // A recording with only a `query` object gets its query string
        // rebuilt, so that the model always holds what the request line was.
        let query_string = match query_string {
            None if !query.is_empty() => Some(encode_query(&query)),
            qs => qs,
        };
        let headers = self.headers.unwrap_or_default();
        let host = self
            .host
            .or_else(|| url_parts.as_ref().and_then(|p| p.host).map(str::to_owned))
            .or_else(|| headers.get_ignore_case("host").map(str::to_owned));
        let protocol = self
            .protocol
            .or_else(|| url_parts.as_ref().and_then(|p| p.protocol));
        Ok(Request {
            method: self.method,
            protocol,
            host,
            url: self.url,
            pathname,
            query_string,
            query,
            headers,
            body: decode_body(self.body, self.body_as_json, base64_body, "/request/body")?,
            timestamp: self.timestamp,
        })
    }
}

impl RawResponse {
    fn into_response(self, base64_body: bool) -> Result<Response, Invalid> {
        Ok(Response {
            status: self.status_code,
            headers: self.headers.unwrap_or_default(),
            body: decode_body(self.body, self.body_as_json, base64_body, "/response/body")?,
            timestamp: self.timestamp,
        })
    }
}

pub(crate) struct UrlParts<'a> {
    pub(crate) protocol: Option<Protocol>,
    pub(crate) host: Option<&'a str>,
    pub(crate) pathname: &'a str,
    pub(crate) query: Option<&'a str>,
}

/// Splits `scheme://host/path?query#fragment`, or an origin-form `/path?query`.
pub(crate) fn split_url(url: &str) -> UrlParts<'_> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (protocol, host, rest) = match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            (Protocol::parse(scheme), Some(&rest[..end]), &rest[end..])
        }
        None => (None, None, url),
    };
    let (pathname, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    UrlParts {
        protocol,
        host,
        pathname: if pathname.is_empty() { "/" } else { pathname },
        query,
    }
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    /// `code` when it is a status code, else the error naming `n`.
    fn checked<E: de::Error>(n: impl fmt::Display, code: Option<u16>) -> Result<u16, E> {
        code.filter(|c| (100..=999).contains(c)).ok_or_else(|| {
            E::custom(format!(
                "status code {n} is not a whole number from 100 to 999"
            ))
        })
    }
    struct StatusVisitor;
    impl Visitor<'_> for StatusVisitor {
        type Value = u16;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a status code, a whole number from 100 to 999")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u16, E> {
            checked(n, u16::try_from(n).ok())
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<u16, E> {
            checked(n, u16::try_from(n).ok())
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<u16, E> {
            let whole = n.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&n);
            checked(n, whole.then_some(n as u16))
        }
    }
    d.deserialize_any(StatusVisitor)
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        struct MethodVisitor;
        impl Visitor<'_> for MethodVisitor {
            type Value = Method;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP method name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Method, E> {
                Method::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown method {v:?}, expected one of get, put, post, patch, delete, options, trace, head, connect"
                    ))
                })
            }
        }
        d.deserialize_str(MethodVisitor)
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Protocol, D::Error> {
        struct ProtocolVisitor;
        impl Visitor<'_> for ProtocolVisitor {
            type Value = Protocol;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"http\" or \"https\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Protocol, E> {
                Protocol::parse(v).ok_or_else(|| {
                    E::custom(format!("unknown protocol {v:?}, expected http or https"))
                })
            }
        }
        d.deserialize_str(ProtocolVisitor)
    }
}

/// Values of one field: a string or an array of strings.
struct FieldValues(Vec<String>);

impl<'de> Deserialize<'de> for FieldValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FieldValues, D::Error> {
        struct ValuesVisitor;
        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = FieldValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValues, E> {
                Ok(FieldValues(vec![v.to_owned()]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldValues, E> {
                Ok(FieldValues(vec![v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValues, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(v) = seq.next_element::<String>()? {
                    values.push(v);
                }
                Ok(FieldValues(values))
            }
        }
        d.deserialize_any(ValuesVisitor)
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings or arrays of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, FieldValues(values))) =
                    map.next_entry::<String, FieldValues>()?
                {
                    entries.push((name, values));
                }
                Ok(Fields::from_entries(entries))
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (name, values) in self.iter() {
            match values {
                [one] => map.serialize_entry(name, one)?,
                many => map.serialize_entry(name, many)?,
            }
        }
        map.end()
    }
}

/// The canonical line: request, response, meta, each in a fixed key order.
#[derive(Serialize)]
pub(crate) struct OutExchange<'a> {
    request: OutRequest<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<OutResponse<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    meta: Map<String, Value>,
}

#[derive(Serialize)]
struct OutRequest<'a> {
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    path: String,
    #[serde(skip_serializing_if = "Fields::is_empty")]
    query: &'a Fields,
    #[serde(skip_serializing_if = "Fields::is_empty")]
    headers: &'a Fields,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
}

#[derive(Serialize)]
struct OutResponse<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    #[serde(skip_serializing_if = "Fields::is_empty")]
    headers: &'a Fields,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
}

/// The body as a JSON string and whether it had to be base64-encoded.
fn encode_body(body: Option<&[u8]>) -> (Option<String>, bool) {
    match body {
        None => (None, false),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (Some(BASE64.encode(bytes)), true),
        },
    }
}

impl<'a> OutExchange<'a> {
    pub(crate) fn new(exchange: &'a Exchange) -> OutExchange<'a> {
        let r = &exchange.request;
        let (request_body, request_base64) = encode_body(r.body.as_deref());
        let mut meta = exchange.meta.clone();
        if request_base64 {
            meta.insert(
                BodyEncoding::REQUEST_META_KEY.into(),
                BodyEncoding::BASE64.into(),
            );
        }
        let response = exchange.response.as_ref().map(|res| {
            let (body, base64) = encode_body(res.body.as_deref());
            if base64 {
                meta.insert(
                    BodyEncoding::RESPONSE_META_KEY.into(),
                    BodyEncoding::BASE64.into(),
                );
            }
            OutResponse {
                status_code: res.status,
                headers: &res.headers,
                body,
                timestamp: res.timestamp.as_deref(),
            }
        });
        OutExchange {
            request: OutRequest {
                method: r.method.as_str(),
                protocol: r.protocol.map(Protocol::as_str),
                host: r.host.as_deref(),
                url: r.url.as_deref(),
                path: r.path(),
                query: &r.query,
                headers: &r.headers,
                body: request_body,
                timestamp: r.timestamp.as_deref(),
            },
            response,
            meta,
        }
    }
}
