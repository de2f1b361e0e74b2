//! `grantgap partial`: read one shard of the logs into a partial state, for
//! `grantgap merge` (on this machine or another).
//!
//! Usage: grantgap partial <INPUT>... [input options as for report]
//!        [--shard-index N --shard-count K] -o PART
//!
//! Every shard names all the inputs: it reads only its own units of them
//! (byte ranges of plain files, whole compressed files), but learns templates
//! from the same sample and numbers files and lines as one run does, so the
//! merged report is byte for byte the report of all the logs. The options that
//! judge what was read (`--strict`, `--max-skipped`, `--min-peers`) are given
//! to merge.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::cluster::suppress::Suppressions;
use crate::ingest::partial::{self, Shard};

use super::{InputArgs, Outcome};

#[derive(Debug, Args)]
pub struct PartialArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Which shard this is, from 0 (a Kubernetes Indexed Job's JOB_COMPLETION_INDEX,
    /// an AWS Batch array job's AWS_BATCH_JOB_ARRAY_INDEX).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub shard_index: usize,
    /// How many shards the inputs are cut into.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub shard_count: usize,
    /// Write the partial state to FILE (whole or not at all).
    #[arg(short, long, value_name = "FILE", required = true)]
    pub output: PathBuf,
}

pub fn run(args: PartialArgs) -> Result<Outcome> {
    if args.shard_count == 0 || args.shard_index >= args.shard_count {
        bail!(
            "--shard-index {} of --shard-count {}: give a count of 1 or more and an index below it (from 0)",
            args.shard_index,
            args.shard_count
        );
    }
    let files = args.input.files()?;
    super::check_output(Some(&args.output))?;
    let options = args.input.pipeline(Suppressions::default())?.ingest;
    let shard = Shard {
        index: args.shard_index,
        count: args.shard_count,
    };
    let (read, groups) = partial::write_partial(files, &options, shard, &args.output)?;
    eprintln!(
        "grantgap: shard {} of {}: {read} records read, {groups} denial groups kept in {}",
        shard.index,
        shard.count,
        args.output.display()
    );
    Ok(Outcome::Done)
}
