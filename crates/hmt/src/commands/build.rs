//! `hmt build`: read recordings, fold them into the builder, write the specs.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hmt_build::initial::{OpenApiVersion, parse_initial_spec};
use hmt_build::{Builder, Mode, Options};
use hmt_types::{Exchange, Input, ReadError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `hmt build`.
#[derive(Args)]
pub(crate) struct BuildArgs {
    /// Recordings to read: http-types JSONL or HAR 1.2, plain or gzip (told apart by
    /// content); `-` for stdin; or a Kafka topic, `kafka://host:9092[,host2:9092]/topic`,
    /// read up to its end. Repeatable.
    #[arg(
        short = 'i',
        long = "input-file",
        alias = "input_file",
        value_name = "PATH|-|URL",
        required = true
    )]
    inputs: Vec<String>,

    /// Read Kafka inputs from this consumer group's committed offsets (and commit),
    /// instead of from the beginning.
    #[arg(long, value_name = "NAME")]
    kafka_group: Option<String>,

    /// A librdkafka consumer setting for Kafka inputs, such as `security.protocol=SSL`. Repeatable.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    kafka_options: Vec<String>,

    /// Directory to write the spec(s) into; created with its parents.
    #[arg(short = 'o', long = "out", aliases = ["output_dir", "output-dir"], value_name = "DIR", default_value = "specs")]
    out: PathBuf,

    /// gen: infer templates and schemas; replay: keep exact exchanges; mixed: both.
    #[arg(
        short = 'm',
        long = "mode",
        value_enum,
        ignore_case = true,
        default_value = "gen"
    )]
    mode: ModeArg,

    /// An OpenAPI spec (YAML or JSON) to merge the recordings into.
    #[arg(
        short = 'a',
        long = "initial-openapi-spec",
        alias = "initial_openapi_spec",
        value_name = "FILE"
    )]
    initial: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "json")]
    format: FormatArg,

    /// OpenAPI version of the output (an initial spec keeps its own).
    #[arg(long, value_enum, default_value = "3.0")]
    openapi: OpenApiArg,

    /// Count invalid lines (or HAR entries) and report them at the end instead of stopping.
    #[arg(long)]
    skip_invalid: bool,

    /// Compare the recordings with this OpenAPI 3.0/3.1 spec (JSON or YAML) instead of
    /// building one, and report every drift: undocumented paths, operations, status codes,
    /// media types, parameters and fields, missing parameters, schema violations. Writes
    /// nothing. Exit status 0: the traffic fits; 1: it drifted; 2: the spec or the traffic
    /// cannot be read.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["out", "mode", "initial", "format", "openapi", "kafka_group"])]
    check: Option<PathBuf>,

    /// With --check: the report on stdout, `text` (grouped, for people) or `json` (for CI).
    /// (`--format` is the format of a spec written without --check.)
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "text",
        requires = "check"
    )]
    report: super::check::ReportArg,

    /// The longest input line, in bytes (suffixes KiB, MiB, GiB); a longer line is an
    /// invalid line, read no further than this.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_bytes)]
    max_line_bytes: u64,

    /// When the input holds no exchanges, write a spec without paths (one `openapi` file,
    /// or the initial spec with nothing added) and exit 0, instead of failing with exit 1.
    #[arg(long)]
    allow_empty: bool,
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (`K`, `M`, `G`, `KB`... also accepted, all powers of 1024).
pub(crate) fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("unknown unit {other:?}, expected KiB, MiB or GiB")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a number of bytes"))?;
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Gen,
    Replay,
    Mixed,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Json,
    Yaml,
}

#[derive(Clone, Copy, ValueEnum)]
enum OpenApiArg {
    #[value(name = "3.0")]
    V30,
    #[value(name = "3.1")]
    V31,
}

/// How many invalid lines are shown one by one before only counting.
const SHOWN_INVALID_LINES: u64 = 20;

/// Runs `hmt build`.
pub(crate) fn run(args: BuildArgs) -> Result<()> {
    if let Some(spec) = &args.check {
        return super::check::run(spec, &args.inputs, args.skip_invalid, args.report);
    }
    let initial = match &args.initial {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read initial spec {}", path.display()))?;
            Some(parse_initial_spec(&path.display().to_string(), &text)?)
        }
        None => None,
    };
    let mut builder = Builder::new(Options {
        mode: match args.mode {
            ModeArg::Gen => Mode::Gen,
            ModeArg::Replay => Mode::Replay,
            ModeArg::Mixed => Mode::Mixed,
        },
        openapi: match args.openapi {
            OpenApiArg::V30 => OpenApiVersion::V30,
            OpenApiArg::V31 => OpenApiVersion::V31,
        },
        initial,
    });

    let kafka_options = super::kafka_options(&args.kafka_options)?;
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for source in &args.inputs {
        inputs.push(if source.starts_with("kafka://") {
            Source::Kafka(super::kafka::topic(source)?)
        } else {
            Source::File(Input::open(source).with_context(|| format!("cannot open {source}"))?)
        });
    }
    let files: Vec<&Input> = inputs
        .iter()
        .filter_map(|s| match s {
            Source::File(input) => Some(input),
            Source::Kafka(_) => None,
        })
        .collect();
    let progress = Progress::new(&files);
    let mut skipped = 0u64;
    // A bad line either stops the build or, with --skip-invalid, is counted.
    let mut on_invalid = |error: String| -> Result<()> {
        if !args.skip_invalid {
            progress.finish();
            bail!(error);
        }
        skipped += 1;
        if skipped <= SHOWN_INVALID_LINES {
            progress.println(&format!("hmt: skipped {error}"));
        }
        Ok(())
    };
    for input in inputs {
        match input {
            Source::File(input) => {
                let mut exchanges = input.exchanges().with_max_line_bytes(args.max_line_bytes);
                for exchange in exchanges.by_ref() {
                    match exchange {
                        Ok(exchange) => {
                            builder.add(&exchange);
                            progress.tick(builder.exchanges());
                        }
                        Err(error @ ReadError::LineTooLong { .. }) => {
                            on_invalid(format!("{error} (--max-line-bytes)"))?
                        }
                        Err(error) if error.is_invalid_line() => on_invalid(error.to_string())?,
                        Err(error) => {
                            progress.finish();
                            bail!(error);
                        }
                    }
                }
                for warning in exchanges.warnings() {
                    progress.println(&format!("hmt: warning: {warning}"));
                }
            }
            Source::Kafka(url) => {
                let read = super::kafka::read_topic(
                    &url,
                    args.kafka_group.as_deref(),
                    &kafka_options,
                    |position, value| -> Result<()> {
                        match Exchange::from_json_slice(value) {
                            Ok(exchange) => {
                                builder.add(&exchange);
                                progress.tick(builder.exchanges());
                                Ok(())
                            }
                            Err(invalid) => on_invalid(format!("{url}: {position}: {invalid}")),
                        }
                    },
                );
                if let Err(error) = read {
                    progress.finish();
                    return Err(error);
                }
            }
        }
    }
    progress.finish();

    if builder.exchanges() == 0 && !args.allow_empty {
        let skipped = if skipped > 0 {
            format!(" ({skipped} invalid line{} skipped)", plural(skipped))
        } else {
            String::new()
        };
        bail!(
            "the input held no exchanges{skipped}, so there is nothing to build and nothing was written; \
             pass --allow-empty to write a spec without paths instead"
        );
    }
    let output = builder.finish();
    let (mut paths, mut operations) = (0, 0);
    let mut files = Vec::with_capacity(output.specs.len());
    for spec in &output.specs {
        let extension = match args.format {
            FormatArg::Json => "json",
            FormatArg::Yaml => "yaml",
        };
        files.push(OutputFile {
            path: args.out.join(format!("{}.{extension}", spec.file_stem)),
            document: &spec.document,
            format: args.format,
        });
        paths += spec.paths;
        operations += spec.operations;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let written = write_all_or_nothing(files)?;

    for warning in &output.warnings {
        eprintln!("hmt: warning: {warning}");
    }
    if skipped > SHOWN_INVALID_LINES {
        eprintln!(
            "hmt: {} more invalid lines skipped",
            skipped - SHOWN_INVALID_LINES
        );
    }
    eprintln!(
        "hmt build: {} exchange{} read, {} skipped, {} host{}, {} path{}, {} operation{} -> {}",
        output.exchanges,
        plural(output.exchanges),
        skipped,
        output.specs.len(),
        plural(output.specs.len() as u64),
        paths,
        plural(paths as u64),
        operations,
        plural(operations as u64),
        written.join(", ")
    );
    Ok(())
}

/// Where exchanges come from.
enum Source {
    File(Input),
    Kafka(super::kafka::Topic),
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A spec file to write.
struct OutputFile<'a> {
    path: PathBuf,
    document: &'a serde_json::Value,
    format: FormatArg,
}

impl OutputFile<'_> {
    fn write(&self, out: &mut impl std::io::Write) -> Result<()> {
        match self.format {
            FormatArg::Json => {
                serde_json::to_writer_pretty(&mut *out, self.document)?;
                out.write_all(b"\n")?;
            }
            FormatArg::Yaml => out.write_all(yaml_serde::to_string(self.document)?.as_bytes())?,
        }
        Ok(())
    }
}

/// Writes every file to a temporary file in its directory (`.NAME.XXXXXX.tmp`),
/// and only once all of them are complete and flushed renames them into
/// place; returns the paths written. Any failure before the renames removes
/// every temporary file and leaves the directory as it was, so a failed
/// build never leaves a partial spec, and never replaces a good one.
fn write_all_or_nothing(files: Vec<OutputFile<'_>>) -> Result<Vec<String>> {
    use std::io::Write;
    let mut staged = Vec::with_capacity(files.len());
    for file in &files {
        if file.path.is_dir() {
            bail!("cannot write {}: it is a directory", file.path.display());
        }
        let dir = file.path.parent().unwrap_or(Path::new("."));
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // As `std::fs::write` would create it: 0666 less the umask, not
        // the 0600 of a temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        // Dropped on any error below: the temporary file is removed.
        let tmp = builder
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, tmp);
        file.write(&mut out)
            .and_then(|()| out.flush().map_err(Into::into))
            .with_context(|| format!("cannot write {}", file.path.display()))?;
        let tmp = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", file.path.display()))?;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", file.path.display()))?;
        staged.push((tmp, &file.path));
    }
    let mut written = Vec::with_capacity(staged.len());
    for (tmp, path) in staged {
        tmp.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// A progress bar on stderr when it is a terminal: bytes read of the
/// total, and exchanges per second.
struct Progress {
    bar: Option<ProgressBar>,
    counters: Vec<Arc<AtomicU64>>,
    started: Instant,
    last_draw: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(inputs: &[&Input]) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let total: Option<u64> = inputs.iter().map(|i| i.len).sum();
            let bar = match total {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            // Coloured only as --color and NO_COLOR allow.
            let template = match (total.is_some(), crate::color::stderr()) {
                (true, true) => "{bar:30.cyan/blue} {bytes}/{total_bytes} {msg}",
                (true, false) => "{bar:30} {bytes}/{total_bytes} {msg}",
                (false, true) => "{spinner:.cyan} {bytes} {msg}",
                (false, false) => "{spinner} {bytes} {msg}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            counters: inputs.iter().map(|i| Arc::clone(&i.consumed)).collect(),
            started: Instant::now(),
            last_draw: std::cell::Cell::new(Instant::now()),
        }
    }

    fn tick(&self, exchanges: u64) {
        let Some(bar) = &self.bar else { return };
        // Drawing is cheap but not free: look at the clock every 1024 exchanges.
        if !exchanges.is_multiple_of(1024)
            || self.last_draw.get().elapsed() < Duration::from_millis(100)
        {
            return;
        }
        self.last_draw.set(Instant::now());
        let consumed: u64 = self
            .counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        bar.set_position(consumed);
        let rate = exchanges as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{exchanges} exchanges, {rate:.0}/s"));
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
