//! The stub engine of hmt: an ordered list of stubs, each a set of
//! matchers and a queue of responses, that answers a request with the
//! first stub that accepts it.
//!
//! Everything in hmt that answers a request from a definition feeds this
//! one engine: mountebank's imposters (stubs as JSON, [`Stubs::from_json`]),
//! tests written in Rust (stubs as code: [`Stub::new`] with closures as
//! [`Match`] and [`Respond`]), and the mock's replay and spec sources
//! after them. It is shaped around two facts:
//!
//! - **A stub is data first.** mountebank clients send stubs as JSON and
//!   read them back (`GET /imposters/:port?replayable=true`) to save and
//!   restore them, comparing with deep equality. So a stub compiled from
//!   JSON keeps that JSON, and [`Stubs::to_json`] returns exactly what was
//!   sent (with mountebank's own upcast of old forms), whatever the
//!   compiled form looks like.
//! - **Matching is hot, compiling is not.** A request is matched against
//!   every stub before the one that answers, so everything that can be
//!   done once is done at compile time (expected values normalized,
//!   regexes and JSON paths compiled) and a predicate reads only the
//!   request fields it names. Errors are found then too, each with the
//!   JSON pointer of the offending value ([`StubError`]).
//!
//! The engine does no I/O: it decides ([`Action`]) and the server acts,
//! which keeps it testable without a socket. A `proxy` response comes
//! back as [`Action::Proxy`] for the server to carry out; a `wait` is a
//! delay on the [`Reply`].
//!
//! ```
//! use hmt_stub::{Reply, Request, Stub, Stubs};
//! use serde_json::json;
//!
//! let stubs = Stubs::from_json(
//!     &json!([{"predicates": [{"equals": {"path": "/hello"}}],
//!              "responses": [{"is": {"statusCode": 201, "body": "hi"}}]}]),
//!     json!({}),
//!     &Default::default(),
//! ).unwrap();
//! let answer = stubs.answer(&Request::new("GET", "/HELLO")).unwrap();
//! assert_eq!(answer.action, Reply::new(201).with_header("Connection", "close").with_body("hi").into());
//!
//! // The same engine, programmed in code.
//! let mut stubs = Stubs::new(json!({}));
//! stubs.push(Stub::given(|request: &Request| request.method == "DELETE")
//!     .respond_with(Reply::new(204)));
//! assert!(stubs.answer(&Request::new("GET", "/")).is_none());
//! ```

mod engine;
mod error;
mod js;
pub mod matchers;
mod predicate;
mod reply;
mod request;
mod response;
pub mod schema;
mod scripts;
mod shell;
mod xpath;

pub use engine::{Answer, CompileOptions, Match, Miss, Respond, Stub, Stubs, Times};
pub use error::StubError;
pub use predicate::{InjectionFailed, Predicate};
pub use reply::{Action, BodyStream, Chunk, Delivery, Fault, Reply};
pub use request::Request;
pub use scripts::Scripts;
