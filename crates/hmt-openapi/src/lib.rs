//! OpenAPI 3.0 and 3.1 specs as hmt reads them, shared by the verbs that
//! read specs: `hmt mock` serves them, `hmt build --check` compares
//! recorded traffic with them.
//!
//! Specs are [`load`]ed from files and directories (references across
//! files bundled into one document each), [`model`] compiles each into its
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
pub mod replay;
pub mod route;
pub mod validate;

pub use load::{LoadError, LoadedSpec, load_specs};
pub use model::{Spec, compile};

/// Loads and compiles the specs in `paths` (files, or directories searched
/// recursively).
pub fn load(paths: &[std::path::PathBuf]) -> Result<Vec<Spec>, LoadError> {
    load_specs(paths)?.into_iter().map(compile).collect()
}
