//! The admin API (default port 8888, bound to 127.0.0.1): health, the
//! specs served, the journal of received requests, and storage.
//!
//! | Request | Does |
//! |---|---|
//! | `GET /admin/health` | `{"status": "ok", "specs": N, "operations": N}` |
//! | `GET /admin/specs` | every spec: file, title, servers, operations |
//! | `GET /admin/requests` | the journal, oldest first, as http-types exchanges |
//! | `DELETE /admin/requests` | empties the journal |
//! | `DELETE /admin/storage` | empties callback storage, as HMT did |
//! | `POST /admin/storage/reset` | empties storage and starts every replay sequence over |
//! | `GET /admin/middleware/rest/pregen` | the pregen webhooks, in order |
//! | `DELETE /admin/middleware/rest/pregen` | removes every webhook |
//! | `POST /admin/middleware/rest/pregen/<url>` | adds a webhook (see [`crate::pregen`]) |
//! | `DELETE /admin/middleware/rest/pregen/<url>` | removes one |

use crate::server::{Body, Mock, json_response, problem};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

/// Serves one admin request.
pub async fn handle(mock: &Mock, request: Request<Incoming>) -> Response<Body> {
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
            let journal: Vec<Value> = mock
                .journal()
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
            let state: serde_json::Map<String, Value> = loaded
                .stores()
                .map(|(spec, store)| (spec.title.clone(), store.to_json()))
                .collect();
            json_response(StatusCode::OK, &Value::Object(state))
        }
        (&Method::DELETE, "/admin/state") => {
            for (_, store) in mock.loaded().stores() {
                store.reset();
            }
            no_content()
        }
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
