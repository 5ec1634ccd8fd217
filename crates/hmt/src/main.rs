//! The `hmt` command line: thin glue between the terminal and the
//! hmt-build, hmt-record and hmt-mock libraries.

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// HTTP mocking toolkit: record traffic, build OpenAPI specs from it, mock them.
#[derive(Parser)]
#[command(name = "hmt", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an OpenAPI spec from recorded http-types JSONL.
    Build(commands::build::BuildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hmt: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
