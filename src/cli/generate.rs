//! `grantgap generate`: a synthetic corpus with a truth file, for evaluation and benchmarks.
//!
//! Usage: grantgap generate --out DIR [--platform gateway|aws] [--events N] [--principals K]
//!        [--seed S] [--days D] [--format jsonl|csv|parquet] [--compress gz|zst] [--files F]
//!        [--denial-rate R] [--causes CAUSE=WEIGHT,...] [--propagation 10m]
//!
//! Writes DIR/logs/ (events and the tables grantgap reads beside them) and
//! DIR/truth.jsonl (each denied request's true cause and what to grant) and
//! DIR/fixes.jsonl (the existing roles, or with --platform aws the existing
//! policies, each principal needs); with --platform aws, CloudTrail files and
//! IAM dumps. The same arguments always give the
//! same bytes; see src/generate for what is in the world.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::diagnose::Cause;
use crate::generate::traffic::Mix;
use crate::generate::{self, Compression, EventFormat, GenerateOptions, Platform};

use super::Outcome;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write logs/ and truth.jsonl into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Whose logs: a gateway's, or AWS CloudTrail with IAM dumps (--format,
    /// --files and the cause mix apply to the gateway's only).
    #[arg(long, default_value = "gateway", value_parser = super::choice::<Platform>())]
    pub platform: Platform,
    /// Events to write.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub events: u64,
    /// Service accounts (traffic follows a long tail over them).
    #[arg(long, value_name = "K", default_value_t = 200)]
    pub principals: usize,
    /// Seed of the random choices: the same seed writes the same logs.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Days the events span, from --start.
    #[arg(long, value_name = "D", default_value_t = 1)]
    pub days: u32,
    /// The first day.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-11-02")]
    pub start: NaiveDate,
    /// Format of the event files.
    #[arg(long, default_value = "jsonl", value_parser = super::choice::<EventFormat>())]
    pub format: EventFormat,
    /// Compress event files (Parquet: the column codec).
    #[arg(long, value_parser = super::choice::<Compression>())]
    pub compress: Option<Compression>,
    /// Event files, each a consecutive slice of time.
    #[arg(long, value_name = "F", default_value_t = 1)]
    pub files: usize,
    /// Share of events that are injected denials.
    #[arg(long, value_name = "R", default_value_t = 0.03)]
    pub denial_rate: f64,
    /// Relative weights of the injected causes, e.g. missing_permission=30,stale_token=6;
    /// causes left out keep their default weight, a weight of 0 leaves a cause out.
    #[arg(long, value_name = "CAUSE=WEIGHT,...")]
    pub causes: Option<String>,
    /// How long a grant takes to reach the services (give grantgap the same --propagation-window).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub propagation: Duration,
}

pub fn run(args: GenerateArgs) -> Result<Outcome> {
    if !(0.0..=1.0).contains(&args.denial_rate) {
        bail!(
            "--denial-rate must be between 0 and 1, got {}",
            args.denial_rate
        );
    }
    let mut mix = Mix {
        denial_rate: args.denial_rate,
        ..Mix::default()
    };
    if let Some(spec) = &args.causes {
        set_weights(&mut mix, spec)?;
    }
    let start = args
        .start
        .and_hms_opt(0, 0, 0)
        .context("--start is not a valid day")?
        .and_utc()
        .timestamp_millis();
    let options = GenerateOptions {
        out: args.out.clone(),
        events: args.events,
        principals: args.principals,
        seed: args.seed,
        days: args.days,
        format: args.format,
        compress: args.compress,
        files: args.files,
        mix,
        propagation: super::millis(args.propagation),
        start,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(args.events);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} generating {pos}/{len} events {wide_bar} eta {eta}",
            )
            .expect("progress template is valid"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let summary = match args.platform {
        Platform::Gateway => generate::generate(&options, |n| bar.inc(n))?,
        Platform::Aws => generate::generate_aws(&options, |n| bar.inc(n))?,
    };
    bar.finish_and_clear();
    let denials: u64 = summary.denials.values().sum();
    eprintln!(
        "wrote {} events ({} bytes) in {} file(s) under {}, {} of them denied:",
        summary.events,
        summary.bytes,
        summary.event_files.len(),
        args.out.join("logs").display(),
        denials
    );
    for (cause, n) in &summary.denials {
        eprintln!("  {:<20} {n}", cause.name());
    }
    let fixes = format!(" --fixes {}", args.out.join("fixes.jsonl").display());
    eprintln!(
        "truth: {}\nnext: grantgap report {} ; grantgap eval --truth {}{fixes} {}",
        summary.truth.display(),
        args.out.join("logs").display(),
        summary.truth.display(),
        args.out.join("logs").display()
    );
    Ok(Outcome::Done)
}

/// Applies `cause=weight,...` to the mix.
fn set_weights(mix: &mut Mix, spec: &str) -> Result<()> {
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = pair
            .split_once('=')
            .with_context(|| format!("--causes: {pair:?} is not CAUSE=WEIGHT"))?;
        let cause = Cause::ALL
            .into_iter()
            .find(|c| c.name() == name.trim())
            .with_context(|| {
                let names: Vec<&str> = Cause::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "--causes: unknown cause {name:?}; causes are {}",
                    names.join(", ")
                )
            })?;
        let weight: f64 = weight
            .trim()
            .parse()
            .ok()
            .filter(|w: &f64| *w >= 0.0 && w.is_finite())
            .with_context(|| format!("--causes: the weight of {name} must be a number ≥ 0"))?;
        match mix.weights.iter_mut().find(|(c, _)| *c == cause) {
            Some(entry) => entry.1 = weight,
            None => mix.weights.push((cause, weight)),
        }
    }
    if mix.weights.iter().all(|(_, w)| *w == 0.0) && mix.denial_rate > 0.0 {
        bail!("--causes leaves every cause at weight 0; set --denial-rate 0 for no denials");
    }
    Ok(())
}
