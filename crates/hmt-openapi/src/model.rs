//! What a loaded spec serves: its servers, operations, parameters,
//! responses, security and recorded exchanges, read once from the document
//! so that serving a request never walks the document again.
//!
//! Compiling is also where a spec is checked: every value the mock relies on
//! must have the right shape, and an error names the file and the JSON
//! pointer of what is wrong. Schemas stay JSON (normalised to JSON Schema
//! 2020-12, references local) because both the generator and the validator
//! read JSON.

use crate::dialect::normalise_schema;
use crate::load::{LoadError, LoadedSpec};
use crate::replay::ReplayEntry;
use hmt_types::pointer::{deref, escape};
use http::Method;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One spec, ready to serve.
#[derive(Debug)]
pub struct Spec {
    /// The file it was loaded from.
    pub file: PathBuf,
    /// `info.title`.
    pub title: String,
    /// The whole document, schemas normalised and references local.
    pub document: Value,
    /// Where the API lives; at least one (`/` when the spec has none).
    pub servers: Vec<Server>,
    /// Every operation, in document order.
    pub operations: Vec<Operation>,
    /// Paths that start an OAuth2 authorization-code flow, with the token
    /// URLs, served by the mock itself.
    pub oauth: Vec<OAuthEndpoint>,
    /// A request no recorded exchange matches is answered with a 404 that
    /// shows the nearest one, instead of falling back to the documented
    /// responses. Set for `hmt mock --recordings`.
    pub strict_replay: bool,
}

/// A server URL, split into what routing compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Lower-case host with any port (`api.example.com`, `localhost:8080`);
    /// `None` for a relative server URL, which any host matches.
    pub host: Option<String>,
    /// Path prefix without a trailing slash (`/v1`), or empty.
    pub base_path: String,
}

/// One method on one path template.
#[derive(Debug)]
pub struct Operation {
    /// The HTTP method.
    pub method: Method,
    /// The path template as written in the spec, relative to the base path.
    pub template: String,
    /// `operationId`, or `METHOD template` when the spec gives none.
    pub id: String,
    /// JSON pointer to the operation in the document.
    pub pointer: String,
    /// Path-item and operation parameters, the operation's winning.
    pub parameters: Vec<Parameter>,
    /// The request body, if one is described.
    pub request_body: Option<RequestBody>,
    /// Documented responses, in document order.
    pub responses: Vec<ResponseDef>,
    /// Security alternatives: any one satisfied lets the request in; an
    /// empty alternative means anonymous access is fine. Empty: no
    /// security.
    pub security: Vec<Vec<SecurityScheme>>,
    /// Exchanges recorded by `hmt build` in replay or mixed mode.
    pub replay: Vec<ReplayEntry>,
}

/// Where a parameter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// In the path template.
    Path,
    /// In the query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

/// A parameter of an operation.
#[derive(Clone, Debug)]
pub struct Parameter {
    /// Its name (header names lower-case).
    pub name: String,
    /// Where it is.
    pub location: Location,
    /// Must be present.
    pub required: bool,
    /// Its schema, if any.
    pub schema: Option<Value>,
    /// JSON pointer to the schema, for validation.
    pub schema_pointer: Option<String>,
    /// How the value is serialised: `style`, or the location's default
    /// (`form` for query and cookie, `simple` for path and header).
    pub style: Style,
    /// `explode`, or its default (`true` for `form`, else `false`).
    pub explode: bool,
    /// `allowReserved`: reserved characters (RFC 3986's `:/?#[]@!$&'()*+,;=`)
    /// may be sent unencoded; `&` still ends the value, as in any query
    /// (a value holding `&` must send it as `%26`).
    pub allow_reserved: bool,
    /// `allowEmptyValue`: `?name=` (or a bare `?name`) is accepted.
    pub allow_empty_value: bool,
    /// The media type of a parameter described by `content` rather than
    /// `schema` (`application/json`: the value is JSON text).
    pub content_media: Option<String>,
}

/// How a parameter's value is written (OpenAPI `style`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `?id=1&id=2`, `?id=1,2`; cookies `id=1,2`.
    Form,
    /// `1,2`; objects `a,1,b,2` or, exploded, `a=1,b=2`.
    Simple,
    /// `.1.2` or `.1,2`.
    Label,
    /// `;id=1;id=2` or `;id=1,2`.
    Matrix,
    /// `?id=1%202`.
    SpaceDelimited,
    /// `?id=1|2`.
    PipeDelimited,
    /// `?filter[name]=x&filter[age]=3`, brackets nesting.
    DeepObject,
}

impl Style {
    /// The style a parameter in `location` has when it names none.
    pub fn default_for(location: Location) -> Style {
        match location {
            Location::Query | Location::Cookie => Style::Form,
            Location::Path | Location::Header => Style::Simple,
        }
    }

    /// The style called `name` in a spec.
    pub fn parse(name: &str) -> Option<Style> {
        Some(match name {
            "form" => Style::Form,
            "simple" => Style::Simple,
            "label" => Style::Label,
            "matrix" => Style::Matrix,
            "spaceDelimited" => Style::SpaceDelimited,
            "pipeDelimited" => Style::PipeDelimited,
            "deepObject" => Style::DeepObject,
            _ => return None,
        })
    }
}

/// A request body description.
#[derive(Clone, Debug)]
pub struct RequestBody {
    /// Must be present.
    pub required: bool,
    /// Media types with their schemas' JSON pointers.
    pub content: Vec<(String, Option<String>)>,
}

/// Which status codes a response stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKey {
    /// An exact code.
    Code(u16),
    /// `2XX` and friends: the first digit.
    Range(u16),
    /// `default`.
    Default,
}

impl StatusKey {
    /// The status sent when this response is chosen.
    pub fn status(self) -> u16 {
        match self {
            StatusKey::Code(code) => code,
            StatusKey::Range(digit) => digit * 100,
            StatusKey::Default => 200,
        }
    }

    /// Whether `code` falls under this key.
    pub fn covers(self, code: u16) -> bool {
        match self {
            StatusKey::Code(c) => c == code,
            StatusKey::Range(d) => code / 100 == d,
            StatusKey::Default => true,
        }
    }
}

/// A documented response.
#[derive(Clone, Debug)]
pub struct ResponseDef {
    /// Its status code, range or `default`.
    pub status: StatusKey,
    /// Declared headers (names lower-case).
    pub headers: Vec<HeaderDef>,
    /// Media types, in document order.
    pub content: Vec<MediaDef>,
}

/// A declared response header.
#[derive(Clone, Debug)]
pub struct HeaderDef {
    /// Lower-case name.
    pub name: String,
    /// An example value, or the schema to generate one from.
    pub example: Option<Value>,
    /// Its schema.
    pub schema: Option<Value>,
}

/// One media type of a response.
#[derive(Clone, Debug)]
pub struct MediaDef {
    /// `application/json` and the like.
    pub media_type: String,
    /// Its schema.
    pub schema: Option<Value>,
    /// JSON pointer to the schema, for validation.
    pub schema_pointer: Option<String>,
    /// Named examples in document order; a single `example` is named
    /// `example`, and a schema's `example`, `examples` or `default` comes
    /// last, named `schema`.
    pub examples: Vec<(String, Value)>,
}

/// One security scheme an operation may require.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityScheme {
    /// An API key in a header (lower-case name), query parameter or cookie.
    ApiKey {
        /// The key's name.
        name: String,
        /// Where it goes.
        location: Location,
    },
    /// `Authorization: Basic ...`.
    Basic,
    /// `Authorization: Bearer ...` (http bearer, OAuth2, OpenID Connect).
    Bearer,
    /// `Authorization: Digest ...` (RFC 7616).
    Digest,
    /// Mutual TLS: not checked by the mock.
    MutualTls,
}

/// An OAuth2 authorization-code flow the mock plays the server of.
#[derive(Clone, Debug)]
pub struct OAuthEndpoint {
    /// Path of the authorization URL (answers 302 to `redirect_uri`).
    pub authorization_path: String,
    /// Path of the token URL (answers a bearer token).
    pub token_path: Option<String>,
}

const METHODS: [(&str, Method); 8] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("head", Method::HEAD),
    ("patch", Method::PATCH),
    ("trace", Method::TRACE),
];

/// Every schema of the document as JSON Schema 2020-12 (see
/// [`crate::dialect`]), including those in bundled files, where schemas
/// may sit at any top-level key of the file.
fn normalise_document(document: &mut Value) {
    crate::dialect::normalise_document(document);
    if let Some(bundle) = document
        .get_mut(crate::load::BUNDLE_KEY)
        .and_then(Value::as_array_mut)
    {
        // The walk above has done every `schema` field in them already.
        for file in bundle {
            if let Some(schemas) = file
                .pointer_mut("/components/schemas")
                .and_then(Value::as_object_mut)
            {
                schemas.values_mut().for_each(normalise_schema);
            }
            if let Some(map) = file.as_object_mut() {
                for value in map.values_mut() {
                    if looks_like_schema(value) {
                        normalise_schema(value);
                    }
                }
            }
        }
    }
}

fn looks_like_schema(value: &Value) -> bool {
    value.as_object().is_some_and(|m| {
        [
            "type",
            "properties",
            "allOf",
            "oneOf",
            "anyOf",
            "items",
            "enum",
            "nullable",
        ]
        .iter()
        .any(|k| m.contains_key(*k))
    })
}

/// Compiles a loaded document into what the mock serves.
pub fn compile(loaded: LoadedSpec) -> Result<Spec, LoadError> {
    let LoadedSpec { file, mut document } = loaded;
    normalise_document(&mut document);
    let cx = Context {
        file: &file,
        root: &document,
    };
    let title = document
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let servers = servers(&cx, document.get("servers"), "/servers")?;
    let schemes = cx.object_at(
        document.pointer("/components/securitySchemes"),
        "/components/securitySchemes",
    )?;
    let global_security = document.get("security");
    let mut operations = Vec::new();
    let paths = cx.object_at(document.get("paths"), "/paths")?;
    for (template, item) in paths {
        // Specification extensions may sit beside the paths.
        if template.starts_with("x-") {
            continue;
        }
        let item_pointer = format!("/paths/{}", escape(template));
        if !template.starts_with('/') {
            return Err(cx.error(&item_pointer, "a path must start with '/'"));
        }
        let item = cx.resolve(item, &item_pointer)?;
        let Some(item_map) = item.as_object() else {
            return Err(cx.error(&item_pointer, "expected a path item object"));
        };
        let shared_parameters = cx.parameters(
            item_map.get("parameters"),
            &format!("{item_pointer}/parameters"),
        )?;
        for (name, method) in METHODS {
            let Some(op) = item_map.get(name) else {
                continue;
            };
            let pointer = format!("{item_pointer}/{name}");
            let Some(op_map) = op.as_object() else {
                return Err(cx.error(&pointer, "expected an operation object"));
            };
            let mut parameters =
                cx.parameters(op_map.get("parameters"), &format!("{pointer}/parameters"))?;
            for shared in &shared_parameters {
                if !parameters
                    .iter()
                    .any(|p| p.name == shared.name && p.location == shared.location)
                {
                    parameters.push(shared.clone());
                }
            }
            let request_body = match op_map.get("requestBody") {
                Some(body) => Some(cx.request_body(body, &format!("{pointer}/requestBody"))?),
                None => None,
            };
            let responses =
                cx.responses(op_map.get("responses"), &format!("{pointer}/responses"))?;
            let security = cx.security(
                op_map.get("security").or(global_security),
                schemes,
                &pointer,
            )?;
            let replay = match op_map.get("x-hmt-replay") {
                Some(entries) => crate::replay::parse_entries(entries).map_err(|invalid| {
                    cx.error(
                        &format!("{pointer}/x-hmt-replay{}", invalid.pointer),
                        invalid.message,
                    )
                })?,
                None => Vec::new(),
            };
            let id = op_map
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} {template}", method.as_str()));
            operations.push(Operation {
                method,
                template: template.clone(),
                id,
                pointer,
                parameters,
                request_body,
                responses,
                security,
                replay,
            });
        }
    }
    let oauth = oauth_endpoints(schemes, &servers);
    Ok(Spec {
        file,
        title,
        servers,
        operations,
        oauth,
        strict_replay: false,
        document,
    })
}

struct Context<'a> {
    file: &'a Path,
    root: &'a Value,
}

impl<'a> Context<'a> {
    fn error(&self, pointer: &str, message: impl Into<String>) -> LoadError {
        LoadError::invalid(self.file, pointer, message)
    }

    fn resolve(&self, value: &'a Value, pointer: &str) -> Result<&'a Value, LoadError> {
        deref(self.root, value).ok_or_else(|| {
            let reference = value.get("$ref").and_then(Value::as_str).unwrap_or("");
            self.error(
                pointer,
                format!("$ref {reference:?} points at nothing (or at itself)"),
            )
        })
    }

    fn object_at(
        &self,
        value: Option<&'a Value>,
        pointer: &str,
    ) -> Result<&'a Map<String, Value>, LoadError> {
        match value {
            None | Some(Value::Null) => Ok(crate::load::empty_map()),
            Some(value) => self
                .resolve(value, pointer)?
                .as_object()
                .ok_or_else(|| self.error(pointer, "expected an object")),
        }
    }

    /// The JSON pointer a `schema` value can be validated through: its
    /// `$ref` target when it is a bare reference, else where it is.
    fn schema_pointer(&self, schema: &Value, at: &str) -> String {
        match schema.as_object() {
            Some(map) if map.len() == 1 => match map.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference.trim_start_matches('#').to_owned(),
                None => at.to_owned(),
            },
            _ => at.to_owned(),
        }
    }

    fn parameters(
        &self,
        value: Option<&'a Value>,
        pointer: &str,
    ) -> Result<Vec<Parameter>, LoadError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Some(items) = value.as_array() else {
            return Err(self.error(pointer, "expected an array of parameters"));
        };
        let mut parameters = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            // Through a reference, the schema's pointer is the target's.
            let (item, at) = match item.get("$ref").and_then(Value::as_str) {
                Some(reference) => (
                    self.resolve(item, &at)?,
                    reference.trim_start_matches('#').to_owned(),
                ),
                None => (item, at),
            };
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| self.error(&at, "a parameter needs a `name`"))?;
            let location = match item.get("in").and_then(Value::as_str) {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                Some("header") => Location::Header,
                Some("cookie") => Location::Cookie,
                other => {
                    return Err(self.error(
                        &format!("{at}/in"),
                        format!("expected path, query, header or cookie, found {other:?}"),
                    ));
                }
            };
            let mut content_media = None;
            let (schema, schema_pointer) = match item.get("schema") {
                Some(schema) => (
                    Some(schema.clone()),
                    Some(self.schema_pointer(schema, &format!("{at}/schema"))),
                ),
                None => {
                    // `content` instead of `schema`: its one media type's.
                    let found = item
                        .get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.iter().next())
                        .map(|(media, m)| {
                            content_media = Some(media.to_ascii_lowercase());
                            m.get("schema").map(|s| {
                                (s.clone(), format!("{at}/content/{}/schema", escape(media)))
                            })
                        });
                    match found.flatten() {
                        Some((schema, p)) => {
                            let p = self.schema_pointer(&schema, &p);
                            (Some(schema), Some(p))
                        }
                        None => (None, None),
                    }
                }
            };
            let style = match item.get("style") {
                None => Style::default_for(location),
                Some(style) => style.as_str().and_then(Style::parse).ok_or_else(|| {
                    self.error(
                        &format!("{at}/style"),
                        format!(
                            "expected form, simple, label, matrix, spaceDelimited, \
                             pipeDelimited or deepObject, found {style}"
                        ),
                    )
                })?,
            };
            let flag = |key: &str| -> Result<Option<bool>, LoadError> {
                match item.get(key) {
                    None => Ok(None),
                    Some(Value::Bool(b)) => Ok(Some(*b)),
                    Some(other) => Err(self.error(
                        &format!("{at}/{key}"),
                        format!("expected true or false, found {other}"),
                    )),
                }
            };
            let explode = flag("explode")?.unwrap_or(style == Style::Form);
            let allow_reserved = flag("allowReserved")?.unwrap_or(false);
            let allow_empty_value = flag("allowEmptyValue")?.unwrap_or(false);
            let name = if location == Location::Header {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            parameters.push(Parameter {
                required: location == Location::Path
                    || item
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                name,
                location,
                schema,
                schema_pointer,
                style,
                explode,
                allow_reserved,
                allow_empty_value,
                content_media,
            });
        }
        Ok(parameters)
    }

    fn request_body(&self, value: &'a Value, pointer: &str) -> Result<RequestBody, LoadError> {
        let (body, at) = match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => (
                self.resolve(value, pointer)?,
                reference.trim_start_matches('#').to_owned(),
            ),
            None => (value, pointer.to_owned()),
        };
        let content = self.object_at(body.get("content"), &format!("{at}/content"))?;
        let content = content
            .iter()
            .map(|(media, m)| {
                let schema_at = format!("{at}/content/{}/schema", escape(media));
                let pointer = m.get("schema").map(|s| self.schema_pointer(s, &schema_at));
                (media.to_ascii_lowercase(), pointer)
            })
            .collect();
        Ok(RequestBody {
            required: body
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            content,
        })
    }

    fn responses(
        &self,
        value: Option<&'a Value>,
        pointer: &str,
    ) -> Result<Vec<ResponseDef>, LoadError> {
        let map = self.object_at(value, pointer)?;
        let mut responses = Vec::with_capacity(map.len());
        for (key, response) in map {
            let at = format!("{pointer}/{}", escape(key));
            if key.starts_with("x-") {
                continue;
            }
            let status = parse_status_key(key).ok_or_else(|| {
                self.error(
                    &at,
                    format!("{key:?} is not a status code, range such as 2XX, or `default`"),
                )
            })?;
            // Pointers into a referenced response are the target's.
            let response_at = match response.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference.trim_start_matches('#').to_owned(),
                None => at.clone(),
            };
            let response = self.resolve(response, &at)?;
            let headers_map = self.object_at(response.get("headers"), &format!("{at}/headers"))?;
            let mut headers = Vec::new();
            for (name, header) in headers_map {
                let header_at = format!("{at}/headers/{}", escape(name));
                let header = self.resolve(header, &header_at)?;
                let lower = name.to_ascii_lowercase();
                // Content-Type comes from the media type chosen.
                if lower == "content-type" {
                    continue;
                }
                let schema = header.get("schema").map(|s| self.deref_schema(s));
                let example = header
                    .get("example")
                    .cloned()
                    .or_else(|| first_example_value(self, header.get("examples")))
                    .or_else(|| schema.as_ref().and_then(schema_example));
                headers.push(HeaderDef {
                    name: lower,
                    example,
                    schema,
                });
            }
            let content_map = self.object_at(response.get("content"), &format!("{at}/content"))?;
            let mut content = Vec::new();
            for (media_type, media) in content_map {
                let media_at = format!("{response_at}/content/{}", escape(media_type));
                // Through a reference, the schema's pointer is the target's.
                let media_base = match media.get("$ref").and_then(Value::as_str) {
                    Some(reference) => reference.trim_start_matches('#').to_owned(),
                    None => media_at.clone(),
                };
                let media = self.resolve(media, &media_at)?;
                let schema = media.get("schema").cloned();
                let schema_pointer = schema
                    .as_ref()
                    .map(|s| self.schema_pointer(s, &format!("{media_base}/schema")));
                let mut examples = Vec::new();
                if let Some(example) = media.get("example") {
                    examples.push(("example".to_owned(), example.clone()));
                }
                if let Some(map) = media.get("examples").and_then(Value::as_object) {
                    for (name, example) in map {
                        let example = self
                            .resolve(example, &format!("{media_at}/examples/{}", escape(name)))?;
                        // An Example Object with `externalValue` only has
                        // nothing to serve.
                        if let Some(value) = example.get("value") {
                            examples.push((name.clone(), value.clone()));
                        }
                    }
                }
                // Through the reference, without copying the schema (Microsoft
                // Graph's are large, and there are 22,000 operations).
                if let Some(value) = schema
                    .as_ref()
                    .and_then(|s| deref(self.root, s))
                    .and_then(schema_example)
                {
                    examples.push(("schema".to_owned(), value));
                }
                content.push(MediaDef {
                    media_type: media_type.clone(),
                    schema,
                    schema_pointer,
                    examples,
                });
            }
            responses.push(ResponseDef {
                status,
                headers,
                content,
            });
        }
        Ok(responses)
    }

    fn deref_schema(&self, schema: &Value) -> Value {
        deref(self.root, schema).unwrap_or(schema).clone()
    }

    fn security(
        &self,
        value: Option<&'a Value>,
        schemes: &'a Map<String, Value>,
        pointer: &str,
    ) -> Result<Vec<Vec<SecurityScheme>>, LoadError> {
        let Some(Value::Array(alternatives)) = value else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(alternatives.len());
        for (i, alternative) in alternatives.iter().enumerate() {
            let at = format!("{pointer}/security/{i}");
            let Some(requirement) = alternative.as_object() else {
                return Err(self.error(&at, "expected a security requirement object"));
            };
            let mut all = Vec::new();
            for name in requirement.keys() {
                let scheme = schemes.get(name).ok_or_else(|| {
                    self.error(
                        &at,
                        format!("security scheme {name:?} is not in /components/securitySchemes"),
                    )
                })?;
                let scheme_at = format!("/components/securitySchemes/{}", escape(name));
                let scheme = self.resolve(scheme, &scheme_at)?;
                all.push(self.security_scheme(scheme, &scheme_at)?);
            }
            out.push(all);
        }
        Ok(out)
    }

    fn security_scheme(&self, scheme: &Value, at: &str) -> Result<SecurityScheme, LoadError> {
        let text = |key: &str| scheme.get(key).and_then(Value::as_str);
        match text("type") {
            Some("apiKey") => {
                let name = text("name")
                    .ok_or_else(|| self.error(at, "an apiKey scheme needs a `name`"))?;
                let location = match text("in") {
                    Some("header") => Location::Header,
                    Some("query") => Location::Query,
                    Some("cookie") => Location::Cookie,
                    other => {
                        return Err(self.error(
                            &format!("{at}/in"),
                            format!("expected header, query or cookie, found {other:?}"),
                        ));
                    }
                };
                let name = if location == Location::Header {
                    name.to_ascii_lowercase()
                } else {
                    name.to_owned()
                };
                Ok(SecurityScheme::ApiKey { name, location })
            }
            Some("http") => Ok(
                match text("scheme").map(str::to_ascii_lowercase).as_deref() {
                    Some("basic") => SecurityScheme::Basic,
                    Some("digest") => SecurityScheme::Digest,
                    _ => SecurityScheme::Bearer,
                },
            ),
            Some("oauth2" | "openIdConnect") => Ok(SecurityScheme::Bearer),
            Some("mutualTLS") => Ok(SecurityScheme::MutualTls),
            other => Err(self.error(
                &format!("{at}/type"),
                format!("unknown security scheme type {other:?}"),
            )),
        }
    }
}

fn first_example_value(cx: &Context<'_>, examples: Option<&Value>) -> Option<Value> {
    let (_, example) = examples?.as_object()?.iter().next()?;
    deref(cx.root, example)?.get("value").cloned()
}

/// A schema's own example: `example`, the first of `examples`, `default`,
/// or `const`.
fn schema_example(schema: &Value) -> Option<Value> {
    schema
        .get("example")
        .or_else(|| {
            schema
                .get("examples")
                .and_then(|e| e.as_array())
                .and_then(|a| a.first())
        })
        .or_else(|| schema.get("default"))
        .or_else(|| schema.get("const"))
        .cloned()
}

fn parse_status_key(key: &str) -> Option<StatusKey> {
    if key.eq_ignore_ascii_case("default") {
        return Some(StatusKey::Default);
    }
    let bytes = key.as_bytes();
    if bytes.len() == 3 && (b'1'..=b'5').contains(&bytes[0]) {
        if bytes[1..].eq_ignore_ascii_case(b"xx") {
            return Some(StatusKey::Range(u16::from(bytes[0] - b'0')));
        }
        if bytes[1..].iter().all(u8::is_ascii_digit) {
            return key.parse().ok().map(StatusKey::Code);
        }
    }
    None
}

fn servers(
    cx: &Context<'_>,
    value: Option<&Value>,
    pointer: &str,
) -> Result<Vec<Server>, LoadError> {
    let mut out = Vec::new();
    if let Some(value) = value {
        let Some(items) = value.as_array() else {
            return Err(cx.error(pointer, "expected an array of servers"));
        };
        for (i, server) in items.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            let url = server
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| cx.error(&at, "a server needs a `url`"))?;
            let variables = server.get("variables").and_then(Value::as_object);
            for url in expand_variables(url, variables) {
                let server = parse_server_url(&url);
                if !out.contains(&server) {
                    out.push(server);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Server {
            host: None,
            base_path: String::new(),
        });
    }
    Ok(out)
}

/// Every URL a templated server URL stands for: each variable's default,
/// then its other enum values.
fn expand_variables(url: &str, variables: Option<&Map<String, Value>>) -> Vec<String> {
    let mut urls = vec![url.to_owned()];
    let Some(variables) = variables else {
        return urls;
    };
    for (name, variable) in variables {
        let placeholder = format!("{{{name}}}");
        let mut values: Vec<String> = variable
            .get("default")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect();
        for value in variable
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(value) = value.as_str()
                && !values.iter().any(|v| v == value)
            {
                values.push(value.to_owned());
            }
        }
        if values.is_empty() {
            continue;
        }
        let placeholder = &placeholder;
        urls = urls
            .iter()
            .flat_map(|u| values.iter().map(move |v| u.replace(placeholder, v)))
            .take(64)
            .collect();
    }
    urls
}

// Split by hand, not with the `url` crate: server URLs may be relative
// (`/v1`, `//host/v1`) or hold `{variables}`, which `url` refuses or
// percent-encodes.
fn parse_server_url(url: &str) -> Server {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(slash) => (Some(rest[..slash].to_ascii_lowercase()), &rest[slash..]),
            None => (Some(rest.to_ascii_lowercase()), ""),
        },
        None if url.starts_with("//") => {
            let rest = &url[2..];
            match rest.find('/') {
                Some(slash) => (Some(rest[..slash].to_ascii_lowercase()), &rest[slash..]),
                None => (Some(rest.to_ascii_lowercase()), ""),
            }
        }
        None => (None, url),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let base_path = path.trim_end_matches('/');
    let base_path = if base_path.is_empty() || base_path.starts_with('/') {
        base_path.to_owned()
    } else {
        format!("/{base_path}")
    };
    Server {
        host: host.filter(|h| !h.is_empty() && !h.contains('{')),
        base_path,
    }
}

/// The authorization and token endpoints of every OAuth2
/// authorization-code flow, as request paths. A relative URL resolves
/// against the server URL as RFC 3986 says (`/v4/authorize` from the host's
/// root); the path under the base path is accepted too, since specs mean
/// both.
fn oauth_endpoints(schemes: &Map<String, Value>, servers: &[Server]) -> Vec<OAuthEndpoint> {
    let mut out = Vec::new();
    for scheme in schemes.values() {
        if scheme.get("type").and_then(Value::as_str) != Some("oauth2") {
            continue;
        }
        let Some(flow) = scheme.pointer("/flows/authorizationCode") else {
            continue;
        };
        let Some(authorization) = flow.get("authorizationUrl").and_then(Value::as_str) else {
            continue;
        };
        let token = flow.get("tokenUrl").and_then(Value::as_str);
        let mut candidates = vec![url_path(authorization).to_owned()];
        let token_path = token.map(|t| url_path(t).to_owned());
        if !authorization.contains("://") {
            for server in servers {
                if !server.base_path.is_empty() {
                    candidates.push(format!("{}{}", server.base_path, url_path(authorization)));
                }
            }
        }
        for path in candidates {
            if !out
                .iter()
                .any(|e: &OAuthEndpoint| e.authorization_path == path)
            {
                out.push(OAuthEndpoint {
                    authorization_path: path,
                    token_path: token_path.clone(),
                });
            }
        }
    }
    out
}

fn url_path(url: &str) -> &str {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(document: Value) -> Result<Spec, LoadError> {
        compile(LoadedSpec {
            file: PathBuf::from("api.yaml"),
            document,
        })
    }

    #[test]
    fn servers_split_into_host_and_base_path() {
        assert_eq!(
            parse_server_url("https://API.example.com:8443/v1/"),
            Server {
                host: Some("api.example.com:8443".into()),
                base_path: "/v1".into()
            }
        );
        assert_eq!(
            parse_server_url("/api"),
            Server {
                host: None,
                base_path: "/api".into()
            }
        );
        let vars = json!({"version": {"default": "v2", "enum": ["v1", "v2"]}});
        assert_eq!(
            expand_variables("https://x.io/{version}", vars.as_object()),
            ["https://x.io/v2", "https://x.io/v1"]
        );
    }

    #[test]
    fn operations_collect_parameters_responses_and_security() {
        let s = spec(json!({
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "security": [{"key": []}],
            "paths": {"/pets/{id}": {
                "parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}}],
                "get": {
                    "parameters": [{"name": "X-Trace", "in": "header", "required": true, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "ok", "headers": {"X-Rate": {"schema": {"type": "integer", "example": 5}}},
                                "content": {"application/json": {"schema": {"type": "object", "example": {"a": 1}}, "examples": {"one": {"value": {"a": 2}}}}}},
                        "4XX": {"description": "bad"},
                        "default": {"description": "err"}
                    }
                },
                "delete": {"security": [], "responses": {"204": {"description": "gone"}}}
            }},
            "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}}
        })).unwrap();
        let get = &s.operations[0];
        assert_eq!(get.id, "GET /pets/{id}");
        assert_eq!(
            get.parameters
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["x-trace", "id"]
        );
        assert_eq!(
            get.responses.iter().map(|r| r.status).collect::<Vec<_>>(),
            [
                StatusKey::Code(200),
                StatusKey::Range(4),
                StatusKey::Default
            ]
        );
        let media = &get.responses[0].content[0];
        assert_eq!(
            media.examples,
            [
                ("one".into(), json!({"a": 2})),
                ("schema".into(), json!({"a": 1}))
            ]
        );
        assert_eq!(get.responses[0].headers[0].example, Some(json!(5)));
        assert_eq!(
            get.security,
            [vec![SecurityScheme::ApiKey {
                name: "x-key".into(),
                location: Location::Header
            }]]
        );
        assert!(s.operations[1].security.is_empty());
    }

    #[test]
    fn shape_errors_say_where() {
        let e =
            spec(json!({"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"20x": {}}}}}}))
                .unwrap_err()
                .to_string();
        assert_eq!(
            e,
            "api.yaml: at /paths/~1a/get/responses/20x: \"20x\" is not a status code, range such as 2XX, or `default`"
        );
        let e = spec(json!({"openapi": "3.1.0", "paths": {"/a": {"get": {"security": [{"nope": []}], "responses": {}}}}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at /paths/~1a/get/security/0: security scheme \"nope\""),
            "{e}"
        );
        let e = spec(json!({"openapi": "3.1.0", "paths": {"/a": {"$ref": "#/nowhere"}}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at /paths/~1a: $ref \"#/nowhere\" points at nothing"),
            "{e}"
        );
    }

    #[test]
    fn oauth_authorization_urls_resolve_like_rfc_3986() {
        let schemes = json!({"o": {"type": "oauth2", "flows": {"authorizationCode": {"authorizationUrl": "/v4/authorize", "tokenUrl": "/v4/token", "scopes": {}}}}});
        let servers = [Server {
            host: Some("api.bank".into()),
            base_path: "/personal".into(),
        }];
        let endpoints = oauth_endpoints(schemes.as_object().unwrap(), &servers);
        let paths: Vec<_> = endpoints
            .iter()
            .map(|e| e.authorization_path.as_str())
            .collect();
        assert_eq!(paths, ["/v4/authorize", "/personal/v4/authorize"]);
    }
}
