//! The `grantgap` command: subcommands, and how a run ends.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use grantgap::cli::{self, Failure};

// A run allocates many small strings (keys of the groups it counts, the
// report's text) from two threads. glibc's allocator spent about a fifth of a
// 2 GB run in malloc, free and chunk consolidation; mimalloc's thread-local
// free lists do the same work in a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Why do service accounts get 403 Forbidden, and what must be granted, refreshed or fixed?
#[derive(Debug, Parser)]
#[command(name = "grantgap", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, as `--help` shows them (the constants below).
const EXIT_CODES: &str = "Exit codes:
  0         done; with --baseline, nothing new
  1         error: an input that cannot be read, an unwritable output (the message says what to do)
  2         bad arguments, or an output that would replace an input
  3         --baseline found a new signature or (principal, missing permission)
  4         --strict met an input record it could not use; nothing was written
  5         no event could be used, a named event file yielded none, or more than --max-skipped
            were skipped; no report was written
  130, 143  interrupted (Ctrl-C, SIGTERM); half-written outputs removed";

#[derive(Debug, Subcommand)]
enum Command {
    /// Per principal: the missing permissions, counts, endpoints, causes and the fix.
    #[command(after_help = EXIT_CODES)]
    Report(cli::report::ReportArgs),
    /// Read one shard of the logs into a partial state, for `merge` (here or on another machine).
    #[command(after_help = EXIT_CODES)]
    Partial(cli::partial::PartialArgs),
    /// The report of the logs partial states were made from: what `report` makes of them.
    #[command(after_help = EXIT_CODES)]
    Merge(cli::merge::MergeArgs),
    /// The failure signatures, each with an id that is the same every night.
    #[command(after_help = EXIT_CODES)]
    Signatures(cli::signatures::SignaturesArgs),
    /// Denials over time, the spikes, and what changed just before each.
    Spikes(cli::spikes::SpikesArgs),
    /// SQL over the report's tables: events, denials, diagnoses, signatures, grants, tokens, roles…
    Query(cli::query::QueryArgs),
    /// Writes synthetic audit logs with a truth file: for evaluation and benchmarks.
    Generate(cli::generate::GenerateArgs),
    /// Scores the diagnoses of generated logs against their truth file.
    Eval(cli::eval::EvalArgs),
    /// A policy catalog learned from who succeeds on each endpoint, to review and pass back.
    Policies(cli::policies::PoliciesArgs),
    /// A completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(cli::completions::CompletionsArgs),
    /// The manual pages (roff).
    Man(cli::man::ManArgs),
}

/// Exit code of a run that failed: unreadable inputs, unwritable output.
const EXIT_ERROR: u8 = 1;
/// Exit code of bad arguments (clap's own), and of an output that would destroy
/// an input.
const EXIT_USAGE: u8 = 2;
/// Exit code of a run that compared against `--baseline` and found new denials.
const EXIT_NEW_DENIALS: u8 = 3;
/// Exit code of a `--strict` run that met input it could not use.
const EXIT_BAD_INPUT: u8 = 4;
/// Exit code of a run whose events were none usable, or too many skipped.
const EXIT_UNUSABLE_INPUT: u8 = 5;

fn main() -> ExitCode {
    let args = match cli::config::expand(std::env::args_os().collect(), Cli::command()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("grantgap: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // A later option overrides an earlier one (as in ripgrep): the command line
    // overrides what --config put before it.
    let command = Cli::command().mut_subcommands(|s| s.args_override_self(true));
    let cli = Cli::from_arg_matches(&command.get_matches_from(args)).unwrap_or_else(|e| e.exit());
    exit_cleanly_on_interrupt();
    let result = match cli.command {
        Command::Report(args) => cli::report::run(args),
        Command::Partial(args) => cli::partial::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Signatures(args) => cli::signatures::run(args),
        Command::Spikes(args) => cli::spikes::run(args),
        Command::Query(args) => cli::query::run(args),
        Command::Generate(args) => cli::generate::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Policies(args) => cli::policies::run(args),
        Command::Completions(args) => cli::completions::run(args, Cli::command()),
        Command::Man(args) => cli::man::run(args, Cli::command()),
    };
    match result {
        Ok(cli::Outcome::Done) => ExitCode::SUCCESS,
        Ok(cli::Outcome::NewDenials) => ExitCode::from(EXIT_NEW_DENIALS),
        // A closed pipe (`grantgap report … | head`) is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grantgap: {e:#}");
            ExitCode::from(match cli::failure(&e) {
                Failure::StrictInput => EXIT_BAD_INPUT,
                Failure::UnusableInput => EXIT_UNUSABLE_INPUT,
                Failure::RefusedOutput => EXIT_USAGE,
                Failure::Error => EXIT_ERROR,
            })
        }
    }
}

/// Ctrl-C or SIGTERM: remove half-written output files (earlier reports stay as
/// they were), say so, and exit with 128 + the signal, as shells expect.
fn exit_cleanly_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // Without the handler, the default action still stops the run.
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            cli::remove_partial_outputs();
            // Not eprintln!: it panics when stderr is a closed pipe, and this
            // thread's panic would leave the run going with no way to stop it
            // but SIGKILL.
            let _ = writeln!(
                std::io::stderr(),
                "grantgap: interrupted; no output file was left half-written"
            );
            std::process::exit(128 + signal);
        }
    });
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
