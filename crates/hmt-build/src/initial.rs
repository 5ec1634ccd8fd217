//! Loading and checking the *initial* OpenAPI spec (`hmt build -a FILE`).
//!
//! With `--initial-openapi-spec`, `hmt build` merges what the traffic showed
//! into a spec a human wrote (see [`crate::merge`]). That spec is the
//! authority for everything it declares, so it has to be a document hmt can
//! trust: well-formed JSON or YAML, an OpenAPI 3.0.x or 3.1.x document, and
//! structurally sound. When it is not, the user needs to know exactly where
//! to look, so every [`InitialSpecError`] names the file and a position:
//!
//! * syntax errors carry `line:column` from the JSON or YAML parser,
//!   `petstore.yaml:12:5: YAML syntax error: ...`;
//! * everything found after parsing carries an RFC 6901 JSON pointer,
//!   `petstore.yaml: at /paths/~1pets/get/responses: ...`.
//!
//! The checks, in order:
//!
//! 1. syntax (JSON when the first non-blank character is `{`, YAML
//!    otherwise; YAML merge keys `<<` are applied, scalar mapping keys such as
//!    unquoted status codes become strings);
//! 2. the `openapi` field: present, a string, `3.0.x` or `3.1.x` (Swagger 2.0
//!    is reported as such);
//! 3. structure: 3.0 documents are deserialized into [`openapiv3::OpenAPI`]
//!    and [`roas::v3_0::spec::Spec`], 3.1 documents into
//!    [`roas::v3_1::spec::Spec`], through `serde_path_to_error` so the
//!    failing element is known. `openapiv3` loses the path inside flattened
//!    and untagged types (a bad response is reported at `/paths`), so its
//!    errors are located with roas's model when that points deeper into the
//!    same element; roas's model also rejects some things openapiv3's
//!    accepts (a path parameter without `required: true`);
//! 4. semantics: roas's validator (dangling `$ref`s, duplicate
//!    `operationId`s, path parameters that are not `required`, ...). It is
//!    run leniently: style findings (unused components, tags used but not
//!    declared, relative URLs, empty descriptions) are not errors, external
//!    references are not followed (the core does no I/O), and two known
//!    over-strict findings are dropped (local `$ref`s to non-component
//!    locations, and ECMA-262 `pattern`s the Rust regex engine rejects).
//!
//! The typed checks run on a copy of the document with two adjustments:
//! roas models integer and number `format` as closed enums, so custom
//! formats the OpenAPI specification allows (`format: unix-time`) are
//! removed, and a missing `paths` is added empty (openapiv3 requires it;
//! hmt treats it as "no paths yet"). The returned document is always the
//! parsed text, unchanged.
//!
//! Everything here works on text and values; reading the file is the
//! caller's job.

use std::fmt;

use hmt_types::pointer::join as pointer_of;
use roas::validation::{Options, Validate};
use serde_json::{Map, Number, Value};

/// An OpenAPI minor version: of an initial spec, or to generate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OpenApiVersion {
    /// OpenAPI 3.0.x.
    #[default]
    V30,
    /// OpenAPI 3.1.x.
    V31,
}

impl fmt::Display for OpenApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenApiVersion::V30 => "3.0",
            OpenApiVersion::V31 => "3.1",
        })
    }
}

/// A parsed and checked initial spec.
#[derive(Clone, Debug, PartialEq)]
pub struct InitialSpec {
    /// The document exactly as written (YAML converted to JSON values, key
    /// order preserved).
    pub document: Value,
    /// Which OpenAPI version the document's `openapi` field declares.
    pub version: OpenApiVersion,
}

/// The text format an initial spec was parsed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// Chosen when the first non-blank character is `{`.
    Json,
    /// Chosen otherwise.
    Yaml,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Json => "JSON",
            SourceFormat::Yaml => "YAML",
        })
    }
}

/// A 1-based line and column in the spec's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TextPosition {
    /// 1-based line.
    pub line: usize,
    /// Column as reported by the parser (1-based; serde_json reports 0 at
    /// the very end of the input).
    pub column: usize,
}

/// Why an initial spec was rejected. The `Display` form always starts with
/// the file name and says where (a `line:column` or a JSON pointer) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InitialSpecError {
    /// The text is not well-formed JSON or YAML.
    ///
    /// `petstore.yaml:12:5: YAML syntax error: mapping values are not allowed in this context`
    #[error("{name}{}: {format} syntax error: {message}", fmt_position(.position))]
    Syntax {
        /// File name used in the message.
        name: String,
        /// The format the text was parsed as.
        format: SourceFormat,
        /// Where the parser stopped, when it says.
        position: Option<TextPosition>,
        /// The parser's message, without its own position suffix.
        message: String,
    },
    /// The `openapi` field is missing, malformed or names a version hmt
    /// does not support (including Swagger 2.0 documents).
    ///
    /// `petstore.yaml: at /swagger: Swagger 2.0 documents are not supported; ...`
    #[error("{name}: at {}: {message}", fmt_pointer(.pointer))]
    Version {
        /// File name used in the message.
        name: String,
        /// JSON pointer (RFC 6901) of the offending element; empty for the
        /// document root.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The document does not have the shape of an OpenAPI document of its
    /// version.
    ///
    /// `petstore.yaml: at /paths/~1pets/get/responses: invalid type: integer `5`, expected struct Responses`
    #[error("{name}: at {}: {message}", fmt_pointer(.pointer))]
    Structure {
        /// File name used in the message.
        name: String,
        /// JSON pointer (RFC 6901) of the offending element; empty for the
        /// document root.
        pointer: String,
        /// What is wrong, as the deserializer put it.
        message: String,
    },
    /// The document is well-shaped but breaks a rule of the OpenAPI
    /// specification (first finding of roas's validator).
    ///
    /// `petstore.yaml: at /paths/~1pets/get/parameters/0: must define either `schema` or `content``
    #[error("{name}: at {}: {message}{}", fmt_pointer(.pointer), fmt_more(*.more))]
    Invalid {
        /// File name used in the message.
        name: String,
        /// JSON pointer (RFC 6901) of the closest element of the document
        /// the finding could be tied to; empty for the document root.
        pointer: String,
        /// What is wrong.
        message: String,
        /// How many further findings there were.
        more: usize,
    },
}

impl InitialSpecError {
    /// The file name the error was reported for.
    pub fn name(&self) -> &str {
        match self {
            InitialSpecError::Syntax { name, .. }
            | InitialSpecError::Version { name, .. }
            | InitialSpecError::Structure { name, .. }
            | InitialSpecError::Invalid { name, .. } => name,
        }
    }

    /// The JSON pointer of the problem, for errors found after parsing.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            InitialSpecError::Syntax { .. } => None,
            InitialSpecError::Version { pointer, .. }
            | InitialSpecError::Structure { pointer, .. }
            | InitialSpecError::Invalid { pointer, .. } => Some(pointer),
        }
    }
}

fn fmt_position(position: &Option<TextPosition>) -> String {
    match position {
        Some(p) => format!(":{}:{}", p.line, p.column),
        None => String::new(),
    }
}

fn fmt_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the document root"
    } else {
        pointer
    }
}

fn fmt_more(more: usize) -> String {
    match more {
        0 => String::new(),
        1 => " (and 1 more problem)".to_owned(),
        n => format!(" (and {n} more problems)"),
    }
}

/// Parse and check an initial spec.
///
/// `name` is the file name used in messages; `text` is its content, JSON or
/// YAML (JSON when the first non-blank character is `{`). The document must
/// declare OpenAPI 3.0.x or 3.1.x; a missing `paths` is accepted (no paths).
///
/// # Errors
///
/// [`InitialSpecError`] for the first problem found; its `Display` names the
/// file and the position (`line:column` or JSON pointer).
pub fn parse_initial_spec(name: &str, text: &str) -> Result<InitialSpec, InitialSpecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document = if text.trim_start().starts_with('{') {
        parse_json(name, text)?
    } else {
        parse_yaml(name, text)?
    };
    let version = check_version(name, &document)?;
    match version {
        OpenApiVersion::V30 => check_v30(name, &document)?,
        OpenApiVersion::V31 => check_v31(name, &document)?,
    }
    Ok(InitialSpec { document, version })
}

// ---------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------

/// Remove the parser's own ` at line L column C` from its message: the
/// position is reported in front, `file:L:C:`.
fn strip_position_suffix(message: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    match message.find(&suffix) {
        Some(at) => format!("{}{}", &message[..at], &message[at + suffix.len()..]),
        None => message.to_owned(),
    }
}

fn parse_json(name: &str, text: &str) -> Result<Value, InitialSpecError> {
    serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let message = e.to_string();
        let (position, message) = if line == 0 {
            (None, message)
        } else {
            (
                Some(TextPosition { line, column }),
                strip_position_suffix(&message, line, column),
            )
        };
        InitialSpecError::Syntax {
            name: name.to_owned(),
            format: SourceFormat::Json,
            position,
            message,
        }
    })
}

fn yaml_syntax_error(name: &str, e: &yaml_serde::Error) -> InitialSpecError {
    let message = e.to_string();
    let (position, message) = match e.location() {
        Some(l) => (
            Some(TextPosition {
                line: l.line(),
                column: l.column(),
            }),
            strip_position_suffix(&message, l.line(), l.column()),
        ),
        None => (None, message),
    };
    InitialSpecError::Syntax {
        name: name.to_owned(),
        format: SourceFormat::Yaml,
        position,
        message,
    }
}

fn parse_yaml(name: &str, text: &str) -> Result<Value, InitialSpecError> {
    let mut yaml: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| yaml_syntax_error(name, &e))?;
    yaml.apply_merge()
        .map_err(|e| yaml_syntax_error(name, &e))?;
    let mut pointer = String::new();
    yaml_to_json(yaml, &mut pointer).map_err(|(pointer, message)| InitialSpecError::Structure {
        name: name.to_owned(),
        pointer,
        message,
    })
}

/// Convert a YAML value to JSON. Scalar mapping keys become strings (YAML
/// specs routinely write `200:` unquoted); tags are dropped. Errors carry
/// the JSON pointer of the offending element.
fn yaml_to_json(value: yaml_serde::Value, pointer: &mut String) -> Result<Value, (String, String)> {
    use yaml_serde::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                match n.as_f64().and_then(Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => {
                        return Err((
                            pointer.clone(),
                            format!("the number {n} cannot be represented in JSON"),
                        ));
                    }
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                out.push(yaml_to_json(item, pointer)?);
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(mapping) => {
            let mut out = Map::with_capacity(mapping.len());
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => {
                        return Err((
                            pointer.clone(),
                            "mapping keys must be strings, numbers or booleans, found a \
                             collection or tagged key"
                                .to_owned(),
                        ));
                    }
                };
                if out.contains_key(&key) {
                    return Err((
                        pointer.clone(),
                        format!("duplicate key \"{key}\" (keys are compared as strings)"),
                    ));
                }
                let len = pointer.len();
                hmt_types::pointer::push(pointer, &key);
                let item = yaml_to_json(item, pointer)?;
                pointer.truncate(len);
                out.insert(key, item);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value, pointer)?,
    })
}

// ---------------------------------------------------------------------------
// JSON pointers
// ---------------------------------------------------------------------------

/// The tokens of a serde_path_to_error path, up to the first segment that
/// has no place in the document.
fn path_tokens(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    let mut tokens = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => tokens.push(index.to_string()),
            Segment::Map { key } => tokens.push(key.clone()),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    tokens
}

/// Map a roas validator path (`#.paths[/pets].get.responses.200`,
/// `#/components/schemas/Pet.properties.id`, ...) onto the document: the
/// path is walked against `document`, each segment taking the longest key
/// that exists, so `.` and `/` inside keys are handled. Walking stops at the
/// first segment that does not resolve (roas adds segments of its own); the
/// tokens resolved so far are returned with the unresolved rest of the path.
fn roas_path_tokens<'p>(document: &Value, path: &'p str) -> (Vec<String>, &'p str) {
    let mut tokens = Vec::new();
    let Some(mut rest) = path.strip_prefix('#') else {
        return (tokens, path);
    };
    let mut node = document;
    while let Some(first) = rest.chars().next() {
        let (body, closing) = match first {
            '[' => (&rest[1..], true),
            '.' | '/' => (&rest[1..], false),
            _ => break,
        };
        // Candidate token ends: every `]` for a bracketed key, every
        // delimiter (or the end) for a plain one.
        let ends: Vec<usize> = if closing {
            body.match_indices(']').map(|(i, _)| i).collect()
        } else {
            body.char_indices()
                .filter(|&(_, c)| matches!(c, '.' | '/' | '['))
                .map(|(i, _)| i)
                .chain(std::iter::once(body.len()))
                .collect()
        };
        let found = ends.iter().rev().find_map(|&end| {
            let key = &body[..end];
            let key = if key == "mediaTypes" && node.get("content").is_some() {
                "content"
            } else {
                key
            };
            let child = match node {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            }?;
            Some((key.to_owned(), child, end + usize::from(closing)))
        });
        let Some((key, child, consumed)) = found else {
            break;
        };
        tokens.push(key);
        node = child;
        rest = &body[consumed..];
    }
    (tokens, rest)
}

// ---------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------

fn version_error(name: &str, pointer: &str, message: String) -> InitialSpecError {
    InitialSpecError::Version {
        name: name.to_owned(),
        pointer: pointer.to_owned(),
        message,
    }
}

fn check_version(name: &str, document: &Value) -> Result<OpenApiVersion, InitialSpecError> {
    let Value::Object(root) = document else {
        return Err(InitialSpecError::Structure {
            name: name.to_owned(),
            pointer: String::new(),
            message: format!(
                "expected an OpenAPI document (a mapping of fields), found {}",
                describe(document)
            ),
        });
    };
    if let Some(swagger) = root.get("swagger") {
        let shown = match swagger {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(version_error(
            name,
            "/swagger",
            format!(
                "Swagger {shown} documents are not supported; hmt needs OpenAPI 3.0.x or 3.1.x \
                 (convert the document first, e.g. with swagger2openapi)"
            ),
        ));
    }
    let version = match root.get("openapi") {
        None => {
            return Err(version_error(
                name,
                "",
                "missing field `openapi`; an OpenAPI document must declare its version, \
                 e.g. `openapi: 3.0.3` or `openapi: 3.1.0`"
                    .to_owned(),
            ));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Number(n)) => {
            return Err(version_error(
                name,
                "/openapi",
                format!(
                    "expected the OpenAPI version as a string such as \"3.1.0\", found the \
                     number {n} (quote it in YAML)"
                ),
            ));
        }
        Some(other) => {
            return Err(version_error(
                name,
                "/openapi",
                format!(
                    "expected the OpenAPI version as a string such as \"3.1.0\", found {}",
                    describe(other)
                ),
            ));
        }
    };
    let minor = |prefix: &str| {
        version == prefix
            || version
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|patch| {
                    let digits = patch.split('-').next().unwrap_or_default();
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                })
    };
    if minor("3.0") {
        Ok(OpenApiVersion::V30)
    } else if minor("3.1") {
        Ok(OpenApiVersion::V31)
    } else {
        Err(version_error(
            name,
            "/openapi",
            format!("unsupported OpenAPI version \"{version}\"; hmt supports 3.0.x and 3.1.x"),
        ))
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

// ---------------------------------------------------------------------------
// Structure and semantics
// ---------------------------------------------------------------------------

/// A copy of `document` that the typed models accept where the OpenAPI
/// specification does: custom integer/number `format`s removed (roas only
/// knows int32/int64/float/double) and a missing `paths` added (hmt treats
/// it as empty; 3.0 requires the field, 3.1 requires `paths`, `webhooks` or
/// `components`).
fn roas_copy(document: &Value) -> Value {
    let mut copy = document.clone();
    drop_custom_numeric_formats(&mut copy);
    if let Value::Object(root) = &mut copy
        && !root.contains_key("paths")
    {
        root.insert("paths".to_owned(), Value::Object(Map::new()));
    }
    copy
}

fn drop_custom_numeric_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let types: Vec<&str> = match map.get("type") {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let known = |format: &str| {
                types.iter().all(|t| match *t {
                    "integer" => matches!(format, "int32" | "int64"),
                    "number" => matches!(format, "float" | "double"),
                    _ => true,
                })
            };
            let custom = matches!(map.get("format"), Some(Value::String(f)) if !known(f));
            if custom {
                map.remove("format");
            }
            map.values_mut().for_each(drop_custom_numeric_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_custom_numeric_formats),
        _ => {}
    }
}

/// A validator finding, located in the document.
struct Finding {
    tokens: Vec<String>,
    message: String,
}

/// Run roas's validator and keep the findings that are real problems.
fn validate<S: Validate>(spec: &S, document: &Value) -> Vec<Finding> {
    // Real spec violations are errors; style findings and anything that
    // needs I/O are not.
    let options = Options::IgnoreMissingTags
        | Options::IgnoreExternalReferences
        | Options::IgnoreInvalidUrls
        | Options::IgnoreUnusedPathItems
        | Options::IgnoreUnusedTags
        | Options::IgnoreUnusedSchemas
        | Options::IgnoreUnusedParameters
        | Options::IgnoreUnusedResponses
        | Options::IgnoreUnusedServerVariables
        | Options::IgnoreUnusedExamples
        | Options::IgnoreUnusedRequestBodies
        | Options::IgnoreUnusedHeaders
        | Options::IgnoreUnusedSecuritySchemes
        | Options::IgnoreUnusedLinks
        | Options::IgnoreUnusedCallbacks
        | Options::IgnoreUnusedMediaTypes
        | Options::IgnoreEmptyInfoTitle
        | Options::IgnoreEmptyInfoVersion
        | Options::IgnoreEmptyResponseDescription
        | Options::IgnoreEmptyExternalDocumentationUrl;
    let Err(report) = spec.validate(options, None) else {
        return Vec::new();
    };
    report
        .errors
        .into_iter()
        .filter(|e| !is_false_positive(document, &e.path, &e.message))
        .map(|e| {
            let (tokens, rest) = roas_path_tokens(document, &e.path);
            // Whatever part of roas's path is not in the document (a
            // missing field, say) stays in the message.
            let rest = rest.trim_start_matches(['.', '/']);
            let message = if rest.is_empty() {
                e.message.clone()
            } else {
                format!("{rest}: {}", e.message)
            };
            Finding { tokens, message }
        })
        .collect()
}

/// Findings roas reports that the OpenAPI specification allows.
fn is_false_positive(document: &Value, path: &str, message: &str) -> bool {
    // roas only resolves references to components; a same-document
    // reference to any other location that exists is fine.
    if path.ends_with("$ref")
        && let Some(reference) = message
            .strip_prefix('`')
            .and_then(|m| m.strip_suffix("` not found"))
    {
        return hmt_types::pointer::resolve_ref(document, reference).is_some();
    }
    // `pattern` is an ECMA-262 regular expression; roas compiles it with
    // the Rust engine, which lacks look-around and back-references.
    message.starts_with("pattern `") && message.contains("` is invalid")
}

fn first_finding(name: &str, mut findings: Vec<Finding>) -> Result<(), InitialSpecError> {
    if findings.is_empty() {
        return Ok(());
    }
    let more = findings.len() - 1;
    let first = findings.swap_remove(0);
    Err(InitialSpecError::Invalid {
        name: name.to_owned(),
        pointer: pointer_of(&first.tokens),
        message: first.message,
        more,
    })
}

fn structure_error(name: &str, tokens: &[String], message: String) -> InitialSpecError {
    InitialSpecError::Structure {
        name: name.to_owned(),
        pointer: pointer_of(tokens),
        message,
    }
}

/// `deeper` names an element inside the one `shallow` names.
fn is_deeper(deeper: &[String], shallow: &[String]) -> bool {
    deeper.len() > shallow.len() && deeper.starts_with(shallow)
}

/// OpenAPI 3.0: the document must fit both `openapiv3`'s model and roas's;
/// roas's sharpens the location of openapiv3's errors and its validator
/// supplies the semantic checks.
fn check_v30(name: &str, document: &Value) -> Result<(), InitialSpecError> {
    // The copy, for its `paths`: openapiv3 requires the field.
    let copy = roas_copy(document);
    let typed: Result<openapiv3::OpenAPI, _> = serde_path_to_error::deserialize(&copy);
    let roas: Result<roas::v3_0::spec::Spec, _> = serde_path_to_error::deserialize(&copy);
    match typed {
        Ok(_) => match roas {
            Ok(spec) => first_finding(name, validate(&spec, document)),
            // roas's model also encodes rules openapiv3's does not (a path
            // parameter must say `required: true`), as it does for 3.1.
            Err(r) => Err(structure_error(
                name,
                &path_tokens(r.path()),
                r.inner().to_string(),
            )),
        },
        Err(e) => {
            let tokens = path_tokens(e.path());
            let message = e.inner().to_string();
            match roas {
                // Same problem, better location: openapiv3's message names
                // the innermost failure, roas's path gets closer to it.
                Err(r) => {
                    let roas_tokens = path_tokens(r.path());
                    let tokens = if is_deeper(&roas_tokens, &tokens) {
                        roas_tokens
                    } else {
                        tokens
                    };
                    Err(structure_error(name, &tokens, message))
                }
                // roas's model accepts what openapiv3's rejects; its
                // validator usually flags the same element precisely.
                Ok(spec) => {
                    let inside: Vec<Finding> = validate(&spec, document)
                        .into_iter()
                        .filter(|f| is_deeper(&f.tokens, &tokens))
                        .collect();
                    first_finding(name, inside)?;
                    Err(structure_error(name, &tokens, message))
                }
            }
        }
    }
}

/// OpenAPI 3.1: roas's 3.1 model decides the structure, its validator the
/// semantics.
fn check_v31(name: &str, document: &Value) -> Result<(), InitialSpecError> {
    let copy = roas_copy(document);
    let spec: roas::v3_1::spec::Spec = serde_path_to_error::deserialize(&copy)
        .map_err(|e| structure_error(name, &path_tokens(e.path()), e.inner().to_string()))?;
    first_finding(name, validate(&spec, document))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETSTORE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/hmt/hmt/tests/build/schemas/petstore/index.yaml"
    );

    /// Parse, expecting an error; its rendered message.
    fn error(name: &str, text: &str) -> String {
        match parse_initial_spec(name, text) {
            Ok(spec) => panic!("expected an error, parsed {:?}", spec.document),
            Err(e) => {
                assert_eq!(e.name(), name);
                e.to_string()
            }
        }
    }

    fn assert_contains(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(
                message.contains(part),
                "`{message}` does not contain `{part}`"
            );
        }
    }

    #[test]
    fn petstore_fixture_parses_as_3_0() {
        let text = std::fs::read_to_string(PETSTORE).expect("fixture");
        let spec = parse_initial_spec("index.yaml", &text).expect("valid petstore");
        assert_eq!(spec.version, OpenApiVersion::V30);
        assert_eq!(
            spec.document
                .pointer("/paths/~1pets~1{petId}/get/operationId"),
            Some(&Value::from("showPetById"))
        );
        // Key order is the file's.
        let keys: Vec<&String> = spec.document.as_object().expect("map").keys().collect();
        assert_eq!(keys, ["openapi", "info", "servers", "paths", "components"]);
    }

    #[test]
    fn json_is_detected_by_leading_brace() {
        let text = "\u{feff}  \n{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"t\", \"version\": \"1\"}}";
        let spec = parse_initial_spec("spec.json", text).expect("valid");
        assert_eq!(spec.version, OpenApiVersion::V31);
        assert!(
            spec.document.get("paths").is_none(),
            "document is as written"
        );
    }

    #[test]
    fn missing_paths_is_fine_in_both_versions() {
        for version in ["3.0.3", "3.1.0"] {
            let text = format!("openapi: {version}\ninfo: {{title: t, version: '1'}}\n");
            let result = parse_initial_spec("s.yaml", &text);
            assert!(result.is_ok(), "{version}: {result:?}");
        }
    }

    #[test]
    fn json_syntax_error_has_line_and_column() {
        let message = error("spec.json", "{\n  \"openapi\": \"3.0.0\",\n  \"info\": }\n");
        assert_contains(
            &message,
            &["spec.json:3:11: ", "JSON syntax error", "expected value"],
        );
        assert!(!message.contains("at line"), "{message}");
        let message = error("spec.json", "{\"openapi\": \"3.0.0\",}");
        assert_contains(&message, &["spec.json:1:", "trailing comma"]);
    }

    #[test]
    fn yaml_syntax_error_has_line_and_column() {
        let text = "openapi: 3.0.0\ninfo:\n  title: t\n  version: 1\n   bad: indent\n";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml:5:",
                "YAML syntax error",
                "mapping values are not allowed",
            ],
        );
        assert!(!message.contains(" at line 5"), "{message}");
    }

    #[test]
    fn yaml_duplicate_key_is_a_syntax_error() {
        let text = "openapi: 3.0.0\ninfo:\n  title: a\n  title: b\n";
        let message = error("petstore.yaml", text);
        // yaml_serde reports the position of the mapping holding the key.
        assert_contains(
            &message,
            &["petstore.yaml:3:3: ", "duplicate entry", "title"],
        );
    }

    #[test]
    fn yaml_scalar_keys_become_strings_and_merge_keys_apply() {
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
x-common: &ok {description: fine}
paths:
  /pets:
    get:
      responses:
        200:
          <<: *ok
";
        let spec = parse_initial_spec("s.yaml", text).expect("valid");
        assert_eq!(
            spec.document
                .pointer("/paths/~1pets/get/responses/200/description"),
            Some(&Value::from("fine"))
        );
    }

    #[test]
    fn swagger_2_is_rejected_as_such() {
        let text = "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /swagger: ",
                "Swagger 2.0",
                "not supported",
                "3.0.x or 3.1.x",
            ],
        );
    }

    #[test]
    fn missing_openapi_field_is_reported() {
        let message = error(
            "petstore.yaml",
            "info: {title: t, version: '1'}\npaths: {}\n",
        );
        assert_contains(
            &message,
            &[
                "petstore.yaml: at the document root: ",
                "missing field `openapi`",
            ],
        );
    }

    #[test]
    fn unsupported_openapi_version_is_reported() {
        for version in ["3.2.0", "4.0", "3.0.x", "3"] {
            let text = format!("openapi: '{version}'\ninfo: {{title: t, version: '1'}}\n");
            let message = error("petstore.yaml", &text);
            assert_contains(
                &message,
                &[
                    "petstore.yaml: at /openapi: ",
                    &format!("unsupported OpenAPI version \"{version}\""),
                ],
            );
        }
    }

    #[test]
    fn numeric_openapi_version_is_reported() {
        let message = error(
            "petstore.yaml",
            "openapi: 3.1\ninfo: {title: t, version: '1'}\n",
        );
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /openapi: ",
                "found the number 3.1",
                "quote it",
            ],
        );
    }

    #[test]
    fn non_mapping_document_is_reported() {
        let message = error("petstore.yaml", "- openapi\n- 3.0.0\n");
        assert_contains(
            &message,
            &["petstore.yaml: at the document root: ", "found a list"],
        );
        let message = error("empty.yaml", "");
        assert_contains(
            &message,
            &["empty.yaml: at the document root: ", "found null"],
        );
    }

    #[test]
    fn v30_structure_error_has_pointer() {
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /pets:
    get:
      responses: 5
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets/get/responses: ",
                "expected struct Responses",
            ],
        );
    }

    #[test]
    fn v30_structure_error_inside_flattened_types_is_located() {
        // openapiv3 alone only knows the problem is somewhere in /paths.
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /pets/{id}:
    get:
      responses:
        '200':
          content:
            application/json:
              schema: {type: string}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets~1{id}/get/responses/200: ",
                "missing field `description`",
            ],
        );
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /pets:
    get:
      parameters:
        - {name: a, in: body, schema: {type: string}}
      responses:
        '200': {description: ok}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets/get/parameters/0: ",
                "unknown variant `body`",
            ],
        );
    }

    #[test]
    fn v30_missing_info_field_is_located() {
        let message = error(
            "petstore.yaml",
            "openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n",
        );
        assert_contains(
            &message,
            &["petstore.yaml: at /info: ", "missing field `version`"],
        );
    }

    #[test]
    fn v30_semantic_error_has_pointer() {
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get:
      operationId: same
      responses: {'200': {description: ok}}
  /b:
    get:
      operationId: same
      responses: {'200': {description: ok}}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1b/get/operationId: ",
                "`same` already in use",
            ],
        );
    }

    #[test]
    fn v30_optional_path_parameter_is_reported() {
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /pets/{id}:
    get:
      parameters:
        - {name: id, in: path, schema: {type: string}}
      responses: {'200': {description: ok}}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets~1{id}/get/parameters/0: ",
                "missing field `required`",
            ],
        );
    }

    #[test]
    fn v31_structure_error_has_pointer() {
        let text = "\
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /pets:
    get:
      responses:
        '200':
          content: {}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets/get/responses/200: ",
                "missing field `description`",
            ],
        );
    }

    #[test]
    fn v31_dangling_ref_is_reported_with_pointer_and_count() {
        let text = "\
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /pets:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Nope'}
        '404':
          description: gone
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Gone'}
";
        let message = error("petstore.yaml", text);
        assert_contains(
            &message,
            &[
                "petstore.yaml: at /paths/~1pets/get/responses/200/content/application~1json/schema/$ref: ",
                "`#/components/schemas/Nope` not found",
                "(and 1 more problem)",
            ],
        );
    }

    #[test]
    fn v31_features_and_spec_allowed_oddities_are_accepted() {
        let text = "\
openapi: 3.1.0
info: {title: t, version: '1'}
servers: [{url: /v1}]
webhooks:
  ping:
    post:
      responses: {'200': {description: ok}}
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: [string, integer]}}
    get:
      tags: [undeclared]
      responses:
        '200':
          description: ''
          content:
            application/json:
              schema:
                type: object
                properties:
                  when: {type: integer, format: unix-time}
                  price: {type: number, format: decimal}
                  code: {type: string, pattern: '^(?!x)[a-z]+$'}
                  same: {$ref: '#/components/schemas/Pet/properties/name'}
                  name: {type: [string, 'null']}
components:
  schemas:
    Pet:
      type: object
      properties:
        name: {type: string}
    Unused: {type: string}
";
        let spec = parse_initial_spec("s.yaml", text).expect("valid 3.1");
        // The document is unchanged by the lenient checks.
        assert_eq!(
            spec.document
                .pointer("/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/properties/when/format"),
            Some(&Value::from("unix-time"))
        );
    }

    #[test]
    fn v30_custom_numeric_format_is_accepted() {
        let text = "\
openapi: 3.0.3
info: {title: t, version: '1'}
paths: {}
components:
  schemas:
    T: {type: integer, format: unix-time}
";
        assert!(parse_initial_spec("s.yaml", text).is_ok());
    }

    #[test]
    fn roas_paths_map_onto_the_document() {
        let document = serde_json::json!({
            "paths": {
                "/pets": {"get": {}},
                "/pets/{id}": {"get": {"parameters": [{"name": "id"}],
                    "responses": {"200": {"content": {"application/json": {"schema": {}}}}}}}
            },
            "components": {"schemas": {"a.b": {"properties": {"id": {}}}}}
        });
        let tokens = |path| {
            let (tokens, rest) = roas_path_tokens(&document, path);
            (pointer_of(&tokens), rest.to_owned())
        };
        assert_eq!(
            tokens("#.paths[/pets/{id}].get.parameters[0]"),
            (
                "/paths/~1pets~1{id}/get/parameters/0".to_owned(),
                String::new()
            )
        );
        assert_eq!(
            tokens(
                "#.paths[/pets/{id}].get.responses.200.mediaTypes[application/json].schema.$ref"
            ),
            (
                "/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema".to_owned(),
                ".$ref".to_owned()
            )
        );
        assert_eq!(
            tokens("#/components/schemas/a.b.properties.id"),
            (
                "/components/schemas/a.b/properties/id".to_owned(),
                String::new()
            )
        );
        assert_eq!(
            tokens("#.info.title"),
            (String::new(), ".info.title".to_owned())
        );
    }
}
