//! The `grantgap` command: subcommands, and how a run ends.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Why do service accounts get 403 Forbidden, and what must be granted, refreshed or fixed?
#[derive(Debug, Parser)]
#[command(name = "grantgap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Per principal: the missing permissions, counts, endpoints, causes and the fix.
    Report(cli::report::ReportArgs),
}

/// Exit code of a run that failed: bad arguments, unreadable inputs, unwritable output.
const EXIT_ERROR: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => cli::report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`grantgap report … | head`) is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grantgap: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
