//! `grantgap eval`: how well grantgap's diagnoses match a truth file.
//!
//! Usage: grantgap eval --truth FILE <INPUT>... [input options as for report]
//!        [--format table|json] [-o FILE] [--require 0.99]
//!
//! Runs the whole pipeline keeping every denied request id, then scores each
//! cause (precision, recall over requests) and the grants asked for (over
//! principal and permission pairs). With --require, a score below it is an error.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::cluster::suppress::Suppressions;
use crate::evaluate;

use super::{InputArgs, ListFormat, Outcome};

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The truth file (`grantgap generate` writes DIR/truth.jsonl).
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Write the scores to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail (exit 1) when any precision or recall is below this (0..1).
    #[arg(long, value_name = "P")]
    pub require: Option<f64>,
}

pub fn run(args: EvalArgs) -> Result<Outcome> {
    let truth = evaluate::read_truth(&args.truth)?;
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let mut options = args.input.pipeline(Suppressions::default())?;
    options.ingest.samples_per_group = usize::MAX;
    let evaluation = crate::pipeline::run_pipeline(
        files,
        &options,
        |partition| Ok(evaluate::Predictions::of(partition.diagnosed)),
        |_, _, predictions| Ok(evaluate::evaluate(&truth, &predictions)),
    )?;
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
