//! The `hmt` command line: thin glue between the terminal and the
//! hmt-build, hmt-record and hmt-mock libraries.

mod commands;

mod alloc;
mod logging;

/// mimalloc, with large buffers left to the system (see `alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator;

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
    /// Record traffic through a proxy, as http-types JSONL (and HAR).
    Record(Box<commands::record::RecordArgs>),
    /// Build an OpenAPI spec from recordings: http-types JSONL or HAR.
    Build(commands::build::BuildArgs),
    /// Convert recordings between http-types JSONL and HAR 1.2, losslessly.
    Convert(commands::convert::ConvertArgs),
    /// Serve OpenAPI specs and recordings as a mock server.
    Mock(Box<commands::mock::MockArgs>),
    /// Show the CA certificate `hmt record` intercepts HTTPS with, and how to trust it.
    Ca(commands::ca::CaArgs),
}

fn main() -> ExitCode {
    alloc::configure();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(args) => commands::record::run(*args),
        Command::Build(args) => commands::build::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Mock(args) => commands::mock::run(*args),
        Command::Ca(args) => commands::ca::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Said already; only the status is left to give.
        Err(ref error) if let Some(exit) = error.downcast_ref::<commands::check::Exit>() => {
            ExitCode::from(exit.0)
        }
        Err(error) => {
            eprintln!("hmt: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
