//! Where recordings go: the [`Sink`] trait and its implementations.
//!
//! # Why the trait is shaped so
//!
//! - **A record is serialised once.** The proxy turns an exchange into its
//!   http-types line a single time and hands the same bytes to every sink, so
//!   a file, stdout and a Kafka topic hold identical lines and no sink pays
//!   for serialisation.
//! - **`write` is synchronous and should return quickly.** The recorder
//!   calls it on its own thread, off the response path, but a sink that
//!   falls behind makes the recorder's queue fill up and, in the end, slows
//!   the proxy down. A file append is a few microseconds; a Kafka sink only
//!   enqueues and lets librdkafka deliver in the background. A sink that
//!   can stall (a broker down) must bound its queue and spill rather than
//!   block.
//! - **Whole lines, one `write` each time.** Implementations write a line
//!   (or, through `write_batch`, a batch of lines) with a single call under
//!   their own lock, so lines are never torn or interleaved, whatever the
//!   concurrency.
//! - **`close` is where durability happens.** At shutdown the proxy stops
//!   accepting, lets in-flight exchanges finish, then closes every sink:
//!   files are flushed and synced, Kafka waits for acknowledgements. The
//!   returned [`SinkReport`] says how many records went where, so nothing is
//!   ever dropped silently.
//! - **`&self`, not `&mut self`.** Sinks are shared by every connection
//!   (`Arc<dyn Sink>`); each does its own locking at the granularity it
//!   needs (one lock per file, none for Kafka).
//!
//! # The sinks
//!
//! - [`HostFiles`] writes one `<host>-recordings.jsonl` per upstream host in a
//!   directory (the layout HMT used).
//! - [`OutputFile`] writes every record to one file, or to stdout.
//! - [`KafkaSink`] produces one message per record (key = host) on a topic, with a
//!   spill file for what Kafka cannot take.
//!
//! The file sinks write each batch of lines straight to the file descriptor
//! with one `write_all`, without a `BufWriter`: when `write` or
//! `write_batch` returns, the lines are in the kernel (the page cache), so a
//! proxy that crashes or is killed loses nothing it reported written, and
//! another process tailing the file sees whole lines as they come. The
//! recorder batches whatever has queued up since its last write, so under
//! load one system call carries dozens of lines, and when traffic is light
//! the call per line does not matter. Only power loss can take lines that
//! `close` has not yet synced.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hmt_kafka::{KafkaUrl, Producer, SpillTarget};

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
    /// Records that could be stored nowhere (each one was also logged),
    /// whether the failure was reported by `write` returning an error (a
    /// file that cannot be written) or found later (a Kafka delivery that
    /// failed and could not be spilled either). Writes refused because the
    /// sink was already closed are not counted.
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
    /// The sink was closed; nothing more can be written to it.
    #[error("{0}: the sink is closed")]
    Closed(String),
}

/// A destination for recordings.
pub trait Sink: Send + Sync {
    /// Stores one record; see the module docs for what implementations
    /// promise. An error means this record was not stored here (the proxy
    /// logs it and counts it; traffic is not affected).
    fn write(&self, record: &Record) -> Result<(), SinkError>;

    /// Stores `records`, in order, as `write` would one by one; each record
    /// that was not stored is passed to `failed` with the reason. File sinks
    /// write all the lines that go to one file with a single call.
    fn write_batch(&self, records: &[Record], failed: &mut dyn FnMut(&Record, &SinkError)) {
        for record in records {
            if let Err(error) = self.write(record) {
                failed(record, &error);
            }
        }
    }

    /// Makes everything written so far durable and reports where records
    /// went. Called once, at shutdown; later writes are errors.
    fn close(&self) -> Result<SinkReport, SinkError>;

    /// Records accepted but not yet stored (Kafka's unacknowledged messages);
    /// shown as lag on the live status line. Sinks that store as they
    /// write have none.
    fn backlog(&self) -> u64 {
        0
    }
}

/// Locks a mutex, ignoring poisoning: the data behind these locks (a file,
/// a map of files) stays valid even if a writer panicked mid-way.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A host made safe as a file name, as HMT named its files; see
/// [`hmt_types::file_safe_host`].
pub fn safe_host(host: &str) -> String {
    hmt_types::file_safe_host(host)
}

/// One file written a line at a time under its own lock.
struct LineFile {
    path: PathBuf,
    state: Mutex<FileState>,
}

enum FileState {
    /// Not opened yet: files are created on their first line.
    Unopened,
    Open(File),
    /// Synced and closed by `close`; writes are refused.
    Closed,
}

impl LineFile {
    fn new(path: PathBuf, state: FileState) -> LineFile {
        LineFile {
            path,
            state: Mutex::new(state),
        }
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Appends `lines` (`count` whole lines) with one `write_all` under the
    /// file's lock, opening the file first if needed. Success is counted in
    /// `delivered` before the lock is released, so `close` (which takes
    /// every file's lock) sees every line it synced counted.
    fn append(&self, lines: &[u8], count: u64, delivered: &AtomicU64) -> Result<(), SinkError> {
        let mut state = lock(&self.state);
        if matches!(*state, FileState::Unopened) {
            let file = open_append(&self.path).map_err(|e| self.io_error(e))?;
            *state = FileState::Open(file);
        }
        match &mut *state {
            FileState::Open(file) => {
                file.write_all(lines).map_err(|e| self.io_error(e))?;
                delivered.fetch_add(count, Ordering::SeqCst);
                Ok(())
            }
            FileState::Closed => Err(SinkError::Closed(self.path.display().to_string())),
            FileState::Unopened => unreachable!("opened above"),
        }
    }

    /// Syncs the file to disk and refuses further writes.
    fn close(&self) -> Result<(), SinkError> {
        let mut state = lock(&self.state);
        let result = match &*state {
            FileState::Open(file) => file.sync_all().map_err(|e| self.io_error(e)),
            FileState::Unopened | FileState::Closed => Ok(()),
        };
        *state = FileState::Closed;
        result
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// One `<safe-host>-recordings.jsonl` per upstream host, in one directory.
///
/// Files are opened on their host's first record, in append mode (a second
/// run adds to the same files), and each has its own lock, so exchanges
/// with different hosts never wait for each other. Hosts that map to the
/// same safe name share the file (and its lock).
pub struct HostFiles {
    dir: PathBuf,
    /// Safe file name → file; `None` once closed. Held only to look a file
    /// up (or add it), never while writing.
    files: Mutex<Option<HashMap<String, Arc<LineFile>>>>,
    delivered: AtomicU64,
    lost: AtomicU64,
}

impl HostFiles {
    /// Creates `dir` (and its parents) if needed.
    pub fn new(dir: &Path) -> Result<HostFiles, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(HostFiles {
            dir: dir.to_path_buf(),
            files: Mutex::new(Some(HashMap::new())),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        })
    }

    /// The file a host's records go to.
    pub fn path_for(&self, host: &str) -> PathBuf {
        self.dir
            .join(format!("{}-recordings.jsonl", safe_host(host)))
    }
}

impl HostFiles {
    /// The file for `host`'s records, created (not opened) on first use.
    fn file_for(&self, host: &str) -> Result<Arc<LineFile>, SinkError> {
        let mut files = lock(&self.files);
        let files = files
            .as_mut()
            .ok_or_else(|| SinkError::Closed(self.dir.display().to_string()))?;
        let name = safe_host(host);
        Ok(Arc::clone(files.entry(name).or_insert_with(|| {
            Arc::new(LineFile::new(self.path_for(host), FileState::Unopened))
        })))
    }

    /// Lines not written count as lost, unless the sink was closed.
    fn count_lost(&self, error: &SinkError, lines: u64) {
        if !matches!(error, SinkError::Closed(_)) {
            self.lost.fetch_add(lines, Ordering::SeqCst);
        }
    }
}

/// `lines` end to end, for one `write_all`.
fn concat<'a>(lines: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let mut all = Vec::with_capacity(lines.clone().map(<[u8]>::len).sum());
    for line in lines {
        all.extend_from_slice(line);
    }
    all
}

impl fmt::Debug for HostFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFiles")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Sink for HostFiles {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.file_for(&record.host)?
            .append(&record.line, 1, &self.delivered)
            .inspect_err(|error| self.count_lost(error, 1))
    }

    /// One `write_all` per host file: the batch's lines for it, in order.
    fn write_batch(&self, records: &[Record], failed: &mut dyn FnMut(&Record, &SinkError)) {
        // Hosts in order of first appearance; a batch usually has one.
        let mut hosts: Vec<(String, Vec<&Record>)> = Vec::new();
        for record in records {
            let name = safe_host(&record.host);
            match hosts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, group)) => group.push(record),
                None => hosts.push((name, vec![record])),
            }
        }
        for (_, group) in hosts {
            let Some(first) = group.first() else { continue };
            let written = self.file_for(&first.host).and_then(|file| {
                let lines = concat(group.iter().map(|r| &r.line[..]));
                let count = group.len() as u64;
                file.append(&lines, count, &self.delivered)
                    .inspect_err(|error| self.count_lost(error, count))
            });
            if let Err(error) = written {
                for record in group {
                    failed(record, &error);
                }
            }
        }
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let files = lock(&self.files)
            .take()
            .ok_or_else(|| SinkError::Closed(self.dir.display().to_string()))?;
        // Every file is closed even if one fails to sync; the first error
        // is the one returned.
        let mut first_error = None;
        for file in files.values() {
            if let Err(error) = file.close() {
                first_error.get_or_insert(error);
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        Ok(SinkReport {
            destination: self.dir.display().to_string(),
            delivered: self.delivered.load(Ordering::SeqCst),
            lost: self.lost.load(Ordering::SeqCst),
            ..SinkReport::default()
        })
    }
}

/// Every record in one file (appended to), or on stdout.
pub struct OutputFile {
    name: String,
    out: Mutex<Output>,
    delivered: AtomicU64,
    lost: AtomicU64,
}

enum Output {
    File(File),
    /// Locked for each line (on top of our own lock, which also covers
    /// close), and flushed after it: stdout is usually a pipe into another
    /// tool that should see each exchange as it happens.
    Stdout(std::io::Stdout),
    Closed,
}

impl OutputFile {
    /// Opens (creating it if needed) `path` for appending. Unlike
    /// [`HostFiles`], the file is opened at once, so a bad path is an error
    /// at start-up rather than at the first exchange.
    pub fn create(path: &Path) -> Result<OutputFile, SinkError> {
        let file = open_append(path).map_err(|source| SinkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(OutputFile::with(
            path.display().to_string(),
            Output::File(file),
        ))
    }

    /// Standard output.
    pub fn stdout() -> OutputFile {
        OutputFile::with("stdout".to_string(), Output::Stdout(std::io::stdout()))
    }

    fn with(name: String, out: Output) -> OutputFile {
        OutputFile {
            name,
            out: Mutex::new(out),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.name.clone(),
            source,
        }
    }
}

impl fmt::Debug for OutputFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OutputFile {
    /// Writes `lines` (`count` whole lines) with one `write_all` under the
    /// lock, and counts them.
    fn append(&self, lines: &[u8], count: u64) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        let written = match &mut *out {
            Output::File(file) => file.write_all(lines),
            Output::Stdout(stdout) => {
                let mut stdout = stdout.lock();
                stdout.write_all(lines).and_then(|()| stdout.flush())
            }
            Output::Closed => return Err(SinkError::Closed(self.name.clone())),
        };
        match written {
            Ok(()) => {
                self.delivered.fetch_add(count, Ordering::SeqCst);
                Ok(())
            }
            Err(source) => {
                self.lost.fetch_add(count, Ordering::SeqCst);
                Err(self.io_error(source))
            }
        }
    }
}

impl Sink for OutputFile {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.append(&record.line, 1)
    }

    /// Every line of the batch in one `write_all`.
    fn write_batch(&self, records: &[Record], failed: &mut dyn FnMut(&Record, &SinkError)) {
        let written = match records {
            [] => Ok(()),
            [record] => self.append(&record.line, 1),
            _ => self.append(
                &concat(records.iter().map(|r| &r.line[..])),
                records.len() as u64,
            ),
        };
        if let Err(error) = written {
            for record in records {
                failed(record, &error);
            }
        }
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let mut out = lock(&self.out);
        let done = match std::mem::replace(&mut *out, Output::Closed) {
            Output::File(file) => file.sync_all(),
            Output::Stdout(stdout) => stdout.lock().flush(),
            Output::Closed => return Err(SinkError::Closed(self.name.clone())),
        };
        done.map_err(|source| self.io_error(source))?;
        Ok(SinkReport {
            destination: self.name.clone(),
            delivered: self.delivered.load(Ordering::SeqCst),
            lost: self.lost.load(Ordering::SeqCst),
            ..SinkReport::default()
        })
    }
}

/// One Kafka message per record: key = `record.host` (so one host's
/// exchanges share a partition and keep their order), value =
/// `record.line`.
///
/// `write` only enqueues (see [`hmt_kafka::Producer`]): a slow or absent
/// cluster never slows the proxy; what Kafka cannot take goes to the spill
/// file, and `close` waits up to [`KafkaSink::DEFAULT_CLOSE_TIMEOUT`] for
/// acknowledgements before spilling the rest.
#[derive(Debug)]
pub struct KafkaSink {
    producer: Producer,
    close_timeout: Duration,
}

impl KafkaSink {
    /// How long `close` waits for the cluster to acknowledge what is still
    /// queued, unless [`with_close_timeout`](Self::with_close_timeout) says
    /// otherwise.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

    /// A sink producing to `url`'s topic. `options` are librdkafka settings
    /// (security, SASL, tuning) passed through; `spill_path` is the JSONL
    /// file for records Kafka cannot take (created only if needed);
    /// `queue_bound` caps the records waiting in memory for delivery.
    pub fn new(
        url: &KafkaUrl,
        options: &[(String, String)],
        spill_path: &Path,
        queue_bound: usize,
    ) -> Result<KafkaSink, SinkError> {
        let producer = Producer::new(url, options, SpillTarget::new(spill_path), queue_bound)
            .map_err(|error| SinkError::Kafka(error.to_string()))?;
        Ok(KafkaSink {
            producer,
            close_timeout: KafkaSink::DEFAULT_CLOSE_TIMEOUT,
        })
    }

    /// Sets how long `close` waits for acknowledgements.
    pub fn with_close_timeout(mut self, timeout: Duration) -> KafkaSink {
        self.close_timeout = timeout;
        self
    }
}

impl Sink for KafkaSink {
    fn backlog(&self) -> u64 {
        self.producer.pending()
    }

    fn write(&self, record: &Record) -> Result<(), SinkError> {
        match self.producer.send(record.host.as_bytes(), &record.line) {
            // Queued, or spilled at once: stored somewhere either way.
            Ok(_) => Ok(()),
            Err(hmt_kafka::KafkaError::Closed) => {
                Err(SinkError::Closed(self.producer.url().to_string()))
            }
            Err(error) => Err(SinkError::Kafka(error.to_string())),
        }
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let url = self.producer.url().to_string();
        let report = self
            .producer
            .close(self.close_timeout)
            .map_err(|error| match error {
                hmt_kafka::KafkaError::Closed => SinkError::Closed(url.clone()),
                error => SinkError::Kafka(error.to_string()),
            })?;
        for error in &report.errors {
            if report.lost > 0 {
                tracing::error!(destination = %url, "{error}");
            } else {
                tracing::warn!(destination = %url, "{error}");
            }
        }
        Ok(SinkReport {
            destination: url,
            delivered: report.delivered,
            spilled: report.spilled,
            spill_destination: (report.spilled > 0)
                .then(|| report.spill_path.display().to_string()),
            lost: report.lost,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::thread;

    use super::*;

    const THREADS: usize = 8;
    const PER_THREAD: usize = 2_000;
    const HOSTS: [&str; 4] = ["api.example.com", "127.0.0.1:8080", "a b/c", "x.test"];

    /// The line thread `t` sends as its `i`th: its host, and a padding of
    /// varied length, every 250th one 100 KB.
    fn record(t: usize, i: usize) -> Record {
        let host = HOSTS[(t + i) % HOSTS.len()];
        let pad = if i % 250 == 7 {
            100 * 1024
        } else {
            (t * 7_919 + i * 104_729) % 3_000
        };
        let line = format!(
            "{{\"t\":{t},\"i\":{i},\"host\":{host:?},\"pad\":\"{}\"}}\n",
            "x".repeat(pad)
        );
        Record {
            host: host.to_string(),
            line: line.into_bytes(),
        }
    }

    /// 8 threads × 2,000 records, all at once.
    fn hammer(sink: &(dyn Sink + 'static)) {
        thread::scope(|scope| {
            for t in 0..THREADS {
                scope.spawn(move || {
                    for i in 0..PER_THREAD {
                        sink.write(&record(t, i)).unwrap();
                    }
                });
            }
        });
    }

    /// 8 threads × 2,000 records, in batches of 1 to 37, all at once.
    fn hammer_batches(sink: &(dyn Sink + 'static)) {
        thread::scope(|scope| {
            for t in 0..THREADS {
                scope.spawn(move || {
                    let mut i = 0;
                    while i < PER_THREAD {
                        let n = (1 + (t * 13 + i) % 37).min(PER_THREAD - i);
                        let batch: Vec<Record> = (i..i + n).map(|i| record(t, i)).collect();
                        sink.write_batch(&batch, &mut |r, e| panic!("{}: {e}", r.host));
                        i += n;
                    }
                });
            }
        });
    }

    /// Every line of `bytes` is whole JSON and exactly one of those sent
    /// (optionally: to `host`); returns their (t, i).
    fn check_lines(bytes: &[u8], host: Option<&str>, seen: &mut HashSet<(usize, usize)>) {
        assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "torn last line");
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let value: serde_json::Value = serde_json::from_slice(line)
                .unwrap_or_else(|e| panic!("torn line ({e}): {}", line.len()));
            let t = value["t"].as_u64().unwrap() as usize;
            let i = value["i"].as_u64().unwrap() as usize;
            let expected = record(t, i);
            assert_eq!(line, expected.line, "line {t}/{i} differs");
            if let Some(host) = host {
                assert_eq!(safe_host(&expected.host), safe_host(host));
            }
            assert!(seen.insert((t, i)), "line {t}/{i} twice");
        }
    }

    #[test]
    fn safe_host_keeps_letters_digits_dots_and_dashes() {
        assert_eq!(safe_host("127.0.0.1:8080"), "127.0.0.1_8080");
        assert_eq!(safe_host("api.example-1.com"), "api.example-1.com");
        assert_eq!(safe_host("[::1]:443"), "___1__443");
        assert_eq!(safe_host("a b/c"), "a_b_c");
        assert_eq!(safe_host("é"), "_");
        assert_eq!(safe_host(""), "no-host");
        let dir = tempfile::tempdir().unwrap();
        let files = HostFiles::new(dir.path()).unwrap();
        assert_eq!(
            files.path_for("127.0.0.1:8080"),
            dir.path().join("127.0.0.1_8080-recordings.jsonl")
        );
    }

    #[test]
    fn host_files_keep_every_line_whole_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs").join("nested");
        let files = HostFiles::new(&logs).unwrap();
        assert!(logs.is_dir());
        assert_eq!(
            std::fs::read_dir(&logs).unwrap().count(),
            0,
            "files are lazy"
        );

        hammer(&files);
        let report = files.close().unwrap();
        assert_eq!(
            report,
            SinkReport {
                destination: logs.display().to_string(),
                delivered: (THREADS * PER_THREAD) as u64,
                ..SinkReport::default()
            }
        );

        let mut seen = HashSet::new();
        let mut names: Vec<String> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "127.0.0.1_8080-recordings.jsonl",
                "a_b_c-recordings.jsonl",
                "api.example.com-recordings.jsonl",
                "x.test-recordings.jsonl"
            ]
        );
        for host in HOSTS {
            let bytes = std::fs::read(files.path_for(host)).unwrap();
            check_lines(&bytes, Some(host), &mut seen);
        }
        assert_eq!(seen.len(), THREADS * PER_THREAD);

        assert!(matches!(
            files.write(&record(0, 0)),
            Err(SinkError::Closed(_))
        ));
        assert!(matches!(files.close(), Err(SinkError::Closed(_))));
    }

    #[test]
    fn batches_keep_every_line_whole_and_in_order_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let files = HostFiles::new(&dir.path().join("logs")).unwrap();
        let out = OutputFile::create(&dir.path().join("all.jsonl")).unwrap();
        hammer_batches(&files);
        hammer_batches(&out);
        let total = (THREADS * PER_THREAD) as u64;
        assert_eq!(files.close().unwrap().delivered, total);
        assert_eq!(out.close().unwrap().delivered, total);

        // Each thread's lines appear in the order it wrote them.
        let in_order = |bytes: &[u8]| {
            let mut last = [None::<usize>; THREADS];
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                let value: serde_json::Value = serde_json::from_slice(line).unwrap();
                let t = value["t"].as_u64().unwrap() as usize;
                let i = value["i"].as_u64().unwrap() as usize;
                assert!(last[t].is_none_or(|l| l < i), "{t}/{i} out of order");
                last[t] = Some(i);
            }
        };
        let mut seen = HashSet::new();
        for host in HOSTS {
            let bytes = std::fs::read(files.path_for(host)).unwrap();
            check_lines(&bytes, Some(host), &mut seen);
            in_order(&bytes);
        }
        assert_eq!(seen.len(), THREADS * PER_THREAD);
        let bytes = std::fs::read(dir.path().join("all.jsonl")).unwrap();
        let mut seen = HashSet::new();
        check_lines(&bytes, None, &mut seen);
        in_order(&bytes);
        assert_eq!(seen.len(), THREADS * PER_THREAD);

        let mut refused = 0;
        files.write_batch(&[record(0, 0), record(0, 1)], &mut |_, e| {
            assert!(matches!(e, SinkError::Closed(_)));
            refused += 1;
        });
        assert_eq!(refused, 2);
    }

    #[test]
    fn host_files_append_to_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        // Threads 0 and 4 both start with api.example.com.
        for t in [0, 4] {
            let files = HostFiles::new(dir.path()).unwrap();
            files.write(&record(t, 0)).unwrap();
            assert_eq!(files.close().unwrap().delivered, 1);
        }
        let bytes = std::fs::read(dir.path().join("api.example.com-recordings.jsonl")).unwrap();
        let mut seen = HashSet::new();
        check_lines(&bytes, Some("api.example.com"), &mut seen);
        assert_eq!(seen, HashSet::from([(0, 0), (4, 0)]));
    }

    #[test]
    fn output_file_keeps_every_line_whole_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.jsonl");
        std::fs::write(&path, record(99, 99).line).unwrap();
        let out = OutputFile::create(&path).unwrap();

        hammer(&out);
        let report = out.close().unwrap();
        assert_eq!(report.destination, path.display().to_string());
        assert_eq!(report.delivered, (THREADS * PER_THREAD) as u64);
        assert_eq!((report.spilled, report.lost), (0, 0));

        let mut seen = HashSet::new();
        check_lines(&std::fs::read(&path).unwrap(), None, &mut seen);
        assert!(seen.remove(&(99, 99)), "appended, not truncated");
        assert_eq!(seen.len(), THREADS * PER_THREAD);

        assert!(matches!(
            out.write(&record(0, 0)),
            Err(SinkError::Closed(_))
        ));
        assert!(matches!(out.close(), Err(SinkError::Closed(_))));
    }

    #[test]
    fn output_file_errors_early_and_stdout_closes() {
        let dir = tempfile::tempdir().unwrap();
        let error = OutputFile::create(&dir.path().join("missing").join("x.jsonl")).unwrap_err();
        assert!(matches!(error, SinkError::Io { .. }), "{error}");

        let stdout = OutputFile::stdout();
        let report = stdout.close().unwrap();
        assert_eq!(report.destination, "stdout");
        assert_eq!(report.delivered, 0);
        assert!(matches!(
            stdout.write(&record(0, 0)),
            Err(SinkError::Closed(_))
        ));
    }

    #[test]
    fn host_files_count_failed_writes_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let files = HostFiles::new(dir.path()).unwrap();
        // A directory where the host's file should be: it cannot be opened.
        std::fs::create_dir(files.path_for("x.test")).unwrap();
        let bad = Record {
            host: "x.test".to_string(),
            line: b"{}\n".to_vec(),
        };
        assert!(matches!(files.write(&bad), Err(SinkError::Io { .. })));
        files.write(&record(0, 0)).unwrap();
        let report = files.close().unwrap();
        assert_eq!((report.delivered, report.lost), (1, 1));
        assert_eq!(
            report.to_string(),
            format!("{}: 1 delivered, 1 LOST", dir.path().display())
        );
    }

    mod kafka {
        use std::time::{Duration, Instant};

        use hmt_kafka::rdkafka::mocking::MockCluster;

        use super::*;

        fn records(count: usize) -> Vec<Record> {
            (0..count).map(|i| record(i % THREADS, i)).collect()
        }

        fn sorted(mut lines: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
            lines.sort();
            lines
        }

        #[test]
        fn records_reach_the_topic_keyed_by_host() {
            let cluster = MockCluster::new(3).unwrap();
            cluster.create_topic("recordings", 3, 1).unwrap();
            let url = KafkaUrl::parse(&format!(
                "kafka://{}/recordings",
                cluster.bootstrap_servers()
            ))
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let spill = dir.path().join("spill.jsonl");
            let sink = KafkaSink::new(&url, &[], &spill, 10_000).unwrap();
            let sent = records(300);
            for record in &sent {
                sink.write(record).unwrap();
            }
            let report = sink.close().unwrap();
            assert_eq!(
                report,
                SinkReport {
                    destination: url.to_string(),
                    delivered: 300,
                    ..SinkReport::default()
                }
            );
            assert!(!spill.exists());
            assert!(matches!(sink.write(&sent[0]), Err(SinkError::Closed(_))));

            let mut read = Vec::new();
            hmt_kafka::read_topic(&url, None, &[], Duration::from_secs(10), |_, value| {
                read.push(value.to_vec());
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap();
            assert_eq!(
                sorted(read),
                sorted(sent.into_iter().map(|r| r.line).collect())
            );
        }

        #[test]
        fn with_kafka_unreachable_records_are_spilled_and_reported() {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let url = KafkaUrl::parse(&format!("kafka://127.0.0.1:{port}/recordings")).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let spill = dir.path().join("spill.jsonl");
            let sink = KafkaSink::new(&url, &[], &spill, 100)
                .unwrap()
                .with_close_timeout(Duration::from_millis(300));
            let sent = records(500);
            let started = Instant::now();
            for record in &sent {
                sink.write(record).unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(1));
            let report = sink.close().unwrap();
            assert_eq!(
                report,
                SinkReport {
                    destination: url.to_string(),
                    delivered: 0,
                    spilled: 500,
                    spill_destination: Some(spill.display().to_string()),
                    lost: 0,
                }
            );
            let bytes = std::fs::read(&spill).unwrap();
            let mut seen = HashSet::new();
            check_lines(&bytes, None, &mut seen);
            assert_eq!(seen.len(), 500);
        }

        #[test]
        fn a_bad_librdkafka_option_is_an_error_at_creation() {
            let url = KafkaUrl::parse("kafka://localhost:9092/t").unwrap();
            let options = [("no.such.setting".to_string(), "1".to_string())];
            let dir = tempfile::tempdir().unwrap();
            let error = KafkaSink::new(&url, &options, &dir.path().join("s"), 10)
                .err()
                .unwrap();
            assert!(matches!(error, SinkError::Kafka(_)), "{error}");
            assert!(error.to_string().contains("no.such.setting"), "{error}");
        }
    }
}
