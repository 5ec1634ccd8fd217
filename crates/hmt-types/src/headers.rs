//! Headers that say nothing about an API: hop-by-hop headers (RFC 9110
//! §7.6.1), transport details that change on every request, proxy and CDN
//! headers, tracing ids, and the ones OpenAPI describes elsewhere (media
//! types, security). `hmt build` never documents them as parameters or
//! response headers nor matches replayed requests on them, and
//! `hmt build --check` does not expect a spec to declare them: one list,
//! so that a spec built from traffic never drifts from that traffic.

/// The headers, lower-case. Compare ignoring case.
pub const IGNORED_HEADERS: &[&str] = &[
    // hop-by-hop (RFC 9110 §7.6.1)
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    // transport and caching details that vary per request
    "accept-encoding",
    "age",
    "content-encoding",
    "content-length",
    "date",
    "host",
    "user-agent",
    "via",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-real-ip",
    "cdn-loop",
    "cf-connecting-ip",
    "cf-ray",
    "cf-cache-status",
    "x-cache",
    "x-cache-hits",
    "x-served-by",
    "x-timer",
    // tracing and correlation ids
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-correlation-id",
    "x-session-id",
    "request-id",
    "x-amzn-trace-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-cloud-trace-context",
    // described elsewhere in OpenAPI: media types and security schemes
    "accept",
    "content-type",
    "authorization",
    "cookie",
    "set-cookie",
    // conditional request validators: a replay must not depend on them
    "if-none-match",
    "if-modified-since",
];
