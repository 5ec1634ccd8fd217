//! Request validation: path, query, header and cookie parameters and the
//! body, against the operation's schemas.
//!
//! Validators are compiled on first use of an operation, not at start-up:
//! a 2 MB spec such as Stripe's has hundreds of operations and a mock is
//! usually asked about a few. Each validator refers into the whole spec
//! document (registered once per spec), so `$ref`s resolve as written.
//!
//! Parameters arrive as text. They are parsed as their `style` and
//! `explode` say ([`style`]) and read as the types their schema allows
//! (the union over `anyOf`/`oneOf`/`allOf` branches and `type` arrays,
//! [`shape`]); a parameter is accepted when any reading of it validates,
//! so `?created=5` passes `anyOf: [object, integer]` while `?limit=ten`
//! fails as "not an integer" rather than passing as a string. Form bodies
//! are read field by field the same way ([`form`]).

mod bounds;
mod form;
mod shape;
mod style;

use crate::model::{Location, Operation, Parameter, Spec, Style};
use hmt_types::pointer::deref;
use jsonschema::{Registry, Validator};
use serde_json::{Map, Value};
use shape::Shape;
use std::sync::OnceLock;
use style::{MAX_ALTERNATIVES, Raw, Source};

/// The URI the spec document is registered under.
const SPEC_URI: &str = "urn:hmt:spec";

/// One thing wrong with a request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// `path`, `query`, `header`, `cookie` or `body`.
    pub location: &'static str,
    /// The parameter's name, or empty for the body.
    pub name: String,
    /// JSON pointer inside the value.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// Whether something required is missing or a value is wrong; not
    /// part of the mock's problem documents.
    #[serde(skip)]
    pub kind: IssueKind,
}

/// Why the schema at a pointer cannot be made into a validator.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The spec's schemas as a whole are not JSON Schema.
    #[error("the spec's schemas cannot be read as JSON Schema")]
    Registry,
    /// The schema itself does not compile (a bad `pattern`, a `$ref` to
    /// nowhere).
    #[error("{0}")]
    Schema(Box<jsonschema::ValidationError<'static>>),
}

/// What kind of thing is wrong with a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IssueKind {
    /// A required parameter is absent.
    Missing,
    /// A required body is absent.
    MissingBody,
    /// A value does not match its schema (or a body does not parse).
    #[default]
    Invalid,
}

/// What validation needs to know about a request.
pub struct RequestView<'a> {
    /// Path parameters, decoded.
    pub path_params: &'a [(String, String)],
    /// Query parameters, decoded, in order.
    pub query: &'a [(String, String)],
    /// Every value of a header, by lower-case name, in the order sent (one
    /// per header line; empty when it was not sent).
    pub header: &'a dyn Fn(&str) -> Vec<String>,
    /// Every value of a cookie, by name, in the order sent.
    pub cookie: &'a dyn Fn(&str) -> Vec<String>,
    /// `Content-Type`, if sent.
    pub content_type: Option<&'a str>,
    /// The body bytes.
    pub body: &'a [u8],
}

/// Why a request is refused before any response is chosen.
#[derive(Debug)]
pub enum Refusal {
    /// Parameters or body do not match their schemas.
    Invalid(Vec<Issue>),
    /// The body's media type is not one the operation accepts.
    UnsupportedMediaType {
        /// What was sent.
        sent: String,
        /// What is documented.
        accepted: Vec<String>,
    },
}

/// Per-spec validation state: the registered document, and compiled
/// validators per operation.
pub struct SpecValidators {
    registry: OnceLock<Option<Registry<'static>>>,
    operations: Vec<OnceLock<OperationValidators>>,
}

#[derive(Default)]
struct OperationValidators {
    /// By parameter index.
    parameters: Vec<Option<Validator>>,
    /// By parameter index: the types its text may be read as.
    shapes: Vec<Shape>,
    /// By parameter index: the bounds an integer value must meet, checked
    /// exactly.
    bounds: Vec<Vec<bounds::Bound>>,
    /// The names of the query parameters (an exploded free-form object
    /// parameter takes the other keys).
    query_names: Vec<String>,
    /// By request body media index.
    bodies: Vec<Option<Validator>>,
    /// By request body media index: the form fields' types.
    body_shapes: Vec<Shape>,
    /// By request body media index: its `encoding` map.
    encodings: Vec<Option<Map<String, Value>>>,
}

impl SpecValidators {
    /// Nothing compiled yet.
    pub fn new(spec: &Spec) -> SpecValidators {
        SpecValidators {
            registry: OnceLock::new(),
            operations: spec.operations.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    fn registry(&self, spec: &Spec) -> Option<&Registry<'static>> {
        self.registry
            .get_or_init(|| {
                let built = Registry::new()
                    .add(SPEC_URI, spec.document.clone())
                    .and_then(|b| b.prepare());
                match built {
                    Ok(registry) => Some(registry),
                    Err(error) => {
                        tracing::warn!(file = %spec.file.display(), %error, "schemas cannot be compiled; requests are not validated");
                        None
                    }
                }
            })
            .as_ref()
    }

    fn compile(&self, spec: &Spec, pointer: &str) -> Option<Validator> {
        match self.validator(spec, pointer) {
            Ok(validator) => Some(validator),
            Err(error) => {
                tracing::warn!(file = %spec.file.display(), pointer, %error, "schema cannot be compiled; not validated");
                None
            }
        }
    }

    /// A validator for the schema at `pointer` in `spec`'s document,
    /// `$ref`s resolving against the whole document, or why it cannot be
    /// compiled.
    pub fn validator(&self, spec: &Spec, pointer: &str) -> Result<Validator, CompileError> {
        let registry = self.registry(spec).ok_or(CompileError::Registry)?;
        let reference = serde_json::json!({"$ref": format!("{SPEC_URI}#{}", fragment(pointer))});
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(registry)
            .should_validate_formats(true)
            .build(&reference)
            .map_err(|error| CompileError::Schema(Box::new(error)))
    }

    fn operation(&self, spec: &Spec, index: usize) -> &OperationValidators {
        self.operations[index].get_or_init(|| {
            let operation = &spec.operations[index];
            OperationValidators {
                parameters: operation
                    .parameters
                    .iter()
                    .map(|p| {
                        p.schema_pointer
                            .as_deref()
                            .and_then(|at| self.compile(spec, at))
                    })
                    .collect(),
                shapes: operation
                    .parameters
                    .iter()
                    .map(|p| match &p.schema {
                        Some(schema) => Shape::of(&spec.document, schema),
                        None => Shape::any(),
                    })
                    .collect(),
                bounds: operation
                    .parameters
                    .iter()
                    .map(|p| {
                        p.schema
                            .as_ref()
                            .map_or_else(Vec::new, |schema| bounds::of(&spec.document, schema))
                    })
                    .collect(),
                query_names: operation
                    .parameters
                    .iter()
                    .filter(|p| p.location == Location::Query)
                    .map(|p| p.name.clone())
                    .collect(),
                bodies: operation
                    .request_body
                    .iter()
                    .flat_map(|b| &b.content)
                    .map(|(_, at)| at.as_deref().and_then(|at| self.compile(spec, at)))
                    .collect(),
                body_shapes: operation
                    .request_body
                    .iter()
                    .flat_map(|b| &b.content)
                    .map(|(_, at)| {
                        at.as_deref()
                            .and_then(|at| spec.document.pointer(at))
                            .map_or_else(Shape::any, |s| Shape::of(&spec.document, s))
                    })
                    .collect(),
                encodings: operation
                    .request_body
                    .iter()
                    .flat_map(|b| &b.content)
                    .map(|(media, _)| encoding(spec, operation, media))
                    .collect(),
            }
        })
    }

    /// Checks `request` against operation `index` of `spec`.
    pub fn check(
        &self,
        spec: &Spec,
        index: usize,
        request: &RequestView<'_>,
    ) -> Result<(), Refusal> {
        let mut issues = Vec::new();
        self.check_parameters(spec, index, request, &mut issues);
        self.check_body(spec, index, request, &mut issues)?;
        if issues.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(issues))
        }
    }

    /// Checks the parameters of `request` against operation `index` of
    /// `spec`, adding what is wrong to `issues`.
    pub fn check_parameters(
        &self,
        spec: &Spec,
        index: usize,
        request: &RequestView<'_>,
        issues: &mut Vec<Issue>,
    ) {
        let operation = &spec.operations[index];
        let validators = self.operation(spec, index);
        for (((parameter, validator), shape), bounds) in operation
            .parameters
            .iter()
            .zip(&validators.parameters)
            .zip(&validators.shapes)
            .zip(&validators.bounds)
        {
            check_parameter(
                parameter,
                Checks {
                    validator: validator.as_ref(),
                    shape,
                    bounds,
                },
                request,
                &validators.query_names,
                issues,
            );
        }
    }

    /// Checks the body of `request` against operation `index` of `spec`,
    /// adding what is wrong to `issues`; a media type the operation does
    /// not accept is refused at once, and so is a body sent to an
    /// operation that documents none (with nothing `accepted`).
    pub fn check_body(
        &self,
        spec: &Spec,
        index: usize,
        request: &RequestView<'_>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), Refusal> {
        let operation = &spec.operations[index];
        let sent_type = request.content_type.unwrap_or("");
        let sent = crate::media::essence(sent_type);
        let Some(body) = &operation.request_body else {
            if request.body.is_empty() {
                return Ok(());
            }
            return Err(Refusal::UnsupportedMediaType {
                sent: if sent.is_empty() {
                    "a body without a Content-Type".to_owned()
                } else {
                    sent
                },
                accepted: Vec::new(),
            });
        };
        if request.body.is_empty() {
            if body.required {
                issues.push(Issue {
                    location: "body",
                    name: String::new(),
                    pointer: String::new(),
                    message: "a request body is required".into(),
                    kind: IssueKind::MissingBody,
                });
            }
            return Ok(());
        }
        if body.content.is_empty() {
            return Ok(());
        }
        // A body sent without a media type is read as the first documented
        // one, as servers that sniff do; otherwise the most specific
        // documented type that accepts it (`application/json` before
        // `application/*+json` before `*/*`).
        let position = if sent.is_empty() {
            Some(0)
        } else {
            body.content
                .iter()
                .enumerate()
                .filter_map(|(i, (media, _))| {
                    crate::media::specificity(media, &sent).map(|s| (s, i))
                })
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|(_, i)| i)
        };
        let Some(position) = position else {
            return Err(Refusal::UnsupportedMediaType {
                sent,
                accepted: body.content.iter().map(|(m, _)| m.clone()).collect(),
            });
        };
        let validators = self.operation(spec, index);
        let Some(validator) = &validators.bodies[position] else {
            return Ok(());
        };
        let (media, content_type) = if sent.is_empty() {
            (
                body.content[position].0.clone(),
                body.content[position].0.as_str(),
            )
        } else {
            (sent, sent_type)
        };
        let candidates = if is_form(&media) {
            form::candidates(
                &media,
                content_type,
                request.body,
                &validators.body_shapes[position],
                validators.encodings[position].as_ref(),
            )
        } else {
            match parse_single(&media, request.body) {
                Ok(Some(value)) => Ok(vec![value]),
                Ok(None) => return Ok(()),
                Err(message) => Err((String::new(), message)),
            }
        };
        match candidates {
            Ok(candidates) => {
                if candidates.iter().any(|c| validator.is_valid(c)) {
                    return Ok(());
                }
                if let Some(first) = candidates.first() {
                    for error in validator.iter_errors(first) {
                        let pointer = error.instance_path().to_string();
                        issues.push(Issue {
                            location: "body",
                            name: String::new(),
                            message: format!("the body at {}: {error}", pointer_or_root(&pointer)),
                            pointer,
                            kind: IssueKind::Invalid,
                        });
                    }
                }
            }
            Err((pointer, message)) => issues.push(Issue {
                location: "body",
                name: String::new(),
                pointer,
                message,
                kind: IssueKind::Invalid,
            }),
        }
        Ok(())
    }
}

/// What a parameter's values are checked with.
#[derive(Clone, Copy)]
struct Checks<'a> {
    /// Its schema, compiled (`None`: not validated).
    validator: Option<&'a Validator>,
    /// The types its text may be read as.
    shape: &'a Shape,
    /// The bounds its integers must meet, compared exactly.
    bounds: &'a [bounds::Bound],
}

/// Checks one parameter of `request`, adding what is wrong to `issues`.
///
/// A header or cookie sent more than once has each value checked (a bad
/// second `X-Count` is as wrong as a bad first one); except that the
/// repeats of an array or object header are one list, as HTTP joins
/// repeated header lines with commas (RFC 9110 section 5.3).
fn check_parameter(
    parameter: &Parameter,
    checks: Checks<'_>,
    request: &RequestView<'_>,
    query_names: &[String],
    issues: &mut Vec<Issue>,
) {
    let mut values = match parameter.location {
        Location::Header => (request.header)(&parameter.name),
        Location::Cookie => (request.cookie)(&parameter.name),
        Location::Path => {
            let text = request
                .path_params
                .iter()
                .find(|(n, _)| *n == parameter.name)
                .map(|(_, v)| v.as_str());
            check_value(parameter, checks, request, query_names, text, issues);
            return;
        }
        Location::Query => {
            check_value(parameter, checks, request, query_names, None, issues);
            return;
        }
    };
    if values.len() > 1
        && parameter.location == Location::Header
        && parameter.content_media.is_none()
        && checks.shape.kinds & (shape::ARRAY | shape::OBJECT) != 0
    {
        values = vec![values.join(",")];
    }
    if values.is_empty() {
        check_value(parameter, checks, request, query_names, None, issues);
        return;
    }
    let mut found = Vec::new();
    for value in &values {
        check_value(
            parameter,
            checks,
            request,
            query_names,
            Some(value),
            &mut found,
        );
    }
    // The same fault in two repeats is said once.
    for issue in found {
        if !issues.contains(&issue) {
            issues.push(issue);
        }
    }
}

/// Checks one value of a parameter: `text` is the path parameter's, or
/// one header's or cookie's (`None` when not sent); query parameters are
/// read from the request's query.
fn check_value(
    parameter: &Parameter,
    checks: Checks<'_>,
    request: &RequestView<'_>,
    query_names: &[String],
    text: Option<&str>,
    issues: &mut Vec<Issue>,
) {
    let Checks {
        validator,
        shape,
        bounds,
    } = checks;
    let location = location_name(parameter.location);
    let issue = |pointer: String, message: String, kind| Issue {
        location,
        name: parameter.name.clone(),
        pointer,
        message,
        kind,
    };
    // Fast path: one scalar in its plain style, read without allocating.
    let plain = parameter.content_media.is_none()
        && shape.is_scalar()
        && matches!(
            (parameter.location, parameter.style),
            (Location::Query, Style::Form | Style::DeepObject)
                | (Location::Path | Location::Header, Style::Simple)
                | (Location::Cookie, Style::Form)
        );
    if plain {
        let single = match parameter.location {
            Location::Query => {
                let mut values = request
                    .query
                    .iter()
                    .filter(|(n, _)| *n == parameter.name)
                    .map(|(_, v)| v.as_str());
                let first = values.next();
                // Repeated, or bracketed under deepObject: the slow path
                // reads (and reports) it.
                let more = values.next().is_some()
                    || (parameter.style == Style::DeepObject
                        && request.query.iter().any(|(n, _)| {
                            n.strip_prefix(parameter.name.as_str())
                                .is_some_and(|r| r.starts_with('['))
                        }));
                if more { None } else { Some(first) }
            }
            _ => Some(text),
        };
        if let Some(single) = single {
            let Some(text) = single else {
                if parameter.required {
                    issues.push(issue(
                        String::new(),
                        format!("the {location} parameter {} is required", parameter.name),
                        IssueKind::Missing,
                    ));
                }
                return;
            };
            if text.is_empty() && parameter.allow_empty_value {
                return;
            }
            let Some(validator) = validator else {
                return;
            };
            let mut alts = 1;
            let mut alt = 0;
            let mut first = None;
            while alt < alts.min(MAX_ALTERNATIVES) {
                let value =
                    style::text_value(text, shape, alt, &mut alts, false, parameter.allow_reserved);
                if validator.is_valid(&value) {
                    // The validator saw an integer past 64 bits as the
                    // nearest f64; its text is compared exactly.
                    if value.is_number()
                        && !bounds.is_empty()
                        && let Some(exact) = bounds::integer(text)
                        && let Some(why) = bounds::broken(&exact, bounds)
                    {
                        issues.push(issue(
                            String::new(),
                            format!("the {location} parameter {}: {why}", parameter.name),
                            IssueKind::Invalid,
                        ));
                    }
                    return;
                }
                first.get_or_insert(value);
                alt += 1;
            }
            if let Some(value) = first {
                report(parameter, location, validator, &value, issues);
            }
            return;
        }
    }
    if let Some(media) = &parameter.content_media {
        let value = match parameter.location {
            Location::Query => request
                .query
                .iter()
                .find(|(n, _)| *n == parameter.name)
                .map(|(_, v)| v.as_str()),
            _ => text,
        };
        let Some(value) = value else {
            if parameter.required {
                issues.push(issue(
                    String::new(),
                    format!("the {location} parameter {} is required", parameter.name),
                    IssueKind::Missing,
                ));
            }
            return;
        };
        let parsed = if crate::media::is_json_type(media) {
            match serde_json::from_str::<Value>(value) {
                Ok(parsed) => parsed,
                Err(e) => {
                    issues.push(issue(
                        String::new(),
                        format!(
                            "the {location} parameter {} is not valid JSON ({media}): {e}",
                            parameter.name
                        ),
                        IssueKind::Invalid,
                    ));
                    return;
                }
            }
        } else {
            Value::String(value.to_owned())
        };
        if let Some(validator) = validator
            && !validator.is_valid(&parsed)
        {
            report(parameter, location, validator, &parsed, issues);
        }
        return;
    }
    let source = match parameter.location {
        Location::Query => Source::Query(request.query),
        _ => match text {
            Some(text) => Source::Text(text),
            None => Source::Text(""),
        },
    };
    let readings = if parameter.location != Location::Query && text.is_none() {
        Ok(Vec::new())
    } else {
        style::readings(
            &parameter.name,
            parameter.location,
            parameter.style,
            parameter.explode,
            shape,
            source,
            query_names,
            &|name: &str| (request.cookie)(name).into_iter().next(),
        )
    };
    let readings = match readings {
        Ok(readings) => readings,
        Err(style::Malformed(message)) => {
            issues.push(issue(
                String::new(),
                format!("the {location} parameter {}: {message}", parameter.name),
                IssueKind::Invalid,
            ));
            return;
        }
    };
    if readings.is_empty() {
        if parameter.required {
            issues.push(issue(
                String::new(),
                format!("the {location} parameter {} is required", parameter.name),
                IssueKind::Missing,
            ));
        }
        return;
    }
    if parameter.allow_empty_value && matches!(readings.first(), Some(Raw::Text(t)) if t.is_empty())
    {
        return;
    }
    let Some(validator) = validator else {
        return;
    };
    let mut first = None;
    for raw in &readings {
        let mut alts = 1;
        let mut alt = 0;
        while alt < alts.min(MAX_ALTERNATIVES) {
            let value = style::value(raw, shape, alt, &mut alts, parameter.allow_reserved);
            if validator.is_valid(&value) {
                return;
            }
            first.get_or_insert(value);
            alt += 1;
        }
    }
    if let Some(value) = first {
        report(parameter, location, validator, &value, issues);
    }
}

/// What `validator` finds wrong with `value`, as issues of `parameter`.
fn report(
    parameter: &Parameter,
    location: &'static str,
    validator: &Validator,
    value: &Value,
    issues: &mut Vec<Issue>,
) {
    for error in validator.iter_errors(value) {
        let pointer = error.instance_path().to_string();
        let at = if pointer.is_empty() {
            String::new()
        } else {
            format!(" at {pointer}")
        };
        issues.push(Issue {
            location,
            name: parameter.name.clone(),
            pointer,
            message: format!("the {location} parameter {}{at}: {error}", parameter.name),
            kind: IssueKind::Invalid,
        });
    }
}

fn location_name(location: Location) -> &'static str {
    match location {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Cookie => "cookie",
    }
}

fn is_form(essence: &str) -> bool {
    essence == "application/x-www-form-urlencoded" || essence == "multipart/form-data"
}

/// The `encoding` map of media type `media` of the operation's request
/// body (found from the operation, since the body's schema pointer may be
/// a `$ref` target elsewhere).
fn encoding(spec: &Spec, operation: &Operation, media: &str) -> Option<Map<String, Value>> {
    let root = &spec.document;
    let op = root.pointer(&operation.pointer)?;
    let body = deref(root, op.get("requestBody")?)?;
    let (_, media_object) = body
        .get("content")?
        .as_object()?
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(media))?;
    let media_object = deref(root, media_object)?;
    let encoding = media_object.get("encoding")?.as_object()?;
    Some(
        encoding
            .iter()
            .map(|(k, v)| (k.clone(), deref(root, v).unwrap_or(v).clone()))
            .collect(),
    )
}

/// A JSON pointer as a URI fragment: characters a fragment cannot hold
/// (`{` of path templates, spaces, `%`) percent-encoded.
fn fragment(pointer: &str) -> String {
    hmt_types::percent_encode(pointer, b"!$&'()*+,;=:@/?")
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// The body as a JSON value to validate: JSON parsed, forms read as
/// objects of typed fields (the first reading; see [`form`]), plain text
/// as a string; `None` for media types that are not validated. `media` is
/// the media type sent (with its parameters: a multipart body needs its
/// boundary); `schema` (the media type's, in `root`) types the form fields.
pub fn parse_body(
    media: &str,
    body: &[u8],
    root: &Value,
    schema: Option<&Value>,
) -> Result<Option<Value>, String> {
    let essence = crate::media::essence(media);
    if is_form(&essence) {
        let shape = schema.map_or_else(Shape::any, |s| Shape::of(root, s));
        return form::candidates(&essence, media, body, &shape, None)
            .map(|c| c.into_iter().next())
            .map_err(|(_, message)| message);
    }
    parse_single(&essence, body)
}

fn parse_single(essence: &str, body: &[u8]) -> Result<Option<Value>, String> {
    if crate::media::is_json(essence) || essence.is_empty() {
        return serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| format!("the body is not valid JSON: {e}"));
    }
    if essence == "text/plain" {
        return std::str::from_utf8(body)
            .map(|text| Some(Value::String(text.to_owned())))
            .map_err(|_| "the text/plain body is not UTF-8".to_owned());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadedSpec;
    use crate::model::compile;
    use serde_json::json;

    fn spec() -> Spec {
        let document = json!({
            "openapi": "3.0.3",
            "paths": {"/pets/{id}": {"post": {
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
                    {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}},
                    {"name": "X-Request-Id", "in": "header", "required": true, "schema": {"type": "string", "format": "uuid"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                "responses": {"200": {"description": "ok"}}
            }}},
            "components": {"schemas": {"Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer", "nullable": true}}}}}
        });
        compile(LoadedSpec {
            file: "t.yaml".into(),
            document,
        })
        .unwrap()
    }

    fn check(
        path: &str,
        query: &[(&str, &str)],
        header: Option<&str>,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(), Refusal> {
        let spec = spec();
        let validators = SpecValidators::new(&spec);
        let params = [("id".to_owned(), path.to_owned())];
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let header_value = header.map(str::to_owned);
        let header_fn = move |name: &str| {
            if name == "x-request-id" {
                header_value.iter().cloned().collect()
            } else {
                Vec::new()
            }
        };
        let no_cookie = |_: &str| Vec::new();
        validators.check(
            &spec,
            0,
            &RequestView {
                path_params: &params,
                query: &query,
                header: &header_fn,
                cookie: &no_cookie,
                content_type,
                body: body.as_bytes(),
            },
        )
    }

    fn messages(result: Result<(), Refusal>) -> Vec<String> {
        match result {
            Err(Refusal::Invalid(issues)) => issues.into_iter().map(|i| i.message).collect(),
            other => panic!("expected issues, got {other:?}"),
        }
    }

    /// The query split as `hmt mock` splits it: on `&`, then the first `=`,
    /// each side form-decoded.
    fn split_query(query: &str) -> Vec<(String, String)> {
        hmt_types::form_pairs(query).collect()
    }

    #[test]
    fn an_allow_reserved_value_ends_at_the_next_ampersand() {
        // (query as sent, the `path` value it holds, what else is refused)
        let cases: &[(&str, &str, &[&str])] = &[
            // An undeclared parameter after a reserved value is its own.
            ("path=a/b:c&other=1", "a/b:c", &[]),
            ("path=a&b", "a", &[]),
            ("other=1&path=x/y", "x/y", &[]),
            // Every reserved character but `&` (and `#`, which ends the
            // URL) is the value's, `=` after the first too.
            (
                "path=/a:b/c?d=e@f!$'()*+,;=[x]",
                "/a:b/c?d=e@f!$'()*+,;=[x]",
                &[],
            ),
            // A declared `&` is percent-encoded, as RFC 3986 requires.
            ("path=a%26b&other=1", "a&b", &[]),
            ("path=a%26b=c", "a&b=c", &[]),
            // The declared parameter after it is read and checked.
            ("path=a/b&limit=5", "a/b", &[]),
            (
                "path=a/b&limit=50",
                "a/b",
                &["the query parameter limit: 50 is greater than the maximum of 10"],
            ),
        ];
        for (query, path, refused) in cases {
            let document = json!({
                "openapi": "3.0.3",
                "paths": {"/files": {"get": {
                    "parameters": [
                        {"name": "path", "in": "query", "allowReserved": true,
                         "schema": {"type": "string", "enum": [path]}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}}
                    ],
                    "responses": {"200": {"description": "ok"}}
                }}}
            });
            let spec = compile(LoadedSpec {
                file: "t.yaml".into(),
                document,
            })
            .unwrap();
            let validators = SpecValidators::new(&spec);
            let sent = split_query(query);
            let none = |_: &str| Vec::new();
            let result = validators.check(
                &spec,
                0,
                &RequestView {
                    path_params: &[],
                    query: &sent,
                    header: &none,
                    cookie: &none,
                    content_type: None,
                    body: b"",
                },
            );
            let got: Vec<String> = match result {
                Ok(()) => Vec::new(),
                Err(Refusal::Invalid(issues)) => issues.into_iter().map(|i| i.message).collect(),
                Err(other) => panic!("{query:?}: {other:?}"),
            };
            assert_eq!(got, *refused, "{query:?} read as {path:?}");
        }
    }

    #[test]
    fn a_valid_request_passes() {
        let ok = check(
            "7",
            &[("tags", "a"), ("tags", "b")],
            Some("5f0c6a43-4bd8-4f7e-9c1a-2b9b8d2f0a11"),
            Some("application/json"),
            r#"{"name":"Rex","age":null}"#,
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn each_problem_is_named_with_where() {
        let m = messages(check(
            "zero",
            &[("tags", "a"), ("tags", "c")],
            None,
            Some("application/json"),
            r#"{"age":"old"}"#,
        ));
        assert_eq!(m.len(), 5, "{m:?}");
        assert!(
            m[0].starts_with("the path parameter id: \"zero\" is not of type \"integer\""),
            "{m:?}"
        );
        assert!(
            m[1].starts_with("the query parameter tags at /1: \"c\" is not one of"),
            "{m:?}"
        );
        assert_eq!(m[2], "the header parameter x-request-id is required");
        assert!(
            m.iter()
                .any(|x| x.starts_with("the body at /: \"name\" is a required property")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|x| x.starts_with("the body at /age: \"old\" is not of types")),
            "{m:?}"
        );
    }

    #[test]
    fn body_presence_media_type_and_syntax() {
        let id = Some("5f0c6a43-4bd8-4f7e-9c1a-2b9b8d2f0a11");
        assert_eq!(
            messages(check("1", &[], id, None, "")),
            ["a request body is required"]
        );
        assert!(matches!(
            check("1", &[], id, Some("text/plain"), "x"),
            Err(Refusal::UnsupportedMediaType { .. })
        ));
        let m = messages(check("1", &[], id, Some("application/json"), "{"));
        assert!(
            m[0].starts_with("the body is not valid JSON: EOF while parsing"),
            "{m:?}"
        );
    }
}
