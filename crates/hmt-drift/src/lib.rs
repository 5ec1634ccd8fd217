//! The drift gate behind `hmt build --check`: compares recorded exchanges
//! with an OpenAPI 3.0 or 3.1 spec and reports, with locations, every way
//! the traffic differs from what the spec documents.
//!
//! Reading the spec, routing a request onto an operation and validating
//! values against schemas are `hmt-openapi`'s, the same code `hmt mock`
//! serves with, so the gate and the mock never disagree about what a spec
//! says. This crate adds what the mock has no use for: response checks,
//! undocumented parameters and fields, and the [`report`].
//!
//! ```
//! use hmt_drift::{Checker, Kind, Location};
//! use hmt_types::Exchange;
//! use std::sync::Arc;
//!
//! let spec = serde_json::json!({
//!     "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
//!     "paths": {"/users/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}}
//! });
//! let spec = hmt_openapi::compile(hmt_openapi::LoadedSpec { file: "api.json".into(), document: spec }).unwrap();
//! let mut checker = Checker::new(spec, "api.json");
//! let traffic: Arc<str> = Arc::from("t.jsonl");
//! let line = r#"{"request":{"method":"get","path":"/users/7"},"response":{"statusCode":404}}"#;
//! checker.check(&Exchange::from_json_line(line).unwrap(), Location::line(&traffic, 1));
//! let report = checker.finish();
//! assert!(report.drifted());
//! assert_eq!(report.findings[0].kind, Kind::UndocumentedStatus);
//! assert_eq!(report.findings[0].location.to_string(), "t.jsonl:1");
//! ```

pub mod fields;
pub mod headers;
pub mod report;

pub use report::{Finding, Kind, Location, Position, Report};

use hmt_openapi::media::{essence, media_accepts};
use hmt_openapi::model::{
    Location as ParamLocation, Operation, ResponseDef, SecurityScheme, Spec, StatusKey,
};
use hmt_openapi::route::{Found, Miss, Routes};
use hmt_openapi::validate::{IssueKind, RequestView, SpecValidators, parse_body};
use hmt_types::Exchange;
use hmt_types::pointer::escape;
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Checks exchanges, one at a time, against one spec.
pub struct Checker {
    specs: Vec<Spec>,
    routes: Routes,
    validators: SpecValidators,
    /// Body validators by schema pointer, compiled on first use, or why
    /// they cannot be.
    body_validators:
        RefCell<BTreeMap<String, Result<Validator, hmt_openapi::validate::CompileError>>>,
    report: Report,
}

impl Checker {
    /// A checker for `spec`, named `name` in the report.
    pub fn new(spec: Spec, name: impl Into<String>) -> Checker {
        let validators = SpecValidators::new(&spec);
        let specs = vec![spec];
        Checker {
            routes: Routes::new(&specs),
            specs,
            validators,
            body_validators: RefCell::new(BTreeMap::new()),
            report: Report::new(name),
        }
    }

    /// Checks one exchange, found at `location`.
    pub fn check(&mut self, exchange: &Exchange, location: Location) {
        let findings = self.findings(exchange, &location);
        self.report.add_exchange(findings);
    }

    /// The report on every exchange checked.
    pub fn finish(self) -> Report {
        let mut report = self.report;
        for (pointer, validator) in self.body_validators.into_inner() {
            if let Err(error) = validator {
                report.warnings.push(format!(
                    "the schema at #{pointer} cannot be compiled ({error}); bodies were not validated against it"
                ));
            }
        }
        report
    }

    fn findings(&self, exchange: &Exchange, location: &Location) -> Vec<Finding> {
        let request = &exchange.request;
        let method_name = request.method.as_str().to_ascii_uppercase();
        let mut out = Findings {
            location,
            request: format!("{method_name} {}", request.pathname),
            operation: None,
            list: Vec::new(),
        };
        let Ok(method) = http::Method::from_bytes(method_name.as_bytes()) else {
            return out.list;
        };
        let host = request.host.as_deref().map(str::to_ascii_lowercase);
        let spec = &self.specs[0];
        match self
            .routes
            .find(&self.specs, host.as_deref(), &method, &request.pathname)
        {
            Ok(found) => {
                let operation = &spec.operations[found.operation];
                out.operation = Some(label(operation));
                self.check_request(exchange, &found, &mut out);
                if let Some(response) = &exchange.response {
                    self.check_response(operation, response, &mut out);
                }
            }
            Err(Miss::NotFound) => {
                let nearest = hmt_openapi::route::closest(&self.specs, &request.pathname, 1)
                    .first()
                    .map(|op| format!(" (the nearest is {})", op.template))
                    .unwrap_or_default();
                out.list.push(out.finding(
                    Kind::UndocumentedPath,
                    "request.path",
                    None,
                    None,
                    Some("#/paths".to_owned()),
                    format!("no path of the spec matches {}{nearest}", request.pathname),
                ));
            }
            Err(Miss::MethodNotAllowed(allowed)) => {
                // The documented path, through one of its methods.
                let path_item = allowed.first().and_then(|other| {
                    self.routes
                        .find(&self.specs, host.as_deref(), other, &request.pathname)
                        .ok()
                        .map(|found| &spec.operations[found.operation])
                });
                let documented: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
                let (operation, pointer) = match path_item {
                    Some(op) => (
                        Some(format!("{method_name} {}", op.template)),
                        op.pointer
                            .rsplit_once('/')
                            .map(|(item, _)| format!("#{item}")),
                    ),
                    None => (None, None),
                };
                out.operation = operation;
                out.list.push(out.finding(
                    Kind::UndocumentedOperation,
                    "request.method",
                    None,
                    None,
                    pointer,
                    format!(
                        "{method_name} is not documented for this path (documented: {})",
                        documented.join(", ")
                    ),
                ));
            }
        }
        out.list
    }

    fn check_request(&self, exchange: &Exchange, found: &Found, out: &mut Findings<'_>) {
        let spec = &self.specs[0];
        let operation = &spec.operations[found.operation];
        let op_pointer = format!("#{}", operation.pointer);
        let request = &exchange.request;

        // Parameters the operation does not declare.
        let declared = |location: ParamLocation, name: &str| {
            operation.parameters.iter().any(|p| {
                p.location == location
                    && if location == ParamLocation::Header {
                        p.name.eq_ignore_ascii_case(name)
                    } else {
                        p.name == name
                    }
            }) || operation.security.iter().flatten().any(|scheme| {
                matches!(scheme, SecurityScheme::ApiKey { name: key, location: at }
                    if *at == location && (key == name || (location == ParamLocation::Header && key.eq_ignore_ascii_case(name))))
            })
        };
        let query_names = request.query.iter().filter_map(|(name, _)| {
            // `filter[status]`, `ids[]`: bracket notation of a declared
            // (deepObject or array) parameter.
            let base = name
                .split_once('[')
                .filter(|_| name.ends_with(']'))
                .map_or(name, |(base, _)| base);
            (!declared(ParamLocation::Query, name)
                && !declared(ParamLocation::Query, base)
                && !hmt_types::secrets::is_secret_query(name))
            .then(|| ("request.query", "query parameter", name.to_owned()))
        });
        let header_names = request
            .headers
            .iter()
            .map(|(name, _)| name)
            .filter(|name| headers::needs_declaring(name) && !declared(ParamLocation::Header, name))
            .map(|name| ("request.header", "header", name.to_ascii_lowercase()));
        for (part, what, name) in query_names.chain(header_names) {
            out.list.push(out.finding(
                Kind::UndocumentedParameter,
                part,
                Some(name.clone()),
                None,
                Some(format!("{op_pointer}/parameters")),
                format!("the {what} {name} is not documented"),
            ));
        }

        // Declared parameters: present when required, values valid.
        let query: Vec<(String, String)> = request
            .query
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.to_owned(), v.clone())))
            .collect();
        let header = |name: &str| request.headers.get_all_ignore_case(name).to_vec();
        let cookie = |name: &str| cookie_values(request, name);
        let body = request.body.as_deref().unwrap_or(b"");
        let content_type = request.headers.get_ignore_case("content-type");
        let view = RequestView {
            path_params: &found.params,
            query: &query,
            header: &header,
            cookie: &cookie,
            content_type,
            body,
        };
        let mut issues = Vec::new();
        self.validators
            .check_parameters(spec, found.operation, &view, &mut issues);
        for issue in issues {
            let (kind, pointer) = match issue.kind {
                IssueKind::Missing => (Kind::MissingParameter, None),
                _ => (
                    Kind::SchemaViolation,
                    Some(issue.pointer).filter(|p| !p.is_empty()),
                ),
            };
            let part = match issue.location {
                "path" => "request.path",
                "query" => "request.query",
                "header" => "request.header",
                _ => "request.cookie",
            };
            let spec_pointer = operation
                .parameters
                .iter()
                .find(|p| p.name == issue.name)
                .and_then(|p| p.schema_pointer.as_deref())
                .map(|p| format!("#{p}"))
                .unwrap_or_else(|| format!("{op_pointer}/parameters"));
            out.list.push(out.finding(
                kind,
                part,
                Some(issue.name),
                pointer,
                Some(spec_pointer),
                shorten(issue.message),
            ));
        }

        // The body.
        let Some(documented) = &operation.request_body else {
            if !body.is_empty() {
                out.list.push(out.finding(
                    Kind::UndocumentedMediaType,
                    "request.body",
                    None,
                    None,
                    Some(op_pointer),
                    format!(
                        "a request body{} was sent; the operation documents none",
                        content_type
                            .map(|t| format!(" ({})", essence(t)))
                            .unwrap_or_default()
                    ),
                ));
            }
            return;
        };
        let body_pointer = format!("{op_pointer}/requestBody");
        if body.is_empty() {
            if documented.required {
                out.list.push(out.finding(
                    Kind::SchemaViolation,
                    "request.body",
                    None,
                    None,
                    Some(body_pointer),
                    "a request body is required".to_owned(),
                ));
            }
            return;
        }
        if documented.content.is_empty() {
            return;
        }
        let sent = content_type.map(essence).unwrap_or_default();
        // A body sent without a media type is read as the first documented.
        let position = if sent.is_empty() {
            Some(0)
        } else {
            documented
                .content
                .iter()
                .position(|(media, _)| media_accepts(media, &sent))
        };
        let Some(position) = position else {
            out.list.push(out.finding(
                Kind::UndocumentedMediaType,
                "request.body",
                None,
                None,
                Some(format!("{body_pointer}/content")),
                format!(
                    "the request body is {sent}; the operation documents {}",
                    list(documented.content.iter().map(|(m, _)| m.as_str()))
                ),
            ));
            return;
        };
        let (media, schema_pointer) = &documented.content[position];
        let media = if sent.is_empty() { media.clone() } else { sent };
        if let Some(schema_pointer) = schema_pointer {
            self.check_body(&media, body, schema_pointer, "request.body", out);
        }
    }

    fn check_response(
        &self,
        operation: &Operation,
        response: &hmt_types::Response,
        out: &mut Findings<'_>,
    ) {
        let spec = &self.specs[0];
        let responses_pointer = format!("#{}/responses", operation.pointer);
        let Some(documented) = response_for(&operation.responses, response.status) else {
            let keys: Vec<String> = operation
                .responses
                .iter()
                .map(|r| status_key_name(r.status))
                .collect();
            out.list.push(out.finding(
                Kind::UndocumentedStatus,
                "response.status",
                None,
                None,
                Some(responses_pointer),
                format!(
                    "status {} is not documented (documented: {})",
                    response.status,
                    if keys.is_empty() {
                        "none".to_owned()
                    } else {
                        keys.join(", ")
                    }
                ),
            ));
            return;
        };
        let body = response.body.as_deref().unwrap_or(b"");
        if body.is_empty() {
            return;
        }
        let response_pointer = format!(
            "{responses_pointer}/{}",
            escape(&written_key(spec, operation, documented.status))
        );
        let sent = response
            .headers
            .get_ignore_case("content-type")
            .map(essence)
            .unwrap_or_default();
        if documented.content.is_empty() {
            out.list.push(out.finding(
                Kind::UndocumentedMediaType,
                "response.body",
                None,
                None,
                Some(response_pointer),
                format!(
                    "the {} response has a body{}; the spec documents none",
                    response.status,
                    if sent.is_empty() {
                        String::new()
                    } else {
                        format!(" ({sent})")
                    }
                ),
            ));
            return;
        }
        let media = if sent.is_empty() {
            documented.content.first()
        } else {
            documented
                .content
                .iter()
                .find(|m| media_accepts(&m.media_type, &sent))
        };
        let Some(media) = media else {
            out.list.push(out.finding(
                Kind::UndocumentedMediaType,
                "response.body",
                None,
                None,
                Some(format!("{response_pointer}/content")),
                format!(
                    "the {} response body is {sent}; the spec documents {}",
                    response.status,
                    list(documented.content.iter().map(|m| m.media_type.as_str()))
                ),
            ));
            return;
        };
        let media_type = if sent.is_empty() {
            media.media_type.to_ascii_lowercase()
        } else {
            sent
        };
        if let Some(schema_pointer) = &media.schema_pointer {
            self.check_body(&media_type, body, schema_pointer, "response.body", out);
        }
    }

    /// Validates a body against the schema at `schema_pointer` and looks
    /// for undocumented fields in it. Only JSON and form bodies are read.
    fn check_body(
        &self,
        media_type: &str,
        body: &[u8],
        schema_pointer: &str,
        part: &'static str,
        out: &mut Findings<'_>,
    ) {
        let spec = &self.specs[0];
        let root = &spec.document;
        let value = match parse_body(media_type, body, root, root.pointer(schema_pointer)) {
            Ok(Some(value)) => value,
            Ok(None) => return,
            Err(message) => {
                out.list.push(out.finding(
                    Kind::SchemaViolation,
                    part,
                    None,
                    Some(String::new()),
                    Some(format!("#{schema_pointer}")),
                    message,
                ));
                return;
            }
        };
        let mut cache = self.body_validators.borrow_mut();
        let validator = cache
            .entry(schema_pointer.to_owned())
            .or_insert_with(|| self.validators.validator(spec, schema_pointer));
        // One finding per place: the items of a list that break the schema
        // the same way are one finding, counted.
        let mut places: Vec<(String, Finding, u64)> = Vec::new();
        let mut add =
            |key: String, finding: Finding| match places.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, count)) => *count += 1,
                None => places.push((key, finding, 1)),
            };
        if let Ok(validator) = validator {
            for error in validator.iter_errors(&value) {
                let at = error.instance_path().to_string();
                // The keyword that failed, where it is in the document
                // (references followed); the body's schema if unknown.
                let keyword_at = error.schema_path().to_string();
                let spec_at = Some(if keyword_at.is_empty() {
                    format!("#{schema_pointer}")
                } else {
                    format!("#{}", hmt_types::percent_decode(&keyword_at))
                });
                let unexpected = match error.kind() {
                    ValidationErrorKind::AdditionalProperties { unexpected }
                    | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                        Some(unexpected.clone())
                    }
                    _ => None,
                };
                match unexpected {
                    Some(names) => {
                        for name in names {
                            let pointer = format!("{at}/{}", escape(&name));
                            add(
                                format!("{}|additional", report::shape(&pointer)),
                                out.finding(
                                    Kind::SchemaViolation,
                                    part,
                                    None,
                                    Some(pointer),
                                    spec_at.clone(),
                                    format!(
                                        "property {name:?} is not allowed: the schema does not list it and allows no others"
                                    ),
                                ),
                            );
                        }
                    }
                    None => add(
                        format!(
                            "{}|{}|{}",
                            report::shape(&at),
                            error.schema_path(),
                            match error.kind() {
                                ValidationErrorKind::Required { property } => property.to_string(),
                                _ => String::new(),
                            }
                        ),
                        out.finding(
                            Kind::SchemaViolation,
                            part,
                            None,
                            Some(at.clone()),
                            spec_at,
                            shorten(format!("{} at {}: {error}", body_name(part), or_root(&at))),
                        ),
                    ),
                }
            }
        }
        for field in fields::undocumented(root, schema_pointer, &value) {
            add(
                format!("{}|undocumented", report::shape(&field.pointer)),
                out.finding(
                    Kind::UndocumentedField,
                    part,
                    None,
                    Some(field.pointer),
                    Some(field.schema_pointer.clone()),
                    format!(
                        "property {:?} is not in the schema ({}), which allows it",
                        field.name, field.schema_pointer
                    ),
                ),
            );
        }
        for (_, mut finding, count) in places {
            if count > 1 {
                finding
                    .message
                    .push_str(&format!(" ({count} times in this body)"));
            }
            out.list.push(finding);
        }
    }
}

/// Findings of one exchange, with what they all share.
struct Findings<'a> {
    location: &'a Location,
    request: String,
    operation: Option<String>,
    list: Vec<Finding>,
}

impl Findings<'_> {
    fn finding(
        &self,
        kind: Kind,
        part: &'static str,
        name: Option<String>,
        pointer: Option<String>,
        spec_pointer: Option<String>,
        message: String,
    ) -> Finding {
        Finding {
            kind,
            location: self.location.clone(),
            request: self.request.clone(),
            operation: self.operation.clone(),
            part,
            name,
            pointer,
            spec_pointer,
            message,
        }
    }
}

/// The longest message a finding gets: the validator quotes the value it
/// rejects, which can be a whole body.
const MAX_MESSAGE: usize = 400;

/// `message`, cut at [`MAX_MESSAGE`] bytes (on a character boundary).
fn shorten(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

/// `GET /users/{id}`.
fn label(operation: &Operation) -> String {
    format!("{} {}", operation.method, operation.template)
}

/// The documented response for `status`: the exact code, else its range,
/// else `default` (OpenAPI's precedence).
fn response_for(responses: &[ResponseDef], status: u16) -> Option<&ResponseDef> {
    responses
        .iter()
        .find(|r| r.status == StatusKey::Code(status))
        .or_else(|| {
            responses
                .iter()
                .find(|r| r.status == StatusKey::Range(status / 100))
        })
        .or_else(|| responses.iter().find(|r| r.status == StatusKey::Default))
}

fn status_key_name(key: StatusKey) -> String {
    match key {
        StatusKey::Code(code) => code.to_string(),
        StatusKey::Range(digit) => format!("{digit}XX"),
        StatusKey::Default => "default".to_owned(),
    }
}

/// The key of a response as the spec writes it (`2xx` or `2XX`, `default`).
fn written_key(spec: &Spec, operation: &Operation, key: StatusKey) -> String {
    let wanted = status_key_name(key);
    spec.document
        .pointer(&format!("{}/responses", operation.pointer))
        .and_then(Value::as_object)
        .and_then(|responses| {
            responses
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&wanted))
                .cloned()
        })
        .unwrap_or(wanted)
}

/// A cookie's value from the `Cookie` header(s).
/// Every value of cookie `name`, in the order sent.
fn cookie_values(request: &hmt_types::Request, name: &str) -> Vec<String> {
    request
        .headers
        .get_all_ignore_case("cookie")
        .iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name).then(|| v.to_owned())
        })
        .collect()
}

fn body_name(part: &str) -> &'static str {
    if part == "request.body" {
        "the request body"
    } else {
        "the response body"
    }
}

fn or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}
