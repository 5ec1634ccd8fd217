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
//!   concurrency. A write that fails part-way (a full disk) is cut back to
//!   the last whole line, and exactly the records that did not make it are
//!   reported failed and counted lost.
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
//! - [`HarFile`] writes every record as an entry of one HAR 1.2 file.
//! - `KafkaSink` produces one message per record (key = host) on a topic, with a
//!   spill file for what Kafka cannot take (cargo feature `kafka`, on by
//!   default: it links librdkafka).
//!
//! The file sinks write each batch of lines straight to the file descriptor
//! with one `write`, without a `BufWriter`: when `write` or
//! `write_batch` returns, the lines are in the kernel (the page cache), so a
//! proxy that crashes or is killed loses nothing it reported written, and
//! another process tailing the file sees whole lines as they come. The
//! recorder batches whatever has queued up since its last write, so under
//! load one system call carries dozens of lines, and when traffic is light
//! the call per line does not matter. Only power loss can take lines that
//! `close` has not yet synced.

use hmt_types::sync::lock;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[cfg(feature = "kafka")]
use hmt_kafka::{KafkaUrl, Producer, SpillTarget};
#[cfg(feature = "kafka")]
use std::time::Duration;

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

    /// Where records go, for messages: a directory, a file, a topic URL.
    fn destination(&self) -> String;

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

/// A host made safe as a file name, as HMT named its files; see
/// [`hmt_types::file_safe_host`].
pub fn safe_host(host: &str) -> String {
    hmt_types::file_safe_host(host)
}

/// `lines` end to end: borrowed when there is one, else copied into one
/// buffer, for a single `write`.
fn joined<'a>(lines: &[&'a [u8]]) -> Cow<'a, [u8]> {
    match lines {
        [line] => Cow::Borrowed(line),
        _ => Cow::Owned(lines.concat()),
    }
}

/// How many of `lines`, from the first, lie wholly within the first
/// `written` bytes of their concatenation, and where the last of them ends.
fn whole_lines(lines: &[&[u8]], written: usize) -> (usize, usize) {
    let mut end = 0;
    for (count, line) in lines.iter().enumerate() {
        if end + line.len() > written {
            return (count, end);
        }
        end += line.len();
    }
    (lines.len(), end)
}

/// Writes all of `bytes` at the file's end, a `write` at a time, and says
/// how many bytes went in before the error, if there was one. Unlike
/// `write_all`, this knows how much a failed write left behind (a disk
/// that fills up part-way through takes what fits and then refuses).
fn write_counted(file: &mut File, bytes: &[u8]) -> (usize, Option<std::io::Error>) {
    let mut written = 0;
    while written < bytes.len() {
        match file.write(&bytes[written..]) {
            Ok(0) => {
                let error =
                    std::io::Error::new(ErrorKind::WriteZero, "the file took no more bytes");
                return (written, Some(error));
            }
            Ok(n) => written += n,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return (written, Some(error)),
        }
    }
    (written, None)
}

/// A file opened for appending whole lines, and what a failed write left
/// at its end.
struct AppendFile {
    file: File,
    /// Bytes of a partial line at the end of the file that could not be
    /// cut off yet; cut off before anything else is written, so a new
    /// line never continues a fragment.
    torn: u64,
    /// Written since it was opened (so worth syncing when closed).
    dirty: bool,
}

impl AppendFile {
    fn new(file: File) -> AppendFile {
        AppendFile {
            file,
            torn: 0,
            dirty: false,
        }
    }

    /// Appends `lines` with one `write` (more only if the kernel takes them
    /// in parts), all or a prefix of whole lines: when a write fails
    /// part-way (the disk is full, the file too big), the partial line is
    /// cut off again, so the file only ever holds whole lines. Returns how
    /// many lines were stored, and the error when not all were.
    fn append(&mut self, lines: &[&[u8]]) -> (usize, Option<std::io::Error>) {
        if let Err(error) = self.cut_torn() {
            return (0, Some(error));
        }
        let bytes = joined(lines);
        self.dirty = true;
        let (written, error) = write_counted(&mut self.file, &bytes);
        let Some(error) = error else {
            return (lines.len(), None);
        };
        let (stored, end) = whole_lines(lines, written);
        self.torn = (written - end) as u64;
        match self.cut_torn() {
            Ok(()) => (stored, Some(error)),
            Err(cut) => (
                stored,
                Some(std::io::Error::new(
                    error.kind(),
                    format!(
                        "{error}; the {} bytes of the line written in part are still at the \
                         end of the file ({cut}), and are cut off before the next write",
                        self.torn
                    ),
                )),
            ),
        }
    }

    /// Cuts a partial line off the end of the file. The file is in append
    /// mode, so its end is the end of what this sink wrote, fragment
    /// included: the fragment is the last `torn` bytes.
    fn cut_torn(&mut self) -> std::io::Result<()> {
        if self.torn == 0 {
            return Ok(());
        }
        let len = self.file.metadata()?.len();
        self.file.set_len(len.saturating_sub(self.torn))?;
        self.torn = 0;
        Ok(())
    }
}

/// One file written a line at a time under its own lock.
struct LineFile {
    path: PathBuf,
    state: Mutex<FileState>,
}

enum FileState {
    /// Not opened yet: files are created on their first line.
    Unopened,
    Open(AppendFile),
    /// Synced and closed by `close`; writes are refused.
    Closed,
}

/// Lines that were not all stored: how many were (from the first), and why
/// the rest were not.
struct Partial {
    stored: usize,
    error: SinkError,
}

impl LineFile {
    fn new(path: PathBuf) -> LineFile {
        LineFile {
            path,
            state: Mutex::new(FileState::Unopened),
        }
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Appends `lines` under the file's lock, opening the file first if
    /// needed (see [`AppendFile::append`]). What was stored is counted in
    /// `delivered` before the lock is released, so `close` (which takes
    /// every file's lock) sees every line it synced counted.
    fn append(&self, lines: &[&[u8]], delivered: &AtomicU64) -> Result<(), Partial> {
        let mut state = lock(&self.state);
        if matches!(*state, FileState::Unopened) {
            let file = open_append(&self.path).map_err(|e| Partial {
                stored: 0,
                error: self.io_error(e),
            })?;
            *state = FileState::Open(AppendFile::new(file));
        }
        // Unopened cannot be left by now; Closed refuses.
        let FileState::Open(file) = &mut *state else {
            return Err(Partial {
                stored: 0,
                error: SinkError::Closed(self.path.display().to_string()),
            });
        };
        let (stored, error) = file.append(lines);
        delivered.fetch_add(stored as u64, Ordering::SeqCst);
        match error {
            None => Ok(()),
            Some(error) => Err(Partial {
                stored,
                error: self.io_error(error),
            }),
        }
    }

    /// Whether the file may be closed to make room (not when a partial line
    /// still has to be cut off its end: only this handle knows how long it
    /// is), and if so, whether closing it frees a handle.
    fn retirable(&self) -> Option<bool> {
        match &*lock(&self.state) {
            FileState::Open(file) => (file.torn == 0).then_some(true),
            FileState::Unopened | FileState::Closed => Some(false),
        }
    }

    /// Closes the handle without syncing; whether lines were written
    /// through it since it was opened.
    fn retire(&self) -> bool {
        match std::mem::replace(&mut *lock(&self.state), FileState::Closed) {
            FileState::Open(file) => file.dirty,
            FileState::Unopened | FileState::Closed => false,
        }
    }

    /// Syncs the file to disk and refuses further writes.
    fn close(&self) -> Result<(), SinkError> {
        let mut state = lock(&self.state);
        let result = match &*state {
            FileState::Open(file) => file.file.sync_all().map_err(|e| self.io_error(e)),
            FileState::Unopened | FileState::Closed => Ok(()),
        };
        *state = FileState::Closed;
        result
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The process (EMFILE) or the system (ENFILE) has no file handle left:
/// closing one of ours may let the open succeed.
fn out_of_handles(error: &SinkError) -> bool {
    // The same numbers on Linux, the BSDs and macOS.
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(error, SinkError::Io { source, .. }
        if matches!(source.raw_os_error(), Some(ENFILE | EMFILE)))
}

/// One `<safe-host>-recordings.jsonl` per upstream host, in one directory.
///
/// Files are opened on their host's first record, in append mode (a second
/// run adds to the same files), and each has its own lock, so exchanges
/// with different hosts never wait for each other. Hosts that map to the
/// same safe name share the file (and its lock).
///
/// # Handles
///
/// At most `max_open` files are kept open ([`HostFiles::DEFAULT_MAX_OPEN`]
/// unless [`with_max_open`](HostFiles::with_max_open) says otherwise): a
/// proxy that sees many hosts would otherwise run out of file handles and
/// stop accepting connections. When a new host needs a file, the one used
/// least recently is closed and reopened, in append mode, when its host
/// comes back. Only a file no writer is using is closed, so the bound can
/// be passed by the number of writers at once (the recorder has one
/// thread), and a line is never torn by a close. When opening fails
/// because the process is out of handles anyway (connections took them),
/// one more idle file is closed and the open tried again.
///
/// Closing a file to make room does not sync it (that would be a disk
/// flush for every switch between hosts); its lines are in the kernel, safe
/// if the proxy dies, and `close` syncs it with the others (reopening it
/// for that; past [`MAX_UNSYNCED`] such files, they are synced as they are
/// closed instead).
///
/// # Write errors
///
/// A write that fails part-way (the disk full, a file-size limit) leaves
/// whole lines or nothing: the partial line is cut off at once, the
/// records written before it count as delivered and the rest as lost, and
/// once there is room again the next records are written as usual, each on
/// its own line. (Cutting assumes no other process appends to the file: the
/// last bytes of the file are taken to be this sink's fragment.)
pub struct HostFiles {
    dir: PathBuf,
    max_open: usize,
    /// The open files; `None` once closed. Held only to look a file up (or
    /// add or retire one), never while writing.
    open: Mutex<Option<OpenFiles>>,
    /// Files closed to make room, written to but not yet synced.
    unsynced: Mutex<HashSet<PathBuf>>,
    delivered: AtomicU64,
    lost: AtomicU64,
}

/// How many files closed to make room `close` will reopen to sync; past
/// that, a file is synced as it is closed. Bounds the memory kept for them.
pub const MAX_UNSYNCED: usize = 4096;

/// The files [`HostFiles`] has open, by safe name, with the time of their
/// last use.
struct OpenFiles {
    files: HashMap<String, Slot>,
    /// Ticks with every look-up; the least recently used file has the
    /// smallest `used`.
    clock: u64,
}

struct Slot {
    file: Arc<LineFile>,
    used: u64,
}

impl OpenFiles {
    /// Takes out the least recently used file that no writer holds (only
    /// this map does, and it is the only place files are handed out from)
    /// and that can be closed now; with `frees_handle`, only one whose
    /// closing frees a handle.
    fn take_idle(&mut self, frees_handle: bool) -> Option<Arc<LineFile>> {
        let name = self
            .files
            .iter()
            .filter(|(_, slot)| {
                Arc::strong_count(&slot.file) == 1
                    && slot
                        .file
                        .retirable()
                        .is_some_and(|frees| frees || !frees_handle)
            })
            .min_by_key(|(_, slot)| slot.used)
            .map(|(name, _)| name.clone())?;
        self.files.remove(&name).map(|slot| slot.file)
    }
}

impl HostFiles {
    /// How many host files are kept open unless
    /// [`with_max_open`](HostFiles::with_max_open) says otherwise: a small
    /// part of the usual limit of 1024 handles per process, the rest left
    /// for connections, and more hosts than most recordings see.
    pub const DEFAULT_MAX_OPEN: usize = 64;

    /// Creates `dir` (and its parents) if needed.
    pub fn new(dir: &Path) -> Result<HostFiles, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(HostFiles {
            dir: dir.to_path_buf(),
            max_open: HostFiles::DEFAULT_MAX_OPEN,
            open: Mutex::new(Some(OpenFiles {
                files: HashMap::new(),
                clock: 0,
            })),
            unsynced: Mutex::new(HashSet::new()),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        })
    }

    /// Keeps at most `max_open` files open (at least one).
    pub fn with_max_open(mut self, max_open: usize) -> HostFiles {
        self.max_open = max_open.max(1);
        self
    }

    /// The file a host's records go to.
    pub fn path_for(&self, host: &str) -> PathBuf {
        self.dir
            .join(format!("{}-recordings.jsonl", safe_host(host)))
    }

    /// The file for `host`'s records, created (not opened) on first use,
    /// after closing the least recently used one if `max_open` are open.
    fn file_for(&self, host: &str) -> Result<Arc<LineFile>, SinkError> {
        let name = safe_host(host);
        let (file, retired) = {
            let mut open = lock(&self.open);
            let open = open
                .as_mut()
                .ok_or_else(|| SinkError::Closed(self.dir.display().to_string()))?;
            open.clock += 1;
            let now = open.clock;
            if let Some(slot) = open.files.get_mut(&name) {
                slot.used = now;
                return Ok(Arc::clone(&slot.file));
            }
            let retired = if open.files.len() >= self.max_open {
                open.take_idle(false)
            } else {
                None
            };
            let file = Arc::new(LineFile::new(self.path_for(host)));
            let slot = Slot {
                file: Arc::clone(&file),
                used: now,
            };
            open.files.insert(name, slot);
            (file, retired)
        };
        // Closed outside the map's lock: other hosts need not wait for it.
        if let Some(retired) = retired {
            self.retire(&retired);
        }
        Ok(file)
    }

    /// Closes the least recently used idle file that holds a handle;
    /// whether there was one.
    fn retire_idle(&self) -> bool {
        let idle = lock(&self.open)
            .as_mut()
            .and_then(|open| open.take_idle(true));
        match idle {
            Some(file) => {
                self.retire(&file);
                true
            }
            None => false,
        }
    }

    /// Closes a file taken out of the map, remembering to sync it at
    /// `close` (or syncing it now, when too many wait).
    fn retire(&self, file: &LineFile) {
        if !file.retire() {
            return;
        }
        let mut unsynced = lock(&self.unsynced);
        if unsynced.len() < MAX_UNSYNCED {
            unsynced.insert(file.path.clone());
            return;
        }
        drop(unsynced);
        if let Err(error) = File::open(&file.path).and_then(|f| f.sync_all()) {
            tracing::warn!(path = %file.path.display(), %error, "could not sync a recording file");
        }
    }

    /// Appends `lines` (all for `host`) to its file. Out of file handles,
    /// an idle file is closed and the open tried once more.
    fn append(&self, host: &str, lines: &[&[u8]]) -> Result<(), Partial> {
        let partial = |error| Partial { stored: 0, error };
        let file = self.file_for(host).map_err(partial)?;
        match file.append(lines, &self.delivered) {
            Err(failed) if failed.stored == 0 && out_of_handles(&failed.error) => {
                drop(file);
                if !self.retire_idle() {
                    return Err(failed);
                }
                self.file_for(host)
                    .map_err(partial)?
                    .append(lines, &self.delivered)
            }
            result => result,
        }
    }

    /// Lines not written count as lost, unless the sink was closed.
    fn count_lost(&self, error: &SinkError, lines: usize) {
        if !matches!(error, SinkError::Closed(_)) {
            self.lost.fetch_add(lines as u64, Ordering::SeqCst);
        }
    }
}

impl fmt::Debug for HostFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFiles")
            .field("dir", &self.dir)
            .field("max_open", &self.max_open)
            .finish_non_exhaustive()
    }
}

impl Sink for HostFiles {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.append(&record.host, &[&record.line])
            .map_err(|failed| {
                self.count_lost(&failed.error, 1);
                failed.error
            })
    }

    /// One `write` per host file: the batch's lines for it, in order.
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
            let lines: Vec<&[u8]> = group.iter().map(|r| &r.line[..]).collect();
            if let Err(partial) = self.append(&first.host, &lines) {
                let not_stored = &group[partial.stored..];
                self.count_lost(&partial.error, not_stored.len());
                for record in not_stored {
                    failed(record, &partial.error);
                }
            }
        }
    }

    fn destination(&self) -> String {
        format!("{}/", self.dir.display())
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let open = lock(&self.open)
            .take()
            .ok_or_else(|| SinkError::Closed(self.dir.display().to_string()))?;
        // Every file is closed even if one fails to sync; the first error
        // is the one returned.
        let mut first_error = None;
        for slot in open.files.values() {
            if let Err(error) = slot.file.close() {
                first_error.get_or_insert(error);
            }
        }
        let open_paths: HashSet<&Path> = open.files.values().map(|s| &*s.file.path).collect();
        for path in lock(&self.unsynced).drain() {
            if open_paths.contains(&*path) {
                continue; // synced above, through its open handle
            }
            if let Err(source) = File::open(&path).and_then(|f| f.sync_all()) {
                first_error.get_or_insert(SinkError::Io {
                    path: path.display().to_string(),
                    source,
                });
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
///
/// A file keeps whole lines only, as [`HostFiles`] does: a write that
/// fails part-way has its partial line cut off. Stdout (a pipe, a
/// terminal) cannot take bytes back: there, a line written in part stays
/// torn for the reader, counts as lost, and the next record is preceded by
/// a newline, so that it starts a line of its own and the reader loses
/// only the torn one.
pub struct OutputFile {
    name: String,
    out: Mutex<Output>,
    delivered: AtomicU64,
    lost: AtomicU64,
}

enum Output {
    File(AppendFile),
    /// Written through its own handle (a duplicate of descriptor 1), a
    /// `write` at a time, under our lock and the process's stdout lock:
    /// std's line-buffered `Stdout` would not say how much of a failed
    /// write got out. Each line reaches the pipe as soon as it is written,
    /// so a tool reading it sees each exchange as it happens.
    Stdout {
        stdout: std::io::Stdout,
        fd: File,
        /// The last write stopped inside a line.
        torn: bool,
    },
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
            Output::File(AppendFile::new(file)),
        ))
    }

    /// Standard output.
    pub fn stdout() -> Result<OutputFile, SinkError> {
        let stdout = std::io::stdout();
        let fd = stdout
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| SinkError::Io {
                path: "stdout".to_string(),
                source,
            })?;
        Ok(OutputFile::with(
            "stdout".to_string(),
            Output::Stdout {
                stdout,
                fd: File::from(fd),
                torn: false,
            },
        ))
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

/// Writes `lines` to a stream that cannot be cut back (stdout); see
/// [`OutputFile`].
fn append_to_stream(
    stdout: &std::io::Stdout,
    fd: &mut File,
    torn: &mut bool,
    lines: &[&[u8]],
) -> (usize, Option<std::io::Error>) {
    let mut stdout = stdout.lock();
    // Whatever else went to stdout through std goes out first.
    if let Err(error) = stdout.flush() {
        return (0, Some(error));
    }
    if *torn {
        match write_counted(fd, b"\n") {
            (_, Some(error)) => return (0, Some(error)),
            (_, None) => *torn = false,
        }
    }
    let bytes = joined(lines);
    let (written, error) = write_counted(fd, &bytes);
    let (stored, end) = whole_lines(lines, written);
    *torn = written > end;
    (stored, error)
}

impl OutputFile {
    /// Writes `lines` under the lock, and counts them: how many were
    /// stored, and why the rest were not.
    fn append(&self, lines: &[&[u8]]) -> Result<(), Partial> {
        let mut out = lock(&self.out);
        let (stored, error) = match &mut *out {
            Output::File(file) => file.append(lines),
            Output::Stdout { stdout, fd, torn } => append_to_stream(stdout, fd, torn, lines),
            Output::Closed => {
                return Err(Partial {
                    stored: 0,
                    error: SinkError::Closed(self.name.clone()),
                });
            }
        };
        self.delivered.fetch_add(stored as u64, Ordering::SeqCst);
        match error {
            None => Ok(()),
            Some(source) => {
                self.lost
                    .fetch_add((lines.len() - stored) as u64, Ordering::SeqCst);
                Err(Partial {
                    stored,
                    error: self.io_error(source),
                })
            }
        }
    }
}

impl Sink for OutputFile {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        self.append(&[&record.line]).map_err(|failed| failed.error)
    }

    /// Every line of the batch in one `write`.
    fn write_batch(&self, records: &[Record], failed: &mut dyn FnMut(&Record, &SinkError)) {
        if records.is_empty() {
            return;
        }
        let lines: Vec<&[u8]> = records.iter().map(|r| &r.line[..]).collect();
        if let Err(partial) = self.append(&lines) {
            for record in &records[partial.stored..] {
                failed(record, &partial.error);
            }
        }
    }

    fn destination(&self) -> String {
        self.name.clone()
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let mut out = lock(&self.out);
        let done = match std::mem::replace(&mut *out, Output::Closed) {
            Output::File(file) => file.file.sync_all(),
            Output::Stdout { stdout, .. } => stdout.lock().flush(),
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

/// Every record as an entry of one HAR 1.2 file (see [`hmt_types::har`]).
///
/// HAR is one JSON document, so it cannot be appended to line by line:
/// the file always ends with the document's trailer
/// ([`hmt_types::har::TRAILER`], `]}}`), and each batch is written over
/// it, its entries (one per line) followed by the trailer again, with one
/// positioned write. Between batches the file is a complete HAR document,
/// whatever happens to the recorder; a crash (or `kill -9`) during a
/// write leaves the complete entries and one cut short, which hmt's HAR
/// reader reads, with a warning.
///
/// A write that fails (a full disk) is undone: the file is cut back to
/// where the batch began and the trailer written again, and every record
/// of the batch counts as lost.
///
/// An existing file that hmt wrote (one that ends with the trailer) is
/// added to, as [`OutputFile`] appends; any other existing file is refused
/// at start, never overwritten.
///
/// Records are the http-types lines every sink gets; this sink parses
/// each back into an exchange to write its entry, the one sink that
/// serialises again.
pub struct HarFile {
    name: String,
    state: Mutex<HarState>,
    delivered: AtomicU64,
    lost: AtomicU64,
}

enum HarState {
    Open {
        file: File,
        /// Where the trailer starts: the next entry is written here.
        end: u64,
        /// Whether an entry precedes the trailer (the next needs a comma).
        has_entries: bool,
    },
    Closed,
}

impl HarFile {
    /// Opens `path`, creating it as an empty HAR document, or adding to it
    /// when hmt wrote it before; see [`HarFile`].
    pub fn create(path: &Path) -> Result<HarFile, SinkError> {
        use hmt_types::har::{HEADER, TRAILER};
        use std::os::unix::fs::FileExt;
        let name = path.display().to_string();
        let io = |source| SinkError::Io {
            path: name.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let trailer = TRAILER.len() as u64;
        let (end, has_entries) = if len == 0 {
            file.write_all_at(format!("{HEADER}{TRAILER}").as_bytes(), 0)
                .map_err(io)?;
            (HEADER.len() as u64, false)
        } else {
            let mut start = [0u8; 8];
            let mut tail = vec![0u8; TRAILER.len() + 1];
            let ours = len > trailer
                && file.read_exact_at(&mut start, 0).is_ok()
                && start.starts_with(b"{\"log\":")
                && file.read_exact_at(&mut tail, len - trailer - 1).is_ok()
                && tail[1..] == *TRAILER.as_bytes();
            if !ours {
                return Err(io(std::io::Error::new(
                    ErrorKind::AlreadyExists,
                    "exists and is not a complete HAR file hmt wrote, so it cannot be added \
                     to; move it away or name another file",
                )));
            }
            (len - trailer, tail[0] != b'[')
        };
        Ok(HarFile {
            name,
            state: Mutex::new(HarState::Open {
                file,
                end,
                has_entries,
            }),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        })
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.name.clone(),
            source,
        }
    }
}

impl fmt::Debug for HarFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HarFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Sink for HarFile {
    fn write(&self, record: &Record) -> Result<(), SinkError> {
        let mut error = None;
        self.write_batch(std::slice::from_ref(record), &mut |_, e| {
            // The one record's error, as it was (errors are not `Clone`).
            error = Some(match e {
                SinkError::Io { path, source } => SinkError::Io {
                    path: path.clone(),
                    source: std::io::Error::new(source.kind(), source.to_string()),
                },
                SinkError::Kafka(message) => SinkError::Kafka(message.clone()),
                SinkError::Closed(name) => SinkError::Closed(name.clone()),
            });
        });
        error.map_or(Ok(()), Err)
    }

    /// The batch's entries and the trailer in one positioned write.
    fn write_batch(&self, records: &[Record], failed: &mut dyn FnMut(&Record, &SinkError)) {
        use hmt_types::har::{FIRST_SEPARATOR, SEPARATOR, TRAILER};
        use std::os::unix::fs::FileExt;
        let mut state = lock(&self.state);
        let HarState::Open {
            file,
            end,
            has_entries,
        } = &mut *state
        else {
            let closed = SinkError::Closed(self.name.clone());
            for record in records {
                failed(record, &closed);
            }
            return;
        };
        let mut bytes = Vec::with_capacity(records.iter().map(|r| r.line.len() + 512).sum());
        let mut written = Vec::with_capacity(records.len());
        for record in records {
            let line = record.line.strip_suffix(b"\n").unwrap_or(&record.line);
            match hmt_types::Exchange::from_json_slice(line) {
                Ok(exchange) => {
                    let first = !*has_entries && written.is_empty();
                    bytes.extend_from_slice(
                        if first { FIRST_SEPARATOR } else { SEPARATOR }.as_bytes(),
                    );
                    exchange.write_har_entry(&mut bytes);
                    written.push(record);
                }
                Err(hmt_types::InvalidExchange { pointer, message }) => {
                    self.lost.fetch_add(1, Ordering::SeqCst);
                    let source = std::io::Error::new(
                        ErrorKind::InvalidData,
                        format!("not an http-types line (at {pointer:?}: {message})"),
                    );
                    failed(record, &self.io_error(source));
                }
            }
        }
        if written.is_empty() {
            return;
        }
        let entries = bytes.len() as u64;
        bytes.extend_from_slice(TRAILER.as_bytes());
        match file.write_all_at(&bytes, *end) {
            Ok(()) => {
                *end += entries;
                *has_entries = true;
                self.delivered
                    .fetch_add(written.len() as u64, Ordering::SeqCst);
            }
            Err(error) => {
                // Back to the document as it was before this batch.
                let undone = file
                    .set_len(*end)
                    .and_then(|()| file.write_all_at(TRAILER.as_bytes(), *end));
                let error = match undone {
                    Ok(()) => error,
                    Err(undo) => std::io::Error::new(
                        error.kind(),
                        format!(
                            "{error}; the entries written in part could not be cut off \
                             ({undo}): the file ends inside an entry"
                        ),
                    ),
                };
                self.lost.fetch_add(written.len() as u64, Ordering::SeqCst);
                let error = self.io_error(error);
                for record in written {
                    failed(record, &error);
                }
            }
        }
    }

    fn destination(&self) -> String {
        self.name.clone()
    }

    fn close(&self) -> Result<SinkReport, SinkError> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, HarState::Closed) {
            HarState::Open { file, .. } => {
                file.sync_all().map_err(|e| self.io_error(e))?;
            }
            HarState::Closed => return Err(SinkError::Closed(self.name.clone())),
        }
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
#[cfg(feature = "kafka")]
#[derive(Debug)]
pub struct KafkaSink {
    producer: Producer,
    close_timeout: Duration,
}

#[cfg(feature = "kafka")]
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

#[cfg(feature = "kafka")]
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

    fn destination(&self) -> String {
        self.producer.url().to_string()
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

        let stdout = OutputFile::stdout().unwrap();
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

    /// The handles this process has open on files in `dir`.
    fn handles_in(dir: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    }

    #[test]
    fn host_files_keep_at_most_max_open_handles_and_every_line() {
        const HOSTS: usize = 20;
        const ROUNDS: usize = 5;
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let files = HostFiles::new(&dir).unwrap().with_max_open(3);
        let host = |h: usize| format!("127.0.0.1:{}", 9000 + h);
        // Round after round over every host: each new file needs one of
        // the three handles, so they keep being closed and reopened.
        let mut most = 0;
        for round in 0..ROUNDS {
            for h in 0..HOSTS {
                let line = format!("{{\"host\":{h},\"round\":{round}}}\n");
                files
                    .write(&Record {
                        host: host(h),
                        line: line.into_bytes(),
                    })
                    .unwrap();
                most = most.max(handles_in(&dir));
            }
        }
        // Two names for one file share it, open or not.
        files
            .write(&Record {
                host: "127.0.0.1_9000".into(),
                line: b"{\"host\":0,\"round\":99}\n".to_vec(),
            })
            .unwrap();
        assert_eq!(most, 3, "at most 3 files open at once");
        let report = files.close().unwrap();
        assert_eq!(
            (report.delivered, report.lost),
            ((HOSTS * ROUNDS + 1) as u64, 0)
        );
        assert_eq!(handles_in(&dir), 0, "close closes every file");
        for h in 0..HOSTS {
            let text = std::fs::read_to_string(files.path_for(&host(h))).unwrap();
            let mut want: String = (0..ROUNDS)
                .map(|round| format!("{{\"host\":{h},\"round\":{round}}}\n"))
                .collect();
            if h == 0 {
                want.push_str("{\"host\":0,\"round\":99}\n");
            }
            assert_eq!(text, want, "host {h}'s file");
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), HOSTS);
    }

    /// Out of file handles (the proxy's connections took them) while under
    /// `max_open`, a host file is still opened: an idle one is closed to
    /// make room. Runs in a child process of its own, since it lowers the
    /// handle limit of the process it runs in.
    #[test]
    fn host_files_make_room_when_the_process_is_out_of_handles() {
        const CHILD: &str = "HMT_SINK_OUT_OF_HANDLES_CHILD";
        if std::env::var_os(CHILD).is_none() {
            let name = "sink::tests::host_files_make_room_when_the_process_is_out_of_handles";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "the child failed:\n{text}");
            assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
            return;
        }

        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let files = HostFiles::new(&dir).unwrap().with_max_open(8);
        let record = |host: &str, n: usize| Record {
            host: host.to_string(),
            line: format!("{{\"host\":{host:?},\"n\":{n}}}\n").into_bytes(),
        };
        files.write(&record("a.test", 1)).unwrap();
        files.write(&record("b.test", 1)).unwrap();
        assert_eq!(handles_in(&dir), 2);

        // No handle left: a limit just above the highest in use, and every
        // free number below it taken.
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| fd.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let status = std::process::Command::new("prlimit")
            .args([
                "--pid",
                &std::process::id().to_string(),
                &format!("--nofile={}:", highest + 1),
            ])
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success());
        let mut taken = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(file) => taken.push(file),
                Err(error) if error.raw_os_error() == Some(24) => break,
                Err(error) => panic!("{error}"),
            }
            assert!(taken.len() < 10_000, "the limit did not apply");
        }

        // Each new file closes the idle one used least recently.
        files.write(&record("c.test", 1)).unwrap();
        files.write(&record("a.test", 2)).unwrap();
        drop(taken);
        assert_eq!(handles_in(&dir), 2);
        let report = files.close().unwrap();
        assert_eq!((report.delivered, report.lost), (4, 0));
        let read = |host| std::fs::read_to_string(files.path_for(host)).unwrap();
        assert_eq!(
            read("a.test"),
            "{\"host\":\"a.test\",\"n\":1}\n{\"host\":\"a.test\",\"n\":2}\n"
        );
        assert_eq!(read("b.test"), "{\"host\":\"b.test\",\"n\":1}\n");
        assert_eq!(read("c.test"), "{\"host\":\"c.test\",\"n\":1}\n");
    }

    /// An http-types line for `/n`.
    fn exchange_line(n: usize) -> Record {
        Record {
            host: "api.example.com".into(),
            line: format!(
                "{{\"request\":{{\"method\":\"get\",\"protocol\":\"https\",\"host\":\"api.example.com\",\"path\":\"/{n}\"}},\"response\":{{\"statusCode\":200,\"body\":\"{n}\"}}}}\n"
            )
            .into_bytes(),
        }
    }

    fn har_paths(path: &Path) -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{} is not one JSON document: {e}", path.display()));
        doc["log"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["request"]["url"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn har_file_is_a_complete_document_after_every_write_and_is_added_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.har");
        let har = HarFile::create(&path).unwrap();
        assert!(
            har_paths(&path).is_empty(),
            "a valid, empty HAR from the start"
        );
        har.write(&exchange_line(0)).unwrap();
        assert_eq!(har_paths(&path), ["https://api.example.com/0"]);
        let bad = Record {
            host: "x".into(),
            line: b"{\"nope\":1}\n".to_vec(),
        };
        let mut failed = Vec::new();
        har.write_batch(
            &[exchange_line(1), bad, exchange_line(2)],
            &mut |record, error| failed.push((record.host.clone(), error.to_string())),
        );
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].1.contains("not an http-types line"), "{failed:?}");
        assert_eq!(har_paths(&path).len(), 3);
        let report = har.close().unwrap();
        assert_eq!((report.delivered, report.lost), (3, 1));
        assert!(matches!(
            har.write(&exchange_line(9)),
            Err(SinkError::Closed(_))
        ));

        // Opened again: added to, entry after entry.
        let har = HarFile::create(&path).unwrap();
        har.write(&exchange_line(3)).unwrap();
        har.close().unwrap();
        let paths = har_paths(&path);
        assert_eq!(paths.len(), 4);
        assert_eq!(paths[3], "https://api.example.com/3");

        // Anything else that exists is refused and left alone.
        for text in [
            "",
            "{\"log\":{\"entries\":[]}}",
            "{\"log\":{\"entries\":[\n{}",
        ] {
            let other = dir.path().join("other.har");
            std::fs::write(&other, text).unwrap();
            if text.is_empty() {
                HarFile::create(&other).unwrap().close().unwrap();
                assert!(
                    har_paths(&other).is_empty(),
                    "an empty file becomes an empty HAR"
                );
                continue;
            }
            let error = HarFile::create(&other).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("not a complete HAR file hmt wrote"),
                "{error}"
            );
            assert_eq!(std::fs::read_to_string(&other).unwrap(), text);
        }
    }

    #[test]
    fn whole_lines_counts_the_lines_a_short_write_completed() {
        let lines: [&[u8]; 3] = [b"ab\n", b"cde\n", b"f\n"];
        assert_eq!(whole_lines(&lines, 0), (0, 0));
        assert_eq!(whole_lines(&lines, 2), (0, 0));
        assert_eq!(whole_lines(&lines, 3), (1, 3));
        assert_eq!(whole_lines(&lines, 6), (1, 3));
        assert_eq!(whole_lines(&lines, 7), (2, 7));
        assert_eq!(whole_lines(&lines, 9), (3, 9));
    }

    #[cfg(feature = "kafka")]
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
