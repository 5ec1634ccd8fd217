//! Content-decoding of captured bodies, so recordings can be read.
//!
//! The proxy captures bodies as they crossed the wire: gzip, deflate,
//! brotli or zstd when the peer used `Content-Encoding`, and possibly cut
//! off at the capture cap. A recording is for people and for `hmt build`,
//! which both need the plain representation, so [`decode_bodies`] undoes the
//! content codings of the request and the response body and fixes the
//! headers to match (`Content-Encoding` removed, `Content-Length` set to the
//! decoded length), recording in `meta` what was done.
//!
//! Decoding is defensive: decoders stream, output is capped (a small gzip
//! body can expand to gigabytes), and a stream that is corrupt or ends early
//! (the usual case for a body truncated at the capture cap) still yields
//! the bytes that decoded before the problem, marked as truncated. Nothing
//! here panics on what a peer sent.
//!
//! # `meta` keys written
//!
//! | key | when |
//! |---|---|
//! | `requestContentEncoding` / `responseContentEncoding` | the body was decoded, fully or partly; the original header value |
//! | `requestBodyTruncated` / `responseBodyTruncated` | `true` when the decoded body is incomplete (stream ended early, was corrupt, or exceeded the limit) |
//! | `requestBodyDecodeError` / `responseBodyDecodeError` | a short reason whenever decoding did not complete |
//!
//! When nothing at all could be decoded, or the coding is unknown, the body
//! and its `Content-Encoding` header are left as captured and only the
//! error key is set.
//!
//! ```
//! use hmt_record::decode::decode_bodies;
//! use hmt_types::{Exchange, Method, Request, Response};
//! use std::io::Write;
//!
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(b"{\"ok\":true}").unwrap();
//! let mut response = Response::new(200);
//! response.headers.append("Content-Encoding", "gzip");
//! response.body = Some(gz.finish().unwrap());
//! let mut exchange = Exchange {
//!     request: Request::new(Method::Get, "/status"),
//!     response: Some(response),
//!     meta: Default::default(),
//! };
//!
//! decode_bodies(&mut exchange, 1 << 20);
//! let response = exchange.response.as_ref().unwrap();
//! assert_eq!(response.body_text(), Some("{\"ok\":true}"));
//! assert_eq!(response.headers.get_ignore_case("content-encoding"), None);
//! assert_eq!(exchange.meta["responseContentEncoding"], "gzip");
//! ```

use brotli::enc::StandardAlloc;
use brotli::{BrotliDecompressStream, BrotliResult, BrotliState};
use flate2::{Decompress, FlushDecompress, Status};
use hmt_types::{Exchange, Fields};
use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};

/// The `meta` keys [`decode_bodies`] writes for one side of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaKeys {
    /// The original `Content-Encoding` value of a body that was decoded.
    pub content_encoding: &'static str,
    /// `true` when the decoded body is incomplete.
    pub truncated: &'static str,
    /// A short reason when decoding did not complete.
    pub decode_error: &'static str,
}

/// The `meta` keys for the request body.
pub const REQUEST_META: MetaKeys = MetaKeys {
    content_encoding: "requestContentEncoding",
    truncated: "requestBodyTruncated",
    decode_error: "requestBodyDecodeError",
};

/// The `meta` keys for the response body.
pub const RESPONSE_META: MetaKeys = MetaKeys {
    content_encoding: "responseContentEncoding",
    truncated: "responseBodyTruncated",
    decode_error: "responseBodyDecodeError",
};

/// Size of the chunks decoders write into.
const CHUNK: usize = 32 * 1024;

/// Decodes the content-encoded request and response bodies of `exchange`
/// in place, producing at most `limit` bytes per body.
///
/// `Content-Encoding` is looked up in any case; several header lines and
/// comma-separated chains (`gzip, br`: gzip applied first) are undone in
/// reverse order. Supported codings are `gzip`/`x-gzip`, `deflate` (zlib,
/// with raw deflate as fallback), `br` and `zstd`; `identity` is ignored.
/// See the [module docs](self) for the headers and `meta` keys touched in
/// each outcome. Bodies that are absent or empty are left alone.
pub fn decode_bodies(exchange: &mut Exchange, limit: usize) {
    let Exchange {
        request,
        response,
        meta,
    } = exchange;
    decode_side(
        &mut request.headers,
        &mut request.body,
        limit,
        REQUEST_META,
        meta,
    );
    if let Some(response) = response {
        decode_side(
            &mut response.headers,
            &mut response.body,
            limit,
            RESPONSE_META,
            meta,
        );
    }
}

/// A supported content coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// `Ok(None)` for `identity`, `Err(())` for an unknown coding.
    fn parse(token: &str) -> Result<Option<Coding>, ()> {
        let known = [
            ("gzip", Some(Coding::Gzip)),
            ("x-gzip", Some(Coding::Gzip)),
            ("deflate", Some(Coding::Deflate)),
            ("br", Some(Coding::Brotli)),
            ("zstd", Some(Coding::Zstd)),
            ("identity", None),
        ];
        known
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(token))
            .map(|(_, coding)| coding)
            .ok_or(())
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        })
    }
}

fn decode_side(
    headers: &mut Fields,
    body: &mut Option<Vec<u8>>,
    limit: usize,
    keys: MetaKeys,
    meta: &mut Map<String, Value>,
) {
    let values = headers.get_all_ignore_case("content-encoding");
    if values.is_empty() {
        return;
    }
    let original = values.join(", ");
    let Some(raw) = body.as_deref().filter(|b| !b.is_empty()) else {
        return;
    };
    let mut codings = Vec::new();
    for token in original.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match Coding::parse(token) {
            Ok(Some(coding)) => codings.push(coding),
            Ok(None) => {}
            Err(()) => {
                meta.insert(
                    keys.decode_error.into(),
                    format!("unsupported content-encoding {token}").into(),
                );
                return;
            }
        }
    }
    if codings.is_empty() {
        return;
    }

    let decoded = decode_chain(raw, &codings, limit);
    if decoded.bytes.is_empty() && decoded.error.is_some() {
        // Nothing usable: keep the body as captured, still encoded.
        if let Some(error) = decoded.error {
            meta.insert(keys.decode_error.into(), error.into());
        }
        return;
    }
    headers.remove_ignore_case("content-encoding");
    if !headers.get_all_ignore_case("content-length").is_empty() {
        headers.set_ignore_case("content-length", decoded.bytes.len().to_string());
    }
    meta.insert(keys.content_encoding.into(), original.into());
    if let Some(error) = decoded.error {
        meta.insert(keys.truncated.into(), true.into());
        meta.insert(keys.decode_error.into(), error.into());
    }
    *body = Some(decoded.bytes);
}

/// What decoding produced, and why it stopped early if it did.
struct Decoded {
    bytes: Vec<u8>,
    error: Option<String>,
}

/// Undoes `codings` (in the order they were applied) from last to first.
/// A step that stops early still hands its output to the next one, so a
/// truncated `gzip, br` body yields the plain bytes that both decoders got
/// through; the first problem is the one reported.
fn decode_chain(raw: &[u8], codings: &[Coding], limit: usize) -> Decoded {
    let mut current = Cow::Borrowed(raw);
    let mut error = None;
    for &coding in codings.iter().rev() {
        let step = decode_one(&current, coding, limit);
        if error.is_none() {
            error = step.error.map(|e| format!("{coding}: {e}"));
        }
        current = Cow::Owned(step.bytes);
        if current.is_empty() {
            break;
        }
    }
    Decoded {
        bytes: current.into_owned(),
        error,
    }
}

fn decode_one(input: &[u8], coding: Coding, limit: usize) -> Decoded {
    match coding {
        Coding::Gzip => read_limited(flate2::bufread::MultiGzDecoder::new(input), limit),
        Coding::Deflate => {
            let zlib = read_limited(Inflate::new(input, true), limit);
            if zlib.bytes.is_empty() && zlib.error.is_some() {
                // Some servers send raw deflate despite RFC 9110 saying zlib.
                let raw = read_limited(Inflate::new(input, false), limit);
                if raw.error.is_none() || !raw.bytes.is_empty() {
                    return raw;
                }
            }
            zlib
        }
        Coding::Brotli => read_limited(BrotliReader::new(input), limit),
        Coding::Zstd => read_limited(ZstdReader::new(input, limit), limit),
    }
}

/// Reads `reader` to its end, keeping at most `limit` bytes; an error or
/// more output than `limit` ends reading with a reason.
fn read_limited(mut reader: impl Read, limit: usize) -> Decoded {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Decoded { bytes, error: None },
            Ok(n) => {
                let room = limit.saturating_sub(bytes.len());
                let got = chunk.get(..n).unwrap_or_default();
                if n > room {
                    bytes.extend_from_slice(got.get(..room).unwrap_or_default());
                    return Decoded {
                        bytes,
                        error: Some(format!("decoded body exceeds the {limit}-byte limit")),
                    };
                }
                bytes.extend_from_slice(got);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Decoded {
                    bytes,
                    error: Some(reason(&e)),
                };
            }
        }
    }
}

fn reason(error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        "stream ends early (truncated)".to_owned()
    } else {
        format!("corrupt stream ({error})")
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "stream ends early")
}

/// zlib or raw deflate over a slice. Unlike flate2's readers, it reports a
/// stream that ends without its final block as an error instead of a clean
/// end, which is how a truncated body is told apart from a complete one.
struct Inflate<'a> {
    input: &'a [u8],
    state: Decompress,
    finished: bool,
}

impl<'a> Inflate<'a> {
    fn new(input: &'a [u8], zlib: bool) -> Inflate<'a> {
        Inflate {
            input,
            state: Decompress::new(zlib),
            finished: false,
        }
    }
}

impl Read for Inflate<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(self.input, buf, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = usize::try_from(self.state.total_in() - in_before).unwrap_or(usize::MAX);
            let produced =
                usize::try_from(self.state.total_out() - out_before).unwrap_or(usize::MAX);
            self.input = self.input.get(consumed..).unwrap_or_default();
            if status == Status::StreamEnd {
                self.finished = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if consumed == 0 {
                return Err(if self.input.is_empty() {
                    truncated()
                } else {
                    io::Error::new(io::ErrorKind::InvalidData, "decoder made no progress")
                });
            }
        }
    }
}

/// Brotli over a slice, through the low-level stream API so that "needs
/// more input" with all input given is reported as truncation.
struct BrotliReader<'a> {
    input: &'a [u8],
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    finished: bool,
    pending: Option<io::ErrorKind>,
}

impl<'a> BrotliReader<'a> {
    fn new(input: &'a [u8]) -> BrotliReader<'a> {
        BrotliReader {
            input,
            state: BrotliState::new(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            finished: false,
            pending: None,
        }
    }
}

impl Read for BrotliReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(kind) = self.pending {
            return Err(match kind {
                io::ErrorKind::UnexpectedEof => truncated(),
                kind => io::Error::new(kind, "invalid brotli data"),
            });
        }
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        let mut available_in = self.input.len();
        let mut input_offset = 0;
        let mut available_out = buf.len();
        let mut output_offset = 0;
        let mut total_out = 0;
        let result = BrotliDecompressStream(
            &mut available_in,
            &mut input_offset,
            self.input,
            &mut available_out,
            &mut output_offset,
            buf,
            &mut total_out,
            &mut self.state,
        );
        self.input = self.input.get(input_offset..).unwrap_or_default();
        match result {
            BrotliResult::ResultSuccess => self.finished = true,
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::NeedsMoreInput => self.pending = Some(io::ErrorKind::UnexpectedEof),
            BrotliResult::ResultFailure => self.pending = Some(io::ErrorKind::InvalidData),
        }
        if output_offset == 0 && !self.finished {
            // Report the problem now rather than a zero-length read, which
            // would look like a clean end.
            self.pending.get_or_insert(io::ErrorKind::InvalidData);
            return self.read(buf);
        }
        Ok(output_offset)
    }
}

/// zstd over a slice: every frame in turn (skippable frames skipped), each
/// frame's checksum verified when it has one.
///
/// ruzstd keeps the last window's worth of output back until a frame is
/// finished, so a frame cut short would yield nothing. To get the prefix
/// out, blocks are fed one at a time, each only when it is complete; at
/// the first incomplete block the frame is closed with an empty last block,
/// which releases everything decoded so far, and truncation is reported.
struct ZstdReader<'a> {
    input: &'a [u8],
    decoder: FrameDecoder,
    frame: ZstdFrame,
}

#[derive(Clone, Copy)]
enum ZstdFrame {
    /// Before a frame header, or after the last frame.
    Between,
    /// Inside a frame whose blocks are being fed.
    Blocks { checksum: bool },
    /// The frame's last block is decoded; its output is being drained.
    Draining { verify: bool, cut_short: bool },
}

/// RFC 9659 caps the zstd content coding's window at 8 MiB; a larger
/// window is allowed up to the body limit, so the cap never rejects what
/// the caller would have accepted anyway.
const ZSTD_MIN_MAX_WINDOW: u64 = 8 << 20;
const ZSTD_MAX_MAX_WINDOW: u64 = 128 << 20;

impl<'a> ZstdReader<'a> {
    fn new(input: &'a [u8], limit: usize) -> ZstdReader<'a> {
        let mut decoder = FrameDecoder::new();
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        decoder.set_max_window_size(limit.clamp(ZSTD_MIN_MAX_WINDOW, ZSTD_MAX_MAX_WINDOW));
        ZstdReader {
            input,
            decoder,
            frame: ZstdFrame::Between,
        }
    }

    /// Starts the next frame, skipping skippable ones; `false` at the end.
    fn start_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.input.is_empty() {
                return Ok(false);
            }
            let magic = self
                .input
                .get(..4)
                .and_then(|m| <[u8; 4]>::try_from(m).ok())
                .map(u32::from_le_bytes)
                .ok_or_else(truncated)?;
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                let length = self
                    .input
                    .get(4..8)
                    .and_then(|m| <[u8; 4]>::try_from(m).ok())
                    .map(u32::from_le_bytes)
                    .ok_or_else(truncated)?;
                let skip = usize::try_from(length)
                    .unwrap_or(usize::MAX)
                    .saturating_add(8);
                self.input = self.input.get(skip..).ok_or_else(truncated)?;
                continue;
            }
            // Frame_Header_Descriptor bit 2: Content_Checksum_Flag.
            let checksum = self.input.get(4).is_some_and(|d| d & 0x04 != 0);
            self.decoder.init(&mut self.input).map_err(|e| {
                if caused_by_eof(&e) {
                    truncated()
                } else {
                    io::Error::new(io::ErrorKind::InvalidData, e)
                }
            })?;
            self.frame = ZstdFrame::Blocks { checksum };
            return Ok(true);
        }
    }
}

/// The length of the next block (header, content, and the checksum after a
/// last block), when `input` holds all of it.
fn zstd_block_len(input: &[u8], checksum: bool) -> Option<usize> {
    let header = input.get(..3)?;
    let header = header
        .iter()
        .rev()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    let last = header & 1 == 1;
    let rle = (header >> 1) & 3 == 1;
    let content = if rle { 1 } else { header >> 3 };
    let len = 3 + content + if last && checksum { 4 } else { 0 };
    (input.len() >= len).then_some(len)
}

impl Read for ZstdReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let invalid = |e: FrameDecoderError| io::Error::new(io::ErrorKind::InvalidData, e);
        loop {
            match self.frame {
                ZstdFrame::Between => {
                    if !self.start_frame()? {
                        return Ok(0);
                    }
                }
                ZstdFrame::Blocks { checksum } => {
                    let n = self.decoder.read(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    match zstd_block_len(self.input, checksum) {
                        Some(len) => {
                            let (mut block, rest) = self.input.split_at(len);
                            self.decoder
                                .decode_blocks(&mut block, BlockDecodingStrategy::UptoBlocks(1))
                                .map_err(invalid)?;
                            self.input = rest;
                            if self.decoder.is_finished() {
                                self.frame = ZstdFrame::Draining {
                                    verify: checksum,
                                    cut_short: false,
                                };
                            }
                        }
                        None => {
                            let mut last_block: &[u8] = if checksum {
                                &[1, 0, 0, 0, 0, 0, 0]
                            } else {
                                &[1, 0, 0]
                            };
                            self.decoder
                                .decode_blocks(
                                    &mut last_block,
                                    BlockDecodingStrategy::UptoBlocks(1),
                                )
                                .map_err(invalid)?;
                            self.input = &[];
                            self.frame = ZstdFrame::Draining {
                                verify: false,
                                cut_short: true,
                            };
                        }
                    }
                }
                ZstdFrame::Draining { verify, cut_short } => {
                    let n = self.decoder.read(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    self.frame = ZstdFrame::Between;
                    if cut_short {
                        return Err(truncated());
                    }
                    if verify
                        && self.decoder.get_checksum_from_data()
                            != self.decoder.get_calculated_checksum()
                    {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "checksum mismatch",
                        ));
                    }
                }
            }
        }
    }
}

/// Whether an error was caused by input running out.
fn caused_by_eof(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmt_types::{Method, Request, Response};
    use std::io::Write;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"The quick brown fox jumps over the lazy dog. "[i % 45] ^ (i / 997) as u8)
            .collect()
    }

    /// Bytes that do not compress, so that encoded streams span many blocks.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn response_exchange(encoding: &str, body: Vec<u8>) -> Exchange {
        let mut response = Response::new(200);
        response.headers.append("Content-Type", "text/plain");
        response.headers.append("Content-Encoding", encoding);
        response
            .headers
            .append("Content-Length", body.len().to_string());
        response.body = Some(body);
        Exchange {
            request: Request::new(Method::Get, "/"),
            response: Some(response),
            meta: Map::new(),
        }
    }

    fn resp(exchange: &Exchange) -> &Response {
        exchange.response.as_ref().unwrap()
    }

    #[test]
    fn round_trips_every_encoding() {
        let data = sample(100_000);
        let cases: [(&str, Vec<u8>); 6] = [
            ("gzip", gzip(&data)),
            ("x-gzip", gzip(&data)),
            ("deflate", zlib(&data)),
            ("deflate", raw_deflate(&data)),
            ("br", brotli(&data)),
            ("zstd", zstd(&data)),
        ];
        for (encoding, encoded) in cases {
            assert_ne!(encoded, data);
            let mut exchange = response_exchange(encoding, encoded);
            decode_bodies(&mut exchange, 1 << 20);
            let r = resp(&exchange);
            assert!(r.body.as_deref() == Some(&data[..]), "{encoding}");
            assert_eq!(r.headers.get_ignore_case("content-encoding"), None);
            assert_eq!(
                r.headers.get_ignore_case("content-length"),
                Some("100000"),
                "{encoding}"
            );
            assert_eq!(
                r.headers.get_ignore_case("content-type"),
                Some("text/plain")
            );
            assert_eq!(exchange.meta["responseContentEncoding"], encoding);
            assert_eq!(exchange.meta.len(), 1, "{encoding}: {:?}", exchange.meta);
        }
    }

    #[test]
    fn header_name_and_coding_are_case_insensitive() {
        let data = sample(1000);
        let mut response = Response::new(200);
        response.headers.append("CONTENT-ENCODING", "GZip");
        response.body = Some(gzip(&data));
        let mut exchange = Exchange {
            request: Request::new(Method::Get, "/"),
            response: Some(response),
            meta: Map::new(),
        };
        decode_bodies(&mut exchange, usize::MAX);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&data[..]));
        assert!(resp(&exchange).headers.is_empty());
        assert_eq!(exchange.meta["responseContentEncoding"], "GZip");
    }

    #[test]
    fn decodes_the_request_body_too() {
        let data = br#"{"name":"x"}"#;
        let mut request = Request::new(Method::Post, "/items");
        request.headers.append("content-encoding", "zstd");
        request.body = Some(zstd(data));
        let mut exchange = Exchange {
            request,
            response: None,
            meta: Map::new(),
        };
        decode_bodies(&mut exchange, 1024);
        assert_eq!(exchange.request.body.as_deref(), Some(&data[..]));
        assert_eq!(exchange.meta["requestContentEncoding"], "zstd");
        // No content-length header was there, none is added.
        assert!(exchange.request.headers.is_empty());
    }

    #[test]
    fn chained_encodings_are_undone_in_reverse() {
        let data = sample(50_000);
        let encoded = brotli(&gzip(&data));
        let mut exchange = response_exchange("gzip, identity, br", encoded);
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&data[..]));
        assert_eq!(
            exchange.meta["responseContentEncoding"],
            "gzip, identity, br"
        );

        // The same chain as two header lines.
        let mut response = Response::new(200);
        response.headers.append("Content-Encoding", "deflate");
        response.headers.append("Content-Encoding", "zstd");
        response.body = Some(zstd(&zlib(&data)));
        let mut exchange = Exchange {
            request: Request::new(Method::Get, "/"),
            response: Some(response),
            meta: Map::new(),
        };
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&data[..]));
        assert_eq!(exchange.meta["responseContentEncoding"], "deflate, zstd");
    }

    #[test]
    fn truncated_gzip_keeps_the_decoded_prefix() {
        let data = sample(200_000);
        let encoded = gzip(&data);
        let cut = encoded[..encoded.len() / 2].to_vec();
        let mut exchange = response_exchange("gzip", cut);
        decode_bodies(&mut exchange, 1 << 20);
        let body = resp(&exchange).body.clone().unwrap();
        assert!(!body.is_empty() && body.len() < data.len());
        assert_eq!(body[..], data[..body.len()]);
        let r = resp(&exchange);
        assert_eq!(r.headers.get_ignore_case("content-encoding"), None);
        assert_eq!(
            r.headers.get_ignore_case("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(exchange.meta["responseBodyTruncated"], true);
        assert_eq!(
            exchange.meta["responseBodyDecodeError"],
            "gzip: stream ends early (truncated)"
        );
        assert_eq!(exchange.meta["responseContentEncoding"], "gzip");
    }

    #[test]
    fn truncated_streams_of_every_kind_are_marked() {
        let data = sample(200_000);
        let cases: [(&str, Vec<u8>); 4] = [
            ("deflate", zlib(&data)),
            ("deflate", raw_deflate(&data)),
            ("br", brotli(&data)),
            ("zstd", zstd(&data)),
        ];
        for (encoding, encoded) in cases {
            let cut = encoded[..encoded.len() * 3 / 4].to_vec();
            let mut exchange = response_exchange(encoding, cut);
            decode_bodies(&mut exchange, 1 << 20);
            let body = resp(&exchange).body.clone().unwrap();
            assert!(body.len() < data.len(), "{encoding}");
            assert_eq!(body[..], data[..body.len()], "{encoding}");
            assert_eq!(exchange.meta["responseBodyTruncated"], true, "{encoding}");
            assert!(
                exchange.meta["responseBodyDecodeError"]
                    .as_str()
                    .unwrap()
                    .ends_with("truncated)"),
                "{encoding}: {:?}",
                exchange.meta
            );
        }
    }

    #[test]
    fn truncated_chain_decodes_as_far_as_it_can() {
        let data = noise(400_000);
        let encoded = zstd(&gzip(&data));
        let cut = encoded[..encoded.len() / 2].to_vec();
        let mut exchange = response_exchange("gzip, zstd", cut);
        decode_bodies(&mut exchange, 1 << 20);
        let body = resp(&exchange).body.clone().unwrap();
        assert!(!body.is_empty() && body.len() < data.len());
        assert_eq!(body[..], data[..body.len()]);
        assert_eq!(exchange.meta["responseBodyTruncated"], true);
        assert!(
            exchange.meta["responseBodyDecodeError"]
                .as_str()
                .unwrap()
                .starts_with("zstd: ")
        );
    }

    #[test]
    fn bomb_is_capped_at_the_limit() {
        let zeros = vec![0u8; 10 << 20];
        for (encoding, encoded) in [
            ("gzip", gzip(&zeros)),
            ("br", brotli(&zeros)),
            ("zstd", zstd(&zeros)),
        ] {
            assert!(encoded.len() < 1 << 20, "{encoding}: {}", encoded.len());
            let mut exchange = response_exchange(encoding, encoded);
            decode_bodies(&mut exchange, 64 * 1024);
            assert_eq!(resp(&exchange).body.as_deref(), Some(&zeros[..64 * 1024]));
            assert_eq!(exchange.meta["responseBodyTruncated"], true);
            assert_eq!(
                exchange.meta["responseBodyDecodeError"],
                format!("{encoding}: decoded body exceeds the 65536-byte limit")
            );
        }
    }

    #[test]
    fn exactly_the_limit_is_not_truncated() {
        let data = sample(1000);
        let mut exchange = response_exchange("gzip", gzip(&data));
        decode_bodies(&mut exchange, 1000);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&data[..]));
        assert!(!exchange.meta.contains_key("responseBodyTruncated"));
    }

    #[test]
    fn garbage_keeps_raw_bytes_and_header() {
        for encoding in ["gzip", "deflate", "br", "zstd"] {
            let garbage = b"definitely not compressed at all, just text".to_vec();
            let mut exchange = response_exchange(encoding, garbage.clone());
            decode_bodies(&mut exchange, 1 << 20);
            let r = resp(&exchange);
            assert_eq!(r.body.as_deref(), Some(&garbage[..]), "{encoding}");
            assert_eq!(
                r.headers.get_ignore_case("content-encoding"),
                Some(encoding)
            );
            assert_eq!(
                r.headers.get_ignore_case("content-length"),
                Some(garbage.len().to_string().as_str())
            );
            assert!(
                exchange.meta["responseBodyDecodeError"]
                    .as_str()
                    .unwrap()
                    .starts_with(encoding),
                "{encoding}: {:?}",
                exchange.meta
            );
            assert_eq!(exchange.meta.len(), 1, "{encoding}: {:?}", exchange.meta);
        }
    }

    #[test]
    fn unknown_encoding_is_left_alone() {
        let body = b"\x00\x01compress".to_vec();
        let mut exchange = response_exchange("gzip, compress", body.clone());
        decode_bodies(&mut exchange, 1 << 20);
        let r = resp(&exchange);
        assert_eq!(r.body.as_deref(), Some(&body[..]));
        assert_eq!(
            r.headers.get_ignore_case("content-encoding"),
            Some("gzip, compress")
        );
        assert_eq!(
            exchange.meta["responseBodyDecodeError"],
            "unsupported content-encoding compress"
        );
        assert_eq!(exchange.meta.len(), 1);
    }

    #[test]
    fn identity_empty_and_absent_bodies_are_left_alone() {
        let mut exchange = response_exchange("identity", b"plain".to_vec());
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&b"plain"[..]));
        assert_eq!(
            resp(&exchange).headers.get_ignore_case("content-encoding"),
            Some("identity")
        );

        let mut exchange = response_exchange("gzip", Vec::new());
        exchange.response.as_mut().unwrap().body = None;
        decode_bodies(&mut exchange, 1 << 20);
        assert!(exchange.meta.is_empty());

        let mut exchange = response_exchange("br", Vec::new());
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(resp(&exchange).body.as_deref(), Some(&b""[..]));
        assert!(exchange.meta.is_empty());
    }

    #[test]
    fn corrupt_gzip_checksum_is_reported() {
        let data = sample(1000);
        let mut encoded = gzip(&data);
        let n = encoded.len();
        encoded[n - 6] ^= 0xff; // inside the CRC32
        let mut exchange = response_exchange("gzip", encoded);
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(exchange.meta["responseBodyTruncated"], true);
        assert!(
            exchange.meta["responseBodyDecodeError"]
                .as_str()
                .unwrap()
                .starts_with("gzip: corrupt stream")
        );
    }

    #[test]
    fn multiple_zstd_frames_are_concatenated() {
        let mut encoded = zstd(b"hello ");
        // A skippable frame between the two.
        encoded.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        encoded.extend(zstd(b"world"));
        let mut exchange = response_exchange("zstd", encoded);
        decode_bodies(&mut exchange, 1 << 20);
        assert_eq!(resp(&exchange).body_text(), Some("hello world"));
        assert!(!exchange.meta.contains_key("responseBodyDecodeError"));
    }
}
