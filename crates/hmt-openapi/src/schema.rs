//! The JSON Schema of hmt's `x-hmt-replay` OpenAPI extension (`hmt schema
//! x-hmt-replay`, `schemas/x-hmt-replay.json`): the recorded requests of an
//! operation and the responses each got, as `hmt build` writes them in
//! replay and mixed modes and `hmt mock` replays them.
//!
//! These document types mirror the reader `parse_entries` in
//! `src/replay.rs`; they are never used to read an extension, only to
//! describe it. The tests in `crates/hmt/tests/schemas.rs` keep the two in
//! step: every `x-hmt-replay` that `hmt build` writes for the bundled
//! recordings must pass both, and a table of extensions the reader refuses
//! must be refused by the schema too.
//!
//! Where the schema and the reader differ: the reader ignores fields it
//! does not know (so does the schema: `hmt build` writes `example`, which
//! only editors read), skips a `body` that is not a string (the schema
//! refuses it), reads a `bodyEncoding` other than `base64` as text (the
//! schema refuses it), and refuses a status code written as `200.0`, which
//! JSON Schema's `integer` takes.

use hmt_types::schema::{Fields, Omittable};
use schemars::{JsonSchema, Schema};

/// The `x-hmt-replay` extension of an OpenAPI operation: the distinct
/// requests recorded for it, each with the responses it got in recorded
/// order. `hmt mock` answers a request that matches an entry with the next
/// of its responses (after the last, the last again).
#[derive(JsonSchema)]
#[schemars(title = "x-hmt-replay (hmt's recorded exchanges of an OpenAPI operation)")]
pub struct ReplayEntries(pub Vec<ReplayEntry>);

/// One distinct recorded request and the responses it got.
#[derive(JsonSchema)]
pub struct ReplayEntry {
    /// The request to match.
    pub request: ReplayRequest,
    /// The responses, in recorded order: at least one.
    #[schemars(length(min = 1))]
    pub responses: Vec<ReplayResponse>,
}

/// A recorded request. A request matches when its path, its query
/// parameters, each header listed here and its body are the same; headers
/// not listed are not compared, and `hmt-redacted` in a header value or in
/// a JSON or form body matches any value.
#[derive(JsonSchema)]
pub struct ReplayRequest {
    /// The path relative to the server's base path, as sent
    /// (percent-escapes compare decoded), such as `/v1/payments/7`.
    pub path: String,
    /// The query parameters, all of which must be sent, in this order.
    #[serde(default)]
    pub query: Omittable<Fields>,
    /// Headers that must be sent with these values (names in any case).
    #[serde(default)]
    pub headers: Omittable<Fields>,
    /// The request body; absent for none.
    #[serde(default)]
    pub body: Omittable<String>,
    /// `base64` when `body` is the base64 of bytes that are not UTF-8.
    #[serde(default, rename = "bodyEncoding")]
    pub body_encoding: Omittable<Base64>,
}

/// A recorded response.
#[derive(JsonSchema)]
pub struct ReplayResponse {
    /// The status code, 100 to 599.
    #[serde(rename = "statusCode")]
    #[schemars(range(min = 100, max = 599))]
    pub status_code: u16,
    /// The response headers, in recorded order.
    #[serde(default)]
    pub headers: Omittable<Fields>,
    /// The response body; absent for an empty one.
    #[serde(default)]
    pub body: Omittable<String>,
    /// `base64` when `body` is the base64 of bytes that are not UTF-8.
    #[serde(default, rename = "bodyEncoding")]
    pub body_encoding: Omittable<Base64>,
    /// How long the recorded upstream took to answer, in milliseconds;
    /// `hmt mock --latency recorded` waits as long.
    #[serde(default, rename = "latencyMs")]
    #[schemars(range(min = 0.0, max = 3_600_000.0))]
    pub latency_ms: Omittable<f64>,
    /// The name of the entry of the response media type's `examples` that
    /// shows the same body (for readers of the spec; replay ignores it).
    #[serde(default)]
    pub example: Omittable<String>,
}

/// The one body encoding besides text.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Base64 {
    /// The body is base64 (RFC 4648, with padding).
    Base64,
}

/// The schema of `x-hmt-replay`, as `hmt schema x-hmt-replay` prints it.
pub fn x_hmt_replay() -> Schema {
    schemars::schema_for!(ReplayEntries)
}
