//! Kafka transport for http-types recordings.
//!
//! Shared by `hmt record` (which produces one message per exchange: key =
//! target host, value = the JSON line) and `hmt build -i kafka://...` (which
//! reads a topic up to the end offsets it saw at start). It knows nothing of
//! the exchange model: messages are bytes.
//!
//! - [`KafkaUrl`] parses `kafka://host:port[,host:port...]/topic`.
//! - [`Producer`] enqueues without ever blocking, spills to a JSONL file
//!   what Kafka cannot take, and accounts for every message at
//!   [`Producer::close`].
//! - [`read_topic`] reads a topic (from the start, or from a group's
//!   committed offsets) up to its end offsets at start, then returns.
//!
//! Both take librdkafka settings as `(key, value)` pairs and pass them
//! through, so every security mechanism librdkafka supports (TLS, SASL
//! PLAIN/SCRAM/GSSAPI/OAUTHBEARER...) works without hmt knowing of it.

mod error;
mod producer;
mod reader;
mod url;

pub use error::KafkaError;
pub use producer::{DEFAULT_MESSAGE_TIMEOUT, Producer, ProducerReport, Sent, SpillTarget};
pub use reader::{DEFAULT_READ_TIMEOUT, MessagePosition, ReadReport, read_topic};
pub use url::{KafkaUrl, UrlError};

/// The librdkafka binding this crate is built on, re-exported so that
/// dependants can name its types and run tests against
/// [`rdkafka::mocking::MockCluster`] without a dependency of their own that
/// could drift to another version.
pub use rdkafka;
