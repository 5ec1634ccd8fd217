//! HTTP/1.1 message framing, read strictly (RFC 9112), apart from any I/O.
//!
//! Why strict: a proxy that reads a message's length one way while the
//! upstream reads it another forwards bytes the upstream takes for a second
//! request, which the proxy never saw and never records (request
//! smuggling). So every request whose framing could be read two ways is
//! refused before a byte of it reaches the upstream:
//!
//! - `Content-Length` and `Transfer-Encoding` together, two
//!   `Content-Length` fields (even equal ones), or a length that is not
//!   plain digits;
//! - a `Transfer-Encoding` other than exactly `chunked` (a coding hmt does
//!   not decode is 501, anything malformed 400), or one on HTTP/1.0;
//! - no `Host` on HTTP/1.1, or two of them;
//! - a head with a bare LF line ending (RFC 9112 §2.2 lets a server accept
//!   one, which is exactly the disagreement smuggling needs);
//! - in a chunked body: a size that overflows or is not hex, anything but
//!   `;` extensions after it, and control characters or bare LF in
//!   extensions and trailers.
//!
//! A `Connection` header can name fields as hop-by-hop, and the proxy drops
//! those; it can never name the fields that frame the message
//! ([`frames_the_message`]), or a client could have the length removed
//! while its body is still forwarded.
//!
//! The readers here take bytes and return decisions, so they are tested with
//! tables and property tests; the I/O loops (`relay.rs`, `proxy.rs`) only
//! call them.

use crate::capture::BodyCopy;
use http::{StatusCode, Version};

/// Why a request is refused, as the client is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 400, or 501 for a transfer coding hmt does not decode.
    pub status: StatusCode,
    /// What is wrong, in words.
    pub detail: String,
}

impl Refusal {
    fn bad(detail: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }
}

/// Whether a field takes part in framing or routing the message, and so
/// must never be dropped because `Connection` lists it.
pub(crate) fn frames_the_message(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"transfer-encoding")
        || name.eq_ignore_ascii_case(b"host")
}

/// How a request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyLength {
    Empty,
    Length(u64),
    Chunked,
}

/// Reads a request's framing fields one by one; [`RequestFraming::finish`]
/// says how its body is delimited, or why the request is refused.
#[derive(Debug, Default)]
pub(crate) struct RequestFraming {
    length: Option<u64>,
    chunked: bool,
    hosts: usize,
}

impl RequestFraming {
    /// Takes one header field.
    pub(crate) fn field(&mut self, name: &[u8], value: &[u8]) -> Result<(), Refusal> {
        if name.eq_ignore_ascii_case(b"content-length") {
            if self.length.is_some() {
                return Err(Refusal::bad("more than one Content-Length field"));
            }
            let length = parse_length(value).ok_or_else(|| {
                Refusal::bad(format!(
                    "Content-Length {:?} is not a number",
                    String::from_utf8_lossy(value)
                ))
            })?;
            self.length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if self.chunked {
                return Err(Refusal::bad("more than one Transfer-Encoding field"));
            }
            let value = value.trim_ascii();
            if !value.eq_ignore_ascii_case(b"chunked") {
                let codings: Vec<&[u8]> = value
                    .split(|&b| b == b',')
                    .map(<[u8]>::trim_ascii)
                    .collect();
                let last_is_chunked = codings
                    .last()
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
                let well_formed = last_is_chunked
                    && codings
                        .iter()
                        .all(|c| !c.is_empty() && c.iter().all(|&b| is_tchar(b)))
                    && codings[..codings.len() - 1]
                        .iter()
                        .all(|c| !c.eq_ignore_ascii_case(b"chunked"));
                let shown = String::from_utf8_lossy(value);
                return Err(if well_formed {
                    Refusal {
                        status: StatusCode::NOT_IMPLEMENTED,
                        detail: format!("Transfer-Encoding {shown:?}: only chunked is supported"),
                    }
                } else {
                    Refusal::bad(format!(
                        "Transfer-Encoding {shown:?} does not end the message with chunked"
                    ))
                });
            }
            self.chunked = true;
        } else if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
            if self.hosts > 1 {
                return Err(Refusal::bad("more than one Host field"));
            }
        }
        Ok(())
    }

    /// How the body is delimited, once every field has been read. Only
    /// HTTP/1.1 needs `Host` (HTTP/1.0 predates it, HTTP/2 names the
    /// authority in the request itself), and HTTP/1.0 has no chunked bodies.
    pub(crate) fn finish(self, version: Version) -> Result<BodyLength, Refusal> {
        let http10 = version == Version::HTTP_10;
        if self.hosts == 0 && version == Version::HTTP_11 {
            return Err(Refusal::bad("an HTTP/1.1 request needs a Host field"));
        }
        match (self.length, self.chunked) {
            (Some(_), true) => Err(Refusal::bad(
                "both Content-Length and Transfer-Encoding: the body's length is ambiguous",
            )),
            (None, true) if http10 => Err(Refusal::bad("Transfer-Encoding in an HTTP/1.0 request")),
            (None, true) => Ok(BodyLength::Chunked),
            (Some(0) | None, false) => Ok(BodyLength::Empty),
            (Some(n), false) => Ok(BodyLength::Length(n)),
        }
    }
}

/// Checks the line endings of a head (request line and fields, up to and
/// including the blank line): every LF must follow a CR.
pub(crate) fn check_line_endings(head: &[u8]) -> Result<(), Refusal> {
    match head
        .iter()
        .enumerate()
        .find(|&(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
    {
        None => Ok(()),
        Some((i, _)) => Err(Refusal::bad(format!(
            "a line of the request head ends with a bare LF (byte {i}); lines end with CRLF"
        ))),
    }
}

/// A `Content-Length` value: digits only, optional surrounding whitespace.
pub(crate) fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `tchar` of RFC 9110 §5.6.2: what names and codings are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte allowed in a chunk extension or trailer line: visible ASCII,
/// space, tab or obs-text; never CR, LF or another control character.
fn is_line_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

/// How a message body is delimited, and how much of it is left.
#[derive(Debug)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked(Chunked),
    /// Until the upstream closes (responses only); re-chunked for the
    /// client, so the client connection stays usable.
    UntilClose,
}

impl From<BodyLength> for Framing {
    fn from(length: BodyLength) -> Framing {
        match length {
            BodyLength::Empty => Framing::Empty,
            BodyLength::Length(n) => Framing::Length(n),
            BodyLength::Chunked => Framing::Chunked(Chunked::default()),
        }
    }
}

/// The framing is broken: the connection cannot go on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadFraming;

impl Framing {
    /// Takes from `input` the bytes that belong to this body, appends what
    /// is forwarded to `out` and the body's data to `copy`. Returns how
    /// many bytes were taken and whether the body is complete.
    pub(crate) fn take(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        copy: &mut BodyCopy,
        max: usize,
    ) -> Result<(usize, bool), BadFraming> {
        match self {
            Framing::Empty => Ok((0, true)),
            Framing::Length(left) => {
                let n = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                copy.push(&input[..n], max);
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            Framing::Chunked(chunked) => {
                let used = chunked.feed(input, copy, max)?;
                out.extend_from_slice(&input[..used]);
                Ok((used, chunked.done()))
            }
            Framing::UntilClose => {
                if !input.is_empty() {
                    out.extend_from_slice(format!("{:x}\r\n", input.len()).as_bytes());
                    out.extend_from_slice(input);
                    out.extend_from_slice(b"\r\n");
                    copy.push(input, max);
                }
                Ok((input.len(), false))
            }
        }
    }

    pub(crate) fn ends_at_close(&self) -> bool {
        matches!(self, Framing::UntilClose)
    }
}

/// Where a chunked body's reader is (RFC 9112 §7.1).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the chunk size.
    #[default]
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    /// After `;`: extensions, up to CR.
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

/// A chunked body's reader: finds where the body ends and its data.
#[derive(Debug, Default)]
pub(crate) struct Chunked {
    state: ChunkState,
    size: u64,
    digits: u8,
}

impl Chunked {
    pub(crate) fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Reads `input` up to the end of the body; returns how many bytes
    /// belong to it, with the data pushed to `copy`.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        copy: &mut BodyCopy,
        max: usize,
    ) -> Result<usize, BadFraming> {
        let mut i = 0;
        while i < input.len() && self.state != ChunkState::Done {
            if self.state == ChunkState::Data {
                let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                copy.push(&input[i..i + n], max);
                self.size -= n as u64;
                i += n;
                if self.size == 0 {
                    self.state = ChunkState::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (ChunkState::Size, b) if b.is_ascii_hexdigit() => {
                    // 15 hex digits stay below 2^60: no overflow, and no
                    // reader downstream can wrap a longer size around.
                    if self.digits == 15 {
                        return Err(BadFraming);
                    }
                    self.digits += 1;
                    self.size = self.size * 16 + u64::from(hex(b));
                    ChunkState::Size
                }
                (ChunkState::Size | ChunkState::SizeSpace, b' ' | b'\t') if self.digits > 0 => {
                    ChunkState::SizeSpace
                }
                (ChunkState::Size | ChunkState::SizeSpace, b';') if self.digits > 0 => {
                    ChunkState::Extension
                }
                (ChunkState::Size | ChunkState::SizeSpace, b'\r') if self.digits > 0 => {
                    ChunkState::SizeLf
                }
                (ChunkState::Extension, b'\r') => ChunkState::SizeLf,
                (ChunkState::Extension, b) if is_line_byte(b) => ChunkState::Extension,
                (ChunkState::SizeLf, b'\n') => {
                    self.digits = 0;
                    if self.size == 0 {
                        ChunkState::TrailerStart
                    } else {
                        ChunkState::Data
                    }
                }
                (ChunkState::DataCr, b'\r') => ChunkState::DataLf,
                (ChunkState::DataLf, b'\n') => ChunkState::Size,
                (ChunkState::TrailerStart, b'\r') => ChunkState::EndLf,
                (ChunkState::TrailerStart, b) if is_line_byte(b) && b != b' ' && b != b'\t' => {
                    ChunkState::TrailerLine
                }
                (ChunkState::TrailerLine, b'\r') => ChunkState::TrailerLf,
                (ChunkState::TrailerLine, b) if is_line_byte(b) => ChunkState::TrailerLine,
                (ChunkState::TrailerLf, b'\n') => ChunkState::TrailerStart,
                (ChunkState::EndLf, b'\n') => ChunkState::Done,
                _ => return Err(BadFraming),
            };
        }
        Ok(i)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(fields: &[(&str, &str)], http10: bool) -> Result<BodyLength, u16> {
        let version = if http10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        let mut framing = RequestFraming::default();
        for (name, value) in fields {
            framing
                .field(name.as_bytes(), value.as_bytes())
                .map_err(|r| r.status.as_u16())?;
        }
        framing.finish(version).map_err(|r| r.status.as_u16())
    }

    #[test]
    fn request_framing_table() {
        use BodyLength::*;
        let h = ("Host", "x");
        type Row<'a> = (&'a [(&'a str, &'a str)], bool, Result<BodyLength, u16>);
        let table: &[Row] = &[
            (&[h], false, Ok(Empty)),
            (&[h, ("Content-Length", "0")], false, Ok(Empty)),
            (&[h, ("Content-Length", " 12 ")], false, Ok(Length(12))),
            (&[h, ("transfer-encoding", "Chunked")], false, Ok(Chunked)),
            (
                &[h, ("Transfer-Encoding", " chunked\t")],
                false,
                Ok(Chunked),
            ),
            (&[], true, Ok(Empty)),
            (&[], false, Err(400)),
            (&[h, h], false, Err(400)),
            (
                &[h, ("Content-Length", "1"), ("Content-Length", "1")],
                false,
                Err(400),
            ),
            (
                &[h, ("Content-Length", "1"), ("Content-Length", "2")],
                false,
                Err(400),
            ),
            (&[h, ("Content-Length", "1, 1")], false, Err(400)),
            (&[h, ("Content-Length", "+1")], false, Err(400)),
            (&[h, ("Content-Length", "-1")], false, Err(400)),
            (&[h, ("Content-Length", "0x10")], false, Err(400)),
            (&[h, ("Content-Length", "")], false, Err(400)),
            (
                &[h, ("Content-Length", "99999999999999999999")],
                false,
                Err(400),
            ),
            (
                &[h, ("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
                false,
                Err(400),
            ),
            (
                &[h, ("Transfer-Encoding", "chunked"), ("Content-Length", "0")],
                false,
                Err(400),
            ),
            (
                &[
                    h,
                    ("Transfer-Encoding", "chunked"),
                    ("Transfer-Encoding", "chunked"),
                ],
                false,
                Err(400),
            ),
            (
                &[h, ("Transfer-Encoding", "chunked, identity")],
                false,
                Err(400),
            ),
            (
                &[h, ("Transfer-Encoding", "chunked, chunked")],
                false,
                Err(400),
            ),
            (&[h, ("Transfer-Encoding", "xchunked")], false, Err(400)),
            (&[h, ("Transfer-Encoding", "chunked\x0b")], false, Err(400)),
            (&[h, ("Transfer-Encoding", "")], false, Err(400)),
            (
                &[h, ("Transfer-Encoding", "gzip, chunked")],
                false,
                Err(501),
            ),
            (&[("Transfer-Encoding", "chunked")], true, Err(400)),
        ];
        for (fields, http10, expected) in table {
            assert_eq!(
                &framing(fields, *http10),
                expected,
                "{fields:?} http10={http10}"
            );
        }
    }

    #[test]
    fn bare_lf_is_refused() {
        assert!(check_line_endings(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_ok());
        assert!(check_line_endings(b"GET / HTTP/1.1\nHost: x\r\n\r\n").is_err());
        assert!(check_line_endings(b"GET / HTTP/1.1\r\nHost: x\r\n\n").is_err());
        assert!(check_line_endings(b"\n").is_err());
    }

    #[test]
    fn framing_fields_cannot_be_made_hop_by_hop() {
        for name in ["Content-Length", "transfer-encoding", "HOST"] {
            assert!(frames_the_message(name.as_bytes()));
        }
        assert!(!frames_the_message(b"x-private"));
    }

    fn dechunk(input: &[u8], split: usize) -> Result<(usize, Vec<u8>, bool), BadFraming> {
        let mut chunked = Chunked::default();
        let mut copy = BodyCopy::default();
        let first = chunked.feed(&input[..split], &mut copy, usize::MAX)?;
        let mut used = first;
        if !chunked.done() {
            used += chunked.feed(&input[split..], &mut copy, usize::MAX)?;
        }
        Ok((used, copy.into_bytes(), chunked.done()))
    }

    /// Wherever the reads split it, a chunked body ends exactly after its
    /// last CRLF, and its data is what the chunks carried.
    #[test]
    fn chunked_bodies_end_where_they_end_however_they_are_split() {
        let body = b"4;ext=1\r\nWiki\r\n5 \r\npedia\r\nE ; a=\"b\"\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1";
        let end = body.len() - b"GET / HTTP/1.1".len();
        for split in 0..body.len() {
            let (used, data, done) = dechunk(body, split).unwrap();
            assert!(done, "split {split}");
            assert_eq!(used, end, "split {split}");
            assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.", "split {split}");
        }
    }

    #[test]
    fn broken_chunk_framing_is_an_error() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"4\r\nWikiXX",
            b"fffffffffffffffff\r\n",
            b"1000000000000000\r\n",
            b"0\r\n\rX",
            b"4\nWiki\r\n",
            b"4;a\nb\r\nWiki\r\n",
            b"4;a\x00\r\nWiki\r\n",
            b"4 x\r\nWiki\r\n",
            b" 4\r\nWiki\r\n",
            b"4\r\nWiki\n",
            b"0\r\nX: a\nb\r\n\r\n",
            b"0\r\n\n",
            b"0\r\n folded: x\r\n\r\n",
            b"-4\r\n",
        ] {
            assert!(
                dechunk(bad, 0).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// A chunked body: chunks with optional extensions, then trailers.
        fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
            let chunk = (
                proptest::collection::vec(any::<u8>(), 1..40),
                proptest::option::of("[a-z]{1,5}(=[a-z0-9]{0,4})?"),
                any::<bool>(),
            );
            let trailer = "[A-Za-z-]{1,8}: [ -~]{0,10}";
            (
                proptest::collection::vec(chunk, 0..5),
                proptest::collection::vec(trailer, 0..3),
            )
                .prop_map(|(chunks, trailers)| {
                    let mut wire = Vec::new();
                    let mut data = Vec::new();
                    for (bytes, ext, upper) in chunks {
                        let size = if upper {
                            format!("{:X}", bytes.len())
                        } else {
                            format!("{:x}", bytes.len())
                        };
                        wire.extend_from_slice(size.as_bytes());
                        if let Some(ext) = ext {
                            wire.push(b';');
                            wire.extend_from_slice(ext.as_bytes());
                        }
                        wire.extend_from_slice(b"\r\n");
                        wire.extend_from_slice(&bytes);
                        wire.extend_from_slice(b"\r\n");
                        data.extend_from_slice(&bytes);
                    }
                    wire.extend_from_slice(b"0\r\n");
                    for t in trailers {
                        wire.extend_from_slice(t.as_bytes());
                        wire.extend_from_slice(b"\r\n");
                    }
                    wire.extend_from_slice(b"\r\n");
                    (wire, data)
                })
        }

        /// Feeds `input` in two pieces split at `split`.
        fn feed_split(input: &[u8], split: usize) -> Result<(usize, Vec<u8>, bool), BadFraming> {
            let split = split.min(input.len());
            let mut chunked = Chunked::default();
            let mut copy = BodyCopy::default();
            let mut used = chunked.feed(&input[..split], &mut copy, usize::MAX)?;
            if !chunked.done() && used == split {
                used += chunked.feed(&input[split..], &mut copy, usize::MAX)?;
            }
            Ok((used, copy.into_bytes(), chunked.done()))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// A well-formed body is read whole, whatever follows it and
            /// wherever the reads split it.
            #[test]
            fn well_formed_chunked_bodies_decode_exactly(
                (wire, data) in chunked_body(),
                next in proptest::collection::vec(any::<u8>(), 0..20),
                split in any::<usize>(),
            ) {
                let mut input = wire.clone();
                input.extend_from_slice(&next);
                let (used, decoded, done) = feed_split(&input, split % (input.len() + 1)).unwrap();
                prop_assert!(done);
                prop_assert_eq!(used, wire.len());
                prop_assert_eq!(decoded, data);
            }

            /// Damaged bodies never panic, and the decision does not depend
            /// on where the reads split them: a body is read to the same
            /// end, or refused, either way (so no reader downstream that
            /// gets the same bytes can be shown a different message).
            #[test]
            fn damaged_chunked_bodies_decode_the_same_however_split(
                (wire, _) in chunked_body(),
                edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
                split in any::<usize>(),
            ) {
                let mut input = wire;
                for (at, byte, kind) in edits {
                    let at = at % (input.len() + 1);
                    match kind {
                        0 => input.insert(at, byte),
                        1 if at < input.len() => { input.remove(at); }
                        _ if at < input.len() => input[at] = byte,
                        _ => input.push(byte),
                    }
                }
                let whole = feed_split(&input, input.len());
                let parts = feed_split(&input, split % (input.len() + 1));
                match (whole, parts) {
                    (Ok(a), Ok(b)) => {
                        // A body that ended, ended at the same byte.
                        if a.2 && b.2 {
                            prop_assert_eq!(a, b);
                        }
                    }
                    (Err(_), Err(_)) => {}
                    // One way may stop early (incomplete), never accept what
                    // the other refuses once both have read the same bytes.
                    (Ok(a), Err(_)) | (Err(_), Ok(a)) => prop_assert!(!a.2),
                }
            }

            /// A request accepted by the framing rules has exactly one
            /// reading: its length comes from one well-formed field.
            #[test]
            fn accepted_requests_are_unambiguous(
                fields in proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("Content-Length"), Just("content-length"),
                            Just("Transfer-Encoding"), Just("Host"), Just("X-Other"),
                        ],
                        prop_oneof![
                            Just("chunked".to_owned()), Just("0".to_owned()),
                            Just("5".to_owned()), "[ -~]{0,12}",
                        ],
                    ),
                    0..5,
                ),
                http10 in any::<bool>(),
            ) {
                let mut framing = RequestFraming::default();
                let mut refused = false;
                for (name, value) in &fields {
                    if framing.field(name.as_bytes(), value.as_bytes()).is_err() {
                        refused = true;
                        break;
                    }
                }
                let version = if http10 { Version::HTTP_10 } else { Version::HTTP_11 };
                if refused {
                    return Ok(());
                }
                let count = |n: &str| fields.iter().filter(|(f, _)| f.eq_ignore_ascii_case(n)).count();
                match framing.finish(version) {
                    Err(_) => {}
                    Ok(BodyLength::Chunked) => {
                        prop_assert_eq!(count("transfer-encoding"), 1);
                        prop_assert_eq!(count("content-length"), 0);
                        prop_assert!(!http10);
                    }
                    Ok(BodyLength::Length(n)) => {
                        prop_assert_eq!(count("transfer-encoding"), 0);
                        prop_assert_eq!(count("content-length"), 1);
                        let value = &fields.iter().find(|(f, _)| f.eq_ignore_ascii_case("content-length")).unwrap().1;
                        prop_assert_eq!(value.trim().parse::<u64>().ok(), Some(n));
                    }
                    Ok(BodyLength::Empty) => {
                        prop_assert_eq!(count("transfer-encoding"), 0);
                        prop_assert!(count("content-length") <= 1);
                    }
                }
                if !http10 && framing_accepts_without_host(&fields) {
                    prop_assert!(false, "an HTTP/1.1 request without Host was accepted");
                }
            }
        }

        fn framing_accepts_without_host(fields: &[(&str, String)]) -> bool {
            if fields.iter().any(|(f, _)| f.eq_ignore_ascii_case("host")) {
                return false;
            }
            let mut framing = RequestFraming::default();
            fields
                .iter()
                .all(|(n, v)| framing.field(n.as_bytes(), v.as_bytes()).is_ok())
                && framing.finish(Version::HTTP_11).is_ok()
        }
    }
}
