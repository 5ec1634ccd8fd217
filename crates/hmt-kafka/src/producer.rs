//! A producer that never blocks the proxy and never drops a record silently.
//!
//! # Why it is shaped so
//!
//! `hmt record` calls [`Producer::send`] on its worker threads after each
//! response has gone back to the client. Kafka being slow or down must not
//! slow traffic, and recordings must not vanish without a trace. So:
//!
//! - **`send` only enqueues.** The message is copied into librdkafka's local
//!   queue (bounded by `queue.buffering.max.messages`) and delivered by
//!   librdkafka's threads. When the queue is full (or librdkafka refuses the
//!   message for any other reason) the value is appended to the *spill file*
//!   right away instead of waiting for room.
//! - **Failed deliveries are spilled too.** librdkafka retries on its own
//!   until `message.timeout.ms` (30 s unless the options say otherwise), then
//!   reports the failure in the delivery callback, which appends the value to
//!   the spill file.
//! - **The spill file is JSONL**: values are written as they are (they are
//!   http-types lines ending in `\n`; one without a final `\n` gets one), one
//!   `write` per value under a lock, so the file can be fed to `hmt build`
//!   or replayed into the topic later. It is opened lazily, in append mode:
//!   a healthy run never creates it.
//! - **`close` accounts for everything.** It waits for acknowledgements up to
//!   a timeout, then purges whatever is still queued or in flight (those
//!   messages are spilled through the same callback) and destroys the
//!   client. Every message `send` accepted is then exactly one of
//!   *delivered* (acknowledged by the cluster), *spilled* or *lost* (the
//!   spill file could not be written; the reason is in
//!   [`ProducerReport::errors`]). The counters are atomics updated by the
//!   callback thread and the senders, so the totals are exact under any
//!   concurrency.
//!
//! Delivery is at least once: a message purged while in flight may have
//! reached the broker *and* be in the spill file. A duplicate recording is
//! harmless to `hmt build`; a missing one is not.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, PurgeConfig, ThreadedProducer,
};

use crate::{KafkaError, KafkaUrl};

/// `message.timeout.ms` when the options don't set it: how long librdkafka
/// keeps retrying a message before it is reported failed (and spilled).
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `close` waits, after purging, for librdkafka to hand back the
/// purged messages. Purging is local, so this is only a safety net.
const PURGE_GRACE: Duration = Duration::from_secs(5);

/// At most this many distinct error reasons are kept for the report (each
/// with its count), so a long outage cannot grow memory without bound.
const MAX_REASONS: usize = 32;

/// Where messages go when Kafka cannot take them: a JSONL file, opened
/// lazily in append mode (created only if something is spilled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpillTarget {
    path: PathBuf,
}

impl SpillTarget {
    /// A spill file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> SpillTarget {
        SpillTarget { path: path.into() }
    }

    /// The spill file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`Producer::send`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Queued for delivery; the outcome is known at [`Producer::close`].
    Queued,
    /// Kafka's local queue refused it; it is in the spill file.
    Spilled,
}

/// What became of every message a [`Producer`] accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerReport {
    /// Acknowledged by the cluster.
    pub delivered: u64,
    /// Appended to the spill file.
    pub spilled: u64,
    /// Neither: the spill file could not be written either.
    pub lost: u64,
    /// The spill file (whether or not anything was spilled).
    pub spill_path: PathBuf,
    /// Why messages were spilled or lost, one line per distinct reason with
    /// its count, e.g. `12 message(s) spilled: Local: Message timed out`.
    pub errors: Vec<String>,
}

/// A Kafka producer for one topic; see the module docs.
pub struct Producer {
    url: KafkaUrl,
    /// `None` once closed. Senders take the read lock (concurrently, for the
    /// few microseconds of an enqueue); `close` takes the write lock once, so
    /// no send can slip in after the final flush and escape the accounting.
    inner: RwLock<Option<ThreadedProducer<Context>>>,
    shared: Arc<Shared>,
}

impl Producer {
    /// Creates a producer for `url`'s topic.
    ///
    /// `options` are librdkafka settings passed through as they are
    /// (`security.protocol`, `sasl.*`, `ssl.*`, `compression.type`...).
    /// `message.timeout.ms` defaults to [`DEFAULT_MESSAGE_TIMEOUT`];
    /// `bootstrap.servers` always comes from the URL and
    /// `queue.buffering.max.messages` from `queue_bound` (at least 1).
    ///
    /// No connection is made here: librdkafka connects in the background, so
    /// an unreachable cluster shows as spilled messages, not as an error.
    pub fn new(
        url: &KafkaUrl,
        options: &[(String, String)],
        spill: SpillTarget,
        queue_bound: usize,
    ) -> Result<Producer, KafkaError> {
        let mut config = ClientConfig::new();
        config.set(
            "message.timeout.ms",
            DEFAULT_MESSAGE_TIMEOUT.as_millis().to_string(),
        );
        for (key, value) in options {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", url.bootstrap_servers())
            .set(
                "queue.buffering.max.messages",
                queue_bound.clamp(1, i32::MAX as usize).to_string(),
            );
        let shared = Arc::new(Shared {
            spill: Spill {
                path: spill.path,
                file: Mutex::new(None),
            },
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            reasons: Mutex::new(BTreeMap::new()),
        });
        let producer = config
            .create_with_context(Context(Arc::clone(&shared)))
            .map_err(|source| KafkaError::Client {
                context: format!("{url}: creating the producer"),
                source,
            })?;
        Ok(Producer {
            url: url.clone(),
            inner: RwLock::new(Some(producer)),
            shared,
        })
    }

    /// The URL this producer writes to.
    pub fn url(&self) -> &KafkaUrl {
        &self.url
    }

    /// The spill file.
    pub fn spill_path(&self) -> &Path {
        &self.shared.spill.path
    }

    /// Enqueues one message, or spills it if Kafka's local queue is full.
    /// Never waits for the network.
    ///
    /// Errors: [`KafkaError::Closed`] after [`close`](Self::close) (the
    /// message is not counted anywhere), [`KafkaError::Spill`] when the value
    /// had to be spilled and the spill file could not be written (counted as
    /// lost).
    pub fn send(&self, key: &[u8], value: &[u8]) -> Result<Sent, KafkaError> {
        let inner = hmt_types::sync::read(&self.inner);
        let producer = inner.as_ref().ok_or(KafkaError::Closed)?;
        self.shared.accepted.fetch_add(1, Ordering::SeqCst);
        let record = BaseRecord::to(self.url.topic()).key(key).payload(value);
        match producer.send(record) {
            Ok(()) => Ok(Sent::Queued),
            Err((error, _)) => {
                // Not enqueued: the record is ours again, spill it now. The
                // read lock is still held, so `close` cannot total the
                // counters before this message is counted.
                self.shared
                    .fallback(value, &error.to_string())
                    .map(|()| Sent::Spilled)
            }
        }
    }

    /// Messages sent but not yet acknowledged, spilled or lost: the lag a
    /// status line shows.
    pub fn pending(&self) -> u64 {
        let s = &self.shared;
        let done = s.delivered.load(Ordering::SeqCst)
            + s.spilled.load(Ordering::SeqCst)
            + s.lost.load(Ordering::SeqCst);
        s.accepted.load(Ordering::SeqCst).saturating_sub(done)
    }

    /// Waits up to `timeout` for every queued message to be acknowledged,
    /// spills what is still pending, syncs the spill file, and reports.
    /// Later sends are errors; a second `close` is [`KafkaError::Closed`].
    pub fn close(&self, timeout: Duration) -> Result<ProducerReport, KafkaError> {
        let producer = hmt_types::sync::write(&self.inner)
            .take()
            .ok_or(KafkaError::Closed)?;
        if producer.flush(timeout).is_err() {
            // Still pending after the timeout: fail them now, so the
            // delivery callback spills them, instead of leaving them to
            // librdkafka's destructor (which would drop them).
            producer.purge(PurgeConfig::default().queue().inflight());
            let _ = producer.flush(PURGE_GRACE);
        }
        // Joins the polling thread and destroys the client: no callback runs
        // after this, so the counters are final.
        drop(producer);
        let shared = &self.shared;
        let accounted = shared.delivered.load(Ordering::SeqCst)
            + shared.spilled.load(Ordering::SeqCst)
            + shared.lost.load(Ordering::SeqCst);
        let unaccounted = shared
            .accepted
            .load(Ordering::SeqCst)
            .saturating_sub(accounted);
        if unaccounted > 0 {
            // Should not happen (librdkafka reports every message it was
            // given), but if it does, it is said, not hidden.
            shared.lost.fetch_add(unaccounted, Ordering::SeqCst);
            shared.note(
                "lost",
                "librdkafka never reported their delivery",
                unaccounted,
            );
        }
        if let Err(error) = shared.spill.sync() {
            shared.note(
                "spilled",
                &format!("but syncing the spill file failed: {error}"),
                1,
            );
        }
        let reasons = hmt_types::sync::lock(&shared.reasons);
        Ok(ProducerReport {
            delivered: shared.delivered.load(Ordering::SeqCst),
            spilled: shared.spilled.load(Ordering::SeqCst),
            lost: shared.lost.load(Ordering::SeqCst),
            spill_path: shared.spill.path.clone(),
            errors: reasons
                .iter()
                .map(|((outcome, reason), count)| format!("{count} message(s) {outcome}: {reason}"))
                .collect(),
        })
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("url", &self.url)
            .field("spill", &self.shared.spill.path)
            .finish_non_exhaustive()
    }
}

/// State shared by the senders and librdkafka's delivery callback.
struct Shared {
    spill: Spill,
    /// Messages `send` took responsibility for.
    accepted: AtomicU64,
    delivered: AtomicU64,
    spilled: AtomicU64,
    lost: AtomicU64,
    /// (outcome, reason) → count.
    reasons: Mutex<BTreeMap<(&'static str, String), u64>>,
}

impl Shared {
    /// Spills a value Kafka could not take; counts it as spilled or lost.
    fn fallback(&self, value: &[u8], reason: &str) -> Result<(), KafkaError> {
        match self.spill.append(value) {
            Ok(()) => {
                self.spilled.fetch_add(1, Ordering::SeqCst);
                self.note("spilled", reason, 1);
                Ok(())
            }
            Err(source) => {
                self.lost.fetch_add(1, Ordering::SeqCst);
                self.note(
                    "lost",
                    &format!(
                        "{reason}, and spill file {}: {source}",
                        self.spill.path.display()
                    ),
                    1,
                );
                Err(KafkaError::Spill {
                    path: self.spill.path.clone(),
                    source,
                })
            }
        }
    }

    fn note(&self, outcome: &'static str, reason: &str, count: u64) {
        let mut reasons = hmt_types::sync::lock(&self.reasons);
        let key = (outcome, reason.to_string());
        if let Some(n) = reasons.get_mut(&key) {
            *n += count;
        } else if reasons.len() < MAX_REASONS {
            reasons.insert(key, count);
        } else {
            *reasons
                .entry((outcome, "(other reasons)".to_string()))
                .or_insert(0) += count;
        }
    }
}

/// The spill file, opened on first use.
struct Spill {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl Spill {
    /// Appends one value as one line with a single `write_all`, so
    /// concurrent spills never interleave.
    fn append(&self, value: &[u8]) -> std::io::Result<()> {
        let mut file = hmt_types::sync::lock(&self.file);
        if file.is_none() {
            *file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let file = file.as_mut().expect("just opened");
        if value.ends_with(b"\n") {
            file.write_all(value)
        } else {
            let mut line = Vec::with_capacity(value.len() + 1);
            line.extend_from_slice(value);
            line.push(b'\n');
            file.write_all(&line)
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        match &*hmt_types::sync::lock(&self.file) {
            Some(file) => file.sync_all(),
            None => Ok(()),
        }
    }
}

/// librdkafka's callbacks; delivery reports run on the producer's polling
/// thread (or in `close`).
struct Context(Arc<Shared>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        use rdkafka::Message as _;
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::SeqCst);
            }
            Err((error, message)) => {
                // The error is counted and reported by `fallback`.
                let _ = self
                    .0
                    .fallback(message.payload().unwrap_or_default(), &error.to_string());
            }
        }
    }
}
