//! `grantgap merge`: the report of the logs that partial states were made
//! from, byte for byte what `grantgap report` makes of those logs.
//!
//! Usage: grantgap merge <PART>... [--window 90d] [--strict] [--max-skipped 5%] [--min-peers 3]
//!        [report options: --format, -o, --baseline, --emit, --export, ...]
//! or:    grantgap merge <PART>... --partial FILE
//!
//! Partials merge in any order and grouping: `--partial` writes the merge of
//! some of them as one partial, to merge with the rest later. Partials of
//! other inputs (one per night) merge into the report of all their logs, and
//! `--window` keeps the last nights of them. The options
//! that changed what was read come from the partials, which must agree on
//! them; the small tables (tokens, roles, snapshots, policies) are read again
//! from where the partials read them.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::ingest::partial;
use crate::pipeline::Input;

use super::report::ReportOutput;
use super::Outcome;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Partial states written by `grantgap partial` (or by merge --partial).
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// Write the merged partial state to FILE instead of a report.
    #[arg(long, value_name = "FILE", conflicts_with_all = REPORT_ONLY)]
    pub partial: Option<PathBuf>,
    /// Stop with exit code 4, before any output, if any input record could not be used.
    #[arg(long)]
    pub strict: bool,
    /// Stop with exit code 5 if more than this share of events was skipped (as for report).
    #[arg(long, value_name = "SHARE", default_value = "5%", value_parser = super::share)]
    pub max_skipped: f64,
    /// Only the partials whose run's newest event is within this of the newest of all
    /// (e.g. 90d over nightly partials); the others are left out and counted on stderr.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub window: Option<std::time::Duration>,
    /// Fewest succeeding peers from which a required permission is inferred.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub min_peers: usize,
    #[command(flatten)]
    pub output: ReportOutput,
}

/// The options that judge or write a report: none applies to `--partial`.
const REPORT_ONLY: [&str; 16] = [
    "strict",
    "max_skipped",
    "min_peers",
    "format",
    "output",
    "baseline",
    "only_new",
    "min_count",
    "top",
    "suppressions",
    "emit",
    "allow_risky",
    "today",
    "export",
    "export_format",
    "partition_by_date",
];

pub fn run(args: MergeArgs) -> Result<Outcome> {
    crate::output::protect_inputs(args.parts.iter().map(PathBuf::as_path));
    let window = args.window.map(super::millis);
    if let Some(out) = &args.partial {
        super::check_output(Some(out))?;
        let groups = partial::merge_into(&args.parts, window, out)?;
        eprintln!(
            "grantgap: {} partial states merged, {groups} denial groups kept in {}",
            args.parts.len(),
            out.display()
        );
        return Ok(Outcome::Done);
    }
    let checked = args.output.check()?;
    let mut options = crate::pipeline::Options {
        suppressions: checked.suppressions,
        ..crate::pipeline::Options::default()
    };
    options.diagnose.min_peers = args.min_peers;
    options.ingest.strict = args.strict;
    options.ingest.max_skipped = Some(super::max_share(args.max_skipped));
    let input = Input::Partials {
        paths: args.parts,
        window,
    };
    args.output
        .write(input, &options, checked.previous, Vec::new())
}
