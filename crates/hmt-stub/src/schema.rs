//! JSON Schemas of mountebank's stubs as hmt compiles them: predicates,
//! responses and behaviors, with hmt's `chunks` extension of `is`. The
//! imposter schema (`hmt_imposters::schema`, `hmt schema imposter`) is
//! built on [`StubDocument`].
//!
//! These document types mirror the readers in `src/engine.rs`
//! (`Stub::from_json`), `src/predicate.rs` (`Predicate::compile`) and
//! `src/response.rs` (`MbResponse::compile`, `compile_behaviors`,
//! `check_chunks`); they are never used to read a stub, only to describe
//! one. The tests in `crates/hmt-imposters/tests/schema.rs` keep them in
//! step: every imposter under `fixtures/imposters/` must pass both, and a
//! table of stubs the reader refuses must be refused by the schema too.
//!
//! Where the schema is looser than the reader: what it cannot see without
//! running a compiler (a regular expression, JSONPath, XPath or
//! JavaScript function that does not compile; a shell command with an
//! unclosed quote), and a predicate's operator object, whose values depend
//! on the operator and are not checked. Where it is stricter: a predicate
//! takes the first key that names an operator and ignores the rest, and
//! reads `caseSensitive`, `except`, `jsonpath` and `xpath` only beside a
//! comparison; the schema checks them wherever they are.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A stub: the predicates a request must satisfy (all of them) and the
/// responses it gets, in turn.
#[derive(JsonSchema)]
pub struct StubDocument {
    /// The predicates, all of which a request must satisfy; none matches
    /// every request.
    pub predicates: Option<Vec<PredicateDocument>>,
    /// The responses, used in turn (each `repeat` times), cycling back to
    /// the first after the last.
    pub responses: Option<Vec<ResponseDocument>>,
}

/// The comparison operators, each taking an object of request fields.
const OPERATORS: [&str; 7] = [
    "equals",
    "deepEquals",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "exists",
];

/// A predicate: one operator (a comparison, `not`, `or`, `and` or
/// `inject`) and the options of a comparison. The first key that names an
/// operator is the one used.
#[derive(JsonSchema)]
#[schemars(transform = needs_an_operator)]
pub struct PredicateDocument {
    /// The request fields equal these (strings compare without case
    /// unless `caseSensitive`; an object is a subset match).
    #[serde(default)]
    pub equals: Omittable<RequestFields>,
    /// The request fields equal these exactly, objects included.
    #[serde(rename = "deepEquals")]
    #[serde(default)]
    pub deep_equals: Omittable<RequestFields>,
    /// The request fields contain these.
    #[serde(default)]
    pub contains: Omittable<RequestFields>,
    /// The request fields start with these.
    #[serde(rename = "startsWith")]
    #[serde(default)]
    pub starts_with: Omittable<RequestFields>,
    /// The request fields end with these.
    #[serde(rename = "endsWith")]
    #[serde(default)]
    pub ends_with: Omittable<RequestFields>,
    /// The request fields match these regular expressions.
    #[serde(default)]
    pub matches: Omittable<RequestFields>,
    /// The request fields are present (`true`) or absent (`false`).
    #[serde(default)]
    pub exists: Omittable<RequestFields>,
    /// The request does not satisfy this predicate.
    #[serde(default)]
    pub not: Omittable<Box<PredicateDocument>>,
    /// The request satisfies at least one of these predicates.
    #[serde(default)]
    pub or: Omittable<Vec<PredicateDocument>>,
    /// The request satisfies all of these predicates.
    #[serde(default)]
    pub and: Omittable<Vec<PredicateDocument>>,
    /// A JavaScript function of the request that returns true to match
    /// (needs `--allowInjection`).
    #[serde(default)]
    pub inject: Omittable<String>,
    /// Compare values with case (keys too, unless `keyCaseSensitive` is
    /// false). Default false.
    #[serde(rename = "caseSensitive")]
    pub case_sensitive: Option<bool>,
    /// Compare keys with case; only `false` beside `caseSensitive` changes
    /// anything.
    #[serde(rename = "keyCaseSensitive")]
    pub key_case_sensitive: Option<bool>,
    /// A regular expression whose matches are removed from the request's
    /// values before comparing.
    pub except: Option<String>,
    /// Compare what this JSONPath selects from the body instead of the
    /// whole body.
    pub jsonpath: Option<JsonPathSelector>,
    /// Compare what this XPath selects from the body instead of the whole
    /// body (ignored beside `jsonpath`).
    pub xpath: Option<XPathSelector>,
}

/// The request fields a comparison reads (names in any case unless
/// `caseSensitive`). What a value may be depends on the operator: a
/// string or object to compare, a regular expression for `matches`, a
/// boolean for `exists`.
#[derive(JsonSchema)]
pub struct RequestFields {
    /// The method, such as `POST`.
    #[serde(default)]
    pub method: Omittable<Value>,
    /// The path, without the query string, such as `/users/7`.
    #[serde(default)]
    pub path: Omittable<Value>,
    /// Query parameters, an object of names to values.
    #[serde(default)]
    pub query: Omittable<Value>,
    /// Headers, an object of names to values.
    #[serde(default)]
    pub headers: Omittable<Value>,
    /// The body: text, or an object compared field by field with a JSON
    /// body.
    #[serde(default)]
    pub body: Omittable<Value>,
    /// Fields of a form-encoded body, an object of names to values.
    #[serde(default)]
    pub form: Omittable<Value>,
    /// The client's address and port, `127.0.0.1:53412`.
    #[serde(default, rename = "requestFrom")]
    pub request_from: Omittable<Value>,
    /// The client's address.
    #[serde(default)]
    pub ip: Omittable<Value>,
}

/// A JSONPath that selects the part of a JSON body to compare.
#[derive(JsonSchema)]
pub struct JsonPathSelector {
    /// The JSONPath, such as `$.user.id`.
    pub selector: String,
}

/// An XPath that selects the part of an XML body to compare.
#[derive(JsonSchema)]
pub struct XPathSelector {
    /// The XPath, such as `//user/@id`.
    pub selector: String,
    /// Namespace prefixes the selector uses, to their URIs.
    pub ns: Option<BTreeMap<String, String>>,
}

/// One response of a stub: `is` (a canned response, the default when none
/// is given), `proxy`, `inject` or `fault`, at most one of them, and the
/// behaviors applied to it.
#[derive(JsonSchema)]
#[schemars(transform = one_response_type)]
pub struct ResponseDocument {
    /// A canned response.
    #[serde(default)]
    pub is: Omittable<IsResponse>,
    /// Forward the request to another server and answer with its response.
    #[serde(default)]
    pub proxy: Omittable<ProxyResponse>,
    /// A JavaScript function of the request and state that returns the
    /// response (needs `--allowInjection`).
    #[serde(default)]
    pub inject: Omittable<String>,
    /// Break the connection instead of answering:
    /// `CONNECTION_RESET_BY_PEER` or `RANDOM_DATA_THEN_CLOSE` (any other
    /// value answers an empty 200, as mountebank does).
    #[serde(default)]
    pub fault: Omittable<String>,
    /// How many times this response is used before the next; default 1.
    #[schemars(range(min = 1))]
    pub repeat: Option<u64>,
    /// Behaviors applied to the response, in order.
    pub behaviors: Option<Vec<BehaviorDocument>>,
    /// mountebank's old form of `behaviors` and `repeat`, one object keyed
    /// by behavior; read as the `behaviors` array it stands for.
    #[serde(default, rename = "_behaviors")]
    pub old_behaviors: Omittable<BTreeMap<String, Value>>,
}

/// A canned response. Fields left out come from the imposter's
/// `defaultResponse`, else 200 with no headers and an empty body.
#[derive(JsonSchema)]
pub struct IsResponse {
    /// The status code, 100 to 999 (a number, or a string of one).
    #[serde(default, rename = "statusCode")]
    pub status_code: Omittable<StatusCode>,
    /// Headers, names to a value or an array of values.
    #[serde(default)]
    pub headers: Omittable<BTreeMap<String, Value>>,
    /// The body: text, or JSON sent pretty-printed (base64 when `_mode` is
    /// `binary`).
    #[serde(default)]
    pub body: Omittable<Value>,
    /// `binary` when `body` is base64; default `text`.
    #[serde(default, rename = "_mode")]
    pub mode: Omittable<BodyMode>,
    /// hmt's extension: send the body in these pieces instead, each after
    /// its wait (a streamed or server-sent-events response).
    #[serde(default)]
    pub chunks: Omittable<Vec<Chunk>>,
}

/// How an `is` body is written.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyMode {
    /// The body as text or JSON.
    Text,
    /// The body's bytes, base64-encoded.
    Binary,
}

/// One piece of a chunked body (hmt's extension).
#[derive(JsonSchema)]
pub struct Chunk {
    /// The text of this piece.
    pub data: String,
    /// Milliseconds to wait before sending it, 0 to 600000; default 0.
    #[serde(default, rename = "waitMs")]
    #[schemars(range(max = 600_000))]
    pub wait_ms: Omittable<u32>,
}

/// A proxy response: the request is forwarded to `to`, and what comes
/// back is the answer (and, unless `proxyTransparent`, is recorded as a
/// new stub).
#[derive(JsonSchema)]
pub struct ProxyResponse {
    /// The server to forward to, such as `https://api.example.com`.
    pub to: String,
    /// `proxyOnce` (default: record the first answer and serve it after),
    /// `proxyAlways` (record every answer) or `proxyTransparent` (record
    /// nothing).
    #[serde(default)]
    pub mode: Omittable<ProxyMode>,
    /// How the recorded stubs' predicates are made from the requests.
    #[serde(default, rename = "predicateGenerators")]
    pub predicate_generators: Omittable<Vec<Value>>,
    /// Record how long the server took as a `wait` behavior.
    #[serde(default, rename = "addWaitBehavior")]
    pub add_wait_behavior: Omittable<bool>,
    /// A JavaScript decorate function added to recorded responses.
    #[serde(default, rename = "addDecorateBehavior")]
    pub add_decorate_behavior: Omittable<String>,
    /// Headers added to the forwarded request.
    #[serde(default, rename = "injectHeaders")]
    pub inject_headers: Omittable<BTreeMap<String, Value>>,
}

/// How a proxy records.
#[derive(JsonSchema)]
pub enum ProxyMode {
    /// Record the first answer; later requests get the recording.
    #[serde(rename = "proxyOnce")]
    Once,
    /// Record every answer.
    #[serde(rename = "proxyAlways")]
    Always,
    /// Record nothing.
    #[serde(rename = "proxyTransparent")]
    Transparent,
}

/// One behavior (or several, one per key) applied to a response.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BehaviorDocument {
    /// Milliseconds to wait before answering, or a JavaScript function
    /// returning them.
    #[serde(default)]
    pub wait: Omittable<Wait>,
    /// Copy parts of the request into the response, replacing a token.
    #[serde(default)]
    pub copy: Omittable<OneOrMany<CopyBehavior>>,
    /// Replace a token with a row of a CSV file, looked up by a part of
    /// the request.
    #[serde(default)]
    pub lookup: Omittable<LookupBehavior>,
    /// A JavaScript function that changes the response (needs
    /// `--allowInjection`).
    #[serde(default)]
    pub decorate: Omittable<String>,
    /// A command (or commands, in turn) that gets the request and response
    /// as JSON and prints the new response (needs `--allowInjection`).
    #[serde(default, rename = "shellTransform")]
    pub shell_transform: Omittable<OneOrMany<String>>,
}

/// One value, or an array of them.
#[derive(JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One.
    One(T),
    /// Several, in order.
    Many(Vec<T>),
}

/// `copy`: a value taken from the request replaces a token in the
/// response.
#[derive(JsonSchema)]
pub struct CopyBehavior {
    /// The request field to read: a name such as `path`, or an object of
    /// one key such as `{"query": "id"}`.
    pub from: RequestPart,
    /// How to take the value from the field.
    pub using: Using,
    /// The token to replace, such as `${ID}`.
    #[schemars(length(min = 1))]
    pub into: String,
}

/// A request field: a name, or an object of one key naming the part.
#[derive(JsonSchema)]
#[serde(untagged)]
pub enum RequestPart {
    /// A field's name, such as `path` or `body`.
    Field(String),
    /// One field and the part of it, such as `{"headers": "X-Id"}`.
    Part(OneField),
}

/// An object of exactly one request field, naming the part of it to read.
#[derive(JsonSchema)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct OneField(pub BTreeMap<String, Value>);

/// How a value is taken from a request field.
#[derive(JsonSchema)]
pub struct Using {
    /// `regex`, `jsonpath` or `xpath`.
    pub method: UsingMethod,
    /// The regular expression, JSONPath or XPath.
    pub selector: String,
    /// For `xpath`: namespace prefixes the selector uses, to their URIs.
    pub ns: Option<BTreeMap<String, String>>,
    /// For `regex`: `ignoreCase` and `multiline`.
    #[serde(default)]
    pub options: Omittable<RegexOptions>,
}

/// The selector languages of `copy` and `lookup`.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsingMethod {
    /// A regular expression; its first group (else its match) is taken.
    Regex,
    /// A JSONPath into a JSON field.
    Jsonpath,
    /// An XPath into an XML field.
    Xpath,
}

/// Flags of a `regex` selector.
#[derive(JsonSchema)]
pub struct RegexOptions {
    /// Match without case.
    #[serde(rename = "ignoreCase", default)]
    pub ignore_case: Omittable<bool>,
    /// `^` and `$` match at line ends.
    #[serde(default)]
    pub multiline: Omittable<bool>,
}

/// `lookup`: a row of a CSV file, found by a value from the request,
/// replaces a token (`${ROW}["column"]`) in the response.
#[derive(JsonSchema)]
pub struct LookupBehavior {
    /// What to look up.
    pub key: LookupKey,
    /// The data to look in.
    #[serde(rename = "fromDataSource")]
    pub from_data_source: DataSource,
    /// The token standing for the row, such as `${ROW}`.
    #[schemars(length(min = 1))]
    pub into: String,
}

/// The value a `lookup` looks for.
#[derive(JsonSchema)]
pub struct LookupKey {
    /// The request field to read.
    pub from: RequestPart,
    /// How to take the value from it.
    pub using: Using,
    /// Which match of the selector to use; default 0.
    #[serde(default)]
    pub index: Omittable<u64>,
}

/// Where `lookup` reads rows.
#[derive(JsonSchema)]
pub struct DataSource {
    /// A CSV file.
    pub csv: CsvSource,
}

/// A CSV file with a header row.
#[derive(JsonSchema)]
pub struct CsvSource {
    /// The file's path.
    pub path: String,
    /// The column the key is looked up in.
    #[serde(rename = "keyColumn")]
    pub key_column: String,
    /// The field separator, one character; default `,`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 1))]
    pub delimiter: Omittable<String>,
}

pub use hmt_types::schema::Omittable;

/// An `is` status code as the reader takes it.
pub struct StatusCode;

impl JsonSchema for StatusCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatusCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
        "description": "The status code, 100 to 999 (a number, or a string of one).",
        "anyOf": [
            {"type": "integer", "minimum": 100, "maximum": 999},
            {"type": "string", "pattern": "^\\s*[1-9][0-9]{2}\\s*$"},
        ],
        })
    }
}

/// A `wait` behavior's value.
pub struct Wait;

impl JsonSchema for Wait {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Wait".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
        "description": "Milliseconds to wait before answering, or a JavaScript function returning them (needs `--allowInjection`).",
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string"},
        ],
        })
    }
}

/// The reader refuses a predicate with no operator ("missing predicate").
fn needs_an_operator(schema: &mut Schema) {
    let names = OPERATORS
        .iter()
        .chain(&["not", "or", "and", "inject"])
        .map(|name| json!({"required": [name]}));
    schema.insert("anyOf".into(), Value::Array(names.collect()));
}

/// The reader refuses a response with more than one of `is`, `proxy`,
/// `inject` and `fault`.
fn one_response_type(schema: &mut Schema) {
    let kinds = ["is", "proxy", "inject", "fault"];
    let mut pairs = Vec::new();
    for (i, a) in kinds.iter().enumerate() {
        for b in &kinds[i + 1..] {
            pairs.push(json!({"required": [a, b]}));
        }
    }
    schema.insert("not".into(), json!({"anyOf": pairs}));
}

/// The schema of one stub.
pub fn stub() -> Schema {
    schemars::schema_for!(StubDocument)
}
