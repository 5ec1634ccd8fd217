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
//! webhook that fails or answers something else is logged and skipped: the
//! mock still answers. Webhooks are plain `http://` URLs, typically a
//! test's own server on localhost.

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::sync::Mutex;
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
    /// It is not an absolute `http://` URL.
    #[error("{0:?}: webhooks must be http:// URLs")]
    NotHttp(String),
}

/// How long one webhook may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The registered webhooks.
pub struct Pregen {
    urls: Mutex<Vec<String>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Pregen {
    fn default() -> Pregen {
        Pregen {
            urls: Mutex::new(Vec::new()),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Pregen {
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
        if parsed.scheme_str() != Some("http") || parsed.authority().is_none() {
            return Err(WebhookUrlError::NotHttp(url.to_owned()));
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
        for url in self.urls() {
            match self.call(&url, request, &schemas).await {
                Ok(changed) => schemas = changed,
                Err(error) => tracing::warn!(%url, "pregen webhook skipped: {error}"),
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
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
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
