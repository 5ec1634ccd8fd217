//! mountebank's REST API: `/`, `/imposters`, `/imposters/:id`, stub
//! editing, saved requests and proxies, `/config` and `/logs`.
//!
//! [`Api::handle`] takes a request already read (method, target, a few
//! headers, body) and returns the response, so every resource can be
//! tested without a socket; it returns `None` for paths that are not
//! mountebank's, which `hmt mock` then gives to its own `/admin` API.

use crate::error::ApiError;
use crate::imposter::{Form, Imposter};
use crate::registry::Imposters;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

/// An admin request, as the API needs it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path (origin or absolute form; only the path is used).
    pub path: String,
    /// The raw query, without `?`.
    pub query: String,
    /// The `Host` header, for absolute links.
    pub host: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// The API: the imposters, and the log `GET /logs` shows.
pub struct Api {
    imposters: Imposters,
    logs: Mutex<VecDeque<Value>>,
    port: u16,
}

/// Log entries kept for `GET /logs`.
const LOG_ENTRIES: usize = 1000;

impl Api {
    /// An API over `imposters`, served on `port` (for links when a request has no `Host`).
    pub fn new(imposters: Imposters, port: u16) -> Api {
        Api {
            imposters,
            logs: Mutex::new(VecDeque::new()),
            port,
        }
    }

    /// The imposters.
    pub fn imposters(&self) -> &Imposters {
        &self.imposters
    }

    /// Adds a line to `GET /logs`.
    pub fn log(&self, level: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!("{message}");
        let mut logs = hmt_types::sync::lock(&self.logs);
        if logs.len() == LOG_ENTRIES {
            logs.pop_front();
        }
        logs.push_back(json!({
            "level": level,
            "message": message,
            "timestamp": hmt_types::clock::rfc3339_millis(SystemTime::now()),
        }));
    }

    /// Reads an HTTP request (body bounded) and answers it; a path that is
    /// not mountebank's gets a 404 in mountebank's error shape.
    pub async fn serve(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Response<Full<Bytes>> {
        use http_body_util::BodyExt;
        const MAX_ADMIN_BODY: usize = 64 * 1024 * 1024;
        let (parts, body) = request.into_parts();
        let body = match http_body_util::Limited::new(body, MAX_ADMIN_BODY)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(error) => {
                let error =
                    ApiError::bad_data(format!("the request body could not be read: {error}"));
                return json_response(StatusCode::PAYLOAD_TOO_LARGE, &error.body());
            }
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|authority| authority.to_string()));
        let request = ApiRequest {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            host,
            body,
        };
        match self.handle(&request).await {
            Some(response) => response,
            None => {
                let error = ApiError {
                    status: 404,
                    code: "no such resource",
                    message: format!("{} is not a resource of this API", request.path),
                    source: None,
                };
                json_response(StatusCode::NOT_FOUND, &error.body())
            }
        }
    }

    /// Answers a mountebank API request; `None` when the path is not one.
    pub async fn handle(&self, request: &ApiRequest) -> Option<Response<Full<Bytes>>> {
        let base = format!(
            "http://{}",
            request
                .host
                .clone()
                .unwrap_or_else(|| format!("localhost:{}", self.port))
        );
        let segments: Vec<&str> = request
            .path
            .trim_end_matches('/')
            .split('/')
            .skip(1)
            .collect();
        let result = match (&request.method, segments.as_slice()) {
            (&Method::GET, [] | [""]) => Ok(ok(home(&base))),
            (&Method::GET, ["config"]) => Ok(ok(self.config())),
            (&Method::GET, ["logs"]) => Ok(ok(self.logs(&request.query))),
            (_, ["imposters"]) => self.imposters_resource(request, &base).await,
            (_, ["imposters", port, rest @ ..]) => {
                self.imposter_resource(request, port, rest, &base).await
            }
            _ => return None,
        };
        Some(match result {
            Ok(response) => response,
            Err(error) => {
                if error.status >= 500 || error.status == 400 || error.status == 403 {
                    self.log(
                        "error",
                        format!("{} {}: {}", request.method, request.path, error.message),
                    );
                }
                json_response(
                    StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
                    &error.body(),
                )
            }
        })
    }

    async fn imposters_resource(
        &self,
        request: &ApiRequest,
        base: &str,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let form = form(&request.query, false);
        match request.method {
            Method::GET => {
                let all = self.imposters.all().await;
                let list: Vec<Value> = if flag(&request.query, "replayable") {
                    all.iter()
                        .map(|imposter| imposter.to_json(form, base))
                        .collect()
                } else {
                    all.iter()
                        .map(|imposter| imposter.to_list_json(base))
                        .collect()
                };
                Ok(ok(json!({"imposters": list})))
            }
            Method::POST => {
                let body = parse(&request.body)?;
                let imposter = self.imposters.create(&body).await?;
                self.log(
                    "info",
                    format!(
                        "created the {} imposter on port {}",
                        protocol(&imposter),
                        imposter.port
                    ),
                );
                let json = imposter.to_json(Form::default(), base);
                let location = format!("{base}/imposters/{}", imposter.port);
                let mut response = json_response(StatusCode::CREATED, &json);
                if let Ok(value) = http::HeaderValue::from_str(&location) {
                    response.headers_mut().insert(http::header::LOCATION, value);
                }
                Ok(response)
            }
            Method::PUT => {
                let body = parse(&request.body)?;
                let list = match body.get("imposters") {
                    Some(Value::Array(list)) => list.clone(),
                    None | Some(Value::Null) => {
                        return Err(ApiError::bad_data("'imposters' is a required field"));
                    }
                    Some(_) => return Err(ApiError::bad_data("'imposters' must be an array")),
                };
                let started = self.imposters.replace_all(&list).await?;
                self.log(
                    "info",
                    format!("replaced every imposter with {}", started.len()),
                );
                let list: Vec<Value> = started
                    .iter()
                    .map(|imposter| imposter.to_list_json(base))
                    .collect();
                Ok(ok(json!({"imposters": list})))
            }
            Method::DELETE => {
                // Without parameters, mountebank answers in the replayable form.
                let form = form_or_replayable(&request.query);
                let deleted = self.imposters.delete_all().await;
                self.log("info", format!("deleted {} imposter(s)", deleted.len()));
                let list: Vec<Value> = deleted
                    .iter()
                    .map(|imposter| imposter.to_json(form, base))
                    .collect();
                Ok(ok(json!({"imposters": list})))
            }
            _ => Err(method_not_allowed()),
        }
    }

    async fn imposter_resource(
        &self,
        request: &ApiRequest,
        port: &str,
        rest: &[&str],
        base: &str,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let number = port.parse::<u16>().ok();
        // DELETE of an imposter that does not exist is not an error.
        if request.method == Method::DELETE && rest.is_empty() {
            return Ok(match number {
                Some(number) => match self.imposters.delete(number).await {
                    Some(imposter) => {
                        self.log("info", format!("deleted the imposter on port {number}"));
                        ok(imposter.to_json(form(&request.query, false), base))
                    }
                    None => ok(json!({})),
                },
                None => ok(json!({})),
            });
        }
        let imposter = match number {
            Some(number) => self.imposters.get(number).await,
            None => None,
        }
        .ok_or_else(|| ApiError::no_such_imposter(port))?;
        let full = |imposter: &Imposter| ok(imposter.to_json(Form::default(), base));
        match (&request.method, rest) {
            (&Method::GET, []) => {
                if request
                    .query
                    .split('&')
                    .any(|pair| pair == "format=http-types")
                {
                    return Ok(http_types(&imposter));
                }
                Ok(ok(imposter.to_json(form(&request.query, false), base)))
            }
            (&Method::GET, ["misses"]) => Ok(ok(json!({"misses": imposter.misses()}))),
            (&Method::DELETE, ["savedRequests"]) => {
                imposter.clear_requests();
                Ok(full(&imposter))
            }
            (&Method::DELETE, ["savedProxyResponses" | "requests"]) => {
                imposter.delete_recorded();
                imposter.save();
                Ok(full(&imposter))
            }
            (&Method::PUT, ["stubs"]) => {
                let body = parse(&request.body)?;
                let stubs = match body.get("stubs") {
                    None | Some(Value::Null) => {
                        return Err(ApiError::bad_data("'stubs' is a required field"));
                    }
                    Some(stubs @ Value::Array(_)) => stubs,
                    Some(_) => return Err(ApiError::bad_data("'stubs' must be an array")),
                };
                imposter.replace_stubs(stubs)?;
                imposter.save();
                Ok(full(&imposter))
            }
            (&Method::POST, ["stubs"]) => {
                let body = parse(&request.body)?;
                let Some(stub) = body.get("stub") else {
                    return Err(ApiError::bad_data("must contain 'stub' field"));
                };
                let index = match body.get("index") {
                    None | Some(Value::Null) => None,
                    Some(index) => {
                        Some(index.as_u64().map(|index| index as usize).ok_or_else(|| {
                            ApiError::bad_data(
                                "'index' must be between 0 and the length of the stubs array",
                            )
                        })?)
                    }
                };
                imposter.add_stub(stub, index)?;
                imposter.save();
                Ok(full(&imposter))
            }
            (&Method::PUT, ["stubs", index]) => {
                let body = parse(&request.body)?;
                imposter.replace_stub(stub_index(index)?, &body)?;
                imposter.save();
                Ok(full(&imposter))
            }
            (&Method::DELETE, ["stubs", index]) => {
                imposter.delete_stub(stub_index(index)?)?;
                imposter.save();
                Ok(full(&imposter))
            }
            _ => Err(method_not_allowed()),
        }
    }

    fn config(&self) -> Value {
        let config = self.imposters.config();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "options": {
                "port": self.port,
                "allowInjection": config.allow_injection,
                "datadir": config.datadir.as_ref().map(|dir| dir.display().to_string()),
                "host": config.bind.to_string(),
            },
            "process": {
                "pid": std::process::id(),
                "platform": std::env::consts::OS,
                "architecture": std::env::consts::ARCH,
                "cwd": std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default(),
            }
        })
    }

    fn logs(&self, query: &str) -> Value {
        let logs = hmt_types::sync::lock(&self.logs);
        let number = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.parse::<usize>().ok())
        };
        let start = number("startIndex").unwrap_or(0);
        let end = number("endIndex")
            .map(|end| end + 1)
            .unwrap_or(logs.len())
            .min(logs.len());
        let list: Vec<Value> = logs
            .iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .cloned()
            .collect();
        json!({"logs": list})
    }
}

fn protocol(imposter: &Imposter) -> &'static str {
    match imposter.definition.protocol {
        crate::imposter::Protocol::Http => "http",
        crate::imposter::Protocol::Https => "https",
    }
}

fn home(base: &str) -> Value {
    json!({"_links": {
        "imposters": {"href": format!("{base}/imposters")},
        "config": {"href": format!("{base}/config")},
        "logs": {"href": format!("{base}/logs")},
    }})
}

fn stub_index(text: &str) -> Result<usize, ApiError> {
    text.parse::<usize>().map_err(|_| {
        ApiError::bad_data("'stubIndex' must be a valid integer, representing the array index position of the stub to replace")
    })
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::invalid_json(body))
}

/// `?key=true`, compared without case as mountebank does.
fn flag(query: &str, key: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .any(|(name, value)| name == key && value.eq_ignore_ascii_case("true"))
}

fn form(query: &str, replayable_by_default: bool) -> Form {
    let replayable = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "replayable")
        .map(|(_, value)| value.eq_ignore_ascii_case("true"))
        .unwrap_or(replayable_by_default);
    Form {
        replayable,
        remove_proxies: flag(query, "removeProxies"),
    }
}

fn form_or_replayable(query: &str) -> Form {
    form(query, true)
}

fn method_not_allowed() -> ApiError {
    ApiError {
        status: 405,
        code: "bad data",
        message: "this resource does not answer that method".to_string(),
        source: None,
    }
}

fn ok(value: Value) -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &value)
}

/// JSON with two-space indentation, as mountebank's admin API sends it.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// What an imposter's proxies forwarded and got back, as http-types
/// JSONL (hmt's extension: `GET /imposters/:id?format=http-types`), for
/// `hmt build`.
fn http_types(imposter: &Imposter) -> Response<Full<Bytes>> {
    let mut lines = String::new();
    for line in imposter.proxied() {
        lines.push_str(&line);
        lines.push('\n');
    }
    let mut response = Response::new(Full::new(Bytes::from(lines)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}
