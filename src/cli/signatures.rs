//! `grantgap signatures`: the failure signatures, each with a stable id.
//!
//! Usage: grantgap signatures <INPUT>... [input options as for report]
//!        [--baseline PREVIOUS.json [--only-new]] [--suppressions F] [--format table|json] [-o FILE]
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
    /// A previous JSON report: mark each signature new or persisting; exit 3 when one is new.
    #[arg(long, value_name = "PREVIOUS.json")]
    pub baseline: Option<PathBuf>,
    /// Show only the signatures new against --baseline.
    #[arg(long, requires = "baseline")]
    pub only_new: bool,
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
    let previous = args
        .baseline
        .as_deref()
        .map(report::baseline::Previous::load)
        .transpose()?;
    let mut report = crate::pipeline::analyse(files, &args.input.pipeline(suppressions)?)?;
    if let Some(previous) = &previous {
        report::baseline::apply(&mut report, previous)?;
        if args.only_new {
            report::baseline::keep_only_new(&mut report);
        }
    }
    super::print_skipped(&report);
    super::write_output(args.output.as_deref(), |out| match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.signatures)?;
            writeln!(out)
        }
        ListFormat::Table => report::write_signatures(&report.signatures, out),
    })?;
    let new = report.baseline.as_ref().is_some_and(|b| b.has_new());
    Ok(if new {
        Outcome::NewDenials
    } else {
        Outcome::Done
    })
}
