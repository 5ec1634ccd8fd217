//! Choosing the documented response to send and rendering it to bytes.
//!
//! Without client preferences the choice is deterministic, as a test
//! suite needs: the lowest 2xx (a `default`-only operation answers 400, as
//! HMT did: `default` documents errors), its media type as `Accept`
//! allows, its first example, and generated data only when the spec has
//! no example. The client steers with `Prefer` as in Prism:
//! `Prefer: code=404`, `Prefer: example=name`, `Prefer: dynamic=true`.
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
                _ => {}
            }
        }
        out
    }

    /// Whether the client asked for anything.
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

pub fn status_name(key: StatusKey) -> String {
    match key {
        StatusKey::Code(c) => c.to_string(),
        StatusKey::Range(d) => format!("{d}XX"),
        StatusKey::Default => "default".to_owned(),
    }
}

/// The media type to answer with, as `Accept` allows; `None` when the
/// response has no content.
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
    let mut ranges: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0 && !range.is_empty()).then_some((q, i, range))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, range) in ranges {
        if range == "*/*" {
            return Ok(json_first());
        }
        let found = response
            .content
            .iter()
            .find(|m| media_matches(range, &m.media_type));
        if found.is_some() {
            return Ok(found);
        }
    }
    Err(Unsatisfiable::NotAcceptable {
        available: response
            .content
            .iter()
            .map(|m| m.media_type.clone())
            .collect(),
    })
}

/// `range` from Accept (`text/*`, `application/json`) against a documented
/// media type (which may itself be a range such as `image/*`); parameters
/// ignored.
fn media_matches(range: &str, media: &str) -> bool {
    let essence = |m: &str| {
        m.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let (range, media) = (essence(range), essence(media));
    let split = |m: &str| m.split_once('/').map(|(a, b)| (a.to_owned(), b.to_owned()));
    match (split(&range), split(&media)) {
        (Some((rt, rs)), Some((mt, ms))) => {
            (rt == "*" || mt == "*" || rt == mt) && (rs == "*" || ms == "*" || rs == ms)
        }
        _ => false,
    }
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
