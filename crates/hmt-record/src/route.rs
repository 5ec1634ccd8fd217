//! Where a request goes: from what the client sent to the upstream URL.
//!
//! The proxy accepts four shapes of request on one listener, tried in this
//! order (CONNECT is handled before routing, by the proxy):
//!
//! 1. **Intercepted TLS.** Inside a `CONNECT host:port` tunnel the proxy
//!    terminated, every request goes to `https://host:port` + its path.
//! 2. **Forward proxy.** An HTTP/1 request in absolute form
//!    (`GET http://host/path`, what clients send with `HTTP_PROXY`) goes to
//!    that URL. HTTP/2 has no absolute form — every request carries
//!    `:scheme` and `:authority` — so there an authority that does not name
//!    this proxy (see `names_this_proxy`) counts as a forward-proxy
//!    request, except under header routing, where the authority already is
//!    the target.
//! 3. **The configured [`Routing`]**: the upstream URL in the path, in the
//!    `Host` header, or one fixed target.
//!
//! A target that is the proxy's own address is refused when the proxy
//! connects (`destination.rs`), by the addresses the host resolves to,
//! since one socket has countless spellings.

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Uri, Version};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// How requests that are not proxy requests (no CONNECT, no absolute-form
/// URI) find their upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    /// The upstream URL is the path: `/https://api.example.com/users?x=1`.
    Path,
    /// The upstream host is the `Host` header; the scheme is the
    /// `x-hmt-scheme` header (`http` when absent).
    Header,
    /// Every request goes to this base URL (`scheme://host[:port][/base]`)
    /// with the request path appended.
    Target(Uri),
}

/// The header that carries the upstream scheme under [`Routing::Header`].
/// It is never forwarded.
pub const SCHEME_HEADER: &str = "x-hmt-scheme";

/// An upstream URL, split the way the proxy needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// `true` for https.
    pub https: bool,
    /// Lower-case host; IPv6 addresses keep their brackets.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

impl Target {
    pub(crate) fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// `host[:port]`, the port omitted when it is the scheme's default.
    pub(crate) fn authority(&self) -> String {
        if self.port == default_port(self.https) {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The full upstream URL.
    pub(crate) fn url(&self) -> String {
        self.url_with(&self.authority())
    }

    /// The full upstream URL, given [`Target::authority`].
    pub(crate) fn url_with(&self, authority: &str) -> String {
        let scheme = self.scheme();
        let mut url =
            String::with_capacity(scheme.len() + 3 + authority.len() + self.path_and_query.len());
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(authority);
        url.push_str(&self.path_and_query);
        url
    }

    /// The full upstream URL as a [`Uri`].
    pub(crate) fn uri(&self) -> Result<Uri, RouteError> {
        Uri::try_from(self.url()).map_err(|e| RouteError(format!("bad upstream URL: {e}")))
    }
}

/// Why a request could not be routed; the message says how to route it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteError(pub String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the routing needs to know about the connection a request came on.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    /// The address the client connected to (this proxy).
    pub local_addr: SocketAddr,
    /// `host:port` of the CONNECT whose TLS the proxy terminated, when the
    /// request arrived inside one.
    pub intercepted: Option<(String, u16)>,
}

/// The upstream target of a (non-CONNECT) request.
pub(crate) fn resolve(
    routing: &Routing,
    origin: &Origin,
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Target, RouteError> {
    let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let target = if let Some((host, port)) = &origin.intercepted {
        Target {
            https: true,
            host: host.clone(),
            port: *port,
            path_and_query: origin_form(path_and_query),
        }
    } else if let Some(target) = forward_proxy_target(routing, origin, version, uri)? {
        target
    } else {
        match routing {
            Routing::Path => from_path(path_and_query)?,
            Routing::Header => from_host_header(uri, headers)?,
            Routing::Target(base) => from_base(base, path_and_query)?,
        }
    };
    Ok(target)
}

/// The target of an absolute-form request, when this is one.
fn forward_proxy_target(
    routing: &Routing,
    origin: &Origin,
    version: Version,
    uri: &Uri,
) -> Result<Option<Target>, RouteError> {
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Ok(None);
    };
    let https = scheme_is_https(scheme.as_str())?;
    let (host, port) = split_authority(authority, https);
    if version == Version::HTTP_2 {
        // Every h2 request looks absolute; see the module docs.
        let path_names_url = matches!(routing, Routing::Path)
            && strip_scheme(uri.path().trim_start_matches('/')).is_some();
        if matches!(routing, Routing::Header)
            || path_names_url
            || names_this_proxy(&host, port, origin.local_addr)
        {
            return Ok(None);
        }
    }
    let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    Ok(Some(Target {
        https,
        host,
        port,
        path_and_query: origin_form(path_and_query),
    }))
}

/// `/https://api.example.com/users?x=1` → `https://api.example.com/users?x=1`.
fn from_path(path_and_query: &str) -> Result<Target, RouteError> {
    let rest = path_and_query.trim_start_matches('/');
    let Some((https, rest)) = strip_scheme(rest) else {
        return Err(RouteError(format!(
            "cannot route {path_and_query:?}: {}",
            how_to_route(&Routing::Path)
        )));
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = Authority::try_from(authority).map_err(|e| {
        RouteError(format!(
            "cannot route {path_and_query:?}: bad host {authority:?} ({e})"
        ))
    })?;
    let (host, port) = split_authority(&authority, https);
    Ok(Target {
        https,
        host,
        port,
        path_and_query: origin_form(path),
    })
}

/// The host from `Host` (or HTTP/2's `:authority`), the scheme from
/// `x-hmt-scheme`.
fn from_host_header(uri: &Uri, headers: &HeaderMap) -> Result<Target, RouteError> {
    let https = match headers.get(SCHEME_HEADER) {
        None => false,
        Some(v) => scheme_is_https(v.to_str().unwrap_or_default())?,
    };
    let authority = match headers.get(http::header::HOST) {
        Some(host) => Authority::try_from(host.as_bytes()).map_err(|e| {
            RouteError(format!(
                "bad Host header {:?} ({e}); {}",
                String::from_utf8_lossy(host.as_bytes()),
                how_to_route(&Routing::Header)
            ))
        })?,
        None => uri.authority().cloned().ok_or_else(|| {
            RouteError(format!(
                "no Host header; {}",
                how_to_route(&Routing::Header)
            ))
        })?,
    };
    let (host, port) = split_authority(&authority, https);
    Ok(Target {
        https,
        host,
        port,
        path_and_query: origin_form(uri.path_and_query().map_or("/", PathAndQuery::as_str)),
    })
}

/// `base + request path`, joined with exactly one slash.
fn from_base(base: &Uri, path_and_query: &str) -> Result<Target, RouteError> {
    let https = scheme_is_https(base.scheme().map_or("", Scheme::as_str))?;
    let authority = base
        .authority()
        .ok_or_else(|| RouteError(format!("target {base} has no host")))?;
    let (host, port) = split_authority(authority, https);
    let prefix = base.path().trim_end_matches('/');
    let request = origin_form(path_and_query);
    Ok(Target {
        https,
        host,
        port,
        path_and_query: format!("{prefix}{request}"),
    })
}

/// Checks a routing target given in configuration.
pub(crate) fn check_base(base: &Uri) -> Result<(), String> {
    match base.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        _ => return Err(format!("target {base} must start with http:// or https://")),
    }
    if base.authority().is_none() {
        return Err(format!("target {base} has no host"));
    }
    if base.query().is_some() {
        return Err(format!("target {base} must not have a query"));
    }
    Ok(())
}

/// Whether `host:port`, as a client wrote it, probably names this proxy:
/// the same port and either a name (which may well resolve here) or the
/// address the connection arrived on.
pub(crate) fn names_this_proxy(host: &str, port: u16, local: SocketAddr) -> bool {
    port == local.port()
        && match parse_ip(host) {
            None => true,
            Some(ip) => same_ip(ip, local.ip()),
        }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.is_unspecified() || (a.is_loopback() && b.is_loopback())
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// `https://rest` → `(true, "rest")`; also accepts one slash, which some
/// clients and servers collapse `//` in paths to.
fn strip_scheme(s: &str) -> Option<(bool, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return None;
    };
    let rest = rest.strip_prefix("//").or_else(|| rest.strip_prefix('/'))?;
    Some((https, rest))
}

fn scheme_is_https(scheme: &str) -> Result<bool, RouteError> {
    if scheme.eq_ignore_ascii_case("https") {
        Ok(true)
    } else if scheme.eq_ignore_ascii_case("http") {
        Ok(false)
    } else {
        Err(RouteError(format!(
            "unsupported scheme {scheme:?}; use http or https"
        )))
    }
}

/// Lower-case host and effective port.
fn split_authority(authority: &Authority, https: bool) -> (String, u16) {
    (
        authority.host().to_ascii_lowercase(),
        authority.port_u16().unwrap_or(default_port(https)),
    )
}

pub(crate) fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

/// A path that starts with `/` (an empty one, or `?q` alone, gets one).
fn origin_form(path_and_query: &str) -> String {
    if path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else if path_and_query == "*" {
        "*".to_owned()
    } else {
        format!("/{path_and_query}")
    }
}

fn how_to_route(routing: &Routing) -> String {
    match routing {
        Routing::Path => "with path routing, put the upstream URL in the path, \
             e.g. /https://api.example.com/users, or use this address as an HTTP(S) proxy"
            .to_owned(),
        Routing::Header => format!(
            "with header routing, set Host to the upstream host[:port] and \
             {SCHEME_HEADER}: https for TLS upstreams, or use this address as an HTTP(S) proxy"
        ),
        Routing::Target(base) => format!(
            "with target routing every request goes to {base}; \
             send requests with a path, or use this address as an HTTP(S) proxy"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            local_addr: "127.0.0.1:8080".parse().unwrap(),
            intercepted: None,
        }
    }

    fn route(routing: &Routing, version: Version, uri: &str, headers: &[(&str, &str)]) -> String {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match resolve(routing, &origin(), version, &uri.parse().unwrap(), &map) {
            Ok(t) => t.url(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn path_routing_takes_the_url_from_the_path() {
        let h1 = Version::HTTP_11;
        assert_eq!(
            route(
                &Routing::Path,
                h1,
                "/https://api.example.com/users?x=1",
                &[]
            ),
            "https://api.example.com/users?x=1"
        );
        assert_eq!(
            route(&Routing::Path, h1, "/http://Api.Example.com:80", &[]),
            "http://api.example.com/"
        );
        assert_eq!(
            route(&Routing::Path, h1, "/https:/h:8443/a?b", &[]),
            "https://h:8443/a?b"
        );
        assert!(route(&Routing::Path, h1, "/api.example.com/users", &[]).starts_with("error"));
        assert!(route(&Routing::Path, h1, "/ftp://x/", &[]).starts_with("error"));
    }

    #[test]
    fn header_routing_uses_host_and_scheme_header() {
        let r = Routing::Header;
        let h1 = Version::HTTP_11;
        assert_eq!(
            route(&r, h1, "/a?b=1", &[("host", "api.example.com")]),
            "http://api.example.com/a?b=1"
        );
        assert_eq!(
            route(
                &r,
                h1,
                "/a",
                &[("host", "api.example.com:8443"), ("X-HMT-Scheme", "HTTPS")]
            ),
            "https://api.example.com:8443/a"
        );
        assert!(
            route(&r, h1, "/a", &[("host", "h"), ("x-hmt-scheme", "ftp")]).starts_with("error")
        );
    }

    #[test]
    fn target_routing_joins_paths() {
        let r = Routing::Target("https://api.example.com/v1/".parse().unwrap());
        assert_eq!(
            route(&r, Version::HTTP_11, "/users?x=1", &[]),
            "https://api.example.com/v1/users?x=1"
        );
        let r = Routing::Target("http://h:81".parse().unwrap());
        assert_eq!(route(&r, Version::HTTP_11, "/", &[]), "http://h:81/");
    }

    #[test]
    fn absolute_form_is_a_forward_proxy_request() {
        let r = Routing::Target("http://h:81".parse().unwrap());
        assert_eq!(
            route(&r, Version::HTTP_11, "http://other:9/p?q", &[]),
            "http://other:9/p?q"
        );
        // h2: a foreign authority is a proxy request, our own is not.
        assert_eq!(
            route(&r, Version::HTTP_2, "http://other:9/p", &[]),
            "http://other:9/p"
        );
        assert_eq!(
            route(&r, Version::HTTP_2, "http://proxy.local:8080/p", &[]),
            "http://h:81/p"
        );
        assert_eq!(
            route(
                &Routing::Path,
                Version::HTTP_2,
                "http://any:1/https://api.example.com/x",
                &[]
            ),
            "https://api.example.com/x"
        );
    }

    #[test]
    fn intercepted_requests_go_to_the_connect_target() {
        let o = Origin {
            intercepted: Some(("api.example.com".into(), 443)),
            ..origin()
        };
        let t = resolve(
            &Routing::Path,
            &o,
            Version::HTTP_2,
            &"https://api.example.com/x?y".parse().unwrap(),
            &HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(t.url(), "https://api.example.com/x?y");
    }
}
