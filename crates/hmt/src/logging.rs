//! Logs on stderr: human-readable by default, JSON lines with `--log-format json`.

use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// The format `init` set up, for lines written after it (`error`).
static INSTALLED: OnceLock<LogFormat> = OnceLock::new();

/// `--log-format`, on every verb that runs a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people, coloured as `--color` says.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the subscriber; `RUST_LOG` overrides `default_filter`
/// (`info`, or `warn` where the verb prints its own start-up line).
pub(crate) fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colours only as --color and NO_COLOR allow: by default for a person at
    // a terminal, never in files or pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(format == LogFormat::Text && crate::color::stderr())
        .with_writer(std::io::stderr);
    // try_init: a second call (a verb that runs another's code) keeps the first.
    let installed = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() {
        let _ = INSTALLED.set(format);
    }
}

/// The error a command ended with: `hmt: error: ...` on stderr, or an
/// `error` event once a verb has set up JSON logs, so that a server that
/// cannot start (a port in use, a broken spec) still writes only JSON.
pub(crate) fn error(error: &anyhow::Error) {
    match INSTALLED.get() {
        Some(LogFormat::Json) => tracing::error!("hmt: error: {error:#}"),
        _ => eprintln!("hmt: error: {error:#}"),
    }
}

/// A line for the person running hmt (a summary, a warning): printed as it
/// is in text, whatever the level; in JSON an event at `level`, so that
/// every line on stderr is one object.
pub(crate) fn say(format: LogFormat, level: tracing::Level, line: &str) {
    match format {
        LogFormat::Text => eprintln!("{line}"),
        LogFormat::Json if level == tracing::Level::ERROR => tracing::error!("{line}"),
        LogFormat::Json if level == tracing::Level::WARN => tracing::warn!("{line}"),
        LogFormat::Json => tracing::info!("{line}"),
    }
}
