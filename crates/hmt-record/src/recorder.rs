//! What happens to a captured exchange: decode, filter, redact, serialise
//! once, write to every sink.
//!
//! The order matters. Bodies are decoded first so that filters and JSON
//! redaction see readable content; filtering comes before redaction so that
//! excluded traffic costs nothing more; redaction comes before serialisation
//! so that no sink ever receives a secret.

use crate::capture::{Captured, OnExchange};
use crate::decode::decode_bodies;
use crate::filter::Filter;
use crate::redact::Redactor;
use crate::sink::{Record, Sink, SinkReport};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counts, read by the status line and `hmt record status`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Exchanges written to the sinks.
    pub recorded: AtomicU64,
    /// Exchanges the filters left out.
    pub filtered: AtomicU64,
    /// Bytes of http-types lines produced.
    pub bytes: AtomicU64,
    /// Sink writes that failed (each logged).
    pub sink_errors: AtomicU64,
    /// Exchanges that ended in a 502 or 504 from the proxy itself.
    pub upstream_errors: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CountSnapshot {
    /// Exchanges written to the sinks.
    pub recorded: u64,
    /// Exchanges the filters left out.
    pub filtered: u64,
    /// Bytes of http-types lines produced.
    pub bytes: u64,
    /// Sink writes that failed.
    pub sink_errors: u64,
    /// Exchanges that ended in a 502 or 504 from the proxy.
    pub upstream_errors: u64,
}

impl Counters {
    /// The counts now.
    pub fn snapshot(&self) -> CountSnapshot {
        CountSnapshot {
            recorded: self.recorded.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            sink_errors: self.sink_errors.load(Ordering::Relaxed),
            upstream_errors: self.upstream_errors.load(Ordering::Relaxed),
        }
    }
}

/// Turns captured exchanges into records in every sink.
pub struct Recorder {
    filter: Filter,
    redactor: Redactor,
    sinks: Vec<Arc<dyn Sink>>,
    max_body_bytes: usize,
    counters: Arc<Counters>,
}

impl Recorder {
    /// A recorder writing to `sinks`.
    pub fn new(
        filter: Filter,
        redactor: Redactor,
        sinks: Vec<Arc<dyn Sink>>,
        max_body_bytes: usize,
    ) -> Recorder {
        Recorder {
            filter,
            redactor,
            sinks,
            max_body_bytes,
            counters: Arc::new(Counters::default()),
        }
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Records accepted by sinks but not yet stored (Kafka's lag).
    pub fn backlog(&self) -> u64 {
        self.sinks.iter().map(|s| s.backlog()).sum()
    }

    /// Closes every sink (flush, sync, wait for Kafka) and reports where
    /// the records went. Errors are reported per sink, not hidden.
    pub fn close(&self) -> Vec<Result<SinkReport, String>> {
        self.sinks
            .iter()
            .map(|sink| sink.close().map_err(|e| e.to_string()))
            .collect()
    }
}

impl OnExchange for Recorder {
    fn on_exchange(&self, captured: Captured) {
        let mut exchange = captured.exchange;
        if captured.answered_by_proxy {
            self.counters
                .upstream_errors
                .fetch_add(1, Ordering::Relaxed);
        }
        decode_bodies(&mut exchange, self.max_body_bytes);
        if !self.filter.allows(&exchange) {
            self.counters.filtered.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.redactor.redact(&mut exchange);
        // Room for the bodies, their JSON escaping and the rest of the line,
        // so that serialising rarely reallocates.
        let bodies = exchange.request.body.as_ref().map_or(0, Vec::len)
            + exchange
                .response
                .as_ref()
                .and_then(|r| r.body.as_ref())
                .map_or(0, Vec::len);
        let mut line = Vec::with_capacity(1024 + bodies + bodies / 8);
        exchange.write_json_line(&mut line);
        let record = Record {
            host: captured.target_host,
            line,
        };
        for sink in &self.sinks {
            if let Err(error) = sink.write(&record) {
                self.counters.sink_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, host = %record.host, "could not write a recording");
            }
        }
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(record.line.len() as u64, Ordering::Relaxed);
    }
}
