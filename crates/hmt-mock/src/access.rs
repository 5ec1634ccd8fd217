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
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::json;

/// Whether any security alternative is satisfied by what was sent.
pub(crate) fn authorized(
    security: &[Vec<SecurityScheme>],
    headers: &HeaderMap,
    query: &[(String, String)],
) -> bool {
    if security.is_empty() {
        return true;
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let has_scheme = |scheme: &str| {
        authorization.len() > scheme.len()
            && authorization[..scheme.len()].eq_ignore_ascii_case(scheme)
            && authorization.as_bytes()[scheme.len()] == b' '
            && !authorization[scheme.len() + 1..].trim().is_empty()
    };
    security.iter().any(|alternative| {
        alternative.iter().all(|scheme| match scheme {
            SecurityScheme::Basic => has_scheme("basic"),
            SecurityScheme::Bearer => has_scheme("bearer"),
            SecurityScheme::ApiKey { name, location } => match location {
                Location::Header => headers.contains_key(name.as_str()),
                Location::Query => query.iter().any(|(n, _)| n == name),
                Location::Cookie => cookie_value(headers, name).is_some(),
                Location::Path => false,
            },
            SecurityScheme::MutualTls => true,
        })
    })
}

pub(crate) fn unauthorized(security: &[Vec<SecurityScheme>]) -> Response<Body> {
    let mut needed = Vec::new();
    for alternative in security {
        let names: Vec<String> = alternative
            .iter()
            .map(|s| match s {
                SecurityScheme::Basic => "Authorization: Basic".to_owned(),
                SecurityScheme::Bearer => "Authorization: Bearer".to_owned(),
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
    let detail = format!("credentials required: {}", needed.join(", or "));
    let mut response = problem(StatusCode::UNAUTHORIZED, "unauthorized", &detail, json!({}));
    let challenge = if security
        .iter()
        .flatten()
        .any(|s| *s == SecurityScheme::Basic)
    {
        "Basic realm=\"hmt\""
    } else {
        "Bearer"
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
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
