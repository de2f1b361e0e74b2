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
use clap::{Args, ValueEnum};

use crate::report::text::terminal;

use super::{InputArgs, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct SignaturesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_name = "F")]
    pub suppressions: Option<PathBuf>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<NaiveDate>,
}

pub fn run(args: SignaturesArgs) -> Result<Outcome> {
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let suppressions = super::report::suppressions(args.suppressions.as_deref(), args.today)?;
    let report = crate::pipeline::analyse(files, &args.input.pipeline(suppressions)?)?;
    super::print_skipped(&report);
    super::write_output(args.output.as_deref(), |out| match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.signatures)?;
            writeln!(out)
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<12}  {:>7}  {:>10}  {:<20}  ENDPOINT / MESSAGE",
                "ID", "DENIALS", "PRINCIPALS", "CAUSE"
            )?;
            for s in &report.signatures {
                writeln!(
                    out,
                    "{:<12}  {:>7}  {:>10}  {:<20}  {} {}  [{}]",
                    s.id,
                    s.count,
                    s.principals_total,
                    s.cause.name(),
                    terminal(&s.method),
                    terminal(&s.endpoint),
                    terminal(&s.missing.join(" "))
                )?;
                writeln!(
                    out,
                    "{:<12}  {} .. {}  {}  e.g. {}",
                    "",
                    s.first_seen,
                    s.last_seen,
                    terminal(s.message_template.as_deref().unwrap_or("-")),
                    terminal(&s.requests.join(", "))
                )?;
            }
            Ok(())
        }
    })?;
    Ok(Outcome::Done)
}
