//! mountebank's `proxy` responses: forward to an origin, answer with what
//! comes back, and record it as a stub (`proxyOnce`, `proxyAlways`) or
//! not (`proxyTransparent`).
//!
//! What is forwarded is the request as received: method, path with the
//! raw query (`?WSDL` stays without `=`), headers with `Host` rewritten to
//! the origin (unless `injectHeaders` sets it), `injectHeaders` added, and
//! the body with a `Content-Length`. As in mountebank, the origin's
//! certificate is not verified (so a proxy to a self-signed https imposter
//! works); hmt's extension `"verifyTls": true` verifies it against the
//! bundled web roots. `key` and `cert` are sent to an origin that asks for
//! a client certificate.
//!
//! The recorded response is mountebank's `is`: status, the origin's
//! headers, the body (a JSON body as an object; a binary one as base64
//! with `_mode: binary`) and `_proxyResponseTime`. Its predicates come
//! from `predicateGenerators`.

use crate::imposter::Imposter;
use base64::Engine as _;
use bytes::Bytes;
use hmt_stub::{Reply, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The largest origin response a proxy reads.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// How long an origin may take to answer.
const ORIGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Content types whose bodies mountebank passes on byte for byte.
const BINARY_TYPES: [&str; 19] = [
    "audio/",
    "application/epub+zip",
    "application/gzip",
    "application/java-archive",
    "application/msword",
    "application/octet-stream",
    "application/pdf",
    "application/rtf",
    "application/vnd.ms-excel",
    "application/vnd.ms-fontobject",
    "application/vnd.ms-powerpoint",
    "application/vnd.visio",
    "application/x-shockwave-flash",
    "application/x-tar",
    "application/zip",
    "font/",
    "image/",
    "model/",
    "video/",
];

/// Forwards the request, records per the proxy's mode, and answers.
/// `stub` is the index of the stub whose response this is.
pub(crate) async fn forward(
    imposter: &Imposter,
    request: &Request,
    stub: usize,
    config: &Value,
) -> Reply {
    let to = config.get("to").and_then(Value::as_str).unwrap_or_default();
    let started = Instant::now();
    let started_at = SystemTime::now();
    let origin = match tokio::time::timeout(ORIGIN_TIMEOUT, call(to, request, config)).await {
        Ok(Ok(origin)) => origin,
        Ok(Err(message)) => return invalid_proxy(&message),
        Err(_) => {
            return invalid_proxy(&format!(
                "{to} did not answer within {} s",
                ORIGIN_TIMEOUT.as_secs()
            ));
        }
    };
    imposter.remember_proxied(http_types_line(
        request,
        to,
        &origin,
        started_at,
        SystemTime::now(),
    ));
    let mut is = to_is(&origin);
    let elapsed = started.elapsed().as_millis() as u64;
    if let Value::Object(fields) = &mut is {
        fields.insert("_proxyResponseTime".into(), json!(elapsed));
    }
    let mode = config
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("proxyOnce");
    if mode != "proxyTransparent" {
        record(imposter, request, stub, config, mode, &is, elapsed);
        imposter.save();
    }
    let stubs = hmt_types::sync::read(&imposter.stubs);
    stubs.render(&is)
}

/// mountebank's 500 `invalid proxy`.
fn invalid_proxy(message: &str) -> Reply {
    let body = json!({"errors": [{"code": "invalid proxy", "message": message}]});
    Reply::new(500)
        .with_header("Content-Type", "application/json")
        .with_header("Connection", "close")
        .with_body(serde_json::to_vec_pretty(&body).unwrap_or_default())
}

/// Sends the request to the origin; the response as mountebank's `is`.
async fn call(to: &str, request: &Request, config: &Value) -> Result<Origin, String> {
    let origin: http::Uri = to.parse().map_err(|_| format!("{to:?} is not a URL"))?;
    let https = match origin.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{to:?} is not an http or https URL")),
    };
    let host = origin
        .host()
        .ok_or_else(|| format!("{to:?} has no host"))?
        .to_string();
    let port = origin.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset => {
                    format!("Unable to connect to {}", json!(to))
                }
                _ => format!("Cannot resolve {}: {error}", json!(to)),
            })?;
    let _ = tcp.set_nodelay(true);
    let outgoing = outgoing(request, config, &host, port, https)?;
    if https {
        let connector = tokio_rustls::TlsConnector::from(client_config(config)?);
        let name = ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|error| format!("{host:?} cannot be a TLS server name: {error}"))?;
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|error| format!("TLS with {to} failed: {error}"))?;
        exchange(TokioIo::new(stream), outgoing).await
    } else {
        exchange(TokioIo::new(tcp), outgoing).await
    }
}

fn outgoing(
    request: &Request,
    config: &Value,
    host: &str,
    port: u16,
    https: bool,
) -> Result<http::Request<Full<Bytes>>, String> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.target());
    let injected: Vec<(String, String)> = config
        .get("injectHeaders")
        .and_then(Value::as_object)
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| value.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let injected_host = injected
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"));
    let default_port = if https { 443 } else { 80 };
    let host_header = if port == default_port {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "host"
            || injected
                .iter()
                .any(|(injected, _)| injected.eq_ignore_ascii_case(name))
        {
            continue;
        }
        // The body is sent inflated and whole, so its old framing and
        // encoding no longer describe it.
        if matches!(
            lower.as_str(),
            "content-length"
                | "transfer-encoding"
                | "content-encoding"
                | "connection"
                | "keep-alive"
        ) {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !injected_host {
        builder = builder.header("Host", host_header);
    }
    for (name, value) in &injected {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !request.body.is_empty() {
        builder = builder.header("Content-Length", request.body.len());
    }
    builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|error| format!("the request cannot be forwarded: {error}"))
}

/// What the origin answered.
pub(crate) struct Origin {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

async fn exchange<I>(io: I, request: http::Request<Full<Bytes>>) -> Result<Origin, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    // hyper writes names lower-case unless told; origins see them in
    // title case, as most clients send them.
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(io)
        .await
        .map_err(|error| format!("the origin's connection failed: {error}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("the origin did not answer: {error}"))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_RESPONSE)
        .collect()
        .await
        .map_err(|error| format!("the origin's body could not be read: {error}"))?
        .to_bytes();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                title_case(name.as_str()),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Origin {
        status: parts.status.as_u16(),
        headers,
        body,
    })
}

/// The origin's response as mountebank's `is`.
fn to_is(origin: &Origin) -> Value {
    let mut headers = Map::new();
    for (name, value) in &origin.headers {
        let value = Value::String(value.clone());
        match headers.get_mut(name) {
            None => {
                headers.insert(name.clone(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    let header = |wanted: &str| {
        origin
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let binary = ["gzip", "br", "compress", "deflate"]
        .iter()
        .any(|coding| header("content-encoding").contains(coding))
        || BINARY_TYPES
            .iter()
            .any(|kind| header("content-type").contains(kind));
    let body = if binary {
        Value::String(base64::engine::general_purpose::STANDARD.encode(&origin.body))
    } else {
        let text = String::from_utf8_lossy(&origin.body).into_owned();
        serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
    };
    json!({
        "statusCode": origin.status,
        "headers": headers,
        "body": body,
        "_mode": if binary { "binary" } else { "text" },
    })
}

/// The proxied exchange as one http-types line, for `hmt build`.
fn http_types_line(
    request: &Request,
    to: &str,
    origin: &Origin,
    started: SystemTime,
    finished: SystemTime,
) -> String {
    let method = hmt_types::Method::parse(&request.method.to_ascii_lowercase())
        .unwrap_or(hmt_types::Method::Get);
    let mut recorded = hmt_types::Request::new(method, &request.target());
    if let Ok(uri) = to.parse::<http::Uri>() {
        recorded.protocol = uri.scheme_str().and_then(hmt_types::Protocol::parse);
        recorded.host = uri.authority().map(|authority| authority.to_string());
    }
    for (name, value) in &request.headers {
        recorded.headers.append(name.clone(), value.clone());
    }
    if !request.body.is_empty() {
        recorded.body = Some(request.body.clone().into_bytes());
    }
    recorded.timestamp = Some(hmt_types::clock::rfc3339_millis(started));
    let mut response = hmt_types::Response::new(origin.status);
    for (name, value) in &origin.headers {
        response.headers.append(name.clone(), value.clone());
    }
    if !origin.body.is_empty() {
        response.body = Some(origin.body.to_vec());
    }
    response.timestamp = Some(hmt_types::clock::rfc3339_millis(finished));
    hmt_types::Exchange {
        request: recorded,
        response: Some(response),
        meta: Map::new(),
    }
    .to_json_line()
}

/// `content-type` → `Content-Type`: hyper lower-cases the origin's names;
/// mountebank shows them as sent, which is title case for nearly every server.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn client_config(config: &Value) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?;
    let builder = if config.get("verifyTls").and_then(Value::as_bool) == Some(true) {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::tls::AnyServerCert { provider }))
    };
    let key = config.get("key").and_then(Value::as_str);
    let cert = config.get("cert").and_then(Value::as_str);
    let mut client = match (key, cert) {
        (Some(key), Some(cert)) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|error| format!("the proxy's 'cert' is not PEM: {error}"))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|error| format!("the proxy's 'key' is not PEM: {error}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|error| format!("the proxy's key and cert cannot be used: {error}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(client))
}

/// Adds what the proxy brought back as a stub, as its mode says.
fn record(
    imposter: &Imposter,
    request: &Request,
    stub: usize,
    config: &Value,
    mode: &str,
    is: &Value,
    elapsed: u64,
) {
    let predicates = predicates_for(
        request,
        config.get("predicateGenerators"),
        imposter.options.scripts.as_deref(),
    );
    let mut response = Map::new();
    response.insert("is".into(), is.clone());
    let mut behaviors = Vec::new();
    if config.get("addWaitBehavior").and_then(Value::as_bool) == Some(true) {
        behaviors.push(json!({"wait": elapsed}));
    }
    // Replays are decorated; the response proxied now is not.
    if let Some(source) = config.get("addDecorateBehavior") {
        behaviors.push(json!({"decorate": source}));
    }
    if !behaviors.is_empty() {
        response.insert("behaviors".into(), Value::Array(behaviors));
    }
    let response = Value::Object(response);
    let mut stubs = hmt_types::sync::write(&imposter.stubs);
    if mode == "proxyAlways" {
        // Appended to the first later stub with the same predicates.
        let existing = stubs
            .iter()
            .enumerate()
            .skip(stub + 1)
            .find(|(_, candidate)| {
                candidate
                    .definition()
                    .and_then(|definition| definition.get("predicates"))
                    .is_some_and(|found| found == &predicates)
            });
        if let Some((index, candidate)) = existing {
            let mut definition = candidate.definition().cloned().unwrap_or_default();
            if let Some(Value::Array(responses)) = definition.get_mut("responses") {
                responses.push(response);
            }
            if let Ok(compiled) = stubs.compile(&definition, "", &imposter.options) {
                stubs.replace(index, compiled);
            }
            return;
        }
        let recorded = json!({"predicates": predicates, "responses": [response]});
        if let Ok(compiled) = stubs.compile(&recorded, "", &imposter.options) {
            stubs.push(compiled);
        }
    } else {
        let recorded = json!({"predicates": predicates, "responses": [response]});
        if let Ok(compiled) = stubs.compile(&recorded, "", &imposter.options) {
            stubs.insert(stub, compiled);
        }
    }
}

/// mountebank's `predicatesFor`: one predicate per field a generator names.
fn predicates_for(
    request: &Request,
    generators: Option<&Value>,
    scripts: Option<&dyn hmt_stub::Scripts>,
) -> Value {
    let fields = request.to_json();
    let mut predicates = Vec::new();
    for generator in generators.and_then(Value::as_array).into_iter().flatten() {
        let Some(generator) = generator.as_object() else {
            continue;
        };
        if let (Some(Value::String(source)), Some(scripts)) = (generator.get("inject"), scripts) {
            // A generator that fails records no predicates from it (the
            // recorded stub then matches more, never less).
            if let Ok(Value::Array(generated)) = scripts.generate(source, fields) {
                predicates.extend(generated);
            }
            continue;
        }
        let Some(matches) = generator.get("matches").and_then(Value::as_object) else {
            continue;
        };
        let base: Map<String, Value> = generator
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "matches" | "predicateOperator" | "ignore"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let selector = generator
            .get("jsonpath")
            .and_then(|config| config.get("selector"))
            .and_then(Value::as_str)
            .and_then(|selector| serde_json_path::JsonPath::parse(selector).ok());
        let value_of = |value: Option<&Value>| -> Value {
            let value = value.cloned().unwrap_or(Value::Null);
            match (&selector, &value) {
                (Some(path), Value::String(text)) => match serde_json::from_str::<Value>(text) {
                    Ok(json) => {
                        let mut found: Vec<Value> =
                            path.query(&json).all().into_iter().cloned().collect();
                        match found.len() {
                            0 => Value::String(String::new()),
                            1 => found.pop().unwrap_or(Value::Null),
                            _ => Value::Array(found),
                        }
                    }
                    Err(_) => Value::String(String::new()),
                },
                _ => value,
            }
        };
        let operator = generator.get("predicateOperator").and_then(Value::as_str);
        for (field, wanted) in matches {
            let mut predicate = base.clone();
            match (wanted, operator) {
                (Value::Bool(true), None) => {
                    let mut value = value_of(fields.get(field));
                    if let (Some(Value::Object(ignored)), Value::Object(object)) = (
                        generator.get("ignore").and_then(|ignore| ignore.get(field)),
                        &mut value,
                    ) {
                        object.retain(|key, _| !ignored.contains_key(key));
                    }
                    predicate.insert("deepEquals".into(), json!({ field.clone(): value }));
                }
                (_, Some(operator)) => {
                    predicate.insert(operator.to_string(), value_of(Some(fields)));
                }
                (wanted, None) => {
                    predicate.insert(
                        "equals".into(),
                        json!({ field.clone(): build_equals(fields.get(field), wanted, &value_of) }),
                    );
                }
            }
            predicates.push(Value::Object(predicate));
        }
    }
    Value::Array(predicates)
}

/// mountebank's `buildEquals`: the request's values for the keys a
/// sub-object names (`{"query": {"first": true}}`).
fn build_equals(
    value: Option<&Value>,
    wanted: &Value,
    value_of: &dyn Fn(Option<&Value>) -> Value,
) -> Value {
    let Some(wanted) = wanted.as_object() else {
        return value_of(value);
    };
    let mut result = Map::new();
    for (key, inner) in wanted {
        let field = value.and_then(|value| value.get(key));
        let built = match field {
            Some(Value::Object(_)) => build_equals(field, inner, value_of),
            _ => value_of(field),
        };
        result.insert(key.clone(), built);
    }
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_predicates_follow_mountebank() {
        let request = Request::new("GET", "/first?q=1&other=2").with_header("X-Id", "7");
        let cases = [
            (
                json!([{"matches": {"path": true, "method": true}}]),
                json!([{"deepEquals": {"path": "/first"}}, {"deepEquals": {"method": "GET"}}]),
            ),
            (
                json!([{"matches": {"query": {"q": true}}, "caseSensitive": true}]),
                json!([{"caseSensitive": true, "equals": {"query": {"q": "1"}}}]),
            ),
            (
                json!([{"matches": {"query": true}, "ignore": {"query": {"other": true}}}]),
                json!([{"deepEquals": {"query": {"q": "1"}}}]),
            ),
            (json!(null), json!([])),
        ];
        for (generators, expected) in cases {
            assert_eq!(
                predicates_for(&request, Some(&generators), None),
                expected,
                "{generators}"
            );
        }
    }

    #[test]
    fn names_are_shown_in_title_case() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-request-id"), "X-Request-Id");
    }
}
