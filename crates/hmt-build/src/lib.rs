//! Infers OpenAPI specs from recorded http-types exchanges.
pub mod ident;
