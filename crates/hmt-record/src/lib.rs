//! The recording proxy of hmt and the sinks its recordings go to.
//!
//! A request's way through it: [`route`] finds the upstream target, the
//! [`proxy`] forwards the request (plain HTTP/1.1 through a byte-level
//! relay, everything else through hyper) and streams the response back unchanged
//! while [`capture`] keeps a bounded copy of each body; when the response
//! has been delivered, the exchange is handed to an [`OnExchange`] handler.
//! hmt's handler is the [`recorder::Recorder`]: it [`decode`]s the bodies,
//! [`filter`]s, [`redact`]s, and writes the exchange once, as one
//! http-types line, to every [`sink::Sink`]. [`ca`] is the local
//! certificate authority that lets the proxy read HTTPS.

pub mod ca;
pub mod capture;
pub mod decode;
mod destination;
pub mod filter;
mod framing;
mod gate;
mod hop;
pub mod proxy;
pub mod recorder;
pub mod redact;
mod relay;
pub mod route;
mod shutdown;
pub mod sink;
mod stall;
mod trust;
mod upstream;

pub use ca::{CaError, CertificateAuthority};
pub use capture::{Captured, OnExchange};
pub use proxy::{Proxy, ProxyConfig, ProxyError, ServeReport};
pub use route::Routing;
