//! Who may call, and what the mock answers on an API's behalf before any
//! operation is involved: the credentials an operation's `security` asks
//! for (401 with a challenge when they are missing), the endpoints of an
//! OAuth2 authorization-code flow (the mock plays the authorization
//! server), and CORS.
//!
//! Credentials are checked for presence and form, not value: a mock has no
//! accounts, and a test wants to know its client sends them.

use crate::model::{Location, SecurityScheme};
use crate::server::{Body, Loaded, cookie_value, json_response, parse_query, problem};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::json;

/// Whether any security alternative is satisfied by what was sent: each
/// alternative is an AND of schemes, and an empty one (`{}` in the spec)
/// lets anyone in. `target` is the request target as sent, which `Digest`
/// credentials must name.
pub(crate) fn authorized(
    security: &[Vec<SecurityScheme>],
    headers: &HeaderMap,
    query: &[(String, String)],
    target: &Uri,
) -> bool {
    if security.is_empty() {
        return true;
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    security.iter().any(|alternative| {
        alternative
            .iter()
            .all(|scheme| satisfied(scheme, authorization, headers, query, target))
    })
}

/// Whether one scheme's credentials are present and well-formed.
fn satisfied(
    scheme: &SecurityScheme,
    authorization: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    target: &Uri,
) -> bool {
    match scheme {
        SecurityScheme::Basic => credentials(authorization, "basic").is_some_and(basic_ok),
        SecurityScheme::Bearer => credentials(authorization, "bearer").is_some_and(token68),
        SecurityScheme::Digest => credentials(authorization, "digest")
            .is_some_and(|c| digest_ok(c, target, headers).is_ok()),
        SecurityScheme::ApiKey { name, location } => match location {
            Location::Header => headers
                .get(name.as_str())
                .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty()),
            Location::Query => query.iter().any(|(n, v)| n == name && !v.is_empty()),
            Location::Cookie => cookie_value(headers, name).is_some_and(|v| !v.is_empty()),
            Location::Path => false,
        },
        SecurityScheme::MutualTls => true,
    }
}

/// The credentials after `scheme ` in an `Authorization` value (the
/// scheme's name compared without case), trimmed.
fn credentials<'a>(authorization: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = authorization.trim_start().split_once(' ')?;
    let rest = rest.trim();
    (name.eq_ignore_ascii_case(scheme) && !rest.is_empty()).then_some(rest)
}

/// `Basic` credentials: base64 (RFC 7617) of `user-id:password`.
fn basic_ok(encoded: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|pair| pair.contains(':'))
}

/// A bearer token: RFC 6750's `b64token` (letters, digits, `-._~+/`, then
/// `=` padding).
fn token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// The digest algorithms of RFC 7616 (and RFC 2617's MD5), with the
/// number of hex digits of their `response`.
const DIGEST_ALGORITHMS: [(&str, usize); 6] = [
    ("MD5", 32),
    ("MD5-sess", 32),
    ("SHA-256", 64),
    ("SHA-256-sess", 64),
    ("SHA-512-256", 64),
    ("SHA-512-256-sess", 64),
];

/// The nonce the mock's `Digest` challenges carry. A mock cannot check the
/// response (it knows no passwords), so a nonce that changes would only make
/// its answers differ between runs.
const DIGEST_NONCE: &str = "aG10LW1vY2stZGlnZXN0LW5vbmNl";

/// Whether `Digest` credentials (after the scheme name) have the form RFC
/// 7616 section 3.4 gives them: `username` (or `username*`), `realm`,
/// `nonce`, `uri` and a hex `response` as long as the `algorithm`'s digest
/// (MD5 when none is named); with `qop`, also `nc` (8 hex digits) and
/// `cnonce`. The value is not checked: that needs the password. The
/// `uri` is returned, for [`digest_ok`]; the error says what is wrong.
pub(crate) fn digest_form(credentials: &str) -> Result<String, String> {
    let params = auth_params(credentials)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if get("username").is_none() && get("username*").is_none() {
        return Err("the Digest credentials have no username".into());
    }
    for name in ["realm", "nonce", "uri", "response"] {
        if get(name).is_none_or(str::is_empty) {
            return Err(format!("the Digest credentials have no {name}"));
        }
    }
    let algorithm = get("algorithm").unwrap_or("MD5");
    let Some((_, digits)) = DIGEST_ALGORITHMS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(algorithm))
    else {
        return Err(format!("unknown Digest algorithm {algorithm:?}"));
    };
    let response = get("response").unwrap_or("");
    if response.len() != *digits || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "the Digest response is not {digits} hex digits ({algorithm}): {response:?}"
        ));
    }
    if let Some(qop) = get("qop") {
        if !qop.eq_ignore_ascii_case("auth") && !qop.eq_ignore_ascii_case("auth-int") {
            return Err(format!("the Digest qop is {qop:?}, not auth or auth-int"));
        }
        let nc = get("nc").unwrap_or("");
        if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("the Digest nc is not 8 hex digits: {nc:?}"));
        }
        if get("cnonce").is_none_or(str::is_empty) {
            return Err("the Digest credentials have a qop but no cnonce".into());
        }
    }
    Ok(get("uri").unwrap_or_default().to_owned())
}

/// Whether `Digest` credentials have their form ([`digest_form`]) and are
/// for this request: their `uri` must name the request target as sent
/// (RFC 7616 section 3.4, "duplicated here because proxies are allowed to
/// change the request-line in transit"), else credentials captured for one
/// resource would open another. The error says what is wrong.
pub(crate) fn digest_ok(
    credentials: &str,
    target: &Uri,
    headers: &HeaderMap,
) -> Result<(), String> {
    let uri = digest_form(credentials)?;
    if names_target(&uri, target, headers) {
        Ok(())
    } else {
        Err(format!(
            "the Digest uri {uri:?} is not the request target {:?}",
            path_and_query(target)
        ))
    }
}

/// Whether a Digest `uri` is the request target: its path and query as
/// sent (what curl and RFC 2617 clients send), or the absolute URI of this
/// request (RFC 7616's effective request URI: the target's own authority
/// in absolute form, else the `Host` header's), compared byte for byte.
fn names_target(uri: &str, target: &Uri, headers: &HeaderMap) -> bool {
    if uri == path_and_query(target) {
        return true;
    }
    let Ok(absolute) = uri.parse::<Uri>() else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (absolute.scheme_str(), absolute.authority()) else {
        return false;
    };
    let host = target
        .authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && host.is_some_and(|host| host.eq_ignore_ascii_case(authority.as_str()))
        && path_and_query(&absolute) == path_and_query(target)
}

/// The path and query of `uri` as sent (`/` when it has none: `http://h`).
fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}

/// RFC 9110's `#auth-param` list: `name=token` or `name="quoted string"`
/// separated by commas, names unique. Hand-written because it is a dozen
/// lines: the crates that parse Digest headers (`digest_auth`) are written
/// for clients, bring hashing and random numbers a mock that cannot check
/// a response does not use, and do not say which field is wrong.
fn auth_params(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected name=value, found {rest:?}"))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("{name:?} is not a parameter name"));
        }
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            hmt_types::syntax::quoted_string(quoted)
                .ok_or_else(|| format!("the value of {name} has no closing quote"))?
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let token = after[..end].trim();
            if !token.bytes().all(is_token_byte) {
                return Err(format!(
                    "the value of {name} must be a token or quoted: {token:?}"
                ));
            }
            (token.to_owned(), &after[end..])
        };
        if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!("{name} is given twice"));
        }
        params.push((name.to_owned(), value));
        let remainder = remainder.trim_start();
        rest = match remainder.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if remainder.is_empty() => remainder,
            None => return Err(format!("expected a comma before {remainder:?}")),
        };
    }
    Ok(params)
}

/// RFC 9110's `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// 401 naming the credentials wanted, with a `WWW-Authenticate` challenge
/// for each scheme the operation accepts, in the spec's order: `Basic
/// realm="hmt"`, `Bearer` (http bearer, OAuth2, OpenID Connect), `Digest`
/// with a realm, nonce, `qop="auth"` and `algorithm=SHA-256`, and for
/// API keys a non-standard `ApiKey` challenge that says where the key goes
/// (no standard challenge exists; clients ignore schemes they do not
/// know). `headers` and `target` are the request's: `Digest` credentials
/// that were sent but are malformed, or for another target, are named in
/// the detail with what is wrong.
pub(crate) fn unauthorized(
    security: &[Vec<SecurityScheme>],
    headers: &HeaderMap,
    target: &Uri,
) -> Response<Body> {
    let mut needed = Vec::new();
    for alternative in security {
        let names: Vec<String> = alternative
            .iter()
            .map(|s| match s {
                SecurityScheme::Basic => "Authorization: Basic".to_owned(),
                SecurityScheme::Bearer => "Authorization: Bearer".to_owned(),
                SecurityScheme::Digest => "Authorization: Digest".to_owned(),
                SecurityScheme::ApiKey { name, location } => match location {
                    Location::Header => format!("header {name}"),
                    Location::Query => format!("query parameter {name}"),
                    Location::Cookie => format!("cookie {name}"),
                    Location::Path => name.clone(),
                },
                SecurityScheme::MutualTls => "a client certificate".to_owned(),
            })
            .collect();
        needed.push(names.join(" and "));
    }
    let mut detail = format!("credentials required: {}", needed.join(", or "));
    let sent_digest = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|authorization| credentials(authorization, "digest"));
    if security
        .iter()
        .flatten()
        .any(|s| *s == SecurityScheme::Digest)
        && let Some(Err(why)) = sent_digest.map(|c| digest_ok(c, target, headers))
    {
        detail.push_str(&format!(" ({why})"));
    }
    let mut response = problem(StatusCode::UNAUTHORIZED, "unauthorized", &detail, json!({}));
    let mut challenges: Vec<String> = Vec::new();
    for scheme in security.iter().flatten() {
        let challenge = match scheme {
            SecurityScheme::Basic => "Basic realm=\"hmt\"".to_owned(),
            SecurityScheme::Bearer => "Bearer".to_owned(),
            // SHA-256 as RFC 7616 asks; clients that only know RFC 2617
            // answer with MD5, which is accepted too.
            SecurityScheme::Digest => format!(
                "Digest realm=\"hmt\", nonce=\"{DIGEST_NONCE}\", qop=\"auth\", algorithm=SHA-256"
            ),
            SecurityScheme::ApiKey { name, location } => {
                let place = match location {
                    Location::Header => "header",
                    Location::Query => "query",
                    Location::Cookie => "cookie",
                    Location::Path => "path",
                };
                format!(
                    "ApiKey realm=\"hmt\", in=\"{place}\", name=\"{}\"",
                    name.replace(['"', '\\'], "")
                )
            }
            SecurityScheme::MutualTls => continue,
        };
        if !challenges.contains(&challenge) {
            challenges.push(challenge);
        }
    }
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// OAuth2 authorization-code endpoints: the authorization URL redirects to
/// `redirect_uri` with a code and the client's `state`; the token URL
/// hands out a bearer token.
pub(crate) fn oauth(
    loaded: &Loaded,
    method: &Method,
    path: &str,
    query: &str,
    random: &dyn Fn() -> u64,
) -> Option<Response<Body>> {
    for spec in &loaded.specs {
        for endpoint in &spec.oauth {
            if *method == Method::GET && path == endpoint.authorization_path {
                let query = parse_query(query);
                let get = |name: &str| {
                    query
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str())
                };
                let Some(redirect) = get("redirect_uri") else {
                    return Some(problem(
                        StatusCode::BAD_REQUEST,
                        "oauth",
                        "redirect_uri is required",
                        json!({}),
                    ));
                };
                let mut location = format!(
                    "{redirect}{}code=",
                    if redirect.contains('?') { '&' } else { '?' }
                );
                location.push_str(&format!("{:016x}", random()));
                if let Some(state) = get("state") {
                    location.push_str("&state=");
                    location.push_str(&hmt_types::percent_encode(state, b""));
                }
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::FOUND;
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                return Some(response);
            }
            if *method == Method::POST && endpoint.token_path.as_deref() == Some(path) {
                let token = format!("{:016x}{:016x}", random(), random());
                return Some(json_response(
                    StatusCode::OK,
                    &json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
                ));
            }
        }
    }
    None
}

pub(crate) fn preflight(request: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    let methods = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .cloned()
        .unwrap_or(HeaderValue::from_static(
            "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        ));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

pub(crate) fn add_cors(headers: &mut HeaderMap, request: &HeaderMap) {
    match request.get(header::ORIGIN) {
        Some(origin) => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("*"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request target as sent.
    fn at(target: &str) -> Uri {
        target.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn key(name: &str, location: Location) -> SecurityScheme {
        SecurityScheme::ApiKey {
            name: name.into(),
            location,
        }
    }

    #[test]
    fn each_scheme_wants_its_credentials_well_formed() {
        use SecurityScheme::*;
        // (scheme, headers sent, query sent, let in)
        type Case<'a> = (SecurityScheme, &'a [(&'a str, &'a str)], &'a str, bool);
        let cases: &[Case<'_>] = &[
            // base64("aladdin:opensesame")
            (
                Basic,
                &[("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")],
                "",
                true,
            ),
            (
                Basic,
                &[("authorization", "basic YWxhZGRpbjpvcGVuc2VzYW1l")],
                "",
                true,
            ),
            // base64("aladdin"): no colon.
            (Basic, &[("authorization", "Basic YWxhZGRpbg==")], "", false),
            (Basic, &[("authorization", "Basic not base64!")], "", false),
            (Basic, &[("authorization", "Basic ")], "", false),
            (
                Basic,
                &[("authorization", "Bearer YWxhZGRpbjpvcGVuc2VzYW1l")],
                "",
                false,
            ),
            (Basic, &[], "", false),
            (Bearer, &[("authorization", "Bearer sk_test_123")], "", true),
            (
                Bearer,
                &[("authorization", "Bearer abc.def-ghi~/+==")],
                "",
                true,
            ),
            (Bearer, &[("authorization", "Bearer two words")], "", false),
            (Bearer, &[("authorization", "Bearer")], "", false),
            (
                Bearer,
                &[("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")],
                "",
                false,
            ),
            (key("x-key", Location::Header), &[("x-key", "k")], "", true),
            (key("x-key", Location::Header), &[("x-key", " ")], "", false),
            (
                key("x-key", Location::Header),
                &[("x-other", "k")],
                "",
                false,
            ),
            (key("api_key", Location::Query), &[], "api_key=k", true),
            (key("api_key", Location::Query), &[], "api_key=", false),
            (key("api_key", Location::Query), &[], "key=k", false),
            (
                key("sid", Location::Cookie),
                &[("cookie", "a=1; sid=s")],
                "",
                true,
            ),
            (
                key("sid", Location::Cookie),
                &[("cookie", "a=1")],
                "",
                false,
            ),
            (MutualTls, &[], "", true),
        ];
        for (scheme, sent, query, expected) in cases {
            let query = crate::server::parse_query(query);
            let got = authorized(&[vec![scheme.clone()]], &headers(sent), &query, &at("/x"));
            assert_eq!(got, *expected, "{scheme:?} with {sent:?} {query:?}");
        }
    }

    #[test]
    fn digest_credentials_need_every_field_of_rfc_7616() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";
        let ok = [
            // RFC 2617 without qop: MD5 by default.
            format!(r#"username="a", realm="hmt", nonce="n", uri="/x", response="{md5}""#),
            format!(
                r#"username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf", nc=00000001, cnonce="f2/wE4q", qop=auth, response="{sha}", opaque="FQhe""#
            ),
            format!(
                r#"username*=UTF-8''J%C3%A4s, realm="r", nonce="n", uri="/", algorithm=MD5-sess, qop="auth-int", nc=0000000a, cnonce="c", response="{md5}""#
            ),
            format!(r#"username="a\"b", realm="r",nonce="n",uri="/",response="{md5}""#),
        ];
        for credentials in &ok {
            assert!(digest_form(credentials).is_ok(), "{credentials}");
        }
        let refused = [
            (
                format!(r#"realm="r", nonce="n", uri="/", response="{md5}""#),
                "no username",
            ),
            (
                format!(r#"username="a", nonce="n", uri="/", response="{md5}""#),
                "no realm",
            ),
            (
                format!(r#"username="a", realm="r", uri="/", response="{md5}""#),
                "no nonce",
            ),
            (
                format!(r#"username="a", realm="r", nonce="n", response="{md5}""#),
                "no uri",
            ),
            (
                r#"username="a", realm="r", nonce="n", uri="/""#.to_owned(),
                "no response",
            ),
            (
                format!(r#"username="a", realm="r", nonce="n", uri="/", response="{sha}""#),
                "not 32 hex digits",
            ),
            (
                format!(
                    r#"username="a", realm="r", nonce="n", uri="/", algorithm=SHA-256, response="{md5}""#
                ),
                "not 64 hex digits",
            ),
            (
                format!(
                    r#"username="a", realm="r", nonce="n", uri="/", algorithm=SHA-1, response="{md5}""#
                ),
                "unknown Digest algorithm",
            ),
            (
                format!(
                    r#"username="a", realm="r", nonce="n", uri="/", qop=auth, cnonce="c", response="{md5}""#
                ),
                "nc is not 8 hex digits",
            ),
            (
                format!(
                    r#"username="a", realm="r", nonce="n", uri="/", qop=auth, nc=00000001, response="{md5}""#
                ),
                "no cnonce",
            ),
            (
                format!(
                    r#"username="a", realm="r", nonce="n", uri="/", qop=other, nc=00000001, cnonce="c", response="{md5}""#
                ),
                "not auth or auth-int",
            ),
            (
                format!(r#"username="a, realm="r", nonce="n", uri="/", response="{md5}""#),
                "expected a comma",
            ),
            (
                format!(r#"username="a", realm="r", nonce="n", uri="/", response="{md5}"#),
                "no closing quote",
            ),
            (
                format!(
                    r#"username="a", username="b", realm="r", nonce="n", uri="/", response="{md5}""#
                ),
                "given twice",
            ),
            ("just text".to_owned(), "expected name=value"),
        ];
        for (credentials, why) in &refused {
            let error = digest_form(credentials).expect_err(credentials);
            assert!(error.contains(why), "{credentials}: {error}");
        }
        let scheme = [vec![SecurityScheme::Digest]];
        let sent =
            format!(r#"Digest username="a", realm="hmt", nonce="n", uri="/x", response="{md5}""#);
        assert!(authorized(
            &scheme,
            &headers(&[("authorization", &sent)]),
            &[],
            &at("/x")
        ));
        assert!(!authorized(
            &scheme,
            &headers(&[("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")]),
            &[],
            &at("/x")
        ));
        assert!(!authorized(&scheme, &headers(&[]), &[], &at("/x")));
        let no_nonce = format!(r#"Digest username="a", realm="hmt", uri="/x", response="{md5}""#);
        assert!(!authorized(
            &scheme,
            &headers(&[("authorization", &no_nonce)]),
            &[],
            &at("/x")
        ));
    }

    #[test]
    fn digest_credentials_are_for_the_request_target_as_sent() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let with_uri = |uri: &str| {
            format!(r#"username="a", realm="hmt", nonce="n", uri="{uri}", response="{md5}""#)
        };
        let host = headers(&[("host", "127.0.0.1:8080")]);
        // (request target as sent, Digest uri, accepted)
        let cases: &[(&str, &str, bool)] = &[
            ("/secret", "/secret", true),
            ("/secret?a=1&b=%20", "/secret?a=1&b=%20", true),
            // RFC 7616's effective request URI, on this request's host.
            ("/secret", "http://127.0.0.1:8080/secret", true),
            ("/secret?a=1", "https://127.0.0.1:8080/secret?a=1", true),
            // Absolute form on the request line: either spelling.
            ("http://api.example/secret", "/secret", true),
            (
                "http://api.example/secret",
                "http://api.example/secret",
                true,
            ),
            // Another resource, query, spelling or host.
            ("/secret", "/other", false),
            ("/secret?a=1", "/secret", false),
            ("/secret", "/secret?a=1", false),
            ("/secret?a=1", "/secret?a=2", false),
            ("/a%20b", "/a b", false),
            ("/secret", "/Secret", false),
            ("/secret", "http://elsewhere:8080/secret", false),
            ("/secret", "ftp://127.0.0.1:8080/secret", false),
            (
                "http://api.example/secret",
                "http://other.example/secret",
                false,
            ),
        ];
        for (target, uri, accepted) in cases {
            let got = digest_ok(&with_uri(uri), &at(target), &host);
            assert_eq!(got.is_ok(), *accepted, "{target} with uri {uri}: {got:?}");
        }
        let why = digest_ok(&with_uri("/other"), &at("/secret?x=1"), &host).unwrap_err();
        assert_eq!(
            why,
            r#"the Digest uri "/other" is not the request target "/secret?x=1""#
        );
        // Refused like malformed credentials, and said why in the 401.
        let scheme = [vec![SecurityScheme::Digest]];
        let sent = headers(&[("authorization", &format!("Digest {}", with_uri("/other")))]);
        assert!(!authorized(&scheme, &sent, &[], &at("/secret")));
        let refused = unauthorized(&scheme, &sent, &at("/secret"));
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(
            refused.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Digest realm=\"hmt\"")
        );
        let body = refused.body().bytes().unwrap_or_default();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("is not the request target"), "{body}");
    }

    #[test]
    fn alternatives_are_ors_of_ands_and_empty_means_anyone() {
        let basic = "Basic YWxhZGRpbjpvcGVuc2VzYW1l";
        let both = vec![vec![SecurityScheme::Basic, key("x-key", Location::Header)]];
        assert!(!authorized(
            &both,
            &headers(&[("authorization", basic)]),
            &[],
            &at("/x")
        ));
        assert!(authorized(
            &both,
            &headers(&[("authorization", basic), ("x-key", "k")]),
            &[],
            &at("/x")
        ));
        let either = vec![
            vec![SecurityScheme::Bearer],
            vec![key("x-key", Location::Header)],
        ];
        assert!(authorized(
            &either,
            &headers(&[("x-key", "k")]),
            &[],
            &at("/x")
        ));
        assert!(!authorized(&either, &headers(&[]), &[], &at("/x")));
        let optional = vec![vec![SecurityScheme::Bearer], vec![]];
        assert!(authorized(&optional, &headers(&[]), &[], &at("/x")));
        assert!(authorized(&[], &headers(&[]), &[], &at("/x")));
    }

    #[test]
    fn challenges_name_the_schemes_asked_for() {
        let challenges = |security: &[Vec<SecurityScheme>]| -> Vec<String> {
            unauthorized(security, &HeaderMap::new(), &at("/x"))
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            challenges(&[vec![SecurityScheme::Basic]]),
            ["Basic realm=\"hmt\""]
        );
        assert_eq!(challenges(&[vec![SecurityScheme::Bearer]]), ["Bearer"]);
        assert_eq!(
            challenges(&[vec![SecurityScheme::Digest]]),
            [format!(
                "Digest realm=\"hmt\", nonce=\"{DIGEST_NONCE}\", qop=\"auth\", algorithm=SHA-256"
            )]
        );
        assert_eq!(
            challenges(&[
                vec![SecurityScheme::Bearer],
                vec![SecurityScheme::Basic, key("x-key", Location::Header)],
                vec![SecurityScheme::Bearer],
            ]),
            [
                "Bearer",
                "Basic realm=\"hmt\"",
                "ApiKey realm=\"hmt\", in=\"header\", name=\"x-key\""
            ]
        );
        assert!(challenges(&[vec![SecurityScheme::MutualTls]]).is_empty());
        let response = unauthorized(
            &[vec![key("api_key", Location::Query)]],
            &HeaderMap::new(),
            &at("/x"),
        );
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
