//! Hop-by-hop headers: the ones that describe one connection, not the
//! message, and so are never forwarded (RFC 9110 §7.6.1).

use crate::framing::frames_the_message;
use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

/// Headers that are always hop-by-hop, besides those `Connection` names.
const ALWAYS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// [`ALWAYS`] as header names, made at compile time.
const ALWAYS_NAMES: [HeaderName; 9] = [
    HeaderName::from_static(ALWAYS[0]),
    HeaderName::from_static(ALWAYS[1]),
    HeaderName::from_static(ALWAYS[2]),
    HeaderName::from_static(ALWAYS[3]),
    HeaderName::from_static(ALWAYS[4]),
    HeaderName::from_static(ALWAYS[5]),
    HeaderName::from_static(ALWAYS[6]),
    HeaderName::from_static(ALWAYS[7]),
    HeaderName::from_static(ALWAYS[8]),
];

/// Whether a field named `name` (any case) is always hop-by-hop.
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    ALWAYS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Removes every hop-by-hop header from `headers`. `Connection` can name
/// any field as hop-by-hop except those that frame the message
/// ([`frames_the_message`]).
///
/// `TE: trailers` on a request is the exception that is kept: it says the
/// client accepts trailers, which gRPC needs end to end, and it is the one
/// `TE` value HTTP/2 allows.
pub(crate) fn strip(headers: &mut HeaderMap) {
    let te_trailers = headers
        .get_all(header::TE)
        .iter()
        .flat_map(|v| tokens(v.as_bytes()))
        .any(|t| t.eq_ignore_ascii_case(b"trailers"));
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| tokens(v.as_bytes()))
        .filter(|t| !frames_the_message(t))
        .filter_map(|t| HeaderName::from_bytes(t).ok())
        .collect();
    for name in ALWAYS_NAMES.iter().chain(&listed) {
        headers.remove(name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// The comma-separated tokens of one field value, without parameters.
pub(crate) fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| {
            t.split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii()
        })
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_fixed_and_listed_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Private, Content-Length, host"),
            ("content-length", "5"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "h2c"),
            ("te", "gzip, trailers;q=1"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip(&mut h);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["set-cookie", "content-length", "te"]);
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
        assert_eq!(h["te"], "trailers");
    }
}
