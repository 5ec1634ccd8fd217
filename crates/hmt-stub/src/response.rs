//! mountebank's responses (`is`, `proxy`, `fault`) and the behaviors
//! that transform them (`wait`, `copy`, `lookup`), compiled from JSON.
//!
//! A response is kept as the JSON of its `is` object until the moment it
//! is sent, because behaviors work on that JSON: `copy` may fill a token
//! into `statusCode`, a header name or a field of a JSON body. Rendering
//! then applies mountebank's post-processing: fields the response leaves
//! out come from the imposter's `defaultResponse`, a JSON body is printed
//! with four spaces, `_mode: binary` bodies are base64-decoded,
//! `Connection: close` is added unless a header says otherwise, and a
//! given `Content-Length` is corrected to the body's real length.

use crate::engine::Respond;
use crate::error::StubError;
use crate::js;
use crate::predicate::escape;
use crate::reply::{Action, Fault, Reply};
use crate::request::Request;
use crate::scripts::Script;
use crate::shell::ShellCommand;
use crate::xpath::XPathSelector;
use base64::Engine as _;
use regex::RegexBuilder;
use serde_json::{Map, Value};
use serde_json_path::JsonPath;
use std::sync::Arc;
use std::time::Duration;

/// One compiled mountebank response with its behaviors.
#[derive(Debug)]
pub(crate) struct MbResponse {
    kind: ResponseKind,
    behaviors: Vec<Behavior>,
    defaults: Arc<Value>,
    /// An `is` without behaviors is the same reply every time: rendered once.
    rendered: Option<Reply>,
}

#[derive(Debug)]
enum ResponseKind {
    Is(Value),
    Proxy(Value),
    Fault(Option<Fault>),
    Inject(Script),
}

#[derive(Debug)]
enum Behavior {
    Wait(Duration),
    WaitScript(Script),
    Decorate(Script),
    Shell(ShellCommand),
    Copy {
        from: From,
        using: Using,
        into: String,
    },
    Lookup(Box<Lookup>),
}

/// A request field to read: `path`, `{"query": "q"}`, `{"headers": "X-Id"}`.
#[derive(Debug)]
struct From(Value);

#[derive(Debug)]
enum Using {
    Regex(regex::Regex),
    JsonPath(JsonPath),
    XPath(XPathSelector),
}

#[derive(Debug)]
struct Lookup {
    from: From,
    using: Using,
    index: usize,
    path: String,
    key_column: String,
    delimiter: u8,
    into: String,
}

/// The response `repeat` count: how many times an entry is used before the
/// next one (at least 1).
pub(crate) fn repeat_of(response: &Value, pointer: &str) -> Result<u64, StubError> {
    match response.get("repeat") {
        None | Some(Value::Null) => Ok(1),
        Some(value) => match value.as_u64() {
            Some(0) | None => Err(StubError::bad_data(
                &format!("{pointer}/repeat"),
                "'repeat' must be a whole number greater than 0",
            )),
            Some(count) => Ok(count),
        },
    }
}

/// mountebank's upcast of the old `_behaviors` object into the
/// `behaviors` array (in the order it used to apply them) and a
/// response-level `repeat`; the stored definition is the upcast one, as
/// mountebank stores it.
pub(crate) fn upcast(response: &mut Value) {
    let Some(object) = response.as_object_mut() else {
        return;
    };
    if object.contains_key("behaviors") || object.contains_key("repeat") {
        return;
    }
    let Some(Value::Object(old)) = object.get("_behaviors").cloned() else {
        return;
    };
    let mut behaviors = Vec::new();
    for key in ["wait", "lookup", "copy", "shellTransform", "decorate"] {
        match old.get(key) {
            None => {}
            Some(Value::Array(items)) => behaviors.extend(
                items
                    .iter()
                    .map(|item| Value::Object(Map::from_iter([(key.to_string(), item.clone())]))),
            ),
            Some(item) => behaviors.push(Value::Object(Map::from_iter([(
                key.to_string(),
                item.clone(),
            )]))),
        }
    }
    if let Some(repeat) = old.get("repeat") {
        object.insert("repeat".into(), repeat.clone());
    }
    object.insert("behaviors".into(), Value::Array(behaviors));
    object.remove("_behaviors");
}

impl MbResponse {
    pub(crate) fn compile(
        response: &Value,
        pointer: &str,
        defaults: Arc<Value>,
        options: &crate::CompileOptions,
    ) -> Result<MbResponse, StubError> {
        let object = response
            .as_object()
            .ok_or_else(|| StubError::bad_data(pointer, "a response must be a JSON object"))?;
        let kinds: Vec<&str> = ["is", "proxy", "inject", "fault"]
            .into_iter()
            .filter(|key| object.contains_key(*key))
            .collect();
        if kinds.len() > 1 {
            return Err(StubError::bad_data(
                pointer,
                format!(
                    "each response object must have only one response type: {}",
                    kinds.join(", ")
                ),
            ));
        }
        let kind = match kinds.first().copied() {
            None => ResponseKind::Is(Value::Object(Map::new())),
            Some("is") => match &object["is"] {
                Value::Object(is) => {
                    if let Some(chunks) = is.get("chunks") {
                        check_chunks(chunks, &format!("{pointer}/is/chunks"))?;
                    }
                    ResponseKind::Is(object["is"].clone())
                }
                _ => {
                    return Err(StubError::bad_data(
                        &format!("{pointer}/is"),
                        "'is' must be an object",
                    ));
                }
            },
            Some("proxy") => {
                let proxy = &object["proxy"];
                if proxy.get("to").and_then(Value::as_str).is_none() {
                    return Err(StubError::bad_data(
                        &format!("{pointer}/proxy/to"),
                        "a proxy needs a 'to' URL",
                    ));
                }
                check_proxy_scripts(proxy, &format!("{pointer}/proxy"), options)?;
                ResponseKind::Proxy(proxy.clone())
            }
            Some("inject") => ResponseKind::Inject(Script::compile(
                &object["inject"],
                &format!("{pointer}/inject"),
                options,
            )?),
            _ => ResponseKind::Fault(match object["fault"].as_str() {
                Some("CONNECTION_RESET_BY_PEER") => Some(Fault::ConnectionResetByPeer),
                Some("RANDOM_DATA_THEN_CLOSE") => Some(Fault::RandomDataThenClose),
                // mountebank ignores a fault it does not know: an empty 200.
                _ => None,
            }),
        };
        let behaviors = match object.get("behaviors") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    compile_behaviors(item, &format!("{pointer}/behaviors/{index}"), options)
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
            Some(_) => {
                return Err(StubError::bad_data(
                    &format!("{pointer}/behaviors"),
                    "'behaviors' must be an array",
                ));
            }
        };
        let rendered = match (&kind, behaviors.is_empty()) {
            (ResponseKind::Is(is), true) => Some(render(is, &defaults)),
            _ => None,
        };
        Ok(MbResponse {
            kind,
            behaviors,
            defaults,
            rendered,
        })
    }
}

fn compile_behaviors(
    item: &Value,
    pointer: &str,
    options: &crate::CompileOptions,
) -> Result<Vec<Behavior>, StubError> {
    let object = item
        .as_object()
        .ok_or_else(|| StubError::bad_data(pointer, "a behavior must be a JSON object"))?;
    let mut compiled = Vec::new();
    for (key, config) in object {
        let at = format!("{pointer}/{}", escape(key));
        match key.as_str() {
            "wait" => match config {
                Value::Number(ms) => {
                    let ms = ms
                        .as_f64()
                        .filter(|ms| *ms >= 0.0 && ms.is_finite())
                        .ok_or_else(|| {
                            StubError::bad_data(&at, "'wait' must be a number of milliseconds")
                        })?;
                    compiled.push(Behavior::Wait(Duration::from_secs_f64(ms / 1000.0)));
                }
                Value::String(_) => {
                    compiled.push(Behavior::WaitScript(Script::compile(config, &at, options)?))
                }
                _ => {
                    return Err(StubError::bad_data(
                        &at,
                        "'wait' must be a number of milliseconds",
                    ));
                }
            },
            "copy" => {
                let items: Vec<&Value> = match config {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for (index, copy) in items.into_iter().enumerate() {
                    let at = if config.is_array() {
                        format!("{at}/{index}")
                    } else {
                        at.clone()
                    };
                    compiled.push(Behavior::Copy {
                        from: compile_from(copy.get("from"), &format!("{at}/from"))?,
                        using: compile_using(copy.get("using"), &format!("{at}/using"))?,
                        into: into_token(copy.get("into"), &format!("{at}/into"))?,
                    });
                }
            }
            "lookup" => compiled.push(Behavior::Lookup(Box::new(compile_lookup(config, &at)?))),
            "decorate" => compiled.push(Behavior::Decorate(Script::compile(config, &at, options)?)),
            "shellTransform" => {
                // Running a user's command is injection in mountebank's terms.
                if options.scripts.is_none() {
                    return Err(StubError::invalid_injection(&at));
                }
                let lines: Vec<&Value> = match config {
                    Value::Array(lines) => lines.iter().collect(),
                    line => vec![line],
                };
                for (index, line) in lines.into_iter().enumerate() {
                    let at = if config.is_array() {
                        format!("{at}/{index}")
                    } else {
                        at.clone()
                    };
                    let command = line.as_str().and_then(ShellCommand::parse).ok_or_else(|| {
                        StubError::bad_data(
                            &at,
                            "'shellTransform' must be a command line (its quotes closed)",
                        )
                    })?;
                    compiled.push(Behavior::Shell(command));
                }
            }
            "repeat" => {
                return Err(StubError::bad_data(
                    &at,
                    "'repeat' belongs on the response, beside 'is', not in 'behaviors'",
                ));
            }
            other => {
                return Err(StubError::bad_data(
                    &at,
                    format!("unknown behavior '{other}'"),
                ));
            }
        }
    }
    Ok(compiled)
}

/// A proxy's JavaScript (`addDecorateBehavior`, predicate generators'
/// `inject`) is checked when the stub is created, like any other.
fn check_proxy_scripts(
    proxy: &Value,
    at: &str,
    options: &crate::CompileOptions,
) -> Result<(), StubError> {
    if let Some(source) = proxy.get("addDecorateBehavior") {
        Script::compile(source, &format!("{at}/addDecorateBehavior"), options)?;
    }
    if let Some(Value::Array(generators)) = proxy.get("predicateGenerators") {
        for (index, generator) in generators.iter().enumerate() {
            if let Some(source) = generator.get("inject") {
                Script::compile(
                    source,
                    &format!("{at}/predicateGenerators/{index}/inject"),
                    options,
                )?;
            }
        }
    }
    Ok(())
}

/// mountebank's answer when a function fails while answering: 500 with
/// `invalid injection`, the source and the engine's message.
fn injection_failed(what: &str, script: &Script, message: &str) -> Reply {
    injection_failed_reply(what, &script.source, message)
}

/// [`injection_failed`] for a function known by its source.
pub(crate) fn injection_failed_reply(what: &str, source: &str, message: &str) -> Reply {
    let body = serde_json::json!({"errors": [{
        "code": "invalid injection",
        "message": format!("invalid {what} injection"),
        "source": source,
        "data": message,
    }]});
    Reply::new(500)
        .with_header("Content-Type", "application/json")
        .with_header("Connection", "close")
        .with_body(pretty(&body))
}

fn compile_from(from: Option<&Value>, at: &str) -> Result<From, StubError> {
    match from {
        Some(Value::String(_)) => Ok(From(from.cloned().unwrap_or(Value::Null))),
        Some(Value::Object(map)) if map.len() == 1 => Ok(From(Value::Object(map.clone()))),
        _ => Err(StubError::bad_data(
            at,
            "'from' must be a request field name or an object of one key, such as {\"query\": \"id\"}",
        )),
    }
}

fn compile_using(using: Option<&Value>, at: &str) -> Result<Using, StubError> {
    let using = using.ok_or_else(|| StubError::bad_data(at, "'using' is required"))?;
    let selector = using
        .get("selector")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            StubError::bad_data(&format!("{at}/selector"), "'selector' must be a string")
        })?;
    match using.get("method").and_then(Value::as_str) {
        Some("regex") => {
            let options = using.get("options");
            let flag = |name: &str| {
                options
                    .and_then(|o| o.get(name))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            RegexBuilder::new(selector)
                .case_insensitive(flag("ignoreCase"))
                .multi_line(flag("multiline"))
                .build()
                .map(Using::Regex)
                .map_err(|error| {
                    StubError::bad_data(
                        &format!("{at}/selector"),
                        format!("not a regular expression: {error}"),
                    )
                })
        }
        Some("jsonpath") => JsonPath::parse(selector)
            .map(Using::JsonPath)
            .map_err(|error| {
                StubError::bad_data(
                    &format!("{at}/selector"),
                    format!("not a JSONPath: {error}"),
                )
            }),
        Some("xpath") => {
            let ns = crate::predicate::xpath_namespaces(using.get("ns"), &format!("{at}/ns"))?;
            XPathSelector::compile(selector, &ns)
                .map(Using::XPath)
                .map_err(|message| StubError::bad_data(&format!("{at}/selector"), message))
        }
        _ => Err(StubError::bad_data(
            &format!("{at}/method"),
            "'method' must be regex, xpath or jsonpath",
        )),
    }
}

fn into_token(into: Option<&Value>, at: &str) -> Result<String, StubError> {
    match into {
        Some(Value::String(token)) if !token.is_empty() => Ok(token.clone()),
        _ => Err(StubError::bad_data(
            at,
            "'into' must be the token to replace, such as \"${NAME}\"",
        )),
    }
}

fn compile_lookup(config: &Value, at: &str) -> Result<Lookup, StubError> {
    let key = config
        .get("key")
        .ok_or_else(|| StubError::bad_data(&format!("{at}/key"), "'key' is required"))?;
    let csv = config
        .get("fromDataSource")
        .and_then(|source| source.get("csv"))
        .ok_or_else(|| {
            StubError::bad_data(
                &format!("{at}/fromDataSource"),
                "'fromDataSource' needs a 'csv' object",
            )
        })?;
    let text = |value: Option<&Value>, name: &str| -> Result<String, StubError> {
        value
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                StubError::bad_data(
                    &format!("{at}/fromDataSource/csv/{name}"),
                    format!("'{name}' must be a string"),
                )
            })
    };
    let delimiter = match csv.get("delimiter").and_then(Value::as_str) {
        None => b',',
        Some(text) if text.len() == 1 => text.as_bytes()[0],
        Some(_) => {
            return Err(StubError::bad_data(
                &format!("{at}/fromDataSource/csv/delimiter"),
                "'delimiter' must be one character",
            ));
        }
    };
    Ok(Lookup {
        from: compile_from(key.get("from"), &format!("{at}/key/from"))?,
        using: compile_using(key.get("using"), &format!("{at}/key/using"))?,
        index: key.get("index").and_then(Value::as_u64).unwrap_or(0) as usize,
        path: text(csv.get("path"), "path")?,
        key_column: text(csv.get("keyColumn"), "keyColumn")?,
        delimiter,
        into: into_token(config.get("into"), &format!("{at}/into"))?,
    })
}

impl Respond for MbResponse {
    fn respond(&self, request: &Request) -> Action {
        if let Some(reply) = &self.rendered {
            return Action::Reply(reply.clone());
        }
        let mut response = match &self.kind {
            ResponseKind::Proxy(proxy) => return Action::Proxy(proxy.clone()),
            ResponseKind::Fault(Some(fault)) => return Action::Fault(*fault),
            ResponseKind::Fault(None) => Value::Object(Map::new()),
            ResponseKind::Is(is) => is.clone(),
            ResponseKind::Inject(script) => {
                match script.scripts.response(&script.source, request.to_json()) {
                    Ok(Value::Object(response)) => Value::Object(response),
                    Ok(_) => Value::Object(Map::new()),
                    Err(message) => {
                        return Action::Reply(injection_failed("response", script, &message));
                    }
                }
            }
        };
        let mut delay = Duration::ZERO;
        for behavior in &self.behaviors {
            match behavior {
                Behavior::Wait(wait) => delay += *wait,
                Behavior::WaitScript(script) => {
                    match script.scripts.wait(&script.source, request.to_json()) {
                        Ok(ms) if ms.is_finite() && ms > 0.0 => {
                            delay += Duration::from_secs_f64(ms / 1000.0)
                        }
                        Ok(_) => {}
                        Err(message) => {
                            return Action::Reply(injection_failed("wait", script, &message));
                        }
                    }
                }
                Behavior::Decorate(script) => {
                    match script
                        .scripts
                        .decorate(&script.source, request.to_json(), response)
                    {
                        Ok(decorated) => response = decorated,
                        Err(message) => {
                            return Action::Reply(injection_failed("decorator", script, &message));
                        }
                    }
                }
                Behavior::Copy { from, using, into } => {
                    let values = select(from, using, request);
                    replace_tokens(&mut response, &|text| replace_indexed(text, into, &values));
                }
                Behavior::Shell(command) => match command.run(request.to_json(), &response) {
                    Ok(transformed) => response = transformed,
                    Err(message) => {
                        let body = serde_json::json!({"errors": [{
                            "code": "invalid injection",
                            "message": format!("shellTransform {:?} failed", command.line()),
                            "data": message,
                        }]});
                        return Action::Reply(
                            Reply::new(500)
                                .with_header("Content-Type", "application/json")
                                .with_header("Connection", "close")
                                .with_body(pretty(&body)),
                        );
                    }
                },
                Behavior::Lookup(lookup) => {
                    let keys = select(&lookup.from, &lookup.using, request);
                    let row = keys
                        .get(lookup.index)
                        .map(|key| csv_row(lookup, key))
                        .unwrap_or_default();
                    replace_tokens(&mut response, &|text| {
                        replace_columns(text, &lookup.into, &row)
                    });
                }
            }
        }
        let mut reply = render(&response, &self.defaults);
        reply.delay = delay;
        Action::Reply(reply)
    }
}

/// The values a `copy` or `lookup` selects: a regex's match and groups, or
/// a JSON path's or an XPath's matches, as text.
fn select(from: &From, using: &Using, request: &Request) -> Vec<String> {
    let Some(source) = read_from(request.to_json(), &from.0) else {
        return Vec::new();
    };
    let source = js::to_js_string(&source).unwrap_or_else(|| "null".to_string());
    match using {
        Using::Regex(regex) => regex
            .captures(&source)
            .map(|captures| {
                captures
                    .iter()
                    .map(|group| {
                        group
                            .map(|group| group.as_str().to_string())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Using::JsonPath(path) => match serde_json::from_str::<Value>(&source) {
            Ok(json) => path
                .query(&json)
                .all()
                .into_iter()
                .map(|value| js::to_js_string(value).unwrap_or_else(|| "null".to_string()))
                .collect(),
            Err(_) => Vec::new(),
        },
        // mountebank's `xpathValue`: every selected value, in document order.
        Using::XPath(xpath) => xpath
            .select(&source)
            .unwrap_or_default()
            .iter()
            .map(|value| js::to_js_string(value).unwrap_or_else(|| "null".to_string()))
            .collect(),
    }
}

/// mountebank's `getFrom`: keys compared without case, a multi-valued
/// field's first value.
fn read_from(object: &Value, from: &Value) -> Option<Value> {
    match from {
        Value::Object(map) => {
            let (key, inner) = map.iter().next()?;
            read_from(field(object, key)?, inner)
        }
        Value::String(key) => match field(object, key)? {
            Value::Array(items) => items.first().cloned(),
            other => Some(other.clone()),
        },
        _ => None,
    }
}

fn field<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(name, _)| name.to_lowercase() == key.to_lowercase())
        .map(|(_, value)| value)
}

/// `${TOKEN}[1]` is the second value, `${TOKEN}` the first.
fn replace_indexed(text: &str, token: &str, values: &[String]) -> String {
    let mut text = text.to_string();
    for (index, value) in values.iter().enumerate() {
        text = text.replace(&format!("{token}[{index}]"), value);
    }
    if let Some(first) = values.first() {
        text = text.replace(token, first);
    }
    text
}

/// `${ROW}["column"]`, `${ROW}['column']` and `${ROW}[column]`.
fn replace_columns(text: &str, token: &str, row: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (column, value) in row {
        for quote in ["\"", "'", ""] {
            text = text.replace(&format!("{token}[{quote}{column}{quote}]"), value);
        }
    }
    text
}

/// Replaces in every string and every object key of the response.
fn replace_tokens(value: &mut Value, replace: &dyn Fn(&str) -> String) {
    match value {
        Value::String(text) => *text = replace(text),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_tokens(item, replace)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                replace_tokens(&mut item, replace);
                map.insert(replace(&key), item);
            }
        }
        _ => {}
    }
}

/// The row of a CSV file whose key column equals `key`; empty when the
/// file cannot be read or has no such row (mountebank then leaves the
/// tokens in place).
fn csv_row(lookup: &Lookup, key: &str) -> Vec<(String, String)> {
    let Ok(mut reader) = csv::ReaderBuilder::new()
        .delimiter(lookup.delimiter)
        .flexible(true)
        .from_path(&lookup.path)
    else {
        return Vec::new();
    };
    let Ok(headers) = reader.headers().cloned() else {
        return Vec::new();
    };
    let Some(key_at) = headers.iter().position(|name| name == lookup.key_column) else {
        return Vec::new();
    };
    for record in reader.records().map_while(Result::ok) {
        if record.get(key_at) == Some(key) {
            return headers
                .iter()
                .zip(record.iter())
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
        }
    }
    Vec::new()
}

/// mountebank's `postProcess`: the response's fields, else the default
/// response's, else 200 with an empty body.
pub(crate) fn render(response: &Value, defaults: &Value) -> Reply {
    let pick = |name: &str| -> Option<&Value> {
        let given = response.get(name).filter(|value| js::truthy(Some(value)));
        given.or_else(|| defaults.get(name).filter(|value| js::truthy(Some(value))))
    };
    let status = match pick("statusCode") {
        None => 200,
        Some(value) => {
            match js::to_js_string(value).and_then(|text| text.trim().parse::<u16>().ok()) {
                Some(status) if (100..=999).contains(&status) => status,
                _ => {
                    return Reply::new(500)
                        .with_header("Content-Type", "text/plain; charset=utf-8")
                        .with_header("Connection", "close")
                        .with_body(format!(
                            "the stub's statusCode {value} is not an HTTP status"
                        ));
                }
            }
        }
    };
    // A response's own headers replace the defaults as a whole.
    let headers = response
        .get("headers")
        .filter(|value| !value.is_null())
        .or_else(|| defaults.get("headers"));
    let mut reply = Reply::new(status);
    if let Some(Value::Object(headers)) = headers {
        for (name, value) in headers {
            match value {
                Value::Array(values) => {
                    for value in values {
                        reply.headers.push((name.clone(), header_text(value)));
                    }
                }
                value => reply.headers.push((name.clone(), header_text(value))),
            }
        }
    }
    let binary = pick("_mode").and_then(Value::as_str) == Some("binary");
    reply.body = match pick("body") {
        None => Vec::new(),
        Some(Value::String(text)) if binary => {
            let cleaned: String = text
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .unwrap_or_default()
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(body) if js::is_object(body) => pretty(body).into_bytes(),
        Some(other) => js::to_js_string(other).unwrap_or_default().into_bytes(),
    };
    if let Some(Value::Array(chunks)) = response.get("chunks") {
        // hmt's extension: the body sent in pieces, each after its wait.
        let chunks: Vec<crate::reply::Chunk> = chunks
            .iter()
            .map(|chunk| crate::reply::Chunk {
                delay: std::time::Duration::from_millis(
                    chunk.get("waitMs").and_then(Value::as_u64).unwrap_or(0),
                ),
                data: bytes::Bytes::from(
                    chunk
                        .get("data")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
            })
            .collect();
        reply.body = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
        reply
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-length"));
        reply.delivery = crate::reply::Delivery::Chunks(chunks);
    }
    if reply.header("connection").is_none() {
        reply.headers.push(("Connection".into(), "close".into()));
    }
    let length = reply.body.len().to_string();
    for (name, value) in &mut reply.headers {
        if name.eq_ignore_ascii_case("content-length") {
            *value = length.clone();
        }
    }
    reply
}

/// hmt's `chunks` extension of an `is` response: `[{"data": "text",
/// "waitMs": 100}, ...]`.
fn check_chunks(chunks: &Value, at: &str) -> Result<(), StubError> {
    let Value::Array(chunks) = chunks else {
        return Err(StubError::bad_data(
            at,
            "'chunks' must be an array of {\"data\": text, \"waitMs\": number}",
        ));
    };
    for (index, chunk) in chunks.iter().enumerate() {
        let at = format!("{at}/{index}");
        if !chunk.get("data").is_some_and(Value::is_string) {
            return Err(StubError::bad_data(
                &format!("{at}/data"),
                "'data' must be a string",
            ));
        }
        match chunk.get("waitMs") {
            None => {}
            Some(wait) if wait.as_u64().is_some_and(|ms| ms <= 600_000) => {}
            Some(_) => {
                return Err(StubError::bad_data(
                    &format!("{at}/waitMs"),
                    "'waitMs' must be milliseconds, 0 to 600000",
                ));
            }
        }
    }
    Ok(())
}

fn header_text(value: &Value) -> String {
    js::to_js_string(value).unwrap_or_else(|| "null".to_string())
}

/// `JSON.stringify(body, null, 4)`.
pub(crate) fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut serializer).expect("a JSON value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests;
