//! Where recordings go: the [`Sink`] trait and its implementations.
//!
//! # Why the trait is shaped so
//!
//! - **A record is serialised once.** The proxy turns an exchange into its
//!   http-types line a single time and hands the same bytes to every sink, so
//!   a file, stdout and a Kafka topic hold identical lines and no sink pays
//!   for serialisation.
//! - **`write` is synchronous and must return quickly.** It runs on the
//!   proxy's worker threads after the response has been delivered. A file
//!   append of one line is a few microseconds; a Kafka sink only enqueues and
//!   lets librdkafka deliver in the background. A sink that can stall (a
//!   broker down) must bound its queue and spill rather than block traffic.
//! - **One line is one `write`.** Implementations write the line with a
//!   single call under their own lock, so lines are never torn or
//!   interleaved, whatever the concurrency.
//! - **`close` is where durability happens.** At shutdown the proxy stops
//!   accepting, lets in-flight exchanges finish, then closes every sink:
//!   files are flushed and synced, Kafka waits for acknowledgements. The
//!   returned [`SinkReport`] says how many records went where, so nothing is
//!   ever dropped silently.
//! - **`&self`, not `&mut self`.** Sinks are shared by every connection
//!   (`Arc<dyn Sink>`); each does its own locking at the granularity it
//!   needs (one lock per file, none for Kafka).

use std::fmt;

/// One recorded exchange, ready to store.
#[derive(Clone, Debug)]
pub struct Record {
    /// The upstream host the exchange went to, `host[:port]` (the Kafka key,
    /// and the per-host log file's name).
    pub host: String,
    /// The http-types JSON line, ending in `\n`.
    pub line: Vec<u8>,
}

/// What a sink did with the records it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Human-readable name of the destination, e.g. `logs/`, `stdout`,
    /// `kafka://localhost:9092/recordings`.
    pub destination: String,
    /// Records stored at the destination (for Kafka: acknowledged).
    pub delivered: u64,
    /// Records written to a fallback instead (Kafka's spill file).
    pub spilled: u64,
    /// Where spilled records went, when any did.
    pub spill_destination: Option<String>,
    /// Records that could be stored nowhere (each one was also logged).
    pub lost: u64,
}

impl fmt::Display for SinkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} delivered", self.destination, self.delivered)?;
        if self.spilled > 0 {
            write!(
                f,
                ", {} spilled to {}",
                self.spilled,
                self.spill_destination
                    .as_deref()
                    .unwrap_or("the spill file")
            )?;
        }
        if self.lost > 0 {
            write!(f, ", {} LOST", self.lost)?;
        }
        Ok(())
    }
}

/// Why a sink could not take or keep a record.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file could not be opened or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Kafka refused the configuration or the record.
    #[error("kafka: {0}")]
    Kafka(String),
}

/// A destination for recordings.
pub trait Sink: Send + Sync {
    /// Stores one record; see the module docs for what implementations
    /// promise. An error means this record was not stored here (the proxy
    /// logs it and counts it; traffic is not affected).
    fn write(&self, record: &Record) -> Result<(), SinkError>;

    /// Makes everything written so far durable and reports where records
    /// went. Called once, at shutdown; later writes are errors.
    fn close(&self) -> Result<SinkReport, SinkError>;
}
