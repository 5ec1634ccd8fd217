//! Whether hmt writes colour, decided once at start from `--color
//! auto|always|never` and `NO_COLOR` (<https://no-color.org>), and asked by
//! everything that styles its output: clap's help and errors, the logs,
//! progress bars and the tutorial.
//!
//! `always` and `never` are what they say, whatever the environment: a flag
//! on the command line is the most specific wish. `auto` colours a stream
//! only when it is a terminal and `NO_COLOR` is unset or empty.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// The `--color` flag's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set to anything but empty.
    #[default]
    Auto,
    /// Colour everywhere, pipes and files included.
    Always,
    /// No colour anywhere.
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// The `--color` value on a raw command line, read before clap parses it:
/// clap colours (or not) its own help and errors while it parses, so it has
/// to be told first. The last one wins, as clap's own reading does; an
/// unknown value counts as `auto` here, and clap then refuses it with its
/// usual error.
pub(crate) fn from_args(args: &[OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.to_str() {
            Some("--") => break,
            Some("--color") => args.next().and_then(|v| v.to_str()),
            Some(arg) => arg.strip_prefix("--color="),
            None => None,
        };
        if let Some(value) = value {
            choice = match value {
                "always" => ColorChoice::Always,
                "never" => ColorChoice::Never,
                _ => ColorChoice::Auto,
            };
        }
    }
    choice
}

/// Records the choice for the rest of the process (the first call wins).
pub(crate) fn set(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// The choice `set` recorded, `auto` before that.
pub(crate) fn choice() -> ColorChoice {
    CHOICE.get().copied().unwrap_or_default()
}

/// The same choice in clap's terms, `NO_COLOR` applied (clap's `auto` reads
/// it too, but only through its terminal library's rules).
pub(crate) fn for_clap(choice: ColorChoice) -> clap::ColorChoice {
    match choice {
        ColorChoice::Always => clap::ColorChoice::Always,
        ColorChoice::Never => clap::ColorChoice::Never,
        ColorChoice::Auto if no_color() => clap::ColorChoice::Never,
        ColorChoice::Auto => clap::ColorChoice::Auto,
    }
}

/// Whether what hmt writes on stderr may be coloured.
pub(crate) fn stderr() -> bool {
    enabled(std::io::stderr().is_terminal())
}

/// Whether what hmt writes on stdout may be coloured.
pub(crate) fn stdout() -> bool {
    enabled(std::io::stdout().is_terminal())
}

fn enabled(terminal: bool) -> bool {
    match choice() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color(),
    }
}

/// `NO_COLOR` set to anything but the empty string.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_last_color_flag_wins_and_nothing_after_a_double_dash_counts() {
        assert_eq!(from_args(&args("hmt mock")), ColorChoice::Auto);
        assert_eq!(
            from_args(&args("hmt --color never mock")),
            ColorChoice::Never
        );
        assert_eq!(
            from_args(&args("hmt mock --color=never --color always")),
            ColorChoice::Always
        );
        assert_eq!(
            from_args(&args("hmt mock -- --color=never")),
            ColorChoice::Auto
        );
        assert_eq!(from_args(&args("hmt --color=pink")), ColorChoice::Auto);
    }
}
