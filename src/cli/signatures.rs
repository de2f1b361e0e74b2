//! `grantgap signatures`: the failure signatures, each with a stable id.
//!
//! Usage: grantgap signatures <INPUT>... [input options as for report]
//!        [--suppressions F] [--format table|json] [-o FILE]
//!
//! A signature is method, endpoint template, status, error code, cause, missing
//! permissions and message template; its id is a hash of exactly that, so the
//! same failure has the same id every night.

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use crate::report;

use super::{InputArgs, ListFormat, Outcome};

#[derive(Debug, Args)]
pub struct SignaturesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Write the signatures to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Expected denials to hide (as for `grantgap report`).
    #[arg(long, value_name = "F")]
    pub suppressions: Option<PathBuf>,
    /// The day suppression expiry is judged on (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<NaiveDate>,
}

pub fn run(args: SignaturesArgs) -> Result<Outcome> {
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let suppressions = super::suppressions(args.suppressions.as_deref(), args.today)?;
    let report = crate::pipeline::analyse(files, &args.input.pipeline(suppressions)?)?;
    super::print_skipped(&report);
    super::write_output(args.output.as_deref(), |out| match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.signatures)?;
            writeln!(out)
        }
        ListFormat::Table => report::write_signatures(&report.signatures, out),
    })?;
    Ok(Outcome::Done)
}
