//! Exact replay of recorded exchanges: the `x-hmt-replay` extension that
//! `hmt build` writes in replay and mixed modes.
//!
//! A request matches a recorded entry when its path (relative to the base
//! path), its query parameters, each recorded header and its body are the
//! same. Headers the recording does not list are not compared, and a
//! `hmt-redacted` value in a recorded JSON or form body matches any value
//! (the builder put it where a password or token was). Identical requests
//! get the recorded responses in recorded order; after the last, the last
//! one again, as a server that settled would.
//!
//! When nothing matches, [`nearest`] says which recorded request is closest
//! and what differs, so that a failing integration test says why.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What `hmt build` replaced secrets with.
pub const PLACEHOLDER: &str = "hmt-redacted";

/// One distinct recorded request and the responses it got.
#[derive(Debug)]
pub struct ReplayEntry {
    /// Path relative to the server base path, as recorded.
    pub path: String,
    /// Query parameters, in recorded order.
    pub query: Vec<(String, Vec<String>)>,
    /// Headers to compare (lower-case names).
    pub headers: Vec<(String, Vec<String>)>,
    /// The request body, if there was one.
    pub body: Option<Vec<u8>>,
    /// The body parsed, when it is JSON: parsed once, at load.
    body_json: Option<Value>,
    /// Responses in recorded order.
    pub responses: Vec<RecordedResponse>,
    /// How many times this entry has been served.
    served: AtomicUsize,
}

/// A recorded response.
#[derive(Debug)]
pub struct RecordedResponse {
    /// Its status code.
    pub status: u16,
    /// Its headers, in recorded order.
    pub headers: Vec<(String, String)>,
    /// Its body bytes.
    pub body: Bytes,
    /// How long the recorded upstream took to answer, when it was recorded.
    pub latency: Option<std::time::Duration>,
}

/// The request, as replay compares it.
pub struct Incoming<'a> {
    /// Path relative to the base path, as sent (percent-encoded).
    path: &'a str,
    /// Decoded query parameters, in order.
    query: &'a [(String, String)],
    /// Header lookup by lower-case name: every value.
    header: &'a dyn Fn(&str) -> Vec<String>,
    /// The body.
    body: &'a [u8],
    /// The body parsed as JSON, once, when an entry's body needs it.
    json: std::cell::OnceCell<Option<Value>>,
}

impl<'a> Incoming<'a> {
    /// A request to compare with recorded ones.
    pub fn new(
        path: &'a str,
        query: &'a [(String, String)],
        header: &'a dyn Fn(&str) -> Vec<String>,
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming {
            path,
            query,
            header,
            body,
            json: std::cell::OnceCell::new(),
        }
    }

    fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.body).ok())
            .as_ref()
    }
}

impl ReplayEntry {
    /// The response to serve now, moving the sequence on.
    pub fn next_response(&self) -> Option<&RecordedResponse> {
        let n = self.served.fetch_add(1, Ordering::Relaxed);
        self.responses
            .get(n.min(self.responses.len().saturating_sub(1)))
    }

    /// Starts the sequence over.
    pub fn rewind(&self) {
        self.served.store(0, Ordering::Relaxed);
    }

    /// Whether `request` matches: what serving asks of every entry, so it
    /// compares the cheap parts first and builds no messages.
    pub fn matches(&self, request: &Incoming<'_>) -> bool {
        let recorded_values: usize = self.query.iter().map(|(_, v)| v.len()).sum();
        same_path(request.path, &self.path)
            && recorded_values == request.query.len()
            && self.query.iter().all(|(name, values)| {
                let sent = request.query.iter().filter(|(n, _)| n == name);
                sent.map(|(_, v)| v).eq(values.iter())
            })
            && self
                .headers
                .iter()
                .all(|(name, recorded)| header_matches(&(request.header)(name), recorded))
            && self.body_difference(request).is_none()
    }

    /// Everything that differs between `request` and this entry; empty when
    /// it matches. For messages: serving asks [`ReplayEntry::matches`].
    pub fn differences(&self, request: &Incoming<'_>) -> Vec<String> {
        let mut out = Vec::new();
        if !same_path(request.path, &self.path) {
            out.push(format!("path is {} (recorded {})", request.path, self.path));
        }
        let mut names: Vec<&str> = self.query.iter().map(|(n, _)| n.as_str()).collect();
        for (name, _) in request.query {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let sent: Vec<&str> = request
                .query
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            let recorded: Vec<&str> = self
                .query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.iter().map(String::as_str).collect())
                .unwrap_or_default();
            if sent != recorded {
                out.push(format!(
                    "query parameter {name} is {} (recorded {})",
                    describe(&sent),
                    describe(&recorded)
                ));
            }
        }
        for (name, recorded) in &self.headers {
            let sent = (request.header)(name);
            if !header_matches(&sent, recorded) {
                let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
                let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
                out.push(format!(
                    "header {name} is {} (recorded {})",
                    describe(&sent),
                    describe(&recorded)
                ));
            }
        }
        if let Some(difference) = self.body_difference(request) {
            out.push(difference);
        }
        out
    }

    /// `None` when the bodies match: the same bytes, the same JSON (key
    /// order aside; placeholders match anything), or the same form fields.
    fn body_difference(&self, request: &Incoming<'_>) -> Option<String> {
        let (sent, recorded) = (request.body, self.body.as_deref().unwrap_or(b""));
        if sent == recorded {
            return None;
        }
        if let (Some(recorded_json), Some(sent_json)) = (&self.body_json, request.json()) {
            return json_difference(sent_json, recorded_json, &mut String::new());
        }
        if let (Ok(a), Ok(b)) = (std::str::from_utf8(sent), std::str::from_utf8(recorded))
            && b.contains(PLACEHOLDER)
            && b.contains('=')
        {
            let a: Vec<&str> = a.split('&').collect();
            let b: Vec<&str> = b.split('&').collect();
            let same = a.len() == b.len()
                && a.iter().zip(&b).all(|(x, y)| match y.split_once('=') {
                    Some((name, value)) if value == PLACEHOLDER => {
                        x.split_once('=').is_some_and(|(n, _)| n == name)
                    }
                    _ => x == y,
                });
            if same {
                return None;
            }
        }
        Some(if sent.is_empty() {
            format!("body is empty (recorded {} bytes)", recorded.len())
        } else if recorded.is_empty() {
            format!("body has {} bytes (recorded none)", sent.len())
        } else {
            format!(
                "body differs ({} bytes sent, {} recorded)",
                sent.len(),
                recorded.len()
            )
        })
    }
}

/// A recorded header's values against the sent ones; a recorded
/// placeholder matches any value.
fn header_matches(sent: &[String], recorded: &[String]) -> bool {
    sent.len() == recorded.len()
        && sent
            .iter()
            .zip(recorded)
            .all(|(s, r)| r == PLACEHOLDER || s == r)
}

fn describe(values: &[&str]) -> String {
    match values {
        [] => "absent".to_owned(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

/// Paths compare as sent, or with percent-escapes decoded on both sides.
fn same_path(sent: &str, recorded: &str) -> bool {
    sent == recorded
        || (sent.contains('%') || recorded.contains('%'))
            && hmt_types::decode_form_component(sent.as_bytes())
                == hmt_types::decode_form_component(recorded.as_bytes())
}

fn json_difference(sent: &Value, recorded: &Value, at: &mut String) -> Option<String> {
    if recorded.as_str() == Some(PLACEHOLDER) {
        return None;
    }
    let here = |at: &str| {
        if at.is_empty() {
            "/".to_owned()
        } else {
            at.to_owned()
        }
    };
    match (sent, recorded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                let len = at.len();
                hmt_types::pointer::push(at, key);
                let found = match a.get(key) {
                    Some(sent) => json_difference(sent, value, at),
                    None => Some(format!("body lacks {at} (recorded {value})")),
                };
                at.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            a.keys()
                .find(|k| !b.contains_key(*k))
                .map(|k| format!("body has {}/{k}, which the recording does not", at))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                let found = json_difference(x, y, at);
                at.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("body at {} is {a} (recorded {b})", here(at))),
    }
}

/// How far a request is from a recorded one: fewer differences first,
/// then more leading path segments in common. Lower is nearer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Distance {
    differences: usize,
    unshared_segments: usize,
}

impl Distance {
    /// The distance of a request for `path` to `entry`, which differs from
    /// it in `differences` things.
    pub fn new(entry: &ReplayEntry, path: &str, differences: usize) -> Distance {
        let recorded: Vec<&str> = entry.path.split('/').collect();
        let shared = path
            .split('/')
            .zip(&recorded)
            .take_while(|(a, b)| a == *b)
            .count();
        Distance {
            differences,
            unshared_segments: recorded.len().saturating_sub(shared),
        }
    }

    /// An extra difference (the method, say).
    pub fn plus_one(self) -> Distance {
        Distance {
            differences: self.differences + 1,
            ..self
        }
    }
}

/// The entry nearest to `request`, what differs, and how far it is.
pub fn nearest<'a>(
    entries: impl IntoIterator<Item = &'a ReplayEntry>,
    request: &Incoming<'_>,
) -> Option<(&'a ReplayEntry, Vec<String>, Distance)> {
    let mut best: Option<(&ReplayEntry, Vec<String>, Distance)> = None;
    for entry in entries {
        let differences = entry.differences(request);
        let distance = Distance::new(entry, request.path, differences.len());
        if best.as_ref().is_none_or(|(_, _, d)| distance < *d) {
            let done = differences.is_empty();
            best = Some((entry, differences, distance));
            if done {
                break;
            }
        }
    }
    best
}

/// A bad `x-hmt-replay`: where below it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at x-hmt-replay{pointer}: {message}")]
pub struct InvalidReplay {
    /// JSON pointer below `x-hmt-replay` (`/0/responses/0/statusCode`);
    /// empty for the value as a whole.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Reads `x-hmt-replay`.
pub fn parse_entries(value: &Value) -> Result<Vec<ReplayEntry>, InvalidReplay> {
    let Some(items) = value.as_array() else {
        return Err(InvalidReplay {
            pointer: String::new(),
            message: "expected an array".into(),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_entry(item).map_err(|(at, message)| InvalidReplay {
                pointer: format!("/{i}{at}"),
                message,
            })
        })
        .collect()
}

fn parse_entry(item: &Value) -> Result<ReplayEntry, (String, String)> {
    let request = item
        .get("request")
        .ok_or(("".into(), "an entry needs a `request`".to_owned()))?;
    let path = request
        .get("path")
        .and_then(Value::as_str)
        .ok_or(("/request/path".into(), "expected a string".to_owned()))?
        .to_owned();
    let query = fields(request.get("query")).map_err(|m| ("/request/query".to_owned(), m))?;
    let headers = fields(request.get("headers"))
        .map_err(|m| ("/request/headers".to_owned(), m))?
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect();
    let body = read_body(request)
        .map_err(|m| ("/request".to_owned(), m))?
        .map(|b| b.to_vec());
    let mut responses = Vec::new();
    for (i, response) in item
        .get("responses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = |what: &str| format!("/responses/{i}{what}");
        let status = response
            .get("statusCode")
            .and_then(Value::as_u64)
            .filter(|s| (100..=599).contains(s))
            .ok_or((at("/statusCode"), "expected a status code".to_owned()))?
            as u16;
        let headers = fields(response.get("headers"))
            .map_err(|m| (at("/headers"), m))?
            .into_iter()
            .flat_map(|(n, values)| values.into_iter().map(move |v| (n.clone(), v)))
            .collect();
        let body = read_body(response)
            .map_err(|m| (at(""), m))?
            .unwrap_or_default();
        let latency = match response.get("latencyMs") {
            None => None,
            Some(ms) => Some(
                ms.as_f64()
                    .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms <= 3_600_000.0)
                    .map(|ms| std::time::Duration::from_micros((ms * 1000.0) as u64))
                    .ok_or((
                        at("/latencyMs"),
                        "expected milliseconds, 0 to 3600000".to_owned(),
                    ))?,
            ),
        };
        responses.push(RecordedResponse {
            status,
            headers,
            body,
            latency,
        });
    }
    if responses.is_empty() {
        return Err((
            "/responses".into(),
            "an entry needs at least one response".into(),
        ));
    }
    let body_json = body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
    Ok(ReplayEntry {
        path,
        query,
        headers,
        body,
        body_json,
        responses,
        served: AtomicUsize::new(0),
    })
}

/// http-types fields: each value a string or an array of strings.
fn fields(value: Option<&Value>) -> Result<Vec<(String, Vec<String>)>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(map) = value.as_object() else {
        return Err("expected an object".into());
    };
    map.iter()
        .map(|(name, value)| {
            let values = match value {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{name}: expected strings"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(format!("{name}: expected a string or an array of strings")),
            };
            Ok((name.clone(), values))
        })
        .collect()
}

fn read_body(object: &Value) -> Result<Option<Bytes>, String> {
    let Some(text) = object.get("body").and_then(Value::as_str) else {
        return Ok(None);
    };
    if object.get("bodyEncoding").and_then(Value::as_str) == Some("base64") {
        return BASE64
            .decode(text)
            .map(|b| Some(Bytes::from(b)))
            .map_err(|e| format!("body: bad base64: {e}"));
    }
    Ok(Some(Bytes::copy_from_slice(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(value: Value) -> ReplayEntry {
        parse_entries(&json!([value])).unwrap().pop().unwrap()
    }

    fn incoming<'a>(
        path: &'a str,
        query: &'a [(String, String)],
        body: &'a [u8],
        header: &'a dyn Fn(&str) -> Vec<String>,
    ) -> Incoming<'a> {
        Incoming::new(path, query, header, body)
    }

    #[test]
    fn identical_requests_get_the_responses_in_order_then_the_last() {
        let e = entry(
            json!({"request": {"path": "/a"}, "responses": [{"statusCode": 201, "body": "one"}, {"statusCode": 409, "body": "two"}]}),
        );
        let bodies: Vec<_> = (0..3)
            .map(|_| e.next_response().unwrap().body.clone())
            .collect();
        assert_eq!(bodies, ["one", "two", "two"]);
        e.rewind();
        assert_eq!(e.next_response().unwrap().status, 201);
    }

    #[test]
    fn placeholders_match_any_value_and_differences_are_named() {
        let e = entry(json!({
            "request": {"path": "/login", "query": {"page": "1"}, "headers": {"x-tenant": "acme"}, "body": "{\"user\":\"ann\",\"password\":\"hmt-redacted\"}"},
            "responses": [{"statusCode": 200}]
        }));
        let tenant = |name: &str| {
            if name == "x-tenant" {
                vec!["acme".to_owned()]
            } else {
                vec![]
            }
        };
        let query = [("page".to_owned(), "1".to_owned())];
        let ok = incoming(
            "/login",
            &query,
            br#"{"password":"s3cret","user":"ann"}"#,
            &tenant,
        );
        assert!(e.differences(&ok).is_empty());
        assert!(e.matches(&ok));

        let none = |_: &str| vec![];
        let query2 = [("page".to_owned(), "2".to_owned())];
        let bad = incoming(
            "/login",
            &query2,
            br#"{"user":"bob","password":"x"}"#,
            &none,
        );
        assert!(!e.matches(&bad));
        assert_eq!(
            e.differences(&bad),
            [
                "query parameter page is \"2\" (recorded \"1\")",
                "header x-tenant is absent (recorded \"acme\")",
                "body at /user is \"bob\" (recorded \"ann\")",
            ]
        );
    }

    #[test]
    fn base64_bodies_and_bad_entries() {
        let e = entry(
            json!({"request": {"path": "/f", "body": "AAE=", "bodyEncoding": "base64"}, "responses": [{"statusCode": 200, "body": "/w==", "bodyEncoding": "base64"}]}),
        );
        assert_eq!(e.body.as_deref(), Some(&[0u8, 1][..]));
        assert_eq!(&e.responses[0].body[..], &[0xff]);
        let err =
            parse_entries(&json!([{"request": {"path": "/a"}, "responses": [{"statusCode": 42}]}]))
                .unwrap_err();
        assert_eq!(
            err,
            InvalidReplay {
                pointer: "/0/responses/0/statusCode".to_owned(),
                message: "expected a status code".to_owned()
            }
        );
    }
}
