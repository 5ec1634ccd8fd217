//! The error type shared by the producer and the reader.

use std::convert::Infallible;
use std::path::PathBuf;

use crate::UrlError;

/// Why a Kafka operation failed.
///
/// `E` is the error of the caller's message handler in
/// [`read_topic`](crate::read_topic); it is [`Infallible`] everywhere else.
/// The handler's error is kept as it is (not boxed, not required to be
/// `std::error::Error`) so that callers using `anyhow` get theirs back.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError<E = Infallible> {
    /// The URL could not be parsed.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// librdkafka refused the configuration or an operation.
    #[error("{context}: {source}")]
    Client {
        /// What was being done, including the URL.
        context: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The cluster did not answer within the allowed time.
    #[error("{0}")]
    Timeout(String),
    /// The topic does not exist (or has no partitions).
    #[error("{url}: {reason}")]
    Topic {
        /// The URL.
        url: String,
        /// What is wrong with the topic.
        reason: String,
    },
    /// The spill file could not be written: the record is lost (and counted).
    #[error("spill file {path}: {source}", path = path.display())]
    Spill {
        /// The spill file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The producer was closed.
    #[error("the kafka producer is closed")]
    Closed,
    /// The caller's message handler failed; reading stopped there.
    #[error("{0}")]
    Handler(E),
}
