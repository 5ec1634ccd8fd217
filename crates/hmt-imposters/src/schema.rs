//! JSON Schemas of mountebank's imposter JSON as hmt reads it, with hmt's
//! extensions (the `hmt` sources field; `chunks` in `is` responses):
//! `hmt schema imposter` (one imposter, as `POST /imposters` takes it) and
//! `hmt schema imposters` (`{"imposters": [...]}`, as `PUT /imposters` and
//! `hmt mock --configfile` take it).
//!
//! These document types mirror the reader `Definition::parse` in
//! `src/imposter.rs` (with `TlsIdentity::from_definition` in `src/tls.rs`
//! and `Sources::parse`); the stubs are `hmt_stub::schema`'s, which mirror
//! the stub compiler. They are never used to read an imposter, only to
//! describe one. The tests in `tests/schema.rs` keep them in step: every
//! imposter under `fixtures/imposters/` must pass both the schema and the
//! reader, and a table of imposters the reader refuses must be refused by
//! the schema too.
//!
//! Where the schema is looser than the reader: a `key` or `cert` that is
//! not PEM, and a `key` without a `cert` (or the reverse) on an `https`
//! imposter, are refused by the reader only.

use hmt_stub::schema::{IsResponse, Omittable, StubDocument};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::Value;

/// An imposter: a server on its own port that answers with the first of
/// its stubs whose predicates a request satisfies. Fields not listed here
/// are kept and shown back as given.
#[derive(JsonSchema)]
#[schemars(title = "mountebank imposter (as hmt reads it)")]
pub struct ImposterDocument {
    /// `http` or `https`.
    pub protocol: ImposterProtocol,
    /// The port to listen on (a number or a string of one); absent, null or
    /// 0 lets the server choose.
    pub port: Option<Port>,
    /// A name for the imposter, shown back in listings and logs.
    pub name: Option<Value>,
    /// Keep every request the imposter gets, to show at
    /// `GET /imposters/:port` (mountebank's `recordRequests`).
    #[serde(rename = "recordRequests")]
    pub record_requests: Option<bool>,
    /// What a response's missing fields default to, and what a request no
    /// stub matches gets.
    #[serde(rename = "defaultResponse")]
    pub default_response: Option<IsResponse>,
    /// Answer CORS preflight requests.
    #[serde(rename = "allowCORS")]
    pub allow_cors: Option<bool>,
    /// The stubs, tried in order.
    #[serde(default)]
    pub stubs: Omittable<Vec<StubDocument>>,
    /// For `https`: the PEM private key to serve (with `cert`); absent, a
    /// built-in self-signed one.
    pub key: Option<String>,
    /// For `https`: the PEM certificate to serve (with `key`).
    pub cert: Option<String>,
    /// For `https`: ask clients for a certificate.
    #[serde(rename = "mutualAuth")]
    pub mutual_auth: Option<bool>,
    /// hmt's extension: OpenAPI specs and http-types recordings that answer
    /// what no stub does, as `hmt mock` serves them.
    pub hmt: Option<SourcesDocument>,
}

/// The protocols hmt's imposters speak.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImposterProtocol {
    /// HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

/// A port as the reader takes it.
pub struct Port;

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A TCP port, 0 to 65535 (0: the server chooses), as a number or a string of digits.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 65535},
                {"type": "string", "pattern": "^[0-9]{1,5}$"},
            ],
        })
    }
}

/// hmt's `hmt` field: where an imposter's fallback answers come from.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcesDocument {
    /// OpenAPI files or directories, as `hmt mock PATH` takes them.
    pub specs: Option<Vec<String>>,
    /// http-types JSONL (or HAR) files, as `hmt mock --recordings` takes
    /// them.
    pub recordings: Option<Vec<String>>,
}

/// A list of imposters: the body of `PUT /imposters` and the file
/// `hmt mock --configfile` reads.
#[derive(JsonSchema)]
#[schemars(title = "mountebank imposters (as hmt reads them)")]
pub struct ImpostersDocument {
    /// The imposters, created in order.
    pub imposters: Vec<ImposterDocument>,
}

/// The schema of one imposter, as `hmt schema imposter` prints it.
pub fn imposter() -> Schema {
    schemars::schema_for!(ImposterDocument)
}

/// The schema of `{"imposters": [...]}`, as `hmt schema imposters` prints
/// it.
pub fn imposters() -> Schema {
    schemars::schema_for!(ImpostersDocument)
}
