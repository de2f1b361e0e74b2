//! `grantgap eval`: how well grantgap's diagnoses match a truth file.
//!
//! Usage: grantgap eval --truth FILE [--fixes FILE] <INPUT>... [input options as for report]
//!        [--withhold policies,role_snapshots,tokens,roles,iam]
//!        [--format table|json] [-o FILE] [--require 0.99]
//!
//! Runs the whole pipeline keeping every denied request id, then scores each
//! cause (precision, recall over requests) and the grants asked for (over
//! principal and permission pairs), and with --fixes the existing roles proposed
//! per principal. With --require, a score below it is an error.
//! --withhold leaves tables out, as a user without them would run: a generated
//! bundle always holds the answer key (its policy catalog), users rarely do.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::cluster::suppress::Suppressions;
use crate::evaluate;

use super::{InputArgs, ListFormat, Outcome};
use crate::model::Table;

/// A table `--withhold` may leave out (every one but the events).
fn withheld_table(name: &str) -> Result<Table, String> {
    let name = name.trim().replace('-', "_");
    let tables = [
        Table::Policies,
        Table::RoleSnapshots,
        Table::Tokens,
        Table::Roles,
        Table::Rbac,
    ];
    tables
        .into_iter()
        .find(|t| t.name() == name || (name == "iam" && *t == Table::Rbac))
        .ok_or_else(|| {
            format!("{name:?} is no table to withhold: use policies, role_snapshots, tokens, roles or iam")
        })
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The truth file (`grantgap generate` writes DIR/truth.jsonl).
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// The existing roles each principal needs (`grantgap generate` writes
    /// DIR/fixes.jsonl): scores the roles the report proposes.
    #[arg(long, value_name = "FILE")]
    pub fixes: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Write the scores to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave these tables out of the run, as a user without them would:
    /// policies, role_snapshots, tokens, roles, iam (comma-separated).
    #[arg(long, value_name = "TABLES", value_delimiter = ',', value_parser = withheld_table)]
    pub withhold: Vec<Table>,
    /// Fail (exit 1) when any precision or recall is below this (0..1).
    #[arg(long, value_name = "P")]
    pub require: Option<f64>,
}

pub fn run(args: EvalArgs) -> Result<Outcome> {
    let truth = evaluate::read_truth(&args.truth)?;
    let fixes = args
        .fixes
        .as_deref()
        .map(evaluate::read_fixes)
        .transpose()?;
    let mut files = args.input.files()?;
    files.retain(|f| !args.withhold.contains(&f.table));
    super::check_output(args.output.as_deref())?;
    let mut options = args.input.pipeline(Suppressions::default())?;
    options.ingest.samples_per_group = usize::MAX;
    let evaluation = crate::pipeline::run_pipeline(
        files,
        &options,
        |partition| Ok(evaluate::Predictions::of(partition.diagnosed)),
        |_, analysis, predictions| {
            let mut evaluation = evaluate::evaluate(&truth, &predictions);
            evaluation.fixes = fixes.as_deref().map(|fixes| {
                let proposed = analysis
                    .clustered
                    .principals
                    .iter()
                    .map(|p| (p.principal.as_str(), p.fix.grant_roles.as_slice()));
                evaluate::score_fixes(fixes, proposed)
            });
            Ok(evaluation)
        },
    )?;
    let mut evaluation = evaluation;
    evaluation.withheld = args.withhold.iter().map(|t| t.name().to_string()).collect();
    super::write_output(args.output.as_deref(), |out| match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &evaluation)?;
            writeln!(out)
        }
        ListFormat::Table => write!(out, "{}", evaluation.table()),
    })?;
    if let Some(floor) = args.require {
        if !evaluation.meets(floor) {
            bail!("a precision or recall is below --require {floor}: see the table");
        }
    }
    Ok(Outcome::Done)
}
