//! `hmt build --check SPEC`: compare recordings with a spec instead of
//! building one, report the drift, and exit 0 (fits), 1 (drifted) or 2
//! (the spec or the traffic cannot be read). Nothing is written.

use anyhow::Result;
use clap::ValueEnum;
use hmt_drift::{Checker, Location};
use hmt_types::{Exchanges, Input};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// How the report is printed (on stdout).
#[derive(Clone, Copy, Default, ValueEnum)]
pub(crate) enum ReportArg {
    /// For people: grouped by kind, with counts and locations.
    #[default]
    Text,
    /// For CI: one JSON document, shape in the README ("Drift gate").
    Json,
}

/// The exit status of a check that did not succeed; what went wrong has
/// been printed already.
#[derive(Debug)]
pub(crate) struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// Exit status: the traffic drifted from the spec.
const DRIFTED: u8 = 1;
/// Exit status: the spec or the traffic cannot be read, or a bad argument.
const UNUSABLE: u8 = 2;

/// Checks the exchanges of `inputs` against `spec`.
pub(crate) fn run(
    spec: &Path,
    inputs: &[String],
    skip_invalid: bool,
    report: ReportArg,
) -> Result<()> {
    let unusable = |message: String| {
        eprintln!("hmt: error: {message}");
        anyhow::Error::new(Exit(UNUSABLE))
    };
    let loaded = hmt_openapi::load_specs(&[spec.to_owned()])
        .and_then(|mut specs| hmt_openapi::compile(specs.remove(0)))
        .map_err(|error| unusable(error.to_string()))?;
    let mut checker = Checker::new(loaded, spec.display().to_string());
    let mut skipped = 0u64;
    for source in inputs {
        if source.starts_with("kafka://") {
            return Err(unusable(format!(
                "{source}: --check reads files and stdin; save the topic to a file first"
            )));
        }
        let input =
            Input::open(source).map_err(|e| unusable(format!("cannot open {source}: {e}")))?;
        let name: Arc<str> = Arc::from(input.name.as_str());
        let mut reader = input.exchanges();
        while let Some(exchange) = reader.next() {
            match exchange {
                Ok(exchange) => {
                    let location = match &reader {
                        Exchanges::Jsonl(lines) => Location::line(&name, lines.line()),
                        Exchanges::Har(entries) => Location::pointer(&name, entries.pointer()),
                    };
                    checker.check(&exchange, location);
                }
                Err(error) if skip_invalid && error.is_invalid_line() => {
                    skipped += 1;
                    eprintln!("hmt: skipped {error}");
                }
                Err(error) => return Err(unusable(error.to_string())),
            }
        }
    }
    let result = checker.finish();
    let text = match report {
        ReportArg::Text => result.to_text(),
        ReportArg::Json => {
            let mut json = serde_json::to_string_pretty(&result.to_json())?;
            json.push('\n');
            json
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if skipped > 0 {
        eprintln!(
            "hmt build --check: {skipped} invalid line{} skipped",
            if skipped == 1 { "" } else { "s" }
        );
    }
    if result.drifted() {
        Err(Exit(DRIFTED).into())
    } else {
        Ok(())
    }
}
