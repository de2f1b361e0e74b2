//! `grantgap spikes`: denials over time, the spikes, and what explains each.
//!
//! Usage: grantgap spikes <INPUT>... [input options as for report]
//!        [--bucket 5m] [--window 12] [--threshold 5] [--min-denials 10] [--lookback 30m]
//!        [--format table|json] [-o FILE]
//!
//! A bucket is a spike when it holds at least --min-denials denials and exceeds
//! the median of the --window buckets before it by --threshold times their scaled
//! median absolute deviation. Each spike lists the signatures and principals that
//! make it and the role bindings removed or added, and tokens expired, in the
//! --lookback before it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::report;
use crate::spikes::{self, SpikeOptions};

use super::{InputArgs, ListFormat, Outcome};

#[derive(Debug, Args)]
pub struct SpikesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Bucket width, a whole number of minutes.
    #[arg(long, default_value = "5m", value_parser = whole_minutes)]
    pub bucket: Duration,
    /// Buckets before each bucket that make its baseline.
    #[arg(long, default_value_t = 12)]
    pub window: usize,
    /// Scaled MADs above the baseline that make a spike.
    #[arg(long, default_value_t = 5.0, value_parser = non_negative)]
    pub threshold: f64,
    /// Fewest denials in a spike bucket.
    #[arg(long, default_value_t = 10)]
    pub min_denials: u64,
    /// How long before a spike a change may explain it.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub lookback: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Write the series and spikes to FILE (whole or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--bucket`: a duration of whole minutes, at least one.
fn whole_minutes(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d.as_secs() < 60 || d.as_secs() % 60 != 0 || d.subsec_nanos() != 0 {
        return Err("give a whole number of minutes (for example 1m, 5m, 1h)".into());
    }
    Ok(d)
}

/// `--threshold`: a finite number, zero or more.
fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err("give a number of scaled MADs, zero or more (for example 5)".into()),
    }
}

pub fn run(args: SpikesArgs) -> Result<Outcome> {
    let bucket = super::millis(args.bucket);
    let options = SpikeOptions {
        bucket,
        window: args.window,
        threshold: args.threshold,
        min_denials: args.min_denials,
        lookback: super::millis(args.lookback),
    };
    let files = args.input.files()?;
    super::check_output(args.output.as_deref())?;
    let pipeline = args.input.pipeline(Default::default())?;
    let found = crate::pipeline::run_pipeline(
        files,
        &pipeline,
        |_| Ok(()),
        |ingested, analysis, _| spikes::find(&analysis.evidence(ingested), options),
    )?;
    super::write_output(args.output.as_deref(), |out| match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &found)?;
            writeln!(out)
        }
        ListFormat::Table => report::write_spikes(&found, out),
    })?;
    Ok(Outcome::Done)
}
