//! Kafka transport for http-types recordings.
//!
//! Shared by `hmt record` (which produces one message per exchange: key =
//! target host, value = the JSON line) and `hmt build -i kafka://...` (which
//! reads a topic up to the end offsets it saw at start). It knows nothing of
//! the exchange model: messages are bytes.
