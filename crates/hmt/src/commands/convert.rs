//! `hmt convert IN OUT`: http-types JSONL to HAR 1.2 and back.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hmt_types::{HarWriter, Input, JsonlWriter};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `hmt convert`.
#[derive(Args)]
pub(crate) struct ConvertArgs {
    /// The recording to read: http-types JSONL or HAR 1.2, plain or gzip (told apart by
    /// content, not by name); `-` for stdin.
    #[arg(value_name = "IN")]
    input: String,

    /// Where to write: a file, replaced only once the conversion succeeded (`.har` or
    /// `.jsonl`, with `.gz` after it to compress); `-` for stdout, with --to.
    #[arg(value_name = "OUT")]
    output: String,

    /// The output format; by default from OUT's extension.
    #[arg(long, value_enum, ignore_case = true)]
    to: Option<To>,

    /// Count invalid lines or entries and report them at the end instead of stopping.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum To {
    Har,
    Jsonl,
}

/// The output format and whether to gzip it, from `--to` and OUT's name.
fn output_format(output: &str, to: Option<To>) -> Result<(To, bool)> {
    let lower = output.to_ascii_lowercase();
    let gzip = lower.ends_with(".gz");
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    let by_name = if stem.ends_with(".har") {
        Some(To::Har)
    } else if stem.ends_with(".jsonl") {
        Some(To::Jsonl)
    } else {
        None
    };
    match (to, by_name) {
        (Some(to), _) => Ok((to, gzip)),
        (None, Some(by_name)) => Ok((by_name, gzip)),
        (None, None) if output == "-" => bail!("writing to stdout needs --to har or --to jsonl"),
        (None, None) => bail!(
            "cannot tell the output format from {output:?}: name it .har or .jsonl (.gz to \
             compress), or pass --to har|jsonl"
        ),
    }
}

/// Exchanges written in one format or the other.
enum Sink<W: Write> {
    Har(HarWriter<W>),
    Jsonl(JsonlWriter<W>),
}

impl<W: Write> Sink<W> {
    fn new(to: To, out: W) -> std::io::Result<Sink<W>> {
        Ok(match to {
            To::Har => Sink::Har(HarWriter::new(out)?),
            To::Jsonl => Sink::Jsonl(JsonlWriter::new(out)),
        })
    }

    fn write(&mut self, exchange: &hmt_types::Exchange) -> std::io::Result<()> {
        match self {
            Sink::Har(har) => har.write(exchange),
            Sink::Jsonl(jsonl) => jsonl.write(exchange),
        }
    }

    fn finish(self) -> std::io::Result<W> {
        match self {
            Sink::Har(har) => har.finish(),
            Sink::Jsonl(mut jsonl) => {
                jsonl.flush()?;
                Ok(jsonl.into_inner())
            }
        }
    }
}

/// Runs `hmt convert`.
pub(crate) fn run(args: ConvertArgs) -> Result<()> {
    let (to, gzip) = output_format(&args.output, args.to)?;
    let input = Input::open(&args.input).with_context(|| format!("cannot open {}", args.input))?;
    let from = input.format;

    let counts = if args.output == "-" {
        let stdout = std::io::stdout().lock();
        let (counts, out) = convert(input, to, gzip, BufWriter::new(stdout), args.skip_invalid)?;
        out.into_inner()
            .map_err(|e| e.into_error())?
            .flush()
            .context("cannot write to stdout")?;
        counts
    } else {
        let path = Path::new(&args.output);
        // Written beside and renamed into place: a failed conversion leaves
        // OUT as it was, and nothing half-written.
        let tmp = temporary_beside(path);
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let written = convert(input, to, gzip, BufWriter::new(file), args.skip_invalid)
            .and_then(|(counts, out)| {
                let file = out.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                Ok(counts)
            })
            .and_then(|counts| {
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(counts)
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?
    };
    for warning in &counts.warnings {
        eprintln!("hmt: warning: {warning}");
    }
    eprintln!(
        "hmt convert: {} exchange{} ({}) -> {} ({}){}",
        counts.exchanges,
        if counts.exchanges == 1 { "" } else { "s" },
        from.as_str(),
        args.output,
        match to {
            To::Har => "har",
            To::Jsonl => "jsonl",
        },
        if counts.skipped > 0 {
            format!(", {} invalid skipped", counts.skipped)
        } else {
            String::new()
        }
    );
    Ok(())
}

struct Counts {
    exchanges: u64,
    skipped: u64,
    warnings: Vec<String>,
}

/// Reads every exchange of `input` and writes it to `out`, which it
/// returns, flushed (and its gzip stream finished).
fn convert<W: Write>(
    input: Input,
    to: To,
    gzip: bool,
    out: W,
    skip_invalid: bool,
) -> Result<(Counts, W)> {
    let mut counts = Counts {
        exchanges: 0,
        skipped: 0,
        warnings: Vec::new(),
    };
    let out = if gzip {
        Compress::Gzip(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::default(),
        ))
    } else {
        Compress::Plain(out)
    };
    let mut sink = Sink::new(to, out).context("cannot write the output")?;
    let mut exchanges = input.exchanges();
    for exchange in exchanges.by_ref() {
        match exchange {
            Ok(exchange) => {
                sink.write(&exchange).context("cannot write the output")?;
                counts.exchanges += 1;
            }
            Err(error) if skip_invalid && error.is_invalid_line() => {
                eprintln!("hmt: skipped {error}");
                counts.skipped += 1;
            }
            Err(error) => bail!(error),
        }
    }
    counts.warnings = exchanges.warnings().to_vec();
    let out = sink
        .finish()
        .and_then(Compress::finish)
        .context("cannot write the output")?;
    Ok((counts, out))
}

/// The output, gzip-compressed or not.
enum Compress<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
}

impl<W: Write> Compress<W> {
    /// Ends the gzip stream, if any, and gives the writer back.
    fn finish(self) -> std::io::Result<W> {
        match self {
            Compress::Plain(out) => Ok(out),
            Compress::Gzip(gzip) => gzip.finish(),
        }
    }
}

impl<W: Write> Write for Compress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compress::Plain(out) => out.write(buf),
            Compress::Gzip(gzip) => gzip.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compress::Plain(out) => out.flush(),
            Compress::Gzip(gzip) => gzip.flush(),
        }
    }
}

/// `OUT.<pid>.tmp` in OUT's directory.
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}
