//! Reading parameters as OpenAPI's `style` and `explode` write them.
//!
//! What a request sends for one parameter is gathered into [`Raw`] trees
//! (text, lists, maps), one per way the style can be read: `a,1,b,2` under
//! `simple` is the text `a,1,b,2`, the list `[a, 1, b, 2]` or the map
//! `{a: 1, b: 2}`, and which it is depends on the schema. The readings the
//! schema's [`Shape`] allows are offered in order, each text in each of the
//! types its shape allows ([`value`]), and the validator takes the first
//! that is valid: a parameter is accepted when any reading of it is.
//!
//! The parsers are hand-written: they split text that is already
//! percent-decoded (the mock decodes the query and the router the path) on
//! the delimiters of the OpenAPI style tables, which no crate covers;
//! `deepObject` brackets nest as Stripe's `created[gte]=1` and
//! `items[0][price]=x` do (the `qs` convention).

use super::shape::{ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING, Shape};
use crate::model::{Location, Style};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Sent text before its schema types it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Raw<'a> {
    /// One text.
    Text(Cow<'a, str>),
    /// Items in order (repeated or delimited values).
    List(Vec<Raw<'a>>),
    /// Named values in order (exploded objects, brackets).
    Map(Vec<(Cow<'a, str>, Raw<'a>)>),
    /// A value already JSON (a JSON part of a multipart body).
    Json(Value),
}

/// At most this many readings of one value are validated.
pub(crate) const MAX_ALTERNATIVES: usize = 6;

/// `raw` as a JSON value of `shape`, each text read the `alt`-th way its
/// shape allows (or its last way); `alts` is raised to the most ways any
/// text had, so the caller knows whether another `alt` reads differently.
/// `reserved`: a space may be a `+` sent unencoded (`allowReserved`).
pub(crate) fn value(
    raw: &Raw<'_>,
    shape: &Shape,
    alt: usize,
    alts: &mut usize,
    reserved: bool,
) -> Value {
    match raw {
        Raw::Text(text) => text_value(text, shape, alt, alts, true, reserved),
        Raw::Json(value) => value.clone(),
        Raw::List(items) => Value::Array(
            items
                .iter()
                .map(|item| value(item, shape.item(), alt, alts, reserved))
                .collect(),
        ),
        Raw::Map(entries) => {
            let numbered = shape.kinds & ARRAY != 0
                && shape.kinds & OBJECT == 0
                && entries.iter().all(|(k, _)| k.parse::<usize>().is_ok());
            if numbered {
                let mut indexed: Vec<(usize, &Raw<'_>)> = entries
                    .iter()
                    .map(|(k, v)| (k.parse::<usize>().unwrap_or(usize::MAX), v))
                    .collect();
                indexed.sort_by_key(|(i, _)| *i);
                Value::Array(
                    indexed
                        .into_iter()
                        .map(|(_, item)| value(item, shape.item(), alt, alts, reserved))
                        .collect(),
                )
            } else {
                let any = Shape::any();
                let mut object = Map::with_capacity(entries.len());
                for (name, item) in entries {
                    let inner = shape.property(name).unwrap_or(&any);
                    object.insert(name.to_string(), value(item, inner, alt, alts, reserved));
                }
                Value::Object(object)
            }
        }
    }
}

/// One text read as a type `shape` allows: integers, numbers, booleans and
/// null where they parse and are allowed, then the text itself, then
/// (inside a structure, for forms' single fields) a one-item array. Text that
/// no allowed type reads stays text, so the validator names the type it
/// should have been.
pub(crate) fn text_value(
    text: &str,
    shape: &Shape,
    alt: usize,
    alts: &mut usize,
    inner: bool,
    reserved: bool,
) -> Value {
    let mut count = 0usize;
    let mut chosen: Option<Value> = None;
    // Keeps the alt-th reading (or the last); builds no others.
    macro_rules! offer {
        ($make:expr) => {{
            if count <= alt {
                chosen = Some($make);
            }
            count += 1;
        }};
    }
    let explicit = shape.kinds;
    let any = explicit == 0;
    if any {
        offer!(Value::String(text.to_owned()));
    }
    let integer = if explicit & (INTEGER | NUMBER) != 0 || any {
        parse_integer(text)
    } else {
        None
    };
    if let Some(n) = integer {
        offer!(Value::Number(n));
    } else if (explicit & NUMBER != 0 || any)
        && let Some(n) = parse_number(text)
    {
        offer!(Value::Number(n));
    } else if explicit & INTEGER != 0
        && is_integer_text(text)
        && let Some(n) = parse_number(text)
    {
        // An integer past 64 bits reaches the validator as the nearest
        // f64 (still an integer to it); its bounds are then compared
        // exactly from the text (`bounds`).
        offer!(Value::Number(n));
    }
    if (explicit & BOOLEAN != 0 || any) && (text == "true" || text == "false") {
        offer!(Value::Bool(text == "true"));
    }
    if explicit & NULL != 0 && (text.is_empty() || text == "null") {
        offer!(Value::Null);
    }
    if explicit & STRING != 0 {
        offer!(Value::String(text.to_owned()));
    }
    if (explicit & STRING != 0 || any) && reserved && text.contains(' ') {
        offer!(Value::String(text.replace(' ', "+")));
    }
    if inner && explicit & ARRAY != 0 {
        // A single field of an array: one item, or none when empty (form
        // style writes an empty array as `name=`).
        offer!(if text.is_empty() {
            Value::Array(Vec::new())
        } else {
            Value::Array(vec![value(
                &Raw::Text(Cow::Borrowed(text)),
                shape.item(),
                alt,
                alts,
                reserved,
            )])
        });
    }
    *alts = (*alts).max(count);
    chosen.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// `-`? digits: an integer of any size.
fn is_integer_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn parse_integer(text: &str) -> Option<serde_json::Number> {
    if !is_integer_text(text) {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(n.into());
    }
    text.parse::<u64>().ok().map(Into::into)
}

fn parse_number(text: &str) -> Option<serde_json::Number> {
    // Rust also parses `inf`, `NaN` and `+1`, which JSON does not have.
    let first = *text.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'-') || text.ends_with('.') {
        return None;
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

/// What one parameter's location holds for it.
pub(crate) enum Source<'a> {
    /// The query's decoded pairs.
    Query(&'a [(String, String)]),
    /// The one text of a path parameter, header or cookie.
    Text(&'a str),
}

/// Why a parameter's text cannot be read in its style.
#[derive(Debug, PartialEq)]
pub(crate) struct Malformed(pub String);

/// The ways what was sent for parameter `name` can be read, most likely
/// first; empty when nothing was sent. `others` are the operation's other
/// query parameter names (an exploded free-form object takes the rest).
/// `cookie` finds other cookies (exploded cookie objects).
#[allow(clippy::too_many_arguments)]
pub(crate) fn readings<'a>(
    name: &str,
    location: Location,
    style: Style,
    explode: bool,
    shape: &Shape,
    source: Source<'a>,
    others: &[String],
    cookie: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Raw<'a>>, Malformed> {
    match source {
        Source::Query(pairs) => Ok(query_readings(name, style, explode, shape, pairs, others)),
        Source::Text(text) => text_readings(name, location, style, explode, shape, text, cookie),
    }
}

fn wants_scalar(shape: &Shape) -> bool {
    shape.kinds == 0 || shape.kinds & !(ARRAY | OBJECT) != 0
}

fn wants(shape: &Shape, kind: u8) -> bool {
    shape.kinds & kind != 0
}

fn texts<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Raw<'a>> {
    items.map(|t| Raw::Text(Cow::Borrowed(t))).collect()
}

/// `a,1,b,2` as `{a: 1, b: 2}`; `None` for an odd count.
fn pairs<'a>(text: &'a str, separator: char) -> Option<Raw<'a>> {
    if text.is_empty() {
        return Some(Raw::Map(Vec::new()));
    }
    let parts: Vec<&str> = text.split(separator).collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    Some(Raw::Map(
        parts
            .chunks(2)
            .map(|kv| (Cow::Borrowed(kv[0]), Raw::Text(Cow::Borrowed(kv[1]))))
            .collect(),
    ))
}

/// `a=1,b=2` as `{a: 1, b: 2}`; `None` when an item has no `=`.
fn assignments<'a>(items: impl Iterator<Item = &'a str>) -> Option<Raw<'a>> {
    let mut entries = Vec::new();
    for item in items {
        let (k, v) = item.split_once('=')?;
        entries.push((Cow::Borrowed(k), Raw::Text(Cow::Borrowed(v))));
    }
    Some(Raw::Map(entries))
}

/// Items of a delimited list; nothing for empty text (an empty array).
fn split<'a>(text: &'a str, separator: char, trim: bool) -> Vec<Raw<'a>> {
    if text.is_empty() {
        return Vec::new();
    }
    texts(
        text.split(separator)
            .map(|t| if trim { t.trim() } else { t }),
    )
}

fn query_readings<'a>(
    name: &str,
    style: Style,
    explode: bool,
    shape: &Shape,
    pairs_sent: &'a [(String, String)],
    others: &[String],
) -> Vec<Raw<'a>> {
    let values = || {
        pairs_sent
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let count = values().count();
    let mut out = Vec::new();
    let separator = match style {
        Style::SpaceDelimited if !explode => Some(' '),
        Style::PipeDelimited if !explode => Some('|'),
        Style::Form if !explode => Some(','),
        _ => None,
    };
    if style == Style::DeepObject {
        let mut tree: Option<Raw<'a>> = None;
        for (key, value) in pairs_sent {
            if let Some(rest) = key.strip_prefix(name)
                && rest.starts_with('[')
                && let Some(segments) = brackets(rest)
            {
                let node = tree.get_or_insert_with(|| Raw::Map(Vec::new()));
                insert(node, &segments, Cow::Borrowed(value.as_str()));
            }
        }
        if let Some(tree) = tree {
            out.push(tree);
        }
    }
    if count == 1 && wants_scalar(shape) {
        out.extend(values().next().map(|v| Raw::Text(Cow::Borrowed(v))));
    }
    if count > 0 && wants(shape, ARRAY) {
        out.push(Raw::List(match separator {
            Some(separator) => values().flat_map(|v| split(v, separator, false)).collect(),
            None => texts(values()),
        }));
    }
    if wants(shape, OBJECT) && style != Style::DeepObject {
        match separator {
            Some(separator) => {
                if count == 1
                    && let Some(map) = values().next().and_then(|v| pairs(v, separator))
                {
                    out.push(map);
                }
            }
            None => {
                // Exploded: the object's properties are query keys of their
                // own; an open object takes keys no other parameter names.
                let entries: Vec<(Cow<'a, str>, Raw<'a>)> = pairs_sent
                    .iter()
                    .filter(|(n, _)| {
                        shape.properties.iter().any(|(p, _)| p == n)
                            || (shape.open && n != name && !others.iter().any(|o| o == n))
                    })
                    .map(|(n, v)| {
                        (
                            Cow::Borrowed(n.as_str()),
                            Raw::Text(Cow::Borrowed(v.as_str())),
                        )
                    })
                    .collect();
                if !entries.is_empty() {
                    out.push(Raw::Map(entries));
                }
            }
        }
    }
    if out.is_empty() && count > 0 {
        // Nothing the schema allows: the values as sent, for the validator
        // to name what they should have been.
        out.push(if count == 1 {
            Raw::Text(Cow::Borrowed(values().next().unwrap_or("")))
        } else {
            Raw::List(texts(values()))
        });
    }
    out
}

fn text_readings<'a>(
    name: &str,
    location: Location,
    style: Style,
    explode: bool,
    shape: &Shape,
    text: &'a str,
    cookie: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Raw<'a>>, Malformed> {
    let header = location == Location::Header;
    let mut out = Vec::new();
    // The text after the style's prefix, and how items are separated.
    let (body, separator) = match style {
        Style::Label => (
            text.strip_prefix('.').ok_or_else(|| {
                Malformed(format!("expected label style (\".value\"), found {text:?}"))
            })?,
            if explode { '.' } else { ',' },
        ),
        Style::Matrix => {
            let rest = text.strip_prefix(';').ok_or_else(|| {
                Malformed(format!(
                    "expected matrix style (\";{name}=value\"), found {text:?}"
                ))
            })?;
            (rest, ';')
        }
        Style::SpaceDelimited => (text, ' '),
        Style::PipeDelimited => (text, '|'),
        _ => (text, ','),
    };
    if style == Style::Matrix {
        return matrix_readings(name, explode, shape, text, body);
    }
    if wants_scalar(shape) {
        out.push(Raw::Text(Cow::Borrowed(body)));
    }
    if wants(shape, ARRAY) {
        out.push(Raw::List(split(body, separator, header)));
    }
    if wants(shape, OBJECT) {
        let object = if location == Location::Cookie && explode {
            // Exploded cookie objects: each property is a cookie.
            let entries: Vec<(Cow<'a, str>, Raw<'a>)> = shape
                .properties
                .iter()
                .filter_map(|(p, _)| {
                    cookie(p).map(|v| (Cow::Owned(p.clone()), Raw::Text(Cow::Owned(v))))
                })
                .collect();
            Some(Raw::Map(entries))
        } else if explode {
            if body.is_empty() {
                Some(Raw::Map(Vec::new()))
            } else {
                assignments(
                    body.split(separator)
                        .map(|t| if header { t.trim() } else { t }),
                )
            }
        } else {
            pairs(body, ',')
        };
        out.extend(object);
    }
    if out.is_empty() {
        out.push(Raw::Text(Cow::Borrowed(body)));
    }
    Ok(out)
}

/// `;id=5`, `;id=1,2`, `;id=1;id=2`, `;color=R,100,G,200`, `;R=100;G=200`.
fn matrix_readings<'a>(
    name: &str,
    explode: bool,
    shape: &Shape,
    text: &'a str,
    body: &'a str,
) -> Result<Vec<Raw<'a>>, Malformed> {
    let malformed = || {
        Malformed(format!(
            "expected matrix style (\";{name}=value\"), found {text:?}"
        ))
    };
    // The value of one `name=value` (or bare `name`) item.
    let own = |item: &'a str| -> Option<&'a str> {
        let rest = item.strip_prefix(name)?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('=')
        }
    };
    let mut out = Vec::new();
    if wants_scalar(shape)
        && let Some(value) = own(body)
    {
        out.push(Raw::Text(Cow::Borrowed(value)));
    }
    if wants(shape, ARRAY) {
        let list = if explode {
            body.split(';')
                .map(own)
                .collect::<Option<Vec<&str>>>()
                .map(|items| texts(items.into_iter()))
        } else {
            own(body).map(|v| split(v, ',', false))
        };
        out.extend(list.map(Raw::List));
    }
    if wants(shape, OBJECT) {
        let object = if explode {
            assignments(body.split(';'))
        } else {
            own(body).and_then(|v| pairs(v, ','))
        };
        out.extend(object);
    }
    if out.is_empty() {
        match own(body) {
            Some(value) => out.push(Raw::Text(Cow::Borrowed(value))),
            None => return Err(malformed()),
        }
    }
    Ok(out)
}

/// The segments of `[a][b][]` (`a`, `b`, empty); `None` when the brackets
/// do not close.
pub(crate) fn brackets(mut rest: &str) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        segments.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some(segments)
}

/// Puts `value` at `segments` under `node`: `[]` appends to a list, a
/// name makes or enters a map entry, and a repeated leaf becomes a list.
pub(crate) fn insert<'a>(node: &mut Raw<'a>, segments: &[&'a str], value: Cow<'a, str>) {
    let Some((first, rest)) = segments.split_first() else {
        // The leaf itself: repeated values make a list.
        match node {
            Raw::List(items) => items.push(Raw::Text(value)),
            Raw::Map(entries) if entries.is_empty() => *node = Raw::Text(value),
            other => {
                let previous = std::mem::replace(other, Raw::List(Vec::new()));
                *other = Raw::List(vec![previous, Raw::Text(value)]);
            }
        }
        return;
    };
    if first.is_empty() {
        if let Raw::Map(entries) = node
            && entries.is_empty()
        {
            *node = Raw::List(Vec::new());
        }
        match node {
            Raw::List(items) => {
                // `a[][x]=1&a[][y]=2` fills one item until a name repeats.
                let reuse = !rest.is_empty()
                    && matches!(items.last(), Some(Raw::Map(e)) if !e.iter().any(|(k, _)| *k == rest[0]));
                if !reuse {
                    items.push(Raw::Map(Vec::new()));
                }
                if let Some(last) = items.last_mut() {
                    insert(last, rest, value);
                }
            }
            Raw::Map(entries) => {
                let key = Cow::Owned(entries.len().to_string());
                entries.push((key, Raw::Map(Vec::new())));
                if let Some((_, last)) = entries.last_mut() {
                    insert(last, rest, value);
                }
            }
            other => *other = Raw::List(vec![Raw::Text(value)]),
        }
        return;
    }
    if let Raw::List(items) = node {
        let items = std::mem::take(items);
        *node = Raw::Map(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (Cow::Owned(i.to_string()), item))
                .collect(),
        );
    }
    if !matches!(node, Raw::Map(_)) {
        *node = Raw::Map(Vec::new());
    }
    if let Raw::Map(entries) = node {
        let position = match entries.iter().position(|(k, _)| k == first) {
            Some(position) => position,
            None => {
                entries.push((Cow::Borrowed(*first), Raw::Map(Vec::new())));
                entries.len() - 1
            }
        };
        insert(&mut entries[position].1, rest, value);
    }
}
