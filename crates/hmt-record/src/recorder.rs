//! What happens to a captured exchange: decode, filter, redact, serialise
//! once, write to every sink.
//!
//! All of that happens on the recorder's own thread, off the response
//! path: the proxy's worker hands the exchange over a channel and goes on
//! serving. The thread takes whatever has queued up, turns it into lines,
//! and gives each sink the whole batch at once (a file gets one `write` per
//! batch instead of one per line), which is what keeps recording cheap at
//! high request rates.
//!
//! The order matters. Bodies are decoded first so that filters and JSON
//! redaction see readable content; filtering comes before redaction so that
//! excluded traffic costs nothing more; redaction comes before serialisation
//! so that no sink ever receives a secret.

use crate::capture::{Captured, OnExchange};
use crate::decode::decode_bodies;
use crate::filter::Filter;
use crate::redact::Redactor;
use crate::sink::{Record, Sink, SinkError, SinkReport};
use hmt_types::sync::lock;
use std::sync::Condvar;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Live counts, read by the status line and `hmt record status`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Exchanges handed to the sinks (a sink that could not store one
    /// counts it in `sink_errors`, and in its report's `lost`).
    pub recorded: AtomicU64,
    /// Exchanges the filters left out.
    pub filtered: AtomicU64,
    /// Bytes of http-types lines produced.
    pub bytes: AtomicU64,
    /// Records a sink could not store (each sink's report at `close` counts
    /// its own as lost; logged once per failing spell of a sink).
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

/// Exchanges that may wait for the recorder thread. The channel is bounded
/// and `on_exchange` blocks when it is full: if the sinks cannot keep up,
/// the proxy slows down to their pace (backpressure) instead of queueing
/// without limit, and nothing is ever dropped. Each waiting exchange holds
/// up to two capped bodies, hence a count that is plenty for bursts yet
/// bounded in memory.
const QUEUE: usize = 1024;

/// The body bytes that may wait for the recorder thread. A count alone
/// does not bound memory: 1,024 exchanges of two 16 MiB bodies each would
/// be 32 GiB. Past this many bytes waiting, `on_exchange` blocks as it does
/// on a full queue (one exchange larger than this still goes through, on
/// its own).
const QUEUE_BYTES: usize = 256 * 1024 * 1024;

/// A batch is written once its lines reach this size, so a burst of large
/// exchanges never sits in memory as one huge batch.
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The body bytes a captured exchange holds.
fn body_bytes(captured: &Captured) -> usize {
    let exchange = &captured.exchange;
    exchange.request.body.as_ref().map_or(0, Vec::len)
        + exchange
            .response
            .as_ref()
            .and_then(|r| r.body.as_ref())
            .map_or(0, Vec::len)
}

/// The body bytes waiting in the queue, and a signal when some leave.
#[derive(Default)]
struct Waiting {
    /// Bytes waiting, and senders blocked until some leave.
    state: Mutex<(usize, usize)>,
    left: Condvar,
}

impl Waiting {
    /// Waits until `size` more bytes fit (or nothing waits), then counts
    /// them in.
    fn enter(&self, size: usize) {
        let mut state = lock(&self.state);
        while state.0 > 0 && state.0 + size > QUEUE_BYTES {
            state.1 += 1;
            state = self
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.1 -= 1;
        }
        state.0 += size;
    }

    fn leave(&self, size: usize) {
        let mut state = lock(&self.state);
        state.0 = state.0.saturating_sub(size);
        // A notification is a system call even with nobody waiting, and
        // this runs once per exchange: only when a sender is blocked.
        if state.1 > 0 {
            self.left.notify_all();
        }
    }
}

/// How long the thread lets exchanges gather after writing a batch. A
/// waiting sender would otherwise wake it for each exchange (a system call
/// and a context switch per request); a millisecond is nothing for a
/// recording, and under load it makes batches of dozens.
const GATHER: Duration = Duration::from_millis(1);

/// Turns captured exchanges into records in every sink.
pub struct Recorder {
    core: Arc<Core>,
    /// To the recorder thread; `None` once closed. Read-locked to send,
    /// so workers never wait for each other, only for room in the queue.
    queue: RwLock<Option<SyncSender<Captured>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the thread needs to record.
struct Core {
    filter: Filter,
    redactor: Redactor,
    sinks: Vec<Arc<dyn Sink>>,
    /// For each sink, how many records it has failed to store since it
    /// last stored all it was given; `None` while it works.
    trouble: Vec<Mutex<Option<u64>>>,
    max_body_bytes: usize,
    counters: Arc<Counters>,
    /// Body bytes in the queue (see [`QUEUE_BYTES`]).
    waiting: Waiting,
}

impl Recorder {
    /// A recorder writing to `sinks`, with its thread started.
    pub fn new(
        filter: Filter,
        redactor: Redactor,
        sinks: Vec<Arc<dyn Sink>>,
        max_body_bytes: usize,
    ) -> Recorder {
        let core = Arc::new(Core {
            filter,
            redactor,
            trouble: sinks.iter().map(|_| Mutex::new(None)).collect(),
            sinks,
            max_body_bytes,
            counters: Arc::new(Counters::default()),
            waiting: Waiting::default(),
        });
        let (tx, rx) = sync_channel(QUEUE);
        let thread = {
            let core = core.clone();
            std::thread::Builder::new()
                .name("hmt-recorder".into())
                .spawn(move || core.run(rx))
        };
        let (queue, thread) = match thread {
            Ok(thread) => (Some(tx), Some(thread)),
            // No thread (the system is out of them): exchanges are
            // recorded on the caller's thread, as they come.
            Err(error) => {
                tracing::warn!(%error, "no recorder thread; recording inline");
                (None, None)
            }
        };
        Recorder {
            core,
            queue: RwLock::new(queue),
            thread: Mutex::new(thread),
        }
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.core.counters)
    }

    /// Records accepted by sinks but not yet stored (Kafka's lag).
    pub fn backlog(&self) -> u64 {
        self.core.sinks.iter().map(|s| s.backlog()).sum()
    }

    /// Writes every exchange handed over so far, then closes every sink
    /// (flush, sync, wait for Kafka) and reports where the records went.
    /// Errors are reported per sink, not hidden. Exchanges handed over
    /// later are recorded on the caller's thread, where the closed sinks
    /// refuse them (counted as sink errors, and logged).
    pub fn close(&self) -> Vec<Result<SinkReport, SinkError>> {
        // Without its sender the thread drains the queue and ends.
        drop(hmt_types::sync::write(&self.queue).take());
        if let Some(thread) = lock(&self.thread).take()
            && thread.join().is_err()
        {
            tracing::error!("the recorder thread panicked");
        }
        self.core.sinks.iter().map(|sink| sink.close()).collect()
    }
}

impl OnExchange for Recorder {
    fn on_exchange(&self, captured: Captured) {
        let captured = match &*hmt_types::sync::read(&self.queue) {
            // Blocks while the queue is full (see `QUEUE` and `QUEUE_BYTES`).
            Some(queue) => {
                let size = body_bytes(&captured);
                self.core.waiting.enter(size);
                match queue.send(captured) {
                    Ok(()) => return,
                    // The thread is gone (it panicked): record here.
                    Err(error) => {
                        self.core.waiting.leave(size);
                        error.0
                    }
                }
            }
            None => captured,
        };
        let mut batch = Vec::with_capacity(1);
        self.core.prepare(captured, &mut batch);
        self.core.write(&batch);
    }
}

impl Core {
    /// The recorder thread: takes what has queued up, records it as one
    /// batch, lets the next batch gather; ends when the sender is dropped
    /// and the queue is empty.
    fn run(&self, queue: Receiver<Captured>) {
        let mut batch = Vec::new();
        // Waits for the first exchange of a batch.
        while let Ok(first) = queue.recv() {
            let mut batch_bytes = self.take(first, &mut batch);
            let mut open = true;
            let mut full = false;
            while !full {
                match queue.try_recv() {
                    Ok(captured) => {
                        batch_bytes += self.take(captured, &mut batch);
                        full = batch_bytes >= BATCH_BYTES;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            self.write(&batch);
            batch.clear();
            if !open {
                return;
            }
            // A full batch means more is waiting: no time to gather.
            if !full {
                std::thread::sleep(GATHER);
            }
        }
    }

    /// Prepares an exchange from the queue into `batch`, lets its bytes
    /// out of the queue's count, and returns the size of its line.
    fn take(&self, captured: Captured, batch: &mut Vec<Record>) -> usize {
        let size = body_bytes(&captured);
        let before = batch.len();
        self.prepare_guarded(captured, batch);
        self.waiting.leave(size);
        batch[before..].iter().map(|r| r.line.len()).sum()
    }

    /// `prepare`, but a panic (a bug in decoding or redaction) costs only
    /// this exchange, not the thread.
    fn prepare_guarded(&self, captured: Captured, batch: &mut Vec<Record>) {
        let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.prepare(captured, batch)
        }));
        if prepared.is_err() {
            tracing::error!("recording an exchange panicked; exchange not recorded");
        }
    }

    /// Decodes, filters, redacts and serialises one exchange, adding its
    /// record to `batch` unless the filters leave it out.
    fn prepare(&self, captured: Captured, batch: &mut Vec<Record>) {
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
        batch.push(Record {
            host: captured.target_host,
            line,
        });
    }

    /// Gives `batch` to every sink, then counts it.
    fn write(&self, batch: &[Record]) {
        if batch.is_empty() {
            return;
        }
        for (sink, trouble) in self.sinks.iter().zip(&self.trouble) {
            let mut failed = 0;
            let mut first_error = None;
            sink.write_batch(batch, &mut |record, error| {
                failed += 1;
                tracing::debug!(%error, host = %record.host, "could not write a recording");
                first_error.get_or_insert_with(|| error.to_string());
            });
            self.counters
                .sink_errors
                .fetch_add(failed, Ordering::Relaxed);
            Self::log_trouble(&**sink, &mut lock(trouble), failed, first_error);
        }
        let bytes: usize = batch.iter().map(|r| r.line.len()).sum();
        self.counters
            .recorded
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

impl Core {
    /// Logs a sink's failing spells once each, not once per record: a
    /// warning when it starts losing records (a full disk can fail
    /// thousands in a row), an info with the count when it stores again.
    fn log_trouble(sink: &dyn Sink, trouble: &mut Option<u64>, failed: u64, error: Option<String>) {
        match (trouble.as_mut(), failed) {
            (None, 0) => {}
            (None, _) => {
                let error = error.unwrap_or_default();
                tracing::warn!(
                    destination = %sink.destination(),
                    "recordings are being lost: {error} (logged once until records are stored \
                     again; the summary at exit counts them)"
                );
                *trouble = Some(failed);
            }
            (Some(lost), 0) => {
                tracing::info!(
                    destination = %sink.destination(),
                    "recordings are stored again, after {lost} could not be"
                );
                *trouble = None;
            }
            (Some(lost), _) => *lost += failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue's byte budget holds back a sender until the thread has
    /// taken enough out; a lone large exchange still goes through.
    #[test]
    fn queued_body_bytes_are_bounded() {
        let waiting = Arc::new(Waiting::default());
        waiting.enter(QUEUE_BYTES - 10);
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = {
            let waiting = waiting.clone();
            std::thread::spawn(move || {
                waiting.enter(100);
                tx.send(()).unwrap();
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "the second exchange waits while the budget is spent"
        );
        waiting.leave(QUEUE_BYTES - 10);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("it enters once room is made");
        sender.join().unwrap();
        waiting.leave(100);
        // Larger than the whole budget, with nothing waiting: let through.
        waiting.enter(QUEUE_BYTES * 2);
        assert_eq!(lock(&waiting.state).0, QUEUE_BYTES * 2);
    }
    use crate::redact::RedactionRules;
    use crate::sink::OutputFile;
    use hmt_types::{Exchange, Method, Request, Response};

    fn captured(i: usize) -> Captured {
        let mut response = Response::new(200);
        response.body = Some(format!("{{\"i\":{i}}}").into_bytes());
        Captured {
            exchange: Exchange {
                request: Request::new(Method::Get, &format!("/items/{i}")),
                response: Some(response),
                meta: Default::default(),
            },
            target_host: "api.test".into(),
            answered_by_proxy: i.is_multiple_of(10),
        }
    }

    /// Everything handed over from many threads is written, in each
    /// thread's order, by the time `close` returns; later exchanges are
    /// refused by the closed sink and counted, not lost silently.
    #[test]
    fn close_writes_every_exchange_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let sink: Arc<dyn Sink> = Arc::new(OutputFile::create(&path).unwrap());
        let recorder = Recorder::new(
            Filter::default(),
            Redactor::new(RedactionRules::default(), [7; 32]),
            vec![sink],
            1 << 20,
        );
        std::thread::scope(|scope| {
            for t in 0..4 {
                let recorder = &recorder;
                scope.spawn(move || {
                    for i in 0..3_000 {
                        recorder.on_exchange(captured(t * 10_000 + i));
                    }
                });
            }
        });
        let reports = recorder.close();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].as_ref().unwrap().delivered, 12_000);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 12_000);
        let mut last = [None::<usize>; 4];
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let path = value["request"]["path"].as_str().unwrap();
            let i: usize = path.trim_start_matches("/items/").parse().unwrap();
            let (t, i) = (i / 10_000, i % 10_000);
            assert!(last[t].is_none_or(|l| l < i), "{t}/{i} out of order");
            last[t] = Some(i);
        }
        let counts = recorder.counters().snapshot();
        assert_eq!(counts.recorded, 12_000);
        assert_eq!(counts.upstream_errors, 1_200);
        assert_eq!(counts.bytes, text.len() as u64);
        assert_eq!(counts.sink_errors, 0);

        recorder.on_exchange(captured(1));
        let counts = recorder.counters().snapshot();
        assert_eq!((counts.recorded, counts.sink_errors), (12_001, 1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
