//! Streaming JSONL input: files, gzip files and stdin, one exchange at a time.
//!
//! The reader holds one line in memory, never the whole input, so a 10 GB
//! recording reads in constant space. A line that does not parse is an
//! error naming its source, line number, JSON pointer and problem; the
//! reader then goes on with the next line, so the caller decides whether a
//! bad line stops the run or is counted and skipped.
//!
//! A line is at most [`DEFAULT_MAX_LINE_BYTES`] long (64 MiB; see
//! [`JsonlReader::with_max_line_bytes`]). A longer one is an error too: the
//! reader stops buffering it at the limit and skips the rest of it up to the
//! next newline without keeping it, so neither a huge line, nor a gzip bomb,
//! nor `/dev/zero` can make it hold more than the limit.

use crate::Exchange;
use crate::har::HarReader;
use crate::raw::RawExchange;
use crate::source::{Exchanges, Format};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a line could not be read, and where.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The line is not a valid http-types exchange.
    #[error("{source_name}:{line}: {}{message}", pointer_prefix(.pointer))]
    Invalid {
        /// File name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// JSON pointer to the offending value; empty for the whole line.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// An entry of a document (`log.entries[i]` of a HAR file) is not a
    /// valid exchange; the entries after it are still read.
    #[error("{source_name}: {}{message}", pointer_prefix(.pointer))]
    InvalidEntry {
        /// File name, or `<stdin>`.
        source_name: String,
        /// JSON pointer from the document's root, `/log/entries/17/request/url`.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The document as a whole cannot be read (not JSON, not HAR, cut off
    /// before its entries); nothing after it is read.
    #[error("{source_name}: {}{message}", pointer_prefix(.pointer))]
    InvalidDocument {
        /// File name, or `<stdin>`.
        source_name: String,
        /// JSON pointer to where reading stopped; empty for the whole document.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The line is longer than the reader's limit; it was skipped unread.
    #[error("{source_name}:{line}: line longer than {}", human_bytes(*.limit))]
    LineTooLong {
        /// File name, or `<stdin>`.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// The limit, in bytes (the line ending not counted).
        limit: u64,
    },
    /// The source could not be read.
    #[error("{source_name}: {error}")]
    Io {
        /// File name, or `<stdin>`.
        source_name: String,
        /// The underlying error.
        error: io::Error,
    },
}

fn pointer_prefix(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!("at {pointer}: ")
    }
}

/// `64 MiB`, `512 KiB`, `1000 bytes`: a byte count as a person would write it.
fn human_bytes(n: u64) -> String {
    match n {
        0 => "0 bytes".to_owned(),
        n if n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}

impl ReadError {
    /// Whether this is a bad line or entry (as opposed to a failing source
    /// or an unreadable document); bad lines, too long ones included, and
    /// bad entries can be skipped.
    pub fn is_invalid_line(&self) -> bool {
        matches!(
            self,
            ReadError::Invalid { .. }
                | ReadError::InvalidEntry { .. }
                | ReadError::LineTooLong { .. }
        )
    }
}

/// One exchange (a JSONL line, a HAR entry) that is not a valid exchange:
/// where in it, and what is wrong. Shown as `at /request/method: message`,
/// or the message alone when the whole document is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", pointer_prefix(.pointer))]
pub struct InvalidExchange {
    /// JSON pointer of the offending value within the exchange; empty for
    /// the whole document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl InvalidExchange {
    /// The problem `message` at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> InvalidExchange {
        InvalidExchange {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl Exchange {
    /// Parses one http-types JSON document.
    ///
    /// On error, tells the JSON pointer of the offending value (empty for
    /// the whole document) and what is wrong.
    pub fn from_json_slice(json: &[u8]) -> Result<Exchange, InvalidExchange> {
        let raw: RawExchange = match serde_json::from_slice(json) {
            Ok(raw) => raw,
            Err(_) => return Err(locate_error(json)),
        };
        raw.into_exchange()
            .map_err(|invalid| InvalidExchange::new(invalid.pointer, invalid.message))
    }

    /// Parses one http-types JSON line; see [`Exchange::from_json_slice`].
    pub fn from_json_line(line: &str) -> Result<Exchange, InvalidExchange> {
        Exchange::from_json_slice(line.as_bytes())
    }
}

/// Parses again, slowly, to find where the error is. Only runs on bad lines.
fn locate_error(json: &[u8]) -> InvalidExchange {
    if let Some(first) = json.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
    {
        let shown = String::from_utf8_lossy(&json[..json.len().min(40)])
            .trim()
            .to_owned();
        return InvalidExchange::new(
            String::new(),
            format!("not a JSON object: the line starts {shown:?}"),
        );
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    match serde_path_to_error::deserialize::<_, RawExchange>(&mut de) {
        Ok(_) => InvalidExchange::new(String::new(), "invalid exchange"),
        Err(err) => {
            let mut pointer = json_pointer(err.path());
            let inner = err.into_inner();
            let mut message = inner.to_string();
            // serde_json appends " at line 1 column N"; a line has one line,
            // so keep only the column.
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
                message.push_str(&format!(" (column {})", inner.column()));
            }
            // Where serde could not tell the key (a syntax error inside an
            // object), point at the object that holds it.
            while let Some(parent) = pointer.strip_suffix("/?") {
                pointer.truncate(parent.len());
            }
            InvalidExchange { pointer, message }
        }
    }
}

/// The JSON pointer of a path serde_path_to_error tracked; `?` where the
/// key was not known.
pub(crate) fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&crate::pointer::escape(key))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// The longest line [`JsonlReader`] reads by default: 64 MiB, four times
/// the body `hmt record` keeps by default, base64 and escapes included.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 64 << 20;

/// The line buffer's capacity between lines; a buffer grown past
/// [`SHRINK_ABOVE`] by a large line is given back once that line is parsed.
const INITIAL_CAPACITY: usize = 64 * 1024;
const SHRINK_ABOVE: usize = 1 << 20;

/// Reads exchanges from JSONL, one line at a time.
///
/// Blank lines are allowed and skipped (a file that ends in newlines is
/// common); a UTF-8 byte-order mark at the start is ignored. A line longer
/// than the limit ([`DEFAULT_MAX_LINE_BYTES`] unless
/// [`with_max_line_bytes`](JsonlReader::with_max_line_bytes) says
/// otherwise) is a [`ReadError::LineTooLong`], read no further than the limit.
///
/// ```
/// use hmt_types::JsonlReader;
/// let jsonl = b"{\"request\":{\"method\":\"get\",\"path\":\"/a\"}}\n\n{\"request\":{\"method\":\"nope\",\"path\":\"/b\"}}\n";
/// let mut reader = JsonlReader::new(&jsonl[..], "rec.jsonl");
/// assert_eq!(reader.next().unwrap().unwrap().request.pathname, "/a");
/// let err = reader.next().unwrap().unwrap_err();
/// assert!(err.to_string().starts_with("rec.jsonl:3: at /request/method: unknown method \"nope\""));
/// assert!(reader.next().is_none());
/// ```
pub struct JsonlReader<R> {
    reader: R,
    source_name: String,
    line: u64,
    buf: Vec<u8>,
    max_line_bytes: u64,
    /// The last line was too long and its rest is still to be skipped.
    skipping: bool,
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    /// A reader over `reader`; `source_name` names it in errors.
    pub fn new(reader: R, source_name: impl Into<String>) -> JsonlReader<R> {
        JsonlReader {
            reader,
            source_name: source_name.into(),
            line: 0,
            buf: Vec::with_capacity(INITIAL_CAPACITY),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            skipping: false,
            done: false,
        }
    }

    /// Sets the longest line read, in bytes, not counting its line ending.
    ///
    /// ```
    /// use hmt_types::JsonlReader;
    /// let jsonl = b"{\"request\":{\"method\":\"get\",\"path\":\"/a\"}}\n{\"request\":{\"method\":\"get\",\"path\":\"/a-longer-path\"}}\n";
    /// let mut reader = JsonlReader::new(&jsonl[..], "rec.jsonl").with_max_line_bytes(48);
    /// assert!(reader.next().unwrap().is_ok());
    /// let err = reader.next().unwrap().unwrap_err();
    /// assert_eq!(err.to_string(), "rec.jsonl:2: line longer than 48 bytes");
    /// assert!(err.is_invalid_line());
    /// assert!(reader.next().is_none());
    /// ```
    pub fn with_max_line_bytes(mut self, limit: u64) -> JsonlReader<R> {
        self.max_line_bytes = limit;
        self
    }

    /// The number of the line last read (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The name used in errors.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads the next line into `buf`, at most `max_line_bytes` of it plus
    /// its `\n`. `Ok(None)` at the end of the input, `Ok(Some(false))` when
    /// the line is longer than the limit; the rest of that line is skipped
    /// on the next call, so that the error comes out at once even when the
    /// line never ends (`/dev/zero`).
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        if self.skipping {
            self.skip_rest_of_line()?;
            self.skipping = false;
        }
        self.buf.clear();
        let limit = self.max_line_bytes;
        // The limit, and room for a `\r\n` that does not count.
        let read = (&mut self.reader)
            .take(limit.saturating_add(2))
            .read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(None);
        }
        let ended = self.buf.last() == Some(&b'\n');
        let mut content = &self.buf[..self.buf.len() - usize::from(ended)];
        if let [rest @ .., b'\r'] = content {
            content = rest;
        }
        if content.len() as u64 <= limit {
            return Ok(Some(true));
        }
        // Too long: forget what was kept; the rest is skipped unbuffered.
        self.buf.clear();
        self.release_large_buffer();
        self.skipping = !ended;
        Ok(Some(false))
    }

    /// Consumes input up to and including the next newline, keeping nothing.
    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    self.reader.consume(end + 1);
                    return Ok(());
                }
                None => {
                    let all = available.len();
                    self.reader.consume(all);
                }
            }
        }
    }

    /// After a large line, the buffer goes back to its usual size, so one
    /// 50 MB line does not keep 50 MB for the rest of the input.
    fn release_large_buffer(&mut self) {
        if self.buf.capacity() > SHRINK_ABOVE {
            self.buf = Vec::with_capacity(INITIAL_CAPACITY);
        }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Exchange, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.read_line() {
                Ok(None) => self.done = true,
                Ok(Some(false)) => {
                    self.line += 1;
                    return Some(Err(ReadError::LineTooLong {
                        source_name: self.source_name.clone(),
                        line: self.line,
                        limit: self.max_line_bytes,
                    }));
                }
                Ok(Some(true)) => {
                    self.line += 1;
                    let mut line = self.buf.as_slice();
                    if self.line == 1 {
                        line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
                    }
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    // Parse without the line ending, so that an error at the
                    // end of a cut-short line has a column on this line.
                    while let [rest @ .., b'\n' | b'\r'] = line {
                        line = rest;
                    }
                    let parsed = Exchange::from_json_slice(line).map_err(
                        |InvalidExchange { pointer, message }| ReadError::Invalid {
                            source_name: self.source_name.clone(),
                            line: self.line,
                            pointer,
                            message,
                        },
                    );
                    self.release_large_buffer();
                    return Some(parsed);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.done = true;
                    return Some(Err(ReadError::Io {
                        source_name: self.source_name.clone(),
                        error,
                    }));
                }
            }
        }
        None
    }
}

/// An opened input: a file (plain or gzip, detected by content), or stdin,
/// holding http-types JSONL or a HAR document (also detected by content).
pub struct Input {
    /// `<stdin>` or the path as given.
    pub name: String,
    /// What the (decompressed) bytes hold, from their first bytes.
    pub format: Format,
    /// The decoded byte stream.
    pub reader: Box<dyn BufRead + Send>,
    /// Size of the underlying file, when known (for progress).
    pub len: Option<u64>,
    /// Bytes consumed from the underlying file so far, compressed bytes for
    /// gzip (comparable with `len`).
    pub consumed: Arc<AtomicU64>,
}

impl Input {
    /// Opens `path`, or stdin when `path` is `-`.
    pub fn open(path: &str) -> io::Result<Input> {
        if path == "-" {
            return Input::from_reader("<stdin>", io::stdin(), None);
        }
        let file = File::open(path)?;
        let len = file.metadata().ok().map(|m| m.len());
        Input::from_reader(path, file, len)
    }

    /// Wraps any byte source; gzip, and then JSONL or HAR, are detected
    /// from its first bytes.
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> io::Result<Input> {
        let consumed = Arc::new(AtomicU64::new(0));
        let counting = CountingReader {
            inner: reader,
            consumed: Arc::clone(&consumed),
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, counting);
        let is_gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        let (format, reader) = crate::source::sniff(reader)?;
        Ok(Input {
            name: name.into(),
            format,
            reader,
            len,
            consumed,
        })
    }

    /// The exchanges of this input, read as its [`format`](Input::format) says.
    pub fn exchanges(self) -> Exchanges {
        match self.format {
            Format::Jsonl => Exchanges::Jsonl(JsonlReader::new(self.reader, self.name)),
            Format::Har => Exchanges::Har(HarReader::new(self.reader, self.name)),
        }
    }
}

struct CountingReader<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"request":{"method":"get","path":"/a"}}"#;

    /// `from_json_line`'s errors read as its `String` errors did: the
    /// pointer, when there is one, then the message.
    #[test]
    fn invalid_exchanges_say_where_and_what() {
        // (line, pointer, shown)
        let table = [
            ("[1]", "", "not a JSON object: the line starts \"[1]\""),
            (
                r#"{"request":{"method":"get","path":"/a"},"response":{"statusCode":"x"}}"#,
                "/response/statusCode",
                "at /response/statusCode: invalid type: string \"x\", expected a status code, a whole number from 100 to 999 (column 68)",
            ),
        ];
        for (line, pointer, shown) in table {
            let error = Exchange::from_json_line(line).unwrap_err();
            assert_eq!(error.pointer, pointer, "{line}");
            assert_eq!(error.to_string(), shown, "{line}");
        }
    }

    /// What each line gave: the path read, or the error.
    fn outcomes(input: &[u8], limit: u64) -> Vec<String> {
        JsonlReader::new(input, "in")
            .with_max_line_bytes(limit)
            .map(|r| match r {
                Ok(exchange) => exchange.request.pathname,
                Err(error) => error.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_limit_counts_the_line_without_its_ending() {
        let limit = LINE.len() as u64;
        for ending in ["\n", "\r\n", ""] {
            let input = format!("{LINE}{ending}");
            assert_eq!(outcomes(input.as_bytes(), limit), ["/a"], "{ending:?}");
            assert_eq!(
                outcomes(input.as_bytes(), limit - 1),
                [format!("in:1: line longer than {} bytes", limit - 1)],
                "{ending:?}"
            );
        }
    }

    #[test]
    fn a_long_line_is_skipped_and_reading_goes_on() {
        let long = format!(
            r#"{{"request":{{"method":"get","path":"/{}"}}}}"#,
            "x".repeat(5000)
        );
        for ending in ["\n", "\r\n"] {
            let input = [LINE, &long, LINE, "", &long, LINE, &long].join(ending);
            assert_eq!(
                outcomes(input.as_bytes(), 1024),
                [
                    "/a",
                    "in:2: line longer than 1 KiB",
                    "/a",
                    "in:5: line longer than 1 KiB",
                    "/a",
                    "in:7: line longer than 1 KiB",
                ],
                "{ending:?}"
            );
        }
    }

    /// A source that never ends and counts what was taken from it.
    struct Endless {
        byte: u8,
        taken: Arc<AtomicU64>,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(self.byte);
            self.taken.fetch_add(buf.len() as u64, Ordering::Relaxed);
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_line_stops_at_the_limit() {
        let taken = Arc::new(AtomicU64::new(0));
        let source = Endless {
            byte: 0,
            taken: Arc::clone(&taken),
        };
        let mut reader = JsonlReader::new(BufReader::with_capacity(64 * 1024, source), "zero")
            .with_max_line_bytes(1 << 20);
        let error = reader.next().expect("an item").expect_err("too long");
        assert_eq!(error.to_string(), "zero:1: line longer than 1 MiB");
        assert!(error.is_invalid_line());
        let taken = taken.load(Ordering::Relaxed);
        assert!(
            taken <= (1 << 20) + 2 * 64 * 1024,
            "read {taken} bytes of a line longer than 1 MiB"
        );
        assert!(reader.buf.capacity() <= SHRINK_ABOVE, "the buffer was kept");
    }

    /// One gzip member over and over: endless zeros once decompressed.
    struct EndlessGzip {
        member: Vec<u8>,
        at: usize,
        taken: Arc<AtomicU64>,
    }

    impl Read for EndlessGzip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let rest = &self.member[self.at..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.at = (self.at + n) % self.member.len();
            self.taken.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&[0u8; 1 << 20]).expect("compress");
        let member = gz.finish().expect("compress");
        let taken = Arc::new(AtomicU64::new(0));
        let source = EndlessGzip {
            member: member.clone(),
            at: 0,
            taken: Arc::clone(&taken),
        };
        let input = Input::from_reader("bomb.gz", source, None).expect("open");
        let mut reader = input.exchanges().with_max_line_bytes(4 << 20);
        let error = reader.next().expect("an item").expect_err("too long");
        assert_eq!(error.to_string(), "bomb.gz:1: line longer than 4 MiB");
        // 4 MiB of zeros is 4 members; the reader buffers 256 KiB ahead.
        let taken = taken.load(Ordering::Relaxed);
        let bound = 8 * member.len() as u64 + 2 * 256 * 1024;
        assert!(
            taken <= bound,
            "read {taken} compressed bytes, more than {bound}"
        );
    }

    #[test]
    fn limits_read_as_people_write_them() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(3 << 30), "3 GiB");
        assert_eq!(human_bytes(512 << 10), "512 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_bytes(1), "1 byte");
    }
}
