//! What the mock remembers of the exchanges it served: the journal behind
//! `GET /admin/requests`, and the http-types log of `--log-dir`.
//!
//! The journal keeps each exchange as it was served (headers and bodies are
//! reference-counted, so that costs a few clones on the request path) and
//! turns it into http-types only when read. The log is written at once, one
//! whole line per exchange under its file's lock, in the format `hmt
//! record` writes, so a mock session can be built into a spec like any
//! recording.

use crate::server::{AnsweredBy, Target, lock};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One served exchange, as the journal keeps it.
#[derive(Clone)]
pub(crate) struct Served {
    pub(crate) started: SystemTime,
    pub(crate) finished: SystemTime,
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) request_headers: HeaderMap,
    pub(crate) request_body: Bytes,
    pub(crate) status: StatusCode,
    pub(crate) response_headers: HeaderMap,
    pub(crate) response_body: Bytes,
    pub(crate) answered_by: Option<AnsweredBy>,
}

impl Served {
    pub(crate) fn exchange(&self) -> hmt_types::Exchange {
        let request = request_record(
            &self.method,
            &self.request_headers,
            &self.target,
            &self.request_body,
            self.started,
        );
        let mut response = hmt_types::Response::new(self.status.as_u16());
        for (name, value) in &self.response_headers {
            if let Ok(value) = value.to_str() {
                response.headers.append(name.as_str(), value);
            }
        }
        if !self.response_body.is_empty() {
            response.body = Some(self.response_body.to_vec());
        }
        response.timestamp = Some(hmt_types::clock::rfc3339_millis(self.finished));
        let mut meta = serde_json::Map::new();
        if let Some(source) = self.answered_by {
            meta.insert("answeredBy".into(), source.name().into());
            if let AnsweredBy::Stub(index) = source {
                meta.insert("stub".into(), index.into());
            }
        }
        hmt_types::Exchange {
            request,
            response: Some(response),
            meta,
        }
    }
}

/// The request in http-types form.
pub(crate) fn request_record(
    method: &Method,
    headers: &HeaderMap,
    target: &Target,
    body: &Bytes,
    started: SystemTime,
) -> hmt_types::Request {
    let method = hmt_types::Method::parse(method.as_str()).unwrap_or(hmt_types::Method::Get);
    let path_and_query = if target.query.is_empty() {
        target.path.clone()
    } else {
        format!("{}?{}", target.path, target.query)
    };
    let mut request = hmt_types::Request::new(method, &path_and_query);
    request.host = target.host.clone();
    request.protocol = target
        .scheme
        .as_deref()
        .and_then(hmt_types::Protocol::parse)
        .or(Some(hmt_types::Protocol::Http));
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            request.headers.append(name.as_str(), value);
        }
    }
    if !body.is_empty() {
        request.body = Some(body.to_vec());
    }
    request.timestamp = Some(hmt_types::clock::rfc3339_millis(started));
    request
}

/// Per-host http-types logs, one line per served exchange, each written
/// whole under its file's lock.
pub(crate) struct LogFiles {
    dir: PathBuf,
    files: Mutex<HashMap<String, Arc<Mutex<std::fs::File>>>>,
}

impl LogFiles {
    /// Logs in `dir`, created if need be.
    pub(crate) fn new(dir: PathBuf) -> std::io::Result<LogFiles> {
        std::fs::create_dir_all(&dir)?;
        Ok(LogFiles {
            dir,
            files: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn write(&self, exchange: &hmt_types::Exchange) {
        let host = exchange.request.host.as_deref().unwrap_or("localhost");
        let file = {
            let mut files = lock(&self.files);
            match files.get(host) {
                Some(file) => file.clone(),
                None => {
                    let path = self
                        .dir
                        .join(format!("{}-mock.jsonl", hmt_types::file_safe_host(host)));
                    match std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                    {
                        Ok(file) => {
                            let file = Arc::new(Mutex::new(file));
                            files.insert(host.to_owned(), file.clone());
                            file
                        }
                        Err(error) => {
                            tracing::error!(path = %path.display(), %error, "cannot open the mock log");
                            return;
                        }
                    }
                }
            }
        };
        let mut line = Vec::with_capacity(1024);
        exchange.write_json_line(&mut line);
        if let Err(error) = lock(&file).write_all(&line) {
            tracing::error!(%error, "cannot write the mock log");
        }
    }
}
