//! Request validation: path, query and header parameters and the body,
//! against the operation's schemas.
//!
//! Validators are compiled on first use of an operation, not at start-up:
//! a 2 MB spec such as Stripe's has hundreds of operations and a mock is
//! usually asked about a few. Each validator refers into the whole spec
//! document (registered once per spec), so `$ref`s resolve as written.
//! Parameters arrive as text; they are read as the type their schema says
//! (numbers, booleans, arrays from repeated or comma-separated values)
//! before validation, so that `?limit=ten` fails as "not an integer"
//! rather than passing as a string.

use crate::load::deref;
use crate::model::{Location, Operation, Spec};
use jsonschema::{Registry, Validator};
use serde_json::{Map, Value};
use std::sync::OnceLock;

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
    /// Header values by lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// Cookie values by name.
    pub cookie: &'a dyn Fn(&str) -> Option<String>,
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
    /// By request body media index.
    bodies: Vec<Option<Validator>>,
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
    pub fn validator(&self, spec: &Spec, pointer: &str) -> Result<Validator, String> {
        let registry = self
            .registry(spec)
            .ok_or("the spec's schemas cannot be read as JSON Schema")?;
        let reference = serde_json::json!({"$ref": format!("{SPEC_URI}#{}", fragment(pointer))});
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(registry)
            .should_validate_formats(true)
            .build(&reference)
            .map_err(|error| error.to_string())
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
                bodies: operation
                    .request_body
                    .iter()
                    .flat_map(|b| &b.content)
                    .map(|(_, at)| at.as_deref().and_then(|at| self.compile(spec, at)))
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
        for (parameter, validator) in operation.parameters.iter().zip(&validators.parameters) {
            let (location, values) = match parameter.location {
                Location::Path => (
                    "path",
                    request
                        .path_params
                        .iter()
                        .filter(|(n, _)| *n == parameter.name)
                        .map(|(_, v)| v.clone())
                        .collect(),
                ),
                Location::Query => (
                    "query",
                    request
                        .query
                        .iter()
                        .filter(|(n, _)| *n == parameter.name)
                        .map(|(_, v)| v.clone())
                        .collect(),
                ),
                Location::Header => (
                    "header",
                    (request.header)(&parameter.name)
                        .into_iter()
                        .collect::<Vec<_>>(),
                ),
                Location::Cookie => (
                    "cookie",
                    (request.cookie)(&parameter.name).into_iter().collect(),
                ),
            };
            if values.is_empty() {
                if parameter.required {
                    issues.push(Issue {
                        location,
                        name: parameter.name.clone(),
                        pointer: String::new(),
                        message: format!("the {location} parameter {} is required", parameter.name),
                        kind: IssueKind::Missing,
                    });
                }
                continue;
            }
            let (Some(validator), Some(schema)) = (validator, &parameter.schema) else {
                continue;
            };
            let schema = deref(&spec.document, schema).unwrap_or(schema);
            let value = typed(&spec.document, schema, &values);
            for error in validator.iter_errors(&value) {
                issues.push(Issue {
                    location,
                    name: parameter.name.clone(),
                    pointer: error.instance_path().to_string(),
                    message: format!("the {location} parameter {}: {error}", parameter.name),
                    kind: IssueKind::Invalid,
                });
            }
        }
    }

    /// Checks the body of `request` against operation `index` of `spec`,
    /// adding what is wrong to `issues`; a media type the operation does
    /// not accept is refused at once.
    pub fn check_body(
        &self,
        spec: &Spec,
        index: usize,
        request: &RequestView<'_>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), Refusal> {
        let operation = &spec.operations[index];
        let validators = self.operation(spec, index);
        if let Some(body) = &operation.request_body {
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
            } else if !body.content.is_empty() {
                let sent = request
                    .content_type
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                // A body sent without a media type is read as the first
                // documented one, as servers that sniff do.
                let position = if sent.is_empty() {
                    Some(0)
                } else {
                    body.content
                        .iter()
                        .position(|(media, _)| crate::media::media_accepts(media, &sent))
                };
                let Some(position) = position else {
                    return Err(Refusal::UnsupportedMediaType {
                        sent,
                        accepted: body.content.iter().map(|(m, _)| m.clone()).collect(),
                    });
                };
                if let Some(validator) = &validators.bodies[position] {
                    let media = if sent.is_empty() {
                        body.content[0].0.as_str()
                    } else {
                        sent.as_str()
                    };
                    match parse_body(
                        media,
                        request.body,
                        &spec.document,
                        body_schema(spec, operation, position),
                    ) {
                        Ok(Some(value)) => {
                            for error in validator.iter_errors(&value) {
                                issues.push(Issue {
                                    location: "body",
                                    name: String::new(),
                                    pointer: error.instance_path().to_string(),
                                    message: format!(
                                        "the body at {}: {error}",
                                        pointer_or_root(&error.instance_path().to_string())
                                    ),
                                    kind: IssueKind::Invalid,
                                });
                            }
                        }
                        Ok(None) => {}
                        Err(message) => issues.push(Issue {
                            location: "body",
                            name: String::new(),
                            pointer: String::new(),
                            message,
                            kind: IssueKind::Invalid,
                        }),
                    }
                }
            }
        }
        Ok(())
    }
}

/// A JSON pointer as a URI fragment: characters a fragment cannot hold
/// (`{` of path templates, spaces, `%`) percent-encoded.
fn fragment(pointer: &str) -> String {
    hmt_types::percent_encode(pointer, b"!$&'()*+,;=:@/?")
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

fn body_schema<'a>(spec: &'a Spec, operation: &Operation, position: usize) -> Option<&'a Value> {
    let pointer = operation
        .request_body
        .as_ref()?
        .content
        .get(position)?
        .1
        .as_deref()?;
    spec.document.pointer(pointer)
}

/// The body as a JSON value to validate: JSON parsed, forms read as
/// objects of typed fields; `None` for media types that are not validated.
/// `schema` (the media type's, in `root`) types the form fields.
pub fn parse_body(
    media: &str,
    body: &[u8],
    root: &Value,
    schema: Option<&Value>,
) -> Result<Option<Value>, String> {
    if crate::media::is_json(media) || media.is_empty() {
        return serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| format!("the body is not valid JSON: {e}"));
    }
    if media == "application/x-www-form-urlencoded" {
        let text =
            std::str::from_utf8(body).map_err(|_| "the form body is not UTF-8".to_owned())?;
        let fields = hmt_types::Fields::parse_query(text);
        let schema = schema.and_then(|s| deref(root, s));
        let mut object = Map::new();
        for (name, values) in fields.iter() {
            let property = schema
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(name))
                .and_then(|p| deref(root, p));
            let value = match property {
                Some(property) => typed(root, property, values),
                None if values.len() == 1 => Value::String(values[0].clone()),
                None => Value::Array(values.iter().cloned().map(Value::String).collect()),
            };
            object.insert(name.to_owned(), value);
        }
        return Ok(Some(Value::Object(object)));
    }
    Ok(None)
}

/// Text values read as the type `schema` gives: one value, or an array
/// from repeated values or one comma-separated value. Text that does not
/// parse stays text, so validation reports it as the wrong type.
fn typed(root: &Value, schema: &Value, values: &[String]) -> Value {
    let types = schema_types(schema);
    if types.contains(&"array") {
        let items = schema
            .get("items")
            .and_then(|i| deref(root, i))
            .unwrap_or(&Value::Null);
        let parts: Vec<String> = if values.len() == 1 {
            values[0].split(',').map(str::to_owned).collect()
        } else {
            values.to_vec()
        };
        return Value::Array(
            parts
                .iter()
                .map(|p| scalar(&schema_types(items), p))
                .collect(),
        );
    }
    scalar(&types, &values[0])
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn scalar(types: &[&str], text: &str) -> Value {
    if types.contains(&"integer")
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    if types.contains(&"number")
        && let Ok(n) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(n)
    {
        return Value::Number(n);
    }
    if types.contains(&"boolean") && (text == "true" || text == "false") {
        return Value::Bool(text == "true");
    }
    if types.contains(&"null") && text.is_empty() {
        return Value::Null;
    }
    Value::String(text.to_owned())
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
                header_value.clone()
            } else {
                None
            }
        };
        let no_cookie = |_: &str| None;
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

    #[test]
    fn a_valid_request_passes() {
        let ok = check(
            "7",
            &[("tags", "a,b")],
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
            &[("tags", "a,c")],
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
            m[1].starts_with("the query parameter tags: \"c\" is not one of"),
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
