//! OpenAPI 3.0 and 3.1 specs as hmt reads them, shared by the verbs that
//! read specs: `hmt mock` serves them, `hmt build --check` compares
//! recorded traffic with them.
//!
//! Specs are [`load`]ed from files and directories (JSON or YAML read by
//! [`parse`], references across files bundled into one document each,
//! Swagger 2.0 converted to OpenAPI 3.0 by [`swagger2`]), [`model`] compiles each into its
//! servers and operations (checking the shape of everything it reads, with
//! errors that name the file and JSON pointer), [`route`] finds the
//! operation a method and path are for, and [`validate`] checks parameters
//! and bodies against their schemas with the `jsonschema` crate
//! ([`dialect`] reads OpenAPI 3.0 schemas as the JSON Schema 2020-12 both
//! use). [`replay`] reads `x-hmt-replay`, the exchanges `hmt build` records
//! into a spec in replay and mixed modes, and matches requests against
//! them.
//!
//! Nothing here does network I/O or keeps per-request state beyond the
//! replay sequences; what a request costs to route and validate is what
//! the mock's hot path pays, so keep it free of per-request allocation
//! beyond what it needs.

pub mod dialect;
pub mod load;
pub mod media;
pub mod model;
pub mod parse;
pub mod replay;
pub mod route;
pub mod schema;
pub mod swagger2;
pub mod validate;

pub use load::{LoadError, LoadOptions, LoadedSpec, load_specs, load_specs_with};
pub use model::{Spec, compile};

/// Loads and compiles the specs in `paths` (files, or directories searched
/// recursively).
pub fn load(paths: &[std::path::PathBuf]) -> Result<Vec<Spec>, LoadError> {
    load_with(paths, &LoadOptions::default())
}

/// [`load`] with `options` (directories outside the specs' own that their
/// `$ref`s may read).
pub fn load_with(
    paths: &[std::path::PathBuf],
    options: &LoadOptions,
) -> Result<Vec<Spec>, LoadError> {
    load_specs_with(paths, options)?
        .into_iter()
        .map(compile)
        .collect()
}
