//! Form bodies (`application/x-www-form-urlencoded` and
//! `multipart/form-data`) as JSON objects to validate.
//!
//! Fields are read as their property's schema types them (see
//! [`super::style`]): repeated fields make arrays, bracketed names nest
//! (`metadata[key]=v`, `items[0][price]=x`, as Stripe's form bodies do),
//! and the media type's `encoding` is honoured: an unexploded or delimited
//! field is split, and a part whose `contentType` is JSON (or that says so
//! itself) is parsed as JSON. The multipart parser is hand-written because
//! the body is already in memory and the maintained parsers (`multer`) read
//! async streams; it follows RFC 7578 (CRLF line ends, LF tolerated).

use super::shape::{ARRAY, Shape};
use super::style::{MAX_ALTERNATIVES, Raw, brackets, insert, value};
use crate::model::Style;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// What is wrong with a form body: a JSON pointer to the field and the
/// message.
pub(crate) type FormError = (String, String);

/// The readings of a form body, most likely first (several when a field
/// can be read as more than one type); `encoding` is the media type's
/// `encoding` map.
pub(crate) fn candidates(
    essence: &str,
    content_type: &str,
    body: &[u8],
    shape: &Shape,
    encoding: Option<&Map<String, Value>>,
) -> Result<Vec<Value>, FormError> {
    let mut fields: Vec<(String, Field)> = Vec::new();
    if essence == "multipart/form-data" {
        let boundary = parameter(content_type, "boundary").ok_or_else(|| {
            (
                String::new(),
                "the multipart body's Content-Type has no boundary parameter".to_owned(),
            )
        })?;
        for part in parts(body, &boundary)? {
            let field = part_value(&part, encoding)?;
            fields.push((part.name, field));
        }
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|_| (String::new(), "the form body is not UTF-8".to_owned()))?;
        for (name, value) in hmt_types::form_pairs(text) {
            fields.push((name, Field::Text(value)));
        }
    }
    let tree = tree(&fields, shape, encoding);
    let mut alts = 1;
    let mut out = Vec::new();
    let mut alt = 0;
    while alt < alts.min(MAX_ALTERNATIVES) {
        out.push(value(&tree, shape, alt, &mut alts, false));
        alt += 1;
    }
    Ok(out)
}

/// A field's value before typing.
pub(crate) enum Field {
    Text(String),
    Json(Value),
}

/// The fields as one object: bracketed names nested unless the schema has
/// a property of that very name, unexploded fields split.
fn tree<'a>(
    fields: &'a [(String, Field)],
    shape: &Shape,
    encoding: Option<&Map<String, Value>>,
) -> Raw<'a> {
    let mut root = Raw::Map(Vec::new());
    for (name, field) in fields {
        let (base, mut segments) = match name.find('[') {
            Some(open)
                if !shape.properties.iter().any(|(p, _)| p == name)
                    && brackets(&name[open..]).is_some() =>
            {
                (&name[..open], brackets(&name[open..]).unwrap_or_default())
            }
            _ => (name.as_str(), Vec::new()),
        };
        segments.insert(0, base);
        match field {
            Field::Text(text) => {
                let separator = encoding
                    .and_then(|e| e.get(base))
                    .and_then(delimiter)
                    .filter(|_| segments.len() == 1)
                    .filter(|_| shape.property(base).is_some_and(|p| p.kinds & ARRAY != 0));
                match separator {
                    Some(separator) => {
                        for item in text.split(separator).filter(|t| !t.is_empty()) {
                            insert(&mut root, &[base, ""], Cow::Borrowed(item));
                        }
                    }
                    None => insert(&mut root, &segments, Cow::Borrowed(text.as_str())),
                }
            }
            Field::Json(json) => {
                // Inserted as a placeholder text, then replaced.
                insert(&mut root, &segments, Cow::Borrowed(""));
                replace_leaf(&mut root, &segments, json);
            }
        }
    }
    root
}

fn replace_leaf(node: &mut Raw<'_>, segments: &[&str], json: &Value) {
    let Some((first, rest)) = segments.split_first() else {
        match node {
            Raw::List(items) => {
                if let Some(last) = items.last_mut() {
                    *last = Raw::Json(json.clone());
                }
            }
            other => *other = Raw::Json(json.clone()),
        }
        return;
    };
    match node {
        Raw::Map(entries) => {
            if let Some((_, child)) = entries.iter_mut().find(|(k, _)| k == first) {
                replace_leaf(child, rest, json);
            }
        }
        Raw::List(items) => {
            if let Some(last) = items.last_mut() {
                replace_leaf(last, rest, json);
            }
        }
        _ => {}
    }
}

/// The separator of an unexploded field under an Encoding Object.
fn delimiter(encoding: &Value) -> Option<char> {
    let style = encoding
        .get("style")
        .and_then(Value::as_str)
        .and_then(Style::parse)
        .unwrap_or(Style::Form);
    let explode = encoding
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form);
    match style {
        Style::Form if !explode => Some(','),
        Style::SpaceDelimited => Some(' '),
        Style::PipeDelimited => Some('|'),
        _ => None,
    }
}

/// One part of a multipart body.
#[derive(Debug, PartialEq)]
pub(crate) struct Part<'a> {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// Its `Content-Type`, if it has one.
    pub content_type: Option<String>,
    /// Its bytes.
    pub body: &'a [u8],
}

/// A part's value: JSON when its encoding or its own `Content-Type` says
/// so, else text.
fn part_value(part: &Part<'_>, encoding: Option<&Map<String, Value>>) -> Result<Field, FormError> {
    let pointer = format!("/{}", hmt_types::pointer::escape(&part.name));
    let documented = encoding
        .and_then(|e| e.get(&part.name))
        .and_then(|e| e.get("contentType"))
        .and_then(Value::as_str);
    let sent = part.content_type.as_deref().map(crate::media::essence);
    if let (Some(documented), Some(sent)) = (documented, &sent) {
        let accepted = documented
            .split(',')
            .any(|d| crate::media::media_accepts(d.trim(), sent));
        if !accepted {
            return Err((
                pointer,
                format!(
                    "the part {} is {sent}; its encoding documents {documented}",
                    part.name
                ),
            ));
        }
    }
    let json = match &sent {
        Some(sent) => crate::media::is_json_type(sent),
        None => {
            documented.is_some_and(|d| d.split(',').any(|d| crate::media::is_json_type(d.trim())))
        }
    };
    if json {
        return serde_json::from_slice(part.body)
            .map(Field::Json)
            .map_err(|e| {
                (
                    pointer,
                    format!("the part {} is not valid JSON: {e}", part.name),
                )
            });
    }
    Ok(Field::Text(String::from_utf8_lossy(part.body).into_owned()))
}

/// The parts of a multipart body with `boundary`.
pub(crate) fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, FormError> {
    let fail = |message: &str| (String::new(), format!("the multipart body {message}"));
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let start = find(body, delimiter, 0).ok_or_else(|| fail("has no opening boundary"))?;
    let mut at = start + delimiter.len();
    let mut out = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(out);
        }
        at += line_end(&body[at..])
            .ok_or_else(|| fail("has a boundary not followed by a line end"))?;
        let (headers_end, body_start) = find(body, b"\r\n\r\n", at)
            .map(|i| (i, i + 4))
            .or_else(|| find(body, b"\n\n", at).map(|i| (i, i + 2)))
            .ok_or_else(|| fail("has a part without a blank line after its headers"))?;
        let headers = std::str::from_utf8(&body[at..headers_end])
            .map_err(|_| fail("has part headers that are not UTF-8"))?;
        let next =
            find(body, delimiter, body_start).ok_or_else(|| fail("has no closing boundary"))?;
        let mut end = next;
        if body[..end].ends_with(b"\r\n") {
            end -= 2;
        } else if body[..end].ends_with(b"\n") {
            end -= 1;
        }
        let mut name = None;
        let mut content_type = None;
        for line in headers.lines() {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            if header.trim().eq_ignore_ascii_case("content-disposition") {
                name = parameter(value, "name");
            } else if header.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        let name = name.ok_or_else(|| fail("has a part without a Content-Disposition name"))?;
        out.push(Part {
            name,
            content_type,
            body: &body[body_start.min(end)..end],
        });
        at = next + delimiter.len();
    }
}

fn line_end(bytes: &[u8]) -> Option<usize> {
    // Transport padding (spaces) may precede the line end.
    let padding = bytes
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    let rest = &bytes[padding..];
    if rest.starts_with(b"\r\n") {
        Some(padding + 2)
    } else if rest.starts_with(b"\n") {
        Some(padding + 1)
    } else {
        None
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The value of parameter `name` in a header value such as
/// `form-data; name="a"` or `multipart/form-data; boundary=x`, unquoted.
pub(crate) fn parameter(header: &str, name: &str) -> Option<String> {
    let mut rest = header.split_once(';')?.1;
    loop {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().trim_start_matches(';').trim();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            hmt_types::syntax::quoted_string(quoted)?
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = remaining.split_once(';').map_or("", |(_, r)| r);
        if rest.is_empty() {
            return None;
        }
    }
}
