//! The admin API (default port 8888, on 127.0.0.1 unless `hmt mock
//! --admin-bind` says otherwise): health, the
//! specs served, the journal of received requests, and storage.
//!
//! | Request | Does |
//! |---|---|
//! | `GET /admin/health` | `{"status": "ok", "specs": N, "operations": N}` |
//! | `GET /admin/specs` | every spec: file, title, servers, operations |
//! | `GET /admin/requests` | the journal, oldest first, as http-types exchanges (`?last=N`: the last N) |
//! | `DELETE /admin/requests` | empties the journal |
//! | `DELETE /admin/storage` | empties callback storage, as HMT did |
//! | `POST /admin/storage/reset` | empties storage, puts stateful stores back to their seed and starts every replay sequence over |
//! | `GET /admin/state` | with `--stateful`: what the stores hold, by spec title and collection (`?format=http-types`: as http-types JSONL, one `POST` per object) |
//! | `DELETE /admin/state` | puts the stores back to their seed (`?empty=true`: empties them) |
//! | `GET /admin/middleware/rest/pregen` | the pregen webhooks, in order |
//! | `DELETE /admin/middleware/rest/pregen` | removes every webhook |
//! | `POST /admin/middleware/rest/pregen/<url>` | adds a webhook (see [`crate::pregen`]) |
//! | `DELETE /admin/middleware/rest/pregen/<url>` | removes one |
//! | `GET /admin/page/page.js`, `page.css` | the script and style of the page `GET /` shows a browser ([`crate::admin_page`]) |
//!
//! Every request to the admin port, hmt's `/admin` and mountebank's
//! `/imposters` alike, passes [`guard`] first: a web page the user happens
//! to open must not be able to drive the admin API from their browser.

use crate::server::{Body, Mock, json_response, problem};
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The 403 problem document refusing what a browser may send to the admin
/// port on behalf of another site, or `None` for a request that may pass;
/// `admin` is the address the admin port listens on.
///
/// - DNS rebinding: while the admin port listens on a loopback address,
///   a request naming any other host in `Host` (a name an attacker's DNS
///   pointed at 127.0.0.1) is refused. Clients that send no `Host` are
///   not browsers and pass.
/// - Cross-site requests: a POST, PUT, PATCH or DELETE whose `Origin` is
///   not the admin port's own (`http`, the `Host` asked for, the admin
///   port) is refused. Requests without `Origin` (curl, mountebank's
///   clients, test code) pass.
pub fn guard<B>(request: &Request<B>, admin: SocketAddr) -> Option<Response<Body>> {
    let refuse = |detail: String| Some(problem(StatusCode::FORBIDDEN, "admin", &detail, json!({})));
    let host_header = request
        .headers()
        .get(header::HOST)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    let host = match &host_header {
        Some(authority) => match crate::hosts::host_of(authority) {
            Some(host) => Some(host),
            None => return refuse(format!("Host {authority:?} is not a host name")),
        },
        None => None,
    };
    if admin.ip().is_loopback()
        && let Some(host) = &host
        && !crate::hosts::is_loopback(host)
    {
        return refuse(format!(
            "the admin API listens on {admin}, a loopback address, and answers only requests for localhost, 127.0.0.1 or [::1]; Host {:?} is refused (a DNS-rebinding attack looks like this); start hmt mock with --admin-bind to listen on another address",
            host_header.as_deref().unwrap_or_default()
        ));
    }
    let changes_state = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if changes_state && let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        let own_host = host.unwrap_or_else(|| admin.ip().to_string());
        if !same_origin(&origin, &own_host, admin.port()) {
            return refuse(format!(
                "{} from Origin {origin:?} is refused: the admin API accepts requests that change it only from its own origin (http://{}:{}) or without an Origin header, so that another site open in a browser cannot drive it",
                request.method(),
                if own_host.contains(':') {
                    format!("[{own_host}]")
                } else {
                    own_host.clone()
                },
                admin.port()
            ));
        }
    }
    None
}

/// Whether `origin` (`scheme://host[:port]`) is `http://host:port`.
fn same_origin(origin: &str, host: &str, port: u16) -> bool {
    let Ok(uri) = origin.parse::<http::Uri>() else {
        return false;
    };
    uri.scheme_str() == Some("http")
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
        && uri
            .authority()
            .and_then(|a| crate::hosts::host_of(a.as_str()))
            .is_some_and(|origin_host| origin_host == host)
        && uri.port_u16().unwrap_or(80) == port
}

/// Serves one admin request.
pub async fn handle(mock: &Mock, request: Request<Incoming>) -> Response<Body> {
    if let Some(response) = crate::admin_page::asset(request.method(), request.uri().path()) {
        return response;
    }
    let path = request.uri().path().trim_end_matches('/');
    if let Some(url) = path
        .strip_prefix(PREGEN)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        let url = webhook_url(url, request.uri().query());
        return match *request.method() {
            Method::POST => match mock.pregen.add(&url) {
                Ok(()) => json_response(StatusCode::CREATED, &json!(mock.pregen.urls())),
                Err(error) => problem(
                    StatusCode::BAD_REQUEST,
                    "admin",
                    &error.to_string(),
                    json!({}),
                ),
            },
            Method::DELETE if mock.pregen.remove(&url) => no_content(),
            Method::DELETE => problem(
                StatusCode::NOT_FOUND,
                "admin",
                &format!("{url} is not registered"),
                json!({}),
            ),
            _ => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "admin",
                "POST or DELETE a webhook URL",
                json!({}),
            ),
        };
    }
    match (request.method(), path) {
        (&Method::GET, PREGEN) => json_response(StatusCode::OK, &json!(mock.pregen.urls())),
        (&Method::DELETE, PREGEN) => {
            mock.pregen.clear();
            no_content()
        }
        (&Method::GET, "/admin/health") => {
            let loaded = mock.loaded();
            json_response(
                StatusCode::OK,
                &json!({
                    "status": "ok",
                    "specs": loaded.specs.len(),
                    "operations": loaded.specs.iter().map(|s| s.operations.len()).sum::<usize>(),
                }),
            )
        }
        (&Method::GET, "/admin/specs") => {
            let loaded = mock.loaded();
            let specs: Vec<Value> = loaded
                .specs
                .iter()
                .map(|spec| {
                    json!({
                        "file": spec.file.display().to_string(),
                        "title": spec.title,
                        "servers": spec.servers.iter().map(|s| json!({"host": s.host, "basePath": s.base_path})).collect::<Vec<_>>(),
                        "operations": spec.operations.iter().map(|o| json!({
                            "method": o.method.as_str(),
                            "path": o.template,
                            "operationId": o.id,
                            "recorded": o.replay.len(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json_response(StatusCode::OK, &Value::Array(specs))
        }
        (&Method::GET, "/admin/requests") => {
            let last = match last_count(request.uri().query()) {
                Ok(last) => last,
                Err(message) => {
                    return problem(StatusCode::BAD_REQUEST, "admin", &message, json!({}));
                }
            };
            let journal: Vec<Value> = mock
                .journal_last(last)
                .iter()
                .filter_map(|e| serde_json::from_str(&e.to_json_line()).ok())
                .collect();
            json_response(StatusCode::OK, &Value::Array(journal))
        }
        (&Method::DELETE, "/admin/requests") => {
            mock.clear_journal();
            no_content()
        }
        (&Method::GET, "/admin/state") => {
            let loaded = mock.loaded();
            match state_format(request.uri().query()) {
                Ok(StateFormat::Json) => {
                    let state: serde_json::Map<String, Value> = loaded
                        .stores()
                        .map(|(spec, store)| (spec.title.clone(), store.to_json()))
                        .collect();
                    json_response(StatusCode::OK, &Value::Object(state))
                }
                Ok(StateFormat::HttpTypes) => {
                    let mut jsonl = String::new();
                    for exchange in loaded.state_http_types() {
                        jsonl.push_str(&exchange.to_json_line());
                        jsonl.push('\n');
                    }
                    let mut response = Response::new(Body::new(jsonl));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/jsonl"),
                    );
                    response
                }
                Err(message) => problem(StatusCode::BAD_REQUEST, "admin", &message, json!({})),
            }
        }
        (&Method::DELETE, "/admin/state") => match state_emptied(request.uri().query()) {
            Ok(true) => {
                mock.loaded().clear_state();
                no_content()
            }
            Ok(false) => {
                mock.loaded().reset_state();
                no_content()
            }
            Err(message) => problem(StatusCode::BAD_REQUEST, "admin", &message, json!({})),
        },
        (&Method::DELETE, "/admin/storage") => {
            mock.storage.clear();
            no_content()
        }
        (&Method::POST, "/admin/storage/reset") => {
            mock.reset();
            no_content()
        }
        (method, path) => problem(
            StatusCode::NOT_FOUND,
            "admin",
            &format!(
                "{method} {path} is not an admin endpoint; see GET /admin/health, /admin/specs, /admin/requests"
            ),
            json!({}),
        ),
    }
}

const PREGEN: &str = "/admin/middleware/rest/pregen";

/// How `GET /admin/state` answers.
enum StateFormat {
    /// `{"<spec title>": {"<collection>": [objects]}}`.
    Json,
    /// http-types JSONL, one `POST` per object (`?format=http-types`).
    HttpTypes,
}

/// `?format=` of `GET /admin/state`.
fn state_format(query: Option<&str>) -> Result<StateFormat, String> {
    let mut format = StateFormat::Json;
    for (name, value) in crate::server::parse_query(query.unwrap_or("")) {
        match (name.as_str(), value.as_str()) {
            ("format", "json") => format = StateFormat::Json,
            ("format", "http-types") => format = StateFormat::HttpTypes,
            ("format", other) => {
                return Err(format!(
                    "GET /admin/state?format={other}: the formats are json (the default) and http-types"
                ));
            }
            (other, _) => {
                return Err(format!(
                    "GET /admin/state: unknown parameter {other:?}; the one known is format=json|http-types"
                ));
            }
        }
    }
    Ok(format)
}

/// `?empty=true` of `DELETE /admin/state`: empty the stores rather than
/// put them back to their seed.
fn state_emptied(query: Option<&str>) -> Result<bool, String> {
    let mut empty = false;
    for (name, value) in crate::server::parse_query(query.unwrap_or("")) {
        match (name.as_str(), value.as_str()) {
            ("empty", "true" | "") => empty = true,
            ("empty", "false") => empty = false,
            ("empty", other) => {
                return Err(format!(
                    "DELETE /admin/state?empty={other}: empty is true or false"
                ));
            }
            (other, _) => {
                return Err(format!(
                    "DELETE /admin/state: unknown parameter {other:?}; the one known is empty=true (empty the stores instead of restoring their seed)"
                ));
            }
        }
    }
    Ok(empty)
}

/// `?last=N` of `GET /admin/requests`: how many of the latest exchanges
/// to show (all without it).
fn last_count(query: Option<&str>) -> Result<usize, String> {
    let query = query.unwrap_or("");
    let mut last = usize::MAX;
    for (name, value) in crate::server::parse_query(query) {
        match name.as_str() {
            "last" => {
                last = value.parse().map_err(|_| {
                    format!(
                        "GET /admin/requests?last={value}: last must be a whole number of requests"
                    )
                })?
            }
            _ => {
                return Err(format!(
                    "GET /admin/requests?{query}: unknown parameter {name:?}; the one known is last=N"
                ));
            }
        }
    }
    Ok(last)
}

/// The webhook URL after the admin path: as written, percent-encoded, or
/// with the `//` a client may have merged into `/`.
fn webhook_url(raw: &str, query: Option<&str>) -> String {
    let mut url = if raw.contains("%3A") || raw.contains("%3a") {
        hmt_types::decode_form_component(raw.as_bytes())
    } else {
        raw.to_owned()
    };
    if let Some(rest) = url.strip_prefix("http:/")
        && !rest.starts_with('/')
    {
        url = format!("http://{rest}");
    }
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri("/imposters");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn refused(result: Option<Response<Body>>) -> Option<String> {
        let response = result?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = response.body().bytes().unwrap_or_default();
        let document: Value = serde_json::from_slice(&body).unwrap();
        Some(document["detail"].as_str().unwrap().to_owned())
    }

    #[test]
    fn loopback_admin_refuses_other_hosts() {
        let admin: SocketAddr = "127.0.0.1:8888".parse().unwrap();
        for host in ["localhost:8888", "127.0.0.1", "[::1]:8888", "127.0.0.2:1"] {
            assert!(
                guard(&request("GET", &[("host", host)]), admin).is_none(),
                "{host}"
            );
        }
        assert!(guard(&request("GET", &[]), admin).is_none(), "no Host");
        let detail = refused(guard(
            &request("GET", &[("host", "rebind.evil.example:8888")]),
            admin,
        ))
        .unwrap();
        assert!(
            detail.contains("rebind.evil.example") && detail.contains("--admin-bind"),
            "{detail}"
        );

        // Listening on every address, the Host can be anything.
        let open: SocketAddr = "0.0.0.0:8888".parse().unwrap();
        assert!(guard(&request("GET", &[("host", "mock.internal:8888")]), open).is_none());
    }

    #[test]
    fn state_changes_from_other_origins_are_refused() {
        let admin: SocketAddr = "127.0.0.1:8888".parse().unwrap();
        let host = ("host", "localhost:8888");
        assert!(
            guard(&request("POST", &[host]), admin).is_none(),
            "no Origin"
        );
        assert!(
            guard(
                &request("POST", &[host, ("origin", "http://localhost:8888")]),
                admin
            )
            .is_none()
        );
        assert!(
            guard(
                &request("GET", &[host, ("origin", "https://evil.example")]),
                admin
            )
            .is_none(),
            "reads pass"
        );
        for origin in [
            "https://evil.example",
            "http://localhost:3000",
            "https://localhost:8888",
            "http://127.0.0.1:8888",
            "null",
        ] {
            for method in ["POST", "PUT", "PATCH", "DELETE"] {
                let detail = refused(guard(&request(method, &[host, ("origin", origin)]), admin))
                    .unwrap_or_else(|| panic!("{method} from {origin} passed"));
                assert!(
                    detail.contains(origin) && detail.contains("http://localhost:8888"),
                    "{detail}"
                );
            }
        }
    }
}
