//! One entry point for every recording format: what a byte stream holds is
//! told from its first bytes, and [`Exchanges`] reads it either way.
//!
//! A JSONL line and a HAR document both start with `{`; they differ in the
//! first key. A HAR document is one object whose only member is `log`
//! (`{"log": {"version": "1.2", ...`, pretty-printed or not); an http-types
//! line starts with `request`, `response`, `meta` or HMT's `req`/`res`.
//! So the input is HAR when its first key is `log`, and JSONL otherwise
//! (anything else that is not an exchange is then reported by the JSONL
//! reader, line by line, as it always was).

use crate::har::HarReader;
use crate::{Exchange, JsonlReader, ReadError};
use std::io::{self, BufRead, Cursor, Read};

/// What a recording holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// http-types JSONL: one exchange per line, read a line at a time.
    Jsonl,
    /// A HAR 1.2 document: one JSON object, its entries read one at a time.
    Har,
}

impl Format {
    /// `jsonl` or `har`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Har => "har",
        }
    }
}

/// The exchanges of an [`Input`](crate::Input), whatever its format: an
/// iterator of `Result<Exchange, ReadError>` either way, so `hmt build` and
/// `hmt mock` read JSONL and HAR through one loop.
///
/// Invalid lines (JSONL) and invalid entries (HAR) are errors for which
/// [`ReadError::is_invalid_line`] holds: reading goes on after them. After
/// an I/O error or a HAR document that cannot be read further, the
/// iterator ends.
pub enum Exchanges {
    /// Line by line; see [`JsonlReader`].
    Jsonl(JsonlReader<Box<dyn BufRead + Send>>),
    /// Entry by entry; see [`HarReader`].
    Har(HarReader),
}

impl Exchanges {
    /// The format being read.
    pub fn format(&self) -> Format {
        match self {
            Exchanges::Jsonl(_) => Format::Jsonl,
            Exchanges::Har(_) => Format::Har,
        }
    }

    /// Bounds the length of a JSONL line ([`JsonlReader::with_max_line_bytes`]);
    /// a HAR document is read entry by entry and is not affected.
    pub fn with_max_line_bytes(self, limit: u64) -> Exchanges {
        match self {
            Exchanges::Jsonl(lines) => Exchanges::Jsonl(lines.with_max_line_bytes(limit)),
            har => har,
        }
    }

    /// What was read but is worth telling the user, such as a HAR file cut
    /// short by a crash (its complete entries are read). Complete once the
    /// iterator has ended.
    pub fn warnings(&self) -> &[String] {
        match self {
            Exchanges::Jsonl(_) => &[],
            Exchanges::Har(har) => har.warnings(),
        }
    }
}

impl Iterator for Exchanges {
    type Item = Result<Exchange, ReadError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Exchanges::Jsonl(jsonl) => jsonl.next(),
            Exchanges::Har(har) => har.next(),
        }
    }
}

/// How far into the stream the first key is looked for; a stream that has
/// not reached it by then is JSONL (and likely not valid either).
const SNIFF_LIMIT: usize = 64 * 1024;

/// Tells the format from the first bytes of `reader`, consuming nothing:
/// the returned reader yields every byte `reader` would have.
pub(crate) fn sniff(
    mut reader: Box<dyn BufRead + Send>,
) -> io::Result<(Format, Box<dyn BufRead + Send>)> {
    // Usually the first buffer holds the first key.
    let first = reader.fill_buf()?;
    if let Some(format) = detect(first, first.is_empty()) {
        return Ok((format, reader));
    }
    // A pipe that delivers a few bytes at a time: read ahead into a buffer,
    // then hand out the buffer before the rest.
    let mut prefix = Vec::new();
    let format = loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let end = chunk.is_empty();
        prefix.extend_from_slice(chunk);
        let taken = chunk.len();
        reader.consume(taken);
        if let Some(format) = detect(&prefix, end || prefix.len() >= SNIFF_LIMIT) {
            break format;
        }
    };
    Ok((format, Box::new(Cursor::new(prefix).chain(reader))))
}

/// The format `bytes` (the start of a stream) show, or `None` when more
/// bytes are needed to tell; `complete` says there are no more.
fn detect(bytes: &[u8], complete: bool) -> Option<Format> {
    let undecided = if complete { Some(Format::Jsonl) } else { None };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rest = bytes.trim_ascii_start();
    match rest.first() {
        None => return undecided,
        Some(b'{') => rest = rest[1..].trim_ascii_start(),
        Some(_) => return Some(Format::Jsonl),
    }
    match rest.first() {
        None => return undecided,
        Some(b'"') => rest = &rest[1..],
        Some(_) => return Some(Format::Jsonl),
    }
    const LOG: &[u8] = b"log\"";
    let n = rest.len().min(LOG.len());
    if rest[..n] != LOG[..n] {
        Some(Format::Jsonl)
    } else if n == LOG.len() {
        Some(Format::Har)
    } else {
        undecided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_tells_har_from_jsonl() {
        let cases: &[(&[u8], Option<Format>)] = &[
            (b"{\"log\":{\"version\":\"1.2\"", Some(Format::Har)),
            (b"\xEF\xBB\xBF\n  {\r\n\t \"log\" : {", Some(Format::Har)),
            (b"{\"request\":{\"method\":\"get\"", Some(Format::Jsonl)),
            (b"{\"req\":{}}", Some(Format::Jsonl)),
            (b"{\"logs\":[]}", Some(Format::Jsonl)),
            (b"{\"lo\":1}", Some(Format::Jsonl)),
            (b"{}", Some(Format::Jsonl)),
            (b"[1,2]", Some(Format::Jsonl)),
            (b"not json", Some(Format::Jsonl)),
            (b"", None),
            (b"  \n", None),
            (b"{", None),
            (b"{ \"lo", None),
            (b"{\"log", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                detect(bytes, false),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            // At the end of the stream, whatever is not HAR is JSONL.
            let at_end = want.unwrap_or(Format::Jsonl);
            assert_eq!(detect(bytes, true), Some(at_end), "{bytes:?} at the end");
        }
    }

    /// A reader that hands out one byte per read, like a slow pipe.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(b), Some(slot)) => {
                    *slot = *b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_stream_arriving_byte_by_byte_is_sniffed_and_kept_whole() {
        for text in [
            "  {\n  \"log\": {\"entries\": []}}\n",
            "{\"request\":{\"method\":\"get\",\"path\":\"/\"}}\n",
            "",
        ] {
            let reader = io::BufReader::with_capacity(1, Trickle(text.as_bytes().to_vec(), 0));
            let (format, mut reader) = sniff(Box::new(reader)).unwrap();
            let want = if text.contains("log") {
                Format::Har
            } else {
                Format::Jsonl
            };
            assert_eq!(format, want, "{text:?}");
            let mut all = String::new();
            reader.read_to_string(&mut all).unwrap();
            assert_eq!(all, text, "nothing lost to sniffing");
        }
    }
}
