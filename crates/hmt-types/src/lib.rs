//! The http-types exchange model and its streaming JSONL reader and writer,
//! and HAR 1.2 in and out ([`har`]).
//!
//! Every hmt tool speaks this one format: `hmt record` writes it, `hmt build`
//! reads it, `hmt mock` serves and logs it. An [`Exchange`] is one HTTP
//! request with its response, exactly as the [http-types JSON Schema]
//! describes it; a recording is a file with one exchange per line.
//!
//! Reading is lenient where real files differ from each other (`path` or
//! `pathname`, `query` present or derived, `bodyAsJson`, HMT's old
//! `req`/`res` keys) and strict where a difference would lose data: an
//! unknown field is an error that names it. Writing is canonical: one
//! compact line per exchange with a fixed key order, so the same exchange
//! is always the same bytes.
//!
//! [`Input`] tells JSONL from HAR by content (after gunzipping) and
//! [`Input::exchanges`] reads either, so every tool reads both through one
//! loop.
//!
//! Bodies are bytes. A body that is not UTF-8 is written base64-encoded
//! and marked in `meta` (`"requestBodyEncoding": "base64"` or
//! `"responseBodyEncoding": "base64"`), which keeps the line valid
//! http-types and the body lossless; the reader undoes it.
//!
//! ```
//! use hmt_types::{Exchange, Method};
//! let line = r#"{"request":{"method":"get","host":"api.example.com","path":"/users?page=2"},"response":{"statusCode":200,"body":"[]"}}"#;
//! let exchange = Exchange::from_json_line(line).unwrap();
//! assert_eq!(exchange.request.method, Method::Get);
//! assert_eq!(exchange.request.pathname, "/users");
//! assert_eq!(exchange.request.query.get("page"), Some("2"));
//! assert_eq!(exchange.to_json_line(), r#"{"request":{"method":"get","host":"api.example.com","path":"/users?page=2","query":{"page":"2"}},"response":{"statusCode":200,"body":"[]"}}"#);
//! ```
//!
//! [http-types JSON Schema]: https://github.com/meeshkan/http-types

pub mod clock;
mod fields;
pub mod format;
pub mod har;
pub mod headers;
mod model;
pub mod pointer;
mod raw;
pub mod reader;
pub mod schema;
pub mod secrets;
mod source;
pub mod sync;
pub mod syntax;
pub mod writer;

pub use fields::{
    Fields, decode_form_component, file_safe_host, file_safe_host_exact, form_pairs,
    percent_decode, percent_encode,
};
pub use har::{HarReader, HarWriter};
pub use model::{BodyEncoding, Exchange, Method, Protocol, Request, Response, reason_phrase};
pub use reader::{DEFAULT_MAX_LINE_BYTES, Input, InvalidExchange, JsonlReader, ReadError};
pub use source::{Exchanges, Format};
pub use writer::JsonlWriter;
