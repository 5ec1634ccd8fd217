//! The `hmt` command line: thin glue between the terminal and the
//! hmt-build, hmt-record and hmt-mock libraries.

// Printing results to stdout is the command line's job (the libraries may
// not, see `clippy::print_stdout` in the workspace lints).
#![allow(clippy::print_stdout)]

mod commands;

mod alloc;
mod color;
mod logging;

/// mimalloc, with large buffers left to the system (see `alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// HTTP mocking toolkit: record traffic, build OpenAPI specs from it, mock them.
#[derive(Parser)]
#[command(name = "hmt", version, about, long_about = None)]
struct Cli {
    /// When to colour output: `auto` (on a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = color::ColorChoice::Auto)]
    color: color::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Record traffic through a proxy, as http-types JSONL (and HAR).
    #[command(after_help = RECORD_EXAMPLES)]
    Record(Box<commands::record::RecordArgs>),
    /// Build an OpenAPI spec from recordings: http-types JSONL or HAR.
    #[command(after_help = BUILD_EXAMPLES)]
    Build(commands::build::BuildArgs),
    /// Convert recordings between http-types JSONL and HAR 1.2, losslessly.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(commands::convert::ConvertArgs),
    /// Serve OpenAPI specs and recordings as a mock server.
    #[command(after_help = MOCK_EXAMPLES)]
    Mock(Box<commands::mock::MockArgs>),
    /// Show the CA certificate `hmt record` intercepts HTTPS with, and how to trust it.
    #[command(after_help = CA_EXAMPLES)]
    Ca(commands::ca::CaArgs),
    /// A guided tour on a small bookshop API: record it, build a spec, mock it.
    #[command(after_help = TUTORIAL_EXAMPLES)]
    Tutorial(commands::tutorial::TutorialArgs),
    /// Print a completion script for a shell.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages, hmt.1 and one per verb (hmt-mock.1, ...), into DIR (`make man`).
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the JSON Schema of one of hmt's formats (`hmt schema` lists them).
    #[command(after_help = SCHEMA_EXAMPLES)]
    Schema(commands::schema::SchemaArgs),
}

const RECORD_EXAMPLES: &str = "\
Examples:
  hmt record                                    # path routing: curl localhost:8000/https://api.example.com/users
  hmt record --target https://staging.example.com -l recordings/
  hmt record -d -p 9000 --output all.jsonl      # in the background; `hmt record stop` ends it
  HTTPS_PROXY=http://localhost:8000 curl --cacert ~/.hmt/ca/hmt-ca.pem https://api.example.com/";

const BUILD_EXAMPLES: &str = "\
Examples:
  hmt build -i logs/api.example.com-recordings.jsonl        # writes specs/openapi.json
  hmt build -i a.jsonl -i b.har.gz -m mixed -o build/specs --format yaml
  hmt build -i new-traffic.jsonl -a openapi.yaml            # merge traffic into a hand-written spec
  hmt build -i traffic.jsonl --check openapi.yaml --report json";

const MOCK_EXAMPLES: &str = "\
Examples:
  hmt mock specs/openapi.json                   # on :8000, admin API on :8888
  hmt mock specs/ --recordings logs/api.example.com-recordings.jsonl -p 9000 --stateful
  hmt mock -d specs/openapi.json                # in the background; `hmt mock status`, `hmt mock stop`
  hmt mock -a 2525 --allow-injection            # mountebank's imposters API alone";

const CONVERT_EXAMPLES: &str = "\
Examples:
  hmt convert recordings.jsonl recordings.har
  hmt convert browser-session.har recordings.jsonl
  hmt convert --to har - out.har < recordings.jsonl";

const CA_EXAMPLES: &str = "\
Examples:
  hmt ca                                        # where the certificate is, and how to trust it
  curl --cacert \"$(hmt ca --path-only)\" -x http://localhost:8000 https://api.example.com/
  hmt ca --ca-dir ./ca";

const TUTORIAL_EXAMPLES: &str = "\
Examples:
  hmt tutorial                                  # Enter runs each step, q then Enter quits
  hmt tutorial --yes                            # every step, without waiting";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  source <(hmt completions bash)                # or save it in /etc/bash_completion.d/hmt
  hmt completions zsh > \"${fpath[1]}/_hmt\"
  hmt completions fish > ~/.config/fish/completions/hmt.fish";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  hmt schema                                    # the formats that have one
  hmt schema http-types > http-types.schema.json
  hmt schema imposter                           # mountebank's imposter JSON as hmt reads it";

fn main() -> ExitCode {
    alloc::configure();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // clap colours its help and errors while it parses: it is told the
    // --color flag (and NO_COLOR) before it reads the line.
    let command = Cli::command().color(color::for_clap(color::from_args(&args)));
    let cli = command
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|error| error.exit());
    color::set(cli.color);
    let result = match cli.command {
        Command::Record(args) => commands::record::run(*args),
        Command::Build(args) => commands::build::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Mock(args) => commands::mock::run(*args),
        Command::Ca(args) => commands::ca::run(args),
        Command::Tutorial(args) => commands::tutorial::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut without_hidden_verbs(Cli::command()),
                "hmt",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man { dir } => write_man_pages(&dir),
        Command::Schema(args) => commands::schema::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Said already; only the status is left to give.
        Err(ref error) if let Some(exit) = error.downcast_ref::<commands::check::Exit>() => {
            ExitCode::from(exit.0)
        }
        Err(error) => {
            logging::error(&error);
            ExitCode::from(1)
        }
    }
}

/// The command line as completions offer it: clap_complete's bash script
/// lists hidden subcommands too (`hmt man` is for `make man`, not for
/// people), and clap has no way to take one out, so the command is built
/// again from its visible parts.
fn without_hidden_verbs(full: clap::Command) -> clap::Command {
    clap::Command::new("hmt")
        .args(full.get_arguments().cloned())
        .subcommands(
            full.get_subcommands()
                .filter(|verb| !verb.is_hide_set())
                .cloned(),
        )
}

/// `hmt man DIR`: the pages clap_mangen makes from the parser's own
/// definitions, hidden verbs left out.
fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("hmt") && name.ends_with(".1"))
        .collect();
    pages.sort();
    println!("wrote {} in {}", pages.join(", "), dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every short flag means one thing in every verb: the same long name
    /// wherever it appears. `-a` is the one exception, HMT's own: build's
    /// initial spec and mock's admin port (see the README's CLI section).
    #[test]
    fn a_short_flag_means_one_thing_in_every_verb_except_hmts_a() {
        fn walk(command: &clap::Command, shorts: &mut BTreeMap<char, BTreeMap<String, String>>) {
            for arg in command.get_arguments() {
                if let (Some(short), Some(long)) = (arg.get_short(), arg.get_long()) {
                    shorts
                        .entry(short)
                        .or_default()
                        .insert(long.to_owned(), command.get_name().to_owned());
                }
            }
            for verb in command.get_subcommands() {
                walk(verb, shorts);
            }
        }
        let mut shorts = BTreeMap::new();
        walk(&Cli::command(), &mut shorts);
        let conflicts: BTreeMap<char, BTreeMap<String, String>> = shorts
            .into_iter()
            .filter(|(short, longs)| longs.len() > 1 && *short != 'a')
            .collect();
        assert!(
            conflicts.is_empty(),
            "short flags with more than one meaning (long name -> verb): {conflicts:?}"
        );
        let a: Vec<String> = Cli::command()
            .get_subcommands()
            .flat_map(|verb| verb.get_arguments())
            .filter(|arg| arg.get_short() == Some('a'))
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect();
        assert_eq!(a, ["initial-openapi-spec", "admin-port"]);
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
