//! Which request headers a spec is expected to declare.
//!
//! Clients send many headers no API description declares: content
//! negotiation, caching, browsers' fetch metadata and client hints, proxy
//! and tracing headers, credentials. Reporting them as undocumented would
//! bury real drift, so a request header is expected to be declared as a
//! header parameter only when it is none of:
//!
//! - the headers `hmt build` never documents ([`IGNORED_HEADERS`]:
//!   hop-by-hop, transport, proxy and CDN, tracing ids, `Accept`,
//!   `Content-Type`, `Authorization`, `Cookie`, `If-None-Match`, ...), so a
//!   spec built from traffic never drifts from that traffic;
//! - credentials (`Authorization`, `Cookie`, API-key headers such as
//!   `X-API-Key`, [`is_secret_header`]): security schemes describe them,
//!   and the drift gate does not check security;
//! - the standard request headers below (RFC 9110 and 9111, CORS and the
//!   Fetch standard), and any `Sec-*` (fetch metadata, client hints) or
//!   `X-Forwarded-*` header.
//!
//! A header the operation declares is always fine, whatever its name.

use hmt_types::headers::IGNORED_HEADERS;
use hmt_types::secrets::is_secret_header;

/// Standard request headers beyond [`IGNORED_HEADERS`], lower-case.
pub const STANDARD_REQUEST_HEADERS: &[&str] = &[
    // content negotiation and caching (RFC 9110, 9111)
    "accept-charset",
    "accept-language",
    "cache-control",
    "pragma",
    "expect",
    "from",
    "max-forwards",
    "range",
    "if-match",
    "if-unmodified-since",
    "if-range",
    "content-language",
    "priority",
    // CORS and browsers
    "origin",
    "referer",
    "dnt",
    "upgrade-insecure-requests",
    "access-control-request-method",
    "access-control-request-headers",
    "x-requested-with",
    "save-data",
    "purpose",
    "early-data",
];

/// Prefixes of header families no spec declares.
const STANDARD_PREFIXES: &[&str] = &["sec-", "x-forwarded-"];

/// Whether a request header (any case) must be declared by the operation
/// to count as documented.
pub fn needs_declaring(name: &str) -> bool {
    let listed = |list: &[&str]| list.iter().any(|h| h.eq_ignore_ascii_case(name));
    !(listed(IGNORED_HEADERS)
        || listed(STANDARD_REQUEST_HEADERS)
        || is_secret_header(name)
        || STANDARD_PREFIXES.iter().any(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_headers_and_credentials_need_no_declaring() {
        for name in [
            "Accept",
            "User-Agent",
            "Accept-Language",
            "Cache-Control",
            "Content-Type",
            "Authorization",
            "X-API-Key",
            "Cookie",
            "Sec-Fetch-Mode",
            "sec-ch-ua",
            "X-Forwarded-Server",
            "traceparent",
            "Origin",
            "Referer",
        ] {
            assert!(!needs_declaring(name), "{name}");
        }
        for name in ["X-Tenant", "Idempotency-Key", "X-Client-Version", "Prefer"] {
            assert!(needs_declaring(name), "{name}");
        }
    }
}
