//! Streaming JSONL input: files, gzip files and stdin, one exchange at a time.
//!
//! The reader holds one line in memory, never the whole input, so a 10 GB
//! recording reads in constant space. A line that does not parse is an
//! error naming its source, line number, JSON pointer and problem; the
//! reader then goes on with the next line, so the caller decides whether a
//! bad line stops the run or is counted and skipped.

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

impl ReadError {
    /// Whether this is a bad line or entry (as opposed to a failing source
    /// or an unreadable document); bad lines and entries can be skipped.
    pub fn is_invalid_line(&self) -> bool {
        matches!(
            self,
            ReadError::Invalid { .. } | ReadError::InvalidEntry { .. }
        )
    }
}

impl Exchange {
    /// Parses one http-types JSON document.
    ///
    /// On error, returns the JSON pointer of the offending value (empty
    /// for the whole document) and a message.
    pub fn from_json_slice(json: &[u8]) -> Result<Exchange, (String, String)> {
        let raw: RawExchange = match serde_json::from_slice(json) {
            Ok(raw) => raw,
            Err(_) => return Err(locate_error(json)),
        };
        raw.into_exchange()
            .map_err(|invalid| (invalid.pointer.to_owned(), invalid.message))
    }

    /// Parses one http-types JSON line; see [`Exchange::from_json_slice`].
    pub fn from_json_line(line: &str) -> Result<Exchange, String> {
        Exchange::from_json_slice(line.as_bytes())
            .map_err(|(pointer, message)| format!("{}{message}", pointer_prefix(&pointer)))
    }
}

/// Parses again, slowly, to find where the error is. Only runs on bad lines.
fn locate_error(json: &[u8]) -> (String, String) {
    if let Some(first) = json.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
    {
        let shown = String::from_utf8_lossy(&json[..json.len().min(40)])
            .trim()
            .to_owned();
        return (
            String::new(),
            format!("not a JSON object: the line starts {shown:?}"),
        );
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    match serde_path_to_error::deserialize::<_, RawExchange>(&mut de) {
        Ok(_) => (String::new(), "invalid exchange".to_owned()),
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
            (pointer, message)
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
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// Reads exchanges from JSONL, one line at a time.
///
/// Blank lines are allowed and skipped (a file that ends in newlines is
/// common); a UTF-8 byte-order mark at the start is ignored.
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
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    /// A reader over `reader`; `source_name` names it in errors.
    pub fn new(reader: R, source_name: impl Into<String>) -> JsonlReader<R> {
        JsonlReader {
            reader,
            source_name: source_name.into(),
            line: 0,
            buf: Vec::with_capacity(64 * 1024),
            done: false,
        }
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

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Exchange, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
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
                    return Some(
                        Exchange::from_json_slice(line).map_err(|(pointer, message)| {
                            ReadError::Invalid {
                                source_name: self.source_name.clone(),
                                line: self.line,
                                pointer,
                                message,
                            }
                        }),
                    );
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
