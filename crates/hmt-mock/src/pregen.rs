//! HMT's pregen middleware: webhooks that rewrite an operation's response
//! schemas before data is generated from them.
//!
//! Each URL registered through the admin API is POSTed, in registration
//! order, a JSON document
//!
//! ```json
//! {"request": {"method": "get", "host": "api.example.com", "path": "/users?page=2", ...},
//!  "schemas": {"200": {"application/json": {"type": "array", "items": {...}}}}}
//! ```
//!
//! (`request` in http-types form; `schemas` by status code, then media
//! type) and answers the same `schemas` shape, changed as it likes, either
//! bare or as `{"schemas": ...}`. The next URL gets what the previous one
//! returned, and the mock generates the response from the result. A
//! webhook that fails or answers something else is logged (a warning with
//! its URL) and skipped: the mock still answers.
//!
//! Webhooks are `http://` or `https://` URLs, typically a test's own server
//! on localhost; an `https://` one must show a certificate the system's CA
//! store (`SSL_CERT_FILE` too) or the bundled web roots trust. Since anyone who reaches the admin API can register one, the
//! mock calls only loopback hosts (`localhost`, `127.x.x.x`, `[::1]`)
//! unless `hmt mock --allow-webhook HOST` names another, and the client's
//! credentials (`Authorization`, `Proxy-Authorization`, `Cookie`) are
//! taken out of the request a webhook is sent: the admin API must not be
//! a way to collect them.

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Why a webhook URL handed to the admin API is not usable.
#[derive(Debug, thiserror::Error)]
pub enum WebhookUrlError {
    /// It does not parse as a URI.
    #[error("{url:?} is not a URL: {error}")]
    NotAUrl {
        /// The URL as given.
        url: String,
        /// What the URI parser said.
        error: http::uri::InvalidUri,
    },
    /// It is not an absolute `http://` or `https://` URL.
    #[error("{0:?}: webhooks must be http:// or https:// URLs")]
    NotHttp(String),
    /// Its authority names no host.
    #[error("{0:?}: no host in the URL")]
    NoHost(String),
    /// Its host is not on loopback and `--allow-webhook` does not name it.
    #[error(
        "{url:?}: webhooks may call only loopback hosts (localhost, 127.x.x.x, [::1]); start hmt mock with --allow-webhook {host} to allow this one"
    )]
    NotAllowed {
        /// The URL as given.
        url: String,
        /// Its host.
        host: String,
    },
}

/// How long one webhook may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Request headers never sent to a webhook: the client's credentials.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The registered webhooks.
pub struct Pregen {
    urls: Mutex<Vec<String>>,
    /// Hosts besides loopback ones webhooks may be on, lower-case.
    allowed_hosts: Vec<String>,
    /// Made on the first call: reading the system's CA store takes a
    /// moment every mock would otherwise spend at start.
    client: OnceLock<Result<WebhookClient, String>>,
}

type WebhookClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `http://` and `https://` webhooks; `https://` ones are
/// verified against the system's CA store and the bundled web roots.
fn webhook_client() -> Result<WebhookClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!("system CA certificates: {error}");
    }
    roots.add_parsable_certificates(native.certs);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| format!("TLS for webhooks: {error}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

impl Default for Pregen {
    fn default() -> Pregen {
        Pregen::new(Vec::new())
    }
}

impl Pregen {
    /// No webhooks yet; they may be on loopback hosts and on
    /// `allowed_hosts` (`--allow-webhook`).
    pub fn new(allowed_hosts: Vec<String>) -> Pregen {
        Pregen {
            urls: Mutex::new(Vec::new()),
            allowed_hosts: allowed_hosts
                .iter()
                .map(|host| {
                    crate::hosts::host_of(host).unwrap_or_else(|| host.to_ascii_lowercase())
                })
                .collect(),
            client: OnceLock::new(),
        }
    }

    /// The URLs, in the order they run.
    pub fn urls(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// Adds `url` (once); an error says why it is not usable.
    pub fn add(&self, url: &str) -> Result<(), WebhookUrlError> {
        let parsed: http::Uri = url.parse().map_err(|error| WebhookUrlError::NotAUrl {
            url: url.to_owned(),
            error,
        })?;
        let Some(authority) = parsed.authority() else {
            return Err(WebhookUrlError::NotHttp(url.to_owned()));
        };
        if !matches!(parsed.scheme_str(), Some("http" | "https")) {
            return Err(WebhookUrlError::NotHttp(url.to_owned()));
        }
        let host = crate::hosts::host_of(authority.as_str())
            .ok_or_else(|| WebhookUrlError::NoHost(url.to_owned()))?;
        if !crate::hosts::is_loopback(&host) && !self.allowed_hosts.contains(&host) {
            return Err(WebhookUrlError::NotAllowed {
                url: url.to_owned(),
                host,
            });
        }
        let mut urls = self.lock();
        if !urls.iter().any(|u| u == url) {
            urls.push(url.to_owned());
        }
        Ok(())
    }

    /// Removes `url`; whether it was there.
    pub fn remove(&self, url: &str) -> bool {
        let mut urls = self.lock();
        let before = urls.len();
        urls.retain(|u| u != url);
        urls.len() != before
    }

    /// Removes every URL.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Whether any webhook is registered.
    pub fn is_active(&self) -> bool {
        !self.lock().is_empty()
    }

    /// `schemas` after every webhook has had its say.
    pub async fn apply(&self, request: &Value, mut schemas: Value) -> Value {
        let request = without_credentials(request);
        for url in self.urls() {
            match self.call(&url, &request, &schemas).await {
                Ok(changed) => schemas = changed,
                Err(error) => tracing::warn!(%url, "pregen webhook {url} skipped: {error}"),
            }
        }
        schemas
    }

    async fn call(&self, url: &str, request: &Value, schemas: &Value) -> Result<Value, String> {
        let body = serde_json::to_vec(&json!({"request": request, "schemas": schemas}))
            .map_err(|e| e.to_string())?;
        let request = Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let client = self
            .client
            .get_or_init(webhook_client)
            .as_ref()
            .map_err(Clone::clone)?;
        let response = tokio::time::timeout(TIMEOUT, client.request(request))
            .await
            .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("answer is not JSON: {e}"))?;
        let schemas = match value {
            Value::Object(mut map) if map.contains_key("schemas") => {
                map.remove("schemas").unwrap_or(Value::Null)
            }
            other => other,
        };
        if schemas.is_object() {
            Ok(schemas)
        } else {
            Err("answer is not a schemas object".into())
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        hmt_types::sync::lock(&self.urls)
    }
}

/// `request` (http-types form) without the client's credential headers.
fn without_credentials(request: &Value) -> Value {
    let mut request = request.clone();
    if let Some(headers) = request.get_mut("headers").and_then(Value::as_object_mut) {
        headers.retain(|name, _| {
            !CREDENTIAL_HEADERS
                .iter()
                .any(|credential| name.eq_ignore_ascii_case(credential))
        });
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_unless_allowed() {
        let pregen = Pregen::default();
        for url in [
            "http://localhost:9/hook",
            "http://127.0.0.1:9/hook",
            "http://127.1.2.3/hook",
            "http://[::1]:9/hook",
        ] {
            assert!(pregen.add(url).is_ok(), "{url}");
        }
        let refused = pregen
            .add("http://hooks.example.com/x")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("--allow-webhook hooks.example.com"),
            "{refused}"
        );
        assert!(pregen.add("http://169.254.169.254/latest").is_err());
        assert!(pregen.add("https://localhost:9/hook").is_ok());
        assert!(pregen.add("file:///etc/passwd").is_err());
        assert!(pregen.add("ftp://127.0.0.1/x").is_err());
        assert!(pregen.add("http:///nohost").is_err());

        let allowing = Pregen::new(vec!["Hooks.Example.com".into()]);
        assert!(allowing.add("http://hooks.example.com:8080/x").is_ok());
        assert!(allowing.add("http://other.example.com/x").is_err());
    }

    #[test]
    fn credentials_are_taken_out_of_the_request() {
        let request = json!({"method": "get", "headers": {
            "authorization": "Bearer secret", "Cookie": "s=1",
            "proxy-authorization": "Basic x", "accept": "application/json"}});
        assert_eq!(
            without_credentials(&request),
            json!({"method": "get", "headers": {"accept": "application/json"}})
        );
    }
}
