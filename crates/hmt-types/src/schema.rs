//! The JSON Schema of one http-types line as hmt reads it (`hmt schema
//! http-types`, `schemas/http-types.json`), for editors and for checking
//! files before a tool reads them.
//!
//! These document types mirror the reader in `src/raw.rs` (`RawExchange`,
//! `RawRequest`, `RawResponse` and the checks of `into_exchange`); they are
//! never used to read a line, only to describe it. The tests in
//! `tests/schema.rs` keep the two in step: every recording in the
//! repository must pass both, and a table of lines the reader refuses must
//! be refused by the schema too.
//!
//! Where the schema is looser than the reader: a `url` that is neither
//! absolute nor starts with `/` is refused by the reader only, and a body
//! marked base64 in `meta` is decoded (and its decoding checked) only by
//! the reader.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::Value;
use std::collections::BTreeMap;

/// One recorded HTTP exchange: a request and, when there was one, the
/// response it got. A recording holds one such object per line (JSONL).
/// Fields not listed here are refused, so a typo is found rather than lost.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "http-types exchange (one JSONL line)", transform = old_hmt_keys)]
pub struct ExchangeLine {
    /// The request as the client sent it (old HMT files call it `req`).
    pub request: RequestDocument,
    /// The response the server gave (old HMT files call it `res`); absent
    /// when the request got none.
    pub response: Option<ResponseDocument>,
    /// Free-form information about the exchange. hmt reads two keys of its
    /// own here: `requestBodyEncoding` and `responseBodyEncoding`.
    pub meta: Option<Meta>,
}

/// Information about the exchange: any keys, plus the two that say how a
/// body is written.
#[derive(JsonSchema)]
pub struct Meta {
    /// `"base64"` when the request `body` is base64 because its bytes are
    /// not UTF-8 text (`"text"` or `"utf-8"`: written as is, the default).
    #[serde(rename = "requestBodyEncoding", default)]
    pub request_body_encoding: Omittable<BodyEncoding>,
    /// `"base64"` when the response `body` is base64 because its bytes are
    /// not UTF-8 text (`"text"` or `"utf-8"`: written as is, the default).
    #[serde(rename = "responseBodyEncoding", default)]
    pub response_body_encoding: Omittable<BodyEncoding>,
    /// Anything else a recorder wants to keep with the exchange.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// How a body string is written.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEncoding {
    /// The body's bytes, base64-encoded (RFC 4648, with padding).
    Base64,
    /// The body as UTF-8 text.
    Text,
    /// The body as UTF-8 text (another name for `text`).
    #[serde(rename = "utf-8")]
    Utf8,
}

/// An HTTP request. It must say where it went: at least one of `path`,
/// `pathname` or `url`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = needs_a_path)]
pub struct RequestDocument {
    /// The method, such as `get` or `POST` (any case).
    pub method: MethodName,
    /// `http` or `https` (any case); taken from `url` when absent.
    pub protocol: Option<ProtocolName>,
    /// The host and optional port, `api.example.com:8443`; taken from `url`
    /// or the `Host` header when absent.
    pub host: Option<String>,
    /// The whole URL, `https://api.example.com/users?page=2`, or its
    /// origin form `/users?page=2`.
    pub url: Option<String>,
    /// The path with its query string, `/users?page=2` (or `*` for
    /// `OPTIONS *`).
    #[schemars(regex(pattern = r"^(/|\*($|\?))"))]
    pub path: Option<String>,
    /// The path without its query string, `/users`; wins over `path`.
    #[schemars(regex(pattern = r"^(/|\*$)"))]
    pub pathname: Option<String>,
    /// The query parameters; derived from the query string when absent.
    pub query: Option<Fields>,
    /// The request headers.
    pub headers: Option<Fields>,
    /// The body as text (base64 when `meta.requestBodyEncoding` says so).
    pub body: Option<String>,
    /// The body as JSON, read when `body` is absent.
    #[serde(rename = "bodyAsJson")]
    pub body_as_json: Option<Value>,
    /// When the request was sent, as the recorder wrote it (RFC 3339).
    pub timestamp: Option<String>,
}

/// An HTTP response.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseDocument {
    /// The status code, a whole number from 100 to 999.
    #[serde(rename = "statusCode")]
    #[schemars(range(min = 100, max = 999))]
    pub status_code: u16,
    /// The response headers.
    pub headers: Option<Fields>,
    /// The body as text (base64 when `meta.responseBodyEncoding` says so).
    pub body: Option<String>,
    /// The body as JSON, read when `body` is absent.
    #[serde(rename = "bodyAsJson")]
    pub body_as_json: Option<Value>,
    /// When the response arrived, as the recorder wrote it (RFC 3339).
    pub timestamp: Option<String>,
}

/// Named fields (headers or query parameters), in order: each a string,
/// or an array of strings when the field is repeated.
#[derive(JsonSchema)]
pub struct Fields(pub BTreeMap<String, FieldValues>);

/// One field's values: a string, or an array of strings when repeated.
#[derive(JsonSchema)]
#[serde(untagged)]
pub enum FieldValues {
    /// The field's only value.
    One(String),
    /// Every value of a repeated field, in order.
    Many(Vec<String>),
}

/// A field that may be left out but, when given, must not be `null`
/// (schemars makes an `Option` field nullable, which is right only where a
/// reader takes `null` as absent).
pub struct Omittable<T>(pub Option<T>);

impl<T> Default for Omittable<T> {
    fn default() -> Omittable<T> {
        Omittable(None)
    }
}

impl<T: JsonSchema> JsonSchema for Omittable<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Omittable_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// A string matching one of `names` in any ASCII case, as a JSON Schema
/// `pattern` can say it: ECMA regular expressions have no inline `(?i)`.
pub fn any_case_pattern(names: &[&str]) -> String {
    let alternatives: Vec<String> = names
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}

/// The names in lower case (what editors offer) or any case (what the
/// reader takes).
fn any_case_enum(names: &[&str], description: &str) -> Schema {
    json_schema!({
        "type": "string",
        "description": description,
        "anyOf": [
            {"enum": names},
            {"pattern": any_case_pattern(names)},
        ],
    })
}

/// An HTTP method name, in any case.
pub struct MethodName;

impl JsonSchema for MethodName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MethodName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = crate::Method::ALL.iter().map(|m| m.as_str()).collect();
        any_case_enum(
            &names,
            "An HTTP method: get, put, post, patch, delete, options, trace, head or connect, in any case.",
        )
    }
}

/// `http` or `https`, in any case.
pub struct ProtocolName;

impl JsonSchema for ProtocolName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProtocolName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        any_case_enum(&["http", "https"], "`http` or `https`, in any case.")
    }
}

/// The reader takes `path`, `pathname` or `url`, and refuses a request with
/// none of them.
fn needs_a_path(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        serde_json::json!([
            {"required": ["path"]},
            {"required": ["pathname"]},
            {"required": ["url"]},
        ]),
    );
}

/// Old HMT recordings say `req` and `res`; the reader takes both names.
fn old_hmt_keys(schema: &mut Schema) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (old, new) in [("req", "request"), ("res", "response")] {
        if let Some(Value::Object(mut property)) = properties.get(new).cloned() {
            property.insert(
                "description".into(),
                format!("The old HMT name of `{new}`.").into(),
            );
            properties.insert(old.into(), Value::Object(property));
        }
    }
    schema.remove("required");
    schema.insert(
        "oneOf".into(),
        serde_json::json!([{"required": ["request"]}, {"required": ["req"]}]),
    );
}

/// The schema of one http-types line, as `hmt schema http-types` prints it.
pub fn http_types() -> Schema {
    schemars::schema_for!(ExchangeLine)
}
