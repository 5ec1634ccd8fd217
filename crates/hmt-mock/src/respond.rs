//! Choosing the documented response to send and rendering it to bytes.
//!
//! Without client preferences the choice is deterministic, as a test
//! suite needs: the lowest 2xx (a `default`-only operation answers 400, as
//! HMT did: `default` documents errors), its media type as `Accept`
//! allows, its first example, and generated data only when the spec has
//! no example. The client steers with `Prefer` as in Prism:
//! `Prefer: code=404`, `Prefer: example=name`, `Prefer: dynamic=true`, or
//! with Prism's query parameters `?__code=404`, `?__example=name`,
//! `?__dynamic=true` (which win over the header; validation does not check
//! undocumented query parameters, so they pass it).
//!
//! Bodies are rendered in the chosen media type: JSON, XML shaped by the
//! schema's `xml` object (see [`xml`](crate::xml)), `text/csv` (an array of
//! objects is a header row and one row per object), and a string's own
//! text for other types.
//!
//! ```
//! use hmt_mock::respond::Preferences;
//! let p = Preferences::parse(Some("code=404, example=missing"));
//! assert_eq!((p.code, p.example.as_deref(), p.dynamic), (Some(404), Some("missing"), false));
//! ```

use crate::model::{MediaDef, Operation, ResponseDef, StatusKey};
use bytes::Bytes;
use serde_json::Value;

/// What a client asked for in `Prefer`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    /// `code=404`: the response documented for this status.
    pub code: Option<u16>,
    /// `example=name`: this named example.
    pub example: Option<String>,
    /// `dynamic=true`: generated data even where examples exist.
    pub dynamic: bool,
    /// `delay=300` or `delay=100-500`: wait before answering.
    pub delay: Option<crate::faults::DelayRange>,
    /// `fault=reset` (and the other kinds): break this answer.
    pub fault: Option<crate::faults::FaultKind>,
}

impl Preferences {
    /// Reads a `Prefer` header value: comma- or semicolon-separated
    /// `name=value` pairs, values optionally quoted; unknown ones ignored.
    pub fn parse(header: Option<&str>) -> Preferences {
        let mut out = Preferences::default();
        let Some(header) = header else { return out };
        for pair in header.split([',', ';']) {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "code" => out.code = value.parse().ok(),
                "example" => out.example = Some(value.to_owned()),
                "dynamic" => out.dynamic = value.eq_ignore_ascii_case("true"),
                "delay" => out.delay = crate::faults::DelayRange::parse(value).ok(),
                "fault" => out.fault = crate::faults::FaultKind::parse(value).ok(),
                _ => {}
            }
        }
        out
    }

    /// These preferences with Prism's query overrides (`__code`,
    /// `__example`, `__dynamic`) from the raw query string applied: they
    /// win over the `Prefer` header.
    ///
    /// ```
    /// use hmt_mock::respond::Preferences;
    /// let p = Preferences::parse(Some("code=200")).with_query("limit=3&__code=404&__dynamic=true");
    /// assert_eq!((p.code, p.dynamic), (Some(404), true));
    /// ```
    #[must_use]
    pub fn with_query(mut self, query: &str) -> Preferences {
        // The common case, no override, costs one scan and no allocation.
        if !query.contains("__") {
            return self;
        }
        for (name, value) in crate::server::parse_query(query) {
            match name.as_str() {
                "__code" => self.code = value.trim().parse().ok(),
                "__example" => self.example = Some(value),
                "__dynamic" => self.dynamic = value.trim().eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        self
    }

    /// Whether the client asked for anything.
    /// Whether the client asked for no particular response (delays and
    /// faults change how an answer is sent, not which one it is).
    pub fn is_empty(&self) -> bool {
        self.code.is_none() && self.example.is_none() && !self.dynamic
    }
}

/// Why the documented responses cannot satisfy a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsatisfiable {
    /// `Prefer: code=N` names a status the operation does not document.
    NoSuchCode {
        /// The status asked for.
        code: u16,
        /// What is documented.
        documented: Vec<String>,
    },
    /// `Prefer: example=name` names no example of the chosen response.
    NoSuchExample {
        /// The name asked for.
        name: String,
        /// The names there are.
        available: Vec<String>,
    },
    /// `Accept` allows none of the response's media types.
    NotAcceptable {
        /// The media types there are.
        available: Vec<String>,
    },
    /// The operation documents no response at all.
    NoResponses,
}

impl std::fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsatisfiable::NoSuchCode { code, documented } => {
                write!(
                    f,
                    "no response documented for status {code}; documented: {}",
                    documented.join(", ")
                )
            }
            Unsatisfiable::NoSuchExample { name, available } => {
                write!(
                    f,
                    "no example named {name:?}; examples: {}",
                    list_or_none(available)
                )
            }
            Unsatisfiable::NotAcceptable { available } => {
                write!(
                    f,
                    "Accept allows none of the documented media types: {}",
                    available.join(", ")
                )
            }
            Unsatisfiable::NoResponses => write!(f, "the operation documents no response"),
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The response to send: which documented one, with what status.
pub fn choose_response<'a>(
    operation: &'a Operation,
    preferences: &Preferences,
    pick: Option<&mut dyn FnMut(usize) -> usize>,
) -> Result<(&'a ResponseDef, u16), Unsatisfiable> {
    let responses = &operation.responses;
    if responses.is_empty() {
        return Err(Unsatisfiable::NoResponses);
    }
    if let Some(code) = preferences.code {
        let found = responses
            .iter()
            .find(|r| r.status == StatusKey::Code(code))
            .or_else(|| {
                responses
                    .iter()
                    .find(|r| matches!(r.status, StatusKey::Range(_)) && r.status.covers(code))
            })
            .or_else(|| responses.iter().find(|r| r.status == StatusKey::Default));
        return match found {
            Some(response) => Ok((response, code)),
            None => Err(Unsatisfiable::NoSuchCode {
                code,
                documented: responses.iter().map(|r| status_name(r.status)).collect(),
            }),
        };
    }
    if let Some(pick) = pick {
        let response = &responses[pick(responses.len()).min(responses.len() - 1)];
        return Ok((response, status_of(response.status)));
    }
    let lowest = |range: std::ops::Range<u16>| {
        responses
            .iter()
            .filter(|r| match r.status {
                StatusKey::Code(c) => range.contains(&c),
                StatusKey::Range(d) => range.contains(&(d * 100)),
                StatusKey::Default => false,
            })
            .min_by_key(|r| r.status.status())
    };
    let response = lowest(200..300)
        .or_else(|| lowest(100..600))
        .or_else(|| responses.first())
        .ok_or(Unsatisfiable::NoResponses)?;
    Ok((response, status_of(response.status)))
}

/// `default` alone answers 400: it documents errors.
fn status_of(key: StatusKey) -> u16 {
    match key {
        StatusKey::Default => 400,
        other => other.status(),
    }
}

/// The status key as a response map names it: `200`, `4XX` or `default`.
pub fn status_name(key: StatusKey) -> String {
    match key {
        StatusKey::Code(c) => c.to_string(),
        StatusKey::Range(d) => format!("{d}XX"),
        StatusKey::Default => "default".to_owned(),
    }
}

/// The media type to answer with, as `Accept` allows; `None` when the
/// response has no content.
///
/// Each documented media type gets the quality of the most specific range
/// of `Accept` that matches it (`text/html;q=0.7` over `text/*;q=0.3`,
/// `q=0` refuses); the highest quality wins, then the range listed first,
/// then JSON when a wildcard matched several, then document order.
/// Nothing acceptable: [`Unsatisfiable::NotAcceptable`] (406).
pub fn choose_media<'a>(
    response: &'a ResponseDef,
    accept: Option<&str>,
) -> Result<Option<&'a MediaDef>, Unsatisfiable> {
    if response.content.is_empty() {
        return Ok(None);
    }
    let json_first = || {
        response
            .content
            .iter()
            .find(|m| is_json(&m.media_type))
            .or(response.content.first())
    };
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(json_first());
    };
    let ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim();
            let q = parts
                .filter_map(|p| {
                    let (name, value) = p.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| value.trim().parse::<f32>().ok())?
                })
                .next()
                .filter(|q| q.is_finite())
                .map_or(1.0, |q| q.clamp(0.0, 1.0));
            (!range.is_empty()).then_some((q, range))
        })
        .collect();
    // (quality, index of the range, whether a wildcard matched, document order)
    let mut best: Option<(f32, usize, bool, usize)> = None;
    for (order, media) in response.content.iter().enumerate() {
        let mut matched: Option<(u8, f32, usize)> = None;
        for (index, (q, range)) in ranges.iter().enumerate() {
            if let Some(specificity) = media_match(range, &media.media_type)
                && matched.is_none_or(|(s, _, _)| specificity > s)
            {
                matched = Some((specificity, *q, index));
            }
        }
        let Some((specificity, q, index)) = matched.filter(|(_, q, _)| *q > 0.0) else {
            continue;
        };
        let wildcard_non_json = specificity < 2 && !is_json(&media.media_type);
        let better = match best {
            None => true,
            Some((bq, bi, bw, _)) => {
                q > bq || (q == bq && (index < bi || (index == bi && bw && !wildcard_non_json)))
            }
        };
        if better {
            best = Some((q, index, wildcard_non_json, order));
        }
    }
    match best {
        Some((_, _, _, order)) => Ok(response.content.get(order)),
        None => Err(Unsatisfiable::NotAcceptable {
            available: response
                .content
                .iter()
                .map(|m| m.media_type.clone())
                .collect(),
        }),
    }
}

/// How specifically `range` from Accept (`*/*`, `text/*`,
/// `application/json`) matches a documented media type (which may itself
/// be a range such as `image/*`): 0 for `*/*`, 1 for `type/*`, 2 for the
/// type itself; `None` when it does not. Parameters are ignored.
fn media_match(range: &str, media: &str) -> Option<u8> {
    let essence = |m: &str| {
        m.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let (range, media) = (essence(range), essence(media));
    let (rt, rs) = range.split_once('/')?;
    let (mt, ms) = media.split_once('/')?;
    let fits = (rt == "*" || mt == "*" || rt == mt) && (rs == "*" || ms == "*" || rs == ms);
    fits.then_some(match (rt, rs) {
        ("*", _) => 0,
        (_, "*") => 1,
        _ => 2,
    })
}

pub use hmt_openapi::media::is_json;

/// The example to serve, by name when asked for, else the first; `None`
/// when there is none and data must be generated.
pub fn choose_example<'a>(
    media: &'a MediaDef,
    preferences: &Preferences,
) -> Result<Option<&'a Value>, Unsatisfiable> {
    if let Some(name) = &preferences.example {
        return media
            .examples
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| Some(v))
            .ok_or_else(|| Unsatisfiable::NoSuchExample {
                name: name.clone(),
                available: media.examples.iter().map(|(n, _)| n.clone()).collect(),
            });
    }
    if preferences.dynamic && media.schema.is_some() {
        return Ok(None);
    }
    Ok(media.examples.first().map(|(_, v)| v))
}

/// Whether `media_type` is XML: `application/xml`, `text/xml` or `*+xml`.
pub fn is_xml(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/xml")
        || essence.eq_ignore_ascii_case("text/xml")
        || essence
            .get(essence.len().saturating_sub(4)..)
            .is_some_and(|end| end.eq_ignore_ascii_case("+xml"))
}

fn is_csv(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/csv")
}

/// The body of `value` in `media_type`: XML shaped by `schema` (whose
/// `$ref`s point into `document`), CSV, or as [`body_bytes`]. A string
/// value for a non-JSON type is sent as its own text (an XML example
/// written as XML).
///
/// ```
/// use hmt_mock::respond::render_body;
/// use serde_json::json;
/// let rows = json!([{"id": 1, "name": "Ann, Lee"}, {"id": 2, "note": "x"}]);
/// let csv = render_body("text/csv", &rows, None, &json!({}));
/// assert_eq!(&csv[..], b"id,name,note\r\n1,\"Ann, Lee\",\r\n2,,x\r\n");
/// ```
pub fn render_body(
    media_type: &str,
    value: &Value,
    schema: Option<&Value>,
    document: &Value,
) -> Bytes {
    match value {
        Value::String(_) if !is_json(media_type) => body_bytes(media_type, value),
        _ if is_xml(media_type) => Bytes::from(crate::xml::to_xml(value, schema, document)),
        _ if is_csv(media_type) => Bytes::from(csv(value)),
        _ => body_bytes(media_type, value),
    }
}

/// RFC 4180 CSV: an array of objects (or one object) is a header row of
/// their keys in order of appearance and one row each; an array of arrays
/// is rows; other arrays one value per row. Nested values are JSON text.
fn csv(value: &Value) -> String {
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = String>| {
        let mut first = true;
        for cell in cells {
            if !first {
                out.push(',');
            }
            first = false;
            if cell.contains([',', '"', '\r', '\n']) {
                out.push('"');
                out.push_str(&cell.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&cell);
            }
        }
        out.push_str("\r\n");
    };
    let cell = |value: Option<&Value>| match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if rows.iter().all(|r| r.is_object()) && !rows.is_empty() {
        let mut columns: Vec<&str> = Vec::new();
        for row in &rows {
            for key in row.as_object().into_iter().flat_map(|o| o.keys()) {
                if !columns.contains(&key.as_str()) {
                    columns.push(key);
                }
            }
        }
        line(&mut out, &mut columns.iter().map(|c| (*c).to_owned()));
        for row in rows {
            line(&mut out, &mut columns.iter().map(|c| cell(row.get(*c))));
        }
        return out;
    }
    for row in rows {
        match row {
            Value::Array(cells) => line(&mut out, &mut cells.iter().map(|c| cell(Some(c)))),
            other => line(&mut out, &mut std::iter::once(cell(Some(other)))),
        }
    }
    out
}

/// The bytes of `value` as `media_type`: JSON for JSON media types and for
/// structured values; a string's own text otherwise.
pub fn body_bytes(media_type: &str, value: &Value) -> Bytes {
    match value {
        Value::String(text) if !is_json(media_type) => Bytes::copy_from_slice(text.as_bytes()),
        other => Bytes::from(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// The text of a header value: strings as they are, anything else as JSON.
pub fn header_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(header_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The `Content-Type` to send for a documented media type: ranges such as
/// `*/*` or `image/*` are not sendable, so they become JSON or bytes.
pub fn content_type(media_type: &str, value: Option<&Value>) -> String {
    if !media_type.contains('*') {
        return media_type.to_owned();
    }
    match value {
        Some(Value::String(_)) if media_type.starts_with("text/") => "text/plain".to_owned(),
        Some(_) if is_json(media_type) => "application/json".to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadedSpec;
    use crate::model::compile;
    use serde_json::json;

    fn operation(responses: Value) -> Operation {
        let document =
            json!({"openapi": "3.1.0", "paths": {"/x": {"get": {"responses": responses}}}});
        compile(LoadedSpec {
            file: "t.json".into(),
            document,
        })
        .unwrap()
        .operations
        .pop()
        .unwrap()
    }

    #[test]
    fn the_lowest_2xx_by_default_and_default_alone_is_400() {
        let op = operation(
            json!({"404": {"description": ""}, "201": {"description": ""}, "200": {"description": ""}, "default": {"description": ""}}),
        );
        assert_eq!(
            choose_response(&op, &Preferences::default(), None)
                .unwrap()
                .1,
            200
        );
        let op = operation(json!({"default": {"description": "unexpected error"}}));
        assert_eq!(
            choose_response(&op, &Preferences::default(), None)
                .unwrap()
                .1,
            400
        );
    }

    #[test]
    fn prefer_code_finds_exact_range_or_default() {
        let op = operation(json!({"200": {"description": ""}, "4XX": {"description": "client"}}));
        let p = |code| Preferences {
            code: Some(code),
            ..Preferences::default()
        };
        assert_eq!(choose_response(&op, &p(200), None).unwrap().1, 200);
        let (response, status) = choose_response(&op, &p(404), None).unwrap();
        assert_eq!((response.status, status), (StatusKey::Range(4), 404));
        assert_eq!(
            choose_response(&op, &p(500), None).unwrap_err().to_string(),
            "no response documented for status 500; documented: 200, 4XX"
        );
    }

    #[test]
    fn accept_picks_the_media_type() {
        let op = operation(
            json!({"200": {"description": "", "content": {"text/plain": {}, "application/json": {}, "application/xml": {}}}}),
        );
        let r = &op.responses[0];
        let pick = |accept| choose_media(r, accept).map(|m| m.map(|m| m.media_type.as_str()));
        assert_eq!(pick(None), Ok(Some("application/json")));
        assert_eq!(pick(Some("text/*")), Ok(Some("text/plain")));
        assert_eq!(
            pick(Some("application/xml;q=0.5, text/plain")),
            Ok(Some("text/plain"))
        );
        assert_eq!(pick(Some("*/*")), Ok(Some("application/json")));
        assert!(matches!(
            pick(Some("image/png")),
            Err(Unsatisfiable::NotAcceptable { .. })
        ));
    }

    #[test]
    fn examples_by_name_first_or_none_for_dynamic() {
        let op = operation(
            json!({"200": {"description": "", "content": {"application/json": {
                "schema": {"type": "object"},
                "examples": {"cat": {"value": {"kind": "cat"}}, "dog": {"value": {"kind": "dog"}}}
            }}}}),
        );
        let media = &op.responses[0].content[0];
        assert_eq!(
            choose_example(media, &Preferences::default()),
            Ok(Some(&json!({"kind": "cat"})))
        );
        let dog = Preferences {
            example: Some("dog".into()),
            ..Preferences::default()
        };
        assert_eq!(
            choose_example(media, &dog),
            Ok(Some(&json!({"kind": "dog"})))
        );
        let dynamic = Preferences {
            dynamic: true,
            ..Preferences::default()
        };
        assert_eq!(choose_example(media, &dynamic), Ok(None));
        let missing = Preferences {
            example: Some("cow".into()),
            ..Preferences::default()
        };
        assert_eq!(
            choose_example(media, &missing).unwrap_err().to_string(),
            "no example named \"cow\"; examples: cat, dog"
        );
    }

    #[test]
    fn bodies_are_json_for_json_and_text_for_text() {
        assert_eq!(
            body_bytes("application/json", &json!("hi")),
            Bytes::from_static(b"\"hi\"")
        );
        assert_eq!(
            body_bytes("text/plain", &json!("hi")),
            Bytes::from_static(b"hi")
        );
        assert_eq!(
            body_bytes("text/plain", &json!({"a": 1})),
            Bytes::from_static(b"{\"a\":1}")
        );
    }
}
