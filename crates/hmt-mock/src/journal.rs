//! What the mock remembers of the exchanges it served: the journal behind
//! `GET /admin/requests`, and the http-types log of `--log-dir`.
//!
//! The journal keeps each exchange as it was served (headers and bodies are
//! reference-counted, so that costs a few clones on the request path) and
//! turns it into http-types only when read. The log is written at once, one
//! whole line per exchange under its file's lock, in the format `hmt
//! record` writes, so a mock session can be built into a spec like any
//! recording.
//!
//! The journal is bounded by count and by bytes (bodies, headers and the
//! target, counted per entry; the oldest go first), and bodies over a size
//! are kept truncated, their whole length in `meta.requestBodyTruncated`
//! or `meta.responseBodyTruncated`: many large requests cannot make the
//! mock's memory grow past its bound.
//!
//! The log keeps at most [`MAX_OPEN_LOG_FILES`] files open, the most
//! recently written: every distinct `Host` a client sends names a file,
//! and without a bound a client could use up the process's file
//! descriptors. A file closed that way is opened again, for appending,
//! when its host comes back. A log file that cannot be opened or written
//! is reported (an error in the log naming it) and the exchange is still
//! answered; one that keeps failing is reported at most once per
//! [`LOG_FAILURE_INTERVAL`], each report saying how many failures were
//! not reported since the last (see [`crate::throttle`]).

use crate::server::{AnsweredBy, Target};
use crate::throttle::{Failure, Throttle};
use bytes::Bytes;
use hmt_types::sync::lock;
use http::{HeaderMap, Method, StatusCode};
use indexmap::IndexMap;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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
    /// For a refused request no source answered while stubs were
    /// programmed: the nearest stub and why it refused
    /// ([`hmt_stub::Stubs::nearest_json`]).
    pub(crate) nearest_stub: Option<serde_json::Value>,
    /// hmt's problem document, when a refusal was sent in the operation's
    /// documented shape.
    pub(crate) problem: Option<Arc<serde_json::Value>>,
    /// The whole lengths of the request and response bodies kept truncated.
    pub(crate) truncated: (Option<usize>, Option<usize>),
}

/// Bytes counted for an entry besides its bodies, headers and target.
const ENTRY_OVERHEAD: usize = 256;

/// The exchanges kept for `GET /admin/requests`, oldest first, and the
/// bytes they are counted as.
#[derive(Default)]
pub(crate) struct Journal {
    entries: VecDeque<(Served, usize)>,
    bytes: usize,
}

impl Journal {
    /// Adds `served`, dropping the oldest entries while there are more
    /// than `count` or more than `bytes` bytes.
    pub(crate) fn push(&mut self, served: Served, count: usize, bytes: usize) {
        let size = served.size();
        self.entries.push_back((served, size));
        self.bytes += size;
        while self.entries.len() > count || (self.bytes > bytes && !self.entries.is_empty()) {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Served> {
        self.entries.iter().map(|(served, _)| served)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

impl Served {
    /// The bytes this entry is counted as.
    fn size(&self) -> usize {
        let headers = |map: &HeaderMap| {
            map.iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 8)
                .sum::<usize>()
        };
        ENTRY_OVERHEAD
            + self.request_body.len()
            + self.response_body.len()
            + headers(&self.request_headers)
            + headers(&self.response_headers)
            + self.target.path.len()
            + self.target.query.len()
            + self.target.host.as_ref().map_or(0, String::len)
            + self
                .nearest_stub
                .as_ref()
                .map_or(0, |nearest| nearest.to_string().len())
    }

    /// This entry with bodies over `limit` bytes cut to it (copied, so the
    /// whole body is freed) and their lengths kept.
    pub(crate) fn truncated(mut self, limit: usize) -> Served {
        let cut = |body: &mut Bytes| {
            (body.len() > limit).then(|| {
                let length = body.len();
                *body = Bytes::copy_from_slice(&body[..limit]);
                length
            })
        };
        self.truncated = (cut(&mut self.request_body), cut(&mut self.response_body));
        if let Some(nearest) = &mut self.nearest_stub {
            cut_reasons(nearest, limit);
        }
        self
    }

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
        if let Some(nearest) = &self.nearest_stub {
            meta.insert("nearestStub".into(), nearest.clone());
        }
        if let Some(problem) = &self.problem {
            meta.insert("problem".into(), (**problem).clone());
        }
        if let Some(length) = self.truncated.0 {
            meta.insert("requestBodyTruncated".into(), length.into());
        }
        if let Some(length) = self.truncated.1 {
            meta.insert("responseBodyTruncated".into(), length.into());
        }
        hmt_types::Exchange {
            request,
            response: Some(response),
            meta,
        }
    }
}

/// Cuts each reason of a nearest-stub report (`refused[].why`, which
/// quotes what the request has, its whole body perhaps) to `limit` bytes,
/// saying how long it was.
fn cut_reasons(nearest: &mut serde_json::Value, limit: usize) {
    let Some(refused) = nearest
        .get_mut("refused")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for refusal in refused {
        if let Some(serde_json::Value::String(why)) = refusal.get_mut("why")
            && why.len() > limit
        {
            let length = why.len();
            let mut end = limit;
            while !why.is_char_boundary(end) {
                end -= 1;
            }
            why.truncate(end);
            why.push_str(&format!("... ({length} bytes in all)"));
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

/// How many log files are kept open at once.
pub(crate) const MAX_OPEN_LOG_FILES: usize = 64;

/// How often a log file that keeps failing is reported (the first
/// failure at once).
pub(crate) const LOG_FAILURE_INTERVAL: Duration = Duration::from_secs(10);

/// How many failing log files are counted, each reported on its own.
const MAX_FAILING_LOG_FILES: usize = 1024;

/// Per-host http-types logs, one line per served exchange, each written
/// whole under its file's lock.
pub(crate) struct LogFiles {
    dir: PathBuf,
    /// The open files by host, least recently written first: an
    /// `IndexMap` keeps that order, and with at most
    /// [`MAX_OPEN_LOG_FILES`] entries moving one to the end costs little.
    files: Mutex<IndexMap<String, Arc<Mutex<std::fs::File>>>>,
    /// The files failing to open or write: reported the first time, then
    /// once per [`LOG_FAILURE_INTERVAL`] each, rather than on every
    /// request.
    failing: Mutex<Throttle<PathBuf>>,
}

impl LogFiles {
    /// Logs in `dir`, created if need be.
    pub(crate) fn new(dir: PathBuf) -> std::io::Result<LogFiles> {
        std::fs::create_dir_all(&dir)?;
        Ok(LogFiles {
            dir,
            files: Mutex::new(IndexMap::new()),
            failing: Mutex::new(Throttle::new(LOG_FAILURE_INTERVAL, MAX_FAILING_LOG_FILES)),
        })
    }

    /// The log file of `host`.
    fn path(&self, host: &str) -> PathBuf {
        self.dir
            .join(format!("{}-mock.jsonl", hmt_types::file_safe_host(host)))
    }

    pub(crate) fn write(&self, exchange: &hmt_types::Exchange) {
        let host = exchange.request.host.as_deref().unwrap_or("localhost");
        let opened = {
            let mut files = lock(&self.files);
            match files.get_index_of(host) {
                Some(index) => {
                    let last = files.len() - 1;
                    files.move_index(index, last);
                    Ok(files[last].clone())
                }
                None => {
                    let path = self.path(host);
                    match std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                    {
                        Ok(file) => {
                            if files.len() >= MAX_OPEN_LOG_FILES {
                                // Closed once its last writer is done
                                // with it.
                                files.shift_remove_index(0);
                            }
                            let file = Arc::new(Mutex::new(file));
                            files.insert(host.to_owned(), file.clone());
                            Ok(file)
                        }
                        Err(error) => Err((path, error)),
                    }
                }
            }
        };
        let file = match opened {
            Ok(file) => file,
            Err((path, error)) => {
                self.failed(&path, "open", &error);
                return;
            }
        };
        let mut line = Vec::with_capacity(1024);
        exchange.write_json_line(&mut line);
        // One write of the whole line, appended: a line never interleaves
        // with another, even through a second handle a host got after its
        // first was closed.
        let written = lock(&file).write_all(&line);
        match written {
            Err(error) => self.failed(&self.path(host), "write", &error),
            Ok(()) => {
                let mut failing = lock(&self.failing);
                if !failing.is_empty() {
                    let path = self.path(host);
                    if let Some(held) = failing.recovered(&path) {
                        drop(failing);
                        tracing::warn!(
                            path = %path.display(),
                            unreported = held.count,
                            "the mock log {} is written again; {} failures to log into it since its last report were not reported",
                            path.display(),
                            held.count
                        );
                    }
                }
            }
        }
    }

    /// Reports that `path` could not be opened or written (`doing`),
    /// unless it was reported less than [`LOG_FAILURE_INTERVAL`] ago.
    fn failed(&self, path: &Path, doing: &str, error: &std::io::Error) {
        let (failure, pushed_out) = lock(&self.failing).failed(&path.to_path_buf(), Instant::now());
        if let Some(held) = pushed_out {
            tracing::warn!(
                path = %held.key.display(),
                unreported = held.count,
                "{} failures to log into {} since its last report were not reported (more than {MAX_FAILING_LOG_FILES} logs failing; it is no longer counted)",
                held.count,
                held.key.display()
            );
        }
        if let Failure::Report { unreported } = failure {
            let since = match unreported {
                0 => String::new(),
                n => format!(
                    " ({n} more failures of this log since its last report were not reported; at most one report per {} s)",
                    LOG_FAILURE_INTERVAL.as_secs()
                ),
            };
            tracing::error!(
                path = %path.display(),
                %error,
                unreported,
                "cannot {doing} the mock log {}: {error}; this exchange is not logged{since}",
                path.display()
            );
        }
    }
}
