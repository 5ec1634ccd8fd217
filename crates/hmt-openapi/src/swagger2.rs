//! Swagger 2.0 documents converted to OpenAPI 3.0.3 when they load, so that
//! everything after loading (the model, routing, validation, the mock) reads
//! one shape. Prism and Mockoon serve 2.0 specs as they are; so does hmt.
//!
//! What is converted:
//!
//! - `host`, `basePath` and `schemes` become `servers` (one per scheme,
//!   `https` when none is given; a relative URL from `basePath` alone when
//!   there is no `host`).
//! - `definitions` become `components/schemas`, `parameters` (all but body
//!   and form ones) `components/parameters`, `responses`
//!   `components/responses`, and every local `$ref` to them is rewritten
//!   (`#/definitions/Pet` → `#/components/schemas/Pet`).
//! - Non-body parameters: their type keywords (`type`, `format`, `items`,
//!   `enum`, bounds, `default`, ...) move into a `schema`; `collectionFormat`
//!   becomes `style`/`explode` (`csv` → form or simple without explode,
//!   `multi` → form with explode, `ssv` → spaceDelimited, `pipes` →
//!   pipeDelimited); `x-example` becomes `example`.
//! - An `in: body` parameter becomes the `requestBody`, with one media type
//!   per entry of the operation's `consumes` (else the document's, else
//!   `application/json`), and `x-examples` as their examples.
//! - `in: formData` parameters become a form `requestBody`: an object schema
//!   with a property per parameter, as `multipart/form-data` when one of
//!   them is `type: file` (or `consumes` names only multipart), else
//!   `application/x-www-form-urlencoded`.
//! - Responses: `schema` becomes `content` with one media type per entry of
//!   `produces` (the operation's, else the document's, else
//!   `application/json`); `examples` (by media type) become those media
//!   types' `example`; `headers` get a `schema`.
//! - Schemas: `type: file` becomes `type: string, format: binary`,
//!   `x-nullable` becomes `nullable`, a `discriminator` property name
//!   becomes a Discriminator Object.
//! - `securityDefinitions` become `components/securitySchemes`: `basic` is
//!   http basic, `apiKey` stays, `oauth2` flows `implicit`, `password`,
//!   `application` and `accessCode` become `implicit`, `password`,
//!   `clientCredentials` and `authorizationCode`.
//! - `info`, `tags`, `externalDocs`, `security`, operation fields and `x-`
//!   extensions are kept as they are.
//!
//! What is not: files other than the spec that it refers to are bundled as
//! they are (a schema in them keeps `type: file` or `x-nullable`, and a
//! reference to a parameter or response in another file is kept as a
//! reference, so a body parameter there does not become a request body);
//! shared `responses` take the document's `produces`, not that of each
//! operation using them; an operation's own `schemes` and `collectionFormat:
//! tsv` have no OpenAPI 3 equivalent and are dropped (tsv reads as csv).
//! Errors found while converting name the 2.0 document's JSON pointers;
//! those found later name the converted document's.

use crate::load::LoadError;
use hmt_types::pointer::{escape, unescape};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Keywords of a 2.0 non-body parameter, header or `items` that describe its
/// value, and so move into a `schema`.
const VALUE_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
];

/// Schema keywords whose value is one subschema (or, for `items`, an array
/// of them).
const SUBSCHEMA: &[&str] = &["items", "additionalProperties", "not", "additionalItems"];

/// Schema keywords whose value is an array of subschemas.
const SUBSCHEMA_ARRAYS: &[&str] = &["allOf", "anyOf", "oneOf"];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// Converts a Swagger 2.0 document (read from `file`) to OpenAPI 3.0.3, as
/// the module docs say.
///
/// ```
/// use hmt_openapi::swagger2::to_openapi3;
/// use serde_json::json;
/// use std::path::Path;
///
/// let v2 = json!({
///     "swagger": "2.0", "info": {"title": "t", "version": "1"},
///     "host": "api.example.com", "basePath": "/v1",
///     "paths": {"/pets": {"get": {"responses": {"200": {
///         "description": "ok", "schema": {"$ref": "#/definitions/Pet"}
///     }}}}},
///     "definitions": {"Pet": {"type": "object"}}
/// });
/// let v3 = to_openapi3(Path::new("api.json"), v2).unwrap();
/// assert_eq!(v3["servers"], json!([{"url": "https://api.example.com/v1"}]));
/// assert_eq!(
///     v3["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
///     json!({"$ref": "#/components/schemas/Pet"})
/// );
/// ```
pub fn to_openapi3(file: &Path, document: Value) -> Result<Value, LoadError> {
    let Value::Object(v2) = document else {
        return Err(LoadError::invalid(file, "", "a spec must be an object"));
    };
    match v2.get("swagger").and_then(Value::as_str) {
        Some("2.0") => {}
        other => {
            return Err(LoadError::invalid(
                file,
                "/swagger",
                format!(
                    "Swagger {} is not supported (2.0 is, and OpenAPI 3.0 and 3.1)",
                    other.map_or_else(|| v2["swagger"].to_string(), str::to_owned)
                ),
            ));
        }
    }
    let cx = Converter {
        file,
        root: &v2,
        consumes: media_types(v2.get("consumes")).unwrap_or_else(json_only),
        produces: media_types(v2.get("produces")).unwrap_or_else(json_only),
    };
    let mut out = Map::new();
    out.insert("openapi".into(), "3.0.3".into());
    for key in ["info", "tags", "externalDocs"] {
        if let Some(value) = v2.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    out.insert("servers".into(), Value::Array(servers(&v2)));
    if let Some(security) = v2.get("security") {
        out.insert("security".into(), security.clone());
    }
    out.insert("paths".into(), Value::Object(cx.paths()?));

    let mut components = Map::new();
    if let Some(definitions) = cx.object("definitions")? {
        let schemas = definitions
            .iter()
            .map(|(name, schema)| (name.clone(), convert_schema(schema)))
            .collect();
        components.insert("schemas".into(), Value::Object(schemas));
    }
    if let Some(parameters) = cx.object("parameters")? {
        let mut converted = Map::new();
        for (name, parameter) in parameters {
            let at = format!("/parameters/{}", escape(name));
            // Body and form parameters are inlined where they are used.
            match parameter.get("in").and_then(Value::as_str) {
                Some("body" | "formData") => {}
                _ => {
                    converted.insert(name.clone(), cx.parameter(parameter, &at)?);
                }
            }
        }
        components.insert("parameters".into(), Value::Object(converted));
    }
    if let Some(responses) = cx.object("responses")? {
        let converted = responses
            .iter()
            .map(|(name, response)| (name.clone(), cx.response(response, &cx.produces)))
            .collect();
        components.insert("responses".into(), Value::Object(converted));
    }
    if let Some(schemes) = cx.object("securityDefinitions")? {
        let mut converted = Map::new();
        for (name, scheme) in schemes {
            let at = format!("/securityDefinitions/{}", escape(name));
            converted.insert(name.clone(), cx.security_scheme(scheme, &at)?);
        }
        components.insert("securitySchemes".into(), Value::Object(converted));
    }
    if !components.is_empty() {
        out.insert("components".into(), Value::Object(components));
    }
    for (key, value) in &v2 {
        if key.starts_with("x-") {
            out.insert(key.clone(), value.clone());
        }
    }
    let mut out = Value::Object(out);
    rewrite_refs(&mut out);
    Ok(out)
}

struct Converter<'a> {
    file: &'a Path,
    root: &'a Map<String, Value>,
    consumes: Vec<String>,
    produces: Vec<String>,
}

fn json_only() -> Vec<String> {
    vec!["application/json".to_owned()]
}

/// A `consumes` or `produces` list; `None` when absent or empty.
fn media_types(value: Option<&Value>) -> Option<Vec<String>> {
    let types: Vec<String> = value?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    (!types.is_empty()).then_some(types)
}

fn servers(v2: &Map<String, Value>) -> Vec<Value> {
    let base_path = v2.get("basePath").and_then(Value::as_str).unwrap_or("");
    let Some(host) = v2.get("host").and_then(Value::as_str) else {
        let url = if base_path.is_empty() { "/" } else { base_path };
        return vec![json!({"url": url})];
    };
    let schemes = media_types(v2.get("schemes")).unwrap_or_else(|| vec!["https".to_owned()]);
    schemes
        .iter()
        .map(|scheme| json!({"url": format!("{scheme}://{host}{base_path}")}))
        .collect()
}

impl Converter<'_> {
    fn error(&self, pointer: &str, message: impl Into<String>) -> LoadError {
        LoadError::invalid(self.file, pointer, message)
    }

    /// A top-level map of the 2.0 document, if present.
    fn object(&self, key: &str) -> Result<Option<&Map<String, Value>>, LoadError> {
        match self.root.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(self.error(&format!("/{key}"), "expected an object")),
        }
    }

    /// A parameter, through a local `#/parameters/...` reference.
    fn resolve<'v>(&'v self, value: &'v Value, at: &str) -> Result<&'v Value, LoadError> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) if reference.starts_with("#/") => {
                pointer_in(self.root, &reference[1..]).ok_or_else(|| {
                    self.error(
                        &format!("{at}/$ref"),
                        format!("$ref {reference:?} points at nothing"),
                    )
                })
            }
            _ => Ok(value),
        }
    }

    fn paths(&self) -> Result<Map<String, Value>, LoadError> {
        let mut out = Map::new();
        let Some(paths) = self.object("paths")? else {
            return Ok(out);
        };
        for (template, item) in paths {
            let at = format!("/paths/{}", escape(template));
            if template.starts_with("x-") {
                out.insert(template.clone(), item.clone());
                continue;
            }
            let Some(item) = item.as_object() else {
                return Err(self.error(&at, "expected a path item object"));
            };
            out.insert(template.clone(), Value::Object(self.path_item(item, &at)?));
        }
        Ok(out)
    }

    fn path_item(
        &self,
        item: &Map<String, Value>,
        at: &str,
    ) -> Result<Map<String, Value>, LoadError> {
        let mut out = Map::new();
        let shared = self.split_parameters(item.get("parameters"), &format!("{at}/parameters"))?;
        for (key, value) in item {
            let op_at = format!("{at}/{key}");
            if METHODS.contains(&key.as_str()) {
                let Some(op) = value.as_object() else {
                    return Err(self.error(&op_at, "expected an operation object"));
                };
                out.insert(
                    key.clone(),
                    Value::Object(self.operation(op, &shared, &op_at)?),
                );
            } else if key == "parameters" {
                if !shared.plain.is_empty() {
                    out.insert(key.clone(), Value::Array(shared.plain.clone()));
                }
            } else {
                // `$ref` (to another file) and extensions.
                out.insert(key.clone(), value.clone());
            }
        }
        Ok(out)
    }

    /// Parameters split into those OpenAPI 3 keeps as parameters and the
    /// body and form ones that become a request body.
    fn split_parameters(&self, value: Option<&Value>, at: &str) -> Result<Split, LoadError> {
        let mut split = Split::default();
        let Some(value) = value else {
            return Ok(split);
        };
        let Some(items) = value.as_array() else {
            return Err(self.error(at, "expected an array of parameters"));
        };
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{at}/{i}");
            let resolved = self.resolve(item, &item_at)?;
            let name = resolved.get("name").and_then(Value::as_str).unwrap_or("");
            match resolved.get("in").and_then(Value::as_str) {
                Some("body") => split.body = Some(resolved.clone()),
                Some("formData") => split.form.push((name.to_owned(), resolved.clone())),
                Some("query" | "header" | "path") => {
                    let converted = if item.get("$ref").is_some() {
                        item.clone()
                    } else {
                        self.parameter(item, &item_at)?
                    };
                    split.plain.push(converted);
                }
                // A reference into another file: bundled as it is.
                None if resolved.get("$ref").is_some() => split.plain.push(item.clone()),
                other => {
                    return Err(self.error(
                        &format!("{item_at}/in"),
                        format!("expected body, formData, query, header or path, found {other:?}"),
                    ));
                }
            }
        }
        Ok(split)
    }

    fn operation(
        &self,
        op: &Map<String, Value>,
        shared: &Split,
        at: &str,
    ) -> Result<Map<String, Value>, LoadError> {
        let consumes = media_types(op.get("consumes")).unwrap_or_else(|| self.consumes.clone());
        let produces = media_types(op.get("produces")).unwrap_or_else(|| self.produces.clone());
        let own = self.split_parameters(op.get("parameters"), &format!("{at}/parameters"))?;
        let mut out = Map::new();
        for (key, value) in op {
            match key.as_str() {
                "consumes" | "produces" | "schemes" => {}
                // Path-item parameters stay on the path item, where OpenAPI 3
                // merges them in the same way.
                "parameters" => {
                    if !own.plain.is_empty() {
                        out.insert(key.clone(), Value::Array(own.plain.clone()));
                    }
                }
                "responses" => {
                    let Some(responses) = value.as_object() else {
                        return Err(self.error(&format!("{at}/responses"), "expected an object"));
                    };
                    let converted = responses
                        .iter()
                        .map(|(code, response)| {
                            let response =
                                if code.starts_with("x-") || response.get("$ref").is_some() {
                                    response.clone()
                                } else {
                                    self.response(response, &produces)
                                };
                            (code.clone(), response)
                        })
                        .collect();
                    out.insert(key.clone(), Value::Object(converted));
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        let body = own.body.as_ref().or(shared.body.as_ref());
        let mut form = own.form.clone();
        for (name, parameter) in &shared.form {
            if !form.iter().any(|(n, _)| n == name) {
                form.push((name.clone(), parameter.clone()));
            }
        }
        if let Some(body) = body {
            out.insert("requestBody".into(), self.body(body, &consumes));
        } else if !form.is_empty() {
            out.insert("requestBody".into(), form_body(&form, &consumes));
        }
        Ok(out)
    }

    fn body(&self, parameter: &Value, consumes: &[String]) -> Value {
        let schema = parameter.get("schema").map(convert_schema);
        let examples = parameter.get("x-examples").and_then(Value::as_object);
        let mut content = Map::new();
        for media_type in consumes {
            let mut media = Map::new();
            if let Some(schema) = &schema {
                media.insert("schema".into(), schema.clone());
            }
            if let Some(example) = examples.and_then(|e| e.get(media_type)) {
                media.insert("example".into(), example.clone());
            }
            content.insert(media_type.clone(), Value::Object(media));
        }
        let mut out = Map::new();
        if let Some(description) = parameter.get("description") {
            out.insert("description".into(), description.clone());
        }
        out.insert("content".into(), Value::Object(content));
        if let Some(required) = parameter.get("required") {
            out.insert("required".into(), required.clone());
        }
        copy_extensions(parameter, &mut out, &["x-examples"]);
        Value::Object(out)
    }

    /// A query, header or path parameter.
    fn parameter(&self, parameter: &Value, at: &str) -> Result<Value, LoadError> {
        let Some(map) = parameter.as_object() else {
            return Err(self.error(at, "expected a parameter object"));
        };
        let location = map.get("in").and_then(Value::as_str).unwrap_or("");
        let mut out = Map::new();
        for (key, value) in map {
            match key.as_str() {
                "collectionFormat" => {}
                "x-example" => {
                    out.insert("example".into(), value.clone());
                }
                "x-nullable" => {}
                key if VALUE_KEYWORDS.contains(&key) => {}
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        out.insert("schema".into(), value_schema(map));
        if map.get("type").and_then(Value::as_str) == Some("array") {
            let format = map
                .get("collectionFormat")
                .and_then(Value::as_str)
                .unwrap_or("csv");
            let (style, explode) = match (format, location) {
                ("multi", _) => ("form", true),
                ("ssv", "query") => ("spaceDelimited", false),
                ("pipes", "query") => ("pipeDelimited", false),
                (_, "query") => ("form", false),
                _ => ("simple", false),
            };
            out.insert("style".into(), style.into());
            out.insert("explode".into(), explode.into());
        }
        Ok(Value::Object(out))
    }

    fn response(&self, response: &Value, produces: &[String]) -> Value {
        let Some(map) = response.as_object() else {
            return response.clone();
        };
        let schema = map.get("schema").map(convert_schema);
        let examples = map.get("examples").and_then(Value::as_object);
        let mut out = Map::new();
        out.insert(
            "description".into(),
            map.get("description").cloned().unwrap_or_else(|| "".into()),
        );
        if let Some(headers) = map.get("headers").and_then(Value::as_object) {
            let headers = headers
                .iter()
                .map(|(name, header)| (name.clone(), convert_header(header)))
                .collect();
            out.insert("headers".into(), Value::Object(headers));
        }
        let mut content = Map::new();
        if let Some(schema) = &schema {
            for media_type in produces {
                content.insert(media_type.clone(), json!({"schema": schema}));
            }
        }
        for (media_type, example) in examples.into_iter().flatten() {
            let media = content
                .entry(media_type.clone())
                .or_insert_with(|| match &schema {
                    Some(schema) => json!({"schema": schema}),
                    None => json!({}),
                });
            if let Some(media) = media.as_object_mut() {
                media.insert("example".into(), example.clone());
            }
        }
        if !content.is_empty() {
            out.insert("content".into(), Value::Object(content));
        }
        copy_extensions(response, &mut out, &[]);
        Value::Object(out)
    }

    fn security_scheme(&self, scheme: &Value, at: &str) -> Result<Value, LoadError> {
        let text = |key: &str| scheme.get(key).cloned().unwrap_or(Value::Null);
        let mut out = match scheme.get("type").and_then(Value::as_str) {
            Some("basic") => json!({"type": "http", "scheme": "basic"}),
            Some("apiKey") => json!({"type": "apiKey", "name": text("name"), "in": text("in")}),
            Some("oauth2") => {
                let scopes = scheme.get("scopes").cloned().unwrap_or_else(|| json!({}));
                let (flow, mut body) = match scheme.get("flow").and_then(Value::as_str) {
                    Some("implicit") => (
                        "implicit",
                        json!({"authorizationUrl": text("authorizationUrl")}),
                    ),
                    Some("password") => ("password", json!({"tokenUrl": text("tokenUrl")})),
                    Some("application") => {
                        ("clientCredentials", json!({"tokenUrl": text("tokenUrl")}))
                    }
                    Some("accessCode") => (
                        "authorizationCode",
                        json!({"authorizationUrl": text("authorizationUrl"), "tokenUrl": text("tokenUrl")}),
                    ),
                    other => {
                        return Err(self.error(
                            &format!("{at}/flow"),
                            format!(
                                "expected implicit, password, application or accessCode, found {other:?}"
                            ),
                        ));
                    }
                };
                body["scopes"] = scopes;
                json!({"type": "oauth2", "flows": {flow: body}})
            }
            other => {
                return Err(self.error(
                    &format!("{at}/type"),
                    format!("expected basic, apiKey or oauth2, found {other:?}"),
                ));
            }
        };
        if let (Some(out), Some(description)) = (out.as_object_mut(), scheme.get("description")) {
            out.insert("description".into(), description.clone());
        }
        if let Some(out) = out.as_object_mut() {
            copy_extensions(scheme, out, &[]);
        }
        Ok(out)
    }
}

/// Parameters of a path item or operation, split by what they become.
#[derive(Default)]
struct Split {
    /// Query, header and path parameters, converted (references kept).
    plain: Vec<Value>,
    /// The body parameter, resolved.
    body: Option<Value>,
    /// Form parameters by name, resolved.
    form: Vec<(String, Value)>,
}

fn pointer_in<'a>(root: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut tokens = pointer.strip_prefix('/')?.split('/');
    let first = tokens.next()?;
    let mut value = root.get(&*unescape(first))?;
    for token in tokens {
        value = match value {
            Value::Object(map) => map.get(&*unescape(token))?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The schema of a 2.0 non-body parameter, header or `items`: its value
/// keywords.
fn value_schema(map: &Map<String, Value>) -> Value {
    let mut schema = Map::new();
    for keyword in VALUE_KEYWORDS {
        if let Some(value) = map.get(*keyword) {
            let value = if *keyword == "items" {
                match value.as_object() {
                    Some(items) => value_schema(items),
                    None => value.clone(),
                }
            } else {
                value.clone()
            };
            schema.insert((*keyword).to_owned(), value);
        }
    }
    if map.get("x-nullable") == Some(&Value::Bool(true)) {
        schema.insert("nullable".into(), true.into());
    }
    let mut schema = Value::Object(schema);
    file_to_binary(&mut schema);
    schema
}

fn convert_header(header: &Value) -> Value {
    let Some(map) = header.as_object() else {
        return header.clone();
    };
    let mut out = Map::new();
    if let Some(description) = map.get("description") {
        out.insert("description".into(), description.clone());
    }
    out.insert("schema".into(), value_schema(map));
    if let Some(example) = map.get("x-example") {
        out.insert("example".into(), example.clone());
    }
    copy_extensions(header, &mut out, &["x-example", "x-nullable"]);
    Value::Object(out)
}

/// The form request body of `form` parameters.
fn form_body(form: &[(String, Value)], consumes: &[String]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut has_file = false;
    for (name, parameter) in form {
        let Some(map) = parameter.as_object() else {
            continue;
        };
        has_file |= map.get("type").and_then(Value::as_str) == Some("file");
        let mut schema = value_schema(map);
        if let (Some(schema), Some(description)) = (schema.as_object_mut(), map.get("description"))
        {
            schema.insert("description".into(), description.clone());
        }
        properties.insert(name.clone(), schema);
        if map.get("required") == Some(&Value::Bool(true)) {
            required.push(Value::String(name.clone()));
        }
    }
    let multipart_only = consumes.iter().any(|m| m == "multipart/form-data")
        && !consumes
            .iter()
            .any(|m| m == "application/x-www-form-urlencoded");
    let media_type = if has_file || multipart_only {
        "multipart/form-data"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required.clone());
    }
    let mut body = json!({"content": {media_type: {"schema": schema}}});
    if !required.is_empty() {
        body["required"] = true.into();
    }
    body
}

/// A 2.0 Schema Object as a 3.0 one.
fn convert_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    convert_schema_in_place(&mut schema);
    schema
}

fn convert_schema_in_place(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(nullable) = map.shift_remove("x-nullable") {
        map.insert("nullable".into(), nullable);
    }
    if let Some(Value::String(property)) = map.get("discriminator") {
        let property = property.clone();
        map.insert("discriminator".into(), json!({"propertyName": property}));
    }
    file_to_binary_map(map);
    for keyword in SUBSCHEMA {
        match map.get_mut(*keyword) {
            Some(Value::Array(items)) => items.iter_mut().for_each(convert_schema_in_place),
            Some(sub) => convert_schema_in_place(sub),
            None => {}
        }
    }
    for keyword in SUBSCHEMA_ARRAYS {
        if let Some(Value::Array(subs)) = map.get_mut(*keyword) {
            subs.iter_mut().for_each(convert_schema_in_place);
        }
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(convert_schema_in_place);
    }
}

fn file_to_binary(schema: &mut Value) {
    if let Value::Object(map) = schema {
        file_to_binary_map(map);
    }
}

fn file_to_binary_map(map: &mut Map<String, Value>) {
    if map.get("type").and_then(Value::as_str) == Some("file") {
        map.insert("type".into(), "string".into());
        map.insert("format".into(), "binary".into());
    }
}

fn copy_extensions(from: &Value, to: &mut Map<String, Value>, except: &[&str]) {
    for (key, value) in from.as_object().into_iter().flatten() {
        if key.starts_with("x-") && !except.contains(&key.as_str()) {
            to.insert(key.clone(), value.clone());
        }
    }
}

/// Rewrites local references to 2.0 locations into their 3.0 ones,
/// everywhere but in examples (which are data).
fn rewrite_refs(value: &mut Value) {
    rewrite_refs_in(value, false);
}

/// `names`: `value` is a `properties` map, whose keys are names, not
/// keywords (a property may be called `example`).
fn rewrite_refs_in(value: &mut Value, names: bool) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                for (from, to) in [
                    ("#/definitions/", "#/components/schemas/"),
                    ("#/parameters/", "#/components/parameters/"),
                    ("#/responses/", "#/components/responses/"),
                ] {
                    if let Some(rest) = reference.strip_prefix(from) {
                        *reference = format!("{to}{rest}");
                        break;
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                let data = matches!(
                    key.as_str(),
                    "example" | "examples" | "x-example" | "x-examples" | "default" | "enum"
                );
                if names || !data {
                    rewrite_refs_in(child, !names && key == "properties");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_in_another_file_stays_a_reference() {
        let v2 = json!({"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {
            "parameters": [{"$ref": "common.yaml#/parameters/limit"}],
            "responses": {"200": {"description": "ok"}}
        }}}});
        let v3 = to_openapi3(Path::new("api.yaml"), v2).unwrap();
        assert_eq!(
            v3["paths"]["/a"]["get"]["parameters"],
            json!([{"$ref": "common.yaml#/parameters/limit"}])
        );
    }
}
