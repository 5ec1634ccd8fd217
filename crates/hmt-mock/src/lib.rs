//! The mock server of hmt: serves OpenAPI specs and recorded traffic.
