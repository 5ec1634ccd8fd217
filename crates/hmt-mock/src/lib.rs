//! The mock server of hmt: serves OpenAPI specs and recorded traffic.
//!
//! Specs are [`load`]ed from files and directories (references across
//! files bundled into one document each), [`model`] compiles each into the
//! operations it serves, and the [`server`] answers requests: [`route`] to
//! an operation, check credentials and [`validate`] the request, [`replay`]
//! a recorded exchange when one matches, else [`respond`] with a documented
//! example or data [`generate`]d from the schema ([`dialect`] reads
//! OpenAPI 3.0 schemas as the JSON Schema 2020-12 both use). The [`admin`]
//! API shows what was received and resets state.

mod access;
pub mod admin;
pub mod callbacks;
pub mod dialect;
pub mod generate;
mod journal;
pub mod listen;
pub mod load;
pub mod model;
pub mod pregen;
pub mod replay;
pub mod respond;
pub mod route;
pub mod server;
pub mod validate;
pub mod watch;

pub use load::{LoadError, LoadedSpec, load_specs};
pub use model::{Spec, compile};
pub use server::{Loaded, Mock, MockConfig};

/// Loads and compiles the specs in `paths` (files, or directories searched
/// recursively): what `hmt mock PATH...` serves.
pub fn load(paths: &[std::path::PathBuf]) -> Result<Vec<Spec>, LoadError> {
    load_specs(paths)?.into_iter().map(compile).collect()
}
