//! The mock server of hmt: serves OpenAPI specs and recorded traffic.
//!
//! [`dialect`] turns OpenAPI 3.0 schemas into the JSON Schema 2020-12 that validators
//! understand; [`generate`] makes up values that are valid against a schema, for responses
//! that nothing was recorded for.

pub mod dialect;
pub mod generate;
