//! The mock server of hmt: serves OpenAPI specs and recorded traffic, and
//! stubs programmed at runtime (the stub engine of `hmt-stub`), which
//! answer first. [`Mock::answer`] is the request path as named stages,
//! callable without a socket; [`listen`] serves it over TCP.
//!
//! Specs are [`load`]ed from files and directories (references across
//! files bundled into one document each), [`model`] compiles each into the
//! operations it serves, and the [`server`] answers requests: [`route`] to
//! an operation, check credentials and [`validate`] the request, [`replay`]
//! a recorded exchange when one matches, else [`respond`] with a documented
//! example or data [`generate`]d from the schema ([`dialect`] reads
//! OpenAPI 3.0 schemas as the JSON Schema 2020-12 both use). The [`admin`]
//! API shows what was received and resets state, and [`admin_page`] shows
//! it to a browser.
//!
//! Reading specs (loading, the compiled model, routing, validation, the
//! dialect and `x-hmt-replay`) lives in `hmt-openapi`, shared with
//! `hmt build --check`; its modules are re-exported here under their old
//! names.

mod access;
pub mod admin;
pub mod admin_page;
pub mod body;
pub mod callbacks;
pub mod fault;
pub mod faults;
pub mod generate;
pub mod hosts;
mod journal;
pub mod listen;
pub mod offload;
pub mod pregen;
pub mod respond;
pub mod server;
mod throttle;
pub mod watch;
pub mod xml;

pub use hmt_openapi::{dialect, load, model, replay, route, validate};

// `load` is both the module and the function that loads and compiles the
// specs `hmt mock PATH...` serves.
pub use hmt_openapi::{LoadError, LoadedSpec, Spec, compile, load_specs};
pub use server::{AnsweredBy, ErrorStyle, Loaded, Mock, MockConfig};
