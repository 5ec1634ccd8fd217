//! The JSON Schema of hmt's `x-hmt-id-path` OpenAPI extension (`hmt schema
//! x-hmt-id-path`, `schemas/x-hmt-id-path.json`): on an operation or path
//! item, the dotted path of the body field that holds a stored item's id.
//!
//! This mirrors the reader `id_extension` in `src/infer.rs`; the tests in
//! `tests/id_path_schema.rs` keep them in step: every value the reader
//! uses passes the schema, and every value it passes over (not a string,
//! no name between the dots) the schema refuses, so an editor flags what
//! the store would silently not use.

use schemars::{JsonSchema, Schema};

/// `x-hmt-id-path`: the dotted path of the body field that holds a stored
/// item's id, such as `metadata.name` or `id` (on an operation, or on its
/// path item for all its operations). Empty segments are skipped.
#[derive(JsonSchema)]
#[schemars(title = "x-hmt-id-path (hmt's stateful id field of an OpenAPI operation)")]
pub struct IdPath(#[schemars(regex(pattern = r"[^.]"))] pub String);

/// The schema of `x-hmt-id-path`, as `hmt schema x-hmt-id-path` prints it.
pub fn x_hmt_id_path() -> Schema {
    schemars::schema_for!(IdPath)
}
