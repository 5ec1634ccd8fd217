//! hmt inside a test: start a mock server, program it, call it, verify
//! what it received. The `hmt` command line is built on this library.
//!
//! ```
//! use hmt::matchers::{body_json_partial, method, path};
//! use hmt::{MockServer, Reply, Stub};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let _ = rustls::crypto::ring::default_provider().install_default();
//! let server = MockServer::start().await;
//! server.register(
//!     Stub::given(method("POST"))
//!         .and(path("/orders"))
//!         .and(body_json_partial(json!({"item": "book"})))
//!         .respond_with(Reply::new(201).json(&json!({"id": 1})))
//!         .expect(1),
//! );
//!
//! let response = reqwest::Client::new()
//!     .post(format!("{}/orders", server.uri()))
//!     .header("content-type", "application/json")
//!     .body(json!({"item": "book", "count": 2}).to_string())
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 201);
//! assert_eq!(response.text().await.unwrap(), r#"{"id":1}"#);
//!
//! assert_eq!(server.received_requests()[0].request.pathname, "/orders");
//! server.verify(); // also checked when `server` is dropped
//! # }
//! ```
//!
//! A server can also serve what `hmt mock` serves: OpenAPI specs,
//! recordings and callbacks ([`MockServer::builder`]); stubs answer
//! first, then recorded exchanges, then the specs. [`MockServer::call`]
//! answers a request without a socket. [`Stub`]s are hmt's stub engine,
//! the one mountebank's imposters API feeds: matchers are in
//! [`matchers`], closures `Fn(&Request) -> bool` match too, and a
//! responder is a [`Reply`] or a closure `Fn(&Request) -> Reply`.

mod mock_server;
pub mod sources;

pub use hmt_stub::{Delivery, Fault, Reply, Request, Stub, Times, matchers};
pub use hmt_types::Exchange;
pub use mock_server::{Builder, MockServer, UnmetExpectations, serve};

// The README's Rust examples are doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
