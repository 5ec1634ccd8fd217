//! mountebank's imposters API on hmt's stub engine.
//!
//! An imposter is a server a test creates over HTTP (`POST /imposters`),
//! programs with stubs, calls, inspects (`GET /imposters/:port` shows the
//! requests it received) and deletes. This crate speaks mountebank's
//! contract so that its clients (`mbtest`, `ts-mountebank`, Java and .NET
//! clients) work by changing a port: [`Api`] answers the REST resources,
//! [`Imposters`] runs one listener per imposter, and every request an
//! imposter receives is answered by the stub engine (`hmt-stub`), the same
//! engine hmt's Rust API and the mock's other sources feed.
//!
//! What hmt adds to the contract: `GET /imposters/:port?format=http-types`
//! gives what an imposter's proxies forwarded as http-types JSONL, ready
//! for `hmt build`; a proxy's `"verifyTls": true` verifies the origin's
//! certificate (mountebank never does).

mod api;
mod error;
mod imposter;
mod proxy;
mod registry;
pub mod schema;
mod serve;
mod tls;
mod wire;

pub use api::{Api, ApiRequest};
pub use error::ApiError;
pub use imposter::{Definition, Form, Imposter, Protocol, SavedLimit, SourceLoader, Sources};
pub use registry::{Imposters, ImpostersConfig, RestoreError};
