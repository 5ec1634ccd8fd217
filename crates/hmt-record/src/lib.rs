//! The recording proxy of hmt and the sinks its recordings go to.
//!
//! A request's way through it: [`route`] finds the upstream target, the
//! proxy forwards the request and streams the response back unchanged while
//! a bounded copy of each body is captured; when the response has been
//! delivered, the exchange is decoded, filtered, redacted and written once,
//! as one http-types line, to every [`sink::Sink`].

pub mod decode;
pub mod filter;
pub mod redact;
pub mod sink;
