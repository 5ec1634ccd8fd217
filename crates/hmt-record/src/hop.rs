//! Hop-by-hop headers: the ones that describe one connection, not the
//! message, and so are never forwarded (RFC 9110 §7.6.1).

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

/// Headers that are always hop-by-hop, besides those `Connection` names.
const ALWAYS: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes every hop-by-hop header from `headers`.
///
/// `TE: trailers` on a request is the exception that is kept: it says the
/// client accepts trailers, which gRPC needs end to end, and it is the one
/// `TE` value HTTP/2 allows.
pub(crate) fn strip(headers: &mut HeaderMap) {
    let te_trailers = headers
        .get_all(header::TE)
        .iter()
        .flat_map(tokens)
        .any(|t| t.eq_ignore_ascii_case("trailers"));
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(tokens)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in ALWAYS.iter().chain(&listed) {
        headers.remove(name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// The comma-separated tokens of one header value, without parameters.
fn tokens(value: &HeaderValue) -> impl Iterator<Item = String> + '_ {
    value
        .to_str()
        .unwrap_or_default()
        .split(',')
        .filter_map(|t| {
            let t = t.split(';').next().unwrap_or_default().trim();
            (!t.is_empty()).then(|| t.to_ascii_lowercase())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_fixed_and_listed_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Private"),
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
        assert_eq!(names, ["set-cookie", "te"]);
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
        assert_eq!(h["te"], "trailers");
    }
}
