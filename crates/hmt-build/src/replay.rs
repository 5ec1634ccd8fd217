//! Recorded exchanges kept for exact replay: the `x-hmt-replay` extension.
//!
//! In replay and mixed modes every operation carries, next to its schemas,
//! the list of distinct requests recorded for it and the responses each
//! got, in recorded order:
//!
//! ```json
//! "x-hmt-replay": [
//!   {
//!     "request": {"path": "/v1/payments/confirm", "query": {}, "headers": {}, "body": "{\"id\":1}"},
//!     "responses": [
//!       {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": "{\"paymentId\":\"foo\"}", "example": "recorded-1"},
//!       {"statusCode": 409, "body": "already confirmed"}
//!     ]
//!   }
//! ]
//! ```
//!
//! A request matches an entry when its path (relative to the server base
//! path), its query parameters, each header listed (names lower-case) and
//! its body are the same; headers not listed are not compared. Headers that
//! vary per request or carry credentials ([`crate::headers::IGNORED_HEADERS`])
//! and API-key query parameters are never listed, so neither secrets nor
//! tracing ids reach the spec. Repeated identical requests keep every
//! response in order: a mock serves them in sequence. Bodies are the exact
//! recorded text, except that the values of secret fields (passwords,
//! tokens: see [`crate::secrets`]) are replaced by `hmt-redacted`, which in
//! a request body matches any value; a body that is not UTF-8 is base64 with
//! `"bodyEncoding": "base64"`. `example` names the entry of the response
//! media type's standard `examples` map that shows the same body.

use crate::media::{BodyStats, classify};
use crate::{headers, secrets};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmt_types::{Fields, Request, Response};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
struct ReplayEntry {
    first_seen: u64,
    path: String,
    query: Fields,
    headers: Fields,
    body: Option<Vec<u8>>,
    responses: Vec<RecordedResponse>,
}

#[derive(Clone, Debug)]
struct RecordedResponse {
    status: u16,
    headers: Fields,
    body: Option<Vec<u8>>,
    /// How long the upstream took (`meta.latencyMs` of `hmt record`), for
    /// `hmt mock --latency recorded`.
    latency_ms: Option<f64>,
}

/// The distinct requests of one operation, each with its responses in order.
#[derive(Clone, Debug, Default)]
pub struct ReplayLog {
    entries: Vec<ReplayEntry>,
    index: HashMap<Vec<u8>, usize>,
}

/// Examples per (status, media type): names and values, in recorded order.
pub type RecordedExamples = BTreeMap<(u16, String), Vec<(String, Value)>>;

fn matching_key(path: &str, query: &Fields, headers: &Fields, body: Option<&[u8]>) -> Vec<u8> {
    let mut key = Vec::with_capacity(path.len() + 64);
    key.extend_from_slice(path.as_bytes());
    for (part, fields) in [(b'?', query), (b'#', headers)] {
        key.push(0);
        key.push(part);
        for (name, values) in fields.iter() {
            key.extend_from_slice(name.as_bytes());
            for value in values {
                key.push(1);
                key.extend_from_slice(value.as_bytes());
            }
            key.push(2);
        }
    }
    key.push(0);
    if let Some(body) = body {
        key.push(b'b');
        key.extend_from_slice(body);
    }
    key
}

fn filtered(fields: &Fields, keep: impl Fn(&str) -> bool, lower: bool) -> Fields {
    Fields::from_entries(
        fields
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, values)| {
                let name = if lower {
                    name.to_ascii_lowercase()
                } else {
                    name.to_owned()
                };
                (name, values.to_vec())
            }),
    )
}

impl ReplayLog {
    /// Records one exchange under its matching request.
    pub fn record(
        &mut self,
        sequence: u64,
        path: &str,
        request: &Request,
        response: Option<&Response>,
        latency_ms: Option<f64>,
    ) {
        let query = filtered(&request.query, |n| !headers::is_api_key_query(n), false);
        let request_headers = filtered(&request.headers, |n| !headers::is_ignored_header(n), true);
        let body = request.body.as_deref().filter(|b| !b.is_empty()).map(|b| {
            secrets::redacted_body(b, is_form(&request.headers)).unwrap_or_else(|| b.to_vec())
        });
        let key = matching_key(path, &query, &request_headers, body.as_deref());
        let index = match self.index.get(&key) {
            Some(i) => *i,
            None => {
                self.entries.push(ReplayEntry {
                    first_seen: sequence,
                    path: path.to_owned(),
                    query,
                    headers: request_headers,
                    body,
                    responses: Vec::new(),
                });
                self.index.insert(key, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        if let Some(response) = response {
            self.entries[index].responses.push(RecordedResponse {
                status: response.status,
                headers: filtered(
                    &response.headers,
                    |n| n.eq_ignore_ascii_case("content-type") || !headers::is_ignored_header(n),
                    false,
                ),
                body: response.body.as_deref().filter(|b| !b.is_empty()).map(|b| {
                    secrets::redacted_body(b, is_form(&response.headers))
                        .unwrap_or_else(|| b.to_vec())
                }),
                latency_ms: latency_ms.filter(|ms| ms.is_finite() && *ms >= 0.0),
            });
        }
    }

    /// Folds another log in (another path's, when paths are merged).
    pub fn merge(&mut self, other: ReplayLog) {
        for entry in other.entries {
            let key = matching_key(
                &entry.path,
                &entry.query,
                &entry.headers,
                entry.body.as_deref(),
            );
            match self.index.get(&key) {
                Some(i) => {
                    let existing = &mut self.entries[*i];
                    existing.first_seen = existing.first_seen.min(entry.first_seen);
                    existing.responses.extend(entry.responses);
                }
                None => {
                    self.entries.push(entry);
                    self.index.insert(key, self.entries.len() - 1);
                }
            }
        }
    }

    /// Number of distinct requests.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn sorted(&self) -> Vec<&ReplayEntry> {
        let mut entries: Vec<&ReplayEntry> = self.entries.iter().collect();
        entries.sort_by_key(|e| e.first_seen);
        entries
    }

    /// Names each distinct response body per (status, media type) and
    /// returns, for every entry's every response, the name of its example.
    fn plan(&self) -> (RecordedExamples, Vec<Vec<Option<String>>>) {
        let mut examples = RecordedExamples::new();
        let mut by_body: HashMap<(u16, String, &[u8]), String> = HashMap::new();
        let mut names = Vec::new();
        for entry in self.sorted() {
            let mut entry_names = Vec::new();
            for response in &entry.responses {
                let Some(body) = response.body.as_deref() else {
                    entry_names.push(None);
                    continue;
                };
                let (media, class) =
                    classify(response.headers.get_ignore_case("content-type"), body);
                if let Some(name) = by_body.get(&(response.status, media.clone(), body)) {
                    entry_names.push(Some(name.clone()));
                    continue;
                }
                let Some(value) = BodyStats::example_value(class, body) else {
                    entry_names.push(None);
                    continue;
                };
                let list = examples
                    .entry((response.status, media.clone()))
                    .or_default();
                let name = format!("recorded-{}", list.len() + 1);
                list.push((name.clone(), value));
                by_body.insert((response.status, media, body), name.clone());
                entry_names.push(Some(name));
            }
            names.push(entry_names);
        }
        (examples, names)
    }

    /// The standard OpenAPI examples (every distinct recorded body, by
    /// status and media type) and the `x-hmt-replay` value that names them,
    /// planned once.
    pub fn render(&self, base_path: &str) -> (RecordedExamples, Value) {
        let (examples, names) = self.plan();
        let entries = self
            .sorted()
            .into_iter()
            .zip(names)
            .map(|(entry, names)| {
                let mut request = Map::new();
                let path = entry
                    .path
                    .strip_prefix(base_path)
                    .filter(|p| p.starts_with('/'))
                    .unwrap_or(&entry.path);
                request.insert("path".into(), path.into());
                request.insert("query".into(), fields_value(&entry.query));
                request.insert("headers".into(), fields_value(&entry.headers));
                insert_body(&mut request, entry.body.as_deref());
                let responses = entry
                    .responses
                    .iter()
                    .zip(names)
                    .map(|(response, name)| {
                        let mut r = Map::new();
                        r.insert("statusCode".into(), response.status.into());
                        r.insert("headers".into(), fields_value(&response.headers));
                        insert_body(&mut r, response.body.as_deref());
                        if let Some(name) = name {
                            r.insert("example".into(), name.into());
                        }
                        if let Some(ms) = response.latency_ms {
                            r.insert("latencyMs".into(), ms.into());
                        }
                        Value::Object(r)
                    })
                    .collect();
                let mut e = Map::new();
                e.insert("request".into(), Value::Object(request));
                e.insert("responses".into(), Value::Array(responses));
                Value::Object(e)
            })
            .collect();
        (examples, Value::Array(entries))
    }
}

fn insert_body(object: &mut Map<String, Value>, body: Option<&[u8]>) {
    let Some(body) = body else { return };
    match std::str::from_utf8(body) {
        Ok(text) => {
            object.insert("body".into(), text.into());
        }
        Err(_) => {
            object.insert("body".into(), BASE64.encode(body).into());
            object.insert("bodyEncoding".into(), "base64".into());
        }
    }
}

fn fields_value(fields: &Fields) -> Value {
    serde_json::to_value(fields).unwrap_or_else(|_| Value::Object(Map::new()))
}

fn is_form(headers: &Fields) -> bool {
    headers.get_ignore_case("content-type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}
