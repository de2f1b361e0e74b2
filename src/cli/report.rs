//! `grantgap report`: why each principal was denied, and what to change.
//!
//! Usage: grantgap report <INPUT>... [--tokens F] [--role-snapshots F] [--roles F]
//!        [--policies F] [--map PAIRS] [--propagation-window 10m] [--min-peers 3]
//!        [--format table|json|csv|markdown] [-o FILE]
//!
//! A folder is read as a bundle: `tokens.*`, `role_snapshots.*`, `roles.*` and
//! `policies.*` are those tables, every other log file is events.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use grantgap::report::{self, Format};

use super::InputArgs;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Bad records shown on stderr before the counts per reason.
const BAD_RECORDS_SHOWN: usize = 20;

pub fn run(args: ReportArgs) -> Result<()> {
    let files = args.input.files()?;
    let report = grantgap::analyse(files, &args.input.options()?, args.input.diagnose_options())?;
    for bad in report.bad_records.iter().take(BAD_RECORDS_SHOWN) {
        eprintln!("{}: {}: {}", bad.at, bad.reason, bad.detail);
    }
    for (table, counts) in &report.records {
        for (reason, n) in &counts.skipped_by_reason {
            eprintln!("grantgap: skipped {n} {table} records: {reason}");
        }
    }
    super::write_output(args.output.as_deref(), |out| {
        report::write(&report, args.format, out)
    })
}
